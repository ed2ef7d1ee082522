//! The resources this webhook reads, with the exact JSON names of the original Service Mesh Hub
//! API (proto3 JSON mapping: camelCase keys, enums as strings).
//!
//! Every field is optional because the original CRDs carried no OpenAPI schema: the API server
//! stored whatever it was given, so anything read back from a cluster or a file may be partial.
//! Code that must survive arbitrary input (the reviewed object, the topology sources) works on
//! `serde_json::Value` and uses these types as the description of what it extracts.

mod discovery;
mod failover_service;
mod virtual_mesh;

pub use discovery::{
    ClusterObjectRef, KubeService, KubernetesCluster, Mesh, MeshService, MeshServiceSpec,
    MeshServiceStatus, MeshSpec, MeshType, ObjectRef, TrafficPolicySpec, ValidatedTrafficPolicy,
};
pub use failover_service::{
    FailoverService, FailoverServiceSpec, FailoverServiceStatus, PortSpec, ResourceRef, State,
    StatusEntry, TranslatorError,
};
pub use virtual_mesh::{VirtualMesh, VirtualMeshSpec};

/// API group of the discovery kinds (KubernetesCluster, MeshService, Mesh).
pub const DISCOVERY_GROUP: &str = "discovery.smh.solo.io";
/// API group of FailoverService and VirtualMesh.
pub const NETWORKING_GROUP: &str = "networking.smh.solo.io";
/// The one version both groups serve.
pub const VERSION: &str = "v1alpha1";

/// The kinds this webhook knows, as they appear in `kind` and in snapshot files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    KubernetesCluster,
    MeshService,
    Mesh,
    VirtualMesh,
    FailoverService,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::KubernetesCluster,
        Kind::MeshService,
        Kind::Mesh,
        Kind::VirtualMesh,
        Kind::FailoverService,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::KubernetesCluster => "KubernetesCluster",
            Kind::MeshService => "MeshService",
            Kind::Mesh => "Mesh",
            Kind::VirtualMesh => "VirtualMesh",
            Kind::FailoverService => "FailoverService",
        }
    }

    /// The resource name in API paths (`kubectl get <plural>`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::KubernetesCluster => "kubernetesclusters",
            Kind::MeshService => "meshservices",
            Kind::Mesh => "meshes",
            Kind::VirtualMesh => "virtualmeshes",
            Kind::FailoverService => "failoverservices",
        }
    }

    pub fn group(self) -> &'static str {
        match self {
            Kind::KubernetesCluster | Kind::MeshService | Kind::Mesh => DISCOVERY_GROUP,
            Kind::VirtualMesh | Kind::FailoverService => NETWORKING_GROUP,
        }
    }

    /// Recognises a kind by its `apiVersion` and `kind`. The group must match: another
    /// project's `Mesh` kind is not ours.
    pub fn from_type_meta(api_version: &str, kind: &str) -> Option<Kind> {
        let group = api_version.split_once('/').map_or("", |(g, _)| g);
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind && k.group() == group)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_kinds_only_in_their_own_group() {
        assert_eq!(
            Kind::from_type_meta("discovery.smh.solo.io/v1alpha1", "Mesh"),
            Some(Kind::Mesh)
        );
        assert_eq!(
            Kind::from_type_meta("networking.smh.solo.io/v1alpha1", "FailoverService"),
            Some(Kind::FailoverService)
        );
        assert_eq!(Kind::from_type_meta("example.com/v1", "Mesh"), None);
        assert_eq!(Kind::from_type_meta("v1", "Service"), None);
    }
}
