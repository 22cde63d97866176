//! The learning loop: Detect → Analyse → Apply → Continue (domain.md §1), the failure types and
//! the spectrum of reasons (Edmondson 2011, 2023), the classification questionnaire, and the rules
//! for moving between stages.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::text::{multi_line, single_line, Invalid};

/// Declares a closed set of values stored and sent as snake_case strings.
macro_rules! word_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                match raw.trim() {
                    $($word => Ok($name::$variant),)+
                    _ => Err(Invalid(format!(
                        "must be one of: {}",
                        [$($word),+].join(", ")
                    ))),
                }
            }
        }

        impl $crate::domain::text::Word for $name {
            fn parse_word(raw: &str) -> Result<Self, Invalid> {
                Self::parse(raw)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

word_enum!(
    /// Where a loop stands. The order is the loop's order.
    Stage {
        /// Surface the failure and accept it quickly.
        Detect => "detect",
        /// Understand what happened and how, to learn the most.
        Analyse => "analyse",
        /// Change mindsets, behaviours and ways of working.
        Apply => "apply",
        /// Keep taking smart risks; check that the learning held.
        Continue => "continue",
    }
);

impl Stage {
    pub fn next(self) -> Option<Stage> {
        match self {
            Stage::Detect => Some(Stage::Analyse),
            Stage::Analyse => Some(Stage::Apply),
            Stage::Apply => Some(Stage::Continue),
            Stage::Continue => None,
        }
    }

    pub fn previous(self) -> Option<Stage> {
        match self {
            Stage::Detect => None,
            Stage::Analyse => Some(Stage::Detect),
            Stage::Apply => Some(Stage::Analyse),
            Stage::Continue => Some(Stage::Apply),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Stage::Detect => "Detect",
            Stage::Analyse => "Analyse",
            Stage::Apply => "Apply",
            Stage::Continue => "Continue",
        }
    }

    /// The question the stage answers (domain.md §1).
    pub fn question(self) -> &'static str {
        match self {
            Stage::Detect => "What went wrong, and did we see it quickly and accept it?",
            Stage::Analyse => "What happened and how, so that we learn the most?",
            Stage::Apply => "What do we change in mindset, behaviour and ways of working?",
            Stage::Continue => "What smart risk do we take next, and did the learning hold?",
        }
    }

    pub fn index(self) -> usize {
        match self {
            Stage::Detect => 0,
            Stage::Analyse => 1,
            Stage::Apply => 2,
            Stage::Continue => 3,
        }
    }
}

word_enum!(
    /// Whether a loop began as a failure or as an experiment that did not go as hoped.
    LoopKind {
        Failure => "failure",
        Experiment => "experiment",
    }
);

word_enum!(
    /// How a loop list is ordered.
    LoopSort {
        Newest => "newest",
        Oldest => "oldest",
        /// Longest in its current stage first: the loops most at risk of being abandoned.
        LongestInStage => "longest_in_stage",
        Title => "title",
    }
);

// `word_enum!` derives a fixed set of traits; the list's default order is named here.
#[allow(clippy::derivable_impls)]
impl Default for LoopSort {
    fn default() -> Self {
        LoopSort::Newest
    }
}

word_enum!(
    /// How far the impact reached.
    ImpactScale {
        /// Caught before anyone or anything was affected.
        Negligible => "negligible",
        Minor => "minor",
        Moderate => "moderate",
        Major => "major",
        Severe => "severe",
    }
);

word_enum!(
    /// The kind of failure (Edmondson, *Right Kind of Wrong*, 2023), plus the case of an experiment
    /// that misses a criterion of an intelligent failure.
    FailureType {
        /// One cause in known territory: prevent it with better process, not blame.
        Basic => "basic",
        /// Several factors combining in a familiar setting.
        Complex => "complex",
        /// New territory, a real goal, hypothesis-driven, as small as possible.
        Intelligent => "intelligent",
        /// A deliberate test that missed a criterion (for example, run bigger than needed).
        ExperimentNotYetIntelligent => "experiment_not_yet_intelligent",
    }
);

impl FailureType {
    pub fn label(self) -> &'static str {
        match self {
            FailureType::Basic => "Basic failure",
            FailureType::Complex => "Complex failure",
            FailureType::Intelligent => "Intelligent failure",
            FailureType::ExperimentNotYetIntelligent => {
                "An experiment, not yet an intelligent failure"
            }
        }
    }

    /// What the type means — never a verdict on a person (domain.md §2).
    pub fn meaning(self) -> &'static str {
        match self {
            FailureType::Basic => "A single cause in known territory. Prevent it with better process, checklists or training — \"basic\" does not mean someone is to blame.",
            FailureType::Complex => "Several factors combined in a familiar setting. Look for the interactions and early signals, and make the system more forgiving.",
            FailureType::Intelligent => "New territory, a genuine goal, a hypothesis written beforehand and a test as small as possible. Learn from it and share it widely.",
            FailureType::ExperimentNotYetIntelligent => "A deliberate test that missed a criterion of an intelligent failure. Next time, design the test to meet all of them.",
        }
    }
}

