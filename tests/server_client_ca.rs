//! `--client-ca`: only clients with a certificate from that CA (the API server, configured
//! through its AdmissionConfiguration) are served.

mod common;

use common::client::{Conn, H1, H2, client_config};
use common::fixtures::{self, CREATE_V1};
use common::pki::{Issued, Pki};
use common::server::{TestServer, setup};
use http::StatusCode;

async fn server_requiring(client_ca: &Pki) -> TestServer {
    let mut s = setup();
    let path = s.dir.path().join("client-ca.crt");
    std::fs::write(&path, &client_ca.ca_pem).unwrap();
    s.config.client_ca = Some(path);
    s.start().await
}

/// Whether a request with `identity` gets an answer. With TLS 1.3 the client may finish its
/// side of the handshake before the server has judged its certificate, so a refusal can show
/// at connect or at the first request.
async fn served(server: &TestServer, identity: Option<&Issued>, alpn: &[u8]) -> bool {
    let config = client_config(&server.pki.ca_pem, &[alpn], identity);
    let Ok(mut conn) = Conn::open(server.addr, config).await else {
        return false;
    };
    let req = conn
        .request("POST", "/validate")
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            fixtures::bytes(CREATE_V1),
        )))
        .unwrap();
    match conn.send(req).await {
        Ok(reply) => {
            assert_eq!(reply.status, StatusCode::OK);
            true
        }
        Err(_) => false,
    }
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let clients = Pki::new("client CA");
    let server = server_requiring(&clients).await;
    for alpn in [H1, H2] {
        assert!(!served(&server, None, alpn).await);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_client_with_a_certificate_from_another_ca_is_refused() {
    let clients = Pki::new("client CA");
    let server = server_requiring(&clients).await;
    let stranger = Pki::new("someone else").client("kube-apiserver");
    assert!(!served(&server, Some(&stranger), H1).await);
    server.stop().await;
}

#[tokio::test]
async fn a_client_with_a_valid_certificate_is_served() {
    let clients = Pki::new("client CA");
    let server = server_requiring(&clients).await;
    let apiserver = clients.client("kube-apiserver");
    for alpn in [H1, H2] {
        assert!(served(&server, Some(&apiserver), alpn).await);
    }
    // Refused clients leave the server serving.
    assert!(!served(&server, None, H1).await);
    assert!(served(&server, Some(&apiserver), H1).await);
    server.stop().await;
}
