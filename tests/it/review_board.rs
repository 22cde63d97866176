//! Issue 19: the review board through its plain forms (no script): columns by card kind, the
//! "Group selected" form with its targets, editable group titles, dots typed into the ballot's
//! number fields and sent on "Done", the copy ("1 dot", not "1 dots") and a closed session that
//! no longer offers "I disagree", and no id used twice on the board or the loop page. The same
//! forms with the script are in `browser_board.rs`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{location, Api, Browser, TestApp};
use crate::review::{ok, session_in_write, team, view};
use crate::story;

/// Three cards, one of each kind, revealed and in the group phase. Returns the API base, the
/// page's path and the ids of the observation, factor and idea.
pub(crate) async fn board_in_group_phase(
    mo: &Api,
    lee: &Api,
    kim: &Api,
    loop_id: &str,
) -> (String, String, [String; 3]) {
    let base = session_in_write(mo, lee, kim, loop_id).await;
    let mut ids = Vec::new();
    for (api, kind, text) in [
        (
            mo,
            "observation",
            "The queue grew for an hour before anyone looked",
        ),
        (kim, "factor", "The alert went to a channel nobody watched"),
        (lee, "idea", "Route queue alerts to the on-call rota"),
    ] {
        let card = ok(
            api,
            Method::POST,
            &format!("{base}/cards"),
            json!({"kind": kind, "text": text, "show_name": false}),
        )
        .await;
        ids.push(card["id"].as_str().expect("id").to_owned());
    }
    for api in [mo, lee, kim] {
        ok(
            api,
            Method::PUT,
            &format!("{base}/done"),
            json!({"done": true}),
        )
        .await;
    }
    ok(
        mo,
        Method::POST,
        &format!("{base}/advance"),
        json!({"from": "reveal"}),
    )
    .await;
    let page = base.replace("/api/v1", "");
    let ids: [String; 3] = ids.try_into().expect("three cards");
    (base, page, ids)
}

/// Posts a form from the session page; returns the status and the answer's text.
async fn post(
    web: &Browser,
    page: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let response = web.submit(page, &format!("{page}/{action}"), fields).await;
    let status = response.status();
    if status == StatusCode::SEE_OTHER {
        assert_eq!(location(&response).split('?').next(), Some(page));
    }
    (status, response.text().await.expect("body"))
}

/// The element ids a page uses more than once.
fn duplicate_ids(html: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut twice = Vec::new();
    for part in html.split(" id=\"").skip(1) {
        let id = part.split('"').next().unwrap_or_default().to_owned();
        if !seen.insert(id.clone()) {
            twice.push(id);
        }
    }
    twice
}

fn group_of<'a>(v: &'a Value, card: &str) -> Option<&'a str> {
    v["cards"]
        .as_array()
        .expect("cards")
        .iter()
        .find(|c| c["id"] == card)
        .and_then(|c| c["group_id"].as_str())
}

fn title_of<'a>(v: &'a Value, group: &str) -> &'a str {
    v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|g| g["id"] == group)
        .and_then(|g| g["title"].as_str())
        .expect("group")
}

