//! The printed report of `session-load`: the header (machine, load, settings), one
//! block per phase as it finishes, and a summary line. Nothing here asserts: there
//! is no numeric target for logins.

use std::time::Duration;

use six_bench_support::{
    cpu::CpuUsage,
    report::{grouped, grouped_rounded, load_average},
};

use crate::{
    cpu_time::Round,
    report::{machine, median},
    session::{
        hashing::{self, Argon2Cost},
        load::{LoadRun, Registered},
        service::ServiceConfig,
        settings::Settings,
    },
};

/// Busy cores before the run above which the figures are flagged as skewed.
const BUSY_BEFORE_WARNING: f64 = 0.25;

/// The header: when, where, with what.
pub fn header(settings: &Settings, config: &ServiceConfig, before: &CpuUsage) {
    let default_or_set = |set: bool| {
        if set {
            "set by option"
        } else {
            "service default"
        }
    };
    println!("six-degrees session benchmark: POST /v1/login and POST /v1/refresh of auth");
    println!(
        "  date:     {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("  machine:  {}", machine());
    println!(
        "  load:     {} (1, 5, 15 min); {:.2} cores busy in the second before the run{}",
        load_average(),
        before.machine,
        if before.machine > BUSY_BEFORE_WARNING {
            " (other work on the machine skews the figures)"
        } else {
            ""
        }
    );
    println!(
        "  service:  auth in this process (six_kit TestApp: own runtime, 2 worker threads, \
         fresh database and vhost, log level warn)"
    );
    println!(
        "  argon2id: {} ({}); at most {} hashes at once ({})",
        argon2(&config.argon2),
        default_or_set(
            settings.argon2_memory_kib.is_some()
                || settings.argon2_iterations.is_some()
                || settings.argon2_lanes.is_some()
        ),
        config.max_concurrent_hashes,
        default_or_set(settings.max_concurrent_hashes.is_some()),
    );
    println!(
        "  database: pool of {} connections ({})",
        config.database_connections,
        if settings.database_connections.is_some() {
            "set by option"
        } else {
            "the kit's default"
        }
    );
    println!(
        "  load:     {} clients, one request in flight each; {} s per phase; {} accounts; \
         phases {}",
        settings.concurrency,
        settings.duration.as_secs(),
        settings.accounts,
        settings.phases
    );
    println!();
}

/// The registration of the accounts.
pub fn setup(registered: &Registered, concurrency: usize) {
    let count = registered.accounts.len();
    println!(
        "setup: {count} accounts registered in {:.2} s ({:.1}/s, {} clients; one argon2id \
         hash each)",
        registered.elapsed.as_secs_f64(),
        count as f64 / registered.elapsed.as_secs_f64(),
        concurrency.min(count),
    );
    println!();
}

/// argon2id alone.
pub fn argon2_alone(cost: &Argon2Cost, rounds: &[Round]) {
    let round = median(rounds);
    let cpu_per_check = cpu_per_check(&round);
    let cores = cores();
    println!(
        "== argon2id alone: {}, one thread, {} rounds of {} password checks (median) ==",
        argon2(cost),
        hashing::ROUNDS,
        hashing::CHECKS_PER_ROUND
    );
    println!(
        "  per check: {} CPU, {} wall; {:.1} checks/s per core; {cores} cores: at most \
         {} logins/s",
        time(cpu_per_check),
        time(round.mean()),
        round.per_cpu_second(),
        grouped_rounded(round.per_cpu_second() * cores as f64),
    );
    println!();
}

/// One load phase: `noun` is what a request is (`logins`, `refreshes`).
pub fn load(title: &str, noun: &str, run: &LoadRun, argon2: Option<&[Round]>) {
    println!(
        "== {title}, {} clients, {:.0} s ==",
        run.concurrency,
        run.elapsed.as_secs_f64()
    );
    println!(
        "  {} {noun} in {:.2} s: {:.1} {noun}/s",
        grouped(run.requests() as u64),
        run.elapsed.as_secs_f64(),
        run.per_second()
    );
    println!("  latency: {}", latency(run));
    println!("  cpu: {}", run.cpu);
    let per_request = |cores: f64| {
        Duration::from_secs_f64(cores * run.elapsed.as_secs_f64() / run.requests().max(1) as f64)
    };
    println!(
        "  cpu per request: auth service {}, load client {}, postgres {}, rabbitmq {}",
        time(per_request(run.cpu.service())),
        time(per_request(run.cpu.client)),
        time(per_request(run.cpu.postgres)),
        time(per_request(run.cpu.rabbitmq)),
    );
    if let Some(rounds) = argon2 {
        let round = median(rounds);
        let ceiling = round.per_cpu_second() * cores() as f64;
        println!(
            "  against argon2id alone ({} CPU per check): {} cores allow {} {noun}/s, {:.0} % \
             reached",
            time(cpu_per_check(&round)),
            cores(),
            grouped_rounded(ceiling),
            run.per_second() / ceiling * 100.0,
        );
    }
    println!();
}

/// The figures of the issue on one line each.
pub fn summary(config: &ServiceConfig, login: Option<&LoadRun>, refresh: Option<&LoadRun>) {
    println!("summary ({}):", argon2(&config.argon2));
    if let Some(run) = login {
        println!(
            "  logins/s {:>8.1}   POST /v1/login   {}",
            run.per_second(),
            latency(run)
        );
    }
    if let Some(run) = refresh {
        println!(
            "  refresh/s {:>7.1}   POST /v1/refresh {}",
            run.per_second(),
            latency(run)
        );
    }
}

fn latency(run: &LoadRun) -> String {
    let latencies = &run.latencies;
    format!(
        "p50 {}, p90 {}, p99 {}, max {} (mean {})",
        time(latencies.percentile(50.0)),
        time(latencies.percentile(90.0)),
        time(latencies.percentile(99.0)),
        time(latencies.max()),
        time(latencies.mean()),
    )
}

fn argon2(cost: &Argon2Cost) -> String {
    let plural = |count: u32| if count == 1 { "" } else { "s" };
    format!(
        "{} KiB ({:.1} MiB), {} iteration{}, {} lane{}",
        grouped(u64::from(cost.memory_kib)),
        f64::from(cost.memory_kib) / 1024.0,
        cost.iterations,
        plural(cost.iterations),
        cost.lanes,
        plural(cost.lanes),
    )
}

fn cpu_per_check(round: &Round) -> Duration {
    Duration::from_secs_f64(1.0 / round.per_cpu_second())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A duration in the unit that reads best: `850 µs`, `2.35 ms`, `123.4 ms`.
fn time(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1e3;
    if ms < 1.0 {
        format!("{:.0} µs", ms * 1e3)
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        assert_eq!(time(Duration::from_micros(850)), "850 µs");
        assert_eq!(time(Duration::from_micros(2_346)), "2.35 ms");
        assert_eq!(time(Duration::from_micros(123_400)), "123.4 ms");
    }
}
