//! The reverse index against a real topology and the real dependency reader: which
//! FailoverServices each kind of change re-queues. Every step also re-judges every
//! FailoverService before and after the change with the engine and checks that each one whose
//! verdict changed was re-queued, so a missing dependency fails here even where no test names
//! the exact set.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Value, json};

use super::dependencies;
use super::reverse::{Affected, ReverseIndex, is_failover_service_gone};
use crate::api::{Kind, ObjectRef};
use crate::engine::{self, Change, Review, Settings};
use crate::topology::watch::Changed;
use crate::topology::{Topology, decode};

const NS: &str = "smh";

fn r(name: &str) -> ObjectRef {
    ObjectRef {
        name: name.to_owned(),
        namespace: NS.to_owned(),
    }
}

fn cluster(name: &str) -> Value {
    json!({"kind": "KubernetesCluster", "metadata": {"name": name, "namespace": NS}})
}

/// Mesh `name` of type `mesh_type` (the spec's `oneof` key: `istio`, `linkerd`).
fn mesh(name: &str, mesh_type: &str) -> Value {
    let mut m = json!({"kind": "Mesh", "metadata": {"name": name, "namespace": NS},
                       "spec": {"cluster": {"name": "c1", "namespace": NS}}});
    m["spec"][mesh_type] = json!({});
    m
}

/// MeshService `name` standing for `svc.shop` in `cluster`, in `mesh`, with outlier detection.
fn mesh_service(name: &str, svc: &str, cluster: &str, mesh: &str) -> Value {
    json!({"kind": "MeshService", "metadata": {"name": name, "namespace": NS},
           "spec": {"kubeService": {"ref": {"name": svc, "namespace": "shop", "cluster": cluster}},
                    "mesh": {"name": mesh, "namespace": NS}},
           "status": {"validatedTrafficPolicies": [
               {"trafficPolicySpec": {"outlierDetection": {"consecutiveErrors": 5}}}]}})
}

fn virtual_mesh(name: &str, meshes: &[&str]) -> Value {
    let meshes: Vec<Value> = meshes
        .iter()
        .map(|m| json!({"name": m, "namespace": NS}))
        .collect();
    json!({"kind": "VirtualMesh", "metadata": {"name": name, "namespace": NS},
           "spec": {"meshes": meshes}})
}

/// FailoverService `name` claiming `hostname`, failing over between `services`
/// (`(service, cluster)` pairs in namespace `shop`).
fn failover(name: &str, hostname: &str, services: &[(&str, &str)]) -> Value {
    let refs: Vec<Value> = services
        .iter()
        .map(|(s, c)| json!({"name": s, "namespace": "shop", "cluster": c}))
        .collect();
    json!({"apiVersion": "networking.smh.solo.io/v1alpha1", "kind": "FailoverService",
           "metadata": {"name": name, "namespace": NS},
           "spec": {"hostname": hostname, "namespace": "shop", "cluster": "c1",
                    "port": {"port": 9080, "name": "http", "protocol": "http"},
                    "failoverServices": refs}})
}

fn kind_of(value: &Value) -> Kind {
    Kind::ALL
        .into_iter()
        .find(|k| value["kind"] == k.as_str())
        .unwrap()
}

/// A topology, the FailoverServices in it and the controller's reverse index, changed one
/// object at a time as the watch and the controller would.
struct World {
    topology: Topology,
    reverse: ReverseIndex,
    settings: Settings,
    failover: BTreeMap<ObjectRef, Value>,
}

impl World {
    /// Two clusters, two Istio meshes and a Linkerd one, `a`, `b` and `c` in both clusters'
    /// Istio meshes, `global` holding both Istio meshes.
    fn new() -> World {
        let mut w = World {
            topology: Topology::empty(),
            reverse: ReverseIndex::default(),
            settings: Settings::default(),
            failover: BTreeMap::new(),
        };
        for v in [
            cluster("c1"),
            cluster("c2"),
            mesh("m1", "istio"),
            mesh("m2", "istio"),
            mesh("lk", "linkerd"),
            virtual_mesh("global", &["m1", "m2"]),
        ] {
            w.apply(v);
        }
        for svc in ["a", "b", "c"] {
            w.apply(mesh_service(&format!("{svc}-1"), svc, "c1", "m1"));
            w.apply(mesh_service(&format!("{svc}-2"), svc, "c2", "m2"));
        }
        w
    }

