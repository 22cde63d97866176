//! Issue 7: the pulse (scoring, thresholds, anonymity against the database) and recognition.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Api, TestApp, TestDb};
use crate::story;

fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

/// A team "ops" led by Lee with `members` members (m0@…, m1@…); returns Lee and the members.
async fn team(app: &TestApp, members: usize) -> (Api, Vec<Api>) {
    app.create_user("root@example.org", "Root", true).await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    let lee = app.token_for("lee@example.org").await;
    lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    let mut out = Vec::new();
    for i in 0..members {
        let email = format!("m{i}@example.org");
        app.create_user(&email, &format!("Member {i}"), false).await;
        lee.post(
            "/api/v1/teams/ops/members",
            json!({"email": email, "role": "member"}),
        )
        .await;
        out.push(app.token_for(&email).await);
    }
    (lee, out)
}

async fn open_round(lee: &Api) -> String {
    let (status, round) = lee
        .post(
            "/api/v1/teams/ops/pulse-rounds",
            json!({"closes_on": today()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    round["id"].as_str().expect("id").to_owned()
}

const PATTERNS: [[u8; 7]; 5] = [
    [1, 7, 1, 7, 1, 7, 7],
    [7, 1, 7, 1, 7, 1, 1],
    [4, 4, 4, 4, 4, 4, 4],
    [3, 5, 3, 5, 3, 5, 5],
    [5, 3, 5, 3, 5, 3, 3],
];

story!(
    scores_show_only_after_closing_and_from_five_responses,
    |app: TestApp| async move {
        let (lee, members) = team(&app, 5).await;
        let (status, _) = members[0]
            .post(
                "/api/v1/teams/ops/pulse-rounds",
                json!({"closes_on": today()}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "members do not open rounds");
        let round = open_round(&lee).await;
        let (status, _) = lee
            .post(
                "/api/v1/teams/ops/pulse-rounds",
                json!({"closes_on": today()}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "one open round at a time");
        let path = format!("/api/v1/teams/ops/pulse-rounds/{round}");
        for (i, member) in members.iter().take(4).enumerate() {
            let (status, answer) = member
                .post(
                    &format!("{path}/answers"),
                    json!({"answers": PATTERNS[i], "comment": format!("comment {i}")}),
                )
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT, "{answer}");
        }
        let (status, problem) = members[0]
            .post(&format!("{path}/answers"), json!({"answers": PATTERNS[0]}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "one answer each: {problem}");
        let (_, view) = lee.get(&path).await;
        assert_eq!(view["responses"], 4);
        assert_eq!(view["results"], Value::Null, "not while open");
        // Four responses, closed: nothing shows through the API, the page or the CSV.
        lee.post(&format!("{path}/close"), json!({})).await;
        let (_, view) = lee.get(&path).await;
        assert_eq!(view["results"], Value::Null);
        assert!(view["withheld"]
            .as_str()
            .unwrap_or("")
            .contains("only from 5"));
        let web = app.sign_in("lee@example.org").await;
        let (_, page) = web.get_text(&format!("/teams/ops/pulse/{round}")).await;
        assert!(page.contains("results show only from 5") && !page.contains("Team score"));
        let csv = reqwest::Client::new()
            .get(app.url("/api/v1/teams/ops/pulse-results.csv"))
            .bearer_auth(&lee.token)
            .send()
            .await
            .expect("csv")
            .text()
            .await
            .expect("text");
        assert_eq!(csv.lines().count(), 1, "only the header: {csv}");

        // A second round with five responses shows the hand-computed score.
        app.db
            .execute("UPDATE pulse_rounds SET closes_on = closes_on - 86400")
            .await;
        let second = open_round(&lee).await;
        let path = format!("/api/v1/teams/ops/pulse-rounds/{second}");
        for (i, member) in members.iter().enumerate() {
            member
                .post(&format!("{path}/answers"), json!({"answers": PATTERNS[i]}))
                .await;
        }
        lee.post(&format!("{path}/close"), json!({})).await;
        let (_, view) = members[0].get(&path).await;
        let results = &view["results"];
        assert_eq!(results["responses"], 5);
        assert!((results["team_score"].as_f64().unwrap_or(0.0) - 4.0).abs() < 1e-9);
        assert!((results["spread"].as_f64().unwrap_or(0.0) - 2.0).abs() < 1e-9);
        assert_eq!(results["distributions"][0], json!([1, 0, 1, 1, 1, 0, 1]));
        assert_eq!(view["comments"], Value::Null, "comments only from 10");
        let (_, page) = web.get_text(&format!("/teams/ops/pulse/{second}")).await;
        assert!(
            page.contains("<svg") && page.contains("4.00"),
            "a chart with its numbers"
        );
        let csv = reqwest::Client::new()
            .get(app.url("/api/v1/teams/ops/pulse-results.csv"))
            .bearer_auth(&lee.token)
            .send()
            .await
            .expect("csv")
            .text()
            .await
            .expect("text");
        assert_eq!(csv.lines().count(), 2);
        assert!(
            csv.lines()
                .nth(1)
                .unwrap_or("")
                .contains(",5,6,6,0.833,4.000,2.000"),
            "{csv}"
        );
    }
);

story!(
    answers_cannot_be_joined_to_respondents_through_the_database,
    |app: TestApp| async move {
        let (lee, members) = team(&app, 5).await;
        let round = open_round(&lee).await;
        for (i, member) in members.iter().enumerate() {
            let (status, _) = member
                .post(
                    &format!("/api/v1/teams/ops/pulse-rounds/{round}/answers"),
                    json!({"answers": PATTERNS[i]}),
                )
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
        // While the round is open only the marks are stored: answers wait for the close.
        assert_eq!(app.db.count("SELECT COUNT(*) FROM pulse_answers").await, 0);
        assert_eq!(
            app.db
                .count("SELECT COUNT(*) FROM pulse_participants")
                .await,
            5
        );
        let (status, _) = lee
            .post(
                &format!("/api/v1/teams/ops/pulse-rounds/{round}/close"),
                json!({}),
            )
            .await;
        assert!(status.is_success());
        // Nothing in an answer row names or times a person.
        let answers = app.db.dump("SELECT * FROM pulse_answers").await;
        assert_eq!(answers.len(), 5);
        let columns: Vec<&str> = answers[0].iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(
            columns,
            [
                "id", "round_id", "item1", "item2", "item3", "item4", "item5", "item6", "item7",
                "comment"
            ]
        );
        let participants = app.db.dump("SELECT user_id FROM pulse_participants").await;
        assert_eq!(participants.len(), 5);
        // The stored order of answers is that of their random keys, not the order they were given.
        if let TestDb::Sqlite(_) = &app.db {
            let natural: Vec<String> = app
                .db
                .dump("SELECT id FROM pulse_answers")
                .await
                .into_iter()
                .map(|r| r[0].1.clone())
                .collect();
            let mut sorted = natural.clone();
            sorted.sort();
            assert_eq!(natural, sorted, "rows sit in random-key order");
        }
        match &app.db {
            TestDb::Sqlite(_) => {
                let rowid = app.db.count("SELECT COUNT(*) FROM pragma_table_list WHERE name = 'pulse_answers' AND wr = 1").await;
                assert_eq!(rowid, 1, "pulse_answers is WITHOUT ROWID");
            }
            TestDb::Postgres(_) => {
                assert_eq!(
                    app.db
                        .count("SELECT COUNT(DISTINCT xmin::text) FROM pulse_answers")
                        .await,
                    1,
                    "every answer carries the same transaction id"
                );
                let shared = app
                .db
                .count("SELECT COUNT(*) FROM pulse_participants p, pulse_answers a WHERE p.xmin::text = a.xmin::text")
                .await;
                assert_eq!(
                    shared, 0,
                    "no participant row shares the answers' transaction"
                );
            }
        }
    }
);

story!(
    recognition_and_its_fairness_view,
    |app: TestApp| async move {
        let (lee, members) = team(&app, 5).await;
        let (_, roster) = lee.get("/api/v1/teams/ops/members").await;
        let id_of = |name: &str| {
            roster
                .as_array()
                .expect("members")
                .iter()
                .find(|m| m["name"] == name)
                .and_then(|m| m["user_id"].as_str())
                .expect("member")
                .to_owned()
        };
        let m1 = id_of("Member 1");
        let (status, problem) = members[0]
            .post(
                "/api/v1/teams/ops/recognitions",
                json!({"receiver_id": id_of("Member 0"), "behaviour": "x", "impact": "y"}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "no self-recognition"
        );
        assert_eq!(problem["errors"][0]["field"], "receiver_id");
        let (status, problem) = members[0]
            .post(
                "/api/v1/teams/ops/recognitions",
                json!({"receiver_id": m1, "behaviour": "", "impact": "y"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "behaviour");
        for giver in &members[2..5] {
            for _ in 0..2 {
                let (status, _) = giver
                .post("/api/v1/teams/ops/recognitions", json!({"receiver_id": m1, "behaviour": "Paired on the outage", "impact": "It ended an hour sooner"}))
                .await;
                assert_eq!(status, StatusCode::CREATED);
            }
        }
        let (status, _) = members[0]
            .get("/api/v1/teams/ops/recognitions/fairness")
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "leads only");
        let (_, fair) = lee.get("/api/v1/teams/ops/recognitions/fairness").await;
        assert_eq!(fair["total"], 6);
        // Six members, one received all six: Gini = (n − 1)/n = 5/6.
        assert!(
            (fair["gini"].as_f64().unwrap_or(0.0) - 5.0 / 6.0).abs() < 1e-9,
            "{fair}"
        );
        assert_eq!(fair["not_recognised"].as_array().map(Vec::len), Some(5));
        assert!((fair["top_three_pairs_share"].as_f64().unwrap_or(0.0) - 1.0).abs() < 1e-9);
        // One lead against five members: the lead group is too small, and so hides the other.
        assert_eq!(fair["groups"][0]["people"], Value::Null);
        assert_eq!(fair["groups"][1]["people"], Value::Null);
        let (_, feed) = members[4].get("/api/v1/teams/ops/recognitions").await;
        assert_eq!(feed.as_array().map(Vec::len), Some(6));
        let web = app.sign_in("lee@example.org").await;
        let (_, page) = web.get_text("/teams/ops/recognition/fairness").await;
        assert!(page.contains("in-group bias") && page.contains("0.83"));
    }
);

story!(
    small_teams_see_no_per_person_fairness,
    |app: TestApp| async move {
        let (lee, members) = team(&app, 2).await;
        let (_, roster) = lee.get("/api/v1/teams/ops/members").await;
        let m0 = roster
            .as_array()
            .expect("members")
            .iter()
            .find(|m| m["name"] == "Member 0")
            .and_then(|m| m["user_id"].as_str())
            .expect("m0")
            .to_owned();
        members[1]
            .post(
                "/api/v1/teams/ops/recognitions",
                json!({"receiver_id": m0, "behaviour": "b", "impact": "i"}),
            )
            .await;
        let (_, fair) = lee.get("/api/v1/teams/ops/recognitions/fairness").await;
        assert_eq!(fair["per_person"], Value::Null);
        assert_eq!(fair["gini"], Value::Null);
        assert!(fair["withheld"].as_str().unwrap_or("").contains("Too few"));
    }
);

story!(leaders_go_first, |app: TestApp| async move {
    let (lee, members) = team(&app, 1).await;
    let (_, before) = lee.get("/api/v1/teams/ops/leaders-first").await;
    assert_eq!(before["leads"][0]["failures_shared"], 0);
    let web = app.sign_in("lee@example.org").await;
    let (_, page) = web.get_text("/teams/ops").await;
    assert!(page.contains("share a failure of your own first"));
    lee.post(
        "/api/v1/teams/ops/loops",
        json!({"title": "My own slip", "what_happened": "x"}),
    )
    .await;
    lee.post(
        "/api/v1/teams/ops/loops",
        json!({"title": "Anonymous one", "what_happened": "x", "anonymous": true}),
    )
    .await;
    members[0]
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "A member's", "what_happened": "x"}),
        )
        .await;
    let (_, after) = members[0].get("/api/v1/teams/ops/leaders-first").await;
    assert_eq!(after["leads"][0]["name"], "Lee Lead");
    assert_eq!(
        after["leads"][0]["failures_shared"], 1,
        "anonymous loops count for nobody"
    );
});

story!(
    a_round_cannot_close_on_the_calendars_last_day,
    |app: TestApp| async move {
        // A round takes answers until the end of its day; 9999-12-31 has no end the calendar
        // holds, and reading such a round used to overflow. Refused, naming the field.
        let (lee, _) = team(&app, 1).await;
        let (status, problem) = lee
            .post(
                "/api/v1/teams/ops/pulse-rounds",
                json!({"closes_on": "9999-12-31"}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "closes_on", "{problem}");
        // The day before is a day like any other: opened, listed and read.
        let (status, round) = lee
            .post(
                "/api/v1/teams/ops/pulse-rounds",
                json!({"closes_on": "9999-12-30"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{round}");
        let id = round["id"].as_str().expect("id");
        let (status, rounds) = lee.get("/api/v1/teams/ops/pulse-rounds").await;
        assert_eq!(status, StatusCode::OK, "{rounds}");
        assert_eq!(rounds[0]["closes_on"], "9999-12-30", "{rounds}");
        let (status, view) = lee
            .get(&format!("/api/v1/teams/ops/pulse-rounds/{id}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{view}");
    }
);

story!(
    people_who_join_during_a_round_count_among_those_who_could_answer,
    |app: TestApp| async move {
        // Lee and two members when the round opens; three more join while it is open.
        let (lee, mut members) = team(&app, 2).await;
        let round = open_round(&lee).await;
        for i in 2..5 {
            let email = format!("m{i}@example.org");
            app.create_user(&email, &format!("Member {i}"), false).await;
            lee.post(
                "/api/v1/teams/ops/members",
                json!({"email": email, "role": "member"}),
            )
            .await;
            members.push(app.token_for(&email).await);
        }
        for (i, member) in members.iter().enumerate() {
            let (status, _) = member
                .post(
                    &format!("/api/v1/teams/ops/pulse-rounds/{round}/answers"),
                    json!({"answers": PATTERNS[i]}),
                )
                .await;
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
        let (status, _) = lee
            .post(
                &format!("/api/v1/teams/ops/pulse-rounds/{round}/close"),
                json!({}),
            )
            .await;
        assert!(status.is_success());

        // Five answers from six people who could answer: never "5 of 3 (167 %)".
        let (status, view) = lee
            .get(&format!("/api/v1/teams/ops/pulse-rounds/{round}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_eq!(view["responses"], 5);
        assert_eq!(view["members_at_open"], 3);
        assert_eq!(view["could_answer"], 6);
        let lee_web = app.sign_in("lee@example.org").await;
        let (_, page) = lee_web.get_text(&format!("/teams/ops/pulse/{round}")).await;
        assert!(page.contains("5 of 6 members have answered"), "{page}");
        assert!(page.contains("5 of 6 (83"), "{page}");
        let (status, csv) = lee_web.get_text("/teams/ops/pulse.csv").await;
        assert_eq!(status, StatusCode::OK);
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().expect("header").split(',').collect();
        assert_eq!(
            header[..5],
            [
                "round_closes_on",
                "responses",
                "members_at_open",
                "could_answer",
                "response_rate"
            ]
        );
        let row: Vec<&str> = lines.next().expect("a row").split(',').collect();
        assert_eq!(row[1..5], ["5", "3", "6", "0.833"], "{csv}");
    }
);
