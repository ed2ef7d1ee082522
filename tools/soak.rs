//! Soak test of `failover-webhook serve` (run by `make soak`): mixed valid, invalid and
//! malformed traffic at a steady rate against the real binary on loopback, while the serving
//! certificate is rotated as a Kubernetes secret volume rotates it and the `--snapshot` file
//! the topology comes from is rewritten (see `soak_snapshot.rs`). Every well-formed review's
//! answer is compared with the library's own answer to the same bytes, for the topology the
//! server had when it answered.
//!
//! Pass criteria: no well-formed request failed, no answer differed from the library's, every
//! snapshot change was applied (or, malformed, refused) as the server's log and metrics show,
//! and the server's RSS at the end is within 10 % of its RSS after the warm-up.
//!
//! ```sh
//! cargo run --release --example soak -- --binary target/release/failover-webhook \
//!     [--seconds 600] [--rate 50] [--cert-every 30] [--snapshot-every 20] [--warmup 60]
//! ```

#[allow(dead_code)]
#[path = "../tests/common/pki.rs"]
mod pki;

#[allow(dead_code)]
#[path = "../tests/common/client.rs"]
mod client;

#[allow(dead_code)]
#[path = "../tests/common/metrics.rs"]
mod metrics;

#[path = "soak_snapshot.rs"]
mod snapshot;

use std::collections::HashSet;
use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use client::{Conn, H1, H2, client_config, tls_connect};
use failover_webhook::admission::{self, Context, Endpoint};
use failover_webhook::engine::Settings;
use http::StatusCode;
use http_body_util::Full;
use pki::Pki;
use rustls::ClientConfig;
use serde_json::{Value, json};
use snapshot::{Driver, Epoch, LogCounts, Seen};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Soak test of `failover-webhook serve`: mixed traffic at a steady rate while the serving
/// certificate rotates and the topology snapshot changes; prints a report and PASS or FAIL.
#[derive(Parser)]
#[command(name = "soak")]
struct Args {
    /// The server executable to run.
    #[arg(long, default_value = "target/release/failover-webhook")]
    binary: PathBuf,
    /// How long to send traffic, in seconds.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
    /// Requests per second.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..))]
    rate: u64,
    /// Seconds between certificate rotations.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    cert_every: u64,
    /// Seconds between snapshot changes.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    snapshot_every: u64,
    /// Seconds after which the server's RSS is the baseline the end is compared with.
    #[arg(long, default_value_t = 60)]
    warmup: u64,
    /// Ignored: test runners in benchmark mode pass it.
    #[arg(long, hide = true)]
    bench: bool,
}

/// A secret-volume-like folder: `..<stamp>/tls.{crt,key}`, `..data` pointing at the current
/// one, and `tls.crt`/`tls.key` pointing into `..data`, so each rotation is one atomic rename.
struct Volume {
    dir: PathBuf,
    generation: u32,
}

impl Volume {
    fn new(dir: &Path, pki: &Pki) -> std::io::Result<Volume> {
        let mut v = Volume {
            dir: dir.to_owned(),
            generation: 0,
        };
        v.rotate(pki)?;
        std::os::unix::fs::symlink("..data/tls.crt", dir.join("tls.crt"))?;
        std::os::unix::fs::symlink("..data/tls.key", dir.join("tls.key"))?;
        Ok(v)
    }

    fn rotate(&mut self, pki: &Pki) -> std::io::Result<()> {
        self.generation += 1;
        let serving = pki.server(&format!("soak-serving-{}", self.generation));
        let stamp = format!("..gen-{}", self.generation);
        let folder = self.dir.join(&stamp);
        std::fs::create_dir(&folder)?;
        std::fs::write(folder.join("tls.crt"), &serving.cert_pem)?;
        std::fs::write(folder.join("tls.key"), &serving.key_pem)?;
        let tmp = self.dir.join("..data_tmp");
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&stamp, &tmp)?;
        std::fs::rename(&tmp, self.dir.join("..data"))?;
        Ok(())
    }
}

struct Server {
    child: Child,
    addr: SocketAddr,
    probe: SocketAddr,
}

