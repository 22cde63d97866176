//! Start-up figures for BENCHMARKS.md: cold start to ready (`/readyz` answering 200) on a fresh
//! and on an existing data directory, idle memory (VmRSS) and the binary's size.
//!
//! Run: `cargo bench --bench startup` (builds the binary with the bench profile, like release).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 15;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run());
}

struct Sample {
    ready: Duration,
    idle_rss_kib: u64,
}

async fn start_once(data_dir: &std::path::Path) -> Sample {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_failforward"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--log-level",
            "warn",
            "--data-dir",
        ])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let mut banner = String::new();
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    reader.read_line(&mut banner).expect("banner");
    // Keep reading so the server never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let base = banner
        .trim()
        .strip_prefix("failforward is running at ")
        .expect("banner")
        .to_owned();
    let client = reqwest::Client::new();
    loop {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            if response.status().is_success() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let ready = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let idle_rss_kib = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    Sample {
        ready,
        idle_rss_kib,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn run() {
    let binary = env!("CARGO_BIN_EXE_failforward");
    let size = std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0);
    println!("binary: {binary}");
    println!(
        "binary size: {:.1} MiB ({size} bytes)",
        size as f64 / 1048576.0
    );
    for (label, fresh) in [
        (
            "fresh data directory (creates and migrates the database)",
            true,
        ),
        ("existing data directory", false),
    ] {
        let shared = tempfile::tempdir().expect("dir");
        let mut readies = Vec::new();
        let mut rss = Vec::new();
        for _ in 0..RUNS {
            let dir = tempfile::tempdir().expect("dir");
            let data = if fresh { dir.path() } else { shared.path() };
            let sample = start_once(data).await;
            readies.push(sample.ready);
            rss.push(sample.idle_rss_kib);
        }
        readies.sort();
        rss.sort_unstable();
        println!(
            "cold start to ready, {label}: p50 {:.1} ms, max {:.1} ms over {RUNS} runs; idle RSS p50 {:.1} MiB",
            percentile(&readies, 0.5).as_secs_f64() * 1000.0,
            readies.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
            rss[rss.len() / 2] as f64 / 1024.0
        );
    }
}