word_enum!(
    /// The spectrum of reasons for failure, from blameworthy to praiseworthy (Edmondson,
    /// "Strategies for learning from failure", HBR April 2011; paraphrased).
    FactorReason {
        Deviance => "deviance",
        Inattention => "inattention",
        LackOfAbility => "lack_of_ability",
        ProcessInadequacy => "process_inadequacy",
        TaskChallenge => "task_challenge",
        ProcessComplexity => "process_complexity",
        Uncertainty => "uncertainty",
        HypothesisTesting => "hypothesis_testing",
        ExploratoryTesting => "exploratory_testing",
    }
);

/// Which failure type a reason points to (our mapping, not Edmondson's; domain.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonFamily {
    Basic,
    Complex,
    Testing,
}

impl FactorReason {
    pub fn label(self) -> &'static str {
        match self {
            FactorReason::Deviance => "Deviance",
            FactorReason::Inattention => "Inattention",
            FactorReason::LackOfAbility => "Lack of ability",
            FactorReason::ProcessInadequacy => "Process inadequacy",
            FactorReason::TaskChallenge => "Task challenge",
            FactorReason::ProcessComplexity => "Process complexity",
            FactorReason::Uncertainty => "Uncertainty",
            FactorReason::HypothesisTesting => "Hypothesis testing",
            FactorReason::ExploratoryTesting => "Exploratory testing",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            FactorReason::Deviance => "Someone chose to break a prescribed process.",
            FactorReason::Inattention => {
                "Someone drifted from the specification without meaning to."
            }
            FactorReason::LackOfAbility => {
                "Someone lacked the skills, conditions or training for the job."
            }
            FactorReason::ProcessInadequacy => {
                "A competent person followed a faulty or incomplete process."
            }
            FactorReason::TaskChallenge => "The task is too hard to do reliably every time.",
            FactorReason::ProcessComplexity => {
                "A process with many parts broke on a novel interaction."
            }
            FactorReason::Uncertainty => {
                "Unclear future events made reasonable actions turn out badly."
            }
            FactorReason::HypothesisTesting => "An experiment meant to show an idea works did not.",
            FactorReason::ExploratoryTesting => {
                "An experiment to expand knowledge led to an undesired result."
            }
        }
    }

    pub fn family(self) -> ReasonFamily {
        match self {
            FactorReason::Deviance | FactorReason::Inattention | FactorReason::LackOfAbility => {
                ReasonFamily::Basic
            }
            FactorReason::ProcessInadequacy
            | FactorReason::TaskChallenge
            | FactorReason::ProcessComplexity
            | FactorReason::Uncertainty => ReasonFamily::Complex,
            FactorReason::HypothesisTesting | FactorReason::ExploratoryTesting => {
                ReasonFamily::Testing
            }
        }
    }
}

word_enum!(
    /// An answer to one question of the classification questionnaire.
    Answer {
        Yes => "yes",
        No => "no",
        Unsure => "unsure",
    }
);

/// The classification questionnaire (domain.md §2, after Edmondson 2023 and Sitkin 1992).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Questionnaire {
    /// Did it happen in new territory, where the answer could not be looked up?
    pub new_territory: Answer,
    /// Was it in pursuit of a genuine opportunity or goal?
    pub pursued_goal: Answer,
    /// Was a hypothesis written down beforehand, informed by what was known?
    pub hypothesis_beforehand: Answer,
    /// Was it as small as it could be while still informative?
    pub as_small_as_possible: Answer,
    /// Was it noticed and responded to quickly?
    pub responded_quickly: Answer,
    /// Has the team learned from it (or is it doing so now)?
    pub learned_from: Answer,
}

