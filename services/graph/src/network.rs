//! The questions users ask of the graph — path, mutual connections, suggestions,
//! statistics, ego network — built on a [`GraphStore`]'s reads, with the privacy
//! rule applied here, in one place:
//!
//! - an edge may be crossed when its owner is the viewer or a discoverable user;
//! - a person may be shown (and walked through) when they are the viewer, one of the
//!   viewer's contacts, a discoverable user, or the target of the question.
//!
//! The store's shared reads never return the edges of users who are not
//! discoverable, and the viewer's own edges come from the viewer's entries, so
//! nothing of a private network is even read while answering someone else.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use uuid::Uuid;

use crate::store::{Adjacent, Contacts, GraphStore, IdMap, StoreError, Target, Viewer};

/// Most hops a path may have (the product's "six degrees").
pub const MAX_HOPS: u8 = 6;

/// Bounds on the work one question may cause.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Persons one question may reach before it is refused as too broad.
    pub max_visited: usize,
    /// Persons an ego network shows at most (the rest are counted, not listed).
    pub ego_max_nodes: usize,
}

/// Why a question got no answer.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The question reached more persons than [`Limits::max_visited`].
    #[error("the search reached more than {limit} people")]
    TooBroad { limit: usize },
}

/// How a shown person relates to the viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Me,
    Contact,
    DiscoverableUser,
    Target,
}

/// A person as a question's answer may show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShownPerson {
    pub person_id: Uuid,
    pub name: String,
    /// The person's account, shown for the viewer and discoverable users only.
    pub user_id: Option<Uuid>,
    pub relation: Relation,
}

/// The answer to "how am I connected to this person?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathAnswer {
    /// The shortest chain, from the viewer to the target; its degree is
    /// `chain.len() - 1`.
    Connected { chain: Vec<ShownPerson> },
    /// No chain of at most the asked number of hops.
    NotConnected,
}

/// A person two people both know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    #[serde(flatten)]
    pub person: ShownPerson,
    pub mutual_connections: usize,
}

/// How many people the viewer reaches at each degree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NetworkStats {
    pub degree_1: usize,
    pub degree_2: usize,
    pub degree_3: usize,
}

/// The viewer's network to depth 2, for drawing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EgoNetwork {
    pub nodes: Vec<EgoNode>,
    /// Undirected pairs of shown persons, smaller id first.
    pub edges: Vec<(Uuid, Uuid)>,
    /// The cap on nodes this answer was built with.
    pub node_cap: usize,
    /// Persons at depth 1 and 2 that may be shown, before the cap.
    pub nodes_available: usize,
    pub truncated: bool,
}

/// One node of an [`EgoNetwork`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EgoNode {
    #[serde(flatten)]
    pub person: ShownPerson,
    pub depth: u8,
}

/// A frontier person and whether they are a discoverable user (whose own entries
/// may then be crossed).
type Frontier = Vec<(Uuid, bool)>;

/// One viewer's walk over the graph, counting the persons it reaches.
struct Walk<'a, S> {
    store: &'a S,
    viewer: &'a Viewer,
    limits: Limits,
    visited: usize,
}

impl<'a, S: GraphStore> Walk<'a, S> {
    fn new(store: &'a S, viewer: &'a Viewer, limits: Limits) -> Self {
        Self {
            store,
            viewer,
            limits,
            visited: 0,
        }
    }

    /// Whether `person` may be walked through (and shown).
    fn passable(&self, person: Uuid, discoverable: bool) -> bool {
        discoverable
            || person == self.viewer.person_id
            || self.viewer.contacts.contains_key(&person)
    }

    /// The edges the viewer may cross next to `frontier` (of discoverable owners,
    /// those to `contacts`), in no particular order; an edge read from both of its
    /// ends is there twice.
    async fn expand(
        &mut self,
        frontier: &[(Uuid, bool)],
        contacts: Contacts,
    ) -> Result<Vec<Adjacent>, NetworkError> {
        let persons: Vec<Uuid> = frontier.iter().map(|(person, _)| *person).collect();
        let owners = discoverable_owners(frontier);
        let mut edges = self
            .store
            .shared_neighbours(&persons, &owners, contacts)
            .await?;
        let me = self.viewer.person_id;
        for &person in &persons {
            if person == me {
                edges.extend(
                    self.viewer
                        .contacts
                        .iter()
                        .map(|(contact, facts)| Adjacent {
                            from: me,
                            to: *contact,
                            to_discoverable: facts.discoverable,
                        }),
                );
            } else if self.viewer.contacts.contains_key(&person) {
                edges.push(Adjacent {
                    from: person,
                    to: me,
                    to_discoverable: false,
                });
            }
        }
        Ok(edges)
    }

