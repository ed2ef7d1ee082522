//! Serving-certificate hot reload.
//!
//! Kubernetes updates a secret volume by writing a new `..<timestamp>` folder and renaming a
//! `..data` symlink onto it; `tls.crt` and `tls.key` are symlinks through `..data`. A watch on
//! the certificate file itself sees none of this, so the folders holding the files are watched,
//! events are debounced (one update is a burst of creates and renames), and the contents are
//! compared with what was last tried. A poll every few seconds catches what the watch misses
//! (no inotify, a watch limit reached, files replaced through another path). A new pair that
//! does not load (half-written, key of another certificate) is logged and counted, and the
//! certificate in use stays.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::metrics::Metrics;
use super::tls::{CertError, CertResolver, ServingCert, parse_serving_cert, read_file};

/// How often and how patiently the files are checked.
#[derive(Clone, Copy, Debug)]
pub struct ReloadSettings {
    /// Fallback poll interval.
    pub poll_interval: Duration,
    /// Quiet time after a file-system event before the files are read.
    pub debounce: Duration,
    /// Whether to watch the folders at all; without it, changes are found by polling only
    /// (for file systems that send no change notifications).
    pub watch: bool,
}

impl Default for ReloadSettings {
    fn default() -> ReloadSettings {
        ReloadSettings {
            poll_interval: Duration::from_secs(10),
            debounce: Duration::from_millis(200),
            watch: true,
        }
    }
}

/// The certificate files, the watch on their folders, and what was last read from them.
pub struct Reloader {
    cert: PathBuf,
    key: PathBuf,
    resolver: Arc<CertResolver>,
    metrics: Arc<Metrics>,
    /// The contents last tried, loaded or not: the same bytes are not parsed (or counted as
    /// a failure) twice.
    last: (Vec<u8>, Vec<u8>),
    watch: FolderWatch,
}

/// The folder watch, debounce and poll of a set of files, shared by everything the server
/// reloads from disk (the serving certificate, snapshot files).
pub struct FolderWatch {
    settings: ReloadSettings,
    poll: Option<tokio::time::Interval>,
    events: mpsc::Receiver<()>,
    /// Kept so that `events` never closes, even without a watcher.
    _sender: mpsc::Sender<()>,
    _watcher: Option<notify::RecommendedWatcher>,
}

impl FolderWatch {
    /// Starts watching the folders holding `paths` (a folder path is watched itself) at once,
    /// so that no change after this call can be missed. `what` names the files in logs.
    pub fn new(paths: &[&PathBuf], settings: ReloadSettings, what: &str) -> FolderWatch {
        let (sender, events) = mpsc::channel::<()>(1);
        let watcher = if settings.watch {
            watch(&folders(paths), sender.clone())
                .inspect_err(|e| {
                    tracing::warn!(
                        error = %e,
                        poll_seconds = settings.poll_interval.as_secs_f64(),
                        "cannot watch the {what} folders; polling only"
                    );
                })
                .ok()
        } else {
            None
        };
        FolderWatch {
            settings,
            poll: None,
            events,
            _sender: sender,
            _watcher: watcher,
        }
    }

    /// Waits until the files may have changed: a file-system event (debounced) or a poll.
    /// Returns `false` once `stop` is cancelled.
    pub async fn changed(&mut self, stop: &CancellationToken) -> bool {
        let poll = match &mut self.poll {
            Some(poll) => poll,
            None => {
                let mut poll = tokio::time::interval(self.settings.poll_interval);
                poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                poll.tick().await;
                self.poll.insert(poll)
            }
        };
        tokio::select! {
            _ = stop.cancelled() => false,
            Some(()) = self.events.recv() => {
                tokio::time::sleep(self.settings.debounce).await;
                while self.events.try_recv().is_ok() {}
                true
            }
            _ = poll.tick() => true,
        }
    }
}

impl Reloader {
    /// Starts watching the folders of `cert` and `key` at once, before anything is read, so
    /// that no change after this call can be missed.
    pub fn new(
        cert: PathBuf,
        key: PathBuf,
        resolver: Arc<CertResolver>,
        metrics: Arc<Metrics>,
        settings: ReloadSettings,
    ) -> Reloader {
        let watch = FolderWatch::new(&[&cert, &key], settings, "certificate");
        Reloader {
            cert,
            key,
            resolver,
            metrics,
            last: (Vec::new(), Vec::new()),
            watch,
        }
    }

    /// The load at start, which must succeed: without a certificate there is nothing to
    /// serve.
    pub fn load_initial(&mut self) -> Result<ServingCert, CertError> {
        let cert_pem = read_file(&self.cert)?;
        let key_pem = read_file(&self.key)?;
        let serving = parse_serving_cert(&self.cert, &cert_pem, &self.key, &key_pem)?;
        self.resolver.store(serving.key.clone());
        self.metrics.set_cert_expiry(serving.not_after);
        self.last = (cert_pem, key_pem);
        Ok(serving)
    }

    /// Reacts to file-system events and polls, until `stop` is cancelled.
    pub async fn run(mut self, stop: CancellationToken) {
        while self.watch.changed(&stop).await {
            self.check().await;
        }
    }

    /// Reads both files and swaps the certificate when they changed and load.
    async fn check(&mut self) {
        let (cert, key) = (self.cert.clone(), self.key.clone());
        let read = tokio::task::spawn_blocking(move || {
            Ok::<_, std::io::Error>((std::fs::read(&cert)?, std::fs::read(&key)?))
        })
        .await;
        let contents = match read {
            Ok(Ok(contents)) => contents,
            Ok(Err(e)) => {
                // Mid-rotation a file can be briefly missing; the next event or poll retries.
                tracing::debug!(error = %e, "certificate files not readable yet");
                return;
            }
            Err(_) => return,
        };
        if contents == self.last {
            return;
        }
        self.last = contents;
        self.apply();
    }

    fn apply(&self) {
        let (cert_pem, key_pem) = &self.last;
        match parse_serving_cert(&self.cert, cert_pem, &self.key, key_pem) {
            Ok(serving) => {
                self.resolver.store(serving.key);
                self.metrics.cert_reloaded(true);
                self.metrics.set_cert_expiry(serving.not_after);
                tracing::info!(
                    cert = %self.cert.display(),
                    not_after = serving.not_after,
                    "serving certificate reloaded"
                );
            }
            Err(e) => {
                self.metrics.cert_reloaded(false);
                tracing::warn!(
                    error = %e,
                    "new serving certificate does not load; keeping the current one"
                );
            }
        }
    }
}

fn folders(files: &[&PathBuf]) -> BTreeSet<PathBuf> {
    files
        .iter()
        .map(|p| match p.parent() {
            _ if p.is_dir() => p.to_path_buf(),
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
            _ => PathBuf::from("."),
        })
        .collect()
}

fn watch(
    folders: &BTreeSet<PathBuf>,
    tx: mpsc::Sender<()>,
) -> notify::Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Reading the files ourselves raises `open` events; reacting to them would loop.
        let relevant = match event {
            Ok(e) => !matches!(e.kind, EventKind::Access(_)),
            Err(_) => true,
        };
        if relevant {
            // A full channel already holds a wake-up; one is enough.
            let _ = tx.try_send(());
        }
    })?;
    for dir in folders {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    Ok(watcher)
}
