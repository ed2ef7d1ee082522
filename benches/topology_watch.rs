//! One watch event applied to the live index: decode, apply, publish a snapshot, on an index
//! of 100,000 MeshServices while an older snapshot is still held by a reader (as a request in
//! flight would), so every write copies what it shares.

use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group};
use failover_webhook::api::Kind;
use failover_webhook::topology::watch::{MeshServices, Watched};
use failover_webhook::topology::{SharedTopology, Topology, TopologyObject, decode};

#[path = "../tests/common/scale.rs"]
mod scale;

const N: usize = 100_000;

fn bench(c: &mut Criterion) {
    let mut live = Topology::empty();
    for i in 0..N {
        live.apply(decode::decode(Kind::MeshService, &scale::mesh_service(i)).unwrap());
    }
    let shared = SharedTopology::new(live.clone());
    // The writer frees replaced snapshots when idle; here they are freed between batches,
    // outside the timing (their cost is counted on its own with callgrind, see main).
    let retired = std::cell::RefCell::new(Vec::new());
    let mut i = 0usize;
    c.bench_function(
        "watch event applied (MODIFIED MeshService, 100k indexed)",
        |b| {
            b.iter_batched(
                || {
                    retired.borrow_mut().clear();
                    i = (i + 7919) % N;
                    let mut obj = scale::mesh_service(i);
                    obj["spec"]["mesh"]["name"] = "istio-istio-system-cluster-x".into();
                    (obj.to_string().into_bytes(), shared.load())
                },
                |(text, _held_by_a_reader)| {
                    let watched: Watched<MeshServices> = serde_json::from_slice(&text).unwrap();
                    live.apply(watched.object.decoded.unwrap());
                    retired.borrow_mut().push(shared.swap(live.clone()));
                },
                BatchSize::SmallInput,
            )
        },
    );
    c.bench_function(
        "index apply + publish only (MODIFIED MeshService, decoded beforehand)",
        |b| {
            b.iter_batched(
                || {
                    retired.borrow_mut().clear();
                    i = (i + 7919) % N;
                    let mut obj = scale::mesh_service(i);
                    obj["spec"]["mesh"]["name"] = "istio-istio-system-cluster-y".into();
                    (
                        decode::decode(Kind::MeshService, &obj).unwrap(),
                        shared.load(),
                    )
                },
                |(decoded, _held_by_a_reader)| {
                    live.apply(decoded);
                    retired.borrow_mut().push(shared.swap(live.clone()));
                },
                BatchSize::SmallInput,
            )
        },
    );
    c.bench_function("decode only (one MeshService from its JSON text)", |b| {
        let text = scale::mesh_service(42).to_string();
        b.iter(|| serde_json::from_str::<Watched<MeshServices>>(&text).unwrap())
    });
    c.bench_function(
        "watch event applied (DELETED + ADDED MeshService, 100k indexed)",
        |b| {
            b.iter_batched(
                || {
                    retired.borrow_mut().clear();
                    i = (i + 7919) % N;
                    let obj = scale::mesh_service(i);
                    let me = match decode::decode(Kind::MeshService, &obj).unwrap() {
                        failover_webhook::topology::TopologyObject::MeshService(ms) => ms.me,
                        _ => unreachable!(),
                    };
                    (obj, me, shared.load())
                },
                |(obj, me, _held)| {
                    live.delete(Kind::MeshService, &me);
                    retired.borrow_mut().push(shared.swap(live.clone()));
                    live.apply(decode::decode(Kind::MeshService, &obj).unwrap());
                    retired.borrow_mut().push(shared.swap(live.clone()));
                },
                BatchSize::SmallInput,
            )
        },
    );
    assert_eq!(shared.load().count(Kind::MeshService), N);
}

/// One MODIFIED event applied and published while a reader holds the previous snapshot, as
/// the live writer does it: the replaced snapshot is kept to be freed later. Kept out of line
/// so that callgrind can count it alone (`--toggle-collect`).
#[inline(never)]
fn apply_and_publish(
    live: &mut Topology,
    shared: &SharedTopology,
    decoded: TopologyObject,
    retired: &mut Vec<Arc<Topology>>,
) {
    let held_by_a_reader = shared.load();
    live.apply(decoded);
    retired.push(shared.swap(live.clone()));
    drop(held_by_a_reader);
}

/// One watch event's object decoded from its JSON text, as the watcher's client does; counted
/// on its own.
#[inline(never)]
fn decode_event(text: &[u8]) -> TopologyObject {
    let watched: Watched<MeshServices> = serde_json::from_slice(text).unwrap();
    watched.object.decoded.unwrap()
}

/// Frees the replaced snapshots, as the writer does when idle; counted on its own.
#[inline(never)]
fn release_retired(retired: &mut Vec<Arc<Topology>>) {
    retired.clear();
}

/// With `TOPOLOGY_WATCH_EVENTS=n`, builds the index and applies `n` decoded MODIFIED events
/// with no timing around them, for an instruction count that does not depend on the machine's
/// load (the command is in docs/performance.md).
fn count_only(n: usize) {
    let mut live = Topology::empty();
    for i in 0..N {
        live.apply(decode::decode(Kind::MeshService, &scale::mesh_service(i)).unwrap());
    }
    let shared = SharedTopology::new(live.clone());
    let events: Vec<_> = (0..n)
        .map(|k| {
            let mut obj = scale::mesh_service(k * 7919 % N);
            obj["spec"]["mesh"]["name"] = "istio-istio-system-cluster-y".into();
            decode_event(obj.to_string().as_bytes())
        })
        .collect();
    let mut retired = Vec::with_capacity(1);
    for decoded in events {
        apply_and_publish(&mut live, &shared, decoded, &mut retired);
        release_retired(&mut retired);
    }
    assert_eq!(shared.load().count(Kind::MeshService), N);
}

criterion_group!(benches, bench);

fn main() {
    match std::env::var("TOPOLOGY_WATCH_EVENTS") {
        Ok(n) => count_only(n.parse().expect("TOPOLOGY_WATCH_EVENTS is a count")),
        Err(_) => {
            benches();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}
