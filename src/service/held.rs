//! Anonymous contributions held in this server's memory until a moment their writer does not
//! choose: pulse answers until their round closes, unnamed sealed items (review cards, ballots,
//! pre-mortem reasons) until their tier is revealed, anonymous loops (and what their reporter
//! adds through the one-time link) until the end of the UTC day.
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
//! marks too, so those people may answer again. Anonymous loops have no participation mark to
//! pair with: a stop writes them all (which tells a reader only that they came before the stop).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::domain::{LoopId, RecordId, TeamId, UserId};
use crate::store::loops::{NewAddition, NewLoop};
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

/// An anonymous loop waiting for the daily release, with what its reporter added meanwhile.
#[derive(Debug, Clone)]
pub struct HeldLoop {
    pub new: NewLoop,
    pub additions: Vec<NewAddition>,
}

/// What this server holds. Shared by every clone of the `Service`.
#[derive(Debug, Default)]
pub struct Held {
    rounds: Mutex<HashMap<RecordId, HeldRound>>,
    items: Mutex<HashMap<(RecordId, SealTier), Vec<HeldItem>>>,
    /// Anonymous loops, by the hash of their reporter's link.
    loops: Mutex<HashMap<String, HeldLoop>>,
    /// What reporters added to anonymous loops already written.
    additions: Mutex<Vec<NewAddition>>,
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

    /// Holds an anonymous loop under the hash of its reporter's link.
    pub fn hold_loop(&self, secret_hash: String, held: HeldLoop) {
        lock(&self.loops).insert(secret_hash, held);
    }

    /// The held loop behind a reporter's link, if this server holds it.
    pub fn held_loop(&self, secret_hash: &str) -> Option<HeldLoop> {
        lock(&self.loops).get(secret_hash).cloned()
    }

    /// Adds the reporter's addition to their held loop; false when this server does not hold it.
    pub fn add_to_held_loop(&self, secret_hash: &str, addition: NewAddition) -> bool {
        match lock(&self.loops).get_mut(secret_hash) {
            Some(held) => {
                held.additions.push(addition);
                true
            }
            None => false,
        }
    }

    /// Forgets a held loop (its reporter withdrew it); false when this server does not hold it.
    pub fn withdraw_loop(&self, secret_hash: &str) -> bool {
        lock(&self.loops).remove(secret_hash).is_some()
    }

    /// Holds a reporter's addition to an anonymous loop that is already written.
    pub fn hold_addition(&self, addition: NewAddition) {
        lock(&self.additions).push(addition);
    }

    /// The held additions to a written loop.
    pub fn additions_for(&self, loop_id: LoopId) -> Vec<NewAddition> {
        lock(&self.additions)
            .iter()
            .filter(|a| a.loop_id == loop_id)
            .cloned()
            .collect()
    }

    /// Forgets the held additions to a loop that was withdrawn.
    pub fn drop_additions_for(&self, loop_id: LoopId) {
        lock(&self.additions).retain(|a| a.loop_id != loop_id);
    }

    /// Takes the loops captured and the additions made before `before` (all when `None`).
    pub fn take_loops(
        &self,
        before: Option<OffsetDateTime>,
    ) -> (Vec<(String, HeldLoop)>, Vec<NewAddition>) {
        let due = |at: OffsetDateTime| before.is_none_or(|before| at < before);
        let mut loops = lock(&self.loops);
        let keys: Vec<String> = loops
            .iter()
            .filter(|(_, held)| due(held.new.created_at))
            .map(|(key, _)| key.clone())
            .collect();
        let taken = keys
            .into_iter()
            .filter_map(|key| loops.remove(&key).map(|held| (key, held)))
            .collect();
        let mut additions = lock(&self.additions);
        let (taken_additions, kept) = std::mem::take(&mut *additions)
            .into_iter()
            .partition(|a| due(a.added_on));
        *additions = kept;
        (taken, taken_additions)
    }

    /// Puts loops and additions back after a failed write.
    pub fn restore_loops(&self, loops: Vec<(String, HeldLoop)>, additions: Vec<NewAddition>) {
        lock(&self.loops).extend(loops);
        lock(&self.additions).extend(additions);
    }
}
