//! `--client-ca`: only clients with a certificate from that CA (the API server, configured
//! through its AdmissionConfiguration) are served. A refused client gets the TLS alert that
//! says why — `certificate_required` without a certificate, `unknown_ca` with one from another
//! CA — and the same server keeps serving good clients.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::client::{Conn, H1, H2, client_config};
use common::fixtures::{self, CREATE_V1};
use common::pki::{Issued, Pki};
use common::server::{TestServer, setup};
use http::StatusCode;
use rustls::client::Resumption;
use rustls::{AlertDescription, ClientConfig, RootCertStore, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn server_requiring(client_ca: &Pki) -> TestServer {
    let mut s = setup();
    let path = s.dir.path().join("client-ca.crt");
    std::fs::write(&path, &client_ca.ca_pem).unwrap();
    s.config.client_ca = Some(path);
    s.start().await
}

/// A request with `identity` over `alpn`, answered 200 with the allowed verdict.
async fn assert_served(server: &TestServer, identity: &Issued, alpn: &[u8]) {
    let config = client_config(&server.pki.ca_pem, &[alpn], Some(identity));
    let mut conn = Conn::open(server.addr, config).await.unwrap();
    let reply = conn
        .post_json("/validate", fixtures::bytes(CREATE_V1))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["response"]["allowed"], true);
}

/// A client of one TLS version, trusting the server's CA, presenting `identity`.
fn versioned_config(
    server: &TestServer,
    version: &'static SupportedProtocolVersion,
    identity: Option<&Issued>,
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(server.pki.ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(&[version])
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
    config.alpn_protocols = vec![H1.to_vec()];
    config.resumption = Resumption::disabled();
    Arc::new(config)
}

/// The alert the server refuses `identity` with. With TLS 1.2 it arrives during the
/// handshake; with TLS 1.3 the client finishes its side first and reads the alert instead of
/// the first response.
async fn refusal(
    server: &TestServer,
    version: &'static SupportedProtocolVersion,
    identity: Option<&Issued>,
) -> AlertDescription {
    let config = versioned_config(server, version, identity);
    let error = match common::client::tls_connect(server.addr, config).await {
        Err(e) => e,
        Ok(mut tls) => {
            let body = fixtures::bytes(CREATE_V1);
            let head = format!(
                "POST /validate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\nconnection: close\r\n\
                 content-length: {}\r\n\r\n",
                body.len()
            );
            // Writing may already fail once the alert is in; reading surely does.
            let _ = tls.write_all(head.as_bytes()).await;
            let _ = tls.write_all(&body).await;
            let mut buf = Vec::new();
            match tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut buf))
                .await
                .expect("the server answers or refuses")
            {
                Ok(_) => panic!(
                    "served without a valid client certificate: {}",
                    String::from_utf8_lossy(&buf)
                ),
                Err(e) => e,
            }
        }
    };
    match error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::AlertReceived(alert)) => *alert,
        _ => panic!("refused without a TLS alert: {error:?}"),
    }
}

const VERSIONS: [&SupportedProtocolVersion; 2] = [&rustls::version::TLS12, &rustls::version::TLS13];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_a_certificate_is_told_one_is_required() {
    let clients = Pki::new("client CA");
    let server = server_requiring(&clients).await;
    let apiserver = clients.client("kube-apiserver");
    for version in VERSIONS {
        assert_eq!(
            refusal(&server, version, None).await,
            AlertDescription::CertificateRequired,
            "{version:?}"
        );
    }
    assert_served(&server, &apiserver, H1).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_a_certificate_from_another_ca_is_told_the_ca_is_unknown() {
    let clients = Pki::new("client CA");
    let server = server_requiring(&clients).await;
    let stranger = Pki::new("someone else").client("kube-apiserver");
    for version in VERSIONS {
        assert_eq!(
            refusal(&server, version, Some(&stranger)).await,
            AlertDescription::UnknownCA,
            "{version:?}"
        );
    }
    assert_served(&server, &clients.client("kube-apiserver"), H1).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_a_valid_certificate_is_served_over_both_protocols() {
    let clients = Pki::new("client CA");
    let server = server_requiring(&clients).await;
    let apiserver = clients.client("kube-apiserver");
    for alpn in [H1, H2] {
        assert_served(&server, &apiserver, alpn).await;
    }
    // Refused clients in between leave the server serving.
    assert_eq!(
        refusal(&server, &rustls::version::TLS13, None).await,
        AlertDescription::CertificateRequired
    );
    assert_served(&server, &apiserver, H2).await;
    server.stop().await;
}
