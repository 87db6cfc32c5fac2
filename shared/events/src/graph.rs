//! Events published by the `graph` service (source `/six-degrees/graph`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::EventData;

/// The `source` of every event of this module.
pub const SOURCE: &str = "/six-degrees/graph";

/// Someone in a user's contacts just created an account: "your contact joined".
///
/// Derived from `auth.user.registered.v1`, one event per owner whose contacts match
/// the new user, built with [`Envelope::derived_from`](crate::Envelope::derived_from)
/// with the owner's id (`owner_id.to_string()`) as discriminator: handling the same registration twice never
/// notifies an owner twice. Consumer: notifier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContactJoined {
    /// The user whose imported contacts contain the new user: the recipient of the
    /// notification, and the subject of the event.
    pub owner_id: Uuid,
    /// The account that was just created.
    pub joined_user_id: Uuid,
    /// The graph's person the owner's contact was resolved to (now linked to the new
    /// account).
    pub person_id: Uuid,
    /// The new user's display name, as they registered it.
    pub display_name: String,
    /// Which identifier of the owner's contact matched the new account.
    pub matched_by: MatchKey,
}

/// An identifier the graph uses to recognise the same person across address books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchKey {
    /// The normalised e-mail address.
    Email,
    /// The phone number in E.164 form.
    Phone,
    /// The normalised profile URL (e.g. a LinkedIn profile).
    ProfileUrl,
}

impl EventData for ContactJoined {
    const TYPE: &'static str = "graph.contact.joined.v1";
    const SOURCE: &'static str = SOURCE;

    fn subject(&self) -> Option<String> {
        Some(self.owner_id.to_string())
    }
}
