//! What the benchmark runs with: command-line options, else `BENCH_*` variables,
//! else the defaults below (read with `six_bench_support::options`).

use std::{fmt, path::PathBuf, str::FromStr};

use six_bench_support::options::{OptionSpec, Options, Request, phase_flags, phase_list, usage_of};

/// Which loads to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phases {
    /// The importer service, as its own process, over HTTP.
    pub importer: bool,
    /// `psql \copy` into a plain table.
    pub copy: bool,
    /// pgloader into a plain table.
    pub pgloader: bool,
}

impl Phases {
    /// Every phase.
    pub fn all() -> Self {
        Self {
            importer: true,
            copy: true,
            pgloader: true,
        }
    }
}

const PHASE_NAMES: [&str; 3] = ["importer", "copy", "pgloader"];

impl FromStr for Phases {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let [importer, copy, pgloader] = phase_flags(value, PHASE_NAMES)?;
        Ok(Self {
            importer,
            copy,
            pgloader,
        })
    }
}

impl fmt::Display for Phases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&phase_list(
            [self.importer, self.copy, self.pgloader],
            PHASE_NAMES,
        ))
    }
}

/// A comma-separated list of numbers (`1000,5000`); empty for none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NumberList(pub Vec<u64>);

impl FromStr for NumberList {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        value
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.replace('_', "")
                    .parse::<u64>()
                    .map_err(|error| format!("`{item}`: {error}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(NumberList)
    }
}

/// The benchmark's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Data rows of the main file, loaded by every phase.
    pub rows: u64,
    /// Further file sizes (data rows) the importer alone loads, to compare its peak
    /// memory across sizes.
    pub sizes: Vec<u64>,
    /// `IMPORTER_CHUNK_ROWS` of each importer run at `rows`; empty: the service's
    /// default (variable not set). More than one value is a sweep.
    pub chunk_rows: Vec<u64>,
    /// Seed of the generated rows.
    pub seed: u64,
    /// The phases to run.
    pub phases: Phases,
    /// The importer's binary; `None`: built from `services/importer` next to this
    /// benchmark's binary.
    pub importer_binary: Option<PathBuf>,
    /// `psql`; `None`: the newest under `/usr/lib/postgresql/*/bin`, else `psql`.
    pub psql: Option<PathBuf>,
    /// `pgloader`.
    pub pgloader: PathBuf,
    /// Where the generated files and the importer's spool go.
    pub work_dir: PathBuf,
}

const OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        flag: "--rows",
        variable: "BENCH_ROWS",
        help: "data rows of the file every phase loads (1000000)",
    },
    OptionSpec {
        flag: "--sizes",
        variable: "BENCH_SIZES",
        help: "more file sizes (rows) the importer alone loads, to compare peak RSS; empty for none (250000)",
    },
    OptionSpec {
        flag: "--chunk-rows",
        variable: "BENCH_CHUNK_ROWS",
        help: "IMPORTER_CHUNK_ROWS; a list (1000,5000,20000) runs the importer once per value (the service's default)",
    },
    OptionSpec {
        flag: "--phases",
        variable: "BENCH_PHASES",
        help: "importer,copy,pgloader or all (all)",
    },
    OptionSpec {
        flag: "--seed",
        variable: "BENCH_SEED",
        help: "seed of the generated rows (1)",
    },
    OptionSpec {
        flag: "--importer-binary",
        variable: "BENCH_IMPORTER_BINARY",
        help: "the importer service binary (built from services/importer next to this binary)",
    },
    OptionSpec {
        flag: "--psql",
        variable: "BENCH_PSQL",
        help: "psql (the newest /usr/lib/postgresql/*/bin/psql, else psql)",
    },
    OptionSpec {
        flag: "--pgloader",
        variable: "BENCH_PGLOADER",
        help: "pgloader (pgloader)",
    },
    OptionSpec {
        flag: "--work-dir",
        variable: "BENCH_WORK_DIR",
        help: "where the generated files and the spool go, in a temporary directory removed at the end ($TMPDIR)",
    },
];

