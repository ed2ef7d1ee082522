use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::Value;

use crate::api::{Kind, Mesh, MeshService, MeshType, ObjectRef, VirtualMesh};

/// Why one topology object could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The object is one of our kinds but its fields have the wrong shape.
    #[error("{kind} {name}: {source}")]
    Malformed {
        kind: Kind,
        name: String,
        #[source]
        source: serde_json::Error,
    },
}

/// What the rules need to know of one MeshService.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    /// The MeshService object itself, for messages.
    pub mesh_service: ObjectRef,
    /// Its parent Mesh, when discovery has set one.
    pub mesh: Option<ObjectRef>,
    /// Whether a validated TrafficPolicy with outlier detection applies to it.
    pub outlier_detection: bool,
}

/// What the rules need to know of one Mesh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshEntry {
    pub mesh_type: MeshType,
    /// The cluster the control plane runs in, when set.
    pub cluster: Option<String>,
}

/// The topology index. Build one with [`TopologyBuilder`] or a source in this module.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    clusters: HashSet<String>,
    services: HashMap<String, ServiceEntry>,
    meshes: HashMap<String, MeshEntry>,
    virtual_meshes_by_mesh: HashMap<String, Vec<ObjectRef>>,
    hostnames: HashMap<String, Vec<ObjectRef>>,
    counts: [usize; Kind::ALL.len()],
}

/// One hash key for a (name, namespace[, cluster]) triple. A NUL byte cannot appear in a
/// Kubernetes name, so the join is unambiguous for every real object.
fn key(parts: &[&str]) -> String {
    parts.join("\0")
}

impl Topology {
    /// An empty topology: every reference rule will report its object missing.
    pub fn empty() -> Topology {
        Topology::default()
    }

    pub fn builder() -> TopologyBuilder {
        TopologyBuilder::default()
    }

    pub fn is_cluster_registered(&self, cluster: &str) -> bool {
        self.clusters.contains(cluster)
    }

    /// The MeshService that stands for the Kubernetes service `name.namespace` in `cluster`.
    pub fn service(&self, name: &str, namespace: &str, cluster: &str) -> Option<&ServiceEntry> {
        self.services.get(&key(&[name, namespace, cluster]))
    }

    pub fn mesh(&self, mesh: &ObjectRef) -> Option<&MeshEntry> {
        self.meshes.get(&key(&[&mesh.name, &mesh.namespace]))
    }

    /// The VirtualMeshes that list `mesh`, sorted.
    pub fn virtual_meshes_of(&self, mesh: &ObjectRef) -> &[ObjectRef] {
        self.virtual_meshes_by_mesh
            .get(&key(&[&mesh.name, &mesh.namespace]))
            .map_or(&[], Vec::as_slice)
    }

    /// The FailoverServices that claim `hostname`, sorted.
    pub fn hostname_owners(&self, hostname: &str) -> &[ObjectRef] {
        self.hostnames.get(hostname).map_or(&[], Vec::as_slice)
    }

    /// How many objects of `kind` the index was built from.
    pub fn count(&self, kind: Kind) -> usize {
        self.counts.get(kind as usize).copied().unwrap_or_default()
    }
}

/// Collects topology objects, then freezes them into a [`Topology`].
#[derive(Debug, Default)]
pub struct TopologyBuilder {
    topology: Topology,
}

fn object_ref(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> ObjectRef {
    ObjectRef {
        name: meta.name.clone().unwrap_or_default(),
        namespace: meta.namespace.clone().unwrap_or_default(),
    }
}

fn read<'a, T: Deserialize<'a>>(kind: Kind, value: &'a Value) -> Result<T, TopologyError> {
    T::deserialize(value).map_err(|source| TopologyError::Malformed {
        kind,
        name: display_name(value),
        source,
    })
}

fn display_name(value: &Value) -> String {
    let meta = value.get("metadata");
    let field = |k| meta.and_then(|m| m.get(k)).and_then(Value::as_str);
    match (field("namespace"), field("name")) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (None, Some(n)) => n.to_owned(),
        _ => "(unnamed)".to_owned(),
    }
}

