//! A person's failure CV (Stefan 2010; Haushofer 2016; domain.md §6): what they tried and failed
//! at, next to the usual list of successes. It belongs to the person: private unless they
//! publish it, never exported on anyone else's behalf (the service enforces both).
//!
//! What it lists: loops logged under the person's name that the team classified as intelligent
//! failures, and experiments the person designed that were concluded, each with what was
//! learnt. Anonymous loops have no author, so they can never appear (listing one would link it
//! to its writer). Loops of another type — basic, complex, or an experiment that missed a
//! criterion — are left off: the CV is about intelligent failure, and a basic failure is a
//! matter of process, not a line on anyone's record (domain.md §2).

use time::OffsetDateTime;

use crate::domain::experiments::Outcome;

/// An intelligent failure the person was named in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvFailure {
    pub loop_id: String,
    pub team_name: String,
    pub title: String,
    /// Midnight UTC of the day the failure was noticed.
    pub noticed_on: OffsetDateTime,
    /// The loop's learnings, sorted by text.
    pub learnings: Vec<String>,
}

/// A concluded experiment the person designed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CvExperiment {
    pub experiment_id: String,
    pub team_name: String,
    pub title: String,
    pub outcome: Outcome,
    /// The learning card's "we learned".
    pub learned: String,
    /// Midnight UTC of the day it was concluded.
    pub concluded_on: OffsetDateTime,
}

/// One person's failure CV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureCv {
    pub person_id: String,
    pub person_name: String,
    /// The day it was published to the organisation, when it is.
    pub published_on: Option<OffsetDateTime>,
    pub failures: Vec<CvFailure>,
    pub experiments: Vec<CvExperiment>,
}

fn day(at: OffsetDateTime) -> String {
    at.date().to_string()
}

/// The CV as a Markdown document, for the person's own download.
pub fn to_markdown(cv: &FailureCv) -> String {
    let mut out = format!("# Failure CV of {}\n\n", cv.person_name);
    out.push_str(
        "What I tried that did not go as hoped, and what I learnt from it.\n\n## Intelligent failures\n\n",
    );
    if cv.failures.is_empty() {
        out.push_str("None yet.\n\n");
    }
    for f in &cv.failures {
        out.push_str(&format!(
            "### {}\n\n{} · {}\n\n",
            f.title,
            f.team_name,
            day(f.noticed_on)
        ));
        if f.learnings.is_empty() {
            out.push_str("No learning written yet.\n\n");
        }
        for l in &f.learnings {
            out.push_str(&format!("- {l}\n"));
        }
        if !f.learnings.is_empty() {
            out.push('\n');
        }
    }
    out.push_str("## Experiments\n\n");
    if cv.experiments.is_empty() {
        out.push_str("None yet.\n\n");
    }
    for e in &cv.experiments {
        out.push_str(&format!(
            "### {}\n\n{} · {} · {}\n\n",
            e.title,
            e.team_name,
            e.outcome.label(),
            day(e.concluded_on)
        ));
        if !e.learned.trim().is_empty() {
            out.push_str(&format!("We learnt: {}\n\n", e.learned.trim()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_lists_both_parts_with_their_learnings() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let cv = FailureCv {
            person_id: "p".into(),
            person_name: "Mo".into(),
            published_on: None,
            failures: vec![CvFailure {
                loop_id: "l".into(),
                team_name: "Ops".into(),
                title: "Price test".into(),
                noticed_on: at,
                learnings: vec!["Test smaller.".into()],
            }],
            experiments: vec![CvExperiment {
                experiment_id: "e".into(),
                team_name: "Ops".into(),
                title: "Refunds".into(),
                outcome: Outcome::Refuted,
                learned: "Certainty beats speed.".into(),
                concluded_on: at,
            }],
        };
        let md = to_markdown(&cv);
        assert!(md.starts_with("# Failure CV of Mo"));
        assert!(md.contains("### Price test\n\nOps · 1970-01-01\n\n- Test smaller.\n"));
        assert!(md.contains(
            "### Refunds\n\nOps · Refuted · 1970-01-01\n\nWe learnt: Certainty beats speed."
        ));
    }
}
