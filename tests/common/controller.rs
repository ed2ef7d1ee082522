//! A status controller wired to a fake API server the way `serve --kube` wires it to a cluster:
//! its own client, live topology watchers and default settings, for the controller's tests and
//! its benchmark.

use failover_webhook::controller::{ControllerMetrics, LeaseSettings, StatusController};
use failover_webhook::engine::Settings;
use failover_webhook::serve::install_crypto_provider;
use failover_webhook::topology::watch::{LiveTopology, WatchMetrics};
use failover_webhook::topology::{SharedTopology, Topology};
use tokio_util::sync::CancellationToken;

use super::apiserver::FakeApi;

/// A controller for `api`, holding `lease`, whose watchers stop with `stop`; not yet running
/// (`controller.run(stop)`), so that a caller can time it from its start. Its metrics are the
/// controller's own (`ControllerMetrics` clones share their counters).
pub async fn for_api(
    api: &FakeApi,
    lease: LeaseSettings,
    stop: &CancellationToken,
) -> StatusController {
    install_crypto_provider();
    let client = api.client().await;
    let topology = SharedTopology::new(Topology::empty());
    let live = LiveTopology::start(
        client.clone(),
        topology.clone(),
        WatchMetrics::new(),
        stop.clone(),
    );
    StatusController {
        client,
        topology,
        live,
        settings: Settings::default(),
        lease,
        metrics: ControllerMetrics::new(),
    }
}
