//! Redelivered and reordered events converge to the same graph: a scenario of
//! registrations, profile updates, contact batches, deletions and an erasure is
//! applied in order, then in shuffled orders with some events delivered twice, and
//! every answer (paths, mutuals, suggestions, statistics, ego network) must be the
//! one the in-order application gives.
//!
//! Each application of a scenario is a replica with its own users and addresses
//! (`u3@r2.graph.test`), so replicas share the case's graph without touching each
//! other. Person ids depend on the order persons were created in, so answers name
//! persons by the scenario keys that resolve to them (`c3.email+c3.phone`), and a
//! path is compared by its length and its target, not by which of several equally
//! short chains the tie-break picked.
//!
//! In generated scenarios an entry carries the keys of one person (an e-mail, a
//! phone or both, so discoverable owners' entries join persons), and any entry may
//! be deleted. The three cases at the end are orders a first projection, which
//! merged persons as entries came and never undid a merge, did not converge on: a
//! joining entry deleted, or its owner erased, before or after its batch; and an
//! entry naming two users before or after their registrations.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use graph::{
    identity::IdentityKey,
    network::{MAX_HOPS, PathAnswer, ShownPerson},
    store::{GraphStore, Target},
};
use six_events::{
    api::ProfileUpdated,
    auth::UserRegistered,
    importer::{ContactDeleted, ContactsImported, ImportedContact},
};
use uuid::Uuid;

use super::{Graph, LIMITS};

/// Seeds of the generated scenarios.
const SEEDS: [u64; 3] = [0x5eed_0001, 0x5eed_0002, 0x5eed_0003];
/// Shuffled deliveries of each scenario, besides the in-order one.
const SHUFFLES: usize = 4;
/// Chance that an event is delivered a second time.
const REDELIVERY_CHANCE: f64 = 0.3;
const USERS: usize = 6;
/// Persons who are only someone's contact, never users.
const OUTSIDERS: usize = 8;

/// Which keys a contact entry of a person carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keys {
    Email,
    Phone,
    /// The person's e-mail and phone.
    Both,
    /// The person's e-mail, then another person's (never generated).
    AlsoEmailOf(usize),
}

/// One contact entry of a scenario; `id` orders entries as their contact ids do.
#[derive(Debug, Clone)]
struct Entry {
    id: u64,
    person: usize,
    name: String,
    keys: Keys,
}

/// One event of a scenario, with persons and users as indices: persons
/// `0..users` are the users, the others only contacts.
#[derive(Debug, Clone)]
enum Step {
    Register {
        user: usize,
    },
    Profile {
        user: usize,
        /// Seconds after the scenario's start: orders the user's updates.
        version: i64,
        name: String,
        discoverable: bool,
    },
    Batch {
        owner: usize,
        import: usize,
        seq: u32,
        entries: Vec<Entry>,
    },
    Delete {
        owner: usize,
        import: usize,
        entry: u64,
    },
    Erase {
        user: usize,
    },
}

/// Events in the order they happened, over `users` users and `persons` persons.
#[derive(Debug, Clone)]
struct Scenario {
    users: usize,
    persons: usize,
    steps: Vec<Step>,
}

fn label(person: usize, users: usize) -> String {
    if person < users {
        format!("u{person}")
    } else {
        format!("c{}", person - users)
    }
}

