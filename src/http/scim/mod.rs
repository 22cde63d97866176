//! SCIM 2.0 (RFC 7643/7644) under `/scim/v2`: an identity provider's door, authenticated by the
//! organisation's SCIM token alone (never a session or a personal token). Users are accounts,
//! Groups are teams. Resources are rendered to JSON, PATCH operations are applied to that JSON
//! (`patch.rs`) and the result is read back like a PUT body, so every path form a provider
//! sends goes through one parser.

mod patch;
mod schema;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::AppState;
use crate::domain::records::scim::{ScimGroupRecord, ScimUserFilter, ScimUserRecord};
use crate::service::scim::{ScimGroupInput, ScimUserInput};
use crate::service::ServiceError;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The most resources one list answer holds, whatever `count` asks.
const MAX_RESULTS: usize = 1000;

/// The SCIM routes, to be nested at `/scim/v2`.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema_by_id))
        .route("/.search", axum::routing::post(search_all))
        .route("/Users", get(list_users).post(create_user))
        .route(
            "/Users/{id}",
            get(get_user)
                .put(replace_user)
                .patch(patch_user)
                .delete(delete_user),
        )
        .route("/Groups", get(list_groups).post(create_group))
        .route(
            "/Groups/{id}",
            get(get_group)
                .put(replace_group)
                .patch(patch_group)
                .delete(delete_group),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state, require_scim_token))
}

/// A SCIM error: its status, optional `scimType` and a sentence.
#[derive(Debug)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }
}

impl From<ServiceError> for ScimError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(fields) => {
                let detail = fields
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                Self::bad("invalidValue", detail)
            }
            ServiceError::NotFound => Self::new(StatusCode::NOT_FOUND, None, "resource not found"),
            ServiceError::Unauthenticated | ServiceError::BadCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                None,
                "the organisation's SCIM bearer token is required",
            ),
            ServiceError::Forbidden(why) => Self::new(StatusCode::FORBIDDEN, None, why),
            ServiceError::Conflict { field, message } => {
                let detail = match &field {
                    Some(field) => format!("{field}: {message}"),
                    None => message,
                };
                if matches!(field.as_deref(), Some("members")) {
                    Self::bad("mutability", detail)
                } else {
                    Self::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
                }
            }
            ServiceError::Internal(inner) => {
                tracing::error!(error = ?inner, "internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error")
            }
            other => Self::new(StatusCode::BAD_REQUEST, None, other.to_string()),
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        scim_json(self.status, &body)
    }
}

type ScimResult = Result<Response, ScimError>;

/// A SCIM body with its own media type (RFC 7644 §3.1).
fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json"),
    );
    response
}

/// Everything under `/scim/v2` needs `Authorization: Bearer <the organisation's SCIM token>`.
async fn require_scim_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let allowed = match token {
        Some(token) => match state.service.check_scim_token(token).await {
            Ok(allowed) => allowed,
            Err(error) => return ScimError::from(error).into_response(),
        },
        None => false,
    };
    if !allowed {
        let mut response = ScimError::from(ServiceError::Unauthenticated).into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scim\""),
        );
        return response;
    }
    next.run(request).await
}

