//! The admission server, as a life cycle: [`Server::bind`] loads the certificate and binds both
//! listeners, [`Server::serve`] accepts and answers until a shutdown, then drains. Process
//! setup (runtime, logging, topology source, exit codes) is `crate::serve`'s.
//!
//! - `connection`: accept loops, TLS handshake, HTTP/1.1 and HTTP/2 per connection; `limit`:
//!   the cap on open connections; `idle`: closing HTTP/2 connections that carry no request
//! - `handlers`: `/validate` and `/mutate` over HTTP; `deadline`: the time a request may
//!   take, from `?timeout=`; `log_limit`: rate-limited logs for refusals anyone can cause;
//!   `body`: reading bodies against the memory they may hold together
//! - `tls` and `reload`: the serving certificate and its hot reload
//! - `probes` and `metrics`: `/healthz`, `/readyz`, `/metrics`
//! - `shutdown`: signals and draining
//! - `error`: why the server cannot start, and why a request is refused

pub mod body;
pub mod connection;
pub mod deadline;
pub mod error;
pub mod handlers;
pub mod idle;
pub mod limit;
mod log_limit;
pub mod logging;
pub mod metrics;
pub mod probes;
pub mod reload;
pub mod shutdown;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use error::{Error, RequestError};
pub use probes::Readiness;
pub use reload::ReloadSettings;
pub use shutdown::ShutdownHandle;

use crate::cli::ServeArgs;
use crate::engine::Settings;
use crate::topology::SharedTopology;
use crate::topology::watch::WatchMetrics;
use connection::Http;
use handlers::AppState;
use limit::ConnectionLimit;
use metrics::Metrics;
use reload::Reloader;
use tls::CertResolver;

/// The default of `--max-connections`: far more than the API server's few keep-alive
/// connections per replica, and, at tens of KiB per idle TLS connection, a bound of tens of
/// MiB on what idle clients can make the server hold.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Connections to the probe listener: the kubelet and a metrics scraper need a few.
const PROBE_MAX_CONNECTIONS: usize = 64;

/// Bounds that keep one client (or many) from exhausting the server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest request body: two objects at the API server's 3 MiB limit plus the envelope.
    pub max_body_bytes: usize,
    /// Longest time one request may take, whatever its `?timeout=` says (the API server's
    /// `timeoutSeconds` is at most 30).
    pub request_timeout: Duration,
    /// Time a client has to send a complete HTTP/1 request head; also how long an idle
    /// keep-alive connection stays open.
    pub header_read_timeout: Duration,
    /// Time a client has to complete the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Requests evaluated at once; more wait for a slot within their deadline.
    pub max_concurrent_requests: usize,
    /// Bytes of request bodies held at once, across all requests (at least `max_body_bytes`);
    /// a body arriving when it is spent waits within its deadline.
    pub body_memory_bytes: usize,
    /// Concurrent streams per HTTP/2 connection.
    pub h2_max_concurrent_streams: u32,
    /// Open admission connections; more wait in the listen backlog until one closes.
    pub max_connections: usize,
    /// Largest request head: HTTP/1.1 request line and headers (answered 431 beyond it), and
    /// the HTTP/2 header list a client may send.
    pub max_header_bytes: usize,
    /// An HTTP/2 connection with no request in flight for this long is closed with GOAWAY.
    pub h2_idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 7 * 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            tls_handshake_timeout: Duration::from_secs(10),
            max_concurrent_requests: 64,
            body_memory_bytes: 64 * 1024 * 1024,
            h2_max_concurrent_streams: 64,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_header_bytes: 64 * 1024,
            h2_idle_timeout: Duration::from_secs(120),
        }
    }
}

/// Everything a [`Server`] needs; built from the command line by [`ServerConfig::from_args`].
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub probe_listen: SocketAddr,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub client_ca: Option<PathBuf>,
    pub settings: Settings,
    pub topology: SharedTopology,
    /// Whether the topology is complete at start (snapshot and embedded sources are).
    pub topology_synced: bool,
    pub limits: Limits,
    pub reload: ReloadSettings,
    /// The cluster watchers' metrics, served on `/metrics` beside the server's own.
    pub watch_metrics: Option<WatchMetrics>,
    /// The status controller's metrics, when it runs.
    pub controller_metrics: Option<crate::controller::ControllerMetrics>,
}

impl ServerConfig {
    pub fn from_args(args: &ServeArgs, topology: SharedTopology) -> ServerConfig {
        ServerConfig {
            listen: args.listen,
            probe_listen: args.probe_listen,
            tls_cert: args.tls_cert.clone(),
            tls_key: args.tls_key.clone(),
            client_ca: args.client_ca.clone(),
            settings: args.settings(),
            topology,
            topology_synced: true,
            limits: Limits {
                max_connections: args.max_connections,
                ..Limits::default()
            },
            reload: ReloadSettings::default(),
            watch_metrics: None,
            controller_metrics: None,
        }
    }
}

/// How serving ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every in-flight request finished.
    Drained,
    /// The grace period ended with connections still open; they were cut.
    GraceExpired { open: usize },
    /// A second signal (or [`ShutdownHandle::abort`]) ended serving at once.
    Aborted,
}