impl Scenario {
    /// A random scenario within the bounds the module documents.
    fn generate(seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let persons = USERS + OUTSIDERS;
        let erased = rng.usize(..USERS);
        let mut steps: Vec<Step> = (0..USERS).map(|user| Step::Register { user }).collect();
        let mut version = 0;
        for user in 0..USERS {
            for revision in 0..rng.usize(1..=3) {
                version += 1;
                steps.push(Step::Profile {
                    user,
                    version,
                    name: format!("U{user} v{revision}"),
                    discoverable: rng.f64() < 0.7,
                });
            }
        }
        // Profile updates happen in `version` order, users interleaved.
        rng.shuffle(&mut steps[USERS..]);
        steps[USERS..].sort_by_key(|step| match step {
            Step::Profile { version, .. } => *version,
            _ => unreachable!("only profiles after the registrations"),
        });

        let mut entry_id = 0;
        let mut deletable: Vec<(usize, usize, u64)> = Vec::new();
        let mut batches = Vec::new();
        for owner in 0..USERS {
            for import in 0..rng.usize(1..=2) {
                for seq in 0..rng.usize(1..=2) as u32 {
                    let mut entries = Vec::new();
                    for _ in 0..rng.usize(1..=4) {
                        entry_id += 1;
                        let person = rng.usize(..persons);
                        let keys = match rng.usize(..10) {
                            0..=5 => Keys::Email,
                            6 => Keys::Phone,
                            _ => Keys::Both,
                        };
                        if rng.f64() < 0.25 {
                            deletable.push((owner, import, entry_id));
                        }
                        entries.push(Entry {
                            id: entry_id,
                            person,
                            name: format!("{} by u{owner}", label(person, USERS)),
                            keys,
                        });
                    }
                    batches.push(Step::Batch {
                        owner,
                        import,
                        seq,
                        entries,
                    });
                }
            }
        }
        steps.extend(batches);
        steps.extend(
            deletable
                .into_iter()
                .map(|(owner, import, entry)| Step::Delete {
                    owner,
                    import,
                    entry,
                }),
        );
        steps.push(Step::Erase { user: erased });
        Self {
            users: USERS,
            persons,
            steps,
        }
    }

    /// The steps in a random order, some of them twice.
    fn shuffled(&self, rng: &mut fastrand::Rng) -> Vec<Step> {
        let mut deliveries = self.steps.clone();
        for step in &self.steps {
            if rng.f64() < REDELIVERY_CHANCE {
                deliveries.push(step.clone());
            }
        }
        rng.shuffle(&mut deliveries);
        deliveries
    }
}

/// One application of a scenario: its own user ids, import ids and addresses.
struct Replica {
    number: u32,
    users: usize,
    persons: usize,
    user_ids: Vec<Uuid>,
    start: DateTime<Utc>,
}

impl Replica {
    fn new(number: u32, scenario: &Scenario) -> Self {
        Self {
            number,
            users: scenario.users,
            persons: scenario.persons,
            user_ids: (0..scenario.users).map(|_| Uuid::now_v7()).collect(),
            start: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
        }
    }

    fn email(&self, person: usize) -> String {
        format!("{}@r{}.graph.test", label(person, self.users), self.number)
    }

    fn phone(&self, person: usize) -> String {
        format!("+4470{:04}{:04}", self.number, person)
    }

    /// Ids derived from the replica and the scenario's numbering, so that contact
    /// ids sort the same way in every replica (a viewer's name for a person is the
    /// one of their first entry by contact id).
    fn id(&self, kind: u8, value: u64) -> Uuid {
        Uuid::from_u128(
            (u128::from(self.number) << 72) | (u128::from(kind) << 64) | u128::from(value),
        )
    }

    fn import_id(&self, owner: usize, import: usize) -> Uuid {
        self.id(1, (owner as u64) << 8 | import as u64)
    }

    fn contact(&self, entry: &Entry) -> ImportedContact {
        let (emails, phones) = match entry.keys {
            Keys::Email => (vec![self.email(entry.person)], Vec::new()),
            Keys::Phone => (Vec::new(), vec![self.phone(entry.person)]),
            Keys::Both => (
                vec![self.email(entry.person)],
                vec![self.phone(entry.person)],
            ),
            Keys::AlsoEmailOf(other) => (
                vec![self.email(entry.person), self.email(other)],
                Vec::new(),
            ),
        };
        ImportedContact {
            contact_id: self.id(2, entry.id),
            full_name: entry.name.clone(),
            first_name: None,
            last_name: None,
            emails,
            phones,
            company: None,
            title: None,
            location: None,
            profile_url: None,
            connected_on: None,
        }
    }

    async fn apply<S: GraphStore>(&self, graph: &Graph<S>, step: &Step) {
        match step {
            Step::Register { user } => {
                let event = UserRegistered {
                    user_id: self.user_ids[*user],
                    email: self.email(*user),
                    display_name: format!("U{user} at signup"),
                    registered_at: self.start,
                };
                graph.apply_registration(&event).await;
            }
            Step::Profile {
                user,
                version,
                name,
                discoverable,
            } => {
                let event = ProfileUpdated {
                    user_id: self.user_ids[*user],
                    display_name: name.clone(),
                    headline: None,
                    discoverable: *discoverable,
                    updated_at: self.start + chrono::Duration::seconds(*version),
                };
                graph.apply_profile(&event).await;
            }
            Step::Batch {
                owner,
                import,
                seq,
                entries,
            } => {
                let batch = ContactsImported {
                    import_id: self.import_id(*owner, *import),
                    owner_id: self.user_ids[*owner],
                    batch_seq: *seq,
                    contacts: entries.iter().map(|entry| self.contact(entry)).collect(),
                };
                graph.apply(&batch).await;
            }
            Step::Delete {
                owner,
                import,
                entry,
            } => {
                let event = ContactDeleted {
                    import_id: self.import_id(*owner, *import),
                    owner_id: self.user_ids[*owner],
                    contact_id: self.id(2, *entry),
                    deleted_at: self.start + chrono::Duration::days(1),
                };
                graph.apply_deletion(&event).await;
            }
            Step::Erase { user } => graph.erase(self.user_ids[*user]).await,
        }
    }

