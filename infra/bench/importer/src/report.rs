//! The printed report: a header, one block per run as it finishes, then the chunk
//! sweep and memory-by-size tables and the targets of the issue with PASS or MISS.
//! Nothing here asserts.

use std::time::Duration;

use six_bench_support::{
    cpu::CpuUsage,
    memory::bytes,
    report::{Machine, grouped, grouped_rounded, megabytes},
};

use crate::{
    generate::Generated, importer_run::ImporterFigures, plain::PlainFigures, settings::Settings,
};

/// Rows per second the importer must reach.
pub const TARGET_ROWS_PER_SECOND: f64 = 200_000.0;
/// Share of `\copy`'s rate the importer must reach.
pub const TARGET_SHARE_OF_COPY: f64 = 0.5;
/// Peak resident memory of the importer: 100 MB, read as 100 × 10⁶ bytes (the
/// stricter reading).
pub const TARGET_PEAK_RSS_BYTES: u64 = 100_000_000;
/// Peak memory counts as independent of the file size when the largest file's
/// peak is at most this much above the smallest's.
pub const FLAT_TOLERANCE: f64 = 0.10;

/// What the header shows besides the settings.
pub struct Context<'a> {
    /// The benchmark's settings.
    pub settings: &'a Settings,
    /// The importer binary and its size.
    pub importer_binary: String,
    /// PostgreSQL's version and durability settings.
    pub postgres: String,
    /// `psql --version`.
    pub psql: String,
    /// `pgloader --version`.
    pub pgloader: String,
    /// How busy the machine was just before.
    pub before: CpuUsage,
}

