//! Serving-certificate rotation the way a Kubernetes secret volume does it: the files are
//! symlinks through `..data`, and an update renames a new `..data` symlink onto the old one.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::client::{Conn, H1};
use common::fixtures::{self, CREATE_V1};
use common::metrics;
use common::pki::{Issued, Pki};
use common::server::{TestServer, eventually, setup};
use failover_webhook::server::ReloadSettings;
use http::StatusCode;
use rustls_pki_types::CertificateDer;

/// Writes `..<stamp>/tls.crt|tls.key` and points `..data` at it, atomically, as the kubelet
/// does.
fn publish(dir: &Path, stamp: &str, cert_pem: &str, key_pem: &str) {
    let version = dir.join(format!("..{stamp}"));
    std::fs::create_dir(&version).unwrap();
    std::fs::write(version.join("tls.crt"), cert_pem).unwrap();
    std::fs::write(version.join("tls.key"), key_pem).unwrap();
    let tmp = dir.join("..data_tmp");
    symlink(format!("..{stamp}"), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
}

/// A server whose certificate files live in a secret-volume layout.
async fn server_on_secret_volume() -> (TestServer, Issued) {
    let mut s = setup();
    let volume = s.dir.path().join("secret");
    std::fs::create_dir(&volume).unwrap();
    let first = s.pki.server("serving-1");
    publish(
        &volume,
        "2026_11_01_10_00_00.1",
        &first.cert_pem,
        &first.key_pem,
    );
    symlink("..data/tls.crt", volume.join("tls.crt")).unwrap();
    symlink("..data/tls.key", volume.join("tls.key")).unwrap();
    s.config.tls_cert = volume.join("tls.crt");
    s.config.tls_key = volume.join("tls.key");
    (s.start().await, first)
}

/// Waits (at most the 15 s the contract allows) until new handshakes present `der`.
async fn until_presented(server: &TestServer, der: &CertificateDer<'static>) {
    eventually(Duration::from_secs(15), "the new certificate", || async {
        (presented(server).await == *der).then_some(())
    })
    .await;
}

/// The certificate a new handshake gets, after a successful request on that connection.
async fn presented(server: &TestServer) -> CertificateDer<'static> {
    let mut conn = Conn::open(server.addr, server.client_config(&[H1]))
        .await
        .unwrap();
    let reply = conn
        .post_json("/validate", fixtures::bytes(CREATE_V1))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    conn.server_cert
}

fn pki_of(server: &TestServer) -> &Pki {
    &server.pki
}

/// The expiry gauge, in unix seconds.
async fn expiry(server: &TestServer) -> Option<i64> {
    let text = metrics::scrape(server.probe_addr).await;
    metrics::value(
        &text,
        "failover_webhook_certificate_expiry_timestamp_seconds",
    )
    .map(|t| t as i64)
}

