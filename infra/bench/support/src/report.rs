//! What the benchmarks' reports read and print the same way: the machine a run is
//! on ([`Machine`]), the load average ([`load_average`]), numbers with thousands
//! separators ([`grouped`], [`grouped_rounded`]), sizes in MB ([`megabytes`],
//! [`binary_with_size`]), durations ([`time`]), a long timeline thinned
//! ([`spaced`]) and a service's logged problems counted ([`grouped_problems`]).
//! Each benchmark lays out its own lines.

use std::{path::Path, time::Duration};

/// The machine a benchmark runs on, from `/proc`.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// The first `model name` of `/proc/cpuinfo`, else `unknown CPU`.
    pub cpu_model: String,
    /// Cores this process may use (0 when unknown).
    pub cores: usize,
    /// The machine's memory (`MemTotal`) in GiB, 0 when unknown.
    pub memory_gib: f64,
}

impl Machine {
    /// Reads the machine now.
    pub fn read() -> Self {
        Self::from_proc(
            &std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default(),
            &std::fs::read_to_string("/proc/meminfo").unwrap_or_default(),
            std::thread::available_parallelism().map_or(0, usize::from),
        )
    }

    /// The machine the texts of `/proc/cpuinfo` and `/proc/meminfo` describe.
    fn from_proc(cpuinfo: &str, meminfo: &str, cores: usize) -> Self {
        let cpu_model = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
            .map_or("unknown CPU", |(_, model)| model.trim())
            .to_owned();
        let memory_gib = meminfo
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|value| value.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0.0, |kib| kib as f64 / (1024.0 * 1024.0));
        Self {
            cpu_model,
            cores,
            memory_gib,
        }
    }
}

/// Cores busy before a run above which the header says other work skews the figures.
pub const BUSY_BEFORE_WARNING: f64 = 0.25;

/// The lines every benchmark's header has after its title: the date, the machine,
/// and how busy it was (`busy_before`: cores busy in the second before the run).
pub fn print_run_context(busy_before: f64) {
    let machine = Machine::read();
    println!(
        "  date:     {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!(
        "  machine:  {} cores ({}), {:.0} GiB",
        machine.cores, machine.cpu_model, machine.memory_gib
    );
    println!(
        "  load:     {} (1, 5, 15 min); {:.2} cores busy in the second before the run{}",
        load_average(),
        busy_before,
        if busy_before > BUSY_BEFORE_WARNING {
            " (other work on the machine skews the figures)"
        } else {
            ""
        }
    );
}

/// The load average over 1, 5 and 15 minutes from `/proc/loadavg`
/// (`0.52, 0.61, 0.70`), else `unknown`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map_or_else(|_| "unknown".to_owned(), |loadavg| first_three(&loadavg))
}

