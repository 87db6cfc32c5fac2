//! What the notifier tells people: the kinds of notification, what each carries,
//! and the channels it can go out on.

use serde::{Deserialize, Serialize};
use six_events::graph::MatchKey;
use uuid::Uuid;

/// A kind of notification; users choose channels per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Sent once, when the account is created.
    Welcome,
    /// An import finished.
    ImportCompleted,
    /// An import stopped with an error.
    ImportFailed,
    /// Someone in the user's contacts created an account.
    ContactJoined,
    /// One of the user's webhook endpoints failed too often and was disabled.
    WebhookDisabled,
    /// The day's e-mails of a user who chose the daily digest, as one message.
    /// Not a kind users choose channels for: it is e-mail, in their digest mode.
    Digest,
}

impl Kind {
    /// Every kind users choose channels for, in the order preferences list them.
    pub const ALL: [Kind; 5] = [
        Kind::Welcome,
        Kind::ImportCompleted,
        Kind::ImportFailed,
        Kind::ContactJoined,
        Kind::WebhookDisabled,
    ];

    /// The name used in the database, the API and unsubscribe links.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Welcome => "welcome",
            Kind::ImportCompleted => "import_completed",
            Kind::ImportFailed => "import_failed",
            Kind::ContactJoined => "contact_joined",
            Kind::WebhookDisabled => "webhook_disabled",
            Kind::Digest => "digest",
        }
    }

    /// The kind named `name`, if there is one users choose channels for.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// Where a notification can go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// An e-mail to the address the user registered with.
    Email,
    /// An entry in the user's inbox in the app.
    InApp,
    /// A signed HTTP call to each of the user's endpoints registered for the kind.
    Webhook,
}

impl Channel {
    /// Every channel: what a kind without a preference goes out on.
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::InApp, Channel::Webhook];

    /// The name used in the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::InApp => "in_app",
            Channel::Webhook => "webhook",
        }
    }

    /// The channel named `name`, if there is one.
    pub fn parse(name: &str) -> Option<Channel> {
        Channel::ALL
            .into_iter()
            .find(|channel| channel.as_str() == name)
    }
}

/// One notification's facts: what the wording (`crate::messages`) needs, stored
/// with the notification so that a message sent later says what happened then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    Welcome {
        display_name: String,
    },
    ImportCompleted {
        import_id: Uuid,
        rows_read: u64,
        contacts_accepted: u64,
        rows_rejected: u64,
        duplicates: u64,
    },
    ImportFailed {
        import_id: Uuid,
        reason: String,
        rows_read: u64,
    },
    ContactJoined {
        joined_user_id: Uuid,
        display_name: String,
        matched_by: MatchKey,
    },
    WebhookDisabled {
        endpoint_id: Uuid,
        url: String,
        consecutive_failures: i32,
        last_error: String,
    },
    Digest {
        /// The user's local day it was sent on.
        local_date: chrono::NaiveDate,
        /// What the held e-mails would have said, oldest first.
        notices: Vec<Notice>,
    },
}

impl Notice {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Notice::Welcome { .. } => Kind::Welcome,
            Notice::ImportCompleted { .. } => Kind::ImportCompleted,
            Notice::ImportFailed { .. } => Kind::ImportFailed,
            Notice::ContactJoined { .. } => Kind::ContactJoined,
            Notice::WebhookDisabled { .. } => Kind::WebhookDisabled,
            Notice::Digest { .. } => Kind::Digest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_channels_read_back_from_their_names() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        for channel in Channel::ALL {
            assert_eq!(Channel::parse(channel.as_str()), Some(channel));
        }
        assert_eq!(Kind::parse("birthday"), None);
        assert_eq!(
            Kind::parse(Kind::Digest.as_str()),
            None,
            "not a kind to choose channels for"
        );
        assert_eq!(Channel::parse("sms"), None);
    }

    #[test]
    fn a_notice_is_stored_with_its_kind_as_the_tag() {
        let notice = Notice::Welcome {
            display_name: "Ada".to_owned(),
        };
        let stored = serde_json::to_value(&notice).unwrap();
        assert_eq!(stored["kind"], notice.kind().as_str());
        assert_eq!(serde_json::from_value::<Notice>(stored).unwrap(), notice);
    }
}
