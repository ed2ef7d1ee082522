//! The server reads a review from its bytes, building only what it reads
//! (`admission::review`). These tests hold it to the answer of reading the whole body into a
//! `serde_json::Value` first (`admission::review_value`): for every body, the same refusal
//! message, or the same answer bytes and the same summary (verdict, findings and their effects,
//! patch, names). Bodies are generated as JSON text, so that what a `Value` cannot show is
//! generated too: duplicate keys, escaped keys, numbers out of range, lone surrogates, nesting
//! past the parser's limit, serde_json's raw-value token, and broken bytes anywhere.

use failover_webhook::admission::{self, Context, Endpoint, Operation, ReviewError};
use failover_webhook::engine::Settings;
use failover_webhook::finding::RuleCode;
use failover_webhook::topology::{Topology, embedded};
use proptest::prelude::*;
use serde_json::{Value, json};

fn topology() -> &'static Topology {
    static T: std::sync::OnceLock<Topology> = std::sync::OnceLock::new();
    T.get_or_init(embedded)
}

const SKIP: &str = "failover-webhook.smh.solo.io/skip-rules";

/// What both readers make of `body`: the refusal message, or the answer and its summary.
fn outcome(
    body: &[u8],
    endpoint: Endpoint,
    settings: &Settings,
    from_value: bool,
) -> Result<(String, String), String> {
    let ctx = Context {
        topology: topology(),
        settings,
    };
    let answer = if from_value {
        serde_json::from_slice::<Value>(body)
            .map_err(ReviewError::from)
            .and_then(|v| admission::review_value(&v, endpoint, ctx))
    } else {
        admission::review(body, endpoint, ctx)
    };
    answer
        .map(|a| {
            (
                String::from_utf8_lossy(&a.body).into_owned(),
                format!("{:?}", a.summary),
            )
        })
        .map_err(|e| e.to_string())
}

fn same_answer(body: &[u8], settings: &Settings) -> Result<(), TestCaseError> {
    for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
        let new = outcome(body, endpoint, settings, false);
        let old = outcome(body, endpoint, settings, true);
        prop_assert_eq!(
            &new,
            &old,
            "{:?} on {}",
            endpoint,
            String::from_utf8_lossy(body)
        );
    }
    Ok(())
}

/// A JSON document as text: objects keep every key, duplicates included, in order.
#[derive(Clone, Debug)]
enum Doc {
    Raw(String),
    Obj(Vec<(String, Doc)>),
    Arr(Vec<Doc>),
}

impl Doc {
    fn render(&self, out: &mut String) {
        match self {
            Doc::Raw(text) => out.push_str(text),
            Doc::Obj(entries) => {
                out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.render(out);
                }
                out.push('}');
            }
            Doc::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.render(out);
                }
                out.push(']');
            }
        }
    }

    fn from_value(v: &Value) -> Doc {
        match v {
            Value::Object(m) => Doc::Obj(
                m.iter()
                    .map(|(k, v)| (Value::from(k.as_str()).to_string(), Doc::from_value(v)))
                    .collect(),
            ),
            Value::Array(a) => Doc::Arr(a.iter().map(Doc::from_value).collect()),
            other => Doc::Raw(other.to_string()),
        }
    }

    fn obj(entries: Vec<(&str, Doc)>) -> Doc {
        Doc::Obj(
            entries
                .into_iter()
                .map(|(k, v)| (format!("{k:?}"), v))
                .collect(),
        )
    }

    fn text(s: &str) -> Doc {
        Doc::Raw(Value::from(s).to_string())
    }
}

/// Scalars as text, including the ones a `Value` cannot hold or that parsing refuses.
fn raw_scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "null",
            "true",
            "false",
            "0",
            "-0",
            "7",
            "9080",
            "1.5",
            "-12e3",
            "1e400",
            "-1e400",
            "18446744073709551616",
            "-9223372036854775809",
            "9223372036854775807",
            "\"\"",
            "\"x\"",
            "\"a\\u0062c\"",
            "\"\\ud800\"",
            "\"\\ud83d\\ude00\"",
            "\"tab\\there\"",
            "\"CREATE\"",
            "\"UPDATE\"",
            "\"admission.k8s.io/v1\"",
            "\"AdmissionReview\"",
            "\"HostnameConflict\"",
            "\"HostnameConflict,Bogus\"",
            "\"networking.smh.solo.io\"",
            "\"FailoverService\"",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,8}".prop_map(|s| Value::from(s).to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
    ]
}

