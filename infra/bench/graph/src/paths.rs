//! The path phase: `GET /v1/graph/path?email=` for random pairs, with each
//! viewer's real bearer token, from `concurrency` clients that each send their
//! next query as soon as the previous one is answered (a closed loop), for a fixed
//! number of queries after an untimed warm-up.
//!
//! Pairs ([`pairs`]) are drawn from the seed: the viewer is any user (private ones
//! too); the target is a user by their registration e-mail ([`USER_PERCENT`]), a
//! person from a random user's address book ([`UNKNOWN_PERCENT`] aside, the rest),
//! or an address nobody has ([`UNKNOWN_PERCENT`]). Whether a pair is connected
//! is the graph's answer; the share is reported.
//!
//! A query answered 422 `search_too_broad` (the service's `GRAPH_MAX_VISITED`) is
//! counted as refused; any other answer but 200 stops the run.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use serde::Deserialize;
use six_bench_support::{
    cpu::{CpuUsage, ServiceProcess, Tracker},
    latency::Latencies,
};
use six_kit::testing::TestIssuer;
use tokio::task::JoinSet;

use crate::{events::Accounts, network::Network};

/// Share of targets (in percent) that are users, found by registration e-mail.
pub const USER_PERCENT: u8 = 40;
/// Share of targets (in percent) that are addresses nobody has.
pub const UNKNOWN_PERCENT: u8 = 10;

/// Deadline of one query.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the CPU counters are read.
const CPU_READ_EVERY: Duration = Duration::from_millis(100);

/// What a target is to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetKind {
    /// A user, by their registration e-mail.
    User,
    /// A person in some user's address book (a user or not).
    Contact,
    /// An address no one has.
    Unknown,
}

impl TargetKind {
    /// Every kind, in report order.
    pub const ALL: [TargetKind; 3] = [TargetKind::User, TargetKind::Contact, TargetKind::Unknown];

    /// The kind's name in the report.
    pub fn label(self) -> &'static str {
        match self {
            TargetKind::User => "a user",
            TargetKind::Contact => "someone's contact",
            TargetKind::Unknown => "unknown address",
        }
    }
}

/// One query: who asks about whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The asking user.
    pub viewer: usize,
    /// What the target is.
    pub kind: TargetKind,
    /// The target's address.
    pub email: String,
}

/// `count` pairs drawn from `seed`.
pub fn pairs(network: &Network, count: usize, seed: u64) -> Vec<Pair> {
    let mut random = fastrand::Rng::with_seed(seed);
    let users = network.users();
    (0..count)
        .map(|index| {
            let viewer = random.usize(0..users);
            let roll = random.u8(0..100);
            let (kind, email) = if roll < UNKNOWN_PERCENT {
                (
                    TargetKind::Unknown,
                    format!("nobody.{seed}.{index}@nowhere.example"),
                )
            } else if roll < UNKNOWN_PERCENT + USER_PERCENT {
                let user = random.usize(0..users);
                (TargetKind::User, network.user_facts(user).email)
            } else {
                let owner = random.usize(0..users);
                let contacts = network.contacts(owner);
                let person = contacts[random.usize(0..contacts.len())];
                (TargetKind::Contact, network.person(person).email)
            };
            Pair {
                viewer,
                kind,
                email,
            }
        })
        .collect()
}

/// The graph's answer to one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A path of this many hops.
    Connected { degree: usize },
    /// No path within six hops (or an unknown target).
    NotConnected,
    /// 422 `search_too_broad`.
    TooBroad,
}

/// One timed query.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub kind: TargetKind,
    pub answer: Answer,
    /// Send to the whole answer read.
    pub latency: Duration,
}

/// What the path phase measured.
#[derive(Debug, Clone)]
pub struct PathFigures {
    /// Clients at once.
    pub concurrency: usize,
    /// Queries sent before timing.
    pub warmup: usize,
    /// First timed send → last answer.
    pub elapsed: Duration,
    /// Every timed query.
    pub queries: Vec<Timed>,
    /// Where the CPU went while timing.
    pub cpu: CpuUsage,
}

