//! What the index holds: one document per contact (seen by its owner only) and
//! one per discoverable profile (seen by everyone).

use serde::{Deserialize, Serialize};
use six_events::{api::ProfileUpdated, importer::ImportedContact};
use uuid::Uuid;

/// Whom a document is about, and so who may see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Subject {
    /// An entry of `owner_id`'s address book: only `owner_id` sees it.
    Contact { contact_id: Uuid, owner_id: Uuid },
    /// A discoverable user's profile: everyone sees it.
    Profile { user_id: Uuid },
}

impl Subject {
    /// The document's identity: a later document with the same key replaces it.
    pub fn key(&self) -> DocumentKey {
        match *self {
            Subject::Contact { contact_id, .. } => DocumentKey::Contact(contact_id),
            Subject::Profile { user_id } => DocumentKey::Profile(user_id),
        }
    }

    /// Who may see it, as every backend indexes it: the owner's id, or
    /// [`EVERYONE`].
    pub fn visible_to(&self) -> String {
        match *self {
            Subject::Contact { owner_id, .. } => owner_id.to_string(),
            Subject::Profile { .. } => EVERYONE.to_owned(),
        }
    }
}

/// `visible_to` of the documents everyone may see (never a user id).
pub const EVERYONE: &str = "everyone";

/// A document's identity, and the last criterion of the ranking: documents of
/// equal score are ordered by their key (id, then kind), so every order is total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DocumentKey {
    Contact(Uuid),
    Profile(Uuid),
}

impl DocumentKey {
    /// The id and the kind (0 contact, 1 profile), in ranking order.
    pub fn sort_value(&self) -> (u128, u8) {
        match *self {
            DocumentKey::Contact(id) => (id.as_u128(), 0),
            DocumentKey::Profile(id) => (id.as_u128(), 1),
        }
    }

    /// The key as backends store it: `c:<contact id>` or `p:<user id>`.
    pub fn stored_id(&self) -> String {
        match *self {
            DocumentKey::Contact(id) => format!("c:{id}"),
            DocumentKey::Profile(id) => format!("p:{id}"),
        }
    }

    /// The key from its sort value.
    pub fn from_sort_value(id: u128, kind: u8) -> Option<Self> {
        match kind {
            0 => Some(DocumentKey::Contact(Uuid::from_u128(id))),
            1 => Some(DocumentKey::Profile(Uuid::from_u128(id))),
            _ => None,
        }
    }
}

/// One searchable person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    #[serde(flatten)]
    pub subject: Subject,
    /// The name shown, never empty.
    pub full_name: String,
    /// Other names the person is found by (given and family name, when the
    /// address book has them apart).
    pub other_names: Vec<String>,
    pub emails: Vec<String>,
    pub company: Option<String>,
    /// The job title, or a profile's headline.
    pub title: Option<String>,
    pub location: Option<String>,
}

impl Document {
    /// The document of `owner_id`'s contact.
    pub fn of_contact(owner_id: Uuid, contact: &ImportedContact) -> Self {
        Self {
            subject: Subject::Contact {
                contact_id: contact.contact_id,
                owner_id,
            },
            full_name: contact.full_name.clone(),
            other_names: contact
                .first_name
                .iter()
                .chain(&contact.last_name)
                .cloned()
                .collect(),
            emails: contact.emails.clone(),
            company: contact.company.clone(),
            title: contact.title.clone(),
            location: contact.location.clone(),
        }
    }

    /// The document of a discoverable user's profile.
    pub fn of_profile(profile: &ProfileUpdated) -> Self {
        Self::profile(
            profile.user_id,
            profile.display_name.clone(),
            profile.headline.clone(),
        )
    }

    /// The document of a discoverable user's profile, from its parts as the
    /// projection keeps them.
    pub fn profile(user_id: Uuid, display_name: String, headline: Option<String>) -> Self {
        Self {
            subject: Subject::Profile { user_id },
            full_name: display_name,
            other_names: Vec::new(),
            emails: Vec::new(),
            company: None,
            title: headline,
            location: None,
        }
    }

    /// The values of `field`, as searched and highlighted.
    pub fn values(&self, field: Field) -> Vec<&str> {
        match field {
            Field::Name => std::iter::once(self.full_name.as_str())
                .chain(self.other_names.iter().map(String::as_str))
                .collect(),
            Field::Email => self.emails.iter().map(String::as_str).collect(),
            Field::Title => self.title.as_deref().into_iter().collect(),
            Field::Company => self.company.as_deref().into_iter().collect(),
            Field::Location => self.location.as_deref().into_iter().collect(),
        }
    }
}

/// A searched field, with its weight in the ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Name,
    Email,
    Title,
    Company,
    Location,
}

impl Field {
    /// Every searched field, in declaration order (so `field as usize` is its
    /// place here).
    pub const ALL: [Field; 5] = [
        Field::Name,
        Field::Email,
        Field::Title,
        Field::Company,
        Field::Location,
    ];

    /// The field's name in the index and in answers.
    pub fn name(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Email => "email",
            Field::Title => "title",
            Field::Company => "company",
            Field::Location => "location",
        }
    }

    /// How much a match in this field counts: a name above everything, a place
    /// least.
    pub fn weight(self) -> f32 {
        match self {
            Field::Name => 4.0,
            Field::Email => 3.0,
            Field::Title | Field::Company => 2.0,
            Field::Location => 1.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Field;

    #[test]
    fn every_field_is_listed_at_its_declaration_place() {
        for (place, field) in Field::ALL.into_iter().enumerate() {
            assert_eq!(field as usize, place, "{field:?}");
        }
    }
}