    fn count(&mut self, reached: usize) -> Result<(), NetworkError> {
        self.visited += reached;
        if self.visited > self.limits.max_visited {
            return Err(NetworkError::TooBroad {
                limit: self.limits.max_visited,
            });
        }
        Ok(())
    }

    /// The persons one step from the viewer, with whether each is a discoverable user.
    async fn first_degree(&mut self) -> Result<HashMap<Uuid, bool>, NetworkError> {
        let me = self.viewer.person_id;
        let edges = self.expand(&[(me, false)], Contacts::All).await?;
        let reached: HashMap<Uuid, bool> = edges
            .into_iter()
            .filter(|edge| edge.to != me)
            .map(|edge| (edge.to, edge.to_discoverable))
            .collect();
        self.count(reached.len())?;
        Ok(reached)
    }

    /// The edges the viewer may cross next to the persons of `first` (one step
    /// from the viewer): where the second degree is found.
    async fn around(
        &mut self,
        first: &HashMap<Uuid, bool>,
        contacts: Contacts,
    ) -> Result<Vec<Adjacent>, NetworkError> {
        let frontier: Frontier = first
            .iter()
            .map(|(person, flag)| (*person, *flag))
            .collect();
        self.expand(&frontier, contacts).await
    }

    /// Whether `person` is a discoverable user (whose own entries may be crossed).
    async fn is_discoverable(&self, person: Uuid) -> Result<bool, NetworkError> {
        Ok(self
            .store
            .describe(&[person])
            .await?
            .get(&person)
            .is_some_and(|facts| facts.discoverable))
    }

    /// Shows `persons` with names the viewer may see; `target` is shown as such, and
    /// `named_by` gives, for a target known only from a discoverable user's entry,
    /// that user's person.
    async fn show(
        &self,
        persons: &[Uuid],
        target: Option<(Uuid, Option<Uuid>)>,
    ) -> Result<Vec<ShownPerson>, NetworkError> {
        let facts = self.store.describe(persons).await?;
        let mut shown = Vec::with_capacity(persons.len());
        for &person in persons {
            let fact = facts.get(&person);
            let display_name = fact.and_then(|fact| fact.display_name.clone());
            let discoverable = fact.is_some_and(|fact| fact.discoverable);
            let contact = self.viewer.contacts.get(&person);
            let is_target = target.is_some_and(|(target, _)| target == person);
            let relation = if person == self.viewer.person_id {
                Relation::Me
            } else if is_target {
                Relation::Target
            } else if contact.is_some() {
                Relation::Contact
            } else {
                Relation::DiscoverableUser
            };
            debug_assert!(
                relation != Relation::DiscoverableUser || discoverable,
                "only persons the viewer may see are shown"
            );
            let name = match relation {
                Relation::Contact => contact.map(|contact| contact.full_name.clone()),
                Relation::Me | Relation::DiscoverableUser => display_name,
                Relation::Target => contact
                    .map(|contact| contact.full_name.clone())
                    .or(display_name),
            };
            let name = match (name, target) {
                (Some(name), _) => name,
                (None, Some((_, Some(named_by)))) if is_target => self
                    .store
                    .entry_name(named_by, person)
                    .await?
                    .unwrap_or_default(),
                (None, _) => String::new(),
            };
            let user_id = fact
                .and_then(|fact| fact.user_id)
                .filter(|_| discoverable || relation == Relation::Me);
            shown.push(ShownPerson {
                person_id: person,
                name,
                user_id,
                relation,
            });
        }
        Ok(shown)
    }
}

