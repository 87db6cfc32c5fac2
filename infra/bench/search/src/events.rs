//! The events that fill the index, as the services that own them publish them:
//! each address book as one import job's `importer.contacts.imported.v1` batches of
//! at most `--batch-contacts` contacts, and an `api.profile.updated.v1` for every
//! owner with a discoverable profile. Owners and contacts get fresh UUIDv7s each run
//! ([`Ids`]), as the importer and auth assign them.

use chrono::Utc;
use six_events::{
    Envelope,
    api::ProfileUpdated,
    importer::{ContactsImported, ImportedContact},
};
use uuid::Uuid;

use crate::people::{AddressBooks, Contact};

/// The ids of one run: every owner's user id and every contact's id.
#[derive(Debug, Clone)]
pub struct Ids {
    owners: Vec<Uuid>,
    /// `contacts_per_owner` per owner, owner after owner, as in the books.
    contacts: Vec<Uuid>,
    contacts_per_owner: usize,
}

impl Ids {
    /// New ids for every owner and contact of `books`.
    pub fn new(books: &AddressBooks) -> Self {
        Self {
            owners: (0..books.owners()).map(|_| Uuid::now_v7()).collect(),
            contacts: (0..books.total_contacts())
                .map(|_| Uuid::now_v7())
                .collect(),
            contacts_per_owner: books.shape().contacts_per_owner,
        }
    }

    /// `owner`'s user id.
    pub fn owner(&self, owner: usize) -> Uuid {
        self.owners[owner]
    }

    /// The id of `owner`'s contact number `index` in their book.
    pub fn contact(&self, owner: usize, index: usize) -> Uuid {
        self.contacts[owner * self.contacts_per_owner + index]
    }
}

/// How many events and documents the books make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCounts {
    /// `api.profile.updated.v1`, one per discoverable owner.
    pub profiles: usize,
    /// `importer.contacts.imported.v1`.
    pub batches: usize,
    /// Contacts in the batches: a document each.
    pub contacts: usize,
}

impl EventCounts {
    /// The events of `books` with batches of at most `batch_contacts` contacts.
    pub fn of(books: &AddressBooks, batch_contacts: usize) -> Self {
        let per_owner = books.shape().contacts_per_owner;
        Self {
            profiles: books.discoverable(),
            batches: books.owners() * per_owner.div_ceil(batch_contacts.max(1)),
            contacts: books.total_contacts(),
        }
    }

    /// Every event.
    pub fn total(&self) -> usize {
        self.profiles + self.batches
    }

    /// Documents the index holds once every event is applied: one per contact and
    /// one per discoverable profile.
    pub fn documents(&self) -> usize {
        self.contacts + self.profiles
    }
}

/// `owner`'s discoverable profile; `None` for an owner without one.
pub fn profile(books: &AddressBooks, ids: &Ids, owner: usize) -> Option<Envelope<ProfileUpdated>> {
    let user = books.owner(owner);
    user.discoverable.then(|| {
        Envelope::new(ProfileUpdated {
            user_id: ids.owner(owner),
            display_name: user.full_name(),
            headline: Some(user.headline()),
            discoverable: true,
            updated_at: Utc::now(),
        })
    })
}

/// `owner`'s address book as one import job's batches of at most `batch_contacts`
/// contacts, numbered from 0.
pub fn contact_batches(
    books: &AddressBooks,
    ids: &Ids,
    owner: usize,
    batch_contacts: usize,
) -> Vec<Envelope<ContactsImported>> {
    let import_id = Uuid::now_v7();
    let owner_id = ids.owner(owner);
    let contacts: Vec<ImportedContact> = books
        .contacts(owner)
        .iter()
        .enumerate()
        .map(|(index, contact)| imported(contact, ids.contact(owner, index)))
        .collect();
    contacts
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

/// A contact as the importer publishes it.
fn imported(contact: &Contact, contact_id: Uuid) -> ImportedContact {
    let profile_url = contact.profile_url.then(|| {
        format!(
            "https://www.linkedin.com/in/{}-{}",
            contact.first_name().to_lowercase().replace(' ', "-"),
            contact_id.simple()
        )
    });
    ImportedContact {
        contact_id,
        full_name: contact.full_name(),
        first_name: Some(contact.first_name().to_owned()),
        last_name: Some(contact.last_name().to_owned()),
        emails: contact.email().into_iter().collect(),
        phones: contact.phone().into_iter().collect(),
        company: contact.company().map(str::to_owned),
        title: contact.title().map(str::to_owned),
        location: contact.location().map(str::to_owned),
        profile_url,
        connected_on: contact.connected_on(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::people::Shape;

    fn books(contacts_per_owner: usize) -> AddressBooks {
        AddressBooks::generate(Shape {
            owners: 30,
            contacts_per_owner,
            discoverable_percent: 50,
            seed: 5,
        })
    }

    #[test]
    fn a_book_is_cut_into_numbered_batches_of_the_asked_size() {
        let books = books(45);
        let ids = Ids::new(&books);

        let batches = contact_batches(&books, &ids, 3, 20);

        let sizes: Vec<usize> = batches.iter().map(|b| b.data().contacts.len()).collect();
        let seqs: Vec<u32> = batches.iter().map(|b| b.data().batch_seq).collect();
        assert_eq!(sizes, vec![20, 20, 5]);
        assert_eq!(seqs, vec![0, 1, 2]);
        assert!(batches.iter().all(|b| b.data().owner_id == ids.owner(3)));
        assert_eq!(EventCounts::of(&books, 20).batches, 30 * 3);
    }

    #[test]
    fn each_contact_keeps_its_id_and_text() {
        let books = books(10);
        let ids = Ids::new(&books);

        let batches = contact_batches(&books, &ids, 4, 200);

        let published = &batches[0].data().contacts;
        for (index, (contact, source)) in published.iter().zip(books.contacts(4)).enumerate() {
            assert_eq!(contact.contact_id, ids.contact(4, index));
            assert_eq!(contact.full_name, source.full_name());
            assert_eq!(contact.company.as_deref(), source.company());
        }
    }

    #[test]
    fn only_discoverable_owners_publish_a_profile() {
        let books = books(5);
        let ids = Ids::new(&books);

        let profiles = (0..books.owners())
            .filter_map(|owner| profile(&books, &ids, owner))
            .count();

        assert_eq!(profiles, books.discoverable());
        let counts = EventCounts::of(&books, 200);
        assert_eq!(counts.profiles, profiles);
        assert_eq!(counts.documents(), 30 * 5 + profiles);
    }
}