/// The usage text.
pub fn usage() -> String {
    usage_of(
        "import-throughput",
        "Rows per second and peak memory of the importer service, psql \\copy and pgloader.",
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
        let settings = Settings {
            rows: options.get_or("--rows", 1_000_000)?,
            sizes: options.get_or("--sizes", NumberList(vec![250_000]))?.0,
            chunk_rows: options.get_or("--chunk-rows", NumberList::default())?.0,
            seed: options.get_or("--seed", 1)?,
            phases: options.get_or("--phases", Phases::all())?,
            importer_binary: options.get("--importer-binary")?,
            psql: options.get("--psql")?,
            pgloader: options.get_or("--pgloader", PathBuf::from("pgloader"))?,
            work_dir: options.get_or("--work-dir", std::env::temp_dir())?,
        };
        if settings.rows == 0 || settings.sizes.contains(&0) || settings.chunk_rows.contains(&0) {
            return Err("row counts and chunk sizes must be greater than zero".to_owned());
        }
        Ok(Request::Run(settings))
    }

    /// The importer runs: the main size once per chunk size, then each further
    /// size at the first chunk size. `None` as chunk size: the service's default.
    pub fn importer_runs(&self) -> Vec<ImporterRun> {
        let chunks: Vec<Option<u64>> = if self.chunk_rows.is_empty() {
            vec![None]
        } else {
            self.chunk_rows.iter().copied().map(Some).collect()
        };
        let mut runs: Vec<ImporterRun> = chunks
            .iter()
            .map(|chunk_rows| ImporterRun {
                rows: self.rows,
                chunk_rows: *chunk_rows,
            })
            .collect();
        runs.extend(
            self.sizes
                .iter()
                .filter(|rows| **rows != self.rows)
                .map(|rows| ImporterRun {
                    rows: *rows,
                    chunk_rows: chunks[0],
                }),
        );
        runs
    }

    /// Every file size the runs need, largest first, without repeats.
    pub fn file_sizes(&self) -> Vec<u64> {
        let mut sizes = vec![self.rows];
        if self.phases.importer {
            sizes.extend(&self.sizes);
        }
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        sizes.dedup();
        sizes
    }
}

/// One run of the importer phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImporterRun {
    /// Data rows of the file.
    pub rows: u64,
    /// `IMPORTER_CHUNK_ROWS`; `None`: not set (the service's default).
    pub chunk_rows: Option<u64>,
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |values: &[u64]| {
            values
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        write!(
            f,
            "rows={} sizes={} chunk-rows={} seed={} phases={}",
            self.rows,
            if self.sizes.is_empty() {
                "none".to_owned()
            } else {
                list(&self.sizes)
            },
            if self.chunk_rows.is_empty() {
                "service default".to_owned()
            } else {
                list(&self.chunk_rows)
            },
            self.seed,
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
        let env = [("BENCH_ROWS".to_owned(), "10".to_owned())];

        let settings = run(Settings::parse(&args(&["--rows", "20"]), env));

        assert_eq!(settings.rows, 20);
    }

    #[test]
    fn by_default_the_importer_runs_at_the_service_chunk_size_and_once_more_smaller() {
        let settings = run(Settings::parse(&[], []));

        let runs = settings.importer_runs();

        assert_eq!(
            runs,
            vec![
                ImporterRun {
                    rows: 1_000_000,
                    chunk_rows: None
                },
                ImporterRun {
                    rows: 250_000,
                    chunk_rows: None
                },
            ]
        );
        assert_eq!(settings.file_sizes(), vec![1_000_000, 250_000]);
    }

    #[test]
    fn a_chunk_list_is_a_sweep_and_further_sizes_take_its_first_value() {
        let settings = run(Settings::parse(
            &args(&[
                "--rows=200000",
                "--chunk-rows",
                "1000,5000",
                "--sizes",
                "50_000",
            ]),
            [],
        ));

        let runs = settings.importer_runs();

        assert_eq!(
            runs,
            vec![
                ImporterRun {
                    rows: 200_000,
                    chunk_rows: Some(1_000)
                },
                ImporterRun {
                    rows: 200_000,
                    chunk_rows: Some(5_000)
                },
                ImporterRun {
                    rows: 50_000,
                    chunk_rows: Some(1_000)
                },
            ]
        );
    }

    #[test]
    fn an_empty_size_list_adds_no_run() {
        let settings = run(Settings::parse(&args(&["--sizes", ""]), []));

        assert_eq!(settings.importer_runs().len(), 1);
    }

    #[test]
    fn unknown_options_phases_and_zero_counts_are_refused() {
        assert!(Settings::parse(&args(&["--fast"]), []).is_err());
        assert!(Settings::parse(&args(&["--phases", "import"]), []).is_err());
        assert!(Settings::parse(&args(&["--chunk-rows", "0"]), []).is_err());
        assert!(Settings::parse(&args(&["--rows", "0"]), []).is_err());
    }
}
