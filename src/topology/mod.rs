//! The read-only view of cluster state the rules need, indexed so that every lookup is one hash
//! probe whatever the size of the cluster.
//!
//! A [`Topology`] is immutable once built. Sources (snapshot files, the embedded demo, later the
//! cluster's reflectors) build a new one and publish it through [`SharedTopology`], so a request
//! always sees one consistent state and readers never wait for writers.

mod embedded;
mod index;
mod shared;
pub mod snapshot;

pub use embedded::{EMBEDDED_YAML, embedded};
pub use index::{MeshEntry, ServiceEntry, Topology, TopologyBuilder, TopologyError};
pub use shared::SharedTopology;
