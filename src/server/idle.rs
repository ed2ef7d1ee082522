//! Closing HTTP/2 connections that carry no request for a while. HTTP/1.1 needs none of this:
//! hyper's header-read timeout already closes a keep-alive connection waiting for its next
//! request. HTTP/2 has no such timer, and its keep-alive pings only find dead peers, so a live
//! client could otherwise hold an idle connection (and a connection slot) forever.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use hyper::body::Incoming;
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;

/// Requests in flight on one connection, and how many have started; a change to either
/// restarts the idle clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Count {
    in_flight: usize,
    started: u64,
}

#[derive(Clone, Debug)]
pub struct Activity {
    count: watch::Sender<Count>,
}

/// A request in flight; ends when dropped.
pub struct Busy {
    count: watch::Sender<Count>,
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.count
            .send_modify(|c| c.in_flight = c.in_flight.saturating_sub(1));
    }
}

impl Default for Activity {
    fn default() -> Activity {
        Activity {
            count: watch::Sender::new(Count::default()),
        }
    }
}

impl Activity {
    pub fn begin(&self) -> Busy {
        self.count.send_modify(|c| {
            c.in_flight += 1;
            c.started = c.started.wrapping_add(1);
        });
        Busy {
            count: self.count.clone(),
        }
    }

    /// Resolves once no request has been in flight, and none has started, for `timeout`.
    pub async fn idle_for(&self, timeout: Duration) {
        let mut rx = self.count.subscribe();
        loop {
            let now = *rx.borrow_and_update();
            if now.in_flight > 0 {
                let _ = rx.changed().await;
                continue;
            }
            if tokio::time::timeout(timeout, rx.changed()).await.is_err() {
                return;
            }
        }
    }
}

/// The router as a hyper service that marks each request busy on `activity` until its
/// response is ready.
#[derive(Clone, Debug)]
pub struct Tracked {
    app: TowerToHyperService<Router>,
    activity: Activity,
}

impl Tracked {
    pub fn new(app: Router, activity: Activity) -> Tracked {
        Tracked {
            app: TowerToHyperService::new(app),
            activity,
        }
    }
}

impl hyper::service::Service<http::Request<Incoming>> for Tracked {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let busy = self.activity.begin();
        let answer = self.app.call(req);
        Box::pin(async move {
            let response = answer.await;
            drop(busy);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_only_after_the_last_request_ends_and_the_timeout_passes() {
        let activity = Activity::default();
        let busy = activity.begin();
        let idle = tokio::spawn({
            let activity = activity.clone();
            async move { activity.idle_for(Duration::from_secs(5)).await }
        });
        tokio::time::sleep(Duration::from_secs(60)).await;
        settle().await;
        assert!(!idle.is_finished(), "idle while a request is in flight");
        drop(busy);
        tokio::time::sleep(Duration::from_secs(3)).await;
        // A short request restarts the clock.
        drop(activity.begin());
        tokio::time::sleep(Duration::from_secs(3)).await;
        settle().await;
        assert!(!idle.is_finished(), "idle 3 s after a request");
        tokio::time::sleep(Duration::from_secs(3)).await;
        settle().await;
        assert!(idle.is_finished());
    }

    /// Lets the spawned waiter run after the clock moved.
    async fn settle() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }
}