impl PathFigures {
    /// Latencies of the queries `keep` selects.
    pub fn latencies(&self, keep: impl Fn(&Timed) -> bool) -> Latencies {
        Latencies::new(
            self.queries
                .iter()
                .filter(|timed| keep(timed))
                .map(|timed| timed.latency)
                .collect(),
        )
    }

    /// Queries per second.
    pub fn per_second(&self) -> f64 {
        self.queries.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// How many answers of each degree (1–6), and how many were not connected and
    /// refused.
    pub fn answers(&self, keep: impl Fn(&Timed) -> bool) -> AnswerCounts {
        let mut counts = AnswerCounts::default();
        for timed in self.queries.iter().filter(|timed| keep(timed)) {
            match timed.answer {
                Answer::Connected { degree } => {
                    *counts.by_degree.entry(degree).or_default() += 1;
                    counts.connected += 1;
                }
                Answer::NotConnected => counts.not_connected += 1,
                Answer::TooBroad => counts.too_broad += 1,
            }
        }
        counts
    }
}

/// Answers counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerCounts {
    pub connected: usize,
    pub not_connected: usize,
    pub too_broad: usize,
    /// Connected answers by degree.
    pub by_degree: HashMap<usize, usize>,
}

impl AnswerCounts {
    /// Every answer.
    pub fn total(&self) -> usize {
        self.connected + self.not_connected + self.too_broad
    }

    /// Connected answers as a share of all, in percent.
    pub fn connected_percent(&self) -> f64 {
        percent(self.connected, self.total())
    }
}

/// `part` of `whole` in percent (0 when there is nothing).
pub fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

#[derive(Deserialize)]
struct PathBody {
    connected: bool,
    degree: Option<usize>,
}

/// Where the queries go and with what tokens.
struct Target {
    client: reqwest::Client,
    url: String,
    /// A token per viewer, minted before the clock starts.
    tokens: HashMap<usize, String>,
}

/// Sends `warmup` untimed queries, then `queries` timed ones, from `concurrency`
/// clients, to the graph at `url` (`.../v1/graph/path`).
#[allow(clippy::too_many_arguments)]
pub async fn run(
    url: String,
    graph_pid: u32,
    network: &Network,
    accounts: &Accounts,
    issuer: &TestIssuer,
    queries: usize,
    warmup: usize,
    concurrency: usize,
) -> anyhow::Result<PathFigures> {
    let seed = network.shape().seed;
    let warmup_pairs = pairs(network, warmup, seed.wrapping_add(1));
    let timed_pairs = pairs(network, queries, seed.wrapping_add(2));
    let tokens = warmup_pairs
        .iter()
        .chain(&timed_pairs)
        .map(|pair| pair.viewer)
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .map(|viewer| (viewer, issuer.user_token(accounts.user_id(viewer))))
        .collect();
    let target = Arc::new(Target {
        client: reqwest::Client::builder()
            .timeout(QUERY_TIMEOUT)
            .pool_max_idle_per_host(concurrency)
            .build()?,
        url,
        tokens,
    });

    load(&target, warmup_pairs, concurrency)
        .await
        .context("warm-up queries")?;
    let cpu = Tracker::start_with_process(
        CPU_READ_EVERY,
        ServiceProcess {
            pid: graph_pid,
            service: "graph",
        },
    );
    let started = Instant::now();
    let timed = load(&target, timed_pairs, concurrency).await?;
    let elapsed = started.elapsed();
    Ok(PathFigures {
        concurrency,
        warmup,
        elapsed,
        queries: timed,
        cpu: cpu.finish(),
    })
}

/// Sends every pair from `concurrency` clients, each taking the next pair as soon
/// as its previous query is answered; the first failure stops them all.
async fn load(
    target: &Arc<Target>,
    pairs: Vec<Pair>,
    concurrency: usize,
) -> anyhow::Result<Vec<Timed>> {
    let pairs: Arc<[Pair]> = pairs.into();
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = JoinSet::new();
    for _ in 0..concurrency.min(pairs.len()) {
        let (target, pairs, next) = (Arc::clone(target), Arc::clone(&pairs), Arc::clone(&next));
        clients.spawn(async move {
            let mut timed = Vec::new();
            while let Some(pair) = pairs.get(next.fetch_add(1, Ordering::Relaxed)) {
                let sent = Instant::now();
                let answer = ask(&target, pair)
                    .await
                    .with_context(|| format!("user {} asking for {}", pair.viewer, pair.email))?;
                timed.push(Timed {
                    kind: pair.kind,
                    answer,
                    latency: sent.elapsed(),
                });
            }
            anyhow::Ok(timed)
        });
    }
    let mut timed = Vec::with_capacity(pairs.len());
    // Dropping `clients` on an error aborts the others.
    while let Some(finished) = clients.join_next().await {
        timed.extend(finished.context("a client panicked")??);
    }
    Ok(timed)
}

