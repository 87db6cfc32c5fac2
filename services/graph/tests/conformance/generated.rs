//! Paths on generated networks, checked against an independent implementation:
//! networkx's shortest paths (`tests/networkx/shortest_paths.py`) under the same
//! privacy rule. For every question the service's answer must have the length
//! networkx finds (not connected beyond [`MAX_HOPS`] or with no path at all, and not
//! connected with one hop fewer), and its chain must be a path the viewer may take:
//! from the viewer to the target, each step an edge the viewer may cross, each
//! person on the way one the viewer may walk through.
//!
//! Networks are seeded, of several shapes (chains, stars, small worlds, disconnected
//! parts), and mix discoverable users, private users and persons who are only
//! someone's contact, so the rule decides many of the answers.

use std::{collections::HashMap, process::Stdio};

use graph::{
    network::{MAX_HOPS, PathAnswer, Relation},
    store::GraphStore,
};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::{Graph, contact, email};

/// Viewers asked from in each network (every other person is a target).
const VIEWERS: usize = 8;

/// What a person of a generated network is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    DiscoverableUser,
    PrivateUser,
    /// Only someone's contact, never a user.
    Contact,
}

/// A generated network: persons by index and one contact entry (owner, person)
/// per KNOWS edge.
struct Network {
    shape: &'static str,
    seed: u64,
    kinds: Vec<Kind>,
    entries: Vec<(usize, usize)>,
}

impl Network {
    fn new(shape: &'static str, seed: u64) -> Self {
        Self {
            shape,
            seed,
            kinds: Vec::new(),
            entries: Vec::new(),
        }
    }

    fn add(&mut self, kind: Kind) -> usize {
        self.kinds.push(kind);
        self.kinds.len() - 1
    }

    /// A user, discoverable with the given chance.
    fn add_user(&mut self, rng: &mut fastrand::Rng, discoverable_chance: f64) -> usize {
        if rng.f64() < discoverable_chance {
            self.add(Kind::DiscoverableUser)
        } else {
            self.add(Kind::PrivateUser)
        }
    }

    fn is_user(&self, person: usize) -> bool {
        self.kinds[person] != Kind::Contact
    }

    fn discoverable(&self, person: usize) -> bool {
        self.kinds[person] == Kind::DiscoverableUser
    }

    /// `owner`'s address book gets an entry of `person` (once).
    fn knows(&mut self, owner: usize, person: usize) {
        debug_assert!(self.is_user(owner), "only users import contacts");
        if owner != person && !self.entries.contains(&(owner, person)) {
            self.entries.push((owner, person));
        }
    }

    /// An edge between `a` and `b`, in the address book of one of them that is a
    /// user (at random when both are).
    fn link(&mut self, rng: &mut fastrand::Rng, a: usize, b: usize) {
        let (owner, person) = match (self.is_user(a), self.is_user(b)) {
            (true, true) if rng.bool() => (b, a),
            (true, _) => (a, b),
            (false, true) => (b, a),
            (false, false) => return,
        };
        self.knows(owner, person);
    }

    fn email(&self, person: usize) -> String {
        format!("n{person}@{}.graph.test", self.shape.replace(' ', "-"))
    }

    /// Whether the viewer may cross an edge between `a` and `b`.
    fn crossable(&self, viewer: usize, a: usize, b: usize) -> bool {
        self.entries.iter().any(|&(owner, person)| {
            ((owner, person) == (a, b) || (owner, person) == (b, a))
                && (owner == viewer || self.discoverable(owner))
        })
    }

    /// Whether the viewer may walk through `person`.
    fn passable(&self, viewer: usize, person: usize) -> bool {
        person == viewer || self.discoverable(person) || self.entries.contains(&(viewer, person))
    }

    /// `length` users in a line, each discoverable with the given chance, each edge
    /// owned by one of its ends, some with a contact of their own off the line.
    fn add_chain(&mut self, rng: &mut fastrand::Rng, length: usize, discoverable_chance: f64) {
        let mut previous = self.add_user(rng, discoverable_chance);
        for _ in 1..length {
            let next = self.add_user(rng, discoverable_chance);
            self.link(rng, previous, next);
            if rng.bool() {
                let leaf = self.add(Kind::Contact);
                self.knows(next, leaf);
            }
            previous = next;
        }
    }

    /// A discoverable centre knowing `hubs` users, each with `leaves` contacts
    /// (some of them users, some knowing a contact of their own), and a few links
    /// between leaves of different hubs.
    fn add_stars(&mut self, rng: &mut fastrand::Rng, hubs: usize, leaves: usize) {
        let centre = self.add(Kind::DiscoverableUser);
        let mut leaf_users = Vec::new();
        for _ in 0..hubs {
            let hub = self.add_user(rng, 0.8);
            self.link(rng, centre, hub);
            for _ in 0..leaves {
                let leaf = match rng.usize(..20) {
                    0..=9 => self.add(Kind::Contact),
                    10..=16 => self.add(Kind::DiscoverableUser),
                    _ => self.add(Kind::PrivateUser),
                };
                if self.is_user(leaf) && rng.f64() < 0.3 {
                    self.knows(leaf, hub);
                } else {
                    self.knows(hub, leaf);
                }
                if self.is_user(leaf) {
                    leaf_users.push(leaf);
                    for _ in 0..rng.usize(..=2) {
                        let own = self.add(Kind::Contact);
                        self.knows(leaf, own);
                    }
                }
            }
        }
        for _ in 0..hubs {
            if let (Some(&a), Some(&b)) = (rng.choice(&leaf_users), rng.choice(&leaf_users)) {
                self.link(rng, a, b);
            }
        }
    }

