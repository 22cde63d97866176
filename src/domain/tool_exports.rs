//! Exports of the tools teams leave, read into postmortems (one per incident or retrospective):
//! incident.io's API JSON (incidents with their timestamps, custom fields, updates and
//! follow-ups), FireHydrant's API JSON (incidents with milestones, tasks, follow-ups, notes and
//! contributing factors), Parabol's retrospective CSV (reflections, groups, votes, tasks,
//! comments) and Jira issues exported as CSV, those labelled or typed as postmortems.
//! docs/import-mappings.md says where each field goes. People's names (assignees, authors,
//! reporters, role holders) are not carried over: imports carry no attribution. No IO.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::loops::ActionStatus;
use super::postmortem::{
    self, Hints, KeptSection, Postmortem, PostmortemAction, PostmortemError, PostmortemEvent,
};

fn refuse(message: impl Into<String>) -> PostmortemError {
    PostmortemError {
        line: 1,
        field: "body",
        message: message.into(),
    }
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        // Objects named by `name`, `label`, `value` or `summary` (a severity, a status).
        Some(Value::Object(map)) => ["name", "label", "value", "summary", "title"]
            .iter()
            .find_map(|k| map.get(*k).map(|v| text(Some(v))))
            .unwrap_or_default(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| text(Some(v)))
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

fn instant(raw: &str) -> Option<OffsetDateTime> {
    let raw = raw.trim();
    OffsetDateTime::parse(raw, &Rfc3339).ok().or_else(|| {
        // Jira's default "29/Sep/25 4:58 PM", and "2025-09-29 16:58".
        jira_instant(raw)
    })
}

fn jira_instant(raw: &str) -> Option<OffsetDateTime> {
    let mut parts = raw.split_whitespace();
    let day = parts.next()?;
    let clock = parts.next();
    let half = parts.next().map(str::to_ascii_uppercase);
    let date = if let Some((d, rest)) = day.split_once('/') {
        let (m, y) = rest.split_once('/')?;
        let month = Month::January.nth_next(
            [
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
            ]
            .iter()
            .position(|n| m.to_ascii_lowercase().starts_with(n))? as u8,
        );
        let year: i32 = y.parse().ok()?;
        let year = if year < 100 { 2000 + year } else { year };
        Date::from_calendar_date(year, month, d.parse().ok()?).ok()?
    } else {
        let mut ymd = day.split('-');
        let year: i32 = ymd.next()?.parse().ok()?;
        let month: u8 = ymd.next()?.parse().ok()?;
        let d: u8 = ymd.next()?.parse().ok()?;
        Date::from_calendar_date(year, Month::try_from(month).ok()?, d).ok()?
    };
    let time = match clock {
        Some(clock) => {
            let (h, m) = clock.split_once(':')?;
            let mut hour: u8 = h.parse().ok()?;
            let minute: u8 = m.get(..2).unwrap_or(m).parse().ok()?;
            match half.as_deref() {
                Some("PM") if hour < 12 => hour += 12,
                Some("AM") if hour == 12 => hour = 0,
                _ => {}
            }
            Time::from_hms(hour, minute, 0).ok()?
        }
        None => Time::MIDNIGHT,
    };
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

fn event(at: OffsetDateTime, text: String, line: usize) -> PostmortemEvent {
    PostmortemEvent { at, text, line }
}

fn action(title: String, status: ActionStatus, line: usize) -> PostmortemAction {
    PostmortemAction {
        title,
        status,
        line,
    }
}

fn detail(details: &mut String, label: &str, value: &str) {
    if !value.trim().is_empty() {
        details.push_str(&format!("{label}: {}\n", value.trim()));
    }
}

/// The loop parts a custom field or a question of a report feeds, by its name.
fn place(pm: &mut Postmortem, name: &str, value: &str) {
    let lower = name.to_lowercase();
    let field = if lower.contains("root cause") || lower.contains("contributing") {
        // The first such field names the part, as the writer named it.
        if pm.root_causes.is_empty() && pm.root_causes_heading.is_empty() {
            pm.root_causes_heading = name.trim().to_owned();
        }
        Some(&mut pm.root_causes)
    } else if lower.contains("impact") {
        Some(&mut pm.impact)
    } else if lower.contains("went well") {
        Some(&mut pm.went_well)
    } else if lower.contains("went wrong") || lower.contains("didn't go well") {
        Some(&mut pm.went_wrong)
    } else if lower.contains("lesson") || lower.contains("learn") {
        Some(&mut pm.lessons)
    } else if lower.contains("trigger") {
        Some(&mut pm.trigger)
    } else if lower.contains("detect") {
        Some(&mut pm.detection)
    } else if lower.contains("resolution") || lower.contains("mitigat") {
        Some(&mut pm.resolution)
    } else {
        None
    };
    match field {
        Some(field) => {
            if !field.is_empty() {
                field.push_str("\n\n");
            }
            field.push_str(value.trim());
        }
        None => pm.kept.push(KeptSection {
            heading: name.trim().to_owned(),
            level: 2,
            body: value.trim().to_owned(),
        }),
    }
}

fn finish(mut pm: Postmortem) -> Postmortem {
    pm.timeline.sort_by_key(|e| e.at);
    if pm.title.trim().is_empty() {
        pm.title = "Imported incident".to_owned();
    }
    pm.title = pm.title.chars().take(200).collect();
    pm
}

fn follow_up_status(raw: &str) -> ActionStatus {
    let lower = raw.to_lowercase();
    if ["completed", "complete", "done", "resolved", "closed"]
        .iter()
        .any(|w| lower == *w)
    {
        ActionStatus::Done
    } else if [
        "not_doing",
        "deleted",
        "cancelled",
        "canceled",
        "won't do",
        "wont_do",
    ]
    .iter()
    .any(|w| lower == *w)
    {
        ActionStatus::Dropped
    } else {
        ActionStatus::Open
    }
}

/// The postmortems of a tool's JSON export, or `None` when the JSON is none of them (a
/// failforward export, or something else the caller reads).
pub fn from_json(source: &str) -> Option<Result<Vec<Postmortem>, PostmortemError>> {
    let value: Value = serde_json::from_str(source.trim_start_matches('\u{feff}')).ok()?;
    if let Some(found) = incident_io(&value) {
        return Some(found);
    }
    if let Some(found) = firehydrant(&value) {
        return Some(found);
    }
    let rows = value.as_array()?;
    if rows
        .first()
        .and_then(Value::as_object)
        .is_some_and(|o| o.contains_key("reflectionGroup"))
    {
        let rows: Vec<ParabolRow> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| ParabolRow {
                line: i + 1,
                group: text(r.get("reflectionGroup")),
                votes: text(r.get("votes")),
                prompt: text(r.get("prompt")),
                kind: text(r.get("type")),
                created: text(r.get("createdAt")),
                thread: text(r.get("discussionThread")),
                content: text(r.get("content")),
            })
            .collect();
        return Some(parabol(rows, None));
    }
    None
}

// --- incident.io ------------------------------------------------------------------------------

fn incident_io(value: &Value) -> Option<Result<Vec<Postmortem>, PostmortemError>> {
    let incidents: Vec<&Value> = match (value.get("incidents"), value.get("incident")) {
        (Some(Value::Array(list)), _) => list.iter().collect(),
        (_, Some(one @ Value::Object(_))) => vec![one],
        _ => return None,
    };
    let looks = |i: &Value| {
        i.get("name").is_some()
            && (i.get("incident_status").is_some()
                || i.get("reference").is_some()
                || i.get("severity").is_some())
    };
    if incidents.is_empty() || !incidents.iter().all(|i| looks(i)) {
        return Some(Err(refuse(
            "is JSON with incidents, but not incident.io's: every incident needs a name and an incident_status, reference or severity",
        )));
    }
    let follow_ups = value
        .get("follow_ups")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let updates = value
        .get("incident_updates")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for (n, incident) in incidents.into_iter().enumerate() {
        let line = n + 1;
        let id = text(incident.get("id"));
        let mut pm = Postmortem {
            title: text(incident.get("name")),
            summary: text(incident.get("summary")),
            ..Postmortem::default()
        };
        let created = incident
            .get("created_at")
            .and_then(Value::as_str)
            .and_then(instant);
        pm.date = created.map(OffsetDateTime::date);
        let mut details = String::new();
        detail(&mut details, "Reference", &text(incident.get("reference")));
        detail(&mut details, "Severity", &text(incident.get("severity")));
        detail(
            &mut details,
            "Status",
            &text(incident.get("incident_status")),
        );
        detail(&mut details, "Type", &text(incident.get("incident_type")));
        detail(&mut details, "Mode", &text(incident.get("mode")));
        detail(&mut details, "Link", &text(incident.get("permalink")));
        detail(
            &mut details,
            "Postmortem document",
            &text(incident.get("postmortem_document_url")),
        );
        for stamp in incident
            .get("incident_timestamp_values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = text(stamp.get("incident_timestamp"));
            let at = stamp
                .get("value")
                .and_then(|v| v.get("value"))
                .and_then(Value::as_str)
                .and_then(instant);
            if let (Some(at), false) = (at, name.is_empty()) {
                pm.timeline.push(event(at, name, line));
            }
        }
        let own_updates = incident
            .get("incident_updates")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .chain(
                updates
                    .iter()
                    .filter(|u| !id.is_empty() && text(u.get("incident_id")) == id)
                    .cloned(),
            );
        for update in own_updates {
            let at = update
                .get("created_at")
                .and_then(Value::as_str)
                .and_then(instant);
            let status = text(update.get("new_incident_status"));
            let message = text(update.get("message"));
            let said = match (status.is_empty(), message.is_empty()) {
                (false, false) => format!("Update ({status}): {message}"),
                (false, true) => format!("Status changed to {status}"),
                (true, false) => format!("Update: {message}"),
                (true, true) => continue,
            };
            if let Some(at) = at {
                pm.timeline.push(event(at, said, line));
            }
        }
        for entry in incident
            .get("custom_field_entries")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = text(entry.get("custom_field"));
            let values: Vec<String> = entry
                .get("values")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|v| {
                    [
                        "value_text",
                        "value_option",
                        "value_link",
                        "value_numeric",
                        "value_catalog_entry",
                    ]
                    .iter()
                    .map(|k| text(v.get(*k)))
                    .find(|s| !s.is_empty())
                    .unwrap_or_default()
                })
                .filter(|s| !s.is_empty())
                .collect();
            if !name.is_empty() && !values.is_empty() {
                place(&mut pm, &name, &values.join(", "));
            }
        }
        let own_follow_ups = incident
            .get("follow_ups")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .chain(
                follow_ups
                    .iter()
                    .filter(|f| !id.is_empty() && text(f.get("incident_id")) == id)
                    .cloned(),
            );
        for follow_up in own_follow_ups {
            let mut title = text(follow_up.get("title"));
            let link = follow_up
                .get("external_issue_reference")
                .map(|r| text(r.get("issue_permalink")))
                .unwrap_or_default();
            if !link.is_empty() {
                title.push_str(&format!(" ({link})"));
            }
            let description = text(follow_up.get("description"));
            if !description.is_empty() {
                pm.action_notes.push_str(&format!(
                    "{}: {description}\n",
                    text(follow_up.get("title"))
                ));
            }
            if !title.trim().is_empty() {
                let status = follow_up_status(&text(follow_up.get("status")));
                pm.actions.push(action(title, status, line));
            }
        }
        pm.details = details;
        out.push(finish(pm));
    }
    Some(Ok(out))
}

