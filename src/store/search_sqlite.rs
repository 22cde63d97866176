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
use crate::store::memory::{Candidate, CandidateMeta};
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
struct MetaRow {
    rowid: i64,
    kind: String,
    ref_id: String,
    loop_id: Option<String>,
    team_id: String,
    at: i64,
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
        // Only the id and the score: reading the stored columns of every candidate would cost
        // more than ranking them (see ARCHITECTURE.md, "Search").
        let rows: Vec<(i64, f64)> = sqlx::query_as(
            "SELECT rowid, bm25(search_index, 10.0, 1.0, 0.0) \
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
        let candidates = rows
            .into_iter()
            .take(usize::try_from(request.candidates).unwrap_or(0))
            .map(|(doc, rank)| Candidate {
                key: doc.to_string(),
                at: doc.div_euclid(DAY_SHIFT) * 86_400,
                score: -rank,
                meta: None,
            })
            .collect();
        Ok((candidates, capped))
    }

    /// What each candidate of the page is, from the index's stored columns (one query).
    pub(super) async fn search_meta(&self, page: &mut [Candidate]) -> StoreResult<()> {
        let docs = documents(page)?;
        if docs.is_empty() {
            return Ok(());
        }
        let mut query = sqlx::QueryBuilder::<Db>::new(
            "SELECT rowid, kind, ref_id, loop_id, team_id, at FROM search_index WHERE rowid IN (",
        );
        let mut separated = query.separated(", ");
        for doc in &docs {
            separated.push_bind(*doc);
        }
        query.push(")");
        let rows: Vec<MetaRow> = query
            .build_query_as()
            .fetch_all(&self.reader)
            .await
            .map_err(StoreError::from_sqlx)?;
        for (candidate, doc) in page.iter_mut().zip(&docs) {
            if let Some(row) = rows.iter().find(|r| r.rowid == *doc) {
                candidate.meta = Some(CandidateMeta::new(
                    &row.kind,
                    row.ref_id.clone(),
                    row.loop_id.clone(),
                    &row.team_id,
                    row.at,
                )?);
            }
        }
        Ok(())
    }

    /// The highlighted title and snippet of each candidate. Highlighting with exact stems is
    /// one cheap query; a prefix over a common word costs a full doclist merge per query, so
    /// the prefix form is used only for the records the exact form does not match.
    pub(super) async fn search_snippets(
        &self,
        request: &SearchRequest<'_>,
        page: &[Candidate],
    ) -> StoreResult<Vec<(String, String)>> {
        let docs = documents(page)?;
        let exact_query;
        let exact = match request.matching {
            Matching::All(query) => {
                exact_query = query.without_prefix();
                Matching::All(&exact_query)
            }
            other => other,
        };
        let mut found = self.snippets_of(exact, &request.filter, &docs).await?;
        let missing: Vec<i64> = docs
            .iter()
            .copied()
            .filter(|doc| !found.iter().any(|(d, _)| d == doc))
            .collect();
        if !missing.is_empty() {
            found.extend(
                self.snippets_of(request.matching, &request.filter, &missing)
                    .await?,
            );
        }
        Ok(docs
            .iter()
            .map(|doc| {
                found
                    .iter()
                    .find(|(d, _)| d == doc)
                    .map(|(_, texts)| texts.clone())
                    .unwrap_or_default()
            })
            .collect())
    }

    async fn snippets_of(
        &self,
        matching: Matching<'_>,
        filter: &SearchFilter,
        docs: &[i64],
    ) -> StoreResult<Vec<(i64, (String, String))>> {
        let Some(expression) = expression(matching, filter) else {
            return Ok(Vec::new());
        };
        if docs.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = sqlx::QueryBuilder::<Db>::new("SELECT rowid, highlight(search_index, 0, ");
        query.push_bind(MARK_START.to_string());
        query.push(", ");
        query.push_bind(MARK_END.to_string());
        query.push("), snippet(search_index, 1, ");
        query.push_bind(MARK_START.to_string());
        query.push(", ");
        query.push_bind(MARK_END.to_string());
        query.push(", '…', 24) FROM search_index WHERE search_index MATCH ");
        query.push_bind(expression);
        query.push(" AND rowid IN (");
        let mut separated = query.separated(", ");
        for doc in docs {
            separated.push_bind(*doc);
        }
        query.push(")");
        let rows: Vec<(i64, String, String)> = query
            .build_query_as()
            .fetch_all(&self.reader)
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(rows
            .into_iter()
            .map(|(doc, title, snippet)| (doc, (title, snippet)))
            .collect())
    }
}

fn documents(page: &[Candidate]) -> StoreResult<Vec<i64>> {
    page.iter()
        .map(|c| {
            c.key
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("document id {:?}", c.key)))
        })
        .collect()
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
