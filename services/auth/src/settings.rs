//! The service's own configuration (the common variables are the kit's).

use std::{path::PathBuf, time::Duration};

use axum::http::HeaderName;
use secrecy::SecretString;
use six_kit::{
    auth::{DEFAULT_AUDIENCE, DEFAULT_ISSUER},
    config::{ConfigError, Env},
};

use crate::{
    clients::ServiceClients, password::HashCost, proxy::ProxySettings, throttle::ThrottleSettings,
};

/// Everything auth reads beyond the common settings.
pub struct Settings {
    /// PEM files of the Ed25519 keys; the first signs.
    pub signing_key_files: Vec<PathBuf>,
    /// `iss` of every token.
    pub issuer: String,
    /// `aud` of every token.
    pub audience: String,
    /// Tolerance on `exp`, `nbf` and `iat` when auth verifies its own tokens
    /// (replicas' clocks may disagree).
    pub clock_skew: Duration,
    /// Lifetime of access tokens.
    pub access_token_lifetime: Duration,
    /// Lifetime of each refresh token.
    pub refresh_token_lifetime: Duration,
    /// argon2id cost.
    pub hash_cost: HashCost,
    /// Hashes computed at once.
    pub max_concurrent_hashes: usize,
    /// Login throttling.
    pub throttle: ThrottleSettings,
    /// Header holding the client address set by the trusted proxy in front (its
    /// last entry is used); without it, the TCP peer address.
    pub client_address_header: Option<HeaderName>,
    /// Clients allowed to get service tokens.
    pub service_clients: ServiceClients,
    /// Third-party providers of the token proxy.
    pub proxy: ProxySettings,
    /// Time between two housekeeping passes.
    pub housekeeping_interval: Duration,
}

impl Settings {
    /// Reads and checks the settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let signing_key_files: String = env.required(
            "AUTH_SIGNING_KEY_FILES",
            "comma-separated PKCS#8 PEM files of Ed25519 keys, the signing key first \
             (make one with `openssl genpkey -algorithm ed25519 -out key.pem`)",
        )?;
        let client_address_header =
            match env.optional::<String>("AUTH_CLIENT_ADDRESS_HEADER", String::new())? {
                name if name.is_empty() => None,
                name => Some(
                    HeaderName::try_from(name).map_err(|error| ConfigError::Invalid {
                        name: "AUTH_CLIENT_ADDRESS_HEADER".to_owned(),
                        reason: error.to_string(),
                    })?,
                ),
            };
        let service_clients =
            SecretString::from(env.optional::<String>("AUTH_SERVICE_CLIENTS", String::new())?);
        let service_clients =
            ServiceClients::parse(&service_clients).map_err(|reason| ConfigError::Invalid {
                name: "AUTH_SERVICE_CLIENTS".to_owned(),
                reason,
            })?;
        let housekeeping_interval =
            env.millis("AUTH_HOUSEKEEPING_INTERVAL_MS", Duration::from_secs(3600))?;
        if housekeeping_interval.is_zero() {
            return Err(ConfigError::Invalid {
                name: "AUTH_HOUSEKEEPING_INTERVAL_MS".to_owned(),
                reason: "must be greater than zero".to_owned(),
            });
        }
        Ok(Self {
            signing_key_files: signing_key_files
                .split(',')
                .map(str::trim)
                .filter(|path| !path.is_empty())
                .map(PathBuf::from)
                .collect(),
            issuer: env.optional("AUTH_ISSUER", DEFAULT_ISSUER.to_owned())?,
            audience: env.optional("AUTH_AUDIENCE", DEFAULT_AUDIENCE.to_owned())?,
            clock_skew: Duration::from_secs(env.optional("AUTH_CLOCK_SKEW_SECS", 30)?),
            access_token_lifetime: Duration::from_secs(
                env.optional("AUTH_ACCESS_TOKEN_TTL_SECS", 900)?,
            ),
            refresh_token_lifetime: Duration::from_secs(
                env.optional("AUTH_REFRESH_TOKEN_TTL_SECS", 30 * 24 * 3600)?,
            ),
            hash_cost: HashCost {
                memory_kib: env.optional("AUTH_ARGON2_MEMORY_KIB", 19 * 1024)?,
                iterations: env.optional("AUTH_ARGON2_ITERATIONS", 2)?,
                parallelism: env.optional("AUTH_ARGON2_PARALLELISM", 1)?,
            },
            max_concurrent_hashes: env.optional("AUTH_MAX_CONCURRENT_HASHES", cores())?,
            throttle: ThrottleSettings {
                free_failures_per_account: env
                    .optional("AUTH_LOGIN_FREE_FAILURES_PER_ACCOUNT", 5)?,
                free_failures_per_address: env
                    .optional("AUTH_LOGIN_FREE_FAILURES_PER_ADDRESS", 20)?,
                first_lockout: env.millis("AUTH_LOGIN_FIRST_LOCKOUT_MS", Duration::from_secs(5))?,
                max_lockout: env.millis("AUTH_LOGIN_MAX_LOCKOUT_MS", Duration::from_secs(900))?,
                failure_window: env
                    .millis("AUTH_LOGIN_FAILURE_WINDOW_MS", Duration::from_secs(900))?,
            },
            client_address_header,
            service_clients,
            proxy: ProxySettings::from_env(env)?,
            housekeeping_interval,
        })
    }
}

/// The cores this process may use: one hash at a time per core is all the CPU
/// there is (more only lengthens each hash and holds more memory).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
