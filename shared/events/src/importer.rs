//! Events published by the `importer` service (source `/six-degrees/importer`): the
//! life of one import job, from start to completion or failure, with its contacts in
//! between.
//!
//! Every event of a job has the job's `import_id` as subject, so they are published
//! in order: `started`, then `contacts.imported` batches by increasing `batch_seq`,
//! then exactly one of `completed` or `failed`.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::EventData;

/// The `source` of every event of this module.
pub const SOURCE: &str = "/six-degrees/importer";

/// An import job started reading its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImportStarted {
    /// The import job; the subject of the event.
    pub import_id: Uuid,
    /// The user who owns the imported contacts.
    pub owner_id: Uuid,
    /// The kind of export being read.
    pub format: ImportFormat,
    /// What started the job.
    pub origin: ImportOrigin,
    /// The uploaded file's name as the user's browser sent it, if any.
    pub file_name: Option<String>,
    /// When the job started.
    pub started_at: DateTime<Utc>,
}

impl EventData for ImportStarted {
    const TYPE: &'static str = "importer.import.started.v1";
    const SOURCE: &'static str = SOURCE;

    fn subject(&self) -> Option<String> {
        Some(self.import_id.to_string())
    }
}

/// The kind of contacts export a file is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImportFormat {
    /// LinkedIn's `Connections.csv`.
    Linkedin,
    /// A Google Contacts CSV export.
    Google,
    /// An Outlook contacts CSV export.
    Outlook,
    /// Any CSV, read with a column mapping the user supplied.
    Generic,
}

/// What started an import job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImportOrigin {
    /// The user uploaded a file.
    Upload,
    /// A scheduled import the user set up ran.
    Schedule,
}

/// One batch of contacts accepted by an import job, in file order. Consumers: graph
/// (persons and KNOWS edges), search (documents). Both upsert by `contact_id`, so a
/// batch handled twice changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContactsImported {
    /// The import job; the subject of the event.
    pub import_id: Uuid,
    /// The user who owns these contacts; only they may ever see them.
    pub owner_id: Uuid,
    /// The batch's number within the job, from 0, without gaps.
    pub batch_seq: u32,
    /// The contacts of this batch, validated and normalised.
    pub contacts: Vec<ImportedContact>,
}

impl EventData for ContactsImported {
    const TYPE: &'static str = "importer.contacts.imported.v1";
    const SOURCE: &'static str = SOURCE;

    fn subject(&self) -> Option<String> {
        Some(self.import_id.to_string())
    }
}

/// One contact from a user's address book, as accepted by the importer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImportedContact {
    /// The contact's id, assigned by the importer; consumers upsert by it.
    pub contact_id: Uuid,
    /// The full name as it should be displayed, never empty.
    pub full_name: String,
    /// The given name, when the file has it.
    pub first_name: Option<String>,
    /// The family name, when the file has it.
    pub last_name: Option<String>,
    /// E-mail addresses, normalised (trimmed, lowercase, IDN domains in punycode),
    /// no duplicates.
    pub emails: Vec<String>,
    /// Phone numbers in E.164 form (`+447700900123`), no duplicates.
    pub phones: Vec<String>,
    /// The employer, when known.
    pub company: Option<String>,
    /// The job title, when known.
    pub title: Option<String>,
    /// Where the contact lives or works, free text, when known.
    pub location: Option<String>,
    /// The contact's profile URL (e.g. LinkedIn), normalised, when known.
    pub profile_url: Option<String>,
    /// When the owner connected with this contact (a calendar date), when known.
    pub connected_on: Option<NaiveDate>,
}

/// One page of every owner's contacts, as the importer's
/// `GET /internal/contacts?after=&limit=` answers it (service tokens only). Not an
/// event: the source of truth a consumer rebuilds its projection from (search's
/// reindex), in the shape the events carry contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContactExportPage {
    /// In `contact_id` order (ids grow with time).
    pub contacts: Vec<OwnedContact>,
    /// The `after` of the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Uuid>,
}

/// A contact with its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OwnedContact {
    /// The user who owns the contact; only they may ever see it.
    pub owner_id: Uuid,
    /// The contact as `importer.contacts.imported.v1` carries it.
    pub contact: ImportedContact,
}

/// An import job finished: every row was read and every accepted contact published.
/// Consumer: notifier (summary e-mail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImportCompleted {
    /// The import job; the subject of the event.
    pub import_id: Uuid,
    /// The user who owns the imported contacts.
    pub owner_id: Uuid,
    /// Data rows read from the file (header excluded).
    pub rows_read: u64,
    /// Contacts published in `importer.contacts.imported.v1` batches.
    pub contacts_accepted: u64,
    /// Rows refused by validation; listed with line numbers in the job's rejects report.
    pub rows_rejected: u64,
    /// Rows that repeated a contact already seen in this file.
    pub duplicates: u64,
    /// Bytes read from the uploaded file (compressed size if it was compressed).
    pub bytes_read: u64,
    /// Wall-clock duration of the job, in milliseconds.
    pub duration_ms: u64,
    /// When the job finished.
    pub completed_at: DateTime<Utc>,
}

impl EventData for ImportCompleted {
    const TYPE: &'static str = "importer.import.completed.v1";
    const SOURCE: &'static str = SOURCE;

    fn subject(&self) -> Option<String> {
        Some(self.import_id.to_string())
    }
}

/// An import job stopped before the end of its file (unreadable file, unknown
/// encoding, storage failure...). Batches published before the failure stay valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ImportFailed {
    /// The import job; the subject of the event.
    pub import_id: Uuid,
    /// The user who owns the imported contacts.
    pub owner_id: Uuid,
    /// Why the job failed, in words fit to show the user.
    pub reason: String,
    /// Data rows read before the failure.
    pub rows_read: u64,
    /// When the job failed.
    pub failed_at: DateTime<Utc>,
}

impl EventData for ImportFailed {
    const TYPE: &'static str = "importer.import.failed.v1";
    const SOURCE: &'static str = SOURCE;

    fn subject(&self) -> Option<String> {
        Some(self.import_id.to_string())
    }
}

/// The owner deleted one of their contacts. Consumers (graph, search) remove it.
/// The subject is the import that brought the contact in, so this event is
/// published after that import's batches, never before the batch that created it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContactDeleted {
    /// The import that brought the contact in; the subject of the event.
    pub import_id: Uuid,
    /// The owner of the contact.
    pub owner_id: Uuid,
    /// The deleted contact, as in its `importer.contacts.imported.v1` batch.
    pub contact_id: Uuid,
    /// When it was deleted.
    pub deleted_at: DateTime<Utc>,
}

impl EventData for ContactDeleted {
    const TYPE: &'static str = "importer.contact.deleted.v1";
    const SOURCE: &'static str = SOURCE;

    fn subject(&self) -> Option<String> {
        Some(self.import_id.to_string())
    }
}
