//! The printed report: the header (machine, load, servers, settings), one block
//! per phase as it finishes, and the summary with each target of the issue as
//! PASS or MISS. Nothing here asserts.

use std::{process::ExitStatus, time::Duration};

use six_bench_support::{
    cpu::CpuUsage,
    latency::Latencies,
    memory::{Memory, bytes},
    report::{self, grouped, grouped_problems, grouped_rounded, megabytes, spaced, time, verdict},
};

use crate::{
    email::{EmailFigures, KeyCheck},
    service::DeliveryCounts,
    settings::Settings,
    steady::{SteadyFigures, SteadyRun},
    throughput::Timed,
    webhook::{SignatureCheck, WebhookFigures},
};

/// Target: e-mails per second, event to accepted by the mail server, at least.
pub const TARGET_EMAILS_PER_SECOND: f64 = 1_000.0;
/// Target: webhook calls per second, event to answered 2xx, at least.
pub const TARGET_WEBHOOKS_PER_SECOND: f64 = 2_000.0;
/// Target: p99 of event-to-send at half the throughput targets, under.
pub const TARGET_P99: Duration = Duration::from_secs(1);

/// Timeline entries printed at most (evenly spaced).
const TIMELINE_LINES: usize = 12;

/// Problems printed at most per phase (grouped, most frequent first).
const PROBLEM_LINES: usize = 5;

/// What the header describes besides the settings.
pub struct Context<'a> {
    pub settings: &'a Settings,
    /// The service binary, with its size.
    pub notifier_binary: String,
    /// PostgreSQL's version and the settings that matter here.
    pub postgres: String,
    /// Where the CPU went in the second before the run.
    pub before: CpuUsage,
}

/// The header: when, where, with what.
pub fn header(context: &Context) {
    println!(
        "six-degrees notifier benchmark: e-mails and webhook calls from events, and event-to-send \
         latency"
    );
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
        "  notifier: {} as its own process, production defaults{} (a fresh database and vhost \
         per phase); SMTP sink and webhook endpoint in this process",
        context.notifier_binary,
        if overrides.is_empty() {
            String::new()
        } else {
            format!(" but {}", overrides.join(" "))
        },
    );
    println!("  settings: {}", context.settings);
    println!();
}

/// The e-mail phase.
pub fn email(figures: &EmailFigures) {
    println!(
        "== email: {} registrations → welcome e-mails accepted by the SMTP sink ==",
        grouped(figures.users as u64)
    );
    println!(
        "  outbox filled first, untimed: {} events, {} on disk, in {:.1} s",
        grouped(figures.users as u64),
        megabytes(u64::try_from(figures.outbox_bytes).unwrap_or(0)),
        figures.fill.as_secs_f64(),
    );
    println!(
        "  {} e-mails in {:.2} s (first publish → the last accepted): {} e-mails/s{}",
        grouped(figures.users as u64),
        figures.elapsed.as_secs_f64(),
        grouped_rounded(figures.per_second()),
        from_first(figures.first_after, figures.per_second_from_first()),
    );
    stages(&figures.timed);
    println!(
        "  delivery log: {}; {}; {} bytes per message on average",
        deliveries(&figures.deliveries),
        keys("user", &figures.keys),
        grouped_rounded(figures.mean_message_bytes),
    );
    timeline(&figures.timed, "accepted");
    resources(
        &figures.timed,
        figures.elapsed,
        figures.users,
        "e-mail",
        figures.database_bytes,
        &figures.memory_end,
    );
    ending(figures.exit, &figures.problems);
    println!();
}

/// The webhook phase.
pub fn webhook(figures: &WebhookFigures) {
    println!(
        "== webhook: {} contacts who joined → signed calls answered 200 by the endpoint ==",
        grouped(figures.events as u64)
    );
    println!(
        "  set up first, untimed: {} users registered, each with one endpoint for contact_joined \
         and contact_joined by webhook only, in {:.1} s; outbox filled in {:.1} s",
        grouped(figures.users as u64),
        figures.setup.as_secs_f64(),
        figures.fill.as_secs_f64(),
    );
    println!(
        "  {} calls in {:.2} s (first publish → the last answered): {} webhooks/s{}",
        grouped(figures.events as u64),
        figures.elapsed.as_secs_f64(),
        grouped_rounded(figures.per_second()),
        from_first(figures.first_after, figures.per_second_from_first()),
    );
    stages(&figures.timed);
    println!(
        "  delivery log: {}; {}; {} webhook-ids repeated",
        deliveries(&figures.deliveries),
        keys("event", &figures.keys),
        grouped(figures.repeated_ids as u64),
    );
    println!("  {}", signatures(&figures.signatures));
    timeline(&figures.timed, "answered");
    resources(
        &figures.timed,
        figures.elapsed,
        figures.events,
        "call",
        figures.database_bytes,
        &figures.memory_end,
    );
    ending(figures.exit, &figures.problems);
    println!();
}

