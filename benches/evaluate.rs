//! One full evaluation (decode, defaults, every rule, verdict, status, patch) of a two-service
//! FailoverService as the API server sends it, against a demo-sized topology and one with
//! 100,000 MeshServices: the cost must not grow with the cluster.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
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

criterion_group!(benches, bench);
criterion_main!(benches);
