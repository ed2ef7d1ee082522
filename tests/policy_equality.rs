//! The generated ValidatingAdmissionPolicy judges exactly as the engine: for every object, the
//! spec-class codes the engine denies with are the validations that fail in CEL, and each
//! failing validation's message is one of the engine's findings, word for word. Checked on the
//! examples, the admission fixtures and generated objects (CREATE and UPDATE, with and without
//! a default cluster).

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use common::policy::{Admission, Compiled, as_api_server_sends, message_matches, with_big_stack};
use failover_webhook::defaults::{self, Context};
use failover_webhook::finding::RuleCode;
use failover_webhook::manifest;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

/// Judges one admission both ways and fails on any difference; returns the codes that deny.
fn same_verdict(policy: &Compiled, a: &Admission<'_>) -> Result<BTreeSet<RuleCode>, String> {
    let cel = policy.judge(a)?;
    let engine = policy.engine(a);
    if cel.codes() != engine.codes() {
        return Err(format!(
            "policy fails {:?}, engine denies {:?}\nobject: {}\nold: {}\npolicy messages: {:?}\nengine findings: {:?}",
            cel.codes(),
            engine.codes(),
            a.object,
            a.old.map_or("-".to_owned(), Value::to_string),
            cel.failing,
            engine.denying
        ));
    }
    // CEL writes a double its own way (`1e+21` is `1000000000000000000000` there).
    if has_float(a.object) {
        return Ok(cel.codes());
    }
    for (code, message) in &cel.failing {
        let findings = engine.denying.get(code).map_or(&[][..], Vec::as_slice);
        if !message_matches(*code, message, findings) {
            return Err(format!(
                "{code:?}: policy says {message:?}, engine says {findings:?}\nobject: {}",
                a.object
            ));
        }
    }
    Ok(cel.codes())
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => !n.is_i64(),
        Value::Array(a) => a.iter().any(has_float),
        Value::Object(m) => m.values().any(has_float),
        _ => false,
    }
}

fn namespace_of(object: &Value) -> String {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn name_of(object: &Value) -> String {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn create(policy: &Compiled, object: &Value) -> Result<BTreeSet<RuleCode>, String> {
    let object = as_api_server_sends(object);
    let (namespace, name) = (namespace_of(&object), name_of(&object));
    same_verdict(
        policy,
        &Admission {
            object: &object,
            old: None,
            namespace: &namespace,
            name: &name,
        },
    )
}

fn update(policy: &Compiled, old: &Value, object: &Value) -> Result<BTreeSet<RuleCode>, String> {
    let (old, object) = (as_api_server_sends(old), as_api_server_sends(object));
    let (namespace, name) = (namespace_of(&object), name_of(&object));
    same_verdict(
        policy,
        &Admission {
            object: &object,
            old: Some(&old),
            namespace: &namespace,
            name: &name,
        },
    )
}

fn policies() -> [Compiled; 2] {
    [Compiled::new(None), Compiled::new(Some("mgmt-cluster"))]
}

#[test]
fn the_policy_judges_every_example_as_the_engine() {
    with_big_stack(the_policy_judges_every_example_as_the_engine_body);
}

fn the_policy_judges_every_example_as_the_engine_body() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let docs = manifest::read_paths(&[dir]).unwrap();
    let objects: Vec<&Value> = docs
        .iter()
        .map(|d| &d.value)
        .filter(|v| v.get("kind") == Some(&json!("FailoverService")))
        .collect();
    assert!(objects.len() >= 20, "{} examples", objects.len());
    for policy in policies() {
        let denied = objects
            .iter()
            .map(|o| create(&policy, o).unwrap_or_else(|e| panic!("{e}")))
            .filter(|codes| !codes.is_empty())
            .count();
        // Thirteen spec examples fail either way; `cluster-required` passes with a default cluster.
        assert!(denied >= 13, "the spec examples fail in CEL: {denied}");
    }
}

#[test]
fn the_policy_judges_every_admission_fixture_as_the_engine() {
    with_big_stack(the_policy_judges_every_admission_fixture_as_the_engine_body);
}

fn the_policy_judges_every_admission_fixture_as_the_engine_body() {
    let dirs = [
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/admission"),
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/admission"),
    ];
    let mut judged = 0;
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with(".request.json") {
                continue;
            }
            let review: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let request = &review["request"];
            // The policy matches the main resource on CREATE and UPDATE, as the engine judges.
            if request.get("subResource").is_some_and(|s| !s.is_null())
                || request["resource"]["resource"] != "failoverservices"
            {
                continue;
            }
            let namespace = request["namespace"].as_str().unwrap_or_default();
            let name = request["name"].as_str().unwrap_or_default();
            let object = as_api_server_sends(&request["object"]);
            let old = as_api_server_sends(&request["oldObject"]);
            let old = match request["operation"].as_str() {
                Some("CREATE") => None,
                Some("UPDATE") => Some(&old),
                _ => continue,
            };
            for policy in policies() {
                let a = Admission {
                    object: &object,
                    old,
                    namespace,
                    name,
                };
                same_verdict(&policy, &a).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
            judged += 1;
        }
    }
    assert!(judged >= 6, "{judged} fixtures judged");
}

