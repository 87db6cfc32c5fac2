//! The yardsticks: the same rows loaded into a plain table (seven `text` columns,
//! no key, no index) of a fresh database, by `psql \copy` and by pgloader. Both
//! read the copy of the file without LinkedIn's notes lines (made before, untimed),
//! since neither can skip lines before the header. Each is timed from spawning
//! the tool to its exit, and the table's rows are counted afterwards.

use std::{
    path::{Path, PathBuf},
    process::Output,
    time::{Duration, Instant},
};

use anyhow::Context;
use six_bench_support::cpu::{CpuUsage, Tracker};
use six_testkit::TestDatabase;
use tokio::process::Command;

/// How often the CPU counters are read while a tool runs.
const CPU_READ_EVERY: Duration = Duration::from_millis(100);

/// The plain table both tools load.
const TABLE: &str = "plain_connections";

/// Its columns, in the file's order.
const COLUMNS: [&str; 7] = [
    "first_name",
    "last_name",
    "url",
    "email",
    "company",
    "position",
    "connected_on",
];

/// What one load measured.
#[derive(Debug, Clone)]
pub struct PlainFigures {
    /// `psql \copy` or `pgloader`.
    pub tool: &'static str,
    /// Rows in the table afterwards.
    pub rows: u64,
    /// Spawn to exit.
    pub elapsed: Duration,
    /// Where the CPU went (the tool itself counts as `other`; its PostgreSQL
    /// backend as `postgres`).
    pub cpu: CpuUsage,
    /// CPU time of the tool's own process (user + system).
    pub tool_cpu: Duration,
    /// The tool's last output lines (pgloader's summary).
    pub output_tail: Vec<String>,
    /// The load time the tool reports itself, if it does (pgloader's `Total import
    /// time`: without its start-up and reading of the command file).
    pub reported: Option<Duration>,
}

impl PlainFigures {
    /// Rows per second, spawn to exit.
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }
}

/// `psql` to use: `explicit`, else the newest `/usr/lib/postgresql/*/bin/psql`
/// (the server's own tools on Debian), else `psql` from `PATH`.
pub fn psql(explicit: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_owned();
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let psql = entry.path().join("bin/psql");
            psql.is_file().then_some((version, psql))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map_or_else(|| PathBuf::from("psql"), |(_, path)| path)
}

/// The first line a tool prints for `--version`, or why there is none.
pub async fn version(tool: &Path) -> String {
    first_line(Command::new(tool).arg("--version")).await
}

/// pgloader's version; `work_dir` as its root directory, which it creates even for
/// `--version` (by default `/tmp/pgloader`).
pub async fn pgloader_version(pgloader: &Path, work_dir: &Path) -> String {
    first_line(
        Command::new(pgloader)
            .arg("--root-dir")
            .arg(work_dir)
            .arg("--version"),
    )
    .await
}

/// The first line `command` prints, or why there is none.
async fn first_line(command: &mut Command) -> String {
    match command.output().await {
        Ok(output) => String::from_utf8_lossy(&output.stdout)
            .lines()
            .next()
            .unwrap_or("no version printed")
            .to_owned(),
        Err(error) => format!("not runnable: {error}"),
    }
}

/// Loads `file` (header first, no notes) with `psql \copy ... (FORMAT csv, HEADER)`.
pub async fn copy(psql: &Path, file: &Path) -> anyhow::Result<PlainFigures> {
    let database = plain_database().await?;
    let copy = format!(
        "\\copy {TABLE} FROM '{}' WITH (FORMAT csv, HEADER)",
        quoted_path(file)?
    );
    let mut command = Command::new(psql);
    command
        .arg("--no-psqlrc")
        .args(["--set", "ON_ERROR_STOP=1"])
        .arg("--dbname")
        .arg(database_url(&database)?)
        .arg("--command")
        .arg(copy);
    let (output, elapsed, cpu, tool_cpu) = timed(command).await.context("run psql")?;
    anyhow::ensure!(
        output.status.success(),
        "psql \\copy failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(PlainFigures {
        tool: "psql \\copy",
        rows: rows_in_table(&database).await?,
        elapsed,
        cpu,
        tool_cpu,
        output_tail: tail(&output, 3),
        reported: None,
    })
}

