//! What one FailoverService's verdict depends on: the topology objects the rules looked at (or
//! looked for and did not find). A change to any of them can change the verdict; a change to
//! anything else cannot.

use serde_json::Value;

use crate::api::{ClusterObjectRef, ObjectRef};
use crate::defaults;
use crate::engine::Settings;
use crate::topology::{Topology, TopologyObject};

/// One thing a verdict can depend on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dependency {
    /// A cluster name, registered or not.
    Cluster(String),
    /// A referenced Kubernetes service, found or not: a MeshService for it appearing or
    /// leaving changes the verdict.
    Service(ClusterObjectRef),
    /// The MeshService a reference resolved to.
    MeshService(ObjectRef),
    /// The parent Mesh of a resolved service, found or not.
    Mesh(ObjectRef),
    /// A VirtualMesh that held one of those Meshes.
    VirtualMesh(ObjectRef),
    /// That `mesh` was in `virtual_mesh` when the verdict was made: a change of the
    /// VirtualMesh's members re-judges only the objects whose view of it no longer holds.
    MeshIn {
        mesh: ObjectRef,
        virtual_mesh: ObjectRef,
    },
    /// The hostname the FailoverService claims.
    Hostname(String),
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The dependencies of `object` (a FailoverService as stored) in `topology`. References are
/// read after defaulting, as the rules read them; the raw values are kept too, since they are
/// what a later edit of the defaults would not change.
pub fn of(object: &Value, topology: &Topology, settings: &Settings) -> Vec<Dependency> {
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str);
    let raw = object.get("spec").cloned().unwrap_or(Value::Null);
    let mut defaulted = raw.clone();
    defaults::apply(
        &mut defaulted,
        defaults::Context {
            object_namespace: namespace,
            default_cluster: settings.default_cluster.as_deref(),
        },
    );
    let mut out = Vec::new();
    for spec in [&raw, &defaulted] {
        if let Some(host) = text(spec, "hostname") {
            out.push(Dependency::Hostname(host.to_owned()));
        }
        if let Some(cluster) = text(spec, "cluster") {
            out.push(Dependency::Cluster(cluster.to_owned()));
        }
        let refs = spec
            .get("failoverServices")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for r in refs {
            let (Some(name), Some(ns), Some(cluster)) =
                (text(r, "name"), text(r, "namespace"), text(r, "cluster"))
            else {
                continue;
            };
            out.push(Dependency::Cluster(cluster.to_owned()));
            out.push(Dependency::Service(ClusterObjectRef {
                name: name.to_owned(),
                namespace: ns.to_owned(),
                cluster: cluster.to_owned(),
            }));
            let Some(entry) = topology.service(name, ns, cluster) else {
                continue;
            };
            out.push(Dependency::MeshService(entry.mesh_service.clone()));
            if let Some(mesh) = &entry.mesh {
                out.push(Dependency::Mesh(mesh.clone()));
                for vm in topology.virtual_meshes_of(mesh) {
                    out.push(Dependency::VirtualMesh(vm.clone()));
                    out.push(Dependency::MeshIn {
                        mesh: mesh.clone(),
                        virtual_mesh: vm.clone(),
                    });
                }
            }
        }
    }
    let unique: std::collections::HashSet<Dependency> = out.into_iter().collect();
    unique.into_iter().collect()
}

/// The dependencies an applied topology object can change the verdict through, besides the
/// object itself: the service a MeshService stands for, the hostname of a FailoverService.
/// A VirtualMesh's members are compared with what each dependent saw instead
/// ([`super::reverse::ReverseIndex::affected`]), since most of its members usually stay.
pub fn touched_by(object: &TopologyObject) -> Vec<Dependency> {
    match object {
        TopologyObject::KubernetesCluster { me } => vec![Dependency::Cluster(me.name.clone())],
        TopologyObject::MeshService(ms) => {
            let mut out = vec![Dependency::MeshService(ms.me.clone())];
            out.extend(ms.service_ref.clone().map(Dependency::Service));
            out
        }
        TopologyObject::Mesh { me, .. } => vec![Dependency::Mesh(me.clone())],
        TopologyObject::VirtualMesh { .. } => Vec::new(),
        TopologyObject::FailoverService { hostname, .. } => {
            hostname.iter().cloned().map(Dependency::Hostname).collect()
        }
    }
}
