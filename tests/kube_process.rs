//! The real binary against a fake API server, found through `KUBECONFIG` as a user's shell
//! would: `serve --kube` becomes ready and serves the cluster's objects; `check --kube` lists
//! them once.

mod common;

use std::time::Duration;

use common::apiserver::FakeApi;
use common::client::http_get;
use common::metrics::{scrape, value};
use common::pki::Pki;
use common::server::{binary, eventually, spawn_serve_with_env};
use failover_webhook::topology::EMBEDDED_YAML;
use http::StatusCode;

/// The fake cluster holding the embedded demo topology, and how many MeshServices that is.
async fn fake_api_with_demo() -> (FakeApi, usize) {
    let api = FakeApi::start().await;
    let mut mesh_services = 0;
    for doc in failover_webhook::manifest::parse("embedded", EMBEDDED_YAML).unwrap() {
        if doc.value["kind"] == "MeshService" {
            mesh_services += 1;
        }
        api.apply(doc.value);
    }
    (api, mesh_services)
}

#[tokio::test]
async fn serve_kube_is_ready_once_the_cluster_is_listed() {
    let (api, mesh_services) = fake_api_with_demo().await;
    let pki = Pki::new("test CA");
    let dir = tempfile::tempdir().unwrap();
    let serving = pki.server("serving");
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert, &serving.cert_pem).unwrap();
    std::fs::write(&key, &serving.key_pem).unwrap();

    let mut p = spawn_serve_with_env(
        &cert,
        &key,
        &["--kube"],
        &[("KUBECONFIG", api.kubeconfig.as_path())],
    )
    .await;
    eventually(Duration::from_secs(60), "readiness", || async {
        (http_get(p.probe_addr, "/readyz").await.status == StatusCode::OK).then_some(())
    })
    .await;
    let text = scrape(p.probe_addr).await;
    assert_eq!(
        value(
            &text,
            r#"failover_webhook_topology_objects{kind="MeshService"}"#
        ),
        Some(mesh_services as f64)
    );
    assert!(
        p.logs
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("topology synced from the cluster; ready"))
    );
    p.signal(libc::SIGTERM);
    assert_eq!(p.wait(Duration::from_secs(10)).await.code(), Some(0));
}

#[tokio::test]
async fn check_kube_judges_manifests_against_the_cluster() {
    let (api, _) = fake_api_with_demo().await;
    let run = |path: &'static str| {
        let kubeconfig = api.kubeconfig.clone();
        tokio::process::Command::new(binary())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["check", "--kube", path])
            .env("KUBECONFIG", kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .output()
    };
    let ok = run("examples/valid").await.unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let conflict = run("examples/conflict/hostname-conflict.yaml")
        .await
        .unwrap();
    assert_eq!(conflict.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&conflict.stdout).contains("HostnameConflict"));

    // The cluster is the topology: remove the owner and the hostname is free.
    api.delete("FailoverService", "service-mesh-hub", "reviews-failover");
    let freed = run("examples/conflict/hostname-conflict.yaml")
        .await
        .unwrap();
    assert_eq!(
        freed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&freed.stdout)
    );
}
