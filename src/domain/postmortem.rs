//! Postmortems as people write them, in Markdown or plain text, read into the parts of a loop:
//! the Google SRE book's template (Summary, Impact, Root Causes, Trigger, Resolution, Detection,
//! Action Items, Lessons Learned with What went well / What went wrong / Where we got lucky,
//! Timeline), free-form write-ups, status-page summaries, forum posts and wiki exports.
//!
//! The reader is lenient by design: a team's history is written in every shape, and refusing a
//! document for a missing `# Title` loses the history the product is for. The title comes from
//! front matter, the first heading of any level, the first line or the file name; the document's
//! date from front matter, the title, the opening paragraph or the file name, and it dates the
//! times that are written alone. Whatever is not understood is kept verbatim in the description
//! under its heading: nothing of the source is lost. Only what cannot be text is refused (see
//! [`check_bytes`]). No IO: the caller passes the text and what it knows about the file.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::loops::{ActionStatus, TITLE_MAX};
use super::prose_time::{self, Zone};

/// Why a postmortem could not be read, with the 1-based line it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {field} {message}")]
pub struct PostmortemError {
    pub line: usize,
    /// The part of the document at fault (`body`).
    pub field: &'static str,
    pub message: String,
}

/// The largest file read as a postmortem: far beyond any written one, small enough that a
/// folder of them is read in memory.
pub const MAX_BYTES: usize = 2 * 1024 * 1024;

/// Checks that a file can be a postmortem at all — not an image or an archive, UTF-8 text
/// without control characters — and returns its text. The caller names the file in the message.
pub fn check_bytes(bytes: &[u8]) -> Result<&str, PostmortemError> {
    let refuse = |line: usize, message: String| PostmortemError {
        line,
        field: "body",
        message,
    };
    const SIGNATURES: [(&[u8], &str); 7] = [
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive (or a .docx)"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"\x7FELF", "a program"),
    ];
    if let Some((_, what)) = SIGNATURES
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
    {
        return Err(refuse(1, format!("is {what}, not a text postmortem")));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        refuse(
            line,
            format!(
                "is not UTF-8 text (byte {} cannot be read)",
                e.valid_up_to()
            ),
        )
    })?;
    let normal = normalise(text);
    if let Some(found) = control_character(&normal) {
        return Err(found);
    }
    Ok(text)
}

/// A section the loop has no field for, kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptSection {
    pub heading: String,
    /// 1–6, as in the source.
    pub level: u8,
    pub body: String,
}

/// One action item: a table row, a list or task-list item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostmortemAction {
    /// As written, owners (`@name`, `(owner: …)`) and issue links included. An owner column of
    /// a table is left out: imports carry no attribution to people (docs/export-schema.md).
    pub title: String,
    pub status: ActionStatus,
    pub line: usize,
}

/// One timeline entry such as `- 2024-05-01 14:03 UTC: paged the on-call engineer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostmortemEvent {
    pub at: OffsetDateTime,
    pub text: String,
    pub line: usize,
}

/// What the reader knows about the document besides its text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hints<'a> {
    /// The file's name (`2025-09-29-queue-outage.md`): a title and a date of last resort.
    pub file_name: Option<&'a str>,
    /// The day of the import: dates times written alone when the document names no date.
    pub today: Option<Date>,
}

/// A postmortem as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Postmortem {
    pub title: String,
    pub summary: String,
    pub expected: String,
    pub impact: String,
    pub root_causes: String,
    /// The writer's heading over `root_causes` ("Contributing factors", "Root cause", "Why"),
    /// kept as its label: the loop does not rename a team's words.
    pub root_causes_heading: String,
    pub trigger: String,
    pub resolution: String,
    pub detection: String,
    pub lessons: String,
    pub went_well: String,
    pub went_wrong: String,
    pub got_lucky: String,
    pub actions: Vec<PostmortemAction>,
    pub timeline: Vec<PostmortemEvent>,
    /// Timeline lines that are not dated events, kept as written.
    pub timeline_notes: String,
    /// Text of action sections that is not an action (introductions, over-long items).
    pub action_notes: String,
    pub kept: Vec<KeptSection>,
    /// `key: value` pairs of front matter (a `---` block or `key: value` lines at the top).
    pub front_matter: Vec<(String, String)>,
    /// Front matter lines no loop field takes (authors, status, …), as written.
    pub details: String,
    /// The day the document is about, as inferred from it.
    pub date: Option<Date>,
}

impl Postmortem {
    /// A front matter value by key (lower-case).
    pub fn front(&self, key: &str) -> Option<&str> {
        self.front_matter
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The loop's description: the summary, then every kept section under its own heading, so
    /// nothing of the source is lost.
    pub fn description(&self) -> String {
        let mut parts = vec![self.summary.clone()];
        if !self.impact.is_empty() && self.impact.lines().count() > 1 {
            parts.push(format!("## Impact\n\n{}", self.impact));
        }
        for kept in &self.kept {
            let hashes = "#".repeat(usize::from(kept.level.clamp(2, 6)));
            parts.push(format!("{hashes} {}\n\n{}", kept.heading, kept.body));
        }
        for (heading, text) in self.notes() {
            parts.push(format!("## {heading}\n\n{text}"));
        }
        join_nonempty(&parts)
    }

    fn notes(&self) -> Vec<(&'static str, &str)> {
        [
            ("Action item notes", self.action_notes.as_str()),
            ("Timeline notes", self.timeline_notes.as_str()),
            ("Details", self.details.as_str()),
        ]
        .into_iter()
        .filter(|(_, text)| !text.trim().is_empty())
        .collect()
    }

    /// The headings of everything kept in the description because no field took it.
    pub fn unmapped(&self) -> Vec<String> {
        self.kept
            .iter()
            .map(|k| k.heading.clone())
            .chain(self.notes().into_iter().map(|(h, _)| h.to_owned()))
            .collect()
    }

    /// A one-line impact, when the Impact section is a single line; longer ones go into the
    /// description instead.
    pub fn impact_line(&self) -> String {
        if self.impact.lines().count() == 1 {
            self.impact.trim().to_owned()
        } else {
            String::new()
        }
    }

    /// "What actually happened" of the review: the resolution and the detection.
    pub fn review_actual(&self) -> String {
        join_nonempty(&[
            labelled("Resolution", &self.resolution),
            labelled("Detection", &self.detection),
        ])
    }

    /// "Why was there a difference" of the review: root causes (under the writer's heading, or
    /// "Contributing factors" — the blameless word, domain.md §3 — when none was written) and
    /// trigger.
    pub fn review_difference(&self) -> String {
        let heading = match self.root_causes_heading.trim() {
            "" => "Contributing factors",
            written => written,
        };
        join_nonempty(&[
            labelled(heading, &self.root_causes),
            labelled("Trigger", &self.trigger),
        ])
    }
}

fn labelled(label: &str, text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!("**{label}**\n\n{text}")
    }
}

fn join_nonempty(parts: &[String]) -> String {
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Which loop field a heading feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Summary,
    Expected,
    Impact,
    RootCauses,
    Trigger,
    Resolution,
    Detection,
    Lessons,
    WentWell,
    WentWrong,
    GotLucky,
    Actions,
    Timeline,
}

/// A heading as words: lower case, numbering ("2.", "IV)") and parentheses dropped.
fn heading_words(heading: &str) -> String {
    let mut text = String::new();
    let mut depth = 0usize;
    for c in heading.to_lowercase().replace('&', " and ").chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            '\'' | '’' if depth == 0 => {}
            c if depth == 0 => text.push(if c.is_alphanumeric() { c } else { ' ' }),
            _ => {}
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let skip = words
        .iter()
        .take_while(|w| {
            w.chars().all(|c| c.is_ascii_digit())
                || ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x"].contains(w)
        })
        .count();
    words[skip..].join(" ")
}

