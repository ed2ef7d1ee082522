//! The HTTP side of `/validate` and `/mutate`: checks that cost nothing come first
//! (Content-Type, Content-Length), then the body is read within the caller's deadline and a
//! bounded number of slots, and the [`crate::admission`] layer answers it.

use std::borrow::Cow;
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

/// One request. A request that writes a log line writes it in an `admission` span holding what
/// the request was; the span is built only then, from the answer, because building and filling
/// it for every request cost more than anything else the handler does around the review.
async fn admit(app: Arc<AppState>, endpoint: Endpoint, req: Request) -> Response {
    let started = Instant::now();
    let _in_flight = app.metrics.in_flight();
    let result = answer(app.clone(), endpoint, req).await;
    let elapsed = started.elapsed();
    let latency_us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    match result {
        Ok(Answer { body, summary }) => {
            app.metrics
                .observe_request(endpoint, Some(&summary), 200, elapsed);
            // Fields in the order they used to be recorded, so log lines read as before.
            let span = || {
                tracing::info_span!(
                    "admission",
                    endpoint = endpoint.as_str(),
                    latency_us,
                    uid = summary.uid.as_str(),
                    kind = kind_of(&summary.group, &summary.kind).as_ref(),
                    namespace = summary.namespace.as_str(),
                    name = summary.name.as_str(),
                    operation = summary.operation.as_str(),
                    dry_run = summary.dry_run,
                    verdict = summary.verdict.as_str(),
                )
            };
            match summary.verdict {
                Verdict::Denied => {
                    span().in_scope(|| tracing::info!(findings = summary.findings.len(), "denied"))
                }
                // In audit mode this line, with the span's namespace and name, is the per-object
                // record of what enforcement would refuse. Only `/validate` writes it: `/mutate`
                // judges the same object just before.
                Verdict::Allowed
                    if endpoint == Endpoint::Validate && summary.would_deny().next().is_some() =>
                {
                    let codes: Vec<&str> = summary.would_deny().map(|c| c.as_str()).collect();
                    span().in_scope(|| {
                        tracing::info!(
                            findings = summary.findings.len(),
                            would_deny = %codes.join(","),
                            "allowed; would deny"
                        )
                    })
                }
                Verdict::Allowed if tracing::enabled!(tracing::Level::DEBUG) => {
                    span().in_scope(|| {
                        tracing::debug!(
                            findings = summary.findings.len(),
                            patched = summary.patched,
                            "allowed"
                        )
                    })
                }
                Verdict::Allowed => {}
                Verdict::Skipped(why) if tracing::enabled!(tracing::Level::DEBUG) => {
                    span().in_scope(|| tracing::debug!(reason = why.as_str(), "allowed untouched"))
                }
                Verdict::Skipped(_) => {}
            }
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        }
        Err(e) => {
            let status = e.status();
            app.metrics
                .observe_request(endpoint, None, status.as_u16(), elapsed);
            tracing::info_span!(
                "admission",
                endpoint = endpoint.as_str(),
                latency_us,
                verdict = "error"
            )
            .in_scope(|| tracing::info!(status = status.as_u16(), error = %e, "request refused"));
            e.into_response()
        }
    }
}

/// `group/kind` for the span; the kind this webhook is registered for, nearly every request,
/// without building the string.
fn kind_of<'a>(group: &str, kind: &str) -> Cow<'a, str> {
    const FAILOVER_SERVICE: &str = "networking.smh.solo.io/FailoverService";
    match FAILOVER_SERVICE.split_once('/') {
        Some((g, k)) if g == group && k == kind => Cow::Borrowed(FAILOVER_SERVICE),
        _ => Cow::Owned(format!("{group}/{kind}")),
    }
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
            tracing::info_span!("admission", endpoint = endpoint.as_str())
                .in_scope(|| tracing::error!("evaluation panicked"));
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
    fn the_usual_kind_is_the_constant_and_another_is_written_out() {
        let usual = kind_of(crate::api::NETWORKING_GROUP, "FailoverService");
        assert!(matches!(usual, Cow::Borrowed(_)));
        assert_eq!(usual, "networking.smh.solo.io/FailoverService");
        assert_eq!(kind_of("apps", "Deployment"), "apps/Deployment");
        assert_eq!(
            kind_of(crate::api::NETWORKING_GROUP, "Mesh"),
            "networking.smh.solo.io/Mesh"
        );
    }
}
