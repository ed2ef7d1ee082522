//! The real `failover-webhook serve` process: start-up failures exit 2 with a clear message,
//! SIGTERM drains (readiness fails, the request in flight completes, exit 0), and a second
//! signal stops at once.

mod common;

use std::time::Duration;

use common::client::{H1, http_get};
use common::held::Held;
use common::metrics::{scrape, value};
use common::pki::Pki;
use common::server::{Process, binary, eventually, spawn_serve};
use http::StatusCode;
use tempfile::TempDir;
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
        spawn_serve(
            &self.dir.path().join("tls.crt"),
            &self.dir.path().join("tls.key"),
            extra,
        )
        .await
    }
}

/// Runs `failover-webhook ARGS` to completion: (exit code, standard error).
async fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(binary()).args(args).output(),
    )
    .await
    .unwrap()
    .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Sends the head and half the body of a review, and waits until the server counts it in
/// flight.
async fn hold_a_request(p: &Process, certs: &Certs) -> Held {
    let config = common::client::client_config(&certs.pki.ca_pem, &[H1], None);
    Held::start(p.addr, p.probe_addr, config).await
}

#[tokio::test]
async fn sigterm_fails_readiness_finishes_the_request_in_flight_and_exits_0() {
    let certs = Certs::new();
    let mut p = certs.spawn(&[]).await;
    assert_eq!(
        http_get(p.probe_addr, "/readyz").await.status,
        StatusCode::OK
    );
    let held = hold_a_request(&p, &certs).await;

    p.signal(libc::SIGTERM);
    let probe = p.probe_addr;
    eventually(Duration::from_secs(5), "readiness failing", || async move {
        (http_get(probe, "/readyz").await.status == StatusCode::SERVICE_UNAVAILABLE).then_some(())
    })
    .await;
    assert_eq!(
        http_get(p.probe_addr, "/healthz").await.status,
        StatusCode::OK
    );
    let addr = p.addr;
    eventually(
        Duration::from_secs(5),
        "no new connections",
        || async move { TcpStream::connect(addr).await.is_err().then_some(()) },
    )
    .await;
    assert!(p.child.try_wait().unwrap().is_none(), "still draining");

    let response = held.finish().await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains(r#""allowed":true"#), "{response}");

    let status = p.wait(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "{:#?}", p.logs.lock().unwrap());
    // The process has exited, but its last lines may still be on their way through the pipe
    // to the task that collects them.
    let logs = p.logs.clone();
    eventually(
        Duration::from_secs(10),
        "the SIGTERM and drained log lines",
        || {
            let logs = logs.clone();
            async move {
                let logs = logs.lock().unwrap().join("\n");
                (logs.contains("SIGTERM") && logs.contains("drained")).then_some(())
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_second_signal_stops_at_once() {
    let certs = Certs::new();
    let mut p = certs.spawn(&["--shutdown-grace", "60"]).await;
    let _held = hold_a_request(&p, &certs).await;
    p.signal(libc::SIGTERM);
    let probe = p.probe_addr;
    eventually(Duration::from_secs(5), "readiness failing", || async move {
        (http_get(probe, "/readyz").await.status == StatusCode::SERVICE_UNAVAILABLE).then_some(())
    })
    .await;
    p.signal(libc::SIGINT);
    let status = p.wait(Duration::from_secs(5)).await;
    assert_eq!(status.code(), Some(1));
}

#[tokio::test]
async fn with_no_topology_source_it_serves_the_embedded_demo_and_says_so() {
    let certs = Certs::new();
    let mut p = certs.spawn(&[]).await;
    let logs = p.logs.lock().unwrap().join("\n");
    assert!(logs.contains("embedded demo topology"), "{logs}");
    let text = scrape(p.probe_addr).await;
    assert_eq!(
        value(
            &text,
            r#"failover_webhook_topology_objects{kind="KubernetesCluster"}"#
        ),
        Some(4.0)
    );
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait(Duration::from_secs(10)).await.code(), Some(0));
}

#[tokio::test]
async fn a_snapshot_is_loaded_at_start() {
    let certs = Certs::new();
    let snapshot = certs.dir.path().join("topology.yaml");
    std::fs::write(
        &snapshot,
        "apiVersion: discovery.smh.solo.io/v1alpha1\nkind: KubernetesCluster\n\
         metadata: {name: only-cluster, namespace: service-mesh-hub}\n",
    )
    .unwrap();
    let mut p = certs
        .spawn(&["--snapshot", snapshot.to_str().unwrap()])
        .await;
    let text = scrape(p.probe_addr).await;
    assert_eq!(
        value(
            &text,
            r#"failover_webhook_topology_objects{kind="KubernetesCluster"}"#
        ),
        Some(1.0)
    );
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait(Duration::from_secs(10)).await.code(), Some(0));
}

#[tokio::test]
async fn start_up_failures_exit_2_with_the_reason() {
    let certs = Certs::new();
    let dir = certs.dir.path();
    let cert = dir.join("tls.crt");
    let key = dir.join("tls.key");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let base = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--probe-listen",
        "127.0.0.1:0",
    ];

    // `--kube` with no in-cluster configuration and a kubeconfig that does not exist.
    let out = tokio::process::Command::new(binary())
        .args([&base[..], &["--tls-cert", cert, "--tls-key", key, "--kube"]].concat())
        .env("KUBECONFIG", dir.join("no-such-kubeconfig"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--kube: no cluster configuration"), "{err}");

    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: discovery.smh.solo.io/v1alpha1\nkind: KubernetesCluster\nmetadata: {name: a}\n\
         ---\nkind: [unclosed\n",
    )
    .unwrap();
    let (code, err) = run(&[
        &base[..],
        &[
            "--tls-cert",
            cert,
            "--tls-key",
            key,
            "--snapshot",
            bad.to_str().unwrap(),
        ],
    ]
    .concat())
    .await;
    assert_eq!(code, Some(2));
    assert!(err.contains("bad.yaml (document 2)"), "{err}");

    let (code, err) = run(&[
        &base[..],
        &["--tls-cert", "/nonexistent/tls.crt", "--tls-key", key],
    ]
    .concat())
    .await;
    assert_eq!(code, Some(2));
    assert!(err.contains("/nonexistent/tls.crt"), "{err}");

    // A key that is not the certificate's.
    let other = dir.join("other.key");
    std::fs::write(&other, certs.pki.server("other").key_pem).unwrap();
    let (code, err) = run(&[
        &base[..],
        &["--tls-cert", cert, "--tls-key", other.to_str().unwrap()],
    ]
    .concat())
    .await;
    assert_eq!(code, Some(2));
    assert!(err.contains("does not fit certificate"), "{err}");

    // A port already taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, err) = run(&[
        "serve",
        "--listen",
        &addr,
        "--probe-listen",
        "127.0.0.1:0",
        "--tls-cert",
        cert,
        "--tls-key",
        key,
    ])
    .await;
    assert_eq!(code, Some(2));
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
}
