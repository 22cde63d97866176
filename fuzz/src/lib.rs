//! Properties shared by the import targets: what an import accepts must be writable by both
//! stores and keep the promises of docs/export-schema.md.

use failforward::service::error::ServiceError;
use failforward::service::transfer::{read_import, read_import_file, ImportBatch};
use failforward::store::transfer::ImportedLoop;
use time::macros::datetime;
use time::OffsetDateTime;

/// The clock of every fuzzed import, fixed so that a crash replays.
pub const NOW: OffsetDateTime = datetime!(2026-12-02 12:00 UTC);

/// Runs the importer's reading and validation and checks what it accepts or refuses.
pub fn import(text: &str) {
    let team = failforward::domain::TeamId::random();
    let importer = failforward::domain::UserId::random();
    match read_import(text, team, importer, NOW) {
        Ok(batch) => check_batch(&batch),
        Err(ServiceError::Invalid(fields)) => {
            assert!(!fields.is_empty(), "a refusal names no field");
            for f in &fields {
                assert!(!f.field.is_empty(), "a refusal without a field: {f:?}");
            }
        }
        Err(other) => panic!("an import is refused with {other:?}, not a field error"),
    }
}

/// Runs the importer on a file's bytes as uploaded (HTML, `.docx`, a tool's export…): a
/// refusal names a field and the file, an acceptance is storable.
pub fn import_file(name: &str, bytes: &[u8]) {
    let team = failforward::domain::TeamId::random();
    let importer = failforward::domain::UserId::random();
    match read_import_file(Some(name), bytes, team, importer, NOW) {
        Ok(batch) => check_batch(&batch),
        Err(ServiceError::Invalid(fields)) => {
            assert!(!fields.is_empty(), "a refusal names no field");
            for f in &fields {
                assert!(!f.field.is_empty(), "a refusal without a field: {f:?}");
                assert!(
                    f.message.contains(name),
                    "a refusal without the file: {f:?}"
                );
            }
        }
        Err(other) => panic!("an import is refused with {other:?}, not a field error"),
    }
}

fn check_batch(batch: &ImportBatch) {
    assert_eq!(batch.loops.len(), batch.kept_sections.len());
    for item in &batch.loops {
        check_storable(item);
    }
}

/// Every text the import would write, with where it goes.
fn texts(item: &ImportedLoop) -> Vec<(&'static str, &str)> {
    let new = &item.new;
    let review = &item.review;
    let mut out = vec![
        ("title", new.title.as_str()),
        ("what_happened", new.what_happened.as_str()),
        ("what_was_expected", new.what_was_expected.as_str()),
        ("impact_affected", new.impact_affected.as_str()),
        ("aar_intended", review.aar_intended.as_str()),
        ("aar_actual", review.aar_actual.as_str()),
        ("aar_difference", review.aar_difference.as_str()),
        ("aar_lessons", review.aar_lessons.as_str()),
        ("went_well", review.went_well.as_str()),
        ("went_wrong", review.went_wrong.as_str()),
        ("got_lucky", review.got_lucky.as_str()),
    ];
    out.extend(new.tags.iter().map(|t| ("tags", t.as_str())));
    out.extend(
        new.source_experiment_id
            .iter()
            .map(|t| ("source_experiment_id", t.as_str())),
    );
    out.extend(
        item.next_experiment_id
            .iter()
            .map(|t| ("next_experiment_id", t.as_str())),
    );
    out.extend(
        item.type_override
            .iter()
            .map(|o| ("type_override.reason", o.1.as_str())),
    );
    out.extend(
        item.follow_up
            .note
            .iter()
            .map(|n| ("follow_up.note", n.as_str())),
    );
    out.extend(item.history.iter().map(|h| ("history.note", h.3.as_str())));
    out.extend(
        item.additions
            .iter()
            .map(|a| ("additions.body", a.0.as_str())),
    );
    out.extend(
        item.timeline
            .iter()
            .map(|e| ("timeline.description", e.1.as_str())),
    );
    out.extend(
        item.factors
            .iter()
            .map(|f| ("factors.description", f.1.as_str())),
    );
    for a in &item.accounts {
        out.extend([
            ("accounts.actions", a.actions.as_str()),
            ("accounts.observations", a.observations.as_str()),
            ("accounts.expectations", a.expectations.as_str()),
            ("accounts.assumptions", a.assumptions.as_str()),
            (
                "accounts.timeline_understanding",
                a.timeline_understanding.as_str(),
            ),
        ]);
    }
    out.extend(
        item.learnings
            .iter()
            .map(|l| ("learnings.statement", l.0.as_str())),
    );
    for a in &item.actions {
        out.extend([
            ("actions.title", a.title.as_str()),
            ("actions.dropped_reason", a.dropped_reason.as_str()),
        ]);
    }
    out
}

/// What both stores need of an accepted loop.
pub fn check_storable(item: &ImportedLoop) {
    for (field, text) in texts(item) {
        // PostgreSQL's text type cannot hold U+0000: the insert would fail after validation.
        assert!(!text.contains('\0'), "{field} holds U+0000: {text:?}");
        // The forms never store other control characters; pages and exports assume so.
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')),
            "{field} holds a control character: {text:?}"
        );
    }
    assert!(!item.new.title.trim().is_empty(), "an empty title");
    assert!(!item.history.is_empty(), "no creation entry in the history");
    // SQLite numbers full-text documents (created_at / 86400) * 2^47 + seq % 2^47 in a trigger
    // (migrations/sqlite/0014) with truncating division: days before 1970 or past 65535 would
    // overflow into a REAL rowid or disagree with the row number the store draws from the same
    // day (`store::loops::new_seq`, which clamps at day 0).
    let day = item.new.created_at.unix_timestamp().div_euclid(86_400);
    assert!(
        (0..1 << 16).contains(&day),
        "created_at {} has no document id",
        item.new.created_at
    );
    if item.new.author.is_none() {
        // docs/export-schema.md: an anonymous loop keeps midnight UTC of its days only.
        let mut days = vec![
            ("created_at", item.new.created_at),
            ("noticed_at", item.new.noticed_at),
            ("stage_entered_at", item.stage_entered_at),
        ];
        days.extend(item.new.happened_at.map(|at| ("happened_at", at)));
        days.extend(item.history.iter().map(|h| ("history.at", h.2)));
        for (field, at) in days {
            assert_eq!(
                at.unix_timestamp().rem_euclid(86_400),
                0,
                "anonymous loop's {field} is {at}, not midnight UTC"
            );
        }
    }
}
