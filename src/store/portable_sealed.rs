//! Sealed contributions: statements that read the same on SQLite and PostgreSQL.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::ThisStore;
use crate::domain::{RecordId, UserId};
use crate::store::backend::BackendHooks;
use crate::store::rows::parse_id;
use crate::store::sealed::{
    NewSealedItem, RevealedItem, SealTier, SealedBox, SealedCounts, SealedItemRecord, UnnamedItem,
    ALREADY_CONTRIBUTED,
};
use crate::store::{from_unix_opt, unix, SealedStore, StoreError, StoreResult};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

fn tier(raw: &str) -> StoreResult<SealTier> {
    SealTier::parse(raw).ok_or_else(|| StoreError::Corrupt(format!("tier {raw:?}")))
}

type ItemRow = (String, String, String, Option<String>, Option<String>);

fn item(row: ItemRow) -> StoreResult<SealedItemRecord> {
    let (id, t, category, ciphertext, plaintext) = row;
    Ok(SealedItemRecord {
        id: parse_id(&id)?,
        tier: tier(&t)?,
        category,
        ciphertext,
        plaintext,
    })
}

type Tx = sqlx::Transaction<'static, super::Db>;

/// `NotFound` without the box, `Refused` once the tier is revealed.
async fn check_sealed(tx: &mut Tx, id: RecordId, t: SealTier) -> StoreResult<()> {
    let column = match t {
        SealTier::Open => "revealed_open_at",
        SealTier::Late => "revealed_late_at",
    };
    let revealed: Option<Option<i64>> =
        sqlx::query_scalar(&format!("SELECT {column} FROM sealed_boxes WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await
            .map_err(err)?;
    match revealed {
        None => Err(StoreError::NotFound),
        Some(Some(_)) => Err(StoreError::Refused("already revealed")),
        Some(None) => Ok(()),
    }
}

/// Marks the writer as a participant; `false` when they already were.
async fn mark(tx: &mut Tx, id: RecordId, writer: UserId, t: SealTier) -> StoreResult<bool> {
    Ok(sqlx::query(
        "INSERT INTO sealed_participants (box_id, user_id, tier) VALUES ($1, $2, $3) \
         ON CONFLICT (box_id, user_id) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(writer.to_string())
    .bind(t.as_str())
    .execute(&mut **tx)
    .await
    .map_err(err)?
    .rows_affected()
        == 1)
}

/// Counts one more unnamed item held in an instance's memory for the box, in the transaction of
/// its writer's mark, so that every instance's counts see it (migrations/*/0046).
async fn count_held(tx: &mut Tx, id: RecordId) -> StoreResult<()> {
    sqlx::query("UPDATE sealed_boxes SET held_items = held_items + 1 WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut **tx)
        .await
        .map_err(err)?;
    Ok(())
}

/// Counts `written` held items as no longer held (written or dropped), in the transaction that
/// writes them. Never below zero: items taken before the count existed were never counted.
async fn uncount_held(tx: &mut Tx, id: RecordId, written: usize) -> StoreResult<()> {
    if written == 0 {
        return Ok(());
    }
    let written = i64::try_from(written).unwrap_or(i64::MAX);
    sqlx::query(
        "UPDATE sealed_boxes SET held_items = \
         CASE WHEN held_items > $1 THEN held_items - $1 ELSE 0 END WHERE id = $2",
    )
    .bind(written)
    .bind(id.to_string())
    .execute(&mut **tx)
    .await
    .map_err(err)?;
    Ok(())
}

/// Inserts unnamed items in the order of their random keys, so that rows, cells and index
/// entries follow the key rather than the order of writing; `column` holds their text.
async fn insert_unnamed(
    tx: &mut Tx,
    id: RecordId,
    t: SealTier,
    items: &[UnnamedItem],
    column: &str,
) -> StoreResult<()> {
    let mut sorted: Vec<&UnnamedItem> = items.iter().collect();
    sorted.sort_by_key(|item| item.id.to_string());
    for chunk in sorted.chunks(500) {
        let mut insert = sqlx::QueryBuilder::<super::Db>::new(format!(
            "INSERT INTO sealed_items (id, box_id, tier, category, author_id, {column}, created_on) "
        ));
        insert.push_values(chunk, |mut values, item| {
            values
                .push_bind(item.id.to_string())
                .push_bind(id.to_string())
                .push_bind(t.as_str())
                .push_bind(item.category.clone())
                .push_bind(None::<String>)
                .push_bind(item.text.clone())
                .push_bind(unix(item.created_on));
        });
        insert.build().execute(&mut **tx).await.map_err(err)?;
    }
    Ok(())
}

#[async_trait]
impl SealedStore for ThisStore {
    async fn installation_fact(&self, name: &str) -> StoreResult<Option<String>> {
        sqlx::query_scalar("SELECT value FROM installation WHERE name = $1")
            .bind(name)
            .fetch_optional(self.reader())
            .await
            .map_err(err)
    }

    async fn remember_installation_fact(&self, name: &str, value: &str) -> StoreResult<String> {
        sqlx::query(
            "INSERT INTO installation (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(value)
        .execute(self.writer())
        .await
        .map_err(err)?;
        sqlx::query_scalar("SELECT value FROM installation WHERE name = $1")
            .bind(name)
            .fetch_one(self.writer())
            .await
            .map_err(err)
    }

    async fn create_sealed_box(
        &self,
        id: RecordId,
        purpose: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query("INSERT INTO sealed_boxes (id, purpose, created_at) VALUES ($1, $2, $3)")
            .bind(id.to_string())
            .bind(purpose)
            .bind(unix(at))
            .execute(self.writer())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn sealed_box(&self, id: RecordId) -> StoreResult<Option<SealedBox>> {
        let row: Option<(String, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT purpose, revealed_open_at, revealed_late_at FROM sealed_boxes WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(self.reader())
        .await
        .map_err(err)?;
        row.map(|(purpose, open, late)| {
            Ok(SealedBox {
                id,
                purpose,
                revealed_open_at: from_unix_opt(open)?,
                revealed_late_at: from_unix_opt(late)?,
            })
        })
        .transpose()
    }

    async fn add_sealed_item(&self, new: &NewSealedItem, writer: UserId) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        check_sealed(&mut tx, new.box_id, new.tier).await?;
        if !mark(&mut tx, new.box_id, writer, new.tier).await? && new.once_per_writer {
            return Err(StoreError::Refused(ALREADY_CONTRIBUTED));
        }
        sqlx::query(
            "INSERT INTO sealed_items (id, box_id, tier, category, author_id, ciphertext, plaintext, created_on) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)",
        )
        .bind(new.id.to_string())
        .bind(new.box_id.to_string())
        .bind(new.tier.as_str())
        .bind(&new.category)
        .bind(new.author.map(|a| a.to_string()))
        .bind(&new.ciphertext)
        .bind(unix(new.created_on))
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        tx.commit().await.map_err(err)
    }

    async fn mark_sealed_participant(
        &self,
        id: RecordId,
        writer: UserId,
        t: SealTier,
        once_per_writer: bool,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        check_sealed(&mut tx, id, t).await?;
        if !mark(&mut tx, id, writer, t).await? && once_per_writer {
            return Err(StoreError::Refused(ALREADY_CONTRIBUTED));
        }
        count_held(&mut tx, id).await?;
        tx.commit().await.map_err(err)
    }

    async fn write_sealed_items(
        &self,
        id: RecordId,
        t: SealTier,
        items: &[UnnamedItem],
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        insert_unnamed(&mut tx, id, t, items, "ciphertext").await?;
        uncount_held(&mut tx, id, items.len()).await?;
        tx.commit().await.map_err(err)
    }

    async fn drop_held_sealed_items(&self, id: RecordId, dropped: usize) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        uncount_held(&mut tx, id, dropped).await?;
        tx.commit().await.map_err(err)
    }

    async fn sealed_items_of(
        &self,
        id: RecordId,
        author: UserId,
    ) -> StoreResult<Vec<SealedItemRecord>> {
        sqlx::query_as::<_, ItemRow>(
            "SELECT id, tier, category, ciphertext, plaintext FROM sealed_items \
             WHERE box_id = $1 AND author_id = $2 ORDER BY category, id",
        )
        .bind(id.to_string())
        .bind(author.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?
        .into_iter()
        .map(item)
        .collect()
    }

    async fn delete_sealed_item(
        &self,
        id: RecordId,
        item_id: RecordId,
        author: UserId,
    ) -> StoreResult<bool> {
        Ok(sqlx::query(
            "DELETE FROM sealed_items WHERE id = $1 AND box_id = $2 AND author_id = $3 AND plaintext IS NULL",
        )
        .bind(item_id.to_string())
        .bind(id.to_string())
        .bind(author.to_string())
        .execute(self.writer())
        .await
        .map_err(err)?
        .rows_affected()
            > 0)
    }

    async fn sealed_counts(&self, id: RecordId) -> StoreResult<SealedCounts> {
        let (open, late, items): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM sealed_participants WHERE box_id = $1 AND tier = 'open'), \
             (SELECT COUNT(*) FROM sealed_participants WHERE box_id = $1 AND tier = 'late'), \
             (SELECT COUNT(*) FROM sealed_items WHERE box_id = $1) \
             + COALESCE((SELECT held_items FROM sealed_boxes WHERE id = $1), 0)",
        )
        .bind(id.to_string())
        .fetch_one(self.reader())
        .await
        .map_err(err)?;
        Ok(SealedCounts {
            open_participants: open,
            late_participants: late,
            items,
        })
    }

    async fn sealed_participants(&self, id: RecordId) -> StoreResult<Vec<UserId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT user_id FROM sealed_participants WHERE box_id = $1 ORDER BY user_id",
        )
        .bind(id.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        ids.iter().map(|i| parse_id(i)).collect()
    }

    async fn sealed_items_of_tier(
        &self,
        id: RecordId,
        t: SealTier,
    ) -> StoreResult<Vec<SealedItemRecord>> {
        sqlx::query_as::<_, ItemRow>(
            "SELECT id, tier, category, ciphertext, plaintext FROM sealed_items WHERE box_id = $1 AND tier = $2",
        )
        .bind(id.to_string())
        .bind(t.as_str())
        .fetch_all(self.reader())
        .await
        .map_err(err)?
        .into_iter()
        .map(item)
        .collect()
    }

    async fn reveal_sealed_tier(
        &self,
        id: RecordId,
        t: SealTier,
        opened: &[(RecordId, String)],
        added: &[UnnamedItem],
        at: OffsetDateTime,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(err)?;
        let column = match t {
            SealTier::Open => "revealed_open_at",
            SealTier::Late => "revealed_late_at",
        };
        let marked = sqlx::query(&format!(
            "UPDATE sealed_boxes SET {column} = $1 WHERE id = $2 AND {column} IS NULL"
        ))
        .bind(unix(at))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(err)?
        .rows_affected();
        if marked == 0 {
            if !added.is_empty() {
                insert_unnamed(&mut tx, id, t, added, "plaintext").await?;
                uncount_held(&mut tx, id, added.len()).await?;
                tx.commit().await.map_err(err)?;
            }
            return Ok(false);
        }
        insert_unnamed(&mut tx, id, t, added, "plaintext").await?;
        uncount_held(&mut tx, id, added.len()).await?;
        for (item_id, text) in opened {
            sqlx::query(
                "UPDATE sealed_items SET plaintext = $1, ciphertext = NULL WHERE id = $2 AND box_id = $3",
            )
            .bind(text)
            .bind(item_id.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        tx.commit().await.map_err(err)?;
        Ok(true)
    }

    async fn revealed_items(&self, id: RecordId) -> StoreResult<Vec<RevealedItem>> {
        // Sorted by content, never by the order of writing.
        let rows: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
            "SELECT i.id, i.tier, i.category, i.plaintext, u.display_name FROM sealed_items i \
             LEFT JOIN users u ON u.id = i.author_id \
             WHERE i.box_id = $1 AND i.plaintext IS NOT NULL ORDER BY i.category, i.plaintext, i.id",
        )
        .bind(id.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(item_id, t, category, text, author_name)| {
                Ok(RevealedItem {
                    id: parse_id(&item_id)?,
                    tier: tier(&t)?,
                    category,
                    text,
                    author_name,
                })
            })
            .collect()
    }
}
