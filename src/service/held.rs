//! Anonymous contributions held in this server's memory until a moment their writer does not
//! choose: pulse answers until their round closes, unnamed sealed items (review cards, ballots,
//! pre-mortem reasons) until their tier is revealed, anonymous loops (and what their reporter
//! adds through the one-time link), unnamed participants' accounts and lint dismissals (tied to
//! a text that may become an anonymous loop's) until the end of the UTC day.
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
//! Accounts and dismissals likewise.
//!
//! How many unnamed sealed items are held is counted in the database, per box (raised with the
//! writer's mark, lowered in the transaction that writes or drops them), not read from here:
//! behind a load balancer every instance must show the same count (`Service::sealed_counts`).
//!
//! What is held is bounded ([`Limits`]): a member could otherwise fill the server's memory. Every
//! hold is admitted first ([`Held::admit`]), before anything is written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use time::{Date, OffsetDateTime};

use crate::domain::rituals::ShareText;
use crate::domain::{LoopId, RecordId, TeamId, UserId};
use crate::store::lint::NewDismissal;
use crate::store::loops::{LoopDraft, NewAccount, NewAddition};
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
    pub new: LoopDraft,
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
    /// Unnamed participants' accounts, written with the day's anonymous loops.
    accounts: Mutex<Vec<NewAccount>>,
    /// Lint dismissals (text hash, rule, start → reason, day), written with the day's
    /// anonymous loops: the text may become one of them.
    dismissals: Mutex<BTreeMap<DismissalKey, (String, OffsetDateTime)>>,
    /// Unnamed ritual shares, by round, until the round closes.
    ritual_shares: Mutex<HashMap<RecordId, Vec<ShareText>>>,
    /// Unnamed comments on expectations, written with the day's anonymous loops.
    comments: Mutex<Vec<crate::store::expectations::NewExpectationComment>>,
    /// Bytes held now, over everything above.
    bytes: AtomicUsize,
    /// What each person had held today (UTC), to bound one person's share.
    usage: Mutex<(Option<Date>, HashMap<UserId, Usage>)>,
}

/// A dismissal's key: the text's hash, the rule, the finding's first character.
pub type DismissalKey = (String, String, i64);

/// How much a server holds, at most (see [`Held::admit`]).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Everything held by this instance, all people and teams together.
    pub total_bytes: usize,
    /// What one person may have held in one UTC day (answers, cards, loops, accounts, dismissals).
    pub person_bytes_per_day: usize,
    /// Anonymous loops one person may log in one UTC day.
    pub loops_per_day: usize,
    /// What a reporter may add to one anonymous loop before a release.
    pub additions_per_loop: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            total_bytes: 256 * 1024 * 1024,
            person_bytes_per_day: 2 * 1024 * 1024,
            loops_per_day: 20,
            additions_per_loop: 50,
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    bytes: usize,
    loops: usize,
}

/// Why [`Held::admit`] refused: a sentence for the person refused. It speaks only of their own
/// share, or of the whole instance — never of a team's, a round's or another person's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// What holding this costs, roughly, in memory.
pub fn size_of_answer(answer: &HeldAnswer) -> usize {
    64 + answer.1.as_ref().map_or(0, String::len)
}

pub fn size_of_share(share: &ShareText) -> usize {
    share.failed.len() + share.learnt.len()
}

pub fn size_of_item(item: &HeldItem) -> usize {
    96 + item.category.len() + item.ciphertext.len()
}

pub fn size_of_loop(new: &LoopDraft) -> usize {
    256 + new.title.len()
        + new.what_happened.len()
        + new.what_was_expected.len()
        + new.impact_affected.len()
        + new.tags.iter().map(String::len).sum::<usize>()
}

pub fn size_of_addition(addition: &NewAddition) -> usize {
    96 + addition.body.len()
}

pub fn size_of_comment(comment: &crate::store::expectations::NewExpectationComment) -> usize {
    comment.text.len() + 64
}

pub fn size_of_account(account: &NewAccount) -> usize {
    128 + account.actions.len()
        + account.observations.len()
        + account.expectations.len()
        + account.assumptions.len()
        + account.timeline_understanding.len()
}

