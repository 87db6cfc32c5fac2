//! Where the CPU went during a run, from `/proc`: this process, PostgreSQL, RabbitMQ
//! and everything else on the machine. On a 2-core machine that shares the cores
//! with both servers, this says more about a figure than the figure itself.
//!
//! A benchmark that runs the service under test and its load client in this one
//! process tells the two apart by thread name ([`ThreadSplit`]); one that runs the
//! service as its own process names that process ([`ServiceProcess`]). Processes
//! that end during the run (a client's database connections with their PostgreSQL
//! backends, a tool such as psql) are only counted in their group by a [`Tracker`].
//! Linux only; elsewhere every reading is zero.

use std::{
    collections::HashMap,
    fmt,
    sync::mpsc::{self, RecvTimeoutError},
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// How this process splits into load client and service under test: by the name
/// of each thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadSplit {
    /// Name (prefix) of the load client's threads; every other thread of this
    /// process counts for the service.
    pub client_threads: &'static str,
    /// What the service is called in the report (`auth service`).
    pub service: &'static str,
}

/// The service under test when it runs as a process of its own (a child the
/// benchmark started), counted apart from this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceProcess {
    /// Its process id.
    pub pid: u32,
    /// What it is called in the report (`importer`).
    pub service: &'static str,
}

/// Who a process counts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Group {
    Bench,
    Service,
    Postgres,
    RabbitMq,
    Other,
}

impl Group {
    fn of(pid: u32, own_pid: u32, service_pid: Option<u32>, command: &str) -> Self {
        if pid == own_pid {
            Group::Bench
        } else if Some(pid) == service_pid {
            Group::Service
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
    split: Option<ThreadSplit>,
    /// Ticks of this process's client threads by thread id (none without a split).
    client_threads: HashMap<u32, u64>,
    process: Option<ServiceProcess>,
}

/// Cores kept busy on average between two snapshots.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuUsage {
    /// The whole machine (all processes, kernel included).
    pub machine: f64,
    /// This benchmark process, all its threads.
    pub bench: f64,
    /// The load client's part of `bench`: its threads named as the
    /// [`ThreadSplit`] says; zero when the snapshot was not split.
    pub client: f64,
    /// The [`ServiceProcess`] (all its threads, ended ones included); zero when
    /// the snapshot named none.
    pub service_process: f64,
    /// Every PostgreSQL process.
    pub postgres: f64,
    /// Every Erlang VM (RabbitMQ; also other nodes running on the machine).
    pub rabbitmq: f64,
    /// What is left: kernel work outside processes and anything else running.
    pub other: f64,
    /// The split of the snapshot, which names the parts of `bench` when printed.
    split: Option<ThreadSplit>,
    /// The service process of the snapshot, which names it when printed.
    process: Option<ServiceProcess>,
}

impl Snapshot {
    /// Reads the counters now, this process as one (`bench` in the report).
    pub fn take() -> Self {
        Self::read(None, None)
    }

    /// Reads the counters now, and this process's threads as `split` tells them
    /// apart (the service and the load client in the report).
    pub fn take_split(split: ThreadSplit) -> Self {
        Self::read(Some(split), None)
    }

    /// Reads the counters now, with `process` (the service under test, running on
    /// its own) counted apart from this process and from everything else. Take
    /// the later snapshot ([`Snapshot::usage_since`]) before the process ends: an
    /// ended process counts as `other`.
    pub fn take_with_process(process: ServiceProcess) -> Self {
        Self::read(None, Some(process))
    }

    fn read(split: Option<ThreadSplit>, process: Option<ServiceProcess>) -> Self {
        let own_pid = std::process::id();
        let service_pid = process.map(|process| process.pid);
        let mut processes = HashMap::new();
        for pid in numbered_entries("/proc") {
            if let Some((command, ticks)) = ticks_of(&format!("/proc/{pid}/stat")) {
                processes.insert(pid, (Group::of(pid, own_pid, service_pid, &command), ticks));
            }
        }
        let client_threads = split.map_or_else(HashMap::new, |split| {
            numbered_entries("/proc/self/task")
                .filter_map(|tid| {
                    let (name, ticks) = ticks_of(&format!("/proc/self/task/{tid}/stat"))?;
                    name.starts_with(split.client_threads)
                        .then_some((tid, ticks))
                })
                .collect()
        });
        Self {
            at: Instant::now(),
            machine_busy_ticks: machine_busy_ticks().unwrap_or_default(),
            processes,
            split,
            client_threads,
            process,
        }
    }

