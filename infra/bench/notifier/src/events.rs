//! The events that make the notifier send, as the services that own them publish
//! them: auth's `auth.user.registered.v1` (a welcome e-mail to the new user) and
//! the graph's `graph.contact.joined.v1` (a note to the owner of the contact, by
//! webhook in this benchmark). Each carries a key of its own, which comes back in
//! what the notifier sends: a user's key is the local part of their address, so
//! the SMTP sink reads it from the envelope's recipient; a contact's key is their
//! display name, which the webhook call's `data.details.display_name` repeats.

use chrono::Utc;
use six_events::{
    Envelope,
    auth::UserRegistered,
    graph::{ContactJoined, MatchKey},
};
use uuid::Uuid;

/// The domain of every benchmark user's address.
pub const MAIL_DOMAIN: &str = "bench.six-degrees.test";

/// A user of one phase: the id auth would give them and the key of their welcome
/// e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The account's id.
    pub user_id: Uuid,
    /// Unique in the phase: `<prefix><number>`.
    pub key: String,
}

impl User {
    /// User `number` of a group named by `prefix` (`e` for the e-mail phase...),
    /// with a fresh UUIDv7, as auth assigns them.
    pub fn new(prefix: &str, number: usize) -> Self {
        Self {
            user_id: Uuid::now_v7(),
            key: format!("{prefix}{number}"),
        }
    }

    /// `count` users of the group `prefix`, numbered from `first`.
    pub fn group(prefix: &str, first: usize, count: usize) -> Vec<Self> {
        (first..first + count)
            .map(|number| Self::new(prefix, number))
            .collect()
    }

    /// Their address, where the welcome goes: `<key>@bench.six-degrees.test`.
    pub fn address(&self) -> String {
        address_of(&self.key)
    }

    /// Their registration, as auth publishes it.
    pub fn registration(&self) -> Envelope<UserRegistered> {
        Envelope::new(UserRegistered {
            user_id: self.user_id,
            email: self.address(),
            display_name: format!("Bench user {}", self.key),
            registered_at: Utc::now(),
        })
    }
}

/// The address of the user with `key`.
pub fn address_of(key: &str) -> String {
    format!("{key}@{MAIL_DOMAIN}")
}

/// The key of a recipient address the benchmark made (`None` for any other).
pub fn key_of_address(address: &str) -> Option<&str> {
    let (key, domain) = address.rsplit_once('@')?;
    domain.eq_ignore_ascii_case(MAIL_DOMAIN).then_some(key)
}

/// The key of contact `number`: their display name.
pub fn contact_key(number: usize) -> String {
    format!("c{number}")
}

/// Contact `number`, in `owner`'s address book, just joined: the graph's event.
pub fn contact_joined(owner: &User, number: usize) -> Envelope<ContactJoined> {
    Envelope::new(ContactJoined {
        owner_id: owner.user_id,
        joined_user_id: Uuid::now_v7(),
        person_id: Uuid::now_v7(),
        display_name: contact_key(number),
        matched_by: MatchKey::Email,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_key_comes_back_from_their_address() {
        let user = User::new("e", 42);

        let registration = user.registration();

        assert_eq!(registration.data().email, "e42@bench.six-degrees.test");
        assert_eq!(key_of_address(&registration.data().email), Some("e42"));
        assert_eq!(key_of_address("e42@example.org"), None);
        assert_eq!(key_of_address("no address"), None);
    }

    #[test]
    fn a_group_has_distinct_keys_and_ids() {
        let users = User::group("w", 10, 3);

        let keys: Vec<&str> = users.iter().map(|user| user.key.as_str()).collect();
        assert_eq!(keys, ["w10", "w11", "w12"]);
        assert_ne!(users[0].user_id, users[1].user_id);
    }

    #[test]
    fn a_contact_who_joined_is_named_by_its_key_and_goes_to_the_owner() {
        let owner = User::new("w", 0);

        let joined = contact_joined(&owner, 7);

        assert_eq!(joined.data().owner_id, owner.user_id);
        assert_eq!(joined.data().display_name, "c7");
    }
}
