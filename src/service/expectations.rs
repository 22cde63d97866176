//! A team's expectations (issue 24): leads write, edit, revisit and retire them; every member
//! reads them, acknowledges them once a quarter (named) and comments (named or unnamed). The
//! measurable ones show the team's figure for the current quarter, from its own records. An
//! unnamed comment is held until the day's release and written with no author and only its day
//! (see `service::held`), as anonymous loops are.

use time::OffsetDateTime;

use crate::domain::expectations::{
    self, needs_revisit, progress, ExpectationComment, ExpectationRecord, Measure, Progress,
};
use crate::domain::experiments::Quarter;
use crate::domain::when::day_of;
use crate::domain::RecordId;
use crate::store::expectations::{NewExpectation, NewExpectationComment};

use super::error::{FieldErrors, ServiceError, ServiceResult};
use super::{Service, TeamAccess};

/// One expectation as a member sees it.
#[derive(Debug, Clone)]
pub struct ExpectationView {
    pub record: ExpectationRecord,
    /// The figure for the current quarter, for a measurable expectation.
    pub progress: Option<Progress>,
    /// Members who acknowledged it this quarter.
    pub acknowledgements: usize,
    pub acknowledged_by_me: bool,
    /// Whether the quarter it was last revisited in is over (leads are reminded).
    pub needs_revisit: bool,
    pub comments: Vec<ExpectationComment>,
}

/// The team's expectations page.
#[derive(Debug, Clone)]
pub struct ExpectationsView {
    pub quarter: Quarter,
    pub can_manage: bool,
    pub items: Vec<ExpectationView>,
}

impl ExpectationsView {
    /// Whether leads should see the quarterly reminder.
    pub fn revisit_due(&self) -> bool {
        self.can_manage && self.items.iter().any(|i| i.needs_revisit)
    }
}

/// Whether a comment was written now or is held for the day's release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentFate {
    Written,
    HeldUntilMidnight,
}

fn parse_id(id: &str) -> ServiceResult<RecordId> {
    id.trim().parse().map_err(|_| ServiceError::NotFound)
}

fn read_measure(
    errors: &mut FieldErrors,
    measure: Option<(Measure, i64)>,
) -> Option<Option<(Measure, i64)>> {
    match measure {
        None => Some(None),
        Some((m, t)) => errors
            .take("target", expectations::target(t))
            .map(|t| Some((m, t))),
    }
}

impl Service {
    fn require_lead(access: &TeamAccess) -> ServiceResult<()> {
        if access.can_manage() {
            Ok(())
        } else {
            Err(ServiceError::Forbidden(
                "only the team's leads can write, change, revisit or retire its expectations"
                    .into(),
            ))
        }
    }

    /// The team's expectations in force, with this quarter's figures, acknowledgements and
    /// comments.
    pub async fn expectations(&self, access: &TeamAccess) -> ServiceResult<ExpectationsView> {
        let team = access.team().id;
        let now = self.now();
        let today = now.date();
        let quarter = Quarter::of(today);
        let code = quarter.to_string();
        let records = self.store.expectations(team).await?;
        let facts = if records.iter().any(|r| r.measure.is_some()) {
            let (start, end) = quarter.bounds();
            Some(
                self.store
                    .measure_facts(
                        team,
                        start.midnight().assume_utc(),
                        end.midnight().assume_utc(),
                        now,
                    )
                    .await?,
            )
        } else {
            None
        };
        let acks = self.store.expectation_acknowledgements(team, &code).await?;
        let comments = self.store.expectation_comments(team).await?;
        let me = access.actor();
        let items = records
            .into_iter()
            .map(|record| {
                let id = record.id;
                let mine = acks.iter().filter(move |(e, _)| *e == id);
                ExpectationView {
                    progress: match (record.measure, &facts) {
                        (Some((m, t)), Some(facts)) => Some(progress(m, t, quarter, facts)),
                        _ => None,
                    },
                    acknowledgements: mine.clone().count(),
                    acknowledged_by_me: mine.clone().any(|(_, u)| *u == me),
                    needs_revisit: needs_revisit(record.revisited, today),
                    comments: comments
                        .iter()
                        .filter(|c| c.expectation_id == record.id)
                        .cloned()
                        .collect(),
                    record,
                }
            })
            .collect();
        Ok(ExpectationsView {
            quarter,
            can_manage: access.can_manage(),
            items,
        })
    }

    /// One expectation in force, as in [`Service::expectations`].
    pub async fn expectation(
        &self,
        access: &TeamAccess,
        id: &str,
    ) -> ServiceResult<ExpectationView> {
        let id = parse_id(id)?;
        self.expectations(access)
            .await?
            .items
            .into_iter()
            .find(|i| i.record.id == id)
            .ok_or(ServiceError::NotFound)
    }

