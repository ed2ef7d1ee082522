//! Reading a request body against a budget shared by every request. Bytes are charged to the
//! budget as they arrive and released when the request ends, so a client trickling a body
//! holds only the few bytes it has sent, not an evaluation slot that ordinary requests need,
//! while the memory held by all bodies being read stays bounded. A request that finds the
//! budget spent waits for it, within its deadline.
//!
//! A waiting request takes nothing until its whole chunk fits. (A semaphore's own waiting
//! hands out permits in arrival order, a part at a time, so one large waiting chunk would hold
//! back the bytes that the bodies already in progress need to finish, and everyone would wait
//! for their deadlines.)

use std::sync::Arc;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::error::RequestError;

/// Bytes of request bodies held at once, across all requests.
#[derive(Clone, Debug)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    released: Arc<Notify>,
    /// Bytes held now, for the metrics.
    held: Gauge,
}

impl BodyBudget {
    pub fn new(bytes: usize, held: Gauge) -> BodyBudget {
        BodyBudget {
            bytes: Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))),
            released: Arc::new(Notify::new()),
            held,
        }
    }

    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }

    /// `n` bytes of the budget, once all of them are free.
    async fn take(&self, n: u32) -> Result<OwnedSemaphorePermit, RequestError> {
        loop {
            let released = self.released.notified();
            let mut released = std::pin::pin!(released);
            // Registered before trying, so a release in between is not missed.
            released.as_mut().enable();
            match self.bytes.clone().try_acquire_many_owned(n) {
                Ok(permit) => {
                    self.held.inc_by(i64::from(n));
                    return Ok(permit);
                }
                Err(TryAcquireError::NoPermits) => released.await,
                Err(TryAcquireError::Closed) => return Err(RequestError::Internal),
            }
        }
    }
}

/// Bytes charged to the budget; returned, and waiters woken, when dropped.
#[derive(Debug)]
struct Charge {
    permit: Option<OwnedSemaphorePermit>,
    released: Arc<Notify>,
    held: Gauge,
}

impl Drop for Charge {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            let n = permit.num_permits();
            drop(permit);
            self.held.dec_by(i64::try_from(n).unwrap_or(i64::MAX));
            self.released.notify_waiters();
        }
    }
}

/// A body read whole, with its share of the budget (released when dropped).
#[derive(Debug)]
pub struct Held {
    pub bytes: Bytes,
    _charge: Charge,
}

/// Reads `body` whole, refusing it as soon as it passes `limit` bytes.
pub async fn read(body: Body, limit: usize, budget: &BodyBudget) -> Result<Held, RequestError> {
    let mut body = body;
    let mut buf = Vec::new();
    let mut charge = Charge {
        permit: None,
        released: budget.released.clone(),
        held: budget.held.clone(),
    };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| RequestError::BodyRead)?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if buf.len().saturating_add(data.len()) > limit {
            return Err(RequestError::PayloadTooLarge { limit });
        }
        let n = u32::try_from(data.len()).map_err(|_| RequestError::PayloadTooLarge { limit })?;
        if n > 0 {
            let more = budget.take(n).await?;
            match charge.permit.as_mut() {
                Some(p) => p.merge(more),
                None => charge.permit = Some(more),
            }
        }
        buf.extend_from_slice(&data);
    }
    Ok(Held {
        bytes: Bytes::from(buf),
        _charge: charge,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_budget_is_held_while_the_body_is_and_released_after() {
        let budget = BodyBudget::new(100, Gauge::default());
        let held = read(Body::from("0123456789"), 50, &budget).await.unwrap();
        assert_eq!(&held.bytes[..], b"0123456789");
        assert_eq!(budget.available(), 90);
        assert_eq!(budget.held.get(), 10);
        drop(held);
        assert_eq!(budget.available(), 100);
        assert_eq!(budget.held.get(), 0);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_and_charges_nothing() {
        let budget = BodyBudget::new(100, Gauge::default());
        let e = read(Body::from(vec![0u8; 51]), 50, &budget)
            .await
            .unwrap_err();
        assert!(matches!(e, RequestError::PayloadTooLarge { limit: 50 }));
        assert_eq!(budget.available(), 100);
    }

    #[tokio::test]
    async fn a_spent_budget_makes_the_next_body_wait() {
        let budget = BodyBudget::new(10, Gauge::default());
        let first = read(Body::from("0123456789"), 50, &budget).await.unwrap();
        let waiting = tokio::spawn({
            let budget = budget.clone();
            async move { read(Body::from("abc"), 50, &budget).await.map(|h| h.bytes) }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(first);
        assert_eq!(&waiting.await.unwrap().unwrap()[..], b"abc");
    }

    /// A large chunk waiting for the budget must not take the part that is free: a body in
    /// progress needs it to finish and release what it holds.
    #[tokio::test]
    async fn a_waiting_chunk_takes_nothing_until_it_fits_whole() {
        let budget = BodyBudget::new(10, Gauge::default());
        let held = budget.take(6).await.unwrap();
        let big = tokio::spawn({
            let budget = budget.clone();
            async move { budget.take(8).await.map(|p| p.num_permits()) }
        });
        tokio::task::yield_now().await;
        assert_eq!(
            budget.available(),
            4,
            "the waiting chunk took part of the budget"
        );
        let small = budget.take(3).await.unwrap();
        drop(small);
        drop(Charge {
            permit: Some(held),
            released: budget.released.clone(),
            held: budget.held.clone(),
        });
        assert_eq!(big.await.unwrap().unwrap(), 8);
    }
}
