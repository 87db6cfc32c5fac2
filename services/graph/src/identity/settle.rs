//! Which person each identity key names, derived from the evidence the graph holds
//! now, so that it depends neither on the order events arrived in nor on anything
//! a user who is not discoverable imported.
//!
//! The evidence:
//! - an account: its e-mail key names the user's person;
//! - a **linking entry**: an entry of a discoverable owner with two or more keys
//!   says those keys are one person;
//! - any entry's first key (e-mails, then the profile URL, then phones) must name a
//!   person, the one the entry is placed on.
//!
//! The rule: keys that are not account keys, joined by linking entries, form
//! components. A component that linking entries tie to exactly one account is that
//! user's person; one tied to none, or to several (two users are never merged), is
//! a person of its own. A key no evidence supports names nobody.
//!
//! [`settle`] recomputes this around the keys whose evidence changed (the
//! `seeds`: every key of an entry that links, else its first key; an account's
//! key): it reads, round by round, the keys linked to them, and returns what
//! changed. A link that goes away had seeds at both ends, so every part of a person
//! it splits is reached from a seed.
//!
//! Every key a linking entry holds names a person once settled (its component is
//! supported by that entry), and so does every entry's first key. New entries are
//! settled with [`settle_new_entries`], which relies on that: a key of theirs that
//! named nobody before them is in no other entry, so its linking entries are among
//! the new ones and are not searched for.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use uuid::Uuid;

use super::IdentityKey;
use crate::store::StoreError;

/// The person a key names now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedPerson {
    pub person_id: Uuid,
    pub is_user: bool,
}

/// What a store says of one key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyFacts {
    /// The key is the account e-mail of the user whose person this is.
    pub account_of: Option<Uuid>,
    /// The person the key names now.
    pub named: Option<NamedPerson>,
}

/// The reads [`settle`] makes, each answered from the store's current state.
pub trait Evidence {
    /// The facts of each key (a key the store knows nothing of may be left out).
    fn facts(
        &mut self,
        keys: &[IdentityKey],
    ) -> impl Future<Output = Result<HashMap<IdentityKey, KeyFacts>, StoreError>> + Send;

    /// The keys of every linking entry (a discoverable owner's, with two keys or
    /// more) that holds one of `keys`.
    fn linking_entries(
        &mut self,
        keys: &[IdentityKey],
    ) -> impl Future<Output = Result<Vec<Vec<IdentityKey>>, StoreError>> + Send;

    /// Those of `keys` that some entry, of any owner, has first. Asked only of
    /// keys that no account and no linking entry supports, which is rare: mostly
    /// the keys of an entry just deleted.
    fn firsts_of_entries(
        &mut self,
        keys: &[IdentityKey],
    ) -> impl Future<Output = Result<HashSet<IdentityKey>, StoreError>> + Send;
}

/// What changed: the store writes it, then places every entry whose first key is
/// in `closure` on the person that key names.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Settlement {
    /// Every key that was looked at.
    pub closure: Vec<IdentityKey>,
    /// Persons to create, before the keys are assigned.
    pub created: Vec<Uuid>,
    /// Keys whose person changed: the new one, or `None` when nothing supports
    /// the key any more.
    pub reassigned: Vec<(IdentityKey, Option<Uuid>)>,
    /// Persons (never users) no key names any more, each with the person that took
    /// most of its keys, if any: ids clients kept keep resolving to it.
    pub retired: Vec<(Uuid, Option<Uuid>)>,
}

/// The keys a change to one entry (written, deleted, its owner's `discoverable`
/// turned) must be settled around: all of them when the entry links, else its
/// first key.
pub fn seeds_of_entry(keys: &[IdentityKey], owner_discoverable: bool) -> &[IdentityKey] {
    if owner_discoverable && keys.len() > 1 {
        keys
    } else {
        &keys[..keys.len().min(1)]
    }
}

/// What [`seeds_of_new_entries`] found about entries about to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntries {
    /// The keys to settle.
    pub seeds: Vec<IdentityKey>,
    /// Each entry's first key, in the order given (`None` for an entry without keys).
    firsts: Vec<Option<IdentityKey>>,
    /// The facts of the entries' seed keys, the same once the entries are
    /// written: writing them makes their first keys first of an entry (see
    /// `firsts`) and changes nothing else a settlement reads.
    facts_after: HashMap<IdentityKey, KeyFacts>,
    /// The keys of the entries that link.
    links: Vec<Vec<IdentityKey>>,
}

