//! The blameless-language linter (domain.md §3): finds, in English prose about failures, wording
//! that makes a person the cause, reasons counterfactually, stops at "human error", claims a
//! single root cause, moralises or claims hindsight certainty — and leaves neutral uses alone.
//!
//! Rules are data (`rules.txt`, documented at its top); this module owns the reading of prose:
//! sentence splitting, tokens with character offsets, quotations, headings, negation and the
//! subject of a clause. It does no IO.

mod learned;
mod text;

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use learned::{Example, Features, RuleHit};
pub use learned::{Model, Params};
use rustc_hash::FxHashMap;
use text::{sentences, Sentence, Token, WordSet};

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
    /// Off for the organisation: it reports nothing, and a sentence it matches is left alone.
    enabled: bool,
    /// An organisation's term: always reported, whatever the learned scorer says.
    custom: bool,
}

/// The ids under which the learned scorer reports, one per category (in `Category::ALL` order);
/// an organisation can switch each off like a rule.
pub const LEARNED_RULES: [&str; 6] = [
    "learned-blame-person",
    "learned-counterfactual",
    "learned-human-error",
    "learned-root-cause-singular",
    "learned-moralising",
    "learned-hindsight-certainty",
];

fn learned_text(category: Category) -> (&'static str, &'static str) {
    match category {
        Category::BlamePerson => (
            "This reads as making a person the cause of the failure; blame makes people hide the next one.",
            "What made this action make sense at the time, and what in the system allowed it?",
        ),
        Category::Counterfactual => (
            "This reads as a counterfactual: it describes what did not happen instead of explaining what did.",
            "What made the action that was taken make sense at the time?",
        ),
        Category::HumanError => (
            "This reads as stopping at a person's mistake, where an investigation should start.",
            "What in the design, tools or workload made this error likely, and what would catch it next time?",
        ),
        Category::RootCauseSingular => (
            "This reads as one cause for the whole failure; complex failures have several contributing factors.",
            "Which other conditions had to be present for this to happen?",
        ),
        Category::Moralising => (
            "This reads as a judgement of people's character or competence, which puts them on the defensive.",
            "Describe the behaviour and its effect instead: what happened, and what made it happen?",
        ),
        Category::HindsightCertainty => (
            "This reads as hindsight: the outcome looks predictable only once it is known.",
            "What did people know at the time, and what made the signals hard to see?",
        ),
    }
}

/// A parsed rule set, indexed by each pattern's first word for speed.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    /// First literal word → (rule, pattern) pairs; looked up for every word of a text.
    by_first: FxHashMap<String, Vec<(usize, usize)>>,
    /// Patterns whose first word is a prefix or a class.
    other_first: Vec<(usize, usize)>,
    /// Categories in which the learned scorer is switched off.
    learned_off: Vec<Category>,
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
                enabled: true,
                custom: false,
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
        let mut by_first: FxHashMap<String, Vec<(usize, usize)>> = FxHashMap::default();
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
            learned_off: Vec::new(),
        }
    }

    /// The built-in rules plus an organisation's terms, without the rules it switched off.
    pub fn with_overrides(&self, extra: &[CustomTerm], disabled: &[String]) -> Rules {
        // Switched-off rules stay, marked off, so that what they match is left alone.
        let mut rules: Vec<Rule> = self
            .rules
            .iter()
            .cloned()
            .map(|mut r| {
                r.enabled = r.enabled && !disabled.contains(&r.id);
                r
            })
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
                enabled: true,
                custom: true,
            });
        }
        let mut out = Rules::from_rules(rules);
        out.learned_off = self.learned_off.clone();
        for (category, id) in Category::ALL.iter().zip(LEARNED_RULES) {
            if disabled.iter().any(|d| d == id) && !out.learned_off.contains(category) {
                out.learned_off.push(*category);
            }
        }
        out
    }

    /// The ids of the rules in force, in file order, then the organisation's terms and the
    /// learned scorer's categories, with their category and message.
    pub fn describe(&self) -> Vec<(String, Category, String)> {
        let learned = Category::ALL
            .iter()
            .zip(LEARNED_RULES)
            .filter(|(c, _)| !self.learned_off.contains(c))
            .map(|(c, id)| (id.to_owned(), *c, learned_text(*c).0.to_owned()));
        self.rules
            .iter()
            .filter(|r| r.enabled)
            .map(|r| (r.id.clone(), r.category, r.message.clone()))
            .chain(learned)
            .collect()
    }
}

