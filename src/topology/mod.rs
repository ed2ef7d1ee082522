//! The read-only view of cluster state the rules need, indexed so that every lookup is one hash
//! probe whatever the size of the cluster.
//!
//! A published [`Topology`] never changes. Sources (snapshot files, the embedded demo, the
//! cluster's watchers) change their own copy, one object at a time, and publish it through
//! [`SharedTopology`]; a clone is O(1), so a request always sees one consistent state and
//! readers never wait for writers.

mod cow_map;
pub mod decode;
mod embedded;
mod index;
mod shared;
pub mod snapshot;
pub mod watch;

pub use decode::{MeshServiceObject, TopologyObject};
pub use embedded::{EMBEDDED_YAML, embedded};
pub use index::{MeshEntry, ServiceEntry, Topology, TopologyBuilder, TopologyError};
pub use shared::SharedTopology;
