//! The learned half of the linter: a multinomial logistic regression (classes `ok` and the six
//! categories) over hashed features of a sentence — words, light lemmas, lemma bigrams, character
//! 4- and 5-grams, words in the scope of a negation, quoted words, the type of each clause's
//! subject (person, writer, thing) joined to the clause's words, the clause's verb joined to its
//! subject's type and to the words after it (what was done to what), the meaning of the
//! sentence's words, of its person-subject clauses and of their verbs (dense vectors from the
//! static token table of `domain::recurrence`, already in the binary for similar loops), classes
//! of several-word expressions (idioms of fault such as "jumped the gun", sarcastic thanks,
//! blame assigned, arguments against blame), and the rules' own matches. It catches what a rule list cannot enumerate ("the on-call borked the
//! failover", "it all came down to one guy") and, in context, overrules a rule that matched a
//! neutral sentence.
//!
//! Training is deterministic (full-batch AdaGrad, fixed order, no randomness), runs offline
//! (`failforward lint-train`) on the corpus in `tests/data/blameless/train.tsv` plus the older
//! development corpus, and the weights ship inside the binary (`model.bin`, 16-bit quantised).
//! Everything here is pure: no IO.

use std::sync::OnceLock;

use rustc_hash::FxHashMap;

use super::text::{Sentence, Token};
use super::{Category, Status, CLAUSE_WORDS, DETERMINERS, NEGATORS};
use crate::domain::recurrence;

/// Hashed feature space: 2^17 buckets keeps collisions rare for a few tens of thousands of
/// distinct features while the shipped weights stay under 2 MiB.
const DIM_BITS: u32 = 17;
const DIM: usize = 1 << DIM_BITS;
/// `ok` and the six categories, in `Category::ALL` order after `ok`.
pub const CLASSES: usize = 7;
const MAGIC: &[u8; 8] = b"FFLINT01";

/// A sentence's features: the sparse ones as (bucket, value, the token it came from), then the
/// dense meaning blocks.
#[derive(Debug, Default, Clone)]
pub struct Features {
    pub items: Vec<(u32, f32, u32)>,
    /// [`MEANING_BLOCKS`] blocks of the token table's width, each already scaled; a block counts
    /// only where `blocks` says the sentence has it. Kept apart from `items` so that the model
    /// reads them in a row against its weights laid out in the same order, instead of gathering
    /// 1,152 hashed buckets a sentence; the sums, and so the scores, are the same.
    pub dense: Vec<f32>,
    pub blocks: [bool; MEANING_BLOCKS],
}

impl Features {
    /// Every feature as (bucket, value): the sparse ones, then the dense blocks present, in the
    /// order the model sums them.
    fn each(&self) -> impl Iterator<Item = (u32, f32)> + '_ {
        let dense = dense_width().map_or(&[][..], |dims| {
            &meaning_buckets(dims)[..self.dense.len().min(MEANING_BLOCKS * dims)]
        });
        let width = dense.len() / MEANING_BLOCKS;
        self.items.iter().map(|&(b, v, _)| (b, v)).chain(
            self.blocks
                .iter()
                .enumerate()
                .filter(|(_, present)| **present)
                .flat_map(move |(block, _)| {
                    let range = block * width..(block + 1) * width;
                    dense[range.clone()]
                        .iter()
                        .copied()
                        .zip(self.dense[range].iter().copied())
                }),
        )
    }
}

/// No token: a feature of the whole sentence.
const NO_TOKEN: u32 = u32::MAX;

/// FNV-1a with a final avalanche, so that the low bits used as the bucket are well mixed.
struct Hasher(u32);

impl Hasher {
    fn new(tag: u8) -> Hasher {
        let mut h = Hasher(0x811c_9dc5);
        h.byte(tag);
        h
    }
    fn byte(&mut self, b: u8) {
        self.0 ^= u32::from(b);
        self.0 = self.0.wrapping_mul(0x0100_0193);
    }
    fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        for &b in bytes {
            self.byte(b);
        }
        self.byte(0xff);
        self
    }
    fn finish(&self) -> u32 {
        let mut x = self.0;
        x ^= x >> 16;
        x = x.wrapping_mul(0x85eb_ca6b);
        x ^= x >> 13;
        x = x.wrapping_mul(0xc2b2_ae35);
        x ^= x >> 16;
        x & (DIM as u32 - 1)
    }
}

fn hash(tag: u8, parts: &[&[u8]]) -> u32 {
    let mut h = Hasher::new(tag);
    for p in parts {
        h.bytes(p);
    }
    h.finish()
}

/// Contractions and chat spellings as the words they stand for.
fn normalise(lower: &str) -> &str {
    match lower {
        "n't" | "n’t" | "nt" => "not",
        "'ve" | "’ve" | "ve" => "have",
        "'d" | "’d" => "would",
        "'ll" | "’ll" => "will",
        "'re" | "’re" => "are",
        "'m" | "’m" => "am",
        "’s" => "'s",
        "shoulda" | "shouldve" => "should",
        "coulda" | "couldve" => "could",
        "woulda" | "wouldve" => "would",
        "oughta" => "ought",
        "u" => "you",
        "ur" => "your",
        "cuz" | "coz" | "cos" => "because",
        _ => lower,
    }
}

/// A light lemma: common inflections and "-ly" taken off ("botched" → "botch", "carelessly" →
/// "careless", "dropping" → "drop"). Wrong for some words, but the same wrong way everywhere.
fn lemma(word: &str) -> &str {
    let n = word.len();
    let mut stem = word;
    if n > 5 && word.ends_with("ly") {
        stem = &word[..n - 2];
    } else if n > 5 && word.ends_with("ing") {
        stem = &word[..n - 3];
    } else if n > 4 && (word.ends_with("ed") || (word.ends_with("es") && !word.ends_with("ses"))) {
        stem = &word[..n - 2];
    } else if n > 3 && word.ends_with('s') && !word.ends_with("ss") && !word.ends_with("us") {
        stem = &word[..n - 1];
    }
    // "dropp" → "drop", "stopp" → "stop".
    let b = stem.as_bytes();
    if stem.len() != n && b.len() > 3 && b[b.len() - 1] == b[b.len() - 2] && stem.is_ascii() {
        let last = b[b.len() - 1];
        if !matches!(last, b'l' | b's' | b'z' | b'f' | b'e' | b'o') {
            stem = &stem[..stem.len() - 1];
        }
    }
    stem
}

