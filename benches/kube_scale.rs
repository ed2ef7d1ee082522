//! `serve --kube` at scale: the real binary against the tests' fake API server holding
//! 100,000 MeshServices (pages of 500), measuring the time from start to `/readyz` 200 (every
//! kind listed and indexed), the CPU time the server used until then (less sensitive to other
//! load on the machine than the wall time) and its resident memory then. Run with
//! `cargo bench --bench kube_scale`; it prints a report (it is not a criterion benchmark:
//! one start is one measurement).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

#[path = "../tests/common/apiserver.rs"]
mod apiserver;
#[path = "../tests/common/pki.rs"]
mod pki;
#[path = "../tests/common/scale.rs"]
mod scale;

const N: usize = 100_000;

fn status_kib(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU seconds (user + system) the process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    (ticks(11) + ticks(12)) / 100.0
}

async fn readyz(addr: &str) -> bool {
    let Ok(mut tcp) = tokio::net::TcpStream::connect(addr).await else {
        return false;
    };
    let req = format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if tcp.write_all(req.as_bytes()).await.is_err() {
        return false;
    }
    let mut reply = String::new();
    let _ = tcp.read_to_string(&mut reply).await;
    reply.starts_with("HTTP/1.1 200")
}

/// Starts the server against `api`; returns (time to ready, the server's CPU seconds until
/// then, VmRSS KiB, VmHWM KiB).
async fn measure(api: &apiserver::FakeApi) -> (Duration, f64, u64, u64) {
    let pki = pki::Pki::new("bench CA");
    let serving = pki.server("serving");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert, &serving.cert_pem).unwrap();
    std::fs::write(&key, &serving.key_pem).unwrap();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_failover-webhook"))
        .args([
            "serve",
            "--kube",
            "--listen",
            "127.0.0.1:0",
            "--probe-listen",
            "127.0.0.1:0",
        ])
        .args(["--log-format", "json"])
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env("KUBECONFIG", &api.kubeconfig)
        .env("RUST_LOG", "info")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let probe = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the server logs its addresses");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if let Some(p) = v["fields"]["probe_listen"].as_str() {
            break p.to_owned();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    while !readyz(&probe).await {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not ready in 120 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ready = started.elapsed();
    let cpu = cpu_seconds(pid);
    let (rss, hwm) = (status_kib(pid, "VmRSS:"), status_kib(pid, "VmHWM:"));
    let _ = child.kill().await;
    (ready, cpu, rss, hwm)
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let empty = apiserver::FakeApi::start().await;
        let (ready0, cpu0, rss0, hwm0) = measure(&empty).await;
        println!(
            "kube_scale: 0 objects: ready in {:.3} s (server CPU {cpu0:.2} s), RSS {:.1} MiB (peak {:.1} MiB)",
            ready0.as_secs_f64(),
            rss0 as f64 / 1024.0,
            hwm0 as f64 / 1024.0
        );
        let api = apiserver::FakeApi::start().await;
        api.set_page(500);
        api.preload((0..N).map(scale::mesh_service));
        // Pages are answered from memory, as a real API server's watch cache answers them,
        // so that the figure is the server's own list-to-ready time and not the fake's
        // rendering of 70 MB of JSON on the same two cores.
        api.prerender();
        for run in 1..=3 {
            let (ready, cpu, rss, hwm) = measure(&api).await;
            println!(
                "kube_scale: {N} MeshServices, run {run}: ready in {:.3} s (server CPU {cpu:.2} s), RSS {:.1} MiB (peak {:.1} MiB)",
                ready.as_secs_f64(),
                rss as f64 / 1024.0,
                hwm as f64 / 1024.0
            );
        }
    });
}
