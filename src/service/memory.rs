//! The organisation's memory: search over what the searcher may see, similar earlier loops while
//! a loop is being captured (and the "possible recurrence" flag), the library of learnings
//! shared with the organisation, and the loop-health dashboards.
//!
//! Who sees what: a member sees their teams' records and every organisation-visible learning;
//! an admin sees every team's. A learning from a team the viewer is not in shows without its
//! team's name, its loop's title or a link ("from a private team"). Anonymous loops never carry
//! an author, whoever looks.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::domain::health::{median_of_buckets, BucketMedian, HealthRange};
use crate::domain::loops::{self, FactorReason, FailureType, Stage};
use crate::domain::recurrence;
use crate::domain::search::{salient_terms, DocKind, SearchQuery};
use crate::domain::text::count;
use crate::domain::when::parse_date;
use crate::domain::{LoopId, TeamId, TeamSlug};
use crate::store::memory::{
    HealthScope, LibraryFilter, Matching, RecurrencePair, RecurrenceVerdict, SearchFilter,
    SearchRequest, SimilarText,
};

use super::error::{FieldErrors, ServiceError, ServiceResult};
use super::{Actor, Service, TeamAccess};

/// How many of the newest matches are ranked. Ranking every match of a common word would cost
/// time in proportion to the archive; the newest 2000 keep p99 flat (see ARCHITECTURE.md,
/// "Search"), at the price that an old, highly relevant record may rank below newer ones when a
/// query matches more than 2000 records.
pub const SEARCH_CANDIDATES: i64 = 2000;
/// How many similar loops are shown while capturing.
pub const SIMILAR_MAX: i64 = 5;
/// How many of the newest loops sharing a salient word are ranked for similarity.
pub const SIMILAR_CANDIDATES: i64 = 500;
/// How many of the best by the database's word rank make the pool scored here (read in one
/// batch: four queries whatever the pool's size).
pub const SIMILAR_POOL: i64 = 200;
/// How many shared words a similar loop or a flag shows as its reason.
const SHARED_WORDS_SHOWN: usize = 8;
/// How much more a mechanism text (factor, "why the difference", learning, what went wrong)
/// weighs in a loop's vector than its title or story, which carry names and dates.
const MECHANISM_WEIGHT: f32 = 2.0;

/// A candidate for "similar loops", scored against the new text with the rest of its pool.
struct RankedLoop {
    text: SimilarText,
    scored: recurrence::rank::Scored,
}

impl RankedLoop {
    fn all_actions_done(&self) -> bool {
        self.text.actions_done > 0 && self.text.actions_open == 0
    }
}

/// The search form or query string as typed; parsed by [`Service::search`].
#[derive(Debug, Clone, Default)]
pub struct SearchInput {
    pub q: String,
    pub team: Option<String>,
    /// Read as the enum by the front door, which names a word outside the set.
    pub kind: Option<DocKind>,
    pub stage: Option<Stage>,
    pub tag: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

/// A team as a result shows it; `None` where the viewer is not a member.
#[derive(Debug, Clone)]
pub struct TeamRef {
    pub slug: String,
    pub name: String,
}

/// One search result, already cut to what the viewer may see.
#[derive(Debug, Clone)]
pub struct Found {
    pub kind: DocKind,
    pub id: String,
    /// Matched words are between `MARK_START` and `MARK_END`; raw text otherwise.
    pub title: String,
    pub snippet: String,
    pub at: OffsetDateTime,
    pub score: f64,
    pub team: Option<TeamRef>,
    /// The loop it belongs to, when the viewer may open it.
    pub loop_link: Option<(LoopId, String)>,
    pub stage: Option<Stage>,
    /// Only on a hit for a named loop itself; never for anonymous loops or for a loop's other
    /// records (a factor, learning or action may come from an unnamed review card).
    pub author_name: Option<String>,
    pub anonymous: bool,
}

/// One page of results.
#[derive(Debug, Clone, Default)]
pub struct SearchPage {
    pub query: String,
    pub hits: Vec<Found>,
    /// Matches counted (at most [`SEARCH_CANDIDATES`]; `capped` says there were more).
    pub total: i64,
    pub capped: bool,
    pub page: i64,
    pub per_page: i64,
}

/// An earlier loop like the one being written.
#[derive(Debug, Clone)]
pub struct SimilarLoop {
    pub id: LoopId,
    pub team: TeamRef,
    pub title: String,
    pub stage: Stage,
    pub created_at: OffsetDateTime,
    pub learnings: Vec<String>,
    pub actions_total: usize,
    pub actions_done: usize,
    pub actions_open: usize,
    /// Similar enough by the calibrated threshold to be a recurrence.
    pub similar_enough: bool,
    /// The salient words the two texts share (why it is shown).
    pub shared_words: Vec<String>,
}

impl SimilarLoop {
    /// Every action was done, yet something this similar happened again: the learning may not
    /// have held.
    pub fn suggests_recurrence(&self) -> bool {
        self.similar_enough && self.actions_total > 0 && self.actions_done == self.actions_total
    }
}

/// Where a possible recurrence points, as the viewer may see it.
#[derive(Debug, Clone)]
pub enum RecurrenceLink {
    Visible {
        team_slug: String,
        id: LoopId,
        title: String,
        /// Mechanism words the two loops share, the most telling first: why it was flagged.
        why: Vec<String>,
        /// Contributing-factor reasons both loops name.
        shared_factors: Vec<FactorReason>,
        verdict: Option<RecurrenceVerdict>,
    },
    /// The earlier loop is in a team the viewer is not in: no title, no words of it.
    Hidden { verdict: Option<RecurrenceVerdict> },
}

/// An organisation-visible learning as the viewer may see it.
#[derive(Debug, Clone)]
pub struct LibraryItem {
    pub statement: String,
    pub created_at: OffsetDateTime,
    /// `None`: "from a private team" (no name, no title, no link).
    pub source: Option<(TeamRef, LoopId, String)>,
    pub themes: Vec<FactorReason>,
    pub tags: Vec<String>,
}

/// One page of the library.
#[derive(Debug, Clone)]
pub struct LibraryView {
    pub items: Vec<LibraryItem>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub theme: Option<FactorReason>,
    pub tag: Option<String>,
    pub themes: Vec<(FactorReason, i64)>,
    pub tags: Vec<(String, i64)>,
}

/// A median duration with its sample size. The dashboards count durations in buckets, so the
/// median is an interval (see [`BucketMedian`]); pages and the API show its middle and how far
/// the exact median may be from it.
#[derive(Debug, Clone, Copy)]
pub struct MedianFigure {
    pub median: Option<BucketMedian>,
    pub loops: usize,
}

impl MedianFigure {
    fn of(buckets: &[(i64, i64)]) -> Self {
        let loops = buckets.iter().map(|(_, n)| (*n).max(0)).sum::<i64>();
        MedianFigure {
            median: median_of_buckets(buckets),
            loops: usize::try_from(loops).unwrap_or(0),
        }
    }