impl TopologyBuilder {
    /// Adds one object of a known kind. Objects of other kinds are the caller's to skip (see
    /// [`Kind::from_type_meta`]).
    pub fn insert(&mut self, kind: Kind, value: &Value) -> Result<(), TopologyError> {
        let t = &mut self.topology;
        match kind {
            Kind::KubernetesCluster => {
                if let Some(name) = value.pointer("/metadata/name").and_then(Value::as_str) {
                    t.clusters.insert(name.to_owned());
                }
            }
            Kind::MeshService => {
                let ms: MeshService = read(kind, value)?;
                let spec = ms.spec.unwrap_or_default();
                if let Some(r) = spec.kube_service.and_then(|k| k.service_ref) {
                    let outlier_detection = ms
                        .status
                        .and_then(|s| s.validated_traffic_policies)
                        .unwrap_or_default()
                        .iter()
                        .any(|p| {
                            p.traffic_policy_spec
                                .as_ref()
                                .and_then(|s| s.outlier_detection.as_ref())
                                .is_some_and(|od| !od.is_null())
                        });
                    t.services.insert(
                        key(&[&r.name, &r.namespace, &r.cluster]),
                        ServiceEntry {
                            mesh_service: object_ref(&ms.metadata),
                            mesh: spec.mesh.filter(|m| !m.name.is_empty()),
                            outlier_detection,
                        },
                    );
                }
            }
            Kind::Mesh => {
                let mesh: Mesh = read(kind, value)?;
                let spec = mesh.spec.unwrap_or_default();
                let me = object_ref(&mesh.metadata);
                t.meshes.insert(
                    key(&[&me.name, &me.namespace]),
                    MeshEntry {
                        mesh_type: MeshType::from_spec_keys(
                            spec.mesh_type.keys().map(String::as_str),
                        ),
                        cluster: spec.cluster.map(|c| c.name).filter(|c| !c.is_empty()),
                    },
                );
            }
            Kind::VirtualMesh => {
                let vm: VirtualMesh = read(kind, value)?;
                let me = object_ref(&vm.metadata);
                let mut members = vm.spec.and_then(|s| s.meshes).unwrap_or_default();
                members.sort();
                members.dedup();
                for m in members {
                    let groups = t
                        .virtual_meshes_by_mesh
                        .entry(key(&[&m.name, &m.namespace]))
                        .or_default();
                    groups.push(me.clone());
                    groups.sort();
                }
            }
            Kind::FailoverService => {
                // Other FailoverServices are read leniently: the CRD has no schema, so one
                // malformed object must not stop the index from being built.
                if let Some(host) = value.pointer("/spec/hostname").and_then(Value::as_str) {
                    let owners = t.hostnames.entry(host.to_owned()).or_default();
                    owners.push(ObjectRef {
                        name: value
                            .pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        namespace: value
                            .pointer("/metadata/namespace")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    });
                    owners.sort();
                }
            }
        }
        if let Some(count) = t.counts.get_mut(kind as usize) {
            *count += 1;
        }
        Ok(())
    }

    pub fn build(self) -> Topology {
        self.topology
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mesh_ref(name: &str) -> ObjectRef {
        ObjectRef {
            name: name.into(),
            namespace: "smh".into(),
        }
    }

    #[test]
    fn indexes_each_kind_by_the_refs_the_rules_use() {
        let mut b = Topology::builder();
        b.insert(
            Kind::KubernetesCluster,
            &json!({"metadata": {"name": "c1", "namespace": "smh"}}),
        )
        .unwrap();
        b.insert(Kind::MeshService, &json!({
            "metadata": {"name": "whatever", "namespace": "smh"},
            "spec": {"kubeService": {"ref": {"name": "svc", "namespace": "ns", "cluster": "c1"}},
                     "mesh": {"name": "m1", "namespace": "smh"}},
            "status": {"validatedTrafficPolicies": [{"trafficPolicySpec": {"outlierDetection": {}}}]}
        }))
        .unwrap();
        b.insert(
            Kind::Mesh,
            &json!({
                "metadata": {"name": "m1", "namespace": "smh"},
                "spec": {"cluster": {"name": "c1", "namespace": "smh"}, "istio1_6": {}}
            }),
        )
        .unwrap();
        b.insert(Kind::VirtualMesh, &json!({
            "metadata": {"name": "vm", "namespace": "smh"},
            "spec": {"meshes": [{"name": "m1", "namespace": "smh"}, {"name": "m1", "namespace": "smh"}]}
        }))
        .unwrap();
        b.insert(
            Kind::FailoverService,
            &json!({
                "metadata": {"name": "f", "namespace": "smh"}, "spec": {"hostname": "h.example"}
            }),
        )
        .unwrap();
        let t = b.build();

        assert!(t.is_cluster_registered("c1"));
        assert!(!t.is_cluster_registered("c2"));
        let s = t.service("svc", "ns", "c1").unwrap();
        assert_eq!(s.mesh_service.name, "whatever");
        assert!(s.outlier_detection);
        assert_eq!(s.mesh, Some(mesh_ref("m1")));
        assert!(
            t.service("svc", "ns", "C1").is_none(),
            "refs are case-sensitive"
        );
        assert_eq!(t.mesh(&mesh_ref("m1")).unwrap().mesh_type, MeshType::Istio);
        assert_eq!(t.virtual_meshes_of(&mesh_ref("m1")), &[mesh_ref("vm")]);
        assert!(t.virtual_meshes_of(&mesh_ref("m2")).is_empty());
        assert_eq!(t.hostname_owners("h.example"), &[mesh_ref("f")]);
        assert_eq!(t.count(Kind::VirtualMesh), 1);
    }

    #[test]
    fn a_null_outlier_detection_is_not_configured() {
        let mut b = Topology::builder();
        b.insert(Kind::MeshService, &json!({
            "metadata": {"name": "x", "namespace": "smh"},
            "spec": {"kubeService": {"ref": {"name": "svc", "namespace": "ns", "cluster": "c1"}}},
            "status": {"validatedTrafficPolicies": [{"trafficPolicySpec": {"outlierDetection": null}}]}
        }))
        .unwrap();
        assert!(
            !b.build()
                .service("svc", "ns", "c1")
                .unwrap()
                .outlier_detection
        );
    }

    #[test]
    fn a_malformed_object_names_itself() {
        let err = Topology::builder()
            .insert(
                Kind::VirtualMesh,
                &json!({
                    "metadata": {"name": "vm", "namespace": "smh"}, "spec": {"meshes": "m1"}
                }),
            )
            .unwrap_err();
        assert!(err.to_string().starts_with("VirtualMesh smh/vm: "), "{err}");
    }
}
