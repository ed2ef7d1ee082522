//! The patch the engine writes directly from the defaults it applied and the status it wrote,
//! against the patch a diff of the object's `spec` and `status` before and after gives
//! (`json_patch::diff`, the way the patch was built before): over valid, invalid and malformed
//! objects, keys that need RFC 6901 escaping, missing parents and existing statuses with fields
//! of their own, both patches are the same operations and so give the same object. The "after"
//! side is computed here with an independent copy of the defaults of spec §4.

use failover_webhook::engine::{Change, Evaluation, Review, Settings, evaluate};
use failover_webhook::status;
use failover_webhook::topology::{Topology, embedded};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn topology() -> &'static Topology {
    static T: std::sync::OnceLock<Topology> = std::sync::OnceLock::new();
    T.get_or_init(embedded)
}

/// Strings the defaults react to, and some a JSON pointer must escape.
fn string() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("")),
        prop::sample::select(vec![
            "http",
            "HTTP",
            "http-web",
            "grpc-web",
            "http_proxy",
            "tcp-db",
            "http1",
            "web",
            "shop",
            "mgmt-cluster",
            "a/b~c",
            "~1",
            "/",
        ])
        .prop_map(|s| json!(s)),
        "[ -~]{0,6}".prop_map(Value::String),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "namespace",
            "cluster",
            "name",
            "port",
            "protocol",
            "state",
            "message",
            "a/b",
            "~0",
            "x~1y",
        ])
        .prop_map(str::to_owned),
        "[a-z/~]{1,4}",
    ]
}

/// Any JSON value of small depth.
fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..70_000).prop_map(Value::from),
        string(),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A field's value: mostly a string (set, empty), sometimes `null`, absent or of another type.
fn field() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        5 => string().prop_map(Some),
        2 => Just(Some(Value::Null)),
        3 => Just(None),
        1 => any_json().prop_map(Some),
    ]
}

fn object_of(fields: Vec<(&str, Option<Value>)>, extra: Map<String, Value>) -> Value {
    let mut map: Map<String, Value> = extra;
    for (k, v) in fields {
        if let Some(v) = v {
            map.insert(k.to_owned(), v);
        }
    }
    Value::Object(map)
}

fn extra() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(key(), any_json(), 0..2).prop_map(|m| m.into_iter().collect())
}

fn spec() -> impl Strategy<Value = Option<Value>> {
    let port = (field(), field(), field(), extra())
        .prop_map(|(p, n, pr, x)| object_of(vec![("port", p), ("name", n), ("protocol", pr)], x));
    let service = (field(), field(), field()).prop_map(|(n, ns, c)| {
        object_of(
            vec![("name", n), ("namespace", ns), ("cluster", c)],
            Map::new(),
        )
    });
    let services = prop_oneof![
        4 => prop::collection::vec(prop_oneof![5 => service, 1 => any_json()], 0..4).prop_map(Value::Array),
        1 => any_json(),
    ];
    let object = (
        field(),
        field(),
        field(),
        prop::option::weighted(0.8, prop_oneof![4 => port, 1 => any_json()]),
        prop::option::weighted(0.8, services),
        extra(),
    )
        .prop_map(|(h, ns, c, port, services, x)| {
            object_of(
                vec![
                    ("hostname", h),
                    ("namespace", ns),
                    ("cluster", c),
                    ("port", port),
                    ("failoverServices", services),
                ],
                x,
            )
        });
    prop_oneof![
        8 => object.prop_map(Some),
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        1 => any_json().prop_map(Some),
    ]
}

/// A status: absent, `null`, malformed, or an object with the fields the webhook writes (in
/// any shape) and fields of its own, some with keys that need escaping.
fn status() -> impl Strategy<Value = Option<Value>> {
    let validation = prop_oneof![
        (field(), field(), extra())
            .prop_map(|(s, m, x)| object_of(vec![("state", s), ("message", m)], x)),
        any_json(),
    ];
    let object = (
        prop::option::of(prop_oneof![(0i64..4).prop_map(Value::from), any_json()]),
        prop::option::of(validation),
        extra(),
    )
        .prop_map(|(g, v, x)| {
            object_of(vec![("observedGeneration", g), ("validationStatus", v)], x)
        });
    prop_oneof![
        3 => object.prop_map(Some),
        2 => Just(None),
        1 => Just(Some(Value::Null)),
        1 => any_json().prop_map(Some),
    ]
}

