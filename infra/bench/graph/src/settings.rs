//! What the benchmark runs with: command-line options, else `BENCH_*` variables,
//! else the defaults of the issue (read with `six_bench_support::options`). The
//! graph service itself runs on its production defaults.

use std::{fmt, path::PathBuf};

use six_bench_support::options::{OptionSpec, Options, Request, usage_of};

use crate::network::Shape;

/// The importer's `IMPORTER_CHUNK_ROWS` default: contacts per
/// `importer.contacts.imported.v1` batch.
pub const IMPORTER_CHUNK_ROWS: usize = 2_000;

/// The benchmark's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The network to generate.
    pub shape: Shape,
    /// Most contacts per `importer.contacts.imported.v1` batch.
    pub batch_contacts: usize,
    /// Path queries timed.
    pub queries: usize,
    /// Path queries sent first, untimed.
    pub warmup_queries: usize,
    /// Clients sending path queries at once, one in flight each.
    pub concurrency: usize,
    /// The graph's binary; `None`: built from `services/graph` next to this one.
    pub graph_binary: Option<PathBuf>,
    /// The run stops when the disk under PostgreSQL's data directory has less free.
    pub min_free_disk_mb: u64,
    /// Seconds the service and its database stay up after the report, to look at
    /// them by hand.
    pub keep_secs: u64,
    /// When set, every statement of the graph's database that takes at least this
    /// many milliseconds goes to the server's log (`log_min_duration_statement`),
    /// to see where the time goes; it slows the run down.
    pub statement_log_ms: Option<u64>,
    /// After the run, a copy of the projected database is kept under this name, for
    /// [`Settings::from_projection`].
    pub keep_projection: Option<String>,
    /// The projection phase is skipped: the graph starts on a copy of this database,
    /// kept by an earlier run with the same network ([`Settings::network_label`]).
    pub from_projection: Option<String>,
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        flag: "--users",
        variable: "BENCH_USERS",
        help: "registered users, each importing an address book (10000)",
    },
    OptionSpec {
        flag: "--contacts-per-user",
        variable: "BENCH_CONTACTS_PER_USER",
        help: "contact entries (KNOWS edges) per user (200)",
    },
    OptionSpec {
        flag: "--community-users",
        variable: "BENCH_COMMUNITY_USERS",
        help: "users per community, who share contacts (100)",
    },
    OptionSpec {
        flag: "--discoverable-percent",
        variable: "BENCH_DISCOVERABLE_PERCENT",
        help: "share of users who are discoverable (80)",
    },
    OptionSpec {
        flag: "--batch-contacts",
        variable: "BENCH_BATCH_CONTACTS",
        help: "most contacts per importer.contacts.imported.v1 batch (2000, the importer's chunk)",
    },
    OptionSpec {
        flag: "--queries",
        variable: "BENCH_QUERIES",
        help: "path queries timed (5000)",
    },
    OptionSpec {
        flag: "--warmup-queries",
        variable: "BENCH_WARMUP_QUERIES",
        help: "path queries sent first, untimed (200)",
    },
    OptionSpec {
        flag: "--concurrency",
        variable: "BENCH_CONCURRENCY",
        help: "clients sending path queries, one in flight each (8)",
    },
    OptionSpec {
        flag: "--seed",
        variable: "BENCH_SEED",
        help: "seed of the network and of the query pairs (1)",
    },
    OptionSpec {
        flag: "--graph-binary",
        variable: "BENCH_GRAPH_BINARY",
        help: "the graph service binary (built from services/graph next to this binary)",
    },
    OptionSpec {
        flag: "--min-free-disk-mb",
        variable: "BENCH_MIN_FREE_DISK_MB",
        help: "stop when the disk under PostgreSQL's data has less free (500)",
    },
    OptionSpec {
        flag: "--keep-secs",
        variable: "BENCH_KEEP_SECS",
        help: "keep the service and its database this long after the report, for a look by hand (0)",
    },
    OptionSpec {
        flag: "--statement-log-ms",
        variable: "BENCH_STATEMENT_LOG_MS",
        help: "log the graph's statements taking at least this long to the PostgreSQL log (off; slows the run)",
    },
    OptionSpec {
        flag: "--keep-projection",
        variable: "BENCH_KEEP_PROJECTION",
        help: "after the run, keep a copy of the projected database under this name (off)",
    },
    OptionSpec {
        flag: "--from-projection",
        variable: "BENCH_FROM_PROJECTION",
        help: "skip the projection: query a copy of this database, kept by --keep-projection with the same network (off)",
    },
];

/// The usage text.
pub fn usage() -> String {
    usage_of(
        "graph-load",
        "KNOWS edges projected per second by the graph service from real events, p50/p99 of \
         GET /v1/graph/path at concurrency 8, and the service's peak memory, on a generated \
         network. Starts the graph binary on a throwaway database and vhost of the local \
         stack (infra/local/stack up).",
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
        let discoverable_percent: u8 = options.get_or("--discoverable-percent", 80)?;
        if discoverable_percent > 100 {
            return Err(format!(
                "--discoverable-percent must be at most 100, got {discoverable_percent}"
            ));
        }
        let settings = Settings {
            shape: Shape {
                users: options.count("--users", 10_000)?,
                contacts_per_user: options.count("--contacts-per-user", 200)?,
                community_users: options.count("--community-users", 100)?,
                discoverable_percent,
                seed: options.get_or("--seed", 1)?,
            },
            batch_contacts: options.count("--batch-contacts", IMPORTER_CHUNK_ROWS)?,
            queries: options.count("--queries", 5_000)?,
            warmup_queries: options.get_or("--warmup-queries", 200)?,
            concurrency: options.count("--concurrency", 8)?,
            graph_binary: options.get("--graph-binary")?,
            min_free_disk_mb: options.get_or("--min-free-disk-mb", 500)?,
            keep_secs: options.get_or("--keep-secs", 0)?,
            statement_log_ms: options.get("--statement-log-ms")?,
            keep_projection: options.get("--keep-projection")?,
            from_projection: options.get("--from-projection")?,
        };
        if settings.keep_projection.is_some() && settings.from_projection.is_some() {
            return Err(
                "--keep-projection and --from-projection exclude each other: the copy would \
                 be of the copy"
                    .to_owned(),
            );
        }
        Ok(Request::Run(settings))
    }
}

