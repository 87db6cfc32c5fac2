//! The printed report of `token-verify`: the machine, one line per phase, and the
//! target with PASS or MISS; and what both benchmarks of the crate print the same
//! way ([`machine`], [`median`]). Nothing here asserts.

use six_bench_support::report::{Machine, grouped, grouped_rounded, load_average};

use crate::{cpu_time::Round, settings::Settings};

/// Verifications per second one core must reach (from the issue).
pub const TARGET_PER_CORE: f64 = 50_000.0;

/// The header: where and with what.
pub fn header(settings: &Settings, token_bytes: usize) {
    println!("six-degrees token verification benchmark");
    println!("  machine:  {}", machine());
    println!(
        "  load:     {} (1, 5, 15 min; other work skews wall-clock figures, not CPU-time ones)",
        load_average()
    );
    println!(
        "  settings: {} distinct user tokens (EdDSA, the 8 claims of docs/tokens.md, \
         {token_bytes} bytes), {} timed rounds per phase, one thread, median round shown",
        grouped(settings.tokens as u64),
        settings.rounds
    );
    println!();
    println!(
        "  {:<42} {:>14} {:>14} {:>10} {:>22}",
        "phase", "per CPU-second", "per second", "mean", "rounds (per CPU-s)"
    );
}

/// One phase's line.
pub fn phase(name: &str, rounds: &[Round]) {
    let median = median(rounds);
    let (low, high) = rounds
        .iter()
        .map(Round::per_cpu_second)
        .fold((f64::INFINITY, 0.0_f64), |(low, high), rate| {
            (low.min(rate), high.max(rate))
        });
    println!(
        "  {:<42} {:>14} {:>14} {:>8.1}µs {:>22}",
        name,
        grouped_rounded(median.per_cpu_second()),
        grouped_rounded(median.per_second()),
        median.mean().as_secs_f64() * 1e6,
        format!("{}–{}", grouped_rounded(low), grouped_rounded(high)),
    );
}

/// The target against the verifier's figures: tokens seen for the first time
/// (the signature checked; compared with the bare signature checks too) and
/// tokens seen before (answered from the cache of verified tokens).
pub fn summary(first_sight: &[Round], seen_before: &[Round], floor: &[Round]) {
    let verdict = |per_core: f64| {
        if per_core >= TARGET_PER_CORE {
            "PASS"
        } else {
            "MISS"
        }
    };
    let first = median(first_sight).per_cpu_second();
    let repeat = median(seen_before).per_cpu_second();
    println!();
    println!(
        "target: ≥ {} verifications/s per core",
        grouped_rounded(TARGET_PER_CORE)
    );
    println!(
        "  first sight of a token: {} ({} per CPU-second, {:.0} % of the bare signature checks)",
        verdict(first),
        grouped_rounded(first),
        first / median(floor).per_cpu_second() * 100.0
    );
    println!(
        "  a token seen before:    {} ({} per CPU-second)",
        verdict(repeat),
        grouped_rounded(repeat)
    );
}

/// The round with the median CPU-time rate (`rounds` must not be empty).
pub fn median(rounds: &[Round]) -> Round {
    let mut sorted = rounds.to_vec();
    sorted.sort_by(|a, b| a.per_cpu_second().total_cmp(&b.per_cpu_second()));
    sorted[sorted.len() / 2]
}

/// CPU model, cores and build profile.
pub fn machine() -> String {
    let Machine {
        cpu_model, cores, ..
    } = Machine::read();
    format!(
        "{cpu_model}, {cores} cores, {} build",
        if cfg!(debug_assertions) {
            "DEBUG (figures meaningless)"
        } else {
            "release"
        }
    )
}