    /// "about 2 d 1 h (to within 30 min) over 2 loops", "no loop yet".
    pub fn describe(&self) -> String {
        match &self.median {
            None => "no loop yet".to_owned(),
            Some(median) => format!(
                "{} over {}",
                median.describe(),
                count(self.loops, "loop", "loops")
            ),
        }
    }
}

/// A loop-health dashboard.
#[derive(Debug, Clone)]
pub struct HealthReport {
    pub range: HealthRange,
    /// The teams covered; `None` for every team (an admin's organisation view).
    pub teams: Option<usize>,
    pub by_stage: Vec<(Stage, i64)>,
    pub total_loops: i64,
    pub by_type: Vec<(Option<FailureType>, i64)>,
    pub time_to_detect: MedianFigure,
    pub time_to_analyse: MedianFigure,
    pub time_to_apply: MedianFigure,
    pub stuck: i64,
    pub open_actions: i64,
    pub overdue_actions: i64,
    pub flagged_recurrences: i64,
    pub follow_ups_recurred: i64,
    pub experiments_by_status: Vec<(String, i64)>,
    pub committed_loss: Vec<(String, i64, i64)>,
}

fn optional(raw: &Option<String>) -> Option<String> {
    raw.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn number(errors: &mut FieldErrors, field: &str, raw: &Option<String>, default: i64) -> i64 {
    match optional(raw) {
        None => default,
        Some(text) => match text.parse::<i64>() {
            Ok(n) => n,
            Err(_) => {
                errors.push(field, "must be a whole number");
                default
            }
        },
    }
}

impl Service {
    /// The teams an actor may see; `None` for an admin (every team).
    async fn visible_teams(
        &self,
        actor_id: crate::domain::UserId,
        admin: bool,
    ) -> ServiceResult<Option<Vec<TeamId>>> {
        if admin {
            return Ok(None);
        }
        Ok(Some(
            self.store
                .teams_of(actor_id)
                .await?
                .into_iter()
                .map(|(team, _)| team.id)
                .collect(),
        ))
    }

    /// Full-text search over everything the actor may see. Malformed queries are read
    /// leniently (never an error); malformed filters are field errors.
    pub async fn search(&self, actor: &Actor, input: &SearchInput) -> ServiceResult<SearchPage> {
        let mut errors = FieldErrors::default();
        let (kind, stage) = (input.kind, input.stage);
        let tag = optional(&input.tag).and_then(|s| errors.take("tag", loops::tag(&s)));
        let from = optional(&input.from).and_then(|s| errors.take("from", parse_date(&s)));
        let to = optional(&input.to).and_then(|s| errors.take("to", parse_date(&s)));
        if let (Some(from), Some(to)) = (from, to) {
            if to < from {
                errors.push("to", "must not be before from");
            }
        }
        let page = number(&mut errors, "page", &input.page, 1);
        if page < 1 {
            errors.push("page", "must be 1 or more");
        }
        let per_page = number(&mut errors, "per_page", &input.per_page, 20);
        if !(1..=100).contains(&per_page) {
            errors.push("per_page", "must be from 1 to 100");
        }
        let teams = self.visible_teams(actor.id(), actor.is_admin()).await?;
        let team = match optional(&input.team) {
            None => None,
            Some(slug) => {
                let found = match TeamSlug::parse(&slug) {
                    Ok(slug) => self.store.team_by_slug(&slug).await?,
                    Err(_) => None,
                };
                match found {
                    Some(team) if teams.as_ref().is_none_or(|list| list.contains(&team.id)) => {
                        Some(team.id)
                    }
                    // Unknown and not visible read the same.
                    _ => {
                        errors.push("team", "no team with this slug that you belong to");
                        None
                    }
                }
            }
        };
        errors.check()?;
        let query = SearchQuery::parse(&input.q);
        let mut result = SearchPage {
            query: input.q.clone(),
            page,
            per_page,
            ..SearchPage::default()
        };
        if query.is_empty() {
            return Ok(result);
        }
        // Whole words first: a prefix over a common word makes the full-text engines merge every
        // posting of every word it starts, which costs in proportion to the archive. The last
        // word is read as a prefix only when the query finds nothing with it as a whole word
        // (someone still typing it). See ARCHITECTURE.md, "Search".
        let whole_words = query.without_prefix();
        let mut request = SearchRequest {
            matching: Matching::All(&whole_words),
            filter: SearchFilter {
                teams: teams.clone(),
                team,
                kind,
                stage,
                tag,
                from,
                until: to.map(|d| d + Duration::days(1)),
            },
            candidates: SEARCH_CANDIDATES,
            now: self.now(),
            limit: per_page,
            offset: (page - 1).saturating_mul(per_page),
            snippets: true,
        };
        let reader = self.for_heavy_reads().await;
        let mut found = reader.store.search(&request).await?;
        if found.total == 0 && whole_words != query {
            request.matching = Matching::All(&query);
            found = reader.store.search(&request).await?;
        }
        result.total = found.total;
        result.capped = found.capped;
        let mine: Option<HashSet<TeamId>> = teams.map(|list| list.into_iter().collect());
        result.hits = found
            .hits
            .into_iter()
            .map(|hit| {
                let visible = mine.as_ref().is_none_or(|set| set.contains(&hit.team_id));
                Found {
                    kind: hit.kind,
                    id: hit.ref_id,
                    title: hit.title,
                    snippet: hit.snippet,
                    at: hit.at,
                    score: hit.score,
                    team: visible.then_some(TeamRef {
                        slug: hit.team_slug,
                        name: hit.team_name,
                    }),
                    loop_link: match (visible, hit.loop_id, hit.loop_title) {
                        (true, Some(id), Some(title)) => Some((id, title)),
                        _ => None,
                    },
                    stage: hit.stage.filter(|_| visible),
                    // A person is named only beside what they wrote under their name: the
                    // loop itself. Its factors, learnings and actions may come from unnamed
                    // review cards or other people, so they name nobody.
                    author_name: if visible && !hit.anonymous && hit.kind == DocKind::Loop {
                        hit.author_name
                    } else {
                        None
                    },
                    anonymous: hit.anonymous,
                }
            })
            .collect();
        Ok(result)
    }

    /// Earlier loops like the one being written (title and description), among the loops the
    /// person may see, best first, with their learnings and how their actions stand.
    pub async fn similar_loops(
        &self,
        access: &TeamAccess,
        title: &str,
        description: &str,
    ) -> ServiceResult<Vec<SimilarLoop>> {
        let admin = access.can_see_every_team();
        let teams = self.visible_teams(access.actor(), admin).await?;
        self.similar_among(teams, title, description).await
    }

    /// Earlier loops ranked for a text, best first: the database finds the pool (the best
    /// [`SIMILAR_POOL`] by its own word rank among the newest [`SIMILAR_CANDIDATES`] loops
    /// sharing a salient word), then every loop of the pool is read in one batch and scored
    /// here, the same way on both databases ([`recurrence::rank::rank`]: BM25 over the pool
    /// and the meaning of the whole text, what describes the mechanism — contributing factors,
    /// "why the difference", lessons, learnings — weighing more than the rest).
    async fn ranked_similar(
        &self,
        teams: Option<Vec<TeamId>>,
        title: &str,
        description: &str,
        itself: Option<LoopId>,
        someone_waits: bool,
    ) -> ServiceResult<Vec<RankedLoop>> {
        let terms = salient_terms(title, description);
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let request = SearchRequest {
            matching: Matching::Any(&terms),
            filter: SearchFilter {
                teams,
                kind: Some(DocKind::Loop),
                ..SearchFilter::default()
            },
            candidates: SIMILAR_CANDIDATES,
            limit: SIMILAR_POOL,
            offset: 0,
            snippets: false,
            now: self.now(),
        };
        let mut ids: Vec<LoopId> = self
            .store
            .similar_pool(&request)
            .await?
            .into_iter()
            .filter(|id| Some(*id) != itself)
            .collect();
        // The same pool in the same order whatever order the database returned it in.
        ids.sort_unstable_by_key(|id| id.to_string());
        ids.dedup();
        let texts = self.store.similar_texts(&ids).await?;
        let (title, description) = (title.to_owned(), description.to_owned());
        let digests = self.digests.clone();
        // Ranking a pool of whole texts is processor work: it runs beside the threads that
        // serve requests, so that a check after a capture never holds up another request.
        let (texts, scored) = tokio::task::spawn_blocking(move || {
            let pool = digests.digest_all(&texts, someone_waits);
            let query: recurrence::rank::Parts<'_> =
                vec![(title.as_str(), 1.0), (description.as_str(), 1.0)];
            let scored = recurrence::rank::rank_digested(
                recurrence::embedder(),
                recurrence::CALIBRATION.mix,
                &query,
                &pool.iter().map(Arc::as_ref).collect::<Vec<_>>(),
            );
            (texts, scored)
        })
        .await
        .map_err(ServiceError::internal)?;
        let mut ranked: Vec<RankedLoop> = texts
            .into_iter()
            .zip(scored)
            .map(|(text, scored)| RankedLoop { text, scored })
            .collect();
        ranked.sort_by(|a, b| {
            b.scored
                .score
                .total_cmp(&a.scored.score)
                .then(b.text.created_at.cmp(&a.text.created_at))
                .then(a.text.id.to_string().cmp(&b.text.id.to_string()))
        });
        Ok(ranked)
    }

    pub(crate) async fn similar_among(
        &self,
        teams: Option<Vec<TeamId>>,
        title: &str,
        description: &str,
    ) -> ServiceResult<Vec<SimilarLoop>> {
        let mut ranked = self
            .ranked_similar(teams, title, description, None, true)
            .await?;
        ranked.truncate(usize::try_from(SIMILAR_MAX).unwrap_or(5));
        Ok(ranked
            .into_iter()
            .map(|loop_| {
                let similar_enough = recurrence::CALIBRATION.flags(&loop_.scored);
                let text = loop_.text;
                SimilarLoop {
                    id: text.id,
                    team: TeamRef {
                        slug: text.team_slug,
                        name: text.team_name,
                    },
                    title: text.title,
                    stage: text.stage,
                    created_at: text.created_at,
                    learnings: text.learnings,
                    actions_total: text.actions_open + text.actions_done,
                    actions_done: text.actions_done,
                    actions_open: text.actions_open,
                    similar_enough,
                    shared_words: loop_
                        .scored
                        .shared
                        .into_iter()
                        .take(SHARED_WORDS_SHOWN)
                        .collect(),
                }
            })
            .collect())
    }

    /// The teams whose loops a named capture is compared with: those its author may see. (An
    /// anonymous loop is compared at its release with its own team's loops only — what every
    /// teammate may see: a flag against another team's loop would tell the team that the writer
    /// is also in that team.)
    pub(crate) async fn recurrence_scope(
        &self,
        access: &TeamAccess,
    ) -> ServiceResult<Option<Vec<TeamId>>> {
        self.visible_teams(access.actor(), access.can_see_every_team())
            .await
    }

    /// The earlier loop a new one may repeat: the best ranked loop of the pool other than
    /// `itself` whose actions were all done, that the calibration ([`recurrence::CALIBRATION`])
    /// finds close enough and standing out enough from the rest of the pool, and that the team
    /// has not dismissed as a recurrence of `itself`.
    pub(crate) async fn possible_recurrence(
        &self,
        teams: Option<Vec<TeamId>>,
        title: &str,
        description: &str,
        itself: Option<LoopId>,
    ) -> ServiceResult<Option<LoopId>> {
        let dismissed = match itself {
            Some(id) => self.store.dismissed_earlier(id).await?,
            None => Vec::new(),
        };
        Ok(self
            .ranked_similar(teams, title, description, itself, false)
            .await?
            .into_iter()
            .find(|r| {
                r.all_actions_done()
                    && !dismissed.contains(&r.text.id)
                    && recurrence::CALIBRATION.flags(&r.scored)
            })
            .map(|r| r.text.id))
    }

    /// Runs one deferred check and flags the loop when it may repeat an earlier one.
    async fn check_recurrence(&self, check: RecurrenceCheck) -> ServiceResult<()> {
        let found = self
            .possible_recurrence(
                check.teams,
                &check.title,
                &check.description,
                Some(check.loop_id),
            )
            .await?;
        if let Some(earlier) = found {
            self.store.set_recurrence_of(check.loop_id, earlier).await?;
        }
        Ok(())
    }

    /// Hands a captured loop to the deferred check, or checks it now when there is no worker.
    /// When the worker's queue is full the check is skipped: checking inline there made every
    /// capture wait for a check once a burst (an alert storm, a bench) had queued
    /// [`CHECKS_QUEUED_MAX`] of them, and capture fell from thousands of loops a second to a
    /// hundred; the flag is advice, and losing it for a burst's loops costs less.
    pub(crate) async fn after_capture(&self, check: RecurrenceCheck) -> ServiceResult<()> {
        match &self.after_capture {
            Some(after) => {
                after.offer(check);
                Ok(())
            }
            None => self.check_recurrence(check).await,
        }
    }

    /// Whether captures are checked after the fact (the server) or inline (commands, tests of
    /// the library).
    pub(crate) fn checks_after_capture(&self) -> bool {
        self.after_capture.is_some()
    }

    /// Possible-recurrence checks waiting in this process's queue (not counting one under way):
    /// how far the checks are behind the captures. The benches wait for it to reach zero, so
    /// that one measurement's checks do not run through the next.
    pub fn recurrence_checks_waiting(&self) -> usize {
        self.after_capture.as_ref().map_or(0, |after| {
            after.sender.max_capacity() - after.sender.capacity()
        })
    }

    /// How a loop's "possible recurrence" link shows to this viewer, with why it was flagged
    /// (the mechanism words and contributing-factor reasons the two loops share; only when the
    /// viewer may open the earlier loop) and the team's verdict on it.
    pub async fn recurrence_link(
        &self,
        access: &TeamAccess,
        id: LoopId,
        earlier: LoopId,
    ) -> ServiceResult<Option<RecurrenceLink>> {
        let Some(team_id) = self.store.team_of_loop(earlier).await? else {
            return Ok(None);
        };
        let visible = access.can_see_every_team()
            || team_id == access.team().id
            || self
                .store
                .membership(team_id, access.actor())
                .await?
                .is_some();
        let verdict = self
            .store
            .recurrence_verdict(id, earlier)
            .await?
            .map(|pair| pair.verdict);
        if !visible {
            return Ok(Some(RecurrenceLink::Hidden { verdict }));
        }
        let texts = self.store.similar_texts(&[id, earlier]).await?;
        let (Some(this), Some(that)) = (
            texts.iter().find(|t| t.id == id),
            texts.iter().find(|t| t.id == earlier),
        ) else {
            return Ok(None);
        };
        let why = recurrence::rank::shared_words(
            recurrence::embedder(),
            &loop_parts(this),
            &loop_parts(that),
        )
        .into_iter()
        .take(SHARED_WORDS_SHOWN)
        .collect();
        let mut shared_factors: Vec<FactorReason> = this
            .factors
            .iter()
            .map(|(reason, _)| *reason)
            .filter(|reason| that.factors.iter().any(|(r, _)| r == reason))
            .collect();
        shared_factors.sort_by_key(|r| r.as_str());
        shared_factors.dedup();
        Ok(Some(RecurrenceLink::Visible {
            team_slug: that.team_slug.clone(),
            id: earlier,
            title: that.title.clone(),
            why,
            shared_factors,
            verdict,
        }))
    }

    /// The team's labelled pairs (confirmed and dismissed flags), oldest first: what a
    /// calibration can learn from.
    pub async fn recurrence_pairs(
        &self,
        access: &TeamAccess,
    ) -> ServiceResult<Vec<RecurrencePair>> {
        Ok(self
            .store
            .recurrence_pairs(Some(&[access.team().id]))
            .await?)
    }

    /// A team member confirms or dismisses the possible-recurrence flag of loop `id`: stored as
    /// a labelled pair (loop, earlier loop, verdict, team — no person, and only the day). A
    /// dismissed pair is not flagged again: dismissing looks once more among the team's own
    /// loops, leaving out every pair dismissed for this loop.
    pub async fn judge_recurrence(
        &self,
        access: &TeamAccess,
        id: &str,
        verdict: &str,
    ) -> ServiceResult<RecurrencePair> {
        let verdict = RecurrenceVerdict::parse(verdict.trim()).ok_or_else(|| {
            ServiceError::field("verdict", "must be \"confirmed\" or \"dismissed\"")
        })?;
        let id: LoopId = id.parse().map_err(|_| ServiceError::NotFound)?;
        let record = self
            .store
            .loop_by_id(access.team().id, id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        let Some(earlier) = record.recurrence_of else {
            // The request is well formed; the loop's state does not allow it (409, not 422).
            return Err(ServiceError::conflict(
                "verdict",
                "this loop is not flagged as a possible recurrence",
            ));
        };
        let pair = RecurrencePair {
            loop_id: id,
            earlier_id: earlier,
            team_id: access.team().id,
            verdict,
            on: crate::domain::when::day_of(self.now()),
        };
        self.store.record_recurrence_verdict(&pair).await?;
        if verdict == RecurrenceVerdict::Dismissed {
            // Look again, among what the whole team may see, leaving out every dismissed pair:
            // another earlier loop may be the one this repeats.
            if let Some(next) = self
                .possible_recurrence(
                    Some(vec![access.team().id]),
                    &record.title,
                    &record.what_happened,
                    Some(id),
                )
                .await?
            {
                self.store.set_recurrence_of(id, next).await?;
            }
        }
        Ok(pair)
    }

    /// The learning library: learnings shared with the organisation, newest first.
    pub async fn library(
        &self,
        actor: &Actor,
        theme: Option<&str>,
        tag: Option<&str>,
        page: Option<&str>,
    ) -> ServiceResult<LibraryView> {
        let mut errors = FieldErrors::default();
        let theme = theme
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(|s| errors.take("theme", FactorReason::parse(s)));
        let tag = tag
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(|s| errors.take("tag", loops::tag(s)));
        let page = number(&mut errors, "page", &page.map(str::to_owned), 1);
        if page < 1 {
            errors.push("page", "must be 1 or more");
        }
        errors.check()?;
        let per_page = 30;
        let library = self
            .for_heavy_reads()
            .await
            .store
            .library(&LibraryFilter {
                theme,
                tag: tag.clone(),
                limit: per_page,
                offset: (page - 1).saturating_mul(per_page),
            })
            .await?;
        let mine: Option<HashSet<TeamId>> = self
            .visible_teams(actor.id(), actor.is_admin())
            .await?
            .map(|list| list.into_iter().collect());
        let items = library
            .entries
            .into_iter()
            .map(|entry| {
                let visible = mine.as_ref().is_none_or(|set| set.contains(&entry.team_id));
                LibraryItem {
                    statement: entry.statement,
                    created_at: entry.created_at,
                    source: visible.then_some((
                        TeamRef {
                            slug: entry.team_slug,
                            name: entry.team_name,
                        },
                        entry.loop_id,
                        entry.loop_title,
                    )),
                    themes: entry.themes,
                    tags: entry.tags,
                }
            })
            .collect();
        Ok(LibraryView {
            items,
            total: library.total,
            page,
            per_page,
            theme,
            tag,
            themes: library.themes,
            tags: library.tags,
        })
    }

    /// One team's loop health over `range` (`30`, `90`, `365` or `all`).
    pub async fn team_health(
        &self,
        access: &TeamAccess,
        range: Option<&str>,
    ) -> ServiceResult<HealthReport> {
        let range = parse_range(range)?;
        self.health_of(Some(vec![access.team().id]), range).await
    }

    /// The organisation's loop health: every team for an admin, the person's own teams for
    /// everyone else (nobody sees figures of a team they are not in).
    pub async fn organisation_health(
        &self,
        actor: &Actor,
        range: Option<&str>,
    ) -> ServiceResult<HealthReport> {
        let range = parse_range(range)?;
        let teams = self.visible_teams(actor.id(), actor.is_admin()).await?;
        self.health_of(teams, range).await
    }

    async fn health_of(
        &self,
        teams: Option<Vec<TeamId>>,
        range: HealthRange,
    ) -> ServiceResult<HealthReport> {
        let now = self.now();
        let covered = teams.as_ref().map(Vec::len);
        let figures = self
            .for_heavy_reads()
            .await
            .store
            .health(&HealthScope {
                teams,
                since: range.days().map(|d| now - Duration::days(d)),
                now,
            })
            .await?;
        let by_stage: Vec<(Stage, i64)> = Stage::ALL
            .iter()
            .map(|stage| {
                let count = figures
                    .by_stage
                    .iter()
                    .find(|(s, _)| s == stage)
                    .map_or(0, |(_, n)| *n);
                (*stage, count)
            })
            .collect();
        let mut by_type: Vec<(Option<FailureType>, i64)> = FailureType::ALL
            .iter()
            .map(|kind| {
                let count = figures
                    .by_type
                    .iter()
                    .find(|(k, _)| *k == Some(*kind))
                    .map_or(0, |(_, n)| *n);
                (Some(*kind), count)
            })
            .collect();
        by_type.push((
            None,
            figures
                .by_type
                .iter()
                .find(|(k, _)| k.is_none())
                .map_or(0, |(_, n)| *n),
        ));
        Ok(HealthReport {
            range,
            teams: covered,
            total_loops: by_stage.iter().map(|(_, n)| n).sum(),
            by_stage,
            by_type,
            time_to_detect: MedianFigure::of(&figures.detect_seconds),
            time_to_analyse: MedianFigure::of(&figures.analyse_seconds),
            time_to_apply: MedianFigure::of(&figures.apply_seconds),
            stuck: figures.stuck,
            open_actions: figures.open_actions,
            overdue_actions: figures.overdue_actions,
            flagged_recurrences: figures.flagged_recurrences,
            follow_ups_recurred: figures.follow_ups_recurred,
            experiments_by_status: figures.experiments_by_status,
            committed_loss: figures.committed_loss,
        })
    }
}

/// A captured loop waiting for its possible-recurrence check. It lives only in memory: the
/// teams compared with are those the person capturing may see, and storing them beside an
/// anonymous loop would say much about who wrote it.
pub(crate) struct RecurrenceCheck {
    pub loop_id: LoopId,
    pub teams: Option<Vec<TeamId>>,
    pub title: String,
    pub description: String,
    queued: std::time::Instant,
}

impl RecurrenceCheck {
    pub(crate) fn new(
        loop_id: LoopId,
        teams: Option<Vec<TeamId>>,
        title: String,
        description: String,
    ) -> Self {
        Self {
            loop_id,
            teams,
            title,
            description,
            queued: std::time::Instant::now(),
        }
    }
}

/// Checks queued at most; beyond, a capture goes unchecked (see [`Service::after_capture`]).
const CHECKS_QUEUED_MAX: usize = 10_000;
/// A full queue is logged at its first skipped check and then once per this many.
const SKIPPED_LOGGED_EVERY: u64 = 1_000;
/// The worker waits for this long a pause in captures before checking…
const CHECK_WHEN_QUIET_FOR: std::time::Duration = std::time::Duration::from_millis(100);
/// … but never lets a check wait longer than this.
const CHECK_AT_THE_LATEST: std::time::Duration = std::time::Duration::from_secs(2);

/// The capture side of the deferred check: a queue, and when the last capture happened.
#[derive(Clone)]
pub(crate) struct AfterCapture {
    sender: tokio::sync::mpsc::Sender<RecurrenceCheck>,
    last_capture: std::sync::Arc<std::sync::Mutex<std::time::Instant>>,
    /// Checks skipped because the queue was full, since the server started.
    skipped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl AfterCapture {
    pub(crate) fn new() -> (Self, RecurrenceChecks) {
        Self::with_capacity(CHECKS_QUEUED_MAX)
    }

    fn with_capacity(capacity: usize) -> (Self, RecurrenceChecks) {
        let (sender, receiver) = tokio::sync::mpsc::channel(capacity);
        let last_capture = std::sync::Arc::new(std::sync::Mutex::new(std::time::Instant::now()));
        (
            Self {
                sender,
                last_capture: last_capture.clone(),
                skipped: std::sync::Arc::default(),
            },
            RecurrenceChecks {
                receiver,
                last_capture,
            },
        )
    }

    /// Queues a check; false when the queue was full and the check is skipped.
    fn offer(&self, check: RecurrenceCheck) -> bool {
        if let Ok(mut last) = self.last_capture.lock() {
            *last = std::time::Instant::now();
        }
        if self.sender.try_send(check).is_ok() {
            return true;
        }
        let skipped = self
            .skipped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        if skipped % SKIPPED_LOGGED_EVERY == 1 {
            // No loop id: the log must not tie anything to an anonymous loop.
            tracing::warn!(
                skipped,
                queued = CHECKS_QUEUED_MAX,
                "the possible-recurrence queue is full: captures go unchecked until it drains"
            );
        }
        false
    }
}

/// The worker that flags possible recurrences after capture. Capturing stays as fast as writing
/// the loop; the check (a ranked full-text query and a look at the similar loops' actions) runs
/// when captures pause, at most [`CHECK_AT_THE_LATEST`] after the capture. A check queued when
/// the server stops is not made (the flag is advice, and the queue is never written down).
pub struct RecurrenceChecks {
    receiver: tokio::sync::mpsc::Receiver<RecurrenceCheck>,
    last_capture: std::sync::Arc<std::sync::Mutex<std::time::Instant>>,
}

impl RecurrenceChecks {
    /// Checks queued captures until the service is dropped.
    pub async fn run(mut self, service: Service) {
        while let Some(check) = self.receiver.recv().await {
            loop {
                let quiet = self
                    .last_capture
                    .lock()
                    .map(|last| last.elapsed())
                    .unwrap_or(CHECK_WHEN_QUIET_FOR);
                if quiet >= CHECK_WHEN_QUIET_FOR || check.queued.elapsed() >= CHECK_AT_THE_LATEST {
                    break;
                }
                tokio::time::sleep(CHECK_WHEN_QUIET_FOR - quiet).await;
            }
            if let Err(error) = service.check_recurrence(check).await {
                // No loop id: the log must not tie anything to an anonymous loop.
                tracing::warn!(%error, "a possible-recurrence check failed");
            }
        }
    }
}

// The digests below are made without weighing words by their rarity in the pool, which needs
// every text of the pool at once.
const _: () = assert!(!recurrence::CALIBRATION.mix.pool_rarity);

/// The most bytes of loops' digests kept between rankings.
const DIGESTS_KEPT_BYTES: usize = 32 << 20;

/// Loops' digests for ranking ([`recurrence::rank::Digest`]), kept between rankings: the pool of
/// the next keystroke or the next capture's check is mostly the same loops, and reading a loop
/// word by word was most of a ranking's cost. Keyed by the loop and a fingerprint of its text,
/// so that an edited loop is digested again; emptied when full. In memory only: nothing in it
/// says who wrote a loop or when.
#[derive(Default)]
pub(crate) struct Digests {
    kept: std::sync::Mutex<KeptDigests>,
}

#[derive(Default)]
struct KeptDigests {
    by_loop: HashMap<LoopId, (u64, Arc<recurrence::rank::Digest>)>,
    bytes: usize,
}

/// Loops not yet digested, from this many on, are digested on several threads: a pool of
/// new loops took a third of a "similar loops" look-up at a million loops.
const DIGEST_IN_PARALLEL_FROM: usize = 32;

impl Digests {
    /// The digests of `texts`, in their order: kept ones from memory, the others worked out and
    /// kept — on every core when there are many and `someone_waits` for the answer; a check
    /// after a capture takes one core, so that it never slows the captures down.
    fn digest_all(
        &self,
        texts: &[SimilarText],
        someone_waits: bool,
    ) -> Vec<Arc<recurrence::rank::Digest>> {
        let fingerprints: Vec<u64> = texts.iter().map(fingerprint).collect();
        let mut found: Vec<Option<Arc<recurrence::rank::Digest>>> = match self.kept.lock() {
            Ok(kept) => texts
                .iter()
                .zip(&fingerprints)
                .map(|(text, fingerprint)| {
                    kept.by_loop
                        .get(&text.id)
                        .filter(|(kept_fingerprint, _)| kept_fingerprint == fingerprint)
                        .map(|(_, digest)| digest.clone())
                })
                .collect(),
            Err(_) => vec![None; texts.len()],
        };
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| found[i].is_none()).collect();
        let work = |chunk: &[usize]| -> Vec<(usize, Arc<recurrence::rank::Digest>)> {
            chunk
                .iter()
                .map(|&i| {
                    let digest = recurrence::rank::Digest::of(
                        recurrence::embedder(),
                        &loop_parts(&texts[i]),
                    );
                    (i, Arc::new(digest))
                })
                .collect()
        };
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let made: Vec<(usize, Arc<recurrence::rank::Digest>)> =
            if someone_waits && missing.len() >= DIGEST_IN_PARALLEL_FROM && threads > 1 {
                let per_thread = missing.len().div_ceil(threads);
                std::thread::scope(|scope| {
                    let handles: Vec<_> = missing
                        .chunks(per_thread)
                        .map(|chunk| scope.spawn(move || work(chunk)))
                        .collect();
                    handles
                        .into_iter()
                        .flat_map(|handle| handle.join().unwrap_or_default())
                        .collect()
                })
            } else {
                work(&missing)
            };
        if let Ok(mut kept) = self.kept.lock() {
            for (i, digest) in &made {
                let bytes = digest.bytes();
                if kept.bytes + bytes > DIGESTS_KEPT_BYTES {
                    kept.by_loop.clear();
                    kept.bytes = 0;
                }
                let entry = (fingerprints[*i], digest.clone());
                if let Some((_, replaced)) = kept.by_loop.insert(texts[*i].id, entry) {
                    kept.bytes = kept.bytes.saturating_sub(replaced.bytes());
                }
                kept.bytes += bytes;
            }
        }
        for (i, digest) in made {
            found[i] = Some(digest);
        }
        texts
            .iter()
            .zip(found)
            .map(|(text, digest)| {
                digest.unwrap_or_else(|| {
                    Arc::new(recurrence::rank::Digest::of(
                        recurrence::embedder(),
                        &loop_parts(text),
                    ))
                })
            })
            .collect()
    }
}

/// What tells an edited loop's text from the one digested before.
fn fingerprint(text: &SimilarText) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for (part, weight) in &loop_parts(text) {
        part.hash(&mut hasher);
        weight.to_bits().hash(&mut hasher);
    }
    hasher.finish()
}

fn parse_range(raw: Option<&str>) -> ServiceResult<HealthRange> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(HealthRange::default()),
        Some(raw) => HealthRange::parse(raw).map_err(|e| ServiceError::field("range", e.0)),
    }
}

