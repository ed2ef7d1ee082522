//! One full evaluation (decode, defaults, every rule, verdict, status, patch) of a two-service
//! FailoverService as the API server sends it, against a demo-sized topology and one with
//! 100,000 MeshServices: the cost must not grow with the cluster. Then whole reviews, body bytes
//! to answer bytes, as the server runs them: the fixture CREATE on both endpoints, and a review
//! of about 1 MiB.
//!
//! With `EVALUATE_COUNT=n` it only runs the evaluation `n` times, and with `REVIEW_COUNT=n` it
//! only answers the fixture `n` times on `/mutate` and `n` times on `/validate`, untimed, for an
//! instruction count that does not depend on the machine's load (`REVIEW_LARGE` and
//! `REVIEW_UPDATE` choose the review; the commands are in
//! docs/performance.md).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group};
use failover_webhook::admission::{self, Context, Endpoint};
use failover_webhook::api::{Kind, ObjectRef};
use failover_webhook::engine::{Change, Review, Settings, evaluate};
use failover_webhook::manifest;
use failover_webhook::topology::{EMBEDDED_YAML, Topology, snapshot};
use serde_json::{Value, json};

/// A CREATE as the API server sends it to a mutating webhook: managed fields and the
/// last-applied annotation included, `port.protocol` and one service's cluster left to default.
fn object() -> Value {
    json!({
        "apiVersion": "networking.smh.solo.io/v1alpha1",
        "kind": "FailoverService",
        "metadata": {
            "name": "checkout-failover",
            "namespace": "service-mesh-hub",
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{\"apiVersion\":\"networking.smh.solo.io/v1alpha1\",\"kind\":\"FailoverService\",\"metadata\":{\"annotations\":{},\"name\":\"checkout-failover\",\"namespace\":\"service-mesh-hub\"},\"spec\":{\"hostname\":\"checkout.shop.failover\",\"namespace\":\"shop\",\"port\":{\"port\":9080,\"name\":\"http\"},\"cluster\":\"mgmt-cluster\",\"failoverServices\":[{\"name\":\"checkout\",\"namespace\":\"shop\"},{\"name\":\"checkout\",\"namespace\":\"shop\",\"cluster\":\"remote-cluster\"}]}}\n"
            },
            "managedFields": [{
                "manager": "kubectl-client-side-apply",
                "operation": "Update",
                "apiVersion": "networking.smh.solo.io/v1alpha1",
                "time": "2026-08-03T09:14:22Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}}},
                             "f:spec": {".": {}, "f:cluster": {}, "f:failoverServices": {}, "f:hostname": {}, "f:namespace": {},
                                        "f:port": {".": {}, "f:name": {}, "f:port": {}}}}
            }]
        },
        "spec": {
            "hostname": "checkout.shop.failover",
            "namespace": "shop",
            "port": {"port": 9080, "name": "http"},
            "cluster": "mgmt-cluster",
            "failoverServices": [
                {"name": "checkout", "namespace": "shop"},
                {"name": "checkout", "namespace": "shop", "cluster": "remote-cluster"}
            ]
        }
    })
}

/// The embedded topology plus `extra` MeshServices spread over the demo meshes.
fn topology(extra: usize) -> Topology {
    let docs = manifest::parse("embedded", EMBEDDED_YAML).expect("embedded topology");
    let mut builder = snapshot::builder_from_documents(docs).expect("embedded topology");
    let meshes = [
        "istio-istio-system-mgmt-cluster",
        "istio-istio-system-remote-cluster",
        "istio-istio-system-edge-cluster",
    ];
    let clusters = ["mgmt-cluster", "remote-cluster", "edge-cluster"];
    for i in 0..extra {
        let ms = json!({
            "apiVersion": "discovery.smh.solo.io/v1alpha1",
            "kind": "MeshService",
            "metadata": {"name": format!("svc-{i}"), "namespace": "service-mesh-hub"},
            "spec": {
                "kubeService": {"ref": {"name": format!("svc-{i}"), "namespace": format!("ns-{}", i % 500), "cluster": clusters[i % 3]}},
                "mesh": {"name": meshes[i % 3], "namespace": "service-mesh-hub"}
            },
            "status": {"validatedTrafficPolicies": [{"trafficPolicySpec": {"outlierDetection": {"consecutiveErrors": 5}}}]}
        });
        builder
            .insert(Kind::MeshService, &ms)
            .expect("a generated MeshService");
    }
    builder.build()
}

fn bench(c: &mut Criterion) {
    let object = object();
    let this = ObjectRef {
        name: "checkout-failover".into(),
        namespace: "service-mesh-hub".into(),
    };
    let settings = Settings::default();
    let mut group = c.benchmark_group("evaluate_two_services");
    for extra in [0usize, 100_000] {
        let t = topology(extra);
        let size = t.count(Kind::MeshService);
        // The evaluation must be clean, or the benchmark would measure an error path.
        let eval = evaluate(
            &Review::new(Change::Create, &object, &this),
            Some(&t),
            &settings,
        );
        assert!(
            eval.findings.is_empty() && !eval.patch.0.is_empty(),
            "{:?}",
            eval.findings
        );
        group.bench_with_input(BenchmarkId::new("mesh_services", size), &t, |b, t| {
            b.iter(|| {
                evaluate(
                    black_box(&Review::new(Change::Create, &object, &this)),
                    Some(t),
                    &settings,
                )
            })
        });
    }
    group.finish();
}

