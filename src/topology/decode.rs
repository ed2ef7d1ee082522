//! One typed decode per topology kind, reading only the fields the rules need (everything else,
//! `managedFields` included, is skipped unread). The snapshot loader and the cluster watcher
//! both decode through here, so a file and the cluster can never be read differently.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::index::{MeshEntry, TopologyError};
use crate::api::{ClusterObjectRef, Kind, MeshType, ObjectRef};

/// One topology object, reduced to what the index keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopologyObject {
    /// A registered cluster; its name is `me.name`.
    KubernetesCluster {
        me: ObjectRef,
    },
    MeshService(MeshServiceObject),
    Mesh {
        me: ObjectRef,
        entry: MeshEntry,
    },
    /// A VirtualMesh and its member Meshes, sorted and without duplicates.
    VirtualMesh {
        me: ObjectRef,
        members: Vec<ObjectRef>,
    },
    /// A FailoverService and the hostname it claims, if it names one.
    FailoverService {
        me: ObjectRef,
        hostname: Option<String>,
    },
}

/// What the index keeps of a MeshService.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshServiceObject {
    pub me: ObjectRef,
    /// The Kubernetes service it stands for; a MeshService without one resolves nothing.
    pub service_ref: Option<ClusterObjectRef>,
    pub mesh: Option<ObjectRef>,
    pub outlier_detection: bool,
}

impl TopologyObject {
    pub fn kind(&self) -> Kind {
        match self {
            TopologyObject::KubernetesCluster { .. } => Kind::KubernetesCluster,
            TopologyObject::MeshService(_) => Kind::MeshService,
            TopologyObject::Mesh { .. } => Kind::Mesh,
            TopologyObject::VirtualMesh { .. } => Kind::VirtualMesh,
            TopologyObject::FailoverService { .. } => Kind::FailoverService,
        }
    }

    /// The object's own namespace and name: its key in the index.
    pub fn me(&self) -> &ObjectRef {
        match self {
            TopologyObject::KubernetesCluster { me }
            | TopologyObject::Mesh { me, .. }
            | TopologyObject::VirtualMesh { me, .. }
            | TopologyObject::FailoverService { me, .. } => me,
            TopologyObject::MeshService(ms) => &ms.me,
        }
    }
}

#[derive(Default, Deserialize)]
struct Meta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
}

impl Meta {
    fn into_ref(self) -> ObjectRef {
        ObjectRef {
            name: self.name.unwrap_or_default(),
            namespace: self.namespace.unwrap_or_default(),
        }
    }
}

/// A value that decodes to `None` instead of failing when it has the wrong shape: the
/// FailoverService CRD has no schema, and one malformed object must not hide the others.
struct Lenient<T>(Option<T>);

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        Ok(Lenient(T::deserialize(value).ok()))
    }
}

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

#[derive(Deserialize)]
struct ClusterView {
    #[serde(default)]
    metadata: Meta,
}

