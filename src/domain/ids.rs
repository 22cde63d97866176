//! Identifiers. Every public id is a random (version 4) UUID so that an id reveals neither how many
//! records exist nor the order in which they were written — a property the anonymity rules rely on.
//! The one exception is [`EventId::at`]: an event's id begins with the time the event itself
//! carries, and nothing finer.

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
impl EventId {
    /// A version 7 UUID whose time is `at`'s whole second, followed by random bits.
    ///
    /// Outbox rows are indexed by id, and ids in time order append to that index's last pages
    /// where random ones each rewrite a page somewhere in it (BENCHMARKS.md, run 12). The id says
    /// no more than the event's own `occurred_at`: the second for a named change, midnight for an
    /// unnamed one (`Event::unnamed`), and a day's unnamed events sort among themselves at random.
    pub fn at(at: time::OffsetDateTime) -> Self {
        let seconds = u64::try_from(at.unix_timestamp()).unwrap_or(0);
        let random: [u8; 10] = rand::random();
        Self(
            uuid::Builder::from_unix_timestamp_millis(seconds.saturating_mul(1000), &random)
                .into_uuid(),
        )
    }
}

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
