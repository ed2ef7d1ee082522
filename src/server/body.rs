//! Reading a request body against a budget shared by every request. Bytes are charged to the
//! budget as they arrive and released when the request ends, so a client trickling a body
//! holds only the few bytes it has sent, not an evaluation slot that ordinary requests need,
//! while the memory held by all bodies being read stays bounded. A request that finds the
//! budget spent waits for it, within its deadline.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::RequestError;

/// Bytes of request bodies held at once, across all requests.
#[derive(Clone, Debug)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
}

impl BodyBudget {
    pub fn new(bytes: usize) -> BodyBudget {
        BodyBudget {
            bytes: Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))),
        }
    }

    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }
}

/// A body read whole, with its share of the budget (released when dropped).
#[derive(Debug)]
pub struct Held {
    pub bytes: Bytes,
    _charge: Option<OwnedSemaphorePermit>,
}

/// Reads `body` whole, refusing it as soon as it passes `limit` bytes.
pub async fn read(body: Body, limit: usize, budget: &BodyBudget) -> Result<Held, RequestError> {
    let mut body = body;
    let mut buf = Vec::new();
    let mut charge: Option<OwnedSemaphorePermit> = None;
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
            let more = budget
                .bytes
                .clone()
                .acquire_many_owned(n)
                .await
                .map_err(|_| RequestError::Internal)?;
            match charge.as_mut() {
                Some(c) => c.merge(more),
                None => charge = Some(more),
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
        let budget = BodyBudget::new(100);
        let held = read(Body::from("0123456789"), 50, &budget).await.unwrap();
        assert_eq!(&held.bytes[..], b"0123456789");
        assert_eq!(budget.available(), 90);
        drop(held);
        assert_eq!(budget.available(), 100);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_and_charges_nothing() {
        let budget = BodyBudget::new(100);
        let e = read(Body::from(vec![0u8; 51]), 50, &budget)
            .await
            .unwrap_err();
        assert!(matches!(e, RequestError::PayloadTooLarge { limit: 50 }));
        assert_eq!(budget.available(), 100);
    }

    #[tokio::test]
    async fn a_spent_budget_makes_the_next_body_wait() {
        let budget = BodyBudget::new(10);
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
}