impl Outcome {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Drained => ExitCode::SUCCESS,
            Outcome::GraceExpired { .. } | Outcome::Aborted => ExitCode::FAILURE,
        }
    }
}

/// A bound, not yet serving, admission server.
pub struct Server {
    admission: TcpListener,
    probes: TcpListener,
    admission_addr: SocketAddr,
    probe_addr: SocketAddr,
    tls: TlsAcceptor,
    http: Arc<Http>,
    state: Arc<AppState>,
    readiness: Readiness,
    reloader: Reloader,
    shutdown: ShutdownHandle,
}

impl Server {
    /// Step one: load the serving certificate (a certificate that does not load is fatal here;
    /// later, a bad one is only logged) and bind both listeners.
    pub async fn bind(config: ServerConfig) -> Result<Server, Error> {
        let mut metrics = Metrics::new();
        if let Some(watch) = &config.watch_metrics {
            watch.register(metrics.registry_mut());
        }
        if let Some(controller) = &config.controller_metrics {
            controller.register(metrics.registry_mut());
        }
        let metrics = Arc::new(metrics);
        let resolver = Arc::new(CertResolver::new());
        let mut reloader = Reloader::new(
            config.tls_cert.clone(),
            config.tls_key.clone(),
            resolver.clone(),
            metrics.clone(),
            config.reload,
        );
        reloader.load_initial()?;
        let client_ca = config
            .client_ca
            .as_deref()
            .map(tls::load_client_ca)
            .transpose()?;
        let tls = TlsAcceptor::from(Arc::new(tls::server_config(resolver.clone(), client_ca)?));

        let admission = bind(config.listen).await?;
        let probes = bind(config.probe_listen).await?;
        let local = |l: &TcpListener, addr| {
            l.local_addr()
                .map_err(|source| Error::Bind { addr, source })
        };
        let admission_addr = local(&admission, config.listen)?;
        let probe_addr = local(&probes, config.probe_listen)?;

        let shutdown = ShutdownHandle::new();
        let readiness = Readiness::new(
            shutdown.drain_token().clone(),
            config.topology_synced,
            resolver.clone(),
        );
        Ok(Server {
            admission,
            probes,
            admission_addr,
            probe_addr,
            tls,
            http: Arc::new(Http::new(&config.limits)),
            state: Arc::new(AppState::new(
                config.topology,
                config.settings,
                metrics,
                config.limits,
            )),
            readiness,
            reloader,
            shutdown,
        })
    }

    /// The address of the HTTPS admission listener (with the actual port when bound to 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.admission_addr
    }

    /// The address of the plain-HTTP probe listener.
    pub fn probe_addr(&self) -> SocketAddr {
        self.probe_addr
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    pub fn readiness(&self) -> Readiness {
        self.readiness.clone()
    }

    /// Step two: serve until [`ShutdownHandle::shutdown`], then drain for at most `grace`.
    pub async fn serve(self, grace: Duration) -> Outcome {
        let drain = self.shutdown.drain_token().clone();
        let abort = self.shutdown.abort_token().clone();
        // The probe listener and the certificate reload outlive the drain: readiness must be
        // seen failing while requests finish, and a rotation during the drain still applies.
        let background = CancellationToken::new();
        let connections = TaskTracker::new();
        let probe_connections = TaskTracker::new();

        tokio::spawn(self.reloader.run(background.clone()));
        let probes = tokio::spawn(connection::accept_plain(
            self.probes,
            self.http.clone(),
            probes::router(
                self.readiness.clone(),
                self.state.metrics.clone(),
                self.state.topology.clone(),
            ),
            ConnectionLimit::new(PROBE_MAX_CONNECTIONS),
            background.clone(),
            probe_connections.clone(),
        ));
        let admission = tokio::spawn(connection::accept_tls(
            self.admission,
            connection::Handshake {
                acceptor: self.tls,
                timeout: self.state.limits.tls_handshake_timeout,
                metrics: self.state.metrics.clone(),
            },
            self.http,
            handlers::router(self.state.clone()),
            ConnectionLimit::new(self.state.limits.max_connections),
            drain.clone(),
            connections.clone(),
        ));
        tracing::info!(
            listen = %self.admission_addr,
            probe_listen = %self.probe_addr,
            enforcement = %self.state.settings.enforcement,
            "serving /validate and /mutate over HTTPS; probes and metrics over HTTP"
        );

        drain.cancelled().await;
        // The accept loop returns as soon as it sees the drain, dropping the listener.
        let _ = admission.await;
        connections.close();
        let outcome = tokio::select! {
            _ = connections.wait() => Outcome::Drained,
            _ = tokio::time::sleep(grace) => Outcome::GraceExpired { open: connections.len() },
            _ = abort.cancelled() => Outcome::Aborted,
        };
        match outcome {
            Outcome::Drained => tracing::info!("drained; exiting"),
            Outcome::GraceExpired { open } => tracing::warn!(
                open_connections = open,
                grace_seconds = grace.as_secs_f64(),
                "shutdown grace period over; closing the remaining connections"
            ),
            Outcome::Aborted => {}
        }
        background.cancel();
        probe_connections.close();
        let _ = probes.await;
        let _ = tokio::time::timeout(Duration::from_secs(1), probe_connections.wait()).await;
        outcome
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}
