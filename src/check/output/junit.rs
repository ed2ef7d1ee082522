//! JUnit XML, which CI systems (GitLab, Jenkins, Azure Pipelines, GitHub test reporters) show
//! as a test report: one test case per FailoverService, one failure per denying finding.
//! Warnings go to the case's `system-out`, as JUnit has no warning. An object that only looks
//! like a FailoverService is a failed case of its own.

use std::collections::HashMap;
use std::io::{self, Write};

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use super::text::text_line;
use super::{Report, ReportCode, Reported, object, summary};

/// XML 1.0 cannot carry most control characters, even escaped; a manifest's keys and values
/// can hold them.
fn xml_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => '\u{FFFD}',
            c => c,
        })
        .collect()
}

pub(super) fn write(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    // Findings by object, in input order.
    let mut by_object: HashMap<(&str, &str, &str), Vec<&Reported>> = HashMap::new();
    for r in &report.findings {
        by_object
            .entry((r.file.as_str(), r.namespace.as_str(), r.name.as_str()))
            .or_default()
            .push(r);
    }
    let near_misses: Vec<&Reported> = report
        .findings
        .iter()
        .filter(|r| r.code == ReportCode::NotAFailoverService)
        .collect();
    let tests = (report.checked.len() + near_misses.len()).to_string();
    let denied = report.checked.iter().filter(|c| c.denied).count();
    let failures = (denied + near_misses.len()).to_string();
    let suite = [
        ("name", "failover-webhook check"),
        ("tests", tests.as_str()),
        ("failures", failures.as_str()),
        ("errors", "0"),
        ("skipped", "0"),
    ];

    let mut w = Writer::new_with_indent(out, b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("testsuites")
        .with_attributes(suite)
        .write_inner_content(|w| {
            w.create_element("testsuite")
                .with_attributes(suite)
                .write_inner_content(|w| {
                    for c in &report.checked {
                        let name = if c.namespace.is_empty() {
                            xml_text(&c.name)
                        } else {
                            xml_text(&format!("{}/{}", c.namespace, c.name))
                        };
                        let file = xml_text(&c.file);
                        let line = c.line.map(|l| l.to_string());
                        let mut case = w.create_element("testcase").with_attributes([
                            ("name", name.as_str()),
                            ("classname", file.as_str()),
                            ("file", file.as_str()),
                        ]);
                        if let Some(line) = &line {
                            case = case.with_attribute(("line", line.as_str()));
                        }
                        let findings = by_object
                            .get(&(c.file.as_str(), c.namespace.as_str(), c.name.as_str()))
                            .map(Vec::as_slice)
                            .unwrap_or_default();
                        if findings.is_empty() {
                            case.write_empty()?;
                            continue;
                        }
                        case.write_inner_content(|w| {
                            for r in findings.iter().filter(|r| r.deny) {
                                let message = xml_text(&summary(r));
                                w.create_element("failure")
                                    .with_attributes([
                                        ("message", message.as_str()),
                                        ("type", r.code.as_str()),
                                    ])
                                    .write_text_content(BytesText::new(&xml_text(&text_line(r))))?;
                            }
                            let warnings: Vec<String> = findings
                                .iter()
                                .filter(|r| !r.deny)
                                .map(|r| text_line(r))
                                .collect();
                            if !warnings.is_empty() {
                                w.create_element("system-out").write_text_content(
                                    BytesText::new(&xml_text(&warnings.join("\n"))),
                                )?;
                            }
                            Ok(())
                        })?;
                    }
                    for r in &near_misses {
                        let name = xml_text(&object(r));
                        let file = xml_text(&r.file);
                        let line = r.line.map(|l| l.to_string()).unwrap_or_default();
                        let message = xml_text(&summary(r));
                        w.create_element("testcase")
                            .with_attributes([
                                ("name", name.as_str()),
                                ("classname", file.as_str()),
                                ("file", file.as_str()),
                                ("line", line.as_str()),
                            ])
                            .write_inner_content(|w| {
                                w.create_element("failure")
                                    .with_attributes([
                                        ("message", message.as_str()),
                                        ("type", r.code.as_str()),
                                    ])
                                    .write_text_content(BytesText::new(&xml_text(&text_line(r))))?;
                                Ok(())
                            })?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    w.into_inner().write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_break_the_xml() {
        assert_eq!(xml_text("a\u{1}b\tc\u{FFFF}"), "a\u{FFFD}b\tc\u{FFFD}");
    }
}