    /// A Watts–Strogatz small world: `size` users on a ring, each linked to the
    /// `neighbours / 2` next on each side, each link moved to a random user with
    /// the chance `rewiring`; then `outsiders` contacts known by one or two users.
    fn add_small_world(
        &mut self,
        rng: &mut fastrand::Rng,
        size: usize,
        neighbours: usize,
        rewiring: f64,
        outsiders: usize,
    ) {
        let users: Vec<usize> = (0..size).map(|_| self.add_user(rng, 0.75)).collect();
        let mut links: Vec<(usize, usize)> = Vec::new();
        for index in 0..size {
            for step in 1..=neighbours / 2 {
                let mut other = (index + step) % size;
                if rng.f64() < rewiring {
                    other = rng.usize(..size);
                }
                let link = (index.min(other), index.max(other));
                if other != index && !links.contains(&link) {
                    links.push(link);
                }
            }
        }
        for (a, b) in links {
            self.link(rng, users[a], users[b]);
        }
        for _ in 0..outsiders {
            let outsider = self.add(Kind::Contact);
            for _ in 0..rng.usize(1..=2) {
                let owner = users[rng.usize(..size)];
                self.knows(owner, outsider);
            }
        }
    }

    /// Builds the network through the projection: each user registered with a
    /// profile, then each owner's entries as one batch. Returns each user's id.
    async fn build<S: GraphStore>(&self, graph: &Graph<S>) -> HashMap<usize, Uuid> {
        let mut user_ids = HashMap::new();
        for (person, kind) in self.kinds.iter().enumerate() {
            if *kind != Kind::Contact {
                let user_id = graph
                    .user(
                        &self.email(person),
                        &format!("N{person}"),
                        *kind == Kind::DiscoverableUser,
                    )
                    .await;
                user_ids.insert(person, user_id);
            }
        }
        let mut books: HashMap<usize, Vec<usize>> = HashMap::new();
        for &(owner, person) in &self.entries {
            books.entry(owner).or_default().push(person);
        }
        for (owner, persons) in books {
            let contacts = persons
                .into_iter()
                .map(|person| contact(&format!("n{person}"), &self.email(person)))
                .collect();
            graph.import(user_ids[&owner], contacts).await;
        }
        user_ids
    }
}

/// The Python to run networkx with.
async fn python_with_networkx() -> String {
    six_testkit::python_with(
        &["networkx"],
        "services/graph/tests/networkx/requirements.txt",
    )
    .await
}

/// Runs `tests/networkx/shortest_paths.py` on `problem`; returns its lengths.
async fn networkx_lengths(python: &str, problem: &serde_json::Value) -> Vec<Option<usize>> {
    let script = six_testkit::crate_dir().join("tests/networkx/shortest_paths.py");
    let mut child = tokio::process::Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the script runs");
    let mut stdin = child.stdin.take().expect("a piped stdin");
    stdin
        .write_all(&serde_json::to_vec(problem).unwrap())
        .await
        .unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "shortest_paths.py failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("shortest_paths.py prints a list of lengths")
}