pub fn size_of_dismissal(dismissal: &NewDismissal) -> usize {
    96 + dismissal.text_hash.len() + dismissal.rule.len() + dismissal.reason.len()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving it.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Held {
    /// Admits `bytes` more to be held for `who` (`None`: a reporter's link, counted in the
    /// instance's total only), or refuses. Call before anything is written or held; give the
    /// bytes back with [`Held::give_back`] when nothing ends up held.
    pub fn admit(
        &self,
        who: Option<UserId>,
        bytes: usize,
        anonymous_loop: bool,
        limits: &Limits,
        now: OffsetDateTime,
    ) -> Result<(), Refused> {
        let mut usage = lock(&self.usage);
        let today = now.date();
        if usage.0 != Some(today) {
            *usage = (Some(today), HashMap::new());
        }
        let mine = who.map(|who| usage.1.get(&who).copied().unwrap_or_default());
        if let Some(mine) = mine {
            if anonymous_loop && mine.loops >= limits.loops_per_day {
                return Err(Refused(format!(
                    "you have logged {} anonymous loops today, as many as one person may; log more after midnight UTC, or under your name",
                    limits.loops_per_day
                )));
            }
            if mine.bytes + bytes > limits.person_bytes_per_day {
                return Err(Refused(
                    "you have given as much unnamed content today as one person may; try again after midnight UTC".to_owned(),
                ));
            }
        }
        if self.bytes.load(Ordering::SeqCst) + bytes > limits.total_bytes {
            return Err(Refused(
                "this server holds as much unpublished anonymous content as it can until the next release; try again after midnight UTC".to_owned(),
            ));
        }
        self.bytes.fetch_add(bytes, Ordering::SeqCst);
        if let (Some(who), Some(mine)) = (who, mine) {
            usage.1.insert(
                who,
                Usage {
                    bytes: mine.bytes + bytes,
                    loops: mine.loops + usize::from(anonymous_loop),
                },
            );
        }
        Ok(())
    }

    /// Gives back admitted bytes that were not held after all (a refused mark, a failed write).
    pub fn give_back(&self, bytes: usize) {
        self.forget(bytes);
    }

    /// Bytes held now.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::SeqCst)
    }

    fn forget(&self, bytes: usize) {
        let _ = self
            .bytes
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                Some(held.saturating_sub(bytes))
            });
    }

    fn remember(&self, bytes: usize) {
        self.bytes.fetch_add(bytes, Ordering::SeqCst);
    }

    pub fn hold_ritual_share(&self, round: RecordId, share: ShareText) {
        self.remember(size_of_share(&share));
        lock(&self.ritual_shares)
            .entry(round)
            .or_default()
            .push(share);
    }

    /// Takes the round's held unnamed shares (empty when none).
    pub fn take_ritual_shares(&self, round: RecordId) -> Vec<ShareText> {
        let taken = lock(&self.ritual_shares).remove(&round).unwrap_or_default();
        self.forget(taken.iter().map(size_of_share).sum());
        taken
    }

    /// Puts shares back after a failed write.
    pub fn restore_ritual_shares(&self, round: RecordId, back: Vec<ShareText>) {
        self.remember(back.iter().map(size_of_share).sum());
        lock(&self.ritual_shares)
            .entry(round)
            .or_default()
            .extend(back);
    }

    /// Rounds with held unnamed shares.
    pub fn ritual_rounds(&self) -> Vec<RecordId> {
        lock(&self.ritual_shares).keys().copied().collect()
    }

    pub fn hold_answer(&self, team: TeamId, round: RecordId, writer: UserId, answer: HeldAnswer) {
        let mut rounds = lock(&self.rounds);
        let held = rounds.entry(round).or_default();
        held.team = Some(team);
        held.answers.push(answer);
        held.writers.insert(writer);
    }

    /// Takes the round's held answers (empty when none).
    pub fn take_round(&self, round: RecordId) -> HeldRound {
        let taken = lock(&self.rounds).remove(&round).unwrap_or_default();
        self.forget(taken.answers.iter().map(size_of_answer).sum());
        taken
    }

    /// Puts answers back after a failed write.
    pub fn restore_round(&self, round: RecordId, back: HeldRound) {
        self.remember(back.answers.iter().map(size_of_answer).sum());
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

    /// A copy of one held item, to show its writer what they wrote (they name it by their
    /// receipt; this server keeps no link). `None` once revealed, or when another server holds it.
    pub fn peek_item(&self, box_id: RecordId, id: RecordId) -> Option<HeldItem> {
        let items = lock(&self.items);
        [SealTier::Open, SealTier::Late]
            .iter()
            .filter_map(|tier| items.get(&(box_id, *tier)))
            .flatten()
            .find(|item| item.id == id)
            .cloned()
    }

    pub fn take_items(&self, box_id: RecordId, tier: SealTier) -> Vec<HeldItem> {
        let taken = lock(&self.items)
            .remove(&(box_id, tier))
            .unwrap_or_default();
        self.forget(taken.iter().map(size_of_item).sum());
        taken
    }

    pub fn restore_items(&self, box_id: RecordId, tier: SealTier, back: Vec<HeldItem>) {
        self.remember(back.iter().map(size_of_item).sum());
        lock(&self.items)
            .entry((box_id, tier))
            .or_default()
            .extend(back);
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

    /// How many additions to this loop are held (with the loop or on their own).
    pub fn additions_held(&self, secret_hash: &str, loop_id: LoopId) -> usize {
        lock(&self.loops)
            .get(secret_hash)
            .map_or(0, |held| held.additions.len())
            + lock(&self.additions)
                .iter()
                .filter(|a| a.loop_id == loop_id)
                .count()
    }

    /// Forgets a held loop (its reporter withdrew it); false when this server does not hold it.
    pub fn withdraw_loop(&self, secret_hash: &str) -> bool {
        match lock(&self.loops).remove(secret_hash) {
            Some(held) => {
                self.forget(size_of_held_loop(&held));
                true
            }
            None => false,
        }
    }

    /// Holds a reporter's addition to an anonymous loop that is already written.
    pub fn hold_addition(&self, addition: NewAddition) {
        lock(&self.additions).push(addition);
    }

    /// Holds an unnamed comment on an expectation for the daily release.
    pub fn hold_comment(&self, comment: crate::store::expectations::NewExpectationComment) {
        lock(&self.comments).push(comment);
    }

    /// Takes the unnamed comments written before `before` (all when `None`).
    pub fn take_comments(
        &self,
        before: Option<OffsetDateTime>,
    ) -> Vec<crate::store::expectations::NewExpectationComment> {
        let mut held = lock(&self.comments);
        let (taken, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut *held)
            .into_iter()
            .partition(|c| before.is_none_or(|before| c.written_on < before));
        *held = kept;
        drop(held);
        self.forget(taken.iter().map(size_of_comment).sum::<usize>());
        taken
    }

    /// Puts comments back after a failed write.
    pub fn restore_comments(&self, back: Vec<crate::store::expectations::NewExpectationComment>) {
        self.remember(back.iter().map(size_of_comment).sum::<usize>());
        lock(&self.comments).extend(back);
    }

    /// Holds an unnamed participant's account for the daily release.
    pub fn hold_account(&self, account: NewAccount) {
        lock(&self.accounts).push(account);
    }

    /// Holds a lint dismissal for the daily release (a second one of the same finding is
    /// dropped, as the table's key would; false then).
    pub fn hold_dismissal(&self, dismissal: NewDismissal) -> bool {
        let mut held = lock(&self.dismissals);
        let key = (
            dismissal.text_hash.clone(),
            dismissal.rule.clone(),
            dismissal.start,
        );
        if held.contains_key(&key) {
            return false;
        }
        held.insert(key, (dismissal.reason, dismissal.dismissed_on));
        true
    }

    /// The held dismissals of a text: (rule, start).
    pub fn dismissals_of(&self, text_hash: &str) -> Vec<(String, i64)> {
        // Keys sort by hash first: the text's dismissals are one range (lint runs as people type).
        lock(&self.dismissals)
            .range((text_hash.to_owned(), String::new(), i64::MIN)..)
            .map(|(key, _)| key)
            .take_while(|(hash, _, _)| hash == text_hash)
            .map(|(_, rule, start)| (rule.clone(), *start))
            .collect()
    }

    /// Takes the accounts and dismissals given before `before` (all when `None`).
    pub fn take_accounts_and_dismissals(
        &self,
        before: Option<OffsetDateTime>,
    ) -> (Vec<NewAccount>, Vec<NewDismissal>) {
        let due = |at: OffsetDateTime| before.is_none_or(|before| at < before);
        let mut accounts = lock(&self.accounts);
        let (taken, kept): (Vec<NewAccount>, Vec<NewAccount>) = std::mem::take(&mut *accounts)
            .into_iter()
            .partition(|a| due(a.added_on));
        *accounts = kept;
        drop(accounts);
        let mut dismissals = lock(&self.dismissals);
        let keys: Vec<DismissalKey> = dismissals
            .iter()
            .filter(|(_, (_, on))| due(*on))
            .map(|(key, _)| key.clone())
            .collect();
        let taken_dismissals: Vec<NewDismissal> = keys
            .into_iter()
            .filter_map(|key| {
                dismissals
                    .remove(&key)
                    .map(|(reason, dismissed_on)| NewDismissal {
                        text_hash: key.0,
                        rule: key.1,
                        start: key.2,
                        reason,
                        dismissed_on,
                    })
            })
            .collect();
        drop(dismissals);
        self.forget(
            taken.iter().map(size_of_account).sum::<usize>()
                + taken_dismissals
                    .iter()
                    .map(size_of_dismissal)
                    .sum::<usize>(),
        );
        (taken, taken_dismissals)
    }

    /// Puts accounts and dismissals back after a failed write.
    pub fn restore_accounts_and_dismissals(
        &self,
        accounts: Vec<NewAccount>,
        dismissals: Vec<NewDismissal>,
    ) {
        self.remember(
            accounts.iter().map(size_of_account).sum::<usize>()
                + dismissals.iter().map(size_of_dismissal).sum::<usize>(),
        );
        lock(&self.accounts).extend(accounts);
        let mut held = lock(&self.dismissals);
        for d in dismissals {
            held.entry((d.text_hash, d.rule, d.start))
                .or_insert((d.reason, d.dismissed_on));
        }
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
        let mut dropped = 0;
        lock(&self.additions).retain(|a| {
            let keep = a.loop_id != loop_id;
            if !keep {
                dropped += size_of_addition(a);
            }
            keep
        });
        self.forget(dropped);
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
        let taken: Vec<(String, HeldLoop)> = keys
            .into_iter()
            .filter_map(|key| loops.remove(&key).map(|held| (key, held)))
            .collect();
        let mut additions = lock(&self.additions);
        let (taken_additions, kept) = std::mem::take(&mut *additions)
            .into_iter()
            .partition(|a| due(a.added_on));
        *additions = kept;
        drop(additions);
        drop(loops);
        self.forget(
            taken
                .iter()
                .map(|(_, held)| size_of_held_loop(held))
                .sum::<usize>()
                + taken_additions.iter().map(size_of_addition).sum::<usize>(),
        );
        (taken, taken_additions)
    }

    /// Puts loops and additions back after a failed write.
    pub fn restore_loops(&self, loops: Vec<(String, HeldLoop)>, additions: Vec<NewAddition>) {
        self.remember(
            loops
                .iter()
                .map(|(_, held)| size_of_held_loop(held))
                .sum::<usize>()
                + additions.iter().map(size_of_addition).sum::<usize>(),
        );
        lock(&self.loops).extend(loops);
        lock(&self.additions).extend(additions);
    }
}

fn size_of_held_loop(held: &HeldLoop) -> usize {
    size_of_loop(&held.new) + held.additions.iter().map(size_of_addition).sum::<usize>()
}
