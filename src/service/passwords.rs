//! Password hashing with Argon2id.
//!
//! The parameters are the `argon2` crate's defaults (m = 19 MiB, t = 2, p = 1), which are OWASP's
//! recommended minimum. Hashing is deliberately slow, so it runs on the blocking thread pool.

use std::sync::OnceLock;

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use super::error::ServiceError;
use crate::domain::text::Invalid;
use crate::domain::Password;

/// What the strength estimator should treat as easy to guess for this person: their email, its
/// name part, domain and their words; their name, its words, and the words run together in both
/// orders (`adalovelace`, `lovelaceada`); and the same of their organisation's and teams' names
/// (`context`). zxcvbn then finds these inside a password as it finds its own dictionary words.
pub fn about(email: &str, name: &str, context: &[&str]) -> Vec<String> {
    let email = email.trim().to_lowercase();
    let mut words = vec![email.clone()];
    words.extend(
        email
            .split(|c: char| !c.is_alphanumeric())
            .chain(name.split_whitespace())
            .chain(context.iter().flat_map(|c| c.split_whitespace()))
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
            .filter(|w| w.chars().count() >= 3)
            .map(str::to_lowercase),
    );
    if let Some((local, domain)) = email.split_once('@') {
        words.push(local.to_owned());
        words.push(domain.to_owned());
    }
    for phrase in std::iter::once(name).chain(context.iter().copied()) {
        let phrase = phrase.trim().to_lowercase();
        if phrase.chars().count() >= 3 {
            // Every run of neighbouring words run together (`analyticalengines` from
            // "Analytical Engines Ltd"), and the whole backwards (family name first).
            let parts: Vec<&str> = phrase.split_whitespace().take(8).collect();
            for start in 0..parts.len() {
                for end in start + 2..=parts.len() {
                    words.push(parts[start..end].concat());
                }
            }
            words.push(parts.iter().rev().copied().collect());
            words.push(phrase);
        }
    }
    words.sort();
    words.dedup();
    words
}

/// [`Password::parse`] with the person's own words counted as easy to guess.
pub fn parse(raw: &str, person: &[String]) -> Result<Password, Invalid> {
    let inputs: Vec<&str> = person.iter().map(String::as_str).collect();
    Password::parse(raw, &inputs)
}

pub async fn hash(password: &Password) -> Result<String, ServiceError> {
    let plaintext = password.expose().to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(plaintext.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| ServiceError::internal(anyhow::anyhow!("hashing a password: {e}")))
    })
    .await
    .map_err(ServiceError::internal)?
}

/// Checks `password` against `stored`, or against a fixed dummy hash when there is no account, so
/// that an unknown email takes as long to refuse as a wrong password.
pub async fn verify(password: &str, stored: Option<String>) -> Result<bool, ServiceError> {
    let plaintext = password.to_owned();
    let account_exists = stored.is_some();
    tokio::task::spawn_blocking(move || {
        let stored = match stored {
            Some(stored) => stored,
            None => dummy_hash().to_owned(),
        };
        let parsed = PasswordHash::new(&stored)
            .map_err(|e| ServiceError::internal(anyhow::anyhow!("stored hash: {e}")))?;
        let matches = Argon2::default()
            .verify_password(plaintext.as_bytes(), &parsed)
            .is_ok();
        Ok(matches && account_exists)
    })
    .await
    .map_err(ServiceError::internal)?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"no account has this password", &salt)
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(password: &str, person: &[String]) -> bool {
        parse(password, person).is_err()
    }

    #[test]
    fn a_password_made_of_the_persons_own_words_is_refused() {
        let ada = about(
            "ada.lovelace@example.org",
            "Ada Lovelace",
            &["Analytical Engines Ltd", "Difference Team"],
        );
        for weak in [
            "adalovelace1815",
            "AdaLovelace1815!",
            "lovelaceada1815",
            "ada.lovelace@example.org",
            "analyticalengines1843",
            "analytical engines ltd",
            "differenceteam2024",
            "example.org12345",
        ] {
            assert!(refused(weak, &ada), "{weak} should be refused for Ada");
        }
        // Without knowing who is choosing, the same words are not refused: the inputs matter.
        assert!(!refused(
            "adalovelace1815",
            &about("bob@example.net", "Bob", &[])
        ));
        assert!(!refused("correct horse battery staple", &ada));
    }
}
