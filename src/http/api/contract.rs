//! Keeps the OpenAPI document and the API's answers in step: the error answers every operation
//! can give, the limits the use cases enforce, and problem+json for what the framework refuses
//! before a handler runs (bad paths, queries and bodies, unknown routes and methods).

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::Modify;

use crate::http::error::problem;

/// What the framework may say before a handler runs, for each kind of input an operation takes.
/// Added to the handlers' own lists, which name the use cases' answers (409, 403 for roles…).
pub struct ErrorAnswers;

impl Modify for ErrorAnswers {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (&mut item.get, false),
                (&mut item.put, true),
                (&mut item.post, true),
                (&mut item.delete, true),
                (&mut item.patch, true),
            ];
            for (operation, changes_state) in operations {
                if let Some(operation) = operation.as_mut() {
                    add_error_answers(path, operation, changes_state);
                    describe_event_streams(operation);
                }
            }
        }
    }
}

/// Operations whose anonymous or unnamed content the server holds in memory until its release
/// (`service::held`), within bounds.
const HOLDS_CONTENT: &[&str] = &[
    "/api/v1/teams/{slug}/loops",
    "/api/v1/teams/{slug}/loops/{loop_id}/accounts",
    "/api/v1/reporter/{secret}/additions",
    "/api/v1/lint/dismissals",
    "/api/v1/teams/{slug}/pulse-rounds/{round_id}/answers",
    "/api/v1/teams/{slug}/reviews/{review_id}/cards",
    "/api/v1/teams/{slug}/reviews/{review_id}/ballot",
    "/api/v1/teams/{slug}/experiments/{experiment_id}/premortem/reasons",
];

fn add_error_answers(path: &str, operation: &mut Operation, changes_state: bool) {
    // `security(())` marks the reporter's secret-link operations; every other one needs a token
    // or a session (and a browser session the CSRF header on state-changing methods).
    let public = operation
        .security
        .as_ref()
        .is_some_and(|requirements| requirements.iter().all(is_empty_requirement));
    let parameters = operation.parameters.as_deref().unwrap_or_default();
    let in_path = parameters
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Path));
    let in_query = parameters
        .iter()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query));
    let has_body = operation.request_body.is_some();

    let mut answers: Vec<(u16, &str)> = Vec::new();
    if !public {
        answers.push((401, "No valid token or session"));
        if changes_state {
            answers.push((
                403,
                "Not allowed (a role, or a browser session without X-CSRF-Token)",
            ));
        }
    }
    // Review sessions move through phases and experiments through statuses: a change that the
    // current phase or status does not allow is a conflict.
    if changes_state && (path.contains("{review_id}") || path.contains("{experiment_id}")) {
        answers.push((
            409,
            "Not possible in the session's phase or the experiment's status",
        ));
    }
    if changes_state && HOLDS_CONTENT.contains(&path) {
        answers.push((
            429,
            "More unpublished anonymous content than this server holds: the person's share of the day, the link's, or the server's total (`too_much_held`)",
        ));
    }
    if in_path || in_query || has_body {
        answers.push((400, "A path, query or body that cannot be read"));
    }
    if in_path {
        answers.push((404, "Not found, or not yours to see"));
    }
    if in_query || has_body {
        answers.push((422, "Some fields are not valid"));
    }
    if has_body {
        answers.push((413, "The body is too large"));
        answers.push((415, "The body is not of a documented media type"));
    }
    for (status, description) in answers {
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| problem_response(description));
    }
}

/// A server-sent event stream is not one string: it is documented by its media type and an
/// example of its events, without a schema a client would try to match the whole stream against.
fn describe_event_streams(operation: &mut Operation) {
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            if let Some(stream) = response.content.get_mut("text/event-stream") {
                stream.schema = None;
                stream.example = Some(serde_json::Value::String(
                    "event: review\ndata: {\"version\":3}\n\n".to_owned(),
                ));
            }
        }
    }
}

fn is_empty_requirement(requirement: &utoipa::openapi::security::SecurityRequirement) -> bool {
    serde_json::to_value(requirement).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
}

fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            Content::new(Some(Ref::from_schema_name("Problem"))),
        )
        .build()
        .into()
}

/// How the use cases read a text field: its length is counted in characters after trimming.
#[derive(Clone, Copy)]
pub enum Text {
    /// One line (`domain::text::single_line`): no control characters.
    Line { required: bool, max: usize },
    /// Prose (`domain::text::multi_line`): line breaks and tabs allowed.
    Prose { required: bool, max: usize },
    /// Only a length limit.
    Any { max: usize },
}

/// A string property of a component schema and the rule that reads it.
pub struct Limit(pub &'static str, pub &'static str, pub Text);

// Control characters as Rust's `char::is_control` sees them (Unicode's Cc category).
const LINE_CHAR: &str = r"[^\x00-\x1f\x7f-\x9f]";
const PROSE_CHAR: &str = r"[^\x00-\x08\x0b-\x1f\x7f-\x9f]";

