//! Properties of the engine over generated objects: it never panics, its patch always applies to
//! the object as received and yields exactly the defaulted object, and the defaults are idempotent
//! and never rewrite a value that was set.

use failover_webhook::api::ObjectRef;
use failover_webhook::defaults::{self, Context};
use failover_webhook::engine::{Change, Review, Settings, evaluate};
use failover_webhook::topology::{Topology, embedded};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Strings that matter to the rules and defaults, plus arbitrary ones (with the characters a
/// JSON pointer must escape).
fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        prop::sample::select(vec![
            "http",
            "HTTP",
            "http-api",
            "grpc-web",
            "http_proxy",
            "tcp-db",
            "http1",
            "shop",
            "Shop",
            "checkout",
            "mgmt-cluster",
            "remote-cluster",
            "edge-cluster",
            "dev-cluster",
            "checkout.shop.failover",
            "reviews.bookinfo.failover",
            "*.x",
            "a/b~c",
            "~1",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,12}",
        "\\PC{0,6}",
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u64..70_000).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
    ]
}

const KEYS: &[&str] = &[
    "hostname",
    "namespace",
    "port",
    "name",
    "protocol",
    "cluster",
    "failoverServices",
    "spec",
    "status",
    "metadata",
    "observedGeneration",
    "validationStatus",
    "state",
    "message",
    "generation",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => string()]
}

/// Any JSON value, biased towards the keys and strings this API uses.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn opt<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
    prop::option::weighted(0.8, s)
}

fn string_or_any() -> impl Strategy<Value = Value> {
    prop_oneof![4 => string().prop_map(Value::String), 1 => json_value()]
}

/// An object of the given fields, leaving out the ones that are `None`.
fn object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect(),
    )
}

/// A FailoverService-shaped object: mostly the right shape, sometimes not.
fn failover_service() -> impl Strategy<Value = Value> {
    let service = (
        opt(string_or_any()),
        opt(string_or_any()),
        opt(string_or_any()),
    )
        .prop_map(|(n, ns, c)| object([("name", n), ("namespace", ns), ("cluster", c)]));
    let port = (
        opt(prop_oneof![number(), json_value()]),
        opt(string_or_any()),
        opt(string_or_any()),
    )
        .prop_map(|(p, n, pr)| object([("port", p), ("name", n), ("protocol", pr)]));
    let services = prop_oneof![
        4 => prop::collection::vec(prop_oneof![6 => service, 1 => json_value()], 0..4).prop_map(Value::Array),
        1 => json_value(),
    ];
    let spec = (
        opt(string_or_any()),
        opt(string_or_any()),
        opt(prop_oneof![4 => port, 1 => json_value()]),
        opt(string_or_any()),
        opt(services),
        prop::collection::btree_map(key(), json_value(), 0..2),
    )
        .prop_map(|(h, ns, port, c, svcs, extra)| {
            let mut spec = object([
                ("hostname", h),
                ("namespace", ns),
                ("port", port),
                ("cluster", c),
                ("failoverServices", svcs),
            ]);
            if let Some(m) = spec.as_object_mut() {
                for (k, v) in extra {
                    m.entry(k).or_insert(v);
                }
            }
            spec
        });
    (
        opt(string()),
        opt(string()),
        opt(prop_oneof![8 => spec, 1 => json_value()]),
        opt(json_value()),
    )
        .prop_map(|(name, namespace, spec, status)| {
            object([
                ("apiVersion", Some(json!("networking.smh.solo.io/v1alpha1"))),
                ("kind", Some(json!("FailoverService"))),
                (
                    "metadata",
                    Some(object([
                        ("name", name.map(Value::String)),
                        ("namespace", namespace.map(Value::String)),
                    ])),
                ),
                ("spec", spec),
                ("status", status),
            ])
        })
}

fn identity(object: &Value) -> ObjectRef {
    Review::identity_of(object)
}