// --- FireHydrant ------------------------------------------------------------------------------

fn firehydrant(value: &Value) -> Option<Result<Vec<Postmortem>, PostmortemError>> {
    let looks = |i: &Value| {
        i.get("name").is_some() && (i.get("milestones").is_some() || i.get("started_at").is_some())
    };
    let incidents: Vec<&Value> = match value.get("data") {
        Some(Value::Array(list)) if list.iter().any(looks) => list.iter().collect(),
        _ if looks(value) => vec![value],
        _ => return None,
    };
    let mut out = Vec::new();
    for (n, incident) in incidents.into_iter().enumerate() {
        let line = n + 1;
        let mut pm = Postmortem {
            title: text(incident.get("name")),
            ..Postmortem::default()
        };
        let description = text(incident.get("description"));
        let summary = text(incident.get("summary"));
        pm.summary = [summary.as_str(), description.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("\n\n");
        pm.impact = text(incident.get("customer_impact_summary"));
        let started = ["started_at", "created_at"]
            .iter()
            .filter_map(|k| incident.get(*k).and_then(Value::as_str))
            .find_map(instant);
        pm.date = started.map(OffsetDateTime::date);
        let mut details = String::new();
        detail(&mut details, "Number", &text(incident.get("number")));
        detail(&mut details, "Severity", &text(incident.get("severity")));
        detail(&mut details, "Priority", &text(incident.get("priority")));
        detail(
            &mut details,
            "Current milestone",
            &text(incident.get("current_milestone")),
        );
        detail(&mut details, "Link", &text(incident.get("incident_url")));
        for impact in incident
            .get("impacts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let what = text(impact.get("impact"));
            let condition = text(impact.get("condition"));
            detail(&mut details, "Impacted", &format!("{what} {condition}"));
        }
        let tags = text(incident.get("tag_list"));
        if !tags.is_empty() {
            pm.front_matter.push(("tags".to_owned(), tags));
        }
        for milestone in incident
            .get("milestones")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let kind = text(milestone.get("type")).replace('_', " ");
            if let Some(at) = milestone
                .get("occurred_at")
                .and_then(Value::as_str)
                .and_then(instant)
            {
                pm.timeline
                    .push(event(at, format!("Milestone: {kind}"), line));
            }
        }
        for note in ["events", "notes"]
            .iter()
            .filter_map(|k| incident.get(*k).and_then(Value::as_array))
            .flatten()
        {
            let body = text(note.get("body")) + &text(note.get("data").and_then(|d| d.get("body")));
            let at = ["occurred_at", "created_at"]
                .iter()
                .filter_map(|k| note.get(*k).and_then(Value::as_str))
                .find_map(instant);
            if let (Some(at), false) = (at, body.trim().is_empty()) {
                pm.timeline.push(event(at, body.trim().to_owned(), line));
            }
        }
        for key in ["contributing_factors", "reasons"] {
            let factors: Vec<String> = incident
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|f| text(Some(f)))
                .filter(|s| !s.is_empty())
                .map(|s| format!("- {s}"))
                .collect();
            if !factors.is_empty() {
                place(&mut pm, "Contributing factors", &factors.join("\n"));
            }
        }
        for key in ["tasks", "follow_ups", "action_items"] {
            for task in incident
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let mut title = text(task.get("title"));
                if title.is_empty() {
                    title = text(task.get("summary"));
                }
                let link = ["link", "issue_url", "url"]
                    .iter()
                    .map(|k| text(task.get(*k)))
                    .find(|s| !s.is_empty())
                    .unwrap_or_default();
                if !link.is_empty() {
                    title.push_str(&format!(" ({link})"));
                }
                let description = text(task.get("description"));
                if !description.is_empty() {
                    pm.action_notes.push_str(&format!(
                        "{}: {description}\n",
                        title.split(" (").next().unwrap_or(&title)
                    ));
                }
                let status =
                    follow_up_status(&[text(task.get("state")), text(task.get("status"))].concat());
                if !title.trim().is_empty() {
                    pm.actions.push(action(title, status, line));
                }
            }
        }
        pm.details = details;
        out.push(finish(pm));
    }
    Some(Ok(out))
}

