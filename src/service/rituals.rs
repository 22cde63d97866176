//! Rituals (issue 24; domain.md "Rituals that open up vulnerability"): a team's recurring
//! failure-share round. The schedule and the service's clock decide the current round; it opens
//! to the team only when a lead has shared in it, under their name (the first vulnerability comes
//! from the top, Coyle 2018). Unnamed shares are held in memory until the round closes and then
//! written together in key order (`service::held`), so the database keeps no author, time or
//! order for them. A round closes — by a lead, or when the next one starts — into the team's
//! library: the rituals page lists every closed round's shares.

use time::{Date, OffsetDateTime, Time};

use crate::domain::rituals::{
    Cadence, RitualRoundRecord, RitualSchedule, RitualShareRecord, RoundState, ShareText,
};
use crate::domain::RecordId;

use super::error::{FieldErrors, ServiceError, ServiceResult};
use super::{held, Service, TeamAccess};

/// How many past rounds the page and the API show.
pub const PAST_ROUNDS: i64 = 20;

/// The current round as the team sees it.
#[derive(Debug, Clone)]
pub struct CurrentRound {
    pub opens_on: Date,
    pub next_on: Date,
    pub state: RoundState,
    /// Named shares so far. Unnamed ones show when the round closes, and not even their number
    /// before: a count that rose just after someone left the room would point at them.
    pub shares: Vec<RitualShareRecord>,
}

/// A round that happened, with what was shared.
#[derive(Debug, Clone)]
pub struct PastRound {
    pub round: RitualRoundRecord,
    pub shares: Vec<RitualShareRecord>,
}

/// The rituals page: the schedule, the current round, the past ones.
#[derive(Debug, Clone)]
pub struct RitualView {
    pub schedule: Option<RitualSchedule>,
    pub current: Option<CurrentRound>,
    pub past: Vec<PastRound>,
    pub can_schedule: bool,
    pub is_lead: bool,
}

fn midnight(day: Date) -> OffsetDateTime {
    day.with_time(Time::MIDNIGHT).assume_utc()
}

fn share_text(failed: &str, learnt: &str) -> ServiceResult<ShareText> {
    ShareText::parse(failed, learnt).map_err(|errors| {
        let mut fields = FieldErrors::default();
        for (field, invalid) in errors {
            fields.push(field, invalid.0);
        }
        ServiceError::from(fields)
    })
}

impl Service {
    /// Sets the team's ritual (leads and admins).
    pub async fn set_ritual_schedule(
        &self,
        access: &TeamAccess,
        cadence: Cadence,
        weekday: time::Weekday,
    ) -> ServiceResult<RitualSchedule> {
        if !access.can_manage() {
            return Err(ServiceError::Forbidden(
                "only the team's leads can schedule its ritual".into(),
            ));
        }
        let schedule = RitualSchedule { cadence, weekday };
        self.store
            .set_ritual_schedule(access.team().id, &schedule)
            .await?;
        // A round that no longer matches the schedule is over.
        self.close_due_ritual_rounds().await?;
        Ok(schedule)
    }

    /// The team's ritual now.
    pub async fn ritual(&self, access: &TeamAccess) -> ServiceResult<RitualView> {
        self.close_due_ritual_rounds().await?;
        let team = access.team().id;
        let schedule = self.store.ritual_schedule(team).await?;
        let today = self.today().date();
        let mut current = None;
        let mut current_id = None;
        if let Some(schedule) = schedule {
            let opens_on = schedule.current_round(today);
            let round = self.store.ritual_round(team, midnight(opens_on)).await?;
            let (state, shares) = match &round {
                None => (RoundState::WaitingForLead, Vec::new()),
                Some(r) if r.closed_at.is_some() => (RoundState::Closed, Vec::new()),
                Some(r) => {
                    current_id = Some(r.id);
                    (
                        RoundState::Open,
                        self.store
                            .ritual_shares(r.id)
                            .await?
                            .into_iter()
                            .filter(|s| s.author_name.is_some())
                            .collect(),
                    )
                }
            };
            current = Some(CurrentRound {
                opens_on,
                next_on: schedule.next_round(today),
                state,
                shares,
            });
        }
        let mut past = Vec::new();
        for round in self.store.ritual_rounds(team, PAST_ROUNDS).await? {
            if Some(round.id) == current_id || round.closed_at.is_none() {
                continue;
            }
            let shares = self.store.ritual_shares(round.id).await?;
            past.push(PastRound { round, shares });
        }
        Ok(RitualView {
            schedule,
            current,
            past,
            can_schedule: access.can_manage(),
            is_lead: access.is_lead(),
        })
    }