impl Text {
    /// `minLength`, `maxLength` and `pattern`: a required field needs one character that is
    /// neither white space nor a control character.
    fn constraints(self) -> (Option<usize>, usize, Option<String>) {
        let (required, max, allowed, excluded) = match self {
            Text::Line { required, max } => (required, max, LINE_CHAR, r"\x00-\x1f\x7f-\x9f"),
            Text::Prose { required, max } => {
                (required, max, PROSE_CHAR, r"\x00-\x08\x0b-\x1f\x7f-\x9f")
            }
            Text::Any { max } => return (None, max, None),
        };
        if required {
            let pattern = format!(r"^{allowed}*[^\s{excluded}]{allowed}*$");
            (Some(1), max, Some(pattern))
        } else {
            (None, max, Some(format!("^{allowed}*$")))
        }
    }
}

/// The limits the use cases enforce on text, from the constants they use.
pub struct Limits;

impl Modify for Limits {
    fn modify(&self, openapi: &mut OpenApi) {
        use crate::domain::{loops as loop_rules, people::Email, team::TeamName};
        use crate::service::{
            experiments as experiment_rules, lint as lint_rules, loops as loop_use,
        };
        use Text::*;
        const LONG: usize = loop_rules::LONG_TEXT_MAX;
        let card = crate::service::review::CARD_MAX;
        let experiment_text = Prose {
            required: true,
            max: experiment_rules::TEXT_MAX,
        };
        let mut limits = vec![
            Limit(
                "RitualShareBody",
                "failed",
                Prose {
                    required: true,
                    max: crate::domain::rituals::FAILED_MAX,
                },
            ),
            Limit(
                "RitualShareBody",
                "learnt",
                Prose {
                    required: true,
                    max: crate::domain::rituals::LEARNT_MAX,
                },
            ),
            Limit(
                "CreateLoop",
                "title",
                Line {
                    required: true,
                    max: loop_rules::TITLE_MAX,
                },
            ),
            Limit(
                "CreateLoop",
                "what_happened",
                Prose {
                    required: true,
                    max: LONG,
                },
            ),
            Limit(
                "CreateLoop",
                "what_was_expected",
                Prose {
                    required: false,
                    max: LONG,
                },
            ),
            Limit(
                "CreateLoop",
                "impact_affected",
                Line {
                    required: false,
                    max: loop_use::SHORT_MAX,
                },
            ),
            Limit(
                "TextBody",
                "body",
                Prose {
                    required: true,
                    max: LONG,
                },
            ),
            Limit(
                "CreateTimelineEvent",
                "description",
                Prose {
                    required: true,
                    max: loop_use::STATEMENT_MAX,
                },
            ),
            Limit(
                "CreateFactor",
                "description",
                Prose {
                    required: true,
                    max: LONG,
                },
            ),
            Limit(
                "CreateLearning",
                "statement",
                Prose {
                    required: true,
                    max: loop_use::LEARNING_MAX,
                },
            ),
            Limit(
                "CreateAction",
                "title",
                Prose {
                    required: true,
                    max: loop_use::SHORT_MAX,
                },
            ),
            Limit(
                "ChangeStage",
                "note",
                Line {
                    required: false,
                    max: loop_use::SHORT_MAX,
                },
            ),
            Limit(
                "AnswerFollowUp",
                "note",
                Prose {
                    required: false,
                    max: LONG,
                },
            ),
            Limit(
                "ExperimentBody",
                "title",
                Line {
                    required: true,
                    max: experiment_rules::TITLE_MAX,
                },
            ),
            Limit(
                "CardBody",
                "text",
                Prose {
                    required: true,
                    max: card,
                },
            ),
            Limit(
                "DissentBody",
                "reason",
                Prose {
                    required: true,
                    max: card,
                },
            ),
            Limit(
                "StartBody",
                "prompt",
                Prose {
                    required: false,
                    max: card,
                },
            ),
            Limit(
                "CreateTeam",
                "name",
                Line {
                    required: true,
                    max: TeamName::MAX_CHARS,
                },
            ),
            Limit(
                "CreateTeam",
                "description",
                Prose {
                    required: false,
                    max: crate::service::TEAM_DESCRIPTION_MAX,
                },
            ),
            Limit(
                "UpdateTeam",
                "name",
                Line {
                    required: true,
                    max: TeamName::MAX_CHARS,
                },
            ),
            Limit(
                "UpdateTeam",
                "description",
                Prose {
                    required: false,
                    max: crate::service::TEAM_DESCRIPTION_MAX,
                },
            ),
            Limit(
                "AddMember",
                "email",
                Line {
                    required: true,
                    max: Email::MAX_CHARS,
                },
            ),
            Limit(
                "LintRequest",
                "text",
                Any {
                    max: lint_rules::MAX_LINT_CHARS,
                },
            ),
        ];
        for field in [
            "believe",
            "verify_by",
            "measure",
            "right_if",
            "kill_criteria",
        ] {
            limits.push(Limit("ExperimentBody", field, experiment_text));
        }
        for field in [
            "aar_intended",
            "aar_actual",
            "aar_difference",
            "aar_lessons",
            "went_well",
            "went_wrong",
            "got_lucky",
        ] {
            limits.push(Limit(
                "SaveReview",
                field,
                Prose {
                    required: false,
                    max: LONG,
                },
            ));
        }
        for field in [
            "actions",
            "observations",
            "expectations",
            "assumptions",
            "timeline_understanding",
        ] {
            limits.push(Limit(
                "CreateAccount",
                field,
                Prose {
                    required: false,
                    max: LONG,
                },
            ));
        }
        apply_limits(openapi, &limits);
    }
}