/// Keys the readers look for (some escaped), the raw-value token, and others.
fn raw_key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "apiVersion", "kind", "request", "uid", "operation", "subResource", "name",
            "namespace", "dryRun", "object", "oldObject", "metadata", "spec", "status",
            "annotations", "labels", "managedFields", "generateName", "generation", "group",
            "hostname", "port", "cluster", "failoverServices", SKIP,
        ])
        .prop_map(|k| format!("{k:?}")),
        1 => Just("\"meta\\u0064ata\"".to_owned()),
        1 => Just("\"$serde_json::private::RawValue\"".to_owned()),
        1 => "[a-z]{1,6}".prop_map(|k| format!("{k:?}")),
    ]
}

/// Any JSON document, with duplicate keys and odd scalars.
fn junk() -> impl Strategy<Value = Doc> {
    raw_scalar()
        .prop_map(Doc::Raw)
        .prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Doc::Arr),
                prop::collection::vec((raw_key(), inner), 0..5).prop_map(Doc::Obj),
            ]
        })
}

/// A document nested `depth` lists deep.
fn deep(depth: usize) -> Doc {
    (0..depth).fold(Doc::Raw("1".into()), |d, _| Doc::Arr(vec![d]))
}

/// Either `good` or, now and then, something else in its place.
fn or_junk(good: Doc) -> impl Strategy<Value = Doc> {
    prop_oneof![12 => Just(good), 1 => junk()]
}

/// `(key, value)` entries of an object in a shuffled order, each of `fields` present or not,
/// with now and then an extra entry: an unknown key, a known one again (a duplicate), or a
/// known one written with an escape.
fn entries(
    fields: Vec<(&'static str, BoxedStrategy<Doc>)>,
    extra_keys: Vec<&'static str>,
) -> impl Strategy<Value = Doc> {
    let known: Vec<_> = fields
        .into_iter()
        .map(|(key, value)| {
            prop::option::weighted(0.75, value.prop_map(move |v| (format!("{key:?}"), v)))
        })
        .collect();
    let extra = prop::collection::vec(
        (
            prop::sample::select(extra_keys).prop_map(str::to_owned),
            prop_oneof![3 => text_leaf(), 1 => junk()],
        ),
        0..3,
    );
    (known, extra, prop_oneof![3 => Just(false), 1 => Just(true)])
        .prop_map(|(known, extra, extras_first)| {
            let known = known.into_iter().flatten();
            let entries: Vec<_> = if extras_first {
                extra.into_iter().chain(known).collect()
            } else {
                known.chain(extra).collect()
            };
            entries
        })
        .prop_shuffle()
        .prop_map(Doc::Obj)
}

/// A string field's value: a name, `""`, `null`, or a value of another type.
fn text_leaf() -> BoxedStrategy<Doc> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "shop", "mgmt-cluster", "remote-cluster", "checkout", "moon-cluster",
            "checkout.shop.failover", "reviews.bookinfo.failover", "http", "http-web",
            "grpc-api", "websocket", "HTTP", "web", "a-long-name-of-more-than-thirty-two-chars",
        ])
        .prop_map(Doc::text),
        1 => Just(Doc::text("")),
        1 => Just(Doc::Raw("null".into())),
        1 => prop::sample::select(vec!["7", "true", "[]", "{}", "[\"x\"]", "{\"a\":1}", "1.5"])
            .prop_map(|t| Doc::Raw(t.to_owned())),
    ]
    .boxed()
}

