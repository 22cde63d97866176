//! Issue 24, part 2: the dynamics mirror. Every figure is checked against values this test
//! computes itself from the sessions and loops it seeds; the floor (4 people: nothing; 5: shown)
//! and a lone non-lead (never singled out) are checked through the API, the page and the CLI, on
//! both databases.

use std::collections::HashMap;

use failforward::service::SetClock;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::macros::datetime;
use time::{Date, OffsetDateTime};

use crate::helpers::{Api, Backend, TestApp};

/// The team "ops": its leads and members by short name, each with their API.
struct Team {
    apis: HashMap<&'static str, Api>,
    leads: Vec<&'static str>,
    root: Api,
}

impl Team {
    fn api(&self, who: &str) -> &Api {
        &self.apis[who]
    }
    fn is_lead(&self, who: &str) -> bool {
        self.leads.contains(&who)
    }
}

async fn team(app: &TestApp, leads: &[&'static str], members: &[&'static str]) -> Team {
    app.create_user("root@example.org", "Root Admin", true)
        .await;
    let root = app.token_for("root@example.org").await;
    let mut apis = HashMap::new();
    for who in leads.iter().chain(members) {
        let email = format!("{who}@example.org");
        app.create_user(&email, &format!("{who} Person"), false)
            .await;
        apis.insert(*who, app.token_for(&email).await);
    }
    let first = &apis[leads[0]];
    let (status, body) = first.post("/api/v1/teams", json!({"name": "Ops"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for who in leads.iter().skip(1).chain(members) {
        let role = if leads.contains(who) {
            "lead"
        } else {
            "member"
        };
        let (status, body) = first
            .post(
                "/api/v1/teams/ops/members",
                json!({"email": format!("{who}@example.org"), "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    Team {
        apis,
        leads: leads.to_vec(),
        root,
    }
}

/// A review session to seed: who writes, their cards (writer, text), ballots (voter, card text →
/// dots) and decisions (the card's text or none, and who disagrees).
struct SessionSpec {
    facilitator: &'static str,
    writers: Vec<&'static str>,
    cards: Vec<(&'static str, &'static str)>,
    ballots: Vec<(&'static str, Vec<(&'static str, u32)>)>,
    decisions: Vec<(Option<&'static str>, Vec<&'static str>)>,
}

async fn ok(api: &Api, method: Method, path: &str, body: Value) -> Value {
    let (status, out) = api.send(method, path, Some(body)).await;
    assert!(status.is_success(), "{path}: {status} {out}");
    out
}

async fn advance(api: &Api, base: &str, from: &str) {
    ok(
        api,
        Method::POST,
        &format!("{base}/advance"),
        json!({"from": from}),
    )
    .await;
}

/// Runs a whole session through the API, as people would.
async fn run_session(team: &Team, spec: &SessionSpec) {
    let f = team.api(spec.facilitator);
    let started = ok(
        f,
        Method::POST,
        "/api/v1/teams/ops/reviews",
        json!({"prompt": "What did we learn this month?", "dots": 3}),
    )
    .await;
    let base = format!(
        "/api/v1/teams/ops/reviews/{}",
        started["id"].as_str().expect("id")
    );
    for who in &spec.writers {
        if *who != spec.facilitator {
            ok(
                team.api(who),
                Method::POST,
                &format!("{base}/participants"),
                json!({}),
            )
            .await;
        }
    }
    advance(f, &base, "open_actions").await;
    for (who, text) in &spec.cards {
        ok(
            team.api(who),
            Method::POST,
            &format!("{base}/cards"),
            json!({"kind": "observation", "text": text}),
        )
        .await;
    }
    for who in &spec.writers {
        ok(
            team.api(who),
            Method::PUT,
            &format!("{base}/done"),
            json!({"done": true}),
        )
        .await;
    }
    let (_, view) = f.get(&base).await;
    assert_eq!(view["phase"], "reveal", "{view}");
    let ids: HashMap<String, String> = view["cards"]
        .as_array()
        .expect("cards")
        .iter()
        .map(|c| {
            (
                c["text"].as_str().expect("text").to_owned(),
                c["id"].as_str().expect("id").to_owned(),
            )
        })
        .collect();
    assert_eq!(ids.len(), spec.cards.len(), "every card revealed: {view}");
    advance(f, &base, "reveal").await;
    advance(f, &base, "group").await;
    for (voter, dots) in &spec.ballots {
        let dots: serde_json::Map<String, Value> = dots
            .iter()
            .map(|(text, n)| (ids[*text].clone(), json!(n)))
            .collect();
        let (status, body) = team
            .api(voter)
            .post(&format!("{base}/ballot"), json!({ "dots": dots }))
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    advance(f, &base, "vote").await;
    advance(f, &base, "discuss").await;
    for (i, (card, dissenters)) in spec.decisions.iter().enumerate() {
        let body = match card {
            Some(text) => json!({"card_id": ids[*text], "kind": "learning", "text": ""}),
            None => json!({"kind": "learning", "text": format!("A statement of our own {i}")}),
        };
        let decided = ok(f, Method::POST, &format!("{base}/decisions"), body).await;
        let decision = decided["id"].as_str().expect("decision id");
        for who in dissenters {
            let (status, body) = team
                .api(who)
                .post(
                    &format!("{base}/decisions/{decision}/dissents"),
                    json!({"reason": "I see it differently"}),
                )
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        }
    }
    ok(f, Method::POST, &format!("{base}/close"), json!({})).await;
}

/// A part of a whole as the API writes it.
fn share(part: u64, whole: u64) -> Value {
    let percent = if whole == 0 {
        Value::Null
    } else {
        json!((part as f64 * 1000.0 / whole as f64).round() / 10.0)
    };
    json!({"part": part, "whole": whole, "percent": percent})
}

/// The review figures computed here, independently of the product: (key, value, baseline).
fn expected_reviews(team: &Team, sessions: &[SessionSpec]) -> Vec<(&'static str, Value, Value)> {
    let lead_card = |spec: &SessionSpec, text: &str| {
        spec.cards
            .iter()
            .any(|(who, t)| *t == text && team.is_lead(who))
    };
    let (mut cards, mut lead_cards, mut dots, mut lead_dots) = (0, 0, 0, 0);
    let (mut card_decisions, mut lead_decisions, mut decisions, mut dissented) = (0, 0, 0, 0);
    let (mut with_leads, mut against) = (0, 0);
    for spec in sessions {
        cards += spec.cards.len() as u64;
        let leads_here = spec.cards.iter().filter(|(w, _)| team.is_lead(w)).count() as u64;
        lead_cards += leads_here;
        for (_, ballot) in &spec.ballots {
            for (text, n) in ballot {
                dots += u64::from(*n);
                if lead_card(spec, text) {
                    lead_dots += u64::from(*n);
                }
            }
        }
        let (mut from_cards, mut from_leads) = (0, 0);
        for (card, dissenters) in &spec.decisions {
            decisions += 1;
            if !dissenters.is_empty() {
                dissented += 1;
            }
            if let Some(text) = card {
                from_cards += 1;
                if lead_card(spec, text) {
                    from_leads += 1;
                }
            }
        }
        card_decisions += from_cards;
        lead_decisions += from_leads;
        if leads_here > 0 && from_cards > 0 {
            with_leads += 1;
            if from_leads == 0 {
                against += 1;
            }
        }
    }
    vec![
        (
            "decisions_from_leads",
            share(lead_decisions, card_decisions),
            share(lead_cards, cards),
        ),
        (
            "dots_to_leads",
            share(lead_dots, dots),
            share(lead_cards, cards),
        ),
        ("dissent", share(dissented, decisions), Value::Null),
        ("against_leads", share(against, with_leads), Value::Null),
    ]
}

fn figure<'a>(mirror: &'a Value, key: &str) -> &'a Value {
    mirror["reviews"]["figures"]
        .as_array()
        .expect("figures")
        .iter()
        .find(|f| f["key"] == key)
        .unwrap_or_else(|| panic!("no figure {key}: {mirror}"))
}

/// A loop to seed: who logs it (`None` for an anonymous loop, with the writer), when the clock
/// says it is logged, and the day it happened (or only was noticed).
struct LoopSpec {
    by: &'static str,
    anonymous: bool,
    at: OffsetDateTime,
    happened: Option<Date>,
    noticed: Date,
}

async fn log_loops(app: &TestApp, clock: &SetClock, team: &Team, loops: &[LoopSpec]) {
    for (i, l) in loops.iter().enumerate() {
        clock.set(l.at);
        let mut body = json!({
            "title": format!("Failure number {i}"),
            "what_happened": "Something did not go as planned.",
            "noticed_at": l.noticed.to_string(),
            "anonymous": l.anonymous,
        });
        if let Some(h) = l.happened {
            body["happened_at"] = json!(h.to_string());
        }
        let (status, created) = team.api(l.by).post("/api/v1/teams/ops/loops", body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        if l.anonymous {
            app.release_anonymous_loops().await;
        }
    }
}

fn median(mut days: Vec<i64>) -> Value {
    if days.is_empty() {
        return Value::Null;
    }
    days.sort();
    let n = days.len();
    if n % 2 == 1 {
        json!(days[n / 2] as f64)
    } else {
        json!((days[n / 2 - 1] + days[n / 2]) as f64 / 2.0)
    }
}

/// The loop half computed here: months of Q4 2026 with (leads, members, named, anonymous), and
/// days to log per group.
fn expected_loops(team: &Team, loops: &[LoopSpec], roles: bool) -> (Vec<Value>, Vec<Value>) {
    let in_q4 = |l: &&LoopSpec| l.at.year() == 2026 && l.at.month() as u8 >= 10;
    let mut months = Vec::new();
    for month in [10u8, 11, 12] {
        let of = |pred: &dyn Fn(&LoopSpec) -> bool| {
            loops
                .iter()
                .filter(in_q4)
                .filter(|l| l.at.month() as u8 == month && pred(l))
                .count() as u64
        };
        let leads = of(&|l| !l.anonymous && team.is_lead(l.by));
        let members = of(&|l| !l.anonymous && !team.is_lead(l.by));
        let anonymous = of(&|l| l.anonymous);
        months.push(json!({
            "month": format!("2026-{month:02}"),
            "leads": if roles { json!(leads) } else { Value::Null },
            "members": if roles { json!(members) } else { Value::Null },
            "named": leads + members,
            "anonymous": anonymous,
        }));
    }
    let group = |name: &str, pred: &dyn Fn(&LoopSpec) -> bool| {
        let days: Vec<i64> = loops
            .iter()
            .filter(in_q4)
            .filter(|l| pred(l))
            .map(|l| (l.at.date() - l.happened.unwrap_or(l.noticed)).whole_days())
            .collect();
        let quick = days.iter().filter(|d| **d <= 1).count() as u64;
        let n = days.len() as u64;
        json!({"group": name, "loops": n, "median_days": median(days), "within_a_day": share(quick, n)})
    };
    let mut days = vec![group("all", &|_| true)];
    if roles {
        days.push(group("leads", &|l| !l.anonymous && team.is_lead(l.by)));
        days.push(group("members", &|l| !l.anonymous && !team.is_lead(l.by)));
    } else {
        days.push(group("named", &|l| !l.anonymous));
    }
    days.push(group("anonymous", &|l| l.anonymous));
    (months, days)
}

fn date(y: i32, m: u8, d: u8) -> Date {
    Date::from_calendar_date(y, time::Month::try_from(m).expect("month"), d).expect("date")
}

fn seeded_loops() -> Vec<LoopSpec> {
    vec![
        // Before the quarter: not counted.
        LoopSpec {
            by: "lee",
            anonymous: false,
            at: datetime!(2026-09-20 10:00 UTC),
            happened: None,
            noticed: date(2026, 9, 19),
        },
        LoopSpec {
            by: "lee",
            anonymous: false,
            at: datetime!(2026-10-06 10:00 UTC),
            happened: Some(date(2026, 10, 1)),
            noticed: date(2026, 10, 2),
        },
        LoopSpec {
            by: "mo",
            anonymous: false,
            at: datetime!(2026-10-07 09:00 UTC),
            happened: None,
            noticed: date(2026, 10, 7),
        },
        // A lead logging anonymously counts only as anonymous.
        LoopSpec {
            by: "lee",
            anonymous: true,
            at: datetime!(2026-10-20 09:00 UTC),
            happened: Some(date(2026, 10, 10)),
            noticed: date(2026, 10, 12),
        },
        LoopSpec {
            by: "kim",
            anonymous: false,
            at: datetime!(2026-11-03 12:00 UTC),
            happened: Some(date(2026, 10, 30)),
            noticed: date(2026, 11, 1),
        },
        LoopSpec {
            by: "ann",
            anonymous: true,
            at: datetime!(2026-11-04 12:00 UTC),
            happened: None,
            noticed: date(2026, 11, 3),
        },
        LoopSpec {
            by: "lou",
            anonymous: false,
            at: datetime!(2026-12-01 12:00 UTC),
            happened: None,
            noticed: date(2026, 12, 1),
        },
    ]
}

fn seeded_sessions() -> Vec<SessionSpec> {
    vec![
        SessionSpec {
            facilitator: "mo",
            writers: vec!["lee", "lou", "mo", "kim", "ann", "bo"],
            cards: vec![
                ("lee", "A: the lead's view"),
                ("mo", "A: Mo's view"),
                ("kim", "A: Kim's view"),
                ("ann", "A: Ann's view"),
            ],
            ballots: vec![
                ("lee", vec![("A: the lead's view", 3)]),
                ("mo", vec![("A: Mo's view", 2), ("A: the lead's view", 1)]),
                ("kim", vec![("A: Kim's view", 3)]),
                ("ann", vec![("A: Ann's view", 1), ("A: Mo's view", 1)]),
            ],
            decisions: vec![
                (Some("A: the lead's view"), vec!["kim"]),
                (Some("A: Mo's view"), vec![]),
            ],
        },
        SessionSpec {
            facilitator: "bo",
            writers: vec!["lee", "mo", "kim", "bo"],
            cards: vec![
                ("lee", "B: the lead's view"),
                ("bo", "B: Bo's view"),
                ("kim", "B: Kim's view"),
            ],
            ballots: vec![
                ("bo", vec![("B: Bo's view", 3)]),
                ("kim", vec![("B: Bo's view", 1), ("B: Kim's view", 2)]),
                ("lee", vec![("B: Kim's view", 1)]),
            ],
            decisions: vec![(Some("B: Bo's view"), vec!["lee", "mo"]), (None, vec![])],
        },
    ]
}

async fn mirror_of(api: &Api, quarter: &str) -> Value {
    let (status, body) = api
        .get(&format!("/api/v1/teams/ops/mirror?quarter={quarter}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn every_figure_matches_what_the_seeds_say(backend: Backend) {
    let clock = SetClock::at(datetime!(2026-09-20 09:00 UTC));
    let Some(app) = TestApp::spawn_with_clock(backend, clock.clone()).await else {
        return;
    };
    let team = team(&app, &["lee", "lou"], &["mo", "kim", "ann", "bo"]).await;
    let loops = seeded_loops();
    log_loops(&app, &clock, &team, &loops).await;
    clock.set(datetime!(2026-11-10 10:00 UTC));
    let sessions = seeded_sessions();
    for spec in &sessions {
        run_session(&team, spec).await;
    }
    clock.set(datetime!(2026-12-02 10:00 UTC));

    let mirror = mirror_of(team.api("kim"), "2026Q4").await;
    assert_eq!(mirror["quarter"], "2026Q4");
    assert_eq!(mirror["min_people"], 5);
    assert_eq!(mirror["reviews"]["sessions"], 2);
    assert_eq!(mirror["reviews"]["people"], 6);
    assert!(mirror["reviews"]["withheld"].is_null(), "{mirror}");
    for (key, value, baseline) in expected_reviews(&team, &sessions) {
        let f = figure(&mirror, key);
        assert_eq!(f["value"], value, "{key}: {f}");
        assert_eq!(f["baseline"], baseline, "{key}: {f}");
        assert!(f["withheld"].is_null(), "{key}: {f}");
        assert!(!f["meaning"].as_str().unwrap_or("").is_empty());
        assert!(f["question"].as_str().unwrap_or("").ends_with('?'));
    }
    // The seeds give known numbers too, so that a mistake shared by both sides shows.
    assert_eq!(figure(&mirror, "dots_to_leads")["value"], share(4, 18));
    assert_eq!(
        figure(&mirror, "decisions_from_leads")["value"],
        share(1, 3)
    );
    assert_eq!(figure(&mirror, "dissent")["value"], share(2, 4));
    assert_eq!(figure(&mirror, "against_leads")["value"], share(1, 2));
    let early = figure(&mirror, "leads_shown_early");
    assert!(early["value"].is_null());
    assert!(early["withheld"]
        .as_str()
        .unwrap_or("")
        .contains("cannot be known"));

    let (months, days) = expected_loops(&team, &loops, true);
    assert_eq!(mirror["loops"]["members"], 6);
    assert!(mirror["loops"]["withheld"].is_null());
    assert!(mirror["loops"]["roles_withheld"].is_null());
    assert_eq!(mirror["loops"]["months"], json!(months), "{mirror}");
    assert_eq!(mirror["loops"]["days_to_log"], json!(days), "{mirror}");
    // Lee's anonymous loop is not among the leads'.
    assert_eq!(mirror["loops"]["months"][0]["leads"], 1);
    assert_eq!(mirror["loops"]["months"][0]["anonymous"], 1);

    // The current quarter is the default; another quarter is empty; "2026-Q4" reads the same.
    let (status, default) = team.api("mo").get("/api/v1/teams/ops/mirror").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(default, mirror);
    assert_eq!(mirror_of(team.api("mo"), "2026-Q4").await, mirror);
    let q3 = mirror_of(team.api("mo"), "2026Q3").await;
    assert_eq!(q3["reviews"]["sessions"], 0);
    assert_eq!(q3["loops"]["months"][2]["named"], 1);

    // A bad quarter is refused, naming the field.
    for bad in ["2026Q5", "soon", "2026"] {
        let (status, problem) = team
            .api("mo")
            .get(&format!("/api/v1/teams/ops/mirror?quarter={bad}"))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "quarter", "{problem}");
    }

    // Members only: an outsider and an admin who is not in the team get 404, on both surfaces.
    app.create_user("out@example.org", "Out Sider", false).await;
    let outsider = app.token_for("out@example.org").await;
    for api in [&outsider, &team.root] {
        let (status, _) = api.get("/api/v1/teams/ops/mirror").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    let page = app.sign_in("out@example.org").await;
    assert_eq!(
        page.get("/teams/ops/mirror").await.status(),
        StatusCode::NOT_FOUND
    );

    // The page: linked from the team page, the figures and a chart, the reveal-order note.
    let browser = app.sign_in("kim@example.org").await;
    let (status, team_page) = browser.get_text("/teams/ops").await;
    assert_eq!(status, StatusCode::OK);
    assert!(team_page.contains(r#"href="/teams/ops/mirror""#));
    let (status, html) = browser.get_text("/teams/ops/mirror?quarter=2026Q4").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(r#"data-figure="dots_to_leads">22.2 % (4 of 18)"#),
        "{html}"
    );
    assert!(html.contains(r#"data-figure="dissent">50.0 % (2 of 4)"#));
    assert!(html.contains(r#"<svg"#));
    assert!(html.contains("cannot be known from what failforward stores"));
    assert!(html.contains("Coyle"));
    let (status, _) = browser.get_text("/teams/ops/mirror?quarter=someday").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // The CLI shows the same figures and refuses a bad quarter in one line.
    let kim = team.api("kim");
    let (code, out, err) = cli(&app, kim, &["--team", "ops", "--quarter", "2026Q4"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Dots on leads' cards: 22.2 % (4 of 18) against 28.6 % (2 of 7) of cards"),
        "{out}"
    );
    assert!(
        out.contains("2026-10: leads 1, members 1, named 2, anonymous 1"),
        "{out}"
    );
    let (code, json_out, _) = cli(
        &app,
        kim,
        &["--team", "ops", "--quarter", "2026Q4", "--json"],
    );
    assert_eq!(code, 0);
    let parsed: Value = serde_json::from_str(&json_out).expect("json");
    assert_eq!(parsed, mirror);
    let (code, _, err) = cli(&app, kim, &["--team", "ops", "--quarter", "2026Q9"]);
    assert_eq!(code, 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--quarter"), "{err}");
}

/// Runs `failforward mirror` against the app with `api`'s token.
fn cli(app: &TestApp, api: &Api, args: &[&str]) -> (i32, String, String) {
    app.client_cli(&api.token, &[&["mirror"], args].concat())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_figure_on_sqlite() {
    every_figure_matches_what_the_seeds_say(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_figure_on_postgres() {
    every_figure_matches_what_the_seeds_say(Backend::Postgres).await;
}

/// A team of `leads` and `members`, one session where everyone writes, and a loop each.
async fn small_team(
    backend: Backend,
    leads: &[&'static str],
    members: &[&'static str],
) -> Option<(TestApp, Team)> {
    let clock = SetClock::at(datetime!(2026-11-10 10:00 UTC));
    let app = TestApp::spawn_with_clock(backend, clock.clone()).await?;
    let team = team(&app, leads, members).await;
    let everyone: Vec<&'static str> = leads.iter().chain(members).copied().collect();
    let spec = SessionSpec {
        facilitator: everyone[everyone.len() - 1],
        writers: everyone.clone(),
        cards: everyone.iter().map(|w| (*w, *w)).collect(),
        ballots: vec![(everyone[0], vec![(everyone[1], 2)])],
        decisions: vec![(Some(everyone[0]), vec![everyone[1]])],
    };
    run_session(&team, &spec).await;
    for who in &everyone {
        let (status, body) = team
            .api(who)
            .post(
                "/api/v1/teams/ops/loops",
                json!({"title": "A failure", "what_happened": "It broke."}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    Some((app, team))
}

fn numbers_in(mirror: &Value) -> usize {
    let figures = mirror["reviews"]["figures"].as_array().expect("figures");
    figures.iter().filter(|f| !f["value"].is_null()).count()
        + mirror["loops"]["months"].as_array().map_or(0, Vec::len)
        + mirror["loops"]["days_to_log"]
            .as_array()
            .map_or(0, Vec::len)
}

async fn four_people_show_nothing_five_show_the_mirror(backend: Backend) {
    let Some((app, team)) = small_team(backend, &["lee"], &["mo", "kim", "ann"]).await else {
        return;
    };
    let mirror = mirror_of(team.api("mo"), "2026Q4").await;
    assert_eq!(numbers_in(&mirror), 0, "{mirror}");
    assert!(mirror["reviews"]["people"].is_null());
    assert!(mirror["reviews"]["withheld"].as_str().is_some());
    assert!(mirror["loops"]["withheld"].as_str().is_some());
    assert!(mirror["loops"]["members"].is_null());
    let browser = app.sign_in("mo@example.org").await;
    let (status, html) = browser.get_text("/teams/ops/mirror").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"id="reviews-withheld""#));
    assert!(html.contains(r#"id="loops-withheld""#));
    assert!(!html.contains("data-figure="), "no figure on the page");

    let Some((_app, team)) = small_team(backend, &["lee"], &["mo", "kim", "ann", "bo"]).await
    else {
        return;
    };
    let mirror = mirror_of(team.api("mo"), "2026Q4").await;
    assert_eq!(mirror["reviews"]["people"], 5);
    assert!(mirror["reviews"]["withheld"].is_null());
    // One lead card of five, its one decision, 2 dots of 2 on Mo's card, one dissent.
    assert_eq!(
        figure(&mirror, "decisions_from_leads")["value"],
        share(1, 1)
    );
    assert_eq!(
        figure(&mirror, "decisions_from_leads")["baseline"],
        share(1, 5)
    );
    assert_eq!(figure(&mirror, "dots_to_leads")["value"], share(0, 2));
    assert_eq!(figure(&mirror, "dissent")["value"], share(1, 1));
    assert_eq!(mirror["loops"]["months"][1]["leads"], 1);
    assert_eq!(mirror["loops"]["months"][1]["members"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_on_sqlite() {
    four_people_show_nothing_five_show_the_mirror(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floor_on_postgres() {
    four_people_show_nothing_five_show_the_mirror(Backend::Postgres).await;
}

async fn a_lone_non_lead_is_never_singled_out(backend: Backend) {
    let Some((app, team)) = small_team(backend, &["lee", "lou", "lia", "lin"], &["mo"]).await
    else {
        return;
    };
    let mirror = mirror_of(team.api("mo"), "2026Q4").await;
    assert_eq!(mirror["reviews"]["people"], 5);
    for key in ["decisions_from_leads", "dots_to_leads", "against_leads"] {
        let f = figure(&mirror, key);
        assert!(f["value"].is_null(), "{key}: {f}");
        assert!(f["baseline"].is_null(), "{key}: {f}");
        assert!(f["withheld"].as_str().unwrap_or("").contains("non-leads"));
    }
    // Dissent is not split by role, so it shows.
    assert_eq!(figure(&mirror, "dissent")["value"], share(1, 1));
    assert!(mirror["loops"]["roles_withheld"].as_str().is_some());
    for month in mirror["loops"]["months"].as_array().expect("months") {
        assert!(
            month["leads"].is_null() && month["members"].is_null(),
            "{month}"
        );
    }
    assert_eq!(mirror["loops"]["months"][1]["named"], 5);
    let groups: Vec<&str> = mirror["loops"]["days_to_log"]
        .as_array()
        .expect("days")
        .iter()
        .filter_map(|d| d["group"].as_str())
        .collect();
    assert_eq!(groups, ["all", "named", "anonymous"]);
    let browser = app.sign_in("lee@example.org").await;
    let (_, html) = browser.get_text("/teams/ops/mirror").await;
    assert!(!html.contains("data-figure=\"dots_to_leads\""));
    assert!(html.contains("data-figure=\"dissent\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lone_non_lead_on_sqlite() {
    a_lone_non_lead_is_never_singled_out(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lone_non_lead_on_postgres() {
    a_lone_non_lead_is_never_singled_out(Backend::Postgres).await;
}
