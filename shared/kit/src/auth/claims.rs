//! Reading a token against `docs/tokens.md`: the header before any key is looked
//! up, then the signature and claims with `jsonwebtoken`.
//!
//! The claims are deserialised into a strict struct: every claim required, each of
//! its JSON type. When that fails, the claims are read again as plain JSON to say
//! which claim is missing or wrong; that slower path only runs for bad tokens.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::{Deserialize, de::IgnoredAny};
use uuid::Uuid;

use super::{
    error::{TokenError, echoed},
    token::{Principal, VerifiedToken},
};

/// The only accepted `alg`.
const ALGORITHM: &str = "EdDSA";

/// Longer strings are refused before any parsing: real tokens are ~400 bytes.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Every claim of `docs/tokens.md`, all required, in the order they are diagnosed.
const REQUIRED_CLAIMS: [&str; 8] = ["iss", "aud", "sub", "kind", "iat", "nbf", "exp", "jti"];

/// What the header says, once it is acceptable.
#[derive(Debug)]
pub(crate) struct TokenHeader {
    /// The key that signed the token.
    pub kid: String,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// The claims of an access token, each of its contract type. `iss` and `aud` are
/// compared by `jsonwebtoken`; they are here so that their type is checked too.
#[derive(Deserialize)]
struct AccessClaims {
    #[serde(rename = "iss")]
    _iss: String,
    #[serde(rename = "aud")]
    _aud: String,
    sub: String,
    kind: Kind,
    iat: u64,
    #[serde(rename = "nbf")]
    _nbf: u64,
    exp: u64,
    jti: Uuid,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    User,
    Service,
}

/// Checks the header: shape, `alg`, `typ`, `crit` and `kid`.
pub(crate) fn read_header(token: &str) -> Result<TokenHeader, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed("the token is too long"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("expected three dot-separated parts"));
    };
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed("the header is not base64url"))?;
    let header: RawHeader = serde_json::from_slice(&header)
        .map_err(|_| TokenError::Malformed("the header is not a JWS header"))?;
    if header.alg != ALGORITHM {
        return Err(TokenError::UnsupportedAlgorithm {
            alg: echoed(&header.alg),
        });
    }
    let typ = header.typ.unwrap_or_default();
    if !(typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")) {
        return Err(TokenError::WrongType { typ: echoed(&typ) });
    }
    if header.crit.is_some() {
        return Err(TokenError::CriticalHeader);
    }
    match header.kid {
        Some(kid) if !kid.is_empty() => Ok(TokenHeader { kid }),
        _ => Err(TokenError::MissingKeyId),
    }
}

/// The `jsonwebtoken` settings: EdDSA only, every spec claim required, `iss`,
/// `aud`, `exp` and `nbf` checked with `clock_skew` of leeway.
pub(crate) fn validation(issuer: &str, audience: &str, clock_skew: Duration) -> Validation {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = true;
    validation.leeway = clock_skew.as_secs();
    validation
}

/// Checks the signature with `key` and the claims with `validation` (from
/// [`validation`]), plus `iat` against the clock.
pub(crate) fn verify_with_key(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
) -> Result<VerifiedToken, TokenError> {
    let claims = jsonwebtoken::decode::<AccessClaims>(token, key, validation)
        .map_err(|error| refusal(error.kind(), token))?
        .claims;
    let now_secs = jsonwebtoken::get_current_timestamp();
    if claims.iat > now_secs.saturating_add(validation.leeway) {
        return Err(TokenError::IssuedInFuture);
    }
    let principal = match claims.kind {
        Kind::User => Principal::User {
            user_id: Uuid::parse_str(&claims.sub).map_err(|_| TokenError::InvalidClaim("sub"))?,
        },
        Kind::Service if claims.sub.is_empty() => return Err(TokenError::InvalidClaim("sub")),
        Kind::Service => Principal::Service {
            client_id: claims.sub,
        },
    };
    Ok(VerifiedToken {
        principal,
        token_id: claims.jti,
        issued_at_secs: claims.iat,
        expires_at_secs: claims.exp,
    })
}

/// The precise reason for a `jsonwebtoken` error.
fn refusal(kind: &ErrorKind, token: &str) -> TokenError {
    match kind {
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::MissingRequiredClaim(name) => TokenError::MissingClaim(claim_name(name)),
        ErrorKind::InvalidClaimFormat(name) => TokenError::InvalidClaim(claim_name(name)),
        ErrorKind::Json(_) => diagnose_claims(token),
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
            TokenError::Malformed("a part is not base64url")
        }
        _ => TokenError::Malformed("the token cannot be decoded"),
    }
}

fn claim_name(name: &str) -> &'static str {
    REQUIRED_CLAIMS
        .into_iter()
        .find(|claim| *claim == name)
        .unwrap_or("unknown")
}

