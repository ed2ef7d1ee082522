//! Real HTTPS clients for the tests: rustls (ring) under hyper's client connections, so that a
//! test controls the connection itself — several requests on one HTTP/1.1 keep-alive
//! connection, HTTP/2 by ALPN, a client certificate, or raw bytes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::pki::Issued;

pub const H2: &[u8] = b"h2";
pub const H1: &[u8] = b"http/1.1";

/// A client TLS configuration trusting `ca_pem`, offering `alpn`, and presenting `identity`.
pub fn client_config(ca_pem: &str, alpn: &[&[u8]], identity: Option<&Issued>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
    let mut config = match identity {
        Some(id) => builder
            .with_client_auth_cert(
                vec![id.der.clone()],
                PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// A TLS connection to `addr`, verifying the server as `localhost`.
pub async fn tls_connect(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

enum Sender {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// One HTTP connection; HTTP/2 when the server agreed to it by ALPN.
pub struct Conn {
    sender: Sender,
    /// The ALPN protocol the server chose.
    pub alpn: Option<Vec<u8>>,
    /// The certificate the server presented.
    pub server_cert: CertificateDer<'static>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub version: Version,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {:?} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Conn {
    pub async fn open(addr: SocketAddr, config: Arc<ClientConfig>) -> std::io::Result<Conn> {
        let tls = tls_connect(addr, config).await?;
        let (_, tls_state) = tls.get_ref();
        let alpn = tls_state.alpn_protocol().map(<[u8]>::to_vec);
        let server_cert = tls_state.peer_certificates().unwrap()[0].clone();
        let io = TokioIo::new(tls);
        let sender = if alpn.as_deref() == Some(H2) {
            let (sender, conn) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(std::io::Error::other)?;
            tokio::spawn(conn);
            Sender::H2(sender)
        } else {
            let (sender, conn) = http1::handshake(io).await.map_err(std::io::Error::other)?;
            tokio::spawn(conn);
            Sender::H1(sender)
        };
        Ok(Conn {
            sender,
            alpn,
            server_cert,
        })
    }

    /// Another handle on the same HTTP/2 connection (a new stream per request); `None` for
    /// HTTP/1.1, which has one request at a time.
    pub fn stream(&self) -> Option<Conn> {
        match &self.sender {
            Sender::H2(s) => Some(Conn {
                sender: Sender::H2(s.clone()),
                alpn: self.alpn.clone(),
                server_cert: self.server_cert.clone(),
            }),
            Sender::H1(_) => None,
        }
    }

    /// A request builder with the URI form this connection's protocol needs.
    pub fn request(&self, method: &str, path: &str) -> http::request::Builder {
        match self.sender {
            Sender::H1(_) => Request::builder()
                .method(method)
                .uri(path)
                .header("host", "localhost"),
            Sender::H2(_) => Request::builder()
                .method(method)
                .uri(format!("https://localhost{path}")),
        }
    }

    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Result<Reply, hyper::Error> {
        let response = match &mut self.sender {
            Sender::H1(s) => {
                s.ready().await?;
                s.send_request(req).await?
            }
            Sender::H2(s) => {
                s.ready().await?;
                s.send_request(req).await?
            }
        };
        let (parts, body) = response.into_parts();
        Ok(Reply {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body: body.collect().await?.to_bytes(),
        })
    }

    /// POSTs `body` as `application/json`.
    pub async fn post_json(&mut self, path: &str, body: impl Into<Bytes>) -> Reply {
        let req = self
            .request("POST", path)
            .header("content-type", "application/json")
            .body(Full::new(body.into()))
            .unwrap();
        self.send(req).await.unwrap()
    }
}

/// Writes `bytes` on a fresh TLS connection (HTTP/1.1) and reads what comes back until the
/// server closes the connection or `wait` passes.
pub async fn raw_exchange(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    bytes: &[u8],
    wait: Duration,
) -> String {
    let mut tls = tls_connect(addr, config).await.unwrap();
    tls.write_all(bytes).await.unwrap();
    tls.flush().await.unwrap();
    read_until_close(&mut tls, wait).await
}

/// Reads until the peer closes (or errors), or `wait` passes.
pub async fn read_until_close<R: tokio::io::AsyncRead + Unpin>(
    r: &mut R,
    wait: Duration,
) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Plain HTTP GET (the probe listener).
pub async fn http_get(addr: SocketAddr, path: &str) -> Reply {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = http1::handshake(TokioIo::new(tcp)).await.unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .uri(path)
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = sender.send_request(req).await.unwrap();
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status,
        version: parts.version,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}
