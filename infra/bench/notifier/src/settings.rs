//! What the benchmark runs with: command-line options, else `BENCH_*` variables,
//! else the defaults of the issue (read with `six_bench_support::options`). The
//! notifier itself runs on its production defaults unless `--dispatch-batch`,
//! `--send-concurrency`, `--smtp-pool`, `--handler-concurrency`,
//! `--handler-batch` or `--db-pool` says otherwise.

use std::{fmt, path::PathBuf, str::FromStr, time::Duration};

use six_bench_support::options::{OptionSpec, Options, Request, phase_flags, phase_list, usage_of};

use crate::service::Overrides;

/// Which phases to run, each on a fresh database and vhost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phases {
    /// Welcome e-mails per second.
    pub email: bool,
    /// Webhook calls per second.
    pub webhook: bool,
    /// Event-to-send latency at a steady rate.
    pub latency: bool,
}

impl Phases {
    /// Every phase.
    pub fn all() -> Self {
        Self {
            email: true,
            webhook: true,
            latency: true,
        }
    }
}

const PHASE_NAMES: [&str; 3] = ["email", "webhook", "latency"];

impl FromStr for Phases {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let [email, webhook, latency] = phase_flags(value, PHASE_NAMES)?;
        if !(email || webhook || latency) {
            return Err("name at least one phase".to_owned());
        }
        Ok(Self {
            email,
            webhook,
            latency,
        })
    }
}

impl fmt::Display for Phases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&phase_list(
            [self.email, self.webhook, self.latency],
            PHASE_NAMES,
        ))
    }
}

/// The benchmark's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The phases to run.
    pub phases: Phases,
    /// Users registered in the e-mail phase: one welcome e-mail each.
    pub users: usize,
    /// Users with a webhook endpoint, in the webhook and latency phases.
    pub webhook_users: usize,
    /// `graph.contact.joined.v1` events of the webhook phase: one call each.
    pub events: usize,
    /// Registrations (so welcome e-mails) per second in the latency phase.
    pub rate_email: f64,
    /// Contacts who joined (so webhook calls) per second in the latency phase.
    pub rate_webhook: f64,
    /// How long each steady run of the latency phase publishes.
    pub latency_duration: Duration,
    /// Webhook calls whose signature is checked, at most, per phase.
    pub signature_sample: usize,
    /// Whether the SMTP sink acknowledges every read at once (`TCP_QUICKACK`).
    pub sink_quickack: bool,
    /// The service's binary; `None`: built from `services/notifier` next to this one.
    pub notifier_binary: Option<PathBuf>,
    /// What the notifier runs with besides its defaults.
    pub overrides: Overrides,
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        flag: "--phases",
        variable: "BENCH_PHASES",
        help: "comma-separated: email, webhook, latency, all (all)",
    },
    OptionSpec {
        flag: "--users",
        variable: "BENCH_USERS",
        help: "users registered in the email phase, one welcome e-mail each (20000)",
    },
    OptionSpec {
        flag: "--webhook-users",
        variable: "BENCH_WEBHOOK_USERS",
        help: "users with one webhook endpoint, in the webhook and latency phases (2000)",
    },
    OptionSpec {
        flag: "--events",
        variable: "BENCH_EVENTS",
        help: "graph.contact.joined.v1 events of the webhook phase, one call each (40000)",
    },
    OptionSpec {
        flag: "--rate-email",
        variable: "BENCH_RATE_EMAIL",
        help: "registrations (welcome e-mails) per second in the latency phase (500)",
    },
    OptionSpec {
        flag: "--rate-webhook",
        variable: "BENCH_RATE_WEBHOOK",
        help: "contacts who joined (webhook calls) per second in the latency phase (1000)",
    },
    OptionSpec {
        flag: "--latency-seconds",
        variable: "BENCH_LATENCY_SECONDS",
        help: "how long each steady run of the latency phase publishes (20)",
    },
    OptionSpec {
        flag: "--signature-sample",
        variable: "BENCH_SIGNATURE_SAMPLE",
        help: "webhook calls per phase whose signature the bench checks (500)",
    },
    OptionSpec {
        flag: "--sink-quickack",
        variable: "BENCH_SINK_QUICKACK",
        help: "true: the SMTP sink acknowledges every read at once, hiding the client's Nagle wait (false)",
    },
    OptionSpec {
        flag: "--notifier-binary",
        variable: "BENCH_NOTIFIER_BINARY",
        help: "the notifier binary (built from services/notifier next to this binary)",
    },
    OptionSpec {
        flag: "--dispatch-batch",
        variable: "BENCH_DISPATCH_BATCH",
        help: "NOTIFIER_DISPATCH_BATCH_SIZE: deliveries claimed at once, 1-10000 (its default)",
    },
    OptionSpec {
        flag: "--send-concurrency",
        variable: "BENCH_SEND_CONCURRENCY",
        help: "NOTIFIER_SEND_CONCURRENCY: messages being sent at once (its default)",
    },
    OptionSpec {
        flag: "--smtp-pool",
        variable: "BENCH_SMTP_POOL",
        help: "SMTP_POOL_SIZE: connections kept open to the mail server (its default)",
    },
    OptionSpec {
        flag: "--handler-concurrency",
        variable: "BENCH_HANDLER_CONCURRENCY",
        help: "BUS_MAX_CONCURRENT_HANDLERS: consumer transactions at once (its default)",
    },
    OptionSpec {
        flag: "--handler-batch",
        variable: "BENCH_HANDLER_BATCH",
        help: "BUS_HANDLER_BATCH_SIZE: most events per consumer transaction (its default)",
    },
    OptionSpec {
        flag: "--db-pool",
        variable: "BENCH_DB_POOL",
        help: "DATABASE_MAX_CONNECTIONS: the pool its consumer and dispatcher share (its default)",
    },
];