/// The first three fields of the text of `/proc/loadavg`, comma-separated.
fn first_three(loadavg: &str) -> String {
    loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A target's verdict: `PASS`, or `MISS (<shortfall>)`.
pub fn verdict(met: bool, shortfall: String) -> String {
    if met {
        "PASS".to_owned()
    } else {
        format!("MISS ({shortfall})")
    }
}

/// `12345` → `12,345`.
pub fn grouped(value: u64) -> String {
    with_separators(&value.to_string())
}

/// `12345.6` → `12,346`: rounded to a whole number first, below zero as `0`.
pub fn grouped_rounded(value: f64) -> String {
    with_separators(&format!("{:.0}", value.max(0.0)))
}

/// Bytes as `85.2 MB` (10⁶ bytes, one decimal).
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// A binary (a service under measurement) with its size: `/path/graph (12.3 MB)`.
pub fn binary_with_size(path: &Path) -> String {
    let size = std::fs::metadata(path).map_or(0, |metadata| metadata.len());
    format!("{} ({})", path.display(), megabytes(size))
}

/// `digits` with a comma before every group of three, counted from the right.
fn with_separators(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A duration in the unit that reads best: `850 µs`, `2.35 ms`, `123.4 ms`, `3.20 s`.
pub fn time(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1e3;
    if ms < 1.0 {
        format!("{:.0} µs", ms * 1e3)
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1_000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1e3)
    }
}

/// At most `lines` entries of `timeline`, evenly spaced, always the last.
pub fn spaced<T>(timeline: &[T], lines: usize) -> Vec<&T> {
    if timeline.len() <= lines || lines < 2 {
        return timeline.iter().collect();
    }
    let step = (timeline.len() - 1) as f64 / (lines - 1) as f64;
    (0..lines)
        .map(|line| &timeline[((line as f64 * step).round() as usize).min(timeline.len() - 1)])
        .collect()
}

/// A service's warning and error log lines (JSON) counted by level, message and
/// statement, most frequent first; a line that is not such JSON counts as its
/// first 160 characters.
pub fn grouped_problems(lines: &[String]) -> Vec<(String, usize)> {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for line in lines {
        let entry: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let key = match (entry["level"].as_str(), entry["message"].as_str()) {
            (Some(level), Some(message)) => match entry["summary"].as_str() {
                Some(statement) => format!("{level} {message} ({statement})"),
                None => format!("{level} {message}"),
            },
            _ => line.chars().take(160).collect(),
        };
        match counts.iter_mut().find(|(known, _)| *known == key) {
            Some((_, count)) => *count += 1,
            None => counts.push((key, 1)),
        }
    }
    counts.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missed_target_says_by_how_much() {
        assert_eq!(verdict(true, String::new()), "PASS");
        assert_eq!(verdict(false, "23 % short".to_owned()), "MISS (23 % short)");
    }

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        assert_eq!(time(Duration::from_micros(850)), "850 µs");
        assert_eq!(time(Duration::from_micros(2_346)), "2.35 ms");
        assert_eq!(time(Duration::from_micros(123_400)), "123.4 ms");
        assert_eq!(time(Duration::from_millis(3_200)), "3.20 s");
    }

    #[test]
    fn a_long_timeline_is_thinned_evenly_keeping_both_ends() {
        let timeline: Vec<u32> = (0..100).collect();

        let shown = spaced(&timeline, 5);

        assert_eq!(shown, vec![&0, &25, &50, &74, &99]);
        assert_eq!(spaced(&timeline[..3], 5).len(), 3);
    }

    #[test]
    fn problems_are_grouped_by_level_message_and_statement() {
        let slow = r#"{"level":"WARN","message":"slow statement","summary":"SELECT 1"}"#;
        let lost = r#"{"level":"WARN","message":"consumer lost the broker; reconnecting"}"#;
        let lines: Vec<String> = [slow, lost, slow]
            .iter()
            .map(|line| (*line).to_owned())
            .collect();

        let grouped = grouped_problems(&lines);

        assert_eq!(
            grouped,
            vec![
                ("WARN slow statement (SELECT 1)".to_owned(), 2),
                ("WARN consumer lost the broker; reconnecting".to_owned(), 1),
            ]
        );
    }

    #[test]
    fn thousands_are_grouped_by_commas() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn fractions_are_rounded_before_grouping() {
        assert_eq!(grouped_rounded(1_234_567.4), "1,234,567");
        assert_eq!(grouped_rounded(999.6), "1,000");
        assert_eq!(grouped_rounded(999.0), "999");
    }

    #[test]
    fn megabytes_are_millions_of_bytes() {
        assert_eq!(megabytes(99_960_000), "100.0 MB");
        assert_eq!(megabytes(0), "0.0 MB");
    }

    #[test]
    fn a_negative_figure_is_grouped_as_zero() {
        assert_eq!(grouped_rounded(-3.0), "0");
    }

    #[test]
    fn the_machine_is_read_from_cpuinfo_and_meminfo() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\
                       processor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        let meminfo = "MemTotal:       25165824 kB\nMemFree:         1000000 kB\n";

        let machine = Machine::from_proc(cpuinfo, meminfo, 2);

        assert_eq!(
            machine,
            Machine {
                cpu_model: "AMD EPYC 7B13".to_owned(),
                cores: 2,
                memory_gib: 24.0,
            }
        );
    }

    #[test]
    fn a_machine_without_proc_is_unknown() {
        let machine = Machine::from_proc("", "", 0);

        assert_eq!(machine.cpu_model, "unknown CPU");
        assert_eq!(machine.memory_gib, 0.0);
    }

    #[test]
    fn the_load_average_is_the_first_three_fields() {
        assert_eq!(
            first_three("0.52 0.61 0.70 1/234 5678\n"),
            "0.52, 0.61, 0.70"
        );
    }
}
