//! Running the server for a test: in-process on ephemeral loopback ports, or as the real
//! binary.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use failover_webhook::server::{
    Limits, Outcome, Readiness, ReloadSettings, Server, ServerConfig, ShutdownHandle,
};
use failover_webhook::topology::{SharedTopology, embedded};
use rustls::ClientConfig;
use tempfile::TempDir;
use tokio::io::AsyncBufReadExt;
use tokio::task::JoinHandle;

use super::client::{self, Conn, H1, H2};
use super::pki::{Issued, Pki};

/// A server configuration with its own PKI and certificate folder, not started yet.
pub struct Setup {
    pub config: ServerConfig,
    pub pki: Pki,
    pub dir: TempDir,
    /// The certificate written to `tls.crt` (the server serves another when a test points
    /// `config.tls_cert` elsewhere).
    pub serving: Issued,
}

/// A certificate folder with `tls.crt` and `tls.key` from a fresh PKI, and a configuration
/// listening on ephemeral loopback ports with the embedded topology.
pub fn setup() -> Setup {
    let pki = Pki::new("test CA");
    let dir = tempfile::tempdir().unwrap();
    let serving = pki.server("serving-1");
    std::fs::write(dir.path().join("tls.crt"), &serving.cert_pem).unwrap();
    std::fs::write(dir.path().join("tls.key"), &serving.key_pem).unwrap();
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        probe_listen: "127.0.0.1:0".parse().unwrap(),
        tls_cert: dir.path().join("tls.crt"),
        tls_key: dir.path().join("tls.key"),
        client_ca: None,
        settings: Default::default(),
        topology: SharedTopology::new(embedded()),
        topology_synced: true,
        limits: Limits::default(),
        reload: ReloadSettings::default(),
        watch_metrics: None,
        controller_metrics: None,
    };
    Setup {
        config,
        pki,
        dir,
        serving,
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub probe_addr: SocketAddr,
    pub handle: ShutdownHandle,
    pub readiness: Readiness,
    pub pki: Pki,
    pub dir: TempDir,
    pub serving: Issued,
    pub task: JoinHandle<Outcome>,
}

impl Setup {
    pub async fn start(self) -> TestServer {
        self.start_with_grace(Duration::from_secs(10)).await
    }

    pub async fn start_with_grace(self, grace: Duration) -> TestServer {
        let server = Server::bind(self.config).await.unwrap();
        let addr = server.local_addr();
        let probe_addr = server.probe_addr();
        let handle = server.shutdown_handle();
        let readiness = server.readiness();
        let task = tokio::spawn(server.serve(grace));
        TestServer {
            addr,
            probe_addr,
            handle,
            readiness,
            pki: self.pki,
            dir: self.dir,
            serving: self.serving,
            task,
        }
    }
}

impl TestServer {
    pub fn client_config(&self, alpn: &[&[u8]]) -> Arc<ClientConfig> {
        client::client_config(&self.pki.ca_pem, alpn, None)
    }

    /// A new HTTP/1.1 connection.
    pub async fn h1(&self) -> Conn {
        Conn::open(self.addr, self.client_config(&[H1]))
            .await
            .unwrap()
    }

    /// A new HTTP/2 connection.
    pub async fn h2(&self) -> Conn {
        Conn::open(self.addr, self.client_config(&[H2, H1]))
            .await
            .unwrap()
    }

    pub async fn stop(self) -> Outcome {
        self.handle.shutdown();
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("the server stops")
            .unwrap()
    }
}

/// Polls `check` every 20 ms until it returns `Some`, or panics after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The `failover-webhook` binary, running.
pub struct Process {
    pub child: tokio::process::Child,
    pub addr: SocketAddr,
    pub probe_addr: SocketAddr,
    /// Every log line so far.
    pub logs: Arc<Mutex<Vec<String>>>,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_failover-webhook")
}

/// Starts `failover-webhook serve` on ephemeral loopback ports with JSON logs, and waits for
/// the line that names the bound addresses.
pub async fn spawn_serve(cert: &Path, key: &Path, extra: &[&str]) -> Process {
    spawn_serve_on(cert, key, "127.0.0.1", extra, "info").await
}

/// [`spawn_serve`] with extra environment variables.
pub async fn spawn_serve_with_env(
    cert: &Path,
    key: &Path,
    extra: &[&str],
    env: &[(&str, &Path)],
) -> Process {
    spawn_serve_full(cert, key, "127.0.0.1", extra, "info", env).await
}

/// [`spawn_serve`] with both listeners on `host` (an IP address or a name) and `RUST_LOG` set
/// to `log`.
pub async fn spawn_serve_on(
    cert: &Path,
    key: &Path,
    host: &str,
    extra: &[&str],
    log: &str,
) -> Process {
    spawn_serve_full(cert, key, host, extra, log, &[]).await
}

async fn spawn_serve_full(
    cert: &Path,
    key: &Path,
    host: &str,
    extra: &[&str],
    log: &str,
    env: &[(&str, &Path)],
) -> Process {
    let any_port = format!("{host}:0");
    let mut child = tokio::process::Command::new(binary())
        .args(["serve", "--listen", &any_port, "--probe-listen", &any_port])
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .args(["--log-format", "json"])
        .args(extra)
        .env("RUST_LOG", log)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let logs = Arc::new(Mutex::new(Vec::new()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let sink = logs.clone();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            sink.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
    let (addr, probe_addr) = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = rx.recv().await {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let fields = &v["fields"];
            if let (Some(a), Some(p)) = (fields["listen"].as_str(), fields["probe_listen"].as_str())
            {
                return (a.parse().unwrap(), p.parse().unwrap());
            }
        }
        panic!(
            "the server exited before listening: {:#?}",
            logs.lock().unwrap()
        );
    })
    .await
    .expect("the server logs its addresses");
    Process {
        child,
        addr,
        probe_addr,
        logs,
    }
}

impl Process {
    pub fn signal(&self, signal: i32) {
        let pid = self.child.id().expect("running") as i32;
        // SAFETY: kill(2) with a pid this test spawned and still owns.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits for the exit status, at most `limit`.
    pub async fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .expect("the server exits in time")
            .unwrap()
    }
}

/// Writes a PEM file.
pub fn write(path: &Path, contents: &str) -> PathBuf {
    std::fs::write(path, contents).unwrap();
    path.to_owned()
}
