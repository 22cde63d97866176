//! People: accounts and the roles they hold.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ids::UserId;
use super::text::{single_line, Invalid};

/// An email address, lower-cased so that one person cannot hold two accounts by changing case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// RFC 5321 limits a path to 256 octets; 254 characters is the usable address length.
    pub const MAX_CHARS: usize = 254;

    /// Accepts `local@domain.tld`. Deliverability is proven by the invitation link, not by a regex.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let value = single_line(raw, Self::MAX_CHARS)?.to_lowercase();
        let Some((local, domain)) = value.rsplit_once('@') else {
            return Err(Invalid::new(
                "must be an email address such as name@example.org",
            ));
        };
        let domain_ok = !domain.is_empty()
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        if local.is_empty() || !domain_ok || value.chars().any(char::is_whitespace) {
            return Err(Invalid::new(
                "must be an email address such as name@example.org",
            ));
        }
        Ok(Self(value))
    }

    /// For values read back from storage, which were parsed on the way in.
    pub fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name other people see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
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

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password that meets the policy. It never leaves the service layer except as a hash.
///
/// The policy follows NIST SP 800-63B: a minimum length, a generous maximum, every character
/// allowed, and no composition rules (they push people towards predictable patterns).
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 128;
    /// zxcvbn's score from 0 to 4; 3 means "safely unguessable" (about 10^8 guesses and more).
    pub const MIN_STRENGTH: u8 = 3;

    /// Checks length and strength. `about_the_person` (their email, its name part, their name)
    /// counts as easy to guess, like the estimator's own lists of common passwords and words.
    pub fn parse(raw: &str, about_the_person: &[&str]) -> Result<Self, Invalid> {
        let count = raw.chars().count();
        if count < Self::MIN_CHARS {
            return Err(Invalid(format!(
                "must be at least {} characters long",
                Self::MIN_CHARS
            )));
        }
        if count > Self::MAX_CHARS {
            return Err(Invalid(format!(
                "must be at most {} characters long",
                Self::MAX_CHARS
            )));
        }
        if raw.trim().is_empty() {
            return Err(Invalid::new("must not be only spaces"));
        }
        let estimate = zxcvbn::zxcvbn(raw, about_the_person);
        if u8::from(estimate.score()) < Self::MIN_STRENGTH {
            let mut message = "is too easy to guess".to_owned();
            let feedback = estimate.feedback();
            if let Some(warning) = feedback.and_then(|f| f.warning()) {
                message.push_str(&format!(" ({})", warning.to_string().trim_end_matches('.')));
            }
            message.push_str(
                ": use a few uncommon words, or a longer mix, that has nothing to do with your \
                 name, email, organisation or team",
            );
            return Err(Invalid(message));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// A person's role inside one team. Organisation administration is a separate flag on the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TeamRole {
    /// Runs the team: manages members and roles, opens pulse rounds, approves risky experiments.
    Lead,
    /// Takes part in everything the team does.
    Member,
}

impl TeamRole {
    pub fn as_str(self) -> &'static str {
        match self {
            TeamRole::Lead => "lead",
            TeamRole::Member => "member",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw.trim() {
            "lead" => Ok(TeamRole::Lead),
            "member" => Ok(TeamRole::Member),
            _ => Err(Invalid::new("must be \"lead\" or \"member\"")),
        }
    }
}

impl super::text::Word for TeamRole {
    fn parse_word(raw: &str) -> Result<Self, Invalid> {
        Self::parse(raw)
    }
}

impl fmt::Display for TeamRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub name: DisplayName,
    pub is_admin: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_lowercased_and_checked() {
        assert_eq!(
            Email::parse(" Ada@Example.ORG ").map(|e| e.to_string()),
            Ok("ada@example.org".to_owned())
        );
        for bad in [
            "",
            "ada",
            "@example.org",
            "ada@",
            "ada@.org",
            "ada@example..org",
            "a da@x.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn password_policy_counts_characters() {
        assert!(Password::parse("short", &[]).is_err());
        assert!(Password::parse("            ", &[]).is_err());
        assert!(
            Password::parse("vK7#mq2!Lw9z", &[]).is_ok(),
            "12 characters"
        );
        assert!(
            Password::parse("vK7#mq2!Lw9", &[]).is_err(),
            "11 characters"
        );
        assert!(
            Password::parse(&"vK7#mq2!Lw9z".repeat(11), &[]).is_err(),
            "132 characters"
        );
        assert!(Password::parse("éàüöñçøåßþðæ", &[]).is_ok());
    }

    #[test]
    fn common_and_personal_passwords_are_refused() {
        for weak in [
            "password123456",
            "1234567890xx",
            "qwertyuiop123",
            "aaaaaaaaaaaaaaaa",
        ] {
            let refused = Password::parse(weak, &[]).expect_err(weak);
            assert!(
                refused.0.starts_with("is too easy to guess"),
                "{weak}: {}",
                refused.0
            );
        }
        // What `service::passwords::about` makes of ada.lovelace@example.org and "Ada Lovelace".
        let person = [
            "ada.lovelace@example.org",
            "ada",
            "lovelace",
            "ada lovelace",
        ];
        // The person's own email is refused even though no list holds it.
        assert!(Password::parse("ada.lovelace@example.org", &person).is_err());
        assert!(Password::parse("ada.lovelace@example.org", &[]).is_ok());
        assert!(Password::parse("correct horse battery staple", &person).is_ok());
    }

    #[test]
    fn roles_round_trip() {
        for role in [TeamRole::Lead, TeamRole::Member] {
            assert_eq!(TeamRole::parse(role.as_str()), Ok(role));
        }
        assert!(TeamRole::parse("owner").is_err());
    }
}
