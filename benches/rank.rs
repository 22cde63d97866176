//! The cost of ranking one pool for "similar loops" and the possible-recurrence check, without
//! the database: the part of a check that runs on the server's processor.
//!
//! Run: `cargo bench --bench rank` (optimised) or `cargo bench --profile dev --bench rank` (as
//! the debug binary CI drives). Two pools of [`POOL`] loops, as `service::memory` ranks them:
//! loops written like real ones (the labelled incidents of tests/data/recurrence-dev.tsv, a few
//! to a loop, with factors and learnings), and loops whose every field is filled to its limit
//! with words nobody repeats (what an API fuzzer sends). Each is ranked with every loop read anew
//! and from digests kept from an earlier ranking, as the server does for loops it has seen.

use std::time::Instant;

use failforward::domain::recurrence::{self, rank};

/// As `service::memory::SIMILAR_POOL`.
const POOL: usize = 200;
/// As `domain::loops::LONG_TEXT_MAX`.
const FIELD_MAX: usize = 20_000;

/// A small deterministic generator, so that runs compare.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as usize
    }
}

fn incidents() -> Vec<String> {
    let tsv = include_str!("../tests/data/recurrence-dev.tsv");
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            Some(format!("{}. {}", fields.get(2)?, fields.get(3)?))
        })
        .collect()
}

/// One loop's fields in the order and weights of `service::memory::loop_parts`.
type Loop = Vec<(String, f32)>;

fn written_pool(rng: &mut Lcg) -> Vec<Loop> {
    let texts = incidents();
    let pick = |rng: &mut Lcg| texts[rng.next() % texts.len()].clone();
    (0..POOL)
        .map(|_| {
            vec![
                (pick(rng), 1.0),
                (pick(rng), 1.0),
                (pick(rng), 0.5),
                (pick(rng), 2.0),
                (pick(rng), 2.0),
                (String::new(), 2.0),
                (pick(rng), 2.0),
                (pick(rng), 2.0),
            ]
        })
        .collect()
}

fn fuzzed_field(rng: &mut Lcg) -> String {
    let mut text = String::with_capacity(FIELD_MAX);
    while text.len() < FIELD_MAX - 20 {
        let len = 2 + rng.next() % 12;
        for _ in 0..len {
            text.push(char::from(b'a' + (rng.next() % 26) as u8));
        }
        text.push(' ');
    }
    text
}

fn fuzzed_pool(rng: &mut Lcg) -> Vec<Loop> {
    (0..POOL)
        .map(|_| {
            (0..6)
                .map(|i| (fuzzed_field(rng), if i < 3 { 1.0 } else { 2.0 }))
                .collect()
        })
        .collect()
}

/// Milliseconds of each of `runs` rankings of `pool` against a query drawn from `queries`: with
/// every loop read anew (`rank`), or from digests made once beforehand (`rank_digested`, as the
/// server ranks loops it has ranked before).
fn time(pool: &[Loop], queries: &[String], runs: usize, kept: bool) -> Vec<f64> {
    let model = recurrence::embedder();
    let mix = recurrence::CALIBRATION.mix;
    let parts: Vec<rank::Parts<'_>> = pool
        .iter()
        .map(|l| l.iter().map(|(t, w)| (t.as_str(), *w)).collect())
        .collect();
    let digests: Vec<rank::Digest> = parts.iter().map(|p| rank::Digest::of(model, p)).collect();
    let digests: Vec<&rank::Digest> = digests.iter().collect();
    (0..runs)
        .map(|i| {
            let query: rank::Parts<'_> = vec![(queries[i % queries.len()].as_str(), 1.0)];
            let started = Instant::now();
            let scored = if kept {
                rank::rank_digested(model, mix, &query, &digests)
            } else {
                rank::rank(model, mix, &query, &parts)
            };
            assert_eq!(scored.len(), pool.len());
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect()
}

fn report(name: &str, mut millis: Vec<f64>) {
    millis.sort_by(f64::total_cmp);
    let at = |q: f64| millis[((millis.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name}: {} rankings of {POOL} loops, p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        millis.len(),
        at(0.5),
        at(0.9),
        at(1.0)
    );
}

fn main() {
    let mut rng = Lcg(25);
    let queries = incidents();
    let written = written_pool(&mut rng);
    report(
        "written loops, read anew",
        time(&written, &queries, 30, false),
    );
    report(
        "written loops, digests kept",
        time(&written, &queries, 30, true),
    );
    let fuzzed = fuzzed_pool(&mut rng);
    let fuzzed_queries: Vec<String> = (0..5).map(|_| fuzzed_field(&mut rng)).collect();
    report(
        "fuzzed loops, read anew",
        time(&fuzzed, &fuzzed_queries, 3, false),
    );
    report(
        "fuzzed loops, digests kept",
        time(&fuzzed, &fuzzed_queries, 3, true),
    );
}
