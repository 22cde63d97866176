//! Alert intake: a team's monitoring and paging tools open loops at Detect.
//!
//! Each team has at most one intake. Its bearer token (`ffa_…`, shown once, stored hashed)
//! authenticates Alertmanager, Opsgenie and the generic shape; PagerDuty proves itself with its
//! own v3 signature over the body, checked with the secret PagerDuty gave the lead (stored sealed:
//! it must be read to check). A caller that fails either check learns nothing, not even whether
//! the team exists, and nothing is written. The loops an intake opens are logged as the lead who
//! set it up (as an API token acts as its owner), through the same use case as the web form, so
//! every rule of capture — its event, its checks — holds for them.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::FieldErrors;
use super::loops::LoopInput;
use super::{secrets, Actor, Service, ServiceError, ServiceResult, TeamAccess};
use crate::domain::alerts::{self, AlertGroup, AlertStatus, Provider};
use crate::domain::{LoopId, TeamSlug};
use crate::store::alerts::{AlertLoop, IntakeRecord};

/// How a caller of the intake proved itself, as the request carried it.
#[derive(Debug, Clone, Copy, Default)]
pub struct IntakeProof<'a> {
    /// `Authorization: Bearer …`.
    pub bearer: Option<&'a str>,
    /// `X-PagerDuty-Signature`.
    pub pagerduty_signature: Option<&'a str>,
}

/// What the intake did with a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntakeOutcome {
    /// A new loop at Detect.
    Opened(LoopId),
    /// The group fired again within the window: a timeline entry on its loop.
    Refired(LoopId),
    /// The group was resolved: a timeline entry on its loop.
    Resolved(LoopId),
    /// Nothing to do (an acknowledgement, a note, a resolution of a group never seen).
    Ignored,
}

/// How long a delivery that found a new group being opened waits for its loop: this many
/// looks, [`OPENING_WAIT`] apart (about ten seconds; capture takes milliseconds).
const OPENING_WAITS: u32 = 400;
const OPENING_WAIT: std::time::Duration = std::time::Duration::from_millis(25);

/// A claim to open a group's loop older than this belongs to a delivery that died; another may
/// take it over.
const OPENING_LEASE: time::Duration = time::Duration::minutes(1);

/// The longest PagerDuty signing secret accepted (PagerDuty's are much shorter).
const PAGERDUTY_SECRET_MAX: usize = 200;

impl Service {
    /// Sets up (or replaces) the team's intake, for its leads and admins. Returns the bearer
    /// token, shown this once; a previous token stops working. `pagerduty_secret` is the secret
    /// PagerDuty shows when its webhook subscription is made; empty leaves PagerDuty off.
    pub async fn set_up_alert_intake(
        &self,
        access: &TeamAccess,
        pagerduty_secret: &str,
    ) -> ServiceResult<String> {
        access.require_manage()?;
        let pagerduty_secret = pagerduty_secret.trim();
        if pagerduty_secret.chars().count() > PAGERDUTY_SECRET_MAX
            || pagerduty_secret.chars().any(char::is_control)
        {
            return Err(invalid(
                "pagerduty_secret",
                format!("must be one line of at most {PAGERDUTY_SECRET_MAX} characters"),
            ));
        }
        let team = access.team().id;
        let pagerduty_sealed = if pagerduty_secret.is_empty() {
            None
        } else {
            Some(
                self.sealer()?
                    .seal(pagerduty_secret, &sealing_context(&team.to_string()))?,
            )
        };
        let token = secrets::generate("ffa_");
        self.store
            .set_alert_intake(
                team,
                &IntakeRecord {
                    token_hash: token.hash,
                    pagerduty_sealed,
                    created_by: access.actor(),
                    created_at: self.now(),
                },
            )
            .await?;
        Ok(token.plaintext)
    }

    /// Whether the team has an intake, and whether PagerDuty is set up on it (for the team's page).
    pub async fn alert_intake_status(
        &self,
        access: &TeamAccess,
    ) -> ServiceResult<Option<(OffsetDateTime, bool)>> {
        access.require_manage()?;
        Ok(self
            .store
            .alert_intake(access.team().id)
            .await?
            .map(|intake| (intake.created_at, intake.pagerduty_sealed.is_some())))
    }

    /// Takes one delivery of `provider` for the team at `slug`. Unknown teams, teams without an
    /// intake and bad proofs all answer `Unauthenticated`, before the body is parsed.
    pub async fn receive_alert(
        &self,
        slug: &str,
        provider: &str,
        proof: IntakeProof<'_>,
        body: &[u8],
    ) -> ServiceResult<IntakeOutcome> {
        let provider = Provider::parse(provider).map_err(|_| ServiceError::NotFound)?;
        let slug = TeamSlug::parse(slug).map_err(|_| ServiceError::Unauthenticated)?;
        let team = self
            .store
            .team_by_slug(&slug)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let intake = self
            .store
            .alert_intake(team.id)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let proven = match provider {
            Provider::PagerDuty => match (&intake.pagerduty_sealed, proof.pagerduty_signature) {
                (Some(sealed), Some(signature)) => {
                    let secret = self
                        .sealer()?
                        .open(sealed, &sealing_context(&team.id.to_string()))?;
                    alerts::pagerduty_signature_matches(&secret, body, signature)
                }
                _ => false,
            },
            _ => proof.bearer.is_some_and(|token| {
                secrets::same(&secrets::hash(token.trim()), &intake.token_hash)
            }),
        };
        if !proven {
            return Err(ServiceError::Unauthenticated);
        }
        let now = self.now();
        let group =
            alerts::read(provider, body, now).map_err(|refused| invalid("body", refused.0))?;
        let Some(group) = group else {
            return Ok(IntakeOutcome::Ignored);
        };
        // The intake acts as the lead who set it up; one who has left the team stops it.
        let user = self
            .store
            .user_by_id(intake.created_by)
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        let actor = Actor {
            user,
            session_hash: None,
        };
        let access = self
            .team_access(&actor, slug.as_str())
            .await
            .map_err(|_| ServiceError::Unauthenticated)?;
        self.take_alert(&access, group, now).await
    }

