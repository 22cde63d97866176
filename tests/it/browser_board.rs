//! Issue 19: the review board in Chromium — grouping by keyboard ("Group selected") and by drag
//! and drop (SortableJS posting the same form), voting by clicking dots with a "dots left"
//! counter and the ballot sent on "Done", totals only once the vote has closed, and no axe
//! violation on the board at 1280 and 390 px.

use std::time::Duration;

use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::{Client, Locator};
use reqwest::Method;
use serde_json::json;

use crate::browser::{click_at, click_button, fill, sign_in_browser, wait_for_text, Driver};
use crate::browser_axe::violations;
use crate::browser_csp::csp_violations;
use crate::helpers::TestApp;
use crate::review::{ok, team, view};
use crate::review_board::board_in_group_phase;
use crate::story;

/// Drags the element at `from` onto the element at `to` with the mouse, in small steps, as
/// SortableJS's pointer-event mode follows them.
async fn drag(browser: &Client, from: &str, to: &str) {
    let source = browser
        .find(Locator::Css(from))
        .await
        .expect("dragged tile");
    let target = browser.find(Locator::Css(to)).await.expect("drop zone");
    let step = Some(Duration::from_millis(150));
    let actions = MouseActions::new("mouse".to_owned())
        .then(PointerAction::MoveToElement {
            element: source,
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveBy {
            duration: step,
            x: 10.0,
            y: 10.0,
        })
        .then(PointerAction::MoveToElement {
            element: target.clone(),
            duration: step,
            x: 0.0,
            y: -5.0,
        })
        .then(PointerAction::MoveToElement {
            element: target,
            duration: step,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Pause {
            duration: Duration::from_millis(200),
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    browser
        .perform_actions(actions)
        .await
        .expect("drag and drop");
    browser.release_actions().await.expect("release");
}

async fn no_axe_violations(browser: &Client, when: &str) {
    let found = violations(browser).await;
    assert!(
        found.is_empty(),
        "axe on the board {when}:\n{}",
        found.join("\n")
    );
}

story!(
    the_board_groups_by_keyboard_and_drag_and_votes_by_clicking_dots,
    |app: TestApp| async move {
        let Some(mut driver) = Driver::start().await else {
            return;
        };
        let (lee, mo, kim, _root, loop_id) = team(&app).await;
        let (base, page, [seen, factor, idea]) =
            board_in_group_phase(&mo, &lee, &kim, &loop_id).await;
        let browser = sign_in_browser(&mut driver, &app, "kim@example.org").await;
        browser.goto(&app.url(&page)).await.expect("board");
        wait_for_text(&browser, "Group selected").await;

        // Keyboard: tick two tiles, name the group, "Group selected".
        click_at(&browser, &format!("//input[@id='pick-{seen}']")).await;
        click_at(&browser, &format!("//input[@id='pick-{factor}']")).await;
        fill(&browser, "group-title", "Unwatched alerts").await;
        click_button(&browser, "Group selected").await;
        wait_for_text(&browser, "Unwatched alerts (2 cards)").await;
        no_axe_violations(&browser, "while grouping, 1280 px").await;

        // Drag and drop: the idea onto "new group".
        wait_for_text(&browser, "Drop a card here to start a new group").await;
        drag(
            &browser,
            &format!("#card-{idea} .tile-text"),
            "ul[data-drop-group='new']",
        )
        .await;
        wait_for_text(&browser, "Group 2 (1 card)").await;
        let logged = csp_violations(&driver, &browser).await;
        assert!(logged.is_empty(), "dragging broke the policy: {logged:?}");
        let v = view(&kim, &base).await;
        let in_group = v["cards"]
            .as_array()
            .expect("cards")
            .iter()
            .all(|c| c["group_id"].is_string());
        assert!(in_group, "every card is in a group: {v}");

        // The facilitator opens the vote; Kim's board follows live.
        ok(
            &mo,
            Method::POST,
            &format!("{base}/advance"),
            json!({"from": "group"}),
        )
        .await;
        wait_for_text(&browser, "3 of 3 dots left").await;
        let place = |card: &str| {
            format!("//li[@id='card-{card}']//button[.//span[normalize-space()='Place a dot']]")
        };
        let take_back = |card: &str| {
            format!("//li[@id='card-{card}']//button[.//span[normalize-space()='Take back a dot']]")
        };
        click_at(&browser, &place(&idea)).await;
        click_at(&browser, &place(&idea)).await;
        wait_for_text(&browser, "1 of 3 dots left").await;
        click_at(&browser, &take_back(&idea)).await;
        wait_for_text(&browser, "2 of 3 dots left").await;
        click_at(&browser, &place(&seen)).await;
        wait_for_text(&browser, "1 of 3 dots left").await;
        // Lee votes meanwhile: Kim's board refreshes live and keeps her dots.
        ok(
            &lee,
            Method::POST,
            &format!("{base}/ballot"),
            json!({"dots": {idea.clone(): 1}}),
        )
        .await;
        let text = wait_for_text(&browser, "1 of 3 have voted").await;
        assert!(text.contains("1 of 3 dots left"), "{text}");
        browser
            .set_window_size(390, 844)
            .await
            .expect("narrow window");
        let wide = browser
            .execute(
                "return document.documentElement.scrollWidth <= window.innerWidth;",
                Vec::new(),
            )
            .await
            .expect("width");
        assert_eq!(wide, json!(true), "the board fits 390 px");
        no_axe_violations(&browser, "while voting, 390 px").await;
        click_button(&browser, "Done").await;
        wait_for_text(&browser, "Your ballot is sealed without your name").await;
        assert!(
            view(&kim, &base).await["totals"].is_null(),
            "no totals before the close"
        );

        // The last ballot closes the vote: totals show, on Kim's board too.
        ok(
            &mo,
            Method::POST,
            &format!("{base}/ballot"),
            json!({"dots": {idea.clone(): 1}}),
        )
        .await;
        wait_for_text(&browser, "Explore, do not win").await;
        let mut totals = Vec::new();
        for element in browser
            .find_all(Locator::Css("strong.dots"))
            .await
            .expect("totals")
        {
            totals.push(element.text().await.expect("total"));
        }
        totals.sort();
        assert_eq!(totals, ["1 dot", "3 dots"]);
        browser.close().await.expect("close");
    }
);

/// The key both instances share, so that a session or a sealed card from one reads on the other.
const SHARED_KEY: &str = "a shared secret key for both board instances, long enough";

/// A Chromium session signed in through the app server at `base`.
async fn sign_in_at(driver: &mut Driver, base: &str, email: &str) -> Client {
    let browser = driver.session().await;
    browser.goto(&format!("{base}/login")).await.expect("login");
    fill(&browser, "email", email).await;
    fill(&browser, "password", crate::helpers::PASSWORD).await;
    click_button(&browser, "Sign in").await;
    wait_for_text(&browser, "Sign out").await;
    browser
}

/// Marks the page's window, so that a later check can tell a live update from a reload.
async fn mark_window(browser: &Client) {
    browser
        .execute("window.boardMarker = 'still this page';", Vec::new())
        .await
        .expect("mark the window");
}

async fn still_marked(browser: &Client) -> bool {
    browser
        .execute(
            "return window.boardMarker === 'still this page';",
            Vec::new(),
        )
        .await
        .expect("read the mark")
        == json!(true)
}

/// Two app servers on one PostgreSQL database, as behind a load balancer: an unnamed card sealed
/// through instance A (held in A's memory, counted in the database), and then the reveal, reach
/// the board opened through instance B live, without a reload. Skipped (with a notice) without PostgreSQL unless the full suite is required.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_written_on_one_instance_shows_live_on_the_other() {
    let Some(app) = TestApp::spawn_with(crate::helpers::Backend::Postgres, |s| {
        s.secret_key = Some(SHARED_KEY.to_owned())
    })
    .await
    else {
        return;
    };
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let second = app
        .sibling(|s| s.secret_key = Some(SHARED_KEY.to_owned()))
        .await;
    let (lee, mo, kim, _root, loop_id) = team(&app).await;
    let base = crate::review::session_in_write(&mo, &lee, &kim, &loop_id).await;
    let page = base.trim_start_matches("/api/v1").to_owned();

    let kim_on_a = sign_in_at(&mut driver, &app.address, "kim@example.org").await;
    let lee_on_b = sign_in_at(&mut driver, &second.address, "lee@example.org").await;
    kim_on_a
        .goto(&format!("{}{page}", app.address))
        .await
        .expect("board on A");
    lee_on_b
        .goto(&format!("{}{page}", second.address))
        .await
        .expect("board on B");
    wait_for_text(&kim_on_a, "0 cards sealed").await;
    wait_for_text(&lee_on_b, "0 cards sealed").await;
    mark_window(&lee_on_b).await;

    // Kim seals an unnamed card through A: it waits in A's memory until the reveal, but the
    // database counts it, so Lee's board on B counts it too, without a reload, unread.
    fill(&kim_on_a, "card-text", "The canary ran on the wrong region").await;
    click_button(&kim_on_a, "Seal this card").await;
    wait_for_text(&kim_on_a, "1 card sealed").await;
    let text = wait_for_text(&lee_on_b, "1 card sealed").await;
    assert!(
        !text.contains("canary ran on the wrong region"),
        "B shows a sealed card: {text}"
    );
    assert!(still_marked(&lee_on_b).await, "B reloaded the page");

    // Everyone finishes: the card is revealed on B, live.
    for api in [&mo, &lee] {
        ok(
            api,
            Method::PUT,
            &format!("{base}/done"),
            json!({"done": true}),
        )
        .await;
    }
    click_button(&kim_on_a, "I have finished writing").await;
    wait_for_text(&lee_on_b, "The canary ran on the wrong region").await;
    assert!(still_marked(&lee_on_b).await, "B reloaded the page");
    let via_b = second.api_as(&lee);
    assert_eq!(view(&via_b, &base).await["phase"], "reveal");
    kim_on_a.close().await.expect("close");
    lee_on_b.close().await.expect("close");
}