/// Finds blame-laden wording in `text`, sorted by position: the rules, weighed and completed by
/// the learned scorer shipped in the binary.
pub fn lint(text: &str, rules: &Rules) -> Vec<Finding> {
    lint_with(text, rules, Model::builtin())
}

/// [`lint`] with a given model, or with the rules alone (`None`).
///
/// For each sentence: an organisation's term is always reported; a built-in rule's finding is
/// kept when the model gives the sentence at least `rule_threshold`; a sentence with no rule
/// match is flagged by the model from `flag_threshold`, with its category, the words that weigh
/// most, and a message; a sentence matched by a rule the organisation switched off is left alone.
pub fn lint_with(text: &str, rules: &Rules, model: Option<&Model>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut features = Features::default();
    let mut hits = Vec::new();
    for sentence in sentences(text) {
        if sentence.heading {
            continue;
        }
        hits.clear();
        lint_sentence(&sentence, rules, &mut hits);
        let Some(model) = model else {
            findings.extend(
                hits.drain(..)
                    .filter(|h| h.status == Status::Active && rules.rules[h.rule].enabled)
                    .map(|h| h.finding),
            );
            continue;
        };
        sentence_features(&sentence, rules, &hits, &mut features);
        let score = model.score(&features);
        let silenced = hits
            .iter()
            .any(|h| h.status == Status::Active && !rules.rules[h.rule].enabled);
        let hits_cancelled: Vec<(Category, Status)> = hits
            .iter()
            .filter(|h| h.status != Status::Active)
            .map(|h| (h.finding.category, h.status))
            .collect();
        // Where rules of different categories match overlapping words ("should have known":
        // a counterfactual's words inside hindsight's), one finding is told: the category the
        // model finds likelier in this sentence, else the longer match.
        let overlapping_losers = overlapping_losers(&sentence, rules, &hits, &score);
        // Where a rule saw its own wording negated or quoted ("not human error"), the model
        // does not bring the same category back.
        let cancelled = |c: Category| {
            hits_cancelled
                .iter()
                .any(|(category, status)| *category == c && *status != Status::NoPerson)
        };
        // Three words or fewer ("It went fine.") give the model too little to go on alone.
        let words = sentence.tokens.iter().filter(|t| t.is_word).count();
        let model_may_speak = words > 3
            && !silenced
            && !cancelled(score.category)
            && score.flag >= model.flag_threshold
            && !rules.learned_off.contains(&score.category);
        let before = findings.len();
        for (index, hit) in hits.drain(..).enumerate() {
            if overlapping_losers.contains(&index) {
                continue;
            }
            let rule = &rules.rules[hit.rule];
            // A built-in rule whose category the model finds far less likely than another gives
            // way to the model's finding ("a professional engineer would never deploy": the
            // rule reads a person's act, the sentence judges competence).
            let outvoted = !rule.custom
                && model_may_speak
                && score.probabilities[learned::class_of(hit.finding.category)] * CATEGORY_MARGIN
                    < score.probabilities[learned::class_of(score.category)];
            if hit.status == Status::Active
                && rule.enabled
                && !outvoted
                && (rule.custom || score.flag >= model.rule_threshold)
            {
                findings.push(hit.finding);
            }
        }
        if findings.len() == before && model_may_speak {
            if let Some(finding) = learned_finding(&sentence, model, &features, score.category) {
                findings.push(finding);
            }
        }
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

/// How many times likelier than a rule's category the model's must be for the rule to give way.
const CATEGORY_MARGIN: f32 = 2.0;

/// The rule hits (indexes into `hits`) that give way to an overlapping hit of another category.
fn overlapping_losers(
    sentence: &Sentence,
    rules: &Rules,
    hits: &[Hit],
    score: &learned::Score,
) -> Vec<usize> {
    let candidates: Vec<(usize, usize, usize, f32)> = hits
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            let rule = &rules.rules[h.rule];
            h.status == Status::Active && rule.enabled && !rule.custom
        })
        .map(|(i, h)| {
            let start = sentence.tokens[h.token].start;
            let p = score.probabilities[learned::class_of(h.finding.category)];
            (i, start, h.finding.end, p)
        })
        .collect();
    let mut losers = Vec::new();
    for &(i, start, end, p) in &candidates {
        let beaten = candidates.iter().any(|&(j, s2, e2, q)| {
            j != i
                && hits[j].finding.category != hits[i].finding.category
                && start < e2
                && s2 < end
                && (q > p || (q == p && e2 - s2 > end - start))
        });
        if beaten {
            losers.push(i);
        }
    }
    losers
}

