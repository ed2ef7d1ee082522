//! `--snapshot` files are re-read when they change, through the same folder watch, debounce
//! and poll as the serving certificate. A new set of files that does not load is logged and
//! the last good topology keeps serving.

use std::path::PathBuf;
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

/// Re-reads `paths` whenever they change, until `stop`.
pub async fn run(
    paths: Vec<PathBuf>,
    shared: SharedTopology,
    mut last: Fingerprint,
    settings: ReloadSettings,
    stop: CancellationToken,
) {
    let refs: Vec<&PathBuf> = paths.iter().collect();
    let mut watch = FolderWatch::new(&refs, settings, "snapshot");
    while watch.changed(&stop).await {
        let p = paths.clone();
        let Ok(now) = tokio::task::spawn_blocking(move || fingerprint(&p)).await else {
            continue;
        };
        if now == last {
            continue;
        }
        last = now;
        let p = paths.clone();
        let Ok(loaded) = tokio::task::spawn_blocking(move || snapshot::load(&p)).await else {
            continue;
        };
        match loaded {
            Ok(topology) => {
                shared.store(topology);
                tracing::info!(files = ?paths, "topology snapshot reloaded");
            }
            Err(error) => tracing::warn!(
                %error,
                "new topology snapshot does not load; keeping the last good one"
            ),
        }
    }
}
