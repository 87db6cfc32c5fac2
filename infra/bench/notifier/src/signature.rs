//! Checking a webhook call's signature as a receiver would, per the Standard
//! Webhooks specification, written here from the specification rather than taken
//! from the notifier, so that the benchmark's endpoint is a second opinion: the
//! signed content is `<webhook-id>.<webhook-timestamp>.<body>`; the key is the
//! base64 after `whsec_` in the endpoint's secret; `webhook-signature` holds one
//! or more `v1,<base64 of HMAC-SHA256>`, space-separated, and one matching is
//! enough. A timestamp more than [`TOLERANCE_SECS`] away from now is refused, as
//! the specification's libraries do against replays.

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a call's timestamp may be from the receiver's clock.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// Why a call's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The endpoint's secret is not `whsec_<base64>`.
    #[error("the secret is not whsec_<base64>")]
    Secret,
    /// `webhook-timestamp` is not a whole number of seconds.
    #[error("webhook-timestamp is not a number of seconds")]
    Timestamp,
    /// The timestamp is further from now than [`TOLERANCE_SECS`].
    #[error("webhook-timestamp is {off_by_secs} s from now")]
    OutsideTolerance {
        /// Seconds between the timestamp and now (positive: in the future).
        off_by_secs: i64,
    },
    /// No `v1,` signature in `webhook-signature`.
    #[error("no v1 signature in webhook-signature")]
    NoSignature,
    /// No `v1,` signature matches the signed content.
    #[error("no v1 signature matches")]
    Mismatch,
}

/// Checks one call: `webhook_id`, `timestamp` and `signatures` are its three
/// headers, `body` its body as received, `secret` its endpoint's (`whsec_...`),
/// `now_secs` the receiver's clock.
pub fn verify(
    secret: &str,
    webhook_id: &str,
    timestamp: &str,
    body: &[u8],
    signatures: &str,
    now_secs: i64,
) -> Result<(), SignatureError> {
    let key = secret
        .strip_prefix("whsec_")
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .filter(|key| !key.is_empty())
        .ok_or(SignatureError::Secret)?;
    let sent_at: i64 = timestamp.parse().map_err(|_| SignatureError::Timestamp)?;
    let off_by_secs = sent_at - now_secs;
    if off_by_secs.abs() > TOLERANCE_SECS {
        return Err(SignatureError::OutsideTolerance { off_by_secs });
    }
    let candidates: Vec<Vec<u8>> = signatures
        .split(' ')
        .filter_map(|signature| signature.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .collect();
    if candidates.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let matches = candidates.iter().any(|candidate| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
            return false;
        };
        mac.update(webhook_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        // Compared in constant time, as a receiver should.
        mac.verify_slice(candidate).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification and its reference
    /// libraries' tests.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: &str = "1614265330";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const NOW: i64 = 1_614_265_330;

    #[test]
    fn the_specifications_example_verifies() {
        assert_eq!(verify(SECRET, ID, TIMESTAMP, BODY, SIGNATURE, NOW), Ok(()));
    }

    #[test]
    fn a_changed_body_id_or_timestamp_is_refused() {
        let body = br#"{"test": 2432232315}"#;

        assert_eq!(
            verify(SECRET, ID, TIMESTAMP, body, SIGNATURE, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, "msg_other", TIMESTAMP, BODY, SIGNATURE, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, ID, "1614265331", BODY, SIGNATURE, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn one_matching_signature_among_several_is_enough() {
        let header = format!("v1,bm90IHRoaXMgb25l v1a,{} {SIGNATURE}", &SIGNATURE[3..]);

        assert_eq!(verify(SECRET, ID, TIMESTAMP, BODY, &header, NOW), Ok(()));
    }

    #[test]
    fn a_signature_of_another_scheme_does_not_count() {
        let header = format!("v1a,{}", &SIGNATURE[3..]);

        assert_eq!(
            verify(SECRET, ID, TIMESTAMP, BODY, &header, NOW),
            Err(SignatureError::NoSignature)
        );
    }

    #[test]
    fn an_old_or_future_timestamp_is_refused() {
        assert_eq!(
            verify(SECRET, ID, TIMESTAMP, BODY, SIGNATURE, NOW + 301),
            Err(SignatureError::OutsideTolerance { off_by_secs: -301 })
        );
        assert_eq!(
            verify(SECRET, ID, TIMESTAMP, BODY, SIGNATURE, NOW - 301),
            Err(SignatureError::OutsideTolerance { off_by_secs: 301 })
        );
        assert_eq!(
            verify(SECRET, ID, "soon", BODY, SIGNATURE, NOW),
            Err(SignatureError::Timestamp)
        );
    }

    #[test]
    fn a_secret_without_its_prefix_is_refused() {
        assert_eq!(
            verify(&SECRET[6..], ID, TIMESTAMP, BODY, SIGNATURE, NOW),
            Err(SignatureError::Secret)
        );
    }
}
