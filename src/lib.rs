//! `failover-webhook`: the admission rules, defaults and status for the Service Mesh Hub
//! `FailoverService` resource, shared by the admission server and the offline `check` command.
//!
//! The core is pure: [`decode`] reads an object, [`defaults`] fills it in, [`rules`] judge it
//! against a [`topology::Topology`], and [`engine`] ties them into one evaluation.

pub mod admission;
pub mod api;
pub mod certs;
pub mod check;
pub mod cli;
pub mod decode;
pub mod defaults;
pub mod engine;
pub mod finding;
pub mod manifest;
pub mod rules;
pub mod server;
pub mod status;
pub mod topology;