/// The seeds of entries about to be written — `(keys, whether the entry links)` —
/// leaving out the entries that change nothing: one that does not link and whose
/// first key names a person already, and one that links keys which all name one
/// person already (the keys are then one component, or components tied to that
/// one user, and stay so). Most entries of a growing graph are of this kind, and
/// are written straight onto their person.
pub async fn seeds_of_new_entries<'a, E: Evidence>(
    evidence: &mut E,
    entries: impl IntoIterator<Item = (&'a [IdentityKey], bool)>,
) -> Result<NewEntries, StoreError> {
    let entries: Vec<&[IdentityKey]> = entries
        .into_iter()
        .map(|(keys, links)| seeds_of_entry(keys, links))
        .collect();
    // An entry's seeds are all its keys exactly when it links.
    let links: Vec<Vec<IdentityKey>> = entries
        .iter()
        .filter(|keys| keys.len() > 1)
        .map(|keys| keys.to_vec())
        .collect();
    let mut keys: Vec<IdentityKey> = entries
        .iter()
        .flat_map(|keys| keys.iter().cloned())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut facts = evidence.facts(&keys).await?;
    for key in &keys {
        facts.entry(key.clone()).or_default();
    }
    let named = |key: &IdentityKey| {
        facts
            .get(key)
            .and_then(|facts| facts.named)
            .map(|n| n.person_id)
    };
    // The person an entry goes on when it changes nothing.
    let unchanged: Vec<Option<Uuid>> = entries
        .iter()
        .map(|keys| {
            let first = named(keys.first()?)?;
            keys.iter()
                .all(|key| named(key) == Some(first))
                .then_some(first)
        })
        .collect();
    let mut seeds: Vec<IdentityKey> = entries
        .iter()
        .zip(&unchanged)
        .filter(|(_, person)| person.is_none())
        .flat_map(|(keys, _)| keys.iter().cloned())
        .collect();
    seeds.sort_unstable();
    seeds.dedup();
    Ok(NewEntries {
        seeds,
        firsts: entries.iter().map(|keys| keys.first().cloned()).collect(),
        facts_after: facts,
        links,
    })
}

/// [`settle`] around the seeds of [`seeds_of_new_entries`], as it would settle
/// them once the new entries are in the store, with fewer reads; the store may
/// hold the new entries already or not yet (their links are added to what it
/// answers). The seeds' facts are the ones read before, and a key that named
/// nobody (and is no account's) is linked only by the new entries (see the module).
///
/// Most new entries that link only add keys to one person: the keys they link
/// name that one person or nobody yet (a person's profile URL or phone number
/// seen for the first time). Such keys go to that person without reading the
/// person's other keys, when every group of seeds the new entries link is of this
/// kind or names nobody at all; a group that names two persons or more (a merge,
/// a tie to a second account) settles the whole batch as [`settle`] does.
pub async fn settle_new_entries<E: Evidence + Send>(
    evidence: &mut E,
    new_entries: &NewEntries,
) -> Result<Settlement, StoreError> {
    let mut store = AfterNewEntries {
        store: evidence,
        new_entries,
    };
    let Some(groups) = new_entries.groups() else {
        return settle(&mut store, new_entries.seeds.iter().cloned()).await;
    };
    let mut settlement = settle(&mut store, groups.unheard).await?;
    for (key, person) in groups.extending {
        settlement.closure.push(key.clone());
        settlement.reassigned.push((key, Some(person)));
    }
    Ok(settlement)
}

/// The seeds of new entries by group (keys the new entries link, directly or
/// through each other), when no group names two persons or more.
struct SeedGroups {
    /// Seeds of groups that name nobody yet: settled, without searches.
    unheard: Vec<IdentityKey>,
    /// Keys that named nobody, in groups that name one person: theirs now.
    extending: Vec<(IdentityKey, Uuid)>,
}

impl NewEntries {
    /// For each entry, in the order given, the person its first key names once
    /// `settlement` (of these entries, by [`settle_new_entries`]) is written: the
    /// person the entry goes on. Every first key of an entry names a person once
    /// settled, so `None` is an entry without keys, a person of its own.
    pub fn persons_once_settled(&self, settlement: &Settlement) -> Vec<Option<Uuid>> {
        let reassigned: HashMap<&IdentityKey, Option<Uuid>> = settlement
            .reassigned
            .iter()
            .map(|(key, person)| (key, *person))
            .collect();
        self.firsts
            .iter()
            .map(|first| {
                let first = first.as_ref()?;
                match reassigned.get(first) {
                    Some(person) => *person,
                    None => self.facts_after.get(first)?.named.map(|n| n.person_id),
                }
            })
            .collect()
    }

