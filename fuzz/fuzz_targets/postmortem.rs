//! The Markdown postmortem importer: `domain::postmortem::parse`, then the import's validation.
#![no_main]

use failforward::domain::postmortem;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Errors and records name lines of the text as the reader sees it.
    let lines = postmortem::normalise(text).split('\n').count();
    match postmortem::parse(text) {
        Ok(pm) => {
            for a in &pm.actions {
                assert!((1..=lines).contains(&a.line), "action on line {}", a.line);
                assert!(!a.title.trim().is_empty(), "an empty action");
            }
            for e in &pm.timeline {
                assert!((1..=lines).contains(&e.line), "event on line {}", e.line);
                assert!(!e.text.is_empty(), "an event without text");
            }
            assert!(
                pm.timeline.windows(2).all(|w| w[0].at <= w[1].at),
                "timeline out of order"
            );
            assert!(!pm.title.trim().is_empty(), "an empty title");
            // No section is dropped: every kept one is in the description.
            let description = pm.description();
            for kept in &pm.kept {
                assert!(
                    description.contains(kept.heading.as_str()),
                    "kept section {:?} is not in the description",
                    kept.heading
                );
            }
        }
        Err(e) => assert!((1..=lines).contains(&e.line), "error on line {}", e.line),
    }
    // The importer reads anything not starting with `{` as a postmortem.
    if !text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('{')
    {
        failforward_fuzz::import(text);
    }
});
