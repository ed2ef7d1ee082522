//! Latency at a fixed request rate, for `scripts/load.sh`: HTTP/1.1 keep-alive connections
//! over TLS (as the API server calls a Service webhook) send one request body on a fixed
//! schedule. A request held back because the previous one on its connection was slow is
//! measured from the moment it was *due*, so a stall shows in the tail instead of silently
//! lowering the rate (coordinated omission); one sent late only because of the client's own
//! timer is measured from when it was sent, and the same lateness is not charged to the server
//! when it delays the next response on the connection. Each run prints how many requests were
//! held back, and how late the client's timer sent the others.
//!
//! ```text
//! cargo build --release --example latency
//! target/release/examples/latency --url https://127.0.0.1:18443/validate --ca certs/ca.crt \
//!     --body review.json --rate 2000 --requests 40000 --connections 8 --warmup 4000
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::time::{Instant, MissedTickBehavior};

/// Latency at a fixed request rate over HTTP/1.1 keep-alive connections and TLS, for
/// scripts/load.sh. The server's certificate must be valid for `localhost`.
#[derive(Parser)]
#[command(name = "latency")]
struct Args {
    /// Where to POST: https://IP:PORT/PATH.
    #[arg(long, value_parser = parse_url)]
    url: Url,
    /// CA certificate(s) the server's certificate is checked against (PEM).
    #[arg(long)]
    ca: PathBuf,
    /// File sent as every request's body.
    #[arg(long)]
    body: PathBuf,
    /// Requests per second, over all connections together.
    #[arg(long, default_value_t = 2000.0, value_parser = parse_rate)]
    rate: f64,
    /// Requests measured, after the warm-up.
    #[arg(long, default_value_t = 40000)]
    requests: usize,
    /// Keep-alive connections, each sending its share of the rate.
    #[arg(long, default_value_t = 8, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    connections: usize,
    /// Requests sent first, by schedule, and not counted.
    #[arg(long, default_value_t = 4000)]
    warmup: usize,
}

#[derive(Clone)]
struct Url {
    addr: SocketAddr,
    path: String,
}

fn parse_url(url: &str) -> Result<Url, String> {
    let rest = url
        .strip_prefix("https://")
        .ok_or("must be https://IP:PORT/PATH")?;
    let (host, path) = rest.split_once('/').ok_or("needs a path")?;
    Ok(Url {
        addr: host.parse().map_err(|_| "the host must be IP:PORT")?,
        path: format!("/{path}"),
    })
}

fn parse_rate(rate: &str) -> Result<f64, String> {
    match rate.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err("not a positive number".to_owned()),
    }
}

/// The arguments with the files read.
struct Options {
    addr: SocketAddr,
    path: String,
    ca: String,
    body: Bytes,
    rate: f64,
    requests: usize,
    connections: usize,
    warmup: usize,
}