/// Writes `limits` into the document's component schemas. A limit naming a schema or property
/// the document lacks panics, so that the list follows renames (the contract test builds it).
pub fn apply_limits(openapi: &mut OpenApi, limits: &[Limit]) {
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    for Limit(schema, property, text) in limits {
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*schema) else {
            panic!("no object schema named {schema}");
        };
        let Some(RefOr::T(Schema::Object(field))) = object.properties.get_mut(*property) else {
            panic!("{schema} has no inline property {property}");
        };
        assert!(
            is_string(&field.schema_type),
            "{schema}.{property} is not a string"
        );
        let (min, max, pattern) = text.constraints();
        field.min_length = min;
        field.max_length = Some(max);
        field.pattern = pattern;
    }
}

fn is_string(schema_type: &SchemaType) -> bool {
    match schema_type {
        SchemaType::Type(one) => *one == Type::String,
        SchemaType::Array(types) => types.contains(&Type::String),
        SchemaType::AnyValue => false,
    }
}

/// Under `/api`, an answer that is not JSON and says something went wrong is a framework
/// rejection (axum's path, query and body extractors, the body limit, 405): it becomes
/// problem+json with the framework's words as its detail.
pub async fn problem_for_rejections(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let (parts, body) = response.into_parts();
    let is_json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/") && v.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return Response::from_parts(parts, body);
    }
    let detail = match to_bytes(body, 4096).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).into_owned(),
        _ => status.canonical_reason().unwrap_or("").to_owned(),
    };
    let (code, title) = match status {
        StatusCode::NOT_FOUND => ("not_found", "Not found"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "Method not allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "Request too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "Unsupported body"),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid_input", "Some fields are not valid"),
        s if s.is_server_error() => ("internal", "Something went wrong on our side"),
        _ => ("bad_request", "The request could not be read"),
    };
    let mut answer = problem(status, code, title, &detail, Vec::new());
    // Keep what the framework said besides its text, such as a 405's `Allow`.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name, value.clone());
        }
    }
    answer
}

/// Where a rule applies: a property of a component schema, or a query parameter of every
/// operation on a path.
#[derive(Clone, Copy)]
pub enum Target {
    Property(&'static str, &'static str),
    Query(&'static str, &'static str),
}

/// A rule the use cases enforce that is not a text limit, as the JSON Schema keywords that say
/// it. `required` also makes the property required and not `null`.
pub struct Rule {
    pub target: Target,
    pub keywords: serde_json::Value,
    pub required: bool,
}

/// The pattern of one non-blank line (`single_line`) or prose (`multi_line`), as [`Text`] writes it.
fn nonblank(prose: bool) -> serde_json::Value {
    let text = if prose {
        Text::Prose {
            required: true,
            max: usize::MAX,
        }
    } else {
        Text::Line {
            required: true,
            max: usize::MAX,
        }
    };
    let (_, _, pattern) = text.constraints();
    serde_json::json!({"minLength": 1, "pattern": pattern})
}

/// Enums, formats, number ranges and required fields the use cases check, and the bodies whose
/// fields depend on each other as the alternatives they are ([`shapes`]). What no schema can say
/// (a receiver who must be a member of *this* team, a card of *this* session) is in the
/// descriptions, and `.ci/schemathesis` gives its generated requests the seeded objects.
pub struct Rules;

/// `range` of the health views.
const HEALTH_RANGE: &str = r"^\s*(30|90|365|all)?\s*$";
/// An export's `format`.
const EXPORT_FORMAT: &str = r"^\s*(json|markdown|csv)?\s*$";
/// `Email::parse`: no white space inside, something before the last `@`, a domain of dot-separated
/// non-empty labels.
const EMAIL: &str =
    r"^\s*[^\s\x00-\x1f\x7f-\x9f]+@[^\s@.\x00-\x1f\x7f-\x9f]+(\.[^\s@.\x00-\x1f\x7f-\x9f]+)*\s*$";
