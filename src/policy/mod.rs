//! `failover-webhook policy`: the spec-class rules as a Kubernetes `ValidatingAdmissionPolicy`
//! and its binding, so the API server enforces them in-process even when the webhook is
//! unavailable.
//!
//! The policy is generated from the engine's own tables: one validation per spec-class
//! [`RuleCode`] ([`rules::validation`]), the unknown keys and types from the shape table the
//! decoder reads objects with, and `variables` that apply the mutating webhook's defaults
//! first, so CEL judges the object the engine judges. On an UPDATE that leaves the defaulted
//! spec unchanged, no validation fails (the engine's ratchet).

mod cel;
pub mod rules;
mod shape;
mod variables;

use std::io::{self, Write};
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::api::NETWORKING_GROUP;
use crate::cli::PolicyArgs;
use crate::finding::RuleCode;

pub use rules::Validation;
pub use variables::INDEXED_ENTRIES;

/// Name of the policy and of its binding.
pub const POLICY_NAME: &str = "failoverservices.networking.smh.solo.io";

/// What the policy is generated from besides the rule table.
#[derive(Clone, Debug, Default)]
pub struct PolicySettings {
    /// The webhook's `--default-cluster`, so an unset `spec.cluster` is judged as the webhook
    /// would fill it.
    pub default_cluster: Option<String>,
}

/// The policy's parts, for the tests that evaluate them.
#[derive(Clone, Debug)]
pub struct Policy {
    /// `variables[]`: name and expression, in evaluation order.
    pub variables: Vec<(String, String)>,
    /// `validations[]`, one per spec-class rule code, in code order.
    pub validations: Vec<Validation>,
}

impl Policy {
    pub fn new(settings: &PolicySettings) -> Policy {
        let default_cluster = settings.default_cluster.as_deref().unwrap_or_default();
        let validations = RuleCode::ALL
            .iter()
            .filter_map(|code| rules::validation(*code))
            .map(|mut v| {
                // On an UPDATE that keeps the defaulted spec, nothing denies.
                v.expression = format!("variables.unchanged || ({})", v.expression);
                v
            })
            .collect();
        Policy {
            variables: variables::variables(default_cluster),
            validations,
        }
    }

    /// The `ValidatingAdmissionPolicy` and its `ValidatingAdmissionPolicyBinding`.
    pub fn documents(&self) -> [Value; 2] {
        let variables: Vec<Value> = self
            .variables
            .iter()
            .map(|(name, expression)| json!({"name": name, "expression": expression}))
            .collect();
        let validations: Vec<Value> = self
            .validations
            .iter()
            .map(|v| {
                json!({
                    "expression": v.expression,
                    "messageExpression": v.message_expression,
                    "message": format!("{}: {}", v.code.as_str(), v.code.description()),
                    "reason": "Invalid",
                })
            })
            .collect();
        let labels = json!({"app.kubernetes.io/name": "failover-webhook"});
        [
            json!({
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicy",
                "metadata": {"name": POLICY_NAME, "labels": labels},
                "spec": {
                    "failurePolicy": "Fail",
                    "matchConstraints": {
                        "resourceRules": [{
                            "apiGroups": [NETWORKING_GROUP],
                            "apiVersions": ["*"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["failoverservices"],
                        }],
                    },
                    "variables": variables,
                    "validations": validations,
                },
            }),
            json!({
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingAdmissionPolicyBinding",
                "metadata": {"name": POLICY_NAME, "labels": labels},
                "spec": {
                    "policyName": POLICY_NAME,
                    "validationActions": ["Deny"],
                },
            }),
        ]
    }
}

/// Writes the policy and its binding as a two-document YAML stream.
pub fn write_yaml(policy: &Policy, out: &mut impl Write) -> io::Result<()> {
    for doc in policy.documents() {
        let yaml = serde_norway::to_string(&doc).map_err(io::Error::other)?;
        writeln!(out, "---")?;
        out.write_all(yaml.as_bytes())?;
    }
    Ok(())
}

/// Runs `failover-webhook policy`.
pub fn run(args: &PolicyArgs) -> ExitCode {
    let policy = Policy::new(&PolicySettings {
        default_cluster: args.default_cluster.clone().filter(|c| !c.is_empty()),
    });
    let mut out = io::stdout().lock();
    match write_yaml(&policy, &mut out).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing the policy: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::RuleClass;

    #[test]
    fn every_spec_rule_has_a_validation_and_no_other_rule_does() {
        for code in RuleCode::ALL {
            let v = rules::validation(*code);
            assert_eq!(
                v.is_some(),
                code.class() == RuleClass::Spec,
                "{code:?} ({:?})",
                code.class()
            );
        }
        let policy = Policy::new(&PolicySettings::default());
        let spec_codes = RuleCode::ALL
            .iter()
            .filter(|c| c.class() == RuleClass::Spec)
            .count();
        assert_eq!(policy.validations.len(), spec_codes);
    }

    #[test]
    fn every_validation_denies_as_invalid() {
        let [vap, binding] = Policy::new(&PolicySettings::default()).documents();
        for v in vap["spec"]["validations"].as_array().unwrap() {
            assert_eq!(v["reason"], "Invalid");
            assert!(!v["messageExpression"].as_str().unwrap().is_empty());
        }
        assert_eq!(binding["spec"]["policyName"], POLICY_NAME);
        assert_eq!(binding["spec"]["validationActions"], json!(["Deny"]));
    }
}