/// Word classes that carry the categories' meaning, so that a word the corpus never used still
/// counts with its kind ("flubbed" with "botched", "numpty" with "idiot"). The model learns how
/// much each class weighs, and in which context.
fn word_class(word: &str, lemma: &str) -> Option<&'static [u8]> {
    let class: &'static [u8] = match lemma {
        "botch" | "bungl" | "bungle" | "fumbl" | "fumble" | "flubb" | "flub" | "mess" | "screw"
        | "nuk" | "nuke" | "bork" | "mangl" | "mangle" | "cock" | "bodg" | "bodge" | "wreck"
        | "muck" | "goof" | "fat-finger" | "yolo" | "overrod" | "override" | "overrode"
        | "overwrote" | "overwrit" | "disregard" | "shrug" | "brush" | "skipp" | "skip"
        | "forgot" | "forget" | "neglect" | "overlook" | "bypass" | "circumvent" | "broke"
        | "break" | "corrupt" | "wip" | "wipe" | "rush" | "ignor" | "ignore" | "bother" | "sat"
        | "sitt" | "misconfigur" | "misread" | "misrout" | "flood" | "spamm" | "leak"
        | "borked" | "blew" | "trash" | "clobber" | "hos" | "hose" | "yank" | "unplugg"
        | "unplug" | "truncat" | "overload" | "dismiss" | "mut" | "mute" | "hammer" | "fri"
        | "fry" | "fat-thumb" | "dump" | "steamroll" | "slept" | "overpromis" | "hard-cod"
        | "force-push" | "clobbered" | "botched" | "bricked" | "brick" => b"fault-verb",
        "careless" | "blind" | "hasti" | "hasty" | "thoughtless" | "mindless" | "reckless"
        | "negligent" | "sloppi" | "lazi" | "mistaken" | "accidental" | "inadvertent"
        | "stupid" | "foolish" | "haphazard" | "wrong" | "incorrect" | "clumsi" | "clumsy"
        | "unthinking" | "unthinkingly" | "recklessly" | "cavalier" => b"fault-adverb",
        "idiot" | "moron" | "clown" | "muppet" | "numpty" | "noob" | "n00b" | "amateur"
        | "amateurish" | "cowboy" | "dunce" | "fool" | "dumb" | "incompetent" | "incompetence"
        | "useles" | "useless" | "clueless" | "lazy" | "sloppy" | "shoddy" | "pathetic"
        | "embarrass" | "embarrassing" | "disgrace" | "disgraceful" | "shameful" | "shame"
        | "unacceptable" | "inexcusable" | "unforgivable" | "unprofessional" | "irresponsible"
        | "slapdash" | "shambl" | "shambles" | "shambolic" | "fiasco" | "joke" | "facepalm"
        | "rookie" | "complacent" | "arrogant" | "laziness" | "sloppiness" | "stupidity"
        | "ashamed" | "fired" | "accountable" | "excuse" | "beggar" | "muppets" | "clowns"
        | "so-called" | "bonehead" | "brain-dead" | "lackadaisical" | "liability" | "monkey"
        | "arrogance" | "amateur-hour" | "hopeles" | "hopeless" | "imbecile" | "buffoon"
        | "halfwit" | "dimwit" | "numptie" | "idiocy" | "cretin" | "plonker" | "twit" => b"insult",
        "competent" | "decent" | "proper" | "professional" | "worth" | "reasonable"
        | "attentive" | "basic" | "elementary" | "genius" | "rocket" | "senior" | "any" => {
            b"competence"
        }
        "obvious" | "obv" | "clear" | "plain" | "evident" | "apparent" | "predictable"
        | "predictabl" | "foreseeable" | "foresee" | "foreseen" | "inevitable" | "inevitabl"
        | "bound" | "unsurprising" | "surprise" | "natural" | "sure" | "textbook" | "glaring"
        | "blatant" | "unmistakable" | "self-evident" | "hindsight" | "retrospect" | "coming"
        | "knew" | "known" | "realis" | "realiz" | "predict" | "anticipat" | "no-brainer"
        | "duh" | "staring" | "wall" | "mile" | "called" | "told" => b"hindsight",
        "should" | "could" | "would" | "ought" | "had" | "if" | "only" | "were" => b"modal",
        "root" | "cause" | "culprit" | "sole" | "solely" | "single" | "one" | "lone" | "entire"
        | "pure" | "simpl" | "just" | "boil" | "came" | "come" | "trace" | "stem" | "reason"
        | "whole" | "nothing" | "crux" | "underlying" | "fundamental" | "origin" | "full" => {
            b"single"
        }
        "human" | "operator" | "manual" | "personnel" | "clerical" | "pilot" | "mistake"
        | "error" | "slip" | "slip-up" | "oversight" | "typo" | "blunder" | "lapse"
        | "inattention" | "attention" | "pebkac" | "keyboard" | "oops" | "oopsie" | "brain"
        | "fat-fing" | "fat-fingered" | "diligence" | "concentration" | "misstep" | "fail" => {
            b"human"
        }
        "blame" | "blameles" | "blameless" | "fault" | "culpab" | "responsib" | "responsible"
        | "tempting" | "learning" | "avoid" | "rather" | "instead" | "witch" | "punish" => {
            b"blame-talk"
        }
        "template" | "section" | "analysi" | "analysis" | "rca" | "document" | "doc" | "field"
        | "report" | "course" | "method" | "whys" | "fishbone" | "diagram" | "draft" => b"doc",
        "service" | "server" | "database" | "job" | "tool" | "script" | "alert" | "cache"
        | "queue" | "pipeline" | "cluster" | "system" | "node" | "disk" | "firewall" | "api"
        | "deploy" | "backup" | "replica" | "balancer" | "scheduler" | "monitor" | "update"
        | "release" | "firmware" | "software" | "bug" | "config" | "configuration" | "check"
        | "test" | "pager" | "dashboard" | "certificate" | "cert" | "network" | "router" => {
            b"system"
        }
        "lol" | "lmao" | "smh" | "tbh" | "ngl" | "ffs" | "bro" | "dude" | "classic" | "again"
        | "literally" | "honestly" | "usual" | "always" | "seriously" | "guy" | "guys" => b"chat",
        _ => match word {
            "didn't" | "not" | "never" | "nobody" | "no" | "without" | "n't" => b"negation",
            _ => return None,
        },
    };
    Some(class)
}