impl Questionnaire {
    /// The questions in order, with their keys, for forms.
    pub const QUESTIONS: [(&'static str, &'static str); 6] = [
        (
            "new_territory",
            "Did it happen in new territory, where the answer could not be looked up?",
        ),
        (
            "pursued_goal",
            "Was it in pursuit of a genuine opportunity or goal?",
        ),
        (
            "hypothesis_beforehand",
            "Was a hypothesis written down beforehand, informed by what was known?",
        ),
        (
            "as_small_as_possible",
            "Was it as small as it could be while still informative?",
        ),
        (
            "responded_quickly",
            "Was it noticed and responded to quickly?",
        ),
        (
            "learned_from",
            "Has the team learned from it, or is it doing so now?",
        ),
    ];

    pub fn answer(&self, key: &str) -> Option<Answer> {
        Some(match key {
            "new_territory" => self.new_territory,
            "pursued_goal" => self.pursued_goal,
            "hypothesis_beforehand" => self.hypothesis_beforehand,
            "as_small_as_possible" => self.as_small_as_possible,
            "responded_quickly" => self.responded_quickly,
            "learned_from" => self.learned_from,
            _ => return None,
        })
    }
}

/// What the questionnaire suggests, with the reasons it used. `kind` is `None` when there is not
/// enough to go on yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Suggestion {
    pub kind: Option<FailureType>,
    pub reasons: Vec<String>,
}

/// Suggests a failure type from the questionnaire and the reasons of the contributing factors.
///
/// The rules, in order:
/// 1. A deliberate test — a testing reason among the factors, or a hypothesis written
///    beforehand — is *intelligent* when all four criteria hold (new territory, a real goal, a
///    hypothesis beforehand, as small as possible; Edmondson 2023), otherwise an *experiment, not
///    yet an intelligent failure*, naming the criteria it missed.
/// 2. Otherwise, several contributing factors, or any reason from the complex part of the
///    spectrum, suggest *complex*; new territory without a test also points there (uncertainty).
/// 3. Otherwise, a single factor with a reason from the basic part suggests *basic*.
/// 4. Otherwise there is not enough to go on.
pub fn suggest_type(answers: &Questionnaire, factors: &[FactorReason]) -> Suggestion {
    let mut reasons = Vec::new();
    let testing_factor = factors.iter().any(|f| f.family() == ReasonFamily::Testing);
    let deliberate_test = testing_factor || answers.hypothesis_beforehand == Answer::Yes;
    if deliberate_test {
        if testing_factor {
            reasons.push("A contributing factor is hypothesis or exploratory testing.".to_owned());
        } else {
            reasons.push(
                "A hypothesis was written down beforehand, so this was a deliberate test."
                    .to_owned(),
            );
        }
        let criteria = [
            (answers.new_territory, "it took place in new territory"),
            (answers.pursued_goal, "it pursued a genuine goal"),
            (
                answers.hypothesis_beforehand,
                "a hypothesis was written beforehand",
            ),
            (answers.as_small_as_possible, "it was as small as possible"),
        ];
        let missed: Vec<&str> = criteria
            .iter()
            .filter(|(answer, _)| *answer != Answer::Yes)
            .map(|(_, text)| *text)
            .collect();
        if missed.is_empty() {
            reasons.push("All four criteria of an intelligent failure hold: new territory, a genuine goal, a hypothesis beforehand, as small as possible.".to_owned());
            return Suggestion {
                kind: Some(FailureType::Intelligent),
                reasons,
            };
        }
        reasons.push(format!(
            "Not yet an intelligent failure: it is not established that {}.",
            missed.join(", that ")
        ));
        return Suggestion {
            kind: Some(FailureType::ExperimentNotYetIntelligent),
            reasons,
        };
    }
    let complex: Vec<FactorReason> = factors
        .iter()
        .copied()
        .filter(|f| f.family() == ReasonFamily::Complex)
        .collect();
    if factors.len() > 1 || !complex.is_empty() {
        if factors.len() > 1 {
            reasons.push(format!("{} contributing factors combined.", factors.len()));
        }
        for reason in &complex {
            reasons.push(format!(
                "{} points to a complex failure: {}",
                reason.label(),
                reason.description().to_lowercase()
            ));
        }
        if answers.new_territory == Answer::Yes {
            reasons.push("It happened in new territory without a deliberate test.".to_owned());
        }
        return Suggestion {
            kind: Some(FailureType::Complex),
            reasons,
        };
    }
    if answers.new_territory == Answer::Yes {
        reasons.push("It happened in new territory without a deliberate test: unclear conditions (uncertainty) make it complex.".to_owned());
        return Suggestion {
            kind: Some(FailureType::Complex),
            reasons,
        };
    }
    if let [single] = factors {
        reasons.push(format!(
            "A single contributing factor in known territory ({}). Basic means \"prevent with better process\", not \"someone is to blame\".",
            single.label().to_lowercase()
        ));
        return Suggestion {
            kind: Some(FailureType::Basic),
            reasons,
        };
    }
    reasons
        .push("Add contributing factors or answer the questions to get a suggestion.".to_owned());
    Suggestion {
        kind: None,
        reasons,
    }
}

