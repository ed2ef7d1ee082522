//! Code shared by the integration tests: a throw-away PKI, TLS clients, server runners, the
//! fixtures and the API server's response checks. Each test binary uses a different part.
#![allow(dead_code)]

pub mod apiserver;
pub mod client;
pub mod contract;
pub mod controller;
pub mod fixtures;
pub mod held;
pub mod metrics;
pub mod pki;
pub mod policy;
pub mod server;
