//! The status controller of `serve --kube`: a `kube::runtime::Controller` over FailoverServices
//! that judges each one with the admission engine against the live topology and writes
//! `status.validationStatus` and `status.observedGeneration` through the `/status` subresource
//! when they differ from what is stored.
//!
//! A FailoverService is re-judged when it changes (the controller's own watch), when an object
//! its verdict depends on changes (the [`reverse`] index, fed by the live topology's change
//! hook), and when another FailoverService claiming the same hostname changes.
//!
//! One replica writes at a time: the holder of a `coordination.k8s.io/v1` Lease. Each term of
//! leadership starts a fresh controller, whose initial list re-judges every object, so nothing
//! is lost when the leader changes; every replica keeps serving admission throughout.

pub mod dependencies;
mod lease;
pub mod metrics;
mod reconcile;
pub mod reverse;
#[cfg(test)]
mod reverse_tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef as KubeRef;
use kube::runtime::{Controller, watcher};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

pub use lease::{LeaseSettings, field_manager as lease_field_manager};
pub use metrics::{ControllerMetrics, Outcome};
pub use reconcile::FIELD_MANAGER;

use crate::api::Kind;
use crate::engine::Settings;
use crate::topology::SharedTopology;
use crate::topology::watch::{Changed, LiveTopology, api_resource};
use reconcile::Context;
use reverse::{Affected, ReverseIndex};

/// Everything the controller runs with.
pub struct StatusController {
    pub client: kube::Client,
    pub topology: SharedTopology,
    pub live: LiveTopology,
    pub settings: Settings,
    pub lease: LeaseSettings,
    pub metrics: ControllerMetrics,
}

impl StatusController {
    /// Runs until `stop`: waits for the topology's first sync, then takes part in the leader
    /// election and reconciles while it holds the Lease.
    pub async fn run(self, stop: CancellationToken) {
        tokio::select! {
            _ = stop.cancelled() => return,
            synced = self.live.wait_synced() => if !synced { return },
        }
        let Some(mut leader) = lease::elect(&self.client, &self.lease, &stop).await else {
            return;
        };
        let resource = api_resource(Kind::FailoverService);
        let reverse = Arc::new(Mutex::new(ReverseIndex::default()));
        let recorder = Recorder::new(
            self.client.clone(),
            Reporter {
                controller: "failover-webhook".to_owned(),
                instance: Some(self.lease.identity.clone()),
            },
        );
        let ctx = Arc::new(Context {
            client: self.client.clone(),
            resource: resource.clone(),
            topology: self.topology.clone(),
            settings: self.settings.clone(),
            reverse: reverse.clone(),
            metrics: self.metrics.clone(),
            recorder,
            failures: Mutex::new(HashMap::new()),
        });
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                held = leader.wait_for(|l| *l) => if held.is_err() { break },
            }
            tracing::info!(identity = %self.lease.identity, "holding the status Lease; writing FailoverService status");
            self.metrics.set_leader(true);
            // Objects deleted while another replica led were never forgotten here; the term's
            // initial list records every object again.
            *reverse
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = ReverseIndex::default();
            let term = stop.child_token();
            let watch_term = {
                let term = term.clone();
                let mut leader = leader.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = term.cancelled() => {}
                        _ = leader.wait_for(|l| !*l) => {}
                    }
                    term.cancel();
                })
            };
            self.term(ctx.clone(), &resource, &reverse, term.clone())
                .await;
            term.cancel();
            let _ = watch_term.await;
            self.metrics.set_leader(false);
            tracing::info!(identity = %self.lease.identity, "no longer holding the status Lease");
        }
        // Dropping the receiver makes the lease manager release the Lease, so another replica
        // takes over without waiting for it to expire.
        drop(leader);
    }

    /// One term of leadership: a controller from a fresh list, plus the re-queues of related
    /// changes, until `term` ends.
    async fn term(
        &self,
        ctx: Arc<Context>,
        resource: &ApiResource,
        reverse: &Arc<Mutex<ReverseIndex>>,
        term: CancellationToken,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let forwarder = tokio::spawn(forward(
            self.live.subscribe(),
            reverse.clone(),
            tx,
            resource.clone(),
            self.metrics.clone(),
            term.clone(),
        ));
        let metrics = self.metrics.clone();
        let trigger = futures::stream::unfold(rx, move |mut rx| {
            let metrics = metrics.clone();
            async move {
                let next = rx.recv().await?;
                metrics.dequeued();
                Some((next, rx))
            }
        });
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), resource);
        let shutdown = {
            let term = term.clone();
            async move { term.cancelled().await }
        };
        Controller::new_with(api, watcher::Config::default(), resource.clone())
            .reconcile_on(trigger)
            .graceful_shutdown_on(shutdown)
            .run(reconcile::reconcile, reconcile::error_policy, ctx)
            .for_each(|_| futures::future::ready(()))
            .await;
        forwarder.abort();
    }
}

/// Turns topology changes into re-queues of the FailoverServices they can affect.
async fn forward(
    mut changes: broadcast::Receiver<Changed>,
    reverse: Arc<Mutex<ReverseIndex>>,
    queue: mpsc::UnboundedSender<KubeRef<DynamicObject>>,
    resource: ApiResource,
    metrics: ControllerMetrics,
    term: CancellationToken,
) {
    loop {
        let change = tokio::select! {
            _ = term.cancelled() => return,
            change = changes.recv() => change,
        };
        let targets: Vec<crate::api::ObjectRef> = {
            let mut reverse = reverse
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match change {
                Ok(change) => {
                    let affected = reverse.affected(&change);
                    if let Some(gone) = reverse::is_failover_service_gone(&change) {
                        reverse.forget(gone);
                    }
                    match affected {
                        Affected::Some(set) => set.into_iter().collect(),
                        Affected::All => reverse.all().cloned().collect(),
                    }
                }
                // Missed changes could have affected anything.
                Err(broadcast::error::RecvError::Lagged(_)) => reverse.all().cloned().collect(),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        };
        metrics.queued(targets.len());
        for fs in targets {
            let r = KubeRef::new_with(&fs.name, resource.clone()).within(&fs.namespace);
            if queue.send(r).is_err() {
                return;
            }
        }
    }
}

/// How long a term's controller may take to stop before the next one starts.
pub const TERM_STOP: Duration = Duration::from_secs(5);
