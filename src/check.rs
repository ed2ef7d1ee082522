//! `failover-webhook check`: the admission defaults and rules over manifest files, for CI and
//! GitOps gating.

use std::process::ExitCode;

use crate::cli::CheckArgs;

pub fn run(_args: &CheckArgs) -> ExitCode {
    ExitCode::from(2)
}
