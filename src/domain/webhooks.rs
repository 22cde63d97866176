//! Webhooks as the Standard Webhooks specification defines them (standardwebhooks.com): the
//! signing secret (`whsec_<base64>`), the signature (`v1,<base64 of HMAC-SHA256 over
//! "id.timestamp.body">`, several separated by spaces while a rotated secret overlaps), the retry
//! schedule, and which addresses an outgoing request must not reach (SSRF). No IO: the caller
//! draws the random bytes, reads the clock and resolves names.

use std::net::IpAddr;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::text::Invalid;

/// The prefix the specification gives secrets, so that people can tell them apart.
const SECRET_PREFIX: &str = "whsec_";

/// Bytes of a secret this server draws (the specification asks for 24 to 64).
pub const SECRET_BYTES: usize = 32;

/// An endpoint's signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret(…)")
    }
}

impl SigningSecret {
    /// A secret of `bytes` drawn by the caller.
    pub fn from_bytes(bytes: [u8; SECRET_BYTES]) -> Self {
        Self(bytes.to_vec())
    }

    /// Reads `whsec_<base64>` (the prefix is optional, as the reference libraries accept).
    pub fn parse(text: &str) -> Result<Self, Invalid> {
        let encoded = text
            .trim()
            .strip_prefix(SECRET_PREFIX)
            .unwrap_or(text.trim());
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| Invalid("must be whsec_ followed by base64".to_owned()))?;
        if bytes.is_empty() || bytes.len() > 64 {
            return Err(Invalid("must hold 1 to 64 bytes".to_owned()));
        }
        Ok(Self(bytes))
    }

    /// The form people copy into their receiver: `whsec_<base64>`.
    pub fn reveal(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// One signature, `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC accepts a key of any length; the error branch cannot happen.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// Longest endpoint address accepted.
pub const URL_MAX: usize = 2000;

/// An endpoint address as a subscriber gives it: `https://host[:port]/path` (plain `http` only
/// where the server allows private addresses, for a receiver on its own network), with a host,
/// no credentials and no whitespace. Whether its host may be reached is decided at each attempt,
/// after resolving it ([`address_is_public`]).
pub fn endpoint_url(text: &str, allow_http: bool) -> Result<String, Invalid> {
    let text = text.trim();
    if text.is_empty() || text.len() > URL_MAX {
        return Err(Invalid(format!(
            "give an https address of at most {URL_MAX} characters"
        )));
    }
    let rest = match (text.strip_prefix("https://"), text.strip_prefix("http://")) {
        (Some(rest), _) => rest,
        (None, Some(rest)) if allow_http => rest,
        _ => return Err(Invalid("must start with https://".to_owned())),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.starts_with(':') {
        return Err(Invalid("must name a host".to_owned()));
    }
    if authority.contains('@') {
        return Err(Invalid("must not carry a user name or password".to_owned()));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Invalid("must not contain spaces".to_owned()));
    }
    Ok(text.to_owned())
}

/// The host of an address [`endpoint_url`] accepted, as an IP address when it is one.
pub fn literal_address(url: &str) -> Option<IpAddr> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    if let Some(bracketed) = authority.strip_prefix('[') {
        return bracketed.split(']').next()?.parse().ok();
    }
    authority.split(':').next()?.parse().ok()
}

/// The `webhook-signature` header: one signature per live secret (the current one and, during a
/// rotation's overlap, the previous one), separated by spaces, so that a receiver holding either
/// verifies.
pub fn signature_header(
    secrets: &[&SigningSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Attempts after the first before a delivery is given up: with [`retry_delay`] they span about
/// a day (5 s, 25 s, 2 min, 10 min, 52 min, 4.3 h, then 6 h three times: 23.4 h).
pub const RETRIES: u32 = 9;

/// The wait before retry `attempt` (1-based): five times longer each time from 5 s, capped at
/// 6 h, then spread by `jitter` (0.0–1.0, drawn by the caller) over ±20 %, so that deliveries
/// failing together do not retry together.
pub fn retry_delay(attempt: u32, jitter: f64) -> Duration {
    let base = 5.0 * 5f64.powi(attempt.saturating_sub(1).min(10) as i32);
    let capped = base.min(6.0 * 3600.0);
    let spread = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
    Duration::from_secs_f64(capped * spread)
}

/// Whether an outgoing request may reach `ip`: never loopback, private (RFC 1918, unique local),
/// link-local (cloud metadata at 169.254.169.254), unspecified, broadcast, shared (100.64/10),
/// documentation or multicast addresses, nor IPv4 written inside IPv6.
pub fn address_is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return address_is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064 && v6.segments()[1] == 0xff9b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's published test vector: a receiver's library verifies what we send
    /// only if this comes out byte for byte.
    #[test]
    fn signs_the_standard_webhooks_test_vector() {
        let secret =
            SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(secret.reveal(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    }

    #[test]
    fn a_rotation_signs_with_both_secrets() {
        let old = SigningSecret::from_bytes([1; SECRET_BYTES]);
        let new = SigningSecret::from_bytes([2; SECRET_BYTES]);
        let header = signature_header(&[&new, &old], "msg_1", 10, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(
            parts,
            [new.sign("msg_1", 10, b"{}"), old.sign("msg_1", 10, b"{}")]
        );
        assert_ne!(parts[0], parts[1]);
    }

    #[test]
    fn endpoint_addresses_are_https_with_a_host() {
        assert!(endpoint_url("https://hooks.example.com/in", false).is_ok());
        assert!(endpoint_url("http://hooks.example.com/in", false).is_err());
        assert!(endpoint_url("http://127.0.0.1:9000/in", true).is_ok());
        assert!(endpoint_url("https://user:pw@example.com/", false).is_err());
        assert!(endpoint_url("https:///path", false).is_err());
        assert!(endpoint_url("ftp://example.com/", true).is_err());
        assert_eq!(
            literal_address("https://169.254.169.254/latest"),
            Some("169.254.169.254".parse().expect("ip"))
        );
        assert_eq!(
            literal_address("https://[::1]:8443/x"),
            Some("::1".parse().expect("ip"))
        );
        assert_eq!(literal_address("https://example.com:8443/x"), None);
    }

    #[test]
    fn a_secret_must_be_base64() {
        assert!(SigningSecret::parse("whsec_not base64!").is_err());
        assert!(SigningSecret::parse("whsec_").is_err());
    }

    #[test]
    fn retries_span_about_a_day_and_spread() {
        let total: f64 = (1..=RETRIES)
            .map(|n| retry_delay(n, 0.5).as_secs_f64())
            .sum();
        assert!((20.0 * 3600.0..30.0 * 3600.0).contains(&total), "{total}");
        assert!(retry_delay(2, 0.0) < retry_delay(2, 1.0));
        assert!(retry_delay(1, 0.5) < retry_delay(2, 0.5));
    }

    #[test]
    fn refuses_loopback_private_link_local_and_metadata_addresses() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            let ip: IpAddr = refused.parse().expect("address");
            assert!(!address_is_public(ip), "{refused}");
        }
        for allowed in ["93.184.215.14", "2606:4700::1111", "8.8.8.8"] {
            let ip: IpAddr = allowed.parse().expect("address");
            assert!(address_is_public(ip), "{allowed}");
        }
    }
}
