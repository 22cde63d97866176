//! Reading imports without IO: JSON exports, postmortems (Markdown, HTML, `.docx`, tools' exports)
//! and uploaded archives, validated as the forms validate, into loops the store can write.

use time::{Duration, OffsetDateTime};

use crate::domain::loops::{self, ActionStatus, ImpactScale, LoopKind, Stage};
use crate::domain::postmortem::{self, Postmortem};
use crate::domain::when::{parse_date, parse_instant};
use crate::domain::{docx, html, tool_exports};
use crate::domain::{LoopId, TeamId, UserId};
use crate::store::loops::{FollowUp, LoopDraft, Review};
use crate::store::transfer::{ImportedAccount, ImportedAction, ImportedLoop};

use crate::service::error::{FieldErrors, ServiceError, ServiceResult};
use crate::service::TeamAccess;

use super::*;

/// What became of one uploaded file (or one file of an uploaded archive) in a bulk import.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    pub name: String,
    /// `imported`, `would import`, `not imported` (another file was refused and the batch is
    /// all or nothing), `refused` or `skipped`.
    pub outcome: &'static str,
    pub loops: Vec<ImportedSummary>,
    /// Why it was refused or skipped.
    pub reason: String,
}

/// The extensions a bulk import reads inside an archive; other files there are skipped.
pub const IMPORTABLE: [&str; 10] = [
    "md", "markdown", "txt", "text", "json", "mdown", "html", "htm", "docx", "csv",
];

pub(super) fn importable(name: &str) -> bool {
    let lower = name.to_lowercase();
    let base = lower.rsplit(['/', ':']).next().unwrap_or(&lower);
    !base.starts_with('.')
        && base
            .rsplit_once('.')
            .is_some_and(|(_, ext)| IMPORTABLE.contains(&ext))
}

/// The most one file of an uploaded archive may unpack to.
pub(super) const ENTRY_LIMIT: u64 = 16 * 1024 * 1024;

pub(super) fn bounded(reader: impl std::io::Read) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    reader
        .take(ENTRY_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > ENTRY_LIMIT {
        return Err(format!("is larger than {ENTRY_LIMIT} bytes"));
    }
    Ok(bytes)
}

/// An uploaded file, or the files of an uploaded `.zip`, `.tar` or `.tar.gz` archive, each named
/// `archive:path`, with its bytes or why it cannot be read.
pub fn unpack_upload(name: &str, bytes: Vec<u8>) -> Vec<(String, Result<Vec<u8>, String>)> {
    let lower = name.to_lowercase();
    let entry = |inner: &str, reader: &mut dyn std::io::Read| {
        let full = format!("{name}:{inner}");
        if importable(inner) {
            (full, bounded(reader))
        } else {
            (full, Err(SKIPPED.to_owned()))
        }
    };
    let tar_entries = |reader: &mut dyn std::io::Read| -> Result<Vec<_>, String> {
        let mut out = Vec::new();
        let mut archive = tar::Archive::new(reader);
        for item in archive.entries().map_err(|e| e.to_string())? {
            let mut item = item.map_err(|e| e.to_string())?;
            if !item.header().entry_type().is_file() {
                continue;
            }
            let inner = item
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            out.push(entry(&inner, &mut item));
        }
        Ok(out)
    };
    let unpacked = if lower.ends_with(".zip") {
        zip::ZipArchive::new(std::io::Cursor::new(bytes.as_slice()))
            .map_err(|e| e.to_string())
            .and_then(|mut zip| {
                let mut out = Vec::new();
                for index in 0..zip.len() {
                    let mut item = zip.by_index(index).map_err(|e| e.to_string())?;
                    if item.is_file() {
                        let inner = item.name().to_owned();
                        out.push(entry(&inner, &mut item));
                    }
                }
                Ok(out)
            })
    } else if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
        tar_entries(&mut flate2::read::GzDecoder::new(bytes.as_slice()))
    } else if lower.ends_with(".tar") {
        tar_entries(&mut bytes.as_slice())
    } else {
        return vec![(name.to_owned(), Ok(bytes))];
    };
    unpacked.unwrap_or_else(|reason| {
        vec![(
            name.to_owned(),
            Err(format!("cannot be opened as an archive: {reason}")),
        )]
    })
}

