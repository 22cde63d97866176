//! Ranking a pool of earlier loops against a new text, the same way whatever database found the
//! pool: the lexical score is BM25 computed here over the pool's own texts (not the database's
//! rank, which differs between FTS5 and `ts_rank`), the meaning score is the cosine of the two
//! texts' vectors after the pool's common direction is taken out, and the flag asks how far a
//! candidate stands above the rest of the pool as well as how close it is.

use std::collections::HashMap;

use super::{cosine, normalise, Embedder};
use crate::domain::search::STOP_WORDS;

/// A text as similarity reads it: parts with their weights (a mechanism part weighs more than a
/// title, which carries names and dates).
pub type Parts<'a> = Vec<(&'a str, f32)>;

/// BM25's term-frequency saturation and length normalisation (the usual values).
const BM25_K1: f64 = 1.2;
const BM25_B: f64 = 0.75;
/// How many pool vectors the common direction needs before it is taken out in full: with fewer,
/// it is shrunk towards none (a pool of one would otherwise cancel its only candidate).
const CENTRE_SHRINK: f32 = 8.0;
/// From this many loops in a pool on, a candidate's standing above the rest is measured.
pub const STANDING_FROM: usize = 8;

/// One candidate of the pool, scored.
#[derive(Debug, Clone)]
pub struct Scored {
    /// Cosine of the two texts' vectors, the pool's common direction taken out; `None` without
    /// the similarity table.
    pub cosine: Option<f32>,
    /// BM25 over the pool, relative to the best candidate's (0..=1).
    pub lexical: f64,
    /// The hybrid score candidates are ordered by.
    pub score: f64,
    /// How many spreads the score stands above the pool's mean (0 when the pool is too small
    /// to tell).
    pub standing: f64,
    /// Whether the pool had [`STANDING_FROM`] loops or more, so that `standing` means something.
    pub standing_known: bool,
    /// Words of the new text found in this candidate, the rarest in the pool first: the
    /// mechanism words the flag shows as its reason.
    pub shared: Vec<String>,
}

/// How the scores are mixed; [`super::CALIBRATION`] holds the values in force.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    /// The share of the score from the vectors (the rest from BM25).
    pub vector_weight: f64,
    /// Whether the pool's mean vector is taken out before the cosine.
    pub centre: bool,
    /// Whether a word's vector weighs by its rarity in the pool (inverse document frequency)
    /// rather than by the table's general rarity alone.
    pub pool_rarity: bool,
}

/// A word as the lexical side compares it: lower case, stemmed with Snowball's English stemmer
/// ("certificates" and "certificate", "expired" and "expire", "retries" and "retry").
pub fn stem(word: &str) -> String {
    static ENGLISH: std::sync::OnceLock<rust_stemmers::Stemmer> = std::sync::OnceLock::new();
    let word = word.to_lowercase();
    ENGLISH
        .get_or_init(|| rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English))
        .stem(&word)
        .into_owned()
}

/// The words of a text the lexical side counts: no stop words, numbers or single characters.
fn terms(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().nth(1).is_some())
        .map(str::to_lowercase)
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()) && !STOP_WORDS.contains(&w.as_str()))
        .map(|w| (stem(&w), w))
}

