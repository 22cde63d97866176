use proptest::prelude::*;

use super::*;

fn first(text: &str) -> Option<&'static str> {
    lint(text, Rules::builtin())
        .first()
        .map(|f| f.category.as_str())
}

fn check(cases: &[(&str, Option<&str>)]) {
    for (text, expected) in cases {
        assert_eq!(first(text), *expected, "{text}");
    }
}

#[test]
fn blame_person() {
    check(&[
        ("Priya ignored the alert.", Some("blame_person")),
        ("The new hire broke the build.", Some("blame_person")),
        ("It was Tom's mistake.", Some("blame_person")),
        (
            "The release slipped because the agency did not read the spec.",
            Some("blame_person"),
        ),
        ("The agency delivered late, as usual.", Some("blame_person")),
        // Neutral: a name describing what someone did; a system as the subject; "we" owning it.
        (
            "Priya restarted the service at 10:02 and the errors stopped.",
            None,
        ),
        ("The deploy broke production for ten minutes.", None),
        ("We broke the work into smaller changes.", None),
        ("The data sat on the old server until Monday.", None),
    ]);
}

#[test]
fn counterfactual() {
    check(&[
        (
            "The engineer should have checked the logs.",
            Some("counterfactual"),
        ),
        (
            "The operator failed to notice the warning.",
            Some("counterfactual"),
        ),
        (
            "Had the reviewer looked closer, the bug would have been caught.",
            Some("counterfactual"),
        ),
        ("If only we had waited.", Some("counterfactual")),
        // Neutral: a system failing to do something; forward-looking "should".
        (
            "The health check failed to detect the degraded replica.",
            None,
        ),
        (
            "The job should have completed by 06:00 according to its schedule.",
            None,
        ),
        ("We should add an alert for certificate expiry.", None),
        ("It could have been much worse.", None),
    ]);
}

#[test]
fn human_error() {
    check(&[
        ("The outage was caused by human error.", Some("human_error")),
        (
            "Carelessness with the list caused the breach.",
            Some("human_error"),
        ),
        (
            "Operator error led to the wrong scale-down.",
            Some("human_error"),
        ),
        // Neutral: negated; a different phrase.
        (
            "It is not a question of carelessness: the buttons look the same.",
            None,
        ),
        ("This was not human error.", None),
        (
            "Human factors: the procedure had twelve manual steps.",
            None,
        ),
    ]);
}

#[test]
fn root_cause_singular() {
    check(&[
        (
            "The root cause was a missing index.",
            Some("root_cause_singular"),
        ),
        (
            "The real cause of the delay was approvals.",
            Some("root_cause_singular"),
        ),
        // Neutral: headings, plural, negated.
        ("Root cause analysis", None),
        ("## Root causes", None),
        (
            "There was no single root cause; several conditions combined.",
            None,
        ),
        ("The review found several contributing factors.", None),
    ]);
}

#[test]
fn moralising() {
    check(&[
        ("That was a sloppy deploy.", Some("moralising")),
        ("The plan was incompetent.", Some("moralising")),
        ("Skipping the canary was reckless.", Some("moralising")),
        ("Nobody was careless here; the default was wrong.", None),
    ]);
}

#[test]
fn hindsight_certainty() {
    check(&[
        (
            "Obviously the backup was never tested.",
            Some("hindsight_certainty"),
        ),
        (
            "It was clear that the queue would overflow.",
            Some("hindsight_certainty"),
        ),
        (
            "Anyone could see the server would run out of memory.",
            Some("hindsight_certainty"),
        ),
        (
            "In hindsight the signals look clearer than they were.",
            None,
        ),
        ("It was not obvious at the time.", None),
    ]);
}

#[test]
fn quotations_of_a_rule_are_left_alone() {
    check(&[
        ("We avoid the phrase \"human error\" in reviews.", None),
        (
            "Our guide says: never write “root cause” or ‘obviously’.",
            None,
        ),
    ]);
}

