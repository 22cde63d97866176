//! The organisation's memory: statements that read the same on SQLite and PostgreSQL (the
//! library, the health figures, the details of search hits). The full-text queries themselves
//! differ and live in `search_sqlite.rs` and `search_postgres.rs`.

use async_trait::async_trait;

use super::ThisStore;
use crate::domain::loops::{FactorReason, FailureType, Stage};
use crate::domain::{LoopId, TeamId};
use crate::store::backend::{BackendHooks, FullText};
use crate::store::memory::{
    Candidate, CandidateMeta, HealthFigures, HealthScope, LibraryEntry, LibraryFilter, LibraryPage,
    RecurrencePair, RecurrenceVerdict, SearchHit, SearchRequest, SearchResults, SimilarText,
};
use crate::store::rows::parse_id;
use crate::store::{from_unix, MemoryStore, StoreError, StoreResult};

fn err(error: sqlx::Error) -> StoreError {
    StoreError::from_sqlx(error)
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

/// ` AND <team column> IN (…)` when the scope names teams (an empty list matches nothing).
fn push_teams(
    query: &mut sqlx::QueryBuilder<'_, super::Db>,
    column: &str,
    teams: &Option<Vec<TeamId>>,
) {
    if let Some(teams) = teams {
        query.push(format!(" AND {column} IN (''"));
        for team in teams {
            query.push(", ");
            query.push_bind(team.to_string());
        }
        query.push(")");
    }
}

/// ` WHERE …` over a table of running totals (`team_id`, `day`): the scope's teams, or the
/// whole-organisation rows (`team_id = ''`) when it covers every team and the table keeps them.
fn push_rollup_scope(
    query: &mut sqlx::QueryBuilder<'_, super::Db>,
    scope: &HealthScope,
    since_day: i64,
    has_organisation_rows: bool,
) {
    match (&scope.teams, has_organisation_rows) {
        (None, true) => {
            query.push(" WHERE team_id = ''");
        }
        (None, false) => {
            query.push(" WHERE team_id <> ''");
        }
        (Some(teams), _) => {
            // An empty list matches nothing (NULL equals nothing).
            query.push(" WHERE team_id IN (NULL");
            for team in teams {
                query.push(", ");
                query.push_bind(team.to_string());
            }
            query.push(")");
        }
    }
    query.push(" AND day >= ");
    query.push_bind(since_day);
}

#[derive(sqlx::FromRow)]
struct HitDetails {
    slug: String,
    name: String,
    title: Option<String>,
    stage: Option<String>,
    anonymous: Option<bool>,
    author_name: Option<String>,
}

#[derive(sqlx::FromRow)]
struct LibraryRow {
    statement: String,
    created_at: i64,
    loop_id: String,
    loop_title: String,
    team_id: String,
    slug: String,
    name: String,
}

impl ThisStore {
    /// The team, and for a loop's records the loop, of every hit of a page, in one query (a
    /// query per hit cost a round trip to a connection each).
    async fn hit_details(&self, hits: &[&CandidateMeta]) -> StoreResult<Vec<HitDetails>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            position: i64,
            #[sqlx(flatten)]
            details: HitDetails,
        }
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT hit.position, teams.slug, teams.name, loops.title, loops.stage, \
             loops.anonymous, author.display_name AS author_name FROM (",
        );
        for (position, hit) in hits.iter().enumerate() {
            if position > 0 {
                query.push(" UNION ALL ");
            }
            query.push("SELECT CAST(");
            query.push_bind(i64::try_from(position).unwrap_or(i64::MAX));
            query.push(" AS BIGINT) AS position, CAST(");
            query.push_bind(hit.team_id.to_string());
            query.push(" AS TEXT) AS team_id, CAST(");
            query.push_bind(hit.loop_id.clone());
            query.push(" AS TEXT) AS loop_id");
        }
        query.push(
            ") AS hit JOIN teams ON teams.id = hit.team_id \
             LEFT JOIN loops ON loops.id = hit.loop_id \
             LEFT JOIN users AS author ON author.id = loops.author_id",
        );
        let mut rows: Vec<Row> = query
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(err)?;
        rows.sort_by_key(|row| row.position);
        if rows.len() != hits.len() {
            return Err(StoreError::Corrupt(
                "a search hit names a team that does not exist".to_owned(),
            ));
        }
        Ok(rows.into_iter().map(|row| row.details).collect())
    }

    /// The page of `request` among its candidates, best first, with what each is (kind, team,
    /// loop) but none of the details a page of hits shows; the number of candidates, and
    /// whether there were more.
    async fn ranked_page(
        &self,
        request: &SearchRequest<'_>,
    ) -> StoreResult<(Vec<Candidate>, i64, bool)> {
        let (mut candidates, capped) = self.search_candidates(request).await?;
        // Best first; ties by the newer record, then by the random id (never by insertion).
        candidates.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(b.at.cmp(&a.at))
                .then(a.key.cmp(&b.key))
        });
        let total = candidates.len() as i64;
        let mut page: Vec<Candidate> = candidates
            .into_iter()
            .skip(usize::try_from(request.offset).unwrap_or(0))
            .take(usize::try_from(request.limit).unwrap_or(0))
            .collect();
        self.search_meta(&mut page).await?;
        Ok((page, total, capped))
    }

    async fn count_by<T>(
        &self,
        mut query: sqlx::QueryBuilder<'_, super::Db>,
        parse: impl Fn(Option<String>) -> StoreResult<T>,
    ) -> StoreResult<Vec<(T, i64)>> {
        let rows: Vec<(Option<String>, i64)> = query
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(err)?;
        rows.into_iter()
            .map(|(key, count)| Ok((parse(key)?, count)))
            .collect()
    }
}