async fn not_found() -> Response {
    ScimError::new(StatusCode::NOT_FOUND, None, "no such SCIM endpoint").into_response()
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn location(state: &AppState, kind: &str, id: &str) -> String {
    state.service.link(&format!("/scim/v2/{kind}/{id}"))
}

fn user_json(state: &AppState, user: &ScimUserRecord) -> Value {
    let id = user.user.id.to_string();
    let mut body = json!({
        "schemas": [USER_SCHEMA],
        "id": id,
        "userName": user.user_name,
        "name": {"formatted": user.user.name.as_str()},
        "displayName": user.user.name.as_str(),
        "emails": [{"value": user.user.email.as_str()}],
        "active": user.active,
        "meta": {
            "resourceType": "User",
            "created": rfc3339(user.created_at),
            "lastModified": rfc3339(user.updated_at),
            "location": location(state, "Users", &id),
        },
    });
    if let Some(external_id) = &user.external_id {
        body["externalId"] = json!(external_id);
    }
    body
}

fn group_json(state: &AppState, group: &ScimGroupRecord) -> Value {
    let id = group.team.to_string();
    let members: Vec<Value> = group
        .members
        .iter()
        .map(|(user, _)| {
            // No `display` nor `type`: a provider compares members as it sent them (value, $ref).
            json!({
                "value": user.to_string(),
                "$ref": location(state, "Users", &user.to_string()),
            })
        })
        .collect();
    let mut body = json!({
        "schemas": [GROUP_SCHEMA],
        "id": id,
        "displayName": group.name.as_str(),
        "members": members,
        "meta": {
            "resourceType": "Group",
            "created": rfc3339(group.created_at),
            "lastModified": rfc3339(group.updated_at),
            "location": location(state, "Groups", &id),
        },
    });
    if let Some(external_id) = &group.external_id {
        body["externalId"] = json!(external_id);
    }
    body
}

/// The value of `name` in `object`, its name compared without regard to case (RFC 7643 §2.1).
pub(crate) fn attribute<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

fn string_attribute(object: &Map<String, Value>, name: &str) -> Result<Option<String>, ScimError> {
    match attribute(object, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(ScimError::bad(
            "invalidValue",
            format!("{name} must be a string"),
        )),
    }
}

fn parse_body(body: &Bytes) -> Result<Map<String, Value>, ScimError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ScimError::bad(
            "invalidSyntax",
            "the body must be a JSON object",
        )),
        Err(error) => Err(ScimError::bad(
            "invalidSyntax",
            format!("malformed JSON: {error}"),
        )),
    }
}