/// The reason given for files of an archive that are not postmortems or exports.
pub const SKIPPED: &str = "skipped: not a .md, .markdown, .txt, .html, .docx, .csv or .json file";

/// What an import would write, read and validated but not yet stored.
#[derive(Debug, Clone)]
pub struct ImportBatch {
    pub loops: Vec<ImportedLoop>,
    /// For each loop, the headings of Markdown sections that matched no loop field.
    pub kept_sections: Vec<Vec<String>>,
}

/// Reads an import — a JSON export (text starting with `{`) or a Markdown postmortem — into the
/// loops it would write to `team` on behalf of `importer` at `now`, validated as the forms
/// would. Pure apart from drawing random ids: what it accepts, the store can write.
pub fn read_import(
    text: &str,
    team: TeamId,
    importer: UserId,
    now: OffsetDateTime,
) -> ServiceResult<ImportBatch> {
    read_import_named(text, None, team, importer, now)
}

/// Reads a file's bytes as [`read_import`] reads text, refusing what cannot be a postmortem
/// (too large, an image or archive, not UTF-8, control characters) with the file's name and
/// line in the message.
pub fn read_import_file(
    name: Option<&str>,
    bytes: &[u8],
    team: TeamId,
    importer: UserId,
    now: OffsetDateTime,
) -> ServiceResult<ImportBatch> {
    let named = |message: String| match name {
        Some(name) => format!("{name}, {message}"),
        None => message,
    };
    let json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if !json && bytes.len() > postmortem::MAX_BYTES {
        return Err(ServiceError::field(
            "body",
            named(format!(
                "line 1: is {} bytes, larger than the {} a postmortem may have",
                bytes.len(),
                postmortem::MAX_BYTES
            )),
        ));
    }
    let read = if bytes.starts_with(b"PK\x03\x04") && docx::is_docx(name, bytes) {
        // A Word document has no lines its reader could count: a problem names the part.
        let markdown =
            docx::to_markdown(bytes).map_err(|e| ServiceError::field("body", named(e.0)))?;
        read_postmortem(&markdown, name, team, importer, now)
    } else {
        let text = postmortem::check_bytes(bytes).map_err(|e| {
            ServiceError::field(e.field, named(format!("line {}: {}", e.line, e.message)))
        })?;
        read_import_named(text, name, team, importer, now)
    };
    read.map_err(|error| match error {
        ServiceError::Invalid(fields) if name.is_some() => {
            let mut errors = FieldErrors::default();
            for f in fields.iter() {
                errors.push(&f.field, named(f.message.clone()));
            }
            errors.into()
        }
        other => other,
    })
}

/// [`read_import`] with the file's name, which a postmortem may take its title or date from.
pub fn read_import_named(
    text: &str,
    file_name: Option<&str>,
    team: TeamId,
    importer: UserId,
    now: OffsetDateTime,
) -> ServiceResult<ImportBatch> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let located = |e: postmortem::PostmortemError| {
        ServiceError::field(e.field, format!("line {}: {}", e.line, e.message))
    };
    if trimmed.starts_with(['{', '[']) {
        // An incident tool's or Parabol's JSON export; anything else starting with `{` is read
        // as a failforward export.
        if let Some(found) = tool_exports::from_json(trimmed) {
            return batch_of(&found.map_err(located)?, team, importer, now);
        }
    }
    if tool_exports::is_csv(file_name) {
        let found = tool_exports::from_csv(text, file_name).map_err(located)?;
        return batch_of(&found, team, importer, now);
    }
    if trimmed.starts_with('{') {
        let document = parse_document(trimmed)?;
        let mut loops = Vec::new();
        let mut errors = FieldErrors::default();
        for (t, team_data) in document.teams.iter().enumerate() {
            for (l, item) in team_data.loops.iter().enumerate() {
                let path = format!("teams[{t}].loops[{l}]");
                if let Some(imported) = from_export(team, importer, now, item, &path, &mut errors) {
                    loops.push(imported);
                }
            }
        }
        errors.check()?;
        let kept_sections = vec![Vec::new(); loops.len()];
        Ok(ImportBatch {
            loops,
            kept_sections,
        })
    } else if html::is_html(file_name, text) {
        // Lines of an HTML file are no help to its reader: a problem names the part at fault.
        let markdown = html::to_markdown(text);
        read_postmortem(&markdown, file_name, team, importer, now)
    } else {
        read_postmortem(text, file_name, team, importer, now)
    }
}

