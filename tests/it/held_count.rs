//! Issue 19: unnamed sealed items wait in the memory of the instance that took them until their
//! reveal, but how many there are is counted in the database (`sealed_boxes.held_items`), so that
//! every instance — the holding one included — shows the same count before and after the reveal,
//! and a graceful stop does not count twice what it writes or keep counting what it drops. The
//! count is one number per box: a database reader learns from it nothing that orders or names
//! the writers.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{Api, Backend, Browser, TestApp, TestDb};
use crate::review::{ok, session_in_write, team, view};
use crate::story;

const SECRET_KEY: &str = "a shared secret key for both app instances, long enough";

/// Seals an unnamed observation card.
async fn write_unnamed(api: &Api, base: &str, text: &str) {
    let (status, card) = api
        .post(
            &format!("{base}/cards"),
            json!({"kind": "observation", "text": text, "show_name": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
}

fn session_id(base: &str) -> &str {
    base.rsplit('/').next().expect("session id")
}

/// The cards box of the session at `base` (API path).
async fn cards_box(db: &TestDb, base: &str) -> String {
    let rows = db
        .dump(&format!(
            "SELECT cards_box_id FROM review_sessions WHERE id = '{}'",
            session_id(base)
        ))
        .await;
    rows[0][0].1.clone()
}

/// What the database counts as held for the box, and how many of its items are written.
async fn stored(db: &TestDb, box_id: &str) -> (i64, i64) {
    let held = db
        .count(&format!(
            "SELECT held_items FROM sealed_boxes WHERE id = '{box_id}'"
        ))
        .await;
    let written = db
        .count(&format!(
            "SELECT COUNT(*) FROM sealed_items WHERE box_id = '{box_id}'"
        ))
        .await;
    (held, written)
}

/// The count of sealed cards the web board shows (its status line during the writing phase).
async fn board_count(web: &Browser, base: &str) -> String {
    let page = base.trim_start_matches("/api/v1");
    let (status, html) = web.get_text(page).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let line = html
        .lines()
        .find(|line| line.contains("have finished writing"))
        .unwrap_or_else(|| panic!("no status line on the board: {html}"));
    let end = line.find(" sealed.").expect("the count of sealed cards");
    let start = line[..end].rfind("· ").expect("the count") + "· ".len();
    line[start..end].to_owned()
}

fn cards_sealed(n: i64) -> String {
    if n == 1 {
        "1 card".to_owned()
    } else {
        format!("{n} cards")
    }
}

/// Marks everyone done; brings the leads' cards forward if they are not shown yet.
async fn finish_writing(lee: &Api, mo: &Api, kim: &Api, base: &str) -> Value {
    for api in [mo, kim, lee] {
        ok(
            api,
            Method::PUT,
            &format!("{base}/done"),
            json!({"done": true}),
        )
        .await;
    }
    let v = view(mo, base).await;
    assert_eq!(v["phase"], "reveal", "{v}");
    if v["leads_cards_revealed"] == false {
        ok(mo, Method::POST, &format!("{base}/show-leads"), json!({})).await;
    }
    view(mo, base).await
}

story!(
    the_holding_instance_counts_its_unnamed_cards_before_and_after_the_reveal,
    |app: TestApp| async move {
        let (lee, mo, kim, _root, loop_id) = team(&app).await;
        let base = session_in_write(&mo, &lee, &kim, &loop_id).await;
        let box_id = cards_box(&app.db, &base).await;
        let web = app.sign_in("mo@example.org").await;
        assert_eq!(board_count(&web, &base).await, cards_sealed(0));

        // Members' cards (the open tier) and the lead's (the late tier), none named.
        for (n, (api, text)) in [
            (&mo, "The retry storm hid the slow query"),
            (&kim, "Nobody owned the payment alert"),
            (&lee, "The rollout was rushed"),
        ]
        .into_iter()
        .enumerate()
        {
            write_unnamed(api, &base, text).await;
            let n = n as i64 + 1;
            for who in [&mo, &kim, &lee] {
                assert_eq!(view(who, &base).await["progress"]["cards"], n);
            }
            assert_eq!(board_count(&web, &base).await, cards_sealed(n));
            assert_eq!(
                stored(&app.db, &box_id).await,
                (n, 0),
                "counted as held, nothing written"
            );
        }

        // A second card by the same writer counts too (the mark is already there).
        write_unnamed(&kim, &base, "The dashboard hid the error rate").await;
        assert_eq!(view(&mo, &base).await["progress"]["cards"], 4);
        assert_eq!(stored(&app.db, &box_id).await, (4, 0));

        // The reveal writes them and stops counting them as held, in one transaction.
        let v = finish_writing(&lee, &mo, &kim, &base).await;
        assert_eq!(v["leads_cards_revealed"], true, "{v}");
        assert_eq!(v["cards"].as_array().map(Vec::len), Some(4), "{v}");
        assert_eq!(v["progress"]["cards"], 4, "not counted twice");
        assert_eq!(stored(&app.db, &box_id).await, (0, 4));
        // The periodic writer finds nothing more to write.
        app.service
            .write_due_items()
            .await
            .expect("write due items");
        assert_eq!(view(&kim, &base).await["progress"]["cards"], 4);
        assert_eq!(stored(&app.db, &box_id).await, (0, 4));
    }
);

// A named card is written at once and counted from `sealed_items`; it never touches the held
// count, so the two never count one card twice.
story!(
    named_and_unnamed_cards_are_each_counted_once,
    |app: TestApp| async move {
        let (lee, mo, kim, _root, loop_id) = team(&app).await;
        let base = session_in_write(&mo, &lee, &kim, &loop_id).await;
        let box_id = cards_box(&app.db, &base).await;
        let (status, card) = kim
            .post(
                &format!("{base}/cards"),
                json!({"kind": "idea", "text": "Alert on the queue depth", "show_name": true}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{card}");
        write_unnamed(&mo, &base, "The runbook was out of date").await;
        assert_eq!(stored(&app.db, &box_id).await, (1, 1));
        assert_eq!(view(&lee, &base).await["progress"]["cards"], 2);
        let v = finish_writing(&lee, &mo, &kim, &base).await;
        assert_eq!(v["progress"]["cards"], 2, "{v}");
        assert_eq!(stored(&app.db, &box_id).await, (0, 2));
    }
);

async fn graceful_stop_uncounts_what_it_writes_or_drops(backend: Backend) {
    let Some((app, stop, task)) = TestApp::spawn_stoppable(backend).await else {
        return;
    };
    let (lee, mo, kim, _root, loop_id) = team(&app).await;
    let (status, other) = mo
        .post(
            "/api/v1/teams/ops/loops",
            json!({"title": "The nightly export failed", "what_happened": "No file at 02:00."}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    let other_id = other["id"].as_str().expect("id").to_owned();
    let three = session_in_write(&mo, &lee, &kim, &loop_id).await;
    let two = session_in_write(&mo, &lee, &kim, &other_id).await;
    for (api, text) in [(&mo, "one"), (&mo, "two"), (&kim, "three")] {
        write_unnamed(api, &three, text).await;
    }
    for (api, text) in [(&mo, "four"), (&kim, "five")] {
        write_unnamed(api, &two, text).await;
    }
    let (three_box, two_box) = (
        cards_box(&app.db, &three).await,
        cards_box(&app.db, &two).await,
    );
    assert_eq!(stored(&app.db, &three_box).await, (3, 0));
    assert_eq!(stored(&app.db, &two_box).await, (2, 0));

    let _ = stop.send(());
    task.await.expect("join").expect("graceful stop");
    // Three (still sealed) are written and no longer counted as held; two are dropped (a group
    // of two written alone could be paired with its marks) and no longer counted at all.
    assert_eq!(stored(&app.db, &three_box).await, (0, 3));
    assert_eq!(stored(&app.db, &two_box).await, (0, 0));
    assert_eq!(
        app.db
            .count(&format!(
                "SELECT COUNT(*) FROM sealed_participants WHERE box_id = '{two_box}'"
            ))
            .await,
        2,
        "the writers of dropped cards stay marked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_uncounts_the_cards_it_writes_or_drops_sqlite() {
    graceful_stop_uncounts_what_it_writes_or_drops(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_uncounts_the_cards_it_writes_or_drops_postgres() {
    graceful_stop_uncounts_what_it_writes_or_drops(Backend::Postgres).await;
}

/// Two app servers on one PostgreSQL database, as behind a load balancer: unnamed cards held by
/// either count on both, on the API and on the web board, until each instance has written its
/// own. Skipped without PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unnamed_card_held_by_one_instance_counts_on_the_other() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, |s| {
        s.secret_key = Some(SECRET_KEY.to_owned())
    })
    .await
    else {
        return;
    };
    let second = app
        .sibling(|s| s.secret_key = Some(SECRET_KEY.to_owned()))
        .await;
    let (lee, mo, kim, _root, loop_id) = team(&app).await;
    let base = session_in_write(&mo, &lee, &kim, &loop_id).await;
    let box_id = cards_box(&app.db, &base).await;
    let web_a = app.sign_in("lee@example.org").await;
    // The same browser profile (its session cookie) against the second instance.
    let web_b = Browser {
        client: web_a.client.clone(),
        base: second.address.clone(),
    };
    let (kim_b, lee_b) = (second.api_as(&kim), second.api_as(&lee));

    // Kim's card is held by A, Mo's and Lee's by B.
    write_unnamed(&kim, &base, "The canary ran on the wrong region").await;
    assert_eq!(view(&lee, &base).await["progress"]["cards"], 1, "on A");
    assert_eq!(view(&lee_b, &base).await["progress"]["cards"], 1, "on B");
    assert_eq!(board_count(&web_a, &base).await, cards_sealed(1));
    assert_eq!(board_count(&web_b, &base).await, cards_sealed(1));
    write_unnamed(
        &second.api_as(&mo),
        &base,
        "The alert went to an old channel",
    )
    .await;
    write_unnamed(&lee_b, &base, "I approved the change late at night").await;
    for (api, web) in [(&kim, &web_a), (&kim_b, &web_b)] {
        assert_eq!(view(api, &base).await["progress"]["cards"], 3);
        assert_eq!(board_count(web, &base).await, cards_sealed(3));
    }
    assert_eq!(stored(&app.db, &box_id).await, (3, 0));

    // Everyone finishes through A: A writes Kim's card at the reveal; B's two are still held,
    // and still counted on both.
    let v = finish_writing(&lee, &mo, &kim, &base).await;
    assert_eq!(v["cards"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["progress"]["cards"], 3, "{v}");
    assert_eq!(view(&kim_b, &base).await["progress"]["cards"], 3);
    assert_eq!(stored(&app.db, &box_id).await, (2, 1));
    // B learns of the reveal (its periodic writer, called rather than waited for).
    second
        .service
        .write_due_items()
        .await
        .expect("the second instance writes its cards");
    assert_eq!(stored(&app.db, &box_id).await, (0, 3));
    for api in [&kim, &kim_b] {
        let v = view(api, &base).await;
        assert_eq!(v["cards"].as_array().map(Vec::len), Some(3), "{v}");
        assert_eq!(v["progress"]["cards"], 3, "{v}");
    }
}

// A reader of the database holds every byte. After three people each seal one unnamed card,
// the count added for them is a single number on the box: no row per card or per person, no
// time, no writer's id, name or address, no card text — and the same number whatever order they
// wrote in.
story!(
    a_database_reader_learns_nothing_from_the_held_count,
    |app: TestApp| async move {
        let (lee, mo, kim, _root, loop_id) = team(&app).await;
        let (status, other) = mo
            .post(
                "/api/v1/teams/ops/loops",
                json!({"title": "The nightly export failed", "what_happened": "No file."}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{other}");
        let other_id = other["id"].as_str().expect("id").to_owned();
        let forwards = session_in_write(&mo, &lee, &kim, &loop_id).await;
        let backwards = session_in_write(&mo, &lee, &kim, &other_id).await;
        let boxes = [
            cards_box(&app.db, &forwards).await,
            cards_box(&app.db, &backwards).await,
        ];
        let before = sealed_tables(&app.db).await;
        // The box's columns are what ARCHITECTURE.md describes: a further column is a new
        // channel to review, not something to slip in.
        let columns: Vec<String> = box_row(&before, &boxes[0])
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            columns,
            [
                "id",
                "purpose",
                "created_at",
                "revealed_open_at",
                "revealed_late_at",
                "held_items"
            ]
        );

        let writers = [
            (&mo, "mo@example.org", "SECRET-MO the retry storm"),
            (&kim, "kim@example.org", "SECRET-KIM the payment alert"),
            (&lee, "lee@example.org", "SECRET-LEE the rushed rollout"),
        ];
        for (api, _, text) in writers {
            write_unnamed(api, &forwards, text).await;
        }
        for (api, _, text) in writers.iter().rev() {
            write_unnamed(api, &backwards, text).await;
        }
        let after = sealed_tables(&app.db).await;

        // Each box changed in its count alone, to the same number whichever order the three
        // wrote in.
        for id in &boxes {
            let (was, is) = (box_row(&before, id), box_row(&after, id));
            for ((name, old), (_, new)) in was.iter().zip(&is) {
                if name == "held_items" {
                    assert_eq!((old.as_str(), new.as_str()), ("0", "3"));
                } else {
                    assert_eq!(old, new, "the box's {name} changed with the cards");
                }
            }
        }
        assert_eq!(
            box_row(&after, &boxes[0]).last(),
            box_row(&after, &boxes[1]).last()
        );

        // No row per card was added anywhere (a mark per writer and box, as before the count),
        // and no cell of these tables names a writer or holds a card's text.
        for ((table, rows_before), (_, rows_after)) in before.iter().zip(&after) {
            let expected = if table == "sealed_participants" { 6 } else { 0 };
            assert_eq!(
                rows_after.len() - rows_before.len(),
                expected,
                "rows {table} gained for six unnamed cards"
            );
        }
        let mut needles: Vec<String> = Vec::new();
        for (_, email, text) in writers {
            needles.push(email.to_owned());
            needles.push(text.to_owned());
            let user = app
                .db
                .dump(&format!(
                    "SELECT id, display_name FROM users WHERE email = '{email}'"
                ))
                .await
                .concat();
            needles.extend(user.into_iter().map(|(_, value)| value));
        }
        for (table, rows) in &after {
            if table == "sealed_participants" {
                continue; // The marks name their writers by design (counts only).
            }
            for (column, value) in rows.concat() {
                for needle in &needles {
                    assert!(
                        !value.contains(needle.as_str()),
                        "{table}.{column} holds {needle}"
                    );
                }
            }
        }
    }
);

/// A row as (column, value) cells.
type Row = Vec<(String, String)>;

/// Tables by name, each with every row.
type Snapshot = Vec<(String, Vec<Row>)>;

/// The tables that hold sealed contributions, their marks and counts, with every row.
async fn sealed_tables(db: &TestDb) -> Snapshot {
    let mut out = Vec::new();
    for table in ["sealed_boxes", "sealed_items", "sealed_participants"] {
        out.push((
            table.to_owned(),
            db.dump(&format!("SELECT * FROM {table}")).await,
        ));
    }
    out
}

/// The row of box `id` in a snapshot of [`sealed_tables`].
fn box_row(tables: &Snapshot, id: &str) -> Row {
    tables[0]
        .1
        .iter()
        .find(|row| row.iter().any(|(name, value)| name == "id" && value == id))
        .cloned()
        .expect("the box's row")
}
