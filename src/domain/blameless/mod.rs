//! The blameless-language linter (domain.md §3): finds, in English prose about failures, wording
//! that makes a person the cause, reasons counterfactually, stops at "human error", claims a
//! single root cause, moralises or claims hindsight certainty — and leaves neutral uses alone.
//!
//! Rules are data (`rules.txt`, documented at its top); this module owns the reading of prose:
//! sentence splitting, tokens with character offsets, quotations, headings, negation and the
//! subject of a clause. It does no IO.

mod text;

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use text::{sentences, Sentence, Token};

/// What kind of blame-laden wording a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    BlamePerson,
    Counterfactual,
    HumanError,
    RootCauseSingular,
    Moralising,
    HindsightCertainty,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::BlamePerson,
        Category::Counterfactual,
        Category::HumanError,
        Category::RootCauseSingular,
        Category::Moralising,
        Category::HindsightCertainty,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::BlamePerson => "blame_person",
            Category::Counterfactual => "counterfactual",
            Category::HumanError => "human_error",
            Category::RootCauseSingular => "root_cause_singular",
            Category::Moralising => "moralising",
            Category::HindsightCertainty => "hindsight_certainty",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Category::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == raw.trim())
    }

    /// A short name for people.
    pub fn label(self) -> &'static str {
        match self {
            Category::BlamePerson => "Blames a person",
            Category::Counterfactual => "Counterfactual",
            Category::HumanError => "Stops at human error",
            Category::RootCauseSingular => "Single root cause",
            Category::Moralising => "Moralising",
            Category::HindsightCertainty => "Hindsight certainty",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of wording the linter points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub category: Category,
    /// Character (Unicode scalar value) offsets into the text; `end` is exclusive.
    pub start: usize,
    pub end: usize,
    pub message: String,
    pub suggestion: String,
    /// The id of the rule that fired.
    pub rule: String,
}

/// A term an organisation adds to the built-in rules.
#[derive(Debug, Clone)]
pub struct CustomTerm {
    pub category: Category,
    pub phrase: String,
    pub message: Option<String>,
    pub suggestion: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Word {
    /// Any of these words.
    Literal(Vec<String>),
    /// A word starting with this.
    Prefix(String),
    /// A person or group acting.
    Person,
    /// Up to eight words of anything.
    Gap,
}

impl Word {
    fn parse(raw: &str) -> Result<Word, String> {
        match raw {
            "{person}" => Ok(Word::Person),
            "{gap}" => Ok(Word::Gap),
            _ if raw.starts_with('{') => Err(format!("unknown word class {raw}")),
            _ if raw.ends_with('*') && raw.len() > 1 => {
                Ok(Word::Prefix(raw.trim_end_matches('*').to_lowercase()))
            }
            _ => Ok(Word::Literal(
                raw.split('/')
                    .filter(|w| !w.is_empty())
                    .map(str::to_lowercase)
                    .collect(),
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    Any,
    Person,
    /// A person or group other than the writer ("I", "we").
    Other,
}

#[derive(Debug, Clone)]
struct Rule {
    id: String,
    category: Category,
    patterns: Vec<Vec<Word>>,
    subject: Subject,
    negatable: bool,
    at_start: bool,
    message: String,
    suggestion: String,
}

/// A parsed rule set, indexed by each pattern's first word for speed.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    /// First literal word → (rule, pattern) pairs.
    by_first: HashMap<String, Vec<(usize, usize)>>,
    /// Patterns whose first word is a prefix or a class.
    other_first: Vec<(usize, usize)>,
}

const BUILTIN: &str = include_str!("rules.txt");

impl Rules {
    /// The built-in rules, parsed once.
    pub fn builtin() -> &'static Rules {
        static RULES: OnceLock<Rules> = OnceLock::new();
        RULES
            .get_or_init(|| Rules::parse(BUILTIN).unwrap_or_else(|_| Rules::from_rules(Vec::new())))
    }

    /// Parses a rules file; errors name the line.
    pub fn parse(text: &str) -> Result<Rules, String> {
        let mut rules: Vec<Rule> = Vec::new();
        let mut current: Option<(usize, String, HashMap<String, String>)> = None;
        let finish = |block: Option<(usize, String, HashMap<String, String>)>,
                      rules: &mut Vec<Rule>|
         -> Result<(), String> {
            let Some((line, id, fields)) = block else {
                return Ok(());
            };
            let get = |key: &str| {
                fields
                    .get(key)
                    .cloned()
                    .ok_or_else(|| format!("line {line}: rule [{id}] has no {key}"))
            };
            let category = get("category")?;
            let category = Category::parse(&category).ok_or_else(|| {
                format!("line {line}: rule [{id}]: unknown category {category:?}")
            })?;
            let mut patterns = Vec::new();
            for pattern in get("pattern")?.split(';') {
                let words: Vec<Word> = pattern
                    .split_whitespace()
                    .map(Word::parse)
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("line {line}: rule [{id}]: {e}"))?;
                if words.is_empty() {
                    continue;
                }
                if words.first() == Some(&Word::Gap) || words.last() == Some(&Word::Gap) {
                    return Err(format!(
                        "line {line}: rule [{id}]: a pattern cannot begin or end with {{gap}}"
                    ));
                }
                patterns.push(words);
            }
            if patterns.is_empty() {
                return Err(format!("line {line}: rule [{id}] has an empty pattern"));
            }
            let subject = match fields.get("subject").map(String::as_str) {
                None => Subject::Any,
                Some("person") => Subject::Person,
                Some("other") => Subject::Other,
                Some(other) => {
                    return Err(format!(
                        "line {line}: rule [{id}]: unknown subject {other:?}"
                    ))
                }
            };
            let message = get("message")?;
            let suggestion = get("suggestion")?;
            rules.push(Rule {
                id,
                category,
                patterns,
                subject,
                negatable: fields.get("negatable").is_some_and(|v| v == "yes"),
                at_start: fields.get("start").is_some_and(|v| v == "yes"),
                message,
                suggestion,
            });
            Ok(())
        };
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if let Some(id) = trimmed.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                finish(current.take(), &mut rules)?;
                if id.is_empty() || rules.iter().any(|r| r.id == id) {
                    return Err(format!(
                        "line {line}: rule id {id:?} is empty or used twice"
                    ));
                }
                current = Some((line, id.to_owned(), HashMap::new()));
                continue;
            }
            let Some((key, value)) = trimmed.split_once('=') else {
                return Err(format!(
                    "line {line}: expected `key = value` or `[rule-id]`"
                ));
            };
            let Some((_, _, fields)) = current.as_mut() else {
                return Err(format!("line {line}: a setting outside any [rule]"));
            };
            fields.insert(key.trim().to_owned(), value.trim().to_owned());
        }
        finish(current.take(), &mut rules)?;
        Ok(Rules::from_rules(rules))
    }