/// The loop field a heading names, under the many ways teams spell them.
fn slot_of(heading: &str) -> Option<Slot> {
    let words = heading_words(heading);
    if words.is_empty() || words.split(' ').count() > 8 {
        return None;
    }
    let exact = match words.as_str() {
        "summary" | "tl dr" | "tldr" | "overview" | "description" | "background" | "context"
        | "abstract" | "synopsis" | "introduction" | "the incident" | "incident" | "issue"
        | "what happened" | "problem" | "incident report" => Some(Slot::Summary),
        "fix" | "fixes" | "response" | "the fix" => Some(Slot::Resolution),
        "why" | "cause" | "analysis" => Some(Slot::RootCauses),
        "todo" | "to do" | "todos" | "actions" | "tasks" | "improvements" | "prevention"
        | "future work" => Some(Slot::Actions),
        "lucky" | "luck" => Some(Slot::GotLucky),
        // German and French postmortems, as teams in those languages title their sections.
        "ablauf" | "zeitablauf" | "zeitleiste" | "chronologie" | "déroulement" | "deroulement" => {
            Some(Slot::Timeline)
        }
        "maßnahmen"
        | "massnahmen"
        | "folgemaßnahmen"
        | "nächste schritte"
        | "mesures"
        | "actions correctives"
        | "plan daction"
        | "prochaines étapes" => Some(Slot::Actions),
        "zusammenfassung" | "beschreibung" | "résumé" | "contexte" => Some(Slot::Summary),
        "ursache" | "ursachen" | "facteurs contributifs" => Some(Slot::RootCauses),
        "auswirkungen" | "auswirkung" => Some(Slot::Impact),
        "lehren" | "erkenntnisse" | "enseignements" | "leçons apprises" => Some(Slot::Lessons),
        "expected" | "expectation" | "expectations" => Some(Slot::Expected),
        "the good" | "good" | "positives" => Some(Slot::WentWell),
        "the bad" | "bad" | "negatives" | "challenges" => Some(Slot::WentWrong),
        _ => None,
    };
    if exact.is_some() {
        return exact;
    }
    let padded = format!(" {words} ");
    let has = |k: &str| padded.contains(&format!(" {k} "));
    let starts = |k: &str| padded.starts_with(&format!(" {k} "));
    const RULES: &[(&[&str], Slot)] = &[
        (
            &["timeline", "chronology", "sequence of events"],
            Slot::Timeline,
        ),
        (
            &["went well", "what worked", "went right", "worked well"],
            Slot::WentWell,
        ),
        (
            &[
                "went wrong",
                "go well",
                "gone better",
                "went poorly",
                "could be improved",
                "didnt work",
                "did not work",
                "didnt go",
                "what didnt",
                "could have been better",
                "do better",
            ],
            Slot::WentWrong,
        ),
        (&["lucky", "got lucky"], Slot::GotLucky),
        (
            &[
                "action items",
                "action item",
                "action points",
                "follow ups",
                "follow up",
                "followups",
                "followup",
                "next steps",
                "remediation",
                "remediations",
                "corrective",
                "preventive",
                "preventative",
                "what were doing",
                "what we are doing",
                "what we will do",
                "what well do",
                "remedial",
                "prevent recurrence",
                "going forward",
                "to do",
                "todo",
            ],
            Slot::Actions,
        ),
        (
            &[
                "lessons",
                "lesson",
                "takeaways",
                "takeaway",
                "learnings",
                "learned",
                "learnt",
            ],
            Slot::Lessons,
        ),
        (
            &[
                "root cause",
                "root causes",
                "contributing factors",
                "contributing factor",
                "why it happened",
                "why did",
                "why it",
                "whys",
                "causes",
            ],
            Slot::RootCauses,
        ),
        (&["trigger", "triggers"], Slot::Trigger),
        (
            &[
                "detection",
                "detected",
                "noticed",
                "discovery",
                "discovered",
            ],
            Slot::Detection,
        ),
        (
            &[
                "resolution",
                "resolved",
                "mitigation",
                "mitigated",
                "recovery",
                "how we fixed",
                "fixed",
                "fix",
                "remedy",
                "containment",
            ],
            Slot::Resolution,
        ),
        (
            &["impact", "affected", "blast radius", "customer effect"],
            Slot::Impact,
        ),
        (
            &[
                "summary",
                "overview",
                "what happened",
                "tl dr",
                "background",
            ],
            Slot::Summary,
        ),
        (&["expected", "expectation"], Slot::Expected),
    ];
    // "Resolution and remediation" is the resolution, not a list of actions.
    if ["resolution", "mitigation", "recovery"]
        .iter()
        .any(|k| starts(k))
    {
        return Some(Slot::Resolution);
    }
    RULES
        .iter()
        .find(|(keys, _)| keys.iter().any(|k| has(k)))
        .map(|(_, slot)| *slot)
}

/// A heading that names a section rather than the incident: a field's name in a few words
/// ("Summary", "What went well"); "DNS resolution failures in the build farm" is a title.
fn is_section_name(heading: &str) -> bool {
    slot_of(heading).is_some() && heading_words(heading).split(' ').count() <= 4
}

struct Heading {
    level: u8,
    text: String,
    /// Byte offsets in the body: where the heading starts and where its line ends.
    start: usize,
    end: usize,
}

