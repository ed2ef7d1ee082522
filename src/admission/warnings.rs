//! AdmissionReview `warnings`, shaped so that the API server passes every one of them on.
//!
//! The API server turns each warning into an HTTP `Warning: 299 - "<text>"` header for the
//! client. It silently drops text containing control characters, and once the warnings of a
//! request exceed 4096 characters in total it truncates each to 256 and discards the rest
//! (`apiserver/pkg/endpoints/filters/warning.go`). The documented guidance is at most 120
//! characters each. Twenty warnings of 120 characters stay well inside the total.
//!
//! Of an evaluation's warnings the ones an operator acts on come first, so that the limit cuts
//! the least useful: what in the skip-rules annotation is not honoured, then the findings that
//! would deny (audit mode), then the skipped ones, then the plain warnings.

use crate::engine::{Effect, Evaluation};
use crate::finding::Finding;
use crate::skip;

/// The prefix of a finding that would deny, in audit mode.
pub const WOULD_DENY: &str = "would deny: ";

/// Longest warning, in characters, as the AdmissionResponse documentation recommends.
pub const MAX_LEN: usize = 120;
/// Most warnings per response; the last one then says how many were left out.
pub const MAX_COUNT: usize = 20;

/// One warning per finding, `<field>: <message>`, cleaned and truncated.
pub fn from_findings<'f>(findings: impl IntoIterator<Item = &'f Finding>) -> Vec<String> {
    limit(findings.into_iter().map(|f| Lazy::Finding("", f)))
}

/// Every warning of a `/validate` answer: the annotation's problems, then one per finding that
/// does not deny, `would deny: <field>: <message>` in audit mode and `skipped by
/// failover-webhook.smh.solo.io/skip-rules: <field>: <message>` for a skipped one.
pub fn for_evaluation(eval: &Evaluation) -> Vec<String> {
    let skipped = format!("skipped by {}: ", skip::ANNOTATION);
    let problems = eval.skip.problems();
    let problems = problems.iter().map(|p| Lazy::Text(p));
    let findings = [
        (Effect::WouldDeny, WOULD_DENY),
        (Effect::Skipped, skipped.as_str()),
        (Effect::Warn, ""),
    ]
    .into_iter()
    .flat_map(|(effect, prefix)| {
        eval.with_effect(effect)
            .map(move |f| Lazy::Finding(prefix, f))
    });
    limit(problems.chain(findings))
}

/// A warning not yet written: a review of thousands of findings shows twenty, so only those
/// are formatted.
enum Lazy<'a> {
    Text(&'a str),
    Finding(&'a str, &'a Finding),
}

impl Lazy<'_> {
    fn write(&self) -> String {
        match self {
            Lazy::Text(text) => clean(text),
            Lazy::Finding(prefix, f) => clean(&format!("{prefix}{f}")),
        }
    }
}

/// At most [`MAX_COUNT`] warnings, the last then counting the rest.
fn limit<'a>(all: impl Iterator<Item = Lazy<'a>>) -> Vec<String> {
    let mut all = all.peekable();
    let mut shown: Vec<String> = all
        .by_ref()
        .take(MAX_COUNT - 1)
        .map(|w| w.write())
        .collect();
    let Some(next) = all.next() else {
        return shown;
    };
    if all.peek().is_none() {
        shown.push(next.write());
    } else {
        let hidden = 1 + all.count();
        shown.push(format!("... and {hidden} more findings"));
    }
    shown
}

