//! Search on PostgreSQL: generated `tsvector` columns with GIN indexes on each searchable table
//! (migrations/postgres/0010_search.sql). The query is built from the parsed terms with
//! `to_tsquery` (words of letters and digits only, so it always parses); the newest
//! `candidates` matches allowed by the filter are ranked with `ts_rank`.

use super::{Db, PostgresStore};
use crate::domain::search::{any_of_tsquery, DocKind};
use crate::domain::TeamId;
use crate::store::backend::FullText;
use crate::store::memory::{Candidate, CandidateMeta};
use crate::store::memory::{Matching, SearchFilter, SearchRequest};
use crate::store::{StoreError, StoreResult};

fn tsquery(matching: Matching<'_>) -> Option<String> {
    match matching {
        Matching::All(query) => query.to_tsquery(),
        Matching::Any(terms) => any_of_tsquery(terms),
    }
}

/// One kind's part of the union: its table, the columns it contributes and how it is scoped.
struct Part {
    kind: DocKind,
    /// `kind, ref_id, loop_id, team_id, at, vector` in that order.
    select: &'static str,
    /// The alias whose `team_id` scopes it.
    team_column: &'static str,
    at_column: &'static str,
}

const PARTS: [Part; 5] = [
    Part {
        kind: DocKind::Loop,
        select: "SELECT 'loop' AS kind, l.id AS ref_id, l.id AS loop_id, l.team_id, l.created_at AS at, l.search_vector AS vector FROM loops l",
        team_column: "l.team_id",
        at_column: "l.created_at",
    },
    Part {
        kind: DocKind::Learning,
        select: "SELECT 'learning', x.id, x.loop_id, x.team_id, x.created_at, x.search_vector FROM learnings x",
        team_column: "x.team_id",
        at_column: "x.created_at",
    },
    Part {
        kind: DocKind::Factor,
        select: "SELECT 'factor', x.id, x.loop_id, l.team_id, x.added_at, x.search_vector FROM contributing_factors x JOIN loops l ON l.id = x.loop_id",
        team_column: "l.team_id",
        at_column: "x.added_at",
    },
    Part {
        kind: DocKind::Action,
        select: "SELECT 'action', x.id, x.loop_id, x.team_id, x.created_at, x.search_vector FROM action_items x",
        team_column: "x.team_id",
        at_column: "x.created_at",
    },
    Part {
        kind: DocKind::Experiment,
        select: "SELECT 'experiment', x.id, NULL, x.team_id, x.created_at, x.search_vector FROM experiments x",
        team_column: "x.team_id",
        at_column: "x.created_at",
    },
];

fn push_teams(query: &mut sqlx::QueryBuilder<'_, Db>, column: &str, teams: &[TeamId]) {
    query.push(format!(
        " {column} IN ('00000000-0000-0000-0000-000000000000'"
    ));
    for team in teams {
        query.push(", ");
        query.push_bind(team.to_string());
    }
    query.push(")");
}

