//! `check` in every output format over all of `examples/`, as CI runs it: each finding points at
//! the line and column of its field, SARIF validates against the OASIS schema, JUnit is XML a
//! test reporter can read, and GitHub workflow commands carry the same positions.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::Event;
use serde_json::Value;

const SNAPSHOT: &str = "src/topology/embedded.yaml";

fn check(format: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_failover-webhook"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "check",
            "--snapshot",
            SNAPSHOT,
            "--output",
            format,
            "examples/",
        ])
        .output()
        .unwrap()
}

/// The JSON findings of `check` over `examples/`, the reference for the other formats.
fn findings() -> Vec<Value> {
    let o = check("json");
    assert_eq!(o.status.code(), Some(1));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The text of `file` from `line`:`column` (1-based) to the end of that line.
fn at(file: &str, line: u64, column: u64) -> String {
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
        .unwrap();
    let line = text.lines().nth(line as usize - 1).unwrap();
    line.chars().skip(column as usize - 1).collect()
}

fn pos(f: &Value) -> (u64, u64) {
    (f["line"].as_u64().unwrap(), f["column"].as_u64().unwrap())
}

#[test]
fn every_finding_points_at_a_key_of_its_field_or_of_its_nearest_parent() {
    let findings = findings();
    assert!(findings.len() >= 22, "{}", findings.len());
    for f in &findings {
        let file = f["file"].as_str().unwrap();
        let (line, column) = pos(f);
        let there = at(file, line, column);
        let key = there.split(':').next().unwrap();
        assert!(
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{file}:{line}:{column} is not a key: {there:?} ({f})"
        );
        // The key is one of the field path's segments (an item points at its first key).
        let field = f["field"].as_str().unwrap();
        assert!(
            field.is_empty()
                || field.contains(key)
                || field.ends_with(']')
                || ["name", "apiVersion"].contains(&key),
            "{file}:{line}:{column}: {key} for {field}"
        );
    }
}

#[test]
fn positions_are_the_field_key_or_for_a_missing_field_its_parent() {
    let findings = findings();
    // The finding of `code` in the example named after it.
    let find = |code: &str| {
        findings
            .iter()
            .find(|f| {
                let stem = f["file"].as_str().unwrap().rsplit('/').next().unwrap();
                f["code"] == code
                    && stem.replace('-', "").to_lowercase() == code.to_lowercase() + ".yaml"
            })
            .unwrap_or_else(|| panic!("no {code}"))
    };
    // Present: the key itself.
    let f = find("PortNumberInvalid");
    assert_eq!(pos(f), (11, 5));
    assert!(at(f["file"].as_str().unwrap(), 11, 5).starts_with("port: 70000"));
    let f = find("UnknownField");
    assert!(at(f["file"].as_str().unwrap(), pos(f).0, pos(f).1).starts_with("hostName:"));
    // Missing: the parent's key.
    let f = find("HostnameRequired");
    assert!(at(f["file"].as_str().unwrap(), pos(f).0, pos(f).1).starts_with("spec:"));
    // A list item: its first key.
    let f = find("ServiceDuplicate");
    assert_eq!(f["field"], "spec.failoverServices[2]");
    assert!(at(f["file"].as_str().unwrap(), pos(f).0, pos(f).1).starts_with("name: checkout"));
}

#[test]
fn text_output_prints_file_line_and_column_for_every_finding() {
    let o = check("text");
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    let findings = findings();
    assert_eq!(text.lines().count(), findings.len());
    for (line, f) in text.lines().zip(&findings) {
        let (l, c) = pos(f);
        let level = if f["deny"] == true {
            "error"
        } else {
            "warning"
        };
        let prefix = format!("{}:{l}:{c}: {level}: ", f["file"].as_str().unwrap());
        assert!(line.starts_with(&prefix), "{line} / {prefix}");
        let hint = format!(
            "(run: failover-webhook explain {})",
            f["code"].as_str().unwrap()
        );
        assert!(line.ends_with(&hint), "{line}");
    }
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0_with_a_rule_per_code_and_a_result_per_finding() {
    let o = check("sarif");
    assert_eq!(o.status.code(), Some(1));
    let sarif: Value = serde_json::from_slice(&o.stdout).unwrap();
    let schema: Value =
        serde_json::from_str(include_str!("schemas/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");

    let run = &sarif["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let codes: Vec<&str> = failover_webhook::finding::RuleCode::ALL
        .iter()
        .map(|c| c.as_str())
        .chain(["NotAFailoverService"])
        .collect();
    assert_eq!(rules, codes);
    for r in run["tool"]["driver"]["rules"].as_array().unwrap() {
        assert!(!r["shortDescription"]["text"].as_str().unwrap().is_empty());
        assert!(!r["help"]["text"].as_str().unwrap().is_empty());
    }

    let findings = findings();
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), findings.len());
    for (r, f) in results.iter().zip(&findings) {
        assert_eq!(r["ruleId"], f["code"]);
        assert_eq!(rules[r["ruleIndex"].as_u64().unwrap() as usize], f["code"]);
        let level = if f["deny"] == true {
            "error"
        } else {
            "warning"
        };
        assert_eq!(r["level"], level);
        let physical = &r["locations"][0]["physicalLocation"];
        assert_eq!(physical["artifactLocation"]["uri"], f["file"]);
        assert_eq!(physical["region"]["startLine"], f["line"]);
        assert_eq!(physical["region"]["startColumn"], f["column"]);
    }
    // Both verdicts occur in the examples.
    let levels: BTreeSet<&str> = results
        .iter()
        .map(|r| r["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, BTreeSet::from(["error", "warning"]));
}

#[test]
fn the_sarif_schema_check_catches_a_broken_log() {
    let schema: Value =
        serde_json::from_str(include_str!("schemas/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut sarif: Value = serde_json::from_slice(&check("sarif").stdout).unwrap();
    sarif["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!validator.is_valid(&sarif));
}

/// (test cases, failures per case name) read back from the JUnit XML.
fn junit_cases(xml: &[u8]) -> Vec<(String, String, usize)> {
    let mut reader = Reader::from_reader(xml);
    let mut cases = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).unwrap() {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == "testcase" => {
                let attr = |n: &str| {
                    e.try_get_attribute(n)
                        .unwrap()
                        .unwrap()
                        .normalized_value(XmlVersion::Implicit1_0)
                        .unwrap()
                        .into_owned()
                };
                cases.push((attr("classname"), attr("name"), 0));
            }
            Event::Start(e) if e.name().as_ref() == "failure" => {
                cases.last_mut().unwrap().2 += 1;
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    cases
}

#[test]
fn junit_output_has_a_case_per_failover_service_and_a_failure_per_denying_finding() {
    let o = check("junit");
    assert_eq!(o.status.code(), Some(1));
    let cases = junit_cases(&o.stdout);
    let yaml_files = walk(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples"
    )));
    assert_eq!(cases.len(), yaml_files, "one FailoverService per example");
    let findings = findings();
    for (file, name, failures) in &cases {
        let denying = findings
            .iter()
            .filter(|f| {
                let ns = f["namespace"].as_str().unwrap();
                let object = if ns.is_empty() {
                    f["name"].as_str().unwrap().to_owned()
                } else {
                    format!("{ns}/{}", f["name"].as_str().unwrap())
                };
                f["file"] == file.as_str() && object == *name && f["deny"] == true
            })
            .count();
        assert_eq!(*failures, denying, "{file} {name}");
    }
    assert!(cases.iter().any(|c| c.2 > 0) && cases.iter().any(|c| c.2 == 0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(text.contains("<system-out>"), "warnings are kept");
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            if p.is_dir() {
                walk(&p)
            } else {
                usize::from(p.extension().is_some_and(|e| e == "yaml"))
            }
        })
        .sum()
}

#[test]
fn github_output_annotates_each_finding_at_its_line_and_column() {
    let o = check("github");
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    let findings = findings();
    assert_eq!(text.lines().count(), findings.len());
    for (line, f) in text.lines().zip(&findings) {
        let (l, c) = pos(f);
        let level = if f["deny"] == true {
            "error"
        } else {
            "warning"
        };
        let expected = format!(
            "::{level} file={},line={l},col={c},title={}::",
            f["file"].as_str().unwrap(),
            f["code"].as_str().unwrap()
        );
        assert!(line.starts_with(&expected), "{line} / {expected}");
    }
}

#[test]
fn a_near_miss_is_a_sarif_result_and_a_failed_junit_case() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gloo.yaml");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/valid/single-mesh.yaml"),
    )
    .unwrap()
    .replace("networking.smh.solo.io", "networking.mesh.gloo.solo.io");
    std::fs::write(&file, &text).unwrap();
    let run = |format: &str| {
        Command::new(env!("CARGO_BIN_EXE_failover-webhook"))
            .args(["check", "--allow-empty", "--output", format])
            .arg(&file)
            .output()
            .unwrap()
    };
    let o = run("sarif");
    assert_eq!(o.status.code(), Some(1));
    let sarif: Value = serde_json::from_slice(&o.stdout).unwrap();
    let schema: Value =
        serde_json::from_str(include_str!("schemas/sarif-schema-2.1.0.json")).unwrap();
    assert!(jsonschema::validator_for(&schema).unwrap().is_valid(&sarif));
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "NotAFailoverService");
    let index = result["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(
        sarif["runs"][0]["tool"]["driver"]["rules"][index]["id"],
        "NotAFailoverService"
    );
    let line = text
        .lines()
        .position(|l| l.starts_with("apiVersion:"))
        .unwrap()
        + 1;
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        line
    );

    let cases = junit_cases(&run("junit").stdout);
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0].2, 1, "{cases:?}");
}
