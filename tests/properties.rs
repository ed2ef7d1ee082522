//! Properties of the engine and the admission layer over generated objects: arbitrary JSON,
//! FailoverService-shaped objects, and valid objects with a few fields perturbed (so that both
//! verdicts are common). Expectations are stated independently of the code under test: the
//! defaults and statuses of spec §4 and §5 as rules and hand-written tables, the verdict from
//! each finding's class, and the allow-list of protocols written out here.

use failover_webhook::admission::{self, Endpoint};
use failover_webhook::api::ObjectRef;
use failover_webhook::defaults::{self, Context};
use failover_webhook::enforcement::Enforcement;
use failover_webhook::engine::{Change, Effect, Review, Settings, evaluate};
use failover_webhook::finding::RuleClass;
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
        ..Settings::default()
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

/// The protocols Istio routes, as the spec lists them: written out here, not read from the
/// code under test.
const ISTIO_PROTOCOLS: [&str; 12] = [
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
];

fn is_protocol(s: &str) -> bool {
    ISTIO_PROTOCOLS.iter().any(|p| p.eq_ignore_ascii_case(s))
}

/// Whether a port name names a protocol by Istio's `<protocol>[-<suffix>]` convention.
fn names_a_protocol(name: &str) -> bool {
    is_protocol(name) || name.split_once('-').is_some_and(|(p, _)| is_protocol(p))
}

/// Absent, `null` or `""`: what proto3 reads as unset.
fn unset(v: Option<&Value>) -> bool {
    v.is_none_or(|v| v.is_null() || v == "")
}