// --- CSV: Parabol and Jira --------------------------------------------------------------------

/// Whether a file is CSV: by its extension.
pub fn is_csv(file_name: Option<&str>) -> bool {
    file_name.is_some_and(|n| n.to_ascii_lowercase().ends_with(".csv"))
}

/// The postmortems of a CSV export (Parabol's retrospective, Jira's issues), or a refusal that
/// says which exports are read.
pub fn from_csv(source: &str, file_name: Option<&str>) -> Result<Vec<Postmortem>, PostmortemError> {
    let source = source.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(source.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| refuse(format!("is not CSV: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| PostmortemError {
            line: e.position().map_or(1, |p| p.line() as usize),
            field: "body",
            message: format!("is not CSV: {e}"),
        })?;
        let line = record.position().map_or(1, |p| p.line() as usize);
        rows.push((line, record.iter().map(str::to_owned).collect::<Vec<_>>()));
    }
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    if let (Some(group), Some(content)) = (column("reflectionGroup"), column("content")) {
        let get = |row: &[String], i: Option<usize>| {
            i.and_then(|i| row.get(i)).cloned().unwrap_or_default()
        };
        let rows = rows
            .iter()
            .map(|(line, row)| ParabolRow {
                line: *line,
                group: get(row, Some(group)),
                votes: get(row, column("votes")),
                prompt: get(row, column("prompt")),
                kind: get(row, column("type")),
                created: get(row, column("createdAt")),
                thread: get(row, column("discussionThread")),
                content: get(row, Some(content)),
            })
            .collect();
        return parabol(rows, file_name);
    }
    if column("Summary").is_some() && column("Issue key").is_some() {
        return jira(&headers, &rows);
    }
    Err(refuse(
        "is a CSV file of no export this reads (Parabol's retrospective CSV, or Jira issues with Summary and Issue key columns)",
    ))
}