/// The shortest chain from `viewer` to `target` of at most `max_hops` hops, by
/// breadth-first search from both ends, one batched read per level, always
/// widening the side that costs less to widen ([`widening_cost`]). Among chains of the same length the one through the
/// smallest person ids is returned.
pub async fn path<S: GraphStore>(
    store: &S,
    viewer: &Viewer,
    target: &Target,
    max_hops: u8,
    limits: Limits,
) -> Result<PathAnswer, NetworkError> {
    // A target the graph does not know is searched for like one it cannot reach
    // (the nil id names nobody), so the two cost the same reads: the answer's
    // timing does not tell whether anyone has the address in their contacts.
    let target = store.resolve(target).await?.unwrap_or_else(Uuid::nil);
    let mut walk = Walk::new(store, viewer, limits);
    let me = viewer.person_id;
    if target == me {
        let chain = walk.show(&[me], None).await?;
        return Ok(PathAnswer::Connected { chain });
    }
    let target_discoverable = walk.is_discoverable(target).await?;
    // The persons each side may step on from an owner's entry without their being
    // discoverable users: from my side only the target (my contacts are one step
    // from me already); from the target's, my contacts and me.
    let mut private_ends = [
        PrivateEnds::new(
            (!target_discoverable)
                .then_some(target)
                .into_iter()
                .collect(),
        ),
        PrivateEnds::new(
            viewer
                .contacts
                .iter()
                .filter(|(_, facts)| !facts.discoverable)
                .map(|(person, _)| *person)
                .chain([me])
                .collect(),
        ),
    ];

    // Each side: distance from its end, the step it came from, its frontier.
    let mut sides = [Side::new(me, false), Side::new(target, target_discoverable)];
    while sides[0].depth + sides[1].depth < max_hops {
        if sides[0].frontier.is_empty() || sides[1].frontier.is_empty() {
            break;
        }
        let (grow, other) =
            if widening_cost(&sides[0].frontier) <= widening_cost(&sides[1].frontier) {
                (0, 1)
            } else {
                (1, 0)
            };
        let frontier = &sides[grow].frontier;
        let mut edges = walk.expand(frontier, Contacts::OfDiscoverableUsers).await?;
        private_ends[grow]
            .add_owned(&walk, frontier, &mut edges)
            .await?;
        let far_end = sides[other].origin;
        // Each person this step reaches, from the smallest frontier person next to
        // them: ties break the same way on every backend.
        let mut reached: IdMap<(Uuid, bool)> = IdMap::default();
        for edge in edges {
            if sides[grow].distance.contains_key(&edge.to) {
                continue;
            }
            if edge.to != far_end && !walk.passable(edge.to, edge.to_discoverable) {
                continue;
            }
            reached
                .entry(edge.to)
                .and_modify(|(from, _)| *from = (*from).min(edge.from))
                .or_insert((edge.from, edge.to_discoverable));
        }
        let depth = sides[grow].depth + 1;
        let mut next: Frontier = Vec::with_capacity(reached.len());
        let mut meeting: Option<(u8, Uuid)> = None;
        for (person, (from, discoverable)) in reached {
            sides[grow].distance.insert(person, depth);
            sides[grow].parent.insert(person, from);
            next.push((person, discoverable));
            if let Some(&beyond) = sides[other].distance.get(&person) {
                let candidate = (depth + beyond, person);
                if meeting.is_none_or(|best| candidate < best) {
                    meeting = Some(candidate);
                }
            }
        }
        walk.count(next.len())?;
        if let Some((_, meet)) = meeting {
            let mut chain = sides[0].chain_to(meet);
            chain.reverse();
            chain.extend(sides[1].chain_to(meet).into_iter().skip(1));
            let named_by = chain.len().checked_sub(2).map(|index| chain[index]);
            let shown = walk.show(&chain, Some((target, named_by))).await?;
            return Ok(PathAnswer::Connected { chain: shown });
        }
        sides[grow].depth += 1;
        sides[grow].frontier = next;
    }
    Ok(PathAnswer::NotConnected)
}

/// The edges of discoverable owners to some persons a path may step on who are not
/// discoverable users (the viewer, the viewer's contacts, the target), by owner:
/// read once, the first time a side of a path widens a discoverable owner, so that
/// each step reads only the entries of discoverable users
/// ([`Contacts::OfDiscoverableUsers`]).
struct PrivateEnds {
    persons: Vec<Uuid>,
    by_owner: Option<IdMap<Vec<Uuid>>>,
}

impl PrivateEnds {
    fn new(persons: Vec<Uuid>) -> Self {
        Self {
            persons,
            by_owner: None,
        }
    }

    /// Adds to `edges` those from the discoverable owners of `frontier` to these
    /// persons.
    async fn add_owned<S: GraphStore>(
        &mut self,
        walk: &Walk<'_, S>,
        frontier: &[(Uuid, bool)],
        edges: &mut Vec<Adjacent>,
    ) -> Result<(), NetworkError> {
        let owners = discoverable_owners(frontier);
        if owners.is_empty() || self.persons.is_empty() {
            return Ok(());
        }
        let by_owner = match &mut self.by_owner {
            Some(by_owner) => by_owner,
            unread => {
                let named = walk
                    .store
                    .shared_neighbours(&self.persons, &[], Contacts::All)
                    .await?;
                let mut by_owner: IdMap<Vec<Uuid>> = IdMap::default();
                for edge in named {
                    by_owner.entry(edge.to).or_default().push(edge.from);
                }
                unread.insert(by_owner)
            }
        };
        for owner in owners {
            if let Some(persons) = by_owner.get(&owner) {
                edges.extend(persons.iter().map(|&person| Adjacent {
                    from: owner,
                    to: person,
                    to_discoverable: false,
                }));
            }
        }
        Ok(())
    }
}

