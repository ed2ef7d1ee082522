//! The admission server (in progress on its own branch).

use std::process::ExitCode;

use crate::cli::ServeArgs;

pub fn run(_args: ServeArgs) -> ExitCode {
    eprintln!("failover-webhook: serve is not available in this build");
    ExitCode::from(2)
}
