//! Review sessions that counter authority bias (domain.md §4): the Analyse stage done together.
//!
//! Cards are sealed contributions in the session's cards box — leads' cards in its late tier —
//! and ballots are unnamed sealed items in its votes box, so neither content nor vote totals can
//! be read by anyone (facilitator, lead, admin, API client or database reader) before their
//! reveal. Before the reveal the session shows counts only, and never who is still writing.
//! Every change bumps the session's version and is announced to every instance, so live clients
//! refresh without reloading.

use crate::domain::events::EventKind;
use std::collections::HashMap;

use time::Duration;

use crate::domain::loops::{self, ActionStatus, FactorReason, Visibility};
use crate::domain::review::{self, CardKind, Phase, RevealState};
use crate::domain::{ActionId, Invalid, RecordId, TeamRole};
use crate::store::loops::ActionRecord;
use crate::store::review::{
    DecisionRecord, DissentRecord, NewReview, ParticipantRecord, ReviewRecord,
};
use crate::store::sealed::{SealTier, SealedCounts};

use super::access::TeamAccess;
use super::error::{FieldErrors, ServiceError, ServiceResult};
use super::sealed::MySealedItem;
use super::Service;

/// The summary is rendered with the other Markdown renderers.
pub use super::transfer::summary_markdown;

/// The longest card, prompt, reason or decision.
pub const CARD_MAX: usize = 2000;

/// The most unnamed cards a receipt names (the oldest are forgotten first); it keeps the
/// receipt within one cookie.
pub const RECEIPT_MAX: usize = 40;

fn receipt_context(access: &TeamAccess, session: RecordId) -> String {
    format!("review card receipt v1:{}:{session}", access.actor())
}
/// Dots each participant places unless the facilitator chooses otherwise.
pub const DEFAULT_DOTS: i64 = 3;

/// The longest group title.
pub const GROUP_TITLE_MAX: usize = 200;

/// Where the board's "Group selected" form puts the chosen cards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupTarget {
    /// A new group with this title (a numbered one when empty).
    New(String),
    /// One of the session's groups, by id.
    Existing(String),
    /// Out of whatever group they are in.
    Ungroup,
}

/// A revealed card as everyone sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CardView {
    pub id: String,
    pub kind: CardKind,
    /// Empty when the card was hidden after the reveal.
    pub text: String,
    /// Present only when the writer chose to show their name.
    pub author: Option<String>,
    /// Whether a named card came from a lead. Absent on unnamed cards: a role beside an
    /// unnamed card would name its writer in a team with one lead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_lead: Option<bool>,
    pub group_id: Option<String>,
    /// Why the facilitator hid it, when they did.
    pub hidden_reason: Option<String>,
}

/// A cluster of similar cards.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct GroupView {
    pub id: String,
    pub title: String,
}

/// One of the team's open action items and what the session decided about it.
#[derive(Debug, Clone)]
pub struct ActionCheck {
    pub action: ActionRecord,
    pub outcome: Option<String>,
}

/// A decision, with the disagreement recorded against it.
#[derive(Debug, Clone)]
pub struct DecisionView {
    pub decision: DecisionRecord,
    pub dissents: Vec<DissentRecord>,
}

/// The session as one person may see it now.
#[derive(Debug, Clone)]
pub struct ReviewView {
    pub record: ReviewRecord,
    /// The viewer's place in the session, if they joined.
    pub me: Option<ParticipantRecord>,
    pub is_facilitator: bool,
    /// Whether the viewer may run the session (facilitator, a lead or an admin).
    pub can_facilitate: bool,
    /// Who joined (names only: no per-person writing or presence state).
    pub roster: Vec<RosterEntry>,
    pub reveal: RevealState,
    pub cards_counts: SealedCounts,
    pub open_revealed: bool,
    pub leads_revealed: bool,
    pub cards: Vec<CardView>,
    /// The viewer's own named cards, shown back to them before the reveal.
    pub my_cards: Vec<MySealedItem>,
    /// The viewer's own unnamed cards, as their browser's receipt names them
    /// ([`Service::with_card_receipt`]); empty without a receipt. Before the reveal each carries
    /// its text when this server holds it (empty otherwise); afterwards the board marks them.
    pub my_unnamed: Vec<MySealedItem>,
    pub groups: Vec<GroupView>,
    pub action_checks: Vec<ActionCheck>,
    pub voters: usize,
    pub i_voted: bool,
    /// Card → dots, only once the vote has closed.
    pub totals: Option<Vec<(String, u32)>>,
    pub decisions: Vec<DecisionView>,
    /// Seconds left on the facilitator's timer, if one runs (on the service's clock).
    pub seconds_left: Option<i64>,
    /// First moments (issue 24): the viewer facilitates the team's first session in which a
    /// dissent was recorded, and gets a short guide to explore the disagreement together.
    pub dissent_guide: bool,
}

/// A person who joined a session, as everyone in it sees them.
#[derive(Debug, Clone)]
pub struct RosterEntry {
    pub name: String,
    /// Observers watch and do not write or vote.
    pub observer: bool,
}

