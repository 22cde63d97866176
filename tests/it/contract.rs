//! Issue 16, the API contract: the served OpenAPI document describes what the API answers, and
//! every refusal, the framework's included, is problem+json.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::experiments::design;
use crate::helpers::{Api, TestApp};
use crate::story;

async fn document(app: &TestApp) -> Value {
    reqwest::get(app.url("/api/v1/openapi.json"))
        .await
        .expect("openapi")
        .json()
        .await
        .expect("json")
}

/// Checks `value` against `schema` for the shape a client relies on: object keys (required ones
/// present, none undocumented), array items and JSON types, following `$ref`s.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        return conforms(doc, &doc["components"]["schemas"][name], value, at);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema[key].as_array() {
            let errors: Vec<String> = options
                .iter()
                .filter_map(|option| conforms(doc, option, value, at).err())
                .collect();
            return if errors.len() < options.len() {
                Ok(())
            } else {
                Err(errors.join(" | "))
            };
        }
    }
    if let Some(parts) = schema["allOf"].as_array() {
        // Flattened structs: every key must belong to one of the parts.
        let mut properties = serde_json::Map::new();
        for part in parts {
            let part = resolve(doc, part);
            if let Some(own) = part["properties"].as_object() {
                properties.extend(own.clone());
            }
        }
        let merged = json!({"type": "object", "properties": properties});
        return conforms(doc, &merged, value, at);
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    let fits = |t: &str| match t {
        "null" => value.is_null(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        _ => true,
    };
    if !types.iter().any(|t| fits(t)) {
        return Err(format!("{at}: {value} is not {types:?}"));
    }
    if let Some(object) = value.as_object() {
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap_or("");
            if !object.contains_key(name) {
                return Err(format!("{at}: the document requires `{name}`"));
            }
        }
        for (key, inner) in object {
            let Some(property) = properties.get(key) else {
                return Err(format!("{at}: `{key}` is not documented"));
            };
            conforms(doc, property, inner, &format!("{at}.{key}"))?;
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            conforms(doc, items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            &doc["components"]["schemas"][reference.trim_start_matches("#/components/schemas/")]
        }
        None => schema,
    }
}

/// The documented body of `status` for `method path`, checked against what the API sent.
fn assert_documented(doc: &Value, method: &str, path: &str, status: u16, body: &Value) {
    let schema = &doc["paths"][path][method]["responses"][status.to_string()]["content"]
        ["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {path} documents {status}");
    if let Err(error) = conforms(doc, schema, body, "body") {
        panic!("{method} {path} {status} does not match its document: {error}");
    }
}

/// Admin Ada with a team "ops" holding one loop; returns her client and the loop's id.
async fn team_with_loop(app: &TestApp) -> (Api, String) {
    app.create_user("ada@example.org", "Ada", true).await;
    let ada = app.token_for("ada@example.org").await;
    let (status, _) = ada.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, created) = ada
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Deploy broke checkout", "what_happened": "500s for ten minutes"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let loop_id = created["id"].as_str().expect("loop id").to_owned();
    (ada, loop_id)
}