/// A day (`YYYY-MM-DD`) or nothing. The pattern names days up to the 28th only, which every month
/// has: `format` cannot be combined with "or empty" in a way generators follow.
const OPTIONAL_DATE: &str = r"^\s*([0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8]))?\s*$";
/// `when::parse_instant`, or nothing: a day (midnight UTC), a day with `HH:MM` or `HH:MM:SS`
/// read as UTC, or RFC 3339 with seconds and an offset. Days stop at 28, as in [`OPTIONAL_DATE`],
/// so that every string the pattern allows is a real instant.
const OPTIONAL_INSTANT: &str = concat!(
    r"^\s*([0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])",
    r"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?",
    r"| ([01][0-9]|2[0-3]):[0-5][0-9]",
    r"|T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?)?\s*$"
);
/// `loops::tag`, or nothing: at least one letter or digit (`[^\W_]`); a tag keeps 32 characters
/// once each run of separators is one `-`, which 16 letters or digits always fit.
const TAG: &str = r"^(\s*|[\W_]*([^\W_][\W_]*){1,16})$";
/// One item of a loop's `tags` (`loops::tag_items`): one tag, so no comma, with at least one
/// letter or digit, at most 32 characters as written (`maxLength`). It counts no letters: `\w`
/// is ASCII under ECMA-262's rules and Unicode under Python's, and generators use either.
const ITEM_TAG: &str = r"^[^,]*[^\W_][^,]*$";
/// A loop's stage, or nothing.
const STAGE: &str = r"^\s*(detect|analyse|apply|continue)?\s*$";
/// `experiments::currency`: three letters, any case (upper-cased when read).
const CURRENCY: &str = r"^\s*[A-Za-z]{3}\s*$";
/// The largest amount and effort `experiments::money_minor` and `person_days_tenths` take.
const MONEY_MAX: i64 = 1_000_000_000_000;
const DAYS_TENTHS_MAX: i64 = 1_000_000;

/// One of `words` (trimmed), or nothing.
fn one_of_words<'a>(words: impl Iterator<Item = &'a str>) -> String {
    format!(r"^\s*({})?\s*$", words.collect::<Vec<_>>().join("|"))
}

/// One of `words` (trimmed).
fn word<'a>(words: impl Iterator<Item = &'a str>) -> String {
    format!(r"^\s*({})\s*$", words.collect::<Vec<_>>().join("|"))
}

