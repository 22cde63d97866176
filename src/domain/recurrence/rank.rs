//! Ranking a pool of earlier loops against a new text, the same way whatever database found the
//! pool: the lexical score is BM25 computed here over the pool's own texts (not the database's
//! rank, which differs between FTS5 and `ts_rank`), the meaning score is the cosine of the two
//! texts' vectors after the pool's common direction is taken out, and the flag asks how far a
//! candidate stands above the rest of the pool as well as how close it is.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{cosine, normalise, Embedder};

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

/// A stem as ranking compares it: a hash of its spelling, cheap to keep for every word of every
/// digested loop (two stems of one pool sharing a 64-bit hash is too unlikely to matter).
type StemKey = u64;

fn stem_key(stem: &str) -> StemKey {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    stem.hash(&mut hasher);
    hasher.finish()
}

/// Each lower-case word's stem, or `None` when the lexical side does not count it (a stop word,
/// a number, a single character).
fn stems() -> &'static super::Memo<Option<StemKey>> {
    static MEMO: OnceLock<super::Memo<Option<StemKey>>> = OnceLock::new();
    MEMO.get_or_init(super::Memo::new)
}

/// Calls `each(stem, lower-case word)` for every word of `text` the lexical side counts, up to
/// [`super::PART_WORDS_MAX`] words.
fn for_each_term(text: &str, mut each: impl FnMut(StemKey, &str)) {
    let mut buf = String::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(super::PART_WORDS_MAX)
    {
        let lower = super::lower_case(word, &mut buf);
        let stem = stems().get(lower, |w| {
            (w.chars().nth(1).is_some()
                && !w.chars().all(|c| c.is_ascii_digit())
                && !super::stop_words().contains(w))
            .then(|| stem_key(&stem(w)))
        });
        if let Some(stem) = stem {
            each(stem, lower);
        }
    }
}

/// What ranking reads of one text, worked out once: a loop ranked again (the next keystroke's
/// pool, the next capture's check) need not be read word by word again.
#[derive(Debug, Clone)]
pub struct Digest {
    /// The weighted frequency of each stem, by key.
    terms: Vec<(StemKey, f64)>,
    /// The weighted count of all its terms: BM25's document length.
    length: f64,
    /// Its unit vector; `None` without the table or without a word in it.
    vector: Option<Vec<f32>>,
}

impl Digest {
    /// The digest of a text's weighted parts.
    pub fn of(model: Option<&Embedder>, parts: &Parts<'_>) -> Self {
        let mut frequency: HashMap<StemKey, f64> = HashMap::new();
        let mut length = 0.0;
        for (text, weight) in parts {
            for_each_term(text, |stem, _| {
                length += f64::from(*weight);
                *frequency.entry(stem).or_default() += f64::from(*weight);
            });
        }
        let mut terms: Vec<(StemKey, f64)> = frequency.into_iter().collect();
        terms.sort_unstable_by_key(|(stem, _)| *stem);
        Self {
            terms,
            length,
            vector: model.and_then(|model| model.embed(parts)),
        }
    }

    fn frequency(&self, stem: StemKey) -> Option<f64> {
        self.terms
            .binary_search_by_key(&stem, |(s, _)| *s)
            .ok()
            .map(|i| self.terms[i].1)
    }

    /// About how many bytes it holds.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.terms.len() * std::mem::size_of::<(StemKey, f64)>()
            + self.vector.as_ref().map_or(0, |v| v.len() * 4)
    }
}

