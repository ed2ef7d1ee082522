//! The validation rules of spec §3: pure functions from a decoded FailoverService (and, for the
//! reference and conflict rules, the topology) to findings. No IO, no clocks, no async.
//!
//! Rules run on the *defaulted* object, so a value the mutating webhook fills is never reported
//! missing. Every finding is reported, not only the first.

mod duplicates;
mod malformed;
pub mod names;
mod spec;
mod topology;

use crate::api::ObjectRef;
use crate::decode::Decoded;
use crate::finding::Finding;
use crate::topology::Topology;

/// Runs every rule. `this` is the object under review (its name may be empty on a CREATE with
/// `generateName`); with no topology the reference and conflict rules are skipped.
pub fn validate(decoded: &Decoded, this: &ObjectRef, topology: Option<&Topology>) -> Vec<Finding> {
    let mut findings = decoded.findings.clone();
    let malformed = malformed::Malformed::of(decoded);
    spec::check(decoded, &malformed, &mut findings);
    if let Some(t) = topology {
        topology::check(decoded, &malformed, this, t, &mut findings);
    }
    findings
}

#[cfg(test)]
pub(crate) mod test_support;
