//! Issue 21: the event outbox — each change records its event in its own transaction, and
//! anonymity survives the seam (an anonymous loop's event is written in the day's release,
//! unnamed and to the day). Both databases.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Api, TestApp, TestDb};
use crate::story;

/// Lee leads "ops", Mo is a member; returns (Lee's API, Mo's API).
async fn team(app: &TestApp) -> (Api, Api) {
    app.create_user("root@example.org", "Root", true).await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    app.create_user("mo@example.org", "Mo Member", false).await;
    let lee = app.token_for("lee@example.org").await;
    let mo = app.token_for("mo@example.org").await;
    let (status, _) = lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = lee
        .post(
            "/api/v1/teams/ops/members",
            json!({"email": "mo@example.org", "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    (lee, mo)
}

async fn log(api: &Api, title: &str, anonymous: bool) -> String {
    let (status, created) = api
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": title, "what_happened": "p99 doubled",
                   "what_was_expected": "p99 under 50 ms", "anonymous": anonymous}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().expect("id").to_owned()
}

/// The outbox's domain events as (kind, subject, actor or "NULL", occurred_at, payload as sent),
/// in key order; the audit entries it also holds (`audit.*`, `tests/it/audit.rs`) are left out.
/// The payload is stored without what the row's columns hold; it is sent with them put back.
async fn outbox(db: &TestDb) -> Vec<(String, String, String, i64, Value)> {
    stored_outbox(db)
        .await
        .into_iter()
        .map(|(kind, team, subject, actor, at, stored)| {
            let sent = failforward::domain::events::sent_payload(
                stored,
                &kind,
                &team,
                &subject,
                (actor != "NULL").then_some(actor.as_str()),
            );
            (kind, subject, actor, at, sent)
        })
        .collect()
}

/// The outbox's domain events as a database reader sees them: (kind, team, subject, actor or
/// "NULL", occurred_at, stored payload), in key order.
async fn stored_outbox(db: &TestDb) -> Vec<(String, String, String, String, i64, Value)> {
    db.dump(
        "SELECT kind, team_id, subject_id, actor_id, occurred_at, payload FROM event_outbox \
         WHERE kind NOT LIKE 'audit.%' ORDER BY id",
    )
    .await
    .into_iter()
    .map(|row| {
        let cell = |i: usize| row[i].1.clone();
        (
            cell(0),
            cell(1),
            cell(2),
            cell(3),
            cell(4).parse().expect("occurred_at"),
            serde_json::from_str(&cell(5)).expect("payload is JSON"),
        )
    })
    .collect()
}

async fn kinds_about(db: &TestDb, subject: &str) -> Vec<String> {
    let mut kinds: Vec<String> = outbox(db)
        .await
        .into_iter()
        .filter(|event| event.1 == subject)
        .map(|event| event.0)
        .collect();
    kinds.sort();
    kinds
}

story!(
    each_change_records_its_event_with_a_versioned_payload,
    |app: TestApp| async move {
        let (lee, mo) = team(&app).await;
        let loop_id = log(&mo, "Slow search", false).await;
        let stage = format!("/api/v1/teams/ops/loops/{loop_id}/stage");
        let (status, _) = lee.post(&stage, json!({"direction": "advance"})).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = mo
            .post(
                &format!("/api/v1/teams/ops/loops/{loop_id}/factors"),
                json!({"reason": "process_complexity", "description": "Rebuild and warm-up overlapped."}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, classified) = mo
            .send(
                reqwest::Method::PUT,
                &format!("/api/v1/teams/ops/loops/{loop_id}/classification"),
                Some(json!({"new_territory":"no","pursued_goal":"yes","hypothesis_beforehand":"no",
                            "as_small_as_possible":"yes","responded_quickly":"yes","learned_from":"yes"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{classified}");
        let (status, _) = mo
            .post(
                &format!("/api/v1/teams/ops/loops/{loop_id}/learnings"),
                json!({"statement": "Stagger rebuilds.", "visibility": "organisation"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, with_action) = lee
            .post(
                &format!("/api/v1/teams/ops/loops/{loop_id}/actions"),
                json!({"title": "Move the rebuild", "due_on": "2020-01-31"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let action_id = with_action["actions"][0]["id"]
            .as_str()
            .expect("action id")
            .to_owned();
        let (status, _) = mo
            .patch(
                &format!("/api/v1/teams/ops/actions/{action_id}"),
                json!({"status": "done"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        // Marking it done again changes nothing, and is no news.
        let (status, _) = mo
            .patch(
                &format!("/api/v1/teams/ops/actions/{action_id}"),
                json!({"status": "done"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);

        // An open action past its due day is raised once by the sweep, by no one.
        let (status, _) = lee
            .post(
                &format!("/api/v1/teams/ops/loops/{loop_id}/actions"),
                json!({"title": "Write the runbook", "due_on": "2020-01-31"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(app.service.raise_overdue_actions().await.expect("sweep"), 1);
        assert_eq!(app.service.raise_overdue_actions().await.expect("sweep"), 0);

        let (status, review) = lee
            .post(
                "/api/v1/teams/ops/reviews",
                json!({"loop_id": loop_id, "dots": 3}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{review}");
        let review_id = review["id"].as_str().expect("review id").to_owned();
        let (status, round) = lee
            .post(
                "/api/v1/teams/ops/pulse-rounds",
                json!({"closes_on": app.service.today().date().to_string()}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{round}");
        let round_id = round["id"].as_str().expect("round id").to_owned();
        let (status, _) = lee
            .post(
                &format!("/api/v1/teams/ops/pulse-rounds/{round_id}/close"),
                json!({}),
            )
            .await;
        assert!(status.is_success(), "{status}");

        let mut about_loop = kinds_about(&app.db, &loop_id).await;
        about_loop.dedup();
        assert_eq!(
            about_loop,
            ["loop.classified", "loop.logged", "loop.stage_changed"]
        );
        let events = outbox(&app.db).await;
        let count = |kind: &str| events.iter().filter(|event| event.0 == kind).count();
        assert_eq!(count("loop.stage_changed"), 1);
        assert_eq!(count("learning.shared"), 1);
        assert_eq!(count("action.created"), 2);
        assert_eq!(count("action.overdue"), 1);
        assert_eq!(count("action.done"), 1, "done once, one event");
        assert_eq!(
            kinds_about(&app.db, &action_id).await,
            ["action.created", "action.done"]
        );
        assert_eq!(kinds_about(&app.db, &review_id).await, ["review.started"]);
        assert_eq!(
            kinds_about(&app.db, &round_id).await,
            ["pulse.round_closed"]
        );
        for (kind, subject, actor, at, payload) in &events {
            if kind == "action.overdue" {
                assert_eq!(actor, "NULL", "the sweep is no one");
                assert_eq!(at % 86_400, 0);
                assert_eq!(payload["data"]["due_on"], "2020-01-31");
            } else {
                assert_ne!(actor, "NULL", "{kind} was made by a named person");
            }
            assert_eq!(payload["type"], kind.as_str());
            assert_eq!(payload["version"], 1);
            assert_eq!(payload["data"]["subject_id"], subject.as_str());
            if actor != "NULL" {
                assert_eq!(payload["data"]["actor_id"], actor.as_str());
            }
            assert_eq!(payload["data"]["team_id"].as_str().map(str::len), Some(36));
        }
        // Stored, a payload does not repeat what its row's columns hold.
        for (kind, .., stored) in stored_outbox(&app.db).await {
            assert_eq!(stored["version"], 1, "{kind}: {stored}");
            assert!(stored.get("type").is_none(), "{kind}: {stored}");
            for column in ["team_id", "subject_id", "actor_id"] {
                assert!(stored["data"].get(column).is_none(), "{kind}: {stored}");
            }
        }
        let logged = events
            .iter()
            .find(|event| event.0 == "loop.logged")
            .expect("logged");
        assert_eq!(logged.4["data"]["title"], "Slow search");
        let moved = events
            .iter()
            .find(|event| event.0 == "loop.stage_changed")
            .expect("moved");
        assert_eq!(moved.4["data"]["from"], "detect");
        assert_eq!(moved.4["data"]["to"], "analyse");
    }
);

/// Makes every insert into `table` fail, as a full disk or a bug would.
async fn refuse_inserts_into(app: &TestApp, table: &str) {
    if app.database_url.is_some() {
        app.db
            .execute(
                "CREATE OR REPLACE FUNCTION refuse_insert() RETURNS trigger AS $$ \
                 BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql",
            )
            .await;
        app.db
            .execute(&format!(
                "CREATE TRIGGER refuse BEFORE INSERT ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION refuse_insert()"
            ))
            .await;
    } else {
        app.db
            .execute(&format!(
                "CREATE TRIGGER refuse BEFORE INSERT ON {table} \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            ))
            .await;
    }
}

story!(
    a_change_and_its_event_are_written_together_or_not_at_all,
    |app: TestApp| async move {
        let (lee, mo) = team(&app).await;
        let loop_id = log(&mo, "Slow search", false).await;

        // The change fails after its event could have been written: no event remains.
        refuse_inserts_into(&app, "loop_stage_changes").await;
        let (status, _) = lee
            .post(
                &format!("/api/v1/teams/ops/loops/{loop_id}/stage"),
                json!({"direction": "advance"}),
            )
            .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(kinds_about(&app.db, &loop_id).await, ["loop.logged"]);
        let (_, detail) = lee.get(&format!("/api/v1/teams/ops/loops/{loop_id}")).await;
        assert_eq!(detail["stage"], "detect", "the move rolled back");

        // The event fails: its change is not written either (capture, and a later change).
        if app.database_url.is_some() {
            app.db
                .execute("DROP TRIGGER refuse ON loop_stage_changes")
                .await;
        } else {
            app.db.execute("DROP TRIGGER refuse").await;
        }
        refuse_inserts_into(&app, "event_outbox").await;
        let (status, _) = mo
            .post(
                "/api/v1/teams/ops/loops",
                json!({"title": "Lost invoices", "what_happened": "x", "what_was_expected": "y"}),
            )
            .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            app.db
                .count("SELECT COUNT(*) FROM loops WHERE title = 'Lost invoices'")
                .await,
            0
        );
        let (status, _) = mo
            .post(
                &format!("/api/v1/teams/ops/loops/{loop_id}/learnings"),
                json!({"statement": "Stagger rebuilds.", "visibility": "team"}),
            )
            .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(app.db.count("SELECT COUNT(*) FROM learnings").await, 0);
    }
);

/// The raw bytes of the SQLite database and its log (empty on PostgreSQL).
fn sqlite_bytes(app: &TestApp) -> Vec<u8> {
    let mut bytes = std::fs::read(app.data_dir().join("failforward.db")).unwrap_or_default();
    bytes.extend(std::fs::read(app.data_dir().join("failforward.db-wal")).unwrap_or_default());
    bytes
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

story!(
    an_anonymous_loops_event_is_written_in_the_release_unnamed_and_to_the_day,
    |app: TestApp| async move {
        let (lee, mo) = team(&app).await;
        let mut anonymous = Vec::new();
        for n in 0..4 {
            anonymous.push(log(&mo, &format!("Quiet failure {n}"), true).await);
            log(&mo, &format!("Named right after {n}"), false).await;
        }
        log(&lee, "Lee's own", false).await;

        // Nothing of them before the release: no row, and on SQLite not a byte of their ids in
        // the file or its log.
        let bytes = sqlite_bytes(&app);
        for id in &anonymous {
            assert!(kinds_about(&app.db, id).await.is_empty());
            assert!(
                !holds(&bytes, id),
                "an anonymous loop's id is on disk before its release"
            );
        }
        assert_eq!(
            outbox(&app.db).await.len(),
            5,
            "the named captures' events only"
        );

        app.release_anonymous_loops().await;
        let events = outbox(&app.db).await;
        for id in &anonymous {
            let event = events
                .iter()
                .find(|event| &event.1 == id)
                .expect("released");
            assert_eq!(event.0, "loop.logged");
            assert_eq!(event.2, "NULL", "no actor");
            assert_eq!(event.3 % 86_400, 0, "only the day");
            let payload = &event.4;
            assert_eq!(payload["data"]["actor_id"], Value::Null);
            assert_eq!(payload["data"]["anonymous"], true);
            assert!(payload["data"].get("title").is_none(), "{payload}");
            assert!(payload["timestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with("T00:00:00Z")));
            assert!(!payload.to_string().contains("Quiet failure"));
        }
        // What a database reader sees of them, the stored payload, holds no more: no actor, no
        // title, midnight only.
        for (.., subject, actor, _, stored) in stored_outbox(&app.db).await {
            if anonymous.contains(&subject) {
                assert_eq!(actor, "NULL");
                assert!(stored["data"].get("actor_id").is_none(), "{stored}");
                assert!(stored["data"].get("title").is_none(), "{stored}");
                assert!(stored["timestamp"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("T00:00:00Z")));
                assert!(!stored.to_string().contains("Quiet failure"));
            }
        }
        // The id a database reader sees (and a receiver, as `webhook-id`) begins with a time
        // too: for these, that same midnight and nothing finer.
        for row in app.db.dump("SELECT id, subject_id FROM event_outbox").await {
            if anonymous.contains(&row[1].1) {
                let id = uuid::Uuid::parse_str(&row[0].1).expect("a UUID");
                let (seconds, nanos) = id.get_timestamp().expect("a time-ordered id").to_unix();
                assert_eq!((seconds % 86_400, nanos), (0, 0), "{id}");
            }
        }

        if app.database_url.is_some() {
            // One transaction for the whole release, another than any named capture's; inside
            // it the rows sit in key order, not in the order they were captured.
            let rows = app
                .db
                .dump(
                    "SELECT id, subject_id, xmin::text AS tx, actor_id FROM event_outbox \
                     ORDER BY ctid",
                )
                .await;
            let released: Vec<&Vec<(String, String)>> = rows
                .iter()
                .filter(|row| anonymous.contains(&row[1].1))
                .collect();
            assert_eq!(released.len(), 4);
            let tx = &released[0][2].1;
            assert!(released.iter().all(|row| &row[2].1 == tx));
            assert!(rows
                .iter()
                .filter(|row| row[3].1 != "NULL")
                .all(|row| &row[2].1 != tx));
            let ids: Vec<&String> = released.iter().map(|row| &row[0].1).collect();
            let mut sorted = ids.clone();
            sorted.sort();
            assert_eq!(ids, sorted, "physical order is key order");
        }
    }
);

/// A round that ends with its last day, not by a lead's hand, gets `pulse.round_closed` once,
/// from no one, at the end of that day — however often the sweep runs and whatever a lead
/// does after it; a round a lead closes first gets only the lead's event.
async fn rounds_closed_by_date(backend: crate::helpers::Backend) {
    let clock = failforward::service::SetClock::starting_now();
    let Some(app) = TestApp::spawn_with_clock(backend, clock.clone()).await else {
        return;
    };
    let (lee, _) = team(&app).await;
    let today = app.service.today();
    let open = |closes_on: String| {
        let lee = lee.clone();
        async move {
            let (status, round) = lee
                .post(
                    "/api/v1/teams/ops/pulse-rounds",
                    json!({"closes_on": closes_on}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{round}");
            round["id"].as_str().expect("round id").to_owned()
        }
    };
    let by_date = open(today.date().to_string()).await;
    let closed_events = |round: String| {
        let db = &app.db;
        async move {
            db.dump(&format!(
                "SELECT actor_id, occurred_at FROM event_outbox \
                 WHERE kind = 'pulse.round_closed' AND subject_id = '{round}'"
            ))
            .await
        }
    };
    assert_eq!(
        app.service.close_due_pulse_rounds().await.expect("sweep"),
        0
    );
    assert!(
        closed_events(by_date.clone()).await.is_empty(),
        "still open"
    );

    clock.advance(time::Duration::days(1) + time::Duration::minutes(5));
    assert_eq!(
        app.service.close_due_pulse_rounds().await.expect("sweep"),
        1
    );
    assert_eq!(
        app.service.close_due_pulse_rounds().await.expect("sweep"),
        0
    );
    let events = closed_events(by_date.clone()).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0][0].1, "NULL", "the calendar closed it, no one");
    let end_of_day = (today + time::Duration::days(1)).unix_timestamp();
    assert_eq!(events[0][1].1, end_of_day.to_string());
    // A lead's close afterwards changes nothing and is no news.
    let (status, _) = lee
        .post(
            &format!("/api/v1/teams/ops/pulse-rounds/{by_date}/close"),
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{status}");
    assert_eq!(closed_events(by_date.clone()).await.len(), 1);

    // Closed by a lead before its day ended: the lead's event only, the sweep adds none.
    let by_hand = open(app.service.today().date().to_string()).await;
    let (status, _) = lee
        .post(
            &format!("/api/v1/teams/ops/pulse-rounds/{by_hand}/close"),
            json!({}),
        )
        .await;
    assert!(status.is_success(), "{status}");
    clock.advance(time::Duration::days(2));
    assert_eq!(
        app.service.close_due_pulse_rounds().await.expect("sweep"),
        0
    );
    let events = closed_events(by_hand).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_ne!(events[0][0].1, "NULL", "the lead's close names the lead");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_closed_by_its_date_is_announced_once_sqlite() {
    rounds_closed_by_date(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_closed_by_its_date_is_announced_once_postgres() {
    rounds_closed_by_date(crate::helpers::Backend::Postgres).await;
}

story!(
    every_payload_matches_its_type_in_the_api_document,
    |app: TestApp| async move {
        let (lee, mo) = team(&app).await;
        let named = log(&mo, "Slow search", false).await;
        log(&mo, "Quiet one", true).await;
        app.release_anonymous_loops().await;
        let (status, _) = lee
            .post(
                &format!("/api/v1/teams/ops/loops/{named}/stage"),
                json!({"direction": "advance"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, with_action) = lee
            .post(
                &format!("/api/v1/teams/ops/loops/{named}/actions"),
                json!({"title": "Move the rebuild", "due_on": "2020-01-31"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let action = with_action["actions"][0]["id"].as_str().expect("action");
        let (status, _) = mo
            .patch(
                &format!("/api/v1/teams/ops/actions/{action}"),
                json!({"status": "done"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        lee.post(
            &format!("/api/v1/teams/ops/loops/{named}/actions"),
            json!({"title": "No owner, no day"}),
        )
        .await;
        let experiment =
            crate::experiments::prepared(&mo, crate::experiments::design("Refunds", 0, 0)).await;
        let base = format!("/api/v1/teams/ops/experiments/{experiment}");
        let (status, _) = mo.post(&format!("{base}/start"), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let (status, concluded) = mo
            .post(
                &format!("{base}/conclusion"),
                json!({"outcome": "refuted", "believed": "b", "observed": "o",
                       "learned": "l", "therefore": "t", "decision": "pivot"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{concluded}");

        let (status, document) = lee.get("/api/v1/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        let schemas = &document["components"]["schemas"];
        let choices = schemas["EventPayload"]["oneOf"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(choices.len(), 13, "one schema per event type");
        assert_eq!(
            schemas["EventPayload"]["discriminator"]["propertyName"],
            "type"
        );
        let events = outbox(&app.db).await;
        let mut seen = std::collections::BTreeSet::new();
        for (kind, _, _, _, payload) in &events {
            let reference = schemas["EventPayload"]["discriminator"]["mapping"][kind.as_str()]
                .as_str()
                .unwrap_or_else(|| panic!("{kind} has a schema"));
            let name = reference.trim_start_matches("#/components/schemas/");
            let validator = jsonschema::validator_for(&schemas[name]).expect("a valid schema");
            let errors: Vec<String> = validator
                .iter_errors(payload)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{kind}: {errors:?} in {payload}");
            seen.insert(kind.clone());
        }
        for kind in [
            "loop.logged",
            "loop.stage_changed",
            "action.created",
            "action.done",
            "experiment.started",
            "experiment.concluded",
        ] {
            assert!(seen.contains(kind), "{kind} was checked: {seen:?}");
        }
        // The schemas are strict: a payload with a field its type does not have fails.
        let (kind, _, _, _, payload) = events
            .iter()
            .find(|event| event.0 == "action.done")
            .expect("done");
        let mut tampered = payload.clone();
        tampered["data"]["title"] = json!("leaked");
        let reference = schemas["EventPayload"]["discriminator"]["mapping"][kind.as_str()]
            .as_str()
            .expect("schema");
        let validator = jsonschema::validator_for(
            &schemas[reference.trim_start_matches("#/components/schemas/")],
        )
        .expect("a valid schema");
        assert!(!validator.is_valid(&tampered));
    }
);
