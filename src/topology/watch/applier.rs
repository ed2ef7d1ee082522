//! The single writer of the live topology: applies each watcher event to its own copy of the
//! index and publishes a snapshot, so requests never wait for an event and always read one
//! consistent state.

use std::sync::Arc;

use kube::runtime::watcher;
use tokio::sync::{broadcast, watch};

use super::metrics::WatchMetrics;
use super::object::WatchedObject;
use crate::api::{Kind, ObjectRef};
use crate::topology::{SharedTopology, Topology, TopologyObject};

/// What one kind's watcher reported. Events pass through a channel by value; boxing them
/// would add an allocation per event for no gain.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Update {
    Event(watcher::Event<WatchedObject>),
    Error(watcher::Error),
}

/// "Object X of kind K changed": what a controller re-queues on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Changed {
    /// One object was added, modified or deleted.
    Object {
        kind: Kind,
        object: ObjectRef,
        /// The version now in the index; `None` when the object was deleted or left out as
        /// malformed. Lets a subscriber see what the new version refers to.
        applied: Option<Box<crate::topology::TopologyObject>>,
    },
    /// The whole kind was (re)listed: anything may have changed.
    Relisted { kind: Kind },
}

#[derive(Debug, Default)]
struct KindState {
    /// The index being rebuilt by a (re)list, swapped in at its end.
    relist: Option<Topology>,
    /// Completed a first list (or found the CRD missing).
    synced: bool,
    /// The CRD-missing warning was logged; later 404s are quiet.
    missing_logged: bool,
}

pub(super) struct Applier {
    live: Topology,
    shared: SharedTopology,
    kinds: [KindState; Kind::ALL.len()],
    metrics: WatchMetrics,
    changes: broadcast::Sender<Changed>,
    /// Changes applied but not yet published: announced only once readers can see them, so a
    /// subscriber that reacts at once reads the new state.
    pending: Vec<Changed>,
    synced: watch::Sender<bool>,
    /// Snapshots replaced by a publish, freed by [`Applier::release_retired`] once no reader
    /// holds them: freeing a snapshot's copies is work neither the next event nor a request
    /// should wait for.
    retired: Vec<Arc<Topology>>,
}

/// A 404 on the list: the kind's CRD is not installed.
fn is_not_installed(error: &watcher::Error) -> bool {
    matches!(error, watcher::Error::InitialListFailed(kube::Error::Api(s)) if s.code == 404)
}

fn slot(kind: Kind) -> usize {
    kind as usize
}

impl Applier {
    pub(super) fn new(
        shared: SharedTopology,
        metrics: WatchMetrics,
        changes: broadcast::Sender<Changed>,
        synced: watch::Sender<bool>,
    ) -> Applier {
        Applier {
            live: shared.load().as_ref().clone(),
            shared,
            kinds: Default::default(),
            metrics,
            changes,
            pending: Vec::new(),
            synced,
            retired: Vec::new(),
        }
    }

    fn state(&mut self, kind: Kind) -> Option<&mut KindState> {
        self.kinds.get_mut(slot(kind))
    }

    /// Publishes the live index to readers (an O(1) clone).
    pub(super) fn publish(&mut self) {
        self.retired.push(self.shared.swap(self.live.clone()));
        for change in self.pending.drain(..) {
            // No subscriber is fine: nothing is waiting for changes.
            let _ = self.changes.send(change);
        }
    }

    /// Frees the replaced snapshots no reader holds any more; returns whether some are still
    /// held (to be released later).
    pub(super) fn release_retired(&mut self) -> bool {
        self.retired.retain(|t| Arc::strong_count(t) > 1);
        !self.retired.is_empty()
    }

    fn notify(&mut self, change: Changed) {
        if self.changes.receiver_count() > 0 {
            self.pending.push(change);
        }
    }

    /// Applies one update; returns whether the live index changed (and needs publishing).
    pub(super) fn handle(&mut self, kind: Kind, update: Update) -> bool {
        match update {
            Update::Event(event) => self.event(kind, event),
            Update::Error(error) => self.error(kind, &error),
        }
    }

