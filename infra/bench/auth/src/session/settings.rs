//! What `session-load` runs with: command-line options, else `BENCH_*` variables,
//! else the defaults. The service's own settings are left to the service unless an
//! option asks otherwise: the point is to measure its defaults.

use std::{fmt, str::FromStr, time::Duration};

use six_bench_support::options::{OptionSpec, Options, Request, phase_flags, phase_list, usage_of};

/// Which parts of the benchmark to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phases {
    /// argon2id alone on one thread, with the service's parameters.
    pub argon2: bool,
    /// `POST /v1/login` under load.
    pub login: bool,
    /// `POST /v1/refresh` under load.
    pub refresh: bool,
}

impl Phases {
    /// Every phase.
    pub fn all() -> Self {
        Self {
            argon2: true,
            login: true,
            refresh: true,
        }
    }
}

const PHASE_NAMES: [&str; 3] = ["argon2", "login", "refresh"];

impl FromStr for Phases {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let [argon2, login, refresh] = phase_flags(value, PHASE_NAMES)?;
        if !(argon2 || login || refresh) {
            return Err("no phase given".to_owned());
        }
        Ok(Self {
            argon2,
            login,
            refresh,
        })
    }
}

impl fmt::Display for Phases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&phase_list(
            [self.argon2, self.login, self.refresh],
            PHASE_NAMES,
        ))
    }
}

/// The settings of `session-load`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Accounts registered before the load phases; logins go round-robin over them.
    pub accounts: usize,
    /// Clients sending requests at once, each waiting for its answer before the next.
    pub concurrency: usize,
    /// Time each load phase keeps sending requests.
    pub duration: Duration,
    /// The parts to run.
    pub phases: Phases,
    /// `AUTH_ARGON2_MEMORY_KIB`; `None` leaves the service's default.
    pub argon2_memory_kib: Option<u32>,
    /// `AUTH_ARGON2_ITERATIONS`; `None` leaves the service's default.
    pub argon2_iterations: Option<u32>,
    /// `AUTH_ARGON2_PARALLELISM`; `None` leaves the service's default.
    pub argon2_lanes: Option<u32>,
    /// `AUTH_MAX_CONCURRENT_HASHES`; `None` leaves the service's default.
    pub max_concurrent_hashes: Option<usize>,
    /// `DATABASE_MAX_CONNECTIONS`; `None` is the kit's default (not the test
    /// harness's smaller pool).
    pub database_connections: Option<u32>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            accounts: 32,
            concurrency: 8,
            duration: Duration::from_secs(10),
            phases: Phases::all(),
            argon2_memory_kib: None,
            argon2_iterations: None,
            argon2_lanes: None,
            max_concurrent_hashes: None,
            database_connections: None,
        }
    }
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        flag: "--accounts",
        variable: "BENCH_ACCOUNTS",
        help: "accounts registered first; logins go round-robin over them (32)",
    },
    OptionSpec {
        flag: "--concurrency",
        variable: "BENCH_CONCURRENCY",
        help: "clients sending at once, one request in flight each (8)",
    },
    OptionSpec {
        flag: "--duration-secs",
        variable: "BENCH_DURATION_SECS",
        help: "seconds each load phase sends requests (10)",
    },
    OptionSpec {
        flag: "--phases",
        variable: "BENCH_PHASES",
        help: "argon2,login,refresh or all (all)",
    },
    OptionSpec {
        flag: "--argon2-memory-kib",
        variable: "BENCH_ARGON2_MEMORY_KIB",
        help: "AUTH_ARGON2_MEMORY_KIB (the service's default)",
    },
    OptionSpec {
        flag: "--argon2-iterations",
        variable: "BENCH_ARGON2_ITERATIONS",
        help: "AUTH_ARGON2_ITERATIONS (the service's default)",
    },
    OptionSpec {
        flag: "--argon2-lanes",
        variable: "BENCH_ARGON2_LANES",
        help: "AUTH_ARGON2_PARALLELISM (the service's default)",
    },
    OptionSpec {
        flag: "--max-concurrent-hashes",
        variable: "BENCH_MAX_CONCURRENT_HASHES",
        help: "AUTH_MAX_CONCURRENT_HASHES (the service's default)",
    },
    OptionSpec {
        flag: "--db-connections",
        variable: "BENCH_DB_CONNECTIONS",
        help: "DATABASE_MAX_CONNECTIONS of the service (the kit's default)",
    },
];

