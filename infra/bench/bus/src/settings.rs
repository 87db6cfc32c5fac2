//! What the benchmark runs with: command-line options, else `BENCH_*` variables,
//! else the defaults below (the best settings found on the 2-core dev machine; see
//! `infra/bench/README.md`).

use std::{fmt, str::FromStr, time::Duration};

use six_bench_support::options::{OptionSpec, Options, Request, phase_flags, phase_list, usage_of};

/// Which parts of the benchmark to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phases {
    /// Raw lapin publish-with-confirms and consume-and-ack.
    pub ceiling: bool,
    /// The consumer's database transactions alone, without a broker.
    pub database: bool,
    /// Outbox → relay → broker → consumer with inbox.
    pub end_to_end: bool,
    /// Resident memory of a service at rest.
    pub at_rest: bool,
}

impl Phases {
    /// Every phase.
    pub fn all() -> Self {
        Self {
            ceiling: true,
            database: true,
            end_to_end: true,
            at_rest: true,
        }
    }
}

const PHASE_NAMES: [&str; 4] = ["ceiling", "db-ceiling", "end-to-end", "at-rest"];

impl FromStr for Phases {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let [ceiling, database, end_to_end, at_rest] = phase_flags(value, PHASE_NAMES)?;
        Ok(Self {
            ceiling,
            database,
            end_to_end,
            at_rest,
        })
    }
}

impl fmt::Display for Phases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&phase_list(
            [self.ceiling, self.database, self.end_to_end, self.at_rest],
            PHASE_NAMES,
        ))
    }
}

/// The benchmark's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Events sent through the ceiling and the end-to-end run.
    pub events: u64,
    /// Unacknowledged deliveries a consumer holds (AMQP prefetch), in both runs.
    pub prefetch: u16,
    /// Handlers the bus consumer runs at once (`BUS_MAX_CONCURRENT_HANDLERS`).
    pub handler_concurrency: usize,
    /// Most deliveries the bus consumer applies in one transaction
    /// (`BUS_HANDLER_BATCH_SIZE`).
    pub handler_batch: usize,
    /// Outbox rows the relay publishes per confirm round (`BUS_RELAY_BATCH_SIZE`).
    pub relay_batch: i64,
    /// Messages the raw publisher sends before waiting for all their confirms.
    pub confirm_window: usize,
    /// Events a writer inserts into the outbox per transaction.
    pub writer_batch: u64,
    /// Whether writers insert a transaction's events with one `six_bus::publish_all`
    /// (true) or one `six_bus::publish` each (false).
    pub publish_all: bool,
    /// Writers inserting at the same time, each on its own connection.
    pub writers: u64,
    /// Events per transaction in the database ceiling (1: the bus without batching).
    pub db_batch: u64,
    /// Connections of the pool of the end-to-end run and the database ceiling.
    pub pool_connections: u32,
    /// Whether the pool pings a connection before handing it out, as sqlx does by
    /// default and `six_kit::db::connect` leaves on (one more round trip per
    /// transaction).
    pub pool_ping: bool,
    /// AMQP `frame_max` asked for by every connection (relay, consumer, raw
    /// client, service); `None` leaves it to the bus's default (32 KiB), and the
    /// raw client to the broker's.
    pub frame_max: Option<u32>,
    /// Events the service at rest handles before its second measurement.
    pub rest_events: u64,
    /// Quiet time before each memory measurement.
    pub settle: Duration,
    /// The parts to run.
    pub phases: Phases,
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        flag: "--events",
        variable: "BENCH_EVENTS",
        help: "events per throughput run (50000)",
    },
    OptionSpec {
        flag: "--prefetch",
        variable: "BENCH_PREFETCH",
        help: "consumer prefetch, raw and bus (256)",
    },
    OptionSpec {
        flag: "--concurrency",
        variable: "BENCH_CONCURRENCY",
        help: "bus handlers running at once (32)",
    },
    OptionSpec {
        flag: "--handler-batch",
        variable: "BENCH_HANDLER_BATCH",
        help: "most deliveries per consumer transaction (the bus's default, 32)",
    },
    OptionSpec {
        flag: "--relay-batch",
        variable: "BENCH_RELAY_BATCH",
        help: "outbox rows per relay confirm round (500)",
    },
    OptionSpec {
        flag: "--confirm-window",
        variable: "BENCH_CONFIRM_WINDOW",
        help: "raw publishes per confirm wait (= relay batch)",
    },
    OptionSpec {
        flag: "--writer-batch",
        variable: "BENCH_WRITER_BATCH",
        help: "outbox inserts per writer transaction (250)",
    },
    OptionSpec {
        flag: "--publish-all",
        variable: "BENCH_PUBLISH_ALL",
        help: "writers use one six_bus::publish_all per transaction; false: publish per event (true)",
    },
    OptionSpec {
        flag: "--writers",
        variable: "BENCH_WRITERS",
        help: "writer tasks, each on its own connection (4)",
    },
    OptionSpec {
        flag: "--db-batch",
        variable: "BENCH_DB_BATCH",
        help: "events per transaction in the database ceiling (1, the bus without batching)",
    },
    OptionSpec {
        flag: "--pool",
        variable: "BENCH_POOL",
        help: "database connections of end-to-end and db-ceiling (concurrency + writers + 3)",
    },
    OptionSpec {
        flag: "--pool-ping",
        variable: "BENCH_POOL_PING",
        help: "ping pooled connections before use, like six-kit (true)",
    },
    OptionSpec {
        flag: "--frame-max",
        variable: "BENCH_FRAME_MAX",
        help: "AMQP frame_max of every connection, 0 = the bus default of 32 KiB (0)",
    },
    OptionSpec {
        flag: "--rest-events",
        variable: "BENCH_REST_EVENTS",
        help: "events the service handles before its 2nd memory reading (2000)",
    },
    OptionSpec {
        flag: "--settle-ms",
        variable: "BENCH_SETTLE_MS",
        help: "quiet time before each memory reading (3000)",
    },
    OptionSpec {
        flag: "--phases",
        variable: "BENCH_PHASES",
        help: "ceiling,db-ceiling,end-to-end,at-rest or all (all)",
    },
];

