//! Teams: the unit of privacy. A team's data is visible to its members and the organisation's admins.

use std::fmt;

use serde::Serialize;

use super::ids::TeamId;
use super::text::{single_line, Invalid};

/// A team's display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TeamName(String);

impl TeamName {
    pub const MAX_CHARS: usize = 80;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        single_line(raw, Self::MAX_CHARS).map(Self)
    }

    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TeamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The team's name in URLs: lower-case ASCII letters, digits and single hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TeamSlug(String);

impl TeamSlug {
    pub const MAX_CHARS: usize = 60;

    /// Derives a slug from a name, transliterating non-Latin letters ("Équipe Zürich" →
    /// "equipe-zurich"). A name with nothing transliterable falls back to "team".
    pub fn from_name(name: &TeamName) -> Self {
        let mut slug = slug::slugify(name.as_str());
        slug.truncate(Self::MAX_CHARS);
        let slug = slug.trim_end_matches('-').to_owned();
        if slug.is_empty() {
            Self("team".to_owned())
        } else {
            Self(slug)
        }
    }

    /// The `n`-th alternative when the plain slug is taken: "payments-2", "payments-3", …
    pub fn with_suffix(&self, n: u32) -> Self {
        let suffix = format!("-{n}");
        let mut base = self.0.clone();
        base.truncate(Self::MAX_CHARS - suffix.len());
        Self(format!("{}{suffix}", base.trim_end_matches('-')))
    }

    /// Parses a slug taken from a URL.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let valid = !raw.is_empty()
            && raw.len() <= Self::MAX_CHARS
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-')
            && !raw.contains("--");
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::new("is not a team slug"))
        }
    }

    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TeamSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A team as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: TeamId,
    pub slug: TeamSlug,
    pub name: TeamName,
    pub description: String,
    /// Days a loop may stay in one stage before the team page flags it as stuck.
    pub stuck_after_days: u32,
    /// Pulse results show only from this many responses (never below 3).
    pub pulse_min_responses: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> TeamName {
        TeamName::parse(s).expect("valid name in test")
    }

    #[test]
    fn slugs_are_derived_and_transliterated() {
        assert_eq!(
            TeamSlug::from_name(&name("Payments Platform")).as_str(),
            "payments-platform"
        );
        assert_eq!(
            TeamSlug::from_name(&name("Équipe Zürich")).as_str(),
            "equipe-zurich"
        );
        assert_eq!(TeamSlug::from_name(&name("!!!")).as_str(), "team");
    }

    #[test]
    fn suffix_keeps_within_limit() {
        let long = TeamSlug::from_name(&name(&"a".repeat(80)));
        assert_eq!(long.as_str().len(), TeamSlug::MAX_CHARS);
        let suffixed = long.with_suffix(12);
        assert_eq!(suffixed.as_str().len(), TeamSlug::MAX_CHARS);
        assert!(suffixed.as_str().ends_with("-12"));
        assert!(TeamSlug::parse(suffixed.as_str()).is_ok());
    }

    #[test]
    fn parse_rejects_non_slugs() {
        for bad in ["", "Payments", "a--b", "-a", "a-", "a/b", "ä"] {
            assert!(TeamSlug::parse(bad).is_err(), "{bad:?}");
        }
        assert!(TeamSlug::parse("payments-2").is_ok());
    }
}
