//! Issue 19, "figures that are wrong": the health dashboards' medians and the experiments'
//! budget figures, computed here from the data each story creates and compared with every page
//! and API answer that shows them — on both databases.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::experiments::{design, prepared, quarter};
use crate::helpers::{Api, Browser, TestApp};
use crate::story;

/// The median as a reader means it: the middle value, or the mean of the two middle values.
fn exact_median(values: &[i64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    assert!(n > 0);
    if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0
    }
}

/// Seconds of a duration as the pages write it ("2 d 1 h", "2 h 7 min", "40 min", "30 s"),
/// with the width of what the display leaves out (a day-sized figure shows no minutes).
fn read_duration(text: &str) -> (i64, i64) {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut seconds = 0;
    let mut smallest = 1;
    for pair in words.chunks(2) {
        let n: i64 = pair[0]
            .parse()
            .unwrap_or_else(|_| panic!("a number in {text:?}"));
        let unit = match pair.get(1).copied() {
            Some("d") => 86_400,
            Some("h") => 3600,
            Some("min") => 60,
            Some("s") => 1,
            other => panic!("unit {other:?} in {text:?}"),
        };
        seconds += n * unit;
        smallest = unit;
    }
    // "2 d 1 h" hides minutes; "2 h" (no minutes) is exact to the minute.
    let hidden = match smallest {
        86_400 | 3600 => 3600,
        60 => 60,
        _ => 1,
    };
    (seconds, hidden)
}

/// The value cell of a health page's figure row.
fn figure(html: &str, label: &str) -> String {
    let start = html
        .find(label)
        .unwrap_or_else(|| panic!("{label} on the page"));
    let rest = &html[start..];
    let cell = rest.find("<td>").expect("a value cell") + 4;
    let end = rest[cell..].find("</td>").expect("its end") + cell;
    rest[cell..end].to_owned()
}

/// Checks a page's "about X (to within Y) over N loops" against the exact median of `values`.
fn page_agrees(html: &str, label: &str, values: &[i64], path: &str) {
    let shown = figure(html, label);
    let loops = if values.len() == 1 { "loop" } else { "loops" };
    let tail = format!(" over {} {loops}", values.len());
    assert!(
        shown.ends_with(&tail),
        "{path}: {shown:?} ends with {tail:?}"
    );
    let body = shown.trim_end_matches(&tail);
    let body = body
        .strip_prefix("about ")
        .expect("a bucketed median says it is approximate");
    let (estimate, within) = body
        .split_once(" (to within ")
        .unwrap_or_else(|| panic!("{path}: how approximate, in {shown:?}"));
    let (estimate, hidden) = read_duration(estimate);
    let (within, within_hidden) = read_duration(within.trim_end_matches(')'));
    let exact = exact_median(values);
    let low = (estimate - within - within_hidden) as f64;
    let high = (estimate + hidden + within + within_hidden) as f64;
    assert!(
        low <= exact && exact <= high,
        "{path}: {shown:?} must cover the exact median {exact} s"
    );
}

/// Checks an API median against the exact median of `values`.
fn api_agrees(median: &Value, values: &[i64], what: &str) {
    let exact = exact_median(values);
    assert_eq!(median["loops"], values.len(), "{what}: {median}");
    let low = median["low_seconds"].as_i64().expect("low");
    let high = median["high_seconds"].as_i64().expect("high");
    assert!(
        low as f64 <= exact && exact < high as f64,
        "{what}: {median} must hold {exact}"
    );
    let estimate = median["median_seconds"].as_i64().expect("median");
    let within = median["within_seconds"].as_i64().expect("within");
    assert!(
        (estimate as f64 - exact).abs() <= within as f64,
        "{what}: {median} is within {within} s of {exact}"
    );
}

