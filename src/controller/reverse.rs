//! FailoverServices by what their verdict depends on, so that a change to one topology object
//! re-queues exactly the FailoverServices it can affect.

use std::collections::{HashMap, HashSet};

use super::dependencies::{self, Dependency};
use crate::api::{Kind, ObjectRef};
use crate::topology::TopologyObject;
use crate::topology::watch::Changed;

/// Kept by the controller: each FailoverService's dependencies as of its last evaluation.
#[derive(Debug, Default)]
pub struct ReverseIndex {
    by_dependency: HashMap<Dependency, HashSet<ObjectRef>>,
    of: HashMap<ObjectRef, Vec<Dependency>>,
    /// VirtualMesh → the Meshes some dependent saw in it (the `MeshIn` keys above, by
    /// VirtualMesh), so that a Mesh leaving is found without visiting every dependent.
    seen_in: HashMap<ObjectRef, HashSet<ObjectRef>>,
}

/// What re-judging a change takes.
#[derive(Debug, PartialEq, Eq)]
pub enum Affected {
    /// These FailoverServices (possibly none).
    Some(HashSet<ObjectRef>),
    /// A whole kind was re-listed: every FailoverService.
    All,
}

impl ReverseIndex {
    /// Records `fs`'s dependencies, replacing those of its previous evaluation.
    pub fn record(&mut self, fs: &ObjectRef, deps: Vec<Dependency>) {
        self.forget(fs);
        for d in &deps {
            let set = self.by_dependency.entry(d.clone()).or_default();
            if set.is_empty()
                && let Dependency::MeshIn { mesh, virtual_mesh } = d
            {
                self.seen_in
                    .entry(virtual_mesh.clone())
                    .or_default()
                    .insert(mesh.clone());
            }
            set.insert(fs.clone());
        }
        self.of.insert(fs.clone(), deps);
    }

    /// Drops a deleted FailoverService.
    pub fn forget(&mut self, fs: &ObjectRef) {
        let Some(old) = self.of.remove(fs) else {
            return;
        };
        for d in old {
            if let Some(set) = self.by_dependency.get_mut(&d) {
                set.remove(fs);
                if set.is_empty() {
                    self.by_dependency.remove(&d);
                    if let Dependency::MeshIn { mesh, virtual_mesh } = &d
                        && let Some(meshes) = self.seen_in.get_mut(virtual_mesh)
                    {
                        meshes.remove(mesh);
                        if meshes.is_empty() {
                            self.seen_in.remove(virtual_mesh);
                        }
                    }
                }
            }
        }
    }

    /// How many FailoverServices are indexed.
    pub fn len(&self) -> usize {
        self.of.len()
    }

    pub fn is_empty(&self) -> bool {
        self.of.is_empty()
    }

    /// Every indexed FailoverService.
    pub fn all(&self) -> impl Iterator<Item = &ObjectRef> {
        self.of.keys()
    }

    fn dependents(&self, deps: &[Dependency], out: &mut HashSet<ObjectRef>) {
        for d in deps {
            if let Some(set) = self.by_dependency.get(d) {
                out.extend(set.iter().cloned());
            }
        }
    }

    /// The FailoverServices a change can affect. A FailoverService's own change is the
    /// controller's watch's to re-queue; here it re-queues the others sharing its old or new
    /// hostname, whose conflict verdicts it can change.
    pub fn affected(&self, change: &Changed) -> Affected {
        let (kind, me, applied) = match change {
            Changed::Relisted { .. } => return Affected::All,
            Changed::Object {
                kind,
                object,
                applied,
            } => (*kind, object, applied.as_deref()),
        };
        let mut out = HashSet::new();
        if kind == Kind::VirtualMesh {
            match applied {
                Some(TopologyObject::VirtualMesh { members, .. }) => {
                    self.membership_changed(me, members, &mut out);
                }
                // Deleted, or left out as unreadable: it holds no Mesh any more.
                _ => self.dependents(&[Dependency::VirtualMesh(me.clone())], &mut out),
            }
            return Affected::Some(out);
        }
        let mut deps = match applied {
            Some(object) => dependencies::touched_by(object),
            None => Vec::new(),
        };
        // The object's own identity covers what its previous version was depended on through.
        match kind {
            Kind::KubernetesCluster => deps.push(Dependency::Cluster(me.name.clone())),
            Kind::MeshService => deps.push(Dependency::MeshService(me.clone())),
            Kind::Mesh => deps.push(Dependency::Mesh(me.clone())),
            Kind::VirtualMesh => {}
            Kind::FailoverService => {
                let old = self.of.get(me).into_iter().flatten();
                deps.extend(
                    old.filter(|d| matches!(d, Dependency::Hostname(_)))
                        .cloned(),
                );
            }
        }
        self.dependents(&deps, &mut out);
        if kind == Kind::FailoverService {
            out.remove(me);
        }
        Affected::Some(out)
    }

    /// VirtualMesh `vm` now holds `members`: re-queues exactly the FailoverServices whose
    /// recorded view of which of their Meshes `vm` holds is no longer true. Members that stay
    /// re-queue nothing, however many objects depend on them.
    fn membership_changed(
        &self,
        vm: &ObjectRef,
        members: &[ObjectRef],
        out: &mut HashSet<ObjectRef>,
    ) {
        // Meshes that left: their dependents saw them in `vm`.
        for mesh in self.seen_in.get(vm).into_iter().flatten() {
            if members.contains(mesh) {
                continue;
            }
            let saw = Dependency::MeshIn {
                mesh: mesh.clone(),
                virtual_mesh: vm.clone(),
            };
            if let Some(set) = self.by_dependency.get(&saw) {
                out.extend(set.iter().cloned());
            }
        }
        // Meshes that joined: their dependents did not see them in `vm`.
        for mesh in members {
            let Some(on_mesh) = self.by_dependency.get(&Dependency::Mesh(mesh.clone())) else {
                continue;
            };
            let saw_in = self.by_dependency.get(&Dependency::MeshIn {
                mesh: mesh.clone(),
                virtual_mesh: vm.clone(),
            });
            // Everyone who saw `mesh` in `vm` also depends on `mesh`: equal sizes mean every
            // dependent already saw it there.
            if saw_in.map_or(0, HashSet::len) == on_mesh.len() {
                continue;
            }
            out.extend(
                on_mesh
                    .iter()
                    .filter(|fs| !saw_in.is_some_and(|s| s.contains(*fs)))
                    .cloned(),
            );
        }
    }
}

/// The FailoverService a change deleted (or left out of the topology as unreadable).
pub fn is_failover_service_gone(change: &Changed) -> Option<&ObjectRef> {
    match change {
        Changed::Object {
            kind: Kind::FailoverService,
            object,
            applied: None,
        } => Some(object),
        _ => None,
    }
}
