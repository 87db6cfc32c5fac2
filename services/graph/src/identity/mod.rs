//! Identity: the keys that recognise a person (this module) and which person each
//! key names, derived from the evidence the graph holds ([`settle`]).
//!
//! Keys are the normalised e-mail addresses, the canonical profile URL and the
//! E.164 phone numbers of an entry, in that order; each key names at most one
//! person. Both stores run the same [`settle`], so they resolve the same way; the
//! rules are in its module and in `docs/graph.md`.

mod settle;

use six_events::importer::ImportedContact;

pub use settle::{
    Evidence, KeyFacts, NamedPerson, Settlement, seeds_of_entry, seeds_of_new_entries, settle,
    settle_new_entries,
};

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

#[cfg(test)]
mod tests {
    use super::*;

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