    /// The seeds by group, or `None` when a group names two persons or more.
    fn groups(&self) -> Option<SeedGroups> {
        let keys: Vec<&IdentityKey> = {
            let mut keys: Vec<&IdentityKey> = self
                .seeds
                .iter()
                .chain(self.links.iter().flatten())
                .collect();
            keys.sort_unstable();
            keys.dedup();
            keys
        };
        let index: HashMap<&IdentityKey, usize> =
            keys.iter().enumerate().map(|(i, key)| (*key, i)).collect();
        let mut groups = Components::new(keys.len());
        for link in &self.links {
            for pair in link.windows(2) {
                groups.join(index[&pair[0]], index[&pair[1]]);
            }
        }
        // The one person the keys of each group name, if any; none at all when
        // a group names two persons.
        let mut named: HashMap<usize, Option<Uuid>> = HashMap::new();
        for (member, key) in keys.iter().enumerate() {
            let facts = self.facts_after.get(*key).copied().unwrap_or_default();
            let person = match (facts.named, facts.account_of) {
                (Some(named), _) => Some(named.person_id),
                // An account key naming nobody: not a state settling leaves.
                (None, Some(_)) => return None,
                (None, None) => None,
            };
            let group = named.entry(groups.root(member)).or_insert(None);
            match (*group, person) {
                (_, None) => {}
                (None, Some(person)) => *group = Some(person),
                (Some(one), Some(other)) if one == other => {}
                (Some(_), Some(_)) => return None,
            }
        }
        let mut unheard = Vec::new();
        let mut extending = Vec::new();
        let seeds: HashSet<&IdentityKey> = self.seeds.iter().collect();
        for (member, key) in keys.iter().enumerate() {
            let heard = self
                .facts_after
                .get(*key)
                .is_some_and(|facts| facts.named.is_some());
            match named[&groups.root(member)] {
                Some(person) if !heard => extending.push(((*key).clone(), person)),
                Some(_) => {}
                None if seeds.contains(key) => unheard.push((*key).clone()),
                None => {}
            }
        }
        Some(SeedGroups { unheard, extending })
    }
}

/// The evidence with the new entries written, answered from what
/// [`seeds_of_new_entries`] read where it can.
struct AfterNewEntries<'a, E> {
    store: &'a mut E,
    new_entries: &'a NewEntries,
}

impl<E: Evidence + Send> AfterNewEntries<'_, E> {
    /// Whether nothing but the new entries can link `key`.
    fn unheard_of(&self, key: &IdentityKey) -> bool {
        self.new_entries
            .facts_after
            .get(key)
            .is_some_and(|facts| facts.named.is_none() && facts.account_of.is_none())
    }
}

impl<E: Evidence + Send> Evidence for AfterNewEntries<'_, E> {
    async fn facts(
        &mut self,
        keys: &[IdentityKey],
    ) -> Result<HashMap<IdentityKey, KeyFacts>, StoreError> {
        let known = &self.new_entries.facts_after;
        let unread: Vec<IdentityKey> = keys
            .iter()
            .filter(|key| !known.contains_key(*key))
            .cloned()
            .collect();
        let mut facts = if unread.is_empty() {
            HashMap::new()
        } else {
            self.store.facts(&unread).await?
        };
        for key in keys {
            if let Some(recalled) = known.get(key) {
                facts.insert(key.clone(), *recalled);
            }
        }
        Ok(facts)
    }

    async fn linking_entries(
        &mut self,
        keys: &[IdentityKey],
    ) -> Result<Vec<Vec<IdentityKey>>, StoreError> {
        let searched: Vec<IdentityKey> = keys
            .iter()
            .filter(|key| !self.unheard_of(key))
            .cloned()
            .collect();
        let mut entries = if searched.is_empty() {
            Vec::new()
        } else {
            self.store.linking_entries(&searched).await?
        };
        // The new entries' links, which the store may not hold yet (`settle`
        // takes an entry found twice once).
        let keys: HashSet<&IdentityKey> = keys.iter().collect();
        entries.extend(
            self.new_entries
                .links
                .iter()
                .filter(|link| link.iter().any(|key| keys.contains(key)))
                .cloned(),
        );
        Ok(entries)
    }

    async fn firsts_of_entries(
        &mut self,
        keys: &[IdentityKey],
    ) -> Result<HashSet<IdentityKey>, StoreError> {
        let new_firsts: HashSet<&IdentityKey> = self.new_entries.firsts.iter().flatten().collect();
        let (known, unread): (Vec<IdentityKey>, Vec<IdentityKey>) = keys
            .iter()
            .cloned()
            .partition(|key| new_firsts.contains(key));
        let mut firsts: HashSet<IdentityKey> = known.into_iter().collect();
        if !unread.is_empty() {
            firsts.extend(self.store.firsts_of_entries(&unread).await?);
        }
        Ok(firsts)
    }
}

