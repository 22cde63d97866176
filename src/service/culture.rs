//! Culture instruments: the psychological-safety pulse (anonymous, thresholded, shown only after
//! a round closes), recognition with a fairness view for leads, and "leaders go first".

use time::{Duration, OffsetDateTime, Time};

use crate::domain::culture::{
    self, below_four_fifths, gini, pair_concentration, pulse_result, suppress, PulseAnswers,
    PulseResult, MIN_COMMENTS, MIN_RESPONSES_FLOOR, PULSE_ITEMS,
};
use crate::domain::experiments::Quarter;
use crate::domain::loops::statement;
use crate::domain::when::{day_of, parse_date};
use crate::domain::{RecordId, TeamRole, UserId};
use crate::store::culture::{NewRecognition, NewRound, RecognitionRecord, RoundRecord};
use crate::store::StoreError;

use super::error::{FieldErrors, ServiceError, ServiceResult};
use super::{Service, TeamAccess};

/// A round as one person may see it.
#[derive(Debug, Clone)]
pub struct RoundView {
    pub record: RoundRecord,
    /// Still taking answers.
    pub open: bool,
    pub answered_by_me: bool,
    pub can_answer: bool,
    /// Present only once the round is closed and has enough responses.
    pub results: Option<PulseResult>,
    /// Present only once the round is closed and has at least ten responses; sorted by text,
    /// never in the order they were written.
    pub comments: Option<Vec<String>>,
    /// Why results are not shown, when they are not.
    pub withheld: Option<String>,
    /// How many people could answer: the members when it opened, or more when people joined
    /// while it was open (they may answer too), and never fewer than answered.
    pub could_answer: i64,
    /// Responses per person who could answer, when results are shown.
    pub response_rate: Option<f64>,
}

/// The fairness view of recognition.
#[derive(Debug, Clone)]
pub struct Fairness {
    pub window_days: i64,
    pub quiet_weeks: i64,
    pub total: usize,
    pub members: usize,
    pub min: usize,
    /// `None` with `withheld` when the team or the window is too small to show fairly.
    pub per_person: Option<Vec<PersonReceived>>,
    pub gini: Option<f64>,
    pub not_recognised: Option<Vec<String>>,
    pub top_pairs_share: Option<f64>,
    pub distinct_pairs: usize,
    /// Leads and members.
    pub groups: Vec<GroupFairness>,
    pub withheld: Option<String>,
}

/// How many recognitions one member received in the window.
#[derive(Debug, Clone)]
pub struct PersonReceived {
    pub name: String,
    pub received: u64,
}

/// Recognition per head for leads or members, screened by the four-fifths rule.
#[derive(Debug, Clone)]
pub struct GroupFairness {
    pub label: &'static str,
    pub heads: u64,
    pub received: u64,
    /// False when the group is too small to show (or would let a hidden one be subtracted).
    pub shown: bool,
    pub below_four_fifths: bool,
}

impl RoundView {
    /// The day the round actually closed: the day a lead closed it early, else its last day
    /// (it closes at that day's end); `None` while it is open. The pulse trend is labelled with
    /// it, so that an early close does not read as a later one (issue 19).
    pub fn closed_on(&self) -> Option<OffsetDateTime> {
        if self.open {
            return None;
        }
        Some(match self.record.closed_at {
            Some(at) if at < closing_instant(&self.record) => at,
            _ => self.record.closes_on,
        })
    }
}

/// The end of the round's last day. A round stored before `open_pulse_round` refused the last
/// representable day ends with it rather than past it (`+` would panic there).
fn closing_instant(record: &RoundRecord) -> OffsetDateTime {
    record.closes_on.saturating_add(Duration::days(1))
}