#[async_trait]
impl MemoryStore for ThisStore {
    async fn search(&self, request: &SearchRequest<'_>) -> StoreResult<SearchResults> {
        let (page, total, capped) = self.ranked_page(request).await?;
        let snippets = if request.snippets {
            self.search_snippets(request, &page).await?
        } else {
            Vec::new()
        };
        let metas: Vec<&CandidateMeta> = page.iter().filter_map(|c| c.meta.as_ref()).collect();
        let mut details = self.hit_details(&metas).await?.into_iter();
        let mut hits = Vec::with_capacity(page.len());
        for (i, candidate) in page.into_iter().enumerate() {
            let score = candidate.score;
            let Some(candidate) = candidate.meta else {
                continue;
            };
            let Some(details) = details.next() else {
                break;
            };
            let (title, snippet) = snippets.get(i).cloned().unwrap_or_default();
            hits.push(SearchHit {
                kind: candidate.kind,
                loop_id: candidate
                    .loop_id
                    .as_deref()
                    .map(parse_id::<LoopId>)
                    .transpose()?,
                ref_id: candidate.ref_id,
                team_id: candidate.team_id,
                team_slug: details.slug,
                team_name: details.name,
                at: from_unix(candidate.at)?,
                score,
                title,
                snippet,
                loop_title: details.title,
                stage: details
                    .stage
                    .as_deref()
                    .map(|s| Stage::parse(s).map_err(|_| corrupt("stage", s)))
                    .transpose()?,
                anonymous: details.anonymous.unwrap_or(false),
                author_name: details.author_name,
            });
        }
        Ok(SearchResults {
            hits,
            total,
            capped,
        })
    }

    async fn similar_pool(&self, request: &SearchRequest<'_>) -> StoreResult<Vec<LoopId>> {
        let (page, _, _) = self.ranked_page(request).await?;
        page.into_iter()
            .filter_map(|candidate| candidate.meta.and_then(|meta| meta.loop_id))
            .map(|id| parse_id::<LoopId>(&id))
            .collect()
    }

