//! The one error type of the use cases. `http::error` maps it, once, to problem+json or an error page;
//! the CLI maps it to a one-line message and a non-zero exit code.

use crate::domain::Invalid;
use crate::store::StoreError;

/// A problem with one input field, named as the API and the forms name it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field at fault, as named in the request (`name`, `email`, `members[2].role`).
    pub field: String,
    /// What is wrong with it, in a sentence fragment that follows the field name.
    pub message: String,
}

/// Why a use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    /// Unknown, or not visible to the caller: the two are deliberately indistinguishable.
    #[error("not found")]
    NotFound,
    #[error("sign-in required")]
    Unauthenticated,
    #[error("the email address or password is not right")]
    BadCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    /// A one-time link that was valid once but is no longer (used, revoked or expired).
    #[error("{0}")]
    Gone(String),
    #[error("too many attempts; try again in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    /// More anonymous content than the server holds until its release (`service::held`).
    #[error("{0}")]
    TooMuchHeld(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ServiceError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ServiceError::Invalid(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        ServiceError::Conflict {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        ServiceError::Internal(error.into())
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => ServiceError::NotFound,
            other => ServiceError::Internal(other.into()),
        }
    }
}

/// Collects field errors so that a form can show every problem at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    /// Keeps the parsed value, or records why `field` was refused.
    pub fn take<T>(&mut self, field: &str, parsed: Result<T, Invalid>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(invalid) => {
                self.0.push(FieldError {
                    field: field.to_owned(),
                    message: invalid.0,
                });
                None
            }
        }
    }

    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_owned(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing was recorded.
    pub fn check(self) -> Result<(), ServiceError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Invalid(self.0))
        }
    }
}

impl From<FieldErrors> for ServiceError {
    fn from(errors: FieldErrors) -> Self {
        ServiceError::Invalid(errors.0)
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
