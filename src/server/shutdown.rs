//! Stopping: a first SIGTERM/SIGINT drains, a second one stops at once.
//!
//! The kubelet sends SIGTERM when a pod is deleted, then SIGKILL after the grace period.
//! Draining means: `/readyz` fails at once (the endpoints controller takes the pod out of the
//! Service), the admission listener stops accepting, and requests already in flight finish, so
//! no API server call in progress turns into a `failurePolicy` decision. An operator who sends
//! a second signal wants out now.

use tokio_util::sync::CancellationToken;

use super::error::Error;

/// Starts and escalates the shutdown of a [`Server`](super::Server). Clones control the same
/// server.
#[derive(Clone, Debug, Default)]
pub struct ShutdownHandle {
    drain: CancellationToken,
    abort: CancellationToken,
}

impl ShutdownHandle {
    pub(super) fn new() -> ShutdownHandle {
        ShutdownHandle::default()
    }

    /// Fails readiness, stops accepting and lets in-flight requests finish.
    pub fn shutdown(&self) {
        self.drain.cancel();
    }

    /// Stops without waiting for anything.
    pub fn abort(&self) {
        self.drain.cancel();
        self.abort.cancel();
    }

    pub fn is_shutting_down(&self) -> bool {
        self.drain.is_cancelled()
    }

    pub(super) fn drain_token(&self) -> &CancellationToken {
        &self.drain
    }

    pub(super) fn abort_token(&self) -> &CancellationToken {
        &self.abort
    }
}

/// Installs the SIGTERM/SIGINT handlers: the first signal shuts `handle`'s server down
/// gracefully, the second aborts it.
pub fn on_signals(handle: ShutdownHandle) -> Result<(), Error> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(Error::Runtime)?;
    let mut int = signal(SignalKind::interrupt()).map_err(Error::Runtime)?;
    tokio::spawn(async move {
        let first = next_signal(&mut term, &mut int).await;
        tracing::info!(signal = first, "shutting down: draining in-flight requests");
        handle.shutdown();
        let second = next_signal(&mut term, &mut int).await;
        tracing::warn!(signal = second, "second signal: stopping now");
        handle.abort();
    });
    Ok(())
}

async fn next_signal(
    term: &mut tokio::signal::unix::Signal,
    int: &mut tokio::signal::unix::Signal,
) -> &'static str {
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}
