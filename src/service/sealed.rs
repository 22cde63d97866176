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
    NewSealedItem, RevealedItem, SealTier, SealedBox, SealedCounts, ALREADY_CONTRIBUTED,
};
use crate::store::StoreError;

use super::error::{ServiceError, ServiceResult};
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
    fn sealer(&self) -> ServiceResult<&super::sealing::Sealer> {
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
        let item = NewSealedItem {
            id: RecordId::random(),
            box_id,
            tier,
            category: category.to_owned(),
            author: named.then_some(writer),
            ciphertext: self.sealer()?.seal(text, &box_id.to_string())?,
            created_on: day_of(self.now()),
            once_per_writer,
        };
        match self.store.add_sealed_item(&item, writer).await {
            Ok(()) => Ok(item.id),
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

    /// Counts only — never content, never who wrote what.
    pub async fn sealed_counts(&self, box_id: RecordId) -> ServiceResult<SealedCounts> {
        Ok(self.store.sealed_counts(box_id).await?)
    }

    pub async fn sealed_participants(&self, box_id: RecordId) -> ServiceResult<Vec<UserId>> {
        Ok(self.store.sealed_participants(box_id).await?)
    }

    /// Opens every item of the tier at once. Revealing twice is harmless.
    pub async fn reveal_sealed(&self, box_id: RecordId, tier: SealTier) -> ServiceResult<()> {
        let sealer = self.sealer()?;
        let items = self.store.sealed_items_of_tier(box_id, tier).await?;
        let mut opened = Vec::with_capacity(items.len());
        for item in items {
            if let Some(sealed) = item.ciphertext {
                opened.push((item.id, sealer.open(&sealed, &box_id.to_string())?));
            }
        }
        self.store
            .reveal_sealed_tier(box_id, tier, &opened, self.now())
            .await?;
        Ok(())
    }

    /// What has been revealed, sorted by category and text (never by the order of writing).
    pub async fn revealed_items(&self, box_id: RecordId) -> ServiceResult<Vec<RevealedItem>> {
        Ok(self.store.revealed_items(box_id).await?)
    }
}
