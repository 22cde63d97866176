//! Postmortems written in Markdown, read into the parts of a loop: the Google SRE book's template
//! (Summary, Impact, Root Causes, Trigger, Resolution, Detection, Action Items, Lessons Learned
//! with What went well / What went wrong / Where we got lucky, Timeline) and free-form write-ups
//! with similar headings. Sections that match no loop field are kept with their heading, never
//! dropped. Errors carry the line of the source they refer to. No IO: the caller passes the text.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::loops::ActionStatus;

/// Why a postmortem could not be read, with the 1-based line it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {field} {message}")]
pub struct PostmortemError {
    pub line: usize,
    /// The part of the document at fault (`title`, `timeline`, `action_items`, `front_matter`).
    pub field: &'static str,
    pub message: String,
}

/// A section the loop has no field for, kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptSection {
    pub heading: String,
    /// 1–6, as in the source.
    pub level: u8,
    pub body: String,
}

/// One row of an action-item table (or one item of an action list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostmortemAction {
    pub title: String,
    pub status: ActionStatus,
    pub line: usize,
}

/// One timeline line such as `- 2024-05-01 14:03 UTC: paged the on-call engineer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostmortemEvent {
    pub at: OffsetDateTime,
    pub text: String,
    pub line: usize,
}

/// A postmortem as read. Owner columns of action tables are read but not kept: imports carry no
/// attribution to people (see docs/export-schema.md).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Postmortem {
    pub title: String,
    pub summary: String,
    pub expected: String,
    pub impact: String,
    pub root_causes: String,
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
    pub kept: Vec<KeptSection>,
    /// `key: value` pairs of a YAML front matter block (simple scalars and `[a, b]` lists).
    pub front_matter: Vec<(String, String)>,
}

impl Postmortem {
    /// A front matter value by key.
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
        if !self.timeline_notes.is_empty() {
            parts.push(format!("## Timeline notes\n\n{}", self.timeline_notes));
        }
        join_nonempty(&parts)
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

