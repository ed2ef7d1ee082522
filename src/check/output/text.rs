//! `file:line:col: error: …`, the line format compilers print and editors and CI problem
//! matchers jump from.

use std::io::{self, Write};

use super::{Report, Reported, summary};

/// One finding as a text line:
/// `FILE:LINE:COL: error|warning: namespace/name: field: message (run: failover-webhook explain Code)`.
pub fn text_line(r: &Reported) -> String {
    let at = match (r.line, r.column) {
        (Some(line), Some(column)) => format!("{}:{line}:{column}", r.file),
        (Some(line), None) => format!("{}:{line}", r.file),
        _ => r.file.clone(),
    };
    let level = if r.deny { "error" } else { "warning" };
    format!("{at}: {level}: {}", summary(r))
}

pub(super) fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    report
        .findings
        .iter()
        .try_for_each(|r| writeln!(out, "{}", text_line(r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::ReportCode;
    use crate::engine::Effect;
    use crate::finding::RuleCode;

    fn finding(deny: bool, line: Option<usize>) -> Reported {
        Reported {
            file: "m.yaml".into(),
            namespace: String::new(),
            name: "f-*".into(),
            code: ReportCode::Rule(RuleCode::ClusterRequired),
            field: "spec.cluster".into(),
            message: "Required value".into(),
            deny,
            effect: if deny { Effect::Deny } else { Effect::Warn },
            line,
            column: line.map(|_| 3),
        }
    }

    #[test]
    fn a_skipped_finding_is_a_warning_that_names_the_annotation() {
        let skipped = Reported {
            effect: Effect::Skipped,
            ..finding(false, Some(4))
        };
        assert_eq!(
            text_line(&skipped),
            "m.yaml:4:3: warning: skipped by failover-webhook.smh.solo.io/skip-rules: f-*: \
             spec.cluster: Required value (run: failover-webhook explain ClusterRequired)"
        );
    }

    #[test]
    fn lines_name_position_level_object_field_and_how_to_read_more() {
        assert_eq!(
            text_line(&finding(true, Some(4))),
            "m.yaml:4:3: error: f-*: spec.cluster: Required value (run: failover-webhook explain ClusterRequired)"
        );
        assert_eq!(
            text_line(&finding(false, None)),
            "m.yaml: warning: f-*: spec.cluster: Required value (run: failover-webhook explain ClusterRequired)"
        );
    }
}