/// Loads `file` (header first, no notes) with a pgloader command file.
pub async fn pgloader(
    pgloader: &Path,
    file: &Path,
    work_dir: &Path,
) -> anyhow::Result<PlainFigures> {
    let database = plain_database().await?;
    let directory = tempfile::Builder::new()
        .prefix("pgloader-")
        .tempdir_in(work_dir)
        .context("create pgloader's directory")?;
    let commands = directory.path().join("load.pgloader");
    std::fs::write(&commands, command_file(file, &database_url(&database)?)?)
        .context("write pgloader's command file")?;
    let mut command = Command::new(pgloader);
    command
        .arg("--root-dir")
        .arg(directory.path())
        .arg("--logfile")
        .arg(directory.path().join("pgloader.log"))
        .arg(&commands);
    let (output, elapsed, cpu, tool_cpu) = timed(command).await.context("run pgloader")?;
    let rows = rows_in_table(&database).await?;
    anyhow::ensure!(
        output.status.success(),
        "pgloader failed ({}), {rows} rows loaded:\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(PlainFigures {
        tool: "pgloader",
        rows,
        elapsed,
        cpu,
        tool_cpu,
        output_tail: tail(&output, 12),
        reported: reported_total(&String::from_utf8_lossy(&output.stdout)),
    })
}

/// pgloader's command: the CSV's seven fields into the table's seven columns,
/// RFC 4180 quoting, the header skipped; everything else pgloader's defaults.
fn command_file(file: &Path, database_url: &str) -> anyhow::Result<String> {
    let columns = COLUMNS.join(", ");
    Ok(format!(
        "LOAD CSV\n\
         \x20    FROM '{file}' ({columns})\n\
         \x20    INTO {database_url}\n\
         \x20    TARGET TABLE {TABLE} ({columns})\n\
         \x20    WITH skip header = 1,\n\
         \x20         fields optionally enclosed by '\"',\n\
         \x20         fields escaped by double-quote,\n\
         \x20         fields terminated by ','\n\
         ;\n",
        file = quoted_path(file)?,
    ))
}

/// A fresh database holding the empty plain table.
async fn plain_database() -> anyhow::Result<TestDatabase> {
    let database = TestDatabase::create().await;
    let columns = COLUMNS
        .iter()
        .map(|column| format!("{column} text"))
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {TABLE} ({columns})"
    )))
    .execute(&database.pool())
    .await
    .context("create the plain table")?;
    Ok(database)
}

async fn rows_in_table(database: &TestDatabase) -> anyhow::Result<u64> {
    let rows: i64 =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {TABLE}")))
            .fetch_one(&database.pool())
            .await
            .context("count the loaded rows")?;
    Ok(u64::try_from(rows).unwrap_or_default())
}

/// The database's URL as libpq and pgloader read it: the admin URL's user,
/// password, host and port, this database, nothing else.
fn database_url(database: &TestDatabase) -> anyhow::Result<String> {
    let mut url = url::Url::parse(&six_testkit::database_admin_url())
        .context("SIX_DATABASE_ADMIN_URL is not a URL")?;
    url.set_path(database.name());
    url.set_query(None);
    let text = url.to_string();
    Ok(match text.strip_prefix("postgres://") {
        Some(rest) => format!("postgresql://{rest}"),
        None => text,
    })
}

/// `path` for a single-quoted literal of psql or pgloader.
fn quoted_path(path: &Path) -> anyhow::Result<String> {
    let text = path
        .to_str()
        .with_context(|| format!("{} is not UTF-8", path.display()))?;
    anyhow::ensure!(
        !text.contains('\''),
        "{text} holds a quote; choose another --work-dir"
    );
    Ok(text.to_owned())
}

