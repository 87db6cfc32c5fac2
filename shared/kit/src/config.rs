//! Configuration from environment variables (optionally from a file too), parsed
//! once at start-up into typed settings. A bad or missing variable stops the
//! service with an error that names it.
//!
//! Every variable is listed with its default in `shared/kit/README.md`.

use std::{
    collections::HashMap, fmt::Display, net::SocketAddr, path::Path, str::FromStr, time::Duration,
};

use secrecy::SecretString;
use six_bus::{BusConfig, QueueType};

/// A variable that is missing or cannot be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("environment variable {name} is required: {help}")]
    Missing {
        /// The variable.
        name: String,
        /// What it should hold.
        help: &'static str,
    },
    /// A variable is set to something that does not parse.
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: String,
        /// Why the value was refused (never the value itself: it may be a secret).
        reason: String,
    },
    /// The file named by `CONFIG_FILE` cannot be read or has a malformed line.
    #[error("config file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What is wrong, with the line number.
        reason: String,
    },
}

/// The variables a service reads: the process environment, over the optional
/// `KEY=VALUE` file named by `CONFIG_FILE` (the environment wins).
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// Reads the process environment and the file named by `CONFIG_FILE`, if set.
    pub fn from_process() -> Result<Self, ConfigError> {
        let mut vars = HashMap::new();
        if let Ok(path) = std::env::var("CONFIG_FILE") {
            vars = read_file(Path::new(&path))?;
        }
        vars.extend(std::env::vars());
        Ok(Self { vars })
    }

    /// Variables given explicitly (tests use this instead of the process environment).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Sets or replaces one variable.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }

    /// A required variable, parsed.
    pub fn required<T: FromStr>(&self, name: &str, help: &'static str) -> Result<T, ConfigError>
    where
        T::Err: Display,
    {
        match self.raw(name) {
            Some(value) => parse(name, value),
            None => Err(ConfigError::Missing {
                name: name.to_owned(),
                help,
            }),
        }
    }

    /// An optional variable, parsed, or `default` when unset.
    pub fn optional<T: FromStr>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: Display,
    {
        self.raw(name)
            .map_or(Ok(default), |value| parse(name, value))
    }

    /// A required secret; its value never appears in logs or errors.
    pub fn secret(&self, name: &str, help: &'static str) -> Result<SecretString, ConfigError> {
        match self.raw(name) {
            Some(value) => Ok(SecretString::from(value.to_owned())),
            None => Err(ConfigError::Missing {
                name: name.to_owned(),
                help,
            }),
        }
    }

    /// A duration given in milliseconds (the variable name ends in `_MS`).
    pub fn millis(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        debug_assert!(
            name.ends_with("_MS"),
            "duration variables carry their unit: {name}"
        );
        let default_ms = u64::try_from(default.as_millis()).unwrap_or(u64::MAX);
        self.optional::<u64>(name, default_ms)
            .map(Duration::from_millis)
    }

    /// A comma-separated list of durations in milliseconds.
    pub fn millis_list(
        &self,
        name: &str,
        default: &[Duration],
    ) -> Result<Vec<Duration>, ConfigError> {
        let Some(value) = self.raw(name) else {
            return Ok(default.to_vec());
        };
        value
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .map(|part| parse::<u64>(name, part.trim()).map(Duration::from_millis))
            .collect()
    }

    fn raw(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }
}

fn parse<T: FromStr>(name: &str, value: &str) -> Result<T, ConfigError>
where
    T::Err: Display,
{
    value.parse().map_err(|error: T::Err| ConfigError::Invalid {
        name: name.to_owned(),
        reason: error.to_string(),
    })
}

fn read_file(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let file_error = |reason: String| ConfigError::File {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|error| file_error(error.to_string()))?;
    let mut vars = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(file_error(format!(
                "line {}: expected NAME=value",
                index + 1
            )));
        };
        let value = value.trim();
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        vars.insert(name.trim().to_owned(), unquoted.to_owned());
    }
    Ok(vars)
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (production).
    Json,
    /// Human-readable lines (local development).
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "json" => Ok(LogFormat::Json),
            "pretty" => Ok(LogFormat::Pretty),
            other => Err(format!("expected `json` or `pretty`, got `{other}`")),
        }
    }
}

/// HTTP server settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Address to listen on (`HTTP_ADDR`); port 0 picks a free port.
    pub addr: SocketAddr,
    /// Largest request body accepted by the JSON extractor (`HTTP_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// Time a request may take before it is answered with 503 (`HTTP_REQUEST_TIMEOUT_MS`).
    pub request_timeout: Duration,
}

