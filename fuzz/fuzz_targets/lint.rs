//! The blameless-language linter, with the built-in rules and with an organisation's terms.
#![no_main]

use failforward::domain::blameless::{lint, Category, CustomTerm, Rules};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    // A first line `term: …` adds an organisation's phrase to the built-in rules.
    let custom: Rules;
    let (rules, text) = match input.split_once('\n') {
        Some((first, rest)) if first.starts_with("term:") => {
            let term = CustomTerm {
                category: Category::BlamePerson,
                phrase: first["term:".len()..].to_owned(),
                message: None,
                suggestion: None,
            };
            custom = Rules::builtin().with_overrides(&[term], &[]);
            (&custom, rest)
        }
        _ => (Rules::builtin(), input),
    };
    let chars: Vec<char> = text.chars().collect();
    let ids: Vec<String> = rules.describe().into_iter().map(|(id, _, _)| id).collect();
    let findings = lint(text, rules);
    for pair in findings.windows(2) {
        assert!(pair[0].start <= pair[1].start, "findings out of order");
    }
    for f in &findings {
        // Offsets count characters, so any pair within the text is on a character boundary.
        assert!(
            f.start < f.end && f.end <= chars.len(),
            "span {}..{} of {}",
            f.start,
            f.end,
            chars.len()
        );
        let span: String = chars[f.start..f.end].iter().collect();
        assert!(
            span.starts_with(|c: char| !c.is_whitespace())
                && span.ends_with(|c: char| !c.is_whitespace()),
            "span {span:?} begins or ends with a space"
        );
        assert!(ids.contains(&f.rule), "unknown rule {}", f.rule);
        assert!(!f.message.is_empty() && !f.suggestion.is_empty());
    }
});