impl ReviewView {
    pub fn writes(&self) -> bool {
        self.me.as_ref().is_some_and(|p| !p.observer)
    }

    /// Participants who may still write or vote (observers excluded).
    pub fn participant_count(&self) -> usize {
        self.reveal.participants
    }

    pub fn card(&self, id: &str) -> Option<&CardView> {
        self.cards.iter().find(|c| c.id == id)
    }
}

fn id_of(raw: &str) -> ServiceResult<RecordId> {
    raw.trim().parse().map_err(|_| ServiceError::NotFound)
}

fn leads_early() -> ServiceError {
    ServiceError::Forbidden(
        "only the facilitator shows the leads' cards before everyone else has finished".to_owned(),
    )
}

fn wrong_phase(expected: &str) -> ServiceError {
    ServiceError::Conflict {
        field: None,
        message: format!("the session is not in its {expected} phase"),
    }
}

impl Service {
    /// Starts a session on one of the team's loops, or on a free retrospective prompt. The
    /// starter facilitates and takes part.
    pub async fn start_review(
        &self,
        access: &TeamAccess,
        loop_id: Option<&str>,
        prompt: &str,
        dots: Option<i64>,
    ) -> ServiceResult<RecordId> {
        if !access.is_member() {
            return Err(ServiceError::Forbidden(
                "only the team's members can run its review sessions".to_owned(),
            ));
        }
        let mut errors = FieldErrors::default();
        let loop_id = match loop_id.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => match self.loop_detail(access, raw).await {
                Ok(detail) => Some(detail.record.id.to_string()),
                Err(ServiceError::NotFound) => {
                    errors.push("loop_id", "is not one of the team's loops");
                    None
                }
                Err(other) => return Err(other),
            },
        };
        let prompt = if prompt.trim().is_empty() && loop_id.is_some() {
            Some(String::new())
        } else {
            errors.take("prompt", loops::statement(prompt, CARD_MAX))
        };
        let dots = dots.unwrap_or(DEFAULT_DOTS);
        if !(1..=20).contains(&dots) {
            errors.push("dots", "must be between 1 and 20");
        }
        let Some(prompt) = prompt else {
            return Err(errors.into());
        };
        errors.check()?;
        let new = NewReview {
            id: RecordId::random(),
            team_id: access.team().id,
            loop_id,
            prompt,
            facilitator: access.actor(),
            facilitator_is_lead: access.is_lead(),
            cards_box_id: RecordId::random(),
            votes_box_id: RecordId::random(),
            dots,
            created_at: self.now(),
        };
        let event = self
            .emitter(access)
            .review(EventKind::ReviewStarted, new.team_id, new.id);
        self.store.create_review(&new, &[event]).await?;
        Ok(new.id)
    }

    pub async fn reviews(&self, access: &TeamAccess) -> ServiceResult<Vec<ReviewRecord>> {
        Ok(self.store.reviews(access.team().id).await?)
    }

    async fn review_record(&self, access: &TeamAccess, id: &str) -> ServiceResult<ReviewRecord> {
        self.store
            .review(access.team().id, id_of(id)?)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// The session's current version, for live clients that compare it.
    pub async fn review_version(
        &self,
        access: &TeamAccess,
        id: &str,
    ) -> ServiceResult<(RecordId, i64)> {
        let record = self.review_record(access, id).await?;
        Ok((record.id, record.version))
    }

    /// "Session X is now at version N" notices from every instance.
    pub fn review_changes(&self) -> tokio::sync::broadcast::Receiver<(String, i64)> {
        self.store.review_changes()
    }

    /// The session as the viewer may see it: sealed content stays sealed, vote totals stay
    /// hidden until the vote closes.
    pub async fn review_view(&self, access: &TeamAccess, id: &str) -> ServiceResult<ReviewView> {
        let record = self.review_record(access, id).await?;
        let participants = self.store.review_participants(record.id).await?;
        let me = participants
            .iter()
            .find(|p| p.user == access.actor())
            .cloned();
        let writers: Vec<&ParticipantRecord> =
            participants.iter().filter(|p| !p.observer).collect();
        let reveal = RevealState {
            participants: writers.len(),
            leads: writers.iter().filter(|p| p.is_lead).count(),
            done: writers.iter().filter(|p| p.done).count(),
            leads_done: writers.iter().filter(|p| p.done && p.is_lead).count(),
        };
        let is_facilitator = record.facilitator.as_ref().map(|p| p.id) == Some(access.actor());
        let cards_box = self.sealed_box(record.cards_box_id).await?;
        let open_revealed = cards_box.revealed(SealTier::Open);
        let leads_revealed = cards_box.revealed(SealTier::Late);

        let groups_of: HashMap<String, String> = self
            .store
            .card_groups(record.id)
            .await?
            .into_iter()
            .collect();
        let hidden: HashMap<String, String> = self
            .store
            .hidden_cards(record.id)
            .await?
            .into_iter()
            .collect();
        let mut cards: Vec<(bool, CardView)> = if open_revealed || leads_revealed {
            self.revealed_items(record.cards_box_id)
                .await?
                .into_iter()
                .map(|item| {
                    let id = item.id.to_string();
                    let hidden_reason = hidden.get(&id).cloned();
                    let late = item.tier == SealTier::Late;
                    let author = if hidden_reason.is_some() {
                        None
                    } else {
                        item.author_name
                    };
                    let card = CardView {
                        kind: CardKind::parse(&item.category).unwrap_or(CardKind::Observation),
                        text: if hidden_reason.is_some() {
                            String::new()
                        } else {
                            item.text
                        },
                        from_lead: author.as_ref().map(|_| late),
                        author,
                        group_id: groups_of.get(&id).cloned(),
                        hidden_reason,
                        id,
                    };
                    (late, card)
                })
                .collect()
        } else {
            Vec::new()
        };
        let my_cards = if me.is_some() && record.phase == Phase::Write {
            self.my_sealed_items(record.cards_box_id, access.actor())
                .await?
        } else {
            Vec::new()
        };
        let groups = self
            .store
            .groups(record.id)
            .await?
            .into_iter()
            .map(|(id, title)| GroupView { id, title })
            .collect();

        let action_checks = if record.phase == Phase::OpenActions || record.phase == Phase::Closed {
            let outcomes: HashMap<String, String> = self
                .store
                .action_checks(record.id)
                .await?
                .into_iter()
                .collect();
            let mut checks: Vec<ActionCheck> = self
                .store
                .team_actions(access.team().id, Some(ActionStatus::Open))
                .await?
                .into_iter()
                .filter(|a| !outcomes.contains_key(&a.id.to_string()))
                .map(|action| ActionCheck {
                    action,
                    outcome: None,
                })
                .collect();
            // Those already checked in this session stay listed, with their outcome.
            for (action_id, outcome) in &outcomes {
                if let Ok(action_id) = action_id.parse::<ActionId>() {
                    if let Some(action) = self.store.action(access.team().id, action_id).await? {
                        checks.push(ActionCheck {
                            action,
                            outcome: Some(outcome.clone()),
                        });
                    }
                }
            }
            checks.sort_by(|a, b| {
                a.action
                    .title
                    .cmp(&b.action.title)
                    .then(a.action.id.to_string().cmp(&b.action.id.to_string()))
            });
            checks
        } else {
            Vec::new()
        };

        let voters = self.sealed_participants(record.votes_box_id).await?;
        let i_voted = voters.contains(&access.actor());
        let votes_box = self.sealed_box(record.votes_box_id).await?;
        let totals = if votes_box.revealed(SealTier::Open) {
            let ballots: Vec<Vec<(String, u32)>> = self
                .revealed_items(record.votes_box_id)
                .await?
                .into_iter()
                .filter_map(|item| serde_json::from_str(&item.text).ok())
                .collect();
            Some(review::tally(&ballots))
        } else {
            None
        };
        // Leads' cards after everyone else's ("leader speaks last"), on every surface that reads
        // this view; then by dots once the vote has closed; then as the store sorts them (kind,
        // text, random id), so nothing about the writer or the order of writing shows.
        let dots: HashMap<&str, u32> = totals
            .iter()
            .flatten()
            .map(|(card, n)| (card.as_str(), *n))
            .collect();
        cards.sort_by_key(|(late, card)| {
            (
                *late,
                std::cmp::Reverse(dots.get(card.id.as_str()).copied().unwrap_or(0)),
            )
        });
        let cards: Vec<CardView> = cards.into_iter().map(|(_, card)| card).collect();

        let dissents = self.store.dissents(record.id).await?;
        let decisions = self
            .store
            .decisions(record.id)
            .await?
            .into_iter()
            .map(|decision| DecisionView {
                dissents: dissents
                    .iter()
                    .filter(|d| d.decision_id == decision.id)
                    .cloned()
                    .collect(),
                decision,
            })
            .collect();

        let now = self.now();
        let dissent_guide = is_facilitator
            && !dissents.is_empty()
            && self
                .store
                .first_session_with_dissent(access.team().id)
                .await?
                == Some(record.id);
        Ok(ReviewView {
            dissent_guide,
            seconds_left: record
                .phase_ends_at
                .map(|end| (end - now).whole_seconds().max(0)),
            can_facilitate: is_facilitator || access.can_manage(),
            is_facilitator,
            roster: participants
                .iter()
                .map(|p| RosterEntry {
                    name: p.name.clone(),
                    observer: p.observer,
                })
                .collect(),
            me,
            reveal,
            cards_counts: self.sealed_counts(record.cards_box_id).await?,
            open_revealed,
            leads_revealed,
            cards,
            my_cards,
            my_unnamed: Vec::new(),
            groups,
            action_checks,
            voters: voters.len(),
            i_voted,
            totals,
            decisions,
            record,
        })
    }

    fn require_facilitator(view: &ReviewView) -> ServiceResult<()> {
        if view.can_facilitate {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(
                "only the facilitator (or a lead) runs the session".to_owned(),
            ))
        }
    }

    /// Leads' cards show before every other participant has finished only by the facilitator's
    /// hand: a lead or an admin who is not facilitating may run the session otherwise, but not
    /// bring the leads' cards forward ("leader speaks last"). A session whose facilitator's
    /// account is gone falls back to whoever may facilitate.
    fn require_leads_due(view: &ReviewView, to: Phase) -> ServiceResult<()> {
        let early = to.index() > Phase::Reveal.index()
            && !view.leads_revealed
            && !view.reveal.others_done();
        if early && !view.is_facilitator && view.record.facilitator.is_some() {
            Err(leads_early())
        } else {
            Ok(())
        }
    }

    fn require_participant(view: &ReviewView) -> ServiceResult<()> {
        match &view.me {
            Some(p) if !p.observer => Ok(()),
            Some(_) => Err(ServiceError::Forbidden(
                "observers neither write nor vote".to_owned(),
            )),
            None => Err(ServiceError::Forbidden("join the session first".to_owned())),
        }
    }

    fn require_open(view: &ReviewView) -> ServiceResult<()> {
        if view.record.phase == Phase::Closed {
            Err(ServiceError::Conflict {
                field: None,
                message: "the session is closed".to_owned(),
            })
        } else {
            Ok(())
        }
    }

    async fn changed(&self, id: RecordId) -> ServiceResult<()> {
        self.store.touch_review(id).await?;
        Ok(())
    }

    /// Joins as a participant (writes and votes) or an observer (does neither). Admins who are
    /// not members of the team may only observe.
    pub async fn join_review(
        &self,
        access: &TeamAccess,
        id: &str,
        observer: bool,
    ) -> ServiceResult<()> {
        let view = self.review_view(access, id).await?;
        Self::require_open(&view)?;
        if !observer && !access.is_member() {
            return Err(ServiceError::Forbidden(
                "only the team's members write and vote; others may observe".to_owned(),
            ));
        }
        self.store
            .join_review(
                view.record.id,
                access.actor(),
                observer,
                access.role() == Some(TeamRole::Lead),
            )
            .await?;
        self.changed(view.record.id).await
    }

    /// Records what became of one of the team's open action items: done, still relevant, or
    /// dropped (with a reason).
    pub async fn check_review_action(
        &self,
        access: &TeamAccess,
        id: &str,
        action: &str,
        outcome: &str,
        dropped_reason: &str,
    ) -> ServiceResult<()> {
        let view = self.review_view(access, id).await?;
        if view.record.phase != Phase::OpenActions {
            return Err(wrong_phase("open actions"));
        }
        Self::require_participant(&view)?;
        let action_id: ActionId = action.trim().parse().map_err(|_| {
            ServiceError::field("action_id", "is not one of the team's action items")
        })?;
        match outcome.trim() {
            "done" => {
                self.set_action_status(access, action, ActionStatus::Done, "")
                    .await?;
            }
            "dropped" => {
                self.set_action_status(access, action, ActionStatus::Dropped, dropped_reason)
                    .await?;
            }
            "relevant" => {
                self.store
                    .action(access.team().id, action_id)
                    .await?
                    .ok_or_else(|| {
                        ServiceError::field("action_id", "is not one of the team's action items")
                    })?;
            }
            _ => {
                return Err(ServiceError::field(
                    "outcome",
                    "must be done, relevant or dropped",
                ))
            }
        }
        self.store
            .check_action(view.record.id, action_id, outcome.trim(), access.actor())
            .await?;
        self.changed(view.record.id).await
    }

    /// Writes a sealed card. Leads' cards go to the late tier, shown after everyone else's.
    pub async fn write_card(
        &self,
        access: &TeamAccess,
        id: &str,
        kind: &str,
        text: &str,
        show_name: bool,
    ) -> ServiceResult<RecordId> {
        let view = self.review_view(access, id).await?;
        if view.record.phase != Phase::Write {
            return Err(wrong_phase("write"));
        }
        Self::require_participant(&view)?;
        // The kind stays a word here so that a bad kind and a bad text are named together.
        let mut errors = FieldErrors::default();
        let kind = errors.take("kind", CardKind::parse(kind));
        let text = errors.take("text", loops::statement(text, CARD_MAX));
        let (Some(kind), Some(text)) = (kind, text) else {
            return Err(errors.into());
        };
        let is_lead = view.me.as_ref().is_some_and(|p| p.is_lead);
        let tier = if is_lead {
            SealTier::Late
        } else {
            SealTier::Open
        };
        let card = self
            .seal_item(
                view.record.cards_box_id,
                access.actor(),
                show_name,
                tier,
                kind.as_str(),
                &text,
            )
            .await?;
        // Writing again means "not finished yet": nobody sees who, only the count.
        self.store
            .set_done(view.record.id, access.actor(), false)
            .await?;
        self.changed(view.record.id).await?;
        Ok(card)
    }

    /// A receipt for the unnamed cards I wrote in this session: their ids, sealed with the
    /// server's key to me and to the session, for my browser to keep. The server stores no link
    /// between a writer and an unnamed card (ARCHITECTURE.md, "Sealed contributions"); the
    /// receipt lets the page show me mine, and only me. `previous` is the receipt so far (a
    /// damaged or foreign one is started afresh); at most [`RECEIPT_MAX`] cards are kept.
    pub fn card_receipt(
        &self,
        access: &TeamAccess,
        session: RecordId,
        previous: Option<&str>,
        card: RecordId,
    ) -> ServiceResult<String> {
        let mut ids = previous
            .map(|receipt| self.receipt_ids(access, session, receipt))
            .unwrap_or_default();
        ids.push(card);
        let skip = ids.len().saturating_sub(RECEIPT_MAX);
        let text = ids[skip..]
            .iter()
            .map(RecordId::to_string)
            .collect::<Vec<_>>()
            .join(",");
        self.sealer()?
            .seal(&text, &receipt_context(access, session))
    }

    fn receipt_ids(&self, access: &TeamAccess, session: RecordId, receipt: &str) -> Vec<RecordId> {
        let Ok(sealer) = self.sealer() else {
            return Vec::new();
        };
        sealer
            .open(receipt, &receipt_context(access, session))
            .map(|text| {
                text.split(',')
                    .filter_map(|id| id.parse::<RecordId>().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Adds to `view` the viewer's own unnamed cards named by their receipt: with their text
    /// before the reveal (when this server holds them), as the ids of their tiles afterwards.
    pub fn with_card_receipt(
        &self,
        access: &TeamAccess,
        mut view: ReviewView,
        receipt: Option<&str>,
    ) -> ReviewView {
        let Some(receipt) = receipt else {
            return view;
        };
        let box_id = view.record.cards_box_id;
        let context = box_id.to_string();
        view.my_unnamed = self
            .receipt_ids(access, view.record.id, receipt)
            .into_iter()
            .map(|id| {
                let held = self.held.peek_item(box_id, id);
                let text = held
                    .as_ref()
                    .and_then(|item| {
                        self.sealer()
                            .ok()
                            .and_then(|s| s.open(&item.ciphertext, &context).ok())
                    })
                    .or_else(|| view.card(&id.to_string()).map(|c| c.text.clone()))
                    .unwrap_or_default();
                MySealedItem {
                    id,
                    tier: SealTier::Open,
                    category: held.map(|item| item.category).unwrap_or_default(),
                    text,
                }
            })
            .collect();
        view
    }

    /// Takes back one of my own named cards before the reveal.
    pub async fn withdraw_card(
        &self,
        access: &TeamAccess,
        id: &str,
        card: &str,
    ) -> ServiceResult<()> {
        let view = self.review_view(access, id).await?;
        if view.record.phase != Phase::Write {
            return Err(wrong_phase("write"));
        }
        self.withdraw_sealed_item(view.record.cards_box_id, id_of(card)?, access.actor())
            .await?;
        self.changed(view.record.id).await
    }

    /// Says "I have finished writing" (or takes it back). When everyone has finished, the cards
    /// reveal on their own.
    pub async fn finish_writing(
        &self,
        access: &TeamAccess,
        id: &str,
        done: bool,
    ) -> ServiceResult<()> {
        let view = self.review_view(access, id).await?;
        if view.record.phase != Phase::Write && view.record.phase != Phase::Reveal {
            return Err(wrong_phase("write"));
        }
        Self::require_participant(&view)?;
        if view.record.phase == Phase::Reveal && !done {
            return Err(wrong_phase("write"));
        }
        self.store
            .set_done(view.record.id, access.actor(), done)
            .await?;
        let view = self.review_view(access, id).await?;
        if view.record.phase == Phase::Write && view.reveal.everyone_done() {
            self.move_phase(&view, Phase::Reveal).await?;
        } else if view.record.phase == Phase::Reveal
            && view.reveal.others_done()
            && !view.leads_revealed
        {
            self.reveal_sealed(view.record.cards_box_id, SealTier::Late)
                .await?;
        }
        self.changed(view.record.id).await
    }

    /// Moves to the next phase (facilitator's hand).
    pub async fn advance_review(
        &self,
        access: &TeamAccess,
        id: &str,
        from: Option<Phase>,
    ) -> ServiceResult<Phase> {
        let view = self.review_view(access, id).await?;
        Self::require_facilitator(&view)?;
        Self::require_open(&view)?;
        if let Some(from) = from {
            // A second click from a stale page must not skip a phase.
            if from != view.record.phase {
                return Err(ServiceError::conflict(
                    "from",
                    format!(
                        "the session has already moved on to {}",
                        view.record.phase.label()
                    ),
                ));
            }
        }
        let next = view
            .record
            .phase
            .next()
            .ok_or_else(|| wrong_phase("open"))?;
        Self::require_leads_due(&view, next)?;
        self.move_phase(&view, next).await?;
        self.changed(view.record.id).await?;
        Ok(next)
    }

    /// Closes the session from any phase, revealing what is sealed so nothing stays locked away.
    pub async fn close_review(&self, access: &TeamAccess, id: &str) -> ServiceResult<()> {
        let view = self.review_view(access, id).await?;
        Self::require_facilitator(&view)?;
        Self::require_open(&view)?;
        Self::require_leads_due(&view, Phase::Closed)?;
        self.move_phase(&view, Phase::Closed).await?;
        self.changed(view.record.id).await
    }

    /// The side effects of leaving one phase for another: reveals and the vote's close.
    async fn move_phase(&self, view: &ReviewView, to: Phase) -> ServiceResult<()> {
        let record = &view.record;
        if to.index() >= Phase::Reveal.index() && !view.open_revealed {
            self.reveal_sealed(record.cards_box_id, SealTier::Open)
                .await?;
        }
        let leads_due = (to == Phase::Reveal && view.reveal.others_done())
            || to.index() > Phase::Reveal.index();
        if leads_due && !view.leads_revealed {
            self.reveal_sealed(record.cards_box_id, SealTier::Late)
                .await?;
        }
        if to.index() > Phase::Vote.index() {
            self.reveal_sealed(record.votes_box_id, SealTier::Open)
                .await?;
        }
        // A phase change may follow the last participant marking "done": its event names no one,
        // so that it cannot say who finished last.
        let kind = match to {
            Phase::Reveal => Some(EventKind::ReviewRevealed),
            Phase::Closed => Some(EventKind::ReviewClosed),
            _ => None,
        };
        let events: Vec<_> = kind
            .map(|kind| {
                self.system_emitter()
                    .review(kind, record.team_id, record.id)
            })
            .into_iter()
            .collect();
        if !self
            .store
            .set_phase(record.id, record.phase, to, self.now(), &events)
            .await?
        {
            return Err(ServiceError::Conflict {
                field: None,
                message: "the session moved on meanwhile; reload".to_owned(),
            });
        }
        Ok(())
    }

    /// Shows the leads' cards before every other participant has finished: the facilitator's
    /// hand alone, not any lead's.
    pub async fn show_leads_cards(&self, access: &TeamAccess, id: &str) -> ServiceResult<()> {
        let view = self.review_view(access, id).await?;
        if !view.is_facilitator && view.record.facilitator.is_some() {
            return Err(leads_early());
        }
        Self::require_facilitator(&view)?;
        if view.record.phase != Phase::Reveal {
            return Err(wrong_phase("reveal"));
        }
        self.reveal_sealed(view.record.cards_box_id, SealTier::Late)
            .await?;
        self.changed(view.record.id).await
    }

    /// Sets a timer on the current phase (1–120 minutes), or clears it (`None`).
    pub async fn set_review_timer(
        &self,
        access: &TeamAccess,
        id: &str,
        minutes: Option<i64>,
    ) -> ServiceResult<()> {
        let view = self.review_view(access, id).await?;
        Self::require_facilitator(&view)?;
        Self::require_open(&view)?;
        let ends_at = match minutes {
            None | Some(0) => None,
            Some(m) if (1..=120).contains(&m) => Some(self.now() + Duration::minutes(m)),
            Some(_) => return Err(ServiceError::field("minutes", "must be between 1 and 120")),
        };
        self.store.set_timer(view.record.id, ends_at).await?;
        self.changed(view.record.id).await
    }

    /// Creates a group for similar cards.
    pub async fn add_review_group(
        &self,
        access: &TeamAccess,
        id: &str,
        title: &str,
    ) -> ServiceResult<RecordId> {
        let view = self.review_view(access, id).await?;
        if view.record.phase != Phase::Group {
            return Err(wrong_phase("group"));
        }
        Self::require_participant(&view).or_else(|_| Self::require_facilitator(&view))?;
        let title = loops::statement(title, GROUP_TITLE_MAX)
            .map_err(|e| ServiceError::field("title", e.0))?;
        let group = RecordId::random();
        self.store
            .create_group(view.record.id, group, &title)
            .await?;
        self.changed(view.record.id).await?;
        Ok(group)
    }

    /// Puts a revealed card into a group, or takes it out (empty group).
    pub async fn group_card(
        &self,
        access: &TeamAccess,
        id: &str,
        card: &str,
        group: Option<&str>,
    ) -> ServiceResult<()> {
        let view = self.review_view(access, id).await?;
        if view.record.phase != Phase::Group {
            return Err(wrong_phase("group"));
        }
        Self::require_participant(&view).or_else(|_| Self::require_facilitator(&view))?;
        let card = view.card(card.trim()).ok_or_else(|| {
            ServiceError::field("card_id", "is not a revealed card of this session")
        })?;
        let card_id = id_of(&card.id)?;
        let group = match group.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(
                view.groups
                    .iter()
                    .find(|g| g.id == raw)
                    .map(|g| id_of(&g.id))
                    .transpose()?
                    .ok_or_else(|| {
                        ServiceError::field("group_id", "is not a group of this session")
                    })?,
            ),
        };
        self.store
            .assign_card(view.record.id, card_id, group)
            .await?;
        self.changed(view.record.id).await
    }

    /// Puts several revealed cards at once into a new group (with its title), an existing
    /// group, or out of their groups: the board's "Group selected" form, which drag and drop
    /// posts too. Everything is checked before anything is written.
    pub async fn group_cards(
        &self,
        access: &TeamAccess,
        id: &str,
        cards: &[String],
        target: GroupTarget,
    ) -> ServiceResult<()> {
        let view = self.review_view(access, id).await?;
        if view.record.phase != Phase::Group {
            return Err(wrong_phase("group"));
        }
        Self::require_participant(&view).or_else(|_| Self::require_facilitator(&view))?;
        let mut errors = FieldErrors::default();
        if cards.is_empty() {
            errors.push("selected", "choose at least one card");
        }
        let mut card_ids = Vec::with_capacity(cards.len());
        for card in cards {
            match view.card(card.trim()).map(|c| id_of(&c.id)) {
                Some(Ok(card_id)) => card_ids.push(card_id),
                _ => {
                    errors.push(
                        "selected",
                        "names a card that is not a revealed card of this session",
                    );
                    break;
                }
            }
        }
        // The group the cards go to: `Some(id)`, `None` for out of their groups; a new group's
        // title is checked here and the group made only once everything else holds.
        let mut new_title = None;
        let mut group = None;
        match &target {
            GroupTarget::Existing(raw) => match view.groups.iter().find(|g| g.id == raw.trim()) {
                Some(g) => group = Some(id_of(&g.id)?),
                None => errors.push("target", "is not a group of this session"),
            },
            GroupTarget::New(title) => {
                // A card dropped on "new group" comes without a title: it gets a numbered one,
                // which anyone grouping may change.
                let title = if title.trim().is_empty() {
                    format!("Group {}", view.groups.len() + 1)
                } else {
                    title.clone()
                };
                new_title = errors.take("title", loops::statement(&title, GROUP_TITLE_MAX));
            }
            GroupTarget::Ungroup => {}
        }
        errors.check()?;
        if let Some(title) = new_title {
            let id = RecordId::random();
            self.store.create_group(view.record.id, id, &title).await?;
            group = Some(id);
        }
        for card_id in card_ids {
            self.store
                .assign_card(view.record.id, card_id, group)
                .await?;
        }
        self.changed(view.record.id).await
    }

    /// Gives a group a new title.
    pub async fn rename_review_group(
        &self,
        access: &TeamAccess,
        id: &str,
        group: &str,
        title: &str,
    ) -> ServiceResult<()> {
        let view = self.review_view(access, id).await?;
        if view.record.phase != Phase::Group {
            return Err(wrong_phase("group"));
        }
        Self::require_participant(&view).or_else(|_| Self::require_facilitator(&view))?;
        let group = view
            .groups
            .iter()
            .find(|g| g.id == group.trim())
            .ok_or_else(|| ServiceError::field("group_id", "is not a group of this session"))?;
        let title = loops::statement(title, GROUP_TITLE_MAX)
            .map_err(|e| ServiceError::field("title", e.0))?;
        self.store
            .rename_group(view.record.id, id_of(&group.id)?, &title)
            .await?;
        self.changed(view.record.id).await
    }

    /// Hides an inappropriate card after the reveal, with the reason recorded and shown.
    pub async fn hide_card(
        &self,
        access: &TeamAccess,
        id: &str,
        card: &str,
        reason: &str,
    ) -> ServiceResult<()> {
        let view = self.review_view(access, id).await?;
        Self::require_facilitator(&view)?;
        let card = view.card(card.trim()).ok_or_else(|| {
            ServiceError::field("card_id", "is not a revealed card of this session")
        })?;
        let reason = loops::statement(reason, 500)
            .map_err(|_| ServiceError::field("reason", "say why the card is hidden"))?;
        self.store
            .hide_card(view.record.id, id_of(&card.id)?, &reason, access.actor())
            .await?;
        self.changed(view.record.id).await
    }

    /// Places my dots, blind: the ballot is sealed without my name, and totals show only after
    /// the vote closes. Once everyone has voted, the vote closes on its own.
    pub async fn vote(
        &self,
        access: &TeamAccess,
        id: &str,
        dots: &[(String, u32)],
    ) -> ServiceResult<()> {
        let view = self.review_view(access, id).await?;
        if view.record.phase != Phase::Vote {
            return Err(wrong_phase("vote"));
        }
        Self::require_participant(&view)?;
        if view.i_voted {
            return Err(ServiceError::conflict("dots", "you have already voted"));
        }
        let votable: Vec<String> = view
            .cards
            .iter()
            .filter(|c| c.hidden_reason.is_none())
            .map(|c| c.id.clone())
            .collect();
        let allowed = u32::try_from(view.record.dots).unwrap_or(0);
        review::valid_ballot(dots, allowed, &votable)
            .map_err(|e| ServiceError::field("dots", e.0))?;
        let mut ballot: Vec<(String, u32)> = dots.iter().filter(|(_, n)| *n > 0).cloned().collect();
        // A fixed order, so the ballot's shape says nothing about how it was filled in.
        ballot.sort();
        let text = serde_json::to_string(&ballot).map_err(ServiceError::internal)?;
        self.seal_ballot(view.record.votes_box_id, access.actor(), "ballot", &text)
            .await?;
        let view = self.review_view(access, id).await?;
        if view.voters >= view.participant_count() {
            self.move_phase(&view, Phase::Discuss).await?;
        }
        self.changed(view.record.id).await
    }

    /// Turns a card (or a statement) into a contributing factor, a learning or an action item on
    /// the loop under review, and records the decision.
    #[allow(clippy::too_many_arguments)]
    pub async fn decide(
        &self,
        access: &TeamAccess,
        id: &str,
        card: Option<&str>,
        kind: &str,
        text: &str,
        factor_reason: Option<FactorReason>,
        learning_visibility: Option<Visibility>,
    ) -> ServiceResult<RecordId> {
        let view = self.review_view(access, id).await?;
        if view.record.phase != Phase::Decide {
            return Err(wrong_phase("decide"));
        }
        Self::require_facilitator(&view)?;
        let card = match card.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => Some(
                view.card(raw)
                    .filter(|c| c.hidden_reason.is_none())
                    .ok_or_else(|| {
                        ServiceError::field("card_id", "is not a revealed card of this session")
                    })?,
            ),
        };
        let text = match (text.trim().is_empty(), card) {
            (true, Some(card)) => card.text.clone(),
            _ => loops::statement(text, CARD_MAX).map_err(|e| ServiceError::field("text", e.0))?,
        };
        let kind = kind.trim();
        if let Some(loop_id) = view.record.loop_id.as_deref() {
            match kind {
                "factor" => {
                    let reason = factor_reason.ok_or_else(|| {
                        let refusal = FactorReason::parse("").err().unwrap_or_else(|| {
                            Invalid::new("is required for a contributing factor")
                        });
                        ServiceError::field("factor_reason", refusal.0)
                    })?;
                    self.add_factor(access, loop_id, reason, &text).await?;
                }
                "learning" => {
                    self.add_learning(
                        access,
                        loop_id,
                        &text,
                        learning_visibility.unwrap_or(Visibility::Team),
                    )
                    .await
                    .map_err(|e| rename_field(e, "visibility", "learning_visibility"))?;
                }
                "action" => {
                    self.add_action(access, loop_id, &text, None, None).await?;
                }
                _ => {
                    return Err(ServiceError::field(
                        "kind",
                        "must be factor, learning or action",
                    ))
                }
            }
        } else if !matches!(kind, "factor" | "learning" | "action") {
            return Err(ServiceError::field(
                "kind",
                "must be factor, learning or action",
            ));
        }
        let decision = RecordId::random();
        let card_id = card.map(|c| id_of(&c.id)).transpose()?;
        self.store
            .add_decision(view.record.id, decision, card_id, kind, &text, self.now())
            .await?;
        self.changed(view.record.id).await?;
        Ok(decision)
    }

    /// "I disagree": kept and shown in the summary, with my name only if I choose.
    pub async fn dissent(
        &self,
        access: &TeamAccess,
        id: &str,
        decision: &str,
        reason: &str,
        show_name: bool,
    ) -> ServiceResult<()> {
        let view = self.review_view(access, id).await?;
        // A closed session's summary is final: disagreement is recorded while it runs.
        Self::require_open(&view)?;
        if view.me.is_none() {
            return Err(ServiceError::Forbidden("join the session first".to_owned()));
        }
        let decision = view
            .decisions
            .iter()
            .find(|d| d.decision.id.to_string() == decision.trim())
            .ok_or_else(|| {
                ServiceError::field("decision_id", "is not a decision of this session")
            })?;
        let reason = loops::statement(reason, CARD_MAX)
            .map_err(|_| ServiceError::field("reason", "say why you disagree"))?;
        self.store
            .add_dissent(
                RecordId::random(),
                decision.decision.id,
                &reason,
                show_name.then_some(access.actor()),
                crate::domain::when::day_of(self.now()),
            )
            .await?;
        self.changed(view.record.id).await
    }

    /// The session's summary in Markdown: what was checked, written, chosen and disputed. Vote
    /// totals appear once the vote has closed; no ballot is ever attributed.
    pub async fn review_summary(&self, access: &TeamAccess, id: &str) -> ServiceResult<String> {
        let view = self.review_view(access, id).await?;
        Ok(summary_markdown(&view))
    }
}

fn rename_field(error: ServiceError, from: &str, to: &str) -> ServiceError {
    match error {
        ServiceError::Invalid(mut fields) => {
            for f in &mut fields {
                if f.field == from {
                    f.field = to.to_owned();
                }
            }
            ServiceError::Invalid(fields)
        }
        other => other,
    }
}