/// Recomputes the persons of the keys around `seeds`; see the module.
pub async fn settle<E: Evidence>(
    evidence: &mut E,
    seeds: impl IntoIterator<Item = IdentityKey>,
) -> Result<Settlement, StoreError> {
    let seeds: BTreeSet<IdentityKey> = seeds.into_iter().collect();
    let mut facts: BTreeMap<IdentityKey, KeyFacts> = BTreeMap::new();
    let mut entries: BTreeSet<Vec<IdentityKey>> = BTreeSet::new();
    let mut frontier: Vec<IdentityKey> = seeds.iter().cloned().collect();
    while !frontier.is_empty() {
        let mut read = evidence.facts(&frontier).await?;
        for key in &frontier {
            facts.insert(key.clone(), read.remove(key).unwrap_or_default());
        }
        // Links are followed through every key but other users' account keys: a
        // component's tie to an account is seen from the component's side.
        let through: Vec<IdentityKey> = frontier
            .iter()
            .filter(|key| seeds.contains(*key) || facts[*key].account_of.is_none())
            .cloned()
            .collect();
        let mut found: Vec<IdentityKey> = Vec::new();
        if !through.is_empty() {
            for entry in evidence.linking_entries(&through).await? {
                found.extend(entry.iter().cloned());
                entries.insert(entry);
            }
        }
        found.sort_unstable();
        found.dedup();
        frontier = found
            .into_iter()
            .filter(|key| !facts.contains_key(key))
            .collect();
    }
    // A key that neither an account nor a linking entry supports names a person
    // only while some entry has it first.
    let linked: HashSet<&IdentityKey> = entries.iter().flatten().collect();
    let unsupported: Vec<IdentityKey> = facts
        .iter()
        .filter(|(key, facts)| facts.account_of.is_none() && !linked.contains(key))
        .map(|(key, _)| key.clone())
        .collect();
    let firsts = if unsupported.is_empty() {
        HashSet::new()
    } else {
        evidence.firsts_of_entries(&unsupported).await?
    };
    Ok(decide(&facts, &entries, &firsts))
}

