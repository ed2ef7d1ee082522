//! The HTTP side of `/validate` and `/mutate`: checks that cost nothing come first
//! (Content-Type, Content-Length), then the body is read within the caller's deadline and a
//! bounded number of slots, and the [`crate::admission`] layer answers it.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::{HeaderMap, StatusCode, header};
use http_body_util::BodyExt;
use tokio::sync::Semaphore;
use tracing::Instrument;
use tracing::field::Empty;

use super::Limits;
use super::body::{self, BodyBudget};
use super::deadline;
use super::error::{RequestError, plain};
use super::log_limit::LogLimit;
use super::metrics::Metrics;
use crate::admission::{self, Answer, Context, Endpoint, Verdict};
use crate::engine::Settings;
use crate::topology::SharedTopology;

/// Bodies above this size are evaluated on the blocking pool, so that parsing megabytes of
/// JSON does not stall the other connections served by the same worker thread.
const INLINE_BODY_LIMIT: usize = 256 * 1024;

/// What the admission handlers share.
#[derive(Debug)]
pub struct AppState {
    pub topology: SharedTopology,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// Evaluation slots: requests beyond them wait (within their deadline) instead of
    /// failing.
    permits: Semaphore,
    /// Requests to other paths or with other methods come from anyone who can reach the port
    /// (scanners, misconfigured probes): their log lines are rate-limited, their count is not.
    refusal_log: LogLimit,
    /// Bytes of bodies being read or evaluated, across all requests.
    body_budget: BodyBudget,
}

impl AppState {
    pub fn new(
        topology: SharedTopology,
        settings: Settings,
        metrics: Arc<Metrics>,
        limits: Limits,
    ) -> AppState {
        AppState {
            permits: Semaphore::new(limits.max_concurrent_requests.max(1)),
            refusal_log: LogLimit::new(REFUSAL_LOG_INTERVAL),
            body_budget: BodyBudget::new(
                limits.body_memory_bytes.max(limits.max_body_bytes),
                metrics.body_bytes(),
            ),
            topology,
            settings,
            metrics,
            limits,
        }
    }
}

/// The admission listener's routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// At most one log line per this interval for requests refused with 404 or 405.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

async fn not_found(State(app): State<Arc<AppState>>, req: Request) -> Response {
    refuse(&app, req, StatusCode::NOT_FOUND, "not found").await
}

async fn method_not_allowed(State(app): State<Arc<AppState>>, req: Request) -> Response {
    refuse(
        &app,
        req,
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed; use POST",
    )
    .await
}

/// Answers a request outside `/validate` and `/mutate` (or not a POST to them): counted like
/// every other refusal, logged at most once per [`REFUSAL_LOG_INTERVAL`].
async fn refuse(app: &AppState, req: Request, status: StatusCode, text: &'static str) -> Response {
    let started = Instant::now();
    let endpoint = match req.uri().path() {
        "/validate" => Some(Endpoint::Validate),
        "/mutate" => Some(Endpoint::Mutate),
        _ => None,
    };
    let method = req.method().clone();
    // A URI path holds no spaces or control characters; only its length needs a bound.
    let path = req.uri().path().chars().take(128).collect::<String>();
    discard_body(req, DISCARD_LIMIT).await;
    app.metrics
        .observe_refused(endpoint, status.as_u16(), started.elapsed());
    if let Some(suppressed) = app.refusal_log.allow(Instant::now()) {
        tracing::info!(
            status = status.as_u16(),
            %method,
            path,
            suppressed,
            "request refused: {text}"
        );
    }
    plain(status, text)
}

async fn validate(State(app): State<Arc<AppState>>, req: Request) -> Response {
    admit(app, Endpoint::Validate, req).await
}

async fn mutate(State(app): State<Arc<AppState>>, req: Request) -> Response {
    admit(app, Endpoint::Mutate, req).await
}