async fn log(api: &Api, happened: &str, noticed: &str) {
    let (status, created) = api
        .post(
            "/api/v1/teams/ops/loops",
            json!({
                "title": format!("Noticed at {noticed}"),
                "what_happened": "Something broke.",
                "what_was_expected": "Nothing broke.",
                "happened_at": happened,
                "noticed_at": noticed,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}

async fn check_everywhere(lee: &Api, browser: &Browser, values: &[i64]) {
    for path in [
        "/api/v1/teams/ops/health?range=all",
        "/api/v1/health?range=all",
    ] {
        let (status, health) = lee.get(path).await;
        assert_eq!(status, StatusCode::OK, "{health}");
        api_agrees(&health["time_to_detect"], values, path);
    }
    for path in ["/health?range=all", "/teams/ops/health?range=all"] {
        let (status, html) = browser.get_text(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        page_agrees(&html, "Median time to detect", values, path);
    }
}

story!(
    health_medians_agree_with_the_loops_everywhere,
    |app: TestApp| async move {
        app.create_user("root@example.org", "Root Admin", true)
            .await;
        app.create_user("lee@example.org", "Lee Lead", false).await;
        let lee = app.token_for("lee@example.org").await;
        lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
        let browser = app.sign_in("lee@example.org").await;

        // Issue 19: noticed at once, and after 4 days 3 hours. The lower middle value (0 s) is
        // not what a reader takes a median of two to be.
        log(&lee, "2026-03-02T10:00:00Z", "2026-03-02T10:00:00Z").await;
        log(&lee, "2026-03-02T06:00:00Z", "2026-03-06T09:00:00Z").await;
        let mut values = vec![0, 4 * 86_400 + 3 * 3600];
        check_everywhere(&lee, &browser, &values).await;
        let (_, html) = browser.get_text("/health?range=all").await;
        let shown = figure(&html, "Median time to detect");
        assert!(!shown.starts_with("0 s"), "{shown}");

        // An odd count: the middle value.
        log(&lee, "2026-03-03T08:00:00Z", "2026-03-03T10:00:00Z").await;
        values.push(7200);
        check_everywhere(&lee, &browser, &values).await;

        // And an even one again, with minutes.
        log(&lee, "2026-03-04T09:20:00Z", "2026-03-04T10:00:00Z").await;
        values.push(2400);
        check_everywhere(&lee, &browser, &values).await;
    }
);

/// The money and effort of running and concluded experiments: what every page must call
/// committed.
fn committed(experiments: &[(i64, i64, bool)]) -> (i64, i64) {
    experiments
        .iter()
        .filter(|(_, _, counts)| *counts)
        .fold((0, 0), |(m, d), (money, days, _)| (m + money, d + days))
}

fn money(minor: i64) -> String {
    let whole = minor / 100;
    let thousands = if whole >= 1000 {
        format!("{},{:03}", whole / 1000, whole % 1000)
    } else {
        whole.to_string()
    };
    format!("{thousands}.{:02} EUR", minor % 100)
}

story!(
    experiment_budget_figures_agree_with_the_portfolio,
    |app: TestApp| async move {
        app.create_user("root@example.org", "Root Admin", true)
            .await;
        app.create_user("lee@example.org", "Lee Lead", false).await;
        let lee = app.token_for("lee@example.org").await;
        lee.post("/api/v1/teams", json!({"name": "Ops"})).await;
        let browser = app.sign_in("lee@example.org").await;
        let q = quarter();
        let budget = (500_000, 100);
        let (status, _) = lee
            .send(
                reqwest::Method::PUT,
                &format!("/api/v1/teams/ops/risk-budgets/{q}"),
                Some(json!({"currency": "EUR", "money_minor": budget.0, "days_tenths": budget.1})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);

        // Issue 19: one concluded experiment of 1,500 EUR, and a draft of 200 EUR.
        let concluded = prepared(&lee, design("Same-day refunds", 150_000, 20)).await;
        let base = format!("/api/v1/teams/ops/experiments/{concluded}");
        let (status, _) = lee.post(&format!("{base}/start"), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let (status, answer) = lee
            .post(
                &format!("{base}/conclusion"),
                json!({"outcome": "validated", "believed": "a", "observed": "b", "learned": "c",
                       "therefore": "d", "decision": "persevere"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let draft = prepared(&lee, design("Refunds by post", 20_000, 5)).await;
        let experiments = [(150_000, 20, true), (20_000, 5, false)];
        let (money_committed, days_committed) = committed(&experiments);
        assert_eq!(money_committed, 150_000);

        let (_, portfolio) = lee
            .get(&format!("/api/v1/teams/ops/portfolio?quarter={q}"))
            .await;
        let (_, view) = lee.get(&base).await;
        for (what, figures) in [
            ("portfolio", &portfolio["budget"]),
            ("experiment", &view["budget"]),
        ] {
            assert_eq!(
                figures["committed_money_minor"], money_committed,
                "{what}: {figures}"
            );
            assert_eq!(
                figures["committed_days_tenths"], days_committed,
                "{what}: {figures}"
            );
            assert_eq!(
                figures["remaining_money_minor"],
                budget.0 - money_committed,
                "{what}: {figures}"
            );
            assert_eq!(figures["remaining_days_tenths"], budget.1 - days_committed);
        }
        assert_eq!(view["budget_includes_this"], true);
        // A draft's page shows what it would take from: the others' commitments.
        let (_, draft_view) = lee
            .get(&format!("/api/v1/teams/ops/experiments/{draft}"))
            .await;
        assert_eq!(draft_view["budget_includes_this"], false);
        assert_eq!(
            draft_view["budget"]["committed_money_minor"],
            money_committed
        );

        let (_, health) = lee.get("/api/v1/teams/ops/health?range=all").await;
        assert_eq!(
            health["committed_loss"],
            json!([{"currency": "EUR", "money_minor": money_committed,
                    "person_days_tenths": days_committed}])
        );

        let committed_text = money(money_committed);
        let remaining_text = money(budget.0 - money_committed);
        assert_eq!(committed_text, "1,500.00 EUR");
        for path in [
            format!("/teams/ops/experiments/{concluded}"),
            format!("/teams/ops/experiments/{draft}"),
            format!("/teams/ops/experiments?quarter={q}"),
        ] {
            let (status, html) = browser.get_text(&path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(
                html.contains(&committed_text),
                "{path} shows {committed_text}"
            );
            assert!(
                html.contains(&remaining_text),
                "{path} shows {remaining_text}"
            );
            assert!(
                !html.contains(" 0.00 EUR and"),
                "{path}: nothing committed?"
            );
        }
        for path in ["/teams/ops/health?range=all", "/health?range=all"] {
            let (_, html) = browser.get_text(path).await;
            assert!(
                html.contains(&committed_text),
                "{path} shows {committed_text}"
            );
        }
    }
);