/// The settlement of the keys in `facts`, given every linking entry touching them
/// and which of the keys no linking entry holds are some entry's first.
fn decide(
    facts: &BTreeMap<IdentityKey, KeyFacts>,
    entries: &BTreeSet<Vec<IdentityKey>>,
    firsts: &HashSet<IdentityKey>,
) -> Settlement {
    let keys: Vec<&IdentityKey> = facts.keys().collect();
    let index: HashMap<&IdentityKey, usize> =
        keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let account = |key: &IdentityKey| facts.get(key).and_then(|facts| facts.account_of);

    let mut components = Components::new(keys.len());
    let mut linked = vec![false; keys.len()];
    for entry in entries {
        let members: Vec<usize> = entry
            .iter()
            .filter(|key| account(key).is_none())
            .filter_map(|key| index.get(key).copied())
            .collect();
        for pair in members.windows(2) {
            components.join(pair[0], pair[1]);
        }
        for &member in &members {
            linked[member] = true;
        }
    }
    // The accounts each component is tied to.
    let mut ties: BTreeMap<usize, BTreeSet<Uuid>> = BTreeMap::new();
    for entry in entries {
        let users: BTreeSet<Uuid> = entry.iter().filter_map(&account).collect();
        for key in entry.iter().filter(|key| account(key).is_none()) {
            if let Some(&member) = index.get(key) {
                ties.entry(components.root(member))
                    .or_default()
                    .extend(&users);
            }
        }
    }

    // The components of keys that are not account keys, largest first (then by
    // their smallest key), so the largest part of a split keeps the old id.
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (member, key) in keys.iter().enumerate() {
        if account(key).is_none() {
            groups
                .entry(components.root(member))
                .or_default()
                .push(member);
        }
    }
    let mut groups: Vec<(usize, Vec<usize>)> = groups.into_iter().collect();
    groups.sort_by_key(|(_, members)| (std::cmp::Reverse(members.len()), members[0]));

    let mut assigned: Vec<Option<Uuid>> = vec![None; keys.len()];
    let mut created = Vec::new();
    let mut claimed: BTreeSet<Uuid> = BTreeSet::new();
    for (root, members) in &groups {
        let supported = members
            .iter()
            .any(|&member| linked[member] || firsts.contains(keys[member]));
        if !supported {
            continue;
        }
        let users = ties.get(root).cloned().unwrap_or_default();
        let person = if users.len() == 1 {
            *users.first().expect("one user")
        } else {
            // The person of its own most of these keys named, if no larger part
            // took it already; else a new one.
            let mut votes: BTreeMap<Uuid, usize> = BTreeMap::new();
            for &member in members {
                if let Some(named) = facts[keys[member]].named.filter(|named| !named.is_user) {
                    *votes.entry(named.person_id).or_default() += 1;
                }
            }
            let reused = votes
                .into_iter()
                .filter(|(person, _)| !claimed.contains(person))
                .max_by_key(|&(person, count)| (count, std::cmp::Reverse(person)))
                .map(|(person, _)| person);
            match reused {
                Some(person) => person,
                None => {
                    let person = Uuid::now_v7();
                    created.push(person);
                    person
                }
            }
        };
        claimed.insert(person);
        for &member in members {
            assigned[member] = Some(person);
        }
    }
    for (member, key) in keys.iter().enumerate() {
        if let Some(person) = account(key) {
            assigned[member] = Some(person);
        }
    }

    let mut reassigned = Vec::new();
    let mut taken: BTreeMap<Uuid, BTreeMap<Uuid, usize>> = BTreeMap::new();
    for (member, key) in keys.iter().enumerate() {
        let before = facts[*key].named.map(|named| named.person_id);
        let after = assigned[member];
        if let (Some(before), Some(after)) = (before, after) {
            *taken.entry(before).or_default().entry(after).or_default() += 1;
        }
        if before != after {
            reassigned.push(((*key).clone(), after));
        }
    }
    let retired = facts
        .values()
        .filter_map(|facts| facts.named)
        .filter(|named| !named.is_user && !claimed.contains(&named.person_id))
        .map(|named| named.person_id)
        .collect::<BTreeSet<Uuid>>()
        .into_iter()
        .map(|person| {
            let heir = taken
                .get(&person)
                .and_then(|heirs| {
                    heirs
                        .iter()
                        .max_by_key(|&(heir, count)| (*count, std::cmp::Reverse(*heir)))
                })
                .map(|(heir, _)| *heir);
            (person, heir)
        })
        .collect();
    Settlement {
        closure: facts.keys().cloned().collect(),
        created,
        reassigned,
        retired,
    }
}

/// Union-find over key indexes.
struct Components {
    parent: Vec<usize>,
}

impl Components {
    fn new(size: usize) -> Self {
        Self {
            parent: (0..size).collect(),
        }
    }

    fn root(&mut self, mut member: usize) -> usize {
        while self.parent[member] != member {
            self.parent[member] = self.parent[self.parent[member]];
            member = self.parent[member];
        }
        member
    }

    /// Joins two components; the smaller index becomes the root.
    fn join(&mut self, a: usize, b: usize) {
        let (a, b) = (self.root(a), self.root(b));
        if a != b {
            let (low, high) = (a.min(b), a.max(b));
            self.parent[high] = low;
        }
    }
}

#[cfg(test)]
mod tests {
    //! [`settle`] over an in-memory store: after any sequence of changes, each
    //! settled around the keys it touched, the persons are the ones a settlement of
    //! every key from nothing gives.

    use super::*;

    fn key(value: &str) -> IdentityKey {
        IdentityKey::from_stored(format!("email:{value}"))
    }

    /// The evidence, and which person each key names: what a store holds.
    #[derive(Debug, Clone, Default)]
    struct Model {
        /// Entries: (owner, keys), in key order.
        entries: Vec<(usize, Vec<IdentityKey>)>,
        discoverable: BTreeSet<usize>,
        /// Account key → the user's person.
        accounts: BTreeMap<IdentityKey, Uuid>,
        users: BTreeSet<Uuid>,
        named: BTreeMap<IdentityKey, Uuid>,
        /// Every key linking entries were searched for, in order.
        searched: Vec<IdentityKey>,
        /// Every key asked whether an entry has it first, in order.
        asked_firsts: Vec<IdentityKey>,
    }