word_enum!(
    /// Where an action item stands.
    ActionStatus {
        Open => "open",
        Done => "done",
        Dropped => "dropped",
    }
);

word_enum!(
    /// Who may read a learning: the team, or everyone in the organisation (the learning library).
    Visibility {
        Team => "team",
        Organisation => "organisation",
    }
);

/// What the stage rules look at.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageFacts {
    pub has_expectation: bool,
    pub factor_count: usize,
    pub classified: bool,
    pub learning_count: usize,
    pub action_count: usize,
}

/// Whether a loop may move from `from` to the next stage, and if not, what is missing. Each
/// condition guards against exiting the loop early (domain.md §1): no analysis without knowing
/// what was expected, no changes without understanding, no moving on without a change.
pub fn advance(from: Stage, facts: &StageFacts) -> Result<Stage, String> {
    let next = from.next().ok_or_else(|| {
        "Continue is the last stage: record the follow-up check and start the next experiment."
            .to_owned()
    })?;
    let missing: Vec<&str> = match from {
        Stage::Detect => (!facts.has_expectation)
            .then_some("write down what was expected to happen")
            .into_iter()
            .collect(),
        Stage::Analyse => {
            let mut m = Vec::new();
            if facts.factor_count == 0 {
                m.push("add at least one contributing factor");
            }
            if !facts.classified {
                m.push("classify the failure with the questionnaire");
            }
            m
        }
        Stage::Apply => (facts.learning_count + facts.action_count == 0)
            .then_some("record a learning or an action item")
            .into_iter()
            .collect(),
        Stage::Continue => Vec::new(),
    };
    if missing.is_empty() {
        Ok(next)
    } else {
        Err(format!(
            "To move on to {}: {}.",
            next.label(),
            missing.join(" and ")
        ))
    }
}

/// The most characters a loop's title may have.
pub const TITLE_MAX: usize = 140;

/// A loop's title.
pub fn title(raw: &str) -> Result<String, Invalid> {
    single_line(raw, TITLE_MAX)
}

/// Longer prose fields (Markdown).
pub const LONG_TEXT_MAX: usize = 20_000;

pub fn long_text(raw: &str, required: bool) -> Result<String, Invalid> {
    multi_line(raw, LONG_TEXT_MAX, required)
}

/// Short statements: learnings, action titles, timeline entries.
pub fn statement(raw: &str, max: usize) -> Result<String, Invalid> {
    multi_line(raw, max, true)
}

/// A tag: lower-case letters, digits and hyphens, 1–32 characters ("Database Outage" → "database-outage").
pub fn tag(raw: &str) -> Result<String, Invalid> {
    let lowered = raw.trim().to_lowercase();
    let mut tag = String::new();
    for c in lowered.chars() {
        if c.is_alphanumeric() {
            tag.push(c);
        } else if (c == '-' || c == ' ' || c == '_') && !tag.ends_with('-') && !tag.is_empty() {
            tag.push('-');
        }
    }
    let tag = tag.trim_end_matches('-').to_owned();
    if tag.is_empty() {
        return Err(Invalid::new("must contain letters or digits"));
    }
    if tag.chars().count() > 32 {
        return Err(Invalid::new("must be at most 32 characters"));
    }
    Ok(tag)
}