/// A loop's text as similarity weighs it: title and story once (they carry names and dates),
/// what was expected half, what describes the mechanism [`MECHANISM_WEIGHT`] times.
fn loop_parts(text: &SimilarText) -> recurrence::rank::Parts<'_> {
    let mut parts = vec![
        (text.title.as_str(), 1.0),
        (text.what_happened.as_str(), 1.0),
        (text.what_was_expected.as_str(), 0.5),
        (text.aar_difference.as_str(), MECHANISM_WEIGHT),
        (text.aar_lessons.as_str(), MECHANISM_WEIGHT),
        (text.went_wrong.as_str(), MECHANISM_WEIGHT),
    ];
    parts.extend(
        text.factors
            .iter()
            .map(|(_, d)| (d.as_str(), MECHANISM_WEIGHT)),
    );
    parts.extend(
        text.learnings
            .iter()
            .map(|l| (l.as_str(), MECHANISM_WEIGHT)),
    );
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_skips_the_check_instead_of_making_the_capture_wait() {
        let (after, _checks) = AfterCapture::with_capacity(2);
        let check = || RecurrenceCheck::new(LoopId::random(), None, "t".into(), "d".into());
        assert!(after.offer(check()));
        assert!(after.offer(check()));
        assert!(!after.offer(check()));
        assert!(!after.offer(check()));
        assert_eq!(after.skipped.load(std::sync::atomic::Ordering::Relaxed), 2);
    }
}