/// One request, in one span whose fields are filled in as they become known.
async fn admit(app: Arc<AppState>, endpoint: Endpoint, req: Request) -> Response {
    let started = Instant::now();
    let span = tracing::info_span!(
        "admission",
        endpoint = endpoint.as_str(),
        uid = Empty,
        kind = Empty,
        namespace = Empty,
        name = Empty,
        operation = Empty,
        dry_run = Empty,
        verdict = Empty,
        latency_us = Empty,
    );
    let _in_flight = app.metrics.in_flight();
    let result = answer(app.clone(), endpoint, req)
        .instrument(span.clone())
        .await;
    let elapsed = started.elapsed();
    let _entered = span.enter();
    span.record(
        "latency_us",
        u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
    );
    match result {
        Ok(Answer { body, summary }) => {
            span.record("uid", summary.uid.as_str());
            record_kind(&span, &summary.group, &summary.kind);
            span.record("namespace", summary.namespace.as_str());
            span.record("name", summary.name.as_str());
            span.record("operation", summary.operation.as_str());
            span.record("dry_run", summary.dry_run);
            span.record("verdict", summary.verdict.as_str());
            app.metrics
                .observe_request(endpoint, Some(&summary), 200, elapsed);
            match summary.verdict {
                Verdict::Denied => tracing::info!(findings = summary.findings.len(), "denied"),
                // In audit mode this line, with the span's namespace and name, is the per-object
                // record of what enforcement would refuse. Only `/validate` writes it: `/mutate`
                // judges the same object just before.
                Verdict::Allowed
                    if endpoint == Endpoint::Validate && summary.would_deny().next().is_some() =>
                {
                    let codes: Vec<&str> = summary.would_deny().map(|c| c.as_str()).collect();
                    tracing::info!(
                        findings = summary.findings.len(),
                        would_deny = %codes.join(","),
                        "allowed; would deny"
                    )
                }
                Verdict::Allowed => tracing::debug!(
                    findings = summary.findings.len(),
                    patched = summary.patched,
                    "allowed"
                ),
                Verdict::Skipped(why) => {
                    tracing::debug!(reason = why.as_str(), "allowed untouched")
                }
            }
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        }
        Err(e) => {
            span.record("verdict", "error");
            let status = e.status();
            app.metrics
                .observe_request(endpoint, None, status.as_u16(), elapsed);
            tracing::info!(status = status.as_u16(), error = %e, "request refused");
            e.into_response()
        }
    }
}

/// Records `group/kind` in the span; the kind this webhook is registered for, nearly every
/// request, without building the string.
fn record_kind(span: &tracing::Span, group: &str, kind: &str) {
    const FAILOVER_SERVICE: &str = "networking.smh.solo.io/FailoverService";
    match FAILOVER_SERVICE.split_once('/') {
        Some((g, k)) if g == group && k == kind => span.record("kind", FAILOVER_SERVICE),
        _ => span.record("kind", format!("{group}/{kind}")),
    };
}

async fn answer(
    app: Arc<AppState>,
    endpoint: Endpoint,
    req: Request,
) -> Result<Answer, RequestError> {
    let limit = app.limits.max_body_bytes;
    let budget = match deadline::budget(req.uri().query(), app.limits.request_timeout) {
        Ok(budget) => budget,
        Err(e) => {
            discard_body(req, limit).await;
            return Err(RequestError::BadTimeout(e));
        }
    };
    if !is_json(req.headers()) {
        // Never parsed, and never held in memory: read past and dropped.
        discard_body(req, limit).await;
        return Err(RequestError::UnsupportedMediaType);
    }
    if content_length(req.headers()).is_some_and(|n| n > limit as u64) {
        return Err(RequestError::PayloadTooLarge { limit });
    }
    let work = async {
        // The body first, then a slot: a client sending its body slowly must not hold a
        // slot that requests ready to be evaluated need.
        let body = body::read(req.into_body(), limit, &app.body_budget).await?;
        let _permit = app
            .permits
            .acquire()
            .await
            .map_err(|_| RequestError::Internal)?;
        let body = body.bytes;
        if body.len() <= INLINE_BODY_LIMIT {
            evaluate(&app, &body, endpoint)
        } else {
            let app = app.clone();
            tokio::task::spawn_blocking(move || evaluate(&app, &body, endpoint))
                .await
                .map_err(|_| RequestError::Internal)?
        }
    };
    tokio::time::timeout(budget, work)
        .await
        .map_err(|_| RequestError::Timeout)?
}

