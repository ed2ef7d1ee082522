use std::sync::Arc;

use serde_json::Value;

use super::cow_map::{CowMap, Write, join_key, key_is};
use super::decode::{MeshServiceObject, TopologyObject, decode};
use crate::api::{Kind, MeshType, ObjectRef};

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
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
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

/// The topology index. Build one with [`TopologyBuilder`], or keep one up to date with the
/// per-kind `apply_*`/`delete_*` pairs; cloning it is O(1) (see `cow_map`), so a writer can
/// publish a snapshot after every change.
///
/// Every object is keyed by its own namespace and name, and each kind's maps are derived from
/// that kind's objects alone, so applying or deleting one object touches only its own kind.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    clusters: Clusters,
    services: Services,
    meshes: Meshes,
    virtual_meshes: VirtualMeshes,
    failover_services: FailoverServices,
}

#[derive(Clone, Debug, Default)]
struct Clusters {
    /// Every KubernetesCluster object.
    objects: CowMap<()>,
    /// Cluster name → how many objects register it (one per namespace at most).
    names: CowMap<u32>,
}

#[derive(Clone, Debug, Default)]
struct Services {
    /// MeshService object → the service-ref key it claims, if any.
    objects: CowMap<Option<Arc<str>>>,
    /// Service-ref key → every MeshService claiming it, sorted by object; the first answers.
    by_ref: CowMap<Arc<[ServiceEntry]>>,
}

#[derive(Clone, Debug, Default)]
struct Meshes {
    by_key: CowMap<Arc<MeshEntry>>,
}

#[derive(Clone, Debug, Default)]
struct VirtualMeshes {
    /// VirtualMesh object → its member meshes.
    members: CowMap<Arc<[ObjectRef]>>,
    /// Mesh → the VirtualMeshes listing it, sorted.
    by_mesh: CowMap<Arc<[ObjectRef]>>,
}

#[derive(Clone, Debug, Default)]
struct FailoverServices {
    /// FailoverService object → the hostname it claims, if any.
    hosts: CowMap<Option<Arc<str>>>,
    /// Hostname → the FailoverServices claiming it, sorted.
    by_host: CowMap<Arc<[ObjectRef]>>,
}

/// An object's key in the maps: its name and namespace. The maps join a key's parts with a
/// NUL byte, which cannot appear in a Kubernetes name, so the key is unambiguous for every real
/// object; no string is built to look one up.
fn object_key(me: &ObjectRef) -> [&str; 2] {
    [&me.name, &me.namespace]
}

/// Adds `item` to the sorted list at `k`, replacing the entry `same` matches.
fn list_upsert<T: Clone + Ord>(
    map: &mut CowMap<Arc<[T]>>,
    k: &[&str],
    item: T,
    same: impl Fn(&T, &T) -> bool,
) {
    map.update(k, |list| {
        let others = list.map_or(&[][..], |l| &**l);
        if others.iter().all(|t| same(t, &item)) {
            // Alone in its list (by far the usual case): one allocation, nothing cloned.
            return Write::Set(Arc::from([item]));
        }
        let mut list: Vec<T> = others.iter().filter(|t| !same(t, &item)).cloned().collect();
        let at = list.partition_point(|t| *t < item);
        list.insert(at, item);
        Write::Set(list.into())
    });
}

