//! Random secrets (session cookies, tokens, one-time links) and how they are stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A freshly drawn secret: the plaintext goes to the person once, the hash to the database.
pub struct Secret {
    pub plaintext: String,
    pub hash: String,
}

/// Draws 256 random bits from the operating system and prefixes them (`ffp_` for personal API
/// tokens), so that a leaked token is recognisable by secret scanners.
pub fn generate(prefix: &str) -> Secret {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let plaintext = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash(&plaintext);
    Secret { plaintext, hash }
}

/// SHA-256 in hex. A secret with 256 random bits needs no slow hash: there is nothing to guess.
pub fn hash(plaintext: &str) -> String {
    hex::encode(Sha256::digest(plaintext.as_bytes()))
}

/// Compares two secrets in constant time.
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_unique_and_hashed() {
        let a = generate("ffp_");
        let b = generate("ffp_");
        assert!(a.plaintext.starts_with("ffp_"));
        assert_eq!(a.plaintext.len(), 4 + 43);
        assert_ne!(a.plaintext, b.plaintext);
        assert_eq!(a.hash, hash(&a.plaintext));
        assert_eq!(a.hash.len(), 64);
    }

    #[test]
    fn same_is_exact() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "abcd"));
    }
}
