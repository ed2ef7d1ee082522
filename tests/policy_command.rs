//! `failover-webhook policy`: a ValidatingAdmissionPolicy and its binding as YAML, ready for
//! `kubectl apply -f -`, and the copy the Helm chart ships.

mod common;

use common::server::binary;
use serde_json::Value;

fn policy(args: &[&str]) -> (String, Vec<Value>) {
    let out = std::process::Command::new(binary())
        .arg("policy")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let docs = text
        .split("\n---\n")
        .map(|d| d.trim_start_matches("---\n"))
        .map(|d| serde_norway::from_str(d).unwrap())
        .collect();
    (text, docs)
}

fn variable<'a>(doc: &'a Value, name: &str) -> &'a str {
    doc["spec"]["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .and_then(|v| v["expression"].as_str())
        .unwrap()
}

#[test]
fn prints_a_policy_and_its_binding_for_failoverservices() {
    let (_, docs) = policy(&[]);
    assert_eq!(docs.len(), 2);
    let (vap, binding) = (&docs[0], &docs[1]);
    assert_eq!(vap["kind"], "ValidatingAdmissionPolicy");
    assert_eq!(vap["apiVersion"], "admissionregistration.k8s.io/v1");
    assert_eq!(vap["spec"]["failurePolicy"], "Fail");
    let rule = &vap["spec"]["matchConstraints"]["resourceRules"][0];
    assert_eq!(rule["apiGroups"][0], "networking.smh.solo.io");
    assert_eq!(rule["resources"], serde_json::json!(["failoverservices"]));
    assert_eq!(rule["operations"], serde_json::json!(["CREATE", "UPDATE"]));
    assert_eq!(vap["spec"]["validations"].as_array().unwrap().len(), 14);
    assert_eq!(binding["kind"], "ValidatingAdmissionPolicyBinding");
    assert_eq!(binding["spec"]["policyName"], vap["metadata"]["name"]);
    assert_eq!(variable(vap, "clusterDefault"), "''");
}

#[test]
fn the_default_cluster_changes_only_its_variable() {
    let (plain, _) = policy(&[]);
    let (with_cluster, docs) = policy(&["--default-cluster", "mgmt-cluster"]);
    assert_eq!(variable(&docs[0], "clusterDefault"), "'mgmt-cluster'");
    let changed: Vec<(&str, &str)> = plain
        .lines()
        .zip(with_cluster.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
}

#[test]
fn the_copy_in_the_repository_is_what_the_command_prints() {
    let (text, _) = policy(&[]);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(COPY);
    let copy = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        copy == text,
        "{COPY} is out of date: run `cargo run -- policy > {COPY}`"
    );
}

/// Where the Helm chart reads the generated policy from.
const COPY: &str = "charts/failover-webhook/files/admission-policy.yaml";
