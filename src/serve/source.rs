//! Where the rules' view of the cluster comes from: the embedded demo, snapshot files
//! (re-read when they change), or the cluster itself.

use tokio_util::sync::CancellationToken;

use super::Error;
use super::snapshot_reload::SnapshotWatch;
use crate::cli::ServeArgs;
use crate::controller::{ControllerMetrics, LeaseSettings, StatusController};
use crate::engine::Settings;
use crate::server::{Readiness, ServerConfig};
use crate::topology::watch::{LiveTopology, SYNC_WARN_AFTER, WatchMetrics};
use crate::topology::{SharedTopology, Topology, embedded, snapshot};

/// A topology source, opened and ready to be served from.
pub enum Source {
    Embedded(SharedTopology),
    Snapshot {
        shared: SharedTopology,
        watch: SnapshotWatch,
    },
    Kube {
        shared: SharedTopology,
        client: kube::Client,
        metrics: WatchMetrics,
        /// The status controller, unless turned off.
        controller: Option<ControllerSetup>,
    },
}

/// What the status controller needs beyond the live topology.
pub struct ControllerSetup {
    settings: Settings,
    lease: LeaseSettings,
    metrics: ControllerMetrics,
}

/// The Lease of the status controller: in the release namespace (`POD_NAMESPACE`, else the
/// client's default namespace), held under the pod name (`POD_NAME`, else the host name).
fn lease_settings(client: &kube::Client) -> LeaseSettings {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let identity = env("POD_NAME")
        .or_else(|| env("HOSTNAME"))
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| format!("failover-webhook-{}", std::process::id()));
    LeaseSettings {
        namespace: env("POD_NAMESPACE").unwrap_or_else(|| client.default_namespace().to_owned()),
        name: LEASE_NAME.to_owned(),
        identity,
        duration_seconds: LEASE_SECONDS,
        grace_seconds: LEASE_GRACE_SECONDS,
    }
}

/// The status controller's Lease.
pub const LEASE_NAME: &str = "failover-webhook-status";
/// A holder that stops renewing loses the Lease after this long.
const LEASE_SECONDS: u64 = 15;
/// The holder renews this long before its claim expires.
const LEASE_GRACE_SECONDS: u64 = 5;

/// A client for the current cluster: in-cluster configuration, else `KUBECONFIG` or
/// `~/.kube/config` and its current context. The crypto provider must be installed first.
pub async fn kube_client() -> Result<kube::Client, Error> {
    let config = kube::Config::infer().await?;
    kube::Client::try_from(config).map_err(Error::KubeClient)
}

impl Source {
    /// Opens the source `args` name. Snapshot files must load now; the cluster is only
    /// connected to (its objects arrive after the server is up, and readiness waits for them).
    pub async fn open(args: &ServeArgs) -> Result<Source, Error> {
        if args.kube {
            let client = kube_client().await?;
            tracing::info!(
                "watching the cluster for the topology; ready once every kind is listed"
            );
            let controller = args.status_controller.then(|| ControllerSetup {
                settings: args.rules.settings(),
                lease: lease_settings(&client),
                metrics: ControllerMetrics::new(),
            });
            if controller.is_none() {
                tracing::info!("status controller off: FailoverService status is not written");
            }
            return Ok(Source::Kube {
                shared: SharedTopology::new(Topology::empty()),
                client,
                metrics: WatchMetrics::new(),
                controller,
            });
        }
        let paths = &args.topology.snapshot;
        if paths.is_empty() {
            tracing::info!(
                "no --snapshot given: serving with the embedded demo topology; \
                 reference and conflict rules judge against demo objects, not your cluster"
            );
            return Ok(Source::Embedded(SharedTopology::new(embedded())));
        }
        // Watching starts before the load, so that a change during the load is seen after it.
        let watch = SnapshotWatch::new(paths.clone(), Default::default());
        let topology = snapshot::load(paths)?;
        tracing::info!(files = ?paths, "topology loaded from snapshot; re-read when it changes");
        Ok(Source::Snapshot {
            shared: SharedTopology::new(topology),
            watch,
        })
    }

    pub fn shared(&self) -> SharedTopology {
        match self {
            Source::Embedded(shared)
            | Source::Snapshot { shared, .. }
            | Source::Kube { shared, .. } => shared.clone(),
        }
    }

    /// What the server needs to know of the source: a live source starts unready, and brings
    /// its metrics.
    pub fn configure(&self, config: &mut ServerConfig) {
        if let Source::Kube {
            metrics,
            controller,
            ..
        } = self
        {
            config.topology_synced = false;
            config.watch_metrics = Some(metrics.clone());
            config.controller_metrics = controller.as_ref().map(|c| c.metrics.clone());
        }
    }

    /// Starts the source's background work (snapshot reload, watchers) until `stop`.
    pub fn run(self, readiness: Readiness, stop: CancellationToken) {
        match self {
            Source::Embedded(_) => {}
            Source::Snapshot { shared, watch } => {
                tokio::spawn(watch.run(shared, stop));
            }
            Source::Kube {
                shared,
                client,
                metrics,
                controller,
            } => {
                let live =
                    LiveTopology::start(client.clone(), shared.clone(), metrics, stop.clone());
                if let Some(setup) = controller {
                    let controller = StatusController {
                        client,
                        topology: shared,
                        live: live.clone(),
                        settings: setup.settings,
                        lease: setup.lease,
                        metrics: setup.metrics,
                    };
                    tokio::spawn(controller.run(stop));
                }
                tokio::spawn(mark_ready_when_synced(live, readiness));
            }
        }
    }
}

/// Readiness follows the first complete list only: once synced, a failing watch keeps the
/// last state serving rather than taking every replica out of the Service at once.
pub async fn mark_ready_when_synced(live: LiveTopology, readiness: Readiness) {
    let started = tokio::time::Instant::now();
    loop {
        match tokio::time::timeout(SYNC_WARN_AFTER, live.wait_synced()).await {
            Ok(true) => {
                readiness.set_topology_synced(true);
                tracing::info!(
                    seconds = started.elapsed().as_secs_f64(),
                    "topology synced from the cluster; ready"
                );
                return;
            }
            Ok(false) => return,
            Err(_) => tracing::warn!(
                waited_seconds = started.elapsed().as_secs(),
                "still waiting for the first list of every topology kind; not ready"
            ),
        }
    }
}