/// The header: when, where, with what.
pub fn header(context: &Context<'_>) {
    println!("six-degrees importer benchmark");
    println!(
        "  date:     {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("  machine:  {}", machine());
    println!("  settings: {}", context.settings);
    println!("  importer: {}", context.importer_binary);
    println!("  postgres: {}", context.postgres);
    println!("  psql:     {}", context.psql);
    println!("  pgloader: {}", context.pgloader);
    println!(
        "  load:     {:.2} cores busy in the second before the run{}",
        context.before.machine,
        if context.before.machine > 0.25 {
            " (other work on the machine skews the figures)"
        } else {
            ""
        }
    );
    println!();
}

/// One generated file.
pub fn generated(generated: &Generated, took: Duration, plain_bytes: Option<u64>) {
    println!(
        "  file: {} rows, {} ({} with an e-mail address), written in {}{}",
        grouped(generated.rows),
        megabytes(generated.bytes),
        grouped(generated.with_email),
        seconds(took),
        plain_bytes
            .map(|bytes| format!(
                "; without the notes lines for copy and pgloader: {}",
                megabytes(bytes)
            ))
            .unwrap_or_default()
    );
}

/// One importer run's block.
pub fn importer(figures: &ImporterFigures) {
    let job = &figures.job;
    println!(
        "== importer: {} rows, chunk {} ==",
        grouped(figures.run.rows),
        chunk_label(figures.run.chunk_rows)
    );
    println!(
        "  first byte sent → job completed: {}: {} rows/s",
        seconds(figures.total),
        grouped_rounded(figures.rows_per_second())
    );
    println!(
        "  upload {} ({}/s) | queued {} | processing {} ({} rows/s) | outbox drained {} after the first byte",
        seconds(figures.upload),
        megabytes((figures.file_bytes as f64 / figures.upload.as_secs_f64()) as u64),
        seconds(figures.queued),
        seconds(figures.processing),
        grouped_rounded(figures.processing_rows_per_second()),
        seconds(figures.until_drained),
    );
    let counts_agree = job.rows_read == figures.run.rows
        && job.rows_rejected == 0
        && job.duplicates == 0
        && figures.contacts_in_database == i64::try_from(job.contacts_accepted).unwrap_or(-1);
    println!(
        "  job: {} rows read, {} accepted, {} rejected, {} duplicates, format {}, {} bytes; \
         {} contacts.imported batches; contacts in the database: {} ({})",
        grouped(job.rows_read),
        grouped(job.contacts_accepted),
        grouped(job.rows_rejected),
        grouped(job.duplicates),
        job.format.as_deref().unwrap_or("?"),
        grouped(job.bytes_read),
        figures.batches,
        grouped(u64::try_from(figures.contacts_in_database).unwrap_or_default()),
        if counts_agree {
            "all rows accepted, none lost"
        } else {
            "MISMATCH: see above"
        }
    );
    for line in &figures.rejects_sample {
        println!("    rejects.csv: {line}");
    }
    let start = &figures.memory_at_start;
    let end = &figures.memory_at_end;
    println!(
        "  memory: {} RSS once ready; largest sample while uploading {}, while processing {}; \
         peak (VmHWM) {}",
        kib(start.rss_kib),
        kib(figures.largest_rss_upload_kib),
        kib(figures.largest_rss_processing_kib),
        kib(end.peak_kib),
    );
    println!(
        "          at the end {} RSS ({} anonymous, {} file-backed), {} threads; {} samples every 100 ms",
        kib(end.rss_kib),
        kib(end.anon_kib),
        kib(end.file_kib),
        end.threads,
        figures.rss_samples
    );
    println!("  cpu while uploading:  {}", figures.cpu_upload);
    println!("  cpu while processing: {}", figures.cpu_processing);
    println!(
        "  cpu per row while processing: {}",
        per_row(
            &figures.cpu_processing,
            figures.processing,
            figures.run.rows
        )
    );
    println!(
        "  after SIGTERM: {}; warnings and errors logged: {}",
        figures.exit,
        figures.log_problems.len()
    );
    for line in figures.log_problems.iter().take(5) {
        println!("    {line}");
    }
    println!();
}

/// A plain load's block.
pub fn plain(figures: &PlainFigures, expected_rows: u64) {
    println!(
        "== {} into a plain table (7 text columns, no index) ==",
        figures.tool
    );
    println!(
        "  {} rows in {}: {} rows/s{}",
        grouped(figures.rows),
        seconds(figures.elapsed),
        grouped_rounded(figures.rows_per_second()),
        if figures.rows == expected_rows {
            String::new()
        } else {
            format!(" (MISMATCH: {} rows expected)", grouped(expected_rows))
        }
    );
    println!(
        "  {} itself: {} of CPU ({:.2} cores; in `other` below)",
        figures.tool,
        seconds(figures.tool_cpu),
        figures.tool_cpu.as_secs_f64() / figures.elapsed.as_secs_f64()
    );
    if let Some(reported) = figures.reported {
        println!(
            "  by its own clock (without start-up): {}: {} rows/s",
            seconds(reported),
            grouped_rounded(figures.rows as f64 / reported.as_secs_f64())
        );
    }
    println!("  cpu: {}", figures.cpu);
    println!(
        "  cpu per row: {}",
        per_row(&figures.cpu, figures.elapsed, figures.rows)
    );
    for line in &figures.output_tail {
        println!("    | {line}");
    }
    println!();
}

/// The chunk sweep: the importer runs at the main size, one line per chunk size.
pub fn sweep(runs: &[&ImporterFigures]) {
    if runs.len() < 2 {
        return;
    }
    println!(
        "== chunk size sweep ({} rows) ==",
        grouped(runs[0].run.rows)
    );
    println!(
        "  {:>10} | {:>10} | {:>15} | {:>10} | {:>14} | {:>14} | {:>11}",
        "chunk rows",
        "rows/s",
        "processing /s",
        "peak RSS",
        "importer / row",
        "postgres / row",
        "other cores"
    );
    for figures in runs {
        let cpu = &figures.cpu_processing;
        let per_row_micros =
            |cores: f64| cores * figures.processing.as_secs_f64() / figures.run.rows as f64 * 1e6;
        println!(
            "  {:>10} | {:>10} | {:>15} | {:>10} | {:>11.1} µs | {:>11.1} µs | {:>11.2}",
            chunk_label(figures.run.chunk_rows),
            grouped_rounded(figures.rows_per_second()),
            grouped_rounded(figures.processing_rows_per_second()),
            kib(figures.memory_at_end.peak_kib),
            per_row_micros(cpu.service_process),
            per_row_micros(cpu.postgres),
            cpu.other,
        );
    }
    println!();
}

/// Peak memory by file size, for runs at the same chunk size.
pub fn by_size(runs: &[&ImporterFigures]) {
    if runs.len() < 2 {
        return;
    }
    println!(
        "== peak memory by file size (chunk {}) ==",
        chunk_label(runs[0].run.chunk_rows)
    );
    println!(
        "  {:>10} | {:>10} | {:>16} | {:>26} | {:>10}",
        "rows", "file", "peak RSS (VmHWM)", "largest sample, processing", "rows/s"
    );
    let mut runs = runs.to_vec();
    runs.sort_by_key(|figures| figures.run.rows);
    for figures in runs {
        println!(
            "  {:>10} | {:>10} | {:>16} | {:>26} | {:>10}",
            grouped(figures.run.rows),
            megabytes(figures.file_bytes),
            kib(figures.memory_at_end.peak_kib),
            kib(figures.largest_rss_processing_kib),
            grouped_rounded(figures.rows_per_second()),
        );
    }
    println!();
}

/// The targets of the issue, PASS or MISS each; `main` is the importer run at the
/// main size and first chunk size, `same_chunk` every run at that chunk size (the
/// memory targets are judged on these; a sweep's other chunk sizes are in its
/// table).
pub fn summary(
    main: Option<&ImporterFigures>,
    same_chunk: &[&ImporterFigures],
    copy: Option<&PlainFigures>,
    pgloader: Option<&PlainFigures>,
) {
    println!("== targets ==");
    let Some(main) = main else {
        println!("  (no importer run: nothing to judge)");
        return;
    };
    let rate = main.rows_per_second();
    println!(
        "  importer ≥ {} rows/s: {} rows/s ({} rows, chunk {}): {}",
        grouped_rounded(TARGET_ROWS_PER_SECOND),
        grouped_rounded(rate),
        grouped(main.run.rows),
        chunk_label(main.run.chunk_rows),
        verdict(rate >= TARGET_ROWS_PER_SECOND)
    );
    match pgloader {
        Some(pgloader) => println!(
            "  faster than pgloader ({} rows/s): {:.2}× pgloader: {}",
            grouped_rounded(pgloader.rows_per_second()),
            rate / pgloader.rows_per_second(),
            verdict(rate > pgloader.rows_per_second())
        ),
        None => println!("  faster than pgloader: not run"),
    }
    match copy {
        Some(copy) => {
            let share = rate / copy.rows_per_second();
            println!(
                "  ≥ {:.0}% of \\copy ({} rows/s): {:.1}%: {}",
                TARGET_SHARE_OF_COPY * 100.0,
                grouped_rounded(copy.rows_per_second()),
                share * 100.0,
                verdict(share >= TARGET_SHARE_OF_COPY)
            );
        }
        None => println!("  share of \\copy: not run"),
    }
    let largest_peak = same_chunk
        .iter()
        .map(|figures| figures.peak_rss_bytes())
        .max()
        .unwrap_or_default();
    println!(
        "  peak RSS < {} (every run at chunk {}): largest {}: {}",
        megabytes(TARGET_PEAK_RSS_BYTES),
        chunk_label(main.run.chunk_rows),
        megabytes(largest_peak),
        verdict(largest_peak < TARGET_PEAK_RSS_BYTES)
    );
    match flatness(same_chunk) {
        Some(flat) => println!(
            "  peak RSS independent of file size ({} → {} rows): {} → {} ({:+.0}%; flat: at most +{:.0}%): {}",
            grouped(flat.smallest_rows),
            grouped(flat.largest_rows),
            megabytes(flat.smallest_peak),
            megabytes(flat.largest_peak),
            flat.growth * 100.0,
            FLAT_TOLERANCE * 100.0,
            verdict(flat.growth <= FLAT_TOLERANCE)
        ),
        None => println!("  peak RSS independent of file size: one size only (see --sizes)"),
    }
}

/// The peaks of the smallest and largest files of `runs`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flatness {
    /// Rows of the smallest file.
    pub smallest_rows: u64,
    /// Its peak, in bytes.
    pub smallest_peak: u64,
    /// Rows of the largest file.
    pub largest_rows: u64,
    /// Its peak, in bytes.
    pub largest_peak: u64,
    /// How much larger the largest file's peak is, as a share of the smallest's.
    pub growth: f64,
}