/// Scores every candidate of `pool` against `query`, in the pool's order.
pub fn rank(
    model: Option<&Embedder>,
    mix: Mix,
    query: &Parts<'_>,
    pool: &[Parts<'_>],
) -> Vec<Scored> {
    let mut digests: Vec<Digest> = pool.iter().map(|parts| Digest::of(model, parts)).collect();
    let query_vector = if mix.pool_rarity {
        // The vectors weigh words by their rarity in this pool: made again from the texts.
        let Some(model) = model else {
            return score(mix, query, None, &digests.iter().collect::<Vec<_>>());
        };
        let (query_vector, vectors) = pool_rarity_vectors(model, query, pool);
        for (digest, vector) in digests.iter_mut().zip(vectors) {
            digest.vector = vector;
        }
        query_vector
    } else {
        model.and_then(|model| model.embed(query))
    };
    score(
        mix,
        query,
        query_vector,
        &digests.iter().collect::<Vec<_>>(),
    )
}

/// [`rank`] over digests made earlier with the same `model` ([`Digest::of`]). A mix that
/// weighs words by their rarity in the pool needs the texts themselves: use [`rank`].
pub fn rank_digested(
    model: Option<&Embedder>,
    mix: Mix,
    query: &Parts<'_>,
    pool: &[&Digest],
) -> Vec<Scored> {
    debug_assert!(!mix.pool_rarity, "pool rarity needs the texts");
    score(mix, query, model.and_then(|model| model.embed(query)), pool)
}

fn score(
    mix: Mix,
    query: &Parts<'_>,
    query_vector: Option<Vec<f32>>,
    pool: &[&Digest],
) -> Vec<Scored> {
    if pool.is_empty() {
        return Vec::new();
    }
    // The query's distinct words (stem and first spelling).
    let mut query_terms: Vec<(StemKey, String)> = Vec::new();
    let mut seen: std::collections::HashSet<StemKey> = std::collections::HashSet::new();
    for (text, _) in query {
        for_each_term(text, |stem, word| {
            if seen.insert(stem) {
                query_terms.push((stem, word.to_owned()));
            }
        });
    }
    // The weighted frequencies of the query's words in each candidate, by their place.
    let frequencies: Vec<Vec<(usize, f64)>> = pool
        .iter()
        .map(|digest| {
            query_terms
                .iter()
                .enumerate()
                .filter_map(|(i, (stem, _))| digest.frequency(*stem).map(|f| (i, f)))
                .collect()
        })
        .collect();
    let n = pool.len() as f64;
    let mean_length = (pool.iter().map(|d| d.length).sum::<f64>() / n).max(1.0);
    let mut df = vec![0.0_f64; query_terms.len()];
    for tf in &frequencies {
        for (i, _) in tf {
            df[*i] += 1.0;
        }
    }
    let idf: Vec<f64> = df
        .iter()
        .map(|df| (1.0 + (n - df + 0.5) / (df + 0.5)).ln())
        .collect();
    let bm25: Vec<f64> = frequencies
        .iter()
        .zip(pool)
        .map(|(tf, digest)| {
            let norm = BM25_K1 * (1.0 - BM25_B + BM25_B * digest.length / mean_length);
            tf.iter()
                .map(|&(i, f)| idf[i] * f * (BM25_K1 + 1.0) / (f + norm))
                .sum()
        })
        .collect();
    let best_bm25 = bm25.iter().copied().fold(0.0_f64, f64::max);

    let cosines = query_vector.and_then(|query| cosines(mix, query, pool));

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
                .iter()
                .map(|&(t, _)| (idf[t], query_terms[t].1.clone()))
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
    let mut theirs: std::collections::HashSet<StemKey> = std::collections::HashSet::new();
    for (text, _) in second {
        for_each_term(text, |stem, _| {
            theirs.insert(stem);
        });
    }
    let mut ours: Vec<(StemKey, String)> = Vec::new();
    for (text, _) in first {
        for_each_term(text, |stem, word| ours.push((stem, word.to_owned())));
    }
    let mut shared: Vec<(usize, String)> = Vec::new();
    let mut seen: std::collections::HashSet<StemKey> = std::collections::HashSet::new();
    let mut rows = Vec::new();
    for (stem, word) in ours {
        if !theirs.contains(&stem) || !seen.insert(stem) {
            continue;
        }
        let rarity = match model {
            Some(model) if model.word_rows(&word, &mut rows) => {
                rows.iter().copied().min().unwrap_or(0)
            }
            _ => word.len(),
        };
        shared.push((rarity, word));
    }
    shared.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    shared.into_iter().map(|(_, w)| w).collect()
}

/// The query's and each text's vector with every word weighing by its rarity in the pool and the
/// query (inverse document frequency) on top of the table's own rarity.
fn pool_rarity_vectors(
    model: &Embedder,
    query: &Parts<'_>,
    pool: &[Parts<'_>],
) -> (Option<Vec<f32>>, Vec<Option<Vec<f32>>>) {
    let mut df: HashMap<StemKey, f32> = HashMap::new();
    for parts in pool.iter().chain(std::iter::once(query)) {
        let mut seen: std::collections::HashSet<StemKey> = std::collections::HashSet::new();
        for (text, _) in parts {
            for_each_term(text, |stem, _| {
                seen.insert(stem);
            });
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
            for_each_term(text, |stem, word| {
                let idf = (1.0 + n / df.get(&stem).copied().unwrap_or(1.0)).ln();
                any |= model.add_word(word, weight * idf, &mut rows, &mut sum);
            });
        }
        (any && normalise(&mut sum)).then_some(sum)
    };
    (embed(query), pool.iter().map(embed).collect())
}

/// The cosine of the query with each candidate, the pool's mean vector (shrunk for small
/// pools) taken out of both when `centre`; `None` when the centred query has no direction left.
fn cosines(mix: Mix, mut query: Vec<f32>, pool: &[&Digest]) -> Option<Vec<Option<f32>>> {
    if !mix.centre {
        return Some(
            pool.iter()
                .map(|d| d.vector.as_ref().map(|v| cosine(&query, v)))
                .collect(),
        );
    }
    let mut vectors: Vec<Option<Vec<f32>>> = pool.iter().map(|d| d.vector.clone()).collect();
    let mut mean = vec![0.0_f32; query.len()];
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
    fn kept_digests_rank_as_the_texts_do() {
        let model = super::super::embedder();
        for mix in [
            super::super::CALIBRATION.mix,
            Mix {
                vector_weight: 0.5,
                centre: true,
                pool_rarity: false,
            },
        ] {
            let query: Parts<'_> = vec![("TLS certificate expired on the API gateway", 1.0)];
            let pool: Vec<Parts<'_>> = vec![
                vec![("Certificates lapsed at the edge proxy", 1.0), ("", 2.0)],
                vec![("Disk filled up on the database host", 1.0)],
                vec![("The gateway certificate was renewed by hand", 2.0)],
            ];
            let direct = rank(model, mix, &query, &pool);
            let digests: Vec<Digest> = pool.iter().map(|p| Digest::of(model, p)).collect();
            let kept = rank_digested(model, mix, &query, &digests.iter().collect::<Vec<_>>());
            assert_eq!(direct.len(), kept.len());
            for (a, b) in direct.iter().zip(&kept) {
                assert_eq!(a.score.to_bits(), b.score.to_bits());
                assert_eq!(a.shared, b.shared);
            }
        }
    }

    #[test]
    fn a_part_is_read_up_to_its_word_limit() {
        let long = format!(
            "{} certificate",
            "word ".repeat(super::super::PART_WORDS_MAX)
        );
        let query: Parts<'_> = vec![("certificate", 1.0)];
        let scored = rank(
            None,
            super::super::CALIBRATION.mix,
            &query,
            &[vec![(long.as_str(), 1.0)]],
        );
        assert!(scored[0].shared.is_empty());
        let short = format!("{} certificate", "word ".repeat(10));
        let scored = rank(
            None,
            super::super::CALIBRATION.mix,
            &query,
            &[vec![(short.as_str(), 1.0)]],
        );
        assert_eq!(scored[0].shared, vec!["certificate".to_owned()]);
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
        let mut tsv = std::fs::read_to_string(path).expect("set");
        // The split's file of further unrelated incidents, where it has one.
        if let Ok(more) = std::fs::read_to_string(format!(
            "{}/tests/data/recurrence-{set}-unrelated.tsv",
            env!("CARGO_MANIFEST_DIR")
        )) {
            tsv.push_str(&more);
        }
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