#[test]
fn a_ratcheted_update_fails_no_validation() {
    with_big_stack(a_ratcheted_update_fails_no_validation_body);
}

fn a_ratcheted_update_fails_no_validation_body() {
    let policy = Compiled::new(None);
    let old = json!({
        "apiVersion": "networking.smh.solo.io/v1alpha1", "kind": "FailoverService",
        "metadata": {"name": "f", "namespace": "shop"},
        "spec": {"hostname": "Bad", "port": {"port": 70000}, "failoverServices": [{"name": "a", "x": 1}]}
    });
    let mut new = old.clone();
    new["metadata"]["labels"] = json!({"team": "a"});
    assert!(
        update(&policy, &old, &new).unwrap().is_empty(),
        "nothing fails"
    );
    assert!(
        !create(&policy, &new).unwrap().is_empty(),
        "the same object fails on CREATE"
    );
    new["spec"]["hostname"] = json!("worse");
    assert!(
        !update(&policy, &old, &new).unwrap().is_empty(),
        "a changed spec is judged"
    );
}

#[test]
fn defaults_filled_by_the_webhook_are_no_change() {
    with_big_stack(defaults_filled_by_the_webhook_are_no_change_body);
}

fn defaults_filled_by_the_webhook_are_no_change_body() {
    let policy = Compiled::new(Some("mgmt-cluster"));
    let old = json!({
        "apiVersion": "networking.smh.solo.io/v1alpha1", "kind": "FailoverService",
        "metadata": {"name": "f", "namespace": "shop"},
        "spec": {"hostname": "h.shop", "port": {"port": 0, "name": "http-api"},
                 "failoverServices": [{"name": "a"}, {"name": "b", "cluster": "remote"}]}
    });
    let mut new = old.clone();
    defaults::apply(
        &mut new["spec"],
        Context {
            object_namespace: Some("shop"),
            default_cluster: Some("mgmt-cluster"),
        },
    );
    assert_ne!(old, new);
    assert!(update(&policy, &old, &new).unwrap().is_empty());
    assert!(update(&policy, &new, &old).unwrap().is_empty());
}

// --- generated objects ---------------------------------------------------------------------

fn valid() -> Value {
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

/// Valid once defaulted (with a default cluster): what users write.
fn minimal() -> Value {
    json!({
        "apiVersion": "networking.smh.solo.io/v1alpha1",
        "kind": "FailoverService",
        "metadata": {"name": "reviews", "namespace": "bookinfo"},
        "spec": {
            "hostname": "reviews.bookinfo.failover",
            "port": {"port": 9080, "name": "http-api"},
            "failoverServices": [{"name": "reviews"}, {"name": "reviews", "cluster": "remote-cluster"}]
        }
    })
}

const PATHS: &[&str] = &[
    "/spec/hostname",
    "/spec/namespace",
    "/spec/cluster",
    "/spec/port",
    "/spec/port/port",
    "/spec/port/name",
    "/spec/port/protocol",
    "/spec/failoverServices",
    "/spec/failoverServices/0",
    "/spec/failoverServices/1",
    "/spec/failoverServices/2",
    "/spec/failoverServices/0/name",
    "/spec/failoverServices/0/namespace",
    "/spec/failoverServices/0/cluster",
    "/spec/failoverServices/1/name",
    "/spec/failoverServices/1/namespace",
    "/spec/failoverServices/1/cluster",
    "/spec",
    "/metadata/namespace",
    "/status",
    "/status/observedGeneration",
    "/status/validationStatus",
    "/status/validationStatus/state",
    "/status/translatorErrors",
    "/status/translatorErrors/0",
    "/status/translatorErrors/0/translatorId",
];

/// Where unknown keys are added (`""` is the root).
const OBJECTS: &[&str] = &[
    "",
    "/spec",
    "/spec/port",
    "/spec/failoverServices/0",
    "/status",
    "/status/validationStatus",
    "/status/translatorErrors/0",
    "/metadata",
];

/// Keys that are unknown somewhere (or everywhere).
const KEYS: &[&str] = &[
    "hostnme", "Hostname", "extra", "name", "port", "a.b", "", "state",
];

fn string() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "http",
            "HTTP",
            "http-api",
            "grpc-web",
            "GRPC-Web-x",
            "http_proxy",
            "tcp-db",
            "http1",
            "h2",
            "web",
            "-http",
            "http--a",
            "1234",
            "a-very-long-port-name",
            "shop",
            "Shop",
            "checkout",
            "checkout.shop.failover",
            "*.shop",
            "a.",
            "a..b",
            "mgmt-cluster",
            "remote-cluster",
            "ACCEPTED",
            "PENDING",
            "3",
            "-12",
            "+7",
            "99999999999999999999",
            "x y",
            "ſ",
            "a_b",
        ])
        .prop_map(Value::from),
        "[a-z0-9.-]{0,70}".prop_map(Value::from),
        "[a-z]{60,66}(\\.[a-z]{60,66}){0,4}".prop_map(Value::from),
        "[ -~]{0,10}".prop_map(Value::from),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        6 => string(),
        2 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        3 => prop::sample::select(vec![0i64, 1, 80, 9080, 65535, 65536, -1, 2, 4, 7])
            .prop_map(Value::from),
        1 => prop::sample::select(vec![80.5, 80.0, -0.0, 1e21, 2.0])
            .prop_map(|f| json!(f)),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(KEYS).prop_map(str::to_owned),
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
            Just(json!({"name": "checkout", "namespace": "shop", "cluster": "mgmt-cluster"})),
            Just(json!({"port": 80, "name": "tcp"})),
        ]
    })
}

