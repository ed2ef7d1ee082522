//! The live topology over a `tower-test` mock of the API server, for what needs exact control
//! of each answer: a malformed object inside a list page, and a list refused by RBAC.

use std::time::Duration;

use failover_webhook::api::Kind;
use failover_webhook::topology::watch::{LiveTopology, WatchMetrics};
use failover_webhook::topology::{SharedTopology, Topology};
use http::{Request, Response, StatusCode};
use kube::client::Body;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

fn reply(code: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .body(Body::from(body.to_string().into_bytes()))
        .unwrap()
}

fn list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "10"}, "items": items})
}

/// Answers every list with `answer(plural)`; watches are left pending forever, as a quiet
/// cluster's are.
fn serve(mut handle: Handle, answer: impl Fn(&str) -> Response<Body> + Send + 'static) {
    tokio::spawn(async move {
        let mut pending = Vec::new();
        while let Some((req, send)) = handle.next_request().await {
            let plural = req
                .uri()
                .path()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            if req.uri().query().is_some_and(|q| q.contains("watch=true")) {
                pending.push(send);
            } else {
                send.send_response(answer(&plural));
            }
        }
    });
}

fn start(
    answer: impl Fn(&str) -> Response<Body> + Send + 'static,
) -> (LiveTopology, SharedTopology, Registry, CancellationToken) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    serve(handle, answer);
    let client = kube::Client::new(service, "default");
    let shared = SharedTopology::new(Topology::empty());
    let metrics = WatchMetrics::new();
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let stop = CancellationToken::new();
    let live = LiveTopology::start(client, shared.clone(), metrics, stop.clone());
    (live, shared, registry, stop)
}

fn metric(registry: &Registry, series: &str) -> Option<f64> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn a_malformed_object_is_left_out_and_the_rest_of_its_page_indexed() {
    let (live, shared, registry, stop) = start(|plural| {
        let items = if plural == "meshservices" {
            vec![
                json!({"metadata": {"name": "good", "namespace": "smh", "resourceVersion": "5"},
                       "spec": {"kubeService": {"ref": {"name": "svc", "namespace": "ns", "cluster": "c1"}}}}),
                json!({"metadata": {"name": "bad", "namespace": "smh", "resourceVersion": "6"},
                       "spec": {"mesh": 3}}),
            ]
        } else {
            vec![]
        };
        reply(StatusCode::OK, &list(items))
    });
    assert!(
        tokio::time::timeout(Duration::from_secs(30), live.wait_synced())
            .await
            .unwrap()
    );
    let topology = shared.load();
    assert_eq!(topology.count(Kind::MeshService), 1);
    assert!(topology.service("svc", "ns", "c1").is_some());
    assert_eq!(
        metric(
            &registry,
            r#"topology_malformed_objects_total{kind="MeshService"}"#
        ),
        Some(1.0)
    );
    stop.cancel();
}

#[tokio::test]
async fn a_list_refused_by_rbac_keeps_the_topology_unsynced() {
    let (live, _, registry, stop) = start(|plural| {
        if plural == "failoverservices" {
            reply(
                StatusCode::FORBIDDEN,
                &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 403,
                        "reason": "Forbidden", "message": "failoverservices is forbidden"}),
            )
        } else {
            reply(StatusCode::OK, &list(vec![]))
        }
    });
    // Wait until the refusal has been seen (and retried), then check it did not count as synced:
    // unlike a missing CRD, a 403 is a misconfiguration to fix, not an empty kind.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while metric(
        &registry,
        r#"topology_watch_errors_total{kind="FailoverService"}"#,
    ) < Some(2.0)
    {
        assert!(tokio::time::Instant::now() < deadline, "no retried list");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!live.is_synced());
    assert_eq!(
        metric(&registry, r#"topology_synced{kind="FailoverService"}"#),
        Some(0.0)
    );
    assert_eq!(
        metric(&registry, r#"topology_synced{kind="Mesh"}"#),
        Some(1.0)
    );
    stop.cancel();
}