    fn event(&mut self, kind: Kind, event: watcher::Event<WatchedObject>) -> bool {
        match event {
            watcher::Event::Init => {
                if let Some(state) = self.state(kind) {
                    state.relist = Some(Topology::empty());
                }
                false
            }
            watcher::Event::InitApply(obj) => {
                self.metrics.event(kind);
                let decoded = self.decode(kind, obj);
                if let (Some(state), Ok(object)) = (self.state(kind), decoded) {
                    state
                        .relist
                        .get_or_insert_with(Topology::empty)
                        .apply(object);
                }
                false
            }
            watcher::Event::InitDone => {
                let Some(state) = self.state(kind) else {
                    return false;
                };
                let listed = state.relist.take().unwrap_or_default();
                let first = !state.synced;
                state.synced = true;
                state.missing_logged = false;
                self.live.replace_kind(kind, &listed);
                self.metrics.listed(kind);
                if first {
                    tracing::info!(%kind, objects = self.live.count(kind), "listed");
                } else {
                    tracing::debug!(%kind, objects = self.live.count(kind), "re-listed");
                }
                self.update_synced();
                self.notify(Changed::Relisted { kind });
                // A list's pages (the response text, several MB for a large kind) were freed
                // by now; return them to the system rather than keep them resident.
                crate::release_free_memory();
                true
            }
            watcher::Event::Apply(obj) => {
                self.metrics.event(kind);
                let me = obj.object_ref();
                let applied = match self.decode(kind, obj) {
                    Ok(object) => {
                        // The copy is for subscribers only.
                        let announced =
                            (self.changes.receiver_count() > 0).then(|| Box::new(object.clone()));
                        self.live.apply(object);
                        announced
                    }
                    // A version that cannot be read must not leave the previous one judging.
                    Err(()) => {
                        self.live.delete(kind, &me);
                        None
                    }
                };
                self.notify(Changed::Object {
                    kind,
                    object: me,
                    applied,
                });
                true
            }
            watcher::Event::Delete(obj) => {
                self.metrics.event(kind);
                let me = obj.object_ref();
                self.live.delete(kind, &me);
                self.notify(Changed::Object {
                    kind,
                    object: me,
                    applied: None,
                });
                true
            }
        }
    }

    fn decode(&self, kind: Kind, obj: WatchedObject) -> Result<TopologyObject, ()> {
        obj.decoded.map_err(|error| {
            self.metrics.malformed(kind);
            let me = ObjectRef {
                name: obj.metadata.name.unwrap_or_default(),
                namespace: obj.metadata.namespace.unwrap_or_default(),
            };
            tracing::warn!(%kind, object = %me, %error, "leaving a malformed object out of the topology");
        })
    }

    fn error(&mut self, kind: Kind, error: &watcher::Error) -> bool {
        self.metrics.error(kind);
        let Some(state) = self.kinds.get_mut(slot(kind)) else {
            return false;
        };
        state.relist = None;
        if !is_not_installed(error) {
            // The watcher retries with backoff; until then requests are answered from the
            // last state, and readiness is not withdrawn.
            tracing::warn!(%kind, %error, "watch failed; retrying with backoff, serving the last known state");
            return false;
        }
        // No CRD, no objects: the kind counts as listed and empty, so that a cluster without
        // (part of) Service Mesh Hub installed still becomes ready. The watcher keeps retrying,
        // so installing the CRD later needs no restart.
        if !state.missing_logged {
            state.missing_logged = true;
            tracing::warn!(
                %kind,
                "the {} resource is not installed (404); treating it as empty and retrying",
                kind.plural()
            );
        } else {
            tracing::debug!(%kind, "the resource is still not installed");
        }
        let first = !state.synced;
        state.synced = true;
        let had_objects = self.live.count(kind) > 0;
        self.live.replace_kind(kind, &Topology::empty());
        if first {
            self.metrics.listed(kind);
            self.update_synced();
        }
        if had_objects {
            self.notify(Changed::Relisted { kind });
        }
        had_objects
    }

