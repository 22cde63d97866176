//! What people type into the search box, read into words, phrases and exclusions that both
//! databases can run without a syntax error; the salient words of a text for finding similar
//! loops; and the kinds of record search covers.
//!
//! The query language is deliberately small and forgiving: words (the last one also matches as a
//! prefix, so results appear while typing), `"quoted phrases"`, and `-word` to exclude. Anything
//! else — `AND`, `OR`, `*`, brackets, stray quotes — is read as plain words or ignored, so no
//! input can make the query fail. Both backends get their query built from these terms, never
//! from the raw text, which keeps their results alike.

use super::text::Invalid;

/// The kinds of record search covers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    Loop,
    Learning,
    Factor,
    Action,
    Experiment,
}

impl DocKind {
    pub const ALL: [DocKind; 5] = [
        DocKind::Loop,
        DocKind::Learning,
        DocKind::Factor,
        DocKind::Action,
        DocKind::Experiment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Loop => "loop",
            DocKind::Learning => "learning",
            DocKind::Factor => "factor",
            DocKind::Action => "action",
            DocKind::Experiment => "experiment",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        DocKind::ALL
            .into_iter()
            .find(|k| k.as_str() == raw.trim())
            .ok_or_else(|| {
                Invalid::new("must be one of: loop, learning, factor, action, experiment")
            })
    }

    /// How pages name the kind.
    pub fn label(self) -> &'static str {
        match self {
            DocKind::Loop => "Loop",
            DocKind::Learning => "Learning",
            DocKind::Factor => "Contributing factor",
            DocKind::Action => "Action item",
            DocKind::Experiment => "Experiment",
        }
    }
}

impl super::text::Word for DocKind {
    fn parse_word(raw: &str) -> Result<Self, Invalid> {
        DocKind::parse(raw)
    }
}

/// One part of a query: a run of words that must appear together (one word, or a phrase).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Lower-case words made of letters and digits only.
    pub words: Vec<String>,
    /// The last word may be the start of a longer word.
    pub prefix: bool,
    /// The record must not contain it.
    pub excluded: bool,
}

/// A parsed search query. `terms` may be empty (nothing to search for).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchQuery {
    pub terms: Vec<Term>,
}

/// The most characters of a query that are read; the rest is ignored.
pub const QUERY_MAX: usize = 500;
/// The most terms a query keeps (the rest is ignored), bounding the work of one search.
pub const TERMS_MAX: usize = 12;

/// Letters and digits in lower case; every other character separates words.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

