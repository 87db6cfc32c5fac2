//! The printed report: the header (machine, load, servers, settings), the address
//! books, one block per phase as it finishes, and the summary with each target of
//! the issue as PASS or MISS. Nothing here asserts.

use std::time::Duration;

use six_bench_support::{
    cpu::CpuUsage,
    memory::{Memory, bytes},
    report::{self, grouped, grouped_problems, grouped_rounded, megabytes, spaced, time, verdict},
};

use crate::{
    events::EventCounts,
    indexing::IndexingFigures,
    people::Stats,
    queries::{Kind, OwnerCheck, QueryFigures},
    rest::Rest,
    service::DirUsage,
    settings::Settings,
};

/// Target: documents indexed per second from events, at least.
pub const TARGET_DOCUMENTS_PER_SECOND: f64 = 30_000.0;
/// Target: p99 of a search at concurrency 8, at most.
pub const TARGET_SEARCH_P99: Duration = Duration::from_millis(15);
/// Target: the service's resident memory, below (300 MB read as 300 × 10⁶ bytes,
/// the stricter reading), judged on the peak of the run.
pub const TARGET_RSS_BYTES: u64 = 300_000_000;

/// Timeline entries printed at most (evenly spaced).
const TIMELINE_LINES: usize = 12;

/// What the header describes besides the settings.
pub struct Context<'a> {
    pub settings: &'a Settings,
    /// The service binary, with its size.
    pub search_binary: String,
    /// PostgreSQL's version and the settings that matter here.
    pub postgres: String,
    /// Where the CPU went in the second before the run.
    pub before: CpuUsage,
}

/// The header: when, where, with what.
pub fn header(context: &Context) {
    println!("six-degrees search benchmark: indexing from events, then GET /v1/search");
    report::print_run_context(context.before.machine);
    println!("  postgres: {}", context.postgres);
    let overrides: Vec<String> = context
        .settings
        .overrides
        .variables()
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    println!(
        "  search:   {} as its own process, tantivy backend, production defaults{} (fresh \
         database, vhost and index directory under {})",
        context.search_binary,
        if overrides.is_empty() {
            String::new()
        } else {
            format!(" but {}", overrides.join(" "))
        },
        context.settings.index_parent.display()
    );
    println!("  settings: {}", context.settings);
    println!();
}

/// The generated address books and the events they take.
pub fn people(stats: &Stats, events: &EventCounts, settings: &Settings, took: Duration) {
    println!(
        "== address books: seed {}, generated in {:.1} s ==",
        settings.shape.seed,
        took.as_secs_f64()
    );
    println!(
        "  {} owners × {} contacts: {} contacts; {} owners with a discoverable profile",
        grouped(stats.owners as u64),
        settings.shape.contacts_per_owner,
        grouped(stats.contacts as u64),
        grouped(stats.discoverable as u64),
    );
    println!(
        "  names: {} distinct full names; most common given name {} ({:.1} %), family name {} \
         ({:.1} %); {:.1} % with a letter outside ASCII; {:.1} namesakes per book",
        grouped(stats.distinct_full_names as u64),
        stats.top_first_name.0,
        percent(stats.top_first_name.1, stats.contacts),
        stats.top_last_name.0,
        percent(stats.top_last_name.1, stats.contacts),
        percent(stats.accented, stats.contacts),
        stats.namesakes_per_book,
    );
    println!(
        "  events: {} profiles, {} batches of up to {} contacts: {} events, {} documents",
        grouped(events.profiles as u64),
        grouped(events.batches as u64),
        grouped(settings.batch_contacts as u64),
        grouped(events.total() as u64),
        grouped(events.documents() as u64),
    );
    println!();
}