/// The candidate union, newest first: `kind, ref_id, loop_id, team_id, at, vector`.
/// `walk_dates`: let the planner walk a date index newest first (fast when matches are dense,
/// as in the newest window of a common word). Otherwise the order is by an expression no index
/// has, so the GIN index finds the matches first: walking the dates of an older window for a
/// query that matches little would read every row of it.
fn push_candidates(
    query: &mut sqlx::QueryBuilder<'_, Db>,
    text: &str,
    filter: &SearchFilter,
    limit: i64,
    walk_dates: bool,
) {
    let mut first = true;
    for part in &PARTS {
        if filter.kind.is_some_and(|k| k != part.kind) {
            continue;
        }
        // Only loops carry a stage and tags.
        if (filter.stage.is_some() || filter.tag.is_some()) && part.kind != DocKind::Loop {
            continue;
        }
        if !first {
            query.push(" UNION ALL ");
        }
        first = false;
        query.push("(");
        query.push(part.select);
        query.push(" WHERE ");
        query.push(if part.kind == DocKind::Loop {
            "l.search_vector"
        } else {
            "x.search_vector"
        });
        // The query itself, not a reference to the CTE: the planner then estimates how many
        // rows match from the column's statistics (a word in 98 % of loops is better found by
        // walking the dates, a rare one through the GIN index); behind a CTE it guesses blind.
        query.push(" @@ to_tsquery('english', ");
        query.push_bind(text.to_owned());
        query.push(")");
        if let Some(teams) = &filter.teams {
            query.push(" AND (");
            push_teams(query, part.team_column, teams);
            if part.kind == DocKind::Learning {
                query.push(" OR x.visibility = 'organisation'");
            }
            query.push(")");
        }
        if let Some(team) = filter.team {
            query.push(format!(" AND {} = ", part.team_column));
            query.push_bind(team.to_string());
        }
        if let Some(stage) = filter.stage {
            query.push(" AND l.stage = ");
            query.push_bind(stage.as_str());
        }
        if let Some(tag) = &filter.tag {
            query
                .push(" AND EXISTS (SELECT 1 FROM loop_tags t WHERE t.loop_id = l.id AND t.tag = ");
            query.push_bind(tag.clone());
            query.push(")");
        }
        if let Some(from) = filter.from {
            query.push(format!(" AND {} >= ", part.at_column));
            query.push_bind(from.unix_timestamp());
        }
        if let Some(until) = filter.until {
            query.push(format!(" AND {} < ", part.at_column));
            query.push_bind(until.unix_timestamp());
        }
        query.push(format!(
            " ORDER BY {}{} DESC LIMIT ",
            part.at_column,
            if walk_dates { "" } else { " + 0" }
        ));
        query.push_bind(limit);
        query.push(")");
    }
    if first {
        query.push("SELECT NULL::text, NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::tsvector WHERE false");
    }
}

#[derive(sqlx::FromRow)]
struct CandidateRow {
    kind: String,
    ref_id: String,
    loop_id: Option<String>,
    team_id: String,
    at: i64,
    rank: f32,
}

impl PostgresStore {
    /// The newest `candidates` matches (one more, to tell whether there were more), ranked.
    /// The newest `limit` matches the filter allows, with their `ts_rank`.
    async fn candidates_in(
        &self,
        tx: &mut sqlx::Transaction<'static, Db>,
        text: &str,
        filter: &SearchFilter,
        limit: i64,
        walk_dates: bool,
    ) -> StoreResult<Vec<CandidateRow>> {
        let mut query =
            sqlx::QueryBuilder::<Db>::new("WITH search_query AS (SELECT to_tsquery('english', ");
        query.push_bind(text.to_owned());
        query.push(") AS q), found AS (SELECT * FROM (");
        push_candidates(&mut query, text, filter, limit, walk_dates);
        query.push(
            ") AS u (kind, ref_id, loop_id, team_id, at, vector) ORDER BY at DESC, ref_id LIMIT ",
        );
        query.push_bind(limit);
        query.push(
            ") SELECT kind, ref_id, loop_id, team_id, at, \
             ts_rank(vector, (SELECT q FROM search_query)) AS rank FROM found ORDER BY at DESC, ref_id",
        );
        // Unprepared (an unnamed statement): planned each time with this query's words, never
        // as a generic plan that would pick one access path for a word in every loop and for
        // a word in none. sqlx parses and binds it in two exchanges; inside the caller's
        // transaction both reach the same server connection, also through a pooler in
        // transaction mode (PgBouncer keeps no unnamed statement from one to the next).
        query
            .build_query_as()
            .persistent(false)
            .fetch_all(&mut **tx)
            .await
            .map_err(StoreError::from_sqlx)
    }
}

