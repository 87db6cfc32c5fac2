//! Settings of token verification, read from the environment.

use std::time::Duration;

use crate::config::{ConfigError, Env};

/// Issuer `AUTH_ISSUER` defaults to, as in `docs/tokens.md`.
pub const DEFAULT_ISSUER: &str = "six-degrees-auth";
/// Audience `AUTH_AUDIENCE` defaults to, as in `docs/tokens.md`.
pub const DEFAULT_AUDIENCE: &str = "six-degrees";

/// Tokens remembered as verified unless `AUTH_VERIFIED_TOKEN_CACHE_ENTRIES` says
/// otherwise: ~100 bytes each, so at most ~1 MB.
pub const DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES: usize = 10_000;

/// Longest background refresh interval: a day (keys rotate far less often, but a
/// verifier should not go on with a set older than that).
const MAX_REFRESH: Duration = Duration::from_secs(24 * 60 * 60);

/// How a service verifies access tokens (see `shared/kit/README.md`, "Auth").
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Where auth publishes its keys (`AUTH_JWKS_URL`).
    pub jwks_url: String,
    /// The only accepted `iss` (`AUTH_ISSUER`).
    pub issuer: String,
    /// The only accepted `aud` (`AUTH_AUDIENCE`).
    pub audience: String,
    /// Tolerance on `exp`, `nbf` and `iat` for clocks that disagree
    /// (`AUTH_CLOCK_SKEW_SECS`).
    pub clock_skew: Duration,
    /// Age after which the key set is fetched again in the background
    /// (`AUTH_JWKS_REFRESH_SECS`).
    pub jwks_refresh_interval: Duration,
    /// Shortest time between two fetches caused by tokens with an unknown `kid`
    /// (`AUTH_JWKS_MIN_REFETCH_MS`), so made-up key ids cannot flood auth.
    pub jwks_min_refetch_interval: Duration,
    /// Deadline of each call to auth (`AUTH_HTTP_TIMEOUT_MS`).
    pub http_timeout: Duration,
    /// Most tokens remembered as verified until they expire
    /// (`AUTH_VERIFIED_TOKEN_CACHE_ENTRIES`; 0 verifies every token in full).
    pub verified_token_cache_entries: usize,
}

impl AuthConfig {
    /// Reads the settings; an error names the variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let config = Self {
            jwks_url: http_url(
                env,
                "AUTH_JWKS_URL",
                "auth's key set, e.g. http://auth:8080/.well-known/jwks.json",
            )?,
            issuer: env.optional("AUTH_ISSUER", DEFAULT_ISSUER.to_owned())?,
            audience: env.optional("AUTH_AUDIENCE", DEFAULT_AUDIENCE.to_owned())?,
            clock_skew: Duration::from_secs(env.optional("AUTH_CLOCK_SKEW_SECS", 30)?),
            jwks_refresh_interval: Duration::from_secs(
                env.optional("AUTH_JWKS_REFRESH_SECS", 300)?,
            ),
            jwks_min_refetch_interval: env
                .millis("AUTH_JWKS_MIN_REFETCH_MS", Duration::from_secs(10))?,
            http_timeout: env.millis("AUTH_HTTP_TIMEOUT_MS", Duration::from_secs(5))?,
            verified_token_cache_entries: env.optional(
                "AUTH_VERIFIED_TOKEN_CACHE_ENTRIES",
                DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES,
            )?,
        };
        if config.jwks_refresh_interval.is_zero() || config.jwks_refresh_interval > MAX_REFRESH {
            return Err(ConfigError::Invalid {
                name: "AUTH_JWKS_REFRESH_SECS".to_owned(),
                reason: format!("must be between 1 and {}", MAX_REFRESH.as_secs()),
            });
        }
        if config.http_timeout.is_zero() {
            return Err(ConfigError::Invalid {
                name: "AUTH_HTTP_TIMEOUT_MS".to_owned(),
                reason: "must be greater than zero".to_owned(),
            });
        }
        Ok(config)
    }
}

/// A required `http://` or `https://` URL (TLS with the system's root
/// certificates), refused at start-up rather than failing at every call.
pub(crate) fn http_url(env: &Env, name: &str, help: &'static str) -> Result<String, ConfigError> {
    let url: String = env.required(name, help)?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError::Invalid {
            name: name.to_owned(),
            reason: "expected an http:// or https:// URL".to_owned(),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Env {
        Env::from_pairs([("AUTH_JWKS_URL", "http://auth:8080/.well-known/jwks.json")])
    }

    #[test]
    fn defaults_follow_the_token_contract() {
        let config = AuthConfig::from_env(&minimal()).unwrap();

        assert_eq!(config.issuer, "six-degrees-auth");
        assert_eq!(config.audience, "six-degrees");
        assert_eq!(config.clock_skew, Duration::from_secs(30));
        assert_eq!(config.jwks_refresh_interval, Duration::from_secs(300));
        assert_eq!(config.jwks_min_refetch_interval, Duration::from_secs(10));
        assert_eq!(config.verified_token_cache_entries, 10_000);
    }

    #[test]
    fn a_missing_jwks_url_is_named_with_an_example() {
        let error = AuthConfig::from_env(&Env::default())
            .unwrap_err()
            .to_string();

        assert!(error.contains("AUTH_JWKS_URL"), "{error}");
        assert!(error.contains("jwks.json"), "{error}");
    }

    #[test]
    fn a_jwks_url_that_is_not_http_is_refused() {
        for url in ["auth:8080/jwks", "ftp://auth/.well-known/jwks.json"] {
            let env = Env::from_pairs([("AUTH_JWKS_URL", url)]);

            let error = AuthConfig::from_env(&env).unwrap_err().to_string();

            assert!(error.contains("AUTH_JWKS_URL"), "{error}");
        }
    }

    #[test]
    fn an_unparsable_skew_is_named() {
        let mut env = minimal();
        env.set("AUTH_CLOCK_SKEW_SECS", "half a minute");

        let error = AuthConfig::from_env(&env).unwrap_err().to_string();

        assert!(error.contains("AUTH_CLOCK_SKEW_SECS"), "{error}");
    }
}