/// The indexing phase.
pub fn indexing(figures: &IndexingFigures) {
    println!("== indexing: first publish → the inbox holds every event (index committed) ==");
    println!(
        "  outbox filled first, untimed: {} events, {} on disk, in {:.1} s",
        grouped(figures.events.total() as u64),
        megabytes(u64::try_from(figures.outbox_bytes).unwrap_or(0)),
        figures.fill.as_secs_f64(),
    );
    println!(
        "  {} documents in {:.1} s: {} documents/s; {} events/s",
        grouped(figures.events.documents() as u64),
        figures.elapsed.as_secs_f64(),
        grouped_rounded(figures.documents_per_second()),
        grouped_rounded(figures.events_per_second()),
    );
    println!(
        "  all published (outbox empty) at {}; first batch handled at {}",
        at(figures.published_after),
        at(figures.first_batch_after),
    );
    if let Some(rate) = figures.batch_documents_per_second() {
        println!(
            "  from the first batch on: {} contacts/s",
            grouped_rounded(rate)
        );
    }
    let consumer = &figures.consumer;
    println!(
        "  consumer: {} transactions (one index commit each), {:.1} events each on average; \
         one every {} (they hold the projection lock one at a time); {} each from start to \
         commit, lock wait included (mean)",
        grouped_rounded(consumer.transactions),
        consumer.mean_batch(),
        time(figures.elapsed.div_f64(consumer.transactions.max(1.0))),
        time(Duration::from_secs_f64(consumer.mean_handler_seconds())),
    );
    let contacts_per_batch = figures.events.contacts as f64 / figures.events.batches.max(1) as f64;
    println!("  timeline (s: published, handled profiles / batches, ≈ documents):");
    for progress in spaced(&figures.timeline, TIMELINE_LINES) {
        println!(
            "    {:>6.1}: {:>7} | {:>6} / {:>6}  {:>10}",
            progress.at.as_secs_f64(),
            grouped(progress.published as u64),
            grouped(progress.profiles as u64),
            grouped(progress.batches as u64),
            grouped_rounded(
                progress.profiles as f64 + progress.batches as f64 * contacts_per_batch
            ),
        );
    }
    println!("  index: {}", dir(&figures.index));
    println!(
        "  service database (inbox and bookkeeping): {}",
        megabytes(u64::try_from(figures.database_bytes).unwrap_or(0))
    );
    println!("  cpu: {}", figures.cpu);
    let per_document = |cores: f64| {
        Duration::from_secs_f64(
            cores * figures.elapsed.as_secs_f64() / figures.events.documents().max(1) as f64,
        )
    };
    println!(
        "  cpu per document: search {}, postgres {}, rabbitmq {}, bench (relay) {}",
        time(per_document(figures.cpu.service_process)),
        time(per_document(figures.cpu.postgres)),
        time(per_document(figures.cpu.rabbitmq)),
        time(per_document(figures.cpu.bench)),
    );
    println!(
        "  search memory: {} before the first publish, {} after (peak so far {}; {} anonymous, \
         {} mapped files)",
        megabytes(bytes(figures.memory_before.rss_kib)),
        megabytes(bytes(figures.memory_after.rss_kib)),
        megabytes(bytes(figures.memory_after.peak_kib)),
        megabytes(bytes(figures.memory_after.anon_kib)),
        megabytes(bytes(figures.memory_after.file_kib)),
    );
    println!();
}

/// The check that every owner's documents are searchable.
pub fn check(check: &OwnerCheck) {
    println!(
        "== check: a company filter per owner, total against the books (untimed, {:.1} s) ==",
        check.took.as_secs_f64()
    );
    println!(
        "  {} owners asked: {} documents counted of {} expected; {}",
        grouped(check.owners as u64),
        grouped(check.counted),
        grouped(check.expected),
        if check.mismatched == 0 {
            "every owner's count as expected".to_owned()
        } else {
            format!("{} owners MISMATCHED", grouped(check.mismatched as u64))
        }
    );
    println!();
}

/// The search phase.
pub fn queries(figures: &QueryFigures) {
    println!(
        "== searches: GET /v1/search, {} clients, {} timed after {} untimed ==",
        figures.concurrency,
        grouped(figures.queries.len() as u64),
        grouped(figures.warmup as u64),
    );
    println!(
        "  {} searches in {:.1} s: {:.0} searches/s",
        grouped(figures.queries.len() as u64),
        figures.elapsed.as_secs_f64(),
        figures.per_second(),
    );
    println!(
        "  {:<10} {}",
        "all:",
        figures.latencies(|_| true).summary("searches")
    );
    for kind in Kind::ALL {
        let latencies = figures.latencies(|timed| timed.kind == kind);
        println!(
            "  {:<10} {}",
            format!("{}:", kind.label()),
            latencies.summary("searches")
        );
    }
    println!("  answers (mean total; source contact on the first page of 20):");
    for kind in Kind::ALL {
        let (count, mean_total, found) = figures.answers(kind);
        if count > 0 {
            println!(
                "    {:<10} {:>8.1} hits, {:>5.1} % found",
                format!("{}:", kind.label()),
                mean_total,
                found
            );
        }
    }
    let in_service = &figures.in_service;
    println!(
        "  in the service (its http_request_duration_seconds): {} searches, mean {}",
        grouped_rounded(in_service.requests),
        time(Duration::from_secs_f64(in_service.mean_seconds())),
    );
    println!("  cpu: {}", figures.cpu);
    let per_query = |cores: f64| {
        Duration::from_secs_f64(
            cores * figures.elapsed.as_secs_f64() / figures.queries.len().max(1) as f64,
        )
    };
    println!(
        "  cpu per search: search {}, load client {}",
        time(per_query(figures.cpu.service_process)),
        time(per_query(figures.cpu.bench)),
    );
    println!();
}