/// `spec.port.port`: in range or not, integers and not, and values of other types.
fn port_number() -> BoxedStrategy<Doc> {
    prop::sample::select(vec![
        "9080",
        "0",
        "-1",
        "65535",
        "65536",
        "70000",
        "80.5",
        "1e3",
        "9080.0",
        "-0",
        "18446744073709551615",
        "-9223372036854775808",
        "\"80\"",
        "null",
        "true",
        "[]",
    ])
    .prop_map(|t| Doc::Raw(t.to_owned()))
    .boxed()
}

/// One of `spec.failoverServices`: an object (its keys as in [`entries`]), or not.
fn service_entry() -> BoxedStrategy<Doc> {
    prop_oneof![
        8 => entries(
            vec![("name", text_leaf()), ("namespace", text_leaf()), ("cluster", text_leaf())],
            vec!["\"name\"", "\"cluster\"", "\"clustr\"", "\"Namespace\"", "\"n\\u0061me\"", "\"x.y\""],
        ),
        1 => Just(Doc::Raw("null".into())),
        1 => prop::sample::select(vec!["5", "\"checkout\"", "[]"]).prop_map(|t| Doc::Raw(t.to_owned())),
    ]
    .boxed()
}

/// A spec written as text: every field present or not, `null`, `""`, of the wrong type or
/// well typed, unknown and duplicate keys in the spec and its entries, keys with escapes, a
/// port object missing or not an object.
fn spec_text() -> BoxedStrategy<Doc> {
    let port = prop_oneof![
        6 => entries(
            vec![("port", port_number()), ("name", text_leaf()), ("protocol", text_leaf())],
            vec!["\"port\"", "\"name\"", "\"prot\"", "\"pr\\u006ftocol\""],
        ),
        1 => Just(Doc::Raw("null".into())),
        1 => Just(Doc::Raw("\"80\"".into())),
    ];
    let services = prop_oneof![
        6 => prop::collection::vec(service_entry(), 0..4).prop_map(Doc::Arr),
        1 => Just(Doc::Raw("null".into())),
        1 => Just(Doc::Raw("{}".into())),
    ];
    let spec = entries(
        vec![
            ("hostname", text_leaf()),
            ("namespace", text_leaf()),
            ("port", port.boxed()),
            ("cluster", text_leaf()),
            ("failoverServices", services.boxed()),
        ],
        vec![
            "\"hostname\"",
            "\"namespace\"",
            "\"cluster\"",
            "\"hostnme\"",
            "\"failover_services\"",
            "\"Port\"",
            "\"h\\u006fstname\"",
            "\"a b\"",
            "\"\"",
        ],
    );
    prop_oneof![
        12 => spec,
        1 => Just(Doc::Raw("null".into())),
        1 => Just(Doc::Raw("[]".into())),
    ]
    .boxed()
}

