//! `failover-webhook`: the admission rules, defaults and status for the Service Mesh Hub
//! `FailoverService` resource, shared by the admission server and the offline `check` command.
//!
//! The core is pure: [`decode`] reads an object, [`defaults`] fills it in, [`rules`] judge it
//! against a [`topology::Topology`], and [`engine`] ties them into one evaluation.

// Everything here handles data from requests, files or the cluster, and the server must never
// panic on it: no unwrap, expect, panic or unchecked indexing outside tests.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod admission;
pub mod api;
pub mod certs;
pub mod check;
pub mod cli;
pub mod controller;
pub mod decode;
pub mod defaults;
pub mod enforcement;
pub mod engine;
pub mod explain;
pub mod finding;
pub mod identity;
pub mod manifest;
pub mod policy;
pub mod rules;
pub mod serve;
pub mod server;
pub mod skip;
pub mod status;
pub mod topology;

/// The allocator of every program built from this crate. Answering a review allocates and
/// frees thousands of small JSON nodes on several threads at once; there glibc's malloc took
/// a quarter of the server's CPU, and mimalloc raised throughput by a quarter (see
/// `docs/performance.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Hands the memory freed so far back to the operating system. mimalloc keeps freed pages to
/// reuse them and returns them lazily, when the thread that freed them allocates again; the
/// thread that loaded a large snapshot then goes idle, and the file's text (hundreds of MB at
/// 100,000 MeshServices) would stay resident for the life of the process.
pub fn release_free_memory() {
    // SAFETY: `mi_collect` takes no pointers and only walks the allocator's own state; it is
    // safe to call from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
