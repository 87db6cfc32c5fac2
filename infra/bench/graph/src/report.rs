//! The printed report: the header (machine, load, servers, settings), the
//! network, one block per phase as it finishes, and the summary with each target
//! of the issue met or missed. Nothing here asserts.

use std::time::Duration;

use six_bench_support::{
    cpu::CpuUsage,
    memory::{Memory, bytes},
    report::{self, grouped, grouped_problems, grouped_rounded, megabytes, spaced, time},
};

use crate::{
    autovacuum::CatchUp,
    events::EventCounts,
    network::{self, NetworkStats},
    paths::{self, PathFigures, TargetKind},
    projection::ProjectionFigures,
    settings::Settings,
};

/// Target: KNOWS edges projected per second, at least.
pub const TARGET_EDGES_PER_SECOND: f64 = 50_000.0;
/// Target: p99 of a path query, at most.
pub const TARGET_PATH_P99: Duration = Duration::from_millis(50);
/// Target: the graph's peak resident memory, below (200 MB read as 200 × 10⁶
/// bytes, the stricter reading).
pub const TARGET_PEAK_RSS_BYTES: u64 = 200_000_000;

/// Timeline entries printed at most (evenly spaced).
const TIMELINE_LINES: usize = 12;

/// What the header describes besides the settings.
pub struct Context<'a> {
    pub settings: &'a Settings,
    /// The graph binary, with its size.
    pub graph_binary: String,
    /// PostgreSQL's version and the settings that matter here.
    pub postgres: String,
    /// The directory whose disk is watched, and its free bytes.
    pub disk: (String, u64),
    /// Where the CPU went in the second before the run.
    pub before: CpuUsage,
}

/// The header: when, where, with what.
pub fn header(context: &Context) {
    println!("six-degrees graph benchmark: projection from events, then GET /v1/graph/path");
    report::print_run_context(context.before.machine);
    println!("  postgres: {}", context.postgres);
    println!(
        "  graph:    {} as its own process, production defaults (fresh database and vhost)",
        context.graph_binary
    );
    println!(
        "  disk:     {} free under {} (the run stops below {} MB)",
        megabytes(context.disk.1),
        context.disk.0,
        context.settings.min_free_disk_mb
    );
    println!("  settings: {}", context.settings);
    println!();
}

/// The generated network and the events it takes.
pub fn network(stats: &NetworkStats, events: &EventCounts, settings: &Settings, took: Duration) {
    let shape = settings.shape;
    println!(
        "== network: seed {}, generated in {:.1} s (\"communities with shortcuts\", see README) ==",
        shape.seed,
        took.as_secs_f64()
    );
    println!(
        "  {} users ({} discoverable) in {} communities of up to {}; {} contacts each: {} KNOWS edges",
        grouped(stats.users as u64),
        grouped(stats.discoverable as u64),
        grouped(stats.communities as u64),
        shape.community_users,
        shape.contacts_per_user,
        grouped(stats.edges as u64),
    );
    println!(
        "  contacts drawn: {:.0} % same-community users, {:.0} % other users, {:.0} % the \
         community's circle, the rest from the world",
        network::SAME_COMMUNITY_USERS * 100.0,
        network::OTHER_USERS * 100.0,
        network::CIRCLE * 100.0,
    );
    println!(
        "  persons: {} (users and every non-user someone knows); entries naming a user: {} ({:.1} %)",
        grouped(stats.persons as u64),
        grouped(stats.user_entries as u64),
        paths::percent(stats.user_entries, stats.edges),
    );
    let overlap =
        |mean: Option<f64>| mean.map_or_else(|| "n/a".to_owned(), |mean| format!("{mean:.1}"));
    println!(
        "  contacts shared by two users: {} in one community, {} across communities (mean of {} pairs)",
        overlap(stats.community_overlap),
        overlap(stats.stranger_overlap),
        network::OVERLAP_PAIRS,
    );
    println!(
        "  events: {} registrations, {} profiles (discoverable users), {} batches of up to {} \
         contacts: {} in all",
        grouped(events.registrations as u64),
        grouped(events.profiles as u64),
        grouped(events.batches as u64),
        grouped(settings.batch_contacts as u64),
        grouped(events.total() as u64),
    );
    println!();
}

/// The projection phase, skipped: the graph runs on a copy of a kept projection.
pub fn projection_skipped(kept: &str) {
    println!("== projection: skipped, the graph runs on a copy of {kept} (--from-projection) ==");
    println!();
}

/// The wait for autovacuum between the projection and the queries.
pub fn autovacuum(catch_up: &CatchUp) {
    if catch_up.caught_up {
        println!(
            "== autovacuum: nothing left to do on `knows` after {} ==",
            time(catch_up.waited)
        );
    } else {
        println!(
            "== autovacuum: NOT caught up with `knows` after {}; the queries run anyway ==",
            time(catch_up.waited)
        );
    }
    println!();
}

