//! Search on SQLite: one FTS5 table over every searchable record (migrations/sqlite/0010_search.sql).
//!
//! The document id orders records by day (random within a day), so "the newest matches" is a
//! reverse walk of FTS5's doclists that stops after `candidates` rows: a common word matching a
//! fifth of a million loops costs the same as a rare one. Access, team, kind, stage and tag are
//! facet tokens inside the same MATCH expression, so they narrow the walk instead of filtering
//! after it; dates are a rowid range. Only the candidates are ranked (bm25, title weighing ten
//! times the body).

use super::{Db, SqliteStore};
use crate::domain::search::{any_of_fts5, MARK_END, MARK_START};
use crate::domain::TeamId;
use crate::store::memory::Candidate;
use crate::store::memory::{Matching, SearchFilter, SearchRequest};
use crate::store::{StoreError, StoreResult};

/// Days are stored above bit 47 of the document id (see the migration).
const DAY_SHIFT: i64 = 1 << 47;

fn token(prefix: char, value: &str) -> String {
    format!("\"{prefix}{value}x\"")
}

fn team_token(team: TeamId) -> String {
    token('t', &team.to_string().replace('-', ""))
}

/// The MATCH expression: the user's words in title and body, the filters as facet tokens.
fn expression(matching: Matching<'_>, filter: &SearchFilter) -> Option<String> {
    let words = match matching {
        Matching::All(query) => query.to_fts5()?,
        Matching::Any(terms) => any_of_fts5(terms)?,
    };
    let mut parts = vec![format!("({words})")];
    if let Some(teams) = &filter.teams {
        let mut allowed: Vec<String> = teams.iter().map(|t| team_token(*t)).collect();
        allowed.push("\"ovisx\"".to_owned());
        parts.push(format!("facets : ({})", allowed.join(" OR ")));
    }
    if let Some(team) = filter.team {
        parts.push(format!("facets : {}", team_token(team)));
    }
    if let Some(kind) = filter.kind {
        parts.push(format!("facets : {}", token('k', kind.as_str())));
    }
    if let Some(stage) = filter.stage {
        parts.push(format!("facets : {}", token('s', stage.as_str())));
    }
    if let Some(tag) = &filter.tag {
        parts.push(format!(
            "facets : {}",
            token('g', &hex::encode(tag.as_bytes()))
        ));
    }
    Some(parts.join(" AND "))
}

#[derive(sqlx::FromRow)]
struct CandidateRow {
    doc: i64,
    kind: String,
    ref_id: String,
    loop_id: Option<String>,
    team_id: String,
    at: i64,
    rank: f64,
}

impl SqliteStore {
    /// The newest `candidates` matches (one more, to tell whether there were more), with their
    /// bm25 score turned so that higher is better.
    pub(super) async fn search_candidates(
        &self,
        request: &SearchRequest<'_>,
    ) -> StoreResult<(Vec<Candidate>, bool)> {
        let Some(expression) = expression(request.matching, &request.filter) else {
            return Ok((Vec::new(), false));
        };
        let low = request
            .filter
            .from
            .map(|at| at.unix_timestamp().div_euclid(86_400) * DAY_SHIFT)
            .unwrap_or(i64::MIN);
        let high = request
            .filter
            .until
            .map(|at| at.unix_timestamp().div_euclid(86_400) * DAY_SHIFT)
            .unwrap_or(i64::MAX);
        let rows: Vec<CandidateRow> = sqlx::query_as(
            "SELECT rowid AS doc, kind, ref_id, loop_id, team_id, at, \
             bm25(search_index, 10.0, 1.0, 0.0) AS rank \
             FROM search_index WHERE search_index MATCH $1 AND rowid >= $2 AND rowid < $3 \
             ORDER BY rowid DESC LIMIT $4",
        )
        .bind(&expression)
        .bind(low)
        .bind(high)
        .bind(request.candidates + 1)
        .fetch_all(&self.reader)
        .await
        .map_err(StoreError::from_sqlx)?;
        let capped = rows.len() as i64 > request.candidates;
        let except = request.filter.except_loop.map(|id| id.to_string());
        let candidates = rows
            .into_iter()
            .take(usize::try_from(request.candidates).unwrap_or(0))
            .filter(|row| except.is_none() || row.loop_id != except || row.kind != "loop")
            .map(|row| {
                Candidate::new(
                    row.doc.to_string(),
                    &row.kind,
                    row.ref_id,
                    row.loop_id,
                    &row.team_id,
                    row.at,
                    -row.rank,
                )
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((candidates, capped))
    }

    /// The highlighted title and snippet of each candidate, from the same MATCH expression.
    pub(super) async fn search_snippets(
        &self,
        request: &SearchRequest<'_>,
        page: &[Candidate],
    ) -> StoreResult<Vec<(String, String)>> {
        let Some(expression) = expression(request.matching, &request.filter) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(page.len());
        for candidate in page {
            let doc: i64 = candidate
                .key
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("document id {:?}", candidate.key)))?;
            let row: Option<(String, String)> = sqlx::query_as::<Db, (String, String)>(
                "SELECT highlight(search_index, 0, $2, $3), \
                 snippet(search_index, 1, $2, $3, '…', 24) \
                 FROM search_index WHERE search_index MATCH $1 AND rowid = $4",
            )
            .bind(&expression)
            .bind(MARK_START.to_string())
            .bind(MARK_END.to_string())
            .bind(doc)
            .fetch_optional(&self.reader)
            .await
            .map_err(StoreError::from_sqlx)?;
            out.push(row.unwrap_or_default());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::search::{DocKind, SearchQuery};

    #[test]
    fn filters_become_facet_tokens() {
        let query = SearchQuery::parse("disk");
        let filter = SearchFilter {
            teams: Some(Vec::new()),
            kind: Some(DocKind::Loop),
            tag: Some("db".to_owned()),
            ..SearchFilter::default()
        };
        assert_eq!(
            expression(Matching::All(&query), &filter).as_deref(),
            Some(
                "({title body} : (\"disk\"*)) AND facets : (\"ovisx\") AND facets : \"kloopx\" \
                 AND facets : \"g6462x\""
            )
        );
    }
}