/// Waits until the expiry gauge shows `not_after` (it is set just after the swap).
async fn until_expiry(server: &TestServer, not_after: i64) {
    eventually(Duration::from_secs(15), "the new expiry", || async {
        (expiry(server).await == Some(not_after)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_swap_is_served_to_new_handshakes_without_failing_a_request() {
    let (server, first) = server_on_secret_volume().await;
    assert_eq!(presented(&server).await, first.der);
    assert_eq!(expiry(&server).await, Some(first.not_after));
    let second = pki_of(&server).server("serving-2");
    assert_ne!(second.not_after, first.not_after);

    // Requests keep flowing through the swap: new connections, and one kept alive.
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicUsize::new(0));
    let mut loops = Vec::new();
    for keep_alive in [false, true] {
        let (stop, served) = (stop.clone(), served.clone());
        let (addr, config) = (server.addr, server.client_config(&[H1]));
        loops.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr, config.clone()).await.unwrap();
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if !keep_alive {
                    conn = Conn::open(addr, config.clone()).await.unwrap();
                }
                let reply = conn
                    .post_json("/validate", fixtures::bytes(CREATE_V1))
                    .await;
                if reply.status != StatusCode::OK || reply.json()["response"]["allowed"] != true {
                    failures.push(reply.status);
                }
                served.fetch_add(1, Ordering::Relaxed);
            }
            failures
        }));
    }
    eventually(Duration::from_secs(5), "requests flowing", || async {
        (served.load(Ordering::Relaxed) > 5).then_some(())
    })
    .await;

    publish(
        &server.dir.path().join("secret"),
        "2026_11_02_10_00_00.2",
        &second.cert_pem,
        &second.key_pem,
    );
    let before = served.load(Ordering::Relaxed);
    until_presented(&server, &second.der).await;
    // Keep the loops going a little past the swap, then stop them.
    eventually(
        Duration::from_secs(5),
        "requests after the swap",
        || async { (served.load(Ordering::Relaxed) > before + 5).then_some(()) },
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        assert_eq!(
            l.await.unwrap(),
            Vec::<StatusCode>::new(),
            "no failed request"
        );
    }

    let text = metrics::scrape(server.probe_addr).await;
    assert_eq!(
        metrics::value(
            &text,
            r#"failover_webhook_certificate_reloads_total{result="success"}"#
        ),
        Some(1.0)
    );
    until_expiry(&server, second.not_after).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_certificate_that_does_not_load_leaves_the_old_one_serving() {
    let (server, first) = server_on_secret_volume().await;
    let volume = server.dir.path().join("secret");
    let failures = |n: f64| {
        let probe = server.probe_addr;
        move || async move {
            let text = metrics::scrape(probe).await;
            (metrics::value(
                &text,
                r#"failover_webhook_certificate_reloads_total{result="failure"}"#,
            ) == Some(n))
            .then_some(())
        }
    };

    // Garbage in place of PEM.
    publish(&volume, "2026_11_02.1", "not a certificate", "not a key");
    eventually(Duration::from_secs(15), "a failed reload", failures(1.0)).await;
    assert_eq!(presented(&server).await, first.der);

    // A certificate with another certificate's key (a rotation caught half way).
    let second = pki_of(&server).server("serving-2");
    let third = pki_of(&server).server("serving-3");
    publish(&volume, "2026_11_02.2", &second.cert_pem, &third.key_pem);
    eventually(
        Duration::from_secs(15),
        "a second failed reload",
        failures(2.0),
    )
    .await;
    assert_eq!(presented(&server).await, first.der);
    assert!(server.readiness.check().is_ok());
    assert_eq!(
        expiry(&server).await,
        Some(first.not_after),
        "a failed reload keeps the old expiry"
    );

    // The completed rotation goes through.
    publish(&volume, "2026_11_02.3", &second.cert_pem, &second.key_pem);
    until_presented(&server, &second.der).await;
    until_expiry(&server, second.not_after).await;
    server.stop().await;
}

/// A plain file rewritten in place (no symlinks) is picked up too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_file_rewritten_in_place_is_reloaded() {
    let server = setup().start().await;
    let next = pki_of(&server).server("serving-2");
    // Key first, then certificate: in between, the pair does not match and is not used.
    std::fs::write(server.dir.path().join("tls.key"), &next.key_pem).unwrap();
    std::fs::write(server.dir.path().join("tls.crt"), &next.cert_pem).unwrap();
    until_presented(&server, &next.der).await;
    server.stop().await;
}

/// Where the file system sends no change notifications, the poll finds the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_notifications_the_poll_finds_the_new_certificate() {
    let mut s = setup();
    s.config.reload = ReloadSettings {
        poll_interval: Duration::from_millis(200),
        watch: false,
        ..ReloadSettings::default()
    };
    let server = s.start().await;
    let next = pki_of(&server).server("serving-2");
    std::fs::write(server.dir.path().join("tls.key"), &next.key_pem).unwrap();
    std::fs::write(server.dir.path().join("tls.crt"), &next.cert_pem).unwrap();
    until_presented(&server, &next.der).await;
    server.stop().await;
}
