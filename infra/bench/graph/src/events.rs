//! The events that build a generated network in the graph, as the services that
//! own them publish them: `auth.user.registered.v1` for every user,
//! `api.profile.updated.v1` for every discoverable user (a user is private until a
//! profile says otherwise), and each user's address book as
//! `importer.contacts.imported.v1` batches of at most the importer's chunk size.
//!
//! Each entry carries its person's e-mail address (so targets are found by e-mail
//! and users are linked by their registration address); some also a profile URL or
//! a phone number, always the same ones for the same person, so identity
//! resolution adds keys but never merges two persons.

use chrono::{NaiveDate, Utc};
use six_events::{
    Envelope,
    api::ProfileUpdated,
    auth::UserRegistered,
    importer::{ContactsImported, ImportedContact},
};
use uuid::Uuid;

use crate::network::Network;

/// Share of entries (in percent) with the person's LinkedIn URL.
const PROFILE_URL_PERCENT: u8 = 50;
/// Share of entries (in percent) with the person's phone number.
const PHONE_PERCENT: u8 = 20;
/// Share of entries (in percent) with a location.
const LOCATION_PERCENT: u8 = 30;

const COMPANIES: &[&str] = &[
    "Acme, Inc.",
    "Helvetia Robotics AG",
    "Northwind Traders",
    "Globex Corporation",
    "Initech",
    "Umbrella Health",
    "Stark Industries",
    "Wayne Enterprises",
];

const TITLES: &[&str] = &[
    "Software Engineer",
    "Product Manager",
    "Data Scientist",
    "Head of Sales",
    "Recruiter",
    "Chief Executive Officer",
    "Designer",
    "Consultant",
];

const LOCATIONS: &[&str] = &["London", "Berlin", "Paris", "New York", "Lagos", "Tokyo"];

/// The accounts of the generated users: a UUIDv7 each, as auth assigns them, drawn
/// from the seed (one millisecond apart from 2026-01-01), so that a projection kept
/// by one run (`--keep-projection`) has the accounts the next run's queries use.
#[derive(Debug, Clone)]
pub struct Accounts {
    user_ids: Vec<Uuid>,
}

/// 2026-01-01T00:00:00Z, the time of the first generated account.
const FIRST_ACCOUNT_MS: u64 = 1_767_225_600_000;

impl Accounts {
    /// The ids of every user of `network`.
    pub fn new(network: &Network) -> Self {
        let mut random =
            fastrand::Rng::with_seed(network.shape().seed ^ 0xacc0_u64.rotate_left(48));
        Self {
            user_ids: (0..network.users() as u64)
                .map(|user| {
                    let mut bits = [0u8; 10];
                    random.fill(&mut bits);
                    uuid::Builder::from_unix_timestamp_millis(FIRST_ACCOUNT_MS + user, &bits)
                        .into_uuid()
                })
                .collect(),
        }
    }

    /// The account of `user`.
    pub fn user_id(&self, user: usize) -> Uuid {
        self.user_ids[user]
    }
}

/// How many events of each kind a network takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCounts {
    /// `auth.user.registered.v1`.
    pub registrations: usize,
    /// `api.profile.updated.v1`.
    pub profiles: usize,
    /// `importer.contacts.imported.v1`.
    pub batches: usize,
}

impl EventCounts {
    /// The events of `network` with batches of at most `batch_contacts` entries.
    pub fn of(network: &Network, batch_contacts: usize) -> Self {
        let users = network.users();
        Self {
            registrations: users,
            profiles: (0..users)
                .filter(|user| network.is_discoverable(*user))
                .count(),
            batches: users * network.shape().contacts_per_user.div_ceil(batch_contacts),
        }
    }

    /// Every event.
    pub fn total(&self) -> usize {
        self.registrations + self.profiles + self.batches
    }
}

/// `user`'s registration.
pub fn registration(
    network: &Network,
    accounts: &Accounts,
    user: usize,
) -> Envelope<UserRegistered> {
    let facts = network.user_facts(user);
    Envelope::new(UserRegistered {
        user_id: accounts.user_id(user),
        email: facts.email.clone(),
        display_name: facts.full_name(),
        registered_at: Utc::now(),
    })
}

/// `user`'s profile, which makes them discoverable; `None` for a private user.
pub fn profile(
    network: &Network,
    accounts: &Accounts,
    user: usize,
) -> Option<Envelope<ProfileUpdated>> {
    if !network.is_discoverable(user) {
        return None;
    }
    let facts = network.user_facts(user);
    Some(Envelope::new(ProfileUpdated {
        user_id: accounts.user_id(user),
        display_name: facts.full_name(),
        headline: None,
        discoverable: true,
        updated_at: Utc::now(),
    }))
}