/// Database settings.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Connection URL with credentials (`DATABASE_URL`).
    pub url: SecretString,
    /// Pool size (`DATABASE_MAX_CONNECTIONS`).
    pub max_connections: u32,
    /// Time to wait for a connection from the pool (`DATABASE_ACQUIRE_TIMEOUT_MS`).
    pub acquire_timeout: Duration,
}

/// Shutdown timing.
#[derive(Debug, Clone)]
pub struct ShutdownConfig {
    /// Time between failing readiness and closing the listener, so load balancers
    /// stop sending traffic first (`SHUTDOWN_PRESTOP_DELAY_MS`).
    pub prestop_delay: Duration,
    /// Time allowed for draining requests, consumers and the outbox after that
    /// (`SHUTDOWN_DRAIN_TIMEOUT_MS`); keep the sum below the pod's grace period.
    pub drain_timeout: Duration,
}

/// Logging settings.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `LOG_FORMAT`: `json` (default) or `pretty`.
    pub format: LogFormat,
    /// `LOG_LEVEL`: a tracing filter such as `info` or `info,six_bus=debug`.
    pub filter: String,
}

/// The settings every service shares.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    /// HTTP server.
    pub http: HttpConfig,
    /// Own database.
    pub database: DatabaseConfig,
    /// Event bus.
    pub bus: BusConfig,
    /// Shutdown timing.
    pub shutdown: ShutdownConfig,
    /// Logging.
    pub telemetry: TelemetryConfig,
}

/// The kit's bus settings for `service`, before the environment (`AMQP_URL` is
/// always read from it).
pub(crate) fn kit_bus_defaults(service: &str) -> BusConfig {
    BusConfig::new(SecretString::from(String::new()), service)
}

impl CommonConfig {
    /// Reads the common settings of `service` from `env`, with the kit's bus defaults.
    pub fn from_env(service: &str, env: &Env) -> Result<Self, ConfigError> {
        Self::with_bus_defaults(kit_bus_defaults(service), env)
    }

