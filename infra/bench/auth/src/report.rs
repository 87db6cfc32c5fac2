//! The printed report of `token-verify`: the machine, one line per phase, and the
//! target with PASS or MISS; and the lines every benchmark of the crate prints the
//! same way ([`machine`], [`load_average`], [`grouped`]). Nothing here asserts.

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
        grouped(settings.tokens as f64),
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
        grouped(median.per_cpu_second()),
        grouped(median.per_second()),
        median.mean().as_secs_f64() * 1e6,
        format!("{}–{}", grouped(low), grouped(high)),
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
        grouped(TARGET_PER_CORE)
    );
    println!(
        "  first sight of a token: {} ({} per CPU-second, {:.0} % of the bare signature checks)",
        verdict(first),
        grouped(first),
        first / median(floor).per_cpu_second() * 100.0
    );
    println!(
        "  a token seen before:    {} ({} per CPU-second)",
        verdict(repeat),
        grouped(repeat)
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
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    format!(
        "{model}, {cores} cores, {} build",
        if cfg!(debug_assertions) {
            "DEBUG (figures meaningless)"
        } else {
            "release"
        }
    )
}

/// The load average over 1, 5 and 15 minutes, from `/proc/loadavg`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|load| {
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// `12345.6` as `12,346`.
pub fn grouped(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(grouped(1_234_567.4), "1,234,567");
        assert_eq!(grouped(999.0), "999");
    }
}