/// A FailoverService's object, valid or not, with metadata as the API server sends it
/// (managed fields, labels, the last-applied annotation) and the skip annotation now and then.
fn object() -> impl Strategy<Value = Doc> {
    let spec = prop_oneof![
        3 => Just(json!({
            "hostname": "checkout.shop.failover", "namespace": "shop",
            "port": {"port": 9080, "name": "http"}, "cluster": "mgmt-cluster",
            "failoverServices": [{"name": "checkout", "namespace": "shop"},
                                 {"name": "checkout", "namespace": "shop", "cluster": "remote-cluster"}]
        })),
        1 => Just(json!({
            "hostname": "reviews.bookinfo.failover",
            "port": {"port": 70000, "protocol": "websocket"},
            "failoverServices": [{"name": "nope", "cluster": "moon-cluster"}, 5]
        })),
        2 => Just(json!({
            "hostname": "reviews.bookinfo.failover", "namespace": "shop",
            "port": {"port": 9080, "name": "http"}, "cluster": "mgmt-cluster",
            "failoverServices": [{"name": "checkout", "namespace": "shop"},
                                 {"name": "checkout", "namespace": "shop", "cluster": "remote-cluster"}]
        })),
        1 => Just(json!({"hostnme": "x", "port": "80", "failoverServices": {}})),
    ]
    .prop_map(|v| Doc::from_value(&v));
    let spec = prop_oneof![2 => spec, 5 => spec_text()];
    let annotations = prop_oneof![
        Just(Doc::obj(vec![(
            "kubectl.kubernetes.io/last-applied-configuration",
            Doc::text("{\"spec\":{\"hostname\":\"checkout.shop.failover\"}}\n")
        )])),
        Just(Doc::obj(vec![(SKIP, Doc::text("HostnameConflict"))])),
        Just(Doc::obj(vec![(SKIP, Doc::text("HostnameConflict"))])),
        Just(Doc::obj(vec![
            (SKIP, Doc::text("HostnameConflict")),
            (SKIP, Doc::Raw("7".into()))
        ])),
        Just(Doc::obj(vec![(
            SKIP,
            Doc::text("PortNumberInvalid, Bogus")
        )])),
    ];
    let managed = Doc::from_value(&json!([{
        "manager": "kubectl-client-side-apply", "operation": "Update",
        "time": "2026-08-03T09:14:22Z", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": {".": {}, "f:hostname": {}, "f:port": {".": {}, "f:port": {}}}}
    }]));
    let metadata = (
        or_junk(Doc::text("checkout-failover")),
        or_junk(Doc::text("service-mesh-hub")),
        prop::option::of(or_junk(Doc::text("fs-"))),
        prop::option::of(or_junk(Doc::Raw("4".into()))),
        prop::option::weighted(0.8, prop_oneof![3 => annotations, 1 => junk()]),
        prop::option::of(or_junk(managed)),
        prop::option::of(junk()),
    )
        .prop_map(
            |(name, namespace, generate_name, generation, annotations, managed, extra)| {
                let mut entries = vec![("name", name), ("namespace", namespace)];
                entries.extend(generate_name.map(|d| ("generateName", d)));
                entries.extend(generation.map(|d| ("generation", d)));
                entries.extend(annotations.map(|d| ("annotations", d)));
                entries.extend(managed.map(|d| ("managedFields", d)));
                entries.extend(extra.map(|d| ("labels", d)));
                Doc::obj(entries)
            },
        );
    (
        prop_oneof![6 => metadata, 1 => junk()],
        prop::option::weighted(0.9, spec),
        prop::option::of(junk()),
        prop::collection::vec((raw_key(), junk()), 0..2),
    )
        .prop_map(|(metadata, spec, status, extra)| {
            let mut entries = vec![
                (
                    "\"apiVersion\"".to_owned(),
                    Doc::text("networking.smh.solo.io/v1alpha1"),
                ),
                ("\"kind\"".to_owned(), Doc::text("FailoverService")),
                ("\"metadata\"".to_owned(), metadata),
            ];
            entries.extend(spec.map(|s| ("\"spec\"".to_owned(), s)));
            entries.extend(status.map(|s| ("\"status\"".to_owned(), s)));
            entries.extend(extra);
            Doc::Obj(entries)
        })
}