/// The usage text.
pub fn usage() -> String {
    usage_of(
        "notifier-load",
        "E-mails per second from auth.user.registered.v1 to accepted by an SMTP sink, signed \
         webhook calls per second from graph.contact.joined.v1 to a local endpoint, and \
         event-to-send latency (p50/p90/p99/max) at a steady rate, with the notifier's delivery \
         log on. Starts the notifier binary on a throwaway database and vhost of the local stack \
         per phase (infra/local/stack up); the SMTP sink and the endpoint run in this process.",
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
        let dispatch_batch = positive(&options, "--dispatch-batch")?;
        if let Some(batch) = dispatch_batch.filter(|batch| *batch > 10_000) {
            return Err(format!(
                "--dispatch-batch must be between 1 and 10000, got {batch}"
            ));
        }
        let settings = Settings {
            phases: options.get_or("--phases", Phases::all())?,
            users: options.count("--users", 20_000)?,
            webhook_users: options.count("--webhook-users", 2_000)?,
            events: options.count("--events", 40_000)?,
            rate_email: rate(&options, "--rate-email", 500.0)?,
            rate_webhook: rate(&options, "--rate-webhook", 1_000.0)?,
            latency_duration: Duration::from_secs(options.count("--latency-seconds", 20)? as u64),
            signature_sample: options.get_or("--signature-sample", 500)?,
            sink_quickack: options.get_or("--sink-quickack", false)?,
            notifier_binary: options.get("--notifier-binary")?,
            overrides: Overrides {
                dispatch_batch,
                send_concurrency: positive(&options, "--send-concurrency")?,
                smtp_pool: positive(&options, "--smtp-pool")?,
                handler_concurrency: positive(&options, "--handler-concurrency")?,
                handler_batch: positive(&options, "--handler-batch")?,
                db_pool: positive(&options, "--db-pool")?,
            },
        };
        Ok(Request::Run(settings))
    }
}

/// A whole number greater than zero when `flag` is given.
fn positive(options: &Options, flag: &str) -> Result<Option<usize>, String> {
    options
        .get::<String>(flag)?
        .map(|_| options.count(flag, 1))
        .transpose()
}

