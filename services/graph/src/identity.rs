//! Identity resolution: which keys recognise a person, and how a batch of contact
//! entries is placed on persons, merging persons that a new key shows to be one.
//!
//! The rules (also in `docs/graph.md`):
//! - keys are the normalised e-mail addresses, the canonical profile URL and the
//!   E.164 phone numbers of an entry; each key names at most one person;
//! - an entry whose keys name no person gets a new person; an entry whose keys name
//!   one person is placed on it; an entry whose keys name several persons merges them
//!   into one, the survivor being the one that is a user (else the oldest id);
//! - two users are never merged: an entry whose keys name two users is placed on the
//!   first (by key order: e-mails, profile URL, phones) and leaves the other alone;
//! - an entry without any key is a person of its own, never merged.
//!
//! Both stores run the same [`Planner`], so they resolve the same way.

use std::collections::{HashMap, HashSet};

use six_events::importer::ImportedContact;
use uuid::Uuid;

/// A key that recognises one person, e.g. `email:ann@example.org`. Built only from
/// values without control characters, so a list of keys can be joined with `\x1f`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdentityKey(String);

impl IdentityKey {
    /// Separator used to pass a list of keys as one text value.
    pub const SEPARATOR: char = '\x1f';

    /// The key of an e-mail address: trimmed and lowercased (local parts are treated
    /// case-insensitively, as the importer does). `None` for a value that cannot be
    /// an address.
    pub fn email(address: &str) -> Option<Self> {
        let address = address.trim().to_lowercase();
        let (local, domain) = address.split_once('@')?;
        let plausible = !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && address.len() <= 254
            && !address.chars().any(|c| c.is_whitespace() || c.is_control());
        plausible.then(|| Self(format!("email:{address}")))
    }

    /// The key of a phone number already in E.164 form.
    pub fn phone(e164: &str) -> Option<Self> {
        let valid = e164.len() > 1
            && e164.starts_with('+')
            && e164[1..].bytes().all(|b| b.is_ascii_digit());
        valid.then(|| Self(format!("phone:{e164}")))
    }

    /// The key of a canonical profile URL.
    pub fn profile(url: &str) -> Option<Self> {
        let valid = !url.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control());
        valid.then(|| Self(format!("profile:{url}")))
    }

    /// The keys of a contact entry, in resolution order: e-mails, the profile URL,
    /// phones; no repeats.
    pub fn of_contact(contact: &ImportedContact) -> Vec<Self> {
        let mut keys: Vec<Self> = Vec::new();
        let candidates = contact
            .emails
            .iter()
            .filter_map(|email| Self::email(email))
            .chain(contact.profile_url.as_deref().and_then(Self::profile))
            .chain(contact.phones.iter().filter_map(|phone| Self::phone(phone)));
        for key in candidates {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        keys
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a key read back from a store.
    pub fn from_stored(key: String) -> Self {
        Self(key)
    }

    /// Keys joined with [`Self::SEPARATOR`].
    pub fn join(keys: &[Self]) -> String {
        let mut joined = String::new();
        for (index, key) in keys.iter().enumerate() {
            if index > 0 {
                joined.push(Self::SEPARATOR);
            }
            joined.push_str(&key.0);
        }
        joined
    }
}

/// What a store knows of a person that a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownPerson {
    pub person_id: Uuid,
    /// Whether the person is a user (users are never merged together).
    pub is_user: bool,
}

/// Places contact entries on persons; collects what the store must then write.
#[derive(Debug, Default)]
pub struct Planner {
    /// Who each key names, as the store had it plus the plan so far.
    key_owner: HashMap<IdentityKey, Uuid>,
    is_user: HashMap<Uuid, bool>,
    /// Merged person → the person it became (follow until absent).
    merged: HashMap<Uuid, Uuid>,
    created: Vec<Uuid>,
    created_set: HashSet<Uuid>,
    new_keys: Vec<(IdentityKey, Uuid)>,
}

/// The writes a [`Planner`] decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Persons to create (with no keys yet; they come with `new_keys`).
    pub created: Vec<Uuid>,
    /// Existing persons to merge: (merged, survivor), the survivor final.
    pub merges: Vec<(Uuid, Uuid)>,
    /// Keys to record, each with its final person.
    pub new_keys: Vec<(IdentityKey, Uuid)>,
}

impl Planner {
    /// A planner over what the store knows: the persons the batch's keys name.
    pub fn new(known: impl IntoIterator<Item = (IdentityKey, KnownPerson)>) -> Self {
        let mut planner = Self::default();
        for (key, person) in known {
            planner.key_owner.insert(key, person.person_id);
            planner.is_user.insert(person.person_id, person.is_user);
        }
        planner
    }

    /// The person `person_id` is now, after the merges planned so far.
    pub fn current(&self, mut person_id: Uuid) -> Uuid {
        while let Some(&into) = self.merged.get(&person_id) {
            person_id = into;
        }
        person_id
    }

