//! The generated network: users in communities, each with the same number of
//! contacts drawn so that people share contacts as they do in real address books.
//!
//! The model ("communities with shortcuts"), for a user of community `c`:
//!
//! - [`SAME_COMMUNITY_USERS`] of the contacts are other users of `c` (by their
//!   registration e-mail);
//! - [`OTHER_USERS`] are users of any other community: the shortcuts that make the
//!   network small-world;
//! - [`CIRCLE`] are people of `c`'s circle, [`CIRCLE_PER_USER`] non-users per
//!   member (colleagues, friends, family nobody registered): members of a
//!   community share many of them;
//! - the rest are people of the whole world ([`WORLD_PER_USER`] non-users per user),
//!   drawn uniformly, so rarely shared.
//!
//! A share of the users is discoverable. Everything is drawn from the seed, so one
//! seed and shape always give the same network. The ids of users and entries are
//! not part of it: each run makes fresh ones, as the services would.

/// Share of a user's contacts who are users of the same community.
pub const SAME_COMMUNITY_USERS: f64 = 0.15;
/// Share of a user's contacts who are users of other communities.
pub const OTHER_USERS: f64 = 0.05;
/// Share of a user's contacts from the community's circle of non-users.
pub const CIRCLE: f64 = 0.55;
/// Non-users in a community's circle, per member of the community.
pub const CIRCLE_PER_USER: usize = 4;
/// Non-users in the world outside every circle, per user.
pub const WORLD_PER_USER: usize = 20;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Registered users, each with an address book.
    pub users: usize,
    /// Contact entries of each user.
    pub contacts_per_user: usize,
    /// Users per community (the last one may have fewer).
    pub community_users: usize,
    /// Share of the users who are discoverable, in percent.
    pub discoverable_percent: u8,
    /// Seed of every draw.
    pub seed: u64,
}

/// A person of the network: users are `0..users`, then the circles, then the world.
pub type Person = u32;

/// The generated network.
#[derive(Debug, Clone)]
pub struct Network {
    shape: Shape,
    communities: usize,
    circle_people: usize,
    world_people: usize,
    discoverable: Vec<bool>,
    /// `contacts_per_user` persons per user, user after user.
    contacts: Vec<Person>,
}

/// How many of a user's contacts come from each group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Draws {
    same_community: usize,
    other_users: usize,
    circle: usize,
    world: usize,
}

impl Network {
    /// Generates the network of `shape`.
    ///
    /// # Panics
    /// When `users`, `contacts_per_user` or `community_users` is zero, or the
    /// network has more persons than a `u32` numbers.
    pub fn generate(shape: Shape) -> Self {
        assert!(
            shape.users > 0 && shape.contacts_per_user > 0 && shape.community_users > 0,
            "a network needs users, contacts and communities"
        );
        let communities = shape.users.div_ceil(shape.community_users);
        let circle_people = CIRCLE_PER_USER * shape.community_users;
        let world_people = (WORLD_PER_USER * shape.users).max(2 * shape.contacts_per_user);
        let total = shape.users + communities * circle_people + world_people;
        assert!(
            u32::try_from(total).is_ok(),
            "{total} persons do not fit in a u32"
        );
        let mut random = fastrand::Rng::with_seed(shape.seed);
        let discoverable = (0..shape.users)
            .map(|_| random.u8(0..100) < shape.discoverable_percent)
            .collect();
        let mut network = Self {
            shape,
            communities,
            circle_people,
            world_people,
            discoverable,
            contacts: Vec::with_capacity(shape.users * shape.contacts_per_user),
        };
        let mut drawn: Vec<Person> = Vec::with_capacity(shape.contacts_per_user);
        for user in 0..shape.users {
            drawn.clear();
            network.draw_contacts(user, &mut random, &mut drawn);
            debug_assert_eq!(drawn.len(), shape.contacts_per_user);
            network.contacts.extend_from_slice(&drawn);
        }
        network
    }

    /// The shape it was generated from.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// Registered users.
    pub fn users(&self) -> usize {
        self.shape.users
    }