/// A rate per second greater than zero, else `default`.
fn rate(options: &Options, flag: &str, default: f64) -> Result<f64, String> {
    let rate: f64 = options.get_or(flag, default)?;
    if rate.is_finite() && rate > 0.0 {
        Ok(rate)
    } else {
        Err(format!(
            "{flag} must be a rate above 0 per second, got {rate}"
        ))
    }
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "phases={} users={} webhook-users={} events={} rate-email={} rate-webhook={} \
             latency-seconds={} signature-sample={} sink-quickack={}",
            self.phases,
            self.users,
            self.webhook_users,
            self.events,
            self.rate_email,
            self.rate_webhook,
            self.latency_duration.as_secs(),
            self.signature_sample,
            self.sink_quickack,
        )?;
        for (name, value) in self.overrides.variables() {
            write!(f, " {name}={value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use six_bench_support::options::testing::{args, run};

    use super::*;

    #[test]
    fn the_defaults_are_the_issue_s_load() {
        let settings = run(Settings::parse(&[], []));

        assert_eq!(settings.phases, Phases::all());
        assert_eq!(settings.users, 20_000);
        assert_eq!(settings.webhook_users, 2_000);
        assert_eq!(settings.events, 40_000);
        assert_eq!(settings.rate_email, 500.0);
        assert_eq!(settings.rate_webhook, 1_000.0);
        assert_eq!(settings.latency_duration, Duration::from_secs(20));
        assert_eq!(settings.overrides, Overrides::default());
        assert_eq!(settings.notifier_binary, None);
        assert!(!settings.sink_quickack);
    }

    #[test]
    fn an_option_wins_over_its_variable() {
        let env = [
            ("BENCH_USERS".to_owned(), "50".to_owned()),
            ("BENCH_EVENTS".to_owned(), "10".to_owned()),
        ];

        let settings = run(Settings::parse(&args(&["--users=200"]), env));

        assert_eq!(settings.users, 200);
        assert_eq!(settings.events, 10);
    }

    #[test]
    fn phases_are_a_comma_separated_list() {
        let settings = run(Settings::parse(
            &args(&["--phases", "webhook, latency"]),
            [],
        ));

        assert!(settings.phases.webhook && settings.phases.latency);
        assert!(!settings.phases.email);
        assert_eq!(settings.phases.to_string(), "webhook,latency");
    }

    #[test]
    fn unknown_or_no_phases_are_refused() {
        assert!(Settings::parse(&args(&["--phases", "sms"]), []).is_err());
        assert!(Settings::parse(&args(&["--phases", ","]), []).is_err());
    }

    #[test]
    fn zero_counts_and_rates_are_refused() {
        assert!(Settings::parse(&args(&["--users", "0"]), []).is_err());
        assert!(Settings::parse(&args(&["--events", "-3"]), []).is_err());
        assert!(Settings::parse(&args(&["--rate-email", "0"]), []).is_err());
        assert!(Settings::parse(&args(&["--rate-webhook", "NaN"]), []).is_err());
        assert!(Settings::parse(&args(&["--send-concurrency", "0"]), []).is_err());
        assert!(Settings::parse(&args(&["--dispatch-batch", "10001"]), []).is_err());
        assert!(Settings::parse(&args(&["--fast"]), []).is_err());
    }

    #[test]
    fn service_overrides_are_passed_only_when_given() {
        let settings = run(Settings::parse(
            &args(&[
                "--dispatch-batch",
                "500",
                "--send-concurrency",
                "32",
                "--smtp-pool",
                "16",
                "--db-pool",
                "20",
            ]),
            [],
        ));

        assert_eq!(
            settings.overrides.variables(),
            vec![
                ("NOTIFIER_DISPATCH_BATCH_SIZE", "500".to_owned()),
                ("NOTIFIER_SEND_CONCURRENCY", "32".to_owned()),
                ("SMTP_POOL_SIZE", "16".to_owned()),
                ("DATABASE_MAX_CONNECTIONS", "20".to_owned()),
            ]
        );
        assert!(settings.to_string().ends_with(
            "NOTIFIER_DISPATCH_BATCH_SIZE=500 NOTIFIER_SEND_CONCURRENCY=32 SMTP_POOL_SIZE=16 \
             DATABASE_MAX_CONNECTIONS=20"
        ));
    }

    #[test]
    fn help_is_asked_for_by_flag() {
        assert_eq!(Settings::parse(&args(&["--help"]), []), Ok(Request::Help));
    }
}