#[derive(Clone, Debug)]
enum Edit {
    Set(&'static str, Value),
    Remove(&'static str),
    AddKey(&'static str, String, Value),
    /// Copies one service entry over another (duplicates).
    Repeat(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let path = prop::sample::select(PATHS);
    // Names that are set but malformed, where a DNS name is due: otherwise rare among the
    // random values.
    let malformed_name = (
        prop::sample::select(vec!["/spec/hostname", "/spec/namespace"]),
        prop::sample::select(vec!["Shop", "-shop", "a_b", "*.shop", "shop.", "a..b", "é"]),
    )
        .prop_map(|(p, v)| Edit::Set(p, Value::from(v)));
    prop_oneof![
        5 => (path.clone(), value()).prop_map(|(p, v)| Edit::Set(p, v)),
        1 => malformed_name,
        2 => path.clone().prop_map(Edit::Remove),
        1 => (prop::sample::select(OBJECTS), prop::sample::select(KEYS), value())
            .prop_map(|(p, k, v)| Edit::AddKey(p, k.to_owned(), v)),
        1 => (0usize..3, 0usize..3).prop_map(|(a, b)| Edit::Repeat(a, b)),
    ]
}

fn apply(object: &mut Value, e: &Edit) {
    let parent_and_last = |p: &str| {
        p.rsplit_once('/')
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
    };
    match e {
        Edit::Set(p, v) => {
            let Some((parent, last)) = parent_and_last(p) else {
                return;
            };
            match object.pointer_mut(&parent) {
                Some(Value::Object(m)) => {
                    m.insert(last, v.clone());
                }
                Some(Value::Array(a)) => match last.parse::<usize>() {
                    Ok(i) if i < a.len() => a[i] = v.clone(),
                    Ok(_) => a.push(v.clone()),
                    Err(_) => {}
                },
                _ => {}
            }
        }
        Edit::Remove(p) => {
            let Some((parent, last)) = parent_and_last(p) else {
                return;
            };
            match object.pointer_mut(&parent) {
                Some(Value::Object(m)) => {
                    m.remove(&last);
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = last.parse::<usize>()
                        && i < a.len()
                    {
                        a.remove(i);
                    }
                }
                _ => {}
            }
        }
        Edit::AddKey(p, k, v) => {
            if let Some(Value::Object(m)) = object.pointer_mut(p) {
                m.insert(k.clone(), v.clone());
            }
        }
        Edit::Repeat(from, to) => {
            if let Some(Value::Array(a)) = object.pointer_mut("/spec/failoverServices")
                && let Some(v) = a.get(*from).cloned()
            {
                match a.get_mut(*to) {
                    Some(slot) => *slot = v,
                    None => a.push(v),
                }
            }
        }
    }
}

fn object() -> impl Strategy<Value = Value> {
    let base = prop_oneof![Just(valid()), Just(minimal())];
    let edits = prop_oneof![
        1 => Just(Vec::new()),
        4 => prop::collection::vec(edit(), 1..4),
    ];
    (base, edits).prop_map(|(mut o, edits)| {
        for e in &edits {
            apply(&mut o, e);
        }
        o
    })
}

/// The object with the webhook's defaults applied, as the mutating stage leaves it.
fn defaulted(object: &Value, default_cluster: Option<&str>) -> Value {
    let mut out = object.clone();
    let namespace = namespace_of(object);
    if let Value::Object(m) = &mut out {
        let mut spec = m.remove("spec").unwrap_or(Value::Null);
        defaults::apply(
            &mut spec,
            Context {
                object_namespace: Some(namespace.as_str()).filter(|n| !n.is_empty()),
                default_cluster,
            },
        );
        if !spec.is_null() || object.get("spec").is_some() {
            m.insert("spec".to_owned(), spec);
        }
    }
    out
}

#[derive(Clone, Debug)]
enum Change {
    Create,
    /// A label edit: the spec is unchanged.
    Relabel,
    /// The stored object is the defaulted one, the new one as the user wrote it, or the reverse.
    Defaults {
        stored_defaulted: bool,
    },
    /// More edits on top of the stored object.
    Edit(Vec<Edit>),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => Just(Change::Create),
        1 => Just(Change::Relabel),
        1 => any::<bool>().prop_map(|stored_defaulted| Change::Defaults { stored_defaulted }),
        2 => prop::collection::vec(edit(), 1..3).prop_map(Change::Edit),
    ]
}

/// How many generated admissions are judged, each with or without a default cluster.
const GENERATED: u32 = 10_000;

#[test]
fn the_policy_judges_generated_objects_as_the_engine() {
    with_big_stack(the_policy_judges_generated_objects_as_the_engine_body);
}

fn the_policy_judges_generated_objects_as_the_engine_body() {
    let policies = policies();
    let mut runner = TestRunner::new(Config {
        cases: GENERATED,
        failure_persistence: None,
        ..Config::default()
    });
    let tally: RefCell<BTreeMap<&str, u32>> = RefCell::default();
    let codes: RefCell<BTreeMap<RuleCode, u32>> = RefCell::default();
    let outcome = runner.run(
        &(object(), change(), 0..policies.len()),
        |(stored, change, p)| {
            // Each object under one of the two settings: the evaluation is the slow part.
            if let Some(policy) = policies.get(p) {
                let cluster = policy.settings.default_cluster.as_deref();
                let (kind, verdict) = match &change {
                    Change::Create => ("create", create(policy, &stored)),
                    Change::Relabel => {
                        let mut new = stored.clone();
                        apply(
                            &mut new,
                            &Edit::AddKey("/metadata", "labels".to_owned(), json!({"a": "b"})),
                        );
                        ("relabel", update(policy, &stored, &new))
                    }
                    Change::Defaults { stored_defaulted } => {
                        let d = defaulted(&stored, cluster);
                        if *stored_defaulted {
                            ("defaults", update(policy, &d, &stored))
                        } else {
                            ("defaults", update(policy, &stored, &d))
                        }
                    }
                    Change::Edit(edits) => {
                        let mut new = stored.clone();
                        for e in edits {
                            apply(&mut new, e);
                        }
                        // The API server refuses to move an object to another namespace.
                        match stored.pointer("/metadata/namespace") {
                            Some(ns) => {
                                apply(&mut new, &Edit::Set("/metadata/namespace", ns.clone()))
                            }
                            None => apply(&mut new, &Edit::Remove("/metadata/namespace")),
                        }
                        ("edit", update(policy, &stored, &new))
                    }
                };
                let denying = verdict.map_err(TestCaseError::fail)?;
                let mut tally = tally.borrow_mut();
                *tally.entry(kind).or_default() += 1;
                *tally
                    .entry(if denying.is_empty() {
                        "admitted"
                    } else {
                        "denied"
                    })
                    .or_default() += 1;
                for code in denying {
                    *codes.borrow_mut().entry(code).or_default() += 1;
                }
            }
            Ok(())
        },
    );
    if let Err(e) = outcome {
        panic!("{e}");
    }
    let (tally, codes) = (tally.into_inner(), codes.into_inner());
    eprintln!("generated admissions: {tally:?}\nspec codes denying: {codes:?}");
    let judged =
        tally.get("denied").copied().unwrap_or(0) + tally.get("admitted").copied().unwrap_or(0);
    assert!(judged >= GENERATED);
    for verdict in ["denied", "admitted"] {
        let n = tally.get(verdict).copied().unwrap_or(0);
        assert!(n * 5 >= judged, "{verdict} is rare: {n} of {judged}");
    }
    for code in failover_webhook::finding::RuleCode::ALL
        .iter()
        .filter(|c| failover_webhook::policy::rules::validation(**c).is_some())
    {
        assert!(
            codes.get(code).copied().unwrap_or(0) >= 10,
            "{code:?} is rarely generated: {codes:?}"
        );
    }
}
