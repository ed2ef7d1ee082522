//! The status controller against the fake API server over HTTPS, through kube's real client:
//! the status written for a new object and nothing when nothing changed, a Mesh leaving and
//! rejoining the VirtualMesh, leader election and takeover, a retried `409 Conflict`, a failed
//! write retried with backoff, and no write at all in the steady state, across a re-list.
//! Every wait is on an observed change, with a generous limit.

mod common;

use std::time::Duration;

use common::apiserver::FakeApi;
use common::client::{Conn, client_config, http_get};
use common::metrics::{scrape, value};
use common::pki::Pki;
use common::server::{Process, eventually, spawn_serve_with_env};
use failover_webhook::controller::{
    ControllerMetrics, FIELD_MANAGER, LeaseSettings, Outcome, lease_field_manager,
};
use failover_webhook::serve::install_crypto_provider;
use failover_webhook::topology::EMBEDDED_YAML;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(90);
const NS: &str = "service-mesh-hub";
const LEASE: &str = "failover-webhook-status";
const CHECKOUT: &str = "service-mesh-hub/checkout-failover";

fn demo_objects() -> Vec<Value> {
    failover_webhook::manifest::parse("embedded", EMBEDDED_YAML)
        .unwrap()
        .into_iter()
        .map(|d| d.value)
        .collect()
}

/// The valid checkout FailoverService of `examples/admission/`, as stored, with a status the
/// translator owns.
fn checkout(generation: i64) -> Value {
    let review: Value =
        serde_json::from_str(include_str!("../examples/admission/create-valid.json")).unwrap();
    let mut obj = review["request"]["object"].clone();
    obj["metadata"]["generation"] = json!(generation);
    obj["status"] = json!({"translationStatus": {"state": "ACCEPTED"}, "translatorErrors": []});
    obj
}

async fn fake_api() -> FakeApi {
    let api = FakeApi::start().await;
    for obj in demo_objects() {
        api.apply(obj);
    }
    api.apply(checkout(3));
    api
}

