//! Leader election on a `coordination.k8s.io/v1` Lease through `kube-lease-manager`.

use std::time::Duration;

use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The Lease and this replica's claim on it.
#[derive(Clone, Debug)]
pub struct LeaseSettings {
    /// The Lease's namespace: the release namespace (`POD_NAMESPACE`).
    pub namespace: String,
    pub name: String,
    /// This replica's holder identity: the pod name, else the host name.
    pub identity: String,
    /// Seconds a holder's claim lasts without renewal.
    pub duration_seconds: u64,
    /// Seconds before expiry at which the holder renews.
    pub grace_seconds: u64,
}

/// The field manager of this replica's Lease writes.
pub fn field_manager(identity: &str) -> String {
    format!("failover-webhook-lease-{identity}")
}

/// Waits before retrying a Lease that could not be set up.
const RETRY: Duration = Duration::from_secs(5);

/// Joins the election; the receiver says whether this replica holds the Lease. `None` when
/// stopped first. A failing API server is retried: admission does not depend on it.
pub(super) async fn elect(
    client: &kube::Client,
    settings: &LeaseSettings,
    stop: &CancellationToken,
) -> Option<watch::Receiver<bool>> {
    loop {
        let built = LeaseManagerBuilder::new(client.clone(), &settings.name)
            .with_namespace(&settings.namespace)
            .with_identity(&settings.identity)
            .with_duration(settings.duration_seconds)
            .with_grace(settings.grace_seconds)
            // The builder keeps the field manager it derived from a random identity; name it
            // after the real one, so a Lease's managedFields say which replica wrote.
            .with_field_manager(field_manager(&settings.identity))
            .build()
            .await;
        match built {
            Ok(manager) => {
                let (leader, _task) = manager.watch().await;
                return Some(leader);
            }
            Err(error) => {
                tracing::warn!(%error, lease = %settings.name, namespace = %settings.namespace,
                    "cannot set up the status Lease; retrying");
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return None,
            _ = tokio::time::sleep(RETRY) => {}
        }
    }
}