/// Scores every candidate of `pool` against `query`, in the pool's order.
pub fn rank(
    model: Option<&Embedder>,
    mix: Mix,
    query: &Parts<'_>,
    pool: &[Parts<'_>],
) -> Vec<Scored> {
    if pool.is_empty() {
        return Vec::new();
    }
    // The query's distinct words (stem → first spelling).
    let mut query_terms: Vec<(String, String)> = Vec::new();
    for (text, _) in query {
        for (stem, word) in terms(text) {
            if !query_terms.iter().any(|(s, _)| *s == stem) {
                query_terms.push((stem, word));
            }
        }
    }
    // Weighted term frequencies of the query's words in each candidate, and its length.
    let mut frequencies: Vec<HashMap<usize, f64>> = Vec::with_capacity(pool.len());
    let mut lengths = Vec::with_capacity(pool.len());
    for parts in pool {
        let mut tf: HashMap<usize, f64> = HashMap::new();
        let mut length = 0.0;
        for (text, weight) in parts {
            for (stem, _) in terms(text) {
                length += f64::from(*weight);
                if let Some(i) = query_terms.iter().position(|(s, _)| *s == stem) {
                    *tf.entry(i).or_default() += f64::from(*weight);
                }
            }
        }
        frequencies.push(tf);
        lengths.push(length);
    }
    let n = pool.len() as f64;
    let mean_length = (lengths.iter().sum::<f64>() / n).max(1.0);
    let idf: Vec<f64> = (0..query_terms.len())
        .map(|i| {
            let df = frequencies.iter().filter(|tf| tf.contains_key(&i)).count() as f64;
            (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
        })
        .collect();
    let bm25: Vec<f64> = frequencies
        .iter()
        .zip(&lengths)
        .map(|(tf, length)| {
            tf.iter()
                .map(|(&i, &f)| {
                    let norm = BM25_K1 * (1.0 - BM25_B + BM25_B * length / mean_length);
                    idf[i] * f * (BM25_K1 + 1.0) / (f + norm)
                })
                .sum()
        })
        .collect();
    let best_bm25 = bm25.iter().copied().fold(0.0_f64, f64::max);

    let cosines = model.and_then(|model| cosines(model, mix, query, pool));

    let mut scored: Vec<Scored> = (0..pool.len())
        .map(|i| {
            let lexical = if best_bm25 > 0.0 {
                bm25[i] / best_bm25
            } else {
                0.0
            };
            let cosine = cosines.as_ref().and_then(|c| c[i]);
            let score = match cosine {
                Some(c) => mix.vector_weight * f64::from(c) + (1.0 - mix.vector_weight) * lexical,
                None => lexical,
            };
            let mut shared: Vec<(f64, String)> = frequencies[i]
                .keys()
                .map(|&t| (idf[t], query_terms[t].1.clone()))
                .collect();
            shared.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            Scored {
                cosine,
                lexical,
                score,
                standing: 0.0,
                standing_known: false,
                shared: shared.into_iter().map(|(_, w)| w).collect(),
            }
        })
        .collect();
    if scored.len() >= STANDING_FROM {
        let mean = scored.iter().map(|s| s.score).sum::<f64>() / n;
        let spread = (scored.iter().map(|s| (s.score - mean).powi(2)).sum::<f64>() / n)
            .sqrt()
            .max(1e-6);
        for s in &mut scored {
            s.standing = (s.score - mean) / spread;
            s.standing_known = true;
        }
    }
    scored
}

/// The words two texts share (as the lexical side compares them), the rarest first by the
/// similarity table's order of its vocabulary (longest first without it): why a flag fired.
pub fn shared_words(
    model: Option<&Embedder>,
    first: &Parts<'_>,
    second: &Parts<'_>,
) -> Vec<String> {
    let mut theirs: Vec<String> = Vec::new();
    for (text, _) in second {
        theirs.extend(terms(text).map(|(stem, _)| stem));
    }
    let mut shared: Vec<(usize, String)> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for (text, _) in first {
        for (stem, word) in terms(text) {
            if seen.contains(&stem) || !theirs.contains(&stem) {
                continue;
            }
            seen.push(stem);
            let rarity = match model {
                Some(model) if model.word_rows(&word, &mut rows) => {
                    rows.iter().copied().min().unwrap_or(0)
                }
                _ => word.len(),
            };
            shared.push((rarity, word));
        }
    }
    shared.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    shared.into_iter().map(|(_, w)| w).collect()
}

/// The cosine of the query with each candidate, the pool's mean vector (shrunk for small
/// pools) taken out of both when `centre`; `None` when the query has no vector.
fn cosines(
    model: &Embedder,
    mix: Mix,
    query: &Parts<'_>,
    pool: &[Parts<'_>],
) -> Option<Vec<Option<f32>>> {
    let (mut query, mut vectors) = if mix.pool_rarity {
        // Document frequency of every word over the pool and the query.
        let mut df: HashMap<String, f32> = HashMap::new();
        for parts in pool.iter().chain(std::iter::once(query)) {
            let mut seen: Vec<String> = Vec::new();
            for (text, _) in parts {
                for (stem, _) in terms(text) {
                    if !seen.contains(&stem) {
                        seen.push(stem);
                    }
                }
            }
            for stem in seen {
                *df.entry(stem).or_default() += 1.0;
            }
        }
        let n = (pool.len() + 1) as f32;
        let embed = |parts: &Parts<'_>| -> Option<Vec<f32>> {
            let mut sum = vec![0.0_f32; model.dims()];
            let mut rows = Vec::new();
            let mut any = false;
            for (text, weight) in parts {
                for (stem, word) in terms(text) {
                    let idf = (1.0 + n / df.get(&stem).copied().unwrap_or(1.0)).ln();
                    any |= model.add_word(&word, weight * idf, &mut rows, &mut sum);
                }
            }
            (any && normalise(&mut sum)).then_some(sum)
        };
        (embed(query)?, pool.iter().map(embed).collect::<Vec<_>>())
    } else {
        (
            model.embed(query)?,
            pool.iter().map(|parts| model.embed(parts)).collect(),
        )
    };
    if mix.centre {
        let mut mean = vec![0.0_f32; model.dims()];
        let mut count = 0.0_f32;
        for v in vectors.iter().flatten() {
            mean.iter_mut().zip(v).for_each(|(m, x)| *m += x);
            count += 1.0;
        }
        if count > 0.0 {
            let scale = 1.0 / (count + CENTRE_SHRINK);
            mean.iter_mut().for_each(|m| *m *= scale);
            let off = |v: &mut Vec<f32>| {
                v.iter_mut().zip(&mean).for_each(|(x, m)| *x -= m);
                normalise(v)
            };
            if !off(&mut query) {
                return None;
            }
            for v in &mut vectors {
                if let Some(inner) = v {
                    if !off(inner) {
                        *v = None;
                    }
                }
            }
        }
    }
    Some(
        vectors
            .iter()
            .map(|v| v.as_ref().map(|v| cosine(&query, v)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_fold_plurals_and_endings() {
        assert_eq!(stem("certificates"), stem("certificate"));
        assert_eq!(stem("retries"), stem("retry"));
        assert_eq!(stem("expired"), stem("expire"));
        assert_eq!(stem("class"), "class");
    }

    #[test]
    fn the_same_pool_scores_the_same_in_any_order() {
        let model = super::super::embedder();
        let mix = Mix {
            vector_weight: 0.7,
            centre: true,
            pool_rarity: false,
        };
        let query: Parts<'_> = vec![("TLS certificate expired on the API gateway", 1.0)];
        let a: Parts<'_> = vec![("Certificates lapsed at the edge proxy", 1.0)];
        let b: Parts<'_> = vec![("Disk filled up on the database host", 1.0)];
        let c: Parts<'_> = vec![("Deploy pipeline broke after a library upgrade", 1.0)];
        let one = rank(model, mix, &query, &[a.clone(), b.clone(), c.clone()]);
        let two = rank(model, mix, &query, &[c, b, a]);
        assert!((one[0].score - two[2].score).abs() < 1e-9);
        assert!(one[0].score > one[1].score);
        assert_eq!(one[0].shared, vec!["certificate".to_owned()]);
    }
}

/// The calibration study: `cargo test --lib recurrence::rank::study -- --ignored --nocapture`
/// with `RECURRENCE_SET=dev` (tune) or `holdout` (read only). Simulates the HTTP test of
/// tests/it/recurrence.rs: earlier loops and distractors have their actions done; the pool of
/// a flag check is every other loop.
#[cfg(test)]
mod study {
    use super::*;

    #[test]
    #[ignore]
    fn study() {
        let set = std::env::var("RECURRENCE_SET").unwrap_or_else(|_| "dev".to_owned());
        let path = format!(
            "{}/tests/data/recurrence-{set}.tsv",
            env!("CARGO_MANIFEST_DIR")
        );
        let tsv = std::fs::read_to_string(path).expect("set");
        let rows: Vec<(u32, String, String, String)> = tsv
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (
                    f[0].parse().expect("group"),
                    f[1].into(),
                    f[2].into(),
                    f[3].into(),
                )
            })
            .collect();
        let model = super::super::embedder();
        let done: Vec<usize> = (0..rows.len())
            .filter(|&i| rows[i].1 == "earlier" || rows[i].1 == "distractor")
            .collect();
        let earlier = |g: u32| {
            (0..rows.len())
                .find(|&i| rows[i].0 == g && rows[i].1 == "earlier")
                .expect("earlier")
        };
        let parts =
            |i: usize| -> Parts<'_> { vec![(rows[i].2.as_str(), 1.0), (rows[i].3.as_str(), 1.0)] };
        for (centre, pool_rarity) in [(false, false), (true, false), (false, true), (true, true)] {
            for weight in [0.5, 0.7, 0.9, 1.0] {
                let mix = Mix {
                    vector_weight: weight,
                    centre,
                    pool_rarity,
                };
                // precision@5 over earlier + distractors.
                let pool: Vec<Parts<'_>> = done.iter().map(|&i| parts(i)).collect();
                let (mut top5, mut laters) = (0, 0);
                // per query: (is later, right index in done-pool order, scored over all-others pool)
                let mut checks = Vec::new();
                for q in 0..rows.len() {
                    let role = rows[q].1.as_str();
                    if role != "later" && role != "unrelated" {
                        continue;
                    }
                    if role == "later" {
                        laters += 1;
                        let s = rank(model, mix, &parts(q), &pool);
                        let mut order: Vec<usize> = (0..s.len()).collect();
                        order.sort_by(|&a, &b| s[b].score.total_cmp(&s[a].score));
                        let e = earlier(rows[q].0);
                        if order.iter().take(5).any(|&k| done[k] == e) {
                            top5 += 1;
                        }
                    }
                    let others: Vec<usize> = (0..rows.len()).filter(|&i| i != q).collect();
                    let s = rank(
                        model,
                        mix,
                        &parts(q),
                        &others.iter().map(|&i| parts(i)).collect::<Vec<_>>(),
                    );
                    let mut cands: Vec<(usize, Scored)> = others
                        .iter()
                        .zip(s)
                        .filter(|(i, _)| done.contains(i))
                        .map(|(i, s)| (*i, s))
                        .collect();
                    cands.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
                    let right = (role == "later").then(|| earlier(rows[q].0));
                    checks.push((right, cands));
                }
                let mut best = (f64::MIN, 0.0, 0.0, 0.0, 0.0);
                let top1 = checks
                    .iter()
                    .filter(|(r, c)| r.is_some() && c.first().map(|x| x.0) == *r)
                    .count();
                eprintln!("{set} centre {centre} idf {pool_rarity} weight {weight}: top1 among done {:.3}", top1 as f64 / laters as f64);
                for min_cos in [
                    0.0, 0.2, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8,
                ] {
                    for min_standing in [0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0] {
                        let (mut right, mut wrong_unrelated, mut unrelated) = (0, 0, 0);
                        for (r, cands) in &checks {
                            // Here `min_standing` stands for the margin over the next done loop, in
                            // hundredths of the score when RECURRENCE_MARGIN is set.
                            let flagged = if std::env::var("RECURRENCE_MARGIN").is_ok() {
                                let margin = cands
                                    .get(1)
                                    .map_or(1.0, |(_, n)| cands[0].1.score - n.score);
                                cands.first().filter(|(_, s)| {
                                    f64::from(s.cosine.unwrap_or(0.0)) >= min_cos
                                        && margin * 100.0 >= min_standing
                                })
                            } else {
                                cands.iter().find(|(_, s)| {
                                    f64::from(s.cosine.unwrap_or(0.0)) >= min_cos
                                        && s.standing >= min_standing
                                })
                            };
                            match r {
                                Some(e) => {
                                    right += usize::from(flagged.is_some_and(|(i, _)| i == e))
                                }
                                None => {
                                    unrelated += 1;
                                    wrong_unrelated += usize::from(flagged.is_some());
                                }
                            }
                        }
                        let fr = right as f64 / laters as f64;
                        let fu = wrong_unrelated as f64 / unrelated as f64;
                        let objective = fr - if fu > 0.1 { 10.0 * (fu - 0.1) } else { 0.0 };
                        if objective > best.0 {
                            best = (objective, min_cos, min_standing, fr, fu);
                        }
                        if std::env::var("RECURRENCE_ALL").is_ok() {
                            eprintln!("centre {centre} w {weight} cos {min_cos} z {min_standing}: right {fr:.3} unrelated {fu:.3}");
                        }
                    }
                }
                eprintln!(
                    "{set} centre {centre} idf {pool_rarity} weight {weight}: p@5 {:.3}; best cos {} z {}: right {:.3} unrelated {:.3}",
                    top5 as f64 / laters as f64,
                    best.1, best.2, best.3, best.4
                );
            }
        }
    }
}