struct Replica {
    metrics: ControllerMetrics,
    stop: CancellationToken,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn replica(api: &FakeApi, identity: &str, duration_seconds: u64) -> Replica {
    let stop = CancellationToken::new();
    let lease = LeaseSettings {
        namespace: NS.to_owned(),
        name: LEASE.to_owned(),
        identity: identity.to_owned(),
        duration_seconds,
        grace_seconds: 1,
    };
    let controller = common::controller::for_api(api, lease, &stop).await;
    let metrics = controller.metrics.clone();
    tokio::spawn(controller.run(stop.clone()));
    Replica { metrics, stop }
}

fn writes_of(api: &FakeApi, object: &str) -> Vec<Value> {
    api.status_writes()
        .into_iter()
        .filter(|w| w.object == object)
        .map(|w| w.patch)
        .collect()
}

/// Waits for a write of `object` whose status satisfies `pred`; returns it.
async fn wait_write(
    api: &FakeApi,
    object: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    eventually(LIMIT, what, || async {
        writes_of(api, object)
            .into_iter()
            .find(|p| pred(&p["status"]))
    })
    .await
}

fn state_is(state: &'static str) -> impl Fn(&Value) -> bool {
    move |s| s["validationStatus"]["state"] == state
}

/// Every write has been followed by the re-judging its own MODIFIED event triggers.
async fn wait_settled(api: &FakeApi, m: &ControllerMetrics) {
    eventually(
        LIMIT,
        "every written object re-judged unchanged",
        || async {
            let written = api.status_writes().len() as u64;
            (written > 0 && m.reconciles(Outcome::Unchanged) >= written).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_a_new_objects_status_once_and_nothing_when_nothing_changed() {
    let api = fake_api().await;
    let r = replica(&api, "a", 15).await;
    let patch = wait_write(&api, CHECKOUT, "the checkout status", state_is("ACCEPTED")).await;
    assert_eq!(
        patch["status"],
        json!({"observedGeneration": 3, "validationStatus": {"state": "ACCEPTED", "message": ""}}),
        "only the owned fields, the generation as stored"
    );
    let w = api.status_writes();
    let first = w.iter().find(|w| w.object == CHECKOUT).unwrap();
    assert_eq!(first.field_manager.as_deref(), Some(FIELD_MANAGER));
    let stored = api
        .object("FailoverService", NS, "checkout-failover")
        .unwrap();
    assert_eq!(
        stored["status"]["translationStatus"],
        json!({"state": "ACCEPTED"})
    );
    assert_eq!(stored["status"]["translatorErrors"], json!([]));

    wait_settled(&api, &r.metrics).await;
    // A change that leaves the verdict alone (a label) is judged, and nothing is written.
    let before = r.metrics.reconciles(Outcome::Unchanged);
    let mut relabelled = stored.clone();
    relabelled["metadata"]["labels"] = json!({"team": "shop"});
    api.apply(relabelled);
    eventually(LIMIT, "the relabelled object judged", || async {
        (r.metrics.reconciles(Outcome::Unchanged) > before).then_some(())
    })
    .await;
    assert_eq!(writes_of(&api, CHECKOUT).len(), 1, "written exactly once");
    let accepted_events = api
        .events()
        .into_iter()
        .filter(|e| e["regarding"]["name"] == "checkout-failover")
        .count();
    assert_eq!(accepted_events, 1, "one Event for the one state change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mesh_leaving_the_virtual_mesh_flips_the_state_and_back() {
    let api = fake_api().await;
    let r = replica(&api, "a", 15).await;
    wait_write(&api, CHECKOUT, "ACCEPTED first", state_is("ACCEPTED")).await;
    wait_settled(&api, &r.metrics).await;
    let vm = demo_objects()
        .into_iter()
        .find(|o| o["metadata"]["name"] == "global-virtual-mesh")
        .unwrap();
    let mut shrunk = vm.clone();
    shrunk["spec"]["meshes"] =
        json!([{"name": "istio-istio-system-mgmt-cluster", "namespace": NS}]);
    api.apply(shrunk);
    let invalid = wait_write(&api, CHECKOUT, "INVALID", state_is("INVALID")).await;
    let message = invalid["status"]["validationStatus"]["message"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("istio-istio-system-remote-cluster"),
        "the message names the mesh that left: {message}"
    );
    assert!(r.metrics.requeued() >= 1);
    let warning = api
        .events()
        .into_iter()
        .find(|e| e["regarding"]["name"] == "checkout-failover" && e["type"] == "Warning")
        .expect("a Warning Event says why");
    assert_eq!(warning["reason"], "Invalid");
    assert_eq!(warning["note"].as_str(), Some(message));

    api.apply(vm);
    eventually(LIMIT, "ACCEPTED again", || async {
        let w = writes_of(&api, CHECKOUT);
        (w.len() == 3 && state_is("ACCEPTED")(&w[2]["status"])).then_some(())
    })
    .await;
    eventually(LIMIT, "the re-queues all taken", || async {
        (r.metrics.queue_depth() == 0).then_some(())
    })
    .await;
    let events = api
        .events()
        .into_iter()
        .filter(|e| e["regarding"]["name"] == "checkout-failover")
        .map(|e| e["reason"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(
        events,
        ["Accepted", "Invalid", "Accepted"],
        "one Event per state change"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_writes_and_another_takes_over_when_it_stops_renewing() {
    let api = fake_api().await;
    let a = replica(&api, "a", 3).await;
    eventually(LIMIT, "a leads", || async {
        (a.metrics.is_leader() && api.lease_holder(NS, LEASE).as_deref() == Some("a")).then_some(())
    })
    .await;
    let b = replica(&api, "b", 3).await;
    wait_write(&api, CHECKOUT, "a writes", state_is("ACCEPTED")).await;
    wait_settled(&api, &a.metrics).await;

    api.apply(checkout(4));
    wait_write(&api, CHECKOUT, "generation 4", |s| {
        s["observedGeneration"] == 4
    })
    .await;
    assert!(!b.metrics.is_leader());
    assert_eq!(b.metrics.reconciles(Outcome::Written), 0, "b follows");
    assert_eq!(api.lease_holder(NS, LEASE).as_deref(), Some("a"));

    // a can no longer renew: b takes the Lease once it expires, and a steps down. A Mesh
    // leaves the VirtualMesh meanwhile: whichever replica leads then, the change is not lost.
    api.freeze_lease_writes(&lease_field_manager("a"));
    let vm = demo_objects()
        .into_iter()
        .find(|o| o["metadata"]["name"] == "global-virtual-mesh")
        .unwrap();
    let mut shrunk = vm.clone();
    shrunk["spec"]["meshes"] =
        json!([{"name": "istio-istio-system-mgmt-cluster", "namespace": NS}]);
    api.apply(shrunk);
    eventually(LIMIT, "b takes over", || async {
        (b.metrics.is_leader()
            && !a.metrics.is_leader()
            && api.lease_holder(NS, LEASE).as_deref() == Some("b"))
        .then_some(())
    })
    .await;
    eventually(
        LIMIT,
        "the change made during the handover written",
        || async {
            let stored = api.object("FailoverService", NS, "checkout-failover")?;
            (stored["status"]["validationStatus"]["state"] == "INVALID").then_some(())
        },
    )
    .await;
    api.apply(vm);
    let a_written = a.metrics.reconciles(Outcome::Written);
    let mut next = checkout(5);
    next["status"] = api
        .object("FailoverService", NS, "checkout-failover")
        .unwrap()["status"]
        .clone();
    api.apply(next);
    wait_write(&api, CHECKOUT, "generation 5", |s| {
        s["observedGeneration"] == 5
    })
    .await;
    assert!(b.metrics.reconciles(Outcome::Written) >= 1, "b writes");
    assert_eq!(
        a.metrics.reconciles(Outcome::Written),
        a_written,
        "a no longer writes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_is_retried() {
    let api = fake_api().await;
    api.conflict_status_writes(2);
    let r = replica(&api, "a", 15).await;
    wait_write(
        &api,
        CHECKOUT,
        "written despite conflicts",
        state_is("ACCEPTED"),
    )
    .await;
    let failover_services = demo_objects()
        .iter()
        .filter(|o| o["kind"] == "FailoverService")
        .count()
        + 1;
    eventually(LIMIT, "every FailoverService written", || async {
        let mut written: Vec<String> = api.status_writes().into_iter().map(|w| w.object).collect();
        written.sort();
        written.dedup();
        (written.len() == failover_services).then_some(())
    })
    .await;
    assert_eq!(api.conflicts_sent(), 2);
    assert_eq!(r.metrics.conflicts(), 2);
    assert_eq!(r.metrics.write_errors(), 2);
}

fn failover_service_count() -> usize {
    demo_objects()
        .iter()
        .filter(|o| o["kind"] == "FailoverService")
        .count()
        + 1
}

async fn wait_all_written(api: &FakeApi) {
    let n = failover_service_count();
    eventually(LIMIT, "every FailoverService written", || async {
        let mut written: Vec<String> = api.status_writes().into_iter().map(|w| w.object).collect();
        written.sort();
        written.dedup();
        (written.len() == n).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_is_retried_after_a_backoff() {
    let api = fake_api().await;
    api.fail_status_writes(1);
    let r = replica(&api, "a", 15).await;
    wait_all_written(&api).await;
    assert_eq!(r.metrics.write_errors(), 1);
    assert_eq!(r.metrics.conflicts(), 0);
    assert_eq!(r.metrics.reconciles(Outcome::Error), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_steady_state_writes_nothing_even_across_a_relist() {
    let api = fake_api().await;
    let r = replica(&api, "a", 15).await;
    wait_all_written(&api).await;
    wait_settled(&api, &r.metrics).await;
    let n = failover_service_count() as u64;
    let writes = api.status_writes().len();
    let written = r.metrics.reconciles(Outcome::Written);
    let unchanged = r.metrics.reconciles(Outcome::Unchanged);
    let requeued = r.metrics.requeued();
    let kinds = [
        "KubernetesCluster",
        "MeshService",
        "Mesh",
        "VirtualMesh",
        "FailoverService",
    ];
    let lists: Vec<usize> = kinds.iter().map(|k| api.lists(k)).collect();

    // The watch history is gone: every watcher, the controller's own too, gets `410 Gone`
    // and lists everything again, as after an API server restart.
    api.compact_after(Vec::new());
    eventually(LIMIT, "every kind re-listed", || async {
        kinds
            .iter()
            .zip(&lists)
            .all(|(k, before)| api.lists(k) > *before)
            .then_some(())
    })
    .await;
    eventually(LIMIT, "every object re-judged", || async {
        (r.metrics.requeued() >= requeued + n
            && r.metrics.queue_depth() == 0
            && r.metrics.reconciles(Outcome::Unchanged) >= unchanged + n)
            .then_some(())
    })
    .await;
    assert_eq!(api.status_writes().len(), writes, "no status PATCH");
    assert_eq!(r.metrics.reconciles(Outcome::Written), written);
    assert_eq!(r.metrics.reconciles(Outcome::Error), 0);
}

/// The chart CRD's printer columns: (name, JSON path, priority).
fn printer_columns() -> Vec<(String, String, u64)> {
    let template = include_str!("../charts/failover-webhook/templates/crd-failoverservices.yaml");
    let comment = regex::Regex::new(r"(?s)\{\{-? */\*.*?\*/ *-?\}\}").unwrap();
    let yaml: String = comment
        .replace_all(template, "")
        .lines()
        .filter(|l| !l.contains("{{"))
        .map(|l| format!("{l}\n"))
        .collect();
    let crd: Value = serde_norway::from_str(&yaml).unwrap();
    crd["spec"]["versions"][0]["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["jsonPath"].as_str().unwrap().to_owned(),
                c["priority"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// A table as kubectl prints it: upper-case headers, each string cell cut at its first line
/// break with "..." appended, aligned by Go's tabwriter (minimum width 10, padding 3).
fn kubectl_table(rows: &[Vec<String>]) -> String {
    let cell = |s: &str| match s.split_once('\n') {
        Some((first, _)) => format!("{first}..."),
        None => s.to_owned(),
    };
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| cell(c)).collect())
        .collect();
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count() + 3)
                .max()
                .unwrap_or(0)
                .max(10)
        })
        .collect();
    let mut out = String::new();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            if i + 1 == columns {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}", w = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}

/// The lines after `$ {command}` in the README, up to the next command or the block's end.
fn readme_output(readme: &str, command: &str) -> Vec<String> {
    let prompt = format!("$ {command}");
    readme
        .lines()
        .skip_while(|l| *l != prompt)
        .skip(1)
        .take_while(|l| !l.starts_with("$ ") && !l.starts_with("```"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_shows_kubectl_get_as_the_controller_fills_the_columns() {
    let api = fake_api().await;
    let examples = [
        include_str!("../examples/conflict/hostname-conflict.yaml"),
        include_str!("../examples/conflict/mesh-not-in-virtual-mesh.yaml"),
        include_str!("../examples/reference/service-not-found.yaml"),
    ];
    for text in examples {
        for doc in failover_webhook::manifest::parse("example", text).unwrap() {
            api.apply(doc.value);
        }
    }
    let r = replica(&api, "a", 15).await;
    let n = failover_service_count() + examples.len();
    eventually(LIMIT, "every FailoverService written", || async {
        let mut written: Vec<String> = api.status_writes().into_iter().map(|w| w.object).collect();
        written.sort();
        written.dedup();
        (written.len() == n).then_some(())
    })
    .await;
    wait_settled(&api, &r.metrics).await;

    let readme = include_str!("../README.md");
    let columns = printer_columns();
    for (command, wide) in [
        ("kubectl get failoverservices -n service-mesh-hub", false),
        (
            "kubectl get failoverservices -n service-mesh-hub -o wide",
            true,
        ),
    ] {
        let shown = readme_output(readme, command);
        assert!(shown.len() > 1, "the README shows `{command}`");
        // The ages are the README's own: only they depend on when it was run.
        let age_of = |name: &str| {
            shown
                .iter()
                .find(|l| l.split_whitespace().next() == Some(name))
                .and_then(|l| l.split_whitespace().last())
                .unwrap_or("?")
                .to_owned()
        };
        let picked: Vec<&(String, String, u64)> =
            columns.iter().filter(|c| wide || c.2 == 0).collect();
        let mut rows = vec![
            std::iter::once("NAME".to_owned())
                .chain(picked.iter().map(|c| c.0.to_uppercase()))
                .collect::<Vec<_>>(),
        ];
        let mut names: Vec<String> = api
            .status_writes()
            .into_iter()
            .map(|w| w.object.split_once('/').unwrap().1.to_owned())
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let obj = api.object("FailoverService", NS, &name).unwrap();
            let mut row = vec![name.clone()];
            for (_, path, _) in &picked {
                if path == ".metadata.creationTimestamp" {
                    row.push(age_of(&name));
                    continue;
                }
                let pointer = path.replace('.', "/");
                row.push(
                    obj.pointer(&pointer)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            rows.push(row);
        }
        let rendered = kubectl_table(&rows);
        let expected: Vec<&str> = rendered.lines().collect();
        assert_eq!(
            shown, expected,
            "README.md's `{command}` output is not what the controller writes:\n{rendered}"
        );
    }
}

/// The real binary with `--kube` (and `extra`) against `api`, as pod `replica-0`.
async fn serve_kube(api: &FakeApi, extra: &[&str]) -> (Process, Pki, tempfile::TempDir) {
    let pki = Pki::new("test CA");
    let dir = tempfile::tempdir().unwrap();
    let serving = pki.server("serving");
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert, &serving.cert_pem).unwrap();
    std::fs::write(&key, &serving.key_pem).unwrap();
    let args: Vec<&str> = std::iter::once("--kube")
        .chain(extra.iter().copied())
        .collect();
    let p = spawn_serve_with_env(
        &cert,
        &key,
        &args,
        &[
            ("KUBECONFIG", api.kubeconfig.as_path()),
            ("POD_NAMESPACE", std::path::Path::new(NS)),
            ("POD_NAME", std::path::Path::new("replica-0")),
        ],
    )
    .await;
    eventually(LIMIT, "readiness", || async {
        (http_get(p.probe_addr, "/readyz").await.status == http::StatusCode::OK).then_some(())
    })
    .await;
    (p, pki, dir)
}

/// Whether the server over TLS and HTTP/2 admits the valid checkout review.
async fn admits_the_valid_review(p: &Process, pki: &Pki) -> bool {
    let review = include_str!("../examples/admission/create-valid.json");
    let mut conn = Conn::open(p.addr, client_config(&pki.ca_pem, &[b"h2"], None))
        .await
        .unwrap();
    let reply = conn.post_json("/validate", review).await;
    reply.json()["response"]["allowed"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_kube_writes_status_by_default_and_keeps_answering_admission() {
    install_crypto_provider();
    let api = fake_api().await;
    let (p, pki, _dir) = serve_kube(&api, &[]).await;
    wait_write(&api, CHECKOUT, "the checkout status", state_is("ACCEPTED")).await;
    assert_eq!(api.lease_holder(NS, LEASE).as_deref(), Some("replica-0"));
    let text = scrape(p.probe_addr).await;
    assert_eq!(value(&text, "failover_webhook_status_leader"), Some(1.0));
    assert!(
        value(
            &text,
            r#"failover_webhook_status_reconciles_total{result="written"}"#
        )
        .is_some_and(|v| v >= 1.0),
        "{text}"
    );
    // Checked the way the API server sends it: the leader answers admission too.
    assert!(admits_the_valid_review(&p, &pki).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_kube_with_the_controller_off_writes_nothing() {
    install_crypto_provider();
    let api = fake_api().await;
    let (p, pki, _dir) = serve_kube(&api, &["--status-controller=false"]).await;
    assert!(admits_the_valid_review(&p, &pki).await);
    let text = scrape(p.probe_addr).await;
    assert_eq!(value(&text, "failover_webhook_status_leader"), None);
    assert!(
        p.logs
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("status controller off"))
    );
    assert!(api.status_writes().is_empty());
    assert_eq!(api.lease_holder(NS, LEASE), None, "no Lease taken");
}