/// Reads a User resource (a POST or PUT body, or a patched resource).
fn user_input(object: &Map<String, Value>) -> Result<ScimUserInput, ScimError> {
    let user_name = string_attribute(object, "userName")?
        .ok_or_else(|| ScimError::bad("invalidValue", "userName is required"))?;
    let name = match attribute(object, "name") {
        Some(Value::Object(name)) => {
            let formatted = string_attribute(name, "formatted")?;
            let given = string_attribute(name, "givenName")?;
            let family = string_attribute(name, "familyName")?;
            formatted.or_else(|| {
                let joined = [given, family]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                (!joined.trim().is_empty()).then_some(joined)
            })
        }
        None | Some(Value::Null) => None,
        Some(_) => return Err(ScimError::bad("invalidValue", "name must be an object")),
    };
    let display_name = string_attribute(object, "displayName")?.or(name);
    let email = match attribute(object, "emails") {
        Some(Value::Array(emails)) => {
            let objects: Vec<&Map<String, Value>> =
                emails.iter().filter_map(Value::as_object).collect();
            let is = |email: &Map<String, Value>, key: &str, wanted: &Value| {
                attribute(email, key).is_some_and(|value| match (value, wanted) {
                    (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
                    (a, b) => a == b,
                })
            };
            objects
                .iter()
                .find(|e| is(e, "primary", &json!(true)))
                .or_else(|| objects.iter().find(|e| is(e, "type", &json!("work"))))
                .or_else(|| objects.first())
                .and_then(|email| attribute(email, "value"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        }
        None | Some(Value::Null) => None,
        Some(_) => return Err(ScimError::bad("invalidValue", "emails must be a list")),
    };
    let active = match attribute(object, "active") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(active)) => *active,
        // Some providers send booleans as strings.
        Some(Value::String(text)) if text.eq_ignore_ascii_case("true") => true,
        Some(Value::String(text)) if text.eq_ignore_ascii_case("false") => false,
        Some(_) => return Err(ScimError::bad("invalidValue", "active must be a boolean")),
    };
    Ok(ScimUserInput {
        user_name,
        email,
        display_name,
        external_id: string_attribute(object, "externalId")?,
        active,
    })
}

/// Reads a Group resource.
fn group_input(object: &Map<String, Value>) -> Result<ScimGroupInput, ScimError> {
    let display_name = string_attribute(object, "displayName")?
        .ok_or_else(|| ScimError::bad("invalidValue", "displayName is required"))?;
    let members = match attribute(object, "members") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(members)) => members
            .iter()
            .map(|member| {
                member
                    .as_object()
                    .and_then(|m| attribute(m, "value"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| ScimError::bad("invalidValue", "members[].value is required"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(ScimError::bad("invalidValue", "members must be a list")),
    };
    Ok(ScimGroupInput {
        display_name,
        external_id: string_attribute(object, "externalId")?,
        members,
    })
}

/// `filter`, `startIndex` and `count` of a list request (RFC 7644 §3.4.2).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    filter: Option<String>,
    start_index: Option<String>,
    count: Option<String>,
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

/// `attributes` and `excludedAttributes` of a read (RFC 7644 §3.4.2.5).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Projection {
    attributes: Option<String>,
    excluded_attributes: Option<String>,
}

/// The top-level names of a comma-separated attribute list (`name.formatted` → `name`).
fn attribute_names(list: Option<&str>) -> Vec<String> {
    list.unwrap_or("")
        .split(',')
        .map(|name| {
            let name = name.trim();
            let name = if name.to_ascii_lowercase().starts_with("urn:") {
                name.rsplit(':').next().unwrap_or(name)
            } else {
                name
            };
            name.split('.').next().unwrap_or("").to_owned()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

/// Keeps the attributes asked for (`id`, `schemas` and `meta` always stay).
fn project(mut resource: Value, attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let wanted = attribute_names(attributes);
    let unwanted = attribute_names(excluded);
    if let Value::Object(object) = &mut resource {
        object.retain(|key, _| {
            let always = ["id", "schemas", "meta"].contains(&key.as_str());
            let named = |list: &[String]| list.iter().any(|n| n.eq_ignore_ascii_case(key));
            always || ((wanted.is_empty() || named(&wanted)) && !named(&unwanted))
        });
    }
    resource
}

/// A list answer for `resources` (already filtered), one page of it.
fn list_response(resources: Vec<Value>, query: &ListQuery) -> ScimResult {
    let number = |raw: &Option<String>, name: &str| -> Result<Option<i64>, ScimError> {
        raw.as_deref()
            .map(|raw| {
                raw.trim().parse::<i64>().map_err(|_| {
                    ScimError::bad("invalidValue", format!("{name} must be an integer"))
                })
            })
            .transpose()
    };
    let start = number(&query.start_index, "startIndex")?
        .unwrap_or(1)
        .max(1);
    let count = number(&query.count, "count")?
        .unwrap_or(MAX_RESULTS as i64)
        .clamp(0, MAX_RESULTS as i64);
    let total = resources.len();
    let page: Vec<Value> = resources
        .into_iter()
        .skip(usize::try_from(start - 1).unwrap_or(usize::MAX))
        .take(usize::try_from(count).unwrap_or(0))
        .map(|r| {
            project(
                r,
                query.attributes.as_deref(),
                query.excluded_attributes.as_deref(),
            )
        })
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "itemsPerPage": page.len(),
            "startIndex": start,
            "Resources": page,
        }),
    ))
}

/// Applies a list filter to rendered resources.
fn filtered(resources: Vec<Value>, filter: Option<&str>) -> Result<Vec<Value>, ScimError> {
    let Some(filter) = filter.map(str::trim).filter(|f| !f.is_empty()) else {
        return Ok(resources);
    };
    let filter = patch::Filter::parse(filter)?;
    Ok(resources
        .into_iter()
        .filter(|resource| filter.matches(resource))
        .collect())
}

async fn service_provider_config(State(state): State<AppState>) -> Response {
    scim_json(StatusCode::OK, &schema::service_provider_config(&state))
}

async fn resource_types(State(state): State<AppState>) -> Response {
    let types = schema::resource_types(&state);
    let query = ListQuery {
        filter: None,
        start_index: None,
        count: None,
        attributes: None,
        excluded_attributes: None,
    };
    list_response(types, &query).unwrap_or_else(IntoResponse::into_response)
}

async fn resource_type(State(state): State<AppState>, Path(id): Path<String>) -> ScimResult {
    schema::resource_types(&state)
        .into_iter()
        .find(|t| t["id"] == json!(id))
        .map(|t| scim_json(StatusCode::OK, &t))
        .ok_or_else(|| ScimError::new(StatusCode::NOT_FOUND, None, "no such resource type"))
}

async fn schemas(State(state): State<AppState>) -> Response {
    let query = ListQuery {
        filter: None,
        start_index: None,
        count: None,
        attributes: None,
        excluded_attributes: None,
    };
    list_response(schema::schemas(&state), &query).unwrap_or_else(IntoResponse::into_response)
}

async fn schema_by_id(State(state): State<AppState>, Path(id): Path<String>) -> ScimResult {
    schema::schemas(&state)
        .into_iter()
        .find(|s| s["id"] == json!(id))
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::new(StatusCode::NOT_FOUND, None, "no such schema"))
}

async fn list_users(State(state): State<AppState>, Query(query): Query<ListQuery>) -> ScimResult {
    let users = state.service.scim_users(&ScimUserFilter::default()).await?;
    let rendered = users.iter().map(|u| user_json(&state, u)).collect();
    list_response(filtered(rendered, query.filter.as_deref())?, &query)
}

async fn get_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(shown): Query<Projection>,
) -> ScimResult {
    let user = state.service.scim_user(&id).await?;
    let body = project(
        user_json(&state, &user),
        shown.attributes.as_deref(),
        shown.excluded_attributes.as_deref(),
    );
    Ok(scim_json(StatusCode::OK, &body))
}