    /// Every target a question may name, with its scenario label: each person's
    /// e-mail and phone keys, and each user's id.
    fn targets(&self) -> Vec<(String, Target)> {
        let mut targets = Vec::new();
        for person in 0..self.persons {
            let name = label(person, self.users);
            let email = IdentityKey::email(&self.email(person)).unwrap();
            let phone = IdentityKey::phone(&self.phone(person)).unwrap();
            targets.push((format!("{name}.email"), Target::Key(email)));
            targets.push((format!("{name}.phone"), Target::Key(phone)));
            if person < self.users {
                targets.push((format!("{name}.user"), Target::User(self.user_ids[person])));
            }
        }
        targets
    }

    /// Every answer of every user still known to the graph, keyed by question
    /// (`u2 path c3.email`), persons named by their labels.
    async fn answers<S: GraphStore>(&self, graph: &Graph<S>) -> BTreeMap<String, String> {
        let targets = self.targets();
        let mut labels: BTreeMap<Uuid, Vec<String>> = BTreeMap::new();
        for (name, target) in &targets {
            if let Some(person) = graph.person(target).await {
                labels.entry(person).or_default().push(name.clone());
            }
        }
        let users: BTreeMap<Uuid, String> = self
            .user_ids
            .iter()
            .enumerate()
            .map(|(user, id)| (*id, label(user, self.users)))
            .collect();
        let naming = Naming { labels, users };

        let mut answers = BTreeMap::new();
        for (user, user_id) in self.user_ids.iter().enumerate() {
            let me = label(user, self.users);
            let Some(viewer) = graph.store.viewer(*user_id).await.unwrap() else {
                answers.insert(format!("{me} viewer"), "none".to_owned());
                continue;
            };
            let stats = graph::network::stats(&graph.store, &viewer, LIMITS)
                .await
                .unwrap();
            answers.insert(format!("{me} stats"), format!("{stats:?}"));
            let mut suggestions: Vec<String> =
                graph::network::suggestions(&graph.store, &viewer, 100, LIMITS)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|s| format!("{} x{}", naming.shown(&s.person), s.mutual_connections))
                    .collect();
            suggestions.sort();
            answers.insert(format!("{me} suggestions"), suggestions.join(", "));
            let ego = graph::network::ego(&graph.store, &viewer, LIMITS)
                .await
                .unwrap();
            let mut nodes: Vec<String> = ego
                .nodes
                .iter()
                .map(|node| format!("{} depth {}", naming.shown(&node.person), node.depth))
                .collect();
            nodes.sort();
            let mut edges: Vec<String> = ego
                .edges
                .iter()
                .map(|(a, b)| {
                    let mut pair = [naming.person(*a), naming.person(*b)];
                    pair.sort();
                    pair.join(" - ")
                })
                .collect();
            edges.sort();
            answers.insert(
                format!("{me} ego"),
                format!(
                    "nodes [{}] edges [{}] available {} truncated {}",
                    nodes.join(", "),
                    edges.join(", "),
                    ego.nodes_available,
                    ego.truncated
                ),
            );
            for (name, target) in &targets {
                let path = graph::network::path(&graph.store, &viewer, target, MAX_HOPS, LIMITS)
                    .await
                    .unwrap();
                // The target only, and without its name: a target known only from
                // discoverable users' entries is named by the entry of the chain's
                // last step, and which of several equally short chains is returned
                // depends on person ids, so on the order persons were created in.
                let path = match path {
                    PathAnswer::Connected { chain } => {
                        let target = chain.last().unwrap();
                        format!(
                            "{} hops to {} {:?}",
                            chain.len() - 1,
                            naming.person(target.person_id),
                            target.relation
                        )
                    }
                    PathAnswer::NotConnected => "not connected".to_owned(),
                };
                answers.insert(format!("{me} path {name}"), path);
                let mut mutuals: Vec<String> =
                    graph::network::mutuals(&graph.store, &viewer, target, LIMITS)
                        .await
                        .unwrap()
                        .iter()
                        .map(|person| naming.shown(person))
                        .collect();
                mutuals.sort();
                answers.insert(format!("{me} mutuals {name}"), mutuals.join(", "));
            }
        }
        answers
    }
}

