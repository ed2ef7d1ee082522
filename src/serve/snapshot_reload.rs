//! `--snapshot` files are re-read when they change, through the same folder watch, debounce
//! and poll as the serving certificate. A new set of files that does not load is logged and
//! the last good topology keeps serving.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use crate::server::{ReloadSettings, reload::FolderWatch};
use crate::topology::{SharedTopology, snapshot};

/// What the files looked like: every file's path, size and modification time. Cheap to take
/// on every poll, unlike reading a large snapshot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint(Vec<(PathBuf, u64, Option<SystemTime>)>);

pub fn fingerprint(paths: &[PathBuf]) -> Fingerprint {
    let mut files = Vec::new();
    for path in paths {
        for entry in walkdir::WalkDir::new(path)
            .follow_links(true)
            .into_iter()
            .flatten()
        {
            if let Ok(meta) = entry.metadata()
                && meta.is_file()
            {
                files.push((entry.path().to_owned(), meta.len(), meta.modified().ok()));
            }
        }
    }
    files.sort();
    Fingerprint(files)
}

/// The watch on the snapshot files, started before they are first read so that no change
/// after that read can be missed.
pub struct SnapshotWatch {
    paths: Vec<PathBuf>,
    watch: FolderWatch,
    last: Fingerprint,
    failures: Arc<AtomicU64>,
}

impl SnapshotWatch {
    /// Starts watching `paths`; read them after this call.
    pub fn new(paths: Vec<PathBuf>, settings: ReloadSettings) -> SnapshotWatch {
        let refs: Vec<&PathBuf> = paths.iter().collect();
        let watch = FolderWatch::new(&refs, settings, "snapshot");
        let last = fingerprint(&paths);
        SnapshotWatch {
            paths,
            watch,
            last,
            failures: Arc::default(),
        }
    }

    /// How many changed snapshots did not load (and were not applied), shared with `run`.
    pub fn failures(&self) -> Arc<AtomicU64> {
        self.failures.clone()
    }

    /// Re-reads the files whenever they change, until `stop`.
    pub async fn run(mut self, shared: SharedTopology, stop: CancellationToken) {
        while self.watch.changed(&stop).await {
            let p = self.paths.clone();
            let Ok(now) = tokio::task::spawn_blocking(move || fingerprint(&p)).await else {
                continue;
            };
            if now == self.last {
                continue;
            }
            self.last = now;
            let p = self.paths.clone();
            let Ok(loaded) = tokio::task::spawn_blocking(move || snapshot::load(&p)).await else {
                continue;
            };
            match loaded {
                Ok(topology) => {
                    shared.store(topology);
                    tracing::info!(files = ?self.paths, "topology snapshot reloaded");
                }
                Err(error) => {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        %error,
                        "new topology snapshot does not load; keeping the last good one"
                    )
                }
            }
        }
    }
}