/// Loops of postmortems read from a tool's export, one each.
pub(super) fn batch_of(
    found: &[Postmortem],
    team: TeamId,
    importer: UserId,
    now: OffsetDateTime,
) -> ServiceResult<ImportBatch> {
    let mut loops = Vec::new();
    let mut kept_sections = Vec::new();
    for pm in found {
        loops.push(from_postmortem(team, importer, pm, now)?);
        kept_sections.push(pm.unmapped());
    }
    Ok(ImportBatch {
        loops,
        kept_sections,
    })
}

/// A postmortem in Markdown or plain text, read leniently into one loop.
pub(super) fn read_postmortem(
    text: &str,
    file_name: Option<&str>,
    team: TeamId,
    importer: UserId,
    now: OffsetDateTime,
) -> ServiceResult<ImportBatch> {
    let hints = postmortem::Hints {
        file_name,
        today: Some(now.date()),
    };
    let pm = postmortem::parse_with(text, hints)
        .map_err(|e| ServiceError::field(e.field, format!("line {}: {}", e.line, e.message)))?;
    Ok(ImportBatch {
        loops: vec![from_postmortem(team, importer, &pm, now)?],
        kept_sections: vec![pm.unmapped()],
    })
}

pub(super) fn export_team_head(access: &TeamAccess) -> ExportTeam {
    let team = access.team();
    ExportTeam {
        slug: team.slug.to_string(),
        name: team.name.to_string(),
        description: team.description.clone(),
        loops: Vec::new(),
        review_sessions: Vec::new(),
    }
}

/// Reads a JSON export, naming the path, line and column of the first problem.
pub(super) fn parse_document(text: &str) -> ServiceResult<ExportDocument> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let located = |path: String, error: &serde_json::Error| {
        // An error at the top, or under a key that is the empty string, has no name of its own.
        let field = if path == "." || path.is_empty() {
            "body".to_owned()
        } else {
            path
        };
        ServiceError::field(
            &field,
            format!("line {} column {}: {error}", error.line(), error.column()),
        )
    };
    let document: ExportDocument = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| located(e.path().to_string(), e.inner()))?;
    deserializer
        .end()
        .map_err(|e| located(".".to_owned(), &e))?;
    if document.format != EXPORT_FORMAT {
        return Err(ServiceError::field(
            "format",
            format!("must be {EXPORT_FORMAT:?}"),
        ));
    }
    if document.version == 0 || document.version > EXPORT_VERSION {
        return Err(ServiceError::field(
            "version",
            format!(
                "{} is not supported (this build reads 1 to {EXPORT_VERSION})",
                document.version
            ),
        ));
    }
    Ok(document)
}

pub(super) fn check_text(
    errors: &mut FieldErrors,
    field: &str,
    value: &str,
    required: bool,
) -> String {
    errors
        .take(field, loops::long_text(value, required))
        .unwrap_or_default()
}

/// The texts of a loop that are not read into a domain type, checked as the forms check them
/// (no control characters, so nothing PostgreSQL cannot store; at most `LONG_TEXT_MAX`).
pub(super) fn check_free_text(item: &ExportLoop, path: &str, errors: &mut FieldErrors) {
    let review = &item.review;
    let mut texts: Vec<(String, &str)> = vec![
        ("what_was_expected".into(), &item.what_was_expected),
        ("impact_affected".into(), &item.impact_affected),
        ("review.aar_intended".into(), &review.aar_intended),
        ("review.aar_actual".into(), &review.aar_actual),
        ("review.aar_difference".into(), &review.aar_difference),
        ("review.aar_lessons".into(), &review.aar_lessons),
        ("review.went_well".into(), &review.went_well),
        ("review.went_wrong".into(), &review.went_wrong),
        ("review.got_lucky".into(), &review.got_lucky),
    ];
    let optional = [
        (
            "type_override.reason",
            item.type_override.as_ref().map(|o| &o.reason),
        ),
        ("follow_up.note", item.follow_up.note.as_ref()),
        ("source_experiment_id", item.source_experiment_id.as_ref()),
        ("next_experiment_id", item.next_experiment_id.as_ref()),
    ];
    for (field, value) in optional {
        if let Some(value) = value {
            texts.push((field.into(), value));
        }
    }
    if let Some(classification) = &item.classification {
        for (i, reason) in classification.suggestion.reasons.iter().enumerate() {
            texts.push((format!("classification.suggestion.reasons[{i}]"), reason));
        }
    }
    for (i, h) in item.history.iter().enumerate() {
        texts.push((format!("history[{i}].note"), &h.note));
    }
    for (i, a) in item.additions.iter().enumerate() {
        texts.push((format!("additions[{i}].body"), &a.body));
    }
    for (i, f) in item.factors.iter().enumerate() {
        texts.push((format!("factors[{i}].description"), &f.description));
    }
    for (i, a) in item.accounts.iter().enumerate() {
        for (name, value) in [
            ("actions", &a.actions),
            ("observations", &a.observations),
            ("expectations", &a.expectations),
            ("assumptions", &a.assumptions),
            ("timeline_understanding", &a.timeline_understanding),
        ] {
            texts.push((format!("accounts[{i}].{name}"), value));
        }
    }
    for (i, a) in item.actions.iter().enumerate() {
        texts.push((format!("actions[{i}].dropped_reason"), &a.dropped_reason));
    }
    for (field, value) in texts {
        check_text(errors, &format!("{path}.{field}"), value, false);
    }
}

