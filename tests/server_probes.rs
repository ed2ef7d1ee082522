//! The probe listener (`/healthz`, `/readyz`, `/metrics`) and the drain on shutdown, with
//! the server in-process.

mod common;

use std::time::Duration;

use common::client::{H1, http_get};
use common::fixtures::{self, *};
use common::held::Held;
use common::metrics::value;
use common::server::{TestServer, eventually, setup};
use failover_webhook::server::{Limits, Outcome};
use http::StatusCode;
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer_while_serving() {
    let server = setup().start().await;
    let health = http_get(server.probe_addr, "/healthz").await;
    assert_eq!(
        (health.status, health.text().as_str()),
        (StatusCode::OK, "ok\n")
    );
    let ready = http_get(server.probe_addr, "/readyz").await;
    assert_eq!(
        (ready.status, ready.text().as_str()),
        (StatusCode::OK, "ready\n")
    );
    assert_eq!(
        http_get(server.probe_addr, "/nothing").await.status,
        StatusCode::NOT_FOUND
    );

    // A live topology source that has not synced yet keeps the pod out of the endpoints.
    server.readiness.set_topology_synced(false);
    let ready = http_get(server.probe_addr, "/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.text(), "topology not synced\n");
    assert_eq!(
        http_get(server.probe_addr, "/healthz").await.status,
        StatusCode::OK
    );
    server.readiness.set_topology_synced(true);
    assert_eq!(
        http_get(server.probe_addr, "/readyz").await.status,
        StatusCode::OK
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_findings_topology_and_certificate() {
    let server = setup().start().await;
    let mut conn = server.h1().await;
    conn.post_json("/validate", fixtures::bytes(CREATE_V1))
        .await;
    conn.post_json("/mutate", fixtures::bytes(CREATE_V1)).await;
    conn.post_json("/validate", fixtures::bytes(UPDATE_V1))
        .await;
    conn.post_json("/validate", fixtures::bytes(DELETE_V1))
        .await;
    conn.post_json("/validate", &b"{"[..]).await;

    let reply = http_get(server.probe_addr, "/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = reply.text();
    let expect = [
        (
            r#"failover_webhook_requests_total{endpoint="validate",operation="CREATE",verdict="allowed",code="200"}"#,
            1.0,
        ),
        (
            r#"failover_webhook_requests_total{endpoint="mutate",operation="CREATE",verdict="allowed",code="200"}"#,
            1.0,
        ),
        (
            r#"failover_webhook_requests_total{endpoint="validate",operation="UPDATE",verdict="denied",code="200"}"#,
            1.0,
        ),
        (
            r#"failover_webhook_requests_total{endpoint="validate",operation="DELETE",verdict="skipped",code="200"}"#,
            1.0,
        ),
        (
            r#"failover_webhook_requests_total{endpoint="validate",operation="",verdict="error",code="400"}"#,
            1.0,
        ),
        (
            r#"failover_webhook_request_duration_seconds_count{endpoint="validate"}"#,
            4.0,
        ),
        ("failover_webhook_requests_in_flight", 0.0),
        (
            r#"failover_webhook_findings_total{endpoint="validate",rule="PortNumberInvalid",effect="deny"}"#,
            1.0,
        ),
        (
            r#"failover_webhook_topology_objects{kind="KubernetesCluster"}"#,
            4.0,
        ),
        (
            r#"failover_webhook_topology_objects{kind="MeshService"}"#,
            11.0,
        ),
        (
            r#"failover_webhook_certificate_reloads_total{result="success"}"#,
            0.0,
        ),
        (
            r#"failover_webhook_certificate_reloads_total{result="failure"}"#,
            0.0,
        ),
    ];
    for (series, want) in expect {
        assert_eq!(value(&text, series), Some(want), "{series}\n{text}");
    }
    let expiry = value(
        &text,
        "failover_webhook_certificate_expiry_timestamp_seconds",
    );
    assert_eq!(
        expiry,
        Some(server.serving.not_after as f64),
        "the serving certificate's not_after"
    );
    assert!(text.contains(
        r#"failover_webhook_request_duration_seconds_bucket{le="0.001",endpoint="validate"}"#
    ));
    server.stop().await;
}

async fn hold_a_request(server: &TestServer) -> Held {
    Held::start(server.addr, server.probe_addr, server.client_config(&[H1])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_fails_readiness_at_once_stops_accepting_and_finishes_requests_in_flight() {
    let server = setup().start().await;
    let held = hold_a_request(&server).await;

    server.handle.shutdown();
    let ready = http_get(server.probe_addr, "/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.text(), "shutting down\n");
    let addr = server.addr;
    eventually(
        Duration::from_secs(30),
        "the listener closed",
        || async move { TcpStream::connect(addr).await.is_err().then_some(()) },
    )
    .await;
    assert!(
        !server.task.is_finished(),
        "waits for the request in flight"
    );

    let response = held.finish().await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#""allowed":true"#), "{response}");
    let outcome = tokio::time::timeout(Duration::from_secs(30), server.task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome, Outcome::Drained);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_still_open_when_the_grace_period_ends_is_cut() {
    let server = setup().start_with_grace(Duration::from_millis(300)).await;
    let _held = hold_a_request(&server).await;
    server.handle.shutdown();
    let outcome = tokio::time::timeout(Duration::from_secs(30), server.task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome, Outcome::GraceExpired { open: 1 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_do_not_hold_the_drain() {
    // Idle connections that held the drain would keep it waiting for minutes: the header-read
    // timeout and the grace period are both far longer than `stop` waits.
    let mut s = setup();
    s.config.limits = Limits {
        header_read_timeout: Duration::from_secs(600),
        ..Limits::default()
    };
    let server = s.start_with_grace(Duration::from_secs(600)).await;
    let mut idle = server.h1().await;
    idle.post_json("/validate", fixtures::bytes(CREATE_V1))
        .await;
    let mut idle2 = server.h2().await;
    idle2
        .post_json("/validate", fixtures::bytes(CREATE_V1))
        .await;
    assert_eq!(server.stop().await, Outcome::Drained);
}
