//! The linter's organisation settings: statements that read the same on SQLite and PostgreSQL.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::ThisStore;
use crate::domain::{RecordId, UserId};
use crate::store::backend::BackendHooks;
use crate::store::lint::{LintTermRecord, NewLintTerm};
use crate::store::rows::parse_id;
use crate::store::{from_unix, unix, LintStore, StoreError, StoreResult};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

#[async_trait]
impl LintStore for ThisStore {
    async fn lint_terms(&self) -> StoreResult<Vec<LintTermRecord>> {
        type Row = (String, String, String, Option<String>, Option<String>, i64);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, category, phrase, message, suggestion, created_at FROM lint_terms ORDER BY created_at, id",
        )
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.into_iter()
            .map(|(id, category, phrase, message, suggestion, at)| {
                Ok(LintTermRecord {
                    id: parse_id(&id)?,
                    category,
                    phrase,
                    message,
                    suggestion,
                    created_at: from_unix(at)?,
                })
            })
            .collect()
    }

    async fn add_lint_term(&self, term: &NewLintTerm) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO lint_terms (id, category, phrase, message, suggestion, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(term.id.to_string())
        .bind(&term.category)
        .bind(&term.phrase)
        .bind(term.message.as_deref())
        .bind(term.suggestion.as_deref())
        .bind(term.created_by.to_string())
        .bind(unix(term.created_at))
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn delete_lint_term(&self, id: RecordId) -> StoreResult<bool> {
        Ok(sqlx::query("DELETE FROM lint_terms WHERE id = $1")
            .bind(id.to_string())
            .execute(self.writer())
            .await
            .map_err(err)?
            .rows_affected()
            > 0)
    }

    async fn disabled_rules(&self) -> StoreResult<Vec<String>> {
        sqlx::query_scalar("SELECT rule_id FROM lint_disabled_rules ORDER BY rule_id")
            .fetch_all(self.reader())
            .await
            .map_err(err)
    }

    async fn set_rule_enabled(
        &self,
        rule: &str,
        enabled: bool,
        by: UserId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        if enabled {
            sqlx::query("DELETE FROM lint_disabled_rules WHERE rule_id = $1")
                .bind(rule)
                .execute(self.writer())
                .await
                .map_err(err)?;
        } else {
            sqlx::query(
                "INSERT INTO lint_disabled_rules (rule_id, disabled_by, disabled_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (rule_id) DO NOTHING",
            )
            .bind(rule)
            .bind(by.to_string())
            .bind(unix(at))
            .execute(self.writer())
            .await
            .map_err(err)?;
        }
        Ok(())
    }

    async fn dismissals(&self, text_hash: &str) -> StoreResult<Vec<(String, i64)>> {
        sqlx::query_as("SELECT rule_id, start_char FROM lint_dismissals WHERE text_hash = $1")
            .bind(text_hash)
            .fetch_all(self.reader())
            .await
            .map_err(err)
    }
}
