//! Certificate tooling (in progress on its own branch).

use std::process::ExitCode;

use crate::cli::CertsArgs;

pub fn run(_args: &CertsArgs) -> ExitCode {
    eprintln!("failover-webhook: certs is not available in this build");
    ExitCode::from(2)
}