/// Runs `command` to its end: its output, the wall time, where the machine's CPU
/// went, and the CPU time of the process itself (from this process's reaped
/// children).
async fn timed(mut command: Command) -> anyhow::Result<(Output, Duration, CpuUsage, Duration)> {
    let before = children_cpu();
    // Tracked: the tool's PostgreSQL backend ends with it.
    let cpu = Tracker::start(CPU_READ_EVERY);
    let started = Instant::now();
    let output = command.kill_on_drop(true).output().await?;
    let elapsed = started.elapsed();
    let usage = cpu.finish();
    let tool_cpu = children_cpu().saturating_sub(before);
    Ok((output, elapsed, usage, tool_cpu))
}

/// User + system CPU time of this process's ended and reaped children.
fn children_cpu() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` writes one `rusage` into the pointer it is given.
    let read = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    if read != 0 {
        return Duration::ZERO;
    }
    // SAFETY: initialised by the successful call above.
    let usage = unsafe { usage.assume_init() };
    let time = |value: libc::timeval| {
        Duration::from_secs(u64::try_from(value.tv_sec).unwrap_or_default())
            + Duration::from_micros(u64::try_from(value.tv_usec).unwrap_or_default())
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// The time on pgloader's `Total import time` line (`1.680s`, `1m5.123s`).
fn reported_total(summary: &str) -> Option<Duration> {
    let line = summary
        .lines()
        .find(|line| line.contains("Total import time"))?;
    let mut text = line.split_whitespace().last()?;
    let mut seconds = 0.0;
    for (unit, factor) in [('h', 3600.0), ('m', 60.0), ('s', 1.0)] {
        if let Some((number, rest)) = text.split_once(unit) {
            seconds += number.parse::<f64>().ok()? * factor;
            text = rest;
        }
    }
    text.is_empty().then(|| Duration::from_secs_f64(seconds))
}

/// The last `lines` lines of the output, stdout then stderr.
fn tail(output: &Output, lines: usize) -> Vec<String> {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let all: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|line| (*line).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pgloader_command_names_the_file_the_database_and_the_columns() {
        let file = Path::new("/tmp/bench/plain.csv");

        let text = command_file(file, "postgresql://six:six@127.0.0.1:26432/test_1")
            .expect("a command file");

        assert!(text.starts_with("LOAD CSV\n     FROM '/tmp/bench/plain.csv' (first_name, "));
        assert!(text.contains("INTO postgresql://six:six@127.0.0.1:26432/test_1\n"));
        assert!(text.contains(
            "TARGET TABLE plain_connections (first_name, last_name, url, email, company, position, connected_on)"
        ));
        assert!(text.contains("WITH skip header = 1,"));
        assert!(text.trim_end().ends_with(';'));
    }

    #[test]
    fn pgloaders_own_total_time_is_read_from_its_summary() {
        let summary = "   Total import time          ✓      20000     2.3 MB          1.680s\n";
        let longer = "   Total import time          ✓    1000000   113.0 MB        1m5.250s\n";

        assert_eq!(reported_total(summary), Some(Duration::from_millis(1_680)));
        assert_eq!(reported_total(longer), Some(Duration::from_millis(65_250)));
        assert_eq!(reported_total("no summary"), None);
    }

    #[test]
    fn a_path_with_a_quote_is_refused() {
        assert!(quoted_path(Path::new("/tmp/it's.csv")).is_err());
        assert_eq!(
            quoted_path(Path::new("/tmp/plain.csv")).expect("quoted"),
            "/tmp/plain.csv"
        );
    }

    #[test]
    fn children_cpu_never_goes_backwards() {
        let first = children_cpu();

        let second = children_cpu();

        assert!(second >= first);
    }
}
