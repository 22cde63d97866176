//! The live writing hints' latency for BENCHMARKS.md: the capture form's script posts the whole
//! field to `POST /api/v1/lint` (600 ms after the last keystroke) and shows what comes back. This
//! times that round trip for a 5,000-word text of mixed postmortem prose — the app on port 0 with
//! a fresh SQLite database, one client, requests one after another — and, for comparison, the
//! linter alone on the same text.
//!
//! Run: `cargo bench --bench lint_live [-- --requests N]` (default 100).

use std::time::{Duration, Instant};

use failforward::app::Application;
use failforward::config::{Settings, StorageSettings};
use failforward::domain::blameless::{lint, Rules};
use serde_json::{json, Value};

/// Sentences of the kinds a postmortem mixes: timeline, description, blame-laden wording of every
/// category, hard negatives, chat.
const SENTENCES: &[&str] = &[
    "At 14:02 the latency alert fired and paged the on-call engineer.",
    "The deploy tool accepted a configuration file without validating it.",
    "The engineer should have checked the dashboard before restarting the service.",
    "We did not find a single root cause; several conditions combined.",
    "Obviously the backup should have been tested.",
    "Priya noticed the spike in errors and started the incident channel.",
    "The checklist did not mention the rollback step, so it was skipped.",
    "A careless mistake in the config file brought down the API.",
    "The queue grew to 40,000 messages, about 3.5 times the usual peak.",
    "Next time we will ask for a second reviewer on data migrations.",
    "The new hire broke the build by committing straight to main.",
    "We avoid the phrase \"human error\" in our reviews.",
    "kev borked the load balancer config again lol",
    "It was only a matter of time before the disk filled up.",
    "The failover should have started after thirty seconds, but the health check hung.",
    "Honestly this was amateur hour from start to finish.",
    "The root cause was an expired certificate on the internal proxy.",
    "Writes queued on the primary until the disk was extended at 15:10.",
];

fn text_of(words: usize) -> String {
    let mut text = String::new();
    let mut count = 0;
    let mut i = 0usize;
    while count < words {
        let sentence = SENTENCES[(i * 7 + i / 3) % SENTENCES.len()];
        count += sentence.split_whitespace().count();
        text.push_str(sentence);
        text.push_str(if i % 5 == 4 { "\n\n" } else { " " });
        i += 1;
    }
    text
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn run(requests: usize) {
    let dir = tempfile::tempdir().expect("dir");
    let app = Application::build(Settings::for_tests(StorageSettings::in_dir(dir.path())))
        .await
        .expect("app");
    let base = format!("http://127.0.0.1:{}", app.port());
    let service = app.service().clone();
    tokio::spawn(app.run_until(std::future::pending()));
    service
        .create_user_directly(
            "writer@example.org",
            "Writer",
            "correct horse battery staple",
            true,
            Some("Bench"),
        )
        .await
        .expect("user");
    let token = service
        .create_api_token_directly("writer@example.org", "bench")
        .await
        .expect("token");
    let client = reqwest::Client::new();
    let text = text_of(5000);
    let words = text.split_whitespace().count();
    let body = json!({ "text": text });
    let mut findings = 0;
    let mut times = Vec::with_capacity(requests);
    for round in 0..requests + 3 {
        let started = Instant::now();
        let response = client
            .post(format!("{base}/api/v1/lint"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        let report: Value = response.json().await.expect("json");
        let elapsed = started.elapsed();
        findings = report["findings"].as_array().map_or(0, Vec::len);
        // The first few warm the connection and the model's one-time decoding.
        if round >= 3 {
            times.push(elapsed);
        }
    }
    times.sort();
    let mut alone: Vec<Duration> = (0..requests.min(50))
        .map(|_| {
            let started = Instant::now();
            let _ = lint(&text, Rules::builtin());
            started.elapsed()
        })
        .collect();
    alone.sort();
    println!(
        "POST /api/v1/lint, {words} words ({} bytes, {findings} findings), {requests} requests: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; the linter alone: p50 {:.1} ms",
        text.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        percentile(&times, 1.0),
        percentile(&alone, 0.5),
    );
}

fn main() {
    let requests: usize = arg("--requests")
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run(requests));
}
