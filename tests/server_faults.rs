//! Faults in what the server reads from disk, against the real binary: each is logged,
//! counted, and leaves the server answering with what it had.

mod common;

use std::time::Duration;

use common::client::{Conn, H1, client_config};
use common::fixtures::{self, CREATE_V1};
use common::metrics::{scrape, value};
use common::pki::Pki;
use common::server::{eventually, spawn_serve, write};
use http::StatusCode;

#[tokio::test]
async fn a_broken_certificate_pair_is_logged_counted_and_the_last_good_one_kept() {
    let pki = Pki::new("faults CA");
    let dir = tempfile::tempdir().unwrap();
    let first = pki.server("serving-1");
    let cert = write(&dir.path().join("tls.crt"), &first.cert_pem);
    let key = write(&dir.path().join("tls.key"), &first.key_pem);
    let process = spawn_serve(&cert, &key, &[]).await;
    // Full handshakes: a resumed session would report the certificate it started with.
    let mut config = (*client_config(&pki.ca_pem, &[H1], None)).clone();
    config.resumption = rustls::client::Resumption::disabled();
    let config = std::sync::Arc::new(config);
    let probe = process.probe_addr;
    let reloads = |result: &'static str, n: f64| {
        move || async move {
            let series =
                format!("failover_webhook_certificate_reloads_total{{result=\"{result}\"}}");
            (value(&scrape(probe).await, &series) == Some(n)).then_some(())
        }
    };
    let served_by = |expected: rustls_pki_types::CertificateDer<'static>| {
        let config = config.clone();
        async move {
            let mut conn = Conn::open(process.addr, config).await.unwrap();
            assert_eq!(conn.server_cert, expected, "another certificate is served");
            let reply = conn
                .post_json("/validate", fixtures::bytes(CREATE_V1))
                .await;
            assert_eq!(reply.status, StatusCode::OK);
        }
    };

    // A certificate of another key: a rotation caught half-way.
    let second = pki.server("serving-2");
    write(&cert, &second.cert_pem);
    eventually(
        Duration::from_secs(20),
        "a failed reload",
        reloads("failure", 1.0),
    )
    .await;
    served_by(first.der.clone()).await;
    let logged = process.logs.lock().unwrap().iter().any(|line| {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        v["level"] == "WARN"
            && v["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("does not load; keeping the current one"))
    });
    assert!(
        logged,
        "no warning logged: {:#?}",
        process.logs.lock().unwrap()
    );
    let ready = common::client::http_get(probe, "/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);

    // Not PEM at all.
    write(&cert, "-----BEGIN CERTIFICATE-----\nbroken\n");
    write(&key, "");
    eventually(
        Duration::from_secs(20),
        "a second failed reload",
        reloads("failure", 2.0),
    )
    .await;
    served_by(first.der.clone()).await;

    // The pair completed: served.
    write(&key, &second.key_pem);
    write(&cert, &second.cert_pem);
    eventually(Duration::from_secs(20), "a reload", reloads("success", 1.0)).await;
    served_by(second.der.clone()).await;
}