/// The usage text.
pub fn usage() -> String {
    usage_of(
        "bus-throughput",
        "Events per second through the outbox relay, RabbitMQ and the consumer, and a service's memory at rest.",
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
        let handler_concurrency: usize = options.get_or("--concurrency", 32)?;
        let relay_batch: i64 = options.get_or("--relay-batch", 500)?;
        let writers: u64 = options.get_or("--writers", 4)?;
        let settings = Settings {
            events: options.get_or("--events", 50_000)?,
            prefetch: options.get_or("--prefetch", 256)?,
            handler_concurrency,
            handler_batch: options.get_or(
                "--handler-batch",
                six_bus::BusConfig::new(String::new().into(), "bench").handler_batch_size,
            )?,
            relay_batch,
            confirm_window: options.get_or(
                "--confirm-window",
                usize::try_from(relay_batch).unwrap_or(1),
            )?,
            writer_batch: options.get_or("--writer-batch", 250)?,
            publish_all: options.get_or("--publish-all", true)?,
            writers,
            db_batch: options.get_or("--db-batch", 1)?,
            pool_connections: options.get_or(
                "--pool",
                u32::try_from(handler_concurrency as u64 + writers + 3).unwrap_or(u32::MAX),
            )?,
            pool_ping: options.get_or("--pool-ping", true)?,
            frame_max: Some(options.get_or("--frame-max", 0_u32)?).filter(|bytes| *bytes > 0),
            rest_events: options.get_or("--rest-events", 2_000)?,
            settle: Duration::from_millis(options.get_or("--settle-ms", 3_000)?),
            phases: options.get_or("--phases", Phases::all())?,
        };
        if settings.events == 0
            || settings.prefetch == 0
            || settings.handler_concurrency == 0
            || settings.handler_batch == 0
            || settings.relay_batch <= 0
            || settings.confirm_window == 0
            || settings.writer_batch == 0
            || settings.writers == 0
            || settings.db_batch == 0
            || settings.pool_connections < 3
        {
            return Err(
                "counts must be greater than zero, and --pool at least 3 (relay, consumer, writer)"
                    .to_owned(),
            );
        }
        Ok(Request::Run(settings))
    }
}

impl Settings {
    /// The URL of `vhost` with this run's `frame_max`, if any.
    pub fn amqp_url(&self, vhost: &six_testkit::TestVhost) -> String {
        match self.frame_max {
            Some(bytes) => format!("{}?frame_max={bytes}", vhost.amqp_url()),
            None => vhost.amqp_url(),
        }
    }
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "events={} prefetch={} concurrency={} handler-batch={} relay-batch={} confirm-window={} \
             writer-batch={} publish-all={} writers={} db-batch={} pool={} pool-ping={} frame-max={} rest-events={} settle-ms={} phases={}",
            self.events,
            self.prefetch,
            self.handler_concurrency,
            self.handler_batch,
            self.relay_batch,
            self.confirm_window,
            self.writer_batch,
            self.publish_all,
            self.writers,
            self.db_batch,
            self.pool_connections,
            self.pool_ping,
            self.frame_max.map_or_else(
                || format!("{} (bus default)", six_bus::DEFAULT_FRAME_MAX_BYTES),
                |bytes| bytes.to_string(),
            ),
            self.rest_events,
            self.settle.as_millis(),
            self.phases,
        )
    }
}

#[cfg(test)]
mod tests {
    use six_bench_support::options::testing::{args, run};

    use super::*;

    #[test]
    fn an_option_wins_over_its_variable() {
        let env = [("BENCH_EVENTS".to_owned(), "10".to_owned())];
        let settings = run(Settings::parse(&args(&["--events", "20"]), env));
        assert_eq!(settings.events, 20);
    }

    #[test]
    fn the_confirm_window_follows_the_relay_batch_unless_set() {
        let settings = run(Settings::parse(&args(&["--relay-batch=300"]), []));
        assert_eq!(settings.confirm_window, 300);
    }

    #[test]
    fn phases_are_a_comma_separated_list() {
        let settings = run(Settings::parse(&args(&["--phases", "ceiling,at-rest"]), []));
        assert!(settings.phases.ceiling && settings.phases.at_rest);
        assert!(!settings.phases.end_to_end);
    }

    #[test]
    fn unknown_options_and_zero_counts_are_refused() {
        assert!(Settings::parse(&args(&["--fast"]), []).is_err());
        assert!(Settings::parse(&args(&["--prefetch", "0"]), []).is_err());
    }
}