/// The features of a sentence, with the matches of the built-in rules in force.
fn sentence_features(sentence: &Sentence, rules: &Rules, hits: &[Hit], out: &mut Features) {
    let rule_hits: Vec<RuleHit<'_>> = hits
        .iter()
        .filter(|h| {
            let rule = &rules.rules[h.rule];
            rule.enabled && !rule.custom
        })
        .map(|h| RuleHit {
            rule: &rules.rules[h.rule].id,
            category: h.finding.category,
            token: h.token,
            status: h.status,
        })
        .collect();
    learned::features(sentence, &rule_hits, out);
}

/// A finding for a sentence only the model flags: its span is the run of words that push it most
/// towards the category (the whole sentence when no word stands out).
fn learned_finding(
    sentence: &Sentence,
    model: &Model,
    features: &Features,
    category: Category,
) -> Option<Finding> {
    let tokens = &sentence.tokens;
    let weights = model.contributions(features, category, tokens.len());
    let usable = |i: usize| tokens[i].is_word && !tokens[i].quoted && i >= sentence.first_word;
    let best = (0..tokens.len())
        .filter(|&i| usable(i))
        .max_by(|&a, &b| weights[a].total_cmp(&weights[b]));
    let (first, last) = match best {
        Some(best) if weights[best] > 0.0 => {
            let strong = |i: usize| usable(i) && weights[i] > 0.3 * weights[best];
            let (mut first, mut last) = (best, best);
            let mut words = 1;
            while words < 6 {
                let left = (first > 0 && strong(first - 1)).then(|| first - 1);
                let right = (last + 1 < tokens.len() && strong(last + 1)).then(|| last + 1);
                match (left, right) {
                    (Some(l), Some(r)) if weights[l] >= weights[r] => first = l,
                    (Some(_), Some(r)) | (None, Some(r)) => last = r,
                    (Some(l), None) => first = l,
                    (None, None) => break,
                }
                words += 1;
            }
            (first, last)
        }
        _ => {
            let words: Vec<usize> = (0..tokens.len()).filter(|&i| usable(i)).collect();
            (*words.first()?, *words.last()?)
        }
    };
    let (message, suggestion) = learned_text(category);
    Some(Finding {
        category,
        start: tokens[first].start,
        end: tokens[last].end,
        message: message.to_owned(),
        suggestion: suggestion.to_owned(),
        rule: LEARNED_RULES[learned::class_of(category) - 1].to_owned(),
    })
}

/// A rule's match in a sentence, before the learned scorer weighs it.
struct Hit {
    rule: usize,
    token: usize,
    status: Status,
    finding: Finding,
}

/// Whether a rule's match stands, or which of its conditions cancelled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Active,
    Quoted,
    Negated,
    /// The rule wants a person as the subject and the clause has none.
    NoPerson,
}

