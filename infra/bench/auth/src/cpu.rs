//! Where the CPU went during a run, from `/proc`: the load client and the service
//! (both in this process, told apart by thread name), PostgreSQL, RabbitMQ and
//! everything else on the machine. On a 2-core machine that shares the cores with
//! both servers, this says more about a figure than the figure itself.
//!
//! Read the same way as `infra/bench/bus/src/cpu.rs` (the bench crates are
//! standalone), plus the split of this process by thread. Linux only; elsewhere
//! every reading is zero.

use std::{collections::HashMap, fmt, time::Instant};

/// Name (prefix) of the threads of the load client's runtime; every other thread
/// of this process counts for the service under test.
pub const CLIENT_THREAD_NAME: &str = "bench-client";

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
    client_threads: HashMap<u32, u64>,
}

/// Cores kept busy on average between two snapshots.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUsage {
    /// The whole machine (all processes, kernel included).
    pub machine: f64,
    /// The load client: threads of this process named [`CLIENT_THREAD_NAME`].
    pub client: f64,
    /// The service under test: the rest of this process (its runtime, argon2 on
    /// the blocking pool, the harness).
    pub service: f64,
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
        for pid in numbered_entries("/proc") {
            if let Some((command, ticks)) = ticks_of(&format!("/proc/{pid}/stat")) {
                processes.insert(pid, (Group::of(pid, own_pid, &command), ticks));
            }
        }
        let client_threads = numbered_entries("/proc/self/task")
            .filter_map(|tid| {
                let (name, ticks) = ticks_of(&format!("/proc/self/task/{tid}/stat"))?;
                name.starts_with(CLIENT_THREAD_NAME).then_some((tid, ticks))
            })
            .collect();
        Self {
            at: Instant::now(),
            machine_busy_ticks: machine_busy_ticks().unwrap_or_default(),
            processes,
            client_threads,
        }
    }

    /// Average cores used by each group since this snapshot. Processes that ended in
    /// between are not counted in their group (they are in `other`); client threads
    /// that ended count for the service.
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
        let client_ticks: u64 = now
            .client_threads
            .iter()
            .map(|(tid, ticks)| {
                ticks.saturating_sub(self.client_threads.get(tid).copied().unwrap_or(0))
            })
            .sum();
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
        let client = cores(client_ticks).min(bench);
        CpuUsage {
            machine,
            client,
            service: bench - client,
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
            "cores busy {:.2} of {cores}: auth service {:.2}, load client {:.2}, \
             postgres {:.2}, rabbitmq {:.2}, other {:.2}",
            self.machine, self.service, self.client, self.postgres, self.rabbitmq, self.other
        )
    }
}

/// The entries of `directory` named by a number (processes, threads).
fn numbered_entries(directory: &str) -> impl Iterator<Item = u32> {
    std::fs::read_dir(directory)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
}

/// The command name and user + system ticks from a `stat` file of proc(5): a
/// process's (all its threads, ended ones included) or one thread's.
fn ticks_of(stat_path: &str) -> Option<(String, u64)> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
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