    fn from_rules(rules: Vec<Rule>) -> Rules {
        let mut by_first: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        let mut other_first = Vec::new();
        for (r, rule) in rules.iter().enumerate() {
            for (p, pattern) in rule.patterns.iter().enumerate() {
                match pattern.first() {
                    Some(Word::Literal(words)) => {
                        for word in words {
                            by_first.entry(word.clone()).or_default().push((r, p));
                        }
                    }
                    _ => other_first.push((r, p)),
                }
            }
        }
        Rules {
            rules,
            by_first,
            other_first,
        }
    }

    /// The built-in rules plus an organisation's terms, without the rules it switched off.
    pub fn with_overrides(&self, extra: &[CustomTerm], disabled: &[String]) -> Rules {
        let mut rules: Vec<Rule> = self
            .rules
            .iter()
            .filter(|r| !disabled.contains(&r.id))
            .cloned()
            .collect();
        for (i, term) in extra.iter().enumerate() {
            let words: Vec<Word> = term
                .phrase
                .split_whitespace()
                .map(|w| Word::Literal(vec![w.to_lowercase()]))
                .collect();
            if words.is_empty() {
                continue;
            }
            let id = format!("custom-{}", i + 1);
            if disabled.contains(&id) {
                continue;
            }
            rules.push(Rule {
                id,
                category: term.category,
                patterns: vec![words],
                subject: Subject::Any,
                negatable: true,
                at_start: false,
                message: term.message.clone().unwrap_or_else(|| {
                    format!(
                        "Your organisation asks to avoid \"{}\".",
                        term.phrase.trim()
                    )
                }),
                suggestion: term.suggestion.clone().unwrap_or_else(|| {
                    "How could this be said about the situation rather than a person?".to_owned()
                }),
            });
        }
        Rules::from_rules(rules)
    }

    /// The ids of the rules, in file order, with their category and message.
    pub fn describe(&self) -> Vec<(String, Category, String)> {
        self.rules
            .iter()
            .map(|r| (r.id.clone(), r.category, r.message.clone()))
            .collect()
    }
}