struct Table {
    start: usize,
    head: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

/// 1-based line of a byte offset.
fn line_at(source: &str, offset: usize) -> usize {
    source
        .get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

/// The text as the reader sees it: no byte-order mark, `\n` line ends (`\r\n` and a lone `\r`
/// too), page breaks as line ends. Lines named in records and errors are lines of this text.
pub fn normalise(source: &str) -> String {
    source
        .trim_start_matches('\u{feff}')
        .replace("\r\n", "\n")
        .replace(['\r', '\u{c}', '\u{b}'], "\n")
}

fn control_character(source: &str) -> Option<PostmortemError> {
    // Control characters are no text, and U+0000 is text PostgreSQL cannot store.
    source
        .char_indices()
        .find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\t'))
        .map(|(offset, c)| PostmortemError {
            line: line_at(source, offset),
            field: "body",
            message: format!(
                "has a control character (U+{:04X}): it is not text",
                u32::from(c)
            ),
        })
}

/// Reads a postmortem without hints (no file name; times without a date are kept as notes).
pub fn parse(source: &str) -> Result<Postmortem, PostmortemError> {
    parse_with(source, Hints::default())
}

/// Reads a postmortem. Refuses only an empty document or one with control characters.
pub fn parse_with(source: &str, hints: Hints<'_>) -> Result<Postmortem, PostmortemError> {
    let source = normalise(source);
    if let Some(error) = control_character(&source) {
        return Err(error);
    }
    if source.trim().is_empty() {
        return Err(PostmortemError {
            line: 1,
            field: "body",
            message: "is empty".to_owned(),
        });
    }
    let mut pm = Postmortem::default();
    let body_start = front_matter(&source, &mut pm);
    let body = mark_plain_headings(&source[body_start..]);
    let offset_line = |offset: usize| line_at(&source, body_start + offset);

    let (headings, tables, first_block) = structure(&body);

    // The title: front matter's, else the first heading when the document starts with it, else
    // the first line, else any level-1 heading, else the file name.
    let mut preamble_start = 0;
    let mut title_heading = None;
    let mut title_overflow = String::new();
    let front_title = pm.front("title").map(str::trim).unwrap_or("").to_owned();
    if !front_title.is_empty() {
        // The exporter writes the title twice, in front matter and as the first heading.
        if let Some(Block::Heading(i)) = first_block {
            if headings[i].text.trim() == front_title {
                title_heading = Some(i);
                preamble_start = headings[i].end;
            }
        }
        pm.title = front_title;
    } else {
        match first_block {
            Some(Block::Heading(i)) if !is_section_name(&headings[i].text) => {
                title_heading = Some(i);
            }
            Some(Block::Other(start)) => {
                let line_end = body[start..].find('\n').map_or(body.len(), |n| start + n);
                let line = plain_line(&body[start..line_end]);
                if !line.is_empty() && line.chars().count() <= TITLE_MAX {
                    pm.title = line;
                    preamble_start = line_end;
                }
            }
            _ => {}
        }
        if pm.title.is_empty() && title_heading.is_none() {
            title_heading = headings
                .iter()
                .position(|h| h.level == 1 && !is_section_name(&h.text));
        }
        if let Some(i) = title_heading {
            pm.title = headings[i].text.trim().to_owned();
            preamble_start = headings[i].end;
        }
        if pm.title.is_empty() {
            pm.title = hints.file_name.map(title_of_file).unwrap_or_default();
        }
        if pm.title.is_empty() {
            // A first line too long for a title is kept where it is; its start names the loop.
            pm.title = body
                .lines()
                .map(plain_line)
                .find(|l| !l.is_empty())
                .unwrap_or_else(|| "Imported postmortem".to_owned());
        }
    }
    pm.title = without_mail_prefix(&pm.title).to_owned();
    if pm.title.chars().count() > TITLE_MAX {
        title_overflow = pm.title.clone();
        pm.title = shorten(&pm.title, TITLE_MAX - 1);
    }
    let preamble_start = preamble_start.min(body.len());

    // The document's day and zone, which date the times written alone.
    let sections: Vec<usize> = (0..headings.len())
        .filter(|&i| Some(i) != title_heading)
        .collect();
    let opening_end = (preamble_start + 4000).min(body.len());
    let opening = body.get(preamble_start..opening_end).unwrap_or("");
    let year = [
        pm.front("date").map(str::to_owned),
        Some(pm.title.clone()),
        hints.file_name.map(str::to_owned),
        Some(opening.to_owned()),
    ]
    .iter()
    .flatten()
    .find_map(|text| prose_time::year_in(text))
    .or_else(|| {
        // No year written ("Dec 4, 16:02 UTC"): the latest such day not after today, as a
        // status page read later means.
        let today = hints.today?;
        let later = prose_time::dates_in(body.get(..body.len().min(200_000)).unwrap_or(""))
            .into_iter()
            .find_map(|(_, d)| d.resolve(Some(today.year())))
            .is_some_and(|d| d > today);
        Some(today.year() - i32::from(later))
    });
    let first_date = |text: &str| {
        prose_time::dates_in(text)
            .into_iter()
            .find_map(|(_, d)| d.resolve(year))
    };
    let scan_end = body.len().min(200_000);
    let whole = body.get(..scan_end).unwrap_or("");
    pm.date = ["date", "noticed_at", "started", "start", "incident date"]
        .iter()
        .filter_map(|key| pm.front(key))
        .find_map(first_date)
        .or_else(|| first_date(&pm.title))
        .or_else(|| first_date(opening))
        .or_else(|| hints.file_name.and_then(first_date))
        .or_else(|| first_date(whole));
    let zone = prose_time::declared_zone(whole)
        .or_else(|| {
            pm.front("timezone")
                .and_then(|z| prose_time::zone_at(z.trim()).map(|(z, _)| z))
        })
        .or_else(|| prose_time::first_written_zone(whole));
    let mut clock = Clock {
        base: pm.date.or(hints.today),
        year,
        zone,
        day: None,
        last: None,
    };

    let preamble_end = sections
        .iter()
        .map(|&i| headings[i].start)
        .find(|&s| s >= preamble_start)
        .unwrap_or(body.len());
    let mut preamble = text_with_timeline(
        &body,
        preamble_start,
        preamble_start.max(preamble_end),
        &offset_line,
        &mut clock,
        &mut pm,
    );
    if !title_overflow.is_empty() {
        preamble = join_nonempty(&[title_overflow, preamble]);
    }

    // Sections: a heading that names a field fills it; one under such a heading (deeper) goes
    // with it; anything else is kept under its own heading.
    let mut parent: Option<(Slot, u8)> = None;
    for (n, &i) in sections.iter().enumerate() {
        let heading = &headings[i];
        let end = sections
            .get(n + 1)
            .map_or(body.len(), |&next| headings[next].start);
        let content_start = heading.end.min(end);
        let heading_text = heading.text.trim().to_owned();
        if parent.is_some_and(|(_, level)| heading.level <= level) {
            parent = None;
        }
        let own = slot_of(&heading_text);
        let (slot, child) = match (own, parent) {
            (Some(slot), _) => (Some(slot), false),
            (None, Some((slot, _))) => (Some(slot), true),
            // A time written as a heading (`### 16:58 UTC — alerts fire`) is a timeline entry.
            (None, None) if starts_timed(&heading_text) => (Some(Slot::Timeline), true),
            (None, None) => (None, false),
        };
        match slot {
            Some(Slot::Actions) => {
                let (found, notes) = actions_in(
                    &body,
                    content_start,
                    end,
                    tables
                        .iter()
                        .filter(|t| t.start >= content_start && t.start < end),
                    &offset_line,
                );
                pm.actions.extend(found);
                let notes = if child {
                    join_nonempty(&[format!("### {heading_text}"), notes])
                } else {
                    notes
                };
                pm.action_notes = join_nonempty(&[pm.action_notes.clone(), notes]);
            }
            Some(Slot::Timeline) => {
                // A heading under the timeline may be a day ("### September 30").
                let from = if child { heading.start } else { content_start };
                // A zone in the heading ("Timeline (ET)") holds for this section.
                let document_zone = clock.zone;
                if !child {
                    clock.zone = prose_time::zone_named_in(&heading_text).or(clock.zone);
                }
                timeline_in(&body, from, end, &offset_line, &mut clock, &mut pm);
                clock.zone = document_zone;
            }
            Some(slot) => {
                let mut text = if slot == Slot::Summary {
                    text_with_timeline(&body, content_start, end, &offset_line, &mut clock, &mut pm)
                } else {
                    body[content_start..end].trim().to_owned()
                };
                // An issue form's answer left empty is no answer.
                if text.trim() == "_No response_" {
                    continue;
                }
                // The writer's heading labels the part; a second heading feeding it stays
                // with its text.
                if slot == Slot::RootCauses && !child {
                    if pm.root_causes.is_empty() && pm.root_causes_heading.is_empty() {
                        pm.root_causes_heading = heading_text.clone();
                    } else if heading_text != pm.root_causes_heading {
                        text = labelled(&heading_text, &text);
                    }
                }
                let text = if child {
                    let hashes = "#".repeat(usize::from(heading.level));
                    format!("{hashes} {heading_text}\n\n{text}")
                } else {
                    text
                };
                if let Some(target) = field_of(&mut pm, slot) {
                    *target = join_nonempty(&[target.clone(), text]);
                }
            }
            None => {
                let text = text_with_timeline(
                    &body,
                    content_start,
                    end,
                    &offset_line,
                    &mut clock,
                    &mut pm,
                );
                pm.kept.push(KeptSection {
                    heading: heading_text,
                    level: heading.level,
                    body: text,
                });
            }
        }
        if own.is_some() && !child {
            parent = own.map(|slot| (slot, heading.level));
        }
    }
    pm.summary = join_nonempty(&[preamble, pm.summary.clone()]);
    if pm.summary.is_empty() {
        if pm.kept.is_empty() {
            // A document of nothing but a title, a timeline or actions: its title says what
            // happened.
            pm.summary = pm.title.clone();
        } else {
            let first = pm.kept.remove(0);
            pm.summary = join_nonempty(&[format!("## {}", first.heading), first.body]);
        }
    }
    pm.timeline
        .sort_by(|a, b| a.at.cmp(&b.at).then(a.line.cmp(&b.line)));
    Ok(pm)
}

/// A title without the prefixes of a mail it was sent as ("Subject: Re: Fwd: …"): they belong
/// to the mail, not to the incident. Other prefixes ("Postmortem:") are the writer's and stay.
fn without_mail_prefix(title: &str) -> &str {
    let mut rest = title.trim();
    loop {
        let lower = rest.to_ascii_lowercase();
        let Some(prefix) = ["subject:", "subj:", "re:", "fwd:", "fw:", "aw:", "wg:"]
            .iter()
            .find(|p| lower.starts_with(**p))
        else {
            return rest;
        };
        let after = rest[prefix.len()..].trim_start();
        if after.is_empty() {
            return rest;
        }
        rest = after;
    }
}

/// The first block of the body: a heading (its index), or anything else (where it starts).
enum Block {
    Heading(usize),
    Other(usize),
}

/// Headings and tables of the body, and what its first block is.
fn structure(body: &str) -> (Vec<Heading>, Vec<Table>, Option<Block>) {
    let mut headings: Vec<Heading> = Vec::new();
    let mut tables: Vec<Table> = Vec::new();
    let mut first_block = None;
    let mut current_heading: Option<Heading> = None;
    let mut table: Option<Table> = None;
    let mut row: Vec<String> = Vec::new();
    let mut cell: Option<String> = None;
    let mut in_head = false;
    let mut depth = 0usize;
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS | Options::ENABLE_STRIKETHROUGH;
    for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
        if let Event::Start(_) = &event {
            if depth == 0 && first_block.is_none() {
                first_block = Some(match &event {
                    Event::Start(Tag::Heading { .. }) => Block::Heading(headings.len()),
                    _ => Block::Other(range.start),
                });
            }
            depth += 1;
        }
        if let Event::End(_) = &event {
            depth = depth.saturating_sub(1);
        }
        if depth == 0 && first_block.is_none() {
            if let Event::Text(_) | Event::Html(_) = &event {
                first_block = Some(Block::Other(range.start));
            }
        }
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current_heading = Some(Heading {
                    level: level as u8,
                    text: String::new(),
                    start: range.start,
                    end: range.end,
                });
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(heading) = current_heading.take() {
                    headings.push(heading);
                }
            }
            Event::Start(Tag::Table(_)) => {
                table = Some(Table {
                    start: range.start,
                    head: Vec::new(),
                    rows: Vec::new(),
                });
            }
            Event::End(TagEnd::Table) => {
                if let Some(done) = table.take() {
                    tables.push(done);
                }
            }
            Event::Start(Tag::TableHead) => {
                in_head = true;
                row.clear();
            }
            Event::End(TagEnd::TableHead) => {
                in_head = false;
                if let Some(t) = table.as_mut() {
                    t.head = std::mem::take(&mut row);
                }
            }
            Event::Start(Tag::TableRow) => row.clear(),
            Event::End(TagEnd::TableRow) => {
                if let Some(t) = table.as_mut() {
                    if !in_head {
                        t.rows.push((range.start, std::mem::take(&mut row)));
                    }
                }
            }
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => {
                row.push(cell.take().unwrap_or_default().trim().to_owned());
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some(h) = current_heading.as_mut() {
                    h.text.push_str(&text);
                } else if let Some(c) = cell.as_mut() {
                    c.push_str(&text);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(c) = cell.as_mut() {
                    c.push(' ');
                }
            }
            _ => {}
        }
    }
    (headings, tables, first_block)
}

/// A line without Markdown decoration, for a title: `**Incident report:**` → `Incident report`.
fn plain_line(line: &str) -> String {
    let line = line.trim().trim_start_matches('#').trim();
    let line = list_item(line).unwrap_or(line);
    line.replace("**", "")
        .replace("__", "")
        .replace('`', "")
        .trim()
        .trim_end_matches(':')
        .trim()
        .to_owned()
}

