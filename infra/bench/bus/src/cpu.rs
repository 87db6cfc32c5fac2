//! Where the CPU went during a run, from `/proc`: this process, PostgreSQL, RabbitMQ
//! and everything else on the machine. On a 2-core machine that shares the cores
//! with both servers, this says more about a figure than the figure itself.
//!
//! Linux only; elsewhere every reading is zero.

use std::{collections::HashMap, fmt, time::Instant};

/// Who a process counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Group {
    Bench,
    Postgres,
    RabbitMq,
    Other,
}

impl Group {
    fn of(pid: u32, own_pid: u32, command: &str) -> Self {
        if pid == own_pid {
            Group::Bench
        } else if command.starts_with("postgres") {
            Group::Postgres
        } else if command == "beam.smp" || command.starts_with("erl_") || command == "epmd" {
            Group::RabbitMq
        } else {
            Group::Other
        }
    }
}

/// CPU time counters at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    at: Instant,
    machine_busy_ticks: u64,
    processes: HashMap<u32, (Group, u64)>,
}

/// Cores kept busy on average between two snapshots.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUsage {
    /// The whole machine (all processes, kernel included).
    pub machine: f64,
    /// This benchmark process (relay, consumer, writer, raw client).
    pub bench: f64,
    /// Every PostgreSQL process.
    pub postgres: f64,
    /// Every Erlang VM (RabbitMQ; also other nodes running on the machine).
    pub rabbitmq: f64,
    /// What is left: kernel work outside processes and anything else running.
    pub other: f64,
}

impl Snapshot {
    /// Reads the counters now.
    pub fn take() -> Self {
        let own_pid = std::process::id();
        let mut processes = HashMap::new();
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                let Some(pid) = entry
                    .file_name()
                    .to_str()
                    .and_then(|name| name.parse().ok())
                else {
                    continue;
                };
                if let Some((command, ticks)) = process_ticks(pid) {
                    processes.insert(pid, (Group::of(pid, own_pid, &command), ticks));
                }
            }
        }
        Self {
            at: Instant::now(),
            machine_busy_ticks: machine_busy_ticks().unwrap_or_default(),
            processes,
        }
    }

    /// Average cores used by each group since this snapshot. Processes that ended in
    /// between are not counted in their group (they are in `other`).
    pub fn usage_since(&self) -> CpuUsage {
        let now = Snapshot::take();
        let seconds = now.at.duration_since(self.at).as_secs_f64();
        let ticks_per_second = ticks_per_second();
        if seconds <= 0.0 || ticks_per_second <= 0.0 {
            return CpuUsage::default();
        }
        let cores = |ticks: u64| ticks as f64 / ticks_per_second / seconds;
        let mut by_group: HashMap<Group, u64> = HashMap::new();
        for (pid, (group, ticks)) in &now.processes {
            let before = self
                .processes
                .get(pid)
                .map_or(0, |(_, before_ticks)| *before_ticks);
            *by_group.entry(*group).or_default() += ticks.saturating_sub(before);
        }
        let group = |group: Group| cores(by_group.get(&group).copied().unwrap_or_default());
        let machine = cores(
            now.machine_busy_ticks
                .saturating_sub(self.machine_busy_ticks),
        );
        let (bench, postgres, rabbitmq) = (
            group(Group::Bench),
            group(Group::Postgres),
            group(Group::RabbitMq),
        );
        CpuUsage {
            machine,
            bench,
            postgres,
            rabbitmq,
            other: (machine - bench - postgres - rabbitmq).max(0.0),
        }
    }
}

impl fmt::Display for CpuUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        write!(
            f,
            "cores busy {:.2} of {cores}: bench {:.2}, postgres {:.2}, rabbitmq {:.2}, other {:.2}",
            self.machine, self.bench, self.postgres, self.rabbitmq, self.other
        )
    }
}

/// The command name and user + system ticks of process `pid` (all its threads).
fn process_ticks(pid: u32) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (command) state ppid ...`: the command may contain spaces and parentheses.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let command = stat.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of proc(5); `fields[0]` is field 3.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some((command, user + system))
}

/// Busy ticks of all cores since boot: everything but idle and iowait.
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|index| ticks.get(*index))
        .sum();
    Some(busy)
}

fn ticks_per_second() -> f64 {
    // SAFETY: `sysconf` only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}
