//! Generated topologies for scale measurements.

use serde_json::{Value, json};

/// MeshService number `i`: its own Kubernetes service, spread over 100 namespaces and 10
/// clusters, with a validated traffic policy (as discovery writes them).
pub fn mesh_service(i: usize) -> Value {
    json!({
        "apiVersion": "discovery.smh.solo.io/v1alpha1",
        "kind": "MeshService",
        "metadata": {"name": format!("svc-{i}-ns-{}-cluster-{}", i % 100, i % 10),
                     "namespace": "service-mesh-hub", "generation": 1,
                     "labels": {"cluster": format!("cluster-{}", i % 10), "owner": "discovery"}},
        "spec": {
            "kubeService": {
                "ref": {"name": format!("svc-{i}"), "namespace": format!("ns-{}", i % 100),
                        "cluster": format!("cluster-{}", i % 10)},
                "ports": [{"port": 9080, "name": "http", "protocol": "TCP"}]
            },
            "mesh": {"name": format!("istio-istio-system-cluster-{}", i % 10),
                     "namespace": "service-mesh-hub"}
        },
        "status": {"validatedTrafficPolicies": [
            {"ref": {"name": "outlier", "namespace": "service-mesh-hub"},
             "trafficPolicySpec": {"outlierDetection": {"consecutiveErrors": 5}}}
        ]}
    })
}