/// The projection phase.
pub fn projection(figures: &ProjectionFigures) {
    println!("== projection: first publish → `knows` holds every edge ==");
    println!(
        "  outbox filled first, untimed: {} events, {} on disk, in {:.1} s",
        grouped(figures.events.total() as u64),
        megabytes(u64::try_from(figures.outbox_bytes).unwrap_or(0)),
        figures.fill.as_secs_f64(),
    );
    println!(
        "  {} edges in {:.1} s: {} edges/s; {} events/s",
        grouped(figures.edges as u64),
        figures.elapsed.as_secs_f64(),
        grouped_rounded(figures.edges_per_second()),
        grouped_rounded(figures.events_per_second()),
    );
    let at = |moment: Option<Duration>| {
        moment.map_or_else(
            || "n/a".to_owned(),
            |moment| format!("{:.1} s", moment.as_secs_f64()),
        )
    };
    println!(
        "  all published (outbox empty) at {}; registrations and profiles handled at {}; first \
         batch at {}",
        at(figures.published_after),
        at(figures.small_events_after),
        at(figures.first_batch_after),
    );
    if let Some(rate) = figures.batch_edges_per_second() {
        println!(
            "  from the first batch on: {} edges/s",
            grouped_rounded(rate)
        );
    }
    let edges_per_batch = figures.edges as f64 / figures.events.batches.max(1) as f64;
    println!("  timeline (s: published, handled registrations / profiles / batches, ≈ edges):");
    for progress in spaced(&figures.timeline, TIMELINE_LINES) {
        println!(
            "    {:>6.1}: {:>7} | {:>6} / {:>6} / {:>6}  {:>10}",
            progress.at.as_secs_f64(),
            grouped(progress.published as u64),
            grouped(progress.registrations as u64),
            grouped(progress.profiles as u64),
            grouped(progress.batches as u64),
            grouped_rounded(progress.batches as f64 * edges_per_batch),
        );
    }
    println!(
        "  checked: knows {} of {} edges; persons {} of {} expected{}",
        grouped(u64::try_from(figures.knows_rows).unwrap_or(0)),
        grouped(figures.edges as u64),
        grouped(u64::try_from(figures.persons_rows).unwrap_or(0)),
        grouped(figures.expected_persons as u64),
        if usize::try_from(figures.persons_rows).ok() == Some(figures.expected_persons) {
            ""
        } else {
            " (MISMATCH)"
        }
    );
    println!(
        "  graph database {}: {} ({} of it `knows` with its indexes)",
        figures.database_name,
        megabytes(u64::try_from(figures.database_bytes).unwrap_or(0)),
        megabytes(u64::try_from(figures.knows_bytes).unwrap_or(0)),
    );
    println!("  cpu: {}", figures.cpu);
    let per_edge = |cores: f64| {
        Duration::from_secs_f64(cores * figures.elapsed.as_secs_f64() / figures.edges.max(1) as f64)
    };
    println!(
        "  cpu per edge: graph {}, postgres {}, rabbitmq {}, bench (relay) {}",
        time(per_edge(figures.cpu.service_process)),
        time(per_edge(figures.cpu.postgres)),
        time(per_edge(figures.cpu.rabbitmq)),
        time(per_edge(figures.cpu.bench)),
    );
    println!(
        "  graph memory: {} before the first publish, {} after (peak so far {})",
        megabytes(bytes(figures.memory_before.rss_kib)),
        megabytes(bytes(figures.memory_after.rss_kib)),
        megabytes(bytes(figures.memory_after.peak_kib)),
    );
    println!();
}

