use std::process::ExitCode;

use clap::Parser;
use failover_webhook::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => failover_webhook::check::run(&args),
        Command::Serve(args) => failover_webhook::serve::run(args),
        Command::Certs(args) => failover_webhook::certs::run(&args),
        Command::Explain(args) => failover_webhook::explain::run(&args),
        Command::Policy(args) => failover_webhook::policy::run(&args),
    }
}
