//! The initial status of spec §5: what `/mutate` writes into `status` on CREATE and on an UPDATE
//! that changes the spec.
//!
//! With the CRD's status subresource enabled (as in the original installation) the API server
//! drops a status sent on the main resource, so this takes effect only where the CRD has no
//! status subresource; a controller writing `/status` is what makes it stick elsewhere.

use std::fmt::Write as _;

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation, RemoveOperation, ReplaceOperation};
use serde_json::{Value, json};

use crate::api::State;
use crate::finding::{Finding, RuleCode};

/// ACCEPTED with no finding, CONFLICT when every finding is a HostnameConflict, INVALID
/// otherwise, including for reference findings that admission lets through: the status tells
/// the truth as of now.
pub fn state(findings: &[Finding]) -> State {
    if findings.is_empty() {
        State::Accepted
    } else if findings
        .iter()
        .all(|f| f.code == RuleCode::HostnameConflict)
    {
        State::Conflict
    } else {
        State::Invalid
    }
}

/// Longest `validationStatus.message`, in bytes: the limit Kubernetes sets on a condition's
/// message. One line per finding is unbounded otherwise, and a spec of thousands of entries
/// would write a status as large as itself, doubling an object that etcd caps at 1.5 MiB.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;

/// The `validationStatus` the findings give.
fn validation(findings: &[Finding]) -> Value {
    json!({"state": state(findings).as_str(), "message": message(findings)})
}

/// One `field: message` line per finding, as many whole lines as fit in
/// [`MAX_MESSAGE_BYTES`]; a last line then counts the findings left out.
fn message(findings: &[Finding]) -> String {
    // Room kept for that last line: "... and 18446744073709551615 more findings".
    const TAIL: usize = 64;
    let mut message = String::new();
    for (i, finding) in findings.iter().enumerate() {
        let before = message.len();
        if i > 0 {
            message.push('\n');
        }
        // Writing into a String cannot fail.
        let _ = write!(message, "{finding}");
        let rest = findings.len() - i - 1;
        let room = if rest == 0 { 0 } else { TAIL };
        if message.len() + room > MAX_MESSAGE_BYTES {
            message.truncate(before);
            let left = findings.len() - i;
            let _ = write!(
                message,
                "{}... and {left} more finding{}",
                if before > 0 { "\n" } else { "" },
                if left == 1 { "" } else { "s" }
            );
            break;
        }
    }
    message
}

/// Writes `observedGeneration` and `validationStatus` into `status` (the value of the object's
/// `status` key, `Null` when absent), keeping every other status field. A status of the wrong
/// type is left alone; it is reported by the type rules.
pub fn apply(status: &mut Value, findings: &[Finding], observed_generation: i64) {
    let validation = validation(findings);
    if status.is_null() {
        *status = json!({});
    }
    if let Some(map) = status.as_object_mut() {
        map.insert("observedGeneration".to_owned(), json!(observed_generation));
        map.insert("validationStatus".to_owned(), validation);
    }
}

/// The JSON patch operations that do to the object what [`apply`] does to its `status`
/// (`None` when the object has none), in the form and order a diff of the two objects gives:
/// a missing status is added whole, a field that differs is replaced, and inside an existing
/// `validationStatus` only the keys that differ are written and keys of its own removed.
pub fn operations(
    status: Option<&Value>,
    findings: &[Finding],
    observed_generation: i64,
    ops: &mut Vec<PatchOperation>,
) {
    let mut path = PointerBuf::new();
    path.push_back("status");
    let map = match status {
        Some(Value::Object(map)) => map,
        Some(Value::Null) | None => {
            let mut value = Value::Null;
            apply(&mut value, findings, observed_generation);
            ops.push(if status.is_some() {
                PatchOperation::Replace(ReplaceOperation { path, value })
            } else {
                PatchOperation::Add(AddOperation { path, value })
            });
            return;
        }
        Some(_) => return,
    };
    for (key, value) in [
        ("observedGeneration", json!(observed_generation)),
        ("validationStatus", validation(findings)),
    ] {
        path.push_back(key);
        match map.get(key) {
            None => ops.push(PatchOperation::Add(AddOperation {
                path: path.clone(),
                value,
            })),
            Some(old) => diff(old, value, &mut path, ops),
        }
        path.pop_back();
    }
}

