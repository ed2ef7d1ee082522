//! Accepting connections and serving HTTP on them: the accept loops of both listeners, the TLS
//! handshake, and the per-connection HTTP/1.1 or HTTP/2 service with graceful shutdown.
//!
//! The protocol is chosen from the ALPN result, not by sniffing the first bytes: a client that
//! connects and then says nothing is then still subject to the HTTP/1 header-read timeout,
//! instead of waiting in protocol detection forever. HTTP/2 over TLS requires ALPN (RFC 9113
//! §3.2), so a client without ALPN speaks HTTP/1.1.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulConnection;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Limits;
use super::idle::{Activity, Tracked};
use super::limit::{ConnectionLimit, Slot};
use super::metrics::Metrics;
use super::tls::HandshakeFailure;

/// Protocol settings shared by every connection.
#[derive(Clone, Debug)]
pub struct Http {
    h1: http1::Builder,
    h2: http2::Builder<TokioExecutor>,
    h2_idle_timeout: Duration,
}

impl Http {
    pub fn new(limits: &Limits) -> Http {
        let mut h1 = http1::Builder::new();
        h1.timer(TokioTimer::new())
            // Also closes keep-alive connections idle for this long: hyper starts the timer
            // when it waits for the next request's head.
            .header_read_timeout(limits.header_read_timeout)
            .keep_alive(true)
            .max_headers(100)
            // A longer request head is answered 431.
            .max_header_size(limits.max_header_bytes);
        let mut h2 = http2::Builder::new(TokioExecutor::new());
        h2.timer(TokioTimer::new())
            .max_concurrent_streams(limits.h2_max_concurrent_streams)
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            // Rapid-reset (CVE-2023-44487) bounds: streams a client may open and reset
            // before they are processed, and resets this server may be provoked into.
            .max_pending_accept_reset_streams(Some(20))
            .max_local_error_reset_streams(Some(256))
            .keep_alive_interval(Some(Duration::from_secs(20)))
            .keep_alive_timeout(Duration::from_secs(20));
        Http {
            h1,
            h2,
            h2_idle_timeout: limits.h2_idle_timeout,
        }
    }
}

/// What the TLS handshake of an admission connection needs.
#[derive(Clone)]
pub struct Handshake {
    pub acceptor: TlsAcceptor,
    /// Time a client has to complete the handshake.
    pub timeout: Duration,
    /// Where refused handshakes are counted.
    pub metrics: Arc<Metrics>,
}

/// Accepts TLS connections until `stop` is cancelled, then returns, closing the listener.
/// Connections already accepted are served by tasks in `connections`, which shut down
/// gracefully (in-flight requests finish) once `stop` is cancelled. At most `limit`
/// connections are open at once; each holds its slot until it closes.
pub async fn accept_tls(
    listener: TcpListener,
    handshake: Handshake,
    http: Arc<Http>,
    app: Router,
    limit: ConnectionLimit,
    stop: CancellationToken,
    connections: TaskTracker,
) {
    while let Some((tcp, peer, slot)) = accept(&listener, &limit, &stop).await {
        let (tls, http, app, stop) = (handshake.clone(), http.clone(), app.clone(), stop.clone());
        connections.spawn(async move {
            let _slot = slot;
            let accept = tokio::time::timeout(tls.timeout, tls.acceptor.accept(tcp));
            // Refused handshakes never reach HTTP: without this count and the debug line, a
            // caller with the wrong CA or no client certificate is invisible.
            let stream = tokio::select! {
                r = accept => match r {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        let reason = HandshakeFailure::of(&e);
                        tls.metrics.tls_handshake_failed(reason);
                        tracing::debug!(
                            %peer,
                            reason = reason.as_str(),
                            error = %e,
                            "TLS handshake failed"
                        );
                        return;
                    }
                    Err(_) => {
                        tls.metrics.tls_handshake_failed(HandshakeFailure::Timeout);
                        tracing::debug!(%peer, reason = "timeout", "TLS handshake timed out");
                        return;
                    }
                },
                _ = stop.cancelled() => return,
            };
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            let (io, activity) = (TokioIo::new(Unvectored(stream)), Activity::default());
            let service = Tracked::new(app, activity.clone());
            if h2 {
                let conn = http.h2.serve_connection(io, service);
                serve(conn, activity, Some(http.h2_idle_timeout), peer, stop).await;
            } else {
                let conn = http.h1.serve_connection(io, service);
                serve(conn, activity, None, peer, stop).await;
            }
        });
    }
}

/// A TLS stream that tells HTTP it has no vectored writes.
///
/// rustls copies plaintext into records whatever the shape of a write, so vectored writes save
/// nothing here. They cost a flush per answer over HTTP/2, though: given a vectored stream, h2
/// keeps every DATA frame of 256 bytes or more out of its write buffer and writes it out before
/// it buffers the next frame, so a `/mutate` answer (a patch, 300–600 bytes) took one write per
/// response where `/validate` answers shared one. Without vectored writes h2 copies frames under
/// 1 KiB into the buffer, and answers written together leave in one write.
struct Unvectored<T>(T);

impl<T: AsyncRead + Unpin> AsyncRead for Unvectored<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Unvectored<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }
}

/// Accepts plain-HTTP/1.1 connections (the probe listener) until `stop` is cancelled.
pub async fn accept_plain(
    listener: TcpListener,
    http: Arc<Http>,
    app: Router,
    limit: ConnectionLimit,
    stop: CancellationToken,
    connections: TaskTracker,
) {
    while let Some((tcp, peer, slot)) = accept(&listener, &limit, &stop).await {
        let (http, app, stop) = (http.clone(), app.clone(), stop.clone());
        connections.spawn(async move {
            let _slot = slot;
            let activity = Activity::default();
            let service = Tracked::new(app, activity.clone());
            let conn = http.h1.serve_connection(TokioIo::new(tcp), service);
            serve(conn, activity, None, peer, stop).await
        });
    }
}

/// The next connection and its slot (waiting for a free slot first), or `None` once `stop`
/// is cancelled.
async fn accept(
    listener: &TcpListener,
    limit: &ConnectionLimit,
    stop: &CancellationToken,
) -> Option<(TcpStream, SocketAddr, Slot)> {
    let slot = tokio::select! {
        biased;
        _ = stop.cancelled() => return None,
        slot = limit.slot() => slot,
    };
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return None,
            r = listener.accept() => match r {
                Ok((tcp, peer)) => {
                    // Small request/response exchanges: do not wait to coalesce segments.
                    let _ = tcp.set_nodelay(true);
                    return Some((tcp, peer, slot));
                }
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: back off
                    // a little instead of spinning, and keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Serves one connection until the client closes it, `stop` is cancelled, or (with
/// `idle_timeout`) no request has been in flight for that long.
async fn serve<C>(
    conn: C,
    activity: Activity,
    idle_timeout: Option<Duration>,
    peer: SocketAddr,
    stop: CancellationToken,
) where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    let idle = async {
        match idle_timeout {
            Some(timeout) => activity.idle_for(timeout).await,
            None => std::future::pending().await,
        }
    };
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.cancelled() => {
            // HTTP/1: finish the request in flight, then close; HTTP/2: GOAWAY, then wait
            // for the open streams.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
        _ = idle => {
            tracing::debug!(%peer, "closing an idle connection");
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection closed with an error");
    }
}
