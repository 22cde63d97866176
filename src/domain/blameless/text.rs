//! Reading prose for the linter: sentences (abbreviations, decimals, list items and headings
//! taken into account), word tokens with character offsets, contractions and possessives split,
//! quotations marked, and who might be a person.

use std::sync::OnceLock;

use rustc_hash::FxHashSet;

/// A word or a mark, with its place in the text in characters.
#[derive(Debug, Clone)]
pub struct Token {
    pub lower: String,
    pub start: usize,
    pub end: usize,
    pub is_word: bool,
    /// Inside quotation marks: a phrase being discussed, not used.
    pub quoted: bool,
    /// A pronoun for people or a role ("he", "someone", "engineer", "team").
    pub is_person_word: bool,
    /// A role or group of people ("engineer", "reviewer", "agency").
    pub is_role: bool,
    /// Looks like a person's name.
    pub is_name: bool,
    capitalised: bool,
}

/// One sentence's tokens.
#[derive(Debug, Clone)]
pub struct Sentence {
    pub tokens: Vec<Token>,
    /// The index of the first word (after list markers).
    pub first_word: usize,
    /// A heading such as "Root cause analysis": not prose.
    pub heading: bool,
}

/// A fixed list of words, looked up by a fast hash. Every word of a text is asked whether it is a
/// role, a pronoun, a determiner …; scanning the lists word by word was a third of the
/// linter's time.
pub(crate) struct WordSet {
    words: &'static [&'static str],
    set: OnceLock<FxHashSet<&'static str>>,
}

impl WordSet {
    pub(crate) const fn new(words: &'static [&'static str]) -> WordSet {
        WordSet {
            words,
            set: OnceLock::new(),
        }
    }

    pub(crate) fn contains(&self, word: &str) -> bool {
        self.set
            .get_or_init(|| self.words.iter().copied().collect())
            .contains(word)
    }
}

static ABBREVIATIONS: WordSet = WordSet::new(&[
    "e.g", "i.e", "etc", "vs", "dr", "mr", "mrs", "ms", "prof", "no", "fig", "approx", "inc",
    "ltd", "co", "st", "jr", "sr", "cf", "al", "eg", "ie", "min", "max", "est",
]);

static PRONOUNS: WordSet = WordSet::new(&[
    "he",
    "she",
    "they",
    "we",
    "i",
    "you",
    "someone",
    "somebody",
    "anyone",
    "anybody",
    "nobody",
    "no-one",
    "everyone",
    "everybody",
    "whoever",
    "people",
    "person",
    "staff",
    "colleagues",
]);

static ROLES: WordSet = WordSet::new(&[
    "engineer",
    "developer",
    "dev",
    "operator",
    "reviewer",
    "manager",
    "analyst",
    "admin",
    "administrator",
    "contractor",
    "agency",
    "intern",
    "hire",
    "lead",
    "owner",
    "facilitator",
    "team",
    "department",
    "designer",
    "tester",
    "marketing",
    "finance",
    "sales",
    "support",
    "hr",
    "legal",
    "vendor",
    "supplier",
    "partner",
    "consultant",
    "colleague",
    "coordinator",
    "officer",
    "director",
    "executive",
    "employee",
    "worker",
    "on-call",
    "oncall",
    "sre",
    "dba",
    "technician",
    "nurse",
    "doctor",
    "teacher",
    "clerk",
    "driver",
    "user",
    "customer",
    "member",
    "architect",
    "programmer",
    "maintainer",
    "approver",
    "author",
    "committer",
    "trainee",
    "procurement",
    "purchasing",
    "newcomer",
    "boss",
    "supervisor",
    "specialist",
    "accountant",
    "planner",
    "buyer",
]);