/// Which claim made the strict deserialisation fail: the first one missing or not
/// of its contract type.
fn diagnose_claims(token: &str) -> TokenError {
    let Some(claims) = token.split('.').nth(1) else {
        return TokenError::Malformed("expected three dot-separated parts");
    };
    let Ok(claims) = URL_SAFE_NO_PAD.decode(claims) else {
        return TokenError::Malformed("the claims are not base64url");
    };
    let Ok(serde_json::Value::Object(claims)) = serde_json::from_slice(&claims) else {
        return TokenError::Malformed("the claims are not a JSON object");
    };
    for name in REQUIRED_CLAIMS {
        let Some(value) = claims.get(name) else {
            return TokenError::MissingClaim(name);
        };
        let valid = match name {
            "kind" => matches!(value.as_str(), Some("user" | "service")),
            "iat" | "nbf" | "exp" => value.as_u64().is_some(),
            "jti" => value
                .as_str()
                .is_some_and(|jti| Uuid::parse_str(jti).is_ok()),
            _ => value.is_string(),
        };
        if !valid {
            return TokenError::InvalidClaim(name);
        }
    }
    TokenError::Malformed("the token cannot be decoded")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn encode_part(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn with_header(header: serde_json::Value) -> String {
        format!("{}.e30.c2ln", encode_part(&header))
    }

    fn with_claims(claims: serde_json::Value) -> String {
        format!("eyJhbGciOiJFZERTQSJ9.{}.c2ln", encode_part(&claims))
    }

    fn good_claims() -> serde_json::Value {
        json!({
            "iss": "six-degrees-auth", "aud": "six-degrees",
            "sub": "0190f5d2-4f6a-7cc1-9c1e-3f1d2a4b5c6d", "kind": "user",
            "iat": 1_700_000_000_u64, "nbf": 1_700_000_000_u64, "exp": 1_700_000_900_u64,
            "jti": "0190f5d2-4f6a-7cc1-9c1e-3f1d2a4b5c6e",
        })
    }

    #[test]
    fn a_header_with_eddsa_at_jwt_and_a_kid_is_read() {
        let token = with_header(json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "k1"}));

        assert_eq!(read_header(&token).unwrap().kid, "k1");
    }

    #[test]
    fn alg_none_is_refused_before_anything_else() {
        let token = with_header(json!({"alg": "none"}));

        assert_eq!(
            read_header(&token).unwrap_err(),
            TokenError::UnsupportedAlgorithm { alg: "none".into() }
        );
    }

    #[test]
    fn a_token_without_the_access_token_type_is_refused() {
        let token = with_header(json!({"alg": "EdDSA", "typ": "JWT", "kid": "k1"}));

        assert_eq!(
            read_header(&token).unwrap_err(),
            TokenError::WrongType { typ: "JWT".into() }
        );
    }

    #[test]
    fn critical_header_extensions_are_refused() {
        let token =
            with_header(json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "k1", "crit": ["b64"]}));

        assert_eq!(read_header(&token).unwrap_err(), TokenError::CriticalHeader);
    }

    #[test]
    fn an_empty_kid_counts_as_missing() {
        let token = with_header(json!({"alg": "EdDSA", "typ": "at+jwt", "kid": ""}));

        assert_eq!(read_header(&token).unwrap_err(), TokenError::MissingKeyId);
    }

    #[test]
    fn a_token_with_two_parts_is_malformed() {
        assert!(matches!(
            read_header("eyJhbGciOiJFZERTQSJ9.e30"),
            Err(TokenError::Malformed(_))
        ));
    }

    #[test]
    fn each_missing_claim_is_named() {
        for name in REQUIRED_CLAIMS {
            let mut claims = good_claims();
            claims.as_object_mut().unwrap().remove(name);

            assert_eq!(
                diagnose_claims(&with_claims(claims)),
                TokenError::MissingClaim(name)
            );
        }
    }

    #[test]
    fn each_claim_of_the_wrong_type_is_named() {
        for name in REQUIRED_CLAIMS {
            let mut claims = good_claims();
            claims[name] = json!(["wrong"]);

            assert_eq!(
                diagnose_claims(&with_claims(claims)),
                TokenError::InvalidClaim(name)
            );
        }
    }

    #[test]
    fn the_strict_claims_accept_exactly_what_the_diagnosis_accepts() {
        let good = serde_json::to_vec(&good_claims()).unwrap();
        let mut float_exp = good_claims();
        float_exp["exp"] = json!(1.5e9);

        assert!(serde_json::from_slice::<AccessClaims>(&good).is_ok());
        assert!(matches!(
            diagnose_claims(&with_claims(good_claims())),
            TokenError::Malformed(_)
        ));
        assert!(
            serde_json::from_slice::<AccessClaims>(&serde_json::to_vec(&float_exp).unwrap())
                .is_err()
        );
        assert_eq!(
            diagnose_claims(&with_claims(float_exp)),
            TokenError::InvalidClaim("exp")
        );
    }
}
