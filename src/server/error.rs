//! What can go wrong, in two enums: [`Error`] stops the server from starting (exit status 2),
//! [`RequestError`] answers one HTTP request that is not an AdmissionReview this server can
//! judge.
//!
//! A request error never carries a verdict: the API server treats any non-200 answer as a
//! failed call and applies the webhook's `failurePolicy`, so these are reserved for callers that
//! are not a well-behaved API server (or for a deadline that has already passed).

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::deadline::TimeoutError;
use super::tls::{CertError, ClientCaError};
use crate::admission::ReviewError;
use crate::topology::snapshot::SnapshotError;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `--snapshot` file could not be read or indexed; the message names the file and the
    /// document index.
    #[error("topology snapshot: {0}")]
    Snapshot(#[from] SnapshotError),
    /// The serving certificate or key could not be loaded at start. (Later reloads that fail
    /// keep the previous certificate instead.)
    #[error("serving certificate: {0}")]
    Certificate(#[from] CertError),
    /// `--client-ca` could not be read or holds no usable CA certificate.
    #[error("client CA {path}: {source}")]
    ClientCa {
        path: PathBuf,
        #[source]
        source: ClientCaError,
    },
    /// rustls refused the TLS configuration.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// A listener could not be bound (address in use, no permission, no such address).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The async runtime or the signal handlers could not be set up.
    #[error("cannot start: {0}")]
    Runtime(#[source] std::io::Error),
}

/// Why one request to `/validate` or `/mutate` is answered with an HTTP error instead of an
/// AdmissionReview.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The API server always sends `Content-Type: application/json`; anything else is not an
    /// AdmissionReview, and is refused without parsing (or keeping) the body.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// The body is over the limit (7 MiB: two objects at the API server's 3 MiB limit plus
    /// the envelope). Refused from `Content-Length` before reading, or as soon as a streamed
    /// body passes the limit, so a huge body never sits in memory.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The body stopped arriving (the client went away or broke the stream).
    #[error("could not read the request body")]
    BodyRead,
    /// `?timeout=` is not a Go duration. The API server refuses the same query on its own
    /// requests with 400 and this message.
    #[error("invalid timeout specified in the request URL - {0}")]
    BadTimeout(#[source] TimeoutError),
    /// The body is not an AdmissionReview this server can answer.
    #[error("{0}")]
    NotAReview(#[from] ReviewError),
    /// The caller's deadline (`?timeout=`) or the server's own request limit passed, waiting
    /// for the body or for a free evaluation slot.
    #[error("request timed out")]
    Timeout,
    /// The evaluation failed unexpectedly. Reported as a server error so that the API server
    /// applies `failurePolicy` rather than a made-up verdict.
    #[error("internal error evaluating the request")]
    Internal,
}

impl RequestError {
    pub fn status(&self) -> StatusCode {
        match self {
            RequestError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RequestError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::BodyRead | RequestError::NotAReview(_) | RequestError::BadTimeout(_) => {
                StatusCode::BAD_REQUEST
            }
            RequestError::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            RequestError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for RequestError {
    fn into_response(self) -> Response {
        plain(self.status(), self.to_string())
    }
}

/// A short plain-text answer, for everything that is not an AdmissionReview.
pub fn plain(status: StatusCode, text: impl Into<String>) -> Response {
    let mut text = text.into();
    text.push('\n');
    (
        status,
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}
