//! The limits docs/server.md promises, over real TLS on a multi-thread runtime (as `serve` runs):
//! evaluation slots and their 503, the caller's `?timeout=`, HTTP/2 stream and header limits,
//! 413 over HTTP/2, and the metrics every refusal and refused handshake leaves behind.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::client::{H1, H2, client_config, read_until_close, tls_connect};
use common::fixtures::{self, CREATE_V1};
use common::held::Held;
use common::metrics::{scrape, value};
use common::pki::Pki;
use common::server::{TestServer, eventually, setup};
use failover_webhook::server::Limits;
use http::{Request, StatusCode};
use http_body_util::Full;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const MIB: usize = 1024 * 1024;

fn requests(text: &str, endpoint: &str, code: u16) -> Option<f64> {
    value(
        text,
        &format!(
            r#"failover_webhook_requests_total{{endpoint="{endpoint}",operation="",verdict="error",code="{code}"}}"#
        ),
    )
}

fn handshake_failures(text: &str, reason: &str) -> Option<f64> {
    value(
        text,
        &format!(r#"failover_webhook_tls_handshake_failures_total{{reason="{reason}"}}"#),
    )
}

async fn in_flight(server: &TestServer) -> Option<f64> {
    value(
        &scrape(server.probe_addr).await,
        "failover_webhook_requests_in_flight",
    )
}

/// Bodies in memory are bounded; a request finding the bound reached waits for it, within its
/// deadline. (Evaluation slots are taken only once a body is complete, so a half-sent body
/// holds bytes of this bound, not a slot.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_finding_the_body_memory_spent_waits_and_is_503_when_its_deadline_passes() {
    let len = fixtures::bytes(CREATE_V1).len();
    let mut s = setup();
    s.config.limits = Limits {
        // Room for the held half and less than one more whole body.
        max_body_bytes: len + len / 2 - 1,
        body_memory_bytes: 0,
        max_concurrent_requests: 1,
        ..Limits::default()
    };
    let server = s.start().await;
    // Holds half the body memory: its body is half sent.
    let held = Held::start(server.addr, server.probe_addr, server.client_config(&[H1])).await;
    let half = (len / 2) as f64;
    eventually(Duration::from_secs(10), "the half body held", || async {
        let text = scrape(server.probe_addr).await;
        (value(&text, "failover_webhook_request_body_bytes") == Some(half)).then_some(())
    })
    .await;

    let mut conn = server.h1().await;
    let reply = conn
        .post_json("/validate?timeout=1s", fixtures::bytes(CREATE_V1))
        .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(reply.text(), "request timed out\n");

    // One with time to spare waits for the slot instead of failing.
    let mut waiting = server.h2().await;
    let waiter = tokio::spawn(async move {
        waiting
            .post_json("/validate?timeout=30s", fixtures::bytes(CREATE_V1))
            .await
    });
    eventually(
        Duration::from_secs(10),
        "two requests in flight",
        || async { (in_flight(&server).await == Some(2.0)).then_some(()) },
    )
    .await;
    assert!(!waiter.is_finished());
    let first = held.finish().await;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    let second = waiter.await.unwrap();
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.json()["response"]["allowed"], true);

    let text = scrape(server.probe_addr).await;
    assert_eq!(requests(&text, "validate", 503), Some(1.0), "{text}");
    server.stop().await;
}

