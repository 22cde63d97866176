//! Identifiers. Every public id is a random (version 4) UUID so that an id reveals neither how many
//! records exist nor the order in which they were written — a property the anonymity rules rely on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID drawn by the caller; the service layer draws them at random.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// A fresh random id.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A person's account.
    UserId
);
id_type!(
    /// A domain event in the outbox; a webhook delivery carries it as `webhook-id`, the same
    /// on every retry.
    EventId
);
id_type!(
    /// A team.
    TeamId
);
id_type!(
    /// A personal API token (the id, never the secret).
    ApiTokenId
);
id_type!(
    /// An invitation (the id, never the secret link).
    InvitationId
);
id_type!(
    /// A loop: one failure or experiment walked through Detect → Analyse → Apply → Continue.
    LoopId
);
id_type!(
    /// A contributing factor of a loop.
    FactorId
);
id_type!(
    /// An action item.
    ActionId
);
id_type!(
    /// A learning.
    LearningId
);
id_type!(
    /// Any other record attached to a loop (timeline entries, additions, accounts, history).
    RecordId
);