// Boxed: unboxed, the nested strategy types overflow a test thread's stack in debug builds.
fn failover_service() -> BoxedStrategy<Value> {
    (
        prop::option::of(prop::sample::select(vec!["", "shop", "team-a"])),
        prop::option::of(-1i64..5),
        spec().boxed(),
        status().boxed(),
    )
        .prop_map(|(namespace, generation, spec, status)| {
            let metadata = object_of(
                vec![
                    ("name", Some(json!("f"))),
                    ("namespace", namespace.map(|n| json!(n))),
                    ("generation", generation.map(Value::from)),
                ],
                Map::new(),
            );
            object_of(
                vec![
                    ("metadata", Some(metadata)),
                    ("spec", spec),
                    ("status", status),
                ],
                Map::new(),
            )
        })
        .boxed()
}

/// What an UPDATE's old object is, relative to the new one.
#[derive(Clone, Debug)]
enum Old {
    /// Any other object.
    Other(Value),
    /// The same object (a metadata-only edit).
    Same,
    /// The new object with its defaults filled, as stored after `/mutate`.
    Defaulted,
}

fn old() -> impl Strategy<Value = Old> {
    prop_oneof![
        failover_service().prop_map(Old::Other),
        Just(Old::Same),
        Just(Old::Defaulted),
    ]
}

fn settings(default_cluster: bool) -> Settings {
    Settings {
        default_cluster: default_cluster.then(|| "mgmt-cluster".to_owned()),
        ..Settings::default()
    }
}

fn run(change: Change<'_>, object: &Value, settings: &Settings) -> Evaluation {
    let this = Review::identity_of(object);
    evaluate(
        &Review::new(change, object, &this),
        Some(topology()),
        settings,
    )
}

// ---- the reference: the defaults of spec §4 on a copy, then a diff ----

fn unset(v: Option<&Value>) -> bool {
    v.is_none_or(|v| v.is_null() || v == "")
}

fn fill(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value.filter(|v| !v.is_empty())
        && unset(map.get(key))
    {
        map.insert(key.to_owned(), json!(v));
    }
}

/// Istio's protocols, written out here rather than read from the code under test.
fn protocol(s: &str) -> Option<&'static str> {
    [
        "tcp",
        "udp",
        "grpc",
        "grpc-web",
        "http",
        "http_proxy",
        "http2",
        "https",
        "tls",
        "mongo",
        "redis",
        "mysql",
    ]
    .into_iter()
    .find(|p| p.eq_ignore_ascii_case(s))
}

/// Spec §4 applied in place, step by step as the spec states it.
fn reference_defaults(spec: &mut Value, namespace: Option<&str>, cluster: Option<&str>) {
    if spec.is_null() {
        let mut fresh = json!({});
        reference_defaults(&mut fresh, namespace, cluster);
        if fresh.as_object().is_some_and(|m| !m.is_empty()) {
            *spec = fresh;
        }
        return;
    }
    let Some(spec) = spec.as_object_mut() else {
        return;
    };
    fill(spec, "namespace", namespace);
    fill(spec, "cluster", cluster);
    if let Some(port) = spec.get_mut("port").and_then(Value::as_object_mut) {
        if unset(port.get("protocol"))
            && let Some(name) = port.get("name").and_then(Value::as_str)
        {
            let p = protocol(name).or_else(|| name.split_once('-').and_then(|(p, _)| protocol(p)));
            fill(port, "protocol", p);
        }
        if unset(port.get("name"))
            && let Some(p) = port
                .get("protocol")
                .and_then(Value::as_str)
                .and_then(protocol)
        {
            fill(port, "name", Some(&p.replace('_', "-")));
        }
    }
    let ns = spec
        .get("namespace")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let cl = spec
        .get("cluster")
        .and_then(Value::as_str)
        .map(str::to_owned);
    for s in spec
        .get_mut("failoverServices")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
    {
        fill(s, "namespace", ns.as_deref());
        fill(s, "cluster", cl.as_deref());
    }
}

fn namespace_of(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
}

/// `spec` defaulted in namespace `ns`, `None` when absent and left so.
fn reference_spec(object: &Value, ns: Option<&str>, settings: &Settings) -> Option<Value> {
    let mut spec = object.get("spec").cloned().unwrap_or(Value::Null);
    reference_defaults(&mut spec, ns, settings.default_cluster.as_deref());
    (!spec.is_null() || object.get("spec").is_some()).then_some(spec)
}

