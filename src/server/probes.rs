//! The plain-HTTP probe listener: `/healthz`, `/readyz` and `/metrics`.
//!
//! Liveness and readiness mean different things to the kubelet: a failed liveness probe
//! restarts the container, a failed readiness probe only takes the pod out of the Service's
//! endpoints. So `/healthz` answers 200 for as long as the process serves at all, and
//! `/readyz` answers 503 whenever the API server should not be sent here: no certificate, no
//! topology yet, or shutting down (so endpoints are updated while requests in flight finish).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use tokio_util::sync::CancellationToken;

use super::error::plain;
use super::metrics::{self, Metrics};
use super::tls::CertResolver;
use crate::topology::SharedTopology;

/// The conditions `/readyz` reports.
#[derive(Clone, Debug)]
pub struct Readiness {
    shutting_down: CancellationToken,
    topology_synced: Arc<AtomicBool>,
    certificate: Arc<CertResolver>,
}

impl Readiness {
    pub(super) fn new(
        shutting_down: CancellationToken,
        topology_synced: bool,
        certificate: Arc<CertResolver>,
    ) -> Readiness {
        Readiness {
            shutting_down,
            topology_synced: Arc::new(AtomicBool::new(topology_synced)),
            certificate,
        }
    }

    /// Records whether the topology source has delivered a complete view (a live source is
    /// not ready until every cache has synced once).
    pub fn set_topology_synced(&self, synced: bool) {
        self.topology_synced.store(synced, Ordering::Release);
    }

    /// `Ok` when ready, else why not.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.shutting_down.is_cancelled() {
            Err("shutting down")
        } else if !self.certificate.is_loaded() {
            Err("no serving certificate loaded")
        } else if !self.topology_synced.load(Ordering::Acquire) {
            Err("topology not synced")
        } else {
            Ok(())
        }
    }
}

#[derive(Clone)]
struct ProbeState {
    readiness: Readiness,
    metrics: Arc<Metrics>,
    topology: SharedTopology,
}

/// The probe listener's routes.
pub fn router(readiness: Readiness, metrics: Arc<Metrics>, topology: SharedTopology) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .fallback(|| async { plain(StatusCode::NOT_FOUND, "not found") })
        .with_state(ProbeState {
            readiness,
            metrics,
            topology,
        })
}

async fn healthz() -> Response {
    plain(StatusCode::OK, "ok")
}

async fn readyz(State(state): State<ProbeState>) -> Response {
    match state.readiness.check() {
        Ok(()) => plain(StatusCode::OK, "ready"),
        Err(why) => plain(StatusCode::SERVICE_UNAVAILABLE, why),
    }
}

async fn metrics_text(State(state): State<ProbeState>) -> Response {
    let text = state.metrics.encode(&state.topology.load());
    (
        StatusCode::OK,
        [(http::header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        text,
    )
        .into_response()
}