impl Settings {
    /// What a kept projection holds: every setting that shapes the network and its
    /// events (not the queries), stored as the database's comment and checked by
    /// [`Settings::from_projection`].
    pub fn network_label(&self) -> String {
        format!(
            "graph-load projection: users={} contacts-per-user={} community-users={} \
             discoverable-percent={} batch-contacts={} seed={}",
            self.shape.users,
            self.shape.contacts_per_user,
            self.shape.community_users,
            self.shape.discoverable_percent,
            self.batch_contacts,
            self.shape.seed,
        )
    }

    /// The PostgreSQL settings of the graph's database these settings ask for.
    pub fn database_settings(&self) -> Vec<(&'static str, String)> {
        match self.statement_log_ms {
            None => Vec::new(),
            Some(ms) => vec![
                ("log_min_duration_statement", ms.to_string()),
                // The statement and its duration, not its (large) array parameters.
                ("log_parameter_max_length", "0".to_owned()),
            ],
        }
    }
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "users={} contacts-per-user={} community-users={} discoverable-percent={} \
             batch-contacts={} queries={} warmup-queries={} concurrency={} seed={}",
            self.shape.users,
            self.shape.contacts_per_user,
            self.shape.community_users,
            self.shape.discoverable_percent,
            self.batch_contacts,
            self.queries,
            self.warmup_queries,
            self.concurrency,
            self.shape.seed,
        )?;
        if let Some(ms) = self.statement_log_ms {
            write!(f, " statement-log-ms={ms}")?;
        }
        if let Some(name) = &self.keep_projection {
            write!(f, " keep-projection={name}")?;
        }
        if let Some(name) = &self.from_projection {
            write!(f, " from-projection={name}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use six_bench_support::options::testing::{args, run};

    use super::*;

    #[test]
    fn the_defaults_are_the_issue_s_network_and_load() {
        let settings = run(Settings::parse(&[], []));

        assert_eq!(settings.shape.users, 10_000);
        assert_eq!(settings.shape.contacts_per_user, 200);
        assert_eq!(settings.shape.discoverable_percent, 80);
        assert_eq!(settings.batch_contacts, IMPORTER_CHUNK_ROWS);
        assert_eq!(settings.concurrency, 8);
    }

    #[test]
    fn an_option_wins_over_its_variable() {
        let env = [
            ("BENCH_USERS".to_owned(), "50".to_owned()),
            ("BENCH_QUERIES".to_owned(), "10".to_owned()),
        ];

        let settings = run(Settings::parse(&args(&["--users=500"]), env));

        assert_eq!(settings.shape.users, 500);
        assert_eq!(settings.queries, 10);
    }

    #[test]
    fn zero_counts_and_shares_above_100_are_refused() {
        assert!(Settings::parse(&args(&["--users", "0"]), []).is_err());
        assert!(Settings::parse(&args(&["--concurrency", "0"]), []).is_err());
        assert!(Settings::parse(&args(&["--discoverable-percent", "101"]), []).is_err());
        assert!(Settings::parse(&args(&["--fast"]), []).is_err());
    }

    #[test]
    fn the_statement_log_is_off_unless_asked_for() {
        let quiet = run(Settings::parse(&[], []));
        let logged = run(Settings::parse(&args(&["--statement-log-ms", "0"]), []));

        assert!(quiet.database_settings().is_empty());
        assert_eq!(
            logged.database_settings()[0],
            ("log_min_duration_statement", "0".to_owned())
        );
    }

    #[test]
    fn a_projection_is_kept_or_reused_not_both() {
        let keep = run(Settings::parse(&args(&["--keep-projection", "kept"]), []));
        let reuse = run(Settings::parse(&args(&["--from-projection", "kept"]), []));

        assert_eq!(keep.keep_projection.as_deref(), Some("kept"));
        assert_eq!(reuse.from_projection.as_deref(), Some("kept"));
        assert!(
            Settings::parse(
                &args(&["--keep-projection", "a", "--from-projection", "b"]),
                []
            )
            .is_err()
        );
    }

    #[test]
    fn the_network_label_changes_with_the_network_not_with_the_queries() {
        let base = run(Settings::parse(&[], []));
        let more_queries = run(Settings::parse(&args(&["--queries", "10"]), []));
        let other_seed = run(Settings::parse(&args(&["--seed", "2"]), []));

        assert_eq!(base.network_label(), more_queries.network_label());
        assert_ne!(base.network_label(), other_seed.network_label());
    }

    #[test]
    fn help_is_asked_for_by_flag() {
        assert_eq!(Settings::parse(&args(&["--help"]), []), Ok(Request::Help));
    }
}