    fn verdicts(&self) -> BTreeMap<ObjectRef, String> {
        self.failover
            .iter()
            .map(|(me, object)| {
                let e = engine::evaluate(
                    &Review {
                        change: Change::Create,
                        object,
                        this: me,
                        skip_rules: None,
                    },
                    Some(&self.topology),
                    &self.settings,
                );
                let findings: Vec<String> = e
                    .findings
                    .iter()
                    .map(|j| format!("{:?} {}", j.finding.code, j.finding.message))
                    .collect();
                (me.clone(), format!("{:?} {findings:?}", e.state))
            })
            .collect()
    }

    fn judge(&mut self, fs: &ObjectRef) {
        if let Some(object) = self.failover.get(fs) {
            let deps = dependencies::of(object, &self.topology, &self.settings);
            self.reverse.record(fs, deps);
        }
    }

    /// Announces `change` (already applied to the topology) as the forwarder sees it;
    /// returns the names re-queued, after re-judging them. `own` is a FailoverService whose
    /// own watch event the controller re-judges anyway.
    fn announce(
        &mut self,
        change: Changed,
        own: Option<ObjectRef>,
        before: BTreeMap<ObjectRef, String>,
    ) -> BTreeSet<String> {
        let Affected::Some(affected) = self.reverse.affected(&change) else {
            panic!("a single object's change re-queued everything");
        };
        if let Some(gone) = is_failover_service_gone(&change) {
            self.reverse.forget(gone);
        }
        let after = self.verdicts();
        for (fs, verdict) in &after {
            let changed = before.get(fs) != Some(verdict);
            assert!(
                !changed || affected.contains(fs) || own.as_ref() == Some(fs),
                "{fs}'s verdict changed without a re-queue: {:?} -> {verdict}",
                before.get(fs)
            );
        }
        for fs in affected.iter().chain(own.iter()) {
            self.judge(fs);
        }
        affected.into_iter().map(|fs| fs.name).collect()
    }

    fn apply(&mut self, value: Value) -> BTreeSet<String> {
        let before = self.verdicts();
        let kind = kind_of(&value);
        let object = decode::decode(kind, &value).unwrap();
        let me = object.me().clone();
        self.topology.apply(object.clone());
        let own = (kind == Kind::FailoverService).then(|| {
            self.failover.insert(me.clone(), value);
            me.clone()
        });
        let change = Changed::Object {
            kind,
            object: me,
            applied: Some(Box::new(object)),
        };
        self.announce(change, own, before)
    }

    fn delete(&mut self, kind: Kind, name: &str) -> BTreeSet<String> {
        let before = self.verdicts();
        let me = r(name);
        self.topology.delete(kind, &me);
        if kind == Kind::FailoverService {
            self.failover.remove(&me);
        }
        let change = Changed::Object {
            kind,
            object: me,
            applied: None,
        };
        self.announce(change, None, before)
    }