    /// KNOWS edges: every user's contact entries.
    pub fn edges(&self) -> usize {
        self.contacts.len()
    }

    /// The persons `user` has in their address book, in the order of the entries.
    pub fn contacts(&self, user: usize) -> &[Person] {
        let size = self.shape.contacts_per_user;
        &self.contacts[user * size..(user + 1) * size]
    }

    /// Whether `user` is discoverable.
    pub fn is_discoverable(&self, user: usize) -> bool {
        self.discoverable[user]
    }

    /// Whether `person` is a user, and which.
    pub fn as_user(&self, person: Person) -> Option<usize> {
        let index = person as usize;
        (index < self.shape.users).then_some(index)
    }

    /// The community of `user`.
    pub fn community_of(&self, user: usize) -> usize {
        user / self.shape.community_users
    }

    /// Every person's name, e-mail address and other identities.
    pub fn person(&self, person: Person) -> PersonFacts {
        PersonFacts::of(person)
    }

    /// The person facts of `user` (users are the first persons).
    pub fn user_facts(&self, user: usize) -> PersonFacts {
        debug_assert!(user < self.shape.users);
        PersonFacts::of(person_number(user))
    }

    /// The group sizes of one user's draws, so that they add up to
    /// `contacts_per_user` whatever the shape: what a group cannot give comes from
    /// the world.
    fn draws(&self, user: usize) -> Draws {
        let wanted = self.shape.contacts_per_user;
        let share = |fraction: f64| (wanted as f64 * fraction).round() as usize;
        let community = self.community_members(self.community_of(user));
        let same_community = share(SAME_COMMUNITY_USERS).min(community.len() - 1);
        let other_users = share(OTHER_USERS).min(self.shape.users - community.len());
        let circle = share(CIRCLE)
            .min(self.circle_people)
            .min(wanted - same_community - other_users);
        let world = wanted - same_community - other_users - circle;
        Draws {
            same_community,
            other_users,
            circle,
            world,
        }
    }

    fn community_members(&self, community: usize) -> std::ops::Range<usize> {
        let first = community * self.shape.community_users;
        first..(first + self.shape.community_users).min(self.shape.users)
    }

    fn draw_contacts(&self, user: usize, random: &mut fastrand::Rng, drawn: &mut Vec<Person>) {
        let draws = self.draws(user);
        let community = self.community_of(user);
        let members = self.community_members(community);
        let users = self.shape.users;
        let circle_start = users + community * self.circle_people;
        let world_start = users + self.communities * self.circle_people;
        let mut add = |count: usize, draw: &mut dyn FnMut(&mut fastrand::Rng) -> usize| {
            let goal = drawn.len() + count;
            while drawn.len() < goal {
                let person = person_number(draw(random));
                if person as usize != user && !drawn.contains(&person) {
                    drawn.push(person);
                }
            }
        };
        add(draws.same_community, &mut |random| {
            random.usize(members.clone())
        });
        add(draws.other_users, &mut |random| {
            // Uniform over the users outside the community.
            let pick = random.usize(0..users - members.len());
            if pick < members.start {
                pick
            } else {
                pick + members.len()
            }
        });
        add(draws.circle, &mut |random| {
            circle_start + random.usize(0..self.circle_people)
        });
        add(draws.world, &mut |random| {
            world_start + random.usize(0..self.world_people)
        });
        // Address books are not grouped by kind of contact.
        random.shuffle(drawn);
    }

    /// Figures that describe the network, for the report.
    pub fn stats(&self) -> NetworkStats {
        let total = self.shape.users + self.communities * self.circle_people + self.world_people;
        let mut known = vec![false; total];
        let mut user_entries = 0usize;
        for &person in &self.contacts {
            known[person as usize] = true;
            if self.as_user(person).is_some() {
                user_entries += 1;
            }
        }
        let non_users_known = known[self.shape.users..]
            .iter()
            .filter(|known| **known)
            .count();
        let (community_overlap, stranger_overlap) = self.overlaps();
        NetworkStats {
            users: self.shape.users,
            discoverable: self.discoverable.iter().filter(|flag| **flag).count(),
            communities: self.communities,
            edges: self.edges(),
            persons: self.shape.users + non_users_known,
            user_entries,
            community_overlap,
            stranger_overlap,
        }
    }

