//! `failover-webhook explain`: every rule code is explained, and `explain --list` is the README's
//! rule table (code, class, field, example) row for row.

use std::path::Path;
use std::process::{Command, Output};

use failover_webhook::finding::RuleCode;

fn explain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_failover-webhook"))
        .arg("explain")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The README rule table: (code, class, field, example file under examples/, anchor id).
fn readme_rows() -> Vec<(String, String, String, String, String)> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    readme
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            let (code, anchor) = cells[0].split_once("<a id=\"")?;
            let anchor = anchor.strip_suffix("\"></a>")?;
            let example = cells
                .last()?
                .split("](examples/")
                .nth(1)?
                .strip_suffix(')')?;
            Some((
                code.trim_matches('`').to_owned(),
                cells[1].to_owned(),
                cells[2].replace('`', ""),
                example.to_owned(),
                anchor.to_owned(),
            ))
        })
        .collect()
}

#[test]
fn explain_list_is_the_readme_rule_table() {
    let o = explain(&["--list"]);
    assert_eq!(o.status.code(), Some(0));
    let listed: Vec<(String, String, String)> = stdout(&o)
        .lines()
        .map(|l| {
            let mut words = l.split_whitespace();
            let code = words.next().unwrap().to_owned();
            let class = words.next().unwrap().to_owned();
            (code, class, words.collect::<Vec<_>>().join(" "))
        })
        .collect();
    let table: Vec<(String, String, String)> = readme_rows()
        .into_iter()
        .map(|(code, class, field, _, _)| (code, class, field))
        .collect();
    assert_eq!(listed, table);
    assert_eq!(listed.len(), RuleCode::ALL.len());
}

#[test]
fn each_explanation_names_the_readme_row_and_example_of_its_rule() {
    let rows = readme_rows();
    for &code in RuleCode::ALL {
        let (_, _, _, example, anchor) = rows
            .iter()
            .find(|r| r.0 == code.as_str())
            .unwrap_or_else(|| panic!("{code} is not in the README table"));
        let o = explain(&[code.as_str()]);
        assert_eq!(o.status.code(), Some(0), "{code}");
        let text = stdout(&o);
        assert!(
            text.contains(&format!("README.md#{anchor}")),
            "{code}: {text}"
        );
        assert!(
            text.contains(&format!("examples/{example}")),
            "{code}: {text}"
        );
        for section in ["class:", "field:", "Why:", "Bad:", "Fixed:"] {
            assert!(text.contains(section), "{code} lacks {section}");
        }
    }
}

#[test]
fn explain_shows_class_verdict_and_both_examples() {
    let o = explain(&["portnumberinvalid"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(text.starts_with("PortNumberInvalid: spec.port.port is not an integer in 1..=65535\n"));
    assert!(text.contains("class:   spec (denies)"), "{text}");
    assert!(text.contains("port: {port: 70000, name: http}"), "{text}");
    assert!(text.contains("port: {port: 9080, name: http}"), "{text}");
    let o = explain(&["ServiceNotFound"]);
    assert!(stdout(&o).contains("reference (warns (denies with --strict-references))"));
}

#[test]
fn an_unknown_code_exits_two_with_a_suggestion() {
    let o = explain(&["PortNumberInvalidd"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("did you mean PortNumberInvalid?"), "{err}");
    assert_eq!(explain(&[]).status.code(), Some(2));
}

#[test]
fn the_hint_in_check_output_is_a_command_that_works() {
    let o = Command::new(env!("CARGO_BIN_EXE_failover-webhook"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", "examples/spec/hostname-required.yaml"])
        .output()
        .unwrap();
    let line = stdout(&o);
    let hint = line
        .trim_end()
        .rsplit("(run: failover-webhook ")
        .next()
        .and_then(|h| h.strip_suffix(')'))
        .unwrap();
    let args: Vec<&str> = hint.split(' ').collect();
    let o = Command::new(env!("CARGO_BIN_EXE_failover-webhook"))
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("HostnameRequired: "));
}