/// `user`'s address book as one import job's batches of at most `batch_contacts`
/// entries, numbered from 0. The entries' details are drawn from the network's
/// seed and the user, so they are the same on every run.
pub fn contact_batches(
    network: &Network,
    accounts: &Accounts,
    user: usize,
    batch_contacts: usize,
) -> Vec<Envelope<ContactsImported>> {
    let mut random = fastrand::Rng::with_seed(network.shape().seed ^ (user as u64).rotate_left(32));
    let import_id = Uuid::now_v7();
    let owner_id = accounts.user_id(user);
    let entries: Vec<ImportedContact> = network
        .contacts(user)
        .iter()
        .map(|&person| {
            let facts = network.person(person);
            let chance = |random: &mut fastrand::Rng, percent: u8| random.u8(0..100) < percent;
            let profile_url =
                chance(&mut random, PROFILE_URL_PERCENT).then(|| facts.profile_url.clone());
            let phones = if chance(&mut random, PHONE_PERCENT) {
                vec![facts.phone.clone()]
            } else {
                Vec::new()
            };
            let location = chance(&mut random, LOCATION_PERCENT)
                .then(|| LOCATIONS[random.usize(0..LOCATIONS.len())].to_owned());
            ImportedContact {
                contact_id: Uuid::now_v7(),
                full_name: facts.full_name(),
                first_name: Some(facts.first_name.to_owned()),
                last_name: Some(facts.last_name.to_owned()),
                emails: vec![facts.email.clone()],
                phones,
                company: Some(COMPANIES[random.usize(0..COMPANIES.len())].to_owned()),
                title: Some(TITLES[random.usize(0..TITLES.len())].to_owned()),
                location,
                profile_url,
                connected_on: NaiveDate::from_ymd_opt(
                    random.i32(2010..=2025),
                    random.u32(1..=12),
                    random.u32(1..=28),
                ),
            }
        })
        .collect();
    entries
        .chunks(batch_contacts.max(1))
        .enumerate()
        .map(|(batch_seq, contacts)| {
            Envelope::new(ContactsImported {
                import_id,
                owner_id,
                batch_seq: u32::try_from(batch_seq).unwrap_or(u32::MAX),
                contacts: contacts.to_vec(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Shape;
    use std::collections::HashSet;

    fn network(contacts_per_user: usize) -> Network {
        Network::generate(Shape {
            users: 50,
            contacts_per_user,
            community_users: 10,
            discoverable_percent: 80,
            seed: 4,
        })
    }

    #[test]
    fn accounts_are_distinct_version_7_ids_drawn_from_the_seed() {
        let accounts = Accounts::new(&network(5));
        let again = Accounts::new(&network(5));

        let ids: HashSet<Uuid> = (0..50).map(|user| accounts.user_id(user)).collect();
        assert_eq!(ids.len(), 50);
        assert!(ids.iter().all(|id| id.get_version_num() == 7));
        assert_eq!(accounts.user_id(7), again.user_id(7));
        assert!(
            accounts.user_id(0) < accounts.user_id(1),
            "ordered by registration"
        );
    }

    #[test]
    fn an_address_book_is_cut_into_numbered_batches_of_the_importer_s_size() {
        let network = network(45);
        let accounts = Accounts::new(&network);

        let batches = contact_batches(&network, &accounts, 3, 20);

        let sizes: Vec<usize> = batches
            .iter()
            .map(|batch| batch.data().contacts.len())
            .collect();
        let seqs: Vec<u32> = batches.iter().map(|batch| batch.data().batch_seq).collect();
        assert_eq!(sizes, vec![20, 20, 5]);
        assert_eq!(seqs, vec![0, 1, 2]);
        assert!(
            batches
                .iter()
                .all(|batch| batch.data().owner_id == accounts.user_id(3))
        );
        assert_eq!(EventCounts::of(&network, 20).batches, network.users() * 3);
    }

    #[test]
    fn every_entry_carries_its_person_s_address_and_the_same_details_every_run() {
        let network = network(30);
        let accounts = Accounts::new(&network);

        let first = contact_batches(&network, &accounts, 7, 2_000);
        let again = contact_batches(&network, &accounts, 7, 2_000);

        let entries = &first[0].data().contacts;
        for (entry, &person) in entries.iter().zip(network.contacts(7)) {
            assert_eq!(entry.emails, vec![network.person(person).email]);
        }
        let details = |batches: &[Envelope<ContactsImported>]| -> Vec<_> {
            batches[0]
                .data()
                .contacts
                .iter()
                .map(|entry| {
                    (
                        entry.phones.clone(),
                        entry.profile_url.clone(),
                        entry.connected_on,
                    )
                })
                .collect()
        };
        assert_eq!(details(&first), details(&again));
    }

    #[test]
    fn only_discoverable_users_publish_a_profile() {
        let network = network(5);
        let accounts = Accounts::new(&network);

        let profiles = (0..network.users())
            .filter_map(|user| profile(&network, &accounts, user))
            .count();

        assert_eq!(profiles, network.stats().discoverable);
        assert_eq!(EventCounts::of(&network, 2_000).profiles, profiles);
    }
}
