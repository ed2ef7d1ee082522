//! Hostile and broken input: each is refused with the HTTP status server.md names, nothing
//! of it slows or breaks the server, and a well-formed review is answered right after.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::client::{H1, Reply, raw_exchange, read_until_close, tls_connect};
use common::fixtures::{self, CREATE_V1};
use common::metrics::{scrape, value};
use common::server::{TestServer, eventually, setup};
use failover_webhook::server::Limits;
use http::StatusCode;
use http_body_util::Full;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, split};
use tokio::net::TcpStream;

const MIB: usize = 1024 * 1024;

async fn server() -> TestServer {
    let mut s = setup();
    s.config.limits = Limits {
        header_read_timeout: Duration::from_secs(1),
        tls_handshake_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    s.start().await
}

async fn post(server: &TestServer, path: &str, content_type: Option<&str>, body: &[u8]) -> Reply {
    let mut conn = server.h1().await;
    let mut req = conn.request("POST", path);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    conn.send(req.body(Full::new(Bytes::copy_from_slice(body))).unwrap())
        .await
        .unwrap()
}

/// Whether the peer closes the connection (or fails it) within `limit`.
async fn closed_within<R: AsyncRead + Unpin>(r: &mut R, limit: Duration) -> bool {
    tokio::time::timeout(limit, async {
        let mut buf = [0u8; 8192];
        while let Ok(n) = r.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await
    .is_ok()
}

async fn still_answers(server: &TestServer) {
    let reply = post(
        server,
        "/validate",
        Some("application/json"),
        &fixtures::bytes(CREATE_V1),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["response"]["allowed"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_are_not_admission_reviews_are_400_with_a_reason() {
    let server = server().await;
    let json = Some("application/json");
    let cases: [(&[u8], &str); 5] = [
        (b"{this is not json", "body is not valid JSON"),
        (b"", "body is not valid JSON"),
        (br#"{"kind":"Pod","apiVersion":"v1"}"#, "not an AdmissionReview"),
        (
            br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1"}"#,
            "AdmissionReview has no request",
        ),
        (
            br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"operation":"CREATE"}}"#,
            "AdmissionReview request has no uid",
        ),
    ];
    for (body, reason) in cases {
        for path in ["/validate", "/mutate"] {
            let reply = post(&server, path, json, body).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reason}");
            assert!(reply.text().starts_with(reason), "{}", reply.text());
            assert!(
                reply.headers["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/plain")
            );
        }
    }
    still_answers(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anything_but_json_is_415() {
    let server = server().await;
    let body = fixtures::bytes(CREATE_V1);
    for ct in [Some("text/plain"), Some("application/yaml"), None] {
        let reply = post(&server, "/validate", ct, &body).await;
        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}");
    }
    let reply = post(
        &server,
        "/mutate",
        Some("application/json; charset=utf-8"),
        &body,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_are_404_and_other_methods_405() {
    let server = server().await;
    let mut conn = server.h1().await;
    for (method, path, status) in [
        ("POST", "/", StatusCode::NOT_FOUND),
        ("POST", "/validate/extra", StatusCode::NOT_FOUND),
        ("GET", "/metrics", StatusCode::NOT_FOUND),
        ("GET", "/validate", StatusCode::METHOD_NOT_ALLOWED),
        ("PUT", "/mutate", StatusCode::METHOD_NOT_ALLOWED),
        ("DELETE", "/validate", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let req = conn
            .request(method, path)
            .body(Full::new(Bytes::new()))
            .unwrap();
        let reply = conn.send(req).await.unwrap();
        assert_eq!(reply.status, status, "{method} {path}");
    }
    still_answers(&server).await;
    server.stop().await;
}

/// Refused from the header alone: the body is never sent, and never read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_over_7_mib_is_413_before_it_is_read() {
    let server = server().await;
    let head = format!(
        "POST /validate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        7 * MIB + 1
    );
    // The body is never sent: an answer at all shows it was refused from the header.
    let text = raw_exchange(
        server.addr,
        server.client_config(&[H1]),
        head.as_bytes(),
        Duration::from_secs(30),
    )
    .await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");

    // Exactly at the limit is not refused for its size.
    let head = format!(
        "POST /validate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n",
        7 * MIB
    );
    let mut tls = tls_connect(server.addr, server.client_config(&[H1]))
        .await
        .unwrap();
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(&vec![b' '; 7 * MIB]).await.unwrap();
    let text = read_until_close(&mut tls, Duration::from_secs(10)).await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    still_answers(&server).await;
    server.stop().await;
}

/// A chunked body has no length up front: it is cut off as soon as it passes the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_body_over_7_mib_is_413_as_soon_as_it_passes_the_limit() {
    let server = server().await;
    let tls = tls_connect(server.addr, server.client_config(&[H1]))
        .await
        .unwrap();
    let (mut rd, mut wr) = split(tls);
    let writer = tokio::spawn(async move {
        let head = "POST /mutate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
                    transfer-encoding: chunked\r\n\r\n";
        wr.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 64 * 1024];
        let mut sent = 0usize;
        // Up to 16 MiB; the server stops reading long before.
        while sent < 16 * MIB {
            wr.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            wr.write_all(&chunk).await?;
            wr.write_all(b"\r\n").await?;
            sent += chunk.len();
        }
        std::io::Result::Ok(sent)
    });
    let text = read_until_close(&mut rd, Duration::from_secs(10)).await;
    assert!(text.starts_with("HTTP/1.1 413"), "{text:?}");
    writer.abort();
    still_answers(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let server = server().await;
    let mut tls = tls_connect(server.addr, server.client_config(&[H1]))
        .await
        .unwrap();
    tls.write_all(b"POST /validate HTTP/1.1\r\nhost: localhost\r\n")
        .await
        .unwrap();
    // The header-read timeout is 1 s here; hyper's own default would be 30 s.
    assert!(
        closed_within(&mut tls, Duration::from_secs(20)).await,
        "still open 20 s after the header-read timeout of 1 s"
    );

    // Nor may a client hold a socket without ever completing the TLS handshake.
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    assert!(
        closed_within(&mut tcp, Duration::from_secs(20)).await,
        "still open 20 s after the handshake timeout of 1 s"
    );

    still_answers(&server).await;
    server.stop().await;
}

/// The API server's `?timeout=` is its remaining deadline; a body that has not arrived by
/// then is not worth waiting for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stalls_past_the_callers_timeout_is_503() {
    let server = server().await;
    let mut tls = tls_connect(server.addr, server.client_config(&[H1]))
        .await
        .unwrap();
    tls.write_all(
        b"POST /validate?timeout=1s HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
          content-length: 100\r\n\r\n{\"kind\":",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let text = read_until_close(&mut tls, Duration::from_secs(30)).await;
    assert!(text.starts_with("HTTP/1.1 503"), "{text:?}");
    // Timers never fire early: not before the caller's second has passed.
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    still_answers(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_over_http2_is_refused_the_same_way() {
    let server = server().await;
    let mut conn = server.h2().await;
    let reply = conn.post_json("/validate", &b"[1,2"[..]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let req = conn
        .request("POST", "/validate")
        .header("content-type", "text/yaml")
        .body(Full::new(Bytes::from_static(b"a: b")))
        .unwrap();
    assert_eq!(
        conn.send(req).await.unwrap().status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let reply = conn
        .post_json("/validate", fixtures::bytes(CREATE_V1))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    server.stop().await;
}

/// A refused request's body is read past, so the connection stays usable (HTTP/1.1) and the
/// stream ends cleanly (HTTP/2) instead of being reset under the client's upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_leave_the_connection_usable() {
    let server = server().await;
    for mut conn in [server.h1().await, server.h2().await] {
        let body = Bytes::from(fixtures::bytes(CREATE_V1));
        for (method, path, ct, status) in [
            (
                "POST",
                "/validate",
                "text/plain",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                "POST",
                "/nowhere",
                "application/json",
                StatusCode::NOT_FOUND,
            ),
            (
                "PUT",
                "/mutate",
                "application/json",
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            ("POST", "/validate", "application/json", StatusCode::OK),
        ] {
            let req = conn
                .request(method, path)
                .header("content-type", ct)
                .body(Full::new(body.clone()))
                .unwrap();
            assert_eq!(
                conn.send(req).await.unwrap().status,
                status,
                "{method} {path}"
            );
        }
    }
    server.stop().await;
}

/// The same over HTTP/1.1 with a client that sends its body only after the head, as curl
/// does: the refusal waits for the body, and the next request on the connection is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_body_sent_late_is_read_past_and_the_connection_kept() {
    let server = server().await;
    let body = fixtures::bytes(CREATE_V1);
    let mut tls = tls_connect(server.addr, server.client_config(&[H1]))
        .await
        .unwrap();
    let head = format!(
        "POST /validate HTTP/1.1\r\nhost: localhost\r\ncontent-type: text/plain\r\n\
         content-length: {}\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    // The body follows only once the server is waiting for it.
    let probe = server.probe_addr;
    eventually(
        Duration::from_secs(30),
        "the refused request in flight",
        || async move {
            (value(&scrape(probe).await, "failover_webhook_requests_in_flight") == Some(1.0))
                .then_some(())
        },
    )
    .await;
    tls.write_all(&body).await.unwrap();
    let second = format!(
        "POST /validate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    tls.write_all(second.as_bytes()).await.unwrap();
    tls.write_all(&body).await.unwrap();
    tls.flush().await.unwrap();
    let text = read_until_close(&mut tls, Duration::from_secs(30)).await;
    assert!(text.starts_with("HTTP/1.1 415"), "{text}");
    assert!(text.contains("HTTP/1.1 200"), "{text}");
    server.stop().await;
}
