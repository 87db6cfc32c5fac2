//! The notifier's own configuration (the common variables are the kit's).

use std::time::Duration;

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use six_kit::{
    auth::AuthConfig,
    config::{ConfigError, Env},
    egress::EgressPolicy,
};

use crate::delivery::RetryPolicy;

/// Everything the notifier reads beyond the common settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Verifying the users' access tokens.
    pub auth: AuthConfig,
    /// The mail server and the sender.
    pub smtp: SmtpSettings,
    /// Where links in messages point (`NOTIFIER_PUBLIC_URL`): the base URL under
    /// which users reach the `/v1` routes, e.g. `https://six-degrees.example`.
    pub public_url: Url,
    /// Key of the unsubscribe links (`NOTIFIER_UNSUBSCRIBE_SECRET`, at least 32
    /// bytes): a link lets its holder turn one kind of e-mail off for one user.
    pub unsubscribe_secret: SecretString,
    /// How the dispatcher sends what is due.
    pub dispatch: DispatchSettings,
    /// Which endpoints users may register and how they are called.
    pub webhooks: WebhookSettings,
}

/// Webhook endpoints and calls.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `NOTIFIER_WEBHOOK_PRIVATE_ADDRESSES=true` lets endpoints resolve to
    /// loopback, private and link-local addresses (default: public only).
    pub policy: EgressPolicy,
    /// `NOTIFIER_WEBHOOK_REQUIRE_HTTPS` (default true): only `https://` endpoints.
    pub require_https: bool,
    /// `NOTIFIER_WEBHOOK_TIMEOUT_MS`: deadline of each call (default 10 s).
    pub timeout: Duration,
    /// `NOTIFIER_WEBHOOK_SECRET_OVERLAP_MS`: how long a rotated-out secret still
    /// signs (default 24 h).
    pub secret_overlap: Duration,
    /// `NOTIFIER_WEBHOOKS_PER_USER`: most endpoints a user may register (default 10).
    pub max_endpoints_per_user: i64,
}

/// The mail server.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// `SMTP_URL`: `smtp://host:25` (plain), `smtp://user:password@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:password@host:465` (TLS from the start).
    pub url: SecretString,
    /// `SMTP_FROM`: the sender, e.g. `Six Degrees <no-reply@six-degrees.example>`.
    pub from: lettre::message::Mailbox,
    /// `SMTP_POOL_SIZE`: connections kept open to the server (default 8: each
    /// message is four round trips, so connections, not CPU, bound the rate).
    pub pool_size: u32,
    /// `SMTP_TIMEOUT_MS`: deadline of each SMTP command (default 10 s).
    pub timeout: Duration,
}

/// The dispatcher's batches and retries.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// `NOTIFIER_DISPATCH_BATCH_SIZE`: deliveries claimed at once (default 100).
    pub batch_size: i64,
    /// `NOTIFIER_SEND_CONCURRENCY`: messages being sent at once (default 8).
    pub send_concurrency: usize,
    /// `NOTIFIER_CLAIM_TIMEOUT_MS`: how long a claimed delivery stays with its
    /// sender before another may take it (default 5 min; longer than a send can take).
    pub claim_timeout: Duration,
    /// `NOTIFIER_POLL_INTERVAL_MS`: how often the dispatcher looks for due
    /// retries when no new delivery woke it (default 1 s).
    pub poll_interval: Duration,
    /// When failed sends are tried again, and when to give up.
    pub retry: RetryPolicy,
    /// `NOTIFIER_WEBHOOK_DISABLE_AFTER`: failed calls in a row after which an
    /// endpoint is disabled (default 20).
    pub webhook_disable_after: i32,
    /// `NOTIFIER_DIGEST_INTERVAL_MS`: how often due daily digests are looked for
    /// (default 1 min: a digest goes out within a minute of its hour).
    pub digest_interval: Duration,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let public_url: String = env.required(
            "NOTIFIER_PUBLIC_URL",
            "the base URL users reach the /v1 routes at, e.g. https://six-degrees.example",
        )?;
        let public_url = Url::parse(&public_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.query().is_none())
            .ok_or_else(|| invalid("NOTIFIER_PUBLIC_URL", "must be an http(s) base URL"))?;
        let unsubscribe_secret = env.secret(
            "NOTIFIER_UNSUBSCRIBE_SECRET",
            "a random key of at least 32 bytes, e.g. from `openssl rand -base64 32`",
        )?;
        if unsubscribe_secret.expose_secret().len() < 32 {
            return Err(invalid(
                "NOTIFIER_UNSUBSCRIBE_SECRET",
                "must be at least 32 bytes long",
            ));
        }
        Ok(Self {
            auth: AuthConfig::from_env(env)?,
            smtp: SmtpSettings::from_env(env)?,
            public_url,
            unsubscribe_secret,
            dispatch: DispatchSettings::from_env(env)?,
            webhooks: WebhookSettings::from_env(env)?,
        })
    }
}