fn lint_sentence(sentence: &Sentence, rules: &Rules, out: &mut Vec<Hit>) {
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
            // A match the rule's own conditions cancel is kept for the learned scorer, which
            // weighs "not human error" or "the job failed to" differently from the plain match.
            let mut status = if tokens[start..end].iter().any(|t| t.quoted) {
                Status::Quoted
            } else if rule.negatable && negated_before(tokens, start) {
                Status::Negated
            } else {
                Status::Active
            };
            let subject_start = match rule.subject {
                Subject::Any => None,
                Subject::Person | Subject::Other => {
                    let found = person_subject(
                        tokens,
                        start,
                        sentence.first_word,
                        rule.subject == Subject::Other,
                    );
                    if found.is_none() && status == Status::Active {
                        status = Status::NoPerson;
                    }
                    found
                }
            };
            let span_start = match (rule.category, subject_start) {
                (Category::BlamePerson, Some(s)) => tokens[s].start,
                _ => tokens[start].start,
            };
            out.push(Hit {
                rule: r,
                token: start,
                status,
                finding: Finding {
                    category: rule.category,
                    start: span_start,
                    end: tokens[end - 1].end,
                    message: rule.message.clone(),
                    suggestion: rule.suggestion.clone(),
                    rule: rule.id.clone(),
                },
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

static NEGATORS: WordSet = WordSet::new(&[
    "not", "no", "never", "n't", "without", "nor", "neither", "hardly", "nobody", "no-one", "none",
]);

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
        if NEGATORS.contains(t.lower.as_str()) {
            return true;
        }
        seen += 1;
        if seen >= 5 {
            return false;
        }
    }
    false
}

static CLAUSE_WORDS: WordSet = WordSet::new(&[
    "and", "but", "because", "so", "since", "although", "though", "while", "when", "after",
    "before", "which", "if", "or", "yet", "until", "whereas",
]);
static PREPOSITIONS: WordSet = WordSet::new(&[
    "to", "of", "in", "on", "at", "for", "with", "by", "from", "into", "about", "over", "under",
    "during", "than", "via", "through", "behind",
]);
static DETERMINERS: WordSet = WordSet::new(&[
    "the", "a", "an", "our", "their", "his", "her", "my", "your", "its", "this", "that", "these",
    "those", "some", "one", "every", "each", "another", "new",
]);

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
                DETERMINERS.contains(n.lower.as_str()) || n.is_person_word || n.is_name
            });
        if (!t.is_word && matches!(t.lower.as_str(), "," | ";" | ":" | "(" | ")" | "—" | "–"))
            || (t.is_word && CLAUSE_WORDS.contains(t.lower.as_str()))
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
                t.is_word && !CLAUSE_WORDS.contains(t.lower.as_str())
            })
            .filter(|i| tokens[*i].is_word)
            .collect();
    }
    let first = *region.first()?;
    // The noun phrase: up to the first preposition.
    let noun_phrase: Vec<usize> = region
        .iter()
        .copied()
        .take_while(|i| !PREPOSITIONS.contains(tokens[*i].lower.as_str()))
        .collect();
    let writer = |i: usize| matches!(tokens[i].lower.as_str(), "i" | "we");
    let head = noun_phrase
        .iter()
        .copied()
        .find(|i| !DETERMINERS.contains(tokens[*i].lower.as_str()))?;
    let person = tokens[head].is_person_word
        || tokens[head].is_name
        || noun_phrase.iter().any(|i| tokens[*i].is_role);
    if !person || (exclude_writer && noun_phrase.iter().any(|i| writer(*i))) {
        return None;
    }
    Some(first)
}

/// The corpus the shipped model is trained on: the training part of `tests/data/blameless/` and
/// the older development corpus.
pub const TRAIN_CORPUS: &str = include_str!("../../../tests/data/blameless/train.tsv");
pub const DEV_CORPUS: &str = include_str!("../../../tests/data/blameless-dev.tsv");
/// The held-out quarter of the corpus: measured, never trained or tuned on.
pub const HELDOUT_CORPUS: &str = include_str!("../../../tests/data/blameless/heldout.tsv");

/// One labelled sentence of a corpus.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub text: String,
    /// `None` for a sentence that should be left alone.
    pub label: Option<Category>,
}

/// Reads a TSV corpus with a header line: either `id, text, label, phenomenon, register` (label a
/// category or `ok`) or the older `label, category, sentence` (label `flag` or `ok`). Lines that
/// fit neither are skipped.
pub fn read_corpus(tsv: &str) -> Vec<Labelled> {
    let mut lines = tsv.lines();
    let header = lines.next().unwrap_or("");
    let new_format = header.starts_with("id\t");
    lines
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let (text, label) = if new_format {
                let (text, label) = (fields.get(1)?, fields.get(2)?);
                let label = match *label {
                    "ok" => None,
                    other => Some(Category::parse(other)?),
                };
                (text.to_string(), label)
            } else {
                let (flag, category) = (fields.first()?, fields.get(1)?);
                let text = fields.get(2..)?.join("\t");
                let label = match *flag {
                    "flag" => Some(Category::parse(category)?),
                    "ok" => None,
                    _ => return None,
                };
                (text, label)
            };
            Some(Labelled { text, label })
        })
        .collect()
}