/// The patch, as a diff of `{spec, status}` before and after; and whether the update is
/// ratcheted.
fn reference(
    object: &Value,
    old: Option<&Value>,
    eval: &Evaluation,
    settings: &Settings,
) -> (json_patch::Patch, bool) {
    let parts = |o: &Value| -> Map<String, Value> {
        ["spec", "status"]
            .into_iter()
            .filter_map(|k| Some((k.to_owned(), o.get(k)?.clone())))
            .collect()
    };
    // The new object's namespace when it has one; the old object's own (even empty) else that.
    let ns = namespace_of(object).filter(|n| !n.is_empty());
    let new_spec = reference_spec(object, ns, settings);
    let (ratcheted, changed, generation) = match old {
        None => (false, true, 1),
        Some(old) => {
            let old_spec = reference_spec(old, namespace_of(old).or(ns), settings);
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                .saturating_add(1);
            (
                old_spec.unwrap_or(Value::Null) == new_spec.clone().unwrap_or(Value::Null),
                new_spec.as_ref().unwrap_or(&Value::Null)
                    != old.get("spec").unwrap_or(&Value::Null),
                generation,
            )
        }
    };
    if !object.is_object() {
        return (json_patch::Patch(Vec::new()), ratcheted);
    }
    let before = parts(object);
    let mut after = before.clone();
    if let Some(spec) = new_spec {
        after.insert("spec".to_owned(), spec);
    }
    if changed {
        let findings: Vec<_> = eval.findings.iter().map(|j| j.finding.clone()).collect();
        let mut st = after.remove("status").unwrap_or(Value::Null);
        status::apply(&mut st, &findings, generation);
        after.insert("status".to_owned(), st);
    }
    let patch = json_patch::diff(&Value::Object(before), &Value::Object(after));
    (patch, ratcheted)
}

fn applied(object: &Value, patch: &json_patch::Patch) -> Result<Value, TestCaseError> {
    let mut out = object.clone();
    json_patch::patch(&mut out, patch)
        .map_err(|e| TestCaseError::fail(format!("{e}: {patch:?}")))?;
    Ok(out)
}

fn check(object: &Value, old: Option<&Value>, settings: &Settings) -> Result<(), TestCaseError> {
    let change = old.map_or(Change::Create, |old| Change::Update { old });
    let eval = run(change, object, settings);
    let (want, ratcheted) = reference(object, old, &eval, settings);
    prop_assert_eq!(eval.ratcheted, ratcheted);
    prop_assert_eq!(applied(object, &eval.patch)?, applied(object, &want)?);
    prop_assert_eq!(
        serde_json::to_string(&eval.patch).unwrap(),
        serde_json::to_string(&want).unwrap(),
        "the same operations in the same order"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn a_create_patch_is_the_diff_of_the_defaulted_object(object in failover_service(), dc in any::<bool>()) {
        check(&object, None, &settings(dc))?;
    }

    #[test]
    fn an_update_patch_and_its_ratcheting_are_those_of_the_diff(
        object in failover_service(),
        old in old(),
        dc in any::<bool>(),
    ) {
        let settings = settings(dc);
        let old = match old {
            Old::Other(o) => o,
            Old::Same => object.clone(),
            Old::Defaulted => applied(&object, &run(Change::Create, &object, &settings).patch)?,
        };
        check(&object, Some(&old), &settings)?;
    }

    #[test]
    fn any_json_gets_the_patch_of_the_diff(object in any_json(), old in any_json()) {
        check(&object, None, &Settings::default())?;
        check(&object, Some(&old), &Settings::default())?;
    }

    /// Defaults applied twice change nothing: the spec as `/mutate` leaves it gets no default.
    /// (Its status may still be rewritten: the rules also judge the status the object came with.)
    #[test]
    fn a_patched_spec_gets_no_further_default(object in failover_service(), dc in any::<bool>()) {
        let settings = settings(dc);
        let once = applied(&object, &run(Change::Create, &object, &settings).patch)?;
        let again = run(Change::Create, &once, &settings);
        let ops = serde_json::to_value(&again.patch).unwrap();
        for op in ops.as_array().into_iter().flatten() {
            prop_assert!(op["path"].as_str().is_some_and(|p| p.starts_with("/status")), "{}", op);
        }
    }
}

#[test]
fn keys_that_need_escaping_are_escaped_in_removals() {
    let object = json!({
        "metadata": {"name": "f", "namespace": "shop"},
        "spec": {"hostname": "h.shop.failover"},
        "status": {"validationStatus": {"state": "ACCEPTED", "a/b~c": 1}}
    });
    let eval = run(Change::Create, &object, &Settings::default());
    let ops = serde_json::to_value(&eval.patch).unwrap();
    assert!(
        ops.as_array()
            .unwrap()
            .contains(&json!({"op": "remove", "path": "/status/validationStatus/a~1b~0c"})),
        "{ops}"
    );
    check(&object, None, &Settings::default()).unwrap();
}

#[test]
fn a_spec_without_parent_objects_is_added_whole() {
    let object = json!({"metadata": {"name": "f", "namespace": "shop"}});
    let eval = run(Change::Create, &object, &settings(true));
    let ops = serde_json::to_value(&eval.patch).unwrap();
    assert_eq!(
        ops[0],
        json!({"op": "add", "path": "/spec", "value": {"namespace": "shop", "cluster": "mgmt-cluster"}})
    );
}