impl Server {
    fn start(
        binary: &Path,
        volume: &Path,
        snapshot: &Path,
        logs: Arc<LogCounts>,
    ) -> Result<Server, String> {
        let mut child = Command::new(binary)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--probe-listen",
                "127.0.0.1:0",
            ])
            .arg("--tls-cert")
            .arg(volume.join("tls.crt"))
            .arg("--tls-key")
            .arg(volume.join("tls.key"))
            .arg("--snapshot")
            .arg(snapshot)
            .args(["--log-format", "json"])
            .env(
                "RUST_LOG",
                "warn,failover_webhook::server=info,failover_webhook::serve=info",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                let fields = &v["fields"];
                let message = fields["message"].as_str().unwrap_or_default();
                logs.line(message);
                if let (Some(addr), Some(probe)) =
                    (fields["listen"].as_str(), fields["probe_listen"].as_str())
                {
                    let _ = tx.send((addr.to_owned(), probe.to_owned()));
                } else if v["level"] != "INFO" && message != snapshot::REFUSED {
                    eprintln!("server: {line}");
                }
            }
        });
        let (addr, probe) = rx
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| "the server did not start".to_owned())?;
        Ok(Server {
            child,
            addr: addr.parse().map_err(|e| format!("{addr}: {e}"))?,
            probe: probe.parse().map_err(|e| format!("{probe}: {e}"))?,
        })
    }

    fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    }
}

/// A small deterministic generator: the same run sends the same traffic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What one request is and what must come back.
enum Kind {
    /// An AdmissionReview: the answer must equal the library's for the topology the server
    /// had, the first or the second (either, for a request in flight during a change).
    Review {
        endpoint: Endpoint,
        body: Vec<u8>,
        expected: [Value; 2],
        seen: Seen,
    },
    /// Well-formed HTTP that is not a review: the status must be this.
    Refused {
        path: &'static str,
        content_type: &'static str,
        body: Vec<u8>,
        status: StatusCode,
    },
    /// Not HTTP over TLS, or a request abandoned half-way: nothing to check but that the
    /// server goes on.
    Malformed(Malformed),
}

#[derive(Clone, Copy)]
enum Malformed {
    NotTls,
    StalledHandshake,
    HalfABody,
}

#[derive(Default)]
struct Tally {
    reviews: AtomicU64,
    /// Reviews answered by one known topology, checked against it alone.
    strict: AtomicU64,
    /// Reviews in flight during a snapshot change, checked against either topology.
    lenient: AtomicU64,
    /// Strictly checked reviews whose answer differs between the topologies, by the topology
    /// that answered them.
    topology_sensitive: [AtomicU64; 2],
    /// Snapshot changes whose MeshService count showed in the metrics, and those that did not.
    metric_confirmed: AtomicU64,
    metric_mismatch: AtomicU64,
    refused: AtomicU64,
    malformed: AtomicU64,
    failed: AtomicU64,
    wrong: AtomicU64,
    skipped_ticks: AtomicU64,
    handshakes: AtomicU64,
}

struct Shared {
    tally: Tally,
    epoch: Arc<Epoch>,
    problems: Mutex<Vec<String>>,
    presented: Mutex<HashSet<Vec<u8>>>,
}

impl Shared {
    fn problem(&self, what: String) {
        let mut p = self.problems.lock().unwrap_or_else(|e| e.into_inner());
        if p.len() < 50 {
            p.push(what);
        }
    }
}

