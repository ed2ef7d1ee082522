//! SARIF 2.1.0, the format code-scanning services (GitHub, GitLab, Azure DevOps) import: one
//! rule per code with its documentation, one result per finding at the field's line.

use serde::Serialize;

use super::{Report, ReportCode, Reported, object};
use crate::engine::Effect;
use crate::explain::{self, class_name, explanation, readme_anchor};
use crate::finding::{RuleClass, RuleCode};

const SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// Where the README lives online, for each rule's `helpUri`: from the package's `repository`
/// when it is set, none otherwise (SARIF wants an absolute URI there).
pub(super) fn help_base() -> Option<String> {
    option_env!("CARGO_PKG_REPOSITORY")
        .filter(|r| !r.is_empty())
        .map(|r| format!("{}/blob/HEAD/README.md", r.trim_end_matches('/')))
}

#[derive(Debug, Serialize)]
pub struct Log {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    results: Vec<SarifResult>,
    /// serde-saphyr counts columns in characters, not UTF-16 units (SARIF's default).
    column_kind: &'static str,
}

#[derive(Debug, Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    rules: Vec<Rule>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: &'static str,
    name: &'static str,
    short_description: Text,
    full_description: Text,
    help: Help,
    #[serde(skip_serializing_if = "Option::is_none")]
    help_uri: Option<String>,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Debug, Serialize)]
struct Text {
    text: String,
}

#[derive(Debug, Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Debug, Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Debug, Serialize)]
struct RuleProperties {
    class: &'static str,
    tags: [&'static str; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: String,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: [Location; 1],
    /// A finding the object's skip-rules annotation accepted: suppressed in the source, as
    /// SARIF says it, so code scanning shows it as dismissed rather than open.
    #[serde(skip_serializing_if = "Option::is_none")]
    suppressions: Option<[Suppression; 1]>,
}

#[derive(Debug, Serialize)]
struct Suppression {
    kind: &'static str,
    justification: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
    logical_locations: [LogicalLocation; 1],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Debug, Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_column: Option<usize>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    /// `namespace/name`, then the field path.
    fully_qualified_name: String,
    kind: &'static str,
}

fn level(deny: bool) -> &'static str {
    if deny { "error" } else { "warning" }
}

fn rule(code: RuleCode, help_base: Option<&str>) -> Rule {
    let e = explanation(code);
    let verdict = explain::verdict(code.class());
    Rule {
        id: code.as_str(),
        name: code.as_str(),
        short_description: Text {
            text: code.description().to_owned(),
        },
        full_description: Text {
            text: e.why.split_whitespace().collect::<Vec<_>>().join(" "),
        },
        help: Help {
            text: explain::render(code),
            markdown: format!(
                "**{code}** ({class} rule, {verdict}): {description}.\n\n{why}\n\n\
                 Bad:\n```yaml\n{bad}\n```\nFixed:\n```yaml\n{fixed}\n```\n\n\
                 `failover-webhook explain {code}` prints this help.",
                class = class_name(code.class()),
                description = code.description(),
                why = e.why.split_whitespace().collect::<Vec<_>>().join(" "),
                bad = e.bad,
                fixed = e.fixed,
            ),
        },
        help_uri: help_base.map(|base| format!("{base}#{}", readme_anchor(code))),
        default_configuration: Configuration {
            level: level(code.class() != RuleClass::Reference),
        },
        properties: RuleProperties {
            class: class_name(code.class()),
            tags: ["kubernetes"],
        },
    }
}

/// A path as a URI reference: every byte but unreserved characters and `/` percent-encoded.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The near miss `check` reports beside the rules: an object the webhook would never judge.
fn near_miss_rule() -> Rule {
    let why = "The API server sends this webhook only FailoverServices of networking.smh.solo.io; \
               an object whose kind is misspelt or whose group is another (Gloo Mesh's) is \
               stored unchecked, and Service Mesh Hub never acts on it.";
    Rule {
        id: "NotAFailoverService",
        name: "NotAFailoverService",
        short_description: Text {
            text:
                "the kind or group is close to, but not, a networking.smh.solo.io FailoverService"
                    .to_owned(),
        },
        full_description: Text {
            text: why.to_owned(),
        },
        help: Help {
            text: why.to_owned(),
            markdown: why.to_owned(),
        },
        help_uri: None,
        default_configuration: Configuration { level: "error" },
        properties: RuleProperties {
            class: "check",
            tags: ["kubernetes"],
        },
    }
}