pub fn rules() -> Vec<Rule> {
    use serde_json::json;
    use Target::*;
    let audit_actions = format!(
        r"^\s*({})?\s*$",
        crate::domain::audit::AuditAction::ALL
            .iter()
            .map(|action| action.as_str().replace('.', r"\."))
            .collect::<Vec<_>>()
            .join("|")
    );
    let rule = |target, keywords| Rule {
        target,
        keywords,
        required: false,
    };
    let required = |target, keywords| Rule {
        target,
        keywords,
        required: true,
    };
    let date = json!({"format": "date"});
    let mut rules = vec![
        rule(
            Query("/api/v1/health", "range"),
            json!({"pattern": HEALTH_RANGE}),
        ),
        rule(
            Query("/api/v1/teams/{slug}/health", "range"),
            json!({"pattern": HEALTH_RANGE}),
        ),
        rule(
            Query("/api/v1/teams/{slug}/export", "format"),
            json!({"pattern": EXPORT_FORMAT}),
        ),
        rule(
            Query("/api/v1/teams/{slug}/loops/{loop_id}/export", "format"),
            json!({"pattern": EXPORT_FORMAT}),
        ),
        rule(
            Query("/api/v1/export", "format"),
            json!({"pattern": EXPORT_FORMAT}),
        ),
        rule(
            Query("/api/v1/teams/{slug}/loops", "stage"),
            json!({"pattern": STAGE}),
        ),
        rule(
            Query("/api/v1/teams/{slug}/loops", "kind"),
            json!({"pattern": r"^\s*(failure|experiment)?\s*$"}),
        ),
        rule(
            Query("/api/v1/teams/{slug}/loops", "type"),
            json!({"pattern": r"^\s*(basic|complex|intelligent|experiment_not_yet_intelligent)?\s*$"}),
        ),
        rule(
            Query("/api/v1/teams/{slug}/loops", "from"),
            json!({"pattern": OPTIONAL_DATE}),
        ),
        rule(
            Query("/api/v1/teams/{slug}/loops", "to"),
            json!({"pattern": OPTIONAL_DATE}),
        ),
        rule(Query("/api/v1/search", "stage"), json!({"pattern": STAGE})),
        // `domain::mirror::parse_quarter`: a year from 2000 to 2200 and a quarter, "2026Q4";
        // empty reads as absent (the current quarter).
        rule(
            Query("/api/v1/teams/{slug}/mirror", "quarter"),
            json!({"pattern": "^((20[0-9]{2}|21[0-9]{2}|2200)-?[Qq][1-4])?$"}),
        ),
        // `service::audit`: one audited action's name, or nothing.
        rule(
            Query("/api/v1/audit", "action"),
            json!({"pattern": audit_actions.clone()}),
        ),
        rule(
            Query("/api/v1/audit/export", "action"),
            json!({"pattern": audit_actions}),
        ),
        // `service::audit`: the first and last day included, or nothing.
        rule(
            Query("/api/v1/audit", "from"),
            json!({"pattern": OPTIONAL_DATE}),
        ),
        rule(
            Query("/api/v1/audit", "until"),
            json!({"pattern": OPTIONAL_DATE}),
        ),
        rule(
            Query("/api/v1/audit/export", "from"),
            json!({"pattern": OPTIONAL_DATE}),
        ),
        rule(
            Query("/api/v1/audit/export", "until"),
            json!({"pattern": OPTIONAL_DATE}),
        ),
        // `service::audit`: 1 to 10,000 entries.
        rule(
            Query("/api/v1/audit", "limit"),
            json!({"minimum": 1, "maximum": 10000}),
        ),
        rule(
            Query("/api/v1/audit/export", "limit"),
            json!({"minimum": 1, "maximum": 10000}),
        ),
        rule(Query("/api/v1/search", "tag"), json!({"pattern": TAG})),
        rule(
            Query("/api/v1/teams/{slug}/loops", "tag"),
            json!({"pattern": TAG}),
        ),
        rule(
            Query("/api/v1/search", "from"),
            json!({"pattern": OPTIONAL_DATE}),
        ),
        rule(
            Query("/api/v1/search", "to"),
            json!({"pattern": OPTIONAL_DATE}),
        ),
        rule(
            Query("/api/v1/teams/{slug}/loops", "page"),
            json!({"minimum": 1}),
        ),
        rule(
            Query("/api/v1/teams/{slug}/loops", "per_page"),
            json!({"minimum": 1, "maximum": 200}),
        ),
        rule(
            Query("/api/v1/teams/{slug}/loops", "sort"),
            json!({"pattern": r"^\s*(newest|oldest|longest_in_stage|title)?\s*$"}),
        ),
        rule(
            Query("/api/v1/search", "kind"),
            json!({"pattern": r"^\s*(loop|learning|factor|action|experiment)?\s*$"}),
        ),
        rule(
            Query("/api/v1/search", "page"),
            json!({"pattern": r"^\s*(\+?0*[1-9][0-9]{0,17})?\s*$"}),
        ),
        rule(
            Query("/api/v1/search", "per_page"),
            json!({"pattern": r"^\s*(\+?0*([1-9][0-9]?|100))?\s*$"}),
        ),
        rule(
            Property("UpdateTeam", "stuck_after_days"),
            json!({"minimum": 1, "maximum": 365}),
        ),
        rule(
            Property("PulseSettings", "min_responses"),
            json!({"minimum": 3, "maximum": 50}),
        ),
        rule(
            Property("StartBody", "dots"),
            json!({"minimum": 1, "maximum": 20}),
        ),
        // Every item answered, in order; answers past the last item are not read.
        rule(
            Property("AnswerBody", "answers"),
            json!({
                "items": {"type": "integer", "minimum": 1, "maximum": 7},
                "minItems": crate::domain::culture::PULSE_ITEMS.len(),
            }),
        ),
        rule(
            Property("CardBody", "kind"),
            json!({"pattern": word(crate::domain::review::CardKind::ALL.iter().map(|k| k.as_str()))}),
        ),
        rule(
            Property("RecurrenceVerdictBody", "verdict"),
            json!({"pattern": word(crate::domain::recurrence::RecurrenceVerdict::ALL.iter().map(|v| v.as_str()))}),
        ),
        rule(
            Property("DecisionBody", "factor_reason"),
            json!({"pattern": one_of_words(crate::domain::loops::FactorReason::ALL.iter().map(|r| r.as_str()))}),
        ),
        rule(
            Property("DecisionBody", "learning_visibility"),
            json!({"pattern": r"^\s*(team|organisation)?\s*$"}),
        ),
        rule(
            Query("/api/v1/library", "theme"),
            json!({"pattern": one_of_words(crate::domain::loops::FactorReason::ALL.iter().map(|r| r.as_str()))}),
        ),
        rule(Query("/api/v1/library", "tag"), json!({"pattern": TAG})),
        rule(
            Query("/api/v1/library", "page"),
            json!({"pattern": r"^\s*(\+?0*[1-9][0-9]{0,17})?\s*$"}),
        ),
        required(
            Property("CreateOrganisationInvitation", "email"),
            json!({"pattern": EMAIL, "maxLength": crate::domain::people::Email::MAX_CHARS}),
        ),
        required(
            Property("CreateInvitation", "email"),
            json!({"pattern": EMAIL, "maxLength": crate::domain::people::Email::MAX_CHARS}),
        ),
        rule(Property("AddMember", "email"), json!({"pattern": EMAIL})),
        rule(Property("DismissRequest", "reason"), nonblank(false)),
        rule(
            Property("DismissRequest", "reason"),
            json!({"maxLength": 500}),
        ),
        rule(Property("TermBody", "phrase"), nonblank(false)),
        rule(
            Property("TermBody", "category"),
            json!({"pattern": r"^\s*(blame_person|counterfactual|human_error|root_cause_singular|moralising|hindsight_certainty)\s*$"}),
        ),
        rule(Property("NoteBody", "note"), nonblank(true)),
        rule(Property("NoteBody", "note"), json!({"maxLength": 2000})),
        rule(Property("HideBody", "reason"), nonblank(true)),
        rule(Property("CreateToken", "name"), nonblank(false)),
        rule(Property("CreateToken", "name"), json!({"maxLength": 80})),
        rule(Property("RecogniseBody", "behaviour"), nonblank(true)),
        rule(Property("RecogniseBody", "impact"), nonblank(true)),
        rule(
            Property("RecogniseBody", "behaviour"),
            json!({"maxLength": 1000}),
        ),
        rule(
            Property("RecogniseBody", "impact"),
            json!({"maxLength": 1000}),
        ),
        rule(
            Property("ExperimentBody", "currency"),
            json!({"pattern": CURRENCY}),
        ),
        rule(Property("ExperimentBody", "starts_on"), date.clone()),
        rule(Property("ExperimentBody", "decide_by"), date.clone()),
        rule(
            Property("ExperimentBody", "money_minor"),
            json!({"maximum": MONEY_MAX}),
        ),
        rule(
            Property("ExperimentBody", "days_tenths"),
            json!({"maximum": DAYS_TENTHS_MAX}),
        ),
        rule(
            Property("BudgetBody", "currency"),
            json!({"pattern": CURRENCY}),
        ),
        rule(
            Property("BudgetBody", "money_minor"),
            json!({"maximum": MONEY_MAX}),
        ),
        rule(
            Property("BudgetBody", "days_tenths"),
            json!({"maximum": DAYS_TENTHS_MAX}),
        ),
        // Left empty, an action has no due day.
        rule(
            Property("CreateAction", "due_on"),
            json!({"pattern": OPTIONAL_DATE}),
        ),
        rule(Property("OpenRound", "closes_on"), date.clone()),
        // The rest of the rule (not in the future, not after `noticed_at`) depends on the clock
        // and on the other field, which a schema cannot state; the fields' descriptions say it.
        rule(
            Property("CreateLoop", "happened_at"),
            json!({"pattern": OPTIONAL_INSTANT}),
        ),
        rule(
            Property("CreateLoop", "tags"),
            json!({
                "items": {
                    "type": "string",
                    "pattern": ITEM_TAG,
                    "maxLength": crate::domain::loops::TAG_ITEM_MAX,
                },
                "maxItems": crate::domain::loops::TAGS_MAX,
            }),
        ),
        rule(
            Property("CreateLoop", "noticed_at"),
            json!({"pattern": OPTIONAL_INSTANT}),
        ),
        rule(
            Property("CreateTimelineEvent", "occurred_at"),
            json!({"format": "date-time"}),
        ),
    ];
    for field in ["believed", "observed", "learned", "therefore"] {
        rules.push(rule(Property("ConclusionBody", field), nonblank(true)));
    }
    // `service::loops::set_follow_up`: a day, or blank (or null) to clear it.
    rules.push(rule(
        Property("SetFollowUp", "on"),
        json!({"pattern": OPTIONAL_DATE}),
    ));
    // The ritual's schedule: words of the domain's own sets.
    rules.push(required(
        Property("RitualScheduleBody", "cadence"),
        json!({"pattern": r"^\s*(weekly|fortnightly)\s*$"}),
    ));
    rules.push(required(
        Property("RitualScheduleBody", "weekday"),
        json!({"pattern": format!(r"^\s*({})\s*$", crate::domain::rituals::WEEKDAYS.join("|"))}),
    ));
    // Expectations: one target range for every measure, so no body depends on another field.
    rules.push(required(
        Property("MeasureBody", "target"),
        json!({
            "minimum": crate::domain::expectations::TARGET_MIN,
            "maximum": crate::domain::expectations::TARGET_MAX
        }),
    ));
    for (schema, field, max) in [
        (
            "ExpectationBody",
            "text",
            crate::domain::expectations::TEXT_MAX,
        ),
        (
            "ExpectationCommentBody",
            "text",
            crate::domain::expectations::COMMENT_MAX,
        ),
    ] {
        rules.push(rule(Property(schema, field), nonblank(true)));
        rules.push(rule(Property(schema, field), json!({ "maxLength": max })));
    }
    // The consistent-success thresholds, from the domain's own ranges.
    for (field, min, max) in crate::domain::success::RANGES {
        rules.push(required(
            Property("SuccessSettingsBody", field),
            json!({"minimum": min, "maximum": max}),
        ));
    }
    rules
}