impl SearchQuery {
    /// Reads what someone typed. Never fails: unknown syntax becomes words or is dropped.
    pub fn parse(raw: &str) -> Self {
        let raw: String = raw.chars().take(QUERY_MAX).collect();
        let mut terms = Vec::new();
        let mut rest = raw.as_str();
        while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
            rest = &rest[start..];
            let excluded = rest.starts_with('-');
            let body = if excluded { &rest[1..] } else { rest };
            let (text, quoted, next) = if let Some(inner) = body.strip_prefix('"') {
                match inner.find('"') {
                    Some(end) => (&inner[..end], true, &inner[end + 1..]),
                    None => (inner, true, ""),
                }
            } else {
                let end = body.find(char::is_whitespace).unwrap_or(body.len());
                (&body[..end], false, &body[end..])
            };
            rest = next;
            let found = words(text);
            if found.is_empty() {
                continue;
            }
            // Boolean operators typed in capitals are read as the words they are, not syntax:
            // the implicit AND already applies, and OR/NOT would surprise people on one backend.
            if quoted {
                terms.push(Term {
                    words: found,
                    prefix: false,
                    excluded,
                });
            } else {
                // "deploy-failed" is two words that belong together.
                let phrase = found.len() > 1;
                terms.push(Term {
                    words: found,
                    prefix: !phrase,
                    excluded,
                });
            }
        }
        terms.truncate(TERMS_MAX);
        // Only the last positive, unquoted single word is a prefix.
        let last = terms.iter().rposition(|t| !t.excluded);
        for (i, term) in terms.iter_mut().enumerate() {
            term.prefix = term.prefix && Some(i) == last && !term.excluded;
        }
        SearchQuery { terms }
    }

    /// The same terms with no prefix matching (exact stems are far cheaper to highlight).
    pub fn without_prefix(&self) -> SearchQuery {
        SearchQuery {
            terms: self
                .terms
                .iter()
                .map(|t| Term {
                    prefix: false,
                    ..t.clone()
                })
                .collect(),
        }
    }

    /// True when nothing positive is asked for (exclusions alone find nothing).
    pub fn is_empty(&self) -> bool {
        self.terms.iter().all(|t| t.excluded)
    }

    /// The FTS5 expression for the user's words, restricted to the `title` and `body` columns.
    /// Every word is a quoted string of letters and digits, so the expression is always valid.
    pub fn to_fts5(&self) -> Option<String> {
        let (positive, negative) = self.fts5_phrase_lists();
        if positive.is_empty() {
            return None;
        }
        let mut expression = format!("{{title body}} : ({})", positive.join(" "));
        if !negative.is_empty() {
            expression = format!(
                "({expression}) NOT ({{title body}} : ({}))",
                negative.join(" OR ")
            );
        }
        Some(expression)
    }

    /// The FTS5 phrases of [`Self::to_fts5`] in the order they appear in the expression (which
    /// is how FTS5 numbers them for ranking functions).
    pub fn fts5_phrases(&self) -> Vec<String> {
        let (mut positive, negative) = self.fts5_phrase_lists();
        positive.extend(negative);
        positive
    }

    fn fts5_phrase_lists(&self) -> (Vec<String>, Vec<String>) {
        let render = |t: &Term| {
            let quoted = format!("\"{}\"", t.words.join(" "));
            if t.prefix {
                format!("{quoted}*")
            } else {
                quoted
            }
        };
        let positive = self
            .terms
            .iter()
            .filter(|t| !t.excluded)
            .map(render)
            .collect();
        let negative = self
            .terms
            .iter()
            .filter(|t| t.excluded)
            .map(render)
            .collect();
        (positive, negative)
    }

    /// The text for PostgreSQL's `to_tsquery`: words of letters and digits joined by its
    /// operators, so it always parses.
    pub fn to_tsquery(&self) -> Option<String> {
        let render = |t: &Term| {
            let joined = t.words.join(" <-> ");
            let joined = if t.words.len() > 1 {
                format!("({joined})")
            } else {
                joined
            };
            match (t.excluded, t.prefix) {
                (true, _) => format!("!{joined}"),
                (false, true) => format!("{joined}:*"),
                (false, false) => joined,
            }
        };
        if self.is_empty() {
            return None;
        }
        Some(
            self.terms
                .iter()
                .map(render)
                .collect::<Vec<_>>()
                .join(" & "),
        )
    }
}

/// Common English words that say nothing about what an incident was about.
pub(crate) const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "down",
    "during",
    "each",
    "even",
    "few",
    "for",
    "from",
    "further",
    "got",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "me",
    "more",
    "most",
    "my",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "out",
    "over",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "still",
    "such",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "again",
    "expected",
    "happened",
    "should",
    "instead",
    "went",
    "get",
    "gets",
    "getting",
    "s",
    "t",
    "don",
    "didn",
    "wasn",
    "weren",
    "isn",
    "aren",
    "couldn",
    "wouldn",
    "shouldn",
    "won",
    "yesterday",
    "today",
    "morning",
    "afternoon",
    "evening",
    "night",
    "week",
    "minutes",
    "hours",
    "time",
];

/// The most terms a similarity query uses: enough for a paragraph, few enough to stay fast.
pub const SALIENT_MAX: usize = 16;

/// The words of `text` worth matching on when looking for similar loops: stop words and
/// one-letter words dropped, duplicates removed, title words first (they say most), at most
/// [`SALIENT_MAX`].
pub fn salient_terms(title: &str, description: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for word in words(title).into_iter().chain(words(description)) {
        if word.chars().count() < 2
            || word.chars().all(|c| c.is_ascii_digit())
            || STOP_WORDS.contains(&word.as_str())
            || seen.contains(&word)
        {
            continue;
        }
        seen.push(word);
        if seen.len() == SALIENT_MAX {
            break;
        }
    }
    seen
}

/// Quoted FTS5 alternatives of salient words: any of them may match, more matches rank higher.
pub fn any_of_fts5(terms: &[String]) -> Option<String> {
    (!terms.is_empty()).then(|| {
        let quoted: Vec<String> = terms.iter().map(|t| format!("\"{t}\"")).collect();
        format!("{{title body}} : ({})", quoted.join(" OR "))
    })
}

/// The `to_tsquery` text for "any of these words".
pub fn any_of_tsquery(terms: &[String]) -> Option<String> {
    (!terms.is_empty()).then(|| terms.join(" | "))
}

/// Marks that the stores put around matched words in snippets (control characters that never
/// appear in escaped output); pages turn them into `<mark>` after escaping the text.
pub const MARK_START: char = '\u{2}';
pub const MARK_END: char = '\u{3}';

/// Words of `text` as byte ranges (runs of letters and digits, as [`words`] reads them).
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