/// `?timeout=` is read as the API server reads it: no value, `0s` or a negative value mean
/// "no deadline from the caller", a value Go cannot parse is a 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_timeout_is_parsed_like_the_api_server_parses_it() {
    let server = setup().start().await;
    let mut conn = server.h1().await;
    for query in ["timeout=0s", "timeout=-1s", "timeout=", "timeout=0"] {
        let reply = conn
            .post_json(&format!("/validate?{query}"), fixtures::bytes(CREATE_V1))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{query}");
    }
    for (query, reason) in [
        ("timeout=soon", r#"time: invalid duration "soon""#),
        ("timeout=10", r#"time: missing unit in duration "10""#),
    ] {
        let reply = conn
            .post_json(&format!("/mutate?{query}"), fixtures::bytes(CREATE_V1))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(
            reply.text(),
            format!("invalid timeout specified in the request URL - {reason}\n")
        );
    }
    // The connection survives the refusals.
    let reply = conn
        .post_json("/mutate?timeout=10s", fixtures::bytes(CREATE_V1))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = scrape(server.probe_addr).await;
    assert_eq!(requests(&text, "mutate", 400), Some(2.0), "{text}");
    server.stop().await;
}

/// The server's SETTINGS, as an HTTP/2 client sees them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_clients_are_told_the_stream_limit() {
    let server = setup().start().await;
    let tls = tls_connect(server.addr, server.client_config(&[H2]))
        .await
        .unwrap();
    let (mut send, mut conn) = h2::client::handshake(tls).await.unwrap();
    let request = Request::post("https://localhost/validate")
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let (response, mut body) = send.send_request(request, false).unwrap();
    body.send_data(Bytes::from(fixtures::bytes(CREATE_V1)), true)
        .unwrap();
    let response = tokio::select! {
        r = response => r.unwrap(),
        r = &mut conn => panic!("connection ended: {r:?}"),
    };
    assert_eq!(response.status(), StatusCode::OK);
    // The SETTINGS frame comes before any response.
    assert_eq!(conn.max_concurrent_send_streams(), 64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_headers_over_64_kib_are_refused_and_the_connection_kept() {
    let server = setup().start().await;
    let mut conn = server.h2().await;
    let with_header = |conn: &common::client::Conn, size: usize| {
        conn.request("POST", "/validate")
            .header("content-type", "application/json")
            .header("x-padding", "a".repeat(size))
            .body(Full::new(Bytes::from(fixtures::bytes(CREATE_V1))))
            .unwrap()
    };
    let under = with_header(&conn, 60 * 1024);
    assert_eq!(conn.send(under).await.unwrap().status, StatusCode::OK);
    let over = with_header(&conn, 65 * 1024);
    assert_eq!(
        conn.send(over).await.unwrap().status,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let mut conn = conn.stream().unwrap();
    let reply = conn
        .post_json("/validate", fixtures::bytes(CREATE_V1))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_7_mib_are_413_over_http2_declared_or_streamed() {
    let server = setup().start().await;
    let mut conn = server.h2().await;
    // Full bodies carry a content-length: refused from the header.
    let reply = conn.post_json("/validate", vec![b' '; 7 * MIB + 1]).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);

    // No content-length: refused once the stream passes the limit.
    let tls = tls_connect(server.addr, server.client_config(&[H2]))
        .await
        .unwrap();
    let (mut send, conn2) = h2::client::handshake(tls).await.unwrap();
    tokio::spawn(conn2);
    let request = Request::post("https://localhost/mutate")
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let (response, mut body) = send.send_request(request, false).unwrap();
    let writer = tokio::spawn(async move {
        let chunk = Bytes::from(vec![b' '; 64 * 1024]);
        for _ in 0..(16 * MIB / chunk.len()) {
            body.reserve_capacity(chunk.len());
            let granted = std::future::poll_fn(|cx| body.poll_capacity(cx)).await;
            if !matches!(granted, Some(Ok(_))) {
                return;
            }
            if body.send_data(chunk.clone(), false).is_err() {
                return;
            }
        }
    });
    let response = tokio::time::timeout(Duration::from_secs(30), response)
        .await
        .expect("answered before the whole body was sent")
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    writer.abort();

    let text = scrape(server.probe_addr).await;
    assert_eq!(requests(&text, "validate", 413), Some(1.0), "{text}");
    assert_eq!(requests(&text, "mutate", 413), Some(1.0), "{text}");
    // The first connection still serves.
    let reply = conn
        .post_json("/validate", fixtures::bytes(CREATE_V1))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    server.stop().await;
}

/// Every refusal is counted with its status: 404 and 405 (which never reach a handler), 415,
/// 400, and the `verdict="error"` series alerts are built on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_counted_by_endpoint_and_status() {
    let server = setup().start().await;
    let mut conn = server.h1().await;
    for (method, path, content_type) in [
        ("POST", "/", "application/json"),
        ("POST", "/validate/extra", "application/json"),
        ("GET", "/validate", "application/json"),
        ("PUT", "/mutate", "application/json"),
        ("DELETE", "/mutate", "application/json"),
        ("POST", "/validate", "text/plain"),
        ("POST", "/mutate", "application/json"),
    ] {
        let body = if content_type == "text/plain" {
            fixtures::bytes(CREATE_V1)
        } else if path == "/mutate" && method == "POST" {
            b"{".to_vec()
        } else {
            Vec::new()
        };
        let req = conn
            .request(method, path)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        conn.send(req).await.unwrap();
    }
    let text = scrape(server.probe_addr).await;
    for (endpoint, code, count) in [
        ("other", 404, 2.0),
        ("validate", 405, 1.0),
        ("mutate", 405, 2.0),
        ("validate", 415, 1.0),
        ("mutate", 400, 1.0),
    ] {
        assert_eq!(
            requests(&text, endpoint, code),
            Some(count),
            "{endpoint} {code}\n{text}"
        );
    }
    assert_eq!(
        value(
            &text,
            r#"failover_webhook_request_duration_seconds_count{endpoint="other"}"#
        ),
        Some(2.0)
    );
    server.stop().await;
}

/// A handshake that fails never reaches HTTP; it is counted by why it failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_tls_handshakes_are_counted_by_reason() {
    let mut s = setup();
    s.config.limits = Limits {
        tls_handshake_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let ca = s.dir.path().join("client-ca.crt");
    let client_pki = Pki::new("client CA");
    std::fs::write(&ca, &client_pki.ca_pem).unwrap();
    s.config.client_ca = Some(ca);
    let server = s.start().await;
    let before = scrape(server.probe_addr).await;
    for reason in [
        "timeout",
        "client_certificate",
        "peer_alert",
        "protocol",
        "io",
    ] {
        assert_eq!(handshake_failures(&before, reason), Some(0.0), "{reason}");
    }

    // Plain HTTP on the TLS port.
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    // A client that does not trust the server's CA.
    let stranger = Pki::new("another CA");
    let _ = tls_connect(server.addr, client_config(&stranger.ca_pem, &[H1], None)).await;
    // A client with no certificate, where one is required. In TLS 1.3 the client's side of
    // the handshake is done before the server has checked its (missing) certificate.
    if let Ok(mut tls) = tls_connect(server.addr, server.client_config(&[H1])).await {
        let _ = tls.write_all(b"GET / HTTP/1.1\r\n\r\n").await;
        read_until_close(&mut tls, Duration::from_secs(10)).await;
    }
    // A client that connects and says nothing until the handshake timeout.
    let _silent = TcpStream::connect(server.addr).await.unwrap();
    // A client that goes away mid-way.
    drop(TcpStream::connect(server.addr).await.unwrap());

    let probe = server.probe_addr;
    eventually(
        Duration::from_secs(20),
        "every refused handshake counted",
        || async move {
            let text = scrape(probe).await;
            let counts: Vec<Option<f64>> = [
                "protocol",
                "peer_alert",
                "client_certificate",
                "timeout",
                "io",
            ]
            .iter()
            .map(|r| handshake_failures(&text, r))
            .collect();
            (counts.iter().all(|c| *c == Some(1.0))).then_some(())
        },
    )
    .await;

    // A client with a certificate from the client CA is served.
    let id = client_pki.client("api-server");
    let config = client_config(&server.pki.ca_pem, &[H1], Some(&id));
    let mut conn = common::client::Conn::open(server.addr, config)
        .await
        .unwrap();
    let reply = conn
        .post_json("/validate", fixtures::bytes(CREATE_V1))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    server.stop().await;
}

/// The values of docs/server.md's Limits table; the tests above run with some of them lowered.
#[test]
fn the_default_limits_are_the_documented_ones() {
    let limits = Limits::default();
    assert_eq!(limits.max_body_bytes, 7 * MIB);
    assert_eq!(limits.request_timeout, Duration::from_secs(30));
    assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
    assert_eq!(limits.tls_handshake_timeout, Duration::from_secs(10));
    assert_eq!(limits.max_concurrent_requests, 64);
    assert_eq!(limits.h2_max_concurrent_streams, 64);
    assert_eq!(limits.max_connections, 1024);
    assert_eq!(limits.max_header_bytes, 64 * 1024);
    assert_eq!(limits.h2_idle_timeout, Duration::from_secs(120));
    assert_eq!(limits.body_memory_bytes, 64 * MIB);
}