/// How much more a discoverable user in a frontier costs to widen than a person:
/// the entries of discoverable users in their address book, as well as the
/// discoverable users who name them, against those who name a person (in the
/// benchmark's network about 32 + 32 index entries against 7, each read also
/// costing a descent of an index). 1, 3 and 10 measured the same within noise
/// when paths read only those entries; 10 was clearly better when they read
/// every entry.
const ADDRESS_BOOK_WEIGHT: usize = 3;

/// The persons of `frontier` who are discoverable users: the owners whose entries
/// a step reads.
fn discoverable_owners(frontier: &[(Uuid, bool)]) -> Vec<Uuid> {
    frontier
        .iter()
        .filter(|(_, discoverable)| *discoverable)
        .map(|(person, _)| *person)
        .collect()
}

/// What widening `frontier` costs, in units of about as many edges read as a
/// person has discoverable users naming them.
fn widening_cost(frontier: &[(Uuid, bool)]) -> usize {
    let owners = frontier
        .iter()
        .filter(|(_, discoverable)| *discoverable)
        .count();
    frontier.len() + ADDRESS_BOOK_WEIGHT * owners
}

/// One end of a bidirectional search.
struct Side {
    origin: Uuid,
    depth: u8,
    distance: IdMap<u8>,
    parent: IdMap<Uuid>,
    frontier: Frontier,
}

impl Side {
    fn new(origin: Uuid, discoverable: bool) -> Self {
        Self {
            origin,
            depth: 0,
            distance: IdMap::from_iter([(origin, 0)]),
            parent: IdMap::default(),
            frontier: vec![(origin, discoverable)],
        }
    }

    /// `person`, then each step back to this side's origin.
    fn chain_to(&self, person: Uuid) -> Vec<Uuid> {
        let mut chain = vec![person];
        let mut current = person;
        while let Some(&previous) = self.parent.get(&current) {
            chain.push(previous);
            current = previous;
        }
        chain
    }
}