    /// Places one entry with `keys` and returns its person (call
    /// [`Self::current`] on it after the last entry: a later entry may merge it).
    pub fn place(&mut self, keys: &[IdentityKey]) -> Uuid {
        let mut named: Vec<Uuid> = Vec::new();
        for key in keys {
            if let Some(&owner) = self.key_owner.get(key) {
                let owner = self.current(owner);
                if !named.contains(&owner) {
                    named.push(owner);
                }
            }
        }
        let Some(survivor) = self.survivor(&named) else {
            let person_id = Uuid::now_v7();
            self.created.push(person_id);
            self.created_set.insert(person_id);
            self.is_user.insert(person_id, false);
            for key in keys {
                self.key_owner.insert(key.clone(), person_id);
                self.new_keys.push((key.clone(), person_id));
            }
            return person_id;
        };
        let survivor_is_user = self.is_user(survivor);
        for &other in &named {
            if other != survivor && !(survivor_is_user && self.is_user(other)) {
                self.merged.insert(other, survivor);
            }
        }
        for key in keys {
            if !self.key_owner.contains_key(key) {
                self.key_owner.insert(key.clone(), survivor);
                self.new_keys.push((key.clone(), survivor));
            }
        }
        survivor
    }

    fn is_user(&self, person_id: Uuid) -> bool {
        self.is_user.get(&person_id).copied().unwrap_or(false)
    }

    /// The first user among `named`, else the oldest existing person, else the
    /// oldest created in this plan (ids are UUIDv7: older sorts first).
    fn survivor(&self, named: &[Uuid]) -> Option<Uuid> {
        if let Some(&user) = named.iter().find(|&&person| self.is_user(person)) {
            return Some(user);
        }
        named
            .iter()
            .copied()
            .min_by_key(|person| (self.created_set.contains(person), *person))
    }

    /// The writes decided, every person id final.
    pub fn finish(self) -> Plan {
        let created = self
            .created
            .iter()
            .copied()
            .filter(|person| !self.merged.contains_key(person))
            .collect();
        let merges = self
            .merged
            .keys()
            .filter(|person| !self.created_set.contains(person))
            .map(|&person| (person, self.current(person)))
            .collect();
        let new_keys = self
            .new_keys
            .iter()
            .map(|(key, person)| (key.clone(), self.current(*person)))
            .collect();
        Plan {
            created,
            merges,
            new_keys,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(value: &str) -> IdentityKey {
        IdentityKey::email(value).unwrap()
    }

    fn known(value: &str, person_id: Uuid, is_user: bool) -> (IdentityKey, KnownPerson) {
        (key(value), KnownPerson { person_id, is_user })
    }

    #[test]
    fn an_entry_whose_keys_name_nobody_gets_a_new_person_with_its_keys() {
        let mut planner = Planner::new([]);
        let person = planner.place(&[key("a@x.org"), key("b@x.org")]);
        let plan = planner.finish();
        assert_eq!(plan.created, vec![person]);
        assert_eq!(
            plan.new_keys,
            vec![(key("a@x.org"), person), (key("b@x.org"), person)]
        );
        assert!(plan.merges.is_empty());
    }

    #[test]
    fn an_entry_naming_two_persons_merges_them_into_the_user() {
        let contact_only = Uuid::now_v7();
        let user = Uuid::now_v7();
        let mut planner = Planner::new([
            known("a@x.org", contact_only, false),
            known("b@x.org", user, true),
        ]);
        let person = planner.place(&[key("a@x.org"), key("b@x.org"), key("c@x.org")]);
        let plan = planner.finish();
        assert_eq!(person, user);
        assert_eq!(plan.merges, vec![(contact_only, user)]);
        assert_eq!(plan.new_keys, vec![(key("c@x.org"), user)]);
        assert!(plan.created.is_empty());
    }

    #[test]
    fn two_users_are_never_merged() {
        let first = Uuid::now_v7();
        let second = Uuid::now_v7();
        let mut planner = Planner::new([
            known("a@x.org", first, true),
            known("b@x.org", second, true),
        ]);
        let person = planner.place(&[key("b@x.org"), key("a@x.org")]);
        let plan = planner.finish();
        assert_eq!(person, second, "the first key's user");
        assert!(plan.merges.is_empty());
    }

    #[test]
    fn entries_of_one_batch_sharing_a_key_share_a_person() {
        let older = Uuid::now_v7();
        let mut planner = Planner::new([known("c@x.org", older, false)]);
        let first = planner.place(&[key("a@x.org")]);
        let second = planner.place(&[key("b@x.org")]);
        let third = planner.place(&[key("a@x.org"), key("b@x.org"), key("c@x.org")]);
        assert_eq!(third, older, "the existing person survives");
        assert_eq!(planner.current(first), older);
        assert_eq!(planner.current(second), older);
        let plan = planner.finish();
        assert!(plan.created.is_empty(), "both new persons were merged away");
        assert!(plan.merges.is_empty(), "no existing person was merged");
        assert!(plan.new_keys.iter().all(|(_, person)| *person == older));
    }

    #[test]
    fn an_entry_without_keys_is_a_person_of_its_own() {
        let mut planner = Planner::new([]);
        let first = planner.place(&[]);
        let second = planner.place(&[]);
        assert_ne!(first, second);
        assert_eq!(planner.finish().created.len(), 2);
    }

    #[test]
    fn keys_refuse_values_that_cannot_identify_anyone() {
        assert_eq!(
            IdentityKey::email(" Ann@Example.ORG ").unwrap().as_str(),
            "email:ann@example.org"
        );
        assert!(IdentityKey::email("no-at-sign").is_none());
        assert!(IdentityKey::email("a@b@c").is_none());
        assert!(IdentityKey::email("a b@c.org").is_none());
        assert!(IdentityKey::phone("+4477009").is_some());
        assert!(IdentityKey::phone("07700").is_none());
        assert!(IdentityKey::profile("linkedin.com/in/a\u{1f}b").is_none());
    }
}
