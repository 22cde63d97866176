//! The product's rules, free of IO: no SQL, no HTTP, no clock and no randomness that is not passed in.
//!
//! Everything that enters the system is parsed into these types at the edge (`TeamName::parse`,
//! `Email::parse`), so that the service and store layers never see an invalid value.

pub mod alerts;
pub mod audit;
pub mod blameless;
pub mod culture;
pub mod cv;
pub mod docx;
pub mod events;
pub mod expectations;
pub mod experiments;
pub mod health;
pub mod html;
pub mod ids;
pub mod loops;
pub mod mirror;
pub mod people;
pub mod postmortem;
pub mod prose_time;
pub mod records;
pub mod recurrence;
pub mod review;
pub mod rituals;
pub mod search;
pub mod sso;
pub mod success;
pub mod team;
pub mod text;
pub mod tool_exports;
pub mod webhooks;
pub mod when;

pub use ids::{
    ActionId, ApiTokenId, EventId, FactorId, InvitationId, LearningId, LoopId, RecordId, TeamId,
    UserId,
};
pub use people::{DisplayName, Email, Password, TeamRole, User};
pub use team::{Team, TeamName, TeamSlug};
pub use text::Invalid;