/// The `--help` text.
pub fn usage() -> String {
    usage_of(
        "session-load",
        "Logins per second at the auth service's argon2id parameters, and the latency of \
         POST /v1/login and POST /v1/refresh under concurrent load. Starts auth in-process \
         on a throwaway database and vhost of the local stack (infra/local/stack up).",
        OPTIONS,
    )
}

impl Settings {
    /// Reads `args` (without the program name) over the `BENCH_*` variables of `env`.
    pub fn parse(
        args: &[String],
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Request<Self>, String> {
        let Some(options) = Options::read(OPTIONS, args, env)? else {
            return Ok(Request::Help);
        };
        let defaults = Settings::default();
        let duration_secs = options.count("--duration-secs", 10)?;
        let settings = Settings {
            accounts: options.count("--accounts", defaults.accounts)?,
            concurrency: options.count("--concurrency", defaults.concurrency)?,
            duration: Duration::from_secs(u64::try_from(duration_secs).unwrap_or(u64::MAX)),
            phases: options.get_or("--phases", defaults.phases)?,
            argon2_memory_kib: options.get("--argon2-memory-kib")?,
            argon2_iterations: options.get("--argon2-iterations")?,
            argon2_lanes: options.get("--argon2-lanes")?,
            max_concurrent_hashes: options.get("--max-concurrent-hashes")?,
            database_connections: options.get("--db-connections")?,
        };
        Ok(Request::Run(settings))
    }

    /// The service variables these settings set, beyond the signing key.
    pub fn service_vars(&self, default_database_connections: u32) -> Vec<(&'static str, String)> {
        let mut vars = vec![(
            "DATABASE_MAX_CONNECTIONS",
            self.database_connections
                .unwrap_or(default_database_connections)
                .to_string(),
        )];
        let overrides = [
            (
                "AUTH_ARGON2_MEMORY_KIB",
                self.argon2_memory_kib.map(u64::from),
            ),
            (
                "AUTH_ARGON2_ITERATIONS",
                self.argon2_iterations.map(u64::from),
            ),
            ("AUTH_ARGON2_PARALLELISM", self.argon2_lanes.map(u64::from)),
            (
                "AUTH_MAX_CONCURRENT_HASHES",
                self.max_concurrent_hashes
                    .map(|count| u64::try_from(count).unwrap_or(u64::MAX)),
            ),
        ];
        for (name, value) in overrides {
            if let Some(value) = value {
                vars.push((name, value.to_string()));
            }
        }
        vars
    }
}

#[cfg(test)]
mod tests {
    use six_bench_support::options::testing::{args, run};

    use super::*;

    #[test]
    fn without_options_the_service_keeps_its_own_argon2_settings() {
        let settings = run(Settings::parse(&[], []));

        let vars = settings.service_vars(10);

        assert_eq!(settings, Settings::default());
        assert_eq!(vars, vec![("DATABASE_MAX_CONNECTIONS", "10".to_owned())]);
    }

    #[test]
    fn an_option_wins_over_its_variable() {
        let env = [
            ("BENCH_CONCURRENCY".to_owned(), "2".to_owned()),
            ("BENCH_ARGON2_ITERATIONS".to_owned(), "3".to_owned()),
        ];

        let settings = run(Settings::parse(&args(&["--concurrency=16"]), env));

        assert_eq!(settings.concurrency, 16);
        assert!(
            settings
                .service_vars(10)
                .contains(&("AUTH_ARGON2_ITERATIONS", "3".to_owned()))
        );
    }

    #[test]
    fn phases_are_a_comma_separated_subset() {
        let settings = run(Settings::parse(&args(&["--phases", "login,refresh"]), []));

        assert_eq!(
            settings.phases,
            Phases {
                argon2: false,
                login: true,
                refresh: true
            }
        );
        assert_eq!(settings.phases.to_string(), "login,refresh");
        assert!(Settings::parse(&args(&["--phases", "logins"]), []).is_err());
    }

    #[test]
    fn zero_clients_are_refused() {
        assert!(Settings::parse(&args(&["--concurrency", "0"]), []).is_err());
    }
}
