//! GitHub Actions workflow commands: each finding becomes an annotation on the line of the
//! pull request's diff that holds the field.

use std::io::{self, Write};

use super::{Report, Reported, summary};

/// Workflow-command data: `%`, CR and LF would end or corrupt the command.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Property values additionally separate on `:` and `,`.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::error file=F,line=L,col=C,title=Code::message`
pub(super) fn command(r: &Reported) -> String {
    let level = if r.deny { "error" } else { "warning" };
    let mut properties = vec![format!("file={}", escape_property(&r.file))];
    if let Some(line) = r.line {
        properties.push(format!("line={line}"));
    }
    if let Some(column) = r.column {
        properties.push(format!("col={column}"));
    }
    properties.push(format!("title={}", r.code));
    format!(
        "::{level} {}::{}",
        properties.join(","),
        escape_data(&summary(r))
    )
}

pub(super) fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    report
        .findings
        .iter()
        .try_for_each(|r| writeln!(out, "{}", command(r)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::ReportCode;
    use crate::finding::RuleCode;

    #[test]
    fn commands_carry_file_line_column_and_escape_what_would_break_them() {
        let r = Reported {
            file: "a,b:c.yaml".into(),
            namespace: "shop".into(),
            name: "x".into(),
            code: ReportCode::Rule(RuleCode::UnknownField),
            field: "spec.hostName".into(),
            message: "100% unknown\nfield".into(),
            deny: false,
            effect: crate::engine::Effect::Warn,
            line: Some(8),
            column: Some(3),
        };
        assert_eq!(
            command(&r),
            "::warning file=a%2Cb%3Ac.yaml,line=8,col=3,title=UnknownField::shop/x: spec.hostName: \
             100%25 unknown%0Afield (run: failover-webhook explain UnknownField)"
        );
    }
}
