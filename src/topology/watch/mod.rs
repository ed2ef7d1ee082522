//! The live topology: one `kube::runtime::watcher` per kind the rules read, cluster-wide,
//! feeding one writer that applies every event to the index and publishes it.
//!
//! The watcher does the protocol: paged lists, watches resumed from bookmarks, a re-list on
//! `410 Gone` (`Init`, `InitApply`…, `InitDone`), and the default backoff on errors. A re-list
//! is built aside and swapped in for its kind at `InitDone`, so readers never see half a list.
//!
//! The kinds are watched as [`Watched`] objects: a resource type whose decode goes straight
//! from the response's JSON to the same typed, skipping view as snapshot files
//! ([`crate::topology::decode`]). The Service Mesh Hub CRDs have no schema, so any object can
//! have any shape, and kube decodes whole list pages at once: that decode never fails on a
//! wrong shape (one malformed object would otherwise fail its page, and the kind would never
//! sync); the malformed object is logged, counted and left out. A generic `DynamicObject`
//! would do the same at the cost of a JSON tree per object, buffered twice, then decoded
//! again: several times the CPU and the transient memory of a 100,000-object list.
//!
//! [`LiveTopology::subscribe`] is the hook for controllers: every applied change is announced
//! as "object X of kind K changed" (or "kind K re-listed").

mod applier;
mod metrics;
mod object;

use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, ApiResource};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use applier::{Changed, Update};
pub use metrics::WatchMetrics;
pub use object::{
    FailoverServices, KubernetesClusters, MeshServices, Meshes, VirtualMeshes, Watched,
    WatchedKind, WatchedObject,
};

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
        let (c, u, s) = (&client, &updates_tx, &stop);
        tokio::spawn(watch_kind::<KubernetesClusters>(
            c.clone(),
            u.clone(),
            s.clone(),
        ));
        tokio::spawn(watch_kind::<MeshServices>(c.clone(), u.clone(), s.clone()));
        tokio::spawn(watch_kind::<Meshes>(c.clone(), u.clone(), s.clone()));
        tokio::spawn(watch_kind::<VirtualMeshes>(c.clone(), u.clone(), s.clone()));
        tokio::spawn(watch_kind::<FailoverServices>(
            c.clone(),
            u.clone(),
            s.clone(),
        ));
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

/// Drops the kind marker: the writer handles every kind's objects alike.
fn erase<K>(event: watcher::Event<Watched<K>>) -> watcher::Event<WatchedObject> {
    match event {
        watcher::Event::Apply(w) => watcher::Event::Apply(w.object),
        watcher::Event::Delete(w) => watcher::Event::Delete(w.object),
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitApply(w) => watcher::Event::InitApply(w.object),
        watcher::Event::InitDone => watcher::Event::InitDone,
    }
}

async fn watch_kind<K: WatchedKind>(
    client: kube::Client,
    updates: mpsc::Sender<(Kind, Update)>,
    stop: CancellationToken,
) {
    let kind = K::KIND;
    let api: Api<Watched<K>> = Api::all_with(client, &api_resource(kind));
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => return,
            next = stream.next() => next,
        };
        let update = match next {
            Some(Ok(event)) => Update::Event(erase(event)),
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
    list_kind::<KubernetesClusters>(&client, &mut topology).await?;
    list_kind::<MeshServices>(&client, &mut topology).await?;
    list_kind::<Meshes>(&client, &mut topology).await?;
    list_kind::<VirtualMeshes>(&client, &mut topology).await?;
    list_kind::<FailoverServices>(&client, &mut topology).await?;
    Ok(topology)
}

async fn list_kind<K: WatchedKind>(
    client: &kube::Client,
    topology: &mut crate::topology::Topology,
) -> Result<(), kube::Error> {
    let kind = K::KIND;
    {
        let api: Api<Watched<K>> = Api::all_with(client.clone(), &api_resource(kind));
        let mut params = kube::api::ListParams::default().limit(500);
        loop {
            let page = match api.list(&params).await {
                Ok(page) => page,
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    tracing::warn!(%kind, "the {} resource is not installed; treating it as empty", kind.plural());
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            for obj in page.items {
                let me = obj.object.object_ref();
                match obj.object.decoded {
                    Ok(object) => topology.apply(object),
                    Err(error) => {
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
    Ok(())
}

/// How often `serve --kube` logs that it is still waiting for the first complete list
/// (readiness stays 503 meanwhile).
pub const SYNC_WARN_AFTER: Duration = Duration::from_secs(30);