    /// Average cores used by each group since this snapshot, split as this
    /// snapshot was. Processes that ended in between are not counted in their
    /// group (they are in `other`); client threads that ended count for the
    /// service.
    pub fn usage_since(&self) -> CpuUsage {
        self.usage_until(&Snapshot::read(self.split, self.process))
    }

    /// Average cores used by each group between this snapshot and `now`, a later
    /// one; see [`Snapshot::usage_since`].
    fn usage_until(&self, now: &Snapshot) -> CpuUsage {
        let seconds = now.at.duration_since(self.at).as_secs_f64();
        let ticks_per_second = ticks_per_second();
        if seconds <= 0.0 || ticks_per_second <= 0.0 {
            return CpuUsage {
                split: self.split,
                process: self.process,
                ..CpuUsage::default()
            };
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
        let (bench, service_process, postgres, rabbitmq) = (
            group(Group::Bench),
            group(Group::Service),
            group(Group::Postgres),
            group(Group::RabbitMq),
        );
        CpuUsage {
            machine,
            bench,
            client: cores(client_ticks).min(bench),
            service_process,
            postgres,
            rabbitmq,
            other: (machine - bench - service_process - postgres - rabbitmq).max(0.0),
            split: self.split,
            process: self.process,
        }
    }
}

/// A [`Snapshot`] that keeps reading the counters every `every` on a thread of
/// its own, so that processes that end before the last reading still count in
/// their group, with their ticks as last read (at most `every` of their CPU time is
/// lost): a load client's database connections, which take their PostgreSQL
/// backends with them, or a tool the benchmark ran (psql, pgloader).
pub struct Tracker {
    start: Snapshot,
    /// Dropped to stop the reader at once.
    stop: mpsc::Sender<()>,
    reader: JoinHandle<HashMap<u32, (Group, u64)>>,
}

impl Tracker {
    /// Starts tracking now, this process as one (`bench` in the report).
    pub fn start(every: Duration) -> Self {
        Self::start_reading(every, None)
    }

    /// Starts tracking now, with `process` counted apart (see
    /// [`Snapshot::take_with_process`]).
    pub fn start_with_process(every: Duration, process: ServiceProcess) -> Self {
        Self::start_reading(every, Some(process))
    }

    fn start_reading(every: Duration, process: Option<ServiceProcess>) -> Self {
        let start = Snapshot::read(None, process);
        let (stop, stopped) = mpsc::channel::<()>();
        let reader = {
            let mut seen = start.processes.clone();
            std::thread::spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    seen.extend(Snapshot::read(None, process).processes);
                }
                seen
            })
        };
        Self {
            start,
            stop,
            reader,
        }
    }

    /// Average cores used by each group since the start; processes that ended count
    /// with their last reading.
    pub fn finish(self) -> CpuUsage {
        drop(self.stop);
        let seen = self.reader.join().unwrap_or_default();
        let mut now = Snapshot::read(None, self.start.process);
        with_ended(&mut now, seen);
        self.start.usage_until(&now)
    }
}

/// Adds to `now` the processes of `seen` (the last reading of each) that have ended
/// since.
fn with_ended(now: &mut Snapshot, seen: HashMap<u32, (Group, u64)>) {
    for (pid, reading) in seen {
        now.processes.entry(pid).or_insert(reading);
    }
}

impl CpuUsage {
    /// The service under test: `bench` without the load client (all of `bench`
    /// when the snapshot was not split).
    pub fn service(&self) -> f64 {
        self.bench - self.client
    }
}

impl fmt::Display for CpuUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        write!(f, "cores busy {:.2} of {cores}: ", self.machine)?;
        if let Some(process) = self.process {
            write!(f, "{} {:.2}, ", process.service, self.service_process)?;
        }
        match self.split {
            None => write!(f, "bench {:.2}", self.bench)?,
            Some(split) => write!(
                f,
                "{} {:.2}, load client {:.2}",
                split.service,
                self.service(),
                self.client
            )?,
        }
        write!(
            f,
            ", postgres {:.2}, rabbitmq {:.2}, other {:.2}",
            self.postgres, self.rabbitmq, self.other
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
    parse_stat(&std::fs::read_to_string(stat_path).ok()?)
}

