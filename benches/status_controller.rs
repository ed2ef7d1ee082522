//! The status controller at scale: 100,000 MeshServices over 10 clusters (one Istio Mesh each,
//! one VirtualMesh holding all ten) and 10,000 FailoverServices, each failing over between two
//! services in two different Meshes. Prints a report (not a criterion benchmark):
//!
//! 1. In memory: the reverse index of every FailoverService's dependencies, then one
//!    VirtualMesh change that removes one Mesh. Counts the FailoverServices it re-queues, the
//!    ones that reference a service in that Mesh, and the ones whose verdict the change
//!    actually flips (every FailoverService is judged before and after), with the time each
//!    step takes.
//! 2. Through the tests' fake API server: the controller's initial reconcile of the 10,000
//!    objects, then `STEADY_SECONDS` (default 10) of nothing happening followed by a re-list of
//!    every kind (the watch history compacted away, as after an API server restart), counting
//!    the status PATCH requests in that interval; then the same VirtualMesh change, counting
//!    re-queues and writes.
//!
//! `cargo bench --bench status_controller`; `-- --in-memory` runs part 1 only.
#![allow(dead_code)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use failover_webhook::api::{Kind, ObjectRef};
use failover_webhook::controller::reverse::{Affected, ReverseIndex};
use failover_webhook::controller::{LeaseSettings, Outcome, dependencies};
use failover_webhook::engine::{self, Change, Review, Settings};
use failover_webhook::serve::install_crypto_provider;
use failover_webhook::topology::watch::Changed;
use failover_webhook::topology::{Topology, decode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[path = "../tests/common/apiserver.rs"]
mod apiserver;
#[path = "../tests/common/controller.rs"]
mod controller;
#[path = "../tests/common/pki.rs"]
mod pki;
#[path = "../tests/common/scale.rs"]
mod scale;

const MESH_SERVICES: usize = 100_000;
const FAILOVER_SERVICES: usize = 10_000;
/// `scale::mesh_service` spreads the MeshServices over this many clusters and Meshes.
const CLUSTERS: usize = 10;
/// The Mesh that leaves the VirtualMesh.
const LEAVING: usize = 3;
const NS: &str = "service-mesh-hub";
const LIMIT: Duration = Duration::from_secs(900);

fn mesh_name(c: usize) -> String {
    format!("istio-istio-system-cluster-{c}")
}

fn cluster(c: usize) -> Value {
    json!({"apiVersion": "discovery.smh.solo.io/v1alpha1", "kind": "KubernetesCluster",
           "metadata": {"name": format!("cluster-{c}"), "namespace": NS}})
}

fn mesh(c: usize) -> Value {
    json!({"apiVersion": "discovery.smh.solo.io/v1alpha1", "kind": "Mesh",
           "metadata": {"name": mesh_name(c), "namespace": NS},
           "spec": {"cluster": {"name": format!("cluster-{c}"), "namespace": NS},
                    "istio1_6": {"metadata": {"installation": {"installationNamespace": "istio-system"}}}}})
}

fn virtual_mesh(members: impl Iterator<Item = usize>) -> Value {
    let meshes: Vec<Value> = members
        .map(|c| json!({"name": mesh_name(c), "namespace": NS}))
        .collect();
    json!({"apiVersion": "networking.smh.solo.io/v1alpha1", "kind": "VirtualMesh",
           "metadata": {"name": "global-virtual-mesh", "namespace": NS},
           "spec": {"meshes": meshes}})
}

/// The two MeshServices FailoverService `j` fails over between: in Meshes `j % 10` and
/// `(j + 1) % 10`.
fn services_of(j: usize) -> [usize; 2] {
    [10 * j + j % CLUSTERS, 10 * j + (j + 1) % CLUSTERS]
}

fn failover_service(j: usize) -> Value {
    let refs: Vec<Value> = services_of(j)
        .iter()
        .map(|i| {
            json!({"name": format!("svc-{i}"), "namespace": format!("ns-{}", i % 100),
                   "cluster": format!("cluster-{}", i % CLUSTERS)})
        })
        .collect();
    json!({"apiVersion": "networking.smh.solo.io/v1alpha1", "kind": "FailoverService",
           "metadata": {"name": format!("fs-{j}"), "namespace": NS, "generation": 1},
           "spec": {"hostname": format!("fs-{j}.failover"), "namespace": "shop",
                    "port": {"port": 9080, "name": "http", "protocol": "http"},
                    "cluster": "cluster-0", "failoverServices": refs}})
}

fn references_leaving(j: usize) -> bool {
    services_of(j).iter().any(|i| i % CLUSTERS == LEAVING)
}

fn topology_objects() -> impl Iterator<Item = Value> {
    (0..CLUSTERS)
        .map(cluster)
        .chain((0..CLUSTERS).map(mesh))
        .chain(std::iter::once(virtual_mesh(0..CLUSTERS)))
        .chain((0..MESH_SERVICES).map(scale::mesh_service))
}

fn kind_of(v: &Value) -> Kind {
    Kind::from_type_meta(
        v["apiVersion"].as_str().unwrap_or_default(),
        v["kind"].as_str().unwrap_or_default(),
    )
    .unwrap()
}

fn me(j: usize) -> ObjectRef {
    ObjectRef {
        name: format!("fs-{j}"),
        namespace: NS.to_owned(),
    }
}

fn verdicts(objects: &[Value], topology: &Topology, settings: &Settings) -> Vec<String> {
    objects
        .iter()
        .enumerate()
        .map(|(j, object)| {
            let e = engine::evaluate(
                &Review {
                    change: Change::Create,
                    object,
                    this: &me(j),
                    skip_rules: None,
                },
                Some(topology),
                settings,
            );
            let codes: Vec<String> = e
                .findings
                .iter()
                .map(|f| format!("{:?}", f.finding.code))
                .collect();
            format!("{} {codes:?}", e.state.as_str())
        })
        .collect()
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn in_memory() {
    let settings = Settings::default();
    let mut builder = Topology::builder();
    let objects: Vec<Value> = (0..FAILOVER_SERVICES).map(failover_service).collect();
    for v in topology_objects().chain(objects.iter().cloned()) {
        builder.insert(kind_of(&v), &v).unwrap();
    }
    let mut topology = builder.build();

    let started = Instant::now();
    let mut reverse = ReverseIndex::default();
    for (j, object) in objects.iter().enumerate() {
        reverse.record(&me(j), dependencies::of(object, &topology, &settings));
    }
    let indexed = started.elapsed();

    let started = Instant::now();
    let before = verdicts(&objects, &topology, &settings);
    let judged = started.elapsed();
    let accepted = before.iter().filter(|v| v.starts_with("ACCEPTED")).count();
    assert_eq!(accepted, FAILOVER_SERVICES, "every object starts valid");

    let shrunk = virtual_mesh((0..CLUSTERS).filter(|c| *c != LEAVING));
    let object = decode::decode(Kind::VirtualMesh, &shrunk).unwrap();
    topology.apply(object.clone());
    let change = Changed::Object {
        kind: Kind::VirtualMesh,
        object: object.me().clone(),
        applied: Some(Box::new(object)),
    };
    let mut times = Vec::new();
    let mut affected = HashSet::new();
    for _ in 0..101 {
        let started = Instant::now();
        let Affected::Some(set) = reverse.affected(&change) else {
            panic!("a single change re-queued everything");
        };
        times.push(started.elapsed());
        affected = set;
    }
    times.sort();
    let after = verdicts(&objects, &topology, &settings);
    let flipped: Vec<usize> = (0..FAILOVER_SERVICES)
        .filter(|j| before.get(*j) != after.get(*j))
        .collect();
    let referencing = (0..FAILOVER_SERVICES)
        .filter(|j| references_leaving(*j))
        .count();
    let missed = flipped
        .iter()
        .filter(|j| !affected.contains(&me(**j)))
        .count();
    assert_eq!(missed, 0, "every flipped verdict re-queued");

    println!(
        "status_controller in memory (load average {}):",
        load_average()
    );
    println!(
        "  topology: {MESH_SERVICES} MeshServices, {CLUSTERS} Meshes in one VirtualMesh, {FAILOVER_SERVICES} FailoverServices"
    );
    println!(
        "  reverse index of all {FAILOVER_SERVICES}: {} ({} dependencies per object on average)",
        ms(indexed),
        dependencies::of(&objects[0], &topology, &settings).len()
    );
    println!(
        "  judging all {FAILOVER_SERVICES} with the engine: {}",
        ms(judged)
    );
    println!(
        "  VirtualMesh change removing Mesh {}: re-queues {} FailoverServices; {} reference a service in that Mesh; {} verdicts flipped, {} of them not re-queued",
        mesh_name(LEAVING),
        affected.len(),
        referencing,
        flipped.len(),
        missed
    );
    println!(
        "  computing the re-queued set: median {}, min {}, max {} (101 runs)",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
}

async fn until<F: FnMut() -> bool>(what: &str, mut done: F) {
    let deadline = Instant::now() + LIMIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn through_the_api(steady: Duration) {
    install_crypto_provider();
    let api = apiserver::FakeApi::start().await;
    api.set_page(500);
    api.preload(topology_objects());
    api.preload((0..FAILOVER_SERVICES).map(failover_service));
    let stop = CancellationToken::new();
    let lease = LeaseSettings {
        namespace: NS.to_owned(),
        name: "failover-webhook-status".to_owned(),
        identity: "bench".to_owned(),
        duration_seconds: 15,
        grace_seconds: 5,
    };
    let controller = controller::for_api(&api, lease, &stop).await;
    let m = controller.metrics.clone();
    let started = Instant::now();
    tokio::spawn(controller.run(stop.clone()));
    until("the initial writes", || {
        api.status_writes().len() >= FAILOVER_SERVICES
    })
    .await;
    let initial = started.elapsed();
    until("each write's own event re-judged", || {
        m.reconciles(Outcome::Unchanged) >= m.reconciles(Outcome::Written) && m.queue_depth() == 0
    })
    .await;
    println!(
        "status_controller through the fake API server (load average {}):",
        load_average()
    );
    println!(
        "  initial reconcile: {} status writes in {:.1} s from start (list of {MESH_SERVICES} MeshServices included)",
        api.status_writes().len(),
        initial.as_secs_f64()
    );

    let writes = api.status_writes().len();
    let written = m.reconciles(Outcome::Written);
    let errors = m.reconciles(Outcome::Error);
    let unchanged = m.reconciles(Outcome::Unchanged);
    let kinds = [
        "KubernetesCluster",
        "MeshService",
        "Mesh",
        "VirtualMesh",
        "FailoverService",
    ];
    let lists: Vec<usize> = kinds.iter().map(|k| api.lists(k)).collect();
    tokio::time::sleep(steady).await;
    let quiet_unchanged = m.reconciles(Outcome::Unchanged) - unchanged;
    let relisted = Instant::now();
    api.compact_after(Vec::new());
    until("every kind re-listed and every object re-judged", || {
        kinds
            .iter()
            .zip(&lists)
            .all(|(k, before)| api.lists(k) > *before)
            && m.queue_depth() == 0
            && m.reconciles(Outcome::Unchanged) >= unchanged + FAILOVER_SERVICES as u64
    })
    .await;
    println!(
        "  steady state: {:.0} s idle ({} reconciles) then a re-list of every kind, re-judged in {:.1} s: {} reconciles, {} status PATCH requests ({} written, {} failed)",
        steady.as_secs_f64(),
        quiet_unchanged,
        relisted.elapsed().as_secs_f64(),
        m.reconciles(Outcome::Unchanged) - unchanged,
        api.status_writes().len() - writes,
        m.reconciles(Outcome::Written) - written,
        m.reconciles(Outcome::Error) - errors
    );

    let writes = api.status_writes().len();
    let requeued = m.requeued();
    let referencing = (0..FAILOVER_SERVICES)
        .filter(|j| references_leaving(*j))
        .count();
    let changed = Instant::now();
    api.apply(virtual_mesh((0..CLUSTERS).filter(|c| *c != LEAVING)));
    until("the affected objects written", || {
        api.status_writes().len() >= writes + referencing && m.queue_depth() == 0
    })
    .await;
    let took = changed.elapsed();
    let invalid = api.status_writes()[writes..]
        .iter()
        .filter(|w| w.patch["status"]["validationStatus"]["state"] == "INVALID")
        .count();
    println!(
        "  VirtualMesh change removing Mesh {}: {} re-queued ({} reference it), {} status writes ({} INVALID) in {:.2} s",
        mesh_name(LEAVING),
        m.requeued() - requeued,
        referencing,
        api.status_writes().len() - writes,
        invalid,
        took.as_secs_f64()
    );
    stop.cancel();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    in_memory();
    if args.iter().any(|a| a == "--in-memory") {
        return;
    }
    let steady = std::env::var("STEADY_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_secs);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(through_the_api(steady));
}