/// Tags from a comma-separated list or separate values: deduplicated, at most 12.
pub fn tags<'a>(raw: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, Invalid> {
    let mut out: Vec<String> = Vec::new();
    for part in raw.into_iter().flat_map(|s| s.split(',')) {
        if part.trim().is_empty() {
            continue;
        }
        let tag = tag(part).map_err(|e| Invalid(format!("\"{}\" {}", part.trim(), e.0)))?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > TAGS_MAX {
        return Err(Invalid(format!("at most {TAGS_MAX} tags")));
    }
    Ok(out)
}

/// The most tags a loop keeps.
pub const TAGS_MAX: usize = 12;
/// The longest tag item, as written (a tag keeps at most as many characters once normalised).
pub const TAG_ITEM_MAX: usize = 32;

/// Tags given one an item, as the API and the service take them: each item is one [`tag`] of at
/// most [`TAG_ITEM_MAX`] characters as written, at most [`TAGS_MAX`] items, and items that name the same tag are kept once. A comma in an item is
/// refused rather than read as a list: a client that sends a list of tags has split it already,
/// and the rule for one item stays one a schema can state (`contract.rs`, ITEM_TAG).
pub fn tag_items<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, Invalid> {
    let mut out: Vec<String> = Vec::new();
    for (n, item) in items.into_iter().enumerate() {
        if n == TAGS_MAX {
            return Err(Invalid(format!("at most {TAGS_MAX} tags")));
        }
        if item.chars().count() > TAG_ITEM_MAX {
            return Err(Invalid(format!(
                "\"{}\" must be at most {TAG_ITEM_MAX} characters",
                item.trim()
            )));
        }
        if item.contains(',') {
            return Err(Invalid(format!(
                "\"{}\" is more than one tag: give each tag as an item of its own",
                item.trim()
            )));
        }
        let tag = tag(item).map_err(|e| Invalid(format!("\"{}\" {}", item.trim(), e.0)))?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Answer::{No, Unsure, Yes};
    use FactorReason as R;

    fn q(new: Answer, goal: Answer, hypothesis: Answer, small: Answer) -> Questionnaire {
        Questionnaire {
            new_territory: new,
            pursued_goal: goal,
            hypothesis_beforehand: hypothesis,
            as_small_as_possible: small,
            responded_quickly: Unsure,
            learned_from: Unsure,
        }
    }

    /// The mapping of domain.md §2, case by case.
    #[test]
    fn classification_follows_the_spectrum_and_the_criteria() {
        let cases: Vec<(&str, Questionnaire, Vec<FactorReason>, Option<FailureType>)> = vec![
            (
                "deviance alone is basic",
                q(No, No, No, No),
                vec![R::Deviance],
                Some(FailureType::Basic),
            ),
            (
                "inattention alone is basic",
                q(No, Yes, No, Unsure),
                vec![R::Inattention],
                Some(FailureType::Basic),
            ),
            (
                "lack of ability alone is basic",
                q(No, No, No, No),
                vec![R::LackOfAbility],
                Some(FailureType::Basic),
            ),
            (
                "process inadequacy is complex",
                q(No, No, No, No),
                vec![R::ProcessInadequacy],
                Some(FailureType::Complex),
            ),
            (
                "task challenge is complex",
                q(No, No, No, No),
                vec![R::TaskChallenge],
                Some(FailureType::Complex),
            ),
            (
                "process complexity is complex",
                q(No, No, No, No),
                vec![R::ProcessComplexity],
                Some(FailureType::Complex),
            ),
            (
                "uncertainty is complex",
                q(Unsure, No, No, No),
                vec![R::Uncertainty],
                Some(FailureType::Complex),
            ),
            (
                "two basic factors combine into complex",
                q(No, No, No, No),
                vec![R::Inattention, R::LackOfAbility],
                Some(FailureType::Complex),
            ),
            (
                "hypothesis test meeting every criterion is intelligent",
                q(Yes, Yes, Yes, Yes),
                vec![R::HypothesisTesting],
                Some(FailureType::Intelligent),
            ),
            (
                "exploratory test meeting every criterion is intelligent",
                q(Yes, Yes, Yes, Yes),
                vec![R::ExploratoryTesting],
                Some(FailureType::Intelligent),
            ),
            (
                "a test run bigger than needed is not yet intelligent",
                q(Yes, Yes, Yes, No),
                vec![R::HypothesisTesting],
                Some(FailureType::ExperimentNotYetIntelligent),
            ),
            (
                "a test in known territory is not yet intelligent",
                q(No, Yes, Yes, Yes),
                vec![R::ExploratoryTesting],
                Some(FailureType::ExperimentNotYetIntelligent),
            ),
            (
                "a hypothesis beforehand makes it a test even without a testing factor",
                q(Yes, Yes, Yes, Yes),
                vec![],
                Some(FailureType::Intelligent),
            ),
            (
                "a test with an unsure goal is not yet intelligent",
                q(Yes, Unsure, Yes, Yes),
                vec![],
                Some(FailureType::ExperimentNotYetIntelligent),
            ),
            (
                "new territory without a test is complex",
                q(Yes, Yes, No, Unsure),
                vec![],
                Some(FailureType::Complex),
            ),
            (
                "nothing to go on",
                q(Unsure, Unsure, Unsure, Unsure),
                vec![],
                None,
            ),
        ];
        for (name, answers, factors, expected) in cases {
            let suggestion = suggest_type(&answers, &factors);
            assert_eq!(
                suggestion.kind, expected,
                "{name}: {:?}",
                suggestion.reasons
            );
            assert!(!suggestion.reasons.is_empty(), "{name} gives reasons");
        }
    }

    #[test]
    fn missed_criteria_are_named() {
        let s = suggest_type(&q(Yes, Yes, Yes, No), &[R::HypothesisTesting]);
        assert!(s.reasons.iter().any(|r| r.contains("as small as possible")));
        assert!(!s.reasons.iter().any(|r| r.contains("new territory,")));
    }

    #[test]
    fn stages_advance_only_when_their_condition_holds() {
        let none = StageFacts::default();
        assert!(advance(Stage::Detect, &none).is_err());
        let expected = StageFacts {
            has_expectation: true,
            ..none
        };
        assert_eq!(advance(Stage::Detect, &expected), Ok(Stage::Analyse));
        let analysed = StageFacts {
            factor_count: 1,
            ..expected
        };
        let err = advance(Stage::Analyse, &analysed).expect_err("needs classification");
        assert!(err.contains("classify"));
        assert!(!err.contains("contributing factor"));
        let classified = StageFacts {
            classified: true,
            ..analysed
        };
        assert_eq!(advance(Stage::Analyse, &classified), Ok(Stage::Apply));
        assert!(advance(Stage::Apply, &classified).is_err());
        for facts in [
            StageFacts {
                learning_count: 1,
                ..classified
            },
            StageFacts {
                action_count: 1,
                ..classified
            },
        ] {
            assert_eq!(advance(Stage::Apply, &facts), Ok(Stage::Continue));
        }
        assert!(advance(Stage::Continue, &classified).is_err());
    }

    #[test]
    fn stage_order_round_trips() {
        for stage in Stage::ALL {
            if let Some(next) = stage.next() {
                assert_eq!(next.previous(), Some(*stage));
                assert_eq!(next.index(), stage.index() + 1);
            }
        }
    }

    #[test]
    fn tags_are_normalised() {
        assert_eq!(tag(" Database Outage "), Ok("database-outage".to_owned()));
        assert_eq!(tag("k8s"), Ok("k8s".to_owned()));
        assert_eq!(tag("Über_Release"), Ok("über-release".to_owned()));
        assert!(tag("---").is_err());
        assert_eq!(
            tags(["db, Db", "deploy"]),
            Ok(vec!["db".to_owned(), "deploy".to_owned()])
        );
        assert!(tags([(0..13)
            .map(|i| format!("t{i}"))
            .collect::<Vec<_>>()
            .join(",")
            .as_str()])
        .is_err());
    }

    #[test]
    fn tag_items_are_one_tag_each() {
        assert_eq!(
            tag_items(["Database Outage", "db", "DB"]),
            Ok(vec!["database-outage".to_owned(), "db".to_owned()])
        );
        assert!(tag_items(["db, deploy"]).is_err(), "a comma is not a list");
        assert!(tag_items([" "]).is_err(), "a blank item is no tag");
        assert!(tag_items(["\u{e000}"]).is_err(), "no letter or digit");
        let twelve: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
        assert!(tag_items(twelve.iter().map(String::as_str)).is_ok());
        let thirteen = ["a"; 13];
        assert!(tag_items(thirteen).is_err(), "13 items, even of one tag");
        let long = "  a  ".repeat(7);
        assert!(
            tag_items([long.as_str()]).is_err(),
            "35 characters as written"
        );
    }
}