story!(
    schemas_describe_what_the_endpoints_return,
    |app: TestApp| async move {
        let doc = document(&app).await;
        let (ada, loop_id) = team_with_loop(&app).await;
        let (status, _) = ada
            .send(
                Method::PUT,
                &format!("/api/v1/teams/ops/loops/{loop_id}/review"),
                Some(json!({"went_well": "the rollback"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let path = format!("/api/v1/teams/ops/loops/{loop_id}");
        let (status, shown) = ada.get(&path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(shown["review"]["went_well"].is_string(), "{shown}");
        assert_documented(
            &doc,
            "get",
            "/api/v1/teams/{slug}/loops/{loop_id}",
            200,
            &shown,
        );

        let (status, created) = ada
            .post(
                "/api/v1/teams/ops/experiments",
                design("Same-day refunds", 10_000, 15),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().expect("experiment id");
        let (status, shown) = ada
            .get(&format!("/api/v1/teams/ops/experiments/{id}"))
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(shown["affordable_loss"]["days_tenths"].is_i64(), "{shown}");
        assert_documented(
            &doc,
            "get",
            "/api/v1/teams/{slug}/experiments/{experiment_id}",
            200,
            &shown,
        );

        let (status, health) = ada.get("/api/v1/health").await;
        assert_eq!(status, StatusCode::OK);
        assert_documented(&doc, "get", "/api/v1/health", 200, &health);
        let loss = resolve(
            &doc,
            &doc["components"]["schemas"]["HealthOut"]["properties"]["committed_loss"]["items"],
        );
        assert!(
            loss["properties"]["person_days_tenths"].is_object(),
            "{loss}"
        );
    }
);

story!(
    every_operation_documents_its_refusals,
    |app: TestApp| async move {
        let doc = document(&app).await;
        let paths = doc["paths"].as_object().expect("paths");
        let mut operations = 0;
        for (path, item) in paths {
            for (method, operation) in item.as_object().expect("path item") {
                operations += 1;
                let responses = &operation["responses"];
                let public = operation["security"].as_array().is_some_and(|s| {
                    s.iter()
                        .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
                });
                let mut expected = Vec::new();
                if !public {
                    expected.push("401");
                }
                if operation["requestBody"].is_object() {
                    expected.extend(["400", "413", "415", "422"]);
                }
                if path.contains('{') {
                    expected.extend(["400", "404"]);
                }
                for status in expected {
                    let problem = &responses[status]["content"]["application/problem+json"];
                    assert!(
                        problem["schema"]["$ref"].as_str() == Some("#/components/schemas/Problem"),
                        "{method} {path} documents {status} as problem+json"
                    );
                }
                for (status, response) in responses.as_object().expect("responses") {
                    for (media, content) in response["content"].as_object().into_iter().flatten() {
                        if media == "text/event-stream" {
                            assert!(
                                content.get("schema").is_none(),
                                "{method} {path} {status}: a stream is not one string"
                            );
                        }
                    }
                }
            }
        }
        assert!(operations > 90, "{operations} operations");
        let events = &paths["/api/v1/teams/{slug}/reviews/{review_id}/events"]["get"]["responses"]
            ["200"]["content"];
        assert!(events["text/event-stream"].is_object(), "{events}");
    }
);

story!(
    limits_in_the_document_are_the_ones_enforced,
    |app: TestApp| async move {
        let doc = document(&app).await;
        let title = &doc["components"]["schemas"]["CreateLoop"]["properties"]["title"];
        let max = title["maxLength"].as_u64().expect("title maxLength") as usize;
        assert_eq!(title["minLength"], 1);
        let (ada, _) = team_with_loop(&app).await;
        let at_limit = "t".repeat(max);
        let (status, body) = ada
            .post(
                "/api/v1/teams/ops/loops",
                json!({"title": at_limit, "what_happened": "x"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let over = "t".repeat(max + 1);
        let (status, body) = ada
            .post(
                "/api/v1/teams/ops/loops",
                json!({"title": over, "what_happened": "x"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["errors"][0]["field"], "title");

        let name = &doc["components"]["schemas"]["CreateTeam"]["properties"]["name"];
        let max = name["maxLength"].as_u64().expect("team name maxLength") as usize;
        let (status, _) = ada
            .post("/api/v1/teams", json!({"name": "n".repeat(max + 1)}))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = ada
            .post("/api/v1/teams", json!({"name": "n".repeat(max)}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
);

story!(
    bodies_that_are_not_objects_are_refused,
    |app: TestApp| async move {
        let (ada, loop_id) = team_with_loop(&app).await;
        let review = format!("/api/v1/teams/ops/loops/{loop_id}/review");
        for (method, path, body) in [
            (Method::POST, "/api/v1/invitations", "[null]"),
            (Method::POST, "/api/v1/teams/ops/invitations", "[null]"),
            (Method::PUT, review.as_str(), "[]"),
            (Method::PUT, review.as_str(), "null"),
            (Method::POST, "/api/v1/teams", "\"Ops\""),
            (Method::POST, "/api/v1/teams", " 42"),
        ] {
            let (status, media, problem) = ada
                .send_bytes(method.clone(), path, "application/json", body.into())
                .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{method} {path} {body}"
            );
            assert_eq!(media, "application/problem+json");
            assert_eq!(problem["errors"][0]["field"], "body", "{problem}");
        }
        let (_, invitations) = ada.get("/api/v1/invitations").await;
        assert_eq!(
            invitations.as_array().map(Vec::len),
            Some(0),
            "{invitations}"
        );
        let (_, shown) = ada.get(&format!("/api/v1/teams/ops/loops/{loop_id}")).await;
        assert_eq!(shown["review"]["went_well"], "", "{shown}");
    }
);

story!(
    framework_refusals_are_problem_json,
    |app: TestApp| async move {
        let (ada, loop_id) = team_with_loop(&app).await;
        let review = format!("/api/v1/teams/ops/loops/{loop_id}/review");
        let binary = vec![0xff, 0xfe, 0x00, 0x81, 0x7b];
        let cases = [
            (
                Method::PUT,
                review.clone(),
                "application/json",
                binary.clone(),
            ),
            (
                Method::PUT,
                review.clone(),
                "application/json",
                b"{\"went_well\": \"\xff\"}".to_vec(),
            ),
            (
                Method::GET,
                "/api/v1/teams/ops/loops?per_page=many".to_owned(),
                "text/plain",
                Vec::new(),
            ),
            (
                Method::GET,
                "/api/v1/reporter/%FF%FE".to_owned(),
                "text/plain",
                Vec::new(),
            ),
        ];
        for (method, path, media, body) in cases {
            let (status, answered, problem) =
                ada.send_bytes(method.clone(), &path, media, body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}");
            assert_eq!(answered, "application/problem+json", "{method} {path}");
            assert_eq!(problem["status"], 400, "{problem}");
            assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }

        // A binary import is no framework refusal but the importer's (issue 18): 422, naming
        // the body and the line.
        let (status, answered, problem) = ada
            .send_bytes(
                Method::POST,
                "/api/v1/teams/ops/import",
                "text/markdown",
                binary.clone(),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(answered, "application/problem+json");
        assert_eq!(problem["errors"][0]["field"], "body", "{problem}");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("line 1")),
            "{problem}"
        );

        let response = ada
            .client
            .request(Method::PATCH, app.url("/api/v1/me"))
            .bearer_auth(&ada.token)
            .send()
            .await
            .expect("PATCH");
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(response.headers().contains_key("allow"));
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        let (status, media, _) = ada
            .send_bytes(
                Method::GET,
                "/api/v1/no-such-thing",
                "text/plain",
                Vec::new(),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(media, "application/problem+json");
    }
);

/// A property's schema in the served document.
fn property<'a>(doc: &'a Value, schema: &str, name: &str) -> &'a Value {
    &doc["components"]["schemas"][schema]["properties"][name]
}

/// A query parameter's schema in the served document (of the path's GET).
fn query<'a>(doc: &'a Value, path: &str, name: &str) -> &'a Value {
    doc["paths"][path]["get"]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name && p["in"] == "query"))
        .map(|p| &p["schema"])
        .unwrap_or_else(|| panic!("{path} has no query parameter {name}"))
}

story!(
    the_document_states_the_rules_the_api_enforces,
    |app: TestApp| async move {
        let doc = document(&app).await;
        let (ada, _) = team_with_loop(&app).await;

        // Number ranges: the bounds in the document are the last values taken.
        let stuck = property(&doc, "UpdateTeam", "stuck_after_days");
        assert_eq!(
            (stuck["minimum"].as_i64(), stuck["maximum"].as_i64()),
            (Some(1), Some(365))
        );
        for (days, expected) in [
            (1, StatusCode::OK),
            (365, StatusCode::OK),
            (0, StatusCode::UNPROCESSABLE_ENTITY),
            (366, StatusCode::UNPROCESSABLE_ENTITY),
        ] {
            let (status, body) = ada
                .patch("/api/v1/teams/ops", json!({"stuck_after_days": days}))
                .await;
            assert_eq!(status, expected, "stuck_after_days {days}: {body}");
        }
        let minimum = property(&doc, "PulseSettings", "min_responses");
        assert_eq!(
            (minimum["minimum"].as_i64(), minimum["maximum"].as_i64()),
            (Some(3), Some(50))
        );
        for (n, expected) in [(3, true), (50, true), (2, false), (51, false)] {
            let (status, _, body) = ada
                .send_bytes(
                    Method::PUT,
                    "/api/v1/teams/ops/pulse-settings",
                    "application/json",
                    json!({"min_responses": n}).to_string().into_bytes(),
                )
                .await;
            assert_eq!(status.is_success(), expected, "min_responses {n}: {body}");
        }
        for shape in doc["components"]["schemas"]["StartBody"]["oneOf"]
            .as_array()
            .expect("StartBody's shapes")
        {
            let dots = &shape["properties"]["dots"];
            assert_eq!(
                (dots["minimum"].as_i64(), dots["maximum"].as_i64()),
                (Some(1), Some(20))
            );
        }

        // A whole number written with a fraction is the integer JSON Schema says it is.
        let (status, _, body) = ada
            .send_bytes(
                Method::PUT,
                "/api/v1/teams/ops/pulse-settings",
                "application/json",
                br#"{"min_responses": 5.0}"#.to_vec(),
            )
            .await;
        assert!(status.is_success(), "5.0 is 5: {body}");
        let (status, _, body) = ada
            .send_bytes(
                Method::PUT,
                "/api/v1/teams/ops/pulse-settings",
                "application/json",
                br#"{"min_responses": 5.5}"#.to_vec(),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "5.5 is not: {body}"
        );

        // An invitation names its address: required, and not null, in the document too.
        let invitation = &doc["components"]["schemas"]["CreateOrganisationInvitation"];
        assert!(invitation["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("email"))));
        assert_eq!(
            property(&doc, "CreateOrganisationInvitation", "email")["type"],
            "string"
        );
        let (status, _) = ada.post("/api/v1/invitations", json!({})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        // Enumerated query values (empty means the default) as a pattern the server agrees with.
        let range = query(&doc, "/api/v1/health", "range")["pattern"]
            .as_str()
            .expect("range has a pattern");
        assert!(range.contains("30|90|365|all"), "{range}");
        for (value, expected) in [
            ("", StatusCode::OK),
            ("90", StatusCode::OK),
            ("all", StatusCode::OK),
            ("7", StatusCode::UNPROCESSABLE_ENTITY),
        ] {
            let (status, _) = ada.get(&format!("/api/v1/health?range={value}")).await;
            assert_eq!(status, expected, "range={value}");
        }

        // Exports name every media type `format` can choose.
        let content =
            &doc["paths"]["/api/v1/teams/{slug}/export"]["get"]["responses"]["200"]["content"];
        for media in ["application/json", "text/markdown", "text/csv"] {
            assert!(content.get(media).is_some(), "{media} documented");
        }
    }
);

/// Whether `body` fits one alternative of a shape, as far as the keywords the shapes use go:
/// required properties, no undocumented ones, JSON types, enums (through `$ref`), and the
/// blank-or-not patterns (`^\s*$` blank; `\S` or a required text's pattern, something written).
fn fits(doc: &Value, alternative: &Value, body: &Value) -> bool {
    let object = body.as_object().expect("an object body");
    let properties = alternative["properties"].as_object().expect("properties");
    let required = alternative["required"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !required
        .iter()
        .all(|r| object.contains_key(r.as_str().unwrap_or("")))
    {
        return false;
    }
    object.iter().all(|(key, value)| {
        let Some(property) = properties.get(key) else {
            return false;
        };
        let property = resolve(doc, property);
        let types: Vec<&str> = match &property["type"] {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let typed = types.iter().any(|t| match *t {
            "null" => value.is_null(),
            "string" => value.is_string(),
            "integer" => value.is_i64(),
            "boolean" => value.is_boolean(),
            _ => true,
        });
        let listed = property["enum"]
            .as_array()
            .is_none_or(|values| values.contains(value));
        let text = value.as_str().map(str::trim);
        let pattern = property["pattern"].as_str().unwrap_or("");
        let blank_ok = match text {
            Some(text) if pattern == r"^\s*$" => text.is_empty(),
            Some(text) if pattern == r"\S" || pattern.contains(r"[^\s") => !text.is_empty(),
            _ => true,
        };
        typed && listed && blank_ok
    })
}

/// For one shaped body: the document's alternatives that `body` fits (exactly one for `oneOf`,
/// at least one for `anyOf`) say it is valid, and the API agrees; a refusal names `field`.
async fn agree(
    doc: &Value,
    api: &Api,
    (method, path, schema): (Method, &str, &str),
    body: Value,
    field: Option<&str>,
) {
    let shape = &doc["components"]["schemas"][schema];
    let (alternatives, exactly_one) = match (shape["oneOf"].as_array(), shape["anyOf"].as_array()) {
        (Some(alternatives), _) => (alternatives, true),
        (_, Some(alternatives)) => (alternatives, false),
        _ => panic!("{schema} states its alternatives"),
    };
    let fitting = alternatives.iter().filter(|a| fits(doc, a, &body)).count();
    let valid = if exactly_one {
        fitting == 1
    } else {
        fitting >= 1
    };
    let (status, answer) = api.send(method.clone(), path, Some(body.clone())).await;
    assert_eq!(
        valid,
        field.is_none(),
        "{schema}: the document says {body} is {}",
        if valid { "valid" } else { "not valid" }
    );
    match field {
        None => assert!(status.is_success(), "{method} {path} {body}: {answer}"),
        Some(field) => {
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
            let named: Vec<&str> = answer["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["field"].as_str())
                .collect();
            assert!(named.contains(&field), "{body} names {field}: {answer}");
        }
    }
}

story!(
    bodies_whose_fields_depend_on_each_other_are_documented_as_their_alternatives,
    |app: TestApp| async move {
        let doc = document(&app).await;
        let (ada, loop_id) = team_with_loop(&app).await;
        let looped = format!("/api/v1/teams/ops/loops/{loop_id}");

        // A review: a free retrospective asks its question, a loop's review may leave it out.
        let start = (Method::POST, "/api/v1/teams/ops/reviews", "StartBody");
        for (body, field) in [
            (json!({"prompt": "What surprised us?"}), None),
            (json!({"loop_id": loop_id}), None),
            (json!({"loop_id": loop_id, "prompt": "  ", "dots": 5}), None),
            (json!({"loop_id": loop_id, "prompt": null}), None),
            (json!({"loop_id": " ", "prompt": "What held?"}), None),
            (json!({"loop_id": null, "prompt": "What held?"}), None),
            (json!({}), Some("prompt")),
            (json!({"loop_id": "", "prompt": " "}), Some("prompt")),
            (json!({"loop_id": null, "dots": 3}), Some("prompt")),
        ] {
            agree(&doc, &ada, start.clone(), body, field).await;
        }

        // An action: dropping it says why.
        let (status, _) = ada
            .post(
                &format!("{looped}/actions"),
                json!({"title": "Add a canary stage"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, actions) = ada.get("/api/v1/teams/ops/actions").await;
        let action_id = actions[0]["id"].as_str().expect("action id").to_owned();
        let action = format!("/api/v1/teams/ops/actions/{action_id}");
        let update = (Method::PATCH, action.as_str(), "UpdateAction");
        for (body, field) in [
            (json!({"status": "done"}), None),
            (json!({"status": "open", "dropped_reason": "  "}), None),
            (
                json!({"status": "dropped", "dropped_reason": "The canary came with the new platform"}),
                None,
            ),
            (json!({"status": "dropped"}), Some("dropped_reason")),
            (
                json!({"status": "dropped", "dropped_reason": " "}),
                Some("dropped_reason"),
            ),
        ] {
            agree(&doc, &ada, update.clone(), body, field).await;
        }

        // A type chosen over the suggestion gives a reason; withdrawing it needs none.
        let override_path = format!("{looped}/classification/override");
        let choose = (Method::PUT, override_path.as_str(), "SaveOverride");
        for (body, field) in [
            (
                json!({"type": "complex", "reason": "Several factors met"}),
                None,
            ),
            (json!({}), None),
            (json!({"type": null, "reason": ""}), None),
            (json!({"type": "basic"}), Some("reason")),
            (json!({"type": "basic", "reason": "  "}), Some("reason")),
        ] {
            agree(&doc, &ada, choose.clone(), body, field).await;
        }

        // An account has at least one written part, whichever.
        let accounts = format!("{looped}/accounts");
        let account = (Method::POST, accounts.as_str(), "CreateAccount");
        for (body, field) in [
            (json!({"observations": "The graph went flat"}), None),
            (
                json!({"actions": " ", "timeline_understanding": "It began at noon"}),
                None,
            ),
            (
                json!({"actions": "I rolled back", "assumptions": "It was the cache"}),
                None,
            ),
            (json!({}), Some("actions")),
            (
                json!({"actions": "  ", "observations": "", "anonymous": true}),
                Some("actions"),
            ),
        ] {
            agree(&doc, &ada, account.clone(), body, field).await;
        }
    }
);

story!(
    a_loops_tags_are_documented_one_tag_an_item_and_the_web_form_still_splits_its_list,
    |app: TestApp| async move {
        let doc = document(&app).await;
        let (ada, _) = team_with_loop(&app).await;
        let tags = property(&doc, "CreateLoop", "tags");
        assert_eq!(tags["maxItems"].as_u64(), Some(12), "{tags}");
        let pattern = tags["items"]["pattern"]
            .as_str()
            .expect("an item's pattern");
        assert_eq!(
            pattern, r"^[^,]*[^\W_][^,]*$",
            "a letter or digit, and no comma"
        );
        assert_eq!(tags["items"]["maxLength"].as_u64(), Some(32), "{tags}");
        // What the pattern and maxItems say, the API does: valid items are taken, invalid ones
        // refused naming `tags`.
        let twelve: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
        let thirteen: Vec<String> = (0..13).map(|_| "same".to_owned()).collect();
        for (items, valid) in [
            (json!(["payments"]), true),
            (json!(["Database Outage", "k8s", "__a__"]), true),
            (json!(twelve), true),
            (json!(["db, deploy"]), false),
            (json!([","]), false),
            (json!([" "]), false),
            (json!(["\u{e000}"]), false),
            (json!(["!!!"]), false),
            (json!(thirteen), false),
            (json!(["a-".repeat(16)]), true),
            (json!([format!("{} ", "a-".repeat(16))]), false),
        ] {
            let (status, answer) = ada
                .post(
                    "/api/v1/teams/ops/loops",
                    json!({"title": "Tagged", "what_happened": "x", "tags": items}),
                )
                .await;
            if valid {
                assert_eq!(status, StatusCode::CREATED, "{items}: {answer}");
            } else {
                assert_eq!(
                    status,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "{items}: {answer}"
                );
                assert_eq!(answer["errors"][0]["field"], "tags", "{answer}");
            }
        }

        // The capture form keeps its one comma-separated field.
        let browser = app.sign_in("ada@example.org").await;
        let token = browser.csrf("/teams/ops/loops/new").await;
        let response = browser
            .post_form(
                "/teams/ops/loops",
                &[
                    ("csrf_token", token.as_str()),
                    ("title", "Web tagged"),
                    ("what_happened", "y"),
                    ("noticed_at", ""),
                    ("impact_scale", "minor"),
                    ("tags", "Billing, deploy,, billing"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let (_, listed) = ada.get("/api/v1/teams/ops/loops?tag=deploy").await;
        let web_tagged = listed["loops"]
            .as_array()
            .expect("loops")
            .iter()
            .find(|l| l["title"] == "Web tagged")
            .cloned()
            .expect("the web loop is listed under its tag");
        assert_eq!(web_tagged["tags"], json!(["billing", "deploy"]));
    }
);