/// Compares the peak memory of the smallest and the largest file of `runs`;
/// `None` with fewer than two sizes.
pub fn flatness(runs: &[&ImporterFigures]) -> Option<Flatness> {
    let smallest = runs.iter().min_by_key(|figures| figures.run.rows)?;
    let largest = runs.iter().max_by_key(|figures| figures.run.rows)?;
    if smallest.run.rows == largest.run.rows {
        return None;
    }
    Some(flatness_of(
        (smallest.run.rows, smallest.peak_rss_bytes()),
        (largest.run.rows, largest.peak_rss_bytes()),
    ))
}

fn flatness_of(smallest: (u64, u64), largest: (u64, u64)) -> Flatness {
    Flatness {
        smallest_rows: smallest.0,
        smallest_peak: smallest.1,
        largest_rows: largest.0,
        largest_peak: largest.1,
        growth: largest.1 as f64 / smallest.1.max(1) as f64 - 1.0,
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "PASS" } else { "MISS" }
}

/// The chunk size as set, or the service's default.
pub fn chunk_label(chunk_rows: Option<u64>) -> String {
    chunk_rows.map_or_else(|| "default".to_owned(), grouped)
}

/// CPU per row of each group, from cores busy over `elapsed`.
fn per_row(cpu: &CpuUsage, elapsed: Duration, rows: u64) -> String {
    let micros = |cores: f64| cores * elapsed.as_secs_f64() / rows.max(1) as f64 * 1e6;
    let mut parts = Vec::new();
    if cpu.service_process > 0.0 {
        parts.push(format!("importer {:.1} µs", micros(cpu.service_process)));
    }
    parts.push(format!("bench {:.1} µs", micros(cpu.bench)));
    parts.push(format!("postgres {:.1} µs", micros(cpu.postgres)));
    parts.push(format!("rabbitmq {:.1} µs", micros(cpu.rabbitmq)));
    parts.push(format!("other {:.1} µs", micros(cpu.other)));
    parts.join(", ")
}

fn machine() -> String {
    let machine = Machine::read();
    format!(
        "{}, {} cores, {:.0} GiB",
        machine.cpu_model, machine.cores, machine.memory_gib
    )
}

fn kib(kib: u64) -> String {
    megabytes(bytes(kib))
}

fn seconds(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_the_largest_files_peak_over_the_smallests() {
        let flat = flatness_of((250_000, 40_000_000), (1_000_000, 44_000_000));

        assert!((flat.growth - 0.10).abs() < 1e-9);
        assert!(flat.growth <= FLAT_TOLERANCE + 1e-9);
    }

    #[test]
    fn kibibytes_read_in_megabytes() {
        assert_eq!(kib(1_000), "1.0 MB");
    }

    #[test]
    fn the_default_chunk_size_is_named_so() {
        assert_eq!(chunk_label(None), "default");
        assert_eq!(chunk_label(Some(20_000)), "20,000");
    }
}
