//! Written alone, revealed together: the sealed contributions that pre-mortems and review sessions
//! build on. Features own their boxes and check access; these use cases only keep the seal.
//!
//! Before a tier is revealed, nobody can read its items — not the facilitator, a lead, an admin,
//! an API client or someone reading the database: the text is stored encrypted with a key that is
//! not in the database. Who has submitted is kept apart from what was written (counts only), and
//! an item's author is kept only when they chose to show their name.

use crate::domain::when::day_of;
use crate::domain::{RecordId, UserId};
use crate::store::sealed::{
    NewSealedItem, RevealedItem, SealTier, SealedBox, SealedCounts, UnnamedItem,
    ALREADY_CONTRIBUTED,
};
use crate::store::StoreError;

use super::error::{ServiceError, ServiceResult};
use super::held::{self, HeldItem};
use super::Service;

/// One of my own named items, shown back to me before the reveal.
#[derive(Debug, Clone)]
pub struct MySealedItem {
    pub id: RecordId,
    pub tier: SealTier,
    pub category: String,
    pub text: String,
}

impl Service {
    pub(super) fn sealer(&self) -> ServiceResult<&super::sealing::Sealer> {
        self.sealer.as_ref().ok_or_else(|| {
            ServiceError::internal(anyhow::anyhow!(
                "sealed contributions need the server's secret key (serve loads it)"
            ))
        })
    }

    pub async fn create_sealed_box(&self, purpose: &str) -> ServiceResult<RecordId> {
        let id = RecordId::random();
        self.store
            .create_sealed_box(id, purpose, self.now())
            .await?;
        Ok(id)
    }

    pub async fn sealed_box(&self, id: RecordId) -> ServiceResult<SealedBox> {
        self.store
            .sealed_box(id)
            .await?
            .ok_or(ServiceError::NotFound)
    }

    /// Seals `text` into the box. `named` keeps the writer as the item's author (shown after the
    /// reveal); otherwise the item has no author at all.
    pub async fn seal_item(
        &self,
        box_id: RecordId,
        writer: UserId,
        named: bool,
        tier: SealTier,
        category: &str,
        text: &str,
    ) -> ServiceResult<RecordId> {
        self.seal(box_id, writer, named, tier, category, text, false)
            .await
    }