/// One query, its answer read whole.
async fn ask(target: &Target, pair: &Pair) -> anyhow::Result<Answer> {
    let token = target
        .tokens
        .get(&pair.viewer)
        .context("no token was minted for the viewer")?;
    let response = target
        .client
        .get(&target.url)
        .query(&[("email", pair.email.as_str())])
        .bearer_auth(token)
        .send()
        .await
        .context("send")?;
    let status = response.status();
    let body = response.bytes().await.context("read the answer")?;
    if status == reqwest::StatusCode::UNPROCESSABLE_ENTITY {
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if problem["code"] == "search_too_broad" {
            return Ok(Answer::TooBroad);
        }
    }
    anyhow::ensure!(
        status == reqwest::StatusCode::OK,
        "answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    let path: PathBody = serde_json::from_slice(&body)
        .with_context(|| format!("not a path: {}", String::from_utf8_lossy(&body)))?;
    Ok(match (path.connected, path.degree) {
        (true, Some(degree)) => Answer::Connected { degree },
        (true, None) => anyhow::bail!("connected without a degree"),
        (false, _) => Answer::NotConnected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Shape;

    fn network() -> Network {
        Network::generate(Shape {
            users: 300,
            contacts_per_user: 40,
            community_users: 50,
            discoverable_percent: 80,
            seed: 7,
        })
    }

    #[test]
    fn pairs_mix_users_contacts_and_unknown_addresses_in_the_stated_shares() {
        let network = network();

        let pairs = pairs(&network, 5_000, 3);

        let share = |kind: TargetKind| {
            percent(
                pairs.iter().filter(|pair| pair.kind == kind).count(),
                pairs.len(),
            )
        };
        assert!((share(TargetKind::Unknown) - f64::from(UNKNOWN_PERCENT)).abs() < 2.0);
        assert!((share(TargetKind::User) - f64::from(USER_PERCENT)).abs() < 2.0);
        assert!(pairs.iter().all(|pair| pair.viewer < network.users()));
    }

    #[test]
    fn targets_are_addresses_the_network_has_unless_unknown() {
        let network = network();
        let known: std::collections::HashSet<String> = (0..network.users())
            .flat_map(|user| network.contacts(user).to_vec())
            .map(|person| network.person(person).email)
            .chain((0..network.users()).map(|user| network.user_facts(user).email))
            .collect();

        let pairs = pairs(&network, 1_000, 3);

        for pair in pairs {
            assert_eq!(
                known.contains(&pair.email),
                pair.kind != TargetKind::Unknown,
                "{pair:?}"
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_pairs() {
        let network = network();

        assert_eq!(pairs(&network, 100, 5), pairs(&network, 100, 5));
        assert_ne!(pairs(&network, 100, 5), pairs(&network, 100, 6));
    }

    #[test]
    fn answers_are_counted_by_degree() {
        let query = |answer| Timed {
            kind: TargetKind::User,
            answer,
            latency: Duration::from_millis(1),
        };
        let figures = PathFigures {
            concurrency: 1,
            warmup: 0,
            elapsed: Duration::from_secs(1),
            queries: vec![
                query(Answer::Connected { degree: 2 }),
                query(Answer::Connected { degree: 2 }),
                query(Answer::Connected { degree: 3 }),
                query(Answer::NotConnected),
            ],
            cpu: CpuUsage::default(),
        };

        let answers = figures.answers(|_| true);

        assert_eq!(answers.connected, 3);
        assert_eq!(answers.not_connected, 1);
        assert_eq!(answers.by_degree.get(&2), Some(&2));
        assert_eq!(answers.connected_percent(), 75.0);
    }
}
