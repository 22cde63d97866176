//! Linter speed for BENCHMARKS.md: megabytes of mixed postmortem prose per second on one core.
//!
//! Run: `cargo bench --bench lint`.

use std::time::Instant;

use failforward::domain::blameless::{lint, Rules};

const SENTENCES: &[&str] = &[
    "At 14:02 the latency alert fired and paged the on-call engineer.",
    "The deploy tool accepted a configuration file without validating it.",
    "The engineer should have checked the dashboard before restarting the service.",
    "Root cause analysis",
    "We did not find a single root cause; several conditions combined.",
    "Obviously the backup should have been tested.",
    "Priya noticed the spike in errors and started the incident channel.",
    "The checklist did not mention the rollback step, so it was skipped.",
    "A careless mistake in the config file brought down the API.",
    "The queue grew to 40,000 messages, about 3.5 times the usual peak, e.g. on the EU cluster.",
    "Next time we will ask for a second reviewer on data migrations.",
    "- The new hire broke the build by committing straight to main.",
    "We avoid the phrase \"human error\" in our reviews.",
    "Zoë’s team shipped the fix at 16:40 and the error rate fell.",
];

fn main() {
    let mut text = String::new();
    let mut i = 0usize;
    while text.len() < 5 * 1024 * 1024 {
        // Vary the order so that sentences and paragraphs mix.
        text.push_str(SENTENCES[(i * 7 + i / 3) % SENTENCES.len()]);
        text.push(if i % 6 == 5 { '\n' } else { ' ' });
        if i % 24 == 23 {
            text.push('\n');
        }
        i += 1;
    }
    let rules = Rules::builtin();
    let mut best = f64::MAX;
    let mut findings = 0;
    for _ in 0..5 {
        let started = Instant::now();
        findings = lint(&text, rules).len();
        best = best.min(started.elapsed().as_secs_f64());
    }
    let megabytes = text.len() as f64 / 1_048_576.0;
    println!(
        "linted {megabytes:.1} MiB ({} sentences, {findings} findings) in {:.3} s (best of 5): {:.1} MiB/s on one core",
        i,
        best,
        megabytes / best
    );
}
