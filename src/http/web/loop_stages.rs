//! The order and folding of the loop page's stage sections: the current stage leads, expanded;
//! the stages still to come follow as a preview of what they will ask for; the stages already
//! done come last, each folded to a one-line summary. Presentation only: it reads the page's
//! view, never the store or the clock.

use crate::domain::loops::Stage;

/// Where a stage sits relative to the loop's current stage.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Done,
    Current,
    Later,
}

impl Place {
    /// The word the page's classes and `data-stage-state` use.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Place::Done => "done",
            Place::Current => "current",
            Place::Later => "later",
        }
    }
}

/// One stage section of the loop page, in the order it is shown.
pub(super) struct StageSlot {
    /// The section's id (`detect`, `analyse`, `apply`, `continue`), kept as the anchors.
    pub(super) id: &'static str,
    pub(super) heading: &'static str,
    pub(super) place: Place,
    /// The one line shown on the fold of a stage that is not current.
    pub(super) summary: String,
    /// What a later stage will ask for ("" for the other places).
    pub(super) preview: &'static str,
    /// Whether the fold starts open: a form in it has just failed.
    pub(super) open: bool,
}

impl StageSlot {
    pub(super) fn place(&self) -> &'static str {
        self.place.as_str()
    }

    pub(super) fn folded(&self) -> bool {
        self.place != Place::Current
    }
}

/// The counts the one-line summaries are made of, taken from the page's view.
pub(super) struct StageFacts {
    pub(super) additions: usize,
    pub(super) impact: &'static str,
    pub(super) has_review: bool,
    pub(super) timeline: usize,
    pub(super) factors: usize,
    pub(super) accounts: usize,
    /// The failure type chosen or suggested ("" when the questions are unanswered).
    pub(super) kind: String,
    pub(super) learnings: usize,
    pub(super) actions: usize,
    pub(super) open_actions: usize,
    /// The follow-up in a few words ("" when no date is set).
    pub(super) follow_up: String,
    pub(super) has_next_experiment: bool,
}

/// "1 learning", "2 learnings".
fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn heading(stage: Stage) -> &'static str {
    match stage {
        Stage::Detect => "1. Detect — what we knew then",
        Stage::Analyse => "2. Analyse — what happened and how",
        Stage::Apply => "3. Apply — what we change",
        Stage::Continue => "4. Continue — the next smart risk",
    }
}

fn preview(stage: Stage) -> &'static str {
    match stage {
        Stage::Detect => "What happened, what was expected, and when it was noticed.",
        Stage::Analyse => {
            "An after-action review, a timeline, the contributing factors, each participant's \
             account and what kind of failure it was."
        }
        Stage::Apply => {
            "Learnings others can reuse, and action items with an owner and a due date."
        }
        Stage::Continue => {
            "A date to check whether the failure recurred and the change held, and the next \
             experiment."
        }
    }
}

fn summary(stage: Stage, facts: &StageFacts) -> String {
    match stage {
        Stage::Detect => format!(
            "Impact {}; {} since",
            facts.impact,
            count(facts.additions, "addition", "additions")
        ),
        Stage::Analyse => {
            let mut parts = vec![
                if facts.has_review {
                    "review written".to_owned()
                } else {
                    "no review".to_owned()
                },
                count(facts.factors, "contributing factor", "contributing factors"),
                count(facts.timeline, "timeline entry", "timeline entries"),
                count(facts.accounts, "account", "accounts"),
            ];
            if !facts.kind.is_empty() {
                parts.push(facts.kind.clone());
            }
            capitalised(&parts.join(" · "))
        }
        Stage::Apply => format!(
            "{} · {} ({} open)",
            capitalised(&count(facts.learnings, "learning", "learnings")),
            count(facts.actions, "action item", "action items"),
            facts.open_actions
        ),
        Stage::Continue => {
            let follow_up = if facts.follow_up.is_empty() {
                "no follow-up date"
            } else {
                facts.follow_up.as_str()
            };
            let next = if facts.has_next_experiment {
                "next experiment designed"
            } else {
                "no next experiment yet"
            };
            capitalised(&format!("{follow_up} · {next}"))
        }
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The stage a form belongs to, by the name the page gives a failed form.
fn stage_of_form(form: &str) -> Option<Stage> {
    match form {
        "addition" => Some(Stage::Detect),
        "review" | "timeline" | "factor" | "account" | "classification" | "override" => {
            Some(Stage::Analyse)
        }
        "learning" | "action" | "action-status" => Some(Stage::Apply),
        "follow-up" | "follow-up-answer" => Some(Stage::Continue),
        _ => None,
    }
}

/// The stage sections in the order the page shows them: the current stage, then the later ones
/// in order, then the earlier ones in order.
pub(super) fn stage_slots(current: Stage, facts: &StageFacts, error_form: &str) -> Vec<StageSlot> {
    let failed = stage_of_form(error_form);
    let place = |stage: Stage| match stage.index().cmp(&current.index()) {
        std::cmp::Ordering::Less => Place::Done,
        std::cmp::Ordering::Equal => Place::Current,
        std::cmp::Ordering::Greater => Place::Later,
    };
    let mut stages: Vec<Stage> = Stage::ALL.to_vec();
    stages.sort_by_key(|&s| match place(s) {
        Place::Current => 0,
        Place::Later => 1,
        Place::Done => 2,
    });
    stages
        .into_iter()
        .map(|stage| StageSlot {
            id: stage.as_str(),
            heading: heading(stage),
            place: place(stage),
            summary: summary(stage, facts),
            preview: if place(stage) == Place::Later {
                preview(stage)
            } else {
                ""
            },
            open: failed == Some(stage),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> StageFacts {
        StageFacts {
            additions: 1,
            impact: "team",
            has_review: false,
            timeline: 0,
            factors: 2,
            accounts: 1,
            kind: String::new(),
            learnings: 1,
            actions: 3,
            open_actions: 2,
            follow_up: String::new(),
            has_next_experiment: false,
        }
    }

    #[test]
    fn the_current_stage_leads_then_later_then_done() {
        let order: Vec<_> = stage_slots(Stage::Apply, &facts(), "")
            .iter()
            .map(|s| (s.id, s.place()))
            .collect();
        assert_eq!(
            order,
            [
                ("apply", "current"),
                ("continue", "later"),
                ("detect", "done"),
                ("analyse", "done")
            ]
        );
    }

    #[test]
    fn a_failed_form_opens_its_fold_only() {
        let slots = stage_slots(Stage::Continue, &facts(), "factor");
        let open: Vec<_> = slots.iter().filter(|s| s.open).map(|s| s.id).collect();
        assert_eq!(open, ["analyse"]);
    }

    #[test]
    fn summaries_count_in_words() {
        let f = facts();
        assert_eq!(summary(Stage::Detect, &f), "Impact team; 1 addition since");
        assert_eq!(
            summary(Stage::Analyse, &f),
            "No review · 2 contributing factors · 0 timeline entries · 1 account"
        );
        assert_eq!(
            summary(Stage::Apply, &f),
            "1 learning · 3 action items (2 open)"
        );
    }
}
