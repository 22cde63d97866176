//! The organisation's memory as the store reads it: search requests and hits, the learning
//! library, and the figures behind the loop-health dashboards.

use time::OffsetDateTime;

use crate::domain::loops::{FactorReason, FailureType, Stage};
use crate::domain::search::{DocKind, SearchQuery};
use crate::domain::{LoopId, TeamId};

/// How the words of a search must match.
#[derive(Debug, Clone, Copy)]
pub enum Matching<'a> {
    /// Every positive term (the search box).
    All(&'a SearchQuery),
    /// Any of these words, more of them ranking higher (similar loops).
    Any(&'a [String]),
}

/// Which records a search may return; the service fills `teams` from the searcher's access.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    /// Teams whose records the searcher may see; `None` for every team (an admin).
    pub teams: Option<Vec<TeamId>>,
    pub team: Option<TeamId>,
    pub kind: Option<DocKind>,
    /// Loops in this stage (only loops carry a stage).
    pub stage: Option<Stage>,
    /// Loops with this tag (only loops carry tags).
    pub tag: Option<String>,
    /// Records created from this instant (midnight UTC) …
    pub from: Option<OffsetDateTime>,
    /// … and before this one (midnight UTC after the last day).
    pub until: Option<OffsetDateTime>,
}

/// One search: the newest `candidates` matches are ranked, and one page of them returned.
#[derive(Debug, Clone)]
pub struct SearchRequest<'a> {
    pub matching: Matching<'a>,
    pub filter: SearchFilter,
    pub candidates: i64,
    pub limit: i64,
    pub offset: i64,
    /// Build highlighted snippets for the page (not needed for similar loops).
    pub snippets: bool,
    /// The service clock's present: the newest window ends here, so a test that moves the
    /// clock moves the windows with it, and the store reads no clock of its own.
    pub now: OffsetDateTime,
}

/// Search windows, newest first: the last 30 days, the 180 before them, then everything older.
const WINDOW_DAYS: [i64; 2] = [30, 210];
/// A search widens its window until it has at least this many matches (or its page).
const WINDOW_TARGET: i64 = 100;

/// The date range of one search window: `from` inclusive, `until` exclusive (`None`: open).
pub(crate) type Window = (Option<OffsetDateTime>, Option<OffsetDateTime>);

impl SearchRequest<'_> {
    /// The windows both backends walk, newest first, inside the filter's own dates: a search
    /// stops after the window that fills its first pages ([`Self::enough`]), so matches spread
    /// thinly over a large archive do not make every search walk all of it.
    pub(crate) fn windows(&self) -> Vec<Window> {
        let mut bounds = vec![self.filter.until];
        for days in WINDOW_DAYS {
            let bound = self.now - time::Duration::days(days);
            let inside = self.filter.from.is_none_or(|from| bound > from)
                && self.filter.until.is_none_or(|until| bound < until);
            if inside {
                bounds.push(Some(bound));
            }
        }
        bounds.push(self.filter.from);
        bounds.windows(2).map(|pair| (pair[1], pair[0])).collect()
    }

    /// Matches after which no older window is searched: the first pages, at least
    /// [`WINDOW_TARGET`]; "similar loops" wants the best of many and walks until it has all its
    /// candidates.
    pub(crate) fn enough(&self) -> i64 {
        match self.matching {
            Matching::All(_) => self.offset.saturating_add(self.limit).max(WINDOW_TARGET),
            Matching::Any(_) => self.candidates,
        }
    }
}

/// One record found. `title` and `snippet` carry [`crate::domain::search::MARK_START`] and
/// `MARK_END` around matched words and are otherwise raw text (not yet escaped).
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub kind: DocKind,
    pub ref_id: String,
    pub loop_id: Option<LoopId>,
    pub team_id: TeamId,
    pub team_slug: String,
    pub team_name: String,
    pub at: OffsetDateTime,
    /// Higher is better.
    pub score: f64,
    pub title: String,
    pub snippet: String,
    pub loop_title: Option<String>,
    pub stage: Option<Stage>,
    pub anonymous: bool,
    /// The loop's author; `None` for anonymous loops.
    pub author_name: Option<String>,
}

/// One page of hits; `total` counts the ranked candidates, `capped` says there were more.
#[derive(Debug, Clone, Default)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    pub total: i64,
    pub capped: bool,
}

