//! Per-kind metrics of the cluster watchers, registered in the server's registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::api::Kind;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// Counters and gauges per watched kind. Clones share the same series.
#[derive(Clone, Debug, Default)]
pub struct WatchMetrics {
    events: Family<KindLabels, Counter>,
    errors: Family<KindLabels, Counter>,
    malformed: Family<KindLabels, Counter>,
    last_list: Family<KindLabels, Gauge>,
    synced: Family<KindLabels, Gauge>,
}

fn labels(kind: Kind) -> KindLabels {
    KindLabels {
        kind: kind.as_str(),
    }
}

impl WatchMetrics {
    pub fn new() -> WatchMetrics {
        let metrics = WatchMetrics::default();
        // Every kind has its series from the start, so alerts have something to read.
        for kind in Kind::ALL {
            let l = labels(kind);
            drop(metrics.events.get_or_create(&l));
            drop(metrics.errors.get_or_create(&l));
            drop(metrics.malformed.get_or_create(&l));
            drop(metrics.last_list.get_or_create(&l));
            drop(metrics.synced.get_or_create(&l));
        }
        metrics
    }

    /// Adds the series to `registry` (under its prefix).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "topology_watch_events",
            "Watch events applied to the topology index (listed objects included), by kind",
            self.events.clone(),
        );
        registry.register(
            "topology_watch_errors",
            "Failed lists and watches (each retried with backoff), by kind",
            self.errors.clone(),
        );
        registry.register(
            "topology_malformed_objects",
            "Objects left out of the index because their fields have the wrong shape, by kind",
            self.malformed.clone(),
        );
        registry.register(
            "topology_last_list_timestamp_seconds",
            "When the last complete (re)list of the kind was applied, in unix seconds",
            self.last_list.clone(),
        );
        registry.register(
            "topology_synced",
            "1 once the kind has been listed completely (or found not installed), else 0",
            self.synced.clone(),
        );
    }

    pub(super) fn event(&self, kind: Kind) {
        self.events.get_or_create(&labels(kind)).inc();
    }

    pub(super) fn error(&self, kind: Kind) {
        self.errors.get_or_create(&labels(kind)).inc();
    }

    pub(super) fn malformed(&self, kind: Kind) {
        self.malformed.get_or_create(&labels(kind)).inc();
    }

    pub(super) fn listed(&self, kind: Kind) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.last_list.get_or_create(&labels(kind)).set(now);
        self.synced.get_or_create(&labels(kind)).set(1);
    }
}
