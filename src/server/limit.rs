//! The cap on open admission connections. Each accepted connection holds a permit until it
//! closes; when none is left the accept loop stops accepting, so further clients wait in the
//! kernel's listen backlog (and are refused by the kernel once that is full) while the
//! connections already open keep being served. A client that opens connections and sends
//! nothing can then hold at most this many, each for at most the handshake or header-read
//! timeout, instead of growing memory without bound.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A connection slot, released when dropped.
pub type Slot = OwnedSemaphorePermit;

#[derive(Clone, Debug)]
pub struct ConnectionLimit {
    slots: Arc<Semaphore>,
    max: usize,
}

impl ConnectionLimit {
    /// At most `max` open connections (at least one).
    pub fn new(max: usize) -> ConnectionLimit {
        let max = max.max(1);
        ConnectionLimit {
            slots: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// A free slot, waiting for one when all are taken.
    pub async fn slot(&self) -> Slot {
        if let Ok(slot) = self.slots.clone().try_acquire_owned() {
            return slot;
        }
        tracing::warn!(
            max_connections = self.max,
            "connection limit reached; new connections wait until an open one closes"
        );
        match self.slots.clone().acquire_owned().await {
            Ok(slot) => slot,
            // The semaphore is never closed: only an `Arc` of it is ever shared.
            Err(_) => std::future::pending().await,
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.max - self.slots.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slot_frees_when_its_connection_ends() {
        let limit = ConnectionLimit::new(2);
        let a = limit.slot().await;
        let _b = limit.slot().await;
        assert_eq!(limit.open(), 2);
        let waiting = tokio::spawn({
            let limit = limit.clone();
            async move { limit.slot().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(a);
        let _c = waiting.await.unwrap();
        assert_eq!(limit.open(), 2);
    }

    #[test]
    fn zero_means_one() {
        assert_eq!(ConnectionLimit::new(0).max, 1);
    }
}
