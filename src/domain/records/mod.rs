//! The read models: what a loop, an experiment, a review, a pulse round or a member reads as.
//!
//! The store builds these from its rows, the use cases return them and the front doors show
//! them. They live in `domain` rather than `store` so that `http` imports nothing from `store`
//! (ARCHITECTURE.md, "Architecture invariants"; `tests/it/architecture.rs` keeps it): a change of
//! schema stops at the store, and a page or an API answer changes only when the model does.
//! Plain data and the rules read off it (`ActionRecord::overdue_on`); no IO.

pub mod culture;
pub mod experiments;
pub mod loops;
pub mod people;
pub mod review;
pub mod scim;

use crate::domain::ids::UserId;

/// A named person on a record: who they are, and the name shown for them when it was read.
/// Only ever built for named contributions; an anonymous or unnamed one has no `PersonRef`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRef {
    pub id: UserId,
    pub name: String,
}

impl PersonRef {
    pub fn new(id: UserId, name: impl Into<String>) -> Self {
        Self {
            id,
            name: name.into(),
        }
    }
}