/// Precision, recall and F1 of one category (a sentence counts under the category of its first
/// finding).
#[derive(Debug, Clone, Copy, Default)]
pub struct CategoryScore {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

fn prf(tp: usize, fp: usize, fn_: usize) -> (f64, f64, f64) {
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    (precision, recall, f1)
}

/// Precision, recall and the confusion table of the linter on a labelled corpus; `{:#}` also
/// lists the misses.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
    pub tn: usize,
    /// Of "flag or not", whatever the category.
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub per_category: Vec<(Category, CategoryScore)>,
    /// (expected category, predicted category or "none", count)
    pub confusion: Vec<(String, String, usize)>,
    /// One readable line per sentence the linter got wrong.
    pub misses: Vec<String>,
    /// Sentences told under another category whose labelled category is among their later
    /// findings (a diagnostic: the per-category figures still count them as wrong).
    pub label_later: usize,
}

impl Evaluation {
    fn from_predictions(pairs: &[(&Labelled, Prediction)]) -> Evaluation {
        let label_later = pairs
            .iter()
            .filter(|(row, p)| {
                row.label.is_some() && p.first != row.label && p.later.contains(&row.label)
            })
            .count();
        let firsts: Vec<(&Labelled, Option<Category>)> =
            pairs.iter().map(|(row, p)| (*row, p.first)).collect();
        let mut evaluation = Evaluation::from_firsts(&firsts);
        evaluation.label_later = label_later;
        evaluation
    }

    fn from_firsts(pairs: &[(&Labelled, Option<Category>)]) -> Evaluation {
        let (mut tp, mut fp, mut fn_, mut tn) = (0, 0, 0, 0);
        let mut confusion: HashMap<(String, String), usize> = HashMap::new();
        let mut misses = Vec::new();
        let mut per: HashMap<Category, CategoryScore> = HashMap::new();
        for (row, predicted) in pairs {
            match (row.label.is_some(), predicted.is_some()) {
                (true, true) => tp += 1,
                (false, true) => fp += 1,
                (true, false) => fn_ += 1,
                (false, false) => tn += 1,
            }
            if row.label == *predicted {
                if let Some(c) = predicted {
                    per.entry(*c).or_default().tp += 1;
                }
            } else {
                if let Some(c) = predicted {
                    per.entry(*c).or_default().fp += 1;
                }
                if let Some(c) = row.label {
                    per.entry(c).or_default().fn_ += 1;
                }
            }
            let name = |c: Option<Category>| c.map_or("none", Category::as_str).to_owned();
            *confusion
                .entry((name(row.label), name(*predicted)))
                .or_default() += 1;
            if row.label != *predicted {
                misses.push(format!(
                    "expected {}, got {}: {}",
                    name(row.label),
                    name(*predicted),
                    row.text
                ));
            }
        }
        let (precision, recall, f1) = prf(tp, fp, fn_);
        let per_category = Category::ALL
            .iter()
            .map(|c| {
                let mut score = per.get(c).copied().unwrap_or_default();
                (score.precision, score.recall, score.f1) = prf(score.tp, score.fp, score.fn_);
                (*c, score)
            })
            .collect();
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
            per_category,
            confusion,
            misses,
            label_later: 0,
        }
    }

    /// The lowest F1 of any category.
    pub fn min_category_f1(&self) -> f64 {
        self.per_category
            .iter()
            .map(|(_, s)| s.f1)
            .fold(f64::MAX, f64::min)
    }
}

/// What the linter said about one corpus row: the category of its first finding, and those of
/// the others.
struct Prediction {
    first: Option<Category>,
    later: Vec<Option<Category>>,
}

/// A corpus row is linted as a line of its own, as `failforward lint -` reads it.
fn predict(text: &str, rules: &Rules, model: Option<&Model>) -> Prediction {
    let findings = lint_with(&format!("{text}\n"), rules, model);
    Prediction {
        first: findings.first().map(|f| f.category),
        later: findings.iter().skip(1).map(|f| Some(f.category)).collect(),
    }
}

/// Runs the linter (rules and shipped model) over a TSV corpus (see [`read_corpus`]). A sentence
/// is predicted "flag" when the linter finds anything; its category is that of the first finding.
pub fn evaluate(corpus_tsv: &str, rules: &Rules) -> Evaluation {
    evaluate_with(&read_corpus(corpus_tsv), rules, Model::builtin())
}