/// A string that proto3 reads as set.
fn set_str(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn create(object: &Value, settings: &Settings) -> failover_webhook::engine::Evaluation {
    let this = identity(object);
    evaluate(
        &Review::new(Change::Create, object, &this),
        Some(topology()),
        settings,
    )
}

fn patched(object: &Value, eval: &failover_webhook::engine::Evaluation) -> Value {
    let mut out = object.clone();
    json_patch::patch(&mut out, &eval.patch).unwrap();
    out
}

/// Whether `value`, new at `at` (a pointer into the defaulted spec `spec`), is what the
/// defaults of spec §4 put there.
fn is_a_default(at: &str, value: &Value, object: &Value, spec: &Value, dc: bool) -> bool {
    let parts: Vec<&str> = at.split('/').skip(1).collect();
    match parts.as_slice() {
        ["namespace"] => Some(value) == object.pointer("/metadata/namespace"),
        ["cluster"] => dc && value == "mgmt-cluster",
        ["port", "protocol"] => {
            let (Some(p), Some(name)) = (value.as_str(), set_str(spec.pointer("/port/name")))
            else {
                return false;
            };
            let name = name.to_lowercase();
            ISTIO_PROTOCOLS.contains(&p) && (name == p || name.starts_with(&format!("{p}-")))
        }
        ["port", "name"] => set_str(spec.pointer("/port/protocol"))
            .map(str::to_lowercase)
            .filter(|p| is_protocol(p))
            .is_some_and(|p| value.as_str() == Some(p.replace('_', "-").as_str())),
        ["failoverServices", _, field @ ("namespace" | "cluster")] => {
            spec.get(*field) == Some(value)
        }
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Audit mode changes what happens to a finding, never which findings would deny: the
    /// findings that deny when enforced are exactly the `would deny` ones when audited.
    #[test]
    fn audit_mode_never_denies_and_would_deny_exactly_what_enforcement_denies(
        object in failover_service(),
        strict in any::<bool>(),
    ) {
        let this = identity(&object);
        let review = Review::new(Change::Create, &object, &this);
        let enforced = Settings { strict_references: strict, ..Settings::default() };
        let audited = Settings { enforcement: Enforcement::warn(), ..enforced.clone() };
        let deny = evaluate(&review, Some(topology()), &enforced);
        let warn = evaluate(&review, Some(topology()), &audited);
        prop_assert!(warn.allowed());
        prop_assert_eq!(warn.denials().count(), 0);
        let denied: Vec<_> = deny.denials().collect();
        let would: Vec<_> = warn.with_effect(Effect::WouldDeny).collect();
        prop_assert_eq!(denied, would);
        prop_assert_eq!(deny.with_effect(Effect::Warn).collect::<Vec<_>>(), warn.with_effect(Effect::Warn).collect::<Vec<_>>());
        prop_assert_eq!(deny.patch, warn.patch, "/mutate behaves as usual");
    }

    #[test]
    fn any_json_value_is_evaluated_without_panic(object in json_value(), old in json_value()) {
        let this = identity(&object);
        for change in [Change::Create, Change::Update { old: &old }] {
            let eval = evaluate(&Review::new(change, &object, &this), Some(topology()), &Settings::default());
            let mut patched = object.clone();
            prop_assert!(json_patch::patch(&mut patched, &eval.patch).is_ok());
        }
    }

    /// The patch keeps every value that was set, adds only what a default puts at its place,
    /// adds every namespace and cluster default that applies, and writes the status from the
    /// findings: checked against the rules of spec §4 and §5, not against the code that
    /// computes the defaults.
    #[test]
    fn the_patch_keeps_what_was_set_and_fills_only_defaults(object in failover_service(), dc in any::<bool>()) {
        let settings = settings(dc);
        let eval = create(&object, &settings);
        let mut out = object.clone();
        json_patch::patch(&mut out, &eval.patch).map_err(|e| TestCaseError::fail(format!("{e}: {:?}", eval.patch)))?;

        for (key, value) in object.as_object().unwrap() {
            if key != "spec" && key != "status" {
                prop_assert_eq!(out.get(key), Some(value), "{} untouched", key);
            }
        }
        let before = object.get("spec").cloned().unwrap_or(Value::Null);
        let after = out.get("spec").cloned().unwrap_or(Value::Null);
        let mut kept = Vec::new();
        set_leaves(&before, String::new(), &mut kept);
        for (at, value) in &kept {
            prop_assert_eq!(after.pointer(at), Some(value), "set at {}", at);
        }
        let mut now = Vec::new();
        set_leaves(&after, String::new(), &mut now);
        for (at, value) in now.iter().filter(|leaf| !kept.contains(leaf)) {
            prop_assert!(is_a_default(at, value, &object, &after, dc), "{} = {} is no default", at, value);
        }

        // The namespace and cluster defaults that apply are all there.
        if before.is_object() || before.is_null() {
            let meta_ns = set_str(object.pointer("/metadata/namespace"));
            if unset(before.get("namespace")) && let Some(ns) = meta_ns {
                prop_assert_eq!(after.get("namespace"), Some(&json!(ns)));
            }
            if dc && unset(before.get("cluster")) {
                prop_assert_eq!(after.get("cluster"), Some(&json!("mgmt-cluster")));
            }
            for (i, service) in after.get("failoverServices").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let original = before.pointer(&format!("/failoverServices/{i}"));
                for field in ["namespace", "cluster"] {
                    let was_unset = unset(original.and_then(|o| o.get(field)));
                    if service.is_object() && was_unset && let Some(v) = set_str(after.get(field)) {
                        prop_assert_eq!(service.get(field), Some(&json!(v)), "[{}].{}", i, field);
                    }
                }
            }
        }

        // The status: generation 1, the state by spec §5, one `field: message` line per finding,
        // other status fields untouched.
        if let None | Some(Value::Null) | Some(Value::Object(_)) = object.get("status") {
            let status = &out["status"];
            prop_assert_eq!(&status["observedGeneration"], &json!(1));
            let codes: Vec<&str> = eval.findings.iter().map(|j| j.finding.code.as_str()).collect();
            let state = if codes.is_empty() {
                "ACCEPTED"
            } else if codes.iter().all(|c| *c == "HostnameConflict") {
                "CONFLICT"
            } else {
                "INVALID"
            };
            prop_assert_eq!(&status["validationStatus"]["state"], &json!(state));
            let lines: Vec<String> = eval.findings.iter().map(|j| format!("{}: {}", j.finding.field, j.finding.message)).collect();
            prop_assert_eq!(&status["validationStatus"]["message"], &json!(lines.join("\n")));
            for (key, value) in object.get("status").and_then(Value::as_object).into_iter().flatten() {
                if key != "observedGeneration" && key != "validationStatus" {
                    prop_assert_eq!(status.get(key), Some(value), "status.{} untouched", key);
                }
            }
        }
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

    /// Old and new differ in their metadata (labels, annotations, finalizers, generation,
    /// resourceVersion) and, when `filled`, in the defaults `/mutate` filled on the way: the
    /// update is ratcheted and nothing denies, even with `--strict-references`; the findings
    /// are still reported, as warnings.
    #[test]
    fn an_update_that_keeps_the_spec_never_denies_whatever_the_metadata(
        // Boxed: unboxed, the nested strategy types overflow a test thread's stack in debug
        // builds while generating.
        object in prop_oneof![perturbed().boxed(), failover_service().boxed()],
        edit in metadata_edit(),
        filled in any::<bool>(),
        dc in any::<bool>(),
    ) {
        let settings = Settings { default_cluster: dc.then(|| "mgmt-cluster".to_owned()), strict_references: true, ..Settings::default() };
        let old = object;
        let mut new = if filled { patched(&old, &create(&old, &settings)) } else { old.clone() };
        if let Some(status) = old.get("status") {
            new["status"] = status.clone();
        }
        edit.apply(&mut new);
        prop_assert_ne!(&new["metadata"], &old["metadata"]);
        let this = identity(&new);
        let eval = evaluate(&Review::new(Change::Update { old: &old }, &new, &this), Some(topology()), &settings);
        prop_assert!(eval.ratcheted);
        prop_assert!(eval.allowed());
        prop_assert!(eval.findings.iter().all(|j| !j.deny()));
        let fresh = create(&new, &settings);
        let codes = |e: &failover_webhook::engine::Evaluation| e.findings.iter().map(|j| (j.finding.code, j.finding.field.clone())).collect::<Vec<_>>();
        prop_assert_eq!(codes(&eval), codes(&fresh), "the same findings, as warnings");
    }

    /// An update that changes the spec is judged like a create of the new object.
    #[test]
    fn an_update_that_changes_the_spec_is_judged(object in perturbed(), edit in metadata_edit(), strict in any::<bool>()) {
        let settings = Settings { default_cluster: None, strict_references: strict, ..Settings::default() };
        let mut new = object.clone();
        let hostname = if object.pointer("/spec/hostname") == Some(&json!("moved.shop.failover")) { "moved-again.shop.failover" } else { "moved.shop.failover" };
        new["spec"]["hostname"] = json!(hostname);
        edit.apply(&mut new);
        let this = identity(&new);
        let eval = evaluate(&Review::new(Change::Update { old: &object }, &new, &this), Some(topology()), &settings);
        prop_assert!(!eval.ratcheted);
        let fresh = create(&new, &settings);
        let judged = |e: &failover_webhook::engine::Evaluation| e.findings.iter().map(|j| (j.finding.code, j.deny())).collect::<Vec<_>>();
        prop_assert_eq!(judged(&eval), judged(&fresh));
    }
}

/// Changes to `metadata` that leave the spec alone, as `kubectl label`, `annotate` or a
/// controller removing a finalizer would make them.
#[derive(Clone, Debug)]
struct MetadataEdit {
    labels: Option<Value>,
    annotations: Option<Value>,
    finalizers: Option<Value>,
    generation: i64,
    resource_version: String,
}

impl MetadataEdit {
    fn apply(&self, object: &mut Value) {
        let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
            return;
        };
        for (key, value) in [
            ("labels", &self.labels),
            ("annotations", &self.annotations),
            ("finalizers", &self.finalizers),
        ] {
            match value {
                Some(v) => meta.insert(key.to_owned(), v.clone()),
                None => meta.remove(key),
            };
        }
        meta.insert("generation".to_owned(), json!(self.generation));
        meta.insert("resourceVersion".to_owned(), json!(self.resource_version));
    }
}

fn metadata_edit() -> impl Strategy<Value = MetadataEdit> {
    let map = || {
        opt(
            prop::collection::btree_map("[a-z./]{1,12}", "[a-z0-9]{0,8}", 0..3)
                .prop_map(|m| json!(m)),
        )
    };
    (
        map(),
        map(),
        opt(prop::collection::vec("[a-z./-]{1,20}", 0..2).prop_map(|v| json!(v))),
        1i64..1_000,
        "[0-9]{1,8}",
    )
        .prop_map(
            |(labels, annotations, finalizers, generation, resource_version)| MetadataEdit {
                labels,
                annotations,
                finalizers,
                generation,
                resource_version,
            },
        )
}

/// One change to a valid object: a field set to a value from a pool of valid, invalid,
/// unset and mistyped values, a field removed, a service repeated, or an unknown key.
#[derive(Clone, Debug)]
enum Edit {
    Set(&'static str, Value),
    Remove(&'static str),
    RepeatFirstService,
    UnknownKey,
}

/// The valid objects the perturbations start from: two services in two meshes of one
/// VirtualMesh; one that needs every default; two services in one mesh.
fn valid_bases() -> Vec<Value> {
    let checkout = valid_object();
    let mut defaults_needed = valid_object();
    defaults_needed["metadata"]["namespace"] = json!("shop");
    defaults_needed["spec"] = json!({
        "hostname": "defaults.shop.failover",
        "port": {"port": 9080, "name": "http-web"},
        "cluster": "mgmt-cluster",
        "failoverServices": [{"name": "checkout"}, {"name": "checkout", "cluster": "remote-cluster"}]
    });
    let mut single = valid_object();
    single["spec"]["hostname"] = json!("standby.shop.failover");
    single["spec"]["cluster"] = json!("dev-cluster");
    single["spec"]["failoverServices"] = json!([
        {"name": "checkout", "namespace": "shop", "cluster": "dev-cluster"},
        {"name": "checkout", "namespace": "shop-standby", "cluster": "dev-cluster"}
    ]);
    vec![checkout, defaults_needed, single]
}

fn edit() -> impl Strategy<Value = Edit> {
    let pools: Vec<(&'static str, Vec<Value>)> = vec![
        (
            "/spec/hostname",
            vec![
                json!(""),
                json!(null),
                json!("Bad_Host"),
                json!("*.x"),
                json!("reviews.bookinfo.failover"),
                json!("other.shop.failover"),
                json!(5),
            ],
        ),
        (
            "/spec/namespace",
            vec![
                json!(""),
                json!(null),
                json!("Shop"),
                json!("bookinfo"),
                json!(7),
            ],
        ),
        (
            "/spec/cluster",
            vec![
                json!(""),
                json!(null),
                json!("moon-cluster"),
                json!("remote-cluster"),
                json!(true),
            ],
        ),
        (
            "/spec/port/port",
            vec![
                json!(0),
                json!(70000),
                json!(80.5),
                json!("80"),
                json!(null),
                json!(8080),
            ],
        ),
        (
            "/spec/port/name",
            vec![
                json!(""),
                json!(null),
                json!("http1"),
                json!("HTTP"),
                json!("tcp-db"),
                json!("grpc-web"),
                json!("web"),
                json!(8080),
                json!("http-api"),
            ],
        ),
        (
            "/spec/port/protocol",
            vec![
                json!(""),
                json!(null),
                json!("websocket"),
                json!("HTTP"),
                json!("tcp"),
                json!("http_proxy"),
                json!(1),
            ],
        ),
        (
            "/spec/failoverServices/0/name",
            vec![
                json!(""),
                json!(null),
                json!("Checkout"),
                json!("reviews"),
                json!("ratings"),
                json!("productpage"),
                json!("missing"),
            ],
        ),
        (
            "/spec/failoverServices/1/namespace",
            vec![
                json!(""),
                json!(null),
                json!("bookinfo"),
                json!("Shop"),
                json!("shop"),
            ],
        ),
        (
            "/spec/failoverServices/1/cluster",
            vec![
                json!(""),
                json!(null),
                json!("edge-cluster"),
                json!("dev-cluster"),
                json!("remote-cluster"),
                json!("moon-cluster"),
            ],
        ),
    ];
    let paths: Vec<&'static str> = pools.iter().map(|(p, _)| *p).collect();
    prop_oneof![
        6 => prop::sample::select(pools).prop_flat_map(|(path, pool)| prop::sample::select(pool).prop_map(move |v| Edit::Set(path, v))),
        2 => prop::sample::select(paths).prop_map(Edit::Remove),
        1 => Just(Edit::RepeatFirstService),
        1 => Just(Edit::UnknownKey),
    ]
}

impl Edit {
    fn apply(&self, object: &mut Value) {
        match self {
            Edit::Set(at, value) => {
                let (parent, key) = at.rsplit_once('/').unwrap();
                match object.pointer_mut(parent) {
                    Some(Value::Object(m)) => {
                        m.insert(key.to_owned(), value.clone());
                    }
                    Some(Value::Array(a)) => {
                        if let Some(slot) = key.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                            *slot = value.clone();
                        }
                    }
                    _ => {}
                }
            }
            Edit::Remove(at) => {
                let (parent, key) = at.rsplit_once('/').unwrap();
                if let Some(Value::Object(m)) = object.pointer_mut(parent) {
                    m.remove(key);
                }
            }
            Edit::RepeatFirstService => {
                if let Some(Value::Array(a)) = object.pointer_mut("/spec/failoverServices")
                    && let Some(first) = a.first().cloned()
                {
                    a.push(first);
                }
            }
            Edit::UnknownKey => {
                if let Some(Value::Object(m)) = object.pointer_mut("/spec") {
                    m.insert("hostName".to_owned(), json!("x.failover"));
                }
            }
        }
    }
}

/// A valid object with up to three fields perturbed: both verdicts are common (see
/// `the_perturbing_generator_yields_both_verdicts`).
fn perturbed() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(valid_bases()),
        prop::collection::vec(edit(), 0..=3),
    )
        .prop_map(|(mut object, edits)| {
            for e in &edits {
                e.apply(&mut object);
            }
            object
        })
}

