//! The README's screenshots: the main pages at 1280 px and 390 px, written as PNG files to
//! `docs/screenshots/` (or `FAILFORWARD_SCREENSHOTS_DIR`). Ignored by `cargo test`; run with
//! `.ci/screenshots`, which needs Chromium and chromedriver like the browser tests.

use std::path::PathBuf;

use crate::browser::Driver;
use crate::browser_axe::sign_in;
use crate::browser_csp::seed_every_page;
use crate::helpers::{Backend, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes the README's screenshots; run .ci/screenshots"]
async fn main_pages_at_1280_and_390_px() {
    let Some(mut driver) = Driver::start().await else {
        panic!("screenshots need Chromium and chromedriver");
    };
    let app = TestApp::spawn(Backend::Sqlite)
        .await
        .expect("SQLite is always available");
    let pages = seed_every_page(&app).await;
    let find = |prefix: &str| {
        pages
            .team
            .iter()
            .find(|p| p.starts_with(prefix) && !p.ends_with("/new") && !p.ends_with("/edit"))
            .cloned()
            .unwrap_or_else(|| panic!("a page under {prefix}"))
    };
    let shots = [
        ("my-work", "/".to_owned()),
        ("team", "/teams/ops".to_owned()),
        ("loop", find("/teams/ops/loops/")),
        ("review-board", find("/teams/ops/reviews/")),
        ("pulse-round", find("/teams/ops/pulse/")),
        ("library", "/library".to_owned()),
    ];
    let dir = std::env::var_os("FAILFORWARD_SCREENSHOTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots"));
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    let browser = sign_in(&mut driver, &app, "lee@example.org").await;
    for (width, height) in [(1280, 900), (390, 844)] {
        browser
            .set_window_size(width, height)
            .await
            .expect("window size");
        for (name, page) in &shots {
            browser.goto(&app.url(page)).await.expect("page opens");
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let png = browser.screenshot().await.expect("screenshot");
            let file = dir.join(format!("{name}-{width}.png"));
            std::fs::write(&file, png).expect("screenshot written");
            println!("{}", file.display());
        }
    }
    browser.close().await.expect("close");
}