/// One evaluation, kept out of line so that callgrind can count it (`--toggle-collect`).
#[inline(never)]
fn evaluate_once(object: &Value, this: &ObjectRef, t: &Topology, settings: &Settings) -> usize {
    let eval = evaluate(
        &Review::new(Change::Create, object, this),
        Some(t),
        settings,
    );
    eval.patch.0.len()
}

/// With `EVALUATE_COUNT=n`, runs `n` evaluations against the embedded topology with no timing
/// around them, for an instruction count that does not depend on the machine's load (the
/// command is in docs/performance.md).
fn count_evaluations(n: usize) {
    let object = object();
    let this = ObjectRef {
        name: "checkout-failover".into(),
        namespace: "service-mesh-hub".into(),
    };
    let t = topology(0);
    let settings = Settings::default();
    let ops: usize = (0..n)
        .map(|_| evaluate_once(black_box(&object), &this, &t, &settings))
        .sum();
    assert_eq!(ops, 3 * n, "the protocol, a cluster and the status");
}

const FIXTURE: &str = "tests/fixtures/admission/01-create-v1.request.json";

fn fixture() -> Vec<u8> {
    std::fs::read(FIXTURE).expect("the admission fixture (run from the crate root)")
}

/// A CREATE of about 1 MiB as `kubectl apply` sends it: the fixture with `entries`
/// failoverServices (distinct names, none of them discovered, so each is a reference warning)
/// and the last-applied annotation holding the same spec again.
fn large_review(entries: usize) -> Vec<u8> {
    let mut review: Value = serde_json::from_slice(&fixture()).expect("fixture is JSON");
    let services: Vec<Value> = (0..entries)
        .map(|i| json!({"name": format!("checkout-{i}"), "namespace": "shop", "cluster": "mgmt-cluster"}))
        .collect();
    let object = &mut review["request"]["object"];
    object["spec"]["failoverServices"] = Value::Array(services);
    let applied = json!({
        "apiVersion": object["apiVersion"], "kind": object["kind"],
        "metadata": {"annotations": {}, "name": object["metadata"]["name"], "namespace": object["metadata"]["namespace"]},
        "spec": object["spec"],
    });
    object["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
        Value::String(applied.to_string() + "\n");
    serde_json::to_vec(&review).expect("serializable")
}

fn bench_review(c: &mut Criterion) {
    let topology = topology(0);
    let settings = Settings::default();
    let ctx = Context {
        topology: &topology,
        settings: &settings,
    };
    let body = fixture();
    let large = large_review(7_000);
    let mut group = c.benchmark_group("review");
    for (name, body, endpoint) in [
        ("fixture_mutate", &body, Endpoint::Mutate),
        ("fixture_validate", &body, Endpoint::Validate),
        ("1mib_mutate", &large, Endpoint::Mutate),
        ("1mib_validate", &large, Endpoint::Validate),
    ] {
        let answer = admission::review(body, endpoint, ctx).expect("a review");
        assert!(answer.summary.verdict.as_str() == "allowed", "{name}");
        group.bench_function(BenchmarkId::new(name, body.len()), |b| {
            b.iter(|| admission::review(black_box(body), endpoint, ctx))
        });
    }
    // What the parse-and-echo baseline does before it answers: the body into a generic value.
    for (name, body) in [("fixture_parse_only", &body), ("1mib_parse_only", &large)] {
        group.bench_function(BenchmarkId::new(name, body.len()), |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(body)).map(|v| v.is_object()))
        });
    }
    group.finish();
}

fn count_only(n: usize) {
    let topology = topology(0);
    let settings = Settings::default();
    let ctx = Context {
        topology: &topology,
        settings: &settings,
    };
    // `REVIEW_LARGE=1` counts the 1 MiB review of `bench_review` instead of the fixture.
    let body = match std::env::var("REVIEW_LARGE") {
        Ok(_) => large_review(7_000),
        Err(_) => fixture(),
    };
    // `REVIEW_UPDATE=1` makes it an UPDATE that keeps the object; `REVIEW_UPDATE=unknown`
    // adds a key the API does not define to both specs, which judges it from `Value`s.
    let body = match std::env::var("REVIEW_UPDATE").as_deref() {
        Ok(unknown) => as_update(&body, unknown == "unknown"),
        Err(_) => body,
    };
    for _ in 0..n {
        for endpoint in [Endpoint::Mutate, Endpoint::Validate] {
            black_box(answer_once(&body, endpoint, ctx));
        }
    }
}

/// `body` as an UPDATE whose old object is the object, with an unknown spec key in both when
/// `unknown`.
fn as_update(body: &[u8], unknown: bool) -> Vec<u8> {
    let mut review: Value = serde_json::from_slice(body).expect("a review");
    let request = &mut review["request"];
    request["operation"] = json!("UPDATE");
    if unknown {
        request["object"]["spec"]["hostnme"] = json!("x");
    }
    request["oldObject"] = request["object"].clone();
    serde_json::to_vec(&review).expect("a review")
}

#[inline(never)]
fn answer_once(body: &[u8], endpoint: Endpoint, ctx: Context<'_>) -> usize {
    admission::review(black_box(body), endpoint, ctx).map_or(0, |a| a.body.len())
}

criterion_group!(benches, bench, bench_review);

fn main() {
    if let Ok(n) = std::env::var("EVALUATE_COUNT") {
        return count_evaluations(n.parse().expect("EVALUATE_COUNT is a count"));
    }
    match std::env::var("REVIEW_COUNT") {
        Ok(n) => count_only(n.parse().expect("REVIEW_COUNT is a count")),
        Err(_) => {
            benches();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}