/// Capitalised words that begin sentences and are not names.
static STARTERS: WordSet = WordSet::new(&[
    "the",
    "a",
    "an",
    "this",
    "that",
    "these",
    "those",
    "it",
    "its",
    "our",
    "my",
    "their",
    "his",
    "her",
    "your",
    "in",
    "on",
    "at",
    "after",
    "before",
    "when",
    "while",
    "if",
    "during",
    "once",
    "then",
    "there",
    "here",
    "some",
    "several",
    "many",
    "all",
    "each",
    "every",
    "no",
    "nobody",
    "what",
    "why",
    "how",
    "where",
    "who",
    "which",
    "as",
    "for",
    "with",
    "by",
    "from",
    "to",
    "of",
    "and",
    "but",
    "or",
    "so",
    "because",
    "since",
    "although",
    "though",
    "next",
    "last",
    "first",
    "one",
    "two",
    "three",
    "both",
    "neither",
    "either",
    "such",
    "also",
    "only",
    "even",
    "just",
    "had",
    "has",
    "have",
    "was",
    "were",
    "is",
    "are",
    "be",
    "been",
    "did",
    "do",
    "does",
    "we",
    "i",
    "you",
    "he",
    "she",
    "they",
    "anyone",
    "someone",
    "everyone",
    "nothing",
    "something",
    "frankly",
    "obviously",
    "clearly",
    "unfortunately",
    "luckily",
    "meanwhile",
    "however",
    "today",
    "yesterday",
    "tomorrow",
    "once",
    "overall",
    "finally",
    "later",
    "earlier",
    "now",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "human",
    "root",
    "customers",
    "users",
    "most",
    "few",
    "more",
    "less",
    "let",
    "please",
    "note",
    "see",
    "why",
    "yes",
    "ok",
    "thanks",
]);

const NAME_SUFFIXES: &[&str] = &[
    "s", "ion", "ment", "ness", "ity", "ing", "ed", "ly", "ance", "ence", "ure", "ics", "ism",
    "ful", "less", "ive", "ous", "al", "able", "ible",
];

fn singular(word: &str) -> &str {
    word.strip_suffix('s')
        .filter(|w| w.len() > 2)
        .unwrap_or(word)
}

fn is_role(word: &str) -> bool {
    ROLES.contains(word) || ROLES.contains(singular(word)) || word == "people" || word == "staff"
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '’'
}

struct Scanner {
    chars: Vec<char>,
    sentences: Vec<Sentence>,
    tokens: Vec<Token>,
    line_start: bool,
    sentence_at_line_start: bool,
    line_is_heading: bool,
    double_quoted: bool,
    single_quoted: bool,
    terminal: bool,
}

impl Scanner {
    fn push(&mut self, lower: String, start: usize, end: usize, is_word: bool, capitalised: bool) {
        let quoted = self.double_quoted || self.single_quoted;
        let person = is_word && (PRONOUNS.contains(lower.as_str()) || is_role(&lower));
        let role = is_word && is_role(&lower);
        self.tokens.push(Token {
            lower,
            start,
            end,
            is_word,
            quoted,
            is_person_word: person,
            is_role: role,
            is_name: false,
            capitalised,
        });
    }

    fn end_sentence(&mut self, by_line: bool) {
        if self.tokens.is_empty() {
            self.sentence_at_line_start = by_line || self.sentence_at_line_start;
            return;
        }
        let mut tokens = std::mem::take(&mut self.tokens);
        // Skip list markers: "-", "*", "1." and the like.
        let mut first_word = 0;
        while first_word < tokens.len() {
            let t = &tokens[first_word];
            let marker = !t.is_word
                || (t.lower.chars().all(|c| c.is_ascii_digit())
                    && tokens
                        .get(first_word + 1)
                        .is_some_and(|n| n.lower == "." || n.lower == ")"));
            if !marker {
                break;
            }
            first_word += if t.is_word { 2 } else { 1 };
        }
        let first_word = first_word.min(tokens.len().saturating_sub(1));
        mark_names(&mut tokens, first_word);
        let words = tokens.iter().filter(|t| t.is_word).count();
        let has_verb = tokens.iter().any(|t| {
            matches!(
                t.lower.as_str(),
                "is" | "was"
                    | "were"
                    | "are"
                    | "had"
                    | "has"
                    | "have"
                    | "did"
                    | "caused"
                    | "led"
                    | "be"
            )
        });
        // A short unpunctuated line is a heading ("Root cause analysis", "What Went Wrong"), but
        // not a headline or a chat line ("Company blames human error for outage", "lol he broke
        // prod"): those run longer in sentence case or start in lower case.
        let word_tokens = || tokens.iter().filter(|t| t.is_word);
        let starts_capitalised = word_tokens().next().is_some_and(|t| t.capitalised);
        let title_case = word_tokens()
            .filter(|t| t.lower.chars().count() >= 4)
            .all(|t| t.capitalised);
        let heading = self.line_is_heading
            || (by_line
                && self.sentence_at_line_start
                && !self.terminal
                && words <= 8
                && !has_verb
                && starts_capitalised
                && (words <= 4 || title_case));
        self.sentences.push(Sentence {
            tokens,
            first_word,
            heading,
        });
        self.sentence_at_line_start = by_line;
        self.terminal = false;
    }
}