/// Results refer to rules by index: every rule code in table order, then the near miss.
fn rule_index(code: ReportCode) -> usize {
    match code {
        ReportCode::Rule(code) => RuleCode::ALL
            .iter()
            .position(|&c| c == code)
            .unwrap_or_default(),
        ReportCode::NotAFailoverService => RuleCode::ALL.len(),
    }
}

fn result(r: &Reported) -> SarifResult {
    let rule_index = rule_index(r.code);
    SarifResult {
        rule_id: r.code.to_string(),
        rule_index,
        level: level(r.deny),
        message: Text {
            text: format!("{}: {}: {}", object(r), r.field, r.message),
        },
        locations: [Location {
            physical_location: PhysicalLocation {
                artifact_location: ArtifactLocation { uri: uri(&r.file) },
                region: r.line.map(|start_line| Region {
                    start_line,
                    start_column: r.column,
                }),
            },
            logical_locations: [LogicalLocation {
                fully_qualified_name: format!("{}/{}", object(r), r.field),
                kind: "member",
            }],
        }],
        suppressions: (r.effect == Effect::Skipped).then(|| {
            [Suppression {
                kind: "inSource",
                justification: format!("accepted by the annotation {}", crate::skip::ANNOTATION),
            }]
        }),
    }
}

/// The report as one SARIF log; `help_base` is the README's absolute URI, if it has one.
pub fn sarif(report: &Report, help_base: Option<String>) -> Log {
    Log {
        schema: SCHEMA,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "failover-webhook",
                    version: env!("CARGO_PKG_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    rules: RuleCode::ALL
                        .iter()
                        .map(|&c| rule(c, help_base.as_deref()))
                        .chain([near_miss_rule()])
                        .collect(),
                },
            },
            results: report.findings.iter().map(result).collect(),
            column_kind: "unicodeCodePoints",
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_a_repository_each_rule_links_its_readme_row() {
        let base = "https://git.example.com/failover-webhook/blob/HEAD/README.md";
        let log = serde_json::to_value(sarif(&Report::default(), Some(base.into()))).unwrap();
        let schema: serde_json::Value = serde_json::from_str(include_str!(
            "../../../tests/schemas/sarif-schema-2.1.0.json"
        ))
        .unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(validator.is_valid(&log));
        let rule = &log["runs"][0]["tool"]["driver"]["rules"][3];
        assert_eq!(rule["id"], "PortNumberInvalid");
        assert_eq!(rule["helpUri"], format!("{base}#rule-portnumberinvalid"));
        assert_eq!(rule["defaultConfiguration"]["level"], "error");
        let reference = &log["runs"][0]["tool"]["driver"]["rules"][15];
        assert_eq!(reference["id"], "ServiceNotFound");
        assert_eq!(reference["defaultConfiguration"]["level"], "warning");
    }

    #[test]
    fn a_skipped_finding_is_suppressed_in_source() {
        let finding = |effect| Reported {
            file: "m.yaml".into(),
            namespace: "shop".into(),
            name: "f".into(),
            code: ReportCode::Rule(RuleCode::HostnameConflict),
            field: "spec.hostname".into(),
            message: "Duplicate value".into(),
            deny: effect == Effect::Deny,
            effect,
            line: Some(7),
            column: Some(3),
        };
        let report = Report {
            findings: vec![finding(Effect::Skipped), finding(Effect::Deny)],
            ..Report::default()
        };
        let log = serde_json::to_value(sarif(&report, None)).unwrap();
        let schema: serde_json::Value = serde_json::from_str(include_str!(
            "../../../tests/schemas/sarif-schema-2.1.0.json"
        ))
        .unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        assert!(validator.is_valid(&log));
        let results = &log["runs"][0]["results"];
        assert_eq!(
            results[0]["suppressions"],
            serde_json::json!([{"kind": "inSource",
                "justification": "accepted by the annotation failover-webhook.smh.solo.io/skip-rules"}])
        );
        assert_eq!(results[0]["level"], "warning");
        assert!(results[1].get("suppressions").is_none());
    }

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri("examples/spec/a b.yaml"), "examples/spec/a%20b.yaml");
        assert_eq!(uri("-"), "-");
        assert_eq!(uri("é#?.yaml"), "%C3%A9%23%3F.yaml");
    }
}