    fn state(&self, fs: &str) -> String {
        self.verdicts().remove(&r(fs)).unwrap()
    }
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// `x` over `a` in both meshes, `y` over `b` in both, `z` over `c` in c1 alone.
fn three() -> World {
    let mut w = World::new();
    w.apply(failover("x", "x.failover", &[("a", "c1"), ("a", "c2")]));
    w.apply(failover("y", "y.failover", &[("b", "c1"), ("b", "c2")]));
    w.apply(failover("z", "z.failover", &[("c", "c1")]));
    assert!(w.state("x").starts_with("Accepted"), "{}", w.state("x"));
    w
}

#[test]
fn a_mesh_service_change_requeues_the_objects_that_resolved_to_it() {
    let mut w = three();
    let mut relabelled = mesh_service("a-2", "a", "c2", "m2");
    relabelled["metadata"]["labels"] = json!({"team": "shop"});
    assert_eq!(w.apply(relabelled), names(&["x"]));
    let mut no_outlier = mesh_service("b-1", "b", "c1", "m1");
    no_outlier["status"] = json!({});
    assert_eq!(w.apply(no_outlier), names(&["y"]));
    assert!(w.state("y").contains("OutlierDetectionMissing"));
}

#[test]
fn a_mesh_service_removed_requeues_its_dependents_and_one_appearing_its_seekers() {
    let mut w = three();
    assert_eq!(w.delete(Kind::MeshService, "a-1"), names(&["x"]));
    assert!(w.state("x").contains("ServiceNotFound"));
    // Nothing resolves to it any more: only a MeshService for that service finds x again.
    assert_eq!(w.delete(Kind::MeshService, "c-2"), names(&[]));
    assert_eq!(
        w.apply(mesh_service("a-1bis", "a", "c1", "m1")),
        names(&["x"])
    );
    assert!(w.state("x").starts_with("Accepted"));
}

#[test]
fn a_mesh_service_that_changes_its_service_requeues_both_sides() {
    let mut w = three();
    // a-1 now stands for b in c1: x loses its service, y's ref b.c1 gains a claimant.
    assert_eq!(
        w.apply(mesh_service("a-1", "b", "c1", "m1")),
        names(&["x", "y"])
    );
    assert!(w.state("x").contains("ServiceNotFound"));
    // And moving it to another mesh re-queues the objects now resolved through it.
    assert_eq!(w.apply(mesh_service("a-1", "b", "c1", "lk")), names(&["y"]));
}

#[test]
fn a_mesh_change_requeues_the_objects_with_a_service_in_it() {
    let mut w = three();
    assert_eq!(w.apply(mesh("m2", "linkerd")), names(&["x", "y"]));
    assert!(w.state("x").contains("MeshNotIstio"));
    assert_eq!(w.delete(Kind::Mesh, "m2"), names(&["x", "y"]));
    assert!(w.state("x").contains("MeshNotFound"));
    assert_eq!(w.apply(mesh("m2", "istio")), names(&["x", "y"]));
    assert_eq!(w.apply(mesh("m1", "istio")), names(&["x", "y", "z"]));
    assert_eq!(w.apply(mesh("lk", "linkerd")), names(&[]));
}

#[test]
fn a_mesh_leaving_a_virtual_mesh_requeues_only_the_objects_using_that_mesh() {
    let mut w = three();
    w.apply(failover("on-m2", "m2.failover", &[("b", "c2")]));
    // z's one service is in m1, which stays.
    assert_eq!(
        w.apply(virtual_mesh("global", &["m1"])),
        names(&["x", "y", "on-m2"])
    );
    assert!(w.state("x").contains("MeshNotInVirtualMesh"));
    assert!(w.state("on-m2").starts_with("Accepted"));
    // Back again: the same objects, and re-applying it unchanged re-queues none.
    assert_eq!(
        w.apply(virtual_mesh("global", &["m1", "m2"])),
        names(&["x", "y", "on-m2"])
    );
    assert!(w.state("x").starts_with("Accepted"));
    assert_eq!(w.apply(virtual_mesh("global", &["m1", "m2"])), names(&[]));
}

#[test]
fn a_mesh_joining_a_virtual_mesh_requeues_only_the_objects_using_that_mesh() {
    let mut w = three();
    assert_eq!(
        w.apply(virtual_mesh("global", &["m1", "m2", "lk"])),
        names(&[])
    );
    w.apply(mesh("m3", "istio"));
    w.apply(mesh_service("a-3", "a", "c3", "m3"));
    w.apply(failover(
        "wide",
        "wide.failover",
        &[("a", "c1"), ("a", "c3")],
    ));
    assert!(w.state("wide").contains("MeshNotInVirtualMesh"));
    assert_eq!(
        w.apply(virtual_mesh("global", &["lk", "m1", "m2", "m3"])),
        names(&["wide"])
    );
    assert!(w.state("wide").starts_with("Accepted"));
}

#[test]
fn a_new_or_deleted_virtual_mesh_requeues_the_objects_on_its_meshes() {
    let mut w = three();
    assert_eq!(
        w.apply(virtual_mesh("pair", &["m2", "lk"])),
        names(&["x", "y"])
    );
    assert_eq!(w.delete(Kind::VirtualMesh, "pair"), names(&["x", "y"]));
    assert_eq!(
        w.delete(Kind::VirtualMesh, "global"),
        names(&["x", "y", "z"])
    );
    assert!(w.state("x").contains("MeshNotInVirtualMesh"));
    assert_eq!(w.delete(Kind::VirtualMesh, "never-existed"), names(&[]));
    assert_eq!(
        w.apply(virtual_mesh("global", &["m1", "m2"])),
        names(&["x", "y", "z"])
    );
}

#[test]
fn a_cluster_change_requeues_the_objects_naming_it() {
    let mut w = three();
    // Every object names c1 (spec.cluster); x and y name c2 in a reference.
    assert_eq!(w.delete(Kind::KubernetesCluster, "c2"), names(&["x", "y"]));
    assert_eq!(
        w.delete(Kind::KubernetesCluster, "c1"),
        names(&["x", "y", "z"])
    );
    assert!(w.state("z").contains("ClusterNotRegistered"));
    assert_eq!(w.apply(cluster("c1")), names(&["x", "y", "z"]));
    assert_eq!(w.apply(cluster("c9")), names(&[]));
}

#[test]
fn the_default_cluster_is_a_dependency_too() {
    let mut w = World::new();
    w.settings.default_cluster = Some("c2".to_owned());
    let mut defaulted = failover("d", "d.failover", &[("a", "c1")]);
    defaulted["spec"].as_object_mut().unwrap().remove("cluster");
    w.apply(defaulted);
    assert_eq!(w.delete(Kind::KubernetesCluster, "c2"), names(&["d"]));
    assert!(
        w.state("d").contains("ClusterNotRegistered"),
        "{}",
        w.state("d")
    );
}

#[test]
fn a_failover_service_requeues_the_others_sharing_its_hostname() {
    let mut w = three();
    // A new claimant of x's hostname: x is re-judged (CONFLICT), never the new one itself.
    assert_eq!(
        w.apply(failover("x2", "x.failover", &[("a", "c1")])),
        names(&["x"])
    );
    assert!(w.state("x").starts_with("Conflict"));
    // x2 moves to y's hostname: both the old and the new sharers.
    assert_eq!(
        w.apply(failover("x2", "y.failover", &[("a", "c1")])),
        names(&["x", "y"])
    );
    assert!(w.state("x").starts_with("Accepted"));
    // Deleted: the one still sharing it.
    assert_eq!(w.delete(Kind::FailoverService, "x2"), names(&["y"]));
    assert!(w.state("y").starts_with("Accepted"));
    // A FailoverService elsewhere re-queues nobody.
    assert_eq!(w.apply(failover("lone", "lone.failover", &[])), names(&[]));
}

#[test]
fn an_object_that_changes_its_references_is_requeued_by_the_new_ones_only() {
    let mut w = three();
    // x now fails over between b's services instead of a's.
    w.apply(failover("x", "x.failover", &[("b", "c1"), ("b", "c2")]));
    assert_eq!(
        w.apply(mesh_service("a-1", "a", "c1", "lk")),
        names(&[]),
        "x no longer depends on a-1"
    );
    assert_eq!(
        w.apply(mesh_service("b-1", "b", "c1", "lk")),
        names(&["x", "y"])
    );
}

#[test]
fn a_deleted_object_is_forgotten() {
    let mut w = three();
    assert_eq!(w.delete(Kind::FailoverService, "x"), names(&[]));
    assert_eq!(w.reverse.len(), 2);
    assert_eq!(w.apply(mesh_service("a-1", "a", "c1", "lk")), names(&[]));
    assert!(!w.reverse.all().any(|fs| fs.name == "x"));
}

#[test]
fn unrelated_objects_requeue_nothing() {
    let mut w = three();
    assert_eq!(w.apply(cluster("c7")), names(&[]));
    assert_eq!(w.apply(mesh("m7", "istio")), names(&[]));
    assert_eq!(w.apply(mesh_service("q-1", "q", "c1", "m1")), names(&[]));
    assert_eq!(w.apply(virtual_mesh("other", &["m7"])), names(&[]));
}

#[test]
fn a_relist_requeues_everything() {
    let w = three();
    assert_eq!(
        w.reverse.affected(&Changed::Relisted {
            kind: Kind::VirtualMesh
        }),
        Affected::All
    );
    let all: HashSet<&ObjectRef> = w.reverse.all().collect();
    assert_eq!(all.len(), 3);
}
