//! "My work": what waits on one person across the teams they belong to — their open action
//! items, the loops they logged that are not through the loop yet, review sessions they can
//! join, pulse rounds they have not answered, experiments whose decision is near — and, for a
//! lead, their teams' stuck loops and overdue actions. The rules live here, read through the
//! service clock; pages only show the result.
//!
//! Only teams the person is a member of count (an admin's view of other teams is not their
//! work), and an anonymous loop is never anyone's: it has no author to match.

use time::{Duration, OffsetDateTime};

use crate::domain::experiments::ExperimentStatus;
use crate::domain::loops::{ActionStatus, Stage};
use crate::domain::records::culture::RoundRecord;
use crate::domain::records::experiments::ExperimentRecord;
use crate::domain::records::loops::{ActionRecord, LoopSummary};
use crate::domain::records::review::ReviewRecord;
use crate::domain::review::Phase;
use crate::domain::when::day_of;
use crate::domain::Team;
use crate::store::loops::{LoopFilter, LoopSort};

use super::error::ServiceResult;
use super::loops::{attention, Attention};
use super::{Actor, Service, TeamAccess};

/// A running experiment's decision is "near" from this many days before its date.
pub const DECISION_NEAR_DAYS: i64 = 14;
/// At most this many of one's own loops are listed (the oldest in their stage first).
const MY_LOOPS: i64 = 50;

/// An open action item the person owns.
#[derive(Debug, Clone)]
pub struct MyAction {
    pub team: Team,
    pub action: ActionRecord,
    pub overdue: bool,
}

/// A loop the person logged under their name that has not reached Continue.
#[derive(Debug, Clone)]
pub struct MyLoop {
    pub team: Team,
    pub summary: LoopSummary,
    pub attention: Option<Attention>,
}

/// A review session still running in one of the person's teams (every member may join).
#[derive(Debug, Clone)]
pub struct MyReview {
    pub team: Team,
    pub review: ReviewRecord,
    pub joined: bool,
}

/// An open pulse round the person has not answered.
#[derive(Debug, Clone)]
pub struct MyRound {
    pub team: Team,
    pub round: RoundRecord,
}

/// A running experiment whose decision date is near or past.
#[derive(Debug, Clone)]
pub struct MyDecision {
    pub team: Team,
    pub experiment: ExperimentRecord,
    pub overdue: bool,
}

/// What a lead watches in a team they lead.
#[derive(Debug, Clone)]
pub struct LedTeam {
    pub team: Team,
    pub stuck: Vec<(LoopSummary, Attention)>,
    pub overdue_actions: Vec<ActionRecord>,
}

/// Everything on one person's "My work" page.
#[derive(Debug, Clone)]
pub struct MyWork {
    pub today: OffsetDateTime,
    /// Overdue first, then by due date, undated last.
    pub actions: Vec<MyAction>,
    /// Those needing attention first.
    pub loops: Vec<MyLoop>,
    pub reviews: Vec<MyReview>,
    pub rounds: Vec<MyRound>,
    /// Overdue first, then by decision date.
    pub decisions: Vec<MyDecision>,
    /// Only the teams the person leads, and only those with something to show.
    pub led: Vec<LedTeam>,
}

impl MyWork {
    /// Nothing waits on the person.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
            && self.loops.is_empty()
            && self.reviews.is_empty()
            && self.rounds.is_empty()
            && self.decisions.is_empty()
            && self.led.is_empty()
    }
}

impl Service {
    /// What waits on `actor` in the teams they belong to.
    pub async fn my_work(&self, actor: &Actor) -> ServiceResult<MyWork> {
        let now = self.now();
        let today = day_of(now);
        let mut work = MyWork {
            today,
            actions: Vec::new(),
            loops: Vec::new(),
            reviews: Vec::new(),
            rounds: Vec::new(),
            decisions: Vec::new(),
            led: Vec::new(),
        };
        for (team, _) in self.store.teams_of(actor.id()).await? {
            let access = self.team_access(actor, team.slug.as_str()).await?;
            if !access.is_member() {
                continue;
            }
            self.my_work_in(&access, now, today, &mut work).await?;
        }
        work.actions.sort_by_key(|a| {
            (
                !a.overdue,
                a.action.due_on.is_none(),
                a.action.due_on,
                a.action.title.clone(),
            )
        });
        work.loops.sort_by_key(|l| {
            (
                l.attention.is_none(),
                l.summary.stage_entered_at,
                l.summary.title.clone(),
            )
        });
        work.decisions.sort_by_key(|d| {
            (
                !d.overdue,
                d.experiment.design.decide_by,
                d.experiment.design.title.clone(),
            )
        });
        Ok(work)
    }

    async fn my_work_in(
        &self,
        access: &TeamAccess,
        now: OffsetDateTime,
        today: OffsetDateTime,
        work: &mut MyWork,
    ) -> ServiceResult<()> {
        let team = access.team().clone();
        let me = access.actor();

        let open = self
            .store
            .team_actions(team.id, Some(ActionStatus::Open))
            .await?;
        for action in &open {
            if action.owner.as_ref().is_some_and(|owner| owner.id == me) {
                work.actions.push(MyAction {
                    team: team.clone(),
                    overdue: action.overdue_on(today),
                    action: action.clone(),
                });
            }
        }

        let filter = LoopFilter {
            author: Some(me),
            sort: LoopSort::LongestInStage,
            limit: MY_LOOPS,
            ..LoopFilter::default()
        };
        let (mine, _) = self.store.list_loops(team.id, &filter, today).await?;
        for summary in mine {
            // The store matched the author; an anonymous loop has none, but say so here too.
            if summary.anonymous || summary.stage == Stage::Continue {
                continue;
            }
            work.loops.push(MyLoop {
                team: team.clone(),
                attention: attention(
                    summary.stage,
                    summary.stage_entered_at,
                    None,
                    team.stuck_after_days,
                    now,
                ),
                summary,
            });
        }

        for review in self.store.reviews(team.id).await? {
            if review.phase == Phase::Closed {
                continue;
            }
            let joined = self
                .store
                .review_participants(review.id)
                .await?
                .iter()
                .any(|p| p.user == me);
            work.reviews.push(MyReview {
                team: team.clone(),
                review,
                joined,
            });
        }

        for round in self.pulse_rounds(access).await? {
            if round.can_answer {
                work.rounds.push(MyRound {
                    team: team.clone(),
                    round: round.record,
                });
            }
        }

        let near = today + Duration::days(DECISION_NEAR_DAYS);
        for experiment in self.store.experiments(team.id).await? {
            if experiment.status == ExperimentStatus::Running && experiment.design.decide_by <= near
            {
                work.decisions.push(MyDecision {
                    team: team.clone(),
                    overdue: experiment.overdue_on(today),
                    experiment,
                });
            }
        }

        if access.is_lead() {
            let stuck = self.loops_needing_attention(access).await?;
            let overdue_actions: Vec<ActionRecord> =
                open.into_iter().filter(|a| a.overdue_on(today)).collect();
            if !stuck.is_empty() || !overdue_actions.is_empty() {
                work.led.push(LedTeam {
                    team,
                    stuck,
                    overdue_actions,
                });
            }
        }
        Ok(())
    }
}