/// Marks tokens that look like names: capitalised, not an acronym, not after "the"; at the start
/// of a sentence only when the word is not a common sentence opener and has no suffix typical of
/// ordinary nouns, verbs or adverbs.
fn mark_names(tokens: &mut [Token], first_word: usize) {
    for i in 0..tokens.len() {
        let t = &tokens[i];
        if !t.is_word || !t.capitalised || t.lower.len() < 2 || t.is_person_word {
            continue;
        }
        if !t.lower.chars().all(char::is_alphabetic) {
            continue;
        }
        let after_determiner = i > 0
            && tokens[i - 1].is_word
            && matches!(
                tokens[i - 1].lower.as_str(),
                "the" | "a" | "an" | "our" | "their" | "this" | "that"
            );
        if after_determiner {
            continue;
        }
        let name = if i == first_word {
            !STARTERS.contains(t.lower.as_str())
                && !NAME_SUFFIXES.iter().any(|s| t.lower.ends_with(s))
        } else {
            !STARTERS.contains(t.lower.as_str())
        };
        tokens[i].is_name = name;
    }
}

/// Splits `text` into sentences of tokens.
pub fn sentences(text: &str) -> Vec<Sentence> {
    let mut s = Scanner {
        chars: text.chars().collect(),
        sentences: Vec::new(),
        tokens: Vec::new(),
        line_start: true,
        sentence_at_line_start: true,
        line_is_heading: false,
        double_quoted: false,
        single_quoted: false,
        terminal: false,
    };
    let n = s.chars.len();
    let mut i = 0;
    while i < n {
        let c = s.chars[i];
        if c == '\n' {
            // A line break ends a sentence when the line was a heading or list item, the next
            // line starts one, the line ended a sentence, or a blank line follows.
            let mut j = i + 1;
            while j < n && (s.chars[j] == ' ' || s.chars[j] == '\t' || s.chars[j] == '\r') {
                j += 1;
            }
            let next = s.chars.get(j).copied();
            let next2 = s.chars.get(j + 1).copied();
            let blank = next == Some('\n') || next.is_none();
            let list_next = matches!(next, Some('-' | '*' | '+' | '#' | '>' | '|'))
                || (next.is_some_and(|c| c.is_ascii_digit()) && matches!(next2, Some('.' | ')')));
            let first_on_line_is_marker = s
                .tokens
                .first()
                .is_some_and(|t| !t.is_word || t.lower.chars().all(|c| c.is_ascii_digit()));
            if blank
                || list_next
                || s.line_is_heading
                || first_on_line_is_marker
                || s.terminal
                || s.tokens.len() <= 8
            {
                s.end_sentence(true);
                s.double_quoted = false;
                s.single_quoted = false;
            }
            s.line_is_heading = false;
            s.line_start = true;
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if s.line_start {
            s.line_start = false;
            if c == '#' {
                s.line_is_heading = true;
                s.sentence_at_line_start = true;
                while i < n && s.chars[i] == '#' {
                    i += 1;
                }
                continue;
            }
        }
        if c.is_alphanumeric() {
            let start = i;
            while i < n {
                let ch = s.chars[i];
                // Hyphens and underscores join words; dots and colons join digits (3.5, 02:00).
                let joins = (ch == '-' || ch == '_' || ch == '.' || ch == ':')
                    && i + 1 < n
                    && s.chars[i + 1].is_alphanumeric()
                    && (!matches!(ch, '.' | ':')
                        || (s.chars[i - 1].is_ascii_digit() && s.chars[i + 1].is_ascii_digit()));
                if ch.is_alphanumeric() || joins {
                    i += 1;
                } else {
                    break;
                }
            }
            let word: String = s.chars[start..i].iter().collect();
            let capitalised = word.chars().next().is_some_and(char::is_uppercase)
                && !(word.chars().count() > 1 && word.chars().all(|c| !c.is_lowercase()));
            let lower = word.to_lowercase();
            // Contractions and possessives: "didn't" → did + n't, "Tom's" → tom + 's.
            if i + 1 < n && is_apostrophe(s.chars[i]) && s.chars[i + 1].is_alphabetic() {
                let mut k = i + 1;
                while k < n && s.chars[k].is_alphabetic() {
                    k += 1;
                }
                let suffix: String = s.chars[i + 1..k].iter().collect::<String>().to_lowercase();
                if suffix == "t" && lower.ends_with('n') && lower.len() > 1 {
                    let stem_end = i - 1;
                    s.push(
                        lower[..lower.len() - 1].to_owned(),
                        start,
                        stem_end,
                        true,
                        capitalised,
                    );
                    s.push("n't".to_owned(), stem_end, k, true, false);
                    i = k;
                    continue;
                }
                if matches!(suffix.as_str(), "s" | "re" | "ve" | "ll" | "d" | "m") {
                    s.push(lower, start, i, true, capitalised);
                    s.push(format!("'{suffix}"), i, k, true, false);
                    i = k;
                    continue;
                }
                // A name such as O'Brien: one word.
                let full: String = s.chars[start..k].iter().collect();
                s.push(
                    full.to_lowercase().replace('’', "'"),
                    start,
                    k,
                    true,
                    capitalised,
                );
                i = k;
                continue;
            }
            s.push(lower, start, i, true, capitalised);
            s.terminal = false;
            continue;
        }
        // Quotation marks.
        let prev_alnum = i > 0 && s.chars[i - 1].is_alphanumeric();
        let next_alnum = i + 1 < n && s.chars[i + 1].is_alphanumeric();
        match c {
            '"' => s.double_quoted = !s.double_quoted,
            '“' | '«' => s.double_quoted = true,
            '”' | '»' => s.double_quoted = false,
            '‘' => s.single_quoted = true,
            '\'' | '’' if !prev_alnum && next_alnum => s.single_quoted = true,
            '\'' | '’' if s.single_quoted && !next_alnum => s.single_quoted = false,
            _ => {}
        }
        if matches!(c, '.' | '!' | '?') {
            let start = i;
            while i < n && matches!(s.chars[i], '.' | '!' | '?') {
                i += 1;
            }
            s.push(s.chars[start].to_string(), start, i, false, false);
            let abbreviation = c == '.'
                && s.tokens.iter().rev().nth(1).is_some_and(|t| {
                    t.is_word
                        && (ABBREVIATIONS.contains(t.lower.as_str())
                            || t.lower.chars().count() == 1)
                });
            let mut j = i;
            while j < n && matches!(s.chars[j], '"' | '”' | '’' | '\'' | ')' | '»') {
                j += 1;
            }
            let followed_by_space = j >= n || s.chars[j].is_whitespace();
            let mut k = j;
            while k < n && s.chars[k] == ' ' {
                k += 1;
            }
            let next = s.chars.get(k).copied();
            let starts_new = next.is_none()
                || next.is_some_and(|ch| {
                    ch.is_uppercase() || ch.is_ascii_digit() || "\"“‘'(*-#\n".contains(ch)
                });
            if followed_by_space && starts_new && !abbreviation {
                if let Some(last) = s.tokens.last_mut() {
                    last.end = j.max(last.end);
                }
                i = j;
                s.terminal = true;
                s.end_sentence(false);
                s.double_quoted = false;
                s.single_quoted = false;
                s.terminal = true;
                continue;
            }
            s.terminal = false;
            continue;
        }
        s.push(c.to_string(), i, i + 1, false, false);
        i += 1;
    }
    s.end_sentence(true);
    s.sentences
}