/// The service at rest.
pub fn rest(rest: &Rest) {
    println!(
        "== at rest: the search service idle (after {:.1} s) ==",
        rest.waited.as_secs_f64()
    );
    println!(
        "  memory: {} resident ({} anonymous, {} mapped files), {} threads",
        megabytes(bytes(rest.memory.rss_kib)),
        megabytes(bytes(rest.memory.anon_kib)),
        megabytes(bytes(rest.memory.file_kib)),
        rest.memory.threads,
    );
    println!("  index: {}", dir(&rest.index));
    println!();
}

/// What the summary reads.
pub struct Summary<'a> {
    pub indexing: &'a IndexingFigures,
    pub queries: &'a QueryFigures,
    pub rest: &'a Rest,
    /// The service at the end, before SIGTERM (`peak_kib` is the peak of the run).
    pub memory_end: Memory,
    /// How the service ended after SIGTERM.
    pub exit: std::process::ExitStatus,
    /// Warnings and errors it logged.
    pub log_problems: &'a [String],
}

/// The figures, each with its target.
pub fn summary(summary: &Summary) {
    let rate = summary.indexing.documents_per_second();
    let all = summary.queries.latencies(|_| true);
    let p99 = all.percentile(99.0);
    let peak = bytes(summary.memory_end.peak_kib);
    println!("summary:");
    println!(
        "  indexing:   {} documents/s from events          target ≥ {}: {}",
        grouped_rounded(rate),
        grouped_rounded(TARGET_DOCUMENTS_PER_SECOND),
        verdict(
            rate >= TARGET_DOCUMENTS_PER_SECOND,
            format!(
                "{:.0} % short",
                (1.0 - rate / TARGET_DOCUMENTS_PER_SECOND) * 100.0
            )
        ),
    );
    println!(
        "  search:     p50 {}, p95 {}, p99 {}, max {} at concurrency {}, {:.0} searches/s   \
         target p99 ≤ {}: {}",
        time(all.percentile(50.0)),
        time(all.percentile(95.0)),
        time(p99),
        time(all.max()),
        summary.queries.concurrency,
        summary.queries.per_second(),
        time(TARGET_SEARCH_P99),
        verdict(
            p99 <= TARGET_SEARCH_P99,
            format!(
                "{:.1} × the target",
                p99.as_secs_f64() / TARGET_SEARCH_P99.as_secs_f64()
            )
        ),
    );
    println!(
        "  memory:     peak {} (VmHWM over the run), at rest {}   target < {}: {}",
        megabytes(peak),
        megabytes(bytes(summary.rest.memory.rss_kib)),
        megabytes(TARGET_RSS_BYTES),
        verdict(
            peak < TARGET_RSS_BYTES,
            format!(
                "{:.0} % over",
                (peak as f64 / TARGET_RSS_BYTES as f64 - 1.0) * 100.0
            )
        ),
    );
    println!(
        "  index:      {} on disk after indexing, {} at rest",
        megabytes(summary.indexing.index.bytes),
        megabytes(summary.rest.index.bytes),
    );
    println!(
        "  search: {} after SIGTERM; {} warnings or errors logged",
        summary.exit,
        summary.log_problems.len()
    );
    for (problem, count) in grouped_problems(summary.log_problems).iter().take(5) {
        println!("    {count} × {problem}");
    }
}

/// An index directory on one line.
fn dir(usage: &DirUsage) -> String {
    format!(
        "{} on disk ({} bytes) in {} files, {} segments",
        megabytes(usage.bytes),
        grouped(usage.bytes),
        usage.files,
        usage.segments
    )
}

/// `part` of `whole` in percent.
fn percent(part: usize, whole: usize) -> f64 {
    crate::queries::percent(part, whole)
}

fn at(moment: Option<Duration>) -> String {
    moment.map_or_else(
        || "n/a".to_owned(),
        |moment| format!("{:.1} s", moment.as_secs_f64()),
    )
}