    /// Shares a failure and what was learnt in the current round. Refused until a lead of the
    /// team has shared in it; a lead's opening share is named, since the point is that the team
    /// sees who went first.
    pub async fn share_in_ritual(
        &self,
        access: &TeamAccess,
        failed: &str,
        learnt: &str,
        unnamed: bool,
    ) -> ServiceResult<()> {
        if !access.is_member() {
            return Err(ServiceError::Forbidden(
                "only the team's members share in its ritual".into(),
            ));
        }
        let share = share_text(failed, learnt)?;
        self.close_due_ritual_rounds().await?;
        let team = access.team().id;
        let schedule =
            self.store
                .ritual_schedule(team)
                .await?
                .ok_or_else(|| ServiceError::Conflict {
                    field: None,
                    message: "this team has no ritual scheduled yet; a lead schedules it".into(),
                })?;
        let opens_on = midnight(schedule.current_round(self.today().date()));
        match self.store.ritual_round(team, opens_on).await? {
            None if access.is_lead() => {
                if unnamed {
                    return Err(ServiceError::Conflict {
                        field: Some("unnamed".into()),
                        message: "a lead's share opens the round and is named: the team sees \
                                  that a lead went first"
                            .into(),
                    });
                }
                self.store
                    .open_ritual_round(team, opens_on, self.now(), access.actor(), &share)
                    .await?;
            }
            None => {
                return Err(ServiceError::Conflict {
                    field: None,
                    message: "the round opens when a lead has shared: no lead has shared a \
                              failure in this round yet"
                        .into(),
                })
            }
            Some(round) if round.closed_at.is_some() => {
                return Err(ServiceError::Conflict {
                    field: None,
                    message: format!(
                        "this round is closed; the next one starts on {}",
                        schedule.next_round(self.today().date())
                    ),
                })
            }
            Some(round) if unnamed => {
                self.admit_held(Some(access.actor()), held::size_of_share(&share), false)?;
                self.held.hold_ritual_share(round.id, share);
            }
            Some(round) => {
                self.store
                    .add_named_ritual_share(round.id, access.actor(), &share)
                    .await?;
            }
        }
        Ok(())
    }

    /// Closes the current round into the team's library (leads and admins).
    pub async fn close_ritual(&self, access: &TeamAccess) -> ServiceResult<()> {
        access.require_manage()?;
        let team = access.team().id;
        let schedule = self
            .store
            .ritual_schedule(team)
            .await?
            .ok_or(ServiceError::Conflict {
                field: None,
                message: "this team has no ritual scheduled".into(),
            })?;
        let opens_on = midnight(schedule.current_round(self.today().date()));
        match self.store.ritual_round(team, opens_on).await? {
            Some(round) if round.closed_at.is_none() => self.close_ritual_round(round.id).await,
            _ => Err(ServiceError::Conflict {
                field: None,
                message: "there is no open round to close".into(),
            }),
        }
    }

    async fn close_ritual_round(&self, round: RecordId) -> ServiceResult<()> {
        self.store.close_ritual_round(round, self.now()).await?;
        self.write_held_ritual_shares(round).await
    }

    async fn write_held_ritual_shares(&self, round: RecordId) -> ServiceResult<()> {
        let held = self.held.take_ritual_shares(round);
        if let Err(error) = self.store.write_unnamed_ritual_shares(round, &held).await {
            self.held.restore_ritual_shares(round, held);
            return Err(error.into());
        }
        Ok(())
    }

    /// Closes every round whose successor has started (or whose team has no schedule any more);
    /// the periodic sweep and every read call it.
    pub async fn close_due_ritual_rounds(&self) -> ServiceResult<usize> {
        let today = self.today().date();
        let mut closed = 0;
        for (team, round, opens_on) in self.store.open_ritual_rounds().await? {
            let current = self
                .store
                .ritual_schedule(team)
                .await?
                .map(|s| midnight(s.current_round(today)));
            if current != Some(opens_on) {
                self.close_ritual_round(round).await?;
                closed += 1;
            }
        }
        Ok(closed)
    }

    /// Writes the unnamed shares this server holds for rounds another instance closed.
    pub async fn write_due_ritual_shares(&self) -> ServiceResult<()> {
        for round in self.held.ritual_rounds() {
            if self.store.ritual_round_is_closed(round).await? {
                self.write_held_ritual_shares(round).await?;
            }
        }
        Ok(())
    }

    /// On a graceful stop: unnamed shares have no participation mark to be paired with, so they
    /// are all written (which tells a reader only that they came before the stop).
    pub(crate) async fn release_held_ritual_shares(&self) -> ServiceResult<()> {
        for round in self.held.ritual_rounds() {
            self.write_held_ritual_shares(round).await?;
        }
        Ok(())
    }
}

/// How long a member counts as new for the lead's first-moments prompt.
pub const NEW_MEMBER_DAYS: i64 = 14;

/// First moments (issue 24): what the team page asks of a lead while the team is new to failing
/// together — no failure logged by any lead yet, or members who joined in the last
/// [`NEW_MEMBER_DAYS`] days.
#[derive(Debug, Clone, Default)]
pub struct FirstMoments {
    /// No lead of the team has logged a failure under their name yet.
    pub no_lead_failure_yet: bool,
    /// The names of members who joined recently (empty for anyone but a lead).
    pub new_members: Vec<String>,
}

impl Service {
    /// The first-moments prompts for the viewer: only leads get them.
    pub async fn first_moments(&self, access: &TeamAccess) -> ServiceResult<FirstMoments> {
        if !access.is_lead() {
            return Ok(FirstMoments::default());
        }
        let team = access.team().id;
        let logged: i64 = self
            .store
            .lead_failure_counts(team, OffsetDateTime::UNIX_EPOCH)
            .await?
            .iter()
            .map(|(_, _, n)| n)
            .sum();
        let since = self.now() - time::Duration::days(NEW_MEMBER_DAYS);
        let new_members = self
            .store
            .members(team)
            .await?
            .into_iter()
            .filter(|m| m.joined_at >= since && m.user.id != access.actor())
            .map(|m| m.user.name.to_string())
            .collect();
        Ok(FirstMoments {
            no_lead_failure_yet: logged == 0,
            new_members,
        })
    }
}
