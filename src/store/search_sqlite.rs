//! Search on SQLite: one FTS5 table over every searchable record (migrations/sqlite/0010_search.sql).
//!
//! The document id orders records by day (random within a day), so "the newest matches" is a
//! reverse walk of FTS5's doclists that stops after `candidates` rows: a common word matching a
//! fifth of a million loops costs the same as a rare one. Access, team, kind, stage and tag are
//! facet tokens inside the same MATCH expression, so they narrow the walk instead of filtering
//! after it; dates are a rowid range. Only the candidates are ranked (bm25, title weighing ten
//! times the body) with `ff_rank()` (see `fts5_rank.rs`), which is FTS5's bm25 fed with document
//! frequencies from [`FrequencyCache`] instead of counting them on every query.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Db, SqliteStore};
use crate::domain::search::{any_of_fts5, MARK_END, MARK_START};
use crate::domain::TeamId;
use crate::store::backend::FullText;
use crate::store::memory::{Candidate, CandidateMeta};
use crate::store::memory::{Matching, SearchFilter, SearchRequest};
use crate::store::{StoreError, StoreResult};

// Days are stored above bit 47 of the document id (see the migration), as in a loop's `seq`.
use crate::store::loops::DAY_SHIFT;

/// How long a counted document frequency is used. Frequencies move slowly (a day's new records
/// are a sliver of the archive), and ranking needs them only roughly.
const FREQUENCY_TTL: Duration = Duration::from_secs(600);
/// Counted phrases kept at most (the cache starts afresh beyond this).
const FREQUENCY_CACHE_MAX: usize = 20_000;
/// Smaller counts are not kept: counting them is cheap (the work grows with the count), and in a
/// young archive a stale small count would be far off.
const FREQUENCY_CACHE_FROM: i64 = 2_000;
/// "Similar loops" searches for every salient word of the text, as PostgreSQL does, so that
/// both find the same pool (the service scores it the same way on both) …
const SIMILAR_TERMS_MAX: usize = crate::domain::search::SALIENT_MAX;
/// … but leaves out words found in more than this share of all records (unless none is rarer)
/// once the archive has over a thousand loops, where PostgreSQL keeps them (see ARCHITECTURE.md).
const SIMILAR_COMMON_SHARE: i64 = 10;
/// Keys of the cache that no phrase can have (phrases are quoted): loops in all, and recent.
const LOOPS_KEY: &str = "loops";
const RECENT_LOOPS_KEY: &str = "recent loops";
/// From this many loops on, document frequencies are estimated from the last
/// [`ESTIMATE_DAYS`] days (and exactly counted below it).
const ESTIMATE_FROM: i64 = 50_000;
const ESTIMATE_DAYS: i64 = 30;
/// A query expected to match at most this many records the searcher may see gets its
/// highlighting with its matches (see [`SqliteStore::few_matches`]).
const FEW_MATCHES: f64 = 100.0;

/// Document frequencies by FTS5 phrase, and the number of searchable records, as counted a
/// little while ago (large counts only).
#[derive(Default)]
pub(super) struct FrequencyCache(Mutex<HashMap<String, (i64, Instant)>>);

impl FrequencyCache {
    fn get(&self, key: &str) -> Option<i64> {
        let cache = self.0.lock().ok()?;
        cache
            .get(key)
            .filter(|(_, at)| at.elapsed() < FREQUENCY_TTL)
            .map(|(n, _)| *n)
    }

    fn put(&self, key: &str, count: i64) {
        if count < FREQUENCY_CACHE_FROM {
            return;
        }
        if let Ok(mut cache) = self.0.lock() {
            if cache.len() >= FREQUENCY_CACHE_MAX {
                cache.clear();
            }
            cache.insert(key.to_owned(), (count, Instant::now()));
        }
    }
}

/// A loop's document id (as the insert trigger computes it, migrations/sqlite/0014).
pub(super) fn loop_document(new: &crate::store::loops::NewLoop) -> i64 {
    new.created_at.unix_timestamp().div_euclid(86_400) * DAY_SHIFT + new.seq.rem_euclid(DAY_SHIFT)
}