/// The latency phase.
pub fn steady(figures: &SteadyFigures) {
    println!(
        "== latency: event-to-send at a steady rate, open loop (outbox commit → accepted or \
         answered) =="
    );
    println!(
        "  set up first, untimed: {} users with an endpoint, in {:.1} s",
        grouped(figures.users as u64),
        figures.setup.as_secs_f64(),
    );
    for run in [&figures.email, &figures.webhook] {
        steady_run(run);
    }
    println!("  {}", signatures(&figures.signatures));
    println!(
        "  notifier memory: {} at the end, peak {}",
        megabytes(bytes(figures.memory_end.rss_kib)),
        megabytes(bytes(figures.memory_end.peak_kib)),
    );
    ending(figures.exit, &figures.problems);
    println!();
}

fn steady_run(run: &SteadyRun) {
    println!(
        "  {:<7} at {}/s: {} events in {:.1} s ({:.0}/s, {} outbox transactions, the writer at \
         most {} behind its schedule)",
        run.channel,
        grouped_rounded(run.rate),
        grouped(run.written as u64),
        run.writing.as_secs_f64(),
        run.written_per_second(),
        grouped(run.transactions as u64),
        time(run.behind_max),
    );
    println!("          {}", percentiles(&run.latencies));
    if run.missing > 0 {
        println!("          {} never arrived", grouped(run.missing as u64));
    }
    println!("          cpu: {}", run.cpu);
}

/// `p50 …, p90 …, p99 …, max … (mean …) of n`.
fn percentiles(latencies: &Latencies) -> String {
    format!(
        "p50 {}, p90 {}, p99 {}, max {} (mean {}) of {}",
        time(latencies.percentile(50.0)),
        time(latencies.percentile(90.0)),
        time(latencies.percentile(99.0)),
        time(latencies.max()),
        time(latencies.mean()),
        grouped(latencies.count() as u64),
    )
}

/// When each stage was done.
fn stages(timed: &Timed) {
    println!(
        "  all published (outbox empty) at {}; every event handled (notifier's inbox) at {}",
        at(timed.published_after),
        at(timed.handled_after),
    );
}

fn from_first(first_after: Option<Duration>, rate: Option<f64>) -> String {
    match (first_after, rate) {
        (Some(first), Some(rate)) => format!(
            "; {}/s from the first (at {:.2} s)",
            grouped_rounded(rate),
            first.as_secs_f64()
        ),
        _ => String::new(),
    }
}

fn deliveries(counts: &DeliveryCounts) -> String {
    format!(
        "{} sent, {} failed, {} pending, {} attempts",
        grouped(u64::try_from(counts.sent).unwrap_or(0)),
        grouped(u64::try_from(counts.failed).unwrap_or(0)),
        grouped(u64::try_from(counts.pending).unwrap_or(0)),
        grouped(u64::try_from(counts.attempts).unwrap_or(0)),
    )
}

fn keys(what: &str, check: &KeyCheck) -> String {
    if check.is_exact() {
        format!("every {what} had exactly one")
    } else {
        format!(
            "{} {what}s had one or more, {} MISSING, {} REPEATED, {} unexpected",
            grouped(check.arrived as u64),
            grouped(check.missing as u64),
            grouped(check.duplicates as u64),
            grouped(check.unexpected as u64),
        )
    }
}

fn signatures(check: &SignatureCheck) -> String {
    if check.all_verified() {
        format!(
            "signatures: {} sampled calls checked, every one verified under its endpoint's secret",
            grouped(check.checked as u64)
        )
    } else {
        format!(
            "signatures: {} sampled calls checked, {} REFUSED, the first: {}",
            grouped(check.checked as u64),
            grouped(check.refused.len() as u64),
            check.refused[0]
        )
    }
}

fn timeline(timed: &Timed, arrived: &str) {
    println!("  timeline (s: published, handled, {arrived}):");
    for progress in spaced(&timed.timeline, TIMELINE_LINES) {
        println!(
            "    {:>6.1}: {:>7} {:>7} {:>7}",
            progress.at.as_secs_f64(),
            grouped(progress.published as u64),
            grouped(progress.handled as u64),
            grouped(progress.arrived as u64),
        );
    }
}