/// Several words that carry a category's meaning only together, so that the model weighs the
/// expression and not its plain words ("waved it through" is not "waved"; "thanks a lot, Sam"
/// before a breakage is not thanks). Each word is a set of spellings (after [`normalise`]).
const PHRASES: &[(&[&[&str]], &[u8])] = &[
    // Idioms of fault: what a person did, told as a familiar failing.
    (
        &[&["jump", "jumped", "jumps", "jumping"], &["the"], &["gun"]],
        b"fault-idiom",
    ),
    (
        &[
            &["wave", "waved", "waves", "waving"],
            &["through", "away", "off", "past"],
        ],
        b"fault-idiom",
    ),
    (
        &[
            &["wave", "waved", "waves", "waving"],
            &["it", "them", "this", "that", "everything", "the"],
            &["through", "away", "off"],
        ],
        b"fault-idiom",
    ),
    (
        &[
            &["wave", "waved", "waves", "waving"],
            &["the"],
            &[
                "change", "pr", "deploy", "release", "warning", "warnings", "alert", "alerts",
                "concern", "concerns",
            ],
            &["through", "away", "off"],
        ],
        b"fault-idiom",
    ),
    (
        &[
            &[
                "phone", "phoned", "phones", "phoning", "mail", "mailed", "mailing",
            ],
            &["it", "this", "that"],
            &["in"],
        ],
        b"fault-idiom",
    ),
    (
        &[
            &["drop", "dropped", "drops", "dropping"],
            &["the"],
            &["ball"],
        ],
        b"fault-idiom",
    ),
    (
        &[
            &["asleep"],
            &["at", "on"],
            &["the"],
            &["wheel", "switch", "job"],
        ],
        b"fault-idiom",
    ),
    (&[&["cut", "cuts", "cutting"], &["corners"]], b"fault-idiom"),
    (
        &[
            &["cut", "cuts", "cutting"],
            &["every", "a", "some"],
            &["corner"],
        ],
        b"fault-idiom",
    ),
    (
        &[
            &["went", "go", "goes", "gone", "going"],
            &["rogue", "cowboy"],
        ],
        b"fault-idiom",
    ),
    (
        &[&["wing", "winged", "wings", "winging"], &["it"]],
        b"fault-idiom",
    ),
    (
        &[
            &["turn", "turned", "turns", "turning"],
            &["a"],
            &["blind"],
            &["eye"],
        ],
        b"fault-idiom",
    ),
    (
        &[
            &["look", "looked", "looks", "looking"],
            &["the"],
            &["other"],
            &["way"],
        ],
        b"fault-idiom",
    ),
    (
        &[
            &[
                "paper", "papered", "papers", "papering", "gloss", "glossed", "glosses", "glossing",
            ],
            &["over"],
        ],
        b"fault-idiom",
    ),
    (
        &[&[
            "rubber-stamp",
            "rubber-stamped",
            "rubber-stamps",
            "rubber-stamping",
            "rubberstamped",
        ]],
        b"fault-idiom",
    ),
    (
        &[&["rubber"], &["stamp", "stamped", "stamps", "stamping"]],
        b"fault-idiom",
    ),
    (
        &[&[
            "half-assed",
            "half-arsed",
            "half-baked",
            "half-hearted",
            "half-ass",
            "half-arse",
        ]],
        b"fault-idiom",
    ),
    (
        &[
            &["shoot", "shot", "shoots", "shooting"],
            &["from"],
            &["the"],
            &["hip"],
        ],
        b"fault-idiom",
    ),
    (
        &[
            &["play", "played", "plays", "playing"],
            &["fast"],
            &["and"],
            &["loose"],
        ],
        b"fault-idiom",
    ),
    (
        &[&["fell", "fall", "falls", "fallen", "falling"], &["asleep"]],
        b"fault-idiom",
    ),
    (
        &[
            &["could", "would", "did", "can"],
            &["not"],
            &["be"],
            &["bothered", "arsed", "assed"],
        ],
        b"fault-idiom",
    ),
    (
        &[
            &["took", "take", "takes", "taking", "taken"],
            &["a", "the"],
            &["shortcut", "shortcuts"],
        ],
        b"fault-idiom",
    ),
    (
        &[
            &["took", "take", "takes", "taking", "taken"],
            &["shortcuts"],
        ],
        b"fault-idiom",
    ),
    (
        &[
            &[
                "pushed", "push", "pushes", "pushing", "rammed", "ram", "rams", "ramming",
                "forced", "force", "forcing", "rushed", "rush", "rushing",
            ],
            &["it", "this", "that", "the", "them", "everything"],
            &["through"],
        ],
        b"fault-idiom",
    ),
    (
        &[
            &[
                "blew", "blow", "blows", "blown", "blowing", "brushed", "brush", "shrugged",
                "shrug", "laughed", "laugh",
            ],
            &["off", "past", "through"],
        ],
        b"fault-idiom",
    ),
    (
        &[
            &[
                "threw", "throw", "throws", "thrown", "throwing", "tossed", "toss", "chucked",
            ],
            &["it", "this", "that", "the", "them"],
            &["over"],
            &["the"],
            &["wall", "fence"],
        ],
        b"fault-idiom",
    ),
    (
        &[
            &["let", "lets", "letting"],
            &["it", "this", "that", "things", "them"],
            &["slide", "slip", "lapse", "rot"],
        ],
        b"fault-idiom",
    ),
    (
        &[&["ran", "run", "runs", "running"], &["roughshod"]],
        b"fault-idiom",
    ),
    (
        &[
            &["slept", "sleep", "sleeps", "sleeping"],
            &["through", "on"],
        ],
        b"fault-idiom",
    ),
    (
        &[&["fire", "fired"], &["and"], &["forget", "forgot"]],
        b"fault-idiom",
    ),
    (
        &[&["yolo", "yoloed", "yolo'd", "yolod", "cowboyed", "cowboy'd"]],
        b"fault-idiom",
    ),
    (&[&["no"], &["one", "body"], &["bothered"]], b"fault-idiom"),
    (
        &[&["did", "does", "do"], &["not"], &["bother"]],
        b"fault-idiom",
    ),
    (&[&["off"], &["the"], &["cuff"]], b"fault-idiom"),
    (&[&["by"], &["the"], &["seat"], &["of"]], b"fault-idiom"),
    (
        &[&["without"], &["so", "even"], &["much", "a"]],
        b"fault-idiom",
    ),
    // A person named as the one to blame, without a fault verb.
    (
        &[
            &["is", "was", "'s", "are", "were"],
            &["the"],
            &["reason", "culprit", "problem"],
        ],
        b"blame-assign",
    ),
    (
        &[
            &["blame", "fault", "responsibility"],
            &[
                "lies", "lay", "rests", "rested", "falls", "fell", "sits", "sat", "lie", "rest",
            ],
        ],
        b"blame-assign",
    ),
    (
        &[&["blamed", "faulted"], &["for", "after", "over"]],
        b"blame-assign",
    ),
    (&[&["squarely"], &["with", "on"]], b"blame-assign"),
    (&[&["what"], &["happens"], &["when"]], b"blame-assign"),
    (&[&["of"], &["all"], &["things", "people"]], b"blame-assign"),
    // Arguments against blame, which name blaming words to reject them.
    (
        &[
            &["miss", "misses", "missed", "missing"],
            &["the"],
            &["point"],
        ],
        b"against-blame",
    ),
    (
        &[&["miss", "misses", "missed"], &["why", "how", "what"]],
        b"against-blame",
    ),
    (
        &[
            &[
                "fix", "fixes", "fixed", "solve", "solves", "solved", "changes", "explains",
                "prevents",
            ],
            &["nothing"],
        ],
        b"against-blame",
    ),
    (&[&["wrong"], &["question"]], b"against-blame"),
    (
        &[
            &["rather", "instead"],
            &["than", "of"],
            &["asking", "blaming", "naming", "finding", "hunting"],
        ],
        b"against-blame",
    ),
    (
        &[
            &["nobody", "no-one", "anyone", "noone", "anybody"],
            &["'s"],
            &["fault"],
        ],
        b"against-blame",
    ),
    (&[&["no"], &["one"], &["'s"], &["fault"]], b"against-blame"),
    (&[&["not"], &["about"], &["who"]], b"against-blame"),
    (&[&["who"], &["to"], &["blame"]], b"against-blame"),
    // Sarcastic praise or thanks, which before a breakage names the culprit.
    (
        &[
            &["thanks", "thank", "cheers", "ta"],
            &["a", "for"],
            &["lot", "bunch", "nothing", "that", "this"],
        ],
        b"sarcasm",
    ),
    (
        &[
            &["thanks", "thank", "cheers"],
            &["again", "guys", "folks", "team", "mate", "pal"],
        ],
        b"sarcasm",
    ),
    (
        &[
            &[
                "nice",
                "great",
                "good",
                "fantastic",
                "brilliant",
                "top",
                "stellar",
                "smooth",
                "genius",
                "real",
                "outstanding",
                "excellent",
                "amazing",
                "terrific",
            ],
            &[
                "one", "going", "job", "work", "move", "stuff", "call", "smooth", "effort",
            ],
        ],
        b"sarcasm",
    ),
    (&[&["well"], &["done", "played"]], b"sarcasm"),
    (&[&["way"], &["to"], &["go"]], b"sarcasm"),
    (&[&["bravo", "slow-clap"]], b"sarcasm"),
    (&[&["slow"], &["clap"]], b"sarcasm"),
    (&[&["gold"], &["star"]], b"sarcasm"),
    (
        &[&["you", "u"], &["just", "really", "literally", "actually"]],
        b"sarcasm",
    ),
    (
        &[&["who", "whoever"], &["the"], &["hell", "heck", "fuck"]],
        b"sarcasm",
    ),
    (&[&["of"], &["course"], &["it"], &["was"]], b"sarcasm"),
];

