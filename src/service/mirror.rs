//! The dynamics mirror use case (issue 24): reads a quarter of the team's review sessions and
//! failure loops and hands them to `domain::mirror`. It reads only what the product already keeps
//! in a privacy-safe form — a card's tier (leads' cards sit in the late tier), revealed ballots,
//! decisions and dissent counts, a named loop's author's role — and must never read who wrote an
//! unnamed card, cast a ballot or logged an anonymous loop.

use std::collections::HashMap;

use time::{OffsetDateTime, Time};

use crate::domain::experiments::Quarter;
use crate::domain::mirror::{
    self, CardFact, DecisionFact, Logger, LoopFact, Mirror, MirrorInput, SessionFacts,
};
use crate::domain::TeamRole;
use crate::store::sealed::SealTier;

use super::access::TeamAccess;
use super::error::{ServiceError, ServiceResult};
use super::Service;

impl Service {
    /// The quarter a request names ("2026Q4" or "2026-Q4"), or the current one.
    pub fn mirror_quarter(&self, raw: Option<&str>) -> ServiceResult<Quarter> {
        match raw.map(str::trim).filter(|r| !r.is_empty()) {
            None => Ok(Quarter::of(self.today().date())),
            Some(raw) => {
                mirror::parse_quarter(raw).map_err(|e| ServiceError::field("quarter", e.0))
            }
        }
    }

    /// The team's dynamics mirror for a quarter. Members only: an organisation admin who is not
    /// in the team gets `NotFound`, like an outsider, because the mirror is the team's own.
    pub async fn mirror(&self, access: &TeamAccess, quarter: Quarter) -> ServiceResult<Mirror> {
        if !access.is_member() {
            return Err(ServiceError::NotFound);
        }
        let team = access.team().id;
        let (start, end) = quarter.bounds();
        let from = start.with_time(Time::MIDNIGHT).assume_utc();
        let to = end.with_time(Time::MIDNIGHT).assume_utc();
        let inside = |at: OffsetDateTime| at >= from && at < to;

        let mut writers: HashMap<String, bool> = HashMap::new();
        let mut sessions = Vec::new();
        for record in self.store.reviews(team).await? {
            if !inside(record.created_at) {
                continue;
            }
            for p in self.store.review_participants(record.id).await? {
                if !p.observer {
                    *writers.entry(p.user.to_string()).or_insert(false) |= p.is_lead;
                }
            }
            let cards = self
                .store
                .revealed_items(record.cards_box_id)
                .await?
                .into_iter()
                .map(|item| CardFact {
                    id: item.id.to_string(),
                    from_lead: item.tier == SealTier::Late,
                })
                .collect();
            let ballots = self
                .store
                .revealed_items(record.votes_box_id)
                .await?
                .into_iter()
                .filter_map(|item| serde_json::from_str(&item.text).ok())
                .collect();
            let dissents = self.store.dissents(record.id).await?;
            let decisions = self
                .store
                .decisions(record.id)
                .await?
                .into_iter()
                .map(|d| DecisionFact {
                    dissents: dissents.iter().filter(|x| x.decision_id == d.id).count(),
                    card: d.card_id,
                })
                .collect();
            sessions.push(SessionFacts {
                cards,
                ballots,
                decisions,
            });
        }

        let members: Vec<bool> = self
            .store
            .members(team)
            .await?
            .iter()
            .map(|m| m.role == TeamRole::Lead)
            .collect();
        let loops = self
            .store
            .loop_logging(team, from, to)
            .await?
            .into_iter()
            .map(|l| LoopFact {
                by: match (l.anonymous, l.author_is_lead) {
                    (true, _) => Logger::Anonymous,
                    (false, Some(true)) => Logger::Lead,
                    // A named loop whose author has left the team counts with the members.
                    (false, _) => Logger::Member,
                },
                logged_on: l.created_at.date(),
                failed_on: l.happened_at.unwrap_or(l.noticed_at).date(),
            })
            .collect();

        Ok(mirror::mirror(&MirrorInput {
            quarter,
            min_people: access.team().pulse_min_responses as usize,
            writers: writers.into_values().collect(),
            sessions,
            members,
            loops,
        }))
    }
}