fn resources(
    timed: &Timed,
    elapsed: Duration,
    messages: usize,
    message: &str,
    database_bytes: i64,
    memory_end: &Memory,
) {
    println!("  cpu: {}", timed.cpu);
    let per_message = |cores: f64| {
        Duration::from_secs_f64(cores * elapsed.as_secs_f64() / messages.max(1) as f64)
    };
    println!(
        "  cpu per {message}: notifier {}, postgres {}, rabbitmq {}, bench (relay, sink, endpoint) {}",
        time(per_message(timed.cpu.service_process)),
        time(per_message(timed.cpu.postgres)),
        time(per_message(timed.cpu.rabbitmq)),
        time(per_message(timed.cpu.bench)),
    );
    println!(
        "  notifier memory: {} before the first publish, {} when the last arrived, peak {} \
         ({} anonymous, {} threads); its database {}",
        megabytes(bytes(timed.memory_before.rss_kib)),
        megabytes(bytes(timed.memory_after.rss_kib)),
        megabytes(bytes(memory_end.peak_kib)),
        megabytes(bytes(memory_end.anon_kib)),
        memory_end.threads,
        megabytes(u64::try_from(database_bytes).unwrap_or(0)),
    );
}

fn ending(exit: ExitStatus, problems: &[String]) {
    println!(
        "  notifier: {exit} after SIGTERM; {} warnings or errors logged",
        problems.len()
    );
    for (problem, count) in grouped_problems(problems).iter().take(PROBLEM_LINES) {
        println!("    {count} × {problem}");
    }
}

/// What the summary reads: the phases that ran.
pub struct Summary<'a> {
    pub email: Option<&'a EmailFigures>,
    pub webhook: Option<&'a WebhookFigures>,
    pub steady: Option<&'a SteadyFigures>,
}

/// The issue's figures, each with its target.
pub fn summary(summary: &Summary) {
    println!("summary:");
    match summary.email {
        Some(figures) => {
            let rate = figures.per_second();
            println!(
                "  e-mails:   {} e-mails/s, event to accepted by the SMTP sink   target ≥ {}: {}",
                grouped_rounded(rate),
                grouped_rounded(TARGET_EMAILS_PER_SECOND),
                rate_verdict(rate, TARGET_EMAILS_PER_SECOND),
            );
        }
        None => println!("  e-mails:   not run"),
    }
    match summary.webhook {
        Some(figures) => {
            let rate = figures.per_second();
            println!(
                "  webhooks:  {} webhooks/s, event to answered 200              target ≥ {}: {}",
                grouped_rounded(rate),
                grouped_rounded(TARGET_WEBHOOKS_PER_SECOND),
                rate_verdict(rate, TARGET_WEBHOOKS_PER_SECOND),
            );
        }
        None => println!("  webhooks:  not run"),
    }
    match summary.steady {
        Some(figures) => {
            for run in [&figures.email, &figures.webhook] {
                let p99 = run.latencies.percentile(99.0);
                let met = p99 < TARGET_P99 && run.missing == 0;
                println!(
                    "  latency:   {:<7} at {}/s: p99 {} (p50 {}, max {})   target p99 < {}: {}",
                    run.channel,
                    grouped_rounded(run.rate),
                    time(p99),
                    time(run.latencies.percentile(50.0)),
                    time(run.latencies.max()),
                    time(TARGET_P99),
                    verdict(
                        met,
                        if run.missing > 0 {
                            format!("{} never arrived", run.missing)
                        } else {
                            format!(
                                "{:.1} × the target",
                                p99.as_secs_f64() / TARGET_P99.as_secs_f64()
                            )
                        }
                    ),
                );
            }
        }
        None => println!("  latency:   not run"),
    }
}

fn rate_verdict(rate: f64, target: f64) -> String {
    verdict(
        rate >= target,
        format!("{:.0} % short", (1.0 - rate / target) * 100.0),
    )
}

fn at(moment: Option<Duration>) -> String {
    moment.map_or_else(
        || "n/a".to_owned(),
        |moment| format!("{:.2} s", moment.as_secs_f64()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missed_target_says_by_how_much() {
        assert_eq!(rate_verdict(1_200.0, 1_000.0), "PASS");
        assert_eq!(rate_verdict(750.0, 1_000.0), "MISS (25 % short)");
    }

    #[test]
    fn latencies_read_as_the_issue_asks() {
        let latencies = Latencies::new((1..=100).map(Duration::from_millis).collect());

        assert_eq!(
            percentiles(&latencies),
            "p50 50.0 ms, p90 90.0 ms, p99 99.0 ms, max 100.0 ms (mean 50.5 ms) of 100"
        );
    }
}