/// A title from a file name: `2025-09-29-queue-outage.md` → `queue outage`.
fn title_of_file(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = base.rsplit_once('.').map_or(base, |(stem, _)| stem);
    let words: Vec<&str> = stem
        .split(['-', '_', ' ', '.'])
        .filter(|w| !w.is_empty())
        .collect();
    let skip = words
        .iter()
        .take_while(|w| w.chars().all(|c| c.is_ascii_digit()))
        .count();
    words[skip..].join(" ")
}

/// At most `max` characters, cut at a word with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    let cut = match cut.rfind(' ') {
        Some(space) if space > max / 2 => cut[..space].to_owned(),
        _ => cut,
    };
    format!("{}…", cut.trim_end())
}

/// A heading without its numbering: `III. Remedial measures` → `Remedial measures`.
fn unnumbered(heading: &str) -> &str {
    match heading.split_once(' ') {
        Some((first, rest))
            if first.ends_with(['.', ')'])
                && first[..first.len() - 1]
                    .chars()
                    .all(|c| c.is_ascii_digit() || "IVXivx".contains(c)) =>
        {
            rest
        }
        _ => heading,
    }
}

/// Plain-text headings made Markdown ones: a line alone that names a section ("Timeline:",
/// "ACTION ITEMS", "**What went well**") becomes `## …`. Line numbers stay as they were.
fn mark_plain_headings(body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 64);
    let mut fence: Option<&str> = None;
    let mut previous_blank = true;
    let lines: Vec<&str> = body.split_inclusive('\n').collect();
    for (index, line) in lines.iter().copied().enumerate() {
        let content = line.trim_end_matches('\n');
        let trimmed = content.trim();
        if let Some(marker) = fence {
            if trimmed.starts_with(marker) {
                fence = None;
            }
            out.push_str(line);
            previous_blank = false;
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
            out.push_str(line);
            previous_blank = false;
            continue;
        }
        let bare = trimmed
            .trim_start_matches(['*', '_'])
            .trim_end_matches(['*', '_'])
            .trim()
            .trim_end_matches(':')
            .trim_end_matches(['*', '_'])
            .trim();
        // "Follow-ups agreed in the thread:" over a list: a heading, whose line is also kept as
        // text, being a sentence of the writer's.
        let long_label = trimmed.ends_with(':')
            && !is_section_name(bare)
            && heading_words(bare).split(' ').count() <= 6
            && slot_of(bare).is_some()
            && lines
                .get(index + 1)
                .is_some_and(|next| list_item(next.trim()).is_some());
        let is_heading = previous_blank
            && !trimmed.is_empty()
            && !trimmed.starts_with(['#', '-', '|', '>', '+'])
            && bare.chars().count() <= 60
            && !bare.contains(':')
            && (trimmed == content.trim_end() && !content.starts_with("    "))
            && (is_section_name(bare) || long_label)
            && (trimmed.ends_with(':')
                || (trimmed.starts_with(['*', '_'])
                    && trimmed.trim_end_matches(':').ends_with(['*', '_']))
                || bare.chars().all(|c| !c.is_lowercase())
                || !unnumbered(bare).contains(['.', ',', ';']));
        if is_heading {
            out.push_str("## ");
            out.push_str(bare);
            out.push('\n');
            if long_label {
                out.push_str(line);
            }
        } else {
            out.push_str(line);
        }
        previous_blank = trimmed.is_empty();
    }
    out
}

/// The text field a plain section fills (Actions and Timeline have their own readers).
fn field_of(pm: &mut Postmortem, slot: Slot) -> Option<&mut String> {
    Some(match slot {
        Slot::Summary => &mut pm.summary,
        Slot::Expected => &mut pm.expected,
        Slot::Impact => &mut pm.impact,
        Slot::RootCauses => &mut pm.root_causes,
        Slot::Trigger => &mut pm.trigger,
        Slot::Resolution => &mut pm.resolution,
        Slot::Detection => &mut pm.detection,
        Slot::Lessons => &mut pm.lessons,
        Slot::WentWell => &mut pm.went_well,
        Slot::WentWrong => &mut pm.went_wrong,
        Slot::GotLucky => &mut pm.got_lucky,
        Slot::Actions | Slot::Timeline => return None,
    })
}

/// Front matter keys that a loop field takes; other keys are kept in the description.
const TAKEN_KEYS: [&str; 12] = [
    "title",
    "team",
    "kind",
    "stage",
    "impact",
    "impact_scale",
    "date",
    "noticed_at",
    "happened_at",
    "anonymous",
    "tags",
    "failure_type",
];

/// Keys that mark leading `key: value` lines as front matter without a `---` block.
const KNOWN_KEYS: [&str; 24] = [
    "title",
    "date",
    "status",
    "author",
    "authors",
    "severity",
    "sev",
    "impact",
    "tags",
    "incident",
    "owner",
    "owners",
    "duration",
    "started",
    "ended",
    "detected",
    "resolved",
    "service",
    "services",
    "team",
    "priority",
    "participants",
    "reviewers",
    "incident date",
];

/// A `key: value` line of front matter: the key (lower case) and the value.
fn key_value(line: &str) -> Option<(String, String)> {
    let (key, value) = line.split_once(':')?;
    let key = key.trim().trim_matches(['*', '_']).trim();
    let ok = !key.is_empty()
        && key.len() <= 30
        && key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-'))
        && key.split(' ').count() <= 3;
    if !ok {
        return None;
    }
    let value = value.trim().trim_start_matches(['*', '_']).trim();
    let value = if value.starts_with('"') {
        serde_json::from_str::<String>(value).unwrap_or_else(|_| value.trim_matches('"').to_owned())
    } else {
        value.trim_matches('\'').to_owned()
    };
    Some((key.to_lowercase(), value))
}

/// Reads front matter — a `---` block, or `key: value` lines at the top of which one is a key
/// postmortems use (`title:`, `date:`, `status:`, `authors:`) — and returns where the body
/// starts. A block that does not read as front matter is left in the body.
fn front_matter(source: &str, pm: &mut Postmortem) -> usize {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut raw: Vec<&str> = Vec::new();
    let end;
    if let Some(rest) = source.strip_prefix("---\n") {
        let mut offset = 4;
        let mut closed = false;
        for line in rest.split_inclusive('\n') {
            offset += line.len();
            let line = line.trim_end();
            if line == "---" || line == "..." {
                closed = true;
                break;
            }
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            if line.starts_with([' ', '\t', '-']) {
                // A list under the previous key: `authors:\n  - a\n  - b`.
                let Some((_, value)) = pairs.last_mut() else {
                    return 0;
                };
                let item = line.trim().trim_start_matches('-').trim();
                if !value.is_empty() {
                    value.push_str(", ");
                }
                value.push_str(item);
                raw.push(line);
                continue;
            }
            match key_value(line) {
                Some(pair) => {
                    pairs.push(pair);
                    raw.push(line);
                }
                None => return 0,
            }
        }
        if !closed {
            return 0;
        }
        end = offset;
    } else {
        let mut offset = 0;
        let mut known = false;
        for line in source.split_inclusive('\n') {
            let content = line.trim_end();
            if content.trim().is_empty() {
                if pairs.is_empty() {
                    offset += line.len();
                    continue;
                }
                break;
            }
            match key_value(content).filter(|(_, v)| !v.is_empty()) {
                Some(pair) => {
                    known |= KNOWN_KEYS.contains(&pair.0.as_str());
                    pairs.push(pair);
                    raw.push(content);
                    offset += line.len();
                }
                None => break,
            }
        }
        if !known {
            return 0;
        }
        end = offset;
    }
    let mut details = Vec::new();
    // Continuation lines belong to the key before them: keep them with it when it is kept.
    let kept_keys: Vec<&str> = pairs
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !TAKEN_KEYS.contains(k))
        .collect();
    let mut current_kept = false;
    for line in &raw {
        if line.starts_with([' ', '\t', '-']) {
            if current_kept {
                details.push(*line);
            }
            continue;
        }
        current_kept = key_value(line).is_some_and(|(k, v)| {
            kept_keys.contains(&k.as_str())
                || (k == "impact" && super::loops::ImpactScale::parse(&v).is_err())
        });
        if current_kept {
            details.push(*line);
        }
    }
    pm.details = details.join("\n");
    pm.front_matter = pairs;
    end
}