/// Asks every chosen viewer's path to every other person of `network`, and checks
/// each answer against networkx's; panics listing every mismatch.
async fn check_against_networkx<S: GraphStore>(graph: &Graph<S>, network: Network) {
    let python = python_with_networkx().await;
    let user_ids = network.build(graph).await;
    let mut persons: HashMap<Uuid, usize> = HashMap::new();
    for person in 0..network.kinds.len() {
        if let Some(person_id) = graph.person(&email(&network.email(person))).await {
            persons.insert(person_id, person);
        }
    }
    assert_eq!(
        persons.len(),
        network.kinds.len(),
        "one graph person per generated person"
    );
    let mut viewers: Vec<usize> = user_ids.keys().copied().collect();
    viewers.sort_unstable();
    fastrand::Rng::with_seed(network.seed).shuffle(&mut viewers);
    viewers.truncate(VIEWERS);
    let queries: Vec<(usize, usize)> = viewers
        .iter()
        .flat_map(|&viewer| {
            (0..network.kinds.len())
                .filter(move |&target| target != viewer)
                .map(move |target| (viewer, target))
        })
        .collect();
    let discoverable: Vec<usize> = (0..network.kinds.len())
        .filter(|&person| network.discoverable(person))
        .collect();
    let lengths = networkx_lengths(
        &python,
        &json!({
            "discoverable": discoverable,
            "entries": network.entries,
            "queries": queries,
        }),
    )
    .await;
    assert_eq!(lengths.len(), queries.len());

    let mut mismatches = Vec::new();
    let mut connected = 0;
    for (&(viewer, target), length) in queries.iter().zip(lengths) {
        let expected = length.filter(|&hops| hops <= usize::from(MAX_HOPS));
        let user_id = user_ids[&viewer];
        let question = format!(
            "{} n{viewer} ({:?}) to n{target} ({:?})",
            network.shape, network.kinds[viewer], network.kinds[target]
        );
        let answer = graph
            .path(user_id, &email(&network.email(target)), MAX_HOPS)
            .await;
        let shown = match &answer {
            PathAnswer::Connected { chain } => Some(chain),
            PathAnswer::NotConnected => None,
        };
        // The generated persons along the chain (`usize::MAX` for one it lacks).
        let chain: Option<Vec<usize>> = shown.map(|chain| {
            chain
                .iter()
                .map(|shown| persons.get(&shown.person_id).copied().unwrap_or(usize::MAX))
                .collect()
        });
        let hops = chain.as_ref().map(|chain| chain.len() - 1);
        if hops != expected {
            mismatches.push(format!(
                "{question}: networkx {length:?} hops (max {MAX_HOPS}), service {chain:?}"
            ));
            continue;
        }
        let (Some(chain), Some(shown)) = (chain, shown) else {
            continue;
        };
        connected += 1;
        if let Some(problem) = invalid_step(&network, viewer, target, &chain) {
            mismatches.push(format!("{question}: chain {chain:?}: {problem}"));
        }
        let ends = (shown[0].relation, shown[shown.len() - 1].relation);
        if ends != (Relation::Me, Relation::Target) {
            mismatches.push(format!("{question}: relations at the ends {ends:?}"));
        }
        let hops = chain.len() - 1;
        if hops >= 2 {
            let shorter = graph
                .path(user_id, &email(&network.email(target)), (hops - 1) as u8)
                .await;
            if shorter != PathAnswer::NotConnected {
                mismatches.push(format!(
                    "{question}: connected with max_hops {} although the shortest path has {hops}",
                    hops - 1
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} answers disagree with networkx (seed {:#x}):\n  {}",
        mismatches.len(),
        queries.len(),
        network.seed,
        mismatches.join("\n  ")
    );
    assert!(connected > 0, "the network connects someone");
}

/// Why `chain` is not a path the viewer may take to the target, if it is not.
fn invalid_step(
    network: &Network,
    viewer: usize,
    target: usize,
    chain: &[usize],
) -> Option<String> {
    if chain.first() != Some(&viewer) || chain.last() != Some(&target) {
        return Some("does not run from the viewer to the target".to_owned());
    }
    if chain.contains(&usize::MAX) {
        return Some("shows a person the network does not have".to_owned());
    }
    let mut seen = chain.to_vec();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != chain.len() {
        return Some("visits a person twice".to_owned());
    }
    if let Some(step) = chain
        .windows(2)
        .find(|step| !network.crossable(viewer, step[0], step[1]))
    {
        return Some(format!(
            "n{} - n{} is not an edge the viewer may cross",
            step[0], step[1]
        ));
    }
    chain[1..chain.len() - 1]
        .iter()
        .find(|&&person| !network.passable(viewer, person))
        .map(|person| format!("walks through n{person}, whom the viewer may not see"))
}

/// Chains of users longer than [`MAX_HOPS`]: one of discoverable users only, one
/// with private users too.
pub async fn paths_agree_with_networkx_on_chains<S: GraphStore>(graph: &Graph<S>) {
    let seed = 0xc4a1;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut network = Network::new("chains", seed);
    network.add_chain(&mut rng, 12, 1.0);
    network.add_chain(&mut rng, 12, 0.7);
    check_against_networkx(graph, network).await;
}

/// A star of stars: a centre, hubs, leaves, leaves' own contacts.
pub async fn paths_agree_with_networkx_on_stars<S: GraphStore>(graph: &Graph<S>) {
    let seed = 0x57a5;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut network = Network::new("stars", seed);
    network.add_stars(&mut rng, 4, 10);
    check_against_networkx(graph, network).await;
}

/// A small world: a ring of users with some links rewired, plus outsiders.
pub async fn paths_agree_with_networkx_on_small_worlds<S: GraphStore>(graph: &Graph<S>) {
    let seed = 0x5a11;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut network = Network::new("small worlds", seed);
    network.add_small_world(&mut rng, 50, 4, 0.15, 15);
    check_against_networkx(graph, network).await;
}

/// A chain, a star, a small world and lone users, with no edge between them.
pub async fn paths_agree_with_networkx_on_disconnected_parts<S: GraphStore>(graph: &Graph<S>) {
    let seed = 0xd15c;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut network = Network::new("disconnected parts", seed);
    network.add_chain(&mut rng, 7, 0.85);
    network.add_stars(&mut rng, 2, 5);
    network.add_small_world(&mut rng, 16, 4, 0.2, 5);
    for _ in 0..3 {
        network.add_user(&mut rng, 0.5);
    }
    check_against_networkx(graph, network).await;
}