fn settings(default_cluster: bool) -> Settings {
    Settings {
        default_cluster: default_cluster.then(|| "mgmt-cluster".to_owned()),
        strict_references: false,
    }
}

fn ctx<'a>(object: &'a Value, settings: &'a Settings) -> Context<'a> {
    Context {
        object_namespace: object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty()),
        default_cluster: settings.default_cluster.as_deref(),
    }
}

fn defaulted_spec(object: &Value, settings: &Settings) -> Option<Value> {
    let mut spec = object.get("spec").cloned().unwrap_or(Value::Null);
    defaults::apply(&mut spec, ctx(object, settings));
    (!spec.is_null() || object.get("spec").is_some()).then_some(spec)
}

/// Every leaf of `value` that proto3 reads as set, with its JSON pointer.
fn set_leaves(value: &Value, at: String, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(m) => m.iter().for_each(|(k, v)| {
            set_leaves(
                v,
                format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                out,
            )
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| set_leaves(v, format!("{at}/{i}"), out)),
        Value::Null => {}
        Value::String(s) if s.is_empty() => {}
        leaf => out.push((at, leaf.clone())),
    }
}

fn topology() -> &'static Topology {
    static T: std::sync::OnceLock<Topology> = std::sync::OnceLock::new();
    T.get_or_init(embedded)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_json_value_is_evaluated_without_panic(object in json_value(), old in json_value()) {
        let this = identity(&object);
        for change in [Change::Create, Change::Update { old: &old }] {
            let eval = evaluate(&Review { change, object: &object, this: &this }, Some(topology()), &Settings::default());
            let mut patched = object.clone();
            prop_assert!(json_patch::patch(&mut patched, &eval.patch).is_ok());
        }
    }

    #[test]
    fn the_patch_applies_and_yields_exactly_the_defaulted_object(object in failover_service(), dc in any::<bool>()) {
        let settings = settings(dc);
        let this = identity(&object);
        let eval = evaluate(&Review { change: Change::Create, object: &object, this: &this }, Some(topology()), &settings);
        let mut patched = object.clone();
        json_patch::patch(&mut patched, &eval.patch).map_err(|e| TestCaseError::fail(format!("{e}: {:?}", eval.patch)))?;

        let mut expected = object.clone();
        let map = expected.as_object_mut().unwrap();
        if let Some(spec) = defaulted_spec(&object, &settings) {
            map.insert("spec".into(), spec);
        }
        // The status as written: findings listed one per line, generation 1 on CREATE.
        let status_ok = match object.get("status") {
            None | Some(Value::Null) | Some(Value::Object(_)) => true,
            Some(_) => false,
        };
        if status_ok {
            prop_assert_eq!(&patched["status"]["observedGeneration"], &json!(1));
            prop_assert_eq!(&patched["status"]["validationStatus"]["state"], &json!(eval.state.as_str()));
            map.insert("status".into(), patched["status"].clone());
        }
        prop_assert_eq!(patched, expected);
    }

    #[test]
    fn defaults_are_idempotent(object in failover_service(), dc in any::<bool>()) {
        let settings = settings(dc);
        let once = defaulted_spec(&object, &settings).unwrap_or(Value::Null);
        let mut twice = once.clone();
        defaults::apply(&mut twice, ctx(&object, &settings));
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn defaults_never_change_a_value_that_was_set(object in failover_service(), dc in any::<bool>()) {
        let settings = settings(dc);
        let before = object.get("spec").cloned().unwrap_or(Value::Null);
        let after = defaulted_spec(&object, &settings).unwrap_or(Value::Null);
        let mut leaves = Vec::new();
        set_leaves(&before, String::new(), &mut leaves);
        for (at, value) in leaves {
            prop_assert_eq!(after.pointer(&at), Some(&value), "at {}", at);
        }
    }

    #[test]
    fn a_spec_preserving_update_never_denies(object in failover_service(), label in string()) {
        let mut new = object.clone();
        if let Some(meta) = new.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("labels".into(), json!({"edited": label}));
        }
        let this = identity(&new);
        let eval = evaluate(&Review { change: Change::Update { old: &object }, object: &new, this: &this }, Some(topology()), &Settings::default());
        prop_assert!(eval.allowed());
        prop_assert!(eval.ratcheted);
    }
}