/// An AdmissionReview around `object()`, each envelope field now and then missing, duplicated
/// or replaced, with extra keys.
fn review() -> impl Strategy<Value = Doc> {
    let kind = Doc::from_value(
        &json!({"group": "networking.smh.solo.io", "version": "v1alpha1", "kind": "FailoverService"}),
    );
    let operation = prop::sample::select(vec![
        "CREATE", "UPDATE", "UPDATE", "CREATE", "DELETE", "CONNECT", "PATCH",
    ])
    .prop_map(Doc::text);
    let field = |name: &'static str, good: BoxedStrategy<Doc>| {
        prop_oneof![
            24 => good.clone().prop_map(move |d| vec![(format!("{name:?}"), d)]),
            1 => Just(vec![]),
            1 => (good, junk()).prop_map(move |(g, j)| vec![(format!("{name:?}"), j), (format!("{name:?}"), g)]),
            1 => junk().prop_map(move |j| vec![(format!("{name:?}"), j)]),
        ]
    };
    let request = (
        field("uid", Just(Doc::text("e0b7c1a4-5d2f")).boxed()),
        field("kind", Just(kind).boxed()),
        field("operation", operation.boxed()),
        field("name", Just(Doc::text("checkout-failover")).boxed()),
        field("namespace", Just(Doc::text("service-mesh-hub")).boxed()),
        field(
            "subResource",
            prop_oneof![Just(Doc::text("")), Just(Doc::text("status"))].boxed(),
        ),
        field(
            "dryRun",
            prop_oneof![
                Just(Doc::Raw("true".into())),
                Just(Doc::Raw("false".into()))
            ]
            .boxed(),
        ),
        field("object", object().boxed()),
        field("oldObject", object().boxed()),
        prop::collection::vec((raw_key(), junk()), 0..2),
    );
    // An UPDATE that keeps the object as it was is the common case, and the one the ratchet
    // judges: the old object is then now and then the same text as the new one.
    let request =
        (request, any::<bool>()).prop_map(|((a, b, c, d, e, f, g, h, i, extra), same_old)| {
            let i = match h.last() {
                Some((_, object)) if same_old => vec![("\"oldObject\"".to_owned(), object.clone())],
                _ => i,
            };
            Doc::Obj([a, b, c, d, e, f, g, h, i, extra].concat())
        });
    (
        field(
            "apiVersion",
            prop_oneof![
                Just(Doc::text("admission.k8s.io/v1")),
                Just(Doc::text("admission.k8s.io/v1beta1"))
            ]
            .boxed(),
        ),
        field("kind", Just(Doc::text("AdmissionReview")).boxed()),
        field("request", request.boxed()),
        prop::collection::vec((raw_key(), junk()), 0..2),
    )
        .prop_map(|(a, b, c, extra)| Doc::Obj([a, b, c, extra].concat()))
}

/// A few bytes broken now and then: cut, replaced or inserted anywhere.
#[derive(Clone, Debug)]
enum Damage {
    None,
    Cut(prop::sample::Index),
    Replace(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
}

fn damage() -> impl Strategy<Value = Damage> {
    let byte = prop::sample::select(b"{}[],:\"0e-. \x80\xffa".to_vec());
    prop_oneof![
        12 => Just(Damage::None),
        1 => any::<prop::sample::Index>().prop_map(Damage::Cut),
        1 => (any::<prop::sample::Index>(), byte.clone()).prop_map(|(i, b)| Damage::Replace(i, b)),
        1 => (any::<prop::sample::Index>(), byte).prop_map(|(i, b)| Damage::Insert(i, b)),
    ]
}

fn body(doc: &Doc, damage: &Damage) -> Vec<u8> {
    let mut text = String::new();
    doc.render(&mut text);
    let mut bytes = text.into_bytes();
    match damage {
        Damage::None => {}
        Damage::Cut(i) => bytes.truncate(i.index(bytes.len())),
        Damage::Replace(i, b) => {
            let at = i.index(bytes.len());
            bytes[at] = *b;
        }
        Damage::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), *b),
    }
    bytes
}

