//! Signing per the Standard Webhooks specification: the signed content is
//! `<webhook-id>.<webhook-timestamp>.<body>`, the signature its HMAC-SHA256 under
//! the endpoint's secret, sent as `v1,<base64>` in `webhook-signature`. During a
//! secret rotation a message carries one signature per live secret, separated by
//! spaces, so receivers verify with either.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};

/// The prefix of a secret's text form.
const SECRET_PREFIX: &str = "whsec_";

/// Bytes of a new secret (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 32;

/// An endpoint's signing key, shown to its owner as `whsec_<base64>`.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("WebhookSecret(..)")
    }
}

impl WebhookSecret {
    /// A new random secret.
    pub fn generate() -> Self {
        let mut bytes = vec![0_u8; SECRET_BYTES];
        getrandom::fill(&mut bytes).expect("the operating system provides random bytes");
        Self(bytes)
    }

    /// The secret as stored and shown: `whsec_<base64>`.
    pub fn to_text(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// Reads a secret's text form.
    pub fn from_text(text: &str) -> Option<Self> {
        let encoded = text.strip_prefix(SECRET_PREFIX)?;
        STANDARD
            .decode(encoded)
            .ok()
            .filter(|bytes| !bytes.is_empty())
            .map(Self)
    }

    /// The `v1,<base64>` signature of a message.
    pub fn sign(&self, message_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<sha2::Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(format!("{message_id}.{timestamp_secs}.").as_bytes());
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header: one signature per secret.
pub fn signature_header(
    secrets: &[WebhookSecret],
    message_id: &str,
    timestamp_secs: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|secret| secret.sign(message_id, timestamp_secs, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification and its reference
    /// libraries' tests.
    #[test]
    fn the_specifications_example_signs_to_its_published_signature() {
        let secret = WebhookSecret::from_text("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = secret.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_rotation_signs_with_every_live_secret() {
        let old = WebhookSecret::generate();
        let new = WebhookSecret::generate();
        let header = signature_header(&[new.clone(), old.clone()], "msg_1", 1, b"{}");
        let signatures: Vec<&str> = header.split(' ').collect();
        assert_eq!(
            signatures,
            [new.sign("msg_1", 1, b"{}"), old.sign("msg_1", 1, b"{}")]
        );
        assert_ne!(signatures[0], signatures[1]);
    }

    #[test]
    fn a_secret_reads_back_from_its_text_and_never_prints() {
        let secret = WebhookSecret::generate();
        let text = secret.to_text();
        assert!(text.starts_with("whsec_"));
        assert_eq!(WebhookSecret::from_text(&text), Some(secret.clone()));
        assert_eq!(
            WebhookSecret::from_text("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            None
        );
        assert!(!format!("{secret:?}").contains(&text[6..]));
    }
}