fn token(prefix: char, value: &str) -> String {
    format!("\"{prefix}{value}x\"")
}

fn team_token(team: TeamId) -> String {
    token('t', &team.to_string().replace('-', ""))
}

/// The facet tokens of what a member of `teams` may see: their teams' records and the
/// organisation's learnings.
fn access_facets(teams: &[TeamId]) -> String {
    let mut allowed: Vec<String> = teams.iter().map(|t| team_token(*t)).collect();
    allowed.push("\"ovisx\"".to_owned());
    format!("({})", allowed.join(" OR "))
}

/// The MATCH expression: the user's words in title and body, the filters as facet tokens.
fn expression(matching: Matching<'_>, filter: &SearchFilter) -> Option<String> {
    let words = match matching {
        Matching::All(query) => query.to_fts5()?,
        Matching::Any(terms) => any_of_fts5(terms)?,
    };
    let mut parts = vec![format!("({words})")];
    if let Some(teams) = &filter.teams {
        parts.push(format!("facets : {}", access_facets(teams)));
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

/// A match as a window's query returns it: document id, score, and the highlighted title and
/// snippet when they were read with it.
type Match = (i64, f64, Option<(String, String)>);

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
    /// How many records contain each of `phrases` in their title or body (cached, see
    /// [`FrequencyCache`]), in their order. In a large archive this is estimated from the last
    /// [`ESTIMATE_DAYS`] days, scaled by the share of loops captured in them: counting a word
    /// found in most of a million records exactly would cost more than the search it serves.
    async fn document_frequencies(&self, phrases: &[String]) -> StoreResult<Vec<i64>> {
        let keyed: Vec<(String, String)> = phrases
            .iter()
            .map(|phrase| (phrase.clone(), format!("{{title body}} : ({phrase})")))
            .collect();
        self.frequencies(&keyed).await
    }

    /// How many records carry a facet token (see the migration), cached and estimated as
    /// [`Self::document_frequencies`].
    async fn facet_frequency(&self, token: &str) -> StoreResult<i64> {
        let keyed = [(format!("facets {token}"), format!("facets : {token}"))];
        let counts = self.frequencies(&keyed).await?;
        Ok(counts.first().copied().unwrap_or(0))
    }

    /// The counts of `(cache key, MATCH expression)` pairs: the cached ones from the cache, the
    /// rest counted in one statement. A "similar loops" look-up counts a dozen rare words, and
    /// one round trip per word cost as much again as the counting.
    async fn frequencies(&self, keyed: &[(String, String)]) -> StoreResult<Vec<i64>> {
        let mut counts: Vec<Option<i64>> = keyed
            .iter()
            .map(|(key, _)| self.document_frequencies.get(key))
            .collect();
        let missing: Vec<usize> = (0..keyed.len()).filter(|&i| counts[i].is_none()).collect();
        if missing.is_empty() {
            return Ok(counts.into_iter().map(|c| c.unwrap_or(0)).collect());
        }
        let (all, recent) = self.loop_counts().await?;
        let expressions: Vec<&str> = missing.iter().map(|&i| keyed[i].1.as_str()).collect();
        let counted = if all < ESTIMATE_FROM || recent < ESTIMATE_FROM / 20 {
            self.count_matches(&expressions, i64::MIN).await?
        } else {
            let today = time::OffsetDateTime::now_utc()
                .unix_timestamp()
                .div_euclid(86_400);
            self.count_matches(&expressions, (today - ESTIMATE_DAYS) * DAY_SHIFT)
                .await?
                .into_iter()
                // f64: the product of two counts may not fit, and the estimate is rough anyway.
                .map(|in_window| (in_window as f64 * all as f64 / recent as f64).round() as i64)
                .collect()
        };
        for (&i, count) in missing.iter().zip(counted) {
            self.document_frequencies.put(&keyed[i].0, count);
            counts[i] = Some(count);
        }
        Ok(counts.into_iter().map(|c| c.unwrap_or(0)).collect())
    }

    /// Whether `query` is expected to match few records the searcher may see: its rarest
    /// phrase's frequency times the share of records the access facets admit. Such a query's
    /// candidates are highlighted as they are found (about 12 µs each at 1M records): a second
    /// walk over the page's range of documents would cost as much as the search when a rare
    /// phrase's matches spread over years. Not for prefixes: FTS5 merges every posting of a
    /// prefix to highlight it (see [`Self::search_snippets`]).
    async fn few_matches(
        &self,
        query: &crate::domain::search::SearchQuery,
        frequencies: &[i64],
        filter: &SearchFilter,
    ) -> StoreResult<bool> {
        if query.terms.iter().any(|t| t.prefix) {
            return Ok(false);
        }
        let positive = query.terms.iter().filter(|t| !t.excluded).count();
        let Some(rarest) = frequencies.iter().take(positive).min() else {
            return Ok(false);
        };
        let mut estimate = *rarest as f64;
        if let Some(teams) = &filter.teams {
            let (all, _) = self.loop_counts().await?;
            let admitted = self.facet_frequency(&access_facets(teams)).await?;
            estimate *= (admitted as f64 / all.max(1) as f64).min(1.0);
        }
        Ok(estimate <= FEW_MATCHES)
    }

    /// How many documents from `from_document` on match each expression, in their order (one
    /// statement).
    async fn count_matches(
        &self,
        expressions: &[&str],
        from_document: i64,
    ) -> StoreResult<Vec<i64>> {
        let mut query = sqlx::QueryBuilder::<Db>::new("");
        for (position, expression) in expressions.iter().enumerate() {
            if position > 0 {
                query.push(" UNION ALL ");
            }
            query.push("SELECT ");
            query.push_bind(i64::try_from(position).unwrap_or(i64::MAX));
            query.push(", count(*) FROM search_index WHERE search_index MATCH ");
            query.push_bind(expression.to_string());
            query.push(" AND rowid >= ");
            query.push_bind(from_document);
        }
        let mut rows: Vec<(i64, i64)> = query
            .build_query_as()
            .fetch_all(&self.reader)
            .await
            .map_err(StoreError::from_sqlx)?;
        rows.sort_unstable_by_key(|(position, _)| *position);
        Ok(rows.into_iter().map(|(_, count)| count).collect())
    }

    /// Loops in all, and captured in the last [`ESTIMATE_DAYS`] days, from the dashboards'
    /// running totals (counting the index's rows would walk all of them).
    async fn loop_counts(&self) -> StoreResult<(i64, i64)> {
        if let (Some(all), Some(recent)) = (
            self.document_frequencies.get(LOOPS_KEY),
            self.document_frequencies.get(RECENT_LOOPS_KEY),
        ) {
            return Ok((all, recent));
        }
        let today = time::OffsetDateTime::now_utc()
            .unix_timestamp()
            .div_euclid(86_400);
        let (all, recent): (i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(loops), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN day >= $1 THEN loops ELSE 0 END), 0) AS BIGINT) \
             FROM health_loops WHERE team_id = ''",
        )
        .bind(today - ESTIMATE_DAYS)
        .fetch_one(&self.reader)
        .await
        .map_err(StoreError::from_sqlx)?;
        self.document_frequencies.put(LOOPS_KEY, all);
        self.document_frequencies.put(RECENT_LOOPS_KEY, recent);
        Ok((all, recent))
    }

    /// The words of a "similar loops" search worth searching for: the rarest few.
    async fn telling_terms(&self, terms: &[String]) -> StoreResult<Vec<(String, i64)>> {
        let phrases: Vec<String> = terms.iter().map(|term| format!("\"{term}\"")).collect();
        let mut counted: Vec<(String, i64)> = terms
            .iter()
            .cloned()
            .zip(self.document_frequencies(&phrases).await?)
            .filter(|(_, frequency)| *frequency > 0)
            .collect();
        counted.sort_by_key(|(_, frequency)| *frequency);
        let common = (self.loop_counts().await?.0 / SIMILAR_COMMON_SHARE).max(100);
        let telling = counted
            .iter()
            .filter(|(_, frequency)| *frequency <= common)
            .count()
            .clamp(counted.len().min(2), SIMILAR_TERMS_MAX);
        counted.truncate(telling);
        Ok(counted)
    }

    /// Matches with `low <= document < high`, newest first, with their `ff_rank` score, and
    /// with their highlighted title and snippet if `with_texts`. Otherwise only the id and the
    /// score: reading the stored columns of thousands of candidates would cost more than
    /// ranking them (see ARCHITECTURE.md, "Search").
    async fn candidates_in(
        &self,
        expression: &str,
        frequencies: &[i64],
        low: i64,
        high: i64,
        limit: i64,
        with_texts: bool,
    ) -> StoreResult<Vec<Match>> {
        let mut query =
            sqlx::QueryBuilder::<Db>::new("SELECT rowid, ff_rank(search_index, 10.0, 1.0, 0.0");
        for frequency in frequencies {
            query.push(", ");
            query.push_bind(*frequency);
        }
        query.push(")");
        if with_texts {
            push_highlighting(&mut query);
        } else {
            query.push(", NULL, NULL");
        }
        query.push(" FROM search_index WHERE search_index MATCH ");
        query.push_bind(expression.to_owned());
        query.push(" AND rowid >= ");
        query.push_bind(low);
        query.push(" AND rowid < ");
        query.push_bind(high);
        query.push(" ORDER BY rowid DESC LIMIT ");
        query.push_bind(limit);
        let rows: Vec<(i64, f64, Option<String>, Option<String>)> = query
            .build_query_as()
            .fetch_all(&self.reader)
            .await
            .map_err(StoreError::from_sqlx)?;
        Ok(rows
            .into_iter()
            .map(|(doc, score, title, snippet)| (doc, score, title.zip(snippet)))
            .collect())
    }

    /// The highlighted title and snippet of the page's records `docs`.
    async fn highlight_page(
        &self,
        request: &SearchRequest<'_>,
        docs: &[i64],
    ) -> StoreResult<Vec<(i64, (String, String))>> {
        let exact_query;
        let exact = match request.matching {
            Matching::All(query) => {
                exact_query = query.without_prefix();
                Matching::All(&exact_query)
            }
            other => other,
        };
        let mut found = self.snippets_of(exact, &request.filter, docs).await?;
        let missing: Vec<i64> = docs
            .iter()
            .copied()
            .filter(|doc| !found.iter().any(|(d, _)| d == doc))
            .collect();
        if !missing.is_empty() {
            match request.matching {
                // Records found through the prefix: FTS5 would merge the prefix's postings again
                // to highlight them, so the page's texts are marked here instead.
                Matching::All(query) => {
                    found.extend(self.texts_of(&missing).await?.into_iter().map(
                        |(doc, title, body)| {
                            (doc, (query.highlight(&title), query.snippet(&body, 24)))
                        },
                    ))
                }
                other => found.extend(self.snippets_of(other, &request.filter, &missing).await?),
            }
        }
        Ok(found)
    }

    /// The title and body of some records (by document id; no full-text query).
    async fn texts_of(&self, docs: &[i64]) -> StoreResult<Vec<(i64, String, String)>> {
        let mut query = sqlx::QueryBuilder::<Db>::new(
            "SELECT rowid, title, body FROM search_index WHERE rowid IN (",
        );
        let mut separated = query.separated(", ");
        for doc in docs {
            separated.push_bind(*doc);
        }
        query.push(")");
        query
            .build_query_as()
            .fetch_all(&self.reader)
            .await
            .map_err(StoreError::from_sqlx)
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
        let mut query = sqlx::QueryBuilder::<Db>::new("SELECT rowid");
        push_highlighting(&mut query);
        query.push(" FROM search_index WHERE search_index MATCH ");
        query.push_bind(expression);
        // One pass over the page's range of documents, the page picked out by a filter that is
        // not a constraint FTS5 sees (`rowid + 0`): with `rowid IN (…)` FTS5 would evaluate the
        // expression once per document, and a prefix's merge of postings with it.
        let (Some(low), Some(high)) = (docs.iter().min(), docs.iter().max()) else {
            return Ok(Vec::new());
        };
        query.push(" AND rowid >= ");
        query.push_bind(*low);
        query.push(" AND rowid <= ");
        query.push_bind(*high);
        query.push(" AND rowid + 0 IN (");
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

impl FullText for SqliteStore {
    /// The newest `candidates` matches (one more, to tell whether there were more), with their
    /// `ff_rank` score (higher is better).
    async fn search_candidates(
        &self,
        request: &SearchRequest<'_>,
    ) -> StoreResult<(Vec<Candidate>, bool)> {
        let mut with_texts = false;
        let (expression, frequencies) = match request.matching {
            Matching::All(query) => {
                let phrases = query.fts5_phrases();
                let frequencies = self.document_frequencies(&phrases).await?;
                with_texts = request.snippets
                    && self
                        .few_matches(query, &frequencies, &request.filter)
                        .await?;
                (expression(request.matching, &request.filter), frequencies)
            }
            Matching::Any(terms) => {
                let telling = self.telling_terms(terms).await?;
                let words: Vec<String> = telling.iter().map(|(t, _)| t.clone()).collect();
                (
                    expression(Matching::Any(&words), &request.filter),
                    telling.into_iter().map(|(_, f)| f).collect(),
                )
            }
        };
        let Some(expression) = expression else {
            return Ok((Vec::new(), false));
        };
        let day_document =
            |at: time::OffsetDateTime| at.unix_timestamp().div_euclid(86_400) * DAY_SHIFT;
        let mut rows: Vec<Match> = Vec::new();
        let mut stopped_early = false;
        for (from, until) in request.windows() {
            if rows.len() as i64 >= request.enough() || rows.len() as i64 > request.candidates {
                // Older windows were not searched: there may be more.
                stopped_early = true;
                break;
            }
            let wanted = request.candidates + 1 - rows.len() as i64;
            let low = from.map_or(i64::MIN, day_document);
            let high = until.map_or(i64::MAX, day_document);
            rows.extend(
                self.candidates_in(&expression, &frequencies, low, high, wanted, with_texts)
                    .await?,
            );
            // The estimate was wrong: older windows' matches are highlighted for the page only.
            with_texts &= rows.len() as f64 <= FEW_MATCHES;
        }
        let capped = stopped_early || rows.len() as i64 > request.candidates;
        let candidates = rows
            .into_iter()
            .take(usize::try_from(request.candidates).unwrap_or(0))
            .map(|(doc, score, texts)| Candidate {
                key: doc.to_string(),
                at: doc.div_euclid(DAY_SHIFT) * 86_400,
                score,
                meta: None,
                texts,
            })
            .collect();
        Ok((candidates, capped))
    }

    /// What each candidate of the page is, from the index's stored columns (one query).
    async fn search_meta(&self, page: &mut [Candidate]) -> StoreResult<()> {
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
    /// records the exact form does not match are marked from their text instead
    /// ([`crate::domain::search::SearchQuery::highlight`]).
    async fn search_snippets(
        &self,
        request: &SearchRequest<'_>,
        page: &[Candidate],
    ) -> StoreResult<Vec<(String, String)>> {
        let page_docs = documents(page)?;
        let mut found: Vec<(i64, (String, String))> = Vec::new();
        let mut docs = Vec::new();
        for (candidate, doc) in page.iter().zip(&page_docs) {
            match &candidate.texts {
                Some(texts) => found.push((*doc, texts.clone())),
                None => docs.push(*doc),
            }
        }
        if !docs.is_empty() {
            found.extend(self.highlight_page(request, &docs).await?);
        }
        Ok(page_docs
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
}

/// `, <highlighted title>, <snippet of the body>` of the current match.
fn push_highlighting(query: &mut sqlx::QueryBuilder<'_, Db>) {
    query.push(", highlight(search_index, 0, ");
    query.push_bind(MARK_START.to_string());
    query.push(", ");
    query.push_bind(MARK_END.to_string());
    query.push("), snippet(search_index, 1, ");
    query.push_bind(MARK_START.to_string());
    query.push(", ");
    query.push_bind(MARK_END.to_string());
    query.push(", '…', 24)");
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
