//! The failure CV (issue 24; domain.md §6): each person's own list of the intelligent failures
//! and experiments they were named in. It belongs to the person: only they see it until they
//! publish it to the organisation, only they publish, unpublish or download it. An admin asking
//! for someone's unpublished CV gets `NotFound`, exactly as for an unknown person, and there is
//! no export on anyone else's behalf.

use crate::domain::cv::{self, FailureCv};
use crate::domain::UserId;

use super::error::{ServiceError, ServiceResult};
use super::{Actor, Service};

impl Service {
    async fn failure_cv_of(&self, id: UserId, name: String) -> ServiceResult<FailureCv> {
        Ok(FailureCv {
            person_id: id.to_string(),
            person_name: name,
            published_on: self.store.cv_published_on(id).await?,
            failures: self.store.cv_failures(id).await?,
            experiments: self.store.cv_experiments(id).await?,
        })
    }

    /// The signed-in person's own CV, published or not.
    pub async fn my_failure_cv(&self, actor: &Actor) -> ServiceResult<FailureCv> {
        self.failure_cv_of(actor.id(), actor.user.name.to_string())
            .await
    }

    /// Someone's CV as another member of the organisation sees it: `NotFound` unless its owner
    /// published it (admins included). The owner always sees their own.
    pub async fn published_failure_cv(
        &self,
        actor: &Actor,
        person: &str,
    ) -> ServiceResult<FailureCv> {
        let id: UserId = person.trim().parse().map_err(|_| ServiceError::NotFound)?;
        if id == actor.id() {
            return self.my_failure_cv(actor).await;
        }
        if self.store.cv_published_on(id).await?.is_none() {
            return Err(ServiceError::NotFound);
        }
        let user = self
            .store
            .user_by_id(id)
            .await?
            .ok_or(ServiceError::NotFound)?;
        self.failure_cv_of(id, user.name.to_string()).await
    }

    /// Publishes the person's own CV to the organisation, or takes it back. Publishing keeps the
    /// day it was first published (only the day).
    pub async fn publish_failure_cv(
        &self,
        actor: &Actor,
        published: bool,
    ) -> ServiceResult<FailureCv> {
        let on = published.then(|| self.today());
        self.store.set_cv_published(actor.id(), on).await?;
        self.my_failure_cv(actor).await
    }

    /// The person's own CV as a Markdown document (JSON is rendered by the API from the same
    /// record). There is no way to ask for anyone else's.
    pub async fn export_failure_cv_markdown(&self, actor: &Actor) -> ServiceResult<String> {
        Ok(cv::to_markdown(&self.my_failure_cv(actor).await?))
    }
}
