//! The alert intake's statements, the same on SQLite and PostgreSQL.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::ThisStore;
use crate::domain::{LoopId, TeamId, UserId};
use crate::store::alerts::{AlertLoop, IntakeRecord};
use crate::store::backend::BackendHooks;
use crate::store::rows::parse_id;
use crate::store::{from_unix, unix, AlertStore, StoreError, StoreResult};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

#[async_trait]
impl AlertStore for ThisStore {
    async fn set_alert_intake(&self, team: TeamId, intake: &IntakeRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO alert_intakes (team_id, token_hash, pagerduty_sealed, created_by, \
             created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (team_id) DO UPDATE SET \
             token_hash = excluded.token_hash, pagerduty_sealed = excluded.pagerduty_sealed, \
             created_by = excluded.created_by, created_at = excluded.created_at",
        )
        .bind(team.to_string())
        .bind(&intake.token_hash)
        .bind(intake.pagerduty_sealed.as_deref())
        .bind(intake.created_by.to_string())
        .bind(unix(intake.created_at))
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn alert_intake(&self, team: TeamId) -> StoreResult<Option<IntakeRecord>> {
        let row: Option<(String, Option<String>, String, i64)> = sqlx::query_as(
            "SELECT token_hash, pagerduty_sealed, created_by, created_at FROM alert_intakes \
             WHERE team_id = $1",
        )
        .bind(team.to_string())
        .fetch_optional(self.reader())
        .await
        .map_err(err)?;
        row.map(|(token_hash, pagerduty_sealed, by, at)| {
            let created_by: UserId = parse_id(&by)?;
            Ok(IntakeRecord {
                token_hash,
                pagerduty_sealed,
                created_by,
                created_at: from_unix(at)?,
            })
        })
        .transpose()
    }

    async fn alert_loop(&self, team: TeamId, fingerprint: &str) -> StoreResult<Option<AlertLoop>> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT loop_id, last_seen_at FROM alert_fingerprints \
             WHERE team_id = $1 AND fingerprint = $2",
        )
        .bind(team.to_string())
        .bind(fingerprint)
        .fetch_optional(self.reader())
        .await
        .map_err(err)?;
        row.map(|(id, at)| {
            let loop_id: LoopId = parse_id(&id)?;
            Ok(AlertLoop {
                loop_id,
                last_seen_at: from_unix(at)?,
            })
        })
        .transpose()
    }

    async fn remember_alert(
        &self,
        team: TeamId,
        fingerprint: &str,
        loop_id: LoopId,
        seen_at: OffsetDateTime,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO alert_fingerprints (team_id, fingerprint, loop_id, last_seen_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (team_id, fingerprint) DO UPDATE SET \
             loop_id = excluded.loop_id, last_seen_at = excluded.last_seen_at",
        )
        .bind(team.to_string())
        .bind(fingerprint)
        .bind(loop_id.to_string())
        .bind(unix(seen_at))
        .execute(self.writer())
        .await
        .map_err(err)?;
        Ok(())
    }

    async fn claim_alert_opening(
        &self,
        team: TeamId,
        fingerprint: &str,
        now: OffsetDateTime,
        stale_before: OffsetDateTime,
    ) -> StoreResult<bool> {
        // One statement, so the claim is atomic on both databases: the insert wins when no one
        // holds the group, the conditional update when the holder's claim has gone stale, and
        // neither writes anything for a live claim.
        let claimed = sqlx::query(
            "INSERT INTO alert_openings (team_id, fingerprint, claimed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (team_id, fingerprint) DO UPDATE SET claimed_at = excluded.claimed_at \
             WHERE alert_openings.claimed_at < $4",
        )
        .bind(team.to_string())
        .bind(fingerprint)
        .bind(unix(now))
        .bind(unix(stale_before))
        .execute(self.writer())
        .await
        .map_err(err)?
        .rows_affected();
        Ok(claimed == 1)
    }

    async fn release_alert_opening(&self, team: TeamId, fingerprint: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM alert_openings WHERE team_id = $1 AND fingerprint = $2")
            .bind(team.to_string())
            .bind(fingerprint)
            .execute(self.writer())
            .await
            .map_err(err)?;
        Ok(())
    }
}
