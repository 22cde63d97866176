//! The search query parser: terms both databases can run, rendered back stably.
#![no_main]

use failforward::domain::search::{SearchQuery, Term, MARK_END, MARK_START, QUERY_MAX, TERMS_MAX};
use libfuzzer_sys::fuzz_target;

/// Characters with a meaning in FTS5's or `to_tsquery`'s syntax.
const SYNTAX: &[char] = &[
    '"', '\'', '*', ':', '&', '|', '!', '(', ')', '<', '>', '-', '+', '{', '}', '^', '\\', ',',
];

/// The query as someone could have typed it: phrases quoted, exclusions with `-`, and a single
/// word that is not the prefix quoted so that it does not become one.
fn render(query: &SearchQuery) -> String {
    let last_positive = query.terms.iter().rposition(|t| !t.excluded);
    let term = |(i, t): (usize, &Term)| {
        let sign = if t.excluded { "-" } else { "" };
        let words = t.words.join(" ");
        let bare = t.words.len() == 1 && (t.prefix || Some(i) != last_positive || t.excluded);
        if bare {
            format!("{sign}{words}")
        } else {
            format!("{sign}\"{words}\"")
        }
    };
    query
        .terms
        .iter()
        .enumerate()
        .map(term)
        .collect::<Vec<_>>()
        .join(" ")
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let query = SearchQuery::parse(raw);
    assert!(query.terms.len() <= TERMS_MAX);
    let mut prefixes = 0;
    for term in &query.terms {
        assert!(!term.words.is_empty(), "a term without words");
        for word in &term.words {
            assert!(!word.is_empty(), "an empty word");
            assert!(
                !word
                    .chars()
                    .any(|c| c.is_whitespace() || SYNTAX.contains(&c)),
                "word {word:?} holds query syntax"
            );
            assert_eq!(
                word,
                &word.to_lowercase(),
                "word {word:?} is not lower case"
            );
        }
        if term.prefix {
            prefixes += 1;
            assert!(
                !term.excluded && term.words.len() == 1,
                "prefix on {term:?}"
            );
        }
    }
    assert!(prefixes <= 1, "{prefixes} prefixes");
    assert_eq!(query.to_fts5().is_some(), !query.is_empty());
    assert_eq!(query.to_tsquery().is_some(), !query.is_empty());
    if let Some(fts5) = query.to_fts5() {
        // Every user word sits inside a quoted FTS5 string.
        assert_eq!(
            fts5.matches('"').count() % 2,
            0,
            "unbalanced quotes in {fts5:?}"
        );
        assert_eq!(query.fts5_phrases().len(), query.terms.len());
    }
    // Rendered back, the query reads the same (when lower-casing left letters and digits only:
    // "İ" lower-cases to "i" and a combining dot, which the reader then splits on).
    let plain = query
        .terms
        .iter()
        .flat_map(|t| &t.words)
        .all(|w| w.chars().all(char::is_alphanumeric));
    let rendered = render(&query);
    if plain && rendered.chars().count() <= QUERY_MAX {
        assert_eq!(
            SearchQuery::parse(&rendered),
            query,
            "rendered as {rendered:?}"
        );
    }
    // Highlighting only adds marks: the text itself is unchanged.
    let unmarked = |s: &str| s.replace([MARK_START, MARK_END], "");
    assert_eq!(unmarked(&query.highlight(raw)), unmarked(raw));
    let snippet = unmarked(&query.snippet(raw, 24));
    for part in snippet.split('…').filter(|p| !p.is_empty()) {
        assert!(
            unmarked(raw).contains(part),
            "snippet part {part:?} is not in the text"
        );
    }
});