impl Modify for Rules {
    fn modify(&self, openapi: &mut OpenApi) {
        let Ok(mut document) = serde_json::to_value(&*openapi) else {
            return;
        };
        apply_rules(&mut document, &rules());
        apply_shapes(&mut document, &shapes());
        match serde_json::from_value(document) {
            Ok(document) => *openapi = document,
            Err(e) => panic!("the document with its rules no longer reads: {e}"),
        }
    }
}

/// Merges `rules` into the document. A rule naming a schema, property or parameter the
/// document lacks panics, so that the list follows renames (the contract test builds it).
pub fn apply_rules(document: &mut serde_json::Value, rules: &[Rule]) {
    use serde_json::Value;
    for rule in rules {
        let Value::Object(keywords) = &rule.keywords else {
            panic!("a rule's keywords are an object");
        };
        let mut targets: Vec<&mut Value> = Vec::new();
        match rule.target {
            Target::Property(schema, property) => {
                let object = document
                    .pointer_mut(&format!("/components/schemas/{schema}"))
                    .unwrap_or_else(|| panic!("no schema named {schema}"));
                if rule.required {
                    let list = object
                        .as_object_mut()
                        .map(|o| o.entry("required").or_insert_with(|| Value::Array(vec![])));
                    if let Some(Value::Array(list)) = list {
                        if !list.iter().any(|v| v == property) {
                            list.push(Value::from(property));
                        }
                    }
                }
                targets.push(
                    object
                        .pointer_mut(&format!("/properties/{property}"))
                        .unwrap_or_else(|| panic!("{schema} has no property {property}")),
                );
            }
            Target::Query(path, name) => {
                let item = document
                    .get_mut("paths")
                    .and_then(|p| p.get_mut(path))
                    .and_then(Value::as_object_mut)
                    .unwrap_or_else(|| panic!("no path {path}"));
                for operation in item.values_mut() {
                    let Some(Value::Array(parameters)) = operation.get_mut("parameters") else {
                        continue;
                    };
                    for parameter in parameters {
                        if parameter["in"] == "query" && parameter["name"] == name {
                            if let Some(schema) = parameter.get_mut("schema") {
                                targets.push(schema);
                            }
                        }
                    }
                }
                assert!(!targets.is_empty(), "{path} has no query parameter {name}");
            }
        }
        for target in targets {
            let Value::Object(target) = target else {
                panic!("a rule's target is an object");
            };
            if rule.required {
                if let Some(Value::Array(types)) = target.get_mut("type") {
                    types.retain(|t| t != "null");
                    if types.len() == 1 {
                        let only = types[0].clone();
                        target.insert("type".to_owned(), only);
                    }
                }
            }
            for (keyword, value) in keywords {
                target.insert(keyword.clone(), value.clone());
            }
        }
    }
}

