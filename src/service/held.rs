//! Anonymous contributions held in this server's memory until a moment their writer does not
//! choose: pulse answers until their round closes, unnamed sealed items (review cards, ballots,
//! pre-mortem reasons) until their tier is revealed.
//!
//! Why: a contribution written in the same transaction as its participation mark — or in the
//! next one — can be paired with it by anyone holding a copy of the database taken later (the
//! write-ahead log keeps frames in commit order, a page keeps cells in insertion order,
//! PostgreSQL keeps the writing transaction's id). The participation mark is written at once
//! (it refuses a second answer, on every instance); the content waits here and is written with
//! all the others of its group in one transaction, under random keys in key order.
//!
//! The price: what is held is lost if the process dies. A graceful stop writes each group of at
//! least [`MIN_RELEASE`] (an anonymity set of that size among the people who wrote since the
//! group was last written) and drops smaller ones; dropped pulse answers lose their participation
//! marks too, so those people may answer again.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::domain::{RecordId, TeamId, UserId};
use crate::store::sealed::SealTier;

/// The smallest group a graceful stop writes before its normal moment.
pub const MIN_RELEASE: usize = 3;

/// One pulse answer: the seven points and the optional comment.
pub type HeldAnswer = ([u8; 7], Option<String>);

/// Answers of one round waiting for its close, and (apart, sorted) who gave them.
#[derive(Debug, Default)]
pub struct HeldRound {
    pub team: Option<TeamId>,
    pub answers: Vec<HeldAnswer>,
    pub writers: BTreeSet<UserId>,
}

/// One unnamed sealed item waiting for its tier's reveal.
#[derive(Debug, Clone)]
pub struct HeldItem {
    pub id: RecordId,
    pub category: String,
    pub ciphertext: String,
    pub created_on: OffsetDateTime,
}

/// What this server holds. Shared by every clone of the `Service`.
#[derive(Debug, Default)]
pub struct Held {
    rounds: Mutex<HashMap<RecordId, HeldRound>>,
    items: Mutex<HashMap<(RecordId, SealTier), Vec<HeldItem>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving it.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Held {
    pub fn hold_answer(&self, team: TeamId, round: RecordId, writer: UserId, answer: HeldAnswer) {
        let mut rounds = lock(&self.rounds);
        let held = rounds.entry(round).or_default();
        held.team = Some(team);
        held.answers.push(answer);
        held.writers.insert(writer);
    }

    /// Takes the round's held answers (empty when none).
    pub fn take_round(&self, round: RecordId) -> HeldRound {
        lock(&self.rounds).remove(&round).unwrap_or_default()
    }

    /// Puts answers back after a failed write.
    pub fn restore_round(&self, round: RecordId, back: HeldRound) {
        let mut rounds = lock(&self.rounds);
        let held = rounds.entry(round).or_default();
        held.team = held.team.or(back.team);
        held.answers.extend(back.answers);
        held.writers.extend(back.writers);
    }

    /// Rounds with held answers, and their teams.
    pub fn rounds(&self) -> Vec<(RecordId, TeamId)> {
        lock(&self.rounds)
            .iter()
            .filter_map(|(round, held)| held.team.map(|team| (*round, team)))
            .collect()
    }

    pub fn hold_item(&self, box_id: RecordId, tier: SealTier, item: HeldItem) {
        lock(&self.items)
            .entry((box_id, tier))
            .or_default()
            .push(item);
    }

    pub fn take_items(&self, box_id: RecordId, tier: SealTier) -> Vec<HeldItem> {
        lock(&self.items)
            .remove(&(box_id, tier))
            .unwrap_or_default()
    }

    pub fn restore_items(&self, box_id: RecordId, tier: SealTier, back: Vec<HeldItem>) {
        lock(&self.items)
            .entry((box_id, tier))
            .or_default()
            .extend(back);
    }

    /// How many unnamed items this server holds for the box (both tiers).
    pub fn item_count(&self, box_id: RecordId) -> usize {
        let items = lock(&self.items);
        [SealTier::Open, SealTier::Late]
            .iter()
            .filter_map(|tier| items.get(&(box_id, *tier)))
            .map(Vec::len)
            .sum()
    }

    /// Boxes and tiers with held items.
    pub fn boxes(&self) -> Vec<(RecordId, SealTier)> {
        lock(&self.items).keys().copied().collect()
    }
}
