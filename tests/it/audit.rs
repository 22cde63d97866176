//! The audit log: every listed security and administrative change is recorded once with its
//! actor; nothing done anonymously is; only organisation admins read it; old entries go after
//! the retention.

use reqwest::StatusCode;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime, Time};

use crate::helpers::{location, Api, Backend, TestApp, PASSWORD};
use crate::story;
use failforward::service::SetClock;

const ADA: &str = "ada@example.org";
const LEE: &str = "lee@example.org";
const MO: &str = "mo@example.org";

/// Every entry, newest first, as an admin reads them through the API.
async fn entries(admin: &Api) -> Vec<Value> {
    let (status, body) = admin.get("/api/v1/audit?limit=10000").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("a list").clone()
}

/// How many entries of `action` name `actor` (an email; `None`: no actor).
fn count(entries: &[Value], action: &str, actor: Option<&str>) -> usize {
    entries
        .iter()
        .filter(|e| e["action"] == action && e["actor_email"].as_str() == actor)
        .count()
}

async fn user_id(admin: &Api, email: &str) -> String {
    let (_, users) = admin.get("/api/v1/users").await;
    users
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["email"] == email)
        .and_then(|u| u["id"].as_str())
        .expect("user id")
        .to_owned()
}

story!(
    each_listed_event_is_recorded_once_with_its_actor,
    |app: TestApp| async move {
        let ada_web = app.set_up().await;
        let ada = app.token_for(ADA).await;
        app.create_user(LEE, "Lee Lead", false).await;
        app.create_user(MO, "Mo Member", false).await;
        let lee = app.token_for(LEE).await;
        let (status, _) = lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
        assert_eq!(status, StatusCode::CREATED);

        // Sign-ins: one success, a wrong password for Lee, and an unknown account.
        let lee_web = app.sign_in(LEE).await;
        let wrong = app
            .browser()
            .submit(
                "/login",
                "/login",
                &[
                    ("email", LEE),
                    ("password", "not the password at all"),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        let unknown = app
            .browser()
            .submit(
                "/login",
                "/login",
                &[
                    ("email", "nobody@example.org"),
                    ("password", PASSWORD),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);

        // Tokens, created and revoked on the account page.
        let created = lee_web
            .submit("/account", "/account/tokens", &[("name", "laptop")])
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let (_, tokens) = lee.get("/api/v1/tokens").await;
        let laptop = tokens
            .as_array()
            .expect("tokens")
            .iter()
            .find(|t| t["name"] == "laptop")
            .and_then(|t| t["id"].as_str())
            .expect("laptop token")
            .to_owned();
        let (status, _) = lee.delete(&format!("/api/v1/tokens/{laptop}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        // Membership and settings.
        let (status, _) = lee
            .post(
                "/api/v1/teams/ops/members",
                json!({"email": MO, "role": "member"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let mo_id = user_id(&ada, MO).await;
        let (status, _) = lee
            .patch(
                &format!("/api/v1/teams/ops/members/{mo_id}"),
                json!({"role": "lead"}),
            )
            .await;
        assert!(status.is_success(), "{status}");
        let (status, _) = lee
            .delete(&format!("/api/v1/teams/ops/members/{mo_id}"))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = lee
            .patch("/api/v1/teams/ops", json!({"stuck_after_days": 21}))
            .await;
        assert!(status.is_success(), "{body}");

        // Admin rights, granted and withdrawn on the People page.
        let lee_id = user_id(&ada, LEE).await;
        for value in ["true", "false"] {
            let response = ada_web
                .submit(
                    "/people",
                    &format!("/people/{lee_id}/admin"),
                    &[("is_admin", value)],
                )
                .await;
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
        }

        // Invitations: one withdrawn, one accepted by signing up.
        let (status, first) = lee
            .post(
                "/api/v1/teams/ops/invitations",
                json!({"role": "member", "email": "ivy@example.org"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        let first_id = first["id"].as_str().expect("id");
        let (status, _) = lee
            .delete(&format!("/api/v1/teams/ops/invitations/{first_id}"))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, second) = lee
            .post(
                "/api/v1/teams/ops/invitations",
                json!({"role": "member", "email": "nia@example.org"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{second}");
        let link = second["link"].as_str().expect("link");
        let path = &link[link.find("/invite/").expect("invite path")..];
        let joined = app
            .browser()
            .submit(
                path,
                path,
                &[
                    ("name", "Nia New"),
                    ("email", "nia@example.org"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(joined.status(), StatusCode::SEE_OTHER);

        // An organisation webhook: created, rotated, switched off and on, deleted.
        let (status, hook) = ada
            .post(
                "/api/v1/webhooks",
                json!({"url": "https://hooks.example.com/in", "event_types": ["loop.logged"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{hook}");
        let hook = hook["id"].as_str().expect("id").to_owned();
        let (status, _) = ada
            .post(&format!("/api/v1/webhooks/{hook}/rotate"), json!({}))
            .await;
        assert!(status.is_success(), "{status}");
        let off = ada_web
            .submit(
                "/people/webhooks",
                &format!("/people/webhooks/{hook}/disable"),
                &[],
            )
            .await;
        assert!(off.status().is_redirection(), "{}", off.status());
        let (status, _) = ada
            .post(&format!("/api/v1/webhooks/{hook}/enable"), json!({}))
            .await;
        assert!(status.is_success(), "{status}");
        let (status, _) = ada.delete(&format!("/api/v1/webhooks/{hook}")).await;
        assert_eq!(status, StatusCode::NO_CONTENT);

        // Export, import, a backup, a password change and signing out.
        let (status, _) = lee.get("/api/v1/teams/ops/export").await;
        assert_eq!(status, StatusCode::OK);
        let (status, body, _) = lee
            .post_raw(
                "/api/v1/teams/ops/import",
                "text/markdown",
                "# Queue outage\n\nThe queue filled up overnight.\n",
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        app.service
            .record_backup("/backups/ff.db")
            .await
            .expect("backup recorded");
        let changed = lee_web
            .submit(
                "/account",
                "/account/password",
                &[
                    ("current_password", PASSWORD),
                    ("new_password", "a much longer and different passphrase"),
                ],
            )
            .await;
        assert_eq!(changed.status(), StatusCode::SEE_OTHER);
        let out = lee_web.submit("/", "/logout", &[]).await;
        assert_eq!(location(&out), "/login");

        // The audit export, recorded itself.
        let response = ada
            .client
            .get(format!("{}/api/v1/audit/export?format=csv", ada.base))
            .bearer_auth(&ada.token)
            .send()
            .await
            .expect("export");
        assert_eq!(response.status(), StatusCode::OK);
        let csv = response.text().await.expect("csv");
        assert!(
            csv.starts_with("id,occurred_at,actor_id,actor_email,action,"),
            "{csv}"
        );
        assert!(csv.contains("member.role_changed"), "{csv}");

        let all = entries(&ada).await;
        let expected: &[(&str, Option<&str>)] = &[
            ("sign_in.succeeded", Some(LEE)),
            ("sign_in.failed", Some(LEE)),
            ("sign_in.failed", None),
            ("token.created", Some(LEE)),
            ("token.revoked", Some(LEE)),
            ("member.added", Some(LEE)),
            ("member.role_changed", Some(LEE)),
            ("member.removed", Some(LEE)),
            ("team.settings_changed", Some(LEE)),
            ("admin.granted", Some(ADA)),
            ("admin.withdrawn", Some(ADA)),
            ("invitation.revoked", Some(LEE)),
            ("invitation.accepted", Some("nia@example.org")),
            ("sign_in.succeeded", Some("nia@example.org")),
            ("webhook.created", Some(ADA)),
            ("webhook.rotated", Some(ADA)),
            ("webhook.disabled", Some(ADA)),
            ("webhook.enabled", Some(ADA)),
            ("webhook.deleted", Some(ADA)),
            ("data.exported", Some(LEE)),
            ("data.imported", Some(LEE)),
            ("backup.made", None),
            ("password.changed", Some(LEE)),
            ("session.ended", Some(LEE)),
            ("audit.exported", Some(ADA)),
        ];
        for (action, actor) in expected {
            assert_eq!(
                count(&all, action, *actor),
                1,
                "{action} by {actor:?} once, in {all:#?}"
            );
        }
        assert_eq!(
            count(&all, "invitation.created", Some(LEE)),
            2,
            "one per invitation"
        );
        // The set-up's sign-in is Ada's; her tokens and Lee's test token came from the
        // operator's path (no actor).
        assert_eq!(count(&all, "sign_in.succeeded", Some(ADA)), 1);
        assert_eq!(count(&all, "token.created", None), 2);
        // The organisation came from Ada's set-up page; Lee and Mo from the operator's command.
        assert_eq!(count(&all, "organisation.created", Some(ADA)), 1);
        let made: Vec<&str> = all
            .iter()
            .filter(|e| e["action"] == "user.created" && e["actor_email"].is_null())
            .filter_map(|e| e["target"].as_str())
            .collect();
        assert_eq!(made.len(), 2, "{made:?}");
        assert!(made.contains(&format!("user {LEE}").as_str()), "{made:?}");
        assert!(made.contains(&format!("user {MO}").as_str()), "{made:?}");
        let failed = all
            .iter()
            .find(|e| e["action"] == "sign_in.failed" && e["actor_email"] == LEE)
            .expect("failed sign-in");
        assert_eq!(
            failed["address_hash"].as_str().map(str::len),
            Some(64),
            "the address only as the throttle's hash: {failed}"
        );
        assert!(!failed.to_string().contains("127.0.0.1"), "{failed}");
        let unknown = all
            .iter()
            .find(|e| e["action"] == "sign_in.failed" && e["actor_email"].is_null())
            .expect("unknown account");
        assert!(
            !unknown.to_string().contains("nobody@"),
            "the typed email is not kept: {unknown}"
        );
        let role = all
            .iter()
            .find(|e| e["action"] == "member.role_changed")
            .expect("role change");
        assert_eq!(role["target"], format!("user {MO} in team ops"));
        assert_eq!(role["detail"], "member → lead");

        // Filters: by action, by actor, by day; a wrong one is named.
        let (status, only) = ada.get("/api/v1/audit?action=member.added").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(only.as_array().map(Vec::len), Some(1), "{only}");
        let (_, by_ada) = ada
            .get(&format!("/api/v1/audit?actor={ADA}&limit=10000"))
            .await;
        let by_ada = by_ada.as_array().expect("list");
        assert!(!by_ada.is_empty());
        assert!(by_ada.iter().all(|e| e["actor_email"] == ADA), "{by_ada:?}");
        let (_, past) = ada.get("/api/v1/audit?until=2000-01-01").await;
        assert_eq!(past.as_array().map(Vec::len), Some(0), "{past}");
        let today = OffsetDateTime::now_utc().date().to_string();
        let (_, now) = ada
            .get(&format!("/api/v1/audit?from={today}&limit=10000"))
            .await;
        assert_eq!(now.as_array().map(Vec::len), Some(all.len()), "{now}");
        let (status, problem) = ada
            .get("/api/v1/audit?action=loop.logged&from=yesterday")
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(
            fields.contains(&"action") && fields.contains(&"from"),
            "{problem}"
        );

        // The page shows the same, filtered.
        let (status, html) = ada_web
            .get_text("/people/audit?action=webhook.rotated")
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("webhook.rotated") && html.contains("Ada Admin"),
            "{html}"
        );
        assert!(
            !html.contains("<code>member.added</code>"),
            "filtered: {html}"
        );
    }
);

story!(only_admins_read_the_audit_log, |app: TestApp| async move {
    app.create_user(ADA, "Ada Admin", true).await;
    app.create_user(LEE, "Lee Lead", false).await;
    let ada = app.token_for(ADA).await;
    let lee = app.token_for(LEE).await;
    for path in ["/api/v1/audit", "/api/v1/audit/export?format=json"] {
        let (status, body) = lee.get(path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        let (status, _) = app.api("ffp_not_a_token").get(path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let (status, _) = ada.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let lee_web = app.sign_in(LEE).await;
    for path in ["/people/audit", "/people/audit/export?format=csv"] {
        let (status, body) = lee_web.get_text(path).await;
        assert!(
            status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
            "{path}: {status}"
        );
        assert!(!body.contains("sign_in.succeeded"), "{path}: {body}");
    }
    // Lee's refused reads are not exports: only Ada's one export is recorded.
    let all = entries(&ada).await;
    assert_eq!(count(&all, "audit.exported", Some(ADA)), 1, "{all:#?}");
    assert_eq!(count(&all, "audit.exported", Some(LEE)), 0);
});

/// The anonymous actions of one person, with every entry before and after compared: none of
/// them adds an entry, and no entry near them names that person.
async fn nothing_anonymous_is_recorded(backend: Backend) {
    let morning = OffsetDateTime::now_utc().replace_time(Time::from_hms(6, 0, 0).expect("time"));
    let clock = SetClock::at(morning);
    let Some(app) = TestApp::spawn_with_clock(backend, clock.clone()).await else {
        return;
    };
    app.create_user(ADA, "Ada Admin", true).await;
    app.create_user(LEE, "Lee Lead", false).await;
    app.create_user("wren@example.org", "Wren Writer", false)
        .await;
    let ada = app.token_for(ADA).await;
    let lee = app.token_for(LEE).await;
    let wren = app.token_for("wren@example.org").await;
    lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    let (status, _) = lee
        .post(
            "/api/v1/teams/ops/members",
            json!({"email": "wren@example.org", "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Wren has a browser session too (its sign-in is recorded, hours before).
    let _wren_web = app.sign_in("wren@example.org").await;
    let today = morning.date().to_string();
    let (status, round) = lee
        .post(
            "/api/v1/teams/ops/pulse-rounds",
            json!({"closes_on": today}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let round = round["id"].as_str().expect("round").to_owned();
    let (status, experiment) = lee
        .post(
            "/api/v1/teams/ops/experiments",
            json!({
                "title": "Same-day refunds",
                "believe": "customers will pay for same-day refunds",
                "verify_by": "offering it to 5% of EU customers for two weeks",
                "measure": "uptake and support tickets",
                "right_if": "at least 3% opt in",
                "new_territory": "yes", "real_goal": "yes", "informed": "yes",
                "as_small_as_possible": "yes", "currency": "EUR", "money_minor": 100,
                "days_tenths": 1, "reversibility": "full", "reputation_scope": "customers",
                "kill_criteria": "more than 20 complaints", "starts_on": today, "decide_by": today,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{experiment}");
    let experiment = experiment["id"].as_str().expect("experiment").to_owned();
    let (status, named) = lee
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Named loop to review", "what_happened": "A deploy went out twice."}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{named}");
    let named = named["id"].as_str().expect("loop").to_owned();
    let (status, review) = lee
        .post(
            "/api/v1/teams/ops/reviews",
            json!({"loop_id": named, "dots": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{review}");
    let review = format!(
        "/api/v1/teams/ops/reviews/{}",
        review["id"].as_str().expect("id")
    );
    for api in [&lee, &wren] {
        let (status, body) = api.post(&format!("{review}/participants"), json!({})).await;
        assert!(status.is_success(), "{body}");
    }
    let (status, body) = lee
        .post(
            &format!("{review}/advance"),
            json!({"from": "open_actions"}),
        )
        .await;
    assert!(status.is_success(), "{body}");

    // Two hours later, Wren acts anonymously four ways.
    clock.advance(Duration::hours(2));
    let before = entries(&ada).await;
    let started = clock_now(&clock);
    let wren_id = user_id(&ada, "wren@example.org").await;
    let steps: Vec<(&str, reqwest::StatusCode, Value)> = vec![
        {
            let (s, b) = wren
                .post(
                    "/api/v1/teams/ops/loops",
                    json!({"title": "Anonymous loop", "what_happened": "Something I would rather not sign.", "anonymous": true}),
                )
                .await;
            ("anonymous loop", s, b)
        },
        {
            let (s, b) = wren
                .post(
                    &format!("{review}/cards"),
                    json!({"kind": "idea", "text": "An unnamed card", "show_name": false}),
                )
                .await;
            ("unnamed card", s, b)
        },
        {
            let (s, b) = wren
                .post(
                    &format!("/api/v1/teams/ops/experiments/{experiment}/premortem/reasons"),
                    json!({"reason": "A sealed reason"}),
                )
                .await;
            ("sealed reason", s, b)
        },
        {
            let (s, b) = wren
                .post(
                    &format!("/api/v1/teams/ops/pulse-rounds/{round}/answers"),
                    json!({"answers": [7, 1, 7, 1, 7, 1, 1]}),
                )
                .await;
            ("pulse answer", s, b)
        },
    ];
    for (what, status, body) in &steps {
        assert!(status.is_success(), "{what}: {status} {body}");
    }
    // The day's release writes the anonymous loop.
    app.release_anonymous_loops().await;
    let after = entries(&ada).await;
    assert_eq!(
        after.len(),
        before.len(),
        "no entry for anonymous actions: {:#?}",
        &after[..after.len() - before.len()]
    );
    let near: Vec<&Value> = after
        .iter()
        .filter(|e| e["actor_id"] == wren_id.as_str())
        .filter(|e| {
            let at = e["occurred_at"].as_str().unwrap_or("");
            OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                .map(|at| (at - started).abs() < Duration::hours(1))
                .unwrap_or(true)
        })
        .collect();
    assert!(
        near.is_empty(),
        "entries naming Wren near the actions: {near:?}"
    );
    // Direct look at the table too: no row names Wren after her sign-in.
    let rows = app
        .db
        .count(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE actor_id = '{wren_id}' AND occurred_at >= {}",
            started.unix_timestamp() - 3600
        ))
        .await;
    assert_eq!(rows, 0);
}

fn clock_now(clock: &SetClock) -> OffsetDateTime {
    use failforward::service::Clock;
    clock.now()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_anonymous_is_recorded_sqlite() {
    nothing_anonymous_is_recorded(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_anonymous_is_recorded_postgres() {
    nothing_anonymous_is_recorded(Backend::Postgres).await;
}

/// Entries older than `audit_retention_days` are deleted by the hourly sweep, on the service's
/// clock; younger ones stay, and so do the outbox's other events of the same age (they keep to
/// the webhooks' retention).
async fn retention(backend: Backend) {
    let clock = SetClock::starting_now();
    let Some(app) = TestApp::spawn_with_clock_and(backend, clock.clone(), |settings| {
        settings.policy.audit_retention = Duration::days(30);
        settings.policy.webhook_retention = Duration::days(400);
    })
    .await
    else {
        return;
    };
    app.create_user(ADA, "Ada Admin", true).await;
    let ada = app.token_for(ADA).await;
    let (status, _) = ada.post("/api/v1/tokens", json!({"name": "old"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = ada.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = ada
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Old loop", "what_happened": "x", "what_was_expected": "y"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    clock.advance(Duration::days(31));
    let (status, _) = ada.post("/api/v1/tokens", json!({"name": "young"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let all = entries(&ada).await;
        let names: Vec<&str> = all
            .iter()
            .filter(|e| e["action"] == "token.created")
            .filter_map(|e| e["detail"].as_str())
            .collect();
        if !names.contains(&"old") {
            assert_eq!(names, vec!["young"], "{all:#?}");
            assert_eq!(
                app.db
                    .count("SELECT COUNT(*) FROM event_outbox WHERE kind = 'loop.logged'")
                    .await,
                1,
                "the audit retention deletes audit entries only"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old entry was not deleted: {all:#?}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_entries_are_deleted_after_the_retention_sqlite() {
    retention(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_entries_are_deleted_after_the_retention_postgres() {
    retention(Backend::Postgres).await;
}

/// The audit log is the outbox's `audit.*` events: every entry the API lists is one of them,
/// with no team, its target as the subject and its detail in the payload; they are written
/// dispatched, and a webhook subscribed to every kind it may name receives domain events only.
async fn read_from_the_outbox(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |settings| {
        settings.policy.webhooks_allow_private = true;
    })
    .await
    else {
        return;
    };
    app.create_user(ADA, "Ada Admin", true).await;
    app.create_user(MO, "Mo Member", false).await;
    let ada = app.token_for(ADA).await;
    let (url, mut received) = crate::webhooks::receiver(0).await;
    let (status, refused) = ada
        .post(
            "/api/v1/webhooks",
            json!({"url": url, "event_types": ["audit.member.added"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.to_string().contains("event_types"), "{refused}");
    let every_kind: Vec<&str> = failforward::domain::events::EventKind::ALL
        .iter()
        .map(|kind| kind.as_str())
        .collect();
    let (status, created) = ada
        .post(
            "/api/v1/webhooks",
            json!({"url": url, "event_types": every_kind}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, _) = ada.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = ada
        .post(
            "/api/v1/teams/ops/members",
            json!({"email": MO, "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, loop_) = ada
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Queue stalled", "what_happened": "x", "what_was_expected": "y"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{loop_}");
    let got = crate::webhooks::next(&mut received).await;
    assert!(got.body.contains("\"loop.logged\""), "{}", got.body);

    let listed = entries(&ada).await;
    assert!(
        count(&listed, "member.added", Some(ADA)) == 1,
        "{listed:#?}"
    );
    assert!(
        count(&listed, "webhook.created", Some(ADA)) == 1,
        "{listed:#?}"
    );
    for entry in &listed {
        let id = entry["id"].as_str().expect("id");
        let rows = app
            .db
            .dump(&format!(
                "SELECT kind, team_id, subject_id, dispatched, payload FROM event_outbox \
                 WHERE id = '{id}'"
            ))
            .await;
        assert_eq!(rows.len(), 1, "entry {entry} is one outbox event");
        let cell = |i: usize| rows[0][i].1.as_str();
        assert_eq!(
            cell(0),
            format!("audit.{}", entry["action"].as_str().expect("action"))
        );
        assert_eq!(cell(1), "NULL", "an audit event belongs to no team");
        assert_eq!(cell(2), entry["target"].as_str().expect("target"));
        assert!(["1", "true", "t"].contains(&cell(3)), "written dispatched");
        let payload: Value = serde_json::from_str(cell(4)).expect("payload");
        assert_eq!(payload["type"], cell(0));
        assert_eq!(payload["data"]["detail"], entry["detail"]);
    }
    assert_eq!(
        app.db
            .count("SELECT COUNT(*) FROM event_outbox WHERE kind LIKE 'audit.%'")
            .await,
        listed.len() as i64
    );
    assert_eq!(
        app.db
            .count(
                "SELECT COUNT(*) FROM webhook_deliveries d JOIN event_outbox o \
                 ON o.id = d.event_id WHERE o.kind LIKE 'audit.%'"
            )
            .await,
        0,
        "no webhook is offered an audit entry"
    );
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(500), received.recv())
            .await
            .is_err(),
        "the receiver got nothing beyond the loop"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_is_read_from_the_outbox_and_never_sent_sqlite() {
    read_from_the_outbox(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_is_read_from_the_outbox_and_never_sent_postgres() {
    read_from_the_outbox(Backend::Postgres).await;
}

/// Runs `failforward audit …` against the app with `token`, without the environment's settings.
fn audit_cli(app: &TestApp, token: &str, args: &[&str]) -> (i32, String, String) {
    app.client_cli(token, &[&["audit"], args].concat())
}

story!(
    the_cli_lists_and_exports_the_log_for_admins_alone,
    |app: TestApp| async move {
        app.create_user(ADA, "Ada Admin", true).await;
        app.create_user(MO, "Mo Member", false).await;
        let ada = app.token_for(ADA).await;
        let mo = app.token_for(MO).await;
        let (status, _) = ada
            .post("/api/v1/tokens", json!({"name": "deploy bot"}))
            .await;
        assert_eq!(status, StatusCode::CREATED);

        // The listing, filtered by action: the token Ada made, with her as the actor.
        let (code, out, err) = audit_cli(
            &app,
            &ada.token,
            &["list", "--action", "token.created", "--limit", "50"],
        );
        assert_eq!(code, 0, "{err}");
        let lines: Vec<&str> = out.lines().filter(|l| l.contains("deploy bot")).collect();
        assert_eq!(lines.len(), 1, "{out}");
        assert!(
            lines[0].contains("token.created") && lines[0].contains(ADA),
            "{out}"
        );
        assert!(
            !out.contains("sign_in"),
            "the action filter was not applied: {out}"
        );

        // JSON output agrees with the API.
        let (code, out, err) = audit_cli(&app, &ada.token, &["list", "--json"]);
        assert_eq!(code, 0, "{err}");
        let listed: Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(listed, Value::Array(entries(&ada).await));
        assert!(
            count(
                listed.as_array().expect("a list"),
                "token.created",
                Some(ADA)
            ) >= 1
        );

        // The CSV export goes to a file, and is itself recorded.
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("audit.csv");
        let path = file.to_str().expect("utf-8 path");
        let (code, _, err) = audit_cli(
            &app,
            &ada.token,
            &[
                "export",
                "--format",
                "csv",
                "--action",
                "token.created",
                "-o",
                path,
            ],
        );
        assert_eq!(code, 0, "{err}");
        let csv = std::fs::read_to_string(&file).expect("written");
        let mut rows = csv.lines();
        assert!(
            rows.next().expect("a header").starts_with("id,occurred_at"),
            "{csv}"
        );
        assert!(rows.any(|row| row.contains("deploy bot")), "{csv}");
        assert_eq!(count(&entries(&ada).await, "audit.exported", Some(ADA)), 1);

        // A member is refused by the server; malformed filters are refused before any request.
        let (code, out, err) = audit_cli(&app, &mo.token, &["list"]);
        assert_ne!(code, 0, "{out}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        for (args, flag) in [
            (vec!["list", "--action", "loop.logged"], "--action"),
            (vec!["list", "--from", "2026-13-01"], "--from"),
            (vec!["export", "--until", "yesterday"], "--until"),
            (vec!["list", "--limit", "0"], "--limit"),
            (vec!["export", "--format", "xml"], "--format"),
        ] {
            let (code, _, err) = audit_cli(&app, &ada.token, &args);
            assert_ne!(code, 0, "{args:?}");
            assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
            assert!(err.contains(flag), "{args:?}: {err}");
        }
    }
);
