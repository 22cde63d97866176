//! Every page and API answer about unnamed review cards, an anonymous loop and a pulse answer,
//! fetched by every role — a member, the team's lead, the session's facilitator, an admin outside
//! the team, and another team's member — while cards are being written, after the reveal and
//! once the session and the round are closed: none names the writer (name, email or id), and no
//! unnamed card wears a role.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Api, Browser, TestApp};
use crate::review::ok;
use crate::story;

/// Who looks, and whether the team's pages are theirs to see.
struct Viewer {
    role: &'static str,
    api: Api,
    web: Browser,
    outsider: bool,
}

struct World {
    viewers: Vec<Viewer>,
    /// The writer's name, email and user id.
    writer: Vec<String>,
    /// Every team member's name: none may stand on an unnamed card.
    names: Vec<String>,
    review: String,
    anonymous_loop: String,
    round: String,
}

async fn member(app: &TestApp, lead: &Api, team: &str, email: &str, name: &str) -> Api {
    app.create_user(email, name, false).await;
    let (status, body) = lead
        .post(
            &format!("/api/v1/teams/{team}/members"),
            json!({"email": email, "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.token_for(email).await
}

/// Team Ops: Lee (lead), Mo, Fay (facilitates), Pat and Wren (the writer); team Sec: Oz. Wren
/// logs a loop anonymously, answers the pulse and writes an unnamed card; Lee writes an unnamed
/// card too, and Mo a named one.
async fn world(app: &TestApp) -> World {
    app.create_user("root@example.org", "Root Admin", true)
        .await;
    app.create_user("lee@example.org", "Lee Lead", false).await;
    app.create_user("oz@example.org", "Oz Outsider", false)
        .await;
    let lee = app.token_for("lee@example.org").await;
    let oz = app.token_for("oz@example.org").await;
    lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
    oz.post("/api/v1/teams", json!({"name": "Sec"})).await;
    let mo = member(app, &lee, "ops", "mo@example.org", "Mo Member").await;
    let fay = member(app, &lee, "ops", "fay@example.org", "Fay Facilitator").await;
    let pat = member(app, &lee, "ops", "pat@example.org", "Pat Peer").await;
    let wren = member(app, &lee, "ops", "wren@example.org", "Wren Writer").await;
    let (_, members) = lee.get("/api/v1/teams/ops/members").await;
    let wren_id = members
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["name"] == "Wren Writer")
        .and_then(|m| m["user_id"].as_str())
        .expect("Wren's id")
        .to_owned();

    let (status, created) = wren
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "Quokka deploy went out twice", "what_happened": "The pipeline retried a finished deploy.", "anonymous": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let anonymous_loop = created["id"].as_str().expect("id").to_owned();
    // Before midnight UTC nobody but its reporter sees it; then the day's anonymous loops are
    // written.
    let (status, _) = lee
        .get(&format!("/api/v1/teams/ops/loops/{anonymous_loop}"))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "not published before the release"
    );
    let (_, found) = lee.get("/api/v1/search?q=quokka").await;
    assert!(!found.to_string().contains(&anonymous_loop), "{found}");
    app.release_anonymous_loops().await;
    let (_, found) = lee.get("/api/v1/search?q=quokka").await;
    assert!(found.to_string().contains(&anonymous_loop), "{found}");

    let (status, round) = lee
        .post(
            "/api/v1/teams/ops/pulse-rounds",
            json!({"closes_on": time::OffsetDateTime::now_utc().date().to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let round = round["id"].as_str().expect("id").to_owned();
    for (api, answers) in [
        (&wren, [7, 1, 7, 1, 7, 1, 1]),
        (&mo, [4, 4, 4, 4, 4, 4, 4]),
        (&lee, [3, 5, 3, 5, 3, 5, 5]),
        (&fay, [5, 3, 5, 3, 5, 3, 3]),
        (&pat, [6, 2, 6, 2, 6, 2, 2]),
    ] {
        let (status, body) = api
            .post(
                &format!("/api/v1/teams/ops/pulse-rounds/{round}/answers"),
                json!({"answers": answers, "comment": "WREN-PULSE deploys feel rushed"}),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }

    let (status, started) = fay
        .post(
            "/api/v1/teams/ops/reviews",
            json!({"loop_id": anonymous_loop, "dots": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let review = started["id"].as_str().expect("id").to_owned();
    let base = format!("/api/v1/teams/ops/reviews/{review}");
    for api in [&lee, &mo, &wren] {
        ok(
            api,
            reqwest::Method::POST,
            &format!("{base}/participants"),
            json!({}),
        )
        .await;
    }
    ok(
        &fay,
        reqwest::Method::POST,
        &format!("{base}/advance"),
        json!({"from": "open_actions"}),
    )
    .await;
    for (api, text, named) in [
        (&wren, "WREN-CARD add a quokka guard to the pipeline", false),
        (&lee, "LEE-CARD the deadline came from me", false),
        (&mo, "MO-CARD the retry looked safe", true),
    ] {
        ok(
            api,
            reqwest::Method::POST,
            &format!("{base}/cards"),
            json!({"kind": "idea", "text": text, "show_name": named}),
        )
        .await;
    }

    let mut viewers = Vec::new();
    for (role, email, api, outsider) in [
        ("member", "mo@example.org", mo, false),
        ("lead", "lee@example.org", lee, false),
        ("facilitator", "fay@example.org", fay, false),
        (
            "admin",
            "root@example.org",
            app.token_for("root@example.org").await,
            false,
        ),
        ("another team's member", "oz@example.org", oz, true),
    ] {
        viewers.push(Viewer {
            role,
            web: app.sign_in(email).await,
            api,
            outsider,
        });
    }
    World {
        viewers,
        writer: vec![
            "Wren Writer".to_owned(),
            "wren@example.org".to_owned(),
            wren_id,
        ],
        names: ["Wren Writer", "Lee Lead", "Fay Facilitator", "Pat Peer"]
            .map(str::to_owned)
            .to_vec(),
        review,
        anonymous_loop,
        round,
    }
}

/// The page without its "Who joined" list, which names everyone in the session by design.
fn without_roster(html: &str) -> String {
    match html.find("<section aria-labelledby=\"roster-heading\">") {
        Some(start) => {
            let end = html[start..]
                .find("</section>")
                .map_or(html.len(), |e| start + e);
            format!("{}{}", &html[..start], &html[end..])
        }
        None => html.to_owned(),
    }
}

/// The page without the choices of its forms: a list of the team's members to pick an action's
/// owner from names everyone, and the writer with them.
fn without_choices(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<option") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("</option>")
            .map_or("", |end| &rest[start + end + "</option>".len()..]);
    }
    out.push_str(rest);
    out
}

/// The HTML of each card on a review page.
fn card_items(html: &str) -> Vec<&str> {
    html.split("<li class=\"card")
        .skip(1)
        .map(|rest| rest.split("</li>").next().unwrap_or(rest))
        .collect()
}

fn assert_unnamed_cards(world: &World, where_: &str, cards: &[Value]) {
    for card in cards {
        if card["author"].is_null() {
            assert!(
                card.get("from_lead").is_none(),
                "{where_}: an unnamed card carries a role: {card}"
            );
        }
    }
    for card in cards {
        let text = card["text"].as_str().unwrap_or("");
        if text.starts_with("WREN-CARD") || text.starts_with("LEE-CARD") {
            for name in &world.names {
                assert!(
                    !card.to_string().contains(name.as_str()),
                    "{where_}: {card}"
                );
            }
        }
    }
}

async fn walk(world: &World, phase: &str) {
    let team_pages = [
        format!("/teams/ops/reviews/{}", world.review),
        format!("/teams/ops/reviews/{}/live", world.review),
        format!("/teams/ops/reviews/{}/summary.md", world.review),
        "/teams/ops/reviews".to_owned(),
        format!("/teams/ops/loops/{}", world.anonymous_loop),
        "/teams/ops/loops".to_owned(),
        "/teams/ops/pulse".to_owned(),
        format!("/teams/ops/pulse/{}", world.round),
        "/teams/ops/health".to_owned(),
    ];
    let team_api = [
        format!("/api/v1/teams/ops/reviews/{}", world.review),
        format!("/api/v1/teams/ops/reviews/{}/summary", world.review),
        "/api/v1/teams/ops/reviews".to_owned(),
        format!("/api/v1/teams/ops/loops/{}", world.anonymous_loop),
        "/api/v1/teams/ops/loops".to_owned(),
        format!("/api/v1/teams/ops/pulse-rounds/{}", world.round),
        "/api/v1/teams/ops/export?format=json".to_owned(),
        "/api/v1/teams/ops/export?format=markdown".to_owned(),
        "/api/v1/teams/ops/export?format=csv".to_owned(),
    ];
    let open_pages = ["/", "/search?q=quokka", "/library", "/health"];
    let open_api = ["/api/v1/search?q=quokka", "/api/v1/library"];
    for viewer in &world.viewers {
        let who = format!("{phase}, {}", viewer.role);
        let mut seen: Vec<(String, String)> = Vec::new();
        for path in &team_pages {
            let (status, html) = viewer.web.get_text(path).await;
            if viewer.outsider {
                assert_eq!(status, StatusCode::NOT_FOUND, "{who}: {path}");
            } else {
                assert_eq!(status, StatusCode::OK, "{who}: {path}");
            }
            for card in card_items(&html) {
                assert!(!card.contains(">lead<"), "{who}: {path}: a role on a card");
                if card.contains("WREN-CARD") || card.contains("LEE-CARD") {
                    for name in &world.names {
                        assert!(!card.contains(name.as_str()), "{who}: {path}: {card}");
                    }
                }
            }
            seen.push((path.clone(), without_choices(&without_roster(&html))));
        }
        for path in open_pages {
            let (status, html) = viewer.web.get_text(path).await;
            assert_eq!(status, StatusCode::OK, "{who}: {path}");
            seen.push((path.to_owned(), html));
        }
        for path in team_api.iter().map(String::as_str).chain(open_api) {
            let (status, mut body) = viewer.api.get(path).await;
            let is_team = path.starts_with("/api/v1/teams/");
            if viewer.outsider && is_team {
                assert_eq!(status, StatusCode::NOT_FOUND, "{who}: {path}");
            } else {
                assert_eq!(status, StatusCode::OK, "{who}: {path}: {body}");
            }
            if let Some(cards) = body["cards"].as_array() {
                assert_unnamed_cards(world, &format!("{who}: {path}"), cards);
            }
            if let Some(fields) = body.as_object_mut() {
                // Who joined is listed by design; who wrote what is not.
                fields.remove("roster");
            }
            seen.push((path.to_owned(), body.to_string()));
        }
        for (path, text) in &seen {
            for needle in &world.writer {
                assert!(
                    !text.contains(needle.as_str()),
                    "{who}: {path} names the writer ({needle})"
                );
            }
        }
    }
}

story!(
    no_page_names_the_writer_of_anything_unnamed,
    |app: TestApp| async move {
        let world = world(&app).await;
        walk(&world, "writing").await;

        let base = format!("/api/v1/teams/ops/reviews/{}", world.review);
        let facilitator = &world.viewers[2].api;
        assert_eq!(world.viewers[2].role, "facilitator");
        let writers: Vec<&Api> = world.viewers[..3].iter().map(|v| &v.api).collect();
        let wren = app.token_for("wren@example.org").await;
        for api in writers.iter().copied().chain([&wren]) {
            ok(
                api,
                reqwest::Method::PUT,
                &format!("{base}/done"),
                json!({"done": true}),
            )
            .await;
        }
        let (_, revealed) = facilitator.get(&base).await;
        assert_eq!(revealed["phase"], "reveal", "{revealed}");
        assert_eq!(revealed["leads_cards_revealed"], true);
        walk(&world, "revealed").await;

        // The vote, then Wren's card becomes an action on the anonymous loop.
        for from in ["reveal", "group", "vote", "discuss"] {
            ok(
                facilitator,
                reqwest::Method::POST,
                &format!("{base}/advance"),
                json!({"from": from}),
            )
            .await;
        }
        let (_, decide) = facilitator.get(&base).await;
        let card = decide["cards"]
            .as_array()
            .expect("cards")
            .iter()
            .find(|c| {
                c["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("WREN-CARD"))
            })
            .and_then(|c| c["id"].as_str())
            .expect("Wren's card")
            .to_owned();
        ok(
            facilitator,
            reqwest::Method::POST,
            &format!("{base}/decisions"),
            json!({"card_id": card, "kind": "action", "text": ""}),
        )
        .await;
        ok(
            &wren,
            reqwest::Method::POST,
            &format!("{base}/decisions/{}/dissents", {
                let (_, v) = facilitator.get(&base).await;
                v["decisions"][0]["id"]
                    .as_str()
                    .expect("decision")
                    .to_owned()
            }),
            json!({"reason": "WREN-DISSENT a guard alone will not hold"}),
        )
        .await;
        ok(
            facilitator,
            reqwest::Method::POST,
            &format!("{base}/close"),
            json!({}),
        )
        .await;
        let lead = &world.viewers[1].api;
        assert_eq!(world.viewers[1].role, "lead");
        ok(
            lead,
            reqwest::Method::POST,
            &format!("/api/v1/teams/ops/pulse-rounds/{}/close", world.round),
            json!({}),
        )
        .await;
        walk(&world, "closed").await;
    }
);
