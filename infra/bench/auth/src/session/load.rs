//! The load: `concurrency` clients, each with one request in flight, sending
//! requests back to back until the phase's time is up. A request that fails stops
//! the phase (the other clients are aborted) and the run.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use six_bench_support::{
    cpu::{CpuUsage, Snapshot},
    latency::Latencies,
};
use tokio::task::JoinSet;

use crate::session::{
    CPU_SPLIT,
    api::{Account, Api},
};

/// One password for every account: each has its own salt, so each login costs the
/// same argon2id work anyway.
const PASSWORD: &str = "bench password, correct horse battery staple";

/// What a load phase measured.
#[derive(Debug, Clone)]
pub struct LoadRun {
    /// Clients sending at once.
    pub concurrency: usize,
    /// From the first request sent to the last answer received.
    pub elapsed: Duration,
    /// Each successful request's time, send to full answer read.
    pub latencies: Latencies,
    /// Where the CPU went meanwhile.
    pub cpu: CpuUsage,
}

impl LoadRun {
    /// Requests answered.
    pub fn requests(&self) -> usize {
        self.latencies.count()
    }

    /// Requests answered per second.
    pub fn per_second(&self) -> f64 {
        self.requests() as f64 / self.elapsed.as_secs_f64()
    }
}

/// The registered accounts, and how long registering them took.
pub struct Registered {
    /// The accounts, in registration order.
    pub accounts: Arc<[Account]>,
    /// Wall-clock time of all registrations.
    pub elapsed: Duration,
}

/// Registers `count` accounts, `concurrency` at a time (each costs one argon2id hash).
pub async fn register(api: &Api, count: usize, concurrency: usize) -> anyhow::Result<Registered> {
    let accounts: Arc<[Account]> = (0..count)
        .map(|index| Account {
            email: format!("bench-{index}@example.com"),
            password: PASSWORD.to_owned(),
        })
        .collect();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for _ in 0..concurrency.min(count) {
        let (api, accounts, next) = (api.clone(), Arc::clone(&accounts), Arc::clone(&next));
        clients.spawn(async move {
            while let Some(account) = accounts.get(next.fetch_add(1, Ordering::Relaxed)) {
                api.register(account)
                    .await
                    .with_context(|| format!("register {}", account.email))?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(finished) = clients.join_next().await {
        finished.context("a registering client panicked")??;
    }
    Ok(Registered {
        accounts,
        elapsed: started.elapsed(),
    })
}

/// `POST /v1/login` for `duration`: each client logs in to the next account, round
/// robin over all of them, as soon as its previous login is answered.
pub async fn login(
    api: &Api,
    accounts: &Arc<[Account]>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<LoadRun> {
    anyhow::ensure!(!accounts.is_empty(), "no accounts to log in to");
    let next = Arc::new(AtomicUsize::new(0));
    let clients = (0..concurrency).map(|_| {
        let (api, accounts, next) = (api.clone(), Arc::clone(accounts), Arc::clone(&next));
        move |deadline: Instant| async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let account = &accounts[next.fetch_add(1, Ordering::Relaxed) % accounts.len()];
                let sent = Instant::now();
                api.login(account)
                    .await
                    .with_context(|| format!("log in as {}", account.email))?;
                latencies.push(sent.elapsed());
            }
            anyhow::Ok(latencies)
        }
    });
    timed(clients, duration).await
}

/// `POST /v1/refresh` for `duration`: each client first logs in (untimed) to start
/// its own family, then exchanges the refresh token it got last for the next one,
/// as an app keeping a session alive does (a token is spent once used).
pub async fn refresh(
    api: &Api,
    accounts: &Arc<[Account]>,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<LoadRun> {
    anyhow::ensure!(!accounts.is_empty(), "no accounts to log in to");
    let mut first_tokens = Vec::with_capacity(concurrency);
    for client in 0..concurrency {
        let account = &accounts[client % accounts.len()];
        let token = api
            .login(account)
            .await
            .with_context(|| format!("log in as {} to start a family", account.email))?;
        first_tokens.push(token);
    }
    let clients = first_tokens.into_iter().map(|first_token| {
        let api = api.clone();
        move |deadline: Instant| async move {
            let mut latencies = Vec::new();
            let mut token = first_token;
            while Instant::now() < deadline {
                let sent = Instant::now();
                token = api.refresh(&token).await.context("refresh")?;
                latencies.push(sent.elapsed());
            }
            anyhow::Ok(latencies)
        }
    });
    timed(clients, duration).await
}

/// Starts every client at once with the same deadline and gathers what they timed.
async fn timed<Client, Work>(
    clients: impl Iterator<Item = Client>,
    duration: Duration,
) -> anyhow::Result<LoadRun>
where
    Client: FnOnce(Instant) -> Work,
    Work: Future<Output = anyhow::Result<Vec<Duration>>> + Send + 'static,
{
    let cpu = Snapshot::take_split(CPU_SPLIT);
    let started = Instant::now();
    let deadline = started + duration;
    let mut running = JoinSet::new();
    for client in clients {
        running.spawn(client(deadline));
    }
    let concurrency = running.len();
    let mut latencies = Vec::new();
    // Dropping `running` on an error aborts the other clients.
    while let Some(finished) = running.join_next().await {
        latencies.extend(finished.context("a client panicked")??);
    }
    let elapsed = started.elapsed();
    Ok(LoadRun {
        concurrency,
        elapsed,
        latencies: Latencies::new(latencies),
        cpu: cpu.usage_since(),
    })
}
