//! The connection cap and the HTTP/2 idle timeout: what a client sees at the edge of each.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::client::{Conn, H1, H2, client_config, tls_connect};
use common::fixtures::{self, CREATE_V1};
use common::pki::Pki;
use common::server::{TestServer, setup, spawn_serve, write};
use failover_webhook::server::Limits;
use http::StatusCode;

async fn server(limits: Limits) -> TestServer {
    let mut s = setup();
    s.config.limits = limits;
    s.start().await
}

async fn answered(conn: &mut Conn) {
    let reply = conn
        .post_json("/validate", fixtures::bytes(CREATE_V1))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_connection_cap_new_clients_wait_and_open_ones_are_served() {
    let server = server(Limits {
        max_connections: 2,
        ..Limits::default()
    })
    .await;
    let mut a = server.h1().await;
    let mut b = server.h2().await;
    answered(&mut a).await;
    answered(&mut b).await;

    // A third client gets through TCP (the listen backlog) but no handshake.
    let config = server.client_config(&[H1]);
    let addr = server.addr;
    let third =
        tokio::spawn(async move { Conn::open(addr, config).await.map_err(|e| e.to_string()) });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!third.is_finished(), "a third connection was accepted");

    // The open ones are still served, several times over.
    for _ in 0..3 {
        answered(&mut a).await;
        answered(&mut b).await;
    }

    // Once one closes, the waiting client is accepted and served.
    drop(a);
    let mut c = tokio::time::timeout(Duration::from_secs(10), third)
        .await
        .expect("the waiting client is accepted once a slot frees")
        .unwrap()
        .unwrap();
    answered(&mut c).await;
    answered(&mut b).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_h2_connection_is_closed_and_a_busy_one_is_not() {
    let server = server(Limits {
        h2_idle_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let config = server.client_config(&[H2]);

    // Idle after one request: closed by the server.
    let tls = tls_connect(server.addr, config.clone()).await.unwrap();
    let (client, connection) = h2::client::handshake(tls).await.unwrap();
    let idle = tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let req = http::Request::post("https://localhost/validate")
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let (response, mut stream) = client.send_request(req, false).unwrap();
    stream
        .send_data(Bytes::from(fixtures::bytes(CREATE_V1)), true)
        .unwrap();
    assert_eq!(response.await.unwrap().status(), StatusCode::OK);

    // A request whose body is still arriving keeps its connection open past the timeout.
    let tls = tls_connect(server.addr, config).await.unwrap();
    let (client, connection) = h2::client::handshake(tls).await.unwrap();
    let busy = tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let req = http::Request::post("https://localhost/validate?timeout=20s")
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    let (_response, mut stream) = client.send_request(req, false).unwrap();
    stream.send_data(Bytes::from_static(b"{"), false).unwrap();

    tokio::time::timeout(Duration::from_secs(10), idle)
        .await
        .expect("the idle connection is closed")
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !busy.is_finished(),
        "a connection with a request in flight was closed"
    );
    drop(stream);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_on_the_command_line_caps_the_server() {
    let pki = Pki::new("limits CA");
    let dir = tempfile::tempdir().unwrap();
    let serving = pki.server("serving");
    let cert = write(&dir.path().join("tls.crt"), &serving.cert_pem);
    let key = write(&dir.path().join("tls.key"), &serving.key_pem);
    let process = spawn_serve(&cert, &key, &["--max-connections", "1"]).await;
    let config = client_config(&pki.ca_pem, &[H1], None);

    let mut first = Conn::open(process.addr, config.clone()).await.unwrap();
    answered(&mut first).await;
    let second =
        tokio::time::timeout(Duration::from_secs(1), Conn::open(process.addr, config)).await;
    assert!(second.is_err(), "a second connection was accepted");
    answered(&mut first).await;
}
