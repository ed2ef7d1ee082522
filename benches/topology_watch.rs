//! One watch event applied to the live index: decode, apply, publish a snapshot, on an index
//! of 100,000 MeshServices while an older snapshot is still held by a reader (as a request in
//! flight would), so every write copies what it shares.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use failover_webhook::api::Kind;
use failover_webhook::topology::{SharedTopology, Topology, decode};

#[path = "../tests/common/scale.rs"]
mod scale;

const N: usize = 100_000;

fn bench(c: &mut Criterion) {
    let mut live = Topology::empty();
    for i in 0..N {
        live.apply(decode::decode(Kind::MeshService, &scale::mesh_service(i)).unwrap());
    }
    let shared = SharedTopology::new(live.clone());
    let mut i = 0usize;
    c.bench_function(
        "watch event applied (MODIFIED MeshService, 100k indexed)",
        |b| {
            b.iter_batched(
                || {
                    i = (i + 7919) % N;
                    let mut obj = scale::mesh_service(i);
                    obj["spec"]["mesh"]["name"] = "istio-istio-system-cluster-x".into();
                    (obj, shared.load())
                },
                |(obj, _held_by_a_reader)| {
                    live.apply(decode::decode(Kind::MeshService, &obj).unwrap());
                    shared.store(live.clone());
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
                    shared.store(live.clone());
                },
                BatchSize::SmallInput,
            )
        },
    );
    c.bench_function("decode only (one MeshService from JSON)", |b| {
        let obj = scale::mesh_service(42);
        b.iter(|| decode::decode(Kind::MeshService, &obj).unwrap())
    });
    c.bench_function(
        "watch event applied (DELETED + ADDED MeshService, 100k indexed)",
        |b| {
            b.iter_batched(
                || {
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
                    shared.store(live.clone());
                    live.apply(decode::decode(Kind::MeshService, &obj).unwrap());
                    shared.store(live.clone());
                },
                BatchSize::SmallInput,
            )
        },
    );
    assert_eq!(shared.load().count(Kind::MeshService), N);
}

criterion_group!(benches, bench);
criterion_main!(benches);
