//! A `/validate` request kept in flight on purpose: the head and half the body are sent, so the
//! server is reading it until [`Held::finish`] sends the rest. Shutdown tests use it to prove
//! that a drain waits for requests already started.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::client::{read_until_close, tls_connect};
use super::fixtures::{self, CREATE_V1};
use super::metrics::{scrape, value};
use super::server::eventually;

pub struct Held {
    tls: TlsStream<TcpStream>,
    rest: Vec<u8>,
}

impl Held {
    /// Starts the request on `addr` (HTTP/1.1 over `config`) and returns once the server's
    /// in-flight gauge on `probe_addr` shows it.
    pub async fn start(
        addr: SocketAddr,
        probe_addr: SocketAddr,
        config: Arc<ClientConfig>,
    ) -> Held {
        let body = fixtures::bytes(CREATE_V1);
        let (first, rest) = body.split_at(body.len() / 2);
        let mut tls = tls_connect(addr, config).await.unwrap();
        let head = format!(
            "POST /validate?timeout=10s HTTP/1.1\r\nhost: localhost\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        tls.write_all(head.as_bytes()).await.unwrap();
        tls.write_all(first).await.unwrap();
        tls.flush().await.unwrap();
        eventually(
            Duration::from_secs(10),
            "the request in flight",
            || async move {
                (value(
                    &scrape(probe_addr).await,
                    "failover_webhook_requests_in_flight",
                ) == Some(1.0))
                .then_some(())
            },
        )
        .await;
        Held {
            tls,
            rest: rest.to_vec(),
        }
    }

    /// Sends the rest of the body and returns everything the server wrote until it closed.
    pub async fn finish(mut self) -> String {
        self.tls.write_all(&self.rest).await.unwrap();
        self.tls.flush().await.unwrap();
        read_until_close(&mut self.tls, Duration::from_secs(10)).await
    }
}
