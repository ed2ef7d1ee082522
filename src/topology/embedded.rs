use super::{Topology, snapshot};
use crate::manifest;

/// The demo topology's source, compiled into the binary.
pub const EMBEDDED_YAML: &str = include_str!("embedded.yaml");

/// The demo topology the server uses when given no other source, so it runs on a laptop with
/// no cluster: four clusters, Istio meshes in two VirtualMeshes and one in none, a Linkerd mesh,
/// and bookinfo-style services with and without outlier detection (see the README).
#[allow(clippy::expect_used)]
pub fn embedded() -> Topology {
    manifest::parse("embedded topology", EMBEDDED_YAML)
        .map_err(snapshot::SnapshotError::from)
        .and_then(snapshot::from_documents)
        // Compiled-in data, parsed by a unit test on every build: a failure here is a build
        // defect, never a runtime condition.
        .expect("the embedded topology parses")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Kind, MeshType, ObjectRef};

    #[test]
    fn the_embedded_topology_has_what_the_readme_describes() {
        let t = embedded();
        assert_eq!(t.count(Kind::KubernetesCluster), 4);
        assert_eq!(t.count(Kind::Mesh), 5);
        assert_eq!(t.count(Kind::VirtualMesh), 2);
        assert_eq!(t.count(Kind::MeshService), 11);
        assert_eq!(t.count(Kind::FailoverService), 1);
        let linkerd = ObjectRef {
            name: "linkerd-linkerd-edge-cluster".into(),
            namespace: "service-mesh-hub".into(),
        };
        assert_eq!(
            t.mesh(&linkerd).map(|m| &m.mesh_type),
            Some(&MeshType::Linkerd)
        );
        assert!(
            t.service("checkout", "shop", "remote-cluster")
                .is_some_and(|s| s.outlier_detection)
        );
        // Two services in the dev-cluster mesh, which is in no VirtualMesh.
        for ns in ["shop", "shop-standby"] {
            assert!(
                t.service("checkout", ns, "dev-cluster")
                    .is_some_and(|s| s.outlier_detection
                        && s.mesh.as_ref().map(|m| m.name.as_str())
                            == Some("istio-istio-system-dev-cluster"))
            );
        }
        assert!(
            t.service("ratings", "bookinfo", "remote-cluster")
                .is_some_and(|s| !s.outlier_detection)
        );
    }
}