    impl Evidence for Model {
        async fn facts(
            &mut self,
            keys: &[IdentityKey],
        ) -> Result<HashMap<IdentityKey, KeyFacts>, StoreError> {
            Ok(keys
                .iter()
                .map(|key| {
                    let facts = KeyFacts {
                        account_of: self.accounts.get(key).copied(),
                        named: self.named.get(key).map(|&person_id| NamedPerson {
                            person_id,
                            is_user: self.users.contains(&person_id),
                        }),
                    };
                    (key.clone(), facts)
                })
                .collect())
        }

        async fn linking_entries(
            &mut self,
            keys: &[IdentityKey],
        ) -> Result<Vec<Vec<IdentityKey>>, StoreError> {
            self.searched.extend(keys.iter().cloned());
            Ok(self
                .entries
                .iter()
                .filter(|(owner, entry)| {
                    self.discoverable.contains(owner)
                        && entry.len() > 1
                        && entry.iter().any(|key| keys.contains(key))
                })
                .map(|(_, entry)| entry.clone())
                .collect())
        }

        async fn firsts_of_entries(
            &mut self,
            keys: &[IdentityKey],
        ) -> Result<HashSet<IdentityKey>, StoreError> {
            self.asked_firsts.extend(keys.iter().cloned());
            Ok(keys
                .iter()
                .filter(|key| {
                    self.entries
                        .iter()
                        .any(|(_, keys)| keys.first() == Some(key))
                })
                .cloned()
                .collect())
        }
    }

    impl Model {
        fn apply(&mut self, settlement: &Settlement) {
            for (key, person) in &settlement.reassigned {
                match person {
                    Some(person) => self.named.insert(key.clone(), *person),
                    None => self.named.remove(key),
                };
            }
        }

        /// The keys an entry's change must be settled around.
        fn seeds_of(&self, owner: usize, keys: &[IdentityKey]) -> Vec<IdentityKey> {
            seeds_of_entry(keys, self.discoverable.contains(&owner)).to_vec()
        }

        /// The persons as sets of keys, each with the user it is, if any.
        fn persons(&self) -> BTreeSet<(Option<Uuid>, BTreeSet<IdentityKey>)> {
            let mut persons: BTreeMap<Uuid, BTreeSet<IdentityKey>> = BTreeMap::new();
            for (key, person) in &self.named {
                persons.entry(*person).or_default().insert(key.clone());
            }
            persons
                .into_iter()
                .map(|(person, keys)| (self.users.contains(&person).then_some(person), keys))
                .collect()
        }
    }

    /// One change to the evidence.
    #[derive(Debug, Clone)]
    enum Change {
        /// A batch of entries of one owner.
        Import(usize, Vec<Vec<IdentityKey>>),
        Delete(usize, Vec<IdentityKey>),
        Discoverable(usize, bool),
        Register(usize),
    }

    /// A batch of one entry.
    fn import(owner: usize, keys: Vec<IdentityKey>) -> Change {
        Change::Import(owner, vec![keys])
    }

    /// User `owner`'s person id, the same in every run.
    fn user_person(owner: usize) -> Uuid {
        Uuid::from_u128(0xA000 + owner as u128)
    }

    fn account_key(owner: usize) -> IdentityKey {
        key(&format!("user{owner}@x.org"))
    }

    async fn run(changes: &[Change], owners: usize) -> Model {
        let mut model = Model::default();
        for owner in 0..owners {
            model.users.insert(user_person(owner));
        }
        for change in changes {
            let seeds = match change {
                Change::Import(owner, batch) => {
                    let links = model.discoverable.contains(owner);
                    let new_entries = seeds_of_new_entries(
                        &mut model,
                        batch.iter().map(|keys| (keys.as_slice(), links)),
                    )
                    .await
                    .unwrap();
                    // Settled before the entries are written, as the PostgreSQL
                    // store does (Neo4j writes their links first).
                    let settlement = settle_new_entries(&mut model, &new_entries).await.unwrap();
                    model
                        .entries
                        .extend(batch.iter().map(|keys| (*owner, keys.clone())));
                    model.apply(&settlement);
                    for (keys, person) in batch
                        .iter()
                        .zip(new_entries.persons_once_settled(&settlement))
                    {
                        let named = keys.first().and_then(|first| model.named.get(first));
                        assert_eq!(person.as_ref(), named, "the person entry {keys:?} goes on");
                    }
                    continue;
                }
                Change::Delete(owner, keys) => {
                    let position = model
                        .entries
                        .iter()
                        .position(|(o, k)| o == owner && k == keys)
                        .expect("deleted after its import");
                    model.entries.remove(position);
                    model.seeds_of(*owner, keys)
                }
                Change::Discoverable(owner, discoverable) => {
                    let seeds: Vec<IdentityKey> = model
                        .entries
                        .iter()
                        .filter(|(o, keys)| o == owner && keys.len() > 1)
                        .flat_map(|(_, keys)| keys.clone())
                        .collect();
                    if *discoverable {
                        model.discoverable.insert(*owner);
                    } else {
                        model.discoverable.remove(owner);
                    }
                    seeds
                }
                Change::Register(owner) => {
                    model
                        .accounts
                        .insert(account_key(*owner), user_person(*owner));
                    vec![account_key(*owner)]
                }
            };
            let settlement = settle(&mut model, seeds).await.unwrap();
            model.apply(&settlement);
        }
        model
    }