    /// A lead writes a new expectation, measurable or not.
    pub async fn create_expectation(
        &self,
        access: &TeamAccess,
        text: &str,
        measure: Option<(Measure, i64)>,
    ) -> ServiceResult<ExpectationView> {
        Self::require_lead(access)?;
        let mut errors = FieldErrors::default();
        let text = errors.take("text", expectations::text(text));
        let measure = read_measure(&mut errors, measure);
        let (Some(text), Some(measure)) = (text, measure) else {
            return Err(errors.into());
        };
        let id = RecordId::random();
        let now = self.now();
        self.store
            .create_expectation(&NewExpectation {
                id,
                team_id: access.team().id,
                text,
                measure,
                created_by: access.actor(),
                created_at: now,
                quarter: Quarter::of(now.date()).to_string(),
            })
            .await?;
        self.expectation(access, &id.to_string()).await
    }

    /// A lead changes an expectation's words or measure.
    pub async fn update_expectation(
        &self,
        access: &TeamAccess,
        id: &str,
        text: &str,
        measure: Option<(Measure, i64)>,
    ) -> ServiceResult<ExpectationView> {
        Self::require_lead(access)?;
        let record_id = parse_id(id)?;
        let mut errors = FieldErrors::default();
        let text = errors.take("text", expectations::text(text));
        let measure = read_measure(&mut errors, measure);
        let (Some(text), Some(measure)) = (text, measure) else {
            return Err(errors.into());
        };
        if !self
            .store
            .update_expectation(access.team().id, record_id, &text, measure)
            .await?
        {
            return Err(ServiceError::NotFound);
        }
        self.expectation(access, id).await
    }

    /// A lead retires an expectation: it leaves the list, its comments and acknowledgements stay
    /// in the database with it.
    pub async fn retire_expectation(&self, access: &TeamAccess, id: &str) -> ServiceResult<()> {
        Self::require_lead(access)?;
        let id = parse_id(id)?;
        if !self
            .store
            .retire_expectation(access.team().id, id, self.now())
            .await?
        {
            return Err(ServiceError::NotFound);
        }
        Ok(())
    }

    /// A lead marks an expectation as revisited this quarter, which ends the reminder.
    pub async fn revisit_expectation(
        &self,
        access: &TeamAccess,
        id: &str,
    ) -> ServiceResult<ExpectationView> {
        Self::require_lead(access)?;
        let record_id = parse_id(id)?;
        let quarter = Quarter::of(self.now().date()).to_string();
        if !self
            .store
            .revisit_expectation(access.team().id, record_id, &quarter)
            .await?
        {
            return Err(ServiceError::NotFound);
        }
        self.expectation(access, id).await
    }

    /// A member acknowledges an expectation for this quarter, under their name (again is a no-op).
    pub async fn acknowledge_expectation(
        &self,
        access: &TeamAccess,
        id: &str,
    ) -> ServiceResult<ExpectationView> {
        let view = self.expectation(access, id).await?;
        if !access.is_member() {
            return Err(ServiceError::Forbidden(
                "only members of the team acknowledge its expectations".into(),
            ));
        }
        let now = self.now();
        self.store
            .acknowledge_expectation(
                view.record.id,
                access.actor(),
                &Quarter::of(now.date()).to_string(),
                day_of(now),
            )
            .await?;
        self.expectation(access, id).await
    }

    /// A member comments on an expectation. A named comment is written now; an unnamed one is
    /// held until the end of the UTC day and written then with no author, only its day, under a
    /// random key among the day's others.
    pub async fn comment_on_expectation(
        &self,
        access: &TeamAccess,
        id: &str,
        text: &str,
        unnamed: bool,
    ) -> ServiceResult<CommentFate> {
        let view = self.expectation(access, id).await?;
        if !access.is_member() {
            return Err(ServiceError::Forbidden(
                "only members of the team comment on its expectations".into(),
            ));
        }
        let text = expectations::comment(text).map_err(|e| ServiceError::field("text", e.0))?;
        let comment = NewExpectationComment {
            id: RecordId::random(),
            expectation_id: view.record.id,
            author: (!unnamed).then(|| access.actor()),
            text,
            written_on: day_of(self.now()),
        };
        if unnamed {
            self.admit_held(
                Some(access.actor()),
                super::held::size_of_comment(&comment),
                false,
            )?;
            self.held.hold_comment(comment);
            Ok(CommentFate::HeldUntilMidnight)
        } else {
            self.store.write_expectation_comments(&[comment]).await?;
            Ok(CommentFate::Written)
        }
    }

    /// Writes the unnamed comments held from before `before` (all when `None`), in one batch.
    pub(super) async fn write_held_expectation_comments(
        &self,
        before: Option<OffsetDateTime>,
    ) -> ServiceResult<()> {
        let taken = self.held.take_comments(before);
        if taken.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.store.write_expectation_comments(&taken).await {
            self.held.restore_comments(taken);
            return Err(e.into());
        }
        Ok(())
    }
}