fn evaluate(app: &AppState, body: &[u8], endpoint: Endpoint) -> Result<Answer, RequestError> {
    let topology = app.topology.load();
    let ctx = Context {
        topology: &topology,
        settings: &app.settings,
    };
    // A defect in the rules must cost one request (answered 500, so failurePolicy applies),
    // not the connection or the worker thread.
    match std::panic::catch_unwind(AssertUnwindSafe(|| admission::review(body, endpoint, ctx))) {
        Ok(answer) => Ok(answer?),
        Err(_) => {
            tracing::error!("evaluation panicked");
            Err(RequestError::Internal)
        }
    }
}

/// Most a refused request's body is read past before answering (outside `/validate` and
/// `/mutate`).
const DISCARD_LIMIT: usize = 64 * 1024;
/// Longest a refused request's body is waited for.
const DISCARD_TIME: Duration = Duration::from_secs(5);

/// Reads and drops the body of a request that is refused without looking at it, so that the
/// answer ends the exchange cleanly: HTTP/1.1 can keep the connection, and an HTTP/2 client
/// gets its response on a finished stream instead of one reset under its upload (which some
/// clients, curl among them, report as an error and lose the response). A body declared
/// larger than `limit`, or still arriving after a few seconds, is left unread: the connection
/// or stream is then closed after the answer.
async fn discard_body(req: Request, limit: usize) {
    if content_length(req.headers()).is_some_and(|n| n > limit as u64) {
        return;
    }
    let mut body = req.into_body();
    let _ = tokio::time::timeout(DISCARD_TIME, async {
        let mut read = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            read += frame.data_ref().map_or(0, |d| d.len());
            if read > limit {
                break;
            }
        }
    })
    .await;
}

/// `application/json`, with or without parameters such as `charset`.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_are_recognised_with_parameters() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, http::HeaderValue::from_static(v));
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("application/json; charset=utf-8"));
        assert!(with("Application/JSON"));
        assert!(!with("application/yaml"));
        assert!(!with("text/plain; application/json"));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn the_usual_kind_is_recorded_as_the_group_and_kind() {
        use std::sync::{Arc, Mutex};
        use tracing::field::{Field, Visit};
        use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

        #[derive(Clone, Default)]
        struct Kinds(Arc<Mutex<Vec<String>>>);
        impl Visit for Kinds {
            fn record_str(&mut self, field: &Field, value: &str) {
                if field.name() == "kind" {
                    self.0.lock().unwrap().push(value.to_owned());
                }
            }
            fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
                if field.name() == "kind" {
                    self.0.lock().unwrap().push(format!("{value:?}"));
                }
            }
        }
        impl<S: tracing::Subscriber> Layer<S> for Kinds {
            fn on_record(
                &self,
                _: &tracing::span::Id,
                values: &tracing::span::Record<'_>,
                _: Context<'_, S>,
            ) {
                values.record(&mut self.clone());
            }
        }
        let kinds = Kinds::default();
        let subscriber = tracing_subscriber::registry().with(kinds.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("admission", kind = Empty);
            record_kind(&span, crate::api::NETWORKING_GROUP, "FailoverService");
            record_kind(&span, "apps", "Deployment");
        });
        assert_eq!(
            *kinds.0.lock().unwrap(),
            ["networking.smh.solo.io/FailoverService", "apps/Deployment"]
        );
    }
}