struct ParabolRow {
    line: usize,
    group: String,
    votes: String,
    prompt: String,
    kind: String,
    created: String,
    thread: String,
    content: String,
}

fn parabol(
    rows: Vec<ParabolRow>,
    file_name: Option<&str>,
) -> Result<Vec<Postmortem>, PostmortemError> {
    if rows.is_empty() {
        return Err(refuse("is a Parabol export without any row"));
    }
    let mut pm = Postmortem::default();
    let first = rows.iter().filter_map(|r| instant(&r.created)).min();
    pm.date = first.map(OffsetDateTime::date);
    let name = file_name
        .map(|n| n.rsplit(['/', '\\', ':']).next().unwrap_or(n))
        .map(|n| {
            n.rsplit_once('.')
                .map_or(n, |(s, _)| s)
                .replace(['-', '_'], " ")
        })
        .unwrap_or_default();
    pm.title = if name.trim().is_empty() {
        "Parabol retrospective".to_owned()
    } else {
        format!("Retrospective: {}", name.trim())
    };
    // Reflections under their prompts, by group, the most voted first.
    let mut prompts: Vec<(String, Vec<&ParabolRow>)> = Vec::new();
    let mut discussion = String::new();
    for row in &rows {
        let kind = row.kind.to_lowercase();
        if kind == "task" {
            if !row.content.trim().is_empty() {
                let status = if row.content.to_lowercase().contains("#done") {
                    ActionStatus::Done
                } else {
                    ActionStatus::Open
                };
                pm.actions
                    .push(action(row.content.trim().to_owned(), status, row.line));
            }
        } else if kind == "comment" || kind == "reply" {
            let topic = if row.thread.trim().is_empty() {
                row.group.trim()
            } else {
                row.thread.trim()
            };
            discussion.push_str(&format!("- {topic}: {}\n", row.content.trim()));
        } else if !row.content.trim().is_empty() {
            match prompts.iter_mut().find(|(p, _)| *p == row.prompt) {
                Some((_, list)) => list.push(row),
                None => prompts.push((row.prompt.clone(), vec![row])),
            }
        }
    }
    for (prompt, mut list) in prompts {
        list.sort_by_key(|r| std::cmp::Reverse(r.votes.trim().parse::<i64>().unwrap_or(0)));
        let body: Vec<String> = list
            .iter()
            .map(|r| {
                let votes = r.votes.trim();
                let group = r.group.trim();
                match (group.is_empty(), votes.is_empty() || votes == "0") {
                    (true, true) => format!("- {}", r.content.trim()),
                    (true, false) => format!("- {} ({votes} votes)", r.content.trim()),
                    (false, true) => format!("- {} (group: {group})", r.content.trim()),
                    (false, false) => {
                        format!("- {} (group: {group}, {votes} votes)", r.content.trim())
                    }
                }
            })
            .collect();
        let lower = prompt.to_lowercase();
        let heading = if prompt.trim().is_empty() {
            "Reflections".to_owned()
        } else {
            prompt.trim().to_owned()
        };
        let field = if ["well", "glad", "keep", "continue", "liked", "start"]
            .iter()
            .any(|w| lower.contains(w))
            && !lower.contains("didn")
            && !lower.contains("not")
        {
            Some(&mut pm.went_well)
        } else if [
            "wrong", "didn", "not go", "sad", "mad", "stop", "improve", "less", "lacked",
        ]
        .iter()
        .any(|w| lower.contains(w))
        {
            Some(&mut pm.went_wrong)
        } else if lower.contains("lucky") {
            Some(&mut pm.got_lucky)
        } else if lower.contains("learn") {
            Some(&mut pm.lessons)
        } else {
            None
        };
        match field {
            Some(field) => {
                if !field.is_empty() {
                    field.push_str("\n\n");
                }
                field.push_str(&format!("**{heading}**\n\n{}", body.join("\n")));
            }
            None => pm.kept.push(KeptSection {
                heading,
                level: 2,
                body: body.join("\n"),
            }),
        }
    }
    if !discussion.is_empty() {
        pm.kept.push(KeptSection {
            heading: "Discussion".to_owned(),
            level: 2,
            body: discussion.trim_end().to_owned(),
        });
    }
    pm.summary = format!(
        "Retrospective exported from Parabol: {} reflections, {} tasks.",
        rows.iter()
            .filter(|r| r.kind.eq_ignore_ascii_case("reflection"))
            .count(),
        pm.actions.len()
    );
    Ok(vec![finish(pm)])
}