/// Scenario labels of a replica's persons and users.
struct Naming {
    labels: BTreeMap<Uuid, Vec<String>>,
    users: BTreeMap<Uuid, String>,
}

impl Naming {
    fn person(&self, person: Uuid) -> String {
        self.labels
            .get(&person)
            .map_or_else(|| "(no key)".to_owned(), |labels| labels.join("+"))
    }

    fn shown(&self, shown: &ShownPerson) -> String {
        let user = shown.user_id.map(|id| {
            self.users
                .get(&id)
                .cloned()
                .unwrap_or_else(|| id.to_string())
        });
        format!(
            "{} {:?} user {:?} {:?}",
            self.person(shown.person_id),
            shown.name,
            user,
            shown.relation
        )
    }
}

/// Applies `deliveries` of `scenario` as replica `number` and returns the answers.
async fn apply_and_ask<S: GraphStore>(
    graph: &Graph<S>,
    number: u32,
    scenario: &Scenario,
    deliveries: &[Step],
) -> BTreeMap<String, String> {
    let replica = Replica::new(number, scenario);
    for step in deliveries {
        replica.apply(graph, step).await;
    }
    replica.answers(graph).await
}

/// The questions whose answers differ, each with both answers, for a failure
/// message.
fn differences(expected: &BTreeMap<String, String>, found: &BTreeMap<String, String>) -> String {
    let mut lines = Vec::new();
    for (question, answer) in expected {
        let other = found.get(question).map_or("(missing)", String::as_str);
        if other != answer {
            lines.push(format!(
                "  {question}:\n    in order: {answer}\n    shuffled: {other}"
            ));
        }
    }
    let shown = lines.len().min(12);
    format!(
        "{} answers differ{}:\n{}",
        lines.len(),
        if shown < lines.len() {
            format!(" (first {shown})")
        } else {
            String::new()
        },
        lines[..shown].join("\n")
    )
}

