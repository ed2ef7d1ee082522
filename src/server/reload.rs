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
use super::tls::{CertResolver, parse_serving_cert};

/// How often and how patiently the files are checked.
#[derive(Clone, Copy, Debug)]
pub struct ReloadSettings {
    /// Fallback poll interval.
    pub poll_interval: Duration,
    /// Quiet time after a file-system event before the files are read.
    pub debounce: Duration,
}

impl Default for ReloadSettings {
    fn default() -> ReloadSettings {
        ReloadSettings {
            poll_interval: Duration::from_secs(10),
            debounce: Duration::from_millis(200),
        }
    }
}

/// The certificate files and what was last read from them.
pub struct Reloader {
    cert: PathBuf,
    key: PathBuf,
    resolver: Arc<CertResolver>,
    metrics: Arc<Metrics>,
    settings: ReloadSettings,
    /// The contents last tried, loaded or not: the same bytes are not parsed (or counted as
    /// a failure) twice.
    last: (Vec<u8>, Vec<u8>),
}

impl Reloader {
    /// `initial` is what the server started with (the contents of both files), already in
    /// the resolver.
    pub fn new(
        cert: PathBuf,
        key: PathBuf,
        initial: (Vec<u8>, Vec<u8>),
        resolver: Arc<CertResolver>,
        metrics: Arc<Metrics>,
        settings: ReloadSettings,
    ) -> Reloader {
        Reloader {
            cert,
            key,
            resolver,
            metrics,
            settings,
            last: initial,
        }
    }

    /// Watches and polls until `stop` is cancelled.
    pub async fn run(mut self, stop: CancellationToken) {
        let (tx, mut rx) = mpsc::channel::<()>(1);
        let _watcher = match self.watch(tx.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    poll_seconds = self.settings.poll_interval.as_secs_f64(),
                    "cannot watch the certificate folders; polling only"
                );
                None
            }
        };
        let mut poll = tokio::time::interval(self.settings.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        poll.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                Some(()) = rx.recv() => {
                    tokio::time::sleep(self.settings.debounce).await;
                    while rx.try_recv().is_ok() {}
                    self.check().await;
                }
                _ = poll.tick() => self.check().await,
            }
        }
        drop(tx);
    }

    fn folders(&self) -> BTreeSet<PathBuf> {
        [&self.cert, &self.key]
            .into_iter()
            .map(|p| match p.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
                _ => PathBuf::from("."),
            })
            .collect()
    }

    fn watch(&self, tx: mpsc::Sender<()>) -> notify::Result<notify::RecommendedWatcher> {
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
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
        for dir in self.folders() {
            watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        }
        Ok(watcher)
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