/// The class and length of the longest expression of [`PHRASES`] that starts at `tokens[at]`.
fn phrase_at(tokens: &[Token], at: usize) -> Option<(&'static [u8], usize)> {
    let first = tokens.get(at).filter(|t| t.is_word && !t.quoted)?;
    let candidates = phrases_by_first_word().get(normalise(&first.lower))?;
    let mut best: Option<(&'static [u8], usize)> = None;
    for (words, class) in candidates.iter().map(|&i| &PHRASES[i]) {
        let fits = words.iter().enumerate().all(|(k, spellings)| {
            tokens
                .get(at + k)
                .is_some_and(|t| t.is_word && !t.quoted && spellings.contains(&normalise(&t.lower)))
        });
        if fits && best.is_none_or(|(_, n)| words.len() > n) {
            best = Some((class, words.len()));
        }
    }
    best
}

/// The expressions of [`PHRASES`] by each spelling of their first word, in their order there:
/// a sentence's words are each looked up once instead of tried against every expression.
fn phrases_by_first_word() -> &'static FxHashMap<&'static str, Vec<usize>> {
    static INDEX: OnceLock<FxHashMap<&'static str, Vec<usize>>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: FxHashMap<&'static str, Vec<usize>> = FxHashMap::default();
        for (i, (words, _)) in PHRASES.iter().enumerate() {
            for spelling in words.first().copied().unwrap_or_default() {
                let entry = index.entry(spelling).or_default();
                if entry.last() != Some(&i) {
                    entry.push(i);
                }
            }
        }
        index
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum SubjectType {
    Person,
    Writer,
    Thing,
}

impl SubjectType {
    fn tag(self) -> &'static [u8] {
        match self {
            SubjectType::Person => b"p",
            SubjectType::Writer => b"w",
            SubjectType::Thing => b"t",
        }
    }
}

fn subject_type(token: &Token) -> SubjectType {
    if matches!(token.lower.as_str(), "i" | "we" | "me" | "my" | "our") {
        SubjectType::Writer
    } else if token.is_person_word || token.is_name || token.is_role {
        SubjectType::Person
    } else {
        SubjectType::Thing
    }
}

/// A rule that matched in the sentence: its id, category and first token.
pub struct RuleHit<'a> {
    pub rule: &'a str,
    pub category: Category,
    pub token: usize,
    pub status: Status,
}

