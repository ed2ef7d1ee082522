use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// `discovery.smh.solo.io/v1alpha1` KubernetesCluster: a registered cluster. Its
/// `metadata.name` is the cluster name that refs use.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KubernetesCluster {
    #[serde(default)]
    pub metadata: ObjectMeta,
}

/// `discovery.smh.solo.io/v1alpha1` MeshService: a Kubernetes service as discovery saw it in a
/// mesh.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MeshService {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<MeshServiceSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<MeshServiceStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshServiceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_service: Option<KubeService>,
    /// The parent Mesh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<ObjectRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KubeService {
    /// The Kubernetes service this MeshService stands for.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub service_ref: Option<ClusterObjectRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshServiceStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validated_traffic_policies: Option<Vec<ValidatedTrafficPolicy>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatedTrafficPolicy {
    /// The TrafficPolicy this entry came from.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub policy_ref: Option<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_policy_spec: Option<TrafficPolicySpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficPolicySpec {
    /// Present (any non-null value) means outlier detection is configured for the service,
    /// which is what lets failover trigger at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<serde_json::Value>,
}

/// A reference to a namespaced object in the management cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A reference to a namespaced object in a registered cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClusterObjectRef {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub cluster: String,
}

/// `discovery.smh.solo.io/v1alpha1` Mesh: one control plane in one cluster.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Mesh {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<MeshSpec>,
}

/// The mesh spec is a proto `oneof`: exactly one type key (`istio1_6`, `linkerd`, …) beside
/// `cluster`. The type's own settings do not matter to the rules, so they stay untyped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MeshSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ObjectRef>,
    #[serde(flatten)]
    pub mesh_type: serde_json::Map<String, serde_json::Value>,
}

/// What kind of control plane a Mesh is, read from its spec's type key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MeshType {
    Istio,
    AwsAppMesh,
    Linkerd,
    ConsulConnect,
    /// A type key this version does not know; the key is kept for messages.
    Other(String),
    /// The spec names no type at all.
    None,
}

impl MeshType {
    /// Reads the type from the keys of a Mesh spec. Any `istio*` key is Istio (the original API
    /// grew `istio1_5`, `istio1_6`, …, spelt both with and without the underscore).
    pub fn from_spec_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> MeshType {
        let mut found = MeshType::None;
        for key in keys {
            let ty = match key {
                "cluster" => continue,
                k if k.starts_with("istio") => MeshType::Istio,
                "awsAppMesh" | "aws_app_mesh" => MeshType::AwsAppMesh,
                "linkerd" => MeshType::Linkerd,
                "consulConnect" | "consul_connect" => MeshType::ConsulConnect,
                other => MeshType::Other(other.to_owned()),
            };
            // A known type wins over an unknown extra key.
            if matches!(found, MeshType::None | MeshType::Other(_)) {
                found = ty;
            }
        }
        found
    }

    pub fn is_istio(&self) -> bool {
        matches!(self, MeshType::Istio)
    }
}

impl std::fmt::Display for MeshType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MeshType::Istio => f.write_str("Istio"),
            MeshType::AwsAppMesh => f.write_str("AWS App Mesh"),
            MeshType::Linkerd => f.write_str("Linkerd"),
            MeshType::ConsulConnect => f.write_str("Consul Connect"),
            MeshType::Other(key) => write!(f, "unrecognised type `{key}`"),
            MeshType::None => f.write_str("no mesh type"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesh_type_reads_every_spelling() {
        for key in ["istio1_5", "istio15", "istio1_6", "istio16", "istio1_7"] {
            assert_eq!(MeshType::from_spec_keys(["cluster", key]), MeshType::Istio);
        }
        assert_eq!(
            MeshType::from_spec_keys(["aws_app_mesh"]),
            MeshType::AwsAppMesh
        );
        assert_eq!(
            MeshType::from_spec_keys(["awsAppMesh"]),
            MeshType::AwsAppMesh
        );
        assert_eq!(
            MeshType::from_spec_keys(["consul_connect"]),
            MeshType::ConsulConnect
        );
        assert_eq!(MeshType::from_spec_keys(["linkerd"]), MeshType::Linkerd);
        assert_eq!(MeshType::from_spec_keys(["cluster"]), MeshType::None);
        assert_eq!(
            MeshType::from_spec_keys(["kuma"]),
            MeshType::Other("kuma".to_owned())
        );
    }

    #[test]
    fn mesh_service_reads_the_discovery_shape() {
        let ms: MeshService = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "reviews-bookinfo-mgmt", "namespace": "service-mesh-hub"},
            "spec": {
                "kubeService": {"ref": {"name": "reviews", "namespace": "bookinfo", "cluster": "mgmt"}},
                "mesh": {"name": "istio-istio-system-mgmt", "namespace": "service-mesh-hub"}
            },
            "status": {"validatedTrafficPolicies": [
                {"trafficPolicySpec": {"outlierDetection": {"consecutiveErrors": 5}}}
            ]}
        }))
        .unwrap();
        let spec = ms.spec.unwrap();
        assert_eq!(
            spec.kube_service.unwrap().service_ref.unwrap().cluster,
            "mgmt"
        );
        assert_eq!(spec.mesh.unwrap().name, "istio-istio-system-mgmt");
    }
}
