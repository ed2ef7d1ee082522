//! Builders shared by the rule tests: a valid object against the embedded topology, edited one
//! field at a time.

use serde_json::{Value, json};

use crate::api::ObjectRef;
use crate::decode::decode;
use crate::finding::RuleCode;
use crate::topology::{Topology, embedded};

/// A FailoverService that passes every rule against the embedded topology.
pub fn valid() -> Value {
    json!({
        "apiVersion": "networking.smh.solo.io/v1alpha1",
        "kind": "FailoverService",
        "metadata": {"name": "checkout-failover", "namespace": "service-mesh-hub"},
        "spec": {
            "hostname": "checkout.shop.failover",
            "namespace": "shop",
            "port": {"port": 9080, "name": "http", "protocol": "http"},
            "cluster": "mgmt-cluster",
            "failoverServices": [
                {"name": "checkout", "namespace": "shop", "cluster": "mgmt-cluster"},
                {"name": "checkout", "namespace": "shop", "cluster": "remote-cluster"}
            ]
        }
    })
}

/// `object` with the value at JSON pointer `at` set (the parent must exist; an index one past
/// the end of a list appends).
pub fn with(mut object: Value, at: &str, value: Value) -> Value {
    let (parent, last) = at.rsplit_once('/').expect("a pointer with a parent");
    match object.pointer_mut(parent).expect("the parent exists") {
        Value::Object(m) => {
            m.insert(last.to_owned(), value);
        }
        Value::Array(a) => {
            let i: usize = last.parse().expect("an index");
            if i == a.len() {
                a.push(value);
            } else {
                a[i] = value;
            }
        }
        other => panic!("cannot set {at} under {other}"),
    }
    object
}

pub fn without(mut object: Value, at: &str) -> Value {
    let (parent, last) = at.rsplit_once('/').expect("a pointer with a parent");
    if let Some(Value::Object(m)) = object.pointer_mut(parent) {
        m.remove(last);
    }
    object
}

fn this(object: &Value) -> ObjectRef {
    let s = |p| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    ObjectRef {
        name: s("/metadata/name"),
        namespace: s("/metadata/namespace"),
    }
}

fn run(object: &Value, topology: Option<&Topology>) -> Vec<(RuleCode, String)> {
    super::validate(&decode(object), &this(object), topology)
        .into_iter()
        .map(|f| (f.code, f.field.to_string()))
        .collect()
}

/// Findings of the structural and spec rules only.
pub fn spec_findings(object: &Value) -> Vec<(RuleCode, String)> {
    run(object, None)
}

/// Findings of every rule, against the embedded topology.
pub fn all_findings(object: &Value) -> Vec<(RuleCode, String)> {
    run(object, Some(&embedded()))
}

/// The full findings (with messages), against the embedded topology.
pub fn messages(object: &Value) -> Vec<String> {
    messages_against(object, &embedded())
}

/// The full findings (with messages), against `topology`.
pub fn messages_against(object: &Value, topology: &Topology) -> Vec<String> {
    super::validate(&decode(object), &this(object), Some(topology))
        .into_iter()
        .map(|f| format!("{}: {}: {}", f.code, f.field, f.message))
        .collect()
}

/// The embedded topology with the objects of `yaml` (one or more documents) added.
pub fn embedded_and(yaml: &str) -> Topology {
    let text = format!("{}\n---\n{yaml}", crate::topology::EMBEDDED_YAML);
    let docs = crate::manifest::parse("test topology", &text).expect("valid YAML");
    crate::topology::snapshot::from_documents(docs).expect("a valid topology")
}