    /// The persons a settlement of every key from nothing gives.
    async fn from_nothing(settled: &Model) -> BTreeSet<(Option<Uuid>, BTreeSet<IdentityKey>)> {
        let mut fresh = Model {
            named: BTreeMap::new(),
            ..settled.clone()
        };
        let every_key: Vec<IdentityKey> = fresh
            .entries
            .iter()
            .flat_map(|(_, keys)| keys.clone())
            .chain(fresh.accounts.keys().cloned())
            .collect();
        let settlement = settle(&mut fresh, every_key).await.unwrap();
        fresh.apply(&settlement);
        fresh.persons()
    }

    #[tokio::test]
    async fn only_a_discoverable_owners_entry_joins_keys() {
        let (ann, bob) = (key("ann@a"), key("ann@b"));
        let private = run(&[import(0, vec![ann.clone(), bob.clone()])], 1).await;
        assert_eq!(
            private.persons(),
            BTreeSet::from([(None, BTreeSet::from([ann.clone()]))]),
            "a private entry's other keys name nobody"
        );
        let shared = run(
            &[
                Change::Discoverable(0, true),
                import(0, vec![ann.clone(), bob.clone()]),
            ],
            1,
        )
        .await;
        assert_eq!(
            shared.persons(),
            BTreeSet::from([(None, BTreeSet::from([ann, bob]))])
        );
    }

    #[tokio::test]
    async fn new_entries_search_linking_entries_only_to_join_persons() {
        let (mail, phone, work, other) = (key("c@x"), key("c-phone"), key("c@work"), key("d@x"));
        let mut changes = vec![
            Change::Discoverable(0, true),
            import(0, vec![mail.clone(), phone.clone()]),
        ];
        let model = run(&changes, 1).await;
        assert_eq!(
            model.searched,
            [],
            "keys nobody named are linked only by the batch"
        );

        // A key of the person seen for the first time: theirs, without a search.
        changes.push(import(0, vec![work.clone(), phone.clone()]));
        let model = run(&changes, 1).await;
        assert_eq!(model.searched, []);
        assert_eq!(
            model.persons(),
            BTreeSet::from([(
                None,
                BTreeSet::from([mail.clone(), phone.clone(), work.clone()])
            )])
        );

        // An entry joining two persons: the persons' keys are read.
        changes.push(import(0, vec![other.clone()]));
        changes.push(import(0, vec![other.clone(), work.clone()]));
        let model = run(&changes, 1).await;
        assert_eq!(
            model.searched,
            [work.clone(), other.clone(), phone.clone(), mail.clone()]
        );
        assert_eq!(
            model.persons(),
            BTreeSet::from([(None, BTreeSet::from([mail, phone, work, other]))])
        );
    }

    #[tokio::test]
    async fn only_keys_nothing_else_supports_are_asked_whether_an_entry_has_them_first() {
        let (lone, mail, phone) = (key("lone@x"), key("c@x"), key("c-phone"));
        let mut changes = vec![
            Change::Discoverable(1, true),
            import(0, vec![lone.clone()]),
            import(0, vec![mail.clone(), phone.clone()]),
            import(1, vec![mail.clone(), phone.clone()]),
            Change::Register(2),
            import(1, vec![account_key(2), mail.clone()]),
        ];
        let model = run(&changes, 3).await;
        assert_eq!(
            model.asked_firsts,
            [],
            "new entries' first keys are known to be first; linked keys need no entry"
        );

        changes.push(Change::Delete(0, vec![lone.clone()]));
        let model = run(&changes, 3).await;
        assert_eq!(model.asked_firsts, std::slice::from_ref(&lone));
        assert!(
            model
                .persons()
                .iter()
                .all(|(_, keys)| !keys.contains(&lone))
        );
    }

