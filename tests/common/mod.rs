//! Helpers shared by the integration tests. Each test binary uses a different part of them.
#![allow(dead_code)]

pub mod client;
pub mod contract;
pub mod fixtures;
pub mod metrics;
pub mod pki;
pub mod server;
