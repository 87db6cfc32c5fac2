//! The service at rest: once it has stopped working (its index merges included,
//! which tantivy runs on threads of its own after a commit), its resident memory and
//! its index directory. "At rest" is a condition, not a pause: the service's own CPU
//! over the last [`WINDOW`] below [`IDLE_CORES`].

use std::time::{Duration, Instant};

use six_bench_support::{
    cpu::{ServiceProcess, Snapshot},
    memory::Memory,
};

use crate::service::{DirUsage, IndexDir, SearchProcess};

/// The window over which the service's CPU is read.
const WINDOW: Duration = Duration::from_secs(1);

/// Below this many cores busy over a window, the service is at rest.
const IDLE_CORES: f64 = 0.02;

/// Longest wait for rest.
const DEADLINE: Duration = Duration::from_secs(120);

/// The service at rest.
#[derive(Debug, Clone, Copy)]
pub struct Rest {
    /// How long it took to come to rest.
    pub waited: Duration,
    /// Its memory then.
    pub memory: Memory,
    /// Its index directory then.
    pub index: DirUsage,
}

/// Waits until `search` is at rest, and reads it.
pub async fn at_rest(search: &mut SearchProcess, index_dir: &IndexDir) -> anyhow::Result<Rest> {
    let started = Instant::now();
    let process = ServiceProcess {
        pid: search.service.pid(),
        service: "search",
    };
    loop {
        let window = Snapshot::take_with_process(process);
        // The measurement window itself: idleness is CPU time over a span.
        tokio::time::sleep(WINDOW).await;
        let busy = window.usage_since().service_process;
        search.service.check_alive()?;
        if busy < IDLE_CORES {
            return Ok(Rest {
                waited: started.elapsed(),
                memory: Memory::read(search.service.pid())?,
                index: index_dir.usage()?,
            });
        }
        anyhow::ensure!(
            started.elapsed() < DEADLINE,
            "the search service kept {busy:.2} cores busy {} s after the last search",
            DEADLINE.as_secs()
        );
    }
}