fn settings() -> impl Strategy<Value = Settings> {
    (any::<bool>(), any::<bool>()).prop_map(|(strict, dc)| Settings {
        default_cluster: dc.then(|| "mgmt-cluster".to_owned()),
        strict_references: strict,
        ..Settings::default()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn reading_the_bytes_answers_as_reading_a_value_first(
        doc in review(), damage in damage(), settings in settings()
    ) {
        same_answer(&body(&doc, &damage), &settings)?;
    }

    #[test]
    fn any_json_text_is_refused_or_answered_as_reading_a_value_first(doc in junk()) {
        same_answer(&body(&doc, &Damage::None), &Settings::default())?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// The answers sort the findings again; the decoder itself keeps a `Value`'s order.
    #[test]
    fn an_object_read_apart_decodes_as_its_value(object in object(), damage in damage()) {
        let text = String::from_utf8_lossy(&body(&object, &damage)).into_owned();
        let apart = admission::decode_object_text(&text).map_err(|e| e.to_string());
        let whole = serde_json::from_str::<Value>(&text)
            .map(|v| failover_webhook::decode::decode(&v))
            .map_err(|e| e.to_string());
        prop_assert_eq!(apart, whole, "{}", text);
    }
}

/// The generator is worth something only if it reaches every kind of outcome.
#[test]
fn the_generated_reviews_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut refused, mut skipped, mut allowed, mut denied, mut skip_used, mut findings) =
        (0, 0, 0, 0, 0, 0);
    let (mut mistyped, mut unknown, mut kept_updates, mut changed_updates) = (0, 0, 0, 0);
    for _ in 0..2000 {
        let doc = review().new_tree(&mut runner).unwrap().current();
        let d = damage().new_tree(&mut runner).unwrap().current();
        let ctx = Context {
            topology: topology(),
            settings: &Settings::default(),
        };
        let body = body(&doc, &d);
        match admission::review(&body, Endpoint::Validate, ctx) {
            Err(_) => refused += 1,
            Ok(a) => {
                match a.summary.verdict.as_str() {
                    "skipped" => skipped += 1,
                    "allowed" => allowed += 1,
                    _ => denied += 1,
                }
                findings += usize::from(!a.summary.findings.is_empty());
                skip_used += usize::from(
                    a.summary
                        .findings
                        .iter()
                        .any(|(_, e)| e.as_str() == "skipped"),
                );
                let has = |code| a.summary.findings.iter().any(|(c, _)| *c == code);
                mistyped += usize::from(has(RuleCode::TypeMismatch));
                unknown += usize::from(has(RuleCode::UnknownField));
            }
        }
        // A judged UPDATE gets a status in its patch only when it changes the spec.
        if let Ok(a) = admission::review(&body, Endpoint::Mutate, ctx)
            && a.summary.verdict.as_str() != "skipped"
            && a.summary.operation == Operation::Update
        {
            if a.summary.patched {
                changed_updates += 1;
            } else {
                kept_updates += 1;
            }
        }
    }
    for (what, n) in [
        ("refused", refused),
        ("skipped", skipped),
        ("allowed", allowed),
        ("denied", denied),
        ("with findings", findings),
        ("with a skipped finding", skip_used),
        ("with a type error", mistyped),
        ("with an unknown field", unknown),
        ("UPDATEs that keep the spec", kept_updates),
        ("UPDATEs that change the spec", changed_updates),
    ] {
        assert!(n >= 5, "only {n} of 2000 generated reviews {what}");
    }
}

fn fixture() -> Value {
    serde_json::from_slice(
        &std::fs::read("tests/fixtures/admission/01-create-v1.request.json").unwrap(),
    )
    .unwrap()
}

/// The fixture with `text` in place of the value at `pointer` (a JSON pointer).
fn fixture_with(pointer: &str, text: &str) -> Vec<u8> {
    let mut v = fixture();
    let at = pointer
        .split('/')
        .skip(1)
        .fold(&mut v, |v, key| &mut v[key]);
    *at = json!("@@HERE@@");
    serde_json::to_string(&v)
        .unwrap()
        .replace("\"@@HERE@@\"", text)
        .into_bytes()
}

#[test]
fn what_is_skipped_is_still_checked_as_a_value_would_be() {
    let depth_past_the_limit = {
        let mut s = String::new();
        deep(130).render(&mut s);
        s
    };
    for (pointer, text, refused) in [
        ("/request/object/metadata/managedFields", "[1e400]", true),
        (
            "/request/object/metadata/labels",
            "{\"a\":\"\\ud800\"}",
            true,
        ),
        ("/request/userInfo", depth_past_the_limit.as_str(), true),
        // Annotations the engine does not read are skipped without being unescaped; whatever
        // that skip cannot vouch for is read as a `Value` instead.
        (
            "/request/object/metadata/annotations",
            "{\"a\":\"x\\ud800\"}",
            true,
        ),
        (
            "/request/object/metadata/annotations",
            "{\"a\":\"\\udc00\"}",
            true,
        ),
        (
            "/request/object/metadata/annotations",
            "{\"a\":\"\\ud83d\\ude00 \\u0041 \\\\u12 \\\"\\\\\\/\"}",
            false,
        ),
        (
            "/request/object/metadata/annotations",
            "{\"a\":\"\\u003c\\u0026\\u003E \\uD83D\\uDE00\"}",
            false,
        ),
        (
            "/request/object/metadata/annotations",
            "{\"a\":\"\\uDBFF\\u0041\"}",
            true,
        ),
        (
            "/request/object/metadata/annotations",
            "{\"a\":[1e400]}",
            true,
        ),
        // A `Value` parse stops at the token's value; the skip would stop at the comma.
        (
            "/request/object/metadata/annotations",
            "{\"a\":{\"$serde_json::private::RawValue\":null,}}",
            true,
        ),
        (
            "/request/object/metadata/annotations",
            "{\"a\":{\"b\":-0.5e10}}",
            false,
        ),
        (
            "/request/object/metadata/annotations",
            &format!("{{\"a\":{depth_past_the_limit}}}"),
            true,
        ),
        ("/request/object/metadata/managedFields", "[[[[1]]]]", false),
        (
            "/request/object/metadata/labels",
            "{\"a\":1,\"a\":{}}",
            false,
        ),
        (
            "/request/object/metadata/annotations",
            "{\"$serde_json::private::RawValue\":5}",
            true,
        ),
        (
            "/request/object/metadata/annotations",
            "{\"$serde_json::private::RawValue\":\"{\\\"failover-webhook.smh.solo.io/skip-rules\\\":\\\"HostnameConflict\\\"}\"}",
            false,
        ),
        (
            "/request/object/metadata/annotations",
            "{\"$serde_json::private::RawValue\":\"{}\",\"b\":1}",
            true,
        ),
    ] {
        let body = fixture_with(pointer, text);
        for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
            let new = outcome(&body, endpoint, &Settings::default(), false);
            assert_eq!(
                new,
                outcome(&body, endpoint, &Settings::default(), true),
                "{text}"
            );
            assert_eq!(new.is_err(), refused, "{text}: {new:?}");
        }
    }
    let mut invalid_utf8 = fixture_with("/request/object/metadata/labels", "{\"a\":\"@\"}");
    let at = invalid_utf8.iter().position(|&b| b == b'@').unwrap();
    invalid_utf8[at] = 0xff;
    let new = outcome(
        &invalid_utf8,
        Endpoint::Validate,
        &Settings::default(),
        false,
    );
    assert!(
        new.as_ref().is_err_and(|e| e.contains("invalid unicode")),
        "{new:?}"
    );
    assert_eq!(
        new,
        outcome(
            &invalid_utf8,
            Endpoint::Validate,
            &Settings::default(),
            true
        )
    );
}

