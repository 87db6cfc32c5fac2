//! Events published by the `api` service (source `/six-degrees/api`): profiles and
//! privacy settings.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::EventData;

/// The `source` of every event of this module.
pub const SOURCE: &str = "/six-degrees/api";

/// A user's public profile or privacy setting changed. Carries the whole new state,
/// not a diff, so a consumer that missed earlier updates is still right after this
/// one. Consumers: graph (whether paths may cross this user's network), search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProfileUpdated {
    /// The user whose profile changed; the subject of the event.
    pub user_id: Uuid,
    /// The name the user is shown under.
    pub display_name: String,
    /// A one-line description ("Data engineer at Acme"), if the user wrote one.
    pub headline: Option<String>,
    /// Whether other users' paths may go through this user's network. `false` means
    /// nothing of this user's contacts may shape anyone else's results.
    pub discoverable: bool,
    /// When the change was saved; consumers ignore an update older than the one they
    /// hold.
    pub updated_at: DateTime<Utc>,
}

impl EventData for ProfileUpdated {
    const TYPE: &'static str = "api.profile.updated.v1";
    const SOURCE: &'static str = SOURCE;

    fn subject(&self) -> Option<String> {
        Some(self.user_id.to_string())
    }
}
