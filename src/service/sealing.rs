//! Encryption of sealed contributions (pre-mortem reasons, review cards before the reveal), so that
//! not even someone reading the database can see them early. The key comes from the server's
//! secret, which is not in the database: `secret_key` in the settings, or `DATA_DIR/secret.key`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::error::ServiceError;

/// Seals and opens text with the server's key (XChaCha20-Poly1305, random 192-bit nonces).
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    check: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(…)")
    }
}

impl Sealer {
    /// Derives the sealing key from the server secret (any length; 32 random bytes by default).
    pub fn from_secret(secret: &[u8]) -> Self {
        let key = Sha256::new()
            .chain_update(b"failforward sealing key v1\0")
            .chain_update(secret)
            .finalize();
        let check = hex::encode(
            Sha256::new()
                .chain_update(b"failforward key check v1\0")
                .chain_update(secret)
                .finalize(),
        );
        Self {
            cipher: XChaCha20Poly1305::new(&key),
            check,
        }
    }

    /// A fingerprint of the key, stored in the database so that instances with different keys
    /// refuse to start instead of failing to open each other's sealed items.
    pub fn check(&self) -> &str {
        &self.check
    }

    /// Seals `text`, bound to `context` (the box it belongs to) so it cannot be moved elsewhere.
    pub fn seal(&self, text: &str, context: &str) -> Result<String, ServiceError> {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: text.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| ServiceError::internal(anyhow::anyhow!("sealing failed")))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<String, ServiceError> {
        let corrupt = || {
            ServiceError::internal(anyhow::anyhow!(
                "a sealed item cannot be opened: wrong key or damaged data"
            ))
        };
        let bytes = STANDARD.decode(sealed).map_err(|_| corrupt())?;
        if bytes.len() < 24 {
            return Err(corrupt());
        }
        let (nonce, body) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| corrupt())?;
        String::from_utf8(plain).map_err(|_| corrupt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_text_opens_only_with_the_same_key_and_context() {
        let sealer = Sealer::from_secret(b"one secret");
        let sealed = sealer
            .seal("the vendor may miss the date", "box-1")
            .expect("seal");
        assert!(!sealed.contains("vendor"));
        assert_eq!(
            sealer.open(&sealed, "box-1").expect("open"),
            "the vendor may miss the date"
        );
        assert!(sealer.open(&sealed, "box-2").is_err(), "bound to its box");
        assert!(Sealer::from_secret(b"another")
            .open(&sealed, "box-1")
            .is_err());
        assert_ne!(
            sealer.seal("x", "b").expect("seal"),
            sealer.seal("x", "b").expect("seal")
        );
        assert_ne!(sealer.check(), Sealer::from_secret(b"another").check());
    }
}