/// The path phase.
pub fn paths(figures: &PathFigures) {
    println!(
        "== path queries: GET /v1/graph/path?email=, {} clients, {} timed after {} untimed ==",
        figures.concurrency,
        grouped(figures.queries.len() as u64),
        grouped(figures.warmup as u64),
    );
    println!(
        "  {} queries in {:.1} s: {:.0} queries/s",
        grouped(figures.queries.len() as u64),
        figures.elapsed.as_secs_f64(),
        figures.per_second(),
    );
    println!(
        "  all:           {}",
        figures.latencies(|_| true).summary("queries")
    );
    let connected = |timed: &paths::Timed| matches!(timed.answer, paths::Answer::Connected { .. });
    let not_connected = |timed: &paths::Timed| timed.answer == paths::Answer::NotConnected;
    println!(
        "  connected:     {}",
        figures.latencies(connected).summary("queries")
    );
    println!(
        "  not connected: {}",
        figures.latencies(not_connected).summary("queries")
    );
    let answers = figures.answers(|_| true);
    let mut degrees: Vec<(usize, usize)> =
        answers.by_degree.iter().map(|(d, n)| (*d, *n)).collect();
    degrees.sort_unstable();
    let degrees: Vec<String> = degrees
        .iter()
        .map(|(degree, count)| format!("{degree}: {}", grouped(*count as u64)))
        .collect();
    println!(
        "  answers: {:.1} % connected ({}), {} not connected, {} refused as too broad; by degree {}",
        answers.connected_percent(),
        grouped(answers.connected as u64),
        grouped(answers.not_connected as u64),
        grouped(answers.too_broad as u64),
        degrees.join(", "),
    );
    for kind in TargetKind::ALL {
        let of_kind = |timed: &paths::Timed| timed.kind == kind;
        let answers = figures.answers(of_kind);
        if answers.total() == 0 {
            continue;
        }
        let latencies = figures.latencies(of_kind);
        println!(
            "  target {:<17} {:>5} queries, {:>5.1} % connected, p50 {}, p99 {}",
            format!("{}:", kind.label()),
            grouped(answers.total() as u64),
            answers.connected_percent(),
            time(latencies.percentile(50.0)),
            time(latencies.percentile(99.0)),
        );
    }
    println!("  cpu: {}", figures.cpu);
    let per_query = |cores: f64| {
        Duration::from_secs_f64(
            cores * figures.elapsed.as_secs_f64() / figures.queries.len().max(1) as f64,
        )
    };
    println!(
        "  cpu per query: graph {}, postgres {}, load client {}",
        time(per_query(figures.cpu.service_process)),
        time(per_query(figures.cpu.postgres)),
        time(per_query(figures.cpu.bench)),
    );
    println!();
}

/// What the summary reads.
pub struct Summary<'a> {
    /// `None` when the run started from a kept projection.
    pub projection: Option<&'a ProjectionFigures>,
    pub paths: &'a PathFigures,
    /// The graph at the end, before SIGTERM (`peak_kib` is the peak of the run).
    pub memory_end: Memory,
    /// How the graph ended after SIGTERM.
    pub exit: std::process::ExitStatus,
    /// Warnings and errors it logged.
    pub log_problems: &'a [String],
}

/// The figures, each with its target.
pub fn summary(summary: &Summary) {
    let p99 = summary.paths.latencies(|_| true).percentile(99.0);
    let p50 = summary.paths.latencies(|_| true).percentile(50.0);
    let peak = bytes(summary.memory_end.peak_kib);
    println!("summary:");
    match summary.projection {
        Some(projection) => {
            let edges_per_second = projection.edges_per_second();
            println!(
                "  projection:  {} edges/s ({} events/s)       target ≥ {}: {}",
                grouped_rounded(edges_per_second),
                grouped_rounded(projection.events_per_second()),
                grouped_rounded(TARGET_EDGES_PER_SECOND),
                verdict(
                    edges_per_second >= TARGET_EDGES_PER_SECOND,
                    1.0 - edges_per_second / TARGET_EDGES_PER_SECOND
                ),
            );
        }
        None => println!("  projection:  not measured (--from-projection)"),
    }
    println!(
        "  path query:  p50 {}, p99 {} at concurrency {}   target p99 ≤ {}: {}",
        time(p50),
        time(p99),
        summary.paths.concurrency,
        time(TARGET_PATH_P99),
        verdict(
            p99 <= TARGET_PATH_P99,
            p99.as_secs_f64() / TARGET_PATH_P99.as_secs_f64() - 1.0
        ),
    );
    println!(
        "  peak memory: {} (VmHWM of the graph over the run)    target < {}: {}",
        megabytes(peak),
        megabytes(TARGET_PEAK_RSS_BYTES),
        verdict(
            peak < TARGET_PEAK_RSS_BYTES,
            peak as f64 / TARGET_PEAK_RSS_BYTES as f64 - 1.0
        ),
    );
    println!(
        "  graph: {} after SIGTERM; {} warnings or errors logged",
        summary.exit,
        summary.log_problems.len()
    );
    for (problem, count) in grouped_problems(summary.log_problems).iter().take(5) {
        println!("    {count} × {problem}");
    }
}

/// `MET`, or `MISSED by x %` where `shortfall` is the fraction missed by.
fn verdict(met: bool, shortfall: f64) -> String {
    if met {
        "MET".to_owned()
    } else {
        format!("MISSED by {:.0} %", shortfall.abs() * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missed_target_says_by_how_much() {
        assert_eq!(verdict(true, 0.0), "MET");
        assert_eq!(verdict(false, 0.234), "MISSED by 23 %");
    }
}