/// Removes control characters (a newline would make the API server drop the warning) and
/// truncates to [`MAX_LEN`] characters, marking the cut with an ellipsis.
pub fn clean(text: &str) -> String {
    let mut kept = text.chars().filter(|c| !c.is_control());
    let mut out: String = kept.by_ref().take(MAX_LEN).collect();
    if kept.next().is_some() {
        // Over the limit: the last character kept makes room for the ellipsis.
        out.pop();
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Judged;
    use crate::finding::{FieldPath, RuleCode};
    use crate::skip::SkipRules;

    fn finding(msg: &str) -> Finding {
        Finding::new(RuleCode::ServiceNotFound, FieldPath::from("spec.x"), msg)
    }

    #[test]
    fn control_characters_are_removed() {
        assert_eq!(clean("a\nb\tc\u{7f}d\u{85}e"), "abcde");
    }

    #[test]
    fn long_warnings_are_cut_to_the_limit_with_an_ellipsis() {
        let w = clean(&"é".repeat(300));
        assert_eq!(w.chars().count(), MAX_LEN);
        assert!(w.ends_with('…'));
        assert_eq!(clean(&"x".repeat(MAX_LEN)), "x".repeat(MAX_LEN));
    }

    #[test]
    fn past_twenty_the_last_warning_counts_the_rest() {
        let many: Vec<Finding> = (0..25).map(|i| finding(&format!("m{i}"))).collect();
        let w = from_findings(&many);
        assert_eq!(w.len(), MAX_COUNT);
        assert_eq!(w[0], "spec.x: m0");
        assert_eq!(w[MAX_COUNT - 1], "... and 6 more findings");
        let exact: Vec<Finding> = (0..20).map(|i| finding(&format!("m{i}"))).collect();
        assert_eq!(from_findings(&exact).last().unwrap(), "spec.x: m19");
    }

    fn evaluation(findings: Vec<(RuleCode, Effect)>, annotation: &str) -> Evaluation {
        Evaluation {
            findings: findings
                .into_iter()
                .map(|(code, effect)| Judged {
                    finding: Finding::new(code, FieldPath::from("spec.f"), code.as_str()),
                    effect,
                })
                .collect(),
            ratcheted: false,
            state: crate::api::State::Invalid,
            patch: json_patch::Patch(Vec::new()),
            skip: SkipRules::parse(annotation),
        }
    }

    #[test]
    fn audit_and_skip_warnings_say_why_and_come_first() {
        let eval = evaluation(
            vec![
                (RuleCode::ClusterNotRegistered, Effect::Warn),
                (RuleCode::HostnameConflict, Effect::Skipped),
                (RuleCode::PortNumberInvalid, Effect::WouldDeny),
                (RuleCode::HostnameInvalid, Effect::Deny),
            ],
            "HostnameConflict,Nope",
        );
        assert_eq!(
            for_evaluation(&eval),
            [
                "failover-webhook.smh.solo.io/skip-rules: unknown rule code \"Nope\" ignored",
                "would deny: spec.f: PortNumberInvalid",
                "skipped by failover-webhook.smh.solo.io/skip-rules: spec.f: HostnameConflict",
                "spec.f: ClusterNotRegistered",
            ],
            "a denying finding is in the denial, not a warning"
        );
    }

    #[test]
    fn past_twenty_the_would_deny_warnings_are_kept_first() {
        let mut findings = vec![(RuleCode::ServiceNotFound, Effect::Warn); 10];
        findings.extend(vec![(RuleCode::ServiceRefInvalid, Effect::WouldDeny); 15]);
        let w = for_evaluation(&evaluation(findings, ""));
        assert_eq!(w.len(), MAX_COUNT);
        assert!(w[..15].iter().all(|w| w.starts_with(WOULD_DENY)), "{w:?}");
        assert_eq!(w[MAX_COUNT - 1], "... and 6 more findings");
        assert!(w.iter().all(|w| w.chars().count() <= MAX_LEN));
    }

    #[test]
    fn the_prefix_counts_toward_the_length_limit() {
        let mut eval = evaluation(vec![(RuleCode::PortNumberInvalid, Effect::WouldDeny)], "");
        eval.findings[0].finding.message = "m".repeat(200);
        let w = for_evaluation(&eval);
        assert_eq!(w[0].chars().count(), MAX_LEN);
        assert!(w[0].starts_with("would deny: spec.f: mmm") && w[0].ends_with('…'));
    }
}