fn options(args: Args) -> Result<Options, String> {
    let read = |path: &PathBuf| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
    Ok(Options {
        addr: args.url.addr,
        path: args.url.path,
        ca: String::from_utf8_lossy(&read(&args.ca)?).into_owned(),
        body: Bytes::from(read(&args.body)?),
        rate: args.rate,
        requests: args.requests,
        connections: args.connections,
        warmup: args.warmup,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let opts = match options(Args::parse()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("latency: {e}");
            return ExitCode::from(2);
        }
    };
    match run(opts).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("latency: {e}");
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn connect(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> Result<http1::SendRequest<Full<Bytes>>, Error> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    let (sender, conn) = http1::handshake(TokioIo::new(tls)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn run(opts: Options) -> Result<(), Error> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(opts.ca.as_bytes()) {
        roots.add(cert?)?;
    }
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let config = Arc::new(config);

    let total = opts.requests + opts.warmup;
    let per_conn = total.div_ceil(opts.connections);
    let period = Duration::from_secs_f64(opts.connections as f64 / opts.rate);
    let start = Instant::now() + Duration::from_millis(200);
    let mut tasks = Vec::new();
    for i in 0..opts.connections {
        let mut sender = connect(opts.addr, config.clone()).await?;
        let (path, body) = (opts.path.clone(), opts.body.clone());
        // Spread the connections' schedules evenly over one period.
        let offset = period.mul_f64(i as f64 / opts.connections as f64);
        tasks.push(tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(start + offset, period);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
            let mut samples = Vec::with_capacity(per_conn);
            let mut errors = 0usize;
            // When the previous response came back after this request was due, the wait
            // is the server's doing and counts from the due time; otherwise only the
            // client's timer (1 ms granularity) made it late, and it counts from the send.
            // The previous request may itself have been sent late by that timer, which
            // delays its response by as much: `carried` is that lateness, taken off, so
            // that only what the server added counts.
            let mut previous_done = start;
            let mut carried = Duration::ZERO;
            for _ in 0..per_conn {
                let due = ticks.tick().await;
                let sent = Instant::now();
                let held = previous_done.checked_sub(carried).is_some_and(|p| p > due);
                let origin = if held {
                    due + carried
                } else {
                    carried = sent.saturating_duration_since(due);
                    sent
                };
                let req = Request::post(path.as_str())
                    .header("host", "localhost")
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()))?;
                let ok = match sender.ready().await {
                    Ok(()) => match sender.send_request(req).await {
                        Ok(resp) => {
                            let ok = resp.status().is_success();
                            resp.into_body().collect().await?;
                            ok
                        }
                        Err(_) => false,
                    },
                    Err(_) => false,
                };
                previous_done = Instant::now();
                if ok {
                    samples.push(Sample {
                        due,
                        latency: previous_done.duration_since(origin),
                        held,
                        late: carried,
                    });
                } else {
                    errors += 1;
                }
            }
            Ok::<_, Error>((samples, errors))
        }));
    }
    let mut samples = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (s, e) = t.await??;
        samples.extend(s);
        errors += e;
    }
    // The first `warmup` requests by schedule do not count.
    samples.sort_by_key(|s| s.due);
    let measured: Vec<Sample> = samples.into_iter().skip(opts.warmup).collect();
    let (Some(first), Some(last)) = (measured.first(), measured.last()) else {
        return Err("no request succeeded".into());
    };
    let span = last.due.duration_since(first.due).as_secs_f64().max(1e-9);
    let mut latencies: Vec<Duration> = measured.iter().map(|s| s.latency).collect();
    latencies.sort();
    let pct = |p: f64| percentile(&latencies, p);
    let held = measured.iter().filter(|s| s.held).count();
    let mut late: Vec<Duration> = measured
        .iter()
        .filter(|s| !s.held)
        .map(|s| s.late)
        .collect();
    late.sort();
    println!(
        "target {:.0} req/s over {} connections: {} requests measured in {:.2} s ({:.0} req/s), {} errors",
        opts.rate,
        opts.connections,
        latencies.len(),
        span,
        latencies.len() as f64 / span,
        errors
    );
    println!(
        "latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(0.999),
        pct(1.0)
    );
    // How the schedule went, to tell the server's tail from the client's: requests that waited
    // for the previous response on their connection (counted from when they were due), and how
    // late the others were sent by the client's own timer (not counted).
    println!(
        "held back by the previous response: {held} ({:.2} %); sent late by the client's timer \
         (not counted): p50 {:.3} ms, p99 {:.3} ms",
        held as f64 * 100.0 / measured.len() as f64,
        percentile(&late, 0.50),
        percentile(&late, 0.99)
    );
    Ok(())
}

/// One request: when it was due, its latency, whether it waited for the previous response on
/// its connection, and how long after its due time it was sent.
struct Sample {
    due: Instant,
    latency: Duration,
    held: bool,
    late: Duration,
}

/// The `p` quantile of sorted durations, in milliseconds (0 for none).
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}
