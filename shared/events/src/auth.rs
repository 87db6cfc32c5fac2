//! Events published by the `auth` service (source `/six-degrees/auth`): accounts
//! coming and going.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::EventData;

/// The `source` of every event of this module.
pub const SOURCE: &str = "/six-degrees/auth";

/// A person created an account. Consumers: graph (creates or links the person, may
/// emit `graph.contact.joined.v1`), notifier (welcome e-mail), api (profile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserRegistered {
    /// The new account's id; the subject of the event.
    pub user_id: Uuid,
    /// The account's e-mail address, normalised (trimmed, lowercase domain) as auth
    /// stores it.
    pub email: String,
    /// The name the person chose to be shown under.
    pub display_name: String,
    /// When the account was created.
    pub registered_at: DateTime<Utc>,
}

impl EventData for UserRegistered {
    const TYPE: &'static str = "auth.user.registered.v1";
    const SOURCE: &'static str = SOURCE;

    fn subject(&self) -> Option<String> {
        Some(self.user_id.to_string())
    }
}

/// A person deleted their account. Every service erases what it holds about this
/// user, including the contacts they imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct UserDeleted {
    /// The deleted account's id; the subject of the event.
    pub user_id: Uuid,
    /// When the account was deleted.
    pub deleted_at: DateTime<Utc>,
}

impl EventData for UserDeleted {
    const TYPE: &'static str = "auth.user.deleted.v1";
    const SOURCE: &'static str = SOURCE;

    fn subject(&self) -> Option<String> {
        Some(self.user_id.to_string())
    }
}
