//! `failover-webhook serve` options and signals as the real process sees them: the rule
//! settings reach the rules, SIGINT drains like SIGTERM, host names are accepted for the
//! listeners, and what is logged about refused requests and handshakes.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::client::{Conn, H1, client_config, http_get};
use common::fixtures::{self, CREATE_V1};
use common::held::Held;
use common::metrics::{scrape, value};
use common::pki::Pki;
use common::server::{Process, eventually, spawn_serve, spawn_serve_on};
use http::StatusCode;
use http_body_util::Full;
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

struct Certs {
    pki: Pki,
    dir: TempDir,
}

impl Certs {
    fn new() -> Certs {
        let pki = Pki::new("test CA");
        let dir = tempfile::tempdir().unwrap();
        let serving = pki.server("serving");
        std::fs::write(dir.path().join("tls.crt"), serving.cert_pem).unwrap();
        std::fs::write(dir.path().join("tls.key"), serving.key_pem).unwrap();
        Certs { pki, dir }
    }

    async fn spawn(&self, extra: &[&str]) -> Process {
        spawn_serve(&self.cert(), &self.key(), extra).await
    }

    fn cert(&self) -> std::path::PathBuf {
        self.dir.path().join("tls.crt")
    }

    fn key(&self) -> std::path::PathBuf {
        self.dir.path().join("tls.key")
    }

    async fn conn(&self, p: &Process) -> Conn {
        Conn::open(p.addr, client_config(&self.pki.ca_pem, &[H1], None))
            .await
            .unwrap()
    }
}

/// Stops `p` with SIGTERM and returns every log line, once the last one has been read.
async fn stop(mut p: Process) -> String {
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait(Duration::from_secs(30)).await.code(), Some(0));
    let logs = p.logs.clone();
    eventually(Duration::from_secs(30), "the last log line", || {
        let logs = logs.clone();
        async move {
            let logs = logs.lock().unwrap();
            logs.iter()
                .any(|l| l.contains("drained"))
                .then(|| logs.join("\n"))
        }
    })
    .await
}

/// A valid review without `spec.cluster`, and one whose second service does not exist.
fn reviews() -> (Value, Value) {
    let mut no_cluster = fixtures::json(CREATE_V1);
    no_cluster["request"]["object"]["spec"]
        .as_object_mut()
        .unwrap()
        .remove("cluster");
    let mut unknown_service = fixtures::json(CREATE_V1);
    unknown_service["request"]["object"]["spec"]["failoverServices"][1]["name"] =
        Value::from("no-such-service");
    (no_cluster, unknown_service)
}