    /// Reads the common settings from `env`; a `BUS_*` variable that is not set
    /// takes its value from `defaults` (a service's own tuning, see
    /// [`crate::Service::bus_defaults`]). `AMQP_URL` always comes from `env`.
    pub fn with_bus_defaults(defaults: BusConfig, env: &Env) -> Result<Self, ConfigError> {
        let service = defaults.service.as_str();
        let bus = BusConfig {
            amqp_url: env.secret(
                "AMQP_URL",
                "the RabbitMQ URL, e.g. amqp://user:password@host:5672/%2f",
            )?,
            exchange: env.optional("BUS_EXCHANGE", defaults.exchange.clone())?,
            service: service.to_owned(),
            queue_type: env.optional("BUS_QUEUE_TYPE", QueueType::Quorum)?,
            prefetch: env.optional("BUS_PREFETCH", defaults.prefetch)?,
            max_concurrent_handlers: env.optional(
                "BUS_MAX_CONCURRENT_HANDLERS",
                defaults.max_concurrent_handlers,
            )?,
            handler_batch_size: env
                .optional("BUS_HANDLER_BATCH_SIZE", defaults.handler_batch_size)?,
            retry_delays: env.millis_list("BUS_RETRY_DELAYS_MS", &defaults.retry_delays)?,
            max_message_bytes: env.optional("BUS_MAX_MESSAGE_BYTES", defaults.max_message_bytes)?,
            relay_batch_size: env.optional("BUS_RELAY_BATCH_SIZE", defaults.relay_batch_size)?,
            relay_poll_interval: env
                .millis("BUS_RELAY_POLL_INTERVAL_MS", defaults.relay_poll_interval)?,
            reconnect_min_delay: env
                .millis("BUS_RECONNECT_MIN_DELAY_MS", defaults.reconnect_min_delay)?,
            reconnect_max_delay: env
                .millis("BUS_RECONNECT_MAX_DELAY_MS", defaults.reconnect_max_delay)?,
            inbox_retention: env.millis("BUS_INBOX_RETENTION_MS", defaults.inbox_retention)?,
            operation_timeout: env
                .millis("BUS_OPERATION_TIMEOUT_MS", defaults.operation_timeout)?,
        };
        if bus.prefetch == 0
            || bus.max_concurrent_handlers == 0
            || bus.handler_batch_size == 0
            || bus.relay_batch_size <= 0
        {
            return Err(ConfigError::Invalid {
                name: "BUS_PREFETCH / BUS_MAX_CONCURRENT_HANDLERS / BUS_HANDLER_BATCH_SIZE / \
                       BUS_RELAY_BATCH_SIZE"
                    .to_owned(),
                reason: "must be greater than zero".to_owned(),
            });
        }
        Ok(Self {
            http: HttpConfig {
                addr: env.optional("HTTP_ADDR", SocketAddr::from(([0, 0, 0, 0], 8080)))?,
                max_body_bytes: env.optional("HTTP_MAX_BODY_BYTES", 1024 * 1024)?,
                request_timeout: env.millis("HTTP_REQUEST_TIMEOUT_MS", Duration::from_secs(30))?,
            },
            database: DatabaseConfig {
                url: env.secret(
                    "DATABASE_URL",
                    "the PostgreSQL URL, e.g. postgres://user:password@host:5432/db",
                )?,
                max_connections: env.optional("DATABASE_MAX_CONNECTIONS", 10)?,
                acquire_timeout: env
                    .millis("DATABASE_ACQUIRE_TIMEOUT_MS", Duration::from_secs(5))?,
            },
            bus,
            shutdown: ShutdownConfig {
                prestop_delay: env.millis("SHUTDOWN_PRESTOP_DELAY_MS", Duration::from_secs(5))?,
                drain_timeout: env.millis("SHUTDOWN_DRAIN_TIMEOUT_MS", Duration::from_secs(20))?,
            },
            telemetry: TelemetryConfig {
                format: env.optional("LOG_FORMAT", LogFormat::Json)?,
                filter: env.optional("LOG_LEVEL", "info".to_owned())?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn minimal() -> Env {
        Env::from_pairs([
            ("DATABASE_URL", "postgres://u:p@h/db"),
            ("AMQP_URL", "amqp://u:p@h/%2f"),
        ])
    }

    #[test]
    fn defaults_apply_when_only_the_required_variables_are_set() {
        let config = CommonConfig::from_env("skeleton", &minimal()).unwrap();
        assert_eq!(config.http.addr.port(), 8080);
        assert_eq!(config.bus.service, "skeleton");
        assert_eq!(config.bus.queue_type, QueueType::Quorum);
        assert_eq!(config.telemetry.format, LogFormat::Json);
    }

    #[test]
    fn a_missing_required_variable_is_named_in_the_error() {
        let env = Env::from_pairs([("DATABASE_URL", "postgres://u:p@h/db")]);
        let error = CommonConfig::from_env("skeleton", &env)
            .unwrap_err()
            .to_string();
        assert!(error.contains("AMQP_URL"), "{error}");
    }

    #[test]
    fn an_invalid_value_is_named_without_echoing_it() {
        let mut env = minimal();
        env.set("BUS_PREFETCH", "lots");
        let error = CommonConfig::from_env("skeleton", &env)
            .unwrap_err()
            .to_string();
        assert!(error.contains("BUS_PREFETCH"), "{error}");
        assert!(!error.contains("lots"), "{error}");
    }

    #[test]
    fn a_services_own_bus_defaults_apply_unless_a_variable_overrides_them() {
        let mut tuned = BusConfig::new(SecretString::from(String::new()), "search");
        tuned.prefetch = 256;
        tuned.max_concurrent_handlers = 2;
        let config = CommonConfig::with_bus_defaults(tuned.clone(), &minimal()).unwrap();
        assert_eq!(config.bus.service, "search");
        assert_eq!(config.bus.prefetch, 256);
        assert_eq!(config.bus.max_concurrent_handlers, 2);
        assert_eq!(config.bus.amqp_url.expose_secret(), "amqp://u:p@h/%2f");

        let mut env = minimal();
        env.set("BUS_PREFETCH", "32");
        let config = CommonConfig::with_bus_defaults(tuned, &env).unwrap();
        assert_eq!(config.bus.prefetch, 32);
        assert_eq!(config.bus.max_concurrent_handlers, 2);
    }

    #[test]
    fn retry_delays_are_read_as_a_list_of_milliseconds() {
        let mut env = minimal();
        env.set("BUS_RETRY_DELAYS_MS", "100, 250,1000");
        let config = CommonConfig::from_env("skeleton", &env).unwrap();
        assert_eq!(
            config.bus.retry_delays,
            vec![
                Duration::from_millis(100),
                Duration::from_millis(250),
                Duration::from_secs(1)
            ]
        );
    }

    #[test]
    fn secrets_never_appear_in_debug_output() {
        let config = CommonConfig::from_env("skeleton", &minimal()).unwrap();
        let printed = format!("{config:?}");
        assert!(!printed.contains("u:p@h"), "{printed}");
    }

    #[test]
    fn a_config_file_line_without_equals_sign_is_reported_with_its_number() {
        let path =
            std::env::temp_dir().join(format!("six-kit-config-{}.env", uuid::Uuid::now_v7()));
        std::fs::write(&path, "# comment\nDATABASE_URL=postgres://x\nnonsense\n").unwrap();
        let error = read_file(&path).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(error.contains("line 3"), "{error}");
    }
}