#[test]
fn spans_are_character_offsets_of_the_phrase() {
    let text = "Zoë wrote: «ok». Obviously the backup was untested.";
    let findings = lint(text, Rules::builtin());
    assert_eq!(findings.len(), 1);
    let f = &findings[0];
    let phrase: String = text.chars().skip(f.start).take(f.end - f.start).collect();
    assert_eq!(phrase, "Obviously");
    let text = "Alex ignored the runbook.";
    let f = &lint(text, Rules::builtin())[0];
    let phrase: String = text.chars().skip(f.start).take(f.end - f.start).collect();
    assert_eq!(
        phrase, "Alex ignored",
        "blame covers the subject and the verb"
    );
    assert!(!f.message.is_empty() && f.suggestion.ends_with('?'));
}

#[test]
fn sentences_split_around_abbreviations_decimals_and_lists() {
    let text = "Latency rose 3.5 times, e.g. on the EU cluster. Clearly the cache was cold.\n- The root cause was the deploy\n- Contributing factors";
    let categories: Vec<&str> = lint(text, Rules::builtin())
        .iter()
        .map(|f| f.category.as_str())
        .collect();
    assert_eq!(categories, ["hindsight_certainty", "root_cause_singular"]);
}

#[test]
fn organisations_add_terms_and_switch_rules_off() {
    let custom = [CustomTerm {
        category: Category::Moralising,
        phrase: "cowboy deploy".to_owned(),
        message: None,
        suggestion: None,
    }];
    let rules = Rules::builtin().with_overrides(&custom, &["hindsight-obvious".to_owned()]);
    assert_eq!(
        lint("That was a cowboy deploy.", &rules)
            .first()
            .map(|f| f.rule.as_str()),
        Some("custom-1")
    );
    assert!(
        lint("Obviously it broke.", &rules).is_empty(),
        "the switched-off rule is silent"
    );
    assert!(!lint("Obviously it broke.", Rules::builtin()).is_empty());
}

#[test]
fn the_builtin_rules_parse() {
    let rules = Rules::parse(BUILTIN).expect("built-in rules parse");
    assert!(rules.rules.len() >= 10);
}

#[test]
fn rule_file_errors_name_the_line() {
    let err = Rules::parse("[a]\ncategory = nonsense\npattern = x\nmessage = m\nsuggestion = s\n")
        .expect_err("bad category");
    assert!(err.starts_with("line 1:"), "{err}");
    let err = Rules::parse("\n\ncategory = human_error").expect_err("outside a rule");
    assert!(err.starts_with("line 3:"), "{err}");
    let err =
        Rules::parse("[a]\ncategory = moralising\npattern = {gap} x\nmessage = m\nsuggestion = s")
            .expect_err("leading gap");
    assert!(err.contains("{gap}"), "{err}");
}

fn assert_target(corpus: &str) {
    let evaluation = evaluate(corpus, Rules::builtin());
    println!("{evaluation}");
    assert!(evaluation.precision >= 0.9, "{evaluation}");
    assert!(evaluation.recall >= 0.85, "{evaluation}");
}

#[test]
fn dev_corpus_meets_the_target() {
    assert_target(include_str!("../../../tests/data/blameless-dev.tsv"));
}

#[test]
fn held_out_sets_meet_the_target() {
    assert_target(include_str!("../../../tests/data/blameless-holdout.tsv"));
    assert_target(include_str!("../../../tests/data/blameless-fresh.tsv"));
}

proptest! {
    #[test]
    fn never_panics_and_spans_stay_inside(text in "\\PC{0,400}") {
        let count = text.chars().count();
        for f in lint(&text, Rules::builtin()) {
            prop_assert!(f.start < f.end, "{f:?}");
            prop_assert!(f.end <= count, "{f:?} in {count} chars");
        }
    }

    #[test]
    fn never_panics_on_prose_like_input(words in proptest::collection::vec("(should|have|failed|to|the|engineer|Tom|'s|\\.|,|\"|“|n't|did|root|cause|obviously|had|if|would|\\n|#|-|[a-zé]{1,8})", 0..80)) {
        let text = words.join(" ");
        let count = text.chars().count();
        for f in lint(&text, Rules::builtin()) {
            prop_assert!(f.start < f.end && f.end <= count);
        }
    }
}

