use std::sync::Arc;

use arc_swap::ArcSwap;

use super::Topology;

/// The topology the server reads from: cheap to read on every request, replaced as a whole by
/// whichever source owns it. Clones share the same slot.
#[derive(Clone, Debug)]
pub struct SharedTopology(Arc<ArcSwap<Topology>>);

impl SharedTopology {
    pub fn new(topology: Topology) -> SharedTopology {
        SharedTopology(Arc::new(ArcSwap::from_pointee(topology)))
    }

    /// The current topology. The returned snapshot stays valid (and unchanged) however long the
    /// caller holds it, even if a new one is published meanwhile.
    pub fn load(&self) -> Arc<Topology> {
        self.0.load_full()
    }

    /// Publishes a new topology; requests already running keep the one they loaded.
    pub fn store(&self, topology: Topology) {
        self.0.store(Arc::new(topology));
    }

    /// Publishes a new topology and hands back the previous one, so that a writer publishing
    /// often can free it later, off its hot path (and so that no request, holding the last
    /// reference, frees it).
    pub fn swap(&self, topology: Topology) -> Arc<Topology> {
        self.0.swap(Arc::new(topology))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Kind;

    #[test]
    fn readers_keep_their_snapshot_across_a_swap() {
        let shared = SharedTopology::new(Topology::empty());
        let before = shared.load();
        let mut b = Topology::builder();
        b.insert(
            Kind::KubernetesCluster,
            &serde_json::json!({"metadata": {"name": "c"}}),
        )
        .unwrap();
        shared.clone().store(b.build());
        assert!(!before.is_cluster_registered("c"));
        assert!(shared.load().is_cluster_registered("c"));
    }
}
