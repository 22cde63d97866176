//! Records of sealed contributions as the store reads and writes them.

use time::OffsetDateTime;

use crate::domain::RecordId;

/// Which group of items reveals when: everyone's, or the late tier (for example leads' cards,
/// shown only after the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SealTier {
    Open,
    Late,
}

impl SealTier {
    pub fn as_str(self) -> &'static str {
        match self {
            SealTier::Open => "open",
            SealTier::Late => "late",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "open" => Some(SealTier::Open),
            "late" => Some(SealTier::Late),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SealedBox {
    pub id: RecordId,
    pub purpose: String,
    pub revealed_open_at: Option<OffsetDateTime>,
    pub revealed_late_at: Option<OffsetDateTime>,
}

impl SealedBox {
    pub fn revealed(&self, tier: SealTier) -> bool {
        match tier {
            SealTier::Open => self.revealed_open_at.is_some(),
            SealTier::Late => self.revealed_late_at.is_some(),
        }
    }
}

/// Why [`NewSealedItem::once_per_writer`] refused a second item.
pub const ALREADY_CONTRIBUTED: &str = "this writer already contributed to the box";

#[derive(Debug, Clone)]
pub struct NewSealedItem {
    pub id: RecordId,
    pub box_id: RecordId,
    pub tier: SealTier,
    pub category: String,
    /// Set only when the writer chose to show their name.
    pub author: Option<crate::domain::UserId>,
    pub ciphertext: String,
    /// Midnight UTC of the day.
    pub created_on: OffsetDateTime,
    /// At most one item per writer in this box (a ballot): a second is refused atomically.
    pub once_per_writer: bool,
}

/// An unnamed item written after being held back: `text` is the ciphertext before its tier's
/// reveal and the plain text at and after it.
#[derive(Debug, Clone)]
pub struct UnnamedItem {
    pub id: RecordId,
    pub category: String,
    pub text: String,
    /// Midnight UTC of the day.
    pub created_on: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct SealedItemRecord {
    pub id: RecordId,
    pub tier: SealTier,
    pub category: String,
    pub ciphertext: Option<String>,
    pub plaintext: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealedCounts {
    pub open_participants: i64,
    pub late_participants: i64,
    pub items: i64,
}

#[derive(Debug, Clone)]
pub struct RevealedItem {
    pub id: RecordId,
    pub tier: SealTier,
    pub category: String,
    pub text: String,
    pub author_name: Option<String>,
}