#[test]
fn the_shipped_model_is_the_one_the_corpus_trains() {
    // Training is deterministic; after changing the corpus or the features, run
    // `cargo run -- lint-train` and commit `model.bin`.
    let trained = train_builtin().to_bytes();
    assert!(
        trained == include_bytes!("model.bin").as_slice(),
        "model.bin is stale: run `cargo run -- lint-train`"
    );
}

#[test]
fn the_model_flags_wording_no_rule_lists_with_a_category_span_and_question() {
    let text = "Honestly, the new guy borked the failover last night.";
    let without_model = lint_with(text, Rules::builtin(), None);
    assert!(
        without_model.is_empty(),
        "no rule lists this: {without_model:?}"
    );
    let findings = lint(text, Rules::builtin());
    assert_eq!(findings.len(), 1, "{findings:?}");
    let f = &findings[0];
    assert_eq!(f.category, Category::BlamePerson);
    assert_eq!(f.rule, "learned-blame-person");
    let phrase: String = text.chars().skip(f.start).take(f.end - f.start).collect();
    assert!(
        phrase.contains("borked"),
        "the span names the words: {phrase}"
    );
    assert!(!f.message.is_empty() && f.suggestion.ends_with('?'));
    // The organisation can switch the learned category off like a rule.
    assert!(Rules::builtin()
        .describe()
        .iter()
        .any(|(id, _, _)| id == "learned-blame-person"));
    let off = Rules::builtin().with_overrides(&[], &["learned-blame-person".to_owned()]);
    assert!(lint(text, &off).is_empty());
    // A sentence matched by a switched-off rule is left alone, not handed to the model.
    let off = Rules::builtin().with_overrides(&[], &["hindsight-obvious".to_owned()]);
    assert!(lint("Obviously it broke.", &off).is_empty());
}

#[test]
fn a_label_before_a_colon_is_not_the_subject() {
    // An e-mail's header lines and a chat transcript's speakers: the label names a field or a
    // speaker, and what follows it is read on its own.
    check(&[
        ("Subject: Postmortem - login outage of 7 May", None),
        ("Subject: Postmortem - payments latency on 12 March", None),
        ("alice: restarting the primary now", None),
        (
            "Subject: Tom broke prod again, what an idiot",
            Some("moralising"),
        ),
    ]);
}

#[test]
fn the_model_overrules_a_rule_on_neutral_wording() {
    // The root-cause rule matches the first; the model reads a document section.
    check(&[
        (
            "The root cause analysis section of the template is optional.",
            None,
        ),
        ("The alert should have fired at 80% disk usage.", None),
    ]);
}

/// Floors a little under what the shipped model measures on the held-out split (BENCHMARKS.md).
#[test]
fn held_out_split_keeps_its_floors() {
    let heldout = read_corpus(HELDOUT_CORPUS);
    assert!(heldout.len() > 350, "the held-out split is read whole");
    let evaluation = evaluate_with(&heldout, Rules::builtin(), Model::builtin());
    println!("{evaluation}");
    // A little under what the shipped model measures (precision 0.914, recall 0.847, weakest
    // category hindsight at 0.708): issue 17's goal is precision 0.88 and recall 0.80.
    assert!(evaluation.precision >= 0.90, "{evaluation}");
    assert!(evaluation.recall >= 0.84, "{evaluation}");
    assert!(evaluation.min_category_f1() >= 0.70, "{evaluation}");
    let rules_only = evaluate_with(&heldout, Rules::builtin(), None);
    assert!(
        evaluation.f1 >= rules_only.f1 + 0.3,
        "the learned scorer adds to the rules: {} vs {}",
        evaluation.f1,
        rules_only.f1
    );
}