impl Service {
    fn lead_or_admin(&self, access: &TeamAccess, what: &str) -> ServiceResult<()> {
        if access.can_manage() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(format!(
                "only the team's leads can {what}"
            )))
        }
    }

    /// Opens a pulse round that takes answers until the end of `closes_on` (leads only). One
    /// round is open at a time.
    pub async fn open_pulse_round(
        &self,
        access: &TeamAccess,
        closes_on: &str,
    ) -> ServiceResult<RecordId> {
        self.lead_or_admin(access, "open a pulse round")?;
        let today = day_of(self.now());
        let closes_on = parse_date(closes_on).map_err(|e| ServiceError::field("closes_on", e.0))?;
        if closes_on < today {
            return Err(ServiceError::field("closes_on", "must be today or later"));
        }
        // A round takes answers until the end of its day: the last day the calendar holds
        // (9999-12-31) has no end to reach.
        if closes_on.checked_add(Duration::days(1)).is_none() {
            return Err(ServiceError::field(
                "closes_on",
                "must be before 9999-12-31",
            ));
        }
        let now = self.now();
        let rounds = self.store.rounds(access.team().id).await?;
        if rounds
            .iter()
            .any(|r| r.closed_at.is_none() && closing_instant(r) > now)
        {
            return Err(ServiceError::conflict(
                "closes_on",
                "a round is already open; close it first",
            ));
        }
        let round = NewRound {
            id: RecordId::random(),
            team_id: access.team().id,
            opened_by: access.actor(),
            opened_at: now,
            closes_on,
            members_at_open: self.store.member_count(access.team().id).await?,
            min_responses: i64::from(access.team().pulse_min_responses),
        };
        self.store.open_round(&round).await?;
        Ok(round.id)
    }

    async fn round_view(
        &self,
        access: &TeamAccess,
        record: RoundRecord,
        with_comments: bool,
    ) -> ServiceResult<RoundView> {
        let mut record = record;
        let now = self.now();
        let open = record.closed_at.is_none() && closing_instant(&record) > now;
        let stored = if open {
            Vec::new()
        } else {
            self.write_held_answers(record.id).await?;
            let stored = self.store.pulse_answers(record.id).await?;
            // Answers held by a server that died before the close are lost: count what is
            // there, so that thresholds apply to the answers actually aggregated.
            record.responses = stored.len() as i64;
            stored
        };
        let answered_by_me = self.store.has_answered(record.id, access.actor()).await?;
        let min = u32::try_from(record.min_responses).unwrap_or(culture::DEFAULT_MIN_RESPONSES);
        let (results, comments, withheld) = if open {
            (
                None,
                None,
                Some("Results appear when the round closes: showing them while people answer would let anyone watching work out a single person's answers.".to_owned()),
            )
        } else if record.responses < i64::from(min) {
            (
                None,
                None,
                Some(format!(
                    "{}: results show only from {min}, so that no answer can be singled out.",
                    crate::domain::text::count(record.responses, "response", "responses")
                )),
            )
        } else {
            let answers: Vec<PulseAnswers> = stored
                .iter()
                .filter_map(|(a, _)| PulseAnswers::parse(a).ok())
                .collect();
            let comments = (with_comments && stored.len() >= MIN_COMMENTS as usize).then(|| {
                let mut comments: Vec<String> =
                    stored.iter().filter_map(|(_, c)| c.clone()).collect();
                comments.sort();
                comments
            });
            (pulse_result(&answers, min), comments, None)
        };
        // Members now stand in for those who joined during the round; a member who left after
        // answering is still counted through the responses.
        let could_answer = record
            .members_at_open
            .max(self.store.member_count(access.team().id).await?)
            .max(record.responses);
        let response_rate = results.as_ref().and_then(|_| {
            (could_answer > 0).then(|| record.responses as f64 / could_answer as f64)
        });
        Ok(RoundView {
            can_answer: open && !answered_by_me && access.is_member(),
            open,
            answered_by_me,
            results,
            comments,
            withheld,
            could_answer,
            response_rate,
            record,
        })
    }

    /// The team's rounds, newest first (results only where they may be shown; no comments).
    pub async fn pulse_rounds(&self, access: &TeamAccess) -> ServiceResult<Vec<RoundView>> {
        let mut out = Vec::new();
        for record in self.store.rounds(access.team().id).await? {
            out.push(self.round_view(access, record, false).await?);
        }
        Ok(out)
    }

    pub async fn pulse_round(&self, access: &TeamAccess, id: &str) -> ServiceResult<RoundView> {
        let id: RecordId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let record = self
            .store
            .round(access.team().id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.round_view(access, record, true).await
    }

    /// Answers a round, once, anonymously: the answer is stored with no link to the person.
    pub async fn answer_pulse(
        &self,
        access: &TeamAccess,
        id: &str,
        answers: &[Option<u8>],
        comment: &str,
    ) -> ServiceResult<()> {
        let view = self.pulse_round(access, id).await?;
        if !access.is_member() {
            return Err(ServiceError::Forbidden(
                "only members of the team answer its pulse".to_owned(),
            ));
        }
        if !view.open {
            return Err(ServiceError::Conflict {
                field: None,
                message: "this round is closed".to_owned(),
            });
        }
        let mut errors = FieldErrors::default();
        let mut values = Vec::with_capacity(7);
        for i in 0..PULSE_ITEMS.len() {
            match answers.get(i).copied().flatten() {
                Some(v) if (1..=7).contains(&v) => values.push(v),
                _ => errors.push(&format!("item{}", i + 1), "choose a point from 1 to 7"),
            }
        }
        let comment = comment.trim();
        let comment = if comment.is_empty() {
            None
        } else {
            errors.take("comment", statement(comment, 2000))
        };
        errors.check()?;
        let parsed = PulseAnswers::parse(&values)
            .map_err(|(i, e)| ServiceError::field(&format!("item{}", i + 1), e.0))?;
        // The mark now (it refuses a second answer on every instance); the answer waits in
        // memory for the round's close (see `service::held`).
        let answer: super::held::HeldAnswer = (parsed.0, comment);
        let bytes = super::held::size_of_answer(&answer);
        self.admit_held(Some(access.actor()), bytes, false)?;
        match self
            .store
            .mark_pulse_participant(view.record.id, access.actor())
            .await
        {
            Ok(()) => {
                self.held
                    .hold_answer(access.team().id, view.record.id, access.actor(), answer);
                Ok(())
            }
            Err(StoreError::Conflict { .. }) => {
                self.held.give_back(bytes);
                Err(ServiceError::Conflict {
                    field: None,
                    message: "you have already answered this round".to_owned(),
                })
            }
            Err(other) => {
                self.held.give_back(bytes);
                Err(other.into())
            }
        }
    }

    /// Writes the answers this server holds for a round that has closed, all in one
    /// transaction, in an order that is not the order they were given.
    pub(crate) async fn write_held_answers(&self, round: RecordId) -> ServiceResult<()> {
        let held = self.held.take_round(round);
        if held.answers.is_empty() {
            return Ok(());
        }
        if let Err(error) = self.store.write_pulse_answers(round, &held.answers).await {
            self.held.restore_round(round, held);
            return Err(error.into());
        }
        Ok(())
    }

    /// Writes the held answers of every round that has closed meanwhile (by a lead on another
    /// instance, or at the end of its last day); the server calls it periodically.
    pub async fn write_due_answers(&self) -> ServiceResult<()> {
        let now = self.now();
        for (round, team) in self.held.rounds() {
            let closed = match self.store.round(team, round).await? {
                Some(record) => record.closed_at.is_some() || closing_instant(&record) <= now,
                // The round is gone (team deleted): nothing to write it to.
                None => {
                    self.held.take_round(round);
                    false
                }
            };
            if closed {
                self.write_held_answers(round).await?;
            }
        }
        Ok(())
    }

    /// Closes the rounds whose last day has ended and that no lead closed: each gets
    /// `pulse.round_closed` once, from the system, at the end of its last day, written with the
    /// close (the store's conditional update lets one instance or sweep through, and a lead's
    /// close made first leaves nothing to do). The server calls it periodically; returns how many
    /// rounds it closed.
    pub async fn close_due_pulse_rounds(&self) -> ServiceResult<usize> {
        let mut closed = 0;
        let due = self.store.rounds_past_closing(self.now(), 500).await?;
        for (team, round, closes_on) in due {
            let at = closes_on.saturating_add(Duration::days(1));
            let event = self.system_emitter_at(at).round_closed(team, round);
            if self.store.close_round(team, round, at, &[event]).await? {
                closed += 1;
            }
            self.write_held_answers(round).await?;
        }
        Ok(closed)
    }

    /// Closes a round early (leads only).
    pub async fn close_pulse_round(&self, access: &TeamAccess, id: &str) -> ServiceResult<()> {
        self.lead_or_admin(access, "close a pulse round")?;
        let id: RecordId = id.parse().map_err(|_| ServiceError::NotFound)?;
        self.store
            .round(access.team().id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let event = self.emitter(access).round_closed(access.team().id, id);
        self.store
            .close_round(access.team().id, id, self.now(), &[event])
            .await?;
        self.write_held_answers(id).await
    }

    /// Sets the minimum number of responses before results show (leads; never below 3).
    pub async fn set_pulse_threshold(&self, access: &TeamAccess, raw: &str) -> ServiceResult<()> {
        self.lead_or_admin(access, "change the threshold")?;
        let min: u32 = raw
            .trim()
            .parse()
            .ok()
            .filter(|n| (MIN_RESPONSES_FLOOR..=50).contains(n))
            .ok_or_else(|| {
                ServiceError::field("min_responses", "must be a whole number from 3 to 50")
            })?;
        self.store
            .set_pulse_min_responses(access.team().id, min)
            .await?;
        Ok(())
    }

    /// The aggregates of every round whose results may be shown, as CSV — never an individual
    /// answer, never a comment.
    pub async fn pulse_csv(&self, access: &TeamAccess) -> ServiceResult<String> {
        let mut csv = String::from(
            "round_closes_on,responses,members_at_open,could_answer,response_rate,team_score,spread",
        );
        for i in 1..=7 {
            csv.push_str(&format!(",item{i}_mean"));
            for v in 1..=7 {
                csv.push_str(&format!(",item{i}_answered_{v}"));
            }
        }
        csv.push('\n');
        for view in self.pulse_rounds(access).await?.into_iter().rev() {
            let Some(result) = &view.results else {
                continue;
            };
            let date = view
                .record
                .closes_on
                .format(time::macros::format_description!("[year]-[month]-[day]"))
                .unwrap_or_default();
            csv.push_str(&format!(
                "{date},{},{},{},{:.3},{:.3},{:.3}",
                result.responses,
                view.record.members_at_open,
                view.could_answer,
                view.response_rate.unwrap_or(0.0),
                result.team_score,
                result.spread
            ));
            for item in 0..7 {
                csv.push_str(&format!(",{:.3}", result.item_means[item]));
                for count in result.distributions[item] {
                    csv.push_str(&format!(",{count}"));
                }
            }
            csv.push('\n');
        }
        Ok(csv)
    }

    /// Recognises a teammate for something specific: the behaviour and its impact.
    pub async fn recognise(
        &self,
        access: &TeamAccess,
        receiver: &str,
        behaviour: &str,
        impact: &str,
        expectation: Option<&str>,
    ) -> ServiceResult<RecordId> {
        let mut errors = FieldErrors::default();
        // The expectation it honours, when named: one of this team's, still in force.
        let expectation = match expectation.map(str::trim).filter(|e| !e.is_empty()) {
            None => Some(None),
            Some(raw) => {
                let found = match raw.parse::<RecordId>() {
                    Ok(id) => self
                        .store
                        .expectation(access.team().id, id)
                        .await?
                        .filter(|e| e.retired_at.is_none()),
                    Err(_) => None,
                };
                match found {
                    Some(e) => Some(Some(e.id)),
                    None => {
                        errors.push(
                            "expectation_id",
                            "must be one of this team's expectations in force",
                        );
                        None
                    }
                }
            }
        };
        let receiver = match receiver.trim().parse::<UserId>() {
            Ok(id) if id == access.actor() => {
                errors.push("receiver_id", "recognise someone else");
                None
            }
            Ok(id) if self.store.membership(access.team().id, id).await?.is_some() => Some(id),
            _ => {
                errors.push("receiver_id", "must be a member of the team");
                None
            }
        };
        let behaviour = errors.take("behaviour", statement(behaviour, 1000));
        let impact = errors.take("impact", statement(impact, 1000));
        let (Some(receiver), Some(behaviour), Some(impact), Some(expectation)) =
            (receiver, behaviour, impact, expectation)
        else {
            return Err(errors.into());
        };
        let recognition = NewRecognition {
            id: RecordId::random(),
            team_id: access.team().id,
            giver: access.actor(),
            receiver,
            behaviour,
            impact,
            created_at: self.now(),
            expectation,
        };
        self.store.create_recognition(&recognition).await?;
        Ok(recognition.id)
    }

    /// The team feed: recognitions of the last `days` days.
    pub async fn recognitions(
        &self,
        access: &TeamAccess,
        days: i64,
    ) -> ServiceResult<Vec<RecognitionRecord>> {
        let since = self.now() - Duration::days(days.clamp(1, 3650));
        Ok(self.store.recognitions(access.team().id, since).await?)
    }

    /// How recognition is spread across the team, for leads and admins. Every breakdown obeys the
    /// team's minimum group size.
    pub async fn recognition_fairness(
        &self,
        access: &TeamAccess,
        window_days: i64,
        quiet_weeks: i64,
    ) -> ServiceResult<Fairness> {
        self.lead_or_admin(access, "see the fairness view")?;
        let window_days = window_days.clamp(7, 730);
        let quiet_weeks = quiet_weeks.clamp(1, 52);
        let now = self.now();
        let members = self.store.members(access.team().id).await?;
        let in_window = self
            .store
            .recognitions(access.team().id, now - Duration::days(window_days))
            .await?;
        let recent = self
            .store
            .recognitions(access.team().id, now - Duration::weeks(quiet_weeks))
            .await?;
        let min = access.team().pulse_min_responses as usize;
        let received = |id: UserId| in_window.iter().filter(|r| r.receiver.id == id).count() as u64;
        let mut pairs: Vec<((Option<UserId>, UserId), u64)> = Vec::new();
        for r in &in_window {
            let key = (r.giver.as_ref().map(|g| g.id), r.receiver.id);
            match pairs.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => pairs.push((key, 1)),
            }
        }
        let group = |role: TeamRole| {
            let heads = members.iter().filter(|m| m.role == role).count() as u64;
            let got: u64 = members
                .iter()
                .filter(|m| m.role == role)
                .map(|m| received(m.user.id))
                .sum();
            (heads, got)
        };
        let (lead_heads, lead_got) = group(TeamRole::Lead);
        let (member_heads, member_got) = group(TeamRole::Member);
        let shown = suppress(&[lead_heads as usize, member_heads as usize], min);
        let both = shown.iter().all(|s| *s);
        let best = if lead_got * member_heads >= member_got * lead_heads {
            (lead_got, lead_heads)
        } else {
            (member_got, member_heads)
        };
        let groups = vec![
            GroupFairness {
                label: "Leads",
                heads: lead_heads,
                received: lead_got,
                shown: shown[0],
                below_four_fifths: both && below_four_fifths(lead_got, lead_heads, best.0, best.1),
            },
            GroupFairness {
                label: "Members",
                heads: member_heads,
                received: member_got,
                shown: shown[1],
                below_four_fifths: both
                    && below_four_fifths(member_got, member_heads, best.0, best.1),
            },
        ];
        let enough = members.len() >= min && in_window.len() >= min;
        let withheld = (!enough).then(|| {
            format!(
                "Too few to show fairly: the per-person view needs at least {min} members and {min} recognitions in the window ({} and {} now).",
                members.len(),
                in_window.len()
            )
        });
        let counts: Vec<u64> = members.iter().map(|m| received(m.user.id)).collect();
        Ok(Fairness {
            window_days,
            quiet_weeks,
            total: in_window.len(),
            members: members.len(),
            min,
            per_person: enough.then(|| {
                let mut list: Vec<PersonReceived> = members
                    .iter()
                    .map(|m| PersonReceived {
                        name: m.user.name.to_string(),
                        received: received(m.user.id),
                    })
                    .collect();
                list.sort_by(|a, b| b.received.cmp(&a.received).then(a.name.cmp(&b.name)));
                list
            }),
            gini: enough.then(|| gini(&counts)),
            not_recognised: enough.then(|| {
                members
                    .iter()
                    .filter(|m| !recent.iter().any(|r| r.receiver.id == m.user.id))
                    .map(|m| m.user.name.to_string())
                    .collect()
            }),
            top_pairs_share: enough
                .then(|| pair_concentration(&pairs.iter().map(|(_, n)| *n).collect::<Vec<_>>(), 3)),
            distinct_pairs: pairs.len(),
            groups,
            withheld,
        })
    }

    /// Leaders go first: how many failures each lead logged under their name this quarter
    /// (counts, not content).
    pub async fn leaders_first(
        &self,
        access: &TeamAccess,
    ) -> ServiceResult<(String, Vec<(UserId, String, i64)>)> {
        let quarter = Quarter::of(self.now().date());
        let start = quarter.bounds().0.with_time(Time::MIDNIGHT).assume_utc();
        let counts = self
            .store
            .lead_failure_counts(access.team().id, start)
            .await?;
        Ok((quarter.to_string(), counts))
    }
}
