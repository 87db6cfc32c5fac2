//! The tokens every phase verifies, minted before any timing: distinct user tokens
//! (each its own user id and `jti`) from a `TestIssuer` for the verifier, and the
//! same claims signed with a local key for the phases without a key set.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey, pkcs8::EncodePrivateKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use six_kit::testing::TestIssuer;
use uuid::Uuid;

/// A fixed key: the benchmark needs no secrecy, only the same kind of signature.
const LOCAL_SEED: [u8; 32] = [7; 32];

/// Tokens signed with the local key, and what the lower phases need to check them.
pub struct LocalTokens {
    /// Compact JWS strings, as `jsonwebtoken::decode` takes them.
    pub tokens: Vec<String>,
    /// Signing input (`header.claims`) and signature of each token.
    pub signed: Vec<(Vec<u8>, Signature)>,
    /// The public key, decoded once.
    pub verifying_key: VerifyingKey,
    /// The public key as `jsonwebtoken` holds it.
    pub decoding_key: DecodingKey,
}

/// `count` distinct user tokens from `issuer`.
pub fn issuer_tokens(issuer: &TestIssuer, count: usize) -> Vec<String> {
    (0..count)
        .map(|_| issuer.user_token(Uuid::now_v7()))
        .collect()
}

/// `count` distinct user tokens with the issuer's claims, signed with the local key.
pub fn local_tokens(issuer: &TestIssuer, count: usize) -> anyhow::Result<LocalTokens> {
    let signing_key = SigningKey::from_bytes(&LOCAL_SEED);
    let encoding_key = EncodingKey::from_ed_der(signing_key.to_pkcs8_der()?.as_bytes());
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some("at+jwt".to_owned());
    header.kid = Some("bench".to_owned());
    let mut tokens = Vec::with_capacity(count);
    let mut signed = Vec::with_capacity(count);
    for _ in 0..count {
        let token =
            jsonwebtoken::encode(&header, &issuer.user_claims(Uuid::now_v7()), &encoding_key)?;
        let (message, signature) = token
            .rsplit_once('.')
            .ok_or_else(|| anyhow::anyhow!("a compact JWS has three parts"))?;
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature)?)?;
        signed.push((message.as_bytes().to_vec(), signature));
        tokens.push(token);
    }
    let verifying_key = signing_key.verifying_key();
    let decoding_key =
        DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(verifying_key.as_bytes()))?;
    Ok(LocalTokens {
        tokens,
        signed,
        verifying_key,
        decoding_key,
    })
}