/// Jira's wiki markup, as its CSV export writes descriptions, as Markdown: `h2.` headings,
/// `*`/`#` lists, `||` table heads, `{code}`/`{noformat}` blocks.
fn jira_markdown(wiki: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for line in wiki.replace("\r\n", "\n").lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("{code") || trimmed.starts_with("{noformat") {
            out.push_str("```\n");
            in_code = !in_code;
            continue;
        }
        if in_code {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let heading = (1..=6).find_map(|n| {
            trimmed
                .strip_prefix(&format!("h{n}. "))
                .map(|rest| format!("{} {rest}", "#".repeat(n)))
        });
        if let Some(heading) = heading {
            out.push_str(&format!("\n{heading}\n\n"));
            continue;
        }
        let marks = trimmed
            .chars()
            .take_while(|c| *c == '*' || *c == '#')
            .count();
        if marks > 0 && trimmed[marks..].starts_with(' ') {
            let indent = "  ".repeat(marks - 1);
            let marker = if trimmed.starts_with('#') { "1." } else { "-" };
            out.push_str(&format!("{indent}{marker} {}\n", trimmed[marks..].trim()));
            continue;
        }
        if let Some(head) = trimmed.strip_prefix("||") {
            let cells: Vec<&str> = head
                .trim_end_matches("||")
                .split("||")
                .map(str::trim)
                .collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
            out.push_str(&format!("|{}\n", " --- |".repeat(cells.len())));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn jira(
    headers: &[String],
    rows: &[(usize, Vec<String>)],
) -> Result<Vec<Postmortem>, PostmortemError> {
    let columns = |name: &str| -> Vec<usize> {
        headers
            .iter()
            .enumerate()
            .filter(|(_, h)| h.eq_ignore_ascii_case(name))
            .map(|(i, _)| i)
            .collect()
    };
    let one = |row: &[String], name: &str| -> String {
        columns(name)
            .first()
            .and_then(|i| row.get(*i))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    let all = |row: &[String], name: &str| -> Vec<String> {
        columns(name)
            .iter()
            .filter_map(|i| row.get(*i))
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let is_postmortem = |row: &[String]| {
        let kind = one(row, "Issue Type")
            .to_lowercase()
            .replace(['-', '_'], " ");
        let typed = [
            "postmortem",
            "post mortem",
            "post incident review",
            "incident review",
            "pir",
        ]
        .iter()
        .any(|k| kind == *k || kind.contains("postmortem") || kind.contains("post mortem"));
        let labelled = all(row, "Labels").iter().any(|l| {
            let l = l.to_lowercase().replace(['-', '_'], "");
            l == "postmortem" || l == "postmortems" || l == "pir" || l == "postincidentreview"
        });
        typed || labelled
    };
    let mut out = Vec::new();
    for (line, row) in rows.iter().filter(|(_, r)| is_postmortem(r)) {
        let key = one(row, "Issue key");
        let id = one(row, "Issue id");
        let summary = one(row, "Summary");
        let mut document = format!(
            "# {summary}\n\n{}\n",
            jira_markdown(&one(row, "Description"))
        );
        for (i, header) in headers.iter().enumerate() {
            if let Some(name) = header
                .strip_prefix("Custom field (")
                .and_then(|n| n.strip_suffix(')'))
            {
                let value = row.get(i).map(|s| s.trim()).unwrap_or("");
                if !value.is_empty() {
                    document.push_str(&format!("\n## {name}\n\n{}\n", jira_markdown(value)));
                }
            }
        }
        let created = instant(&one(row, "Created"));
        let hints = Hints {
            file_name: None,
            today: created.map(OffsetDateTime::date),
        };
        let mut pm = postmortem::parse_with(&document, hints).map_err(|e| PostmortemError {
            line: *line,
            field: "body",
            message: format!("issue {key}: {}", e.message),
        })?;
        if pm.date.is_none() {
            pm.date = created.map(OffsetDateTime::date);
        }
        let mut details = std::mem::take(&mut pm.details);
        detail(&mut details, "Issue", &key);
        for name in [
            "Issue Type",
            "Status",
            "Priority",
            "Resolution",
            "Created",
            "Resolved",
        ] {
            detail(&mut details, name, &one(row, name));
        }
        let labels = all(row, "Labels");
        if !labels.is_empty() {
            pm.front_matter.push(("tags".to_owned(), labels.join(", ")));
        }
        // Comments are "date;account;text": the date and text are kept, not the account.
        let comments: Vec<String> = all(row, "Comment")
            .iter()
            .map(|c| {
                let mut parts = c.splitn(3, ';');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(date), Some(_), Some(body)) => format!("- {date}: {}", body.trim()),
                    _ => format!("- {c}"),
                }
            })
            .collect();
        if !comments.is_empty() {
            pm.kept.push(KeptSection {
                heading: "Comments".to_owned(),
                level: 2,
                body: comments.join("\n"),
            });
        }
        // Sub-tasks and linked issues are its action items.
        for (child_line, child) in rows {
            let parent = one(child, "Parent id") + &one(child, "Parent");
            let linked = headers.iter().enumerate().any(|(i, h)| {
                h.to_lowercase().contains("issue link")
                    && child
                        .get(i)
                        .is_some_and(|v| !key.is_empty() && v.trim() == key)
            });
            let child_of = (!id.is_empty() && parent == id) || (!key.is_empty() && parent == key);
            if (child_of || linked) && !is_postmortem(child) {
                let title = format!("{}: {}", one(child, "Issue key"), one(child, "Summary"));
                let status = follow_up_status(&one(child, "Status"));
                let status = if status == ActionStatus::Open {
                    follow_up_status(&one(child, "Resolution"))
                } else {
                    status
                };
                let status = match one(child, "Resolution").to_lowercase().as_str() {
                    "won't do" | "won't fix" | "duplicate" => ActionStatus::Dropped,
                    _ => status,
                };
                pm.actions.push(action(title, status, *child_line));
            }
        }
        pm.details = details;
        out.push(finish(pm));
    }
    if out.is_empty() {
        return Err(refuse(
            "is a Jira export without a postmortem: no issue has the type Postmortem (or Post-incident review) or the label postmortem",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jira_dates_and_wiki_markup() {
        let at = instant("29/Sep/25 4:58 PM").expect("a Jira date");
        assert_eq!(at.to_string(), "2025-09-29 16:58:00.0 +00:00:00");
        assert_eq!(
            jira_markdown("h2. Timeline\n* 16:58 paged\n** nested\n||Time||Event||\n|1|2|"),
            "\n## Timeline\n\n- 16:58 paged\n  - nested\n| Time | Event |\n| --- | --- |\n|1|2|\n"
        );
    }

    #[test]
    fn unknown_json_is_left_to_the_caller() {
        assert!(from_json(r#"{"format": "failforward-export"}"#).is_none());
        assert!(from_json("[1, 2]").is_none());
        assert!(matches!(
            from_json(r#"{"incidents": [{"x": 1}]}"#),
            Some(Err(_))
        ));
    }

    #[test]
    fn unknown_csv_is_refused_with_what_is_read() {
        let refused = from_csv("a,b\n1,2\n", Some("x.csv")).expect_err("refused");
        assert!(refused.message.contains("Parabol"), "{refused}");
    }
}