fn templates() -> Result<Vec<Value>, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["tests/fixtures/admission", "examples/admission"] {
        let mut names: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .map_err(|e| format!("{dir}: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".json"))
            .filter(|p| !p.to_string_lossy().contains(".response"))
            .collect();
        names.sort();
        for p in names {
            let text = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            let v: Value =
                serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", p.display()))?;
            if v.get("request").is_some() {
                out.push(v);
            }
        }
    }
    Ok(out)
}

/// What to send next. A third of the reviews are one whose answer depends on the topology,
/// sent unchanged; the others a random template with one random change.
fn next_request(
    rng: &mut Rng,
    n: u64,
    templates: &[Value],
    sensitive: &[usize],
    ctx: [Context<'_>; 2],
    seen: Seen,
) -> Kind {
    match rng.below(10) {
        0..=5 => {
            let unchanged = !sensitive.is_empty() && rng.below(3) == 0;
            let pick = if unchanged {
                sensitive[rng.below(sensitive.len() as u64) as usize]
            } else {
                rng.below(templates.len() as u64) as usize
            };
            let mut review = templates[pick].clone();
            review["request"]["uid"] = json!(format!("soak-{n}"));
            if let Some(spec) = review.pointer_mut("/request/object/spec")
                && spec.is_object()
                && !unchanged
            {
                let ports = [json!(80), json!(8080), json!(0), json!(70000), json!("80")];
                match rng.below(4) {
                    0 => spec["port"]["port"] = ports[rng.below(5) as usize].clone(),
                    1 => spec["hostname"] = json!(format!("svc-{}.soak.global", rng.below(50))),
                    2 => spec["unknownField"] = json!(true),
                    _ => {}
                }
            }
            let endpoint = if rng.below(2) == 0 {
                Endpoint::Validate
            } else {
                Endpoint::Mutate
            };
            let body = serde_json::to_vec(&review).unwrap_or_default();
            let expected = ctx.map(|ctx| library_answer(&body, endpoint, ctx));
            Kind::Review {
                endpoint,
                body,
                expected,
                seen,
            }
        }
        6 | 7 => match rng.below(4) {
            0 => Kind::Refused {
                path: "/validate",
                content_type: "application/json",
                body: b"{\"kind\":\"AdmissionReview\",".to_vec(),
                status: StatusCode::BAD_REQUEST,
            },
            1 => Kind::Refused {
                path: "/mutate",
                content_type: "application/json",
                body:
                    br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}"#
                        .to_vec(),
                status: StatusCode::BAD_REQUEST,
            },
            2 => Kind::Refused {
                path: "/validate",
                content_type: "text/plain",
                body: b"hello".to_vec(),
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            },
            _ => Kind::Refused {
                path: "/nowhere",
                content_type: "application/json",
                body: b"{}".to_vec(),
                status: StatusCode::NOT_FOUND,
            },
        },
        _ => Kind::Malformed(match rng.below(3) {
            0 => Malformed::NotTls,
            1 => Malformed::StalledHandshake,
            _ => Malformed::HalfABody,
        }),
    }
}

/// The library's answer to a review, as the JSON the server must send.
fn library_answer(body: &[u8], endpoint: Endpoint, ctx: Context<'_>) -> Value {
    match admission::review(body, endpoint, ctx) {
        Ok(answer) => serde_json::from_slice(&answer.body).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

/// The templates whose answer differs between the two topologies.
fn topology_sensitive(templates: &[Value], ctx: [Context<'_>; 2]) -> Vec<usize> {
    (0..templates.len())
        .filter(|&i| {
            let body = serde_json::to_vec(&templates[i]).unwrap_or_default();
            [Endpoint::Validate, Endpoint::Mutate]
                .into_iter()
                .all(|e| library_answer(&body, e, ctx[0]) != library_answer(&body, e, ctx[1]))
        })
        .collect()
}

/// A few long-lived connections, as the API server keeps; replaced when one fails.
struct Pool {
    conns: Vec<tokio::sync::Mutex<Option<Conn>>>,
}

async fn send(
    addr: SocketAddr,
    h1: &Arc<ClientConfig>,
    h2: &Arc<ClientConfig>,
    pool: &Pool,
    pick: u64,
    req: impl Fn(&Conn) -> http::Request<Full<Bytes>>,
    shared: &Shared,
) -> Result<client::Reply, String> {
    // Half on fresh connections (new handshakes see each new certificate), half pooled.
    if pick.is_multiple_of(2) {
        let config = if pick.is_multiple_of(4) { h1 } else { h2 };
        let mut conn = Conn::open(addr, config.clone())
            .await
            .map_err(|e| format!("connect: {e}"))?;
        shared.tally.handshakes.fetch_add(1, Ordering::Relaxed);
        shared
            .presented
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(conn.server_cert.to_vec());
        let r = req(&conn);
        return conn.send(r).await.map_err(|e| format!("send: {e}"));
    }
    let slot = &pool.conns[(pick / 2) as usize % pool.conns.len()];
    let mut guard = slot.lock().await;
    if guard.is_none() {
        let config = if (pick / 2).is_multiple_of(2) { h1 } else { h2 };
        *guard = Some(
            Conn::open(addr, config.clone())
                .await
                .map_err(|e| format!("connect: {e}"))?,
        );
    }
    let conn = guard.as_mut().ok_or("no connection")?;
    let r = req(conn);
    match conn.send(r).await {
        Ok(reply) => Ok(reply),
        Err(e) => {
            *guard = None;
            Err(format!("pooled send: {e}"))
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_one(
    kind: Kind,
    n: u64,
    addr: SocketAddr,
    h1: Arc<ClientConfig>,
    h2: Arc<ClientConfig>,
    pool: Arc<Pool>,
    shared: Arc<Shared>,
) {
    let t = &shared.tally;
    match kind {
        Kind::Review {
            endpoint,
            body,
            expected,
            seen,
        } => {
            t.reviews.fetch_add(1, Ordering::Relaxed);
            let path = match endpoint {
                Endpoint::Validate => "/validate?timeout=10s",
                Endpoint::Mutate => "/mutate?timeout=10s",
            };
            let body = Bytes::from(body);
            let build = |c: &Conn| {
                c.request("POST", path)
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()))
                    .unwrap_or_default()
            };
            match tokio::time::timeout(
                Duration::from_secs(10),
                send(addr, &h1, &h2, &pool, n, build, &shared),
            )
            .await
            {
                Ok(Ok(reply)) if reply.status == StatusCode::OK => {
                    let got: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
                    let right = match shared.epoch.answered_by(seen) {
                        Some(i) => {
                            t.strict.fetch_add(1, Ordering::Relaxed);
                            if expected[0] != expected[1] {
                                t.topology_sensitive[i].fetch_add(1, Ordering::Relaxed);
                            }
                            got == expected[i]
                        }
                        None => {
                            t.lenient.fetch_add(1, Ordering::Relaxed);
                            expected.contains(&got)
                        }
                    };
                    if !right {
                        t.wrong.fetch_add(1, Ordering::Relaxed);
                        shared.problem(format!("#{n}: answer {got} != library {expected:?}"));
                    }
                }
                Ok(Ok(reply)) => {
                    t.failed.fetch_add(1, Ordering::Relaxed);
                    shared.problem(format!("#{n}: {} {}", reply.status, reply.text()));
                }
                Ok(Err(e)) => {
                    t.failed.fetch_add(1, Ordering::Relaxed);
                    shared.problem(format!("#{n}: {e}"));
                }
                Err(_) => {
                    t.failed.fetch_add(1, Ordering::Relaxed);
                    shared.problem(format!("#{n}: no answer in 10 s"));
                }
            }
        }
        Kind::Refused {
            path,
            content_type,
            body,
            status,
        } => {
            t.refused.fetch_add(1, Ordering::Relaxed);
            let body = Bytes::from(body);
            let build = |c: &Conn| {
                c.request("POST", path)
                    .header("content-type", content_type)
                    .body(Full::new(body.clone()))
                    .unwrap_or_default()
            };
            match tokio::time::timeout(
                Duration::from_secs(10),
                send(addr, &h1, &h2, &pool, n, build, &shared),
            )
            .await
            {
                Ok(Ok(reply)) if reply.status == status => {}
                Ok(Ok(reply)) => {
                    t.wrong.fetch_add(1, Ordering::Relaxed);
                    shared.problem(format!("#{n}: {path} got {} not {status}", reply.status));
                }
                Ok(Err(e)) => {
                    t.failed.fetch_add(1, Ordering::Relaxed);
                    shared.problem(format!("#{n}: {path}: {e}"));
                }
                Err(_) => {
                    t.failed.fetch_add(1, Ordering::Relaxed);
                    shared.problem(format!("#{n}: {path}: no answer in 10 s"));
                }
            }
        }
        Kind::Malformed(m) => {
            t.malformed.fetch_add(1, Ordering::Relaxed);
            let _ = tokio::time::timeout(Duration::from_secs(15), async {
                match m {
                    Malformed::NotTls => {
                        if let Ok(mut tcp) = TcpStream::connect(addr).await {
                            let _ = tcp.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await;
                            client::read_until_close(&mut tcp, Duration::from_secs(5)).await;
                        }
                    }
                    Malformed::StalledHandshake => {
                        if let Ok(mut tcp) = TcpStream::connect(addr).await {
                            let _ = tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00]).await;
                            client::read_until_close(&mut tcp, Duration::from_secs(12)).await;
                        }
                    }
                    Malformed::HalfABody => {
                        if let Ok(mut tls) = tls_connect(addr, h1.clone()).await {
                            let _ = tls
                                .write_all(
                                    b"POST /validate HTTP/1.1\r\nhost: localhost\r\n\
                                      content-type: application/json\r\n\
                                      content-length: 1000\r\n\r\n{\"apiVersion\":",
                                )
                                .await;
                            let _ = tls.flush().await;
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            })
            .await;
        }
    }
}

/// After a change was seen in the log: the metrics must show the topology it left in place.
async fn metric_check(probe: SocketAddr, services: usize, shared: Arc<Shared>) {
    let series = "failover_webhook_topology_objects{kind=\"MeshService\"}";
    let shown = tokio::spawn(metrics::scrape(probe))
        .await
        .ok()
        .and_then(|text| metrics::value(&text, series));
    if shown == Some(services as f64) {
        shared
            .tally
            .metric_confirmed
            .fetch_add(1, Ordering::Relaxed);
    } else {
        shared.tally.metric_mismatch.fetch_add(1, Ordering::Relaxed);
        shared.problem(format!("{series} is {shown:?}, not {services}"));
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match soak(Args::parse()).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn soak(args: Args) -> Result<bool, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let pki = Pki::new("soak CA");
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut volume = Volume::new(tmp.path(), &pki).map_err(|e| e.to_string())?;
    let (scratch, snapshot_dir) = (tempfile::tempdir(), tempfile::tempdir());
    let (scratch, snapshot_dir) = (
        scratch.map_err(|e| e.to_string())?,
        snapshot_dir.map_err(|e| e.to_string())?,
    );
    let snapshot::Topologies {
        texts,
        loaded,
        services,
    } = snapshot::topologies(scratch.path())?;
    let logs = Arc::new(LogCounts::default());
    let snapshot_path = snapshot_dir.path().join("topology.yaml");
    let mut driver = Driver::new(snapshot_path.clone(), texts, services, logs.clone())?;
    let mut server = Server::start(&args.binary, tmp.path(), &snapshot_path, logs.clone())?;
    let addr = server.addr;

    let settings = Settings::default();
    let ctx = [0, 1].map(|i| Context {
        topology: &loaded[i],
        settings: &settings,
    });
    let templates = templates()?;
    if templates.is_empty() {
        return Err("no review templates found".to_owned());
    }
    let sensitive = topology_sensitive(&templates, ctx);
    if sensitive.is_empty() {
        return Err("no template is answered differently by the two topologies".to_owned());
    }
    // Full handshakes only: a resumed TLS 1.3 session carries no certificate, and the soak
    // checks that new handshakes see each new one.
    let fresh = |alpn: &[&[u8]]| {
        let mut config = (*client_config(&pki.ca_pem, alpn, None)).clone();
        config.resumption = rustls::client::Resumption::disabled();
        Arc::new(config)
    };
    let (h1, h2) = (fresh(&[H1]), fresh(&[H2]));
    let pool = Arc::new(Pool {
        conns: (0..4).map(|_| tokio::sync::Mutex::new(None)).collect(),
    });
    let shared = Arc::new(Shared {
        tally: Tally::default(),
        epoch: driver.epoch.clone(),
        problems: Mutex::new(Vec::new()),
        presented: Mutex::new(HashSet::new()),
    });
    // Bounds the requests in flight, so a stall shows as skipped ticks, not a pile-up.
    let in_flight = Arc::new(Semaphore::new(256));

    println!(
        "soak: {} s at {} requests/s against {} (pid {}), certificate rotated every {} s, \
         snapshot changed every {} s ({} and {} MeshServices; {} of {} templates answered \
         differently)",
        args.seconds,
        args.rate,
        addr,
        server.child.id(),
        args.cert_every,
        args.snapshot_every,
        services[0],
        services[1],
        sensitive.len(),
        templates.len()
    );
    let started = Instant::now();
    let total = args.seconds * args.rate;
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / args.rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut next_rotation = Duration::from_secs(args.cert_every);
    let mut next_snapshot = Duration::from_secs(args.snapshot_every);
    let mut next_sample = Duration::ZERO;
    let mut warm_rss = None;
    let mut samples = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..total {
        ticker.tick().await;
        let elapsed = started.elapsed();
        if elapsed > Duration::from_secs(args.seconds + 30) {
            break;
        }
        if elapsed >= next_rotation {
            volume.rotate(&pki).map_err(|e| format!("rotation: {e}"))?;
            next_rotation += Duration::from_secs(args.cert_every);
        }
        if elapsed >= next_snapshot && elapsed < Duration::from_secs(args.seconds) {
            driver.change()?;
            next_snapshot += Duration::from_secs(args.snapshot_every);
        }
        if let Some(confirmed) = driver.poll() {
            tasks.spawn(metric_check(
                server.probe,
                confirmed.services,
                shared.clone(),
            ));
        }
        if elapsed >= next_sample {
            let rss = server.rss_kib();
            samples.push((elapsed.as_secs(), rss));
            if warm_rss.is_none() && elapsed >= Duration::from_secs(args.warmup) {
                warm_rss = Some(rss);
            }
            next_sample += Duration::from_secs(10);
        }
        let seen = driver.epoch.seen();
        let kind = next_request(&mut rng, n, &templates, &sensitive, ctx, seen);
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            shared.tally.skipped_ticks.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let (h1, h2, pool, shared) = (h1.clone(), h2.clone(), pool.clone(), shared.clone());
        tasks.spawn(async move {
            run_one(kind, n, addr, h1, h2, pool, shared).await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let end_rss = server.rss_kib();
    let exposition = tokio::spawn(metrics::scrape(server.probe))
        .await
        .unwrap_or_default();
    let series = |name: &str| metrics::value(&exposition, name).unwrap_or(-1.0);
    samples.push((started.elapsed().as_secs(), end_rss));
    let _ = server.child.kill();
    let _ = server.child.wait();

    let t = &shared.tally;
    let warm = warm_rss.unwrap_or(end_rss);
    let growth = (end_rss as f64 - warm as f64) / warm.max(1) as f64 * 100.0;
    let peak = samples.iter().map(|s| s.1).max().unwrap_or(0);
    let presented = shared
        .presented
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .len();
    println!(
        "duration            {:.0} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "well-formed reviews {} (failed {}, answers differing from the library {})",
        t.reviews.load(Ordering::Relaxed),
        t.failed.load(Ordering::Relaxed),
        t.wrong.load(Ordering::Relaxed)
    );
    println!(
        "  checked against   the one topology served {} (of which answered differently by \
         the two: {} under the first, {} under the second); either topology, in flight \
         during a change {}",
        t.strict.load(Ordering::Relaxed),
        t.topology_sensitive[0].load(Ordering::Relaxed),
        t.topology_sensitive[1].load(Ordering::Relaxed),
        t.lenient.load(Ordering::Relaxed)
    );
    println!("refused (4xx)       {}", t.refused.load(Ordering::Relaxed));
    println!(
        "malformed           {}",
        t.malformed.load(Ordering::Relaxed)
    );
    println!(
        "skipped ticks       {}",
        t.skipped_ticks.load(Ordering::Relaxed)
    );
    println!(
        "certificates        {} written, {} distinct seen on {} new handshakes",
        volume.generation,
        presented,
        t.handshakes.load(Ordering::Relaxed)
    );
    let st = &driver.stats;
    println!(
        "snapshot changes    {} switches ({} by rename, {} in place), {} malformed ({} by \
         rename, {} in place)",
        st.switches_by_rename + st.switches_in_place,
        st.switches_by_rename,
        st.switches_in_place,
        st.malformed_by_rename + st.malformed_in_place,
        st.malformed_by_rename,
        st.malformed_in_place
    );
    println!(
        "  seen by server    {} reloads and {} refusals confirmed in the log (log lines: {} \
         reloaded, {} refused), {} not within 15 s, slowest {:.1} s; MeshService count in the \
         metrics as expected after {} changes, not after {}",
        st.reloads_confirmed,
        st.refusals_confirmed,
        logs.reloaded.load(Ordering::Relaxed),
        logs.refused.load(Ordering::Relaxed),
        st.not_confirmed,
        st.slowest_confirmation.as_secs_f64(),
        t.metric_confirmed.load(Ordering::Relaxed),
        t.metric_mismatch.load(Ordering::Relaxed)
    );
    println!(
        "certificate reloads {} succeeded, {} failed (failover_webhook_certificate_reloads_total)",
        series("failover_webhook_certificate_reloads_total{result=\"success\"}"),
        series("failover_webhook_certificate_reloads_total{result=\"failure\"}")
    );
    println!(
        "RSS                 {warm} KiB after warm-up ({} s), {end_rss} KiB at the end ({growth:+.1} %), peak {peak} KiB",
        args.warmup
    );
    println!(
        "RSS samples (s, KiB) {}",
        samples
            .iter()
            .map(|(s, r)| format!("{s}:{r}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let problems = shared.problems.lock().unwrap_or_else(|e| e.into_inner());
    for p in problems.iter() {
        println!("problem: {p}");
    }
    let pass = t.failed.load(Ordering::Relaxed) == 0
        && t.wrong.load(Ordering::Relaxed) == 0
        && st.not_confirmed == 0
        && st.reloads_confirmed > 0
        && t.metric_mismatch.load(Ordering::Relaxed) == 0
        && growth.abs() <= 10.0;
    println!("{}", if pass { "PASS" } else { "FAIL" });
    Ok(pass)
}