async fn post(conn: &mut Conn, path: &str, review: &Value) -> Value {
    let reply = conn
        .post_json(path, serde_json::to_vec(review).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    reply.json()["response"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_references_and_default_cluster_reach_the_rules_through_serve() {
    let certs = Certs::new();
    let (no_cluster, unknown_service) = reviews();

    // Without the options: the missing cluster denies, the unknown service only warns.
    let p = certs.spawn(&[]).await;
    let mut conn = certs.conn(&p).await;
    let answer = post(&mut conn, "/validate", &no_cluster).await;
    assert_eq!(answer["allowed"], false, "{answer}");
    assert_eq!(
        answer["status"]["details"]["causes"][0]["field"],
        "spec.cluster"
    );
    let answer = post(&mut conn, "/validate", &unknown_service).await;
    assert_eq!(answer["allowed"], true, "{answer}");
    assert!(
        answer["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("spec.failoverServices[1]: "),
        "{answer}"
    );
    stop(p).await;

    // With them, the cluster is defaulted and the reference finding denies.
    let p = spawn_serve_on(
        &certs.cert(),
        &certs.key(),
        "127.0.0.1",
        &["--default-cluster", "mgmt-cluster", "--strict-references"],
        "info",
    )
    .await;
    let mut conn = certs.conn(&p).await;
    let answer = post(&mut conn, "/validate", &no_cluster).await;
    assert_eq!(answer["allowed"], true, "{answer}");
    let answer = post(&mut conn, "/mutate", &no_cluster).await;
    let patch = common::contract::apply_patch(&no_cluster["request"]["object"], &answer).unwrap();
    assert_eq!(patch["spec"]["cluster"], "mgmt-cluster");
    let answer = post(&mut conn, "/validate", &unknown_service).await;
    assert_eq!(answer["allowed"], false, "{answer}");
    let cause = &answer["status"]["details"]["causes"][0];
    assert_eq!(cause["field"], "spec.failoverServices[1]", "{answer}");
    assert_eq!(cause["reason"], "FieldValueNotFound", "{answer}");
    stop(p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_as_the_first_signal_drains_like_sigterm() {
    let certs = Certs::new();
    let mut p = certs.spawn(&[]).await;
    let held = Held::start(
        p.addr,
        p.probe_addr,
        client_config(&certs.pki.ca_pem, &[H1], None),
    )
    .await;
    p.signal(libc::SIGINT);
    let probe = p.probe_addr;
    eventually(
        Duration::from_secs(30),
        "readiness failing",
        || async move {
            (http_get(probe, "/readyz").await.status == StatusCode::SERVICE_UNAVAILABLE)
                .then_some(())
        },
    )
    .await;
    assert!(p.child.try_wait().unwrap().is_none(), "still draining");
    let response = held.finish().await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert_eq!(p.wait(Duration::from_secs(30)).await.code(), Some(0));
    let logs = p.logs.lock().unwrap().join("\n");
    assert!(logs.contains(r#""signal":"SIGINT""#), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_take_a_host_name() {
    let certs = Certs::new();
    let p = spawn_serve_on(&certs.cert(), &certs.key(), "localhost", &[], "info").await;
    assert!(p.addr.ip().is_loopback() && p.addr.is_ipv4(), "{}", p.addr);
    assert!(p.probe_addr.ip().is_loopback(), "{}", p.probe_addr);
    let mut conn = certs.conn(&p).await;
    let reply = conn
        .post_json("/validate", fixtures::bytes(CREATE_V1))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    stop(p).await;
}

/// Anyone who reaches the port can send 404s and 405s: each is counted, but only the first
/// of a burst is logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_other_paths_and_methods_are_counted_and_logged_at_most_once_per_interval() {
    let certs = Certs::new();
    let p = certs.spawn(&[]).await;
    let mut conn = certs.conn(&p).await;
    for (method, path) in [
        ("POST", "/nowhere"),
        ("POST", "/nowhere"),
        ("GET", "/admin"),
        ("GET", "/validate"),
        ("PUT", "/mutate"),
    ] {
        let req = conn
            .request(method, path)
            .body(Full::new(Bytes::new()))
            .unwrap();
        conn.send(req).await.unwrap();
    }
    let text = scrape(p.probe_addr).await;
    let count = |endpoint: &str, code: u16| {
        value(
            &text,
            &format!(
                r#"failover_webhook_requests_total{{endpoint="{endpoint}",operation="",verdict="error",code="{code}"}}"#
            ),
        )
    };
    assert_eq!(count("other", 404), Some(3.0), "{text}");
    assert_eq!(count("validate", 405), Some(1.0), "{text}");
    assert_eq!(count("mutate", 405), Some(1.0), "{text}");

    let logs = stop(p).await;
    let refused: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("request refused"))
        .collect();
    assert_eq!(refused.len(), 1, "{logs}");
    let line: Value = serde_json::from_str(refused[0]).unwrap();
    let fields = &line["fields"];
    assert_eq!(fields["message"], "request refused: not found", "{line}");
    assert_eq!(fields["status"], 404, "{line}");
    assert_eq!(fields["path"], "/nowhere", "{line}");
    assert_eq!(fields["suppressed"], 0, "{line}");
}

/// A refused handshake is logged at debug with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_tls_handshakes_are_logged_at_debug_with_the_reason() {
    let certs = Certs::new();
    let p = spawn_serve_on(
        &certs.cert(),
        &certs.key(),
        "127.0.0.1",
        &[],
        "info,failover_webhook=debug",
    )
    .await;
    let mut tcp = TcpStream::connect(p.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let probe = p.probe_addr;
    eventually(
        Duration::from_secs(30),
        "the refusal counted",
        || async move {
            (value(
                &scrape(probe).await,
                r#"failover_webhook_tls_handshake_failures_total{reason="protocol"}"#,
            ) == Some(1.0))
            .then_some(())
        },
    )
    .await;
    let logs = stop(p).await;
    let line = logs
        .lines()
        .find(|l| l.contains("TLS handshake failed"))
        .unwrap_or_else(|| panic!("no handshake line in {logs}"));
    let line: Value = serde_json::from_str(line).unwrap();
    assert_eq!(line["level"], "DEBUG", "{line}");
    assert_eq!(line["fields"]["reason"], "protocol", "{line}");
    assert!(line["fields"]["error"].is_string(), "{line}");
}