    #[tokio::test]
    async fn a_key_tied_to_two_accounts_joins_neither() {
        let phone = key("shared-line");
        let changes = [
            Change::Discoverable(2, true),
            Change::Register(0),
            Change::Register(1),
            import(2, vec![account_key(0), phone.clone()]),
            import(2, vec![account_key(1), phone.clone()]),
        ];
        let model = run(&changes, 3).await;
        assert_eq!(
            model.persons(),
            BTreeSet::from([
                (Some(user_person(0)), BTreeSet::from([account_key(0)])),
                (Some(user_person(1)), BTreeSet::from([account_key(1)])),
                (None, BTreeSet::from([phone])),
            ])
        );
    }

    #[tokio::test]
    async fn deleting_the_linking_entry_splits_the_person_again() {
        let (mail, phone) = (key("c@x"), key("c-phone"));
        let changes = [
            Change::Discoverable(0, true),
            import(1, vec![mail.clone()]),
            import(2, vec![phone.clone()]),
            import(0, vec![mail.clone(), phone.clone()]),
            Change::Delete(0, vec![mail.clone(), phone.clone()]),
        ];
        let model = run(&changes, 3).await;
        assert_eq!(
            model.persons(),
            BTreeSet::from([
                (None, BTreeSet::from([mail])),
                (None, BTreeSet::from([phone]))
            ])
        );
    }

    #[tokio::test]
    async fn joined_persons_keep_one_id_and_the_other_resolves_to_it() {
        let (mail, phone) = (key("c@x"), key("c-phone"));
        let mut model = run(
            &[
                Change::Discoverable(0, true),
                import(1, vec![mail.clone()]),
                import(2, vec![phone.clone()]),
            ],
            3,
        )
        .await;
        let (by_mail, by_phone) = (model.named[&mail], model.named[&phone]);
        model.entries.push((0, vec![mail.clone(), phone.clone()]));
        let settlement = settle(&mut model, [mail.clone(), phone.clone()])
            .await
            .unwrap();

        let kept = by_mail.min(by_phone);
        let gone = by_mail.max(by_phone);
        assert!(settlement.created.is_empty());
        assert_eq!(settlement.retired, vec![(gone, Some(kept))]);
        let moved = if kept == by_mail { phone } else { mail };
        assert_eq!(settlement.reassigned, vec![(moved, Some(kept))]);
    }

    /// Random changes over few keys and owners, so that links, ties to accounts,
    /// splits and toggles meet often.
    fn scenario(seed: u64) -> (Vec<Change>, usize) {
        let mut random = fastrand::Rng::with_seed(seed);
        let owners = 4;
        let pool: Vec<IdentityKey> = (0..6)
            .map(|i| key(&format!("k{i}")))
            .chain((0..owners).map(account_key))
            .collect();
        let mut live: Vec<(usize, Vec<IdentityKey>)> = Vec::new();
        let mut changes = Vec::new();
        for _ in 0..40 {
            match random.u8(0..10) {
                0..=4 => {
                    let owner = random.usize(0..owners);
                    let batch: Vec<Vec<IdentityKey>> = (0..random.usize(1..=3))
                        .map(|_| {
                            let mut keys: Vec<IdentityKey> = Vec::new();
                            for _ in 0..random.usize(1..=3) {
                                let key = &pool[random.usize(0..pool.len())];
                                if !keys.contains(key) {
                                    keys.push(key.clone());
                                }
                            }
                            keys
                        })
                        .collect();
                    live.extend(batch.iter().map(|keys| (owner, keys.clone())));
                    changes.push(Change::Import(owner, batch));
                }
                5 | 6 if !live.is_empty() => {
                    let (owner, keys) = live.swap_remove(random.usize(0..live.len()));
                    changes.push(Change::Delete(owner, keys));
                }
                7 | 8 => changes.push(Change::Discoverable(random.usize(0..owners), random.bool())),
                _ => changes.push(Change::Register(random.usize(0..owners))),
            }
        }
        (changes, owners)
    }

    #[tokio::test]
    async fn settling_each_change_gives_the_persons_of_the_evidence_in_any_order() {
        for seed in 0..200 {
            let (changes, owners) = scenario(seed);
            let model = run(&changes, owners).await;
            assert_eq!(
                model.persons(),
                from_nothing(&model).await,
                "seed {seed}: {changes:#?}"
            );
        }
    }
}
