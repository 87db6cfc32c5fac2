//! Auth's published keys (JWKS): fetching them and keeping the usable ones.

use std::{collections::HashMap, sync::Arc};

use axum::http::StatusCode;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::VerifyingKey;
use jsonwebtoken::{
    DecodingKey,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse},
};

/// Largest JWKS document read; auth's holds a handful of keys (~150 bytes each).
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// The usable keys of one JWKS document, by `kid`.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// The public key (`x`) of each `kid`, to tell whether a key left the set.
    public_keys: HashMap<String, String>,
}

impl KeySet {
    /// The key named `kid`, if the set has it.
    pub fn get(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.keys.get(kid).cloned()
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key (nothing was ever fetched).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether every key of `previous` is still here, with the same public key.
    pub fn keeps_every_key_of(&self, previous: &KeySet) -> bool {
        previous
            .public_keys
            .iter()
            .all(|(kid, x)| self.public_keys.get(kid) == Some(x))
    }
}

/// Why a key set could not be had: fetched, or parsed from a given document.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// Connection refused, timeout, broken body...
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    /// Auth answered, but not 200.
    #[error("auth answered {0}")]
    Status(StatusCode),
    /// The document is larger than [`MAX_JWKS_BYTES`].
    #[error("the key set is larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    /// The document is not a JWKS.
    #[error("the key set is not a JWKS document: {0}")]
    Parse(#[from] serde_json::Error),
    /// The document has no Ed25519 signing key with a `kid`.
    #[error("the key set has no usable Ed25519 key")]
    NoUsableKey,
}

/// Fetches and parses the key set; `client` carries the deadline.
#[tracing::instrument(name = "jwks_fetch", skip_all, fields(url = %url))]
pub(crate) async fn fetch(client: &reqwest::Client, url: &str) -> Result<KeySet, JwksError> {
    let mut response = client.get(url).send().await?;
    if response.status() != StatusCode::OK {
        return Err(JwksError::Status(response.status()));
    }
    if response
        .content_length()
        .is_some_and(|length| length > MAX_JWKS_BYTES as u64)
    {
        return Err(JwksError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    parse(&body)
}

/// The usable keys of a JWKS document; unusable ones are skipped with a warning.
pub(crate) fn parse(document: &[u8]) -> Result<KeySet, JwksError> {
    let set: JwkSet = serde_json::from_slice(document)?;
    let mut keys = HashMap::new();
    let mut public_keys = HashMap::new();
    for jwk in &set.keys {
        match usable_key(jwk) {
            Ok((kid, x, key)) => {
                keys.insert(kid.clone(), Arc::new(key));
                public_keys.insert(kid, x);
            }
            Err(reason) => tracing::warn!(
                kid = jwk.common.key_id.as_deref().unwrap_or(""),
                reason,
                "jwks key skipped"
            ),
        }
    }
    if keys.is_empty() {
        return Err(JwksError::NoUsableKey);
    }
    Ok(KeySet { keys, public_keys })
}

/// A signing key with a `kid` and a valid Ed25519 public key. The point is checked
/// here because `jsonwebtoken` would panic at verification on an `x` shorter than
/// 32 bytes (and silently truncate a longer one).
fn usable_key(jwk: &Jwk) -> Result<(String, String, DecodingKey), &'static str> {
    let kid = match &jwk.common.key_id {
        Some(kid) if !kid.is_empty() => kid.clone(),
        _ => return Err("no kid"),
    };
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|key_use| *key_use != PublicKeyUse::Signature)
    {
        return Err("not a signing key");
    }
    if jwk
        .common
        .key_algorithm
        .is_some_and(|alg| alg != KeyAlgorithm::EdDSA)
    {
        return Err("not an EdDSA key");
    }
    let AlgorithmParameters::OctetKeyPair(params) = &jwk.algorithm else {
        return Err("not an OKP key");
    };
    if params.curve != EllipticCurve::Ed25519 {
        return Err("not an Ed25519 key");
    }
    let x = URL_SAFE_NO_PAD
        .decode(&params.x)
        .map_err(|_| "x is not base64url")?;
    let x: [u8; 32] = x.try_into().map_err(|_| "x is not 32 bytes")?;
    VerifyingKey::from_bytes(&x).map_err(|_| "x is not an Ed25519 point")?;
    let key = DecodingKey::from_ed_components(&params.x).map_err(|_| "x is not base64url")?;
    Ok((kid, params.x.clone(), key))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The public key of RFC 8032 §7.1, test 1.
    const RFC8032_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn document(keys: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&json!({ "keys": keys })).unwrap()
    }

    #[test]
    fn an_ed25519_signing_key_with_a_kid_is_kept() {
        let set = parse(&document(json!([
            {"kty": "OKP", "crv": "Ed25519", "x": RFC8032_X, "kid": "k1", "alg": "EdDSA", "use": "sig"}
        ])))
        .unwrap();

        assert!(set.get("k1").is_some());
    }

    #[test]
    fn unusable_keys_are_skipped_and_the_rest_kept() {
        let set = parse(&document(json!([
            {"kty": "OKP", "crv": "Ed25519", "x": RFC8032_X},
            {"kty": "OKP", "crv": "Ed25519", "x": "AAAA", "kid": "short"},
            {"kty": "OKP", "crv": "Ed25519", "x": RFC8032_X, "kid": "enc", "use": "enc"},
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "OKP", "crv": "Ed25519", "x": RFC8032_X, "kid": "good"}
        ])))
        .unwrap();

        assert_eq!(set.len(), 1);
        assert!(set.get("good").is_some());
    }

    #[test]
    fn a_set_keeps_the_keys_of_another_only_with_the_same_public_keys() {
        let k1 = json!({"kty": "OKP", "crv": "Ed25519", "x": RFC8032_X, "kid": "k1"});
        // RFC 8032 §7.1, test 2.
        let other_x = "PUAXw-hDiVqStwqnTRt-vJyYLM8uxJaMwM1V8Sr0Zgw";
        let k2 = json!({"kty": "OKP", "crv": "Ed25519", "x": other_x, "kid": "k2"});
        let k1_other_x = json!({"kty": "OKP", "crv": "Ed25519", "x": other_x, "kid": "k1"});
        let old = parse(&document(json!([k1]))).unwrap();

        let rotated = parse(&document(json!([k2, k1]))).unwrap();
        let k1_dropped = parse(&document(json!([k2]))).unwrap();
        let k1_replaced = parse(&document(json!([k1_other_x]))).unwrap();

        assert!(rotated.keeps_every_key_of(&old));
        assert!(!k1_dropped.keeps_every_key_of(&old));
        assert!(!k1_replaced.keeps_every_key_of(&old));
    }

    #[test]
    fn a_document_without_any_usable_key_is_an_error() {
        let error = parse(&document(
            json!([{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}]),
        ))
        .unwrap_err();

        assert!(matches!(error, JwksError::NoUsableKey), "{error}");
    }
}