#[derive(Deserialize)]
struct MeshServiceView {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    spec: Option<MeshServiceSpecView>,
    #[serde(default)]
    status: Option<MeshServiceStatusView>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MeshServiceSpecView {
    #[serde(default)]
    kube_service: Option<KubeServiceView>,
    #[serde(default)]
    mesh: Option<ObjectRef>,
}

#[derive(Deserialize)]
struct KubeServiceView {
    #[serde(default, rename = "ref")]
    service_ref: Option<ClusterObjectRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MeshServiceStatusView {
    #[serde(default)]
    validated_traffic_policies: Option<Vec<ValidatedPolicyView>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ValidatedPolicyView {
    #[serde(default)]
    traffic_policy_spec: Option<PolicySpecView>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicySpecView {
    /// Present and not null means configured; its contents do not matter.
    #[serde(default)]
    outlier_detection: Option<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct MeshView {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    spec: Option<MeshSpecView>,
}

#[derive(Deserialize)]
struct MeshSpecView {
    #[serde(default)]
    cluster: Option<ObjectRef>,
    /// The proto `oneof` type key (`istio1_6`, `linkerd`, …); only the keys matter.
    #[serde(flatten)]
    type_keys: std::collections::BTreeMap<String, serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct VirtualMeshView {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    spec: Option<VirtualMeshSpecView>,
}

#[derive(Deserialize)]
struct VirtualMeshSpecView {
    #[serde(default)]
    meshes: Option<Vec<ObjectRef>>,
}

#[derive(Deserialize)]
struct FailoverServiceView {
    #[serde(default)]
    metadata: Lenient<Meta>,
    #[serde(default)]
    spec: Lenient<FailoverServiceSpecView>,
}

#[derive(Deserialize)]
struct FailoverServiceSpecView {
    #[serde(default)]
    hostname: Option<String>,
}

/// Decodes one object of `kind` from any serde source (a JSON value, a YAML document, a byte
/// stream).
pub fn decode_from<'de, D: Deserializer<'de>>(
    kind: Kind,
    d: D,
) -> Result<TopologyObject, D::Error> {
    Ok(match kind {
        Kind::KubernetesCluster => TopologyObject::KubernetesCluster {
            me: ClusterView::deserialize(d)?.metadata.into_ref(),
        },
        Kind::MeshService => {
            let ms = MeshServiceView::deserialize(d)?;
            let spec = ms.spec;
            let outlier_detection = ms
                .status
                .and_then(|s| s.validated_traffic_policies)
                .unwrap_or_default()
                .iter()
                .any(|p| {
                    p.traffic_policy_spec
                        .as_ref()
                        .is_some_and(|s| s.outlier_detection.is_some())
                });
            let (service_ref, mesh) = match spec {
                Some(s) => (s.kube_service.and_then(|k| k.service_ref), s.mesh),
                None => (None, None),
            };
            TopologyObject::MeshService(MeshServiceObject {
                me: ms.metadata.into_ref(),
                service_ref,
                mesh: mesh.filter(|m| !m.name.is_empty()),
                outlier_detection,
            })
        }
        Kind::Mesh => {
            let mesh = MeshView::deserialize(d)?;
            let (cluster, mesh_type) = match mesh.spec {
                Some(s) => (
                    s.cluster.map(|c| c.name).filter(|c| !c.is_empty()),
                    MeshType::from_spec_keys(s.type_keys.keys().map(String::as_str)),
                ),
                None => (None, MeshType::None),
            };
            TopologyObject::Mesh {
                me: mesh.metadata.into_ref(),
                entry: MeshEntry { mesh_type, cluster },
            }
        }
        Kind::VirtualMesh => {
            let vm = VirtualMeshView::deserialize(d)?;
            let mut members = vm.spec.and_then(|s| s.meshes).unwrap_or_default();
            members.sort();
            members.dedup();
            TopologyObject::VirtualMesh {
                me: vm.metadata.into_ref(),
                members,
            }
        }
        Kind::FailoverService => {
            let fs = FailoverServiceView::deserialize(d)?;
            TopologyObject::FailoverService {
                me: fs.metadata.0.unwrap_or_default().into_ref(),
                hostname: fs.spec.0.and_then(|s| s.hostname),
            }
        }
    })
}

/// Decodes one object of `kind` from a JSON value; the error names the object.
pub fn decode(kind: Kind, value: &Value) -> Result<TopologyObject, TopologyError> {
    decode_from(kind, value).map_err(|source| TopologyError::Malformed {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_failover_service_of_any_shape_decodes() {
        let obj = decode(
            Kind::FailoverService,
            &json!({"metadata": {"name": "f", "namespace": "n"}, "spec": {"hostname": 5, "port": "x"}}),
        )
        .unwrap();
        assert_eq!(
            obj,
            TopologyObject::FailoverService {
                me: ObjectRef {
                    name: "f".into(),
                    namespace: "n".into()
                },
                hostname: None
            }
        );
        assert!(decode(Kind::FailoverService, &json!({"spec": [1]})).is_ok());
    }

    #[test]
    fn unknown_fields_are_skipped_and_wrong_shapes_are_named() {
        let obj = decode(
            Kind::Mesh,
            &json!({"metadata": {"name": "m", "namespace": "n", "managedFields": [{"x": 1}]},
                    "spec": {"linkerd": {"a": 1}, "cluster": {"name": "c1"}}, "extra": true}),
        )
        .unwrap();
        let TopologyObject::Mesh { entry, .. } = obj else {
            panic!("{obj:?}")
        };
        assert_eq!(entry.mesh_type, MeshType::Linkerd);
        assert_eq!(entry.cluster.as_deref(), Some("c1"));
        let err = decode(
            Kind::MeshService,
            &json!({"metadata": {"name": "s", "namespace": "n"}, "spec": {"mesh": 3}}),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("MeshService n/s: "), "{err}");
    }
}