impl FullText for PostgresStore {
    async fn search_candidates(
        &self,
        request: &SearchRequest<'_>,
    ) -> StoreResult<(Vec<Candidate>, bool)> {
        let Some(text) = tsquery(request.matching) else {
            return Ok((Vec::new(), false));
        };
        // Newest first, in windows (`SearchRequest::windows`).
        let mut rows: Vec<CandidateRow> = Vec::new();
        let mut stopped_early = false;
        let windows = request.windows();
        // One transaction for the walk: see `candidates_in`.
        let mut tx = self.pool.begin().await.map_err(StoreError::from_sqlx)?;
        for (i, (from, until)) in windows.into_iter().enumerate() {
            if rows.len() as i64 >= request.enough() || rows.len() as i64 > request.candidates {
                stopped_early = true;
                break;
            }
            let filter = SearchFilter {
                from,
                until,
                ..request.filter.clone()
            };
            let wanted = request.candidates + 1 - rows.len() as i64;
            // Only the newest window may walk dates: reaching an older one means matches are
            // sparse.
            rows.extend(
                self.candidates_in(&mut tx, &text, &filter, wanted, i == 0)
                    .await?,
            );
        }
        tx.commit().await.map_err(StoreError::from_sqlx)?;
        let capped = stopped_early || rows.len() as i64 > request.candidates;
        let candidates = rows
            .into_iter()
            .take(usize::try_from(request.candidates).unwrap_or(0))
            .map(|row| {
                Ok(Candidate {
                    key: row.ref_id.clone(),
                    at: row.at,
                    score: f64::from(row.rank),
                    meta: Some(CandidateMeta::new(
                        &row.kind,
                        row.ref_id,
                        row.loop_id,
                        &row.team_id,
                        row.at,
                    )?),
                    texts: None,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((candidates, capped))
    }

    /// Candidates come with what they are already.
    async fn search_meta(&self, _page: &mut [Candidate]) -> StoreResult<()> {
        Ok(())
    }

    /// The highlighted title and snippet of each candidate (`ts_headline`), in one query per
    /// kind on the page rather than one per hit: a page of 20 loops was 20 round trips.
    async fn search_snippets(
        &self,
        request: &SearchRequest<'_>,
        page: &[Candidate],
    ) -> StoreResult<Vec<(String, String)>> {
        let Some(text) = tsquery(request.matching) else {
            return Ok(Vec::new());
        };
        let mut found: std::collections::HashMap<(DocKind, String), (String, String)> =
            std::collections::HashMap::new();
        for kind in DocKind::ALL {
            let ids: Vec<String> = page
                .iter()
                .filter_map(|candidate| candidate.meta.as_ref())
                .filter(|meta| meta.kind == kind)
                .map(|meta| meta.ref_id.clone())
                .collect();
            if ids.is_empty() {
                continue;
            }
            let (title, body, table) = match kind {
                DocKind::Loop => (
                    "title",
                    "what_happened || E'\\n' || what_was_expected || E'\\n' || aar_lessons || E'\\n' || went_wrong",
                    "loops",
                ),
                DocKind::Learning => ("''", "statement", "learnings"),
                DocKind::Factor => ("''", "description", "contributing_factors"),
                DocKind::Action => ("title", "dropped_reason", "action_items"),
                DocKind::Experiment => (
                    "title",
                    "believe || E'\\n' || measure || E'\\n' || coalesce(learned, '')",
                    "experiments",
                ),
            };
            // chr(2) and chr(3) are the marks of domain::search (MARK_START, MARK_END).
            let sql = format!(
                "WITH q AS (SELECT to_tsquery('english', $1) AS q), \
                 doc AS (SELECT id, replace({title}, '<', chr(1)) AS title, \
                   replace({body}, '<', chr(1)) AS body FROM {table} WHERE id = ANY($2)) \
                 SELECT doc.id, ts_headline('english', doc.title, q.q, \
                   'HighlightAll=true, StartSel=' || chr(2) || ', StopSel=' || chr(3)), \
                 ts_headline('english', doc.body, q.q, \
                   'MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=\" … \", StartSel=' \
                   || chr(2) || ', StopSel=' || chr(3)) \
                 FROM doc, q"
            );
            let rows: Vec<(String, String, String)> =
                sqlx::query_as::<Db, (String, String, String)>(&sql)
                    .bind(&text)
                    .bind(&ids)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(StoreError::from_sqlx)?;
            for (id, title, body) in rows {
                // The default text parser reads `<…>` as markup and leaves it out of headlines;
                // hidden as chr(1) above, it comes back here as the text it was.
                found.insert(
                    (kind, id),
                    (title.replace('\u{1}', "<"), body.replace('\u{1}', "<")),
                );
            }
        }
        Ok(page
            .iter()
            .map(|candidate| {
                candidate
                    .meta
                    .as_ref()
                    .and_then(|meta| found.remove(&(meta.kind, meta.ref_id.clone())))
                    .unwrap_or_default()
            })
            .collect())
    }
}
