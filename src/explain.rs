//! `failover-webhook explain CODE` and `explain --list`: what a rule checks, what it does at
//! admission, why it exists, and a bad and a fixed example, so a finding in CI can be
//! understood without leaving the terminal.

mod catalog;

use std::io::{self, Write};
use std::process::ExitCode;

pub use catalog::{Explanation, explanation};

use crate::cli::ExplainArgs;
use crate::finding::{RuleClass, RuleCode};

/// The hint that ends each finding in `check`'s text output.
pub fn hint(code: RuleCode) -> String {
    format!("run: failover-webhook explain {code}")
}

/// The id of the rule's row in the README's rule table.
pub fn readme_anchor(code: RuleCode) -> String {
    format!("rule-{}", code.as_str().to_ascii_lowercase())
}

pub fn class_name(class: RuleClass) -> &'static str {
    match class {
        RuleClass::Spec => "spec",
        RuleClass::Reference => "reference",
        RuleClass::Conflict => "conflict",
    }
}

/// What a finding of the rule does at admission.
pub fn verdict(class: RuleClass) -> &'static str {
    match class {
        RuleClass::Spec | RuleClass::Conflict => "denies",
        RuleClass::Reference => "warns (denies with --strict-references)",
    }
}

/// A rule code by name; case does not matter.
pub fn find(name: &str) -> Option<RuleCode> {
    RuleCode::ALL
        .iter()
        .copied()
        .find(|c| c.as_str().eq_ignore_ascii_case(name))
}

/// The full explanation of one rule, as `explain CODE` prints it.
pub fn render(code: RuleCode) -> String {
    let e = explanation(code);
    let indent = |s: &str| s.lines().map(|l| format!("    {l}\n")).collect::<String>();
    format!(
        "{code}: {description}\n\n\
         class:   {class} ({verdict})\n\
         field:   {field}\n\n\
         Why:\n{why}\n\
         Bad:\n{bad}\n\
         Fixed:\n{fixed}\n\
         Example: examples/{example}\n\
         Docs:    README.md#{anchor}\n",
        description = code.description(),
        class = class_name(code.class()),
        verdict = verdict(code.class()),
        field = e.field,
        why = indent(&wrap(e.why, 88)),
        bad = indent(e.bad),
        fixed = indent(e.fixed),
        example = e.example,
        anchor = readme_anchor(code),
    )
}

/// Every rule, one line each: code, class and field, aligned.
pub fn render_list() -> String {
    let rows: Vec<(&str, &str, &str)> = RuleCode::ALL
        .iter()
        .map(|&c| (c.as_str(), class_name(c.class()), explanation(c).field))
        .collect();
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or_default();
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or_default();
    rows.iter()
        .map(|(code, class, field)| format!("{code:<w0$}  {class:<w1$}  {field}\n"))
        .collect()
}

/// Greedy word wrap; the catalog's prose is written as one line per paragraph.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out
}

pub fn run(args: &ExplainArgs) -> ExitCode {
    let text = match (&args.code, args.list) {
        (_, true) => render_list(),
        (Some(name), false) => match find(name) {
            Some(code) => render(code),
            None => {
                let closest = RuleCode::ALL
                    .iter()
                    .map(|c| {
                        (
                            strsim::jaro_winkler(&name.to_lowercase(), &c.as_str().to_lowercase()),
                            c,
                        )
                    })
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .filter(|(score, _)| *score > 0.8)
                    .map(|(_, c)| format!(" (did you mean {c}?)"))
                    .unwrap_or_default();
                let _ = writeln!(
                    io::stderr(),
                    "failover-webhook: error: no rule {name:?}{closest}; `failover-webhook explain --list` lists them"
                );
                return ExitCode::from(2);
            }
        },
        (None, false) => {
            let _ = writeln!(
                io::stderr(),
                "failover-webhook: error: name a rule code, or give --list"
            );
            return ExitCode::from(2);
        }
    };
    match io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_explained_with_every_section() {
        for &code in RuleCode::ALL {
            let e = explanation(code);
            for (what, text) in [("why", e.why), ("bad", e.bad), ("fixed", e.fixed)] {
                assert!(!text.trim().is_empty(), "{code} has no {what}");
            }
            assert_ne!(e.bad, e.fixed, "{code}");
            let shown = render(code);
            assert!(shown.starts_with(&format!("{code}: ")), "{shown}");
            assert!(shown.contains(&format!("README.md#rule-{}", code.as_str().to_lowercase())));
            assert!(shown.contains(verdict(code.class())));
        }
    }

    #[test]
    fn codes_are_found_whatever_their_case() {
        assert_eq!(find("portnumberinvalid"), Some(RuleCode::PortNumberInvalid));
        assert_eq!(find("PortNumberInvalid"), Some(RuleCode::PortNumberInvalid));
        assert_eq!(find("PortNumber"), None);
    }

    #[test]
    fn prose_wraps_at_the_width() {
        let text = wrap("aaa bbb ccc ddd", 7);
        assert_eq!(text, "aaa bbb\nccc ddd");
    }
}
