//! `/validate` and `/mutate` over real TLS on loopback: HTTP/1.1 keep-alive (what the API
//! server uses for Service webhooks) and HTTP/2 (what it may use on loopback).

mod common;

use bytes::Bytes;
use common::client::{Conn, H1, H2};
use common::contract::{Webhook, apply_patch, assert_accepted};
use common::fixtures::{self, *};
use failover_webhook::admission::{self, Context, Endpoint};
use failover_webhook::engine::Settings;
use failover_webhook::topology::embedded;
use http::{StatusCode, Version};
use http_body_util::Full;
use serde_json::Value;

fn path(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Validate => "/validate?timeout=10s",
        Endpoint::Mutate => "/mutate?timeout=10s",
    }
}

fn webhook(endpoint: Endpoint) -> Webhook {
    match endpoint {
        Endpoint::Validate => Webhook::Validating,
        Endpoint::Mutate => Webhook::Mutating,
    }
}

/// What the admission layer answers without a server, for comparison with the wire.
fn expected(body: &[u8], endpoint: Endpoint) -> Vec<u8> {
    let settings = Settings::default();
    admission::review(
        body,
        endpoint,
        Context {
            topology: &embedded(),
            settings: &settings,
        },
    )
    .unwrap()
    .body
}

/// Sends every fixture to both endpoints on `conn` and checks each answer.
async fn every_fixture_on(conn: &mut Conn, version: Version) {
    for (name, request) in fixtures::requests() {
        let body = serde_json::to_vec(&request).unwrap();
        for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
            let reply = conn.post_json(path(endpoint), body.clone()).await;
            assert_eq!(reply.status, StatusCode::OK, "{name} {endpoint:?}");
            assert_eq!(reply.version, version);
            assert_eq!(
                reply.headers["content-type"], "application/json",
                "{name} {endpoint:?}"
            );
            assert_accepted(&request, &reply.json(), webhook(endpoint));
            assert_eq!(
                reply.body.as_ref(),
                expected(&body, endpoint).as_slice(),
                "{name} {endpoint:?}: the wire carries the admission layer's answer"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_is_answered_on_one_http1_keep_alive_connection() {
    let server = common::server::setup().start().await;
    let mut conn = server.h1().await;
    assert_eq!(conn.alpn.as_deref(), Some(H1));
    every_fixture_on(&mut conn, Version::HTTP_11).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_is_answered_over_http2() {
    let server = common::server::setup().start().await;
    let mut conn = server.h2().await;
    assert_eq!(conn.alpn.as_deref(), Some(H2), "h2 is negotiated by ALPN");
    every_fixture_on(&mut conn, Version::HTTP_2).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_alpn_is_served_http1() {
    let server = common::server::setup().start().await;
    let mut conn = Conn::open(server.addr, server.client_config(&[]))
        .await
        .unwrap();
    assert_eq!(conn.alpn, None);
    let reply = conn
        .post_json("/validate", fixtures::bytes(CREATE_V1))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.version, Version::HTTP_11);
    server.stop().await;
}

/// The API server's sequence: `/mutate`, apply the patch, `/validate` the result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_flow_works_over_both_protocols() {
    let server = common::server::setup().start().await;
    for mut conn in [server.h1().await, server.h2().await] {
        for base in [CREATE_V1, CREATE_V1BETA1, UPDATE_V1] {
            for (port, allowed) in [(9080, true), (70000, false)] {
                let request = fixtures::with_port(&fixtures::json(base), port);
                let mutated = conn
                    .post_json("/mutate", serde_json::to_vec(&request).unwrap())
                    .await
                    .json();
                assert_accepted(&request, &mutated, Webhook::Mutating);
                assert_eq!(mutated["apiVersion"], request["apiVersion"]);
                let object =
                    apply_patch(&request["request"]["object"], &mutated["response"]).unwrap();
                let mut second = fixtures::with_uid(&request, "second-call");
                second["request"]["object"] = object;
                let validated = conn
                    .post_json("/validate", serde_json::to_vec(&second).unwrap())
                    .await
                    .json();
                assert_accepted(&second, &validated, Webhook::Validating);
                assert_eq!(
                    validated["response"]["allowed"], allowed,
                    "{base} port {port} over {:?}",
                    conn.alpn
                );
                if !allowed {
                    let status = &validated["response"]["status"];
                    assert_eq!(status["code"], 422);
                    assert_eq!(status["details"]["causes"][0]["field"], "spec.port.port");
                }
            }
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_patch_is_a_base64_string_on_the_wire() {
    let server = common::server::setup().start().await;
    let mut conn = server.h1().await;
    let reply = conn.post_json("/mutate", fixtures::bytes(CREATE_V1)).await;
    let v: Value = reply.json();
    assert!(v["response"]["patch"].is_string(), "{v}");
    assert_eq!(v["response"]["patchType"], "JSONPatch");
    let text = reply.text();
    assert!(
        text.contains(r#""patch":"W3sib3AiOiJhZGQiLCJwYXRoIjoiL3N0YXR1cyIs"#),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_streams_on_one_http2_connection_get_their_own_answers() {
    let server = common::server::setup().start().await;
    let conn = server.h2().await;
    let mut tasks = Vec::new();
    for i in 0..32 {
        let mut stream = conn.stream().unwrap();
        tasks.push(tokio::spawn(async move {
            let uid = format!("uid-{i}");
            let request = fixtures::with_uid(&fixtures::json(CREATE_V1), &uid);
            let req = stream
                .request("POST", "/validate")
                .header("content-type", "application/json; charset=utf-8")
                .body(Full::new(Bytes::from(
                    serde_json::to_vec(&request).unwrap(),
                )))
                .unwrap();
            (uid, stream.send(req).await.unwrap().json())
        }));
    }
    for t in tasks {
        let (uid, v) = t.await.unwrap();
        assert_eq!(v["response"]["uid"], uid.as_str());
        assert_eq!(v["response"]["allowed"], true);
    }
    server.stop().await;
}

/// TLS 1.2 clients are still served (the API server's Go client negotiates 1.3, older
/// clients and proxies may not); anything older is refused by rustls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_2_and_1_3_clients_are_both_served() {
    use std::sync::Arc;

    use rustls::{ClientConfig, RootCertStore};
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    use tokio::io::AsyncWriteExt;

    let server = common::server::setup().start().await;
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(server.pki.ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let mut config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(&[version])
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        config.alpn_protocols = vec![H1.to_vec()];
        let mut tls = common::client::tls_connect(server.addr, Arc::new(config))
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.protocol_version(), Some(version.version));
        let body = fixtures::bytes(CREATE_V1);
        let head = format!(
            "POST /validate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
             connection: close\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        tls.write_all(head.as_bytes()).await.unwrap();
        tls.write_all(&body).await.unwrap();
        let text =
            common::client::read_until_close(&mut tls, std::time::Duration::from_secs(5)).await;
        assert!(text.starts_with("HTTP/1.1 200"), "{version:?}: {text}");
    }
    server.stop().await;
}

/// CONNECT (as for `pods/exec` or a proxy) has no object to judge: both endpoints allow it
/// untouched, even when what it carries would be denied, and count it as skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_is_allowed_untouched_on_both_endpoints() {
    let server = common::server::setup().start().await;
    let mut review = fixtures::with_port(&fixtures::json(CREATE_V1), 70000);
    review["request"]["operation"] = Value::from("CONNECT");
    review["request"]["options"] = serde_json::json!({"kind": "ProxyOptions", "apiVersion": "v1"});
    let body = serde_json::to_vec(&review).unwrap();
    for mut conn in [server.h1().await, server.h2().await] {
        for endpoint in [Endpoint::Validate, Endpoint::Mutate] {
            let reply = conn.post_json(path(endpoint), body.clone()).await;
            assert_eq!(reply.status, StatusCode::OK);
            let answer = reply.json();
            assert_accepted(&review, &answer, webhook(endpoint));
            assert_eq!(
                answer["response"],
                serde_json::json!({"uid": review["request"]["uid"], "allowed": true}),
                "{endpoint:?}: nothing but the verdict"
            );
        }
    }
    let text = common::metrics::scrape(server.probe_addr).await;
    for endpoint in ["validate", "mutate"] {
        let series = format!(
            r#"failover_webhook_requests_total{{endpoint="{endpoint}",operation="CONNECT",verdict="skipped",code="200"}}"#
        );
        assert_eq!(
            common::metrics::value(&text, &series),
            Some(2.0),
            "{series}\n{text}"
        );
    }
    server.stop().await;
}
