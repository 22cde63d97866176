//! The "consistent success" signal on a team's page (issue 24; Sitkin 1992, domain.md §6): the
//! store counts, `domain::success` decides, through the service's clock so tests can move time.

use crate::domain::success::{consistent_success, SuccessCondition, SuccessSettings};

use super::error::{FieldErrors, ServiceError, ServiceResult};
use super::{Service, TeamAccess};

/// The signal as the team sees it.
#[derive(Debug, Clone)]
pub struct SuccessSignal {
    pub settings: SuccessSettings,
    /// The conditions that hold now; the question shows when there is at least one.
    pub fired: Vec<SuccessCondition>,
}

impl SuccessSignal {
    pub fn shows(&self) -> bool {
        !self.fired.is_empty()
    }
}

impl Service {
    /// The team's thresholds (the defaults until a lead changes them).
    pub async fn success_settings(&self, access: &TeamAccess) -> ServiceResult<SuccessSettings> {
        Ok(self
            .store
            .success_settings(access.team().id)
            .await?
            .unwrap_or_default())
    }

    /// Whether the essay's question shows on the team's page now, and why.
    pub async fn success_signal(&self, access: &TeamAccess) -> ServiceResult<SuccessSignal> {
        let settings = self.success_settings(access).await?;
        let now = self.now();
        let counts = self
            .store
            .success_counts(access.team().id, &settings.windows(now), now)
            .await?;
        Ok(SuccessSignal {
            fired: consistent_success(&counts, &settings),
            settings,
        })
    }

    /// Changes the thresholds (leads and admins); every value out of range is named.
    pub async fn set_success_settings(
        &self,
        access: &TeamAccess,
        quarters: i64,
        quiet_weeks: i64,
        basic_weeks: i64,
        basic_min_loops: i64,
    ) -> ServiceResult<SuccessSettings> {
        if !access.can_manage() {
            return Err(ServiceError::Forbidden(
                "only the team's leads can change the consistent-success thresholds".into(),
            ));
        }
        let settings = SuccessSettings::parse(quarters, quiet_weeks, basic_weeks, basic_min_loops)
            .map_err(|errors| {
                let mut fields = FieldErrors::default();
                for (field, invalid) in errors {
                    fields.push(field, invalid.0);
                }
                ServiceError::from(fields)
            })?;
        self.store
            .set_success_settings(access.team().id, &settings)
            .await?;
        Ok(settings)
    }
}