    /// Mean contacts shared by two users of the same community, and by two users of
    /// different communities, over [`OVERLAP_PAIRS`] pairs each (`None` when the
    /// network has no such pair).
    fn overlaps(&self) -> (Option<f64>, Option<f64>) {
        let mut random = fastrand::Rng::with_seed(self.shape.seed ^ OVERLAP_SEED);
        let users = self.shape.users;
        let sorted = |user: usize| {
            let mut contacts = self.contacts(user).to_vec();
            contacts.sort_unstable();
            contacts
        };
        let mut mean = |same: bool| {
            let mut total = 0usize;
            let mut pairs = 0usize;
            for _ in 0..OVERLAP_PAIRS * 4 {
                if pairs == OVERLAP_PAIRS {
                    break;
                }
                let a = random.usize(0..users);
                let b = random.usize(0..users);
                if a == b || (self.community_of(a) == self.community_of(b)) != same {
                    continue;
                }
                total += shared(&sorted(a), &sorted(b));
                pairs += 1;
            }
            (pairs > 0).then(|| total as f64 / pairs as f64)
        };
        (mean(true), mean(false))
    }
}

/// Mixed into the seed for the pairs the overlaps are measured on ("overlap").
const OVERLAP_SEED: u64 = 0x006f_7665_726c_6170;

/// Pairs sampled for each overlap figure.
pub const OVERLAP_PAIRS: usize = 500;

/// Elements two sorted lists have in common.
fn shared(a: &[Person], b: &[Person]) -> usize {
    let (mut i, mut j, mut common) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common
}

/// What describes a generated network.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkStats {
    /// Registered users.
    pub users: usize,
    /// Of them discoverable.
    pub discoverable: usize,
    /// Communities.
    pub communities: usize,
    /// Contact entries (KNOWS edges).
    pub edges: usize,
    /// Distinct persons: every user and every non-user in someone's contacts (what
    /// the graph's `persons` table holds once every event is applied).
    pub persons: usize,
    /// Entries whose person is a user.
    pub user_entries: usize,
    /// Mean contacts two users of one community share.
    pub community_overlap: Option<f64>,
    /// Mean contacts two users of different communities share.
    pub stranger_overlap: Option<f64>,
}

/// First names the generated people get (ASCII, so e-mail addresses read alike).
const FIRST_NAMES: &[&str] = &[
    "Ada", "Ben", "Chloe", "Dmitri", "Emma", "Fatima", "Hiroshi", "Ines", "Jose", "Kim", "Lea",
    "Liam", "Mateo", "Mia", "Noah", "Olivia", "Priya", "Renee", "Soren", "Wei",
];

/// Last names the generated people get.
const LAST_NAMES: &[&str] = &[
    "Brown", "Chen", "Dubois", "Garcia", "Jones", "Kowalski", "Muller", "Nakamura", "Nguyen",
    "OBrien", "Okafor", "Petrovic", "Rossi", "Singh", "Smith", "Taylor", "Williams", "Yilmaz",
];

/// A person's identities, the same in every address book that has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonFacts {
    pub first_name: &'static str,
    pub last_name: &'static str,
    /// Unique per person; a user's registration address.
    pub email: String,
    /// E.164, unique per person.
    pub phone: String,
    /// A canonical LinkedIn URL, unique per person.
    pub profile_url: String,
}

impl PersonFacts {
    fn of(person: Person) -> Self {
        let index = person as usize;
        let first_name = FIRST_NAMES[index % FIRST_NAMES.len()];
        let last_name = LAST_NAMES[(index / FIRST_NAMES.len()) % LAST_NAMES.len()];
        let (first, last) = (first_name.to_lowercase(), last_name.to_lowercase());
        Self {
            first_name,
            last_name,
            email: format!("{first}.{last}.{person}@people.example"),
            phone: format!("+1555{person:07}"),
            profile_url: format!("linkedin.com/in/{first}-{last}-{person}"),
        }
    }