/// Items of a front matter list (`[a, b]` or `a, b`).
pub fn front_list(value: &str) -> Vec<String> {
    value
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| s.trim().trim_matches('"').trim_matches('\'').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn status_of(raw: &str) -> Option<ActionStatus> {
    let lower = raw.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .collect();
    if raw.contains(['✅', '✔']) {
        return Some(ActionStatus::Done);
    }
    if words.iter().any(|w| {
        [
            "done",
            "closed",
            "fixed",
            "complete",
            "completed",
            "resolved",
            "shipped",
            "merged",
        ]
        .contains(w)
    }) {
        Some(ActionStatus::Done)
    } else if words
        .iter()
        .any(|w| ["dropped", "wontfix", "won't", "cancelled", "canceled"].contains(w))
    {
        Some(ActionStatus::Dropped)
    } else if words.iter().any(|w| {
        [
            "open", "todo", "started", "progress", "pending", "planned", "new",
        ]
        .contains(w)
    }) {
        Some(ActionStatus::Open)
    } else {
        None
    }
}

/// The status a list item states of itself: a ticked box, a struck-out item, a trailing
/// "(done)" or "DONE", a check mark.
fn item_status(item: &str) -> (ActionStatus, &str) {
    if let Some(rest) = item
        .strip_prefix("[x]")
        .or_else(|| item.strip_prefix("[X]"))
    {
        return (ActionStatus::Done, rest.trim_start());
    }
    if let Some(rest) = item.strip_prefix("[ ]") {
        return (ActionStatus::Open, rest.trim_start());
    }
    let trimmed = item.trim();
    if trimmed.starts_with("~~") && trimmed.ends_with("~~") && trimmed.len() > 4 {
        return (ActionStatus::Done, item);
    }
    let lower = trimmed.to_lowercase();
    let tail = lower
        .rsplit(['(', '[', '—', '–'])
        .next()
        .unwrap_or("")
        .trim_end_matches([')', ']', '.'])
        .trim();
    let said = trimmed.contains(['✅', '✔'])
        || trimmed.split_whitespace().any(|w| w == "DONE")
        || ["done", "completed", "fixed", "shipped", "complete"].contains(&tail);
    if said {
        return (ActionStatus::Done, item);
    }
    if ["wontfix", "won't fix", "dropped", "cancelled", "canceled"].contains(&tail) {
        return (ActionStatus::Dropped, item);
    }
    (ActionStatus::Open, item)
}

/// The longest action title stored; a longer item is shortened and kept whole in the notes.
const ACTION_MAX: usize = 500;
/// The longest timeline entry stored, likewise.
const EVENT_MAX: usize = 2000;

/// Actions of a section: table rows and list items (with their continuation lines), and the
/// rest of its text as notes.
fn actions_in<'a>(
    body: &str,
    start: usize,
    end: usize,
    tables: impl Iterator<Item = &'a Table>,
    offset_line: &dyn Fn(usize) -> usize,
) -> (Vec<PostmortemAction>, String) {
    let mut out = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut had_table = false;
    for table in tables {
        had_table = true;
        let lower: Vec<String> = table.head.iter().map(|h| h.to_lowercase()).collect();
        let column = |names: &[&str]| {
            lower
                .iter()
                .position(|h| names.iter().any(|n| h.contains(n)))
        };
        let owner = column(&["owner", "assignee", "who", "responsible", "dri", "assigned"]);
        let status = column(&["status", "state", "done"]);
        let reference = column(&["bug", "ticket", "issue", "link", "jira", "tracking", "pr"]);
        let action = column(&[
            "action",
            "item",
            "task",
            "what",
            "description",
            "remediation",
            "title",
            "summary",
            "follow",
        ])
        .or_else(|| {
            (0..table.head.len()).find(|i| {
                Some(*i) != owner
                    && Some(*i) != status
                    && Some(*i) != reference
                    && !["#", "id", "no", "priority", "due", "type"].contains(&lower[*i].trim())
            })
        })
        .unwrap_or(0);
        for (row_start, cells) in &table.rows {
            let title = cells.get(action).map(|s| s.trim()).unwrap_or_default();
            // The owner is kept in the action's text, first among its details: the writer put
            // it there, and nothing of the source is dropped (the loop's owner field holds team
            // members only).
            let owner_cell = owner
                .and_then(|i| cells.get(i))
                .map(|c| c.trim())
                .filter(|c| {
                    !c.is_empty() && !["-", "—", "n/a", "tbd"].contains(&c.to_lowercase().as_str())
                });
            let extras: Vec<String> = owner_cell
                .map(|c| format!("owner: {c}"))
                .into_iter()
                .chain(
                    cells
                        .iter()
                        .enumerate()
                        .filter(|(i, c)| {
                            *i != action
                                && Some(*i) != owner
                                && Some(*i) != status
                                && !c.trim().is_empty()
                        })
                        .map(|(i, c)| match table.head.get(i).filter(|h| !h.is_empty()) {
                            Some(head) if Some(i) != reference => format!("{head}: {}", c.trim()),
                            _ => c.trim().to_owned(),
                        }),
                )
                .collect();
            if title.is_empty() {
                if !extras.is_empty() {
                    notes.push(extras.join(" | "));
                }
                continue;
            }
            let status_cell = status.and_then(|i| cells.get(i)).map_or("", String::as_str);
            let mut full = title.to_owned();
            if !extras.is_empty() {
                full = format!("{full} ({})", extras.join("; "));
            }
            let reference_cell = reference
                .and_then(|i| cells.get(i))
                .map_or("", String::as_str);
            let parsed = status_of(status_cell)
                .or_else(|| {
                    status
                        .is_none()
                        .then(|| status_of(reference_cell))
                        .flatten()
                })
                .or_else(|| status.is_none().then(|| item_status(title).0));
            // A status that says more than done/open is kept with the action.
            let status_words = status_cell.trim();
            if !status_words.is_empty() && status_of(status_words).is_none() {
                full = format!("{full} [{status_words}]");
            }
            push_action(
                &mut out,
                &mut notes,
                full,
                parsed.unwrap_or(ActionStatus::Open),
                offset_line(*row_start),
            );
        }
    }
    // Lists: one action per item; indented and wrapped lines continue it.
    let text = &body[start.min(end)..end];
    let mut current: Option<(String, ActionStatus, usize)> = None;
    let mut item_indent = None;
    let mut blank_before = false;
    let mut offset = start;
    for raw in text.split_inclusive('\n') {
        let line_offset = offset;
        offset += raw.len();
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() {
            blank_before = true;
            continue;
        }
        if (had_table && trimmed.starts_with('|'))
            || is_table_rule(trimmed)
            || is_underline(trimmed)
        {
            continue;
        }
        let item = list_item(trimmed);
        let top = item.is_some() && item_indent.is_none_or(|i| indent <= i);
        if top {
            if let Some((title, status, line_no)) = current.take() {
                push_action(&mut out, &mut notes, title, status, line_no);
            }
            item_indent = Some(indent);
            let (status, rest) = item_status(item.unwrap_or(trimmed));
            current = Some((rest.trim().to_owned(), status, offset_line(line_offset)));
        } else if let Some((title, _, _)) = current
            .as_mut()
            .filter(|_| indent > 0 || (!blank_before && item.is_none()))
        {
            let more = item.unwrap_or(trimmed).trim();
            let joiner = if item.is_some() { "; " } else { " " };
            title.push_str(joiner);
            title.push_str(more);
        } else {
            if let Some((title, status, line_no)) = current.take() {
                push_action(&mut out, &mut notes, title, status, line_no);
            }
            item_indent = None;
            notes.push(line.to_owned());
        }
        blank_before = false;
    }
    if let Some((title, status, line_no)) = current.take() {
        push_action(&mut out, &mut notes, title, status, line_no);
    }
    (out, notes.join("\n"))
}

fn push_action(
    out: &mut Vec<PostmortemAction>,
    notes: &mut Vec<String>,
    title: String,
    status: ActionStatus,
    line: usize,
) {
    let title = title.trim().to_owned();
    if title.is_empty() {
        return;
    }
    let stored = if title.chars().count() > ACTION_MAX {
        notes.push(title.clone());
        shorten(&title, ACTION_MAX)
    } else {
        title
    };
    out.push(PostmortemAction {
        title: stored,
        status,
        line,
    });
}

/// A setext heading's underline (`=====`), or a thematic break.
fn is_underline(line: &str) -> bool {
    line.len() >= 3
        && (line.chars().all(|c| c == '=')
            || line.chars().all(|c| c == '-' || c == '*' || c == ' '))
}

