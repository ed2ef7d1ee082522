//! `serve --kube` against a fake API server over HTTPS, through a kubeconfig and kube's real
//! client and watcher: initial sync and readiness, changes reflected in verdicts, `410 Gone`,
//! failing watches, and a CRD installed late. Every wait is on an observed change, with a
//! generous limit.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::apiserver::{FakeApi, PAGE};
use common::client::http_get;
use common::metrics::{scrape, value};
use common::server::{TestServer, eventually, setup};
use failover_webhook::serve::{install_crypto_provider, mark_ready_when_synced};
use failover_webhook::topology::watch::{Changed, LiveTopology, WatchMetrics};
use failover_webhook::topology::{EMBEDDED_YAML, SharedTopology, Topology};
use http::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(60);

struct Live {
    api: FakeApi,
    server: TestServer,
    live: LiveTopology,
    stop: CancellationToken,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The embedded demo topology, as objects in the fake cluster.
fn demo_objects() -> Vec<Value> {
    failover_webhook::manifest::parse("embedded", EMBEDDED_YAML)
        .unwrap()
        .into_iter()
        .map(|d| d.value)
        .collect()
}

async fn fake_api_with_demo() -> FakeApi {
    let api = FakeApi::start().await;
    for obj in demo_objects() {
        api.apply(obj);
    }
    api
}

/// The server, unready, with the live topology watching `api`.
async fn start(api: FakeApi) -> Live {
    install_crypto_provider();
    let client = api.client().await;
    let mut s = setup();
    let shared = SharedTopology::new(Topology::empty());
    let metrics = WatchMetrics::new();
    s.config.topology = shared.clone();
    s.config.topology_synced = false;
    s.config.watch_metrics = Some(metrics.clone());
    let server = s.start().await;
    let stop = CancellationToken::new();
    let live = LiveTopology::start(client, shared, metrics, stop.clone());
    tokio::spawn(mark_ready_when_synced(
        live.clone(),
        server.readiness.clone(),
    ));
    Live {
        api,
        server,
        live,
        stop,
    }
}

async fn readyz(live: &Live) -> StatusCode {
    http_get(live.server.probe_addr, "/readyz").await.status
}

async fn wait_ready(live: &Live) {
    eventually(LIMIT, "readiness", || async {
        (readyz(live).await == StatusCode::OK).then_some(())
    })
    .await;
}

/// The valid create of `examples/admission/`: checkout in mgmt-cluster and remote-cluster,
/// whose meshes share `global-virtual-mesh`.
fn valid_review() -> Value {
    serde_json::from_str(include_str!("../examples/admission/create-valid.json")).unwrap()
}

/// The same review claiming the hostname of the demo's `reviews-failover`.
fn review_claiming_reviews_hostname() -> Value {
    let mut review = valid_review();
    review["request"]["object"]["spec"]["hostname"] = json!("reviews.bookinfo.failover");
    review
}

/// `Some(allowed)` with the denial message.
async fn verdict(live: &Live, review: &Value) -> (bool, String) {
    let mut conn = live.server.h2().await;
    let reply = conn.post_json("/validate", review.to_string()).await;
    let body = reply.json();
    let response = &body["response"];
    (
        response["allowed"].as_bool().unwrap(),
        response["status"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

async fn wait_verdict(live: &Live, review: &Value, allowed: bool, what: &str) -> String {
    eventually(LIMIT, what, || async {
        let (a, message) = verdict(live, review).await;
        (a == allowed).then_some(message)
    })
    .await
}

fn global_virtual_mesh(meshes: &[&str]) -> Value {
    json!({
        "apiVersion": "networking.smh.solo.io/v1alpha1",
        "kind": "VirtualMesh",
        "metadata": {"name": "global-virtual-mesh", "namespace": "service-mesh-hub"},
        "spec": {"meshes": meshes.iter().map(|m| json!({"name": m, "namespace": "service-mesh-hub"})).collect::<Vec<_>>()}
    })
}

const MGMT_MESH: &str = "istio-istio-system-mgmt-cluster";
const REMOTE_MESH: &str = "istio-istio-system-remote-cluster";

#[tokio::test]
async fn lists_every_kind_in_pages_and_is_ready_only_after_the_first_list() {
    let api = fake_api_with_demo().await;
    api.fail_lists(usize::MAX);
    let live = start(api).await;

    // Lists fail and are retried; the server stays unready meanwhile.
    eventually(LIMIT, "a retried list", || async {
        (live.api.lists("Mesh") >= 2).then_some(())
    })
    .await;
    let ready = http_get(live.server.probe_addr, "/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.text(), "topology not synced\n");
    assert!(!live.live.is_synced());

    live.api.fail_lists(0);
    wait_ready(&live).await;

    let text = scrape(live.server.probe_addr).await;
    let series = |name: &str, kind: &str| {
        value(
            &text,
            &format!("failover_webhook_{name}{{kind=\"{kind}\"}}"),
        )
    };
    let mesh_services = demo_objects()
        .iter()
        .filter(|o| o["kind"] == "MeshService")
        .count();
    assert!(mesh_services > 2 * PAGE, "the demo fills several pages");
    assert_eq!(
        series("topology_objects", "MeshService"),
        Some(mesh_services as f64)
    );
    assert_eq!(series("topology_objects", "KubernetesCluster"), Some(4.0));
    assert_eq!(series("topology_synced", "VirtualMesh"), Some(1.0));
    assert!(series("topology_watch_errors_total", "Mesh").unwrap() >= 1.0);
    assert!(series("topology_watch_events_total", "MeshService").unwrap() >= mesh_services as f64);
    assert!(series("topology_last_list_timestamp_seconds", "Mesh").unwrap() > 1.7e9);
    // Every kind's list after its first page was fetched with a continue token.
    assert!(live.api.continued_pages() >= mesh_services.div_ceil(PAGE) - 1);

    assert!(verdict(&live, &valid_review()).await.0);
}

#[tokio::test]
async fn verdicts_follow_objects_added_modified_and_deleted_in_the_cluster() {
    let live = start(fake_api_with_demo().await).await;
    wait_ready(&live).await;
    let mut changes = live.live.subscribe();
    assert!(verdict(&live, &valid_review()).await.0);

    // The remote service's Mesh leaves the VirtualMesh: the failover can no longer route.
    live.api.apply(global_virtual_mesh(&[MGMT_MESH]));
    let message = wait_verdict(&live, &valid_review(), false, "a denial").await;
    assert!(message.contains("VirtualMesh"), "{message}");
    // The controller hook saw which object changed.
    let change = tokio::time::timeout(LIMIT, async {
        loop {
            if let Ok(Changed::Object { kind, object, .. }) = changes.recv().await {
                return (kind, object);
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(change.1.name, "global-virtual-mesh");

    // A bookmark on the way changes nothing and breaks nothing.
    live.api.bookmark();
    // It returns: allowed again.
    live.api
        .apply(global_virtual_mesh(&[MGMT_MESH, REMOTE_MESH]));
    wait_verdict(&live, &valid_review(), true, "allowed again").await;

    // A hostname taken by another FailoverService is denied, and free once it is deleted.
    let claim = review_claiming_reviews_hostname();
    let message = wait_verdict(&live, &claim, false, "a hostname conflict").await;
    assert!(message.contains("reviews-failover"), "{message}");
    live.api
        .delete("FailoverService", "service-mesh-hub", "reviews-failover");
    wait_verdict(&live, &claim, true, "the freed hostname taken").await;
    assert_eq!(readyz(&live).await, StatusCode::OK);
}

#[tokio::test]
async fn a_410_gone_relists_and_sees_what_changed_meanwhile() {
    let live = start(fake_api_with_demo().await).await;
    wait_ready(&live).await;
    assert!(verdict(&live, &valid_review()).await.0);
    let lists_before = live.api.lists("VirtualMesh");

    // The change happens while the watch is away, and the history is compacted past it:
    // resuming the watch answers 410 Gone, and only a re-list can see the change.
    live.api
        .compact_after(vec![global_virtual_mesh(&[MGMT_MESH])]);
    wait_verdict(&live, &valid_review(), false, "the re-listed change").await;
    assert!(live.api.lists("VirtualMesh") > lists_before);
    assert_eq!(readyz(&live).await, StatusCode::OK);
}

#[tokio::test]
async fn a_failing_watch_recovers_without_readiness_flapping() {
    let live = start(fake_api_with_demo().await).await;
    wait_ready(&live).await;
    let claim = review_claiming_reviews_hostname();
    assert!(!verdict(&live, &claim).await.0);

    // Watch readiness the whole time, from another task.
    let not_ready = Arc::new(AtomicUsize::new(0));
    let probing = CancellationToken::new();
    let poller = {
        let (not_ready, probing, addr) =
            (not_ready.clone(), probing.clone(), live.server.probe_addr);
        tokio::spawn(async move {
            while !probing.is_cancelled() {
                if http_get(addr, "/readyz").await.status != StatusCode::OK {
                    not_ready.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };

    let watches_before = live.api.watches("FailoverService");
    live.api.fail_watches(usize::MAX);
    live.api.break_watches();
    eventually(LIMIT, "failed watch retries", || async {
        (live.api.watches("FailoverService") >= watches_before + 2).then_some(())
    })
    .await;
    // Still answering from the last state while the watch is down.
    assert!(!verdict(&live, &claim).await.0);
    let text = scrape(live.server.probe_addr).await;
    assert!(
        value(
            &text,
            r#"failover_webhook_topology_watch_errors_total{kind="FailoverService"}"#
        )
        .unwrap()
            >= 1.0
    );

    live.api.fail_watches(0);
    live.api
        .delete("FailoverService", "service-mesh-hub", "reviews-failover");
    wait_verdict(&live, &claim, true, "the change after recovery").await;
    probing.cancel();
    poller.await.unwrap();
    assert_eq!(not_ready.load(Ordering::Relaxed), 0, "readiness flapped");
}

#[tokio::test]
async fn a_missing_crd_counts_as_empty_and_is_picked_up_once_installed() {
    let api = fake_api_with_demo().await;
    api.set_missing("FailoverService", true);
    let live = start(api).await;
    // Ready without it: no FailoverServices, so the demo's hostname is free.
    wait_ready(&live).await;
    let claim = review_claiming_reviews_hostname();
    assert!(verdict(&live, &claim).await.0);

    live.api.set_missing("FailoverService", false);
    let message = wait_verdict(&live, &claim, false, "the late CRD's objects").await;
    assert!(message.contains("reviews-failover"), "{message}");
    let text = scrape(live.server.probe_addr).await;
    assert_eq!(
        value(
            &text,
            r#"failover_webhook_topology_objects{kind="FailoverService"}"#
        ),
        Some(1.0)
    );
}