    /// "Why was there a difference" of the review: root causes and trigger.
    pub fn review_difference(&self) -> String {
        join_nonempty(&[
            labelled("Root causes", &self.root_causes),
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

fn slot_of(heading: &str) -> Option<Slot> {
    let normal: String = heading
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    Some(match normal.as_str() {
        "summary" | "incident summary" | "overview" | "what happened" | "description"
        | "executive summary" | "tl dr" | "tldr" => Slot::Summary,
        "what was expected" | "expected" | "expectation" | "expected behaviour"
        | "expected behavior" => Slot::Expected,
        "impact" | "customer impact" | "user impact" => Slot::Impact,
        "root causes"
        | "root cause"
        | "causes"
        | "root causes and trigger"
        | "why it happened"
        | "contributing factors"
        | "root cause analysis" => Slot::RootCauses,
        "trigger" => Slot::Trigger,
        "resolution" | "mitigation" | "fix" | "recovery" => Slot::Resolution,
        "detection" | "how we noticed" | "how it was detected" => Slot::Detection,
        "lessons learned" | "lessons learnt" | "lessons" | "learnings" | "what we learned"
        | "what we learnt" => Slot::Lessons,
        "what went well" | "went well" => Slot::WentWell,
        "what went wrong" | "what didn t go well" | "what did not go well" | "went wrong" => {
            Slot::WentWrong
        }
        "where we got lucky" | "where we were lucky" | "got lucky" | "lucky" => Slot::GotLucky,
        "action items" | "actions" | "follow ups" | "follow up actions" | "next steps"
        | "action points" => Slot::Actions,
        "timeline" | "chronology" | "sequence of events" => Slot::Timeline,
        _ => return None,
    })
}

struct Heading {
    level: u8,
    text: String,
    /// Byte offsets: where the heading starts and where its line ends.
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

/// Reads a postmortem.
pub fn parse(source: &str) -> Result<Postmortem, PostmortemError> {
    let source = source.replace("\r\n", "\n");
    // Control characters are no Markdown, and U+0000 is text PostgreSQL cannot store.
    if let Some((offset, c)) = source
        .char_indices()
        .find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
    {
        return Err(PostmortemError {
            line: line_at(&source, offset),
            field: "body",
            message: format!("has a control character (U+{:04X})", u32::from(c)),
        });
    }
    let mut pm = Postmortem::default();
    let body_start = front_matter(&source, &mut pm)?;
    let body = &source[body_start..];
    if body.trim().is_empty() {
        return Err(PostmortemError {
            line: 1,
            field: "body",
            message: "is empty".to_owned(),
        });
    }

    let mut headings: Vec<Heading> = Vec::new();
    let mut tables: Vec<Table> = Vec::new();
    let mut current_heading: Option<Heading> = None;
    let mut table: Option<Table> = None;
    let mut row: Vec<String> = Vec::new();
    let mut cell: Option<String> = None;
    let mut in_head = false;
    let options = Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS;
    for (event, range) in Parser::new_ext(body, options).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current_heading = Some(Heading {
                    level: heading_level(level),
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

    let offset_line = |offset: usize| line_at(&source, body_start + offset);

    // The title: the first level-1 heading, else the front matter's.
    let first_h1 = headings.iter().position(|h| h.level == 1);
    pm.title = match (first_h1, pm.front("title")) {
        (_, Some(title)) if !title.is_empty() => title.to_owned(),
        (Some(i), _) => headings[i].text.trim().to_owned(),
        (None, _) => {
            return Err(PostmortemError {
                line: offset_line(0),
                field: "title",
                message: "is missing: start with a `# Title` heading".to_owned(),
            })
        }
    };

    // Text before the first section heading (after the title) is a summary when there is no
    // Summary section.
    let sections: Vec<usize> = (0..headings.len())
        .filter(|&i| Some(i) != first_h1)
        .collect();
    let preamble_start = first_h1.map_or(0, |i| headings[i].end);
    let preamble_end = sections
        .iter()
        .map(|&i| headings[i].start)
        .find(|&s| s >= preamble_start)
        .unwrap_or(body.len());
    let preamble = body[preamble_start.min(preamble_end)..preamble_end]
        .trim()
        .to_owned();

    let mut parent: Option<Slot> = None;
    let mut parent_level = 0u8;
    for (n, &i) in sections.iter().enumerate() {
        let heading = &headings[i];
        let end = sections
            .get(n + 1)
            .map_or(body.len(), |&next| headings[next].start);
        let text = body[heading.end.min(end)..end].trim().to_owned();
        let slot = slot_of(&heading.text);
        if heading.level <= parent_level || parent.is_none() {
            parent = None;
        }
        match slot {
            Some(Slot::Actions) => {
                pm.actions.extend(actions_in(
                    &body[heading.end.min(end)..end],
                    tables
                        .iter()
                        .filter(|t| t.start >= heading.end && t.start < end),
                    &offset_line,
                    offset_line(heading.end),
                )?);
            }
            Some(Slot::Timeline) => {
                let first_line = offset_line(heading.end);
                timeline_in(body, heading.end, end, first_line, &mut pm)?;
            }
            Some(slot) => {
                let Some(target) = field_of(&mut pm, slot) else {
                    continue;
                };
                if !target.is_empty() && !text.is_empty() {
                    target.push_str("\n\n");
                }
                target.push_str(&text);
            }
            None => {
                // A heading under Lessons Learned that is not one of its three parts stays
                // with the lessons; anything else is kept on its own.
                if parent == Some(Slot::Lessons) && heading.level > parent_level {
                    let hashes = "#".repeat(usize::from(heading.level));
                    let addition = format!("{hashes} {}\n\n{text}", heading.text.trim());
                    pm.lessons = join_nonempty(&[pm.lessons.clone(), addition]);
                } else {
                    pm.kept.push(KeptSection {
                        heading: heading.text.trim().to_owned(),
                        level: heading.level,
                        body: text,
                    });
                }
            }
        }
        if slot.is_some() && parent.is_none() {
            parent = slot;
            parent_level = heading.level;
        }
    }
    if pm.summary.is_empty() {
        pm.summary = preamble;
    } else if !preamble.is_empty() {
        pm.summary = join_nonempty(&[preamble, pm.summary.clone()]);
    }
    if pm.summary.is_empty() && pm.kept.is_empty() {
        return Err(PostmortemError {
            line: offset_line(0),
            field: "summary",
            message: "is missing: add a Summary section or text under the title".to_owned(),
        });
    }
    if pm.summary.is_empty() {
        // A free-form write-up without a summary: its first kept section stands in.
        let first = pm.kept.remove(0);
        pm.summary = format!("## {}\n\n{}", first.heading, first.body);
    }
    pm.timeline
        .sort_by(|a, b| a.at.cmp(&b.at).then(a.line.cmp(&b.line)));
    Ok(pm)
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

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Reads a `---` front matter block; returns where the Markdown body starts.
fn front_matter(source: &str, pm: &mut Postmortem) -> Result<usize, PostmortemError> {
    let Some(rest) = source.strip_prefix("---\n") else {
        return Ok(0);
    };
    let mut offset = 4;
    for (index, line) in rest.split_inclusive('\n').enumerate() {
        let line_no = index + 2;
        offset += line.len();
        let line = line.trim_end();
        if line == "---" || line == "..." {
            return Ok(offset);
        }
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(PostmortemError {
                line: line_no,
                field: "front_matter",
                message: format!("expected `key: value`, found {line:?}"),
            });
        };
        let value = value.trim();
        let value = if value.starts_with('"') {
            serde_json::from_str::<String>(value).map_err(|_| PostmortemError {
                line: line_no,
                field: "front_matter",
                message: format!("has a badly quoted value for {:?}", key.trim()),
            })?
        } else {
            value.trim_matches('\'').to_owned()
        };
        pm.front_matter.push((key.trim().to_owned(), value));
    }
    Err(PostmortemError {
        line: 1,
        field: "front_matter",
        message: "is not closed: end it with a line `---`".to_owned(),
    })
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
    if words.iter().any(|w| {
        [
            "done",
            "closed",
            "fixed",
            "complete",
            "completed",
            "resolved",
        ]
        .contains(w)
    }) {
        Some(ActionStatus::Done)
    } else if words
        .iter()
        .any(|w| ["dropped", "wontfix", "won't", "cancelled", "canceled"].contains(w))
    {
        Some(ActionStatus::Dropped)
    } else if words
        .iter()
        .any(|w| ["open", "todo", "started", "progress", "pending"].contains(w))
    {
        Some(ActionStatus::Open)
    } else {
        None
    }
}

fn actions_in<'a>(
    text: &str,
    tables: impl Iterator<Item = &'a Table>,
    offset_line: &dyn Fn(usize) -> usize,
    first_line: usize,
) -> Result<Vec<PostmortemAction>, PostmortemError> {
    let mut out = Vec::new();
    let mut had_table = false;
    for table in tables {
        had_table = true;
        let column = |names: &[&str]| {
            table
                .head
                .iter()
                .position(|h| names.iter().any(|n| h.to_lowercase().contains(n)))
        };
        let Some(action) = column(&["action", "item", "task", "what"]) else {
            return Err(PostmortemError {
                line: offset_line(table.start),
                field: "action_items",
                message: "table needs an Action column (action | type | owner | bug/status)"
                    .to_owned(),
            });
        };
        let status = column(&["status", "bug", "state", "ticket"]);
        for (start, cells) in &table.rows {
            let title = cells.get(action).map(|s| s.trim()).unwrap_or_default();
            if title.is_empty() {
                continue;
            }
            let status_cell = status
                .and_then(|i| cells.get(i))
                .map(String::as_str)
                .unwrap_or("");
            let mut title = title.to_owned();
            let parsed = status_of(status_cell);
            // A bug reference ("BUG-123") is part of what the action is; keep it with the title.
            let reference = status_cell
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| w.chars().any(|c| c.is_ascii_digit()))
                .collect::<Vec<_>>()
                .join(" ");
            if !reference.is_empty() {
                title = format!("{title} ({reference})");
            }
            out.push(PostmortemAction {
                title,
                status: parsed.unwrap_or(ActionStatus::Open),
                line: offset_line(*start),
            });
        }
    }
    if !had_table {
        // A list of actions: one per item, `[x]` meaning done.
        for (index, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            let Some(item) = list_item(trimmed) else {
                continue;
            };
            if line.len() - trimmed.len() >= 2 {
                continue;
            }
            let (status, item) = if let Some(rest) = item
                .strip_prefix("[x] ")
                .or_else(|| item.strip_prefix("[X] "))
            {
                (ActionStatus::Done, rest)
            } else {
                (
                    ActionStatus::Open,
                    item.strip_prefix("[ ] ").unwrap_or(item),
                )
            };
            if !item.trim().is_empty() {
                out.push(PostmortemAction {
                    title: item.trim().to_owned(),
                    status,
                    line: first_line + index,
                });
            }
        }
    }
    Ok(out)
}

/// The text of a list item line (`- x`, `* x`, `+ x`, `1. x`), if it is one.
fn list_item(line: &str) -> Option<&str> {
    for marker in ["- ", "* ", "+ "] {
        if let Some(rest) = line.strip_prefix(marker) {
            return Some(rest);
        }
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 {
        let rest = &line[digits..];
        if let Some(rest) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(rest);
        }
    }
    None
}

fn timeline_in(
    body: &str,
    start: usize,
    end: usize,
    first_line: usize,
    pm: &mut Postmortem,
) -> Result<(), PostmortemError> {
    let text = &body[start.min(end)..end];
    let mut day: Option<Date> = None;
    let mut notes = Vec::new();
    // The heading's own line is the first line of `text`.
    for (index, raw) in text.lines().enumerate() {
        let line_no = first_line + index;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let item = list_item(line).unwrap_or(line);
        let item = item.trim_start_matches('|').trim();
        let unbold = item.replace("**", "").replace('`', "");
        let unbold = unbold.trim();
        match timeline_line(unbold, day) {
            Line::Event(at, text) => {
                day = Some(at.date());
                pm.timeline.push(PostmortemEvent {
                    at,
                    text,
                    line: line_no,
                });
            }
            Line::Day(date) => day = Some(date),
            Line::Bad(message) => {
                return Err(PostmortemError {
                    line: line_no,
                    field: "timeline",
                    message,
                })
            }
            Line::Other => notes.push(raw.to_owned()),
        }
    }
    let notes = notes.join("\n").trim().to_owned();
    if !notes.is_empty() {
        pm.timeline_notes = join_nonempty(&[pm.timeline_notes.clone(), notes]);
    }
    Ok(())
}

enum Line {
    Event(OffsetDateTime, String),
    Day(Date),
    Bad(String),
    Other,
}

/// Reads `2024-05-01 14:03 UTC: text`, `2024-05-01T14:03Z — text`, `14:05 text` (after a date)
/// and a bare date (`2024-05-01` or `### 2024-05-01`) that dates the time-only lines after it.
fn timeline_line(line: &str, day: Option<Date>) -> Line {
    let line = line.trim_start_matches('#').trim();
    let head = line.get(..10).filter(|head| {
        let bytes = head.as_bytes();
        bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-' && bytes[7] == b'-'
    });
    let (date, rest) = match head {
        Some(head) => match Date::parse(head, format_description!("[year]-[month]-[day]")) {
            Ok(date) => (Some(date), line[10..].trim_start_matches(['T', ' '])),
            Err(_) => return Line::Bad(format!("has an impossible date {head:?}")),
        },
        None => (None, line),
    };
    let time_len = rest
        .char_indices()
        .take_while(|(_, c)| c.is_ascii_digit() || *c == ':')
        .count();
    let time_raw = &rest[..time_len];
    let looks_like_time = time_raw.len() >= 4 && time_raw.contains(':');
    if !looks_like_time {
        if let Some(date) = date {
            // `2024-05-01` or `2024-05-01 (all times UTC)` dates the lines after it.
            // (`2024-05-01 —` too: once its punctuation is cleaned nothing is left to be an event.)
            let text = clean_text(rest);
            if text.is_empty() || rest.trim_start().starts_with('(') {
                return Line::Day(date);
            }
            // A dated line without a time: the event is put at midnight of that day.
            return Line::Event(
                PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc(),
                text,
            );
        }
        return Line::Other;
    }
    let time = match Time::parse(time_raw, format_description!("[hour]:[minute]:[second]"))
        .or_else(|_| Time::parse(time_raw, format_description!("[hour]:[minute]")))
        .or_else(|_| {
            Time::parse(
                time_raw,
                format_description!("[hour padding:none]:[minute]"),
            )
        }) {
        Ok(time) => time,
        Err(_) => return Line::Bad(format!("has an impossible time {time_raw:?}")),
    };
    let Some(date) = date.or(day) else {
        return Line::Bad(format!(
            "gives the time {time_raw} before any date: write 2024-05-01 {time_raw}"
        ));
    };
    let mut rest = rest[time_len..].trim_start();
    let mut offset = UtcOffset::UTC;
    for zone in ["UTC", "GMT", "Z"] {
        if let Some(after) = rest.strip_prefix(zone) {
            rest = after.trim_start();
        }
    }
    if let Some(sign @ ('+' | '-')) = rest.chars().next() {
        let digits = &rest[1..];
        let hours = digits.get(..2).and_then(|h| h.parse::<i8>().ok());
        let minutes = digits
            .get(2..5)
            .and_then(|m| m.strip_prefix(':'))
            .and_then(|m| m.parse::<i8>().ok());
        if let (Some(hours), Some(minutes)) = (hours, minutes) {
            let factor = if sign == '-' { -1 } else { 1 };
            if let Ok(parsed) = UtcOffset::from_hms(factor * hours, factor * minutes, 0) {
                offset = parsed;
                rest = digits[5..].trim_start();
            }
        }
    }
    let Some(at) = PrimitiveDateTime::new(date, time)
        .assume_offset(offset)
        .checked_to_offset(UtcOffset::UTC)
    else {
        return Line::Bad("is outside the years 0000 to 9999 in UTC".to_owned());
    };
    let text = clean_text(rest);
    if text.is_empty() {
        return Line::Bad("has a time but no text".to_owned());
    }
    Line::Event(at, text)
}

fn clean_text(rest: &str) -> String {
    rest.trim_start_matches([':', '-', '—', '–', '|', ' '])
        .trim_end_matches('|')
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(pm.actions[1].title, "Add load shedding (BUG-4321)");
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
        assert!(pm.timeline.iter().all(|event| !event.text.is_empty()));
    }

    #[test]
    fn names_the_line_of_a_bad_timeline_entry() {
        let bad =
            "# T\n\nText.\n\n## Timeline\n\n- 2024-05-01 14:03 UTC: ok\n- 2024-13-45 10:00: bad\n";
        let error = parse(bad).expect_err("refused");
        assert_eq!(error.line, 8);
        assert_eq!(error.field, "timeline");
    }

    #[test]
    fn refuses_control_characters_with_their_line() {
        let error =
            parse("# T\r\n\r\nText.\r\n\r\n## Trigger\r\n\r\nA\u{0}B\r\n").expect_err("refused");
        assert_eq!((error.line, error.field), (7, "body"));
        assert!(error.message.contains("U+0000"), "{error}");
    }

    #[test]
    fn refuses_instants_beyond_year_9999_in_utc() {
        // Found by the fuzz target `postmortem`: the conversion to UTC panicked.
        let error = parse("# T\n\nText.\n\n## Timeline\n\n- 9999-12-31 23:59 -05:00: late\n")
            .expect_err("refused");
        assert_eq!((error.line, error.field), (7, "timeline"));
        let pm = parse("# T\n\nText.\n\n## Timeline\n\n- 0000-01-01 00:00 -05:00: early\n")
            .expect("parses");
        assert_eq!(pm.timeline[0].at.hour(), 5);
    }

    #[test]
    fn needs_a_title() {
        let error = parse("Just text.\n").expect_err("refused");
        assert_eq!((error.line, error.field), (1, "title"));
    }

    #[test]
    fn reads_front_matter_and_offsets() {
        let pm = parse("---\ntitle: \"A: b\"\ntags: [x, y]\n---\nBody text.\n\n## Timeline\n- 2024-05-01 14:03 +02:00 — moved\n")
            .expect("parses");
        assert_eq!(pm.title, "A: b");
        assert_eq!(front_list(pm.front("tags").unwrap_or("")), ["x", "y"]);
        assert_eq!(pm.timeline[0].at.hour(), 12);
        assert_eq!(pm.timeline[0].text, "moved");
    }
}