/// The port's verdict for every pairing of a name and a protocol (each unset in all three ways,
/// derivable, or not), against expectations written out by hand rather than computed by the
/// defaults: which protocol a name names, which name a protocol gives, which are well-formed.
#[test]
fn a_port_needs_a_name_and_a_protocol_once_defaulted_for_every_pairing() {
    // (name, the protocol it names, a valid IANA service name?)
    let names: &[(Option<Value>, Option<&str>, bool)] = &[
        (None, None, false),
        (Some(Value::Null), None, false),
        (Some(json!("")), None, false),
        (Some(json!("http")), Some("http"), true),
        (Some(json!("http-api")), Some("http"), true),
        (Some(json!("grpc-web")), Some("grpc-web"), true),
        (Some(json!("tcp-db")), Some("tcp"), true),
        (Some(json!("http1")), None, true),
        (Some(json!("web")), None, true),
        (Some(json!("HTTP")), Some("http"), false),
    ];
    // (protocol, the name it gives, supported?)
    let protocols: &[(Option<Value>, Option<&str>, bool)] = &[
        (None, None, false),
        (Some(Value::Null), None, false),
        (Some(json!("")), None, false),
        (Some(json!("http")), Some("http"), true),
        (Some(json!("HTTP")), Some("http"), true),
        (Some(json!("http_proxy")), Some("http-proxy"), true),
        (Some(json!("grpc-web")), Some("grpc-web"), true),
        (Some(json!("tcp")), Some("tcp"), true),
        (Some(json!("websocket")), None, false),
        (Some(json!("http1")), None, false),
    ];
    let is_set = |v: &Option<Value>| {
        v.as_ref()
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    for (name, names_protocol, name_ok) in names {
        for (protocol, gives_name, protocol_ok) in protocols {
            let mut port = json!({"port": 9080});
            if let Some(n) = name {
                port["name"] = n.clone();
            }
            if let Some(p) = protocol {
                port["protocol"] = p.clone();
            }
            // The protocol as written, else the one the name names; the name as written, else
            // the one a supported protocol gives.
            let protocol_after = if is_set(protocol) {
                Some(*protocol_ok)
            } else {
                names_protocol.map(|_| true)
            };
            let name_after = if is_set(name) {
                Some(*name_ok)
            } else if is_set(protocol) {
                gives_name.map(|_| true)
            } else {
                None
            };
            let expected: Vec<(&str, &str)> = [
                ("PortNameInvalid", name_after),
                ("PortProtocolInvalid", protocol_after),
            ]
            .into_iter()
            .filter(|(_, ok)| *ok != Some(true))
            .map(|(code, ok)| (code, if ok.is_none() { "Required value: " } else { "" }))
            .collect();

            let mut object = valid_object();
            object["spec"]["port"] = port.clone();
            let eval = evaluate(
                &Review {
                    change: Change::Create,
                    object: &object,
                    this: &identity(&object),
                },
                Some(topology()),
                &Settings::default(),
            );
            let got: Vec<(&str, &str)> = eval
                .findings
                .iter()
                .map(|j| {
                    let required = j.finding.message.starts_with("Required value: ");
                    (
                        j.finding.code.as_str(),
                        if required { "Required value: " } else { "" },
                    )
                })
                .collect();
            assert_eq!(got, expected, "{port}");
            assert_eq!(eval.allowed(), expected.is_empty(), "{port}");
        }
    }
}

/// The valid example of the README, as JSON.
fn valid_object() -> Value {
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
