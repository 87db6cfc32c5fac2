//! What the benchmark runs with: command-line options, else `BENCH_*` variables,
//! else the defaults of the issue (read with `six_bench_support::options`). The
//! search service itself runs on its production defaults unless
//! `--writer-memory-bytes`, `--handler-batch`, `--handler-concurrency` or
//! `--prefetch` says otherwise.

use std::{fmt, path::PathBuf};

use six_bench_support::options::{OptionSpec, Options, Request, usage_of};

use crate::{people::Shape, service::Overrides};

/// The benchmark's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The address books to generate.
    pub shape: Shape,
    /// Most contacts per `importer.contacts.imported.v1` batch.
    pub batch_contacts: usize,
    /// Searches timed.
    pub queries: usize,
    /// Searches sent first, untimed.
    pub warmup_queries: usize,
    /// Clients searching at once, one search in flight each.
    pub concurrency: usize,
    /// The service's binary; `None`: built from `services/search` next to this one.
    pub search_binary: Option<PathBuf>,
    /// Where the index directory is made (a fresh one inside, removed at the end).
    pub index_parent: PathBuf,
    /// What the service runs with besides its defaults.
    pub overrides: Overrides,
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        flag: "--owners",
        variable: "BENCH_OWNERS",
        help: "users with an address book (5000)",
    },
    OptionSpec {
        flag: "--contacts-per-owner",
        variable: "BENCH_CONTACTS_PER_OWNER",
        help: "contacts in each address book (200)",
    },
    OptionSpec {
        flag: "--discoverable-percent",
        variable: "BENCH_DISCOVERABLE_PERCENT",
        help: "share of owners with a discoverable profile, seen by everyone (20)",
    },
    OptionSpec {
        flag: "--batch-contacts",
        variable: "BENCH_BATCH_CONTACTS",
        help: "most contacts per importer.contacts.imported.v1 batch (200)",
    },
    OptionSpec {
        flag: "--queries",
        variable: "BENCH_QUERIES",
        help: "searches timed (5000)",
    },
    OptionSpec {
        flag: "--warmup-queries",
        variable: "BENCH_WARMUP_QUERIES",
        help: "searches sent first, untimed (500)",
    },
    OptionSpec {
        flag: "--concurrency",
        variable: "BENCH_CONCURRENCY",
        help: "clients searching at once, one search in flight each (8)",
    },
    OptionSpec {
        flag: "--seed",
        variable: "BENCH_SEED",
        help: "seed of the address books and of the searches (1)",
    },
    OptionSpec {
        flag: "--search-binary",
        variable: "BENCH_SEARCH_BINARY",
        help: "the search service binary (built from services/search next to this binary)",
    },
    OptionSpec {
        flag: "--index-dir",
        variable: "BENCH_INDEX_DIR",
        help: "where the index's temporary directory is made (the system's temporary directory)",
    },
    OptionSpec {
        flag: "--writer-memory-bytes",
        variable: "BENCH_WRITER_MEMORY_BYTES",
        help: "SEARCH_INDEX_WRITER_MEMORY_BYTES of the service (its default)",
    },
    OptionSpec {
        flag: "--handler-batch",
        variable: "BENCH_HANDLER_BATCH",
        help: "BUS_HANDLER_BATCH_SIZE of the service: most events per index commit (its default)",
    },
    OptionSpec {
        flag: "--handler-concurrency",
        variable: "BENCH_HANDLER_CONCURRENCY",
        help: "BUS_MAX_CONCURRENT_HANDLERS of the service: consumer transactions at once (its default)",
    },
    OptionSpec {
        flag: "--prefetch",
        variable: "BENCH_PREFETCH",
        help: "BUS_PREFETCH of the service: deliveries its consumer holds (its default)",
    },
];

