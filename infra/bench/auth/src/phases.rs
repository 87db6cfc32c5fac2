//! The timed loops. Each runs one untimed warm-up pass, then `rounds` timed passes
//! over every token, on the calling thread; a token that fails to verify aborts the
//! run (a figure for failures would mean nothing).

use std::hint::black_box;

use ed25519_dalek::Verifier;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use six_kit::auth::TokenVerifier;
use uuid::Uuid;

use crate::{
    cpu_time::{Round, Stopwatch},
    tokens::LocalTokens,
};

/// Tokens verified by the warm-up pass.
const WARM_UP_TOKENS: usize = 1_000;

/// The Ed25519 signature checks alone, public key decoded once.
pub fn signature_floor(local: &LocalTokens, rounds: usize) -> anyhow::Result<Vec<Round>> {
    let pass = |signed: &[(Vec<u8>, ed25519_dalek::Signature)]| -> anyhow::Result<u64> {
        for (message, signature) in signed {
            local.verifying_key.verify(black_box(message), signature)?;
        }
        Ok(signed.len() as u64)
    };
    pass(&local.signed[..WARM_UP_TOKENS.min(local.signed.len())])?;
    (0..rounds)
        .map(|_| {
            let stopwatch = Stopwatch::start();
            let verified = pass(&local.signed)?;
            Ok(stopwatch.stop(verified))
        })
        .collect()
}

/// The claims as the verifier reads them (its struct is private to the kit).
#[derive(Deserialize)]
#[allow(dead_code)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    kind: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: Uuid,
}

/// `jsonwebtoken::decode` with the verifier's validation, key decoded once.
pub fn jsonwebtoken_decode(
    local: &LocalTokens,
    issuer: &str,
    audience: &str,
    rounds: usize,
) -> anyhow::Result<Vec<Round>> {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.validate_nbf = true;
    validation.leeway = 30;
    let pass = |tokens: &[String]| -> anyhow::Result<u64> {
        for token in tokens {
            black_box(jsonwebtoken::decode::<Claims>(
                black_box(token),
                &local.decoding_key,
                &validation,
            )?);
        }
        Ok(tokens.len() as u64)
    };
    pass(&local.tokens[..WARM_UP_TOKENS.min(local.tokens.len())])?;
    (0..rounds)
        .map(|_| {
            let stopwatch = Stopwatch::start();
            let verified = pass(&local.tokens)?;
            Ok(stopwatch.stop(verified))
        })
        .collect()
}

/// `TokenVerifier::verify`, the whole check a request pays for, key set cached.
/// With `seen_before`, the warm-up pass covers every token, so each timed check is
/// of a token the verifier already verified (its cache of verified tokens must
/// hold them all); otherwise it covers a few, as for the other phases.
pub async fn token_verifier(
    verifier: &TokenVerifier,
    tokens: &[String],
    rounds: usize,
    seen_before: bool,
) -> anyhow::Result<Vec<Round>> {
    async fn pass(verifier: &TokenVerifier, tokens: &[String]) -> anyhow::Result<u64> {
        for token in tokens {
            black_box(verifier.verify(black_box(token)).await?);
        }
        Ok(tokens.len() as u64)
    }
    let warm_up = if seen_before {
        tokens
    } else {
        &tokens[..WARM_UP_TOKENS.min(tokens.len())]
    };
    pass(verifier, warm_up).await?;
    let mut measured = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let stopwatch = Stopwatch::start();
        let verified = pass(verifier, tokens).await?;
        measured.push(stopwatch.stop(verified));
    }
    Ok(measured)
}
