//! The live topology: one `kube::runtime::watcher` per kind the rules read, cluster-wide,
//! feeding one writer that applies every event to the index and publishes it.
//!
//! The watcher does the protocol: paged lists, watches resumed from bookmarks, a re-list on
//! `410 Gone` (`Init`, `InitApply`…, `InitDone`), and the default backoff on errors. A re-list
//! is built aside and swapped in for its kind at `InitDone`, so readers never see half a list.
//!
//! The kinds are watched as `DynamicObject`s rather than typed resources: the Service Mesh Hub
//! CRDs have no schema, so any object can have any shape, and a typed watch decodes whole list
//! pages at once — one malformed object would fail its page, and the kind would never sync.
//! Each object is instead decoded on its own by the same typed decode as snapshot files
//! ([`crate::topology::decode`]); a malformed one is logged, counted and left out.
//!
//! [`LiveTopology::subscribe`] is the hook for controllers: every applied change is announced
//! as "object X of kind K changed" (or "kind K re-listed").

mod applier;
mod metrics;

use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use applier::{Changed, Update};
pub use metrics::WatchMetrics;

use crate::api::{Kind, VERSION};
use crate::topology::SharedTopology;
use applier::Applier;

/// How many updates the writer applies before publishing a snapshot; bounds how stale a busy
/// stream of events can make the published view.
const MAX_BATCH: usize = 256;

/// How soon the writer, idle, retries freeing a replaced snapshot a request still held.
const RELEASE_RETRY: Duration = Duration::from_secs(1);

/// The API resource of one of our kinds.
pub fn api_resource(kind: Kind) -> ApiResource {
    ApiResource {
        group: kind.group().to_owned(),
        version: VERSION.to_owned(),
        api_version: format!("{}/{VERSION}", kind.group()),
        kind: kind.as_str().to_owned(),
        plural: kind.plural().to_owned(),
    }
}

/// The running watchers and their writer.
#[derive(Clone, Debug)]
pub struct LiveTopology {
    synced: watch::Receiver<bool>,
    changes: broadcast::Sender<Changed>,
}

impl LiveTopology {
    /// Starts one watcher per kind and the writer, publishing into `shared` until `stop`.
    pub fn start(
        client: kube::Client,
        shared: SharedTopology,
        metrics: WatchMetrics,
        stop: CancellationToken,
    ) -> LiveTopology {
        let (updates_tx, updates) = mpsc::channel(1024);
        for kind in Kind::ALL {
            tokio::spawn(watch_kind(
                client.clone(),
                kind,
                updates_tx.clone(),
                stop.clone(),
            ));
        }
        drop(updates_tx);
        let (synced_tx, synced) = watch::channel(false);
        let (changes, _) = broadcast::channel(1024);
        let applier = Applier::new(shared, metrics, changes.clone(), synced_tx);
        tokio::spawn(write(applier, updates));
        LiveTopology { synced, changes }
    }

    /// Whether every kind has completed its first list (or was found not installed).
    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Waits until [`is_synced`](Self::is_synced); returns `false` if the watchers stopped
    /// first.
    pub async fn wait_synced(&self) -> bool {
        let mut synced = self.synced.clone();
        synced.wait_for(|s| *s).await.is_ok()
    }

    /// Announces every change applied from now on. A subscriber that falls behind gets
    /// `Lagged` and should treat everything as changed.
    pub fn subscribe(&self) -> broadcast::Receiver<Changed> {
        self.changes.subscribe()
    }
}

async fn watch_kind(
    client: kube::Client,
    kind: Kind,
    updates: mpsc::Sender<(Kind, Update)>,
    stop: CancellationToken,
) {
    let api: Api<DynamicObject> = Api::all_with(client, &api_resource(kind));
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => return,
            next = stream.next() => next,
        };
        let update = match next {
            Some(Ok(event)) => Update::Event(event),
            Some(Err(error)) => Update::Error(error),
            None => return,
        };
        if updates.send((kind, update)).await.is_err() {
            return;
        }
    }
}

/// The writer: applies updates as they come, publishing after each batch, and frees replaced
/// snapshots when it has nothing else to do.
async fn write(mut applier: Applier, mut updates: mpsc::Receiver<(Kind, Update)>) {
    let mut held = false;
    loop {
        let next = if held {
            // A request still held a replaced snapshot: look again shortly.
            match tokio::time::timeout(RELEASE_RETRY, updates.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    held = applier.release_retired();
                    continue;
                }
            }
        } else {
            updates.recv().await
        };
        let Some((kind, update)) = next else { return };
        let mut changed = applier.handle(kind, update);
        for _ in 1..MAX_BATCH {
            match updates.try_recv() {
                Ok((kind, update)) => changed |= applier.handle(kind, update),
                Err(_) => break,
            }
        }
        if changed {
            applier.publish();
        }
        if updates.is_empty() {
            held = applier.release_retired();
        }
    }
}

/// Lists every kind once, for `check --kube`: a kind whose CRD is not installed is empty.
pub async fn list_once(client: kube::Client) -> Result<crate::topology::Topology, kube::Error> {
    let mut topology = crate::topology::Topology::empty();
    for kind in Kind::ALL {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &api_resource(kind));
        let mut params = kube::api::ListParams::default().limit(500);
        loop {
            let page = match api.list(&params).await {
                Ok(page) => page,
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    tracing::warn!(%kind, "the {} resource is not installed; treating it as empty", kind.plural());
                    break;
                }
                Err(e) => return Err(e),
            };
            for obj in page.items {
                match applier::decode_dynamic(kind, obj) {
                    Ok(object) => topology.apply(object),
                    Err((me, error)) => {
                        tracing::warn!(%kind, object = %me, %error, "leaving a malformed object out of the topology")
                    }
                }
            }
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => break,
            }
        }
    }
    Ok(topology)
}

/// How often `serve --kube` logs that it is still waiting for the first complete list
/// (readiness stays 503 meanwhile).
pub const SYNC_WARN_AFTER: Duration = Duration::from_secs(30);