    /// The name as the person's contacts have it.
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// A person's number (checked by [`Network::generate`] to fit).
fn person_number(index: usize) -> Person {
    Person::try_from(index).unwrap_or(Person::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn shape(users: usize, contacts_per_user: usize) -> Shape {
        Shape {
            users,
            contacts_per_user,
            community_users: 100,
            discoverable_percent: 80,
            seed: 1,
        }
    }

    #[test]
    fn every_user_has_exactly_the_asked_number_of_distinct_contacts_never_themselves() {
        let network = Network::generate(shape(1_000, 200));

        for user in 0..network.users() {
            let contacts = network.contacts(user);
            let distinct: HashSet<Person> = contacts.iter().copied().collect();
            assert_eq!(contacts.len(), 200);
            assert_eq!(distinct.len(), 200, "user {user} has a contact twice");
            assert!(!distinct.contains(&person_number(user)));
        }
        assert_eq!(network.edges(), 200_000);
    }

    #[test]
    fn the_same_seed_gives_the_same_network_and_another_seed_another() {
        let first = Network::generate(shape(300, 50));
        let again = Network::generate(shape(300, 50));
        let other = Network::generate(Shape {
            seed: 2,
            ..shape(300, 50)
        });

        assert_eq!(first.contacts, again.contacts);
        assert_eq!(first.discoverable, again.discoverable);
        assert_ne!(first.contacts, other.contacts);
    }

    #[test]
    fn users_of_one_community_share_many_contacts_and_strangers_few() {
        let network = Network::generate(shape(2_000, 200));

        let stats = network.stats();

        let community = stats.community_overlap.expect("same-community pairs exist");
        let stranger = stats.stranger_overlap.expect("cross-community pairs exist");
        // 110 of a 400-person circle each: ~30 shared, plus ~9 shared members.
        assert!(community > 30.0, "community overlap {community}");
        assert!(stranger < 2.0, "stranger overlap {stranger}");
    }

    #[test]
    fn a_fifth_of_the_entries_are_users_mostly_of_the_same_community() {
        let network = Network::generate(shape(2_000, 200));

        let mut same_community = 0;
        let mut users = 0;
        for user in 0..network.users() {
            for &person in network.contacts(user) {
                if let Some(other) = network.as_user(person) {
                    users += 1;
                    if network.community_of(other) == network.community_of(user) {
                        same_community += 1;
                    }
                }
            }
        }

        assert_eq!(users, network.stats().user_entries);
        assert_eq!(users, 2_000 * 40);
        assert_eq!(same_community, 2_000 * 30);
    }

    #[test]
    fn about_the_asked_share_of_users_is_discoverable() {
        let network = Network::generate(shape(10_000, 5));

        let discoverable = network.stats().discoverable;

        assert!((7_700..=8_300).contains(&discoverable), "{discoverable}");
    }

    #[test]
    fn a_tiny_network_still_gives_everyone_their_contacts() {
        let network = Network::generate(Shape {
            users: 3,
            contacts_per_user: 50,
            community_users: 2,
            discoverable_percent: 100,
            seed: 9,
        });

        for user in 0..3 {
            let distinct: HashSet<Person> = network.contacts(user).iter().copied().collect();
            assert_eq!(distinct.len(), 50);
        }
        assert_eq!(network.stats().discoverable, 3);
    }

    #[test]
    fn persons_have_unique_addresses_phones_and_profiles() {
        let facts: Vec<PersonFacts> = (0..5_000).map(PersonFacts::of).collect();

        let emails: HashSet<&str> = facts.iter().map(|fact| fact.email.as_str()).collect();
        let phones: HashSet<&str> = facts.iter().map(|fact| fact.phone.as_str()).collect();
        let profiles: HashSet<&str> = facts.iter().map(|fact| fact.profile_url.as_str()).collect();
        assert_eq!(emails.len(), 5_000);
        assert_eq!(phones.len(), 5_000);
        assert_eq!(profiles.len(), 5_000);
        assert!(
            facts
                .iter()
                .all(|fact| fact.email == fact.email.to_lowercase())
        );
    }
}