/// Removes the entries `same` matches from the list at `k`, and the list when it empties.
fn list_remove<T: Clone>(map: &mut CowMap<Arc<[T]>>, k: &[&str], same: impl Fn(&T) -> bool) {
    map.update(k, |list| {
        let Some(list) = list else {
            return Write::Keep;
        };
        if !list.iter().any(&same) {
            return Write::Keep;
        }
        let rest: Vec<T> = list.iter().filter(|t| !same(t)).cloned().collect();
        if rest.is_empty() {
            Write::Remove
        } else {
            Write::Set(rest.into())
        }
    });
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
        self.clusters.names.contains_key(&[cluster])
    }

    /// The MeshService that stands for the Kubernetes service `name.namespace` in `cluster`.
    /// When several claim it, the first by namespace and name answers.
    pub fn service(&self, name: &str, namespace: &str, cluster: &str) -> Option<&ServiceEntry> {
        self.services
            .by_ref
            .get(&[name, namespace, cluster])
            .and_then(|claimants| claimants.first())
    }

    pub fn mesh(&self, mesh: &ObjectRef) -> Option<&MeshEntry> {
        self.meshes.by_key.get(&object_key(mesh)).map(|m| &**m)
    }

    /// The VirtualMeshes that list `mesh`, sorted.
    pub fn virtual_meshes_of(&self, mesh: &ObjectRef) -> &[ObjectRef] {
        self.virtual_meshes
            .by_mesh
            .get(&object_key(mesh))
            .map_or(&[], |l| &**l)
    }

    /// The FailoverServices that claim `hostname`, sorted.
    pub fn hostname_owners(&self, hostname: &str) -> &[ObjectRef] {
        self.failover_services
            .by_host
            .get(&[hostname])
            .map_or(&[], |l| &**l)
    }

    /// How many objects of `kind` the index holds.
    pub fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::KubernetesCluster => self.clusters.objects.len(),
            Kind::MeshService => self.services.objects.len(),
            Kind::Mesh => self.meshes.by_key.len(),
            Kind::VirtualMesh => self.virtual_meshes.members.len(),
            Kind::FailoverService => self.failover_services.hosts.len(),
        }
    }

    /// Adds or replaces one object.
    pub fn apply(&mut self, object: TopologyObject) {
        match object {
            TopologyObject::KubernetesCluster { me } => self.apply_kubernetes_cluster(&me),
            TopologyObject::MeshService(ms) => self.apply_mesh_service(ms),
            TopologyObject::Mesh { me, entry } => self.apply_mesh(&me, entry),
            TopologyObject::VirtualMesh { me, members } => self.apply_virtual_mesh(&me, members),
            TopologyObject::FailoverService { me, hostname } => {
                self.apply_failover_service(&me, hostname.as_deref())
            }
        }
    }

    /// Removes one object; an object the index does not hold is ignored.
    pub fn delete(&mut self, kind: Kind, me: &ObjectRef) {
        match kind {
            Kind::KubernetesCluster => self.delete_kubernetes_cluster(me),
            Kind::MeshService => self.delete_mesh_service(me),
            Kind::Mesh => self.delete_mesh(me),
            Kind::VirtualMesh => self.delete_virtual_mesh(me),
            Kind::FailoverService => self.delete_failover_service(me),
        }
    }

    /// Replaces everything of `kind` with what `other` holds of it (a re-list's result).
    pub fn replace_kind(&mut self, kind: Kind, other: &Topology) {
        match kind {
            Kind::KubernetesCluster => self.clusters = other.clusters.clone(),
            Kind::MeshService => self.services = other.services.clone(),
            Kind::Mesh => self.meshes = other.meshes.clone(),
            Kind::VirtualMesh => self.virtual_meshes = other.virtual_meshes.clone(),
            Kind::FailoverService => self.failover_services = other.failover_services.clone(),
        }
    }

    pub fn apply_kubernetes_cluster(&mut self, me: &ObjectRef) {
        // The name is part of the object's key, so a modification cannot change it.
        if self.clusters.objects.insert(&object_key(me), ()).is_none() {
            self.clusters.names.update(&[&me.name], |n| {
                Write::Set(n.map_or(1, |n| n.saturating_add(1)))
            });
        }
    }

    pub fn delete_kubernetes_cluster(&mut self, me: &ObjectRef) {
        if self.clusters.objects.remove(&object_key(me)).is_some() {
            self.clusters.names.update(&[&me.name], |n| match n {
                Some(&n) if n > 1 => Write::Set(n - 1),
                _ => Write::Remove,
            });
        }
    }

    pub fn apply_mesh_service(&mut self, ms: MeshServiceObject) {
        let ref_key = ms
            .service_ref
            .as_ref()
            .map(|r| [r.name.as_str(), r.namespace.as_str(), r.cluster.as_str()]);
        // Most updates (status, mesh) keep the service ref: then the object's entry stays as
        // it is, and only its claim below is replaced — one map written instead of two.
        let same_ref = matches!(
            (self.services.objects.get(&object_key(&ms.me)), &ref_key),
            (Some(Some(old)), Some(new)) if key_is(old, new)
        );
        if !same_ref {
            self.delete_mesh_service(&ms.me);
            self.services
                .objects
                .insert(&object_key(&ms.me), ref_key.as_ref().map(|k| join_key(k)));
        }
        if let Some(ref_key) = ref_key {
            let entry = ServiceEntry {
                mesh_service: ms.me,
                mesh: ms.mesh,
                outlier_detection: ms.outlier_detection,
            };
            list_upsert(&mut self.services.by_ref, &ref_key, entry, |a, b| {
                a.mesh_service == b.mesh_service
            });
        }
    }

    pub fn delete_mesh_service(&mut self, me: &ObjectRef) {
        if let Some(Some(ref_key)) = self.services.objects.remove(&object_key(me)) {
            list_remove(&mut self.services.by_ref, &[&ref_key], |e| {
                e.mesh_service == *me
            });
        }
    }

    pub fn apply_mesh(&mut self, me: &ObjectRef, entry: MeshEntry) {
        self.meshes.by_key.insert(&object_key(me), Arc::new(entry));
    }

    pub fn delete_mesh(&mut self, me: &ObjectRef) {
        self.meshes.by_key.remove(&object_key(me));
    }

    /// `members` must be sorted and without duplicates (as [`decode`](super::decode) gives
    /// them).
    pub fn apply_virtual_mesh(&mut self, me: &ObjectRef, members: Vec<ObjectRef>) {
        self.delete_virtual_mesh(me);
        for m in &members {
            list_upsert(
                &mut self.virtual_meshes.by_mesh,
                &object_key(m),
                me.clone(),
                |a, b| a == b,
            );
        }
        self.virtual_meshes
            .members
            .insert(&object_key(me), members.into());
    }

    pub fn delete_virtual_mesh(&mut self, me: &ObjectRef) {
        if let Some(old) = self.virtual_meshes.members.remove(&object_key(me)) {
            for m in old.iter() {
                list_remove(&mut self.virtual_meshes.by_mesh, &object_key(m), |v| {
                    v == me
                });
            }
        }
    }

    pub fn apply_failover_service(&mut self, me: &ObjectRef, hostname: Option<&str>) {
        self.delete_failover_service(me);
        self.failover_services
            .hosts
            .insert(&object_key(me), hostname.map(Arc::from));
        if let Some(host) = hostname {
            list_upsert(
                &mut self.failover_services.by_host,
                &[host],
                me.clone(),
                |a, b| a == b,
            );
        }
    }

    pub fn delete_failover_service(&mut self, me: &ObjectRef) {
        if let Some(Some(host)) = self.failover_services.hosts.remove(&object_key(me)) {
            list_remove(&mut self.failover_services.by_host, &[&host], |v| v == me);
        }
    }
}