/// Extracts the features of one sentence into `out` (cleared first).
pub fn features(sentence: &Sentence, hits: &[RuleHit<'_>], out: &mut Features) {
    let items = &mut out.items;
    items.clear();
    out.blocks = [false; MEANING_BLOCKS];
    let tokens = &sentence.tokens;
    items.push((hash(b'Z', &[]), 1.0, NO_TOKEN));
    let mut previous: &str = "<s>";
    let mut previous_class: &[u8] = b"<s>";
    let mut negation_left = 0u8;
    let mut clause_subject: Option<SubjectType> = None;
    let mut first_subject: Option<SubjectType> = None;
    let mut gram = [0u8; 64];
    // The verb of the clause (the first word after its subject's noun phrase) and how many of
    // the words after it have been paired with it.
    let mut clause_verb: Option<(&str, Option<&'static [u8]>)> = None;
    let mut verb_pending = false;
    let mut object_words = 0u8;
    let mut after_sarcasm = 0u8;
    for (i, token) in tokens.iter().enumerate().skip(sentence.first_word) {
        let ti = i as u32;
        // A label before a colon at the start ("Subject:", "Re:", "alice:") names a field or a
        // speaker; it is not the subject of what follows.
        let label = i == sentence.first_word
            && token.is_word
            && tokens.get(i + 1).is_some_and(|n| n.lower == ":");
        if !token.is_word {
            if matches!(
                token.lower.as_str(),
                "," | ";" | ":" | "(" | ")" | "—" | "–" | "-"
            ) {
                negation_left = 0;
                clause_subject = None;
                clause_verb = None;
                verb_pending = false;
            }
            if matches!(token.lower.as_str(), "?" | "!" | ":") {
                items.push((hash(b'P', &[token.lower.as_bytes()]), 1.0, NO_TOKEN));
            }
            continue;
        }
        let word = normalise(&token.lower);
        let lem = lemma(word);
        if token.quoted {
            // A word being discussed, not used.
            items.push((hash(b'Q', &[lem.as_bytes()]), 1.0, ti));
            previous = "<q>";
            continue;
        }
        if label {
            items.push((hash(b'A', &[]), 1.0, ti));
            previous = "<label>";
            continue;
        }
        if CLAUSE_WORDS.contains(word) {
            clause_subject = None;
            clause_verb = None;
            verb_pending = false;
        }
        let mut is_subject = false;
        if clause_subject.is_none() && !CLAUSE_WORDS.contains(word) && !DETERMINERS.contains(word) {
            let kind = subject_type(token);
            clause_subject = Some(kind);
            is_subject = true;
            verb_pending = true;
            if first_subject.is_none() {
                first_subject = Some(kind);
                items.push((hash(b'S', &[kind.tag()]), 1.0, NO_TOKEN));
            }
        }
        // What the clause's subject did, and to what: the verb with the subject's type, and the
        // verb with each of the next few words ("deleted … wrong", "broke … into", "cut …
        // once"), which a bag of words cannot pair.
        if !is_subject {
            if verb_pending {
                // Still in the subject's noun phrase: names, roles and possessives.
                let in_subject = token.is_name
                    || token.is_role
                    || token.is_person_word && !matches!(word, "i" | "we")
                    || word == "'s";
                if !in_subject && !DETERMINERS.contains(word) {
                    verb_pending = false;
                    clause_verb = Some((lem, word_class(word, lem)));
                    object_words = 0;
                    if let Some(kind) = clause_subject {
                        items.push((hash(b'G', &[kind.tag(), lem.as_bytes()]), 1.0, ti));
                    }
                }
            } else if let Some((verb, verb_class)) = clause_verb {
                if object_words < 5 && !DETERMINERS.contains(word) {
                    object_words += 1;
                    items.push((hash(b'O', &[verb.as_bytes(), lem.as_bytes()]), 1.0, ti));
                    if let (Some(vc), Some(kind)) = (verb_class, clause_subject) {
                        items.push((hash(b'H', &[kind.tag(), vc, lem.as_bytes()]), 1.0, ti));
                    }
                }
            }
        }
        items.push((hash(b'W', &[word.as_bytes()]), 1.0, ti));
        if lem != word {
            items.push((hash(b'L', &[lem.as_bytes()]), 1.0, ti));
        }
        items.push((hash(b'B', &[previous.as_bytes(), lem.as_bytes()]), 1.0, ti));
        if let Some(kind) = clause_subject {
            items.push((hash(b'J', &[kind.tag(), lem.as_bytes()]), 1.0, ti));
        }
        let class = word_class(word, lem);
        if let Some((phrase, _)) = phrase_at(tokens, i) {
            items.push((hash(b'X', &[phrase]), 1.0, ti));
            items.push((hash(b'V', &[previous_class, phrase]), 1.0, ti));
            if let Some(kind) = clause_subject {
                items.push((hash(b'Y', &[kind.tag(), phrase]), 1.0, ti));
            }
            if phrase == b"sarcasm" {
                after_sarcasm = 8;
            }
        } else if after_sarcasm > 0 {
            // What follows sarcastic thanks: "thanks a lot Sam, your job just emailed everyone".
            items.push((hash(b'U', &[lem.as_bytes()]), 1.0, ti));
            if let Some(class) = class {
                items.push((hash(b'U', &[class]), 1.0, ti));
            }
            after_sarcasm -= 1;
        }
        if let Some(class) = class {
            items.push((hash(b'X', &[class]), 1.0, ti));
            items.push((hash(b'V', &[previous_class, class]), 1.0, ti));
            if let Some(kind) = clause_subject {
                items.push((hash(b'Y', &[kind.tag(), class]), 1.0, ti));
            }
        }
        if negation_left > 0 {
            items.push((hash(b'N', &[lem.as_bytes()]), 1.0, ti));
            if let Some(class) = class {
                items.push((hash(b'M', &[class]), 1.0, ti));
            }
            negation_left -= 1;
        }
        previous_class = class.unwrap_or(b"-");
        if NEGATORS.contains(word) || word == "not" {
            negation_left = 4;
        }
        // Character n-grams of the word with boundary marks.
        let bytes = word.as_bytes();
        if bytes.len() + 2 <= gram.len() && bytes.len() >= 3 {
            gram[0] = b'<';
            gram[1..=bytes.len()].copy_from_slice(bytes);
            gram[bytes.len() + 1] = b'>';
            let padded = &gram[..bytes.len() + 2];
            for n in [4usize, 5] {
                if padded.len() < n {
                    continue;
                }
                for window in padded.windows(n) {
                    items.push((hash(b'C', &[window]), 0.5, ti));
                }
            }
        }
        previous = lem;
    }
    if first_subject.is_none() {
        items.push((hash(b'S', &[b"none"]), 1.0, NO_TOKEN));
    }
    for hit in hits {
        let status: &[u8] = match hit.status {
            Status::Active => b"",
            Status::Quoted => b"quoted",
            Status::Negated => b"negated",
            Status::NoPerson => b"no-person",
        };
        items.push((
            hash(b'R', &[hit.rule.as_bytes(), status]),
            1.0,
            hit.token as u32,
        ));
        items.push((
            hash(b'K', &[hit.category.as_str().as_bytes(), status]),
            1.0,
            hit.token as u32,
        ));
    }
    // Scale towards unit length so that long sentences do not score higher for being long; the
    // floor keeps a three-word line from weighing each of its words as much as a whole sentence,
    // and the bias (first) stays as it is.
    let norm: f32 = items
        .iter()
        .map(|(_, v, _)| v * v)
        .sum::<f32>()
        .sqrt()
        .max(6.0);
    for item in items.iter_mut().skip(1) {
        item.1 /= norm;
    }
    meaning_features(sentence, out);
}

/// How much the dense meaning features weigh next to the sparse ones (unit-length vectors
/// scaled by this; 0.3 and 0.5 measured best in cross-validation, 1 and 3 worse).
const MEANING_SCALE: f32 = 0.3;

/// Dense features: the meaning of the sentence's words, of the words in clauses whose subject
/// is a person, and of those clauses' verbs, from the static token table of `domain::recurrence` — so that a verb
/// or insult the corpus never used counts with its neighbours in meaning ("clobbered" near
/// "overwrote", "numpty" near "idiot"). Without the table the sentence has only sparse features.
fn meaning_features(sentence: &Sentence, out: &mut Features) {
    let Some(embedder) = recurrence::embedder() else {
        return;
    };
    let dims = embedder.dims();
    out.dense.clear();
    out.dense.resize(MEANING_BLOCKS * dims, 0.0);
    let (all, rest) = out.dense.split_at_mut(dims);
    let (person, verb) = rest.split_at_mut(dims);
    let (mut any_all, mut any_person, mut any_verb) = (false, false, false);
    let mut verb_pending = false;
    let mut rows = Vec::new();
    let mut clause_person: Option<bool> = None;
    for token in sentence.tokens.iter().skip(sentence.first_word) {
        let word = token.lower.as_str();
        if !token.is_word {
            if matches!(word, "," | ";" | ":" | "(" | ")" | "—" | "–") {
                clause_person = None;
                verb_pending = false;
            }
            continue;
        }
        if token.quoted {
            continue;
        }
        if CLAUSE_WORDS.contains(word) {
            clause_person = None;
            verb_pending = false;
            continue;
        }
        let mut is_verb = false;
        if clause_person.is_none() && !DETERMINERS.contains(word) {
            let person = subject_type(token) == SubjectType::Person;
            clause_person = Some(person);
            verb_pending = person;
        } else if verb_pending
            && !(token.is_name || token.is_role || token.is_person_word)
            && !DETERMINERS.contains(word)
            && word != "'s"
        {
            verb_pending = false;
            is_verb = true;
        }
        if !embedder.word_rows(word, &mut rows) {
            continue;
        }
        embedder.add_rows(&rows, 1.0, all);
        any_all = true;
        // The person's own words ("intern", "Dave") say who, not what was done.
        if clause_person == Some(true) && !(token.is_name || token.is_role || token.is_person_word)
        {
            embedder.add_rows(&rows, 1.0, person);
            any_person = true;
            if is_verb {
                embedder.add_rows(&rows, 1.0, verb);
                any_verb = true;
            }
        }
    }
    for (block, any) in [any_all, any_person, any_verb].into_iter().enumerate() {
        let sum = &mut out.dense[block * dims..(block + 1) * dims];
        if any && recurrence::normalise(sum) {
            sum.iter_mut().for_each(|v| *v *= MEANING_SCALE);
            out.blocks[block] = true;
        }
    }
}

/// The dense blocks: the sentence's words, the person clauses' words, their verbs.
pub const MEANING_BLOCKS: usize = 3;

/// The width of a dense block (the token table's), or `None` without the table.
fn dense_width() -> Option<usize> {
    recurrence::embedder().map(recurrence::Embedder::dims)
}

/// The buckets of the [`MEANING_BLOCKS`] dense blocks (the sentence's words, the person
/// clauses' words, their verbs), hashed once.
fn meaning_buckets(dims: usize) -> &'static [u32] {
    static BUCKETS: OnceLock<Vec<u32>> = OnceLock::new();
    BUCKETS.get_or_init(|| {
        [b'E', b'F', b'G']
            .iter()
            .flat_map(|&tag| (0..dims).map(move |d| hash(tag, &[&(d as u16).to_le_bytes()])))
            .collect()
    })
}

/// The trained weights and the two decision thresholds.
#[derive(Debug, Clone)]
pub struct Model {
    /// `weights[bucket * CLASSES + class]`, quantised.
    weights: Vec<i16>,
    scales: [f32; CLASSES],
    /// A sentence with no rule match is flagged from this probability of "not ok".
    pub flag_threshold: f32,
    /// A rule's finding is kept from this probability (lower: the rules are trusted more).
    pub rule_threshold: f32,
    /// The weights of the dense blocks' buckets in the blocks' order, as floats: the same values
    /// as in `weights`, read in a row instead of gathered from their hashed places.
    dense: Vec<[f32; CLASSES]>,
}

/// What the model says about a sentence.
#[derive(Debug, Clone, Copy)]
pub struct Score {
    /// The probability that the sentence should be flagged.
    pub flag: f32,
    /// The most likely category if it is.
    pub category: Category,
    /// The probability of each class (`ok` first, then `Category::ALL`'s order).
    pub probabilities: [f32; CLASSES],
}

impl Model {
    /// The model shipped in the binary, if it is present and well formed.
    pub fn builtin() -> Option<&'static Model> {
        static MODEL: OnceLock<Option<Model>> = OnceLock::new();
        MODEL
            .get_or_init(|| Model::from_bytes(include_bytes!("model.bin")))
            .as_ref()
    }

    /// Reads the format written by [`Model::to_bytes`]; `None` when it does not fit.
    pub fn from_bytes(bytes: &[u8]) -> Option<Model> {
        let rest = bytes.strip_prefix(MAGIC.as_slice())?;
        let f32_at = |at: usize| -> Option<f32> {
            Some(f32::from_le_bytes(rest.get(at..at + 4)?.try_into().ok()?))
        };
        let flag_threshold = f32_at(0)?;
        let rule_threshold = f32_at(4)?;
        let mut scales = [0f32; CLASSES];
        for (c, scale) in scales.iter_mut().enumerate() {
            *scale = f32_at(8 + 4 * c)?;
        }
        let body = rest.get(8 + 4 * CLASSES..)?;
        if body.len() != DIM * CLASSES * 2 {
            return None;
        }
        let weights = body
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]))
            .collect();
        Some(Model::with_dense(
            weights,
            scales,
            flag_threshold,
            rule_threshold,
        ))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(MAGIC.len() + 8 + 4 * CLASSES + self.weights.len() * 2);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.flag_threshold.to_le_bytes());
        out.extend_from_slice(&self.rule_threshold.to_le_bytes());
        for s in self.scales {
            out.extend_from_slice(&s.to_le_bytes());
        }
        for w in &self.weights {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    fn from_float(weights: &[f32], flag_threshold: f32, rule_threshold: f32) -> Model {
        let mut scales = [0f32; CLASSES];
        for (c, scale) in scales.iter_mut().enumerate() {
            let max = weights
                .iter()
                .skip(c)
                .step_by(CLASSES)
                .fold(0f32, |m, w| m.max(w.abs()));
            *scale = if max > 0.0 { max / 32767.0 } else { 1.0 };
        }
        let quantised = weights
            .iter()
            .enumerate()
            .map(|(i, w)| (w / scales[i % CLASSES]).round().clamp(-32767.0, 32767.0) as i16)
            .collect();
        Model::with_dense(quantised, scales, flag_threshold, rule_threshold)
    }

    fn with_dense(
        weights: Vec<i16>,
        scales: [f32; CLASSES],
        flag_threshold: f32,
        rule_threshold: f32,
    ) -> Model {
        let dense = dense_width()
            .map(|dims| {
                meaning_buckets(dims)
                    .iter()
                    .map(|&bucket| {
                        let at = bucket as usize * CLASSES;
                        std::array::from_fn(|c| f32::from(weights[at + c]))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Model {
            weights,
            scales,
            flag_threshold,
            rule_threshold,
            dense,
        }
    }

    fn weight(&self, bucket: u32, class: usize) -> f32 {
        f32::from(self.weights[bucket as usize * CLASSES + class]) * self.scales[class]
    }

    fn logits(&self, features: &Features) -> [f32; CLASSES] {
        let mut logits = [0f32; CLASSES];
        for &(bucket, value, _) in &features.items {
            let row = &self.weights[bucket as usize * CLASSES..bucket as usize * CLASSES + CLASSES];
            for c in 0..CLASSES {
                logits[c] += f32::from(row[c]) * value;
            }
        }
        // The same sums as the sparse loop's, in the order the blocks were written.
        let width = features.dense.len() / MEANING_BLOCKS;
        for (block, _) in features.blocks.iter().enumerate().filter(|(_, p)| **p) {
            let range = block * width..(block + 1) * width;
            let (Some(rows), Some(values)) =
                (self.dense.get(range.clone()), features.dense.get(range))
            else {
                continue;
            };
            for (row, &value) in rows.iter().zip(values) {
                for c in 0..CLASSES {
                    logits[c] += row[c] * value;
                }
            }
        }
        for (l, s) in logits.iter_mut().zip(self.scales) {
            *l *= s;
        }
        logits
    }

    pub fn score(&self, features: &Features) -> Score {
        let p = softmax(self.logits(features));
        let (best, _) = p
            .iter()
            .enumerate()
            .skip(1)
            .fold(
                (1, f32::MIN),
                |(bi, bp), (i, &q)| {
                    if q > bp {
                        (i, q)
                    } else {
                        (bi, bp)
                    }
                },
            );
        Score {
            flag: 1.0 - p[0],
            category: Category::ALL[best - 1],
            probabilities: p,
        }
    }

    /// How much each token pushes the sentence towards `category` rather than `ok`.
    pub fn contributions(
        &self,
        features: &Features,
        category: Category,
        tokens: usize,
    ) -> Vec<f32> {
        let class = class_of(category);
        let mut out = vec![0f32; tokens];
        for &(bucket, value, token) in &features.items {
            if let Some(slot) = out.get_mut(token as usize) {
                *slot += value * (self.weight(bucket, class) - self.weight(bucket, 0));
            }
        }
        out
    }
}

pub fn class_of(category: Category) -> usize {
    Category::ALL
        .iter()
        .position(|c| *c == category)
        .map_or(0, |i| i + 1)
}

fn softmax(logits: [f32; CLASSES]) -> [f32; CLASSES] {
    let max = logits.iter().fold(f32::MIN, |m, &l| m.max(l));
    let mut p = logits.map(|l| (l - max).exp());
    let sum: f32 = p.iter().sum();
    for q in p.iter_mut() {
        *q /= sum;
    }
    p
}

/// One labelled training sentence: its features and class (0 = ok).
#[derive(Debug, Clone)]
pub struct Example {
    pub features: Features,
    pub class: usize,
}

/// Training settings; the defaults were chosen by 5-fold cross-validation on the training part.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub iterations: usize,
    pub learning_rate: f32,
    pub l2: f32,
    pub flag_threshold: f32,
    pub rule_threshold: f32,
    /// How much a flagged sentence weighs in the loss against an `ok` one (each category is a
    /// small minority next to `ok`); 1 by default: weighing them up flagged more neutral
    /// sentences for as many more catches in cross-validation.
    pub category_weight: f32,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            iterations: 300,
            learning_rate: 1.0,
            l2: 1e-5,
            flag_threshold: 0.4,
            rule_threshold: 0.2,
            category_weight: 1.0,
        }
    }
}

/// Trains a model: full-batch AdaGrad on the L2-regularised softmax loss. Deterministic: the same
/// examples in the same order give the same bytes.
pub fn train(examples: &[Example], params: &Params) -> Model {
    let mut active: Vec<u32> = examples
        .iter()
        .flat_map(|e| e.features.each().map(|f| f.0))
        .collect();
    active.sort_unstable();
    active.dedup();
    let mut weights = vec![0f32; DIM * CLASSES];
    let mut squared = vec![0f32; DIM * CLASSES];
    let mut gradient = vec![0f32; DIM * CLASSES];
    let weight_of = |e: &Example| {
        if e.class == 0 {
            1.0
        } else {
            params.category_weight
        }
    };
    let n = examples.iter().map(weight_of).sum::<f32>().max(1.0);
    for _ in 0..params.iterations {
        for &b in &active {
            let at = b as usize * CLASSES;
            gradient[at..at + CLASSES].fill(0.0);
        }
        for example in examples {
            let mut logits = [0f32; CLASSES];
            for (b, v) in example.features.each() {
                let at = b as usize * CLASSES;
                for (c, l) in logits.iter_mut().enumerate() {
                    *l += weights[at + c] * v;
                }
            }
            let p = softmax(logits);
            let w = weight_of(example);
            for (b, v) in example.features.each() {
                let at = b as usize * CLASSES;
                for (c, q) in p.iter().enumerate() {
                    let target = if c == example.class { 1.0 } else { 0.0 };
                    gradient[at + c] += (q - target) * v * w;
                }
            }
        }
        for &b in &active {
            let at = b as usize * CLASSES;
            for i in at..at + CLASSES {
                let g = gradient[i] / n + params.l2 * weights[i];
                squared[i] += g * g;
                weights[i] -= params.learning_rate * g / (squared[i].sqrt() + 1e-8);
            }
        }
    }
    Model::from_float(&weights, params.flag_threshold, params.rule_threshold)
}

#[cfg(test)]
mod tests {
    use super::super::text::sentences;
    use super::*;

    /// The expression classes found in a one-sentence text, in order.
    fn expressions(text: &str) -> Vec<String> {
        let sentence = &sentences(&format!("{text}\n"))[0];
        (0..sentence.tokens.len())
            .filter_map(|i| phrase_at(&sentence.tokens, i))
            .map(|(class, _)| String::from_utf8_lossy(class).into_owned())
            .collect()
    }

    #[test]
    fn expressions_are_read_whole_and_not_when_quoted() {
        assert_eq!(
            expressions("The release captain jumped the gun."),
            ["fault-idiom"]
        );
        assert_eq!(
            expressions("thanks a lot sam, your cron job emailed everyone"),
            ["sarcasm"]
        );
        assert_eq!(
            expressions("Blaming the junior dev misses the point."),
            ["against-blame"]
        );
        assert_eq!(
            expressions("Pete is the reason we were down."),
            ["blame-assign"]
        );
        // The plain words, and the expression being discussed, are not the expression.
        assert!(expressions("The data sat on the old server until Monday.").is_empty());
        assert!(expressions("We waved to the visitors and jumped in the pool.").is_empty());
        assert!(expressions("The guide calls \"jumped the gun\" unhelpful.").is_empty());
    }
}