fn is_table_rule(line: &str) -> bool {
    line.contains('-') && line.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// The text of a list item line (`- x`, `* x`, `+ x`, `1. x`, `1) x`), if it is one.
fn list_item(line: &str) -> Option<&str> {
    for marker in ["- ", "* ", "+ ", "• "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return Some(rest);
        }
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && digits < 4 {
        let rest = &line[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(rest);
        }
    }
    None
}

/// How times written alone are dated while reading.
struct Clock {
    /// The document's day.
    base: Option<Date>,
    /// A year for dates written without one.
    year: Option<i32>,
    /// The zone the document declares.
    zone: Option<Zone>,
    /// The day the timeline has reached.
    day: Option<Date>,
    /// The last event's local date and time, to notice a timeline passing midnight.
    last: Option<PrimitiveDateTime>,
}

enum Line {
    Event(OffsetDateTime, String),
    Day,
    Other,
}

impl Clock {
    /// Reads a timeline line: `2024-05-01 14:03 UTC: text`, `**16:58 UTC** - text`,
    /// `[16:58] text`, `4:58pm PT text`, `Sep 30 01:10 text`, `| 16:58 | text |`, and a date
    /// alone (`### September 30`, `**2024-05-01**`) that dates the lines after it.
    fn read(&mut self, raw: &str) -> Line {
        if let Some(stamped) = stamp_after_name(raw) {
            return self.read(&stamped);
        }
        let line = undecorate(raw);
        let (date, after_date) = match prose_time::date_at(line) {
            Some((written, len)) => match written.resolve(self.year) {
                Some(date) => (Some(date), &line[len..]),
                None => return Line::Other,
            },
            None => (None, line),
        };
        let rest = match date {
            Some(_) => {
                let gap = after_date.len()
                    - after_date
                        .trim_start_matches([' ', ',', 'T', '@', '|', '*', '_', '`', '-', '–'])
                        .len();
                let rest = &after_date[gap..];
                rest.strip_prefix("at ").unwrap_or(rest)
            }
            None => after_date,
        };
        let Some((time, zone, len)) = prose_time::time_at(rest) else {
            let Some(date) = date else {
                return Line::Other;
            };
            let text = clean_text(after_date);
            if text.is_empty() || after_date.trim_start().starts_with('(') {
                self.day = Some(date);
                self.last = None;
                return Line::Day;
            }
            // A dated line without a time: the event is put at midnight of that day.
            self.day = Some(date);
            return match PrimitiveDateTime::new(date, Time::MIDNIGHT)
                .assume_offset(self.zone.map_or(UtcOffset::UTC, |z| z.offset_on(date)))
                .checked_to_offset(UtcOffset::UTC)
            {
                Some(at) => Line::Event(at, text),
                None => Line::Other,
            };
        };
        let mut rest = &rest[len..];
        let mut zone = zone;
        // `**16:58** UTC — text`: a zone after the closing decoration.
        let closing = rest.trim_start_matches(['*', '_', '`', ']', ')', ' ']);
        if zone.is_none() {
            if let Some((found, n)) = prose_time::zone_at(closing) {
                zone = Some(found);
                rest = &closing[n..];
            }
        }
        // A time alone (`### 16:58 UTC`) is an event whose text is on the lines after it.
        let text = clean_text(rest);
        let explicit = date.is_some();
        let Some(mut date) = date.or(self.day).or(self.base) else {
            return Line::Other;
        };
        if !explicit {
            // 23:50 then 00:10: the timeline passed midnight.
            if let Some(last) = self.last {
                if last.date() == date
                    && time + Duration::hours(6) < last.time()
                    && time < last.time()
                {
                    date = date.next_day().unwrap_or(date);
                }
            }
        }
        let zone = zone.or(self.zone).unwrap_or(Zone::Fixed(UtcOffset::UTC));
        let local = PrimitiveDateTime::new(date, time);
        let Some(at) = local
            .assume_offset(zone.offset_on(date))
            .checked_to_offset(UtcOffset::UTC)
        else {
            return Line::Other;
        };
        self.day = Some(date);
        self.last = Some(local);
        Line::Event(at, text)
    }
}

/// A chat transcript's line, a name and then its stamp (`Dana Ruiz  [10:42 AM]`, the text on
/// the lines after it), rewritten with the time first (`10:42 AM Dana Ruiz:`) so that it reads
/// as a timeline entry. The name stays: it is part of what the writer kept.
fn stamp_after_name(line: &str) -> Option<String> {
    let line = line.trim();
    let open = line.find('[')?;
    let name = line[..open].trim();
    if name.is_empty()
        || name.chars().count() > 60
        || name.starts_with(|c: char| c.is_ascii_digit() || c == '[')
        || prose_time::time_at(undecorate(name)).is_some()
    {
        return None;
    }
    let inside = &line[open + 1..];
    let (_, _, len) = prose_time::time_at(inside)?;
    let after = inside[len..].strip_prefix(']')?;
    Some(
        format!("{} {name}: {}", &inside[..len], after.trim())
            .trim()
            .to_owned(),
    )
}

/// A line without its list marker, task box, table pipe, emphasis and brackets around a time.
fn undecorate(raw: &str) -> &str {
    let mut line = raw.trim();
    loop {
        let before = line;
        line = list_item(line).unwrap_or(line);
        line = line
            .trim_start_matches(['#', '|', '*', '_', '`', '[', '(', '>', '~'])
            .trim_start();
        for prefix in ["at ", "At ", "around ", "Around ", "approx. ", "~"] {
            if let Some(rest) = line.strip_prefix(prefix) {
                if rest.starts_with(|c: char| c.is_ascii_digit()) {
                    line = rest;
                }
            }
        }
        if line == before {
            return line;
        }
    }
}

fn clean_text(rest: &str) -> String {
    rest.trim_start_matches(['*', '_', '`', ']', ')', ' ', '\t'])
        .trim_start_matches([':', '-', '—', '–', '|', ' ', ',', '.', '\t'])
        .trim_end_matches([' ', '|'])
        .trim()
        .to_owned()
}

/// Timeline lines from `start` to `end`: events, days, and notes for the rest. A line that
/// continues an event (wrapped, or a nested item) is added to it.
fn timeline_in(
    body: &str,
    start: usize,
    end: usize,
    offset_line: &dyn Fn(usize) -> usize,
    clock: &mut Clock,
    pm: &mut Postmortem,
) {
    let mut notes: Vec<String> = Vec::new();
    let mut offset = start;
    let mut open_event: Option<usize> = None;
    // A table header's zone holds for these lines only.
    let document_zone = clock.zone;
    // An event whose time stood alone on its line, waiting for its text.
    let mut pending: Option<(OffsetDateTime, String)> = None;
    let mut pending_offset = start;
    // Under a time written as a heading, the paragraphs after it are the event's text.
    let mut from_heading = false;
    let mut previous_blank = true;
    let text = &body[start.min(end)..end];
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (index, raw) in lines.iter().enumerate() {
        let line_offset = offset;
        offset += raw.len();
        let line = raw.trim_end();
        let trimmed = line.trim();
        if trimmed.is_empty() {
            previous_blank = true;
            continue;
        }
        // A table's rule and its header row are structure, not content.
        if is_table_rule(trimmed) {
            previous_blank = false;
            continue;
        }
        let next_is_rule = lines
            .get(index + 1)
            .is_some_and(|next| is_table_rule(next.trim()));
        if trimmed.starts_with('|') && next_is_rule {
            // A zone in the time column's header ("| Time (PST) | Event |") dates its rows.
            if let Some(zone) = trimmed
                .split('|')
                .find(|cell| cell.to_lowercase().contains("time"))
                .and_then(prose_time::zone_named_in)
            {
                clock.zone = Some(zone);
            }
            previous_blank = false;
            continue;
        }
        match clock.read(trimmed) {
            Line::Event(at, text) if text.is_empty() => {
                if let Some((_, pending_line)) = pending.take() {
                    notes.push(pending_line);
                }
                pending = Some((at, line.to_owned()));
                pending_offset = line_offset;
                open_event = None;
            }
            Line::Event(at, text) => {
                if let Some((_, pending_line)) = pending.take() {
                    notes.push(pending_line);
                }
                let mut text = text;
                if text.chars().count() > EVENT_MAX {
                    notes.push(line.to_owned());
                    text = shorten(&text, EVENT_MAX);
                }
                pm.timeline.push(PostmortemEvent {
                    at,
                    text,
                    line: offset_line(line_offset),
                });
                open_event = Some(pm.timeline.len() - 1);
                from_heading = trimmed.starts_with('#');
            }
            Line::Day => {
                if let Some((_, pending_line)) = pending.take() {
                    notes.push(pending_line);
                }
                open_event = None;
            }
            Line::Other if pending.is_some() && !trimmed.starts_with('#') => {
                if let Some((at, _)) = pending.take() {
                    let text = list_item(trimmed).unwrap_or(trimmed);
                    pm.timeline.push(PostmortemEvent {
                        at,
                        text: shorten(text, EVENT_MAX),
                        line: offset_line(pending_offset),
                    });
                    if text.chars().count() > EVENT_MAX {
                        notes.push(line.to_owned());
                    }
                    open_event = Some(pm.timeline.len() - 1);
                    from_heading = true;
                }
            }
            Line::Other => {
                let continues = open_event.filter(|_| {
                    let indented = line.starts_with([' ', '\t']);
                    from_heading || indented || (!previous_blank && list_item(trimmed).is_none())
                });
                match continues.and_then(|i| pm.timeline.get_mut(i)) {
                    Some(event)
                        if event.text.chars().count() + trimmed.chars().count() < EVENT_MAX =>
                    {
                        let more = list_item(trimmed).unwrap_or(trimmed);
                        event.text.push(' ');
                        event.text.push_str(more);
                    }
                    _ => {
                        open_event = None;
                        notes.push(line.to_owned());
                    }
                }
            }
        }
        previous_blank = false;
    }
    if let Some((_, pending_line)) = pending.take() {
        notes.push(pending_line);
    }
    clock.zone = document_zone;
    let notes = notes.join("\n").trim().to_owned();
    if !notes.is_empty() {
        pm.timeline_notes = join_nonempty(&[pm.timeline_notes.clone(), notes]);
    }
}

/// Whether a line starts with a time (or a date and a time), as timeline entries do.
fn starts_timed(line: &str) -> bool {
    let mut probe = Clock {
        base: Date::from_calendar_date(2000, time::Month::January, 1).ok(),
        year: Some(2000),
        zone: None,
        day: None,
        last: None,
    };
    let line = undecorate(line);
    let after_date = prose_time::date_at(line).map_or(line, |(_, n)| &line[n..]);
    let rest = after_date.trim_start_matches([' ', ',', 'T', '@', '|', '*', '_', '`']);
    (prose_time::time_at(rest).is_some() || stamp_after_name(line).is_some())
        && matches!(probe.read(line), Line::Event(..))
}

/// Prose with a timeline inside: runs of paragraphs or items that start with a time (two or
/// more) are read as timeline entries; the rest is returned as text.
fn text_with_timeline(
    body: &str,
    start: usize,
    end: usize,
    offset_line: &dyn Fn(usize) -> usize,
    clock: &mut Clock,
    pm: &mut Postmortem,
) -> String {
    let text = &body[start.min(end)..end];
    // Blocks separated by blank lines, with their byte ranges in the body.
    let mut blocks: Vec<(usize, usize)> = Vec::new();
    let mut offset = start;
    let mut block_start: Option<usize> = None;
    for raw in text.split_inclusive('\n') {
        if raw.trim().is_empty() {
            if let Some(s) = block_start.take() {
                blocks.push((s, offset));
            }
        } else if block_start.is_none() {
            block_start = Some(offset);
        }
        offset += raw.len();
    }
    if let Some(s) = block_start {
        blocks.push((s, offset));
    }
    let timed: Vec<bool> = blocks
        .iter()
        .map(|&(s, e)| {
            let lines: Vec<&str> = body[s..e]
                .lines()
                .filter(|l| !l.trim().is_empty())
                .collect();
            let starting = lines
                .iter()
                .filter(|l| !l.starts_with([' ', '\t']) && starts_timed(l))
                .count();
            let heads = lines
                .iter()
                .filter(|l| !l.starts_with([' ', '\t']) && list_item(l.trim()).is_some())
                .count()
                .max(1);
            starting > 0
                && starts_timed(lines.first().copied().unwrap_or(""))
                && starting * 2 >= heads
        })
        .collect();
    // A status page's updates: a paragraph of text, its stamp on the last line ("Dec 4, 16:02
    // UTC"). Two or more in a row are timeline entries.
    let stamp_of = |&(s, e): &(usize, usize)| {
        let lines: Vec<&str> = body[s..e]
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        let (last, before) = lines.split_last()?;
        let mut probe = Clock {
            base: None,
            year: clock.year,
            zone: clock.zone,
            day: None,
            last: None,
        };
        let bare = matches!(probe.read(last), Line::Event(_, ref text) if text.is_empty());
        (bare && !before.is_empty() && !before.iter().any(|l| starts_timed(l))).then(|| {
            (
                last.trim().to_owned(),
                before
                    .iter()
                    .map(|l| l.trim())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })
    };
    let stamped: Vec<Option<(String, String)>> = blocks.iter().map(stamp_of).collect();
    // Runs of timed blocks with at least two timed lines among them.
    let mut kept = Vec::new();
    let mut i = 0;
    while i < blocks.len() {
        let run = stamped[i..].iter().take_while(|s| s.is_some()).count();
        if run >= 2 {
            for (n, (stamp, text)) in stamped[i..i + run].iter().flatten().enumerate() {
                match clock.read(stamp) {
                    Line::Event(at, _) => pm.timeline.push(PostmortemEvent {
                        at,
                        text: shorten(text, EVENT_MAX),
                        line: offset_line(blocks[i + n].0),
                    }),
                    _ => kept.push(body[blocks[i + n].0..blocks[i + n].1].trim_end().to_owned()),
                }
                if text.chars().count() > EVENT_MAX {
                    kept.push(text.clone());
                }
            }
            i += run;
            continue;
        }
        if !timed[i] {
            kept.push(body[blocks[i].0..blocks[i].1].trim_end().to_owned());
            i += 1;
            continue;
        }
        let run_start = i;
        while i < blocks.len() && timed[i] {
            i += 1;
        }
        let (s, e) = (blocks[run_start].0, blocks[i - 1].1);
        let count = body[s..e].lines().filter(|l| starts_timed(l)).count();
        if count >= 2 {
            timeline_in(body, s, e, offset_line, clock, pm);
        } else {
            for block in &blocks[run_start..i] {
                kept.push(body[block.0..block.1].trim_end().to_owned());
            }
        }
    }
    kept.join("\n\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const SRE: &str = "# Shakespeare search outage\n\n\
## Summary\n\nSearch was down for 66 minutes.\n\n\
## Impact\n\nAbout 1.2 billion queries went unanswered.\n\n\
## Root Causes\n\nA cascading failure under load.\n\n\
## Trigger\n\nA latent bug met a traffic spike.\n\n\
## Lessons Learned\n\n### What went well\n\nMonitoring paged quickly.\n\n\
### What went wrong\n\nWe had no runbook.\n\n### Where we got lucky\n\nA colleague knew the index.\n\n\
## Action Items\n\n| Action | Type | Owner | Bug |\n|---|---|---|---|\n\
| Update runbook | mitigate | jennifer | n/a **DONE** |\n| Add load shedding | prevent | martin | BUG-4321 |\n\n\
## Timeline\n\n2015-10-21 (all times UTC)\n\n- 14:51 News reports the sonnet.\n- 2015-10-21 14:53 UTC: traffic rises 88x\n\n\
## Glossary\n\nSonnet: a poem.\n";

    #[test]
    fn reads_the_sre_template() {
        let pm = parse(SRE).expect("parses");
        assert_eq!(pm.title, "Shakespeare search outage");
        assert_eq!(pm.summary, "Search was down for 66 minutes.");
        assert_eq!(pm.went_well, "Monitoring paged quickly.");
        assert_eq!(pm.got_lucky, "A colleague knew the index.");
        assert_eq!(pm.actions.len(), 2);
        assert_eq!(pm.actions[0].status, ActionStatus::Done);
        assert_eq!(
            pm.actions[1].title,
            "Add load shedding (owner: martin; Type: prevent; BUG-4321)"
        );
        assert_eq!(pm.timeline.len(), 2);
        assert_eq!(pm.timeline[0].text, "News reports the sonnet.");
        assert_eq!(pm.kept[0].heading, "Glossary");
        assert!(pm.description().contains("## Glossary\n\nSonnet: a poem."));
    }

    #[test]
    fn a_dated_line_with_nothing_but_punctuation_dates_the_lines_after_it() {
        // Found by the postmortem fuzz target: `2024-05-01 —` became an event with no text.
        let pm =
            parse("# T\n\nText.\n\n## Timeline\n\n2024-05-01 —\n- 14:03 paged\n").expect("parses");
        assert_eq!(pm.timeline.len(), 1);
        assert_eq!(pm.timeline[0].text, "paged");
    }

    #[test]
    fn keeps_an_impossible_timeline_line_as_a_note() {
        let text =
            "# T\n\nText.\n\n## Timeline\n\n- 2024-05-01 14:03 UTC: ok\n- 2024-13-45 10:00: bad\n";
        let pm = parse(text).expect("parses");
        assert_eq!(pm.timeline.len(), 1);
        assert!(pm.description().contains("2024-13-45 10:00: bad"));
    }

    #[test]
    fn refuses_control_characters_with_their_line() {
        let error =
            parse("# T\r\n\r\nText.\r\n\r\n## Trigger\r\n\r\nA\u{0}B\r\n").expect_err("refused");
        assert_eq!((error.line, error.field), (7, "body"));
        assert!(error.message.contains("U+0000"), "{error}");
    }

    #[test]
    fn keeps_instants_beyond_year_9999_in_utc_as_notes() {
        // Found by the fuzz target `postmortem`: the conversion to UTC panicked.
        let pm = parse("# T\n\nText.\n\n## Timeline\n\n- 9999-12-31 23:59 -05:00: late\n")
            .expect("parses");
        assert!(pm.timeline.is_empty());
        assert!(pm.timeline_notes.contains("late"));
        let pm = parse("# T\n\nText.\n\n## Timeline\n\n- 0000-01-01 00:00 -05:00: early\n")
            .expect("parses");
        assert_eq!(pm.timeline[0].at.hour(), 5);
    }

    #[test]
    fn a_title_comes_from_the_first_line_heading_or_file() {
        assert_eq!(parse("Just text.\n").expect("parses").title, "Just text.");
        assert_eq!(
            parse("## Database failover\n\nIt failed over.\n")
                .expect("parses")
                .title,
            "Database failover"
        );
        let hints = Hints {
            file_name: Some("2025-09-29-queue-outage.md"),
            today: None,
        };
        let pm = parse_with("## Summary\n\nThe queue stalled.\n", hints).expect("parses");
        assert_eq!(pm.title, "queue outage");
        assert_eq!(pm.date, Some(date!(2025 - 09 - 29)));
        assert_eq!(pm.summary, "The queue stalled.");
        assert_eq!(parse(" \n\n").expect_err("empty").message, "is empty");
    }

    #[test]
    fn reads_times_written_as_headings() {
        let text = "# Cache outage\n\nOn 2 May 2025 the cache fell over.\n\n## 16:58 UTC\n\nAlerts fire.\n\nThe on-call looks.\n\n## 17:10 UTC - Cache restarted\n\nAll good.\n";
        let pm = parse(text).expect("parses");
        assert_eq!(pm.timeline.len(), 2, "{pm:?}");
        assert_eq!(pm.timeline[0].text, "Alerts fire. The on-call looks.");
        assert_eq!(pm.timeline[1].text, "Cache restarted All good.");
        assert_eq!(pm.timeline[1].at.date(), date!(2025 - 05 - 02));
    }

    #[test]
    fn dates_lone_times_from_the_opening_paragraph() {
        let text = "## Checkout outage\n\nOn September 29, 2025, checkout failed. All times PDT.\n\n\
### Timeline\n\n- **16:58** - alerts fire\n- **23:50** - rollback starts\n- **00:10** - rollback done\n";
        let pm = parse(text).expect("parses");
        assert_eq!(pm.title, "Checkout outage");
        assert_eq!(pm.timeline.len(), 3);
        assert_eq!(
            pm.timeline[0].at.to_string(),
            "2025-09-29 23:58:00.0 +00:00:00"
        );
        assert_eq!(pm.timeline[2].at.date(), date!(2025 - 09 - 30));
        assert_eq!(pm.timeline[2].at.hour(), 7);
    }

    #[test]
    fn reads_front_matter_and_offsets() {
        let pm = parse("---\ntitle: \"A: b\"\ntags: [x, y]\nauthors:\n  - kim\n---\nBody text.\n\n## Timeline\n- 2024-05-01 14:03 +02:00 — moved\n")
            .expect("parses");
        assert_eq!(pm.title, "A: b");
        assert_eq!(front_list(pm.front("tags").unwrap_or("")), ["x", "y"]);
        assert_eq!(pm.timeline[0].at.hour(), 12);
        assert_eq!(pm.timeline[0].text, "moved");
        assert!(pm.description().contains("authors:\n  - kim"));
    }

    #[test]
    fn reads_leading_key_lines_and_plain_text_sections() {
        let text = "title: Nightly backup failed\ndate: 2025-03-04\nstatus: resolved\n\n\
The backup job failed for two nights.\n\nTimeline:\n09:47 Initial onset of errors\n10:15 Job restarted\n\n\
Follow-ups:\n- [ ] Alert on backup size (owner: @sam) #123\n- [x] Restore test\n";
        let pm = parse(text).expect("parses");
        assert_eq!(pm.title, "Nightly backup failed");
        assert_eq!(pm.timeline.len(), 2);
        assert_eq!(pm.timeline[0].at.date(), date!(2025 - 03 - 04));
        assert_eq!(pm.actions.len(), 2);
        assert_eq!(pm.actions[1].status, ActionStatus::Done);
        assert!(pm.actions[0].title.contains("@sam"));
        assert!(pm.details.contains("status: resolved"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
        /// Whatever text it is given, the reader does not panic, names lines that exist, keeps a
        /// title, and orders the timeline (the fuzz target checks the same at scale).
        #[test]
        fn reads_any_text_without_panicking(text in "(#{0,3} ?|- |\\| |\\*\\*|\\[ \\] |---\n|title: |[0-9]{1,2}:[0-9]{2} ?(UTC|PT|Z|pm)? |Sep 3[0-9] |2025-0[0-9]-[0-9]{2}T? ?|é|—|\\(|\\)|[a-zA-Z ]{0,12}|Timeline:?\n|Action items\n|\n){0,40}") {
            let lines = normalise(&text).split('\n').count();
            if let Ok(pm) = parse(&text) {
                proptest::prop_assert!(!pm.title.trim().is_empty());
                for e in &pm.timeline {
                    proptest::prop_assert!((1..=lines).contains(&e.line));
                    proptest::prop_assert!(!e.text.is_empty());
                }
                for a in &pm.actions {
                    proptest::prop_assert!((1..=lines).contains(&a.line));
                }
                proptest::prop_assert!(pm.timeline.windows(2).all(|w| w[0].at <= w[1].at));
            }
        }
    }

    fn day(y: i32, m: time::Month, d: u8) -> Option<Date> {
        Date::from_calendar_date(y, m, d).ok()
    }

    fn at(pm: &Postmortem) -> Vec<String> {
        pm.timeline
            .iter()
            .map(|e| format!("{} {}", e.at.date(), e.at.time()))
            .collect()
    }

    #[test]
    fn a_zone_in_the_timeline_heading_or_time_column_dates_its_times() {
        let heading = "# Login outage\n\nOn 7 May 2024 logins failed.\n\n## Timeline (ET)\n\n\
            - 2:15 PM first failures\n- 3:02 PM recovered\n";
        let pm = parse(heading).expect("parses");
        assert_eq!(at(&pm), ["2024-05-07 18:15:00.0", "2024-05-07 19:02:00.0"]);
        let column = "# Checkout\n\nOn March 3rd, 2024 checkout slowed.\n\n## Timeline\n\n\
            | Time (PST) | Event |\n|---|---|\n| 2:20 PM | alert |\n| 3:40 PM | all clear |\n";
        let pm = parse(column).expect("parses");
        assert_eq!(at(&pm), ["2024-03-03 22:20:00.0", "2024-03-03 23:40:00.0"]);
        // A zone written once with a time holds for the times written alone.
        let once = "# Checkout\n\nOn March 3rd, 2024 at 2:20 PM PST checkout slowed.\n\n\
            ## Timeline\n\n- 2:20 PM alert\n- 3:40 PM all clear\n";
        assert_eq!(
            at(&parse(once).expect("parses"))[0],
            "2024-03-03 22:20:00.0"
        );
    }

    #[test]
    fn owners_stay_in_their_actions_and_the_writers_heading_labels_factors() {
        let pm = parse(
            "# Checkout\n\nSlow.\n\n## Contributing factors\n\n- Pools kept their size.\n\n\
             ## Action Items\n\n| Action | Owner | Ticket |\n|---|---|---|\n\
             | Resize pools | @kim | PLAT-231 |\n",
        )
        .expect("parses");
        assert_eq!(pm.actions[0].title, "Resize pools (owner: @kim; PLAT-231)");
        assert!(pm
            .review_difference()
            .starts_with("**Contributing factors**"));
        assert!(!pm.review_difference().contains("Root causes"));
    }

    #[test]
    fn a_mail_subject_loses_its_prefix() {
        let pm = parse("Subject: Re: Postmortem - login outage of 7 May\n\nLogins failed.\n")
            .expect("parses");
        assert_eq!(pm.title, "Postmortem - login outage of 7 May");
    }

    #[test]
    fn chat_stamps_status_updates_and_european_times_are_read() {
        let chat = "Export of #inc-42, June 4, 2024 (times in PT)\n\nDana  [10:42 AM]\n\
            deliveries failing\nSam  [11:20 AM]\ndeliveries flowing\n";
        let pm = parse(chat).expect("parses");
        assert_eq!(at(&pm), ["2024-06-04 17:42:00.0", "2024-06-04 18:20:00.0"]);
        assert_eq!(pm.timeline[0].text, "Dana: deliveries failing");

        let status = "# API errors\n\n**Resolved** - Fixed.\nDec 4, 16:02 UTC\n\n\
            **Investigating** - Looking.\nDec 4, 14:48 UTC\n";
        let hints = Hints {
            file_name: None,
            today: day(2026, time::Month::December, 3),
        };
        let pm = parse_with(status, hints).expect("parses");
        // Dec 4 read on Dec 3 is last year's.
        assert_eq!(at(&pm), ["2025-12-04 14:48:00.0", "2025-12-04 16:02:00.0"]);
        assert_eq!(pm.timeline[1].text, "**Resolved** - Fixed.");

        let french = "# Paiements refusés le 5 février 2025\n\n## Chronologie\n\n\
            - 14h20 premiers refus\n- 15h05 paiements rétablis\n";
        let pm = parse(french).expect("parses");
        assert_eq!(at(&pm), ["2025-02-05 14:20:00.0", "2025-02-05 15:05:00.0"]);
        let german = "# Störung am 12.03.2024\n\n## Ablauf\n\n- 14.20 Uhr MEZ: Alarm\n- 15:05 Uhr: behoben\n";
        let pm = parse(german).expect("parses");
        assert_eq!(at(&pm), ["2024-03-12 13:20:00.0", "2024-03-12 14:05:00.0"]);
    }
}