impl SearchQuery {
    /// Whether a word of a record (any case) starts with one of the query's positive words.
    fn marks(&self, word: &str) -> bool {
        let word = word.to_lowercase();
        self.terms
            .iter()
            .filter(|t| !t.excluded)
            .flat_map(|t| &t.words)
            .any(|w| word.starts_with(w.as_str()))
    }

    /// `text` with every word that starts with a positive query word between [`MARK_START`]
    /// and [`MARK_END`]. What the stores' own highlighting does where it would cost too much
    /// (a prefix, for which FTS5 merges every posting of every word it starts); it matches word
    /// beginnings rather than stems.
    pub fn highlight(&self, text: &str) -> String {
        self.highlight_span(text, &word_spans(text), 0, usize::MAX)
    }

    /// Up to `words` words of `text` around the first marked word (from the start when none
    /// is), marked as by [`Self::highlight`], with "…" where text was left out.
    pub fn snippet(&self, text: &str, words: usize) -> String {
        let spans = word_spans(text);
        let first = spans
            .iter()
            .position(|(a, b)| self.marks(&text[*a..*b]))
            .unwrap_or(0);
        let start = first.saturating_sub(words / 4);
        let end = (start + words).min(spans.len());
        self.highlight_span(text, &spans, start, end)
    }

    fn highlight_span(
        &self,
        text: &str,
        spans: &[(usize, usize)],
        start: usize,
        end: usize,
    ) -> String {
        let end = end.min(spans.len());
        if start >= end {
            return if spans.is_empty() {
                text.to_owned()
            } else {
                String::new()
            };
        }
        let (from, to) = if start == 0 && end == spans.len() {
            (0, text.len())
        } else {
            (spans[start].0, spans[end - 1].1)
        };
        let mut out = String::with_capacity(to - from + 16);
        if from > 0 {
            out.push('…');
        }
        let mut at = from;
        for (a, b) in &spans[start..end] {
            out.push_str(&text[at..*a]);
            if self.marks(&text[*a..*b]) {
                out.push(MARK_START);
                out.push_str(&text[*a..*b]);
                out.push(MARK_END);
            } else {
                out.push_str(&text[*a..*b]);
            }
            at = *b;
        }
        out.push_str(&text[at..to]);
        if to < text.len() {
            out.push('…');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlighting_marks_word_beginnings_and_keeps_the_text() {
        let q = SearchQuery::parse("queue deplo");
        let m = |s: &str| format!("{MARK_START}{s}{MARK_END}");
        assert_eq!(
            q.highlight("The Deployment stalled; queues grew."),
            format!("The {} stalled; {} grew.", m("Deployment"), m("queues"))
        );
        assert_eq!(q.highlight(""), "");
        let long = (0..40)
            .map(|i| {
                if i == 30 {
                    "deployed".to_owned()
                } else {
                    format!("w{i}")
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
        let snippet = q.snippet(&long, 8);
        assert!(snippet.starts_with("…w28 w29 "), "{snippet}");
        assert!(snippet.contains(&m("deployed")), "{snippet}");
        assert!(snippet.ends_with("w35…"), "{snippet}");
        assert_eq!(q.snippet("no match here", 24), "no match here");
        assert_eq!(
            SearchQuery::parse("-deploy x").highlight("deploy"),
            "deploy"
        );
    }

    #[test]
    fn operators_and_stray_syntax_become_words_or_vanish() {
        let q = SearchQuery::parse(r#"deploy AND OR "unterminated * -"#);
        assert_eq!(
            q.to_fts5().as_deref(),
            Some(r#"{title body} : ("deploy" "and" "or" "unterminated")"#)
        );
        assert!(SearchQuery::parse("* - \" ( ) :").is_empty());
        assert!(SearchQuery::parse("-alone").is_empty());
    }

    #[test]
    fn last_word_is_a_prefix_phrases_and_exclusions_are_kept() {
        let q = SearchQuery::parse(r#""disk full" -staging backu"#);
        assert_eq!(
            q.to_fts5().as_deref(),
            Some(r#"({title body} : ("disk full" "backu"*)) NOT ({title body} : ("staging"))"#)
        );
        assert_eq!(
            q.to_tsquery().as_deref(),
            Some("(disk <-> full) & !staging & backu:*")
        );
    }

    #[test]
    fn salient_terms_drop_stop_words_and_repeats() {
        assert_eq!(
            salient_terms(
                "The backup failed",
                "The backup of the database failed at 3 am"
            ),
            vec!["backup", "failed", "database"]
        );
    }

    #[test]
    fn kinds_round_trip() {
        for kind in DocKind::ALL {
            assert_eq!(DocKind::parse(kind.as_str()), Ok(kind));
        }
        assert!(DocKind::parse("team").is_err());
    }
}