/// An AdmissionReview of `object` for `endpoint`, as the API server sends it.
fn review(object: &Value, old: Option<&Value>) -> Vec<u8> {
    let meta = |k: &str| {
        object
            .pointer(&format!("/metadata/{k}"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "e0b7c1a4-5d2f-4c3e-9a8b-7f6e5d4c3b2a",
            "kind": {"group": "networking.smh.solo.io", "version": "v1alpha1", "kind": "FailoverService"},
            "resource": {"group": "networking.smh.solo.io", "version": "v1alpha1", "resource": "failoverservices"},
            "name": meta("name"),
            "namespace": meta("namespace"),
            "operation": if old.is_some() { "UPDATE" } else { "CREATE" },
            "userInfo": {"username": "kubernetes-admin"},
            "object": object,
            "oldObject": old,
            "dryRun": false
        }
    }))
    .unwrap()
}

fn answer(object: &Value, old: Option<&Value>, endpoint: Endpoint, settings: &Settings) -> Value {
    let body = admission::review(
        &review(object, old),
        endpoint,
        admission::Context {
            topology: topology(),
            settings,
        },
    )
    .unwrap()
    .body;
    serde_json::from_slice(&body).unwrap()
}

fn strict_and_default_cluster() -> impl Strategy<Value = Settings> {
    (any::<bool>(), any::<bool>()).prop_map(|(strict, dc)| Settings {
        default_cluster: dc.then(|| "mgmt-cluster".to_owned()),
        strict_references: strict,
        ..Settings::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// `/validate` allows exactly when no finding denies, judging each finding by its class
    /// (spec and conflict deny; reference denies only with `--strict-references`), with one
    /// cause per denying finding and a warning for each of the others.
    #[test]
    fn validate_allows_exactly_when_no_finding_denies(object in perturbed(), settings in strict_and_default_cluster()) {
        let findings = create(&object, &settings).findings;
        let denies = |class: RuleClass| match class {
            RuleClass::Spec | RuleClass::Conflict => true,
            RuleClass::Reference => settings.strict_references,
        };
        let denying: Vec<String> = findings.iter().filter(|j| denies(j.finding.code.class())).map(|j| j.finding.field.to_string()).collect();
        let response = &answer(&object, None, Endpoint::Validate, &settings)["response"];
        prop_assert_eq!(&response["allowed"], &json!(denying.is_empty()));
        let causes: Vec<String> = response["status"]["details"]["causes"].as_array().into_iter().flatten()
            .map(|c| c["field"].as_str().unwrap_or_default().to_owned()).collect();
        prop_assert_eq!(causes, denying.clone());
        let warned = findings.len() - denying.len();
        let warnings = response.get("warnings").and_then(Value::as_array).map_or(0, Vec::len);
        prop_assert_eq!(warnings, warned.min(20));
    }

    /// `/mutate` never denies, on CREATE or UPDATE, and its patch applies to the object.
    #[test]
    fn mutate_never_denies(object in perturbed(), old in perturbed(), update in any::<bool>(), settings in strict_and_default_cluster()) {
        let old = update.then_some(&old);
        let response = &answer(&object, old, Endpoint::Mutate, &settings)["response"];
        prop_assert_eq!(&response["allowed"], &json!(true));
        prop_assert!(response.get("status").is_none());
    }

    /// The initial status is ACCEPTED exactly when there is no finding — and then `/validate`
    /// allows without a warning.
    #[test]
    fn accepted_exactly_when_there_is_no_finding(object in perturbed(), settings in strict_and_default_cluster()) {
        let eval = create(&object, &settings);
        let state = patched(&object, &eval)["status"]["validationStatus"]["state"].clone();
        prop_assert_eq!(state == "ACCEPTED", eval.findings.is_empty(), "{}", state);
        if eval.findings.is_empty() {
            let response = &answer(&object, None, Endpoint::Validate, &settings)["response"];
            prop_assert_eq!(&response["allowed"], &json!(true));
            prop_assert!(response.get("warnings").is_none());
        }
    }

    /// What `/mutate` returns, validated again (the API server's flow), is never missing a
    /// value a default would have filled: each "Required value" is for a field with nothing
    /// to default it from.
    #[test]
    fn the_mutated_object_is_never_missing_a_value_a_default_fills(
        object in prop_oneof![perturbed().boxed(), failover_service().boxed()],
        settings in strict_and_default_cluster(),
    ) {
        let mutated = patched(&object, &create(&object, &settings));
        let spec = mutated.get("spec").cloned().unwrap_or(Value::Null);
        for j in create(&mutated, &settings).findings {
            let f = &j.finding;
            if !f.message.starts_with("Required value") {
                continue;
            }
            let field = f.field.to_string();
            let nothing_to_default_from = match f.code.as_str() {
                "NamespaceRequired" => set_str(mutated.pointer("/metadata/namespace")).is_none(),
                "ClusterRequired" => settings.default_cluster.is_none(),
                "PortNameInvalid" => !set_str(spec.pointer("/port/protocol")).is_some_and(is_protocol),
                "PortProtocolInvalid" => !set_str(spec.pointer("/port/name")).is_some_and(names_a_protocol),
                // Defaults fill the fields of a ref that is an object; a `null` entry gets
                // none and is reported field by field.
                "ServiceRefInvalid" if field.ends_with(".namespace") || field.ends_with(".cluster") => {
                    let (at, key) = field.rsplit_once('.').unwrap();
                    let index: usize = at.trim_end_matches(']').rsplit_once('[').unwrap().1.parse().unwrap();
                    !spec["failoverServices"][index].is_object() || set_str(spec.get(key)).is_none()
                }
                _ => true,
            };
            prop_assert!(nothing_to_default_from, "{}: {} in {}", f.code, f, mutated);
        }
    }

    /// `--strict-references` changes one thing: reference findings deny (unless the update is
    /// ratcheted). The findings, and the verdict of every other finding, stay the same.
    #[test]
    fn strict_mode_only_turns_reference_warnings_into_denials(
        object in perturbed(),
        old in perturbed(),
        change in 0..3u8,
        dc in any::<bool>(),
    ) {
        let lenient = Settings { default_cluster: dc.then(|| "mgmt-cluster".to_owned()), strict_references: false, ..Settings::default() };
        let strict = Settings { strict_references: true, ..lenient.clone() };
        let mut relabelled = object.clone();
        relabelled["metadata"]["labels"] = json!({"edited": "yes"});
        let (new, change) = match change {
            0 => (&object, Change::Create),
            1 => (&relabelled, Change::Update { old: &object }),
            _ => (&object, Change::Update { old: &old }),
        };
        let this = identity(new);
        let run = |s: &Settings| evaluate(&Review::new(change, new, &this), Some(topology()), s);
        let (a, b) = (run(&lenient), run(&strict));
        prop_assert_eq!(a.ratcheted, b.ratcheted);
        prop_assert_eq!(a.findings.len(), b.findings.len());
        for (l, s) in a.findings.iter().zip(&b.findings) {
            prop_assert_eq!(&l.finding, &s.finding);
            if l.finding.code.class() == RuleClass::Reference {
                prop_assert!(!l.deny());
                prop_assert_eq!(s.deny(), !a.ratcheted);
            } else {
                prop_assert_eq!(l.deny(), s.deny());
            }
        }
    }
}

/// The perturbing generator is worth its name: over a fixed sample, both verdicts are common
/// (the arbitrary-JSON generator above practically never yields an allowed object).
#[test]
fn the_perturbing_generator_yields_both_verdicts() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

    let mut runner = TestRunner::new_with_rng(
        ProptestConfig::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let (mut allowed, total) = (0, 2000);
    for _ in 0..total {
        let object = perturbed().new_tree(&mut runner).unwrap().current();
        allowed += usize::from(create(&object, &Settings::default()).allowed());
    }
    let share = allowed as f64 / total as f64;
    assert!(
        (0.25..=0.75).contains(&share),
        "{allowed} of {total} allowed"
    );
}

/// Each default of spec §4, by hand: what a CREATE's patch makes of the spec.
#[test]
fn each_default_fills_only_what_is_unset() {
    // (spec as sent, metadata.namespace, --default-cluster, spec after the patch)
    let cases: &[(Value, Option<&str>, Option<&str>, Value)] = &[
        (
            json!({}),
            Some("team-a"),
            None,
            json!({"namespace": "team-a"}),
        ),
        (
            json!({"namespace": ""}),
            Some("team-a"),
            None,
            json!({"namespace": "team-a"}),
        ),
        (
            json!({"namespace": null}),
            Some("team-a"),
            None,
            json!({"namespace": "team-a"}),
        ),
        (
            json!({"namespace": "shop"}),
            Some("team-a"),
            None,
            json!({"namespace": "shop"}),
        ),
        (
            json!({"namespace": 5}),
            Some("team-a"),
            None,
            json!({"namespace": 5}),
        ),
        (json!({}), None, Some("mgmt"), json!({"cluster": "mgmt"})),
        (
            json!({"cluster": "edge"}),
            None,
            Some("mgmt"),
            json!({"cluster": "edge"}),
        ),
        (json!({"cluster": ""}), None, None, json!({"cluster": ""})),
        (
            json!({"port": {"name": "http-api"}}),
            None,
            None,
            json!({"port": {"name": "http-api", "protocol": "http"}}),
        ),
        (
            json!({"port": {"name": "grpc-web"}}),
            None,
            None,
            json!({"port": {"name": "grpc-web", "protocol": "grpc-web"}}),
        ),
        (
            json!({"port": {"name": "Tcp-db"}}),
            None,
            None,
            json!({"port": {"name": "Tcp-db", "protocol": "tcp"}}),
        ),
        (
            json!({"port": {"name": "http1"}}),
            None,
            None,
            json!({"port": {"name": "http1"}}),
        ),
        (
            json!({"port": {"name": "web", "protocol": ""}}),
            None,
            None,
            json!({"port": {"name": "web", "protocol": ""}}),
        ),
        (
            json!({"port": {"protocol": "HTTP"}}),
            None,
            None,
            json!({"port": {"protocol": "HTTP", "name": "http"}}),
        ),
        (
            json!({"port": {"protocol": "http_proxy", "name": null}}),
            None,
            None,
            json!({"port": {"protocol": "http_proxy", "name": "http-proxy"}}),
        ),
        (
            json!({"port": {"protocol": "websocket"}}),
            None,
            None,
            json!({"port": {"protocol": "websocket"}}),
        ),
        (
            json!({"port": {"name": "tcp", "protocol": "http"}}),
            None,
            None,
            json!({"port": {"name": "tcp", "protocol": "http"}}),
        ),
        (
            json!({"namespace": "shop", "failoverServices": [{"name": "a"}, {"name": "b", "namespace": "x", "cluster": ""}, 7]}),
            None,
            Some("mgmt"),
            json!({"namespace": "shop", "cluster": "mgmt", "failoverServices": [
                {"name": "a", "namespace": "shop", "cluster": "mgmt"},
                {"name": "b", "namespace": "x", "cluster": "mgmt"},
                7
            ]}),
        ),
        (
            json!({"cluster": 3, "failoverServices": [{"name": "a"}]}),
            Some("team-a"),
            Some("mgmt"),
            json!({"namespace": "team-a", "cluster": 3, "failoverServices": [{"name": "a", "namespace": "team-a"}]}),
        ),
    ];
    for (spec, namespace, cluster, expected) in cases {
        let mut object = json!({"apiVersion": "networking.smh.solo.io/v1alpha1", "kind": "FailoverService",
                                "metadata": {"name": "f"}, "spec": spec});
        if let Some(ns) = namespace {
            object["metadata"]["namespace"] = json!(ns);
        }
        let settings = Settings {
            default_cluster: cluster.map(str::to_owned),
            ..Settings::default()
        };
        let out = patched(&object, &create(&object, &settings));
        assert_eq!(
            &out["spec"], expected,
            "{spec} in {namespace:?} with {cluster:?}"
        );
        assert_eq!(out["metadata"], object["metadata"]);
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
                &Review::new(Change::Create, &object, &identity(&object)),
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