story!(
    the_board_groups_and_votes_through_plain_forms,
    |app: TestApp| async move {
        let (lee, mo, kim, _root, loop_id) = team(&app).await;
        let (base, page, [seen, factor, idea]) =
            board_in_group_phase(&mo, &lee, &kim, &loop_id).await;
        let web = app.sign_in("kim@example.org").await;

        // The board: a column per kind, each card a tile with a box to tick for grouping.
        let (status, html) = web.get_text(&page).await;
        assert_eq!(status, StatusCode::OK);
        for needle in [
            "class=\"board\"",
            ">Observations <",
            ">Contributing factors <",
            ">Ideas <",
            "Group selected",
            &format!("name=\"pick_{seen}\""),
            "form=\"group-form\"",
        ] {
            assert!(html.contains(needle), "the board lacks {needle}");
        }

        // The facilitator's controls sit in one bar, shown to the facilitator only; the timer
        // they set shows to everyone.
        assert!(
            !html.contains("class=\"facilitator-bar\""),
            "Kim does not facilitate"
        );
        let facilitator = app.sign_in("mo@example.org").await;
        let (_, mine) = facilitator.get_text(&page).await;
        let bar = &mine[mine.find("class=\"facilitator-bar\"").expect("the bar")..];
        let bar = &bar[..bar.find("</section>").expect("its end")];
        for control in ["Move on to Vote", "Set timer", "Close the session"] {
            assert!(bar.contains(control), "the bar lacks {control}");
        }
        let (status, _) = post(&facilitator, &page, "timer", &[("minutes", "7")]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, html) = web.get_text(&page).await;
        assert!(
            html.contains("role=\"timer\""),
            "the timer shows to a participant"
        );
        assert!(
            html.contains("Time left: <strong>6 min") || html.contains("Time left: <strong>7 min")
        );

        assert_eq!(
            duplicate_ids(&mine),
            Vec::<String>::new(),
            "the facilitator's board"
        );
        let (_, loop_page) = facilitator
            .get_text(&format!("/teams/ops/loops/{loop_id}"))
            .await;
        assert_eq!(
            duplicate_ids(&loop_page),
            Vec::<String>::new(),
            "the loop page"
        );
        assert!(
            loop_page.contains("<h3 id=\"actions\">"),
            "the #actions anchor stays"
        );

        // Keyboard (or no script): tick two cards, name the group, "Group selected".
        let seen_pick = format!("pick_{seen}");
        let factor_pick = format!("pick_{factor}");
        let idea_pick = format!("pick_{idea}");
        let (status, _) = post(
            &web,
            &page,
            "group-selected",
            &[
                (&seen_pick, "on"),
                (&factor_pick, "on"),
                ("target", "new"),
                ("title", "Nobody watched the queue"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, html) = web.get_text(&format!("{page}?notice=cards-grouped")).await;
        assert!(html.contains("Cards grouped."));
        let v = view(&kim, &base).await;
        let group = group_of(&v, &seen).expect("grouped").to_owned();
        assert_eq!(group_of(&v, &factor), Some(group.as_str()));
        assert_eq!(group_of(&v, &idea), None);
        assert_eq!(title_of(&v, &group), "Nobody watched the queue");

        // Its title is editable.
        let (status, _) = post(
            &web,
            &page,
            "group-title",
            &[("group_id", &group), ("title", "Unwatched alerts")],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let v = view(&kim, &base).await;
        assert_eq!(title_of(&v, &group), "Unwatched alerts");
        let (_, html) = web.get_text(&page).await;
        assert!(
            html.contains("value=\"Unwatched alerts\""),
            "the title field holds the title"
        );

        // Into a group that exists, and out of it again.
        let (status, _) = post(
            &web,
            &page,
            "group-selected",
            &[(&idea_pick, "on"), ("target", &group)],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(
            group_of(&view(&kim, &base).await, &idea),
            Some(group.as_str())
        );
        let (status, _) = post(
            &web,
            &page,
            "group-selected",
            &[(&idea_pick, "on"), ("target", "none")],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(group_of(&view(&kim, &base).await, &idea), None);

        // What drag and drop posts: one card on "new group", without a title.
        let (status, _) = post(
            &web,
            &page,
            "group-selected",
            &[(&idea_pick, "on"), ("target", "new"), ("title", "")],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let v = view(&kim, &base).await;
        let second = group_of(&v, &idea).expect("grouped").to_owned();
        assert_eq!(title_of(&v, &second), "Group 2");

        // Bad input is named: nothing ticked, a group that is not the session's, an empty title,
        // a card that is not the session's.
        let (status, html) = post(
            &web,
            &page,
            "group-selected",
            &[("target", "new"), ("title", "x")],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("choose at least one card"), "{html}");
        assert!(html.contains("href=\"#selected\""));
        let (status, html) = post(
            &web,
            &page,
            "group-selected",
            &[(&idea_pick, "on"), ("target", "no-such-group")],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("is not a group of this session"));
        let (status, html) = post(
            &web,
            &page,
            "group-title",
            &[("group_id", &group), ("title", "  ")],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("href=\"#title\""), "the title is named");
        let (status, _) = post(
            &web,
            &page,
            "group-selected",
            &[("pick_not-a-card", "on"), ("target", "none")],
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let v = view(&kim, &base).await;
        assert_eq!(
            v["groups"].as_array().map(Vec::len),
            Some(2),
            "a refused form makes no group"
        );

        // Voting without the script: numbers typed into the tiles, sent on "Done".
        ok(
            &mo,
            Method::POST,
            &format!("{base}/advance"),
            json!({"from": "group"}),
        )
        .await;
        let (_, html) = web.get_text(&page).await;
        assert!(
            html.contains("data-dots-left"),
            "the dots counter is on the board"
        );
        assert!(html.contains(&format!("name=\"dots_{idea}\"")));
        assert!(html.contains(">Done</button>"));
        assert_eq!(
            duplicate_ids(&html),
            Vec::<String>::new(),
            "the board while voting"
        );
        assert!(html.contains("3 dots each"));
        let idea_dots = format!("dots_{idea}");
        let seen_dots = format!("dots_{seen}");
        let (status, html) =
            post(&web, &page, "vote", &[(&idea_dots, "3"), (&seen_dots, "1")]).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "four dots of three"
        );
        assert!(html.contains("each person has 3"));
        let (status, _) = post(&web, &page, "vote", &[(&idea_dots, "2"), (&seen_dots, "1")]).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let (_, html) = web.get_text(&page).await;
        assert!(html.contains("Your ballot is sealed without your name"));
        assert!(
            !html.contains(" dot</strong>") && !html.contains(" dots</strong>"),
            "no totals before the close"
        );
        ok(
            &mo,
            Method::POST,
            &format!("{base}/ballot"),
            json!({"dots": {factor.clone(): 1}}),
        )
        .await;
        ok(
            &lee,
            Method::POST,
            &format!("{base}/ballot"),
            json!({"dots": {seen.clone(): 1}}),
        )
        .await;

        // Totals at the close, in words that agree with their number.
        let v = view(&kim, &base).await;
        assert_eq!(v["phase"], "discuss");
        let (_, html) = web.get_text(&page).await;
        assert!(html.contains("2 dots</strong>"), "{html}");
        assert!(html.contains("1 dot</strong>"), "one dot is a dot");
        ok(
            &mo,
            Method::POST,
            &format!("{base}/advance"),
            json!({"from": "discuss"}),
        )
        .await;
        let decision = ok(
            &mo,
            Method::POST,
            &format!("{base}/decisions"),
            json!({"card_id": idea, "kind": "action", "text": "Route queue alerts to the on-call rota"}),
        )
        .await;
        let decision = decision["id"].as_str().expect("decision").to_owned();
        let (_, html) = web.get_text(&page).await;
        assert!(
            html.contains("<summary>I disagree</summary>"),
            "disagreement is offered while the session runs"
        );
        ok(&mo, Method::POST, &format!("{base}/close"), json!({})).await;
        let (_, html) = web.get_text(&page).await;
        assert!(
            !html.contains("<summary>I disagree</summary>"),
            "a closed session offers no dissent"
        );
        assert_eq!(html.matches("<h1").count(), 1, "one page title: {html}");
        assert_eq!(
            html.matches("The queue grew for an hour before anyone looked")
                .count(),
            1,
            "the closed board is not repeated under a summary"
        );
        assert!(html.contains("/summary.md\">Download the summary"));
        let (status, _) = kim
            .post(
                &format!("{base}/decisions/{decision}/dissents"),
                json!({"reason": "too late", "show_name": false}),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (_, summary) = web.get_text(&format!("{page}/summary.md")).await;
        assert!(summary.contains("(1 dot)"), "{summary}");
        assert!(summary.contains("(2 dots)"), "{summary}");
    }
);

story!(
    an_unnamed_card_is_shown_back_to_its_writer_alone,
    |app: TestApp| async move {
        let (lee, mo, kim, _root, loop_id) = team(&app).await;
        let base = session_in_write(&mo, &lee, &kim, &loop_id).await;
        let page = base.replace("/api/v1", "");
        let kim_web = app.sign_in("kim@example.org").await;
        let response = kim_web
            .submit(
                &page,
                &format!("{page}/cards"),
                &[
                    ("kind", "factor"),
                    ("text", "KIM-UNNAMED the pager was muted"),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let receipt = response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with("ff_cards_"))
            .expect("the browser gets a receipt")
            .to_owned();
        assert!(receipt.contains("HttpOnly"), "{receipt}");
        assert!(
            !receipt.contains("KIM-UNNAMED"),
            "the receipt holds no readable text"
        );
        ok(
            &mo,
            Method::POST,
            &format!("{base}/cards"),
            json!({"kind": "observation", "text": "MO-UNNAMED queue grew", "show_name": false}),
        )
        .await;

        // Before the reveal: Kim sees her own unnamed card, Mo sees only his (by the API, none).
        let (_, html) = kim_web.get_text(&page).await;
        assert!(html.contains("Your unnamed cards"), "{html}");
        assert!(html.contains("KIM-UNNAMED the pager was muted"));
        assert!(!html.contains("MO-UNNAMED"));
        let mo_web = app.sign_in("mo@example.org").await;
        let (_, html) = mo_web.get_text(&page).await;
        assert!(!html.contains("KIM-UNNAMED"));
        assert!(
            !html.contains("Your unnamed cards"),
            "Mo wrote through the API"
        );

        // Kim's receipt presented by Mo's browser opens nothing: it is sealed to Kim.
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let thief = Browser {
            client: reqwest::Client::builder()
                .cookie_provider(jar.clone())
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: app.address.clone(),
        };
        let signed_in = thief
            .submit(
                "/login",
                "/login",
                &[
                    ("email", "mo@example.org"),
                    ("password", crate::helpers::PASSWORD),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
        let url: reqwest::Url = app.url(&page).parse().expect("url");
        jar.add_cookie_str(&receipt, &url);
        let (status, html) = thief.get_text(&page).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            !html.contains("KIM-UNNAMED"),
            "a stolen receipt shows nothing"
        );

        // After the reveal: the card is on the board without a name; only Kim's page marks it.
        for api in [&mo, &lee, &kim] {
            ok(
                api,
                Method::PUT,
                &format!("{base}/done"),
                json!({"done": true}),
            )
            .await;
        }
        let v = view(&kim, &base).await;
        let card = v["cards"]
            .as_array()
            .expect("cards")
            .iter()
            .find(|c| c["text"] == "KIM-UNNAMED the pager was muted")
            .expect("revealed")
            .clone();
        assert!(card.get("author").is_none() || card["author"].is_null());
        let id = card["id"].as_str().expect("id");
        let tile = |html: &str| {
            let start = html.find(&format!("id=\"card-{id}\"")).expect("the tile");
            html[start..start + html[start..].find("</li>").expect("end")].to_owned()
        };
        let (_, html) = kim_web.get_text(&page).await;
        assert!(tile(&html).contains(">yours"), "{}", tile(&html));
        assert_eq!(html.matches(">yours").count(), 1, "only her own card");
        for other in [&mo_web, &thief] {
            let (_, html) = other.get_text(&page).await;
            assert!(!tile(&html).contains(">yours"));
            assert!(!html.contains(">yours"));
        }
        let (_, fragment) = kim_web.get_text(&format!("{page}/live")).await;
        assert!(
            fragment.contains(">yours"),
            "live refreshes keep the mark: {fragment}"
        );
    }
);