/// The command name and user + system ticks of the text of a `stat` file.
fn parse_stat(stat: &str) -> Option<(String, u64)> {
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
    busy_ticks(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// Busy ticks from the `cpu ` line of the text of `/proc/stat`.
fn busy_ticks(stat: &str) -> Option<u64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_with_spaces_and_parentheses_is_read_whole() {
        let stat = "42 (tokio (rt) 1) S 1 42 42 0 -1 4194560 900 0 3 0 7 3 0 0 20 0 4 0 100";

        let parsed = parse_stat(stat);

        assert_eq!(parsed, Some(("tokio (rt) 1".to_owned(), 10)));
    }

    #[test]
    fn busy_ticks_leave_out_idle_and_iowait() {
        let stat = "cpu  10 20 30 1000 500 1 2 3 0 0\ncpu0 5 10 15 500 250 1 1 2 0 0\n";

        let busy = busy_ticks(stat);

        assert_eq!(busy, Some(10 + 20 + 30 + 1 + 2 + 3));
    }

    #[test]
    fn this_process_postgres_and_the_erlang_vm_each_have_their_group() {
        assert_eq!(Group::of(7, 7, None, "token-verify"), Group::Bench);
        assert_eq!(
            Group::of(8, 7, None, "postgres: walwriter"),
            Group::Postgres
        );
        assert_eq!(Group::of(9, 7, None, "beam.smp"), Group::RabbitMq);
        assert_eq!(Group::of(10, 7, None, "cargo"), Group::Other);
    }

    #[test]
    fn the_service_process_has_its_own_group() {
        assert_eq!(Group::of(11, 7, Some(11), "importer"), Group::Service);
        assert_eq!(Group::of(12, 7, Some(11), "importer"), Group::Other);
    }

    fn usage(split: Option<ThreadSplit>) -> CpuUsage {
        CpuUsage {
            machine: 1.9,
            bench: 1.5,
            client: if split.is_some() { 0.25 } else { 0.0 },
            service_process: 0.0,
            postgres: 0.3,
            rabbitmq: 0.05,
            other: 0.05,
            split,
            process: None,
        }
    }

    #[test]
    fn an_unsplit_process_is_reported_as_the_bench() {
        let cores = std::thread::available_parallelism().map_or(0, usize::from);

        let line = usage(None).to_string();

        assert_eq!(
            line,
            format!(
                "cores busy 1.90 of {cores}: bench 1.50, postgres 0.30, rabbitmq 0.05, other 0.05"
            )
        );
    }

    #[test]
    fn a_split_process_is_reported_as_service_and_load_client() {
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        let split = ThreadSplit {
            client_threads: "bench-client",
            service: "auth service",
        };

        let line = usage(Some(split)).to_string();

        assert_eq!(
            line,
            format!(
                "cores busy 1.90 of {cores}: auth service 1.25, load client 0.25, \
                 postgres 0.30, rabbitmq 0.05, other 0.05"
            )
        );
    }

    #[test]
    fn a_process_that_ended_counts_in_its_group_with_its_last_reading() {
        let snapshot = |at: Instant, processes: &[(u32, Group, u64)]| Snapshot {
            at,
            machine_busy_ticks: 0,
            processes: processes
                .iter()
                .map(|(pid, group, ticks)| (*pid, (*group, *ticks)))
                .collect(),
            split: None,
            client_threads: HashMap::new(),
            process: None,
        };
        let started = Instant::now();
        let start = snapshot(started, &[(1, Group::Bench, 0)]);
        // A PostgreSQL backend seen while running, gone at the end.
        let seen = HashMap::from([(2, (Group::Postgres, 50))]);
        let mut end = snapshot(started + Duration::from_secs(1), &[(1, Group::Bench, 0)]);

        let before = start.usage_until(&end);
        with_ended(&mut end, seen);
        let after = start.usage_until(&end);

        assert_eq!(before.postgres, 0.0);
        assert!(after.postgres > 0.0);
    }

    #[test]
    fn a_service_process_is_reported_before_the_bench() {
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        let usage = CpuUsage {
            machine: 1.9,
            bench: 0.1,
            service_process: 1.2,
            postgres: 0.5,
            rabbitmq: 0.05,
            other: 0.05,
            process: Some(ServiceProcess {
                pid: 42,
                service: "importer",
            }),
            ..CpuUsage::default()
        };

        let line = usage.to_string();

        assert_eq!(
            line,
            format!(
                "cores busy 1.90 of {cores}: importer 1.20, bench 0.10, postgres 0.50, \
                 rabbitmq 0.05, other 0.05"
            )
        );
    }
}