/// Finds blame-laden wording in `text`, sorted by position.
pub fn lint(text: &str, rules: &Rules) -> Vec<Finding> {
    let mut findings = Vec::new();
    for sentence in sentences(text) {
        if sentence.heading {
            continue;
        }
        lint_sentence(&sentence, rules, &mut findings);
    }
    findings.sort_by(|a, b| {
        (a.start, a.end, a.category, a.rule.as_str()).cmp(&(
            b.start,
            b.end,
            b.category,
            b.rule.as_str(),
        ))
    });
    findings.dedup_by(|b, a| a.start == b.start && a.category == b.category);
    findings
}

fn lint_sentence(sentence: &Sentence, rules: &Rules, out: &mut Vec<Finding>) {
    let tokens = &sentence.tokens;
    for start in 0..tokens.len() {
        if !tokens[start].is_word {
            continue;
        }
        let candidates = rules
            .by_first
            .get(tokens[start].lower.as_str())
            .into_iter()
            .flatten()
            .chain(rules.other_first.iter());
        for &(r, p) in candidates {
            let rule = &rules.rules[r];
            if rule.at_start && start != sentence.first_word {
                continue;
            }
            let Some(end) = match_at(&rule.patterns[p], tokens, start) else {
                continue;
            };
            if tokens[start..end].iter().any(|t| t.quoted) {
                continue;
            }
            if rule.negatable && negated_before(tokens, start) {
                continue;
            }
            let subject_start = match rule.subject {
                Subject::Any => None,
                Subject::Person | Subject::Other => {
                    match person_subject(
                        tokens,
                        start,
                        sentence.first_word,
                        rule.subject == Subject::Other,
                    ) {
                        Some(s) => Some(s),
                        None => continue,
                    }
                }
            };
            let span_start = match (rule.category, subject_start) {
                (Category::BlamePerson, Some(s)) => tokens[s].start,
                _ => tokens[start].start,
            };
            out.push(Finding {
                category: rule.category,
                start: span_start,
                end: tokens[end - 1].end,
                message: rule.message.clone(),
                suggestion: rule.suggestion.clone(),
                rule: rule.id.clone(),
            });
        }
    }
}

/// Matches `pattern` from token `start`; returns the index after the last matched token.
fn match_at(pattern: &[Word], tokens: &[Token], start: usize) -> Option<usize> {
    fn go(pattern: &[Word], tokens: &[Token], at: usize) -> Option<usize> {
        let Some((word, rest)) = pattern.split_first() else {
            return Some(at);
        };
        if let Word::Gap = word {
            // Up to eight words (commas do not count), never across a clause-ending mark.
            let mut i = at;
            let mut words = 0;
            loop {
                if let Some(end) = go(rest, tokens, i) {
                    return Some(end);
                }
                match tokens.get(i) {
                    Some(t) if t.is_word && words < 8 => {
                        words += 1;
                        i += 1;
                    }
                    Some(t) if t.lower == "," => i += 1,
                    _ => return None,
                }
            }
        }
        let token = tokens.get(at)?;
        if !token.is_word {
            return None;
        }
        let matched = match word {
            Word::Literal(alternatives) => alternatives.contains(&token.lower),
            Word::Prefix(prefix) => token.lower.starts_with(prefix.as_str()),
            Word::Person => token.is_person_word || token.is_name,
            Word::Gap => false,
        };
        if matched {
            go(rest, tokens, at + 1)
        } else {
            None
        }
    }
    go(pattern, tokens, start)
}

const NEGATORS: &[&str] = &[
    "not", "no", "never", "n't", "without", "nor", "neither", "hardly", "nobody", "no-one", "none",
];

/// A negation among the few words before `start` in the same clause.
fn negated_before(tokens: &[Token], start: usize) -> bool {
    let mut seen = 0;
    for t in tokens[..start].iter().rev() {
        if !t.is_word {
            if matches!(t.lower.as_str(), ";" | ":" | "(" | ")") {
                return false;
            }
            continue;
        }
        if NEGATORS.contains(&t.lower.as_str()) {
            return true;
        }
        seen += 1;
        if seen >= 5 {
            return false;
        }
    }
    false
}

const CLAUSE_WORDS: &[&str] = &[
    "and", "but", "because", "so", "since", "although", "though", "while", "when", "after",
    "before", "which", "if", "or", "yet", "until", "whereas",
];
const PREPOSITIONS: &[&str] = &[
    "to", "of", "in", "on", "at", "for", "with", "by", "from", "into", "about", "over", "under",
    "during", "than", "via", "through", "behind",
];
const DETERMINERS: &[&str] = &[
    "the", "a", "an", "our", "their", "his", "her", "my", "your", "its", "this", "that", "these",
    "those", "some", "one", "every", "each", "another", "new",
];

