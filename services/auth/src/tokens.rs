//! Access tokens: short-lived JWTs signed with the active key (claims in
//! `docs/tokens.md`).

use std::{sync::Arc, time::Duration};

use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;
use uuid::Uuid;

use crate::keys::SigningKeys;

/// Whom a token speaks for.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// A person; `sub` is their user id.
    User,
    /// Another service; `sub` is its client id.
    Service,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    kind: TokenKind,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
}

/// A signed access token and its lifetime.
#[derive(Debug, Clone, Serialize)]
pub struct AccessToken {
    /// The compact JWS.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: u64,
}

/// Signs access tokens.
#[derive(Clone)]
pub struct TokenIssuer {
    keys: Arc<SigningKeys>,
    issuer: Arc<str>,
    audience: Arc<str>,
    lifetime: Duration,
}

impl TokenIssuer {
    /// An issuer signing with `keys`' active key.
    pub fn new(keys: Arc<SigningKeys>, issuer: &str, audience: &str, lifetime: Duration) -> Self {
        Self {
            keys,
            issuer: issuer.into(),
            audience: audience.into(),
            lifetime,
        }
    }

    /// The keys, for the JWKS.
    pub fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    /// A token for `subject`, valid from now for the configured lifetime.
    pub fn issue(
        &self,
        subject: &str,
        kind: TokenKind,
    ) -> Result<AccessToken, jsonwebtoken::errors::Error> {
        let active = self.keys.active();
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(active.kid.clone());
        header.typ = Some("at+jwt".to_owned());
        let now = chrono::Utc::now().timestamp();
        let lifetime_secs = i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX);
        let claims = Claims {
            iss: &self.issuer,
            aud: &self.audience,
            sub: subject,
            kind,
            iat: now,
            nbf: now,
            exp: now.saturating_add(lifetime_secs),
            jti: Uuid::now_v7().to_string(),
        };
        Ok(AccessToken {
            access_token: jsonwebtoken::encode(&header, &claims, &active.encoding)?,
            token_type: "Bearer",
            expires_in: self.lifetime.as_secs(),
        })
    }
}