async fn create_user(State(state): State<AppState>, body: Bytes) -> ScimResult {
    let input = user_input(&parse_body(&body)?)?;
    let user = state.service.scim_create_user(&input).await?;
    let body = user_json(&state, &user);
    let mut response = scim_json(StatusCode::CREATED, &body);
    if let Ok(value) = HeaderValue::from_str(&location(&state, "Users", &user.user.id.to_string()))
    {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn replace_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let input = user_input(&parse_body(&body)?)?;
    let user = state.service.scim_replace_user(&id, &input).await?;
    Ok(scim_json(StatusCode::OK, &user_json(&state, &user)))
}

async fn patch_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let operations = patch::operations(&parse_body(&body)?)?;
    let current = state.service.scim_user(&id).await?;
    let before = user_json(&state, &current);
    let mut resource = before.clone();
    patch::apply(&mut resource, &operations)?;
    // One name is kept: a patched `name.formatted` is the display name unless `displayName`
    // was patched too.
    let formatted = |r: &Value| r.get("name").and_then(|n| n.get("formatted")).cloned();
    if formatted(&resource) != formatted(&before)
        && resource.get("displayName") == before.get("displayName")
    {
        let name = formatted(&resource);
        if let (Some(object), Some(name)) = (resource.as_object_mut(), name) {
            object.insert("displayName".to_owned(), name);
        }
    }
    let object = resource.as_object().cloned().unwrap_or_default();
    let user = state
        .service
        .scim_replace_user(&id, &user_input(&object)?)
        .await?;
    Ok(scim_json(StatusCode::OK, &user_json(&state, &user)))
}

async fn delete_user(State(state): State<AppState>, Path(id): Path<String>) -> ScimResult {
    state.service.scim_delete_user(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_groups(State(state): State<AppState>, Query(query): Query<ListQuery>) -> ScimResult {
    let groups = state.service.scim_groups(None).await?;
    let rendered = groups.iter().map(|g| group_json(&state, g)).collect();
    list_response(filtered(rendered, query.filter.as_deref())?, &query)
}

async fn get_group(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(shown): Query<Projection>,
) -> ScimResult {
    let group = state.service.scim_group(&id).await?;
    let body = project(
        group_json(&state, &group),
        shown.attributes.as_deref(),
        shown.excluded_attributes.as_deref(),
    );
    Ok(scim_json(StatusCode::OK, &body))
}

/// Searching several resource types at once (`POST /.search`) is not supported.
async fn search_all() -> Response {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "searching several resource types at once is not supported; GET /Users or /Groups",
    )
    .into_response()
}

async fn create_group(State(state): State<AppState>, body: Bytes) -> ScimResult {
    let input = group_input(&parse_body(&body)?)?;
    let group = state.service.scim_create_group(&input).await?;
    let mut response = scim_json(StatusCode::CREATED, &group_json(&state, &group));
    if let Ok(value) = HeaderValue::from_str(&location(&state, "Groups", &group.team.to_string())) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn replace_group(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let input = group_input(&parse_body(&body)?)?;
    let group = state.service.scim_replace_group(&id, &input).await?;
    Ok(scim_json(StatusCode::OK, &group_json(&state, &group)))
}

async fn patch_group(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let operations = patch::operations(&parse_body(&body)?)?;
    let current = state.service.scim_group(&id).await?;
    let mut resource = group_json(&state, &current);
    patch::apply(&mut resource, &operations)?;
    let object = resource.as_object().cloned().unwrap_or_default();
    let group = state
        .service
        .scim_replace_group(&id, &group_input(&object)?)
        .await?;
    Ok(scim_json(StatusCode::OK, &group_json(&state, &group)))
}

async fn delete_group(State(state): State<AppState>, Path(id): Path<String>) -> ScimResult {
    state.service.scim_delete_group(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
