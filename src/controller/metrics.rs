//! The status controller's metrics, registered in the server's registry.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// How one reconcile ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The stored status already said the same: nothing written.
    Unchanged,
    /// The status was written.
    Written,
    /// The write failed (retried with backoff).
    Error,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Unchanged => "unchanged",
            Outcome::Written => "written",
            Outcome::Error => "error",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

/// Clones share the same series.
#[derive(Clone, Debug, Default)]
pub struct ControllerMetrics {
    reconciles: Family<ResultLabels, Counter>,
    write_errors: Counter,
    conflicts: Counter,
    queue: Gauge,
    leader: Gauge,
    requeued: Counter,
}

impl ControllerMetrics {
    pub fn new() -> ControllerMetrics {
        let m = ControllerMetrics::default();
        for o in [Outcome::Unchanged, Outcome::Written, Outcome::Error] {
            drop(
                m.reconciles
                    .get_or_create(&ResultLabels { result: o.as_str() }),
            );
        }
        m
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "status_reconciles",
            "FailoverService status reconciles, by result (unchanged, written, error)",
            self.reconciles.clone(),
        );
        registry.register(
            "status_write_errors",
            "Failed writes of a FailoverService status (conflicts included), each retried",
            self.write_errors.clone(),
        );
        registry.register(
            "status_write_conflicts",
            "Status writes refused with 409 Conflict, retried on the newer version",
            self.conflicts.clone(),
        );
        registry.register(
            "status_requeued",
            "FailoverServices re-queued because an object their verdict depends on changed",
            self.requeued.clone(),
        );
        registry.register(
            "status_queue_depth",
            "Re-queued FailoverServices not yet taken by the controller",
            self.queue.clone(),
        );
        registry.register(
            "status_leader",
            "1 while this replica holds the status controller's Lease, else 0",
            self.leader.clone(),
        );
    }

    pub(super) fn reconciled(&self, outcome: Outcome) {
        self.reconciles
            .get_or_create(&ResultLabels {
                result: outcome.as_str(),
            })
            .inc();
    }

    pub(super) fn write_failed(&self, conflict: bool) {
        self.write_errors.inc();
        if conflict {
            self.conflicts.inc();
        }
    }

    pub(super) fn queued(&self, n: usize) {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.queue.inc_by(n);
        self.requeued.inc_by(u64::try_from(n).unwrap_or(0));
    }

    pub(super) fn dequeued(&self) {
        self.queue.dec();
    }

    pub(super) fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Reconciles that ended with `outcome` so far.
    pub fn reconciles(&self, outcome: Outcome) -> u64 {
        self.reconciles
            .get_or_create(&ResultLabels {
                result: outcome.as_str(),
            })
            .get()
    }

    /// FailoverServices re-queued by related changes so far.
    pub fn requeued(&self) -> u64 {
        self.requeued.get()
    }

    /// Failed status writes so far, conflicts included.
    pub fn write_errors(&self) -> u64 {
        self.write_errors.get()
    }

    /// Re-queued FailoverServices not yet taken by the controller.
    pub fn queue_depth(&self) -> i64 {
        self.queue.get()
    }

    /// Status writes refused with 409 so far.
    pub fn conflicts(&self) -> u64 {
        self.conflicts.get()
    }

    pub fn is_leader(&self) -> bool {
        self.leader.get() == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    fn exposed(m: &ControllerMetrics) -> String {
        let mut registry = Registry::with_prefix("failover_webhook");
        m.register(&mut registry);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        text
    }

    fn series(text: &str, name: &str) -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ').map(str::to_owned))
    }

    #[test]
    fn every_series_is_exposed_from_zero() {
        let text = exposed(&ControllerMetrics::new());
        for name in [
            r#"failover_webhook_status_reconciles_total{result="unchanged"}"#,
            r#"failover_webhook_status_reconciles_total{result="written"}"#,
            r#"failover_webhook_status_reconciles_total{result="error"}"#,
            "failover_webhook_status_write_errors_total",
            "failover_webhook_status_write_conflicts_total",
            "failover_webhook_status_requeued_total",
            "failover_webhook_status_queue_depth",
            "failover_webhook_status_leader",
        ] {
            assert_eq!(
                series(&text, name).as_deref(),
                Some("0"),
                "{name} in {text}"
            );
        }
    }

    #[test]
    fn the_series_follow_what_happens() {
        let m = ControllerMetrics::new();
        m.reconciled(Outcome::Written);
        m.reconciled(Outcome::Unchanged);
        m.reconciled(Outcome::Unchanged);
        m.reconciled(Outcome::Error);
        m.write_failed(true);
        m.write_failed(false);
        m.queued(3);
        m.dequeued();
        m.set_leader(true);
        let text = exposed(&m.clone());
        let at = |name: &str| series(&text, name);
        assert_eq!(
            at(r#"failover_webhook_status_reconciles_total{result="unchanged"}"#).as_deref(),
            Some("2")
        );
        assert_eq!(
            at(r#"failover_webhook_status_reconciles_total{result="written"}"#).as_deref(),
            Some("1")
        );
        assert_eq!(
            at(r#"failover_webhook_status_reconciles_total{result="error"}"#).as_deref(),
            Some("1")
        );
        assert_eq!(
            at("failover_webhook_status_write_errors_total").as_deref(),
            Some("2")
        );
        assert_eq!(
            at("failover_webhook_status_write_conflicts_total").as_deref(),
            Some("1")
        );
        assert_eq!(
            at("failover_webhook_status_requeued_total").as_deref(),
            Some("3")
        );
        assert_eq!(
            at("failover_webhook_status_queue_depth").as_deref(),
            Some("2")
        );
        assert_eq!(at("failover_webhook_status_leader").as_deref(), Some("1"));
        m.set_leader(false);
        assert!(!m.is_leader());
        assert_eq!(m.queue_depth(), 2);
        assert_eq!(m.write_errors(), 2);
    }
}