/// Where the subject of the clause around `start` begins, if it is a person or group.
fn person_subject(
    tokens: &[Token],
    start: usize,
    first_word: usize,
    exclude_writer: bool,
) -> Option<usize> {
    // The clause runs back to a clause mark or a joining word.
    let mut clause_start = first_word;
    for i in (first_word..start).rev() {
        let t = &tokens[i];
        // "that" opens a clause when a noun phrase follows it ("… is that the intern ran …").
        let complementizer = t.lower == "that"
            && tokens.get(i + 1).is_some_and(|n| {
                DETERMINERS.contains(&n.lower.as_str()) || n.is_person_word || n.is_name
            });
        if (!t.is_word && matches!(t.lower.as_str(), "," | ";" | ":" | "(" | ")" | "—" | "–"))
            || (t.is_word && CLAUSE_WORDS.contains(&t.lower.as_str()))
            || complementizer
        {
            clause_start = i + 1;
            break;
        }
    }
    let mut region: Vec<usize> = (clause_start..start)
        .filter(|i| tokens[*i].is_word)
        .collect();
    if region.is_empty() {
        // "…, as usual, …": fall back to the sentence's first clause.
        region = (first_word..start)
            .take_while(|i| {
                let t = &tokens[*i];
                t.is_word && !CLAUSE_WORDS.contains(&t.lower.as_str())
            })
            .filter(|i| tokens[*i].is_word)
            .collect();
    }
    let first = *region.first()?;
    // The noun phrase: up to the first preposition.
    let noun_phrase: Vec<usize> = region
        .iter()
        .copied()
        .take_while(|i| !PREPOSITIONS.contains(&tokens[*i].lower.as_str()))
        .collect();
    let writer = |i: usize| matches!(tokens[i].lower.as_str(), "i" | "we");
    let head = noun_phrase
        .iter()
        .copied()
        .find(|i| !DETERMINERS.contains(&tokens[*i].lower.as_str()))?;
    let person = tokens[head].is_person_word
        || tokens[head].is_name
        || noun_phrase.iter().any(|i| tokens[*i].is_role);
    if !person || (exclude_writer && noun_phrase.iter().any(|i| writer(*i))) {
        return None;
    }
    Some(first)
}

/// Precision, recall and the confusion table of the linter on a labelled corpus.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub tn: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// (expected category, predicted category or "none", count)
    pub confusion: Vec<(String, String, usize)>,
    /// One readable line per sentence the linter got wrong.
    pub misses: Vec<String>,
}

/// Runs the linter over a TSV corpus (`label`, `category`, `sentence`, with a header line). A
/// sentence is predicted "flag" when the linter finds anything; its predicted category is that of
/// the first finding.
pub fn evaluate(corpus_tsv: &str, rules: &Rules) -> Evaluation {
    let (mut tp, mut fp, mut fn_, mut tn) = (0, 0, 0, 0);
    let mut confusion: HashMap<(String, String), usize> = HashMap::new();
    let mut misses = Vec::new();
    for line in corpus_tsv.lines().skip(1) {
        let mut fields = line.splitn(3, '\t');
        let (Some(label), Some(expected), Some(sentence)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let findings = lint(sentence, rules);
        let predicted = findings
            .first()
            .map(|f| f.category.as_str().to_owned())
            .unwrap_or_else(|| "none".to_owned());
        let flagged = !findings.is_empty();
        let should = label == "flag";
        match (should, flagged) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            (false, false) => tn += 1,
        }
        let expected_category = if should {
            expected.to_owned()
        } else {
            "none".to_owned()
        };
        *confusion
            .entry((expected_category.clone(), predicted.clone()))
            .or_default() += 1;
        if expected_category != predicted {
            misses.push(format!(
                "expected {expected_category}, got {predicted}: {sentence}"
            ));
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    let mut confusion: Vec<(String, String, usize)> =
        confusion.into_iter().map(|((e, p), n)| (e, p, n)).collect();
    confusion.sort();
    Evaluation {
        tp,
        fp,
        fn_,
        tn,
        precision,
        recall,
        f1,
        confusion,
        misses,
    }
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "flag: precision {:.3}, recall {:.3}, F1 {:.3} (tp {}, fp {}, fn {}, tn {})",
            self.precision, self.recall, self.f1, self.tp, self.fp, self.fn_, self.tn
        )?;
        writeln!(f, "\nconfusion (expected → predicted: count)")?;
        for (expected, predicted, n) in &self.confusion {
            let mark = if expected == predicted { " " } else { "✗" };
            writeln!(f, "{mark} {expected:<20} → {predicted:<20} {n}")?;
        }
        writeln!(f, "\nmisses: {}", self.misses.len())?;
        for miss in &self.misses {
            writeln!(f, "  {miss}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
