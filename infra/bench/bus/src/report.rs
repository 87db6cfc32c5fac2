//! The printed report: one block per phase as it finishes, then a summary with the
//! targets of the issue and PASS or MISS for each. Nothing here asserts.

use std::time::Duration;

use six_bench_support::{
    cpu::CpuUsage,
    memory::bytes,
    report::{Machine, grouped},
};

use crate::{
    at_rest::AtRest, ceiling::Ceiling, database::DatabaseCeiling, end_to_end::EndToEnd,
    settings::Settings,
};

/// End-to-end events per second the bus must reach.
pub const TARGET_EVENTS_PER_SECOND: f64 = 5_000.0;
/// Share of the raw ceiling the bus must reach.
pub const TARGET_SHARE_OF_CEILING: f64 = 0.40;
/// Rows of the end-to-end timeline printed at most.
const TIMELINE_ROWS: usize = 12;

/// Resident memory a service at rest must stay under: 30 MB, read as 30 × 10⁶ bytes
/// (the stricter reading).
pub const TARGET_RSS_BYTES: u64 = 30_000_000;

/// The header: when, where, with what.
pub fn header(settings: &Settings, body_bytes: usize, before: &CpuUsage) {
    println!("six-degrees bus benchmark");
    println!(
        "  date:     {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("  machine:  {}", machine());
    println!("  settings: {settings}");
    println!(
        "  durable:  persistent messages, publisher confirms, quorum queue; \
         PostgreSQL as configured (synchronous_commit on in the local stack)"
    );
    println!("  event:    auth.user.registered.v1 CloudEvents envelope, {body_bytes} bytes");
    println!(
        "  load:     {:.2} cores busy in the second before the run{}",
        before.machine,
        if before.machine > 0.25 {
            " (other work on the machine skews the figures)"
        } else {
            ""
        }
    );
    println!();
}

/// The ceiling's block.
pub fn ceiling(ceiling: &Ceiling) {
    println!("== raw lapin ceiling (publish with confirms + consume and ack, quorum queue) ==");
    println!(
        "  {} events in {}: {} events/s",
        grouped(ceiling.events),
        seconds(ceiling.elapsed),
        grouped(ceiling.rate() as u64)
    );
    println!(
        "  publishing alone: {} (all confirmed); left in queue: {}",
        seconds(ceiling.publish_elapsed),
        ceiling.left_in_queue
    );
    cpu(&ceiling.cpu, ceiling.elapsed, ceiling.events);
    println!();
}

/// The database ceiling's block.
pub fn database(run: &DatabaseCeiling) {
    println!(
        "== database ceiling (the consumer's transactions alone, {} event(s) per transaction, no broker) ==",
        run.per_transaction
    );
    println!(
        "  {} events in {}: {} events/s",
        grouped(run.events),
        seconds(run.elapsed),
        grouped(run.rate() as u64)
    );
    cpu(&run.cpu, run.elapsed, run.events);
    println!();
}

/// The end-to-end block.
pub fn end_to_end(run: &EndToEnd, ceiling: Option<&Ceiling>) {
    println!("== outbox → relay → broker → consumer with inbox ==");
    println!(
        "  {} events in {}: {} events/s{}",
        grouped(run.events),
        seconds(run.elapsed),
        grouped(run.rate() as u64),
        share(run, ceiling)
            .map(|share| format!(" ({:.0}% of ceiling)", share * 100.0))
            .unwrap_or_default()
    );
    let stage_rate = |elapsed: Duration| {
        format!(
            "{} ({} events/s)",
            seconds(elapsed),
            grouped((run.events as f64 / elapsed.as_secs_f64()) as u64)
        )
    };
    println!(
        "  stages: all written to the outbox after {}",
        stage_rate(run.write_elapsed)
    );
    if let Some(published) = run.publish_elapsed {
        println!(
            "          all published and confirmed after {}",
            stage_rate(published)
        );
    }
    println!(
        "          all handled and committed after {}",
        stage_rate(run.elapsed)
    );
    if let (Some(size), Some(time)) = (run.batch_mean, run.handler_mean) {
        println!(
            "  consumer: batches of {size:.1} deliveries, {:.2} ms each on average \
             (inbox insert, one effect insert per event, commit; pool wait included)",
            time.as_secs_f64() * 1e3
        );
    }
    println!("  timeline (s: written / published / handled):");
    let stride = run.timeline.len().div_ceil(TIMELINE_ROWS).max(1);
    let last = run.timeline.len().saturating_sub(1);
    for (_, progress) in run
        .timeline
        .iter()
        .enumerate()
        .filter(|(index, _)| index.is_multiple_of(stride) || *index == last)
    {
        println!(
            "    {:>5.1}: {:>7} / {:>7} / {:>7}",
            progress.at.as_secs_f64(),
            grouped(progress.written),
            grouped(progress.published),
            grouped(progress.handled)
        );
    }
    println!(
        "  check: effects {} · inbox {} · outbox left {} → {}",
        grouped(u64::try_from(run.effects).unwrap_or_default()),
        grouped(u64::try_from(run.inbox).unwrap_or_default()),
        run.outbox,
        if run.not_handled > 0 {
            format!(
                "{} deliveries not handled the first time; ",
                run.not_handled
            )
        } else {
            String::new()
        } + if run.consistent() {
            "every event handled exactly once, outbox empty"
        } else {
            "INCONSISTENT"
        }
    );
    cpu(&run.cpu, run.elapsed, run.events);
    println!();
}

/// The at-rest block.
pub fn at_rest(run: &AtRest) {
    println!("== service at rest (bench-service on six-kit, own process) ==");
    println!(
        "  binary {:.1} MB; ready (relay + consumer connected) {} after spawn",
        run.binary_bytes as f64 / 1e6,
        seconds(run.startup)
    );
    for (label, memory) in [
        ("after start", run.after_start),
        (
            &*format!("after {} events", grouped(run.traffic_events)),
            run.after_traffic,
        ),
    ] {
        println!(
            "  {label:<18} RSS {:>5.1} MB (anon {:.1}, file {:.1}), peak {:.1} MB, {} threads",
            bytes(memory.rss_kib) as f64 / 1e6,
            memory.anon_kib as f64 * 1024.0 / 1e6,
            memory.file_kib as f64 * 1024.0 / 1e6,
            memory.peak_kib as f64 * 1024.0 / 1e6,
            memory.threads
        );
    }
    println!(
        "  SIGTERM → exit in {}: {}",
        seconds(run.shutdown),
        match run.exit.code() {
            Some(0) => "exit 0".to_owned(),
            _ => format!("UNCLEAN ({})", run.exit),
        }
    );
    if run.log_problems.is_empty() {
        println!("  log: no warnings or errors");
    } else {
        println!("  log: {} warnings or errors:", run.log_problems.len());
        for (count, line) in distinct(&run.log_problems) {
            println!("    {count}× {line}");
        }
    }
    println!();
}

/// The summary with the targets.
pub fn summary(
    ceiling: Option<&Ceiling>,
    database: Option<&DatabaseCeiling>,
    end_to_end: Option<&EndToEnd>,
    at_rest: Option<&AtRest>,
) {
    println!("== summary ==");
    if let Some(ceiling) = ceiling {
        println!(
            "  raw lapin ceiling:   {:>7} events/s",
            grouped(ceiling.rate() as u64)
        );
    }
    if let Some(database) = database {
        println!(
            "  database ceiling:    {:>7} events/s ({} per transaction, no broker)",
            grouped(database.rate() as u64),
            database.per_transaction
        );
    }
    if let Some(run) = end_to_end {
        println!(
            "  outbox → consumer:   {:>7} events/s{}",
            grouped(run.rate() as u64),
            share(run, ceiling)
                .map(|share| format!(" ({:.0}% of ceiling)", share * 100.0))
                .unwrap_or_default()
        );
    }
    if let Some(run) = at_rest {
        println!(
            "  service at rest:     {:>7.1} MB RSS ({:.1} MB after start, {:.1} MB after {} events)",
            bytes(run.at_rest().rss_kib) as f64 / 1e6,
            bytes(run.after_start.rss_kib) as f64 / 1e6,
            bytes(run.after_traffic.rss_kib) as f64 / 1e6,
            grouped(run.traffic_events)
        );
    }
    println!("  targets:");
    if let Some(run) = end_to_end {
        target(
            "end to end ≥ 5,000 events/s",
            &format!("{} events/s", grouped(run.rate() as u64)),
            run.rate() >= TARGET_EVENTS_PER_SECOND,
        );
        if let Some(share) = share(run, ceiling) {
            target(
                "end to end ≥ 40% of the raw ceiling",
                &format!("{:.0}%", share * 100.0),
                share >= TARGET_SHARE_OF_CEILING,
            );
        }
        if !run.consistent() {
            target("every event handled exactly once", "no", false);
        }
    }
    if let Some(run) = at_rest {
        let rss = bytes(run.at_rest().rss_kib);
        target(
            "service at rest < 30 MB RSS",
            &format!("{:.1} MB", rss as f64 / 1e6),
            rss < TARGET_RSS_BYTES,
        );
        if run.exit.code() != Some(0) {
            target("service exits 0 on SIGTERM", "no", false);
        }
    }
}

/// CPU use, and what it comes to per event.
fn cpu(usage: &CpuUsage, elapsed: Duration, events: u64) {
    println!("  cpu: {usage}");
    let per_event_us = |cores: f64| cores * elapsed.as_secs_f64() * 1e6 / events as f64;
    println!(
        "  cpu per event: bench {:.0} µs, postgres {:.0} µs, rabbitmq {:.0} µs",
        per_event_us(usage.bench),
        per_event_us(usage.postgres),
        per_event_us(usage.rabbitmq)
    );
}

/// Log lines of the same level, source and message, once each with their count
/// and the first one's error.
fn distinct(lines: &[String]) -> Vec<(usize, String)> {
    let mut groups: Vec<(usize, String)> = Vec::new();
    for line in lines {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let text = |field: &str| entry[field].as_str().unwrap_or_default().to_owned();
        let summary = if entry.is_null() {
            line.clone()
        } else {
            let error: String = text("error").chars().take(100).collect();
            format!(
                "{} {}: {} ({error})",
                text("level"),
                text("target"),
                text("message")
            )
        };
        let key = summary.split(" (").next().unwrap_or_default().to_owned();
        match groups.iter_mut().find(|(_, seen)| seen.starts_with(&key)) {
            Some((count, _)) => *count += 1,
            None => groups.push((1, summary)),
        }
    }
    groups
}

fn target(name: &str, measured: &str, met: bool) {
    println!(
        "    {name:<38} {measured:>16}   {}",
        if met { "PASS" } else { "MISS" }
    );
}

fn share(run: &EndToEnd, ceiling: Option<&Ceiling>) -> Option<f64> {
    ceiling.map(|ceiling| run.rate() / ceiling.rate())
}

fn seconds(duration: Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}

/// Cores, CPU model and memory.
fn machine() -> String {
    let Machine {
        cpu_model,
        cores,
        memory_gib,
    } = Machine::read();
    format!("{cores} cores ({cpu_model}), {memory_gib:.0} GiB RAM")
}