    fn update_synced(&self) {
        let all = self.kinds.iter().all(|k| k.synced);
        self.synced.send_if_modified(|synced| {
            let changed = *synced != all;
            *synced = all;
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn applier() -> (Applier, SharedTopology, watch::Receiver<bool>) {
        let shared = SharedTopology::new(Topology::empty());
        let (tx, rx) = watch::channel(false);
        let (changes, _) = broadcast::channel(16);
        (
            Applier::new(shared.clone(), WatchMetrics::new(), changes, tx),
            shared,
            rx,
        )
    }

    fn obj(kind: Kind, value: serde_json::Value) -> WatchedObject {
        WatchedObject::from_json(kind, &value.to_string())
    }

    fn cluster(name: &str) -> WatchedObject {
        obj(
            Kind::KubernetesCluster,
            json!({"metadata": {"name": name, "namespace": "smh"}}),
        )
    }

    fn ev(e: watcher::Event<WatchedObject>) -> Update {
        Update::Event(e)
    }

    #[test]
    fn a_relist_is_swapped_in_whole_at_its_end() {
        let (mut a, shared, _) = applier();
        let k = Kind::KubernetesCluster;
        a.handle(k, ev(watcher::Event::Init));
        a.handle(k, ev(watcher::Event::InitApply(cluster("c1"))));
        assert!(a.handle(k, ev(watcher::Event::InitDone)));
        a.publish();
        assert!(shared.load().is_cluster_registered("c1"));
        a.handle(k, ev(watcher::Event::Init));
        a.handle(k, ev(watcher::Event::InitApply(cluster("c2"))));
        a.publish();
        assert!(
            shared.load().is_cluster_registered("c1"),
            "not before InitDone"
        );
        a.handle(k, ev(watcher::Event::InitDone));
        a.publish();
        let t = shared.load();
        assert!(!t.is_cluster_registered("c1") && t.is_cluster_registered("c2"));
    }

    #[test]
    fn a_replaced_snapshot_is_freed_by_the_writer_once_no_reader_holds_it() {
        let (mut a, shared, _) = applier();
        let k = Kind::KubernetesCluster;
        a.handle(k, ev(watcher::Event::Apply(cluster("c1"))));
        let held = shared.load();
        a.publish();
        assert!(
            a.release_retired(),
            "a reader still holds the replaced snapshot"
        );
        let replaced = Arc::downgrade(&held);
        drop(held);
        assert!(
            replaced.upgrade().is_some(),
            "the reader's drop must not free it"
        );
        assert!(!a.release_retired());
        assert!(replaced.upgrade().is_none(), "freed by the writer");
        assert!(shared.load().is_cluster_registered("c1"));
    }

    #[test]
    fn ready_once_every_kind_listed_or_found_missing() {
        let (mut a, _, synced) = applier();
        for kind in Kind::ALL {
            assert!(!*synced.borrow());
            if kind == Kind::Mesh {
                let status = kube::core::Status::failure("not found", "NotFound").with_code(404);
                let err = watcher::Error::InitialListFailed(kube::Error::Api(Box::new(status)));
                a.handle(kind, Update::Error(err));
            } else {
                a.handle(kind, ev(watcher::Event::Init));
                a.handle(kind, ev(watcher::Event::InitDone));
            }
        }
        assert!(*synced.borrow());
    }

    #[test]
    fn a_malformed_update_removes_the_stale_version() {
        let (mut a, shared, _) = applier();
        let k = Kind::VirtualMesh;
        a.handle(
            k,
            ev(watcher::Event::Apply(obj(
                k,
                json!({
                "metadata": {"name": "vm", "namespace": "smh"},
                "spec": {"meshes": [{"name": "m", "namespace": "smh"}]}}),
            ))),
        );
        a.publish();
        assert_eq!(shared.load().count(k), 1);
        a.handle(
            k,
            ev(watcher::Event::Apply(obj(
                k,
                json!({
                "metadata": {"name": "vm", "namespace": "smh"}, "spec": {"meshes": "m"}}),
            ))),
        );
        a.publish();
        assert_eq!(shared.load().count(k), 0);
    }
}
