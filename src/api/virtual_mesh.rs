use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use super::ObjectRef;

/// `networking.smh.solo.io/v1alpha1` VirtualMesh: a group of Meshes that share trust and can
/// route to each other, which is what failover across meshes needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VirtualMesh {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<VirtualMeshSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VirtualMeshSpec {
    /// Member meshes, compared by name and namespace only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meshes: Option<Vec<ObjectRef>>,
}