/// The persons both the viewer and `other` are connected to by an edge the viewer
/// may cross, sorted by person id.
pub async fn mutuals<S: GraphStore>(
    store: &S,
    viewer: &Viewer,
    other: &Target,
    limits: Limits,
) -> Result<Vec<ShownPerson>, NetworkError> {
    // As in `path`: an unknown person costs the same reads as a known one.
    let other = store.resolve(other).await?.unwrap_or_else(Uuid::nil);
    let mut walk = Walk::new(store, viewer, limits);
    let mine = walk.first_degree().await?;
    let other_discoverable = walk.is_discoverable(other).await?;
    let theirs = walk
        .expand(&[(other, other_discoverable)], Contacts::All)
        .await?;
    walk.count(theirs.len())?;
    let mut common: Vec<Uuid> = theirs
        .into_iter()
        .map(|edge| edge.to)
        .filter(|person| {
            *person != other && *person != viewer.person_id && mine.contains_key(person)
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    common.sort_unstable();
    walk.show(&common, None).await
}

/// Discoverable users two steps away who are not yet the viewer's contacts, the
/// most mutual connections first (then by person id), at most `limit`.
pub async fn suggestions<S: GraphStore>(
    store: &S,
    viewer: &Viewer,
    limit: usize,
    limits: Limits,
) -> Result<Vec<Suggestion>, NetworkError> {
    let mut walk = Walk::new(store, viewer, limits);
    let first = walk.first_degree().await?;
    // Only discoverable users are suggested.
    let edges = walk.around(&first, Contacts::OfDiscoverableUsers).await?;
    let mut mutual: HashMap<Uuid, HashSet<Uuid>> = HashMap::new();
    for edge in edges {
        let known = edge.to == viewer.person_id
            || first.contains_key(&edge.to)
            || viewer.contacts.contains_key(&edge.to);
        if edge.to_discoverable && !known {
            mutual.entry(edge.to).or_default().insert(edge.from);
        }
    }
    walk.count(mutual.len())?;
    let mut ranked: Vec<(Uuid, usize)> = mutual
        .into_iter()
        .map(|(person, via)| (person, via.len()))
        .collect();
    ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.truncate(limit);
    let persons: Vec<Uuid> = ranked.iter().map(|(person, _)| *person).collect();
    let shown = walk.show(&persons, None).await?;
    Ok(shown
        .into_iter()
        .zip(ranked)
        .map(|(person, (_, mutual_connections))| Suggestion {
            person,
            mutual_connections,
        })
        .collect())
}

/// How many persons the viewer reaches at degree 1, 2 and 3: for each, the persons
/// whose shortest path from the viewer has that many hops.
pub async fn stats<S: GraphStore>(
    store: &S,
    viewer: &Viewer,
    limits: Limits,
) -> Result<NetworkStats, NetworkError> {
    let mut walk = Walk::new(store, viewer, limits);
    let me = viewer.person_id;
    let mut seen: HashSet<Uuid> = HashSet::from([me]);
    let mut frontier: Frontier = vec![(me, false)];
    let mut counts = [0usize; 3];
    for count in &mut counts {
        let edges = walk.expand(&frontier, Contacts::All).await?;
        let mut next = Vec::new();
        for edge in edges {
            if seen.insert(edge.to) {
                *count += 1;
                if walk.passable(edge.to, edge.to_discoverable) {
                    next.push((edge.to, edge.to_discoverable));
                }
            }
        }
        walk.count(*count)?;
        frontier = next;
    }
    Ok(NetworkStats {
        degree_1: counts[0],
        degree_2: counts[1],
        degree_3: counts[2],
    })
}

/// The viewer, the persons one step away and the discoverable users two steps
/// away, with the edges the viewer may cross between them (those next to the
/// viewer or to a depth-1 person). At most [`Limits::ego_max_nodes`] nodes: depth 1
/// before depth 2, then the best connected first.
pub async fn ego<S: GraphStore>(
    store: &S,
    viewer: &Viewer,
    limits: Limits,
) -> Result<EgoNetwork, NetworkError> {
    let mut walk = Walk::new(store, viewer, limits);
    let me = viewer.person_id;
    let first = walk.first_degree().await?;
    let mut edges = walk.around(&first, Contacts::All).await?;
    edges.sort_unstable_by_key(|edge| (edge.to, edge.from));
    edges.dedup_by_key(|edge| (edge.to, edge.from));
    let mut second: HashMap<Uuid, usize> = HashMap::new();
    for edge in &edges {
        if edge.to != me && !first.contains_key(&edge.to) && edge.to_discoverable {
            *second.entry(edge.to).or_default() += 1;
        }
    }
    walk.count(second.len())?;

    let mut depth_one: Vec<Uuid> = first.keys().copied().collect();
    depth_one.sort_unstable();
    let mut depth_two: Vec<(Uuid, usize)> = second.into_iter().collect();
    depth_two.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let nodes_available = depth_one.len() + depth_two.len();
    let room = limits.ego_max_nodes.saturating_sub(1);
    let mut chosen: Vec<(Uuid, u8)> = vec![(me, 0)];
    chosen.extend(depth_one.into_iter().map(|person| (person, 1)).take(room));
    let left = limits.ego_max_nodes.saturating_sub(chosen.len());
    chosen.extend(
        depth_two
            .into_iter()
            .map(|(person, _)| (person, 2))
            .take(left),
    );
    let included: HashSet<Uuid> = chosen.iter().map(|(person, _)| *person).collect();

    let mut pairs: HashSet<(Uuid, Uuid)> = HashSet::new();
    let from_me = first.keys().map(|person| (me, *person));
    let around = edges.iter().map(|edge| (edge.from, edge.to));
    for (a, b) in from_me.chain(around) {
        if a != b && included.contains(&a) && included.contains(&b) {
            pairs.insert((a.min(b), a.max(b)));
        }
    }
    let mut edges: Vec<(Uuid, Uuid)> = pairs.into_iter().collect();
    edges.sort_unstable();

    let persons: Vec<Uuid> = chosen.iter().map(|(person, _)| *person).collect();
    let shown = walk.show(&persons, None).await?;
    let nodes = shown
        .into_iter()
        .zip(&chosen)
        .map(|(person, (_, depth))| EgoNode {
            person,
            depth: *depth,
        })
        .collect();
    Ok(EgoNetwork {
        nodes,
        edges,
        node_cap: limits.ego_max_nodes,
        nodes_available,
        truncated: nodes_available + 1 > limits.ego_max_nodes,
    })
}