/// The operations that turn `old` into `new` at `path`, as `json_patch::diff` writes them for
/// values without arrays: objects key by key (additions and replacements in key order, then
/// removals), any other difference one replacement.
fn diff(old: &Value, new: Value, path: &mut PointerBuf, ops: &mut Vec<PatchOperation>) {
    match (old, new) {
        (Value::Object(old), Value::Object(new)) => {
            for (key, value) in new.iter() {
                path.push_back(key);
                match old.get(key) {
                    None => ops.push(PatchOperation::Add(AddOperation {
                        path: path.clone(),
                        value: value.clone(),
                    })),
                    Some(was) => diff(was, value.clone(), path, ops),
                }
                path.pop_back();
            }
            for key in old.keys().filter(|k| !new.contains_key(*k)) {
                path.push_back(key);
                ops.push(PatchOperation::Remove(RemoveOperation {
                    path: path.clone(),
                }));
                path.pop_back();
            }
        }
        (old, new) if *old == new => {}
        (_, value) => ops.push(PatchOperation::Replace(ReplaceOperation {
            path: path.clone(),
            value,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::FieldPath;

    fn finding(code: RuleCode, field: &str) -> Finding {
        Finding::new(code, FieldPath::from(field), "because")
    }

    #[test]
    fn state_follows_the_findings() {
        assert_eq!(state(&[]), State::Accepted);
        assert_eq!(
            state(&[finding(RuleCode::HostnameConflict, "spec.hostname")]),
            State::Conflict
        );
        assert_eq!(
            state(&[
                finding(RuleCode::HostnameConflict, "spec.hostname"),
                finding(RuleCode::ServiceNotFound, "spec.failoverServices[0]")
            ]),
            State::Invalid
        );
        assert_eq!(
            state(&[finding(RuleCode::OutlierDetectionMissing, "x")]),
            State::Invalid
        );
    }

    #[test]
    fn keeps_translation_status_and_lists_findings_one_per_line() {
        let mut status =
            json!({"translationStatus": {"state": "ACCEPTED"}, "translatorErrors": []});
        apply(
            &mut status,
            &[
                finding(RuleCode::PortRequired, "spec.port"),
                finding(RuleCode::ClusterRequired, "spec.cluster"),
            ],
            3,
        );
        assert_eq!(
            status,
            json!({
                "observedGeneration": 3,
                "validationStatus": {"state": "INVALID", "message": "spec.port: because\nspec.cluster: because"},
                "translationStatus": {"state": "ACCEPTED"},
                "translatorErrors": []
            })
        );
    }

    #[test]
    fn a_long_list_of_findings_is_cut_at_a_line_and_counted() {
        let many: Vec<Finding> = (0..5_000)
            .map(|i| {
                finding(
                    RuleCode::ServiceNotFound,
                    &format!("spec.failoverServices[{i}]"),
                )
            })
            .collect();
        let text = message(&many);
        assert!(text.len() <= MAX_MESSAGE_BYTES, "{}", text.len());
        let lines: Vec<&str> = text.lines().collect();
        let shown = lines.len() - 1;
        assert!(shown > 100, "{shown}");
        assert_eq!(lines[0], "spec.failoverServices[0]: because");
        assert_eq!(
            lines[shown - 1],
            format!("spec.failoverServices[{}]: because", shown - 1)
        );
        assert_eq!(
            lines[shown],
            format!("... and {} more findings", 5_000 - shown)
        );

        // Up to the limit, every finding is listed and nothing is counted.
        let fit = &many[..shown];
        assert_eq!(message(fit).lines().count(), shown);
        assert!(!message(fit).contains("more findings"));
    }

    #[test]
    fn one_finding_longer_than_the_limit_is_counted_not_cut() {
        let long = Finding::new(
            RuleCode::HostnameInvalid,
            FieldPath::from("spec.hostname"),
            "x".repeat(MAX_MESSAGE_BYTES),
        );
        assert_eq!(message(&[long]), "... and 1 more finding");
    }

    #[test]
    fn creates_a_missing_status_and_leaves_a_malformed_one() {
        let mut status = Value::Null;
        apply(&mut status, &[], 1);
        assert_eq!(
            status,
            json!({"observedGeneration": 1, "validationStatus": {"state": "ACCEPTED", "message": ""}})
        );
        let mut bad = json!("text");
        apply(&mut bad, &[], 1);
        assert_eq!(bad, json!("text"));
    }
}