impl WebhookSettings {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let max_endpoints_per_user = env.optional("NOTIFIER_WEBHOOKS_PER_USER", 10_i64)?;
        if max_endpoints_per_user < 1 {
            return Err(invalid("NOTIFIER_WEBHOOKS_PER_USER", "must be at least 1"));
        }
        Ok(Self {
            policy: if env.optional("NOTIFIER_WEBHOOK_PRIVATE_ADDRESSES", false)? {
                EgressPolicy::AnyAddress
            } else {
                EgressPolicy::PublicOnly
            },
            require_https: env.optional("NOTIFIER_WEBHOOK_REQUIRE_HTTPS", true)?,
            timeout: env.millis("NOTIFIER_WEBHOOK_TIMEOUT_MS", Duration::from_secs(10))?,
            secret_overlap: env.millis(
                "NOTIFIER_WEBHOOK_SECRET_OVERLAP_MS",
                Duration::from_secs(24 * 3600),
            )?,
            max_endpoints_per_user,
        })
    }
}

impl SmtpSettings {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let url = env.secret(
            "SMTP_URL",
            "the mail server, e.g. smtp://user:password@mail.example:587?tls=required",
        )?;
        let from: String = env.required(
            "SMTP_FROM",
            "the sender, e.g. Six Degrees <no-reply@six-degrees.example>",
        )?;
        let from = from
            .parse()
            .map_err(|error| invalid("SMTP_FROM", &format!("not a mailbox: {error}")))?;
        let pool_size = env.optional("SMTP_POOL_SIZE", 8_u32)?;
        if pool_size == 0 {
            return Err(invalid("SMTP_POOL_SIZE", "must be at least 1"));
        }
        Ok(Self {
            url,
            from,
            pool_size,
            timeout: env.millis("SMTP_TIMEOUT_MS", Duration::from_secs(10))?,
        })
    }
}

impl DispatchSettings {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let batch_size = env.optional("NOTIFIER_DISPATCH_BATCH_SIZE", 100_i64)?;
        if !(1..=10_000).contains(&batch_size) {
            return Err(invalid(
                "NOTIFIER_DISPATCH_BATCH_SIZE",
                "must be between 1 and 10000",
            ));
        }
        let send_concurrency = env.optional("NOTIFIER_SEND_CONCURRENCY", 8_usize)?;
        if send_concurrency == 0 {
            return Err(invalid("NOTIFIER_SEND_CONCURRENCY", "must be at least 1"));
        }
        let webhook_disable_after = env.optional("NOTIFIER_WEBHOOK_DISABLE_AFTER", 20_i32)?;
        if webhook_disable_after < 1 {
            return Err(invalid(
                "NOTIFIER_WEBHOOK_DISABLE_AFTER",
                "must be at least 1",
            ));
        }
        let retry = RetryPolicy {
            first_delay: env.millis("NOTIFIER_RETRY_FIRST_DELAY_MS", Duration::from_secs(30))?,
            max_delay: env.millis("NOTIFIER_RETRY_MAX_DELAY_MS", Duration::from_secs(3600))?,
            max_attempts: env.optional("NOTIFIER_MAX_ATTEMPTS", 12_i32)?,
        };
        if retry.max_attempts < 1 || retry.first_delay > retry.max_delay {
            return Err(invalid(
                "NOTIFIER_MAX_ATTEMPTS / NOTIFIER_RETRY_FIRST_DELAY_MS / NOTIFIER_RETRY_MAX_DELAY_MS",
                "need at least 1 attempt and a first delay no longer than the longest",
            ));
        }
        Ok(Self {
            batch_size,
            send_concurrency,
            claim_timeout: env.millis("NOTIFIER_CLAIM_TIMEOUT_MS", Duration::from_secs(300))?,
            poll_interval: env.millis("NOTIFIER_POLL_INTERVAL_MS", Duration::from_secs(1))?,
            retry,
            webhook_disable_after,
            digest_interval: env.millis("NOTIFIER_DIGEST_INTERVAL_MS", Duration::from_secs(60))?,
        })
    }
}

fn invalid(name: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name: name.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Env {
        Env::from_pairs([
            ("AUTH_JWKS_URL", "http://auth:8080/.well-known/jwks.json"),
            ("SMTP_URL", "smtp://mail:25"),
            ("SMTP_FROM", "Six Degrees <no-reply@six-degrees.example>"),
            ("NOTIFIER_PUBLIC_URL", "https://six-degrees.example"),
            (
                "NOTIFIER_UNSUBSCRIBE_SECRET",
                "0123456789abcdef0123456789abcdef",
            ),
        ])
    }

    #[test]
    fn the_defaults_apply_when_only_the_required_variables_are_set() {
        let settings = Settings::from_env(&minimal()).unwrap();
        assert_eq!(settings.smtp.pool_size, 8);
        assert_eq!(
            settings.smtp.from.email.to_string(),
            "no-reply@six-degrees.example"
        );
        assert_eq!(settings.dispatch.retry.max_attempts, 12);
        assert_eq!(settings.webhooks.policy, EgressPolicy::PublicOnly);
        assert!(settings.webhooks.require_https);
    }

    #[test]
    fn a_short_unsubscribe_secret_is_refused_by_name() {
        let mut env = minimal();
        env.set("NOTIFIER_UNSUBSCRIBE_SECRET", "too short");
        let error = Settings::from_env(&env).unwrap_err().to_string();
        assert!(error.contains("NOTIFIER_UNSUBSCRIBE_SECRET"), "{error}");
        assert!(!error.contains("too short"), "{error}");
    }

    #[test]
    fn a_sender_that_is_not_a_mailbox_is_refused_by_name() {
        let mut env = minimal();
        env.set("SMTP_FROM", "nobody");
        let error = Settings::from_env(&env).unwrap_err().to_string();
        assert!(error.contains("SMTP_FROM"), "{error}");
    }
}