/// Validates one exported loop the way the forms would, naming `path.field` on a problem.
pub(super) fn from_export(
    team: TeamId,
    importer: UserId,
    now: OffsetDateTime,
    item: &ExportLoop,
    path: &str,
    errors: &mut FieldErrors,
) -> Option<ImportedLoop> {
    let before = errors.is_empty();
    let title = errors
        .take(&format!("{path}.title"), loops::title(&item.title))
        .unwrap_or_default();
    let what_happened = check_text(
        errors,
        &format!("{path}.what_happened"),
        &item.what_happened,
        true,
    );
    let tags = errors
        .take(
            &format!("{path}.tags"),
            loops::tags(item.tags.iter().map(String::as_str)),
        )
        .unwrap_or_default();
    for (i, event) in item.timeline.iter().enumerate() {
        check_text(
            errors,
            &format!("{path}.timeline[{i}].description"),
            &event.description,
            true,
        );
    }
    for (i, action) in item.actions.iter().enumerate() {
        check_text(
            errors,
            &format!("{path}.actions[{i}].title"),
            &action.title,
            true,
        );
    }
    for (i, learning) in item.learnings.iter().enumerate() {
        check_text(
            errors,
            &format!("{path}.learnings[{i}].statement"),
            &learning.statement,
            true,
        );
    }
    if item.history.is_empty() {
        errors.push(&format!("{path}.history"), "must have the creation entry");
    }
    check_free_text(item, path, errors);
    // A loop's number carries its creation day above bit 47 (`store::loops::new_seq`, and
    // SQLite's full-text document ids): days before 1970 or far ahead do not fit.
    let fits =
        OffsetDateTime::UNIX_EPOCH <= item.created_at && item.created_at <= now + Duration::days(1);
    if !fits {
        errors.push(
            &format!("{path}.created_at"),
            "must lie between 1970-01-01 and today",
        );
    }
    // Without a day that fits, no number can be drawn for the loop, even to be thrown away with
    // the rest of a refused import (found by the import_json fuzz target).
    if !fits || (before && !errors.is_empty()) {
        return None;
    }
    let anon = item.anonymous;
    let review = &item.review;
    Some(ImportedLoop {
        new: LoopDraft {
            id: LoopId::random(),
            // Imported records are history: no recurrence is inferred for them.
            recurrence_of: None,
            // An import brings history in; it changes nothing that is news to anyone.
            events: Vec::new(),
            team_id: team,
            kind: item.kind,
            title,
            what_happened,
            what_was_expected: item.what_was_expected.clone(),
            happened_at: item.happened_at.map(|at| day_if(anon, at)),
            noticed_at: day_if(anon, item.noticed_at),
            impact_scale: item.impact_scale,
            impact_affected: item.impact_affected.clone(),
            author: (!anon).then_some(importer),
            reporter_secret_hash: None,
            created_at: day_if(anon, item.created_at),
            stage: item.stage,
            tags,
            source_experiment_id: item.source_experiment_id.clone(),
            classification: item
                .classification
                .as_ref()
                .map(|c| (c.answers, c.suggestion.clone())),
        },
        importer,
        stage_entered_at: day_if(anon, item.stage_entered_at),
        review: Review {
            aar_intended: review.aar_intended.clone(),
            aar_actual: review.aar_actual.clone(),
            aar_difference: review.aar_difference.clone(),
            aar_lessons: review.aar_lessons.clone(),
            went_well: review.went_well.clone(),
            went_wrong: review.went_wrong.clone(),
            got_lucky: review.got_lucky.clone(),
        },
        type_override: item
            .type_override
            .as_ref()
            .map(|o| (o.kind, o.reason.clone(), o.at)),
        follow_up: FollowUp {
            on: item.follow_up.on,
            recurred: item.follow_up.recurred,
            held: item.follow_up.held,
            note: item.follow_up.note.clone(),
            answered_at: item.follow_up.answered_at,
            answered_by_name: None,
        },
        next_experiment_id: item.next_experiment_id.clone(),
        history: item
            .history
            .iter()
            .map(|h| (h.from, h.to, day_if(anon, h.at), h.note.clone()))
            .collect(),
        additions: item
            .additions
            .iter()
            .map(|a| (a.body.clone(), a.added_on, a.by_reporter))
            .collect(),
        timeline: item
            .timeline
            .iter()
            .map(|e| (e.occurred_at, e.description.trim().to_owned()))
            .collect(),
        factors: item
            .factors
            .iter()
            .map(|f| (f.reason, f.description.clone(), f.added_at))
            .collect(),
        accounts: item
            .accounts
            .iter()
            .map(|a| ImportedAccount {
                anonymous: a.anonymous,
                actions: a.actions.clone(),
                observations: a.observations.clone(),
                expectations: a.expectations.clone(),
                assumptions: a.assumptions.clone(),
                timeline_understanding: a.timeline_understanding.clone(),
                added_on: a.added_on,
            })
            .collect(),
        learnings: item
            .learnings
            .iter()
            .map(|l| (l.statement.clone(), l.visibility, l.created_at))
            .collect(),
        actions: item
            .actions
            .iter()
            .map(|a| ImportedAction {
                title: a.title.clone(),
                due_on: a.due_on,
                status: a.status,
                dropped_reason: a.dropped_reason.clone(),
                created_at: a.created_at,
                closed_at: a.closed_at,
            })
            .collect(),
    })
}