    async fn library(&self, filter: &LibraryFilter) -> StoreResult<LibraryPage> {
        fn push_filter(query: &mut sqlx::QueryBuilder<'_, super::Db>, filter: &LibraryFilter) {
            query.push(" WHERE x.visibility = 'organisation'");
            if let Some(theme) = filter.theme {
                query.push(
                    " AND EXISTS (SELECT 1 FROM contributing_factors f WHERE f.loop_id = x.loop_id AND f.reason = ",
                );
                query.push_bind(theme.as_str());
                query.push(")");
            }
            if let Some(tag) = &filter.tag {
                query.push(
                    " AND EXISTS (SELECT 1 FROM loop_tags t WHERE t.loop_id = x.loop_id AND t.tag = ",
                );
                query.push_bind(tag.clone());
                query.push(")");
            }
        }
        let mut count = sqlx::QueryBuilder::<super::Db>::new("SELECT COUNT(*) FROM learnings x");
        push_filter(&mut count, filter);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(self.reader())
            .await
            .map_err(err)?;
        let mut query = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT x.statement, x.created_at, x.loop_id, loops.title AS loop_title, x.team_id, \
             teams.slug, teams.name FROM learnings x JOIN loops ON loops.id = x.loop_id \
             JOIN teams ON teams.id = x.team_id",
        );
        push_filter(&mut query, filter);
        query.push(" ORDER BY x.created_at DESC, x.id LIMIT ");
        query.push_bind(filter.limit.clamp(1, 200));
        query.push(" OFFSET ");
        query.push_bind(filter.offset.max(0));
        let rows: Vec<LibraryRow> = query
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(err)?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows {
            let themes: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT reason FROM contributing_factors WHERE loop_id = $1 ORDER BY reason",
            )
            .bind(&row.loop_id)
            .fetch_all(self.reader())
            .await
            .map_err(err)?;
            let tags: Vec<String> =
                sqlx::query_scalar("SELECT tag FROM loop_tags WHERE loop_id = $1 ORDER BY tag")
                    .bind(&row.loop_id)
                    .fetch_all(self.reader())
                    .await
                    .map_err(err)?;
            entries.push(LibraryEntry {
                statement: row.statement,
                created_at: from_unix(row.created_at)?,
                loop_id: parse_id(&row.loop_id)?,
                loop_title: row.loop_title,
                team_id: parse_id(&row.team_id)?,
                team_slug: row.slug,
                team_name: row.name,
                themes: themes
                    .iter()
                    .map(|t| FactorReason::parse(t).map_err(|_| corrupt("reason", t)))
                    .collect::<StoreResult<_>>()?,
                tags,
            });
        }
        let themes = self
            .count_by(
                sqlx::QueryBuilder::new(
                    "SELECT f.reason, COUNT(DISTINCT x.id) FROM learnings x \
                     JOIN contributing_factors f ON f.loop_id = x.loop_id \
                     WHERE x.visibility = 'organisation' GROUP BY f.reason ORDER BY f.reason",
                ),
                |key| {
                    let key = key.unwrap_or_default();
                    FactorReason::parse(&key).map_err(|_| corrupt("reason", &key))
                },
            )
            .await?;
        let tags = self
            .count_by(
                sqlx::QueryBuilder::new(
                    "SELECT t.tag, COUNT(DISTINCT x.id) FROM learnings x \
                     JOIN loop_tags t ON t.loop_id = x.loop_id \
                     WHERE x.visibility = 'organisation' GROUP BY t.tag \
                     ORDER BY COUNT(DISTINCT x.id) DESC, t.tag LIMIT 40",
                ),
                |key| Ok(key.unwrap_or_default()),
            )
            .await?;
        Ok(LibraryPage {
            entries,
            total,
            themes,
            tags,
        })
    }

    async fn health(&self, scope: &HealthScope) -> StoreResult<HealthFigures> {
        // Running totals per team and day (migrations/*/0011_health_rollups.sql); ranges count
        // whole days.
        let now = scope.now.unix_timestamp();
        let since_day = scope
            .since
            .map_or(i64::MIN, |since| since.unix_timestamp().div_euclid(86_400));

        let mut query = sqlx::QueryBuilder::new(
            "SELECT stage, failure_type, CAST(SUM(loops) AS BIGINT), \
             CAST(SUM(recurrences) AS BIGINT), CAST(SUM(follow_ups_recurred) AS BIGINT) \
             FROM health_loops",
        );
        push_rollup_scope(&mut query, scope, since_day, true);
        query.push(" GROUP BY stage, failure_type");
        let rows: Vec<(String, String, i64, i64, i64)> = query
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(err)?;
        let mut by_stage: Vec<(Stage, i64)> = Vec::new();
        let mut by_type: Vec<(Option<FailureType>, i64)> = Vec::new();
        let (mut flagged_recurrences, mut follow_ups_recurred) = (0, 0);
        for (stage, failure_type, loops, recurrences, recurred) in rows {
            let stage = Stage::parse(&stage).map_err(|_| corrupt("stage", &stage))?;
            let failure_type = match failure_type.as_str() {
                "" => None,
                other => Some(FailureType::parse(other).map_err(|_| corrupt("type", other))?),
            };
            match by_stage.iter_mut().find(|(s, _)| *s == stage) {
                Some((_, n)) => *n += loops,
                None => by_stage.push((stage, loops)),
            }
            match by_type.iter_mut().find(|(t, _)| *t == failure_type) {
                Some((_, n)) => *n += loops,
                None => by_type.push((failure_type, loops)),
            }
            flagged_recurrences += recurrences;
            follow_ups_recurred += recurred;
        }

        let mut query = sqlx::QueryBuilder::new(
            "SELECT measure, lower_seconds, CAST(SUM(loops) AS BIGINT) FROM health_durations",
        );
        push_rollup_scope(&mut query, scope, since_day, true);
        query.push(" GROUP BY measure, lower_seconds");
        let rows: Vec<(String, i64, i64)> = query
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(err)?;
        let of = |measure: &str| -> Vec<(i64, i64)> {
            rows.iter()
                .filter(|(m, _, _)| m == measure)
                .map(|(_, lower, n)| (*lower, *n))
                .collect()
        };
        let (detect_seconds, analyse_seconds, apply_seconds) =
            (of("detect"), of("analyse"), of("apply"));

        // Stuck: entered its stage before the day that is the team's threshold ago.
        let mut query = sqlx::QueryBuilder::new(
            "SELECT CAST(COALESCE(SUM(health_waiting.loops), 0) AS BIGINT) FROM health_waiting \
             JOIN teams ON teams.id = health_waiting.team_id",
        );
        push_rollup_scope(&mut query, scope, since_day, false);
        query.push(" AND health_waiting.entered_day < (");
        query.push_bind(now);
        query.push(" - teams.stuck_after_days * 86400) / 86400");
        let stuck: i64 = query
            .build_query_scalar()
            .fetch_one(self.reader())
            .await
            .map_err(err)?;

        let mut query = sqlx::QueryBuilder::new(
            "SELECT CAST(COALESCE(SUM(open), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN due_day >= 0 AND due_day * 86400 < ",
        );
        query.push_bind(now);
        query.push(" THEN open ELSE 0 END), 0) AS BIGINT) FROM health_actions");
        push_rollup_scope(&mut query, scope, since_day, false);
        let (open_actions, overdue_actions): (i64, i64) = query
            .build_query_as()
            .fetch_one(self.reader())
            .await
            .map_err(err)?;

        let mut query =
            sqlx::QueryBuilder::new("SELECT e.status, COUNT(*) FROM experiments e WHERE 1 = 1");
        push_teams(&mut query, "e.team_id", &scope.teams);
        if let Some(since) = scope.since {
            query.push(" AND e.created_at >= ");
            query.push_bind(since.unix_timestamp());
        }
        query.push(" GROUP BY e.status ORDER BY e.status");
        let experiments_by_status = self
            .count_by(query, |key| Ok(key.unwrap_or_default()))
            .await?;

        let mut query = sqlx::QueryBuilder::new(
            "SELECT e.currency, CAST(SUM(e.loss_money_minor) AS BIGINT), \
             CAST(SUM(e.loss_days_tenths) AS BIGINT) FROM experiments e \
             WHERE e.status IN ('running', 'concluded')",
        );
        push_teams(&mut query, "e.team_id", &scope.teams);
        if let Some(since) = scope.since {
            query.push(" AND e.starts_on >= ");
            query.push_bind(since.unix_timestamp());
        }
        query.push(" GROUP BY e.currency ORDER BY e.currency");
        let committed_loss: Vec<(String, i64, i64)> = query
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(err)?;

        Ok(HealthFigures {
            by_stage,
            by_type,
            detect_seconds,
            analyse_seconds,
            apply_seconds,
            stuck,
            open_actions,
            overdue_actions,
            flagged_recurrences,
            follow_ups_recurred,
            experiments_by_status,
            committed_loss,
        })
    }

    async fn loops_with_all_actions_done(&self, ids: &[LoopId]) -> StoreResult<Vec<LoopId>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT loop_id FROM action_items WHERE loop_id IN (",
        );
        let mut separated = query.separated(", ");
        for id in ids {
            separated.push_bind(id.to_string());
        }
        query.push(
            ") GROUP BY loop_id HAVING SUM(CASE WHEN status = 'open' THEN 1 ELSE 0 END) = 0 \
             AND SUM(CASE WHEN status = 'done' THEN 1 ELSE 0 END) > 0",
        );
        let found: Vec<String> = query
            .build_query_scalar()
            .fetch_all(self.reader())
            .await
            .map_err(err)?;
        found.iter().map(|id| parse_id(id)).collect()
    }

    async fn set_recurrence_of(&self, id: LoopId, earlier: LoopId) -> StoreResult<()> {
        let changed = sqlx::query("UPDATE loops SET recurrence_of = $1 WHERE id = $2")
            .bind(earlier.to_string())
            .bind(id.to_string())
            .execute(self.writer())
            .await
            .map_err(err)?
            .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn similar_texts(&self, ids: &[LoopId]) -> StoreResult<Vec<SimilarText>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            id: String,
            team_id: String,
            slug: String,
            name: String,
            title: String,
            stage: String,
            created_at: i64,
            what_happened: String,
            what_was_expected: String,
            aar_difference: String,
            aar_lessons: String,
            went_wrong: String,
        }
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let in_list = |query: &mut sqlx::QueryBuilder<'_, super::Db>| {
            let mut separated = query.separated(", ");
            for id in ids {
                separated.push_bind(id.to_string());
            }
            query.push(")");
        };
        let mut query = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT loops.id, loops.team_id, teams.slug, teams.name, loops.title, loops.stage, \
             loops.created_at, loops.what_happened, loops.what_was_expected, \
             loops.aar_difference, loops.aar_lessons, loops.went_wrong \
             FROM loops JOIN teams ON teams.id = loops.team_id WHERE loops.id IN (",
        );
        in_list(&mut query);
        let rows: Vec<Row> = query
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(err)?;
        let mut query = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT loop_id, reason, description FROM contributing_factors WHERE loop_id IN (",
        );
        in_list(&mut query);
        query.push(" ORDER BY added_at, id");
        let factors: Vec<(String, String, String)> = query
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(err)?;
        let mut query = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT loop_id, statement FROM learnings WHERE loop_id IN (",
        );
        in_list(&mut query);
        query.push(" ORDER BY created_at, id");
        let learnings: Vec<(String, String)> = query
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(err)?;
        let mut query = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT loop_id, status, COUNT(*) FROM action_items WHERE loop_id IN (",
        );
        in_list(&mut query);
        query.push(" GROUP BY loop_id, status");
        let actions: Vec<(String, String, i64)> = query
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(err)?;
        let count = |id: &str, status: &str| -> usize {
            actions
                .iter()
                .filter(|(l, s, _)| l == id && s == status)
                .map(|(_, _, n)| usize::try_from(*n).unwrap_or(0))
                .sum()
        };
        // In the order asked for.
        let mut out = Vec::with_capacity(rows.len());
        for id in ids {
            let key = id.to_string();
            let Some(row) = rows.iter().find(|r| r.id == key) else {
                continue;
            };
            out.push(SimilarText {
                id: *id,
                team_id: parse_id(&row.team_id)?,
                team_slug: row.slug.clone(),
                team_name: row.name.clone(),
                title: row.title.clone(),
                stage: Stage::parse(&row.stage).map_err(|_| corrupt("stage", &row.stage))?,
                created_at: from_unix(row.created_at)?,
                what_happened: row.what_happened.clone(),
                what_was_expected: row.what_was_expected.clone(),
                aar_difference: row.aar_difference.clone(),
                aar_lessons: row.aar_lessons.clone(),
                went_wrong: row.went_wrong.clone(),
                factors: factors
                    .iter()
                    .filter(|(l, _, _)| *l == key)
                    .map(|(_, reason, description)| {
                        Ok((
                            FactorReason::parse(reason).map_err(|_| corrupt("reason", reason))?,
                            description.clone(),
                        ))
                    })
                    .collect::<StoreResult<_>>()?,
                learnings: learnings
                    .iter()
                    .filter(|(l, _)| *l == key)
                    .map(|(_, statement)| statement.clone())
                    .collect(),
                actions_open: count(&key, "open"),
                actions_done: count(&key, "done"),
                actions_dropped: count(&key, "dropped"),
            });
        }
        Ok(out)
    }

    async fn record_recurrence_verdict(&self, pair: &RecurrencePair) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(err)?;
        sqlx::query(
            "INSERT INTO recurrence_verdicts (loop_id, earlier_id, team_id, verdict, given_on) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (loop_id, earlier_id) \
             DO UPDATE SET verdict = excluded.verdict, given_on = excluded.given_on, \
             team_id = excluded.team_id",
        )
        .bind(pair.loop_id.to_string())
        .bind(pair.earlier_id.to_string())
        .bind(pair.team_id.to_string())
        .bind(pair.verdict.as_str())
        .bind(pair.on.unix_timestamp())
        .execute(&mut *tx)
        .await
        .map_err(err)?;
        if pair.verdict == RecurrenceVerdict::Dismissed {
            sqlx::query(
                "UPDATE loops SET recurrence_of = NULL WHERE id = $1 AND recurrence_of = $2",
            )
            .bind(pair.loop_id.to_string())
            .bind(pair.earlier_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    async fn recurrence_verdict(
        &self,
        loop_id: LoopId,
        earlier: LoopId,
    ) -> StoreResult<Option<RecurrencePair>> {
        let row: Option<(String, String, String, String, i64)> = sqlx::query_as(
            "SELECT loop_id, earlier_id, team_id, verdict, given_on FROM recurrence_verdicts \
             WHERE loop_id = $1 AND earlier_id = $2",
        )
        .bind(loop_id.to_string())
        .bind(earlier.to_string())
        .fetch_optional(self.reader())
        .await
        .map_err(err)?;
        row.map(pair_of_row).transpose()
    }

    async fn dismissed_earlier(&self, loop_id: LoopId) -> StoreResult<Vec<LoopId>> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT earlier_id FROM recurrence_verdicts WHERE loop_id = $1 AND verdict = 'dismissed' \
             ORDER BY earlier_id",
        )
        .bind(loop_id.to_string())
        .fetch_all(self.reader())
        .await
        .map_err(err)?;
        rows.iter().map(|id| parse_id(id)).collect()
    }

    async fn recurrence_pairs(&self, teams: Option<&[TeamId]>) -> StoreResult<Vec<RecurrencePair>> {
        let mut query = sqlx::QueryBuilder::<super::Db>::new(
            "SELECT loop_id, earlier_id, team_id, verdict, given_on FROM recurrence_verdicts \
             WHERE 1 = 1",
        );
        push_teams(&mut query, "team_id", &teams.map(<[TeamId]>::to_vec));
        query.push(" ORDER BY given_on, loop_id, earlier_id");
        let rows: Vec<(String, String, String, String, i64)> = query
            .build_query_as()
            .fetch_all(self.reader())
            .await
            .map_err(err)?;
        rows.into_iter().map(pair_of_row).collect()
    }

    async fn team_of_loop(&self, id: LoopId) -> StoreResult<Option<TeamId>> {
        let team: Option<String> = sqlx::query_scalar("SELECT team_id FROM loops WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.reader())
            .await
            .map_err(err)?;
        team.as_deref().map(parse_id).transpose()
    }
}

fn pair_of_row(
    (loop_id, earlier_id, team_id, verdict, on): (String, String, String, String, i64),
) -> StoreResult<RecurrencePair> {
    Ok(RecurrencePair {
        loop_id: parse_id(&loop_id)?,
        earlier_id: parse_id(&earlier_id)?,
        team_id: parse_id(&team_id)?,
        verdict: RecurrenceVerdict::parse(&verdict).ok_or_else(|| corrupt("verdict", &verdict))?,
        on: from_unix(on)?,
    })
}