fn describe(deliveries: &[Step]) -> String {
    deliveries
        .iter()
        .map(|step| match step {
            Step::Register { user } => format!("register u{user}"),
            Step::Profile {
                user,
                version,
                discoverable,
                ..
            } => format!("profile u{user} v{version} discoverable={discoverable}"),
            Step::Batch {
                owner,
                import,
                seq,
                entries,
            } => format!(
                "batch u{owner} import {import} seq {seq} [{}]",
                entries
                    .iter()
                    .map(|e| format!("#{} {:?} {:?}", e.id, e.name, e.keys))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Step::Delete { owner, entry, .. } => format!("delete u{owner} #{entry}"),
            Step::Erase { user } => format!("erase u{user}"),
        })
        .collect::<Vec<_>>()
        .join("\n  ")
}

/// Applies `scenario` in order and in each of `orders`, on replicas of one graph,
/// and asserts every answer is the in-order one.
async fn assert_converges<S: GraphStore>(
    graph: &Graph<S>,
    first_replica: u32,
    scenario: &Scenario,
    orders: &[Vec<Step>],
    context: &str,
) {
    let expected = apply_and_ask(graph, first_replica, scenario, &scenario.steps).await;
    for (index, deliveries) in orders.iter().enumerate() {
        let found = apply_and_ask(
            graph,
            first_replica + 1 + index as u32,
            scenario,
            deliveries,
        )
        .await;
        assert!(
            found == expected,
            "{context}, order {index}: {}\nin order:\n  {}\nshuffled:\n  {}",
            differences(&expected, &found),
            describe(&scenario.steps),
            describe(deliveries)
        );
    }
}

/// Seeded scenarios, each applied in order and in shuffled orders with some
/// events twice: the same answers every time.
pub async fn redelivered_and_reordered_events_converge<S: GraphStore>(graph: &Graph<S>) {
    let mut replica = 0;
    for seed in SEEDS {
        let scenario = Scenario::generate(seed);
        let mut rng = fastrand::Rng::with_seed(seed);
        let orders: Vec<Vec<Step>> = (0..SHUFFLES).map(|_| scenario.shuffled(&mut rng)).collect();
        assert_converges(
            graph,
            replica,
            &scenario,
            &orders,
            &format!("seed {seed:#x}"),
        )
        .await;
        replica += 1 + SHUFFLES as u32;
    }
}

/// A batch of one entry of `person` with `keys`.
fn batch(owner: usize, import: usize, id: u64, person: usize, keys: Keys) -> Step {
    Step::Batch {
        owner,
        import,
        seq: 0,
        entries: vec![Entry {
            id,
            person,
            name: format!("entry {id}"),
            keys,
        }],
    }
}

fn discoverable(user: usize, version: i64) -> Step {
    Step::Profile {
        user,
        version,
        name: format!("U{user}"),
        discoverable: true,
    }
}

/// Users u0 (the viewer, who knows u1 by e-mail and c0 by phone) and u1
/// (discoverable, who knows c0 by e-mail); u2 (discoverable) has an entry of c0
/// with both keys, which makes one person of c0's two; `last` comes after.
fn merge_scenario(last: Step) -> Scenario {
    Scenario {
        users: 3,
        persons: 4,
        steps: vec![
            Step::Register { user: 0 },
            Step::Register { user: 1 },
            Step::Register { user: 2 },
            discoverable(1, 1),
            discoverable(2, 2),
            batch(0, 0, 1, 1, Keys::Email),
            batch(0, 1, 2, 3, Keys::Phone),
            batch(1, 0, 3, 3, Keys::Email),
            batch(2, 0, 4, 3, Keys::Both),
            last,
        ],
    }
}

/// The steps in the same order, but `moved` (an index) first.
fn moved_first(steps: &[Step], moved: usize) -> Vec<Step> {
    let mut order = vec![steps[moved].clone()];
    order.extend(
        steps
            .iter()
            .enumerate()
            .filter(|(index, _)| *index != moved)
            .map(|(_, step)| step.clone()),
    );
    order
}

/// u2 deletes the entry that joined c0's e-mail and phone persons: before or after
/// its batch, c0 is two persons again, and u0 reaches c0 by phone in one hop.
pub async fn deleting_the_entry_that_merged_two_persons_converges<S: GraphStore>(graph: &Graph<S>) {
    let scenario = merge_scenario(Step::Delete {
        owner: 2,
        import: 0,
        entry: 4,
    });
    let deletion_first = moved_first(&scenario.steps, scenario.steps.len() - 1);
    assert_converges(graph, 0, &scenario, &[deletion_first], "deletion first").await;
}

/// u2, whose entry joined c0's e-mail and phone persons, is erased: before or after
/// the batch, nothing of u2's address book is left in others' answers.
pub async fn erasing_the_owner_of_the_entry_that_merged_two_persons_converges<S: GraphStore>(
    graph: &Graph<S>,
) {
    let scenario = merge_scenario(Step::Erase { user: 2 });
    let erasure_first = moved_first(&scenario.steps, scenario.steps.len() - 1);
    assert_converges(graph, 0, &scenario, &[erasure_first], "erasure first").await;
}

/// u0 (discoverable) has an entry with the addresses of two users, u1 and u2:
/// before or after their registrations, the entry is on u1 (its first key), the
/// two users stay apart and each keeps their address.
pub async fn an_entry_naming_two_users_converges_with_their_registrations<S: GraphStore>(
    graph: &Graph<S>,
) {
    let scenario = Scenario {
        users: 3,
        persons: 3,
        steps: vec![
            Step::Register { user: 0 },
            Step::Register { user: 1 },
            Step::Register { user: 2 },
            discoverable(1, 1),
            discoverable(2, 2),
            discoverable(0, 3),
            batch(0, 0, 1, 1, Keys::AlsoEmailOf(2)),
        ],
    };
    let steps = &scenario.steps;
    let entry_then_u2_then_u1 = [0, 6, 2, 1, 3, 4, 5]
        .into_iter()
        .map(|index| steps[index].clone())
        .collect();
    assert_converges(
        graph,
        0,
        &scenario,
        &[entry_then_u2_then_u1],
        "the entry before both registrations",
    )
    .await;
}