/// Turns a postmortem into a loop: Summary (and kept sections) → what happened, Root causes and
/// Trigger → "why was there a difference", Resolution and Detection → "what actually happened",
/// Lessons → lessons and the three parts of "lessons learned", action table → actions, timeline
/// lines → timeline. Front matter may give `impact`, `tags`, `noticed_at`, `happened_at`,
/// `stage` and `anonymous: true`.
pub(super) fn from_postmortem(
    team: TeamId,
    importer: UserId,
    pm: &Postmortem,
    now: OffsetDateTime,
) -> ServiceResult<ImportedLoop> {
    let mut errors = FieldErrors::default();
    let title = errors.take("title", loops::title(&pm.title));
    // A description longer than a loop's field is split at its sections: the rest becomes the
    // loop's additions, so nothing of the source is lost.
    let mut parts = split_long(&pm.description(), loops::LONG_TEXT_MAX);
    let first = if parts.is_empty() {
        String::new()
    } else {
        parts.remove(0)
    };
    let what_happened = errors.take("summary", loops::long_text(&first, true));
    // Front matter is read leniently: a value that does not fit is kept in the description.
    let impact_scale = Some(
        pm.front("impact")
            .or_else(|| pm.front("impact_scale"))
            .and_then(|raw| ImpactScale::parse(raw).ok())
            .unwrap_or(ImpactScale::Minor),
    );
    let tags: Option<Vec<String>> = Some(
        postmortem::front_list(pm.front("tags").unwrap_or(""))
            .iter()
            .filter_map(|t| loops::tag(t).ok())
            .fold(Vec::new(), |mut all, t| {
                if !all.contains(&t) {
                    all.push(t);
                }
                all
            }),
    );
    let instant = |raw: &str| parse_instant(raw).or_else(|_| parse_date(raw)).ok();
    let noticed_at = Some(
        pm.front("noticed_at")
            .or_else(|| pm.front("date"))
            .and_then(instant)
            .or_else(|| pm.timeline.first().map(|e| e.at))
            .or_else(|| pm.date.map(|d| d.midnight().assume_utc()))
            .unwrap_or(now),
    );
    let happened_at = Some(pm.front("happened_at").and_then(instant));
    let analysed = [&pm.root_causes, &pm.lessons, &pm.went_well, &pm.went_wrong]
        .iter()
        .any(|s| !s.is_empty());
    let stage = Some(
        pm.front("stage")
            .and_then(|raw| Stage::parse(raw).ok())
            .unwrap_or(if analysed {
                Stage::Analyse
            } else {
                Stage::Detect
            }),
    );
    for event in &pm.timeline {
        if let Err(e) = loops::statement(&event.text, 2000) {
            errors.push("timeline", format!("line {}: {}", event.line, e.0));
        }
    }
    for action in &pm.actions {
        if let Err(e) = loops::statement(&action.title, 500) {
            errors.push("action_items", format!("line {}: {}", action.line, e.0));
        }
    }
    let (
        Some(title),
        Some(what_happened),
        Some(impact_scale),
        Some(tags),
        Some(noticed_at),
        Some(happened_at),
        Some(stage),
    ) = (
        title,
        what_happened,
        impact_scale,
        tags,
        noticed_at,
        happened_at,
        stage,
    )
    else {
        return Err(errors.into());
    };
    errors.check()?;
    let anon = pm
        .front("anonymous")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let created_at = day_if(anon, now);
    let closed = |status: ActionStatus| (status != ActionStatus::Open).then_some(now);
    Ok(ImportedLoop {
        new: LoopDraft {
            id: LoopId::random(),
            // Imported records are history: no recurrence is inferred for them.
            recurrence_of: None,
            // An import brings history in; it changes nothing that is news to anyone.
            events: Vec::new(),
            team_id: team,
            kind: LoopKind::Failure,
            title,
            what_happened,
            what_was_expected: pm.expected.clone(),
            happened_at: happened_at.map(|at| day_if(anon, at)),
            noticed_at: day_if(anon, noticed_at),
            impact_scale,
            impact_affected: pm.impact_line(),
            author: (!anon).then_some(importer),
            reporter_secret_hash: None,
            created_at,
            stage,
            tags,
            source_experiment_id: None,
            classification: None,
        },
        importer,
        stage_entered_at: created_at,
        review: Review {
            aar_intended: String::new(),
            aar_actual: pm.review_actual(),
            aar_difference: pm.review_difference(),
            aar_lessons: pm.lessons.clone(),
            went_well: pm.went_well.clone(),
            went_wrong: pm.went_wrong.clone(),
            got_lucky: pm.got_lucky.clone(),
        },
        type_override: None,
        follow_up: FollowUp::default(),
        next_experiment_id: None,
        history: vec![(None, stage, created_at, "imported".to_owned())],
        additions: parts
            .into_iter()
            .map(|body| (body, created_at, false))
            .collect(),
        timeline: pm.timeline.iter().map(|e| (e.at, e.text.clone())).collect(),
        factors: Vec::new(),
        accounts: Vec::new(),
        learnings: Vec::new(),
        actions: pm
            .actions
            .iter()
            .map(|a| ImportedAction {
                title: a.title.clone(),
                due_on: None,
                status: a.status,
                dropped_reason: String::new(),
                created_at: now,
                closed_at: closed(a.status),
            })
            .collect(),
    })
}

/// Text cut into parts of at most `max` characters, at section breaks where it can.
pub(super) fn split_long(text: &str, max: usize) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    for paragraph in text.split("\n\n") {
        let pieces: Vec<String> = if paragraph.chars().count() > max {
            let chars: Vec<char> = paragraph.chars().collect();
            chars.chunks(max).map(|c| c.iter().collect()).collect()
        } else {
            vec![paragraph.to_owned()]
        };
        for piece in pieces {
            if !current.is_empty() && current.chars().count() + 2 + piece.chars().count() > max {
                parts.push(std::mem::take(&mut current).trim().to_owned());
            }
            if !current.is_empty() {
                current.push_str("\n\n");
            }
            current.push_str(&piece);
        }
    }
    if !current.trim().is_empty() {
        parts.push(current.trim().to_owned());
    }
    parts
}