#[test]
fn the_last_of_duplicate_keys_counts_as_in_a_value() {
    let skip = |annotations: &str| {
        let body = fixture_with("/request/object/metadata/annotations", annotations);
        let old = outcome(&body, Endpoint::Validate, &Settings::default(), true);
        assert_eq!(
            outcome(&body, Endpoint::Validate, &Settings::default(), false),
            old
        );
        old
    };
    let hostname = |body: Vec<u8>| {
        String::from_utf8(body)
            .unwrap()
            .replace("checkout.shop.failover\"", "reviews.bookinfo.failover\"")
    };
    for annotations in [
        format!("{{\"{SKIP}\":\"HostnameConflict\",\"{SKIP}\":7}}"),
        format!("{{\"{SKIP}\":7,\"{SKIP}\":\"HostnameConflict\"}}"),
    ] {
        let body = hostname(fixture_with(
            "/request/object/metadata/annotations",
            &annotations,
        ));
        let new = outcome(
            body.as_bytes(),
            Endpoint::Validate,
            &Settings::default(),
            false,
        );
        assert_eq!(
            new,
            outcome(
                body.as_bytes(),
                Endpoint::Validate,
                &Settings::default(),
                true
            )
        );
        assert!(new.is_ok());
    }
    assert!(skip("{}").is_ok());
}