/// Nothing but white space (or nothing): what `trim` leaves empty, so an optional text left so
/// counts as not given.
pub const BLANK: &str = r"^\s*$";
/// Something other than white space.
pub const NOT_BLANK: &str = r"\S";

/// A body whose fields depend on each other, stated as the alternatives the use case accepts:
/// each alternative is the generated object with some properties replaced and some required.
/// `one_of` when the alternatives exclude each other (a body matches exactly one), `anyOf` when
/// they overlap (a body may match several).
pub struct Shape {
    pub schema: &'static str,
    pub description: &'static str,
    pub one_of: bool,
    pub alternatives: Vec<Alternative>,
}

/// One alternative: `(property, keywords)` replacing the property's own type and constraints
/// (its description stays), and the properties it requires.
pub struct Alternative {
    pub properties: Vec<(&'static str, serde_json::Value)>,
    pub required: Vec<&'static str>,
}

/// The keywords of a text that must hold something (`required`) or may be left blank, as
/// [`Text::Prose`] writes them; a blank optional text is accepted whatever its characters, since
/// the use cases read it trimmed.
fn prose(required: bool, max: usize, nullable: bool) -> serde_json::Value {
    let (_, _, pattern) = Text::Prose { required, max }.constraints();
    let pattern = pattern.unwrap_or_default();
    let ty = if nullable {
        serde_json::json!(["string", "null"])
    } else {
        serde_json::json!("string")
    };
    if required {
        serde_json::json!({"type": ty, "minLength": 1, "maxLength": max, "pattern": pattern})
    } else {
        let inner = pattern.trim_start_matches('^').trim_end_matches('$');
        serde_json::json!({"type": ty, "maxLength": max, "pattern": format!(r"^(\s*|{inner})$")})
    }
}

pub fn shapes() -> Vec<Shape> {
    use crate::domain::loops::LONG_TEXT_MAX;
    use crate::service::{loops::STATEMENT_MAX, review::CARD_MAX};
    use serde_json::json;
    let account_parts = [
        "actions",
        "observations",
        "expectations",
        "assumptions",
        "timeline_understanding",
    ];
    vec![
        Shape {
            schema: "StartBody",
            description: "A free retrospective asks its question (`prompt`); a review of a loop \
                          names the loop (`loop_id`, one of the team's) and may ask one.",
            one_of: true,
            alternatives: vec![
                Alternative {
                    properties: vec![
                        (
                            "loop_id",
                            json!({"type": ["string", "null"], "pattern": BLANK}),
                        ),
                        ("prompt", prose(true, CARD_MAX, false)),
                    ],
                    required: vec!["prompt"],
                },
                Alternative {
                    properties: vec![
                        ("loop_id", json!({"type": "string", "pattern": NOT_BLANK})),
                        ("prompt", prose(false, CARD_MAX, true)),
                    ],
                    required: vec!["loop_id"],
                },
            ],
        },
        Shape {
            schema: "UpdateAction",
            description: "Dropping an action says why (`dropped_reason`); marking it open or \
                          done ignores the reason.",
            one_of: true,
            alternatives: vec![
                Alternative {
                    properties: vec![
                        (
                            "status",
                            json!({"type": "string", "enum": ["open", "done"]}),
                        ),
                        ("dropped_reason", json!({"type": "string"})),
                    ],
                    required: vec!["status"],
                },
                Alternative {
                    properties: vec![
                        ("status", json!({"type": "string", "enum": ["dropped"]})),
                        ("dropped_reason", prose(true, 1000, false)),
                    ],
                    required: vec!["status", "dropped_reason"],
                },
            ],
        },
        Shape {
            schema: "CreateAccount",
            description: "An account has at least one written part.",
            one_of: false,
            alternatives: account_parts
                .iter()
                .map(|part| Alternative {
                    properties: vec![(*part, prose(true, LONG_TEXT_MAX, false))],
                    required: vec![part],
                })
                .collect(),
        },
        Shape {
            schema: "SaveOverride",
            description: "Choosing a type gives a reason; `type` left out or `null` withdraws \
                          the override and ignores the reason.",
            one_of: true,
            alternatives: vec![
                Alternative {
                    properties: vec![
                        ("type", json!({"type": "null"})),
                        ("reason", json!({"type": "string"})),
                    ],
                    required: vec![],
                },
                Alternative {
                    properties: vec![
                        ("type", json!({"$ref": "#/components/schemas/FailureType"})),
                        ("reason", prose(true, STATEMENT_MAX, false)),
                    ],
                    required: vec!["type", "reason"],
                },
            ],
        },
    ]
}

/// Replaces each shape's object schema by its alternatives (`oneOf` or `anyOf`, with no `type`
/// beside it, which utoipa's model would read as a plain object and drop the rest). A shape
/// naming a schema or property the document lacks panics, so that the list follows renames.
pub fn apply_shapes(document: &mut serde_json::Value, shapes: &[Shape]) {
    use serde_json::Value;
    for shape in shapes {
        let slot = document
            .pointer_mut(&format!("/components/schemas/{}", shape.schema))
            .unwrap_or_else(|| panic!("no schema named {}", shape.schema));
        let base = slot.clone();
        assert!(
            base["properties"].is_object(),
            "{} is not an object schema",
            shape.schema
        );
        let alternatives: Vec<Value> = shape
            .alternatives
            .iter()
            .map(|alternative| {
                let mut object = base.clone();
                if let Some(object) = object.as_object_mut() {
                    object.remove("description");
                }
                for (name, keywords) in &alternative.properties {
                    let property = object
                        .pointer_mut(&format!("/properties/{name}"))
                        .unwrap_or_else(|| panic!("{} has no property {name}", shape.schema));
                    let mut replaced = serde_json::Map::new();
                    if let Some(description) = property.get("description") {
                        replaced.insert("description".to_owned(), description.clone());
                    }
                    if let Value::Object(keywords) = keywords {
                        replaced.extend(keywords.clone());
                    }
                    *property = Value::Object(replaced);
                }
                let mut required: Vec<Value> =
                    object["required"].as_array().cloned().unwrap_or_default();
                for name in &alternative.required {
                    if !required.iter().any(|r| r == name) {
                        required.push(Value::from(*name));
                    }
                }
                if let Some(object) = object.as_object_mut() {
                    object.insert("required".to_owned(), Value::Array(required));
                }
                object
            })
            .collect();
        let keyword = if shape.one_of { "oneOf" } else { "anyOf" };
        *slot = serde_json::json!({
            keyword: alternatives,
            "description": shape.description,
        });
    }
}