/// Collects topology objects, then freezes them into a [`Topology`].
#[derive(Debug, Default)]
pub struct TopologyBuilder {
    topology: Topology,
}

impl From<Topology> for TopologyBuilder {
    /// Continues from an existing topology (one listed from the cluster, for instance).
    fn from(topology: Topology) -> TopologyBuilder {
        TopologyBuilder { topology }
    }
}

impl TopologyBuilder {
    /// Adds (or replaces) one object of a known kind. Objects of other kinds are the caller's
    /// to skip (see [`Kind::from_type_meta`]).
    pub fn insert(&mut self, kind: Kind, value: &Value) -> Result<(), TopologyError> {
        self.topology.apply(decode(kind, value)?);
        Ok(())
    }

    /// Adds (or replaces) one object decoded beforehand.
    pub fn apply(&mut self, object: TopologyObject) {
        self.topology.apply(object);
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

#[cfg(test)]
mod apply_delete_tests {
    use super::*;
    use crate::api::ClusterObjectRef;

    fn r(ns: &str, name: &str) -> ObjectRef {
        ObjectRef {
            name: name.into(),
            namespace: ns.into(),
        }
    }

    fn ms(name: &str, svc: &str) -> MeshServiceObject {
        MeshServiceObject {
            me: r("smh", name),
            service_ref: Some(ClusterObjectRef {
                name: svc.into(),
                namespace: "ns".into(),
                cluster: "c1".into(),
            }),
            mesh: Some(r("smh", "m1")),
            outlier_detection: false,
        }
    }

    #[test]
    fn a_modified_mesh_service_releases_its_old_service_ref() {
        let mut t = Topology::empty();
        t.apply_mesh_service(ms("a", "old"));
        t.apply_mesh_service(ms("a", "new"));
        assert!(t.service("old", "ns", "c1").is_none());
        assert_eq!(t.service("new", "ns", "c1").unwrap().mesh_service.name, "a");
        assert_eq!(t.count(Kind::MeshService), 1);
    }

    #[test]
    fn an_update_keeping_the_service_ref_replaces_the_entry_in_place() {
        let mut t = Topology::empty();
        t.apply_mesh_service(ms("b", "svc"));
        t.apply_mesh_service(ms("a", "svc"));
        let published = t.clone();
        let mut updated = ms("a", "svc");
        updated.outlier_detection = true;
        t.apply_mesh_service(updated);
        let first = t.service("svc", "ns", "c1").unwrap();
        assert_eq!(first.mesh_service.name, "a");
        assert!(first.outlier_detection);
        assert!(
            !published
                .service("svc", "ns", "c1")
                .unwrap()
                .outlier_detection
        );
        assert_eq!(t.count(Kind::MeshService), 2);
        t.delete_mesh_service(&r("smh", "a"));
        assert_eq!(t.service("svc", "ns", "c1").unwrap().mesh_service.name, "b");
    }

    #[test]
    fn two_mesh_services_claiming_one_ref_survive_each_others_delete() {
        let mut t = Topology::empty();
        t.apply_mesh_service(ms("b", "svc"));
        t.apply_mesh_service(ms("a", "svc"));
        assert_eq!(t.service("svc", "ns", "c1").unwrap().mesh_service.name, "a");
        t.delete_mesh_service(&r("smh", "a"));
        assert_eq!(t.service("svc", "ns", "c1").unwrap().mesh_service.name, "b");
        t.delete_mesh_service(&r("smh", "a"));
        assert_eq!(t.service("svc", "ns", "c1").unwrap().mesh_service.name, "b");
        t.delete_mesh_service(&r("smh", "b"));
        assert!(t.service("svc", "ns", "c1").is_none());
        assert_eq!(t.count(Kind::MeshService), 0);
    }

    #[test]
    fn virtual_mesh_membership_follows_apply_and_delete() {
        let mut t = Topology::empty();
        t.apply_virtual_mesh(&r("smh", "vm1"), vec![r("smh", "m1"), r("smh", "m2")]);
        t.apply_virtual_mesh(&r("smh", "vm2"), vec![r("smh", "m1")]);
        assert_eq!(
            t.virtual_meshes_of(&r("smh", "m1")),
            &[r("smh", "vm1"), r("smh", "vm2")]
        );
        // m1 leaves vm1.
        t.apply_virtual_mesh(&r("smh", "vm1"), vec![r("smh", "m2")]);
        assert_eq!(t.virtual_meshes_of(&r("smh", "m1")), &[r("smh", "vm2")]);
        t.delete_virtual_mesh(&r("smh", "vm2"));
        assert!(t.virtual_meshes_of(&r("smh", "m1")).is_empty());
        assert_eq!(t.virtual_meshes_of(&r("smh", "m2")), &[r("smh", "vm1")]);
    }

    #[test]
    fn a_hostname_is_freed_by_delete_and_by_a_changed_hostname() {
        let mut t = Topology::empty();
        t.apply_failover_service(&r("a", "f"), Some("h1"));
        t.apply_failover_service(&r("b", "g"), Some("h1"));
        assert_eq!(t.hostname_owners("h1"), &[r("a", "f"), r("b", "g")]);
        t.apply_failover_service(&r("a", "f"), Some("h2"));
        assert_eq!(t.hostname_owners("h1"), &[r("b", "g")]);
        t.delete_failover_service(&r("b", "g"));
        assert!(t.hostname_owners("h1").is_empty());
        assert_eq!(t.count(Kind::FailoverService), 1);
    }

    #[test]
    fn a_cluster_name_stays_registered_while_any_object_registers_it() {
        let mut t = Topology::empty();
        t.apply_kubernetes_cluster(&r("a", "c1"));
        t.apply_kubernetes_cluster(&r("b", "c1"));
        t.apply_kubernetes_cluster(&r("b", "c1"));
        t.delete_kubernetes_cluster(&r("a", "c1"));
        assert!(t.is_cluster_registered("c1"));
        t.delete_kubernetes_cluster(&r("b", "c1"));
        assert!(!t.is_cluster_registered("c1"));
    }

    #[test]
    fn a_published_snapshot_does_not_see_later_changes() {
        let mut t = Topology::empty();
        t.apply_mesh(
            &r("smh", "m1"),
            MeshEntry {
                mesh_type: MeshType::Istio,
                cluster: None,
            },
        );
        let published = t.clone();
        t.delete_mesh(&r("smh", "m1"));
        assert!(published.mesh(&r("smh", "m1")).is_some());
        assert!(t.mesh(&r("smh", "m1")).is_none());
    }

    #[test]
    fn replace_kind_swaps_one_kind_only() {
        let mut live = Topology::empty();
        live.apply_kubernetes_cluster(&r("smh", "c1"));
        live.apply_failover_service(&r("a", "f"), Some("h"));
        let mut relisted = Topology::empty();
        relisted.apply_kubernetes_cluster(&r("smh", "c2"));
        live.replace_kind(Kind::KubernetesCluster, &relisted);
        assert!(!live.is_cluster_registered("c1") && live.is_cluster_registered("c2"));
        assert_eq!(live.hostname_owners("h"), &[r("a", "f")]);
    }
}
