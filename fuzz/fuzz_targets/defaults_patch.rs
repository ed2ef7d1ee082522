//! Any JSON object as a FailoverService being created (or, to seed from the admission
//! fixtures, an AdmissionReview: its `request.object`). Properties:
//! - the patch the evaluation computes applies to the object;
//! - the patched spec is the spec with the defaults applied;
//! - applying the defaults to it again changes nothing, and evaluating the patched object
//!   again asks for no change to its spec.
#![no_main]

use std::sync::LazyLock;

use failover_webhook::defaults;
use failover_webhook::engine::{self, Change, Review, Settings};
use failover_webhook::topology::{Topology, embedded};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

static TOPOLOGY: LazyLock<Topology> = LazyLock::new(embedded);

fuzz_target!(|data: &[u8]| {
    let Ok(mut object) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Some(inner) = object.pointer("/request/object") {
        object = inner.clone();
    }
    if !object.is_object() {
        return;
    }
    let settings = Settings {
        default_cluster: Some("fuzz-cluster".to_owned()),
        strict_references: false,
        enforcement: Default::default(),
    };
    let this = Review::identity_of(&object);
    let review = Review::new(Change::Create, &object, &this);
    let evaluation = engine::evaluate(&review, Some(&TOPOLOGY), &settings);
    let mut patched = object.clone();
    json_patch::patch(&mut patched, &evaluation.patch).expect("the patch applies");

    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty());
    let ctx = defaults::Context {
        object_namespace: namespace,
        default_cluster: settings.default_cluster.as_deref(),
    };
    let mut expected = object.get("spec").cloned().unwrap_or(Value::Null);
    defaults::apply(&mut expected, ctx);
    let spec = patched.get("spec").cloned().unwrap_or(Value::Null);
    assert_eq!(spec, expected, "the patch sets the defaulted spec");

    let mut twice = spec.clone();
    defaults::apply(&mut twice, ctx);
    assert_eq!(twice, spec, "the defaults are idempotent");

    let again = Review::new(Change::Create, &patched, &this);
    let second = engine::evaluate(&again, Some(&TOPOLOGY), &settings);
    let ops = serde_json::to_value(&second.patch).expect("a patch serialises");
    for op in ops.as_array().into_iter().flatten() {
        let path = op["path"].as_str().unwrap_or_default();
        assert!(
            !(path == "/spec" || path.starts_with("/spec/")),
            "a defaulted spec was changed again: {op}"
        );
    }
});
