//! How many bytes the topology index holds per MeshService: builds the index of the scale
//! benchmark's topology (`scripts/scale-bench.sh`: N MeshServices over 50 clusters, each with
//! its service ref, its Mesh and outlier detection) and counts the allocator's live blocks
//! before and after.
//!
//!     cargo run --release --example index_size [-- N]     # N defaults to 100000
//!
//! Counted as the memory mimalloc has committed (after returning what is free), before and
//! after: the live blocks, their size-class rounding and the allocator's partly used pages.

use failover_webhook::api::{ClusterObjectRef, ObjectRef};
use failover_webhook::topology::{MeshServiceObject, Topology, TopologyObject};
use libmimalloc_sys as mi;

/// The bytes mimalloc has committed once it has returned what it can.
fn committed() -> usize {
    failover_webhook::release_free_memory();
    let mut commit = 0usize;
    let mut unused = [0usize; 7];
    let [a, b, c, d, e, f, g] = &mut unused;
    // SAFETY: every pointer is to a live, writable `usize` owned by this frame.
    unsafe { mi::mi_process_info(a, b, c, d, e, &mut commit, f, g) };
    commit
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let ns = "service-mesh-hub";
    let clusters: Vec<String> = (0..50).map(|c| format!("cluster-{c:02}")).collect();
    let before = committed();
    let mut builder = Topology::builder();
    for i in 0..n {
        let cluster = &clusters[i % 50];
        let service = format!("svc-{}", i / 50);
        builder.apply(TopologyObject::MeshService(MeshServiceObject {
            me: ObjectRef {
                name: format!("{service}-shop-{cluster}"),
                namespace: ns.into(),
            },
            service_ref: Some(ClusterObjectRef {
                name: service,
                namespace: "shop".into(),
                cluster: cluster.clone(),
            }),
            mesh: Some(ObjectRef {
                name: format!("istio-istio-system-{cluster}"),
                namespace: ns.into(),
            }),
            outlier_detection: true,
        }));
    }
    let topology = builder.build();
    let bytes = committed().saturating_sub(before);
    println!(
        "{n} MeshServices: {:.1} MiB committed, {:.0} bytes per MeshService",
        bytes as f64 / f64::from(1 << 20),
        bytes as f64 / n as f64,
    );
    drop(topology);
}