    async fn take_alert(
        &self,
        access: &TeamAccess,
        group: AlertGroup,
        now: OffsetDateTime,
    ) -> ServiceResult<IntakeOutcome> {
        // A new group is opened by the one delivery that claims it; one that finds the group
        // claimed waits for that loop and adds to it, as a re-fire would.
        for _ in 0..OPENING_WAITS {
            if let Some(outcome) = self.take_alert_once(access, &group, now).await? {
                return Ok(outcome);
            }
            tokio::time::sleep(OPENING_WAIT).await;
        }
        Err(ServiceError::Conflict {
            field: None,
            message:
                "another delivery of this alert group is still opening its loop; send it again"
                    .to_owned(),
        })
    }

    /// One try: the outcome, or `None` while another delivery is opening the group's loop.
    async fn take_alert_once(
        &self,
        access: &TeamAccess,
        group: &AlertGroup,
        now: OffsetDateTime,
    ) -> ServiceResult<Option<IntakeOutcome>> {
        let team = access.team().id;
        let at = |instant: OffsetDateTime| instant.format(&Rfc3339).unwrap_or_default();
        let fresh = |known: &Option<AlertLoop>| {
            known.filter(|known| now - known.last_seen_at <= self.policy.alert_dedup_window)
        };
        let known = self.store.alert_loop(team, &group.fingerprint).await?;
        match (group.status, known) {
            (AlertStatus::Resolved, None) => return Ok(Some(IntakeOutcome::Ignored)),
            (AlertStatus::Resolved, Some(known)) => {
                self.add_timeline_event(
                    access,
                    &known.loop_id.to_string(),
                    &at(now),
                    &format!("Alert resolved: {}", group.title),
                )
                .await?;
                return Ok(Some(IntakeOutcome::Resolved(known.loop_id)));
            }
            (AlertStatus::Firing, _) => {}
        }
        if let Some(known) = fresh(&known) {
            return self.refired(access, group, known, now).await.map(Some);
        }
        if !self
            .store
            .claim_alert_opening(team, &group.fingerprint, now, now - OPENING_LEASE)
            .await?
        {
            return Ok(None);
        }
        // The claim is ours; a delivery that opened the loop and let go of its claim just
        // before we claimed has remembered the loop already.
        let opened = match fresh(&self.store.alert_loop(team, &group.fingerprint).await?) {
            Some(known) => self.refired(access, group, known, now).await,
            None => self.open_alert_loop(access, group, now).await,
        };
        let released = self
            .store
            .release_alert_opening(team, &group.fingerprint)
            .await;
        let outcome = opened?;
        released?;
        Ok(Some(outcome))
    }

    async fn refired(
        &self,
        access: &TeamAccess,
        group: &AlertGroup,
        known: AlertLoop,
        now: OffsetDateTime,
    ) -> ServiceResult<IntakeOutcome> {
        let at = group
            .noticed_at
            .min(now)
            .format(&Rfc3339)
            .unwrap_or_default();
        self.add_timeline_event(
            access,
            &known.loop_id.to_string(),
            &at,
            &format!("Alert fired again: {}", group.title),
        )
        .await?;
        self.store
            .remember_alert(access.team().id, &group.fingerprint, known.loop_id, now)
            .await?;
        Ok(IntakeOutcome::Refired(known.loop_id))
    }

    async fn open_alert_loop(
        &self,
        access: &TeamAccess,
        group: &AlertGroup,
        now: OffsetDateTime,
    ) -> ServiceResult<IntakeOutcome> {
        let at = |instant: OffsetDateTime| instant.format(&Rfc3339).unwrap_or_default();
        // A tool's clock a little ahead of ours must not make capture refuse the alert.
        let noticed = group.noticed_at.min(now);
        let logged = self
            .log_failure(
                access,
                LoopInput {
                    title: group.title.clone(),
                    what_happened: group.what_happened.clone(),
                    happened_at: group.happened_at.map(|h| at(h.min(noticed))),
                    noticed_at: Some(at(noticed)),
                    tags: vec!["alert".to_owned()],
                    ..LoopInput::default()
                },
            )
            .await?;
        let id = logged.detail.record.id;
        self.store
            .remember_alert(access.team().id, &group.fingerprint, id, now)
            .await?;
        Ok(IntakeOutcome::Opened(id))
    }
}

fn invalid(field: &str, message: impl Into<String>) -> ServiceError {
    let mut errors = FieldErrors::default();
    errors.push(field, message);
    errors.into()
}

fn sealing_context(team: &str) -> String {
    format!("alert-intake:pagerduty:{team}")
}