/// Which learnings of the library to list.
#[derive(Debug, Clone, Default)]
pub struct LibraryFilter {
    /// Learnings of loops with a contributing factor of this reason.
    pub theme: Option<FactorReason>,
    pub tag: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// An organisation-visible learning with the loop it came from.
#[derive(Debug, Clone)]
pub struct LibraryEntry {
    pub statement: String,
    pub created_at: OffsetDateTime,
    pub loop_id: LoopId,
    pub loop_title: String,
    pub team_id: TeamId,
    pub team_slug: String,
    pub team_name: String,
    pub themes: Vec<FactorReason>,
    pub tags: Vec<String>,
}

/// One page of the library, with the themes and tags to browse by (and how many learnings each).
#[derive(Debug, Clone, Default)]
pub struct LibraryPage {
    pub entries: Vec<LibraryEntry>,
    pub total: i64,
    pub themes: Vec<(FactorReason, i64)>,
    pub tags: Vec<(String, i64)>,
}

/// What a health dashboard covers: some teams (or all) and loops created since an instant.
#[derive(Debug, Clone)]
pub struct HealthScope {
    pub teams: Option<Vec<TeamId>>,
    pub since: Option<OffsetDateTime>,
    pub now: OffsetDateTime,
}

/// The raw figures of a dashboard; the service turns durations into medians.
#[derive(Debug, Clone, Default)]
pub struct HealthFigures {
    pub by_stage: Vec<(Stage, i64)>,
    /// `None` for loops not classified yet.
    pub by_type: Vec<(Option<FailureType>, i64)>,
    /// Seconds from happening to noticing (loops that say when it happened), counted per bucket:
    /// `(lower bound, loops)`.
    pub detect_seconds: Vec<(i64, i64)>,
    /// Seconds from logging to first entering Apply, per bucket.
    pub analyse_seconds: Vec<(i64, i64)>,
    /// Seconds from first entering Apply to first entering Continue, per bucket.
    pub apply_seconds: Vec<(i64, i64)>,
    /// Loops in one stage (before Continue) since before the day their team's setting makes
    /// them stuck.
    pub stuck: i64,
    pub open_actions: i64,
    pub overdue_actions: i64,
    /// Loops flagged on capture as a possible recurrence.
    pub flagged_recurrences: i64,
    /// Follow-up checks that found the failure had recurred.
    pub follow_ups_recurred: i64,
    pub experiments_by_status: Vec<(String, i64)>,
    /// Per currency: money (minor units) and effort (tenths of a person-day) of running and
    /// concluded experiments starting in the range.
    pub committed_loss: Vec<(String, i64, i64)>,
}

/// A matching record before its page is chosen (what the backends' full-text queries return).
/// Ranking needs only the score and the time; what the record is (`meta`) may be read for the
/// page shown only (SQLite reads it from the index's content, which is the costly part).
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// The backend's key for the indexed document (FTS5 rowid, or the record id).
    pub key: String,
    /// Unix seconds (SQLite: the day, from the document id), for ordering equal scores.
    pub at: i64,
    pub score: f64,
    pub meta: Option<CandidateMeta>,
    /// The highlighted title and snippet, when the backend found them with the match (SQLite,
    /// for a query with few matches; otherwise they are made for the page only).
    pub texts: Option<(String, String)>,
}

/// What a candidate is.
#[derive(Debug, Clone)]
pub(crate) struct CandidateMeta {
    pub kind: DocKind,
    pub ref_id: String,
    pub loop_id: Option<String>,
    pub team_id: TeamId,
    pub at: i64,
}

impl CandidateMeta {
    pub(crate) fn new(
        kind: &str,
        ref_id: String,
        loop_id: Option<String>,
        team_id: &str,
        at: i64,
    ) -> crate::store::StoreResult<Self> {
        Ok(Self {
            kind: DocKind::parse(kind)
                .map_err(|_| crate::store::StoreError::Corrupt(format!("kind {kind:?}")))?,
            ref_id,
            loop_id,
            team_id: crate::store::rows::parse_id(team_id)?,
            at,
        })
    }
}

/// What ranking a similar loop needs of it, read for a whole pool at once
/// ([`crate::store::MemoryStore::similar_texts`]): its text, the texts that describe the
/// mechanism, and how its actions stand.
#[derive(Debug, Clone)]
pub struct SimilarText {
    pub id: LoopId,
    pub team_id: TeamId,
    pub team_slug: String,
    pub team_name: String,
    pub title: String,
    pub stage: Stage,
    pub created_at: OffsetDateTime,
    pub what_happened: String,
    pub what_was_expected: String,
    pub aar_difference: String,
    pub aar_lessons: String,
    pub went_wrong: String,
    /// Contributing factors: reason and description.
    pub factors: Vec<(FactorReason, String)>,
    pub learnings: Vec<String>,
    pub actions_open: usize,
    pub actions_done: usize,
    pub actions_dropped: usize,
}

pub use crate::domain::recurrence::{RecurrencePair, RecurrenceVerdict};
