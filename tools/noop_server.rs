//! The baselines for `scripts/load.sh`: the admission server's own transport stack (the same
//! rustls configuration, hyper builders, accept loop and axum routing, and the same body
//! limit) answering every POST to `/validate` and `/mutate` with an allow.
//!
//! - By default, one fixed AdmissionReview, without parsing or judging anything. The difference
//!   to `failover-webhook serve` is the cost of admission itself.
//! - With `--parse`, what a straightforward webhook does before any rule runs: the body parsed
//!   into a `serde_json::Value` (on the blocking pool above the same size as `serve`), and an
//!   allow with the request's uid serialized back.
//!
//! ```text
//! cargo build --release --example noop_server
//! target/release/examples/noop_server --listen 127.0.0.1:18444 \
//!     --tls-cert certs/tls.crt --tls-key certs/tls.key [--parse]
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use clap::Parser;
use failover_webhook::server::connection::{self, Http};
use failover_webhook::server::limit::ConnectionLimit;
use failover_webhook::server::metrics::Metrics;
use failover_webhook::server::{Limits, tls};
use http::{StatusCode, header};
use http_body_util::{BodyExt, Limited};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

const ANSWER: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"2f7c9a1e-4b3d-4e8a-9c61-0d5b7e2a8f13","allowed":true}}"#;

async fn noop(req: Request) -> Response {
    let limit = Limits::default().max_body_bytes;
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(_) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            ANSWER,
        )
            .into_response(),
        Err(_) => StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    }
}

/// Bodies up to this size are parsed on the connection's worker, larger ones on the blocking
/// pool: the same split as `serve`.
const INLINE_BODY_LIMIT: usize = 256 * 1024;

fn parse_and_echo(body: &[u8]) -> Response {
    let Ok(review) = serde_json::from_slice::<serde_json::Value>(body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let uid = review.pointer("/request/uid").cloned().unwrap_or_default();
    let answer = serde_json::json!({
        "apiVersion": review.get("apiVersion").cloned().unwrap_or_default(),
        "kind": "AdmissionReview",
        "response": {"uid": uid, "allowed": true},
    });
    match serde_json::to_vec(&answer) {
        Ok(bytes) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn parse(req: Request) -> Response {
    let limit = Limits::default().max_body_bytes;
    let Ok(body) = Limited::new(req.into_body(), limit).collect().await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let body = body.to_bytes();
    if body.len() <= INLINE_BODY_LIMIT {
        parse_and_echo(&body)
    } else {
        tokio::task::spawn_blocking(move || parse_and_echo(&body))
            .await
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    }
}

/// A no-op admission server on the same transport stack as `failover-webhook serve`: the
/// baselines of scripts/load.sh.
#[derive(Parser)]
#[command(name = "noop_server")]
struct Args {
    /// Address to listen on (IP:PORT).
    #[arg(long)]
    listen: SocketAddr,
    /// Serving certificate chain (PEM).
    #[arg(long)]
    tls_cert: PathBuf,
    /// Private key of the serving certificate (PEM).
    #[arg(long)]
    tls_key: PathBuf,
    /// Parse each body into a JSON value and answer an allow with its uid, instead of one fixed
    /// answer without reading the body.
    #[arg(long)]
    parse: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("noop_server: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(serve(args.listen, args.tls_cert, args.tls_key, args.parse)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("noop_server: {e}");
            ExitCode::from(2)
        }
    }
}

async fn serve(
    listen: SocketAddr,
    cert: PathBuf,
    key: PathBuf,
    parsing: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let serving =
        tls::parse_serving_cert(&cert, &tls::read_file(&cert)?, &key, &tls::read_file(&key)?)?;
    let resolver = Arc::new(tls::CertResolver::new());
    resolver.store(serving.key);
    let acceptor = TlsAcceptor::from(Arc::new(tls::server_config(resolver, None)?));
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let limits = Limits::default();
    let app = if parsing {
        Router::new()
            .route("/validate", post(parse))
            .route("/mutate", post(parse))
    } else {
        Router::new()
            .route("/validate", post(noop))
            .route("/mutate", post(noop))
    };
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        on_signal.cancel();
    });
    eprintln!("noop_server listening on {}", listener.local_addr()?);
    connection::accept_tls(
        listener,
        connection::Handshake {
            acceptor,
            timeout: limits.tls_handshake_timeout,
            metrics: Arc::new(Metrics::new()),
        },
        Arc::new(Http::new(&limits)),
        app,
        ConnectionLimit::new(limits.max_connections),
        stop,
        TaskTracker::new(),
    )
    .await;
    Ok(())
}