    /// Seals an unnamed ballot: one per writer and box, refused atomically (409 on `dots`) when
    /// the writer already cast one, however close together two requests arrive.
    pub async fn seal_ballot(
        &self,
        box_id: RecordId,
        writer: UserId,
        category: &str,
        text: &str,
    ) -> ServiceResult<RecordId> {
        self.seal(box_id, writer, false, SealTier::Open, category, text, true)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn seal(
        &self,
        box_id: RecordId,
        writer: UserId,
        named: bool,
        tier: SealTier,
        category: &str,
        text: &str,
        once_per_writer: bool,
    ) -> ServiceResult<RecordId> {
        let ciphertext = self.sealer()?.seal(text, &box_id.to_string())?;
        let id = RecordId::random();
        let written = if named {
            let item = NewSealedItem {
                id,
                box_id,
                tier,
                category: category.to_owned(),
                author: Some(writer),
                ciphertext,
                created_on: day_of(self.now()),
                once_per_writer,
            };
            self.store.add_sealed_item(&item, writer).await
        } else {
            // The mark now, the item at the reveal (see `service::held`).
            let item = HeldItem {
                id,
                category: category.to_owned(),
                ciphertext,
                created_on: day_of(self.now()),
            };
            let bytes = held::size_of_item(&item);
            self.admit_held(Some(writer), bytes, false)?;
            let marked = self
                .store
                .mark_sealed_participant(box_id, writer, tier, once_per_writer)
                .await;
            if marked.is_ok() {
                self.held.hold_item(box_id, tier, item);
            } else {
                self.held.give_back(bytes);
            }
            marked
        };
        match written {
            Ok(()) => Ok(id),
            Err(StoreError::Refused(ALREADY_CONTRIBUTED)) => {
                Err(ServiceError::conflict("dots", "you have already voted"))
            }
            Err(StoreError::Refused(_)) => Err(ServiceError::Conflict {
                field: None,
                message: "these contributions have already been revealed".to_owned(),
            }),
            Err(other) => Err(other.into()),
        }
    }

    /// The writer's own named items, opened for them alone.
    pub async fn my_sealed_items(
        &self,
        box_id: RecordId,
        writer: UserId,
    ) -> ServiceResult<Vec<MySealedItem>> {
        let sealer = self.sealer()?;
        self.store
            .sealed_items_of(box_id, writer)
            .await?
            .into_iter()
            .map(|item| {
                let text = match (item.plaintext, item.ciphertext) {
                    (Some(text), _) => text,
                    (None, Some(sealed)) => sealer.open(&sealed, &box_id.to_string())?,
                    (None, None) => String::new(),
                };
                Ok(MySealedItem {
                    id: item.id,
                    tier: item.tier,
                    category: item.category,
                    text,
                })
            })
            .collect()
    }

    pub async fn withdraw_sealed_item(
        &self,
        box_id: RecordId,
        item: RecordId,
        writer: UserId,
    ) -> ServiceResult<()> {
        if self.store.delete_sealed_item(box_id, item, writer).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// Counts only — never content, never who wrote what. The items include those held in any
    /// instance's memory: the database counts them (one number per box, raised with the writer's
    /// mark and lowered when they are written), so every instance behind a load balancer shows
    /// the same figure, and none misses items it is writing at that moment.
    pub async fn sealed_counts(&self, box_id: RecordId) -> ServiceResult<SealedCounts> {
        Ok(self.store.sealed_counts(box_id).await?)
    }

    pub async fn sealed_participants(&self, box_id: RecordId) -> ServiceResult<Vec<UserId>> {
        Ok(self.store.sealed_participants(box_id).await?)
    }

    /// Opens every item of the tier at once, with the unnamed items this server held back for
    /// it. Revealing twice is harmless.
    pub async fn reveal_sealed(&self, box_id: RecordId, tier: SealTier) -> ServiceResult<()> {
        let sealer = self.sealer()?;
        let items = self.store.sealed_items_of_tier(box_id, tier).await?;
        let mut opened = Vec::with_capacity(items.len());
        for item in items {
            if let Some(sealed) = item.ciphertext {
                opened.push((item.id, sealer.open(&sealed, &box_id.to_string())?));
            }
        }
        let held = self.held.take_items(box_id, tier);
        let mut added = Vec::with_capacity(held.len());
        for item in &held {
            match sealer.open(&item.ciphertext, &box_id.to_string()) {
                Ok(text) => added.push(UnnamedItem {
                    id: item.id,
                    category: item.category.clone(),
                    text,
                    created_on: item.created_on,
                }),
                Err(error) => {
                    self.held.restore_items(box_id, tier, held);
                    return Err(error);
                }
            }
        }
        if let Err(error) = self
            .store
            .reveal_sealed_tier(box_id, tier, &opened, &added, self.now())
            .await
        {
            self.held.restore_items(box_id, tier, held);
            return Err(error.into());
        }
        Ok(())
    }

    /// Writes the items held for tiers revealed meanwhile (by another instance); the server
    /// calls it periodically.
    pub async fn write_due_items(&self) -> ServiceResult<()> {
        for (box_id, tier) in self.held.boxes() {
            match self.store.sealed_box(box_id).await? {
                Some(sealed) if sealed.revealed(tier) => self.reveal_sealed(box_id, tier).await?,
                Some(_) => {}
                None => {
                    self.held.take_items(box_id, tier);
                }
            }
        }
        Ok(())
    }

    /// What a graceful stop does with what this server holds: groups of at least
    /// [`held::MIN_RELEASE`] are written now (still sealed, in key order); smaller ones are
    /// dropped — a group of one or two written alone could be paired with the marks written
    /// since the last write. Dropped pulse answers take their participation marks with them.
    /// Anonymous loops are all written (they have no participation mark to be paired with).
    pub async fn release_held(&self) -> ServiceResult<()> {
        // A failure here must not keep the answers and items below from being written.
        let loops = self.release_held_anonymous_loops().await;
        let shares = self.release_held_ritual_shares().await;
        for (round, _) in self.held.rounds() {
            let held = self.held.take_round(round);
            if held.answers.len() >= held::MIN_RELEASE {
                self.store.write_pulse_answers(round, &held.answers).await?;
            } else {
                let writers: Vec<UserId> = held.writers.into_iter().collect();
                self.store
                    .unmark_pulse_participants(round, &writers)
                    .await?;
            }
        }
        for (box_id, tier) in self.held.boxes() {
            let held = self.held.take_items(box_id, tier);
            if held.len() >= held::MIN_RELEASE {
                let items: Vec<UnnamedItem> = held
                    .into_iter()
                    .map(|item| UnnamedItem {
                        id: item.id,
                        category: item.category,
                        text: item.ciphertext,
                        created_on: item.created_on,
                    })
                    .collect();
                self.store.write_sealed_items(box_id, tier, &items).await?;
            } else if !held.is_empty() {
                // Dropped, so no longer counted: the board then shows what can still be revealed.
                self.store
                    .drop_held_sealed_items(box_id, held.len())
                    .await?;
            }
        }
        shares?;
        loops.map(|_| ())
    }

    /// What has been revealed, sorted by category and text (never by the order of writing).
    pub async fn revealed_items(&self, box_id: RecordId) -> ServiceResult<Vec<RevealedItem>> {
        Ok(self.store.revealed_items(box_id).await?)
    }
}
