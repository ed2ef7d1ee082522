//! `failover-webhook serve` as a process: logging, the async runtime, the TLS crypto provider,
//! the topology source, and the exit status. The server itself is [`crate::server`].

mod error;
pub mod snapshot_reload;
mod source;

use std::process::ExitCode;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use error::Error;
pub use source::{Source, kube_client, mark_ready_when_synced};

use crate::cli::ServeArgs;
use crate::server::{Server, ServerConfig, logging, shutdown};

/// `failover-webhook serve`: exit 0 after a clean drain, 1 when the drain was cut short, 2
/// when the server could not start.
pub fn run(args: ServeArgs) -> ExitCode {
    logging::init(args.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %Error::Runtime(e), "cannot start");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(async {
        match start(&args).await {
            Ok(code) => code,
            Err(e) => {
                tracing::error!(error = %e, "cannot start");
                ExitCode::from(2)
            }
        }
    });
    // Connections cut by an aborted drain must not hold the process.
    runtime.shutdown_timeout(Duration::from_millis(250));
    code
}

/// Installs the process-wide rustls provider: the server and kube's client both use ring, and
/// kube's client cannot be built while no provider is chosen.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

async fn start(args: &ServeArgs) -> Result<ExitCode, Error> {
    install_crypto_provider();
    let source = Source::open(args).await?;
    let mut config = ServerConfig::from_args(args, source.shared());
    source.configure(&mut config);
    let server = Server::bind(config).await?;
    shutdown::on_signals(server.shutdown_handle())?;
    let background = CancellationToken::new();
    source.run(server.readiness(), background.clone());
    let outcome = server.serve(Duration::from_secs(args.shutdown_grace)).await;
    background.cancel();
    Ok(outcome.exit_code())
}
