//! The initial status of spec §5: what `/mutate` writes into `status` on CREATE and on an UPDATE
//! that changes the spec.
//!
//! With the CRD's status subresource enabled (as in the original installation) the API server
//! drops a status sent on the main resource, so this takes effect only where the CRD has no
//! status subresource; a controller writing `/status` is what makes it stick elsewhere.

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

/// Writes `observedGeneration` and `validationStatus` into `status` (the value of the object's
/// `status` key, `Null` when absent), keeping every other status field. A status of the wrong
/// type is left alone; it is reported by the type rules.
pub fn apply(status: &mut Value, findings: &[Finding], observed_generation: i64) {
    let message: Vec<String> = findings.iter().map(ToString::to_string).collect();
    let validation = json!({"state": state(findings).as_str(), "message": message.join("\n")});
    if status.is_null() {
        *status = json!({});
    }
    if let Some(map) = status.as_object_mut() {
        map.insert("observedGeneration".to_owned(), json!(observed_generation));
        map.insert("validationStatus".to_owned(), validation);
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