/// The usage text.
pub fn usage() -> String {
    usage_of(
        "search-load",
        "Documents indexed per second by the search service (tantivy) from real \
         importer.contacts.imported.v1 and api.profile.updated.v1 events, p50/p95/p99/max of \
         GET /v1/search at concurrency 8 for full-name, typo, prefix and filtered searches, the \
         index's size on disk and the service's memory, on generated address books. Starts the \
         search binary on a throwaway database, vhost and index directory of the local stack \
         (infra/local/stack up).",
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
        let discoverable_percent: u8 = options.get_or("--discoverable-percent", 20)?;
        if discoverable_percent > 100 {
            return Err(format!(
                "--discoverable-percent must be at most 100, got {discoverable_percent}"
            ));
        }
        let settings = Settings {
            shape: Shape {
                owners: options.count("--owners", 5_000)?,
                contacts_per_owner: options.count("--contacts-per-owner", 200)?,
                discoverable_percent,
                seed: options.get_or("--seed", 1)?,
            },
            batch_contacts: options.count("--batch-contacts", 200)?,
            queries: options.count("--queries", 5_000)?,
            warmup_queries: options.get_or("--warmup-queries", 500)?,
            concurrency: options.count("--concurrency", 8)?,
            search_binary: options.get("--search-binary")?,
            index_parent: options
                .get("--index-dir")?
                .unwrap_or_else(std::env::temp_dir),
            overrides: Overrides {
                writer_memory_bytes: options.get("--writer-memory-bytes")?,
                handler_batch: positive(&options, "--handler-batch")?,
                handler_concurrency: positive(&options, "--handler-concurrency")?,
                prefetch: positive(&options, "--prefetch")?
                    .map(|prefetch| {
                        u16::try_from(prefetch).map_err(|_| {
                            format!("--prefetch must be at most 65535, got {prefetch}")
                        })
                    })
                    .transpose()?,
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

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "owners={} contacts-per-owner={} discoverable-percent={} batch-contacts={} \
             queries={} warmup-queries={} concurrency={} seed={}",
            self.shape.owners,
            self.shape.contacts_per_owner,
            self.shape.discoverable_percent,
            self.batch_contacts,
            self.queries,
            self.warmup_queries,
            self.concurrency,
            self.shape.seed,
        )?;
        if let Some(bytes) = self.overrides.writer_memory_bytes {
            write!(f, " writer-memory-bytes={bytes}")?;
        }
        if let Some(batch) = self.overrides.handler_batch {
            write!(f, " handler-batch={batch}")?;
        }
        if let Some(concurrency) = self.overrides.handler_concurrency {
            write!(f, " handler-concurrency={concurrency}")?;
        }
        if let Some(prefetch) = self.overrides.prefetch {
            write!(f, " prefetch={prefetch}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use six_bench_support::options::testing::{args, run};

    use super::*;

    #[test]
    fn the_defaults_are_the_issue_s_books_and_load() {
        let settings = run(Settings::parse(&[], []));

        assert_eq!(settings.shape.owners, 5_000);
        assert_eq!(settings.shape.contacts_per_owner, 200);
        assert_eq!(settings.batch_contacts, 200);
        assert_eq!(settings.concurrency, 8);
        assert_eq!(settings.overrides, Overrides::default());
        assert_eq!(settings.search_binary, None);
    }

    #[test]
    fn an_option_wins_over_its_variable() {
        let env = [
            ("BENCH_OWNERS".to_owned(), "50".to_owned()),
            ("BENCH_QUERIES".to_owned(), "10".to_owned()),
        ];

        let settings = run(Settings::parse(&args(&["--owners=200"]), env));

        assert_eq!(settings.shape.owners, 200);
        assert_eq!(settings.queries, 10);
    }

    #[test]
    fn zero_counts_and_shares_above_100_are_refused() {
        assert!(Settings::parse(&args(&["--owners", "0"]), []).is_err());
        assert!(Settings::parse(&args(&["--batch-contacts", "0"]), []).is_err());
        assert!(Settings::parse(&args(&["--handler-batch", "0"]), []).is_err());
        assert!(Settings::parse(&args(&["--prefetch", "70000"]), []).is_err());
        assert!(Settings::parse(&args(&["--discoverable-percent", "101"]), []).is_err());
        assert!(Settings::parse(&args(&["--fast"]), []).is_err());
    }

    #[test]
    fn service_overrides_are_passed_only_when_given() {
        let settings = run(Settings::parse(
            &args(&[
                "--handler-batch",
                "64",
                "--writer-memory-bytes",
                "32000000",
                "--handler-concurrency",
                "2",
                "--prefetch",
                "256",
            ]),
            [],
        ));

        assert_eq!(settings.overrides.handler_batch, Some(64));
        assert_eq!(settings.overrides.handler_concurrency, Some(2));
        assert_eq!(settings.overrides.prefetch, Some(256));
        assert_eq!(settings.overrides.writer_memory_bytes, Some(32_000_000));
    }

    #[test]
    fn help_is_asked_for_by_flag() {
        assert_eq!(Settings::parse(&args(&["--help"]), []), Ok(Request::Help));
    }
}