/// [`evaluate`] with a given model, or the rules alone.
pub fn evaluate_with(corpus: &[Labelled], rules: &Rules, model: Option<&Model>) -> Evaluation {
    let pairs: Vec<(&Labelled, Prediction)> = corpus
        .iter()
        .map(|row| (row, predict(&row.text, rules, model)))
        .collect();
    Evaluation::from_predictions(&pairs)
}

/// The training examples of a corpus: each sentence of each row, with the row's label.
fn examples(corpus: &[&Labelled], rules: &Rules) -> Vec<Example> {
    let mut out = Vec::new();
    let mut hits = Vec::new();
    for row in corpus {
        for sentence in sentences(&format!("{}\n", row.text)) {
            if sentence.heading {
                continue;
            }
            hits.clear();
            lint_sentence(&sentence, rules, &mut hits);
            let mut features = Features::default();
            sentence_features(&sentence, rules, &hits, &mut features);
            out.push(Example {
                features,
                class: row.label.map_or(0, learned::class_of),
            });
        }
    }
    out
}

/// Trains a model on a corpus, with the given rules' matches as features.
pub fn train_model(corpus: &[Labelled], rules: &Rules, params: &Params) -> Model {
    let rows: Vec<&Labelled> = corpus.iter().collect();
    learned::train(&examples(&rows, rules), params)
}

/// The training corpus of the shipped model.
pub fn builtin_training_corpus() -> Vec<Labelled> {
    let mut corpus = read_corpus(TRAIN_CORPUS);
    corpus.extend(read_corpus(DEV_CORPUS));
    corpus
}

/// Trains the model that ships in the binary (`failforward lint-train` writes it to
/// `src/domain/blameless/model.bin`); deterministic.
pub fn train_builtin() -> Model {
    train_model(
        &builtin_training_corpus(),
        Rules::builtin(),
        &Params::default(),
    )
}

/// K-fold cross-validation: row `i` is in fold `i % folds` (the corpus is grouped by label, so the
/// folds are stratified); each fold is predicted by a model trained on the others.
pub fn cross_validate(
    corpus: &[Labelled],
    rules: &Rules,
    params: &Params,
    folds: usize,
) -> Evaluation {
    let folds = folds.max(2);
    let mut predictions: Vec<Option<Prediction>> = (0..corpus.len()).map(|_| None).collect();
    for fold in 0..folds {
        let train: Vec<&Labelled> = corpus
            .iter()
            .enumerate()
            .filter(|(i, _)| i % folds != fold)
            .map(|(_, r)| r)
            .collect();
        let model = learned::train(&examples(&train, rules), params);
        for (i, row) in corpus.iter().enumerate().filter(|(i, _)| i % folds == fold) {
            predictions[i] = Some(predict(&row.text, rules, Some(&model)));
        }
    }
    let pairs: Vec<(&Labelled, Prediction)> = corpus
        .iter()
        .zip(predictions)
        .map(|(row, p)| {
            let p = p.unwrap_or(Prediction {
                first: None,
                later: Vec::new(),
            });
            (row, p)
        })
        .collect();
    Evaluation::from_predictions(&pairs)
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "flag: precision {:.3}, recall {:.3}, F1 {:.3} (tp {}, fp {}, fn {}, tn {})",
            self.precision, self.recall, self.f1, self.tp, self.fp, self.fn_, self.tn
        )?;
        writeln!(
            f,
            "\n{:<22}{:>10}{:>8}{:>8}{:>6}{:>6}{:>6}",
            "category", "precision", "recall", "F1", "tp", "fp", "fn"
        )?;
        for (category, s) in &self.per_category {
            writeln!(
                f,
                "{:<22}{:>10.3}{:>8.3}{:>8.3}{:>6}{:>6}{:>6}",
                category.as_str(),
                s.precision,
                s.recall,
                s.f1,
                s.tp,
                s.fp,
                s.fn_
            )?;
        }
        writeln!(f, "\nconfusion (expected → predicted: count)")?;
        for (expected, predicted, n) in &self.confusion {
            let mark = if expected == predicted { " " } else { "✗" };
            writeln!(f, "{mark} {expected:<20} → {predicted:<20} {n}")?;
        }
        writeln!(
            f,
            "\nflagged under another category with the labelled one among later findings: {}",
            self.label_later
        )?;
        writeln!(f, "\nmisses: {}", self.misses.len())?;
        if !f.alternate() {
            return Ok(());
        }
        for miss in &self.misses {
            writeln!(f, "  {miss}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
