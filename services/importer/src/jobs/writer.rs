//! Committing one chunk: its new contacts, their identities, its rejects, the
//! job's counters and the `importer.contacts.imported.v1` batch, in one
//! transaction, so a crash loses or repeats nothing.
//!
//! The owner's chunks are serialised by a transaction-level advisory lock on the
//! owner, so two imports of the same person cannot both add a contact.

use std::collections::HashSet;

use six_events::{
    Envelope,
    importer::{ContactsImported, ImportedContact},
};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::{
    copy_text::CopyText,
    pipeline::{Chunk, Reject},
};
use crate::rows::ContactFields;

/// What committing a chunk found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// Committed.
    Committed,
    /// The owner asked the job to stop; nothing of the chunk was written.
    CancelRequested,
}

/// How a chunk tells the contacts its owner already has (from earlier chunks or
/// imports) from new ones. A job starts optimistic and turns to looking up for
/// its remaining chunks once a chunk finds a taken identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateCheck {
    /// Insert the identities straight away, under a savepoint: the primary key
    /// refuses one that is taken, and the chunk is then written again after a
    /// lookup. When nothing is taken, as in a first import, each identity costs
    /// one index descent instead of two (a fifth of the chunk's database time,
    /// infra/bench/importer).
    Optimistic,
    /// Look every identity up before inserting.
    LookUp,
}

/// A chunk made ready for writing on the reading thread, so that the database
/// transaction only sends: contact ids and identities assigned, rows repeating
/// an earlier row of the chunk set aside, and `COPY` rows built for the rest.
pub struct PreparedChunk {
    import_id: Uuid,
    owner_id: Uuid,
    /// Data rows of the chunk.
    rows: u64,
    /// Rows with the identity of an earlier row of the chunk.
    repeated: usize,
    candidates: Vec<NewContact>,
    contact_rows: CopyText,
    identity_rows: CopyText,
    rejects: Vec<Reject>,
}

impl PreparedChunk {
    /// Prepares `chunk` of job `import_id`, owned by `owner_id`.
    pub fn new(import_id: Uuid, owner_id: Uuid, chunk: Chunk) -> Self {
        let with_contacts = chunk.contacts.len();
        let candidates = NewContact::first_of_each(chunk.contacts);
        Self {
            import_id,
            owner_id,
            rows: chunk.rows,
            repeated: with_contacts - candidates.len(),
            contact_rows: contact_copy_rows(import_id, owner_id, &candidates),
            identity_rows: identity_copy_rows(owner_id, &candidates),
            candidates,
            rejects: chunk.rejects,
        }
    }
}

/// Writes `chunk` within `transaction` (committed by the caller), checking for
/// duplicates as `check` says and turning it to [`DuplicateCheck::LookUp`] when
/// the optimistic insert finds a taken identity.
pub async fn write_chunk(
    transaction: &mut PgConnection,
    chunk: PreparedChunk,
    check: &mut DuplicateCheck,
) -> Result<ChunkOutcome, WriteError> {
    let PreparedChunk {
        import_id,
        owner_id,
        rows,
        repeated,
        candidates,
        contact_rows,
        identity_rows,
        rejects,
    } = chunk;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0))")
        .bind(owner_id)
        .execute(&mut *transaction)
        .await?;
    let (cancel_requested, batch_seq): (bool, i32) = sqlx::query_as(
        "SELECT cancel_requested, batches_committed FROM import_jobs WHERE import_id = $1 FOR UPDATE",
    )
    .bind(import_id)
    .fetch_one(&mut *transaction)
    .await?;
    if cancel_requested {
        return Ok(ChunkOutcome::CancelRequested);
    }

    let candidate_count = candidates.len();
    let (accepted, contact_rows) =
        match insert_identities(transaction, check, candidates, identity_rows).await? {
            Inserted::All(accepted) => (accepted, contact_rows),
            Inserted::NoneSomeAreTaken(candidates) => {
                *check = DuplicateCheck::LookUp;
                let accepted = without_taken(transaction, owner_id, candidates).await?;
                identity_copy_rows(owner_id, &accepted)
                    .copy_into(transaction, COPY_IDENTITIES)
                    .await?;
                let contact_rows = if accepted.len() == candidate_count {
                    contact_rows
                } else {
                    contact_copy_rows(import_id, owner_id, &accepted)
                };
                (accepted, contact_rows)
            }
        };
    contact_rows.copy_into(transaction, COPY_CONTACTS).await?;
    insert_rejects(transaction, import_id, &rejects).await?;

    let duplicates = (repeated + candidate_count - accepted.len()) as i64;
    let has_batch = !accepted.is_empty();
    sqlx::query(
        "UPDATE import_jobs SET rows_read = rows_read + $2, contacts_accepted = contacts_accepted + $3, \
             rows_rejected = rows_rejected + $4, duplicates = duplicates + $5, \
             batches_committed = batches_committed + $6 \
         WHERE import_id = $1",
    )
    .bind(import_id)
    .bind(rows as i64)
    .bind(accepted.len() as i64)
    .bind(rejects.len() as i64)
    .bind(duplicates)
    .bind(i32::from(has_batch))
    .execute(&mut *transaction)
    .await?;
    if has_batch {
        six_bus::publish(
            transaction,
            Envelope::new(ContactsImported {
                import_id,
                owner_id,
                batch_seq: u32::try_from(batch_seq).unwrap_or_default(),
                contacts: accepted.into_iter().map(|new| new.contact).collect(),
            }),
        )
        .await?;
    }
    Ok(ChunkOutcome::Committed)
}

/// A row that may become a contact, with its id and identities.
struct NewContact {
    contact: ImportedContact,
    identities: Vec<String>,
}

impl NewContact {
    /// The rows of a chunk, without those that repeat an earlier row of it.
    fn first_of_each(contacts: Vec<ContactFields>) -> Vec<Self> {
        let mut seen = HashSet::new();
        let mut first = Vec::with_capacity(contacts.len());
        for contact in contacts {
            let identities = contact.identities();
            if identities.iter().any(|identity| seen.contains(identity)) {
                continue;
            }
            seen.extend(identities.iter().cloned());
            first.push(Self {
                contact: contact.into_imported(Uuid::now_v7()),
                identities,
            });
        }
        first
    }
}

/// What the optimistic insert of identities did.
enum Inserted {
    /// Every candidate's identities are in: all are new contacts.
    All(Vec<NewContact>),
    /// Nothing was inserted, because some identity is taken (or the check is
    /// [`DuplicateCheck::LookUp`]); the candidates are handed back.
    NoneSomeAreTaken(Vec<NewContact>),
}

async fn insert_identities(
    transaction: &mut PgConnection,
    check: &DuplicateCheck,
    candidates: Vec<NewContact>,
    rows: CopyText,
) -> Result<Inserted, sqlx::Error> {
    if *check == DuplicateCheck::LookUp {
        return Ok(Inserted::NoneSomeAreTaken(candidates));
    }
    let mut savepoint = Connection::begin(&mut *transaction).await?;
    match rows.copy_into(&mut savepoint, COPY_IDENTITIES).await {
        Ok(_) => {
            savepoint.commit().await?;
            Ok(Inserted::All(candidates))
        }
        Err(sqlx::Error::Database(error))
            if error.is_unique_violation()
                && error.constraint() == Some("contact_identities_pkey") =>
        {
            savepoint.rollback().await?;
            Ok(Inserted::NoneSomeAreTaken(candidates))
        }
        Err(error) => Err(error),
    }
}

/// The candidates none of whose identities the owner already has.
async fn without_taken(
    transaction: &mut PgConnection,
    owner_id: Uuid,
    candidates: Vec<NewContact>,
) -> Result<Vec<NewContact>, sqlx::Error> {
    let all: Vec<&str> = candidates
        .iter()
        .flat_map(|new| new.identities.iter().map(String::as_str))
        .collect();
    // A join against the list, not `identity = ANY($2)`: PostgreSQL plans the
    // latter as a scan of all the owner's identities until a statement's generic
    // plan takes over (measured: 130 ms per chunk at 625,000 identities).
    let taken: HashSet<String> = sqlx::query_scalar(
        "SELECT i.identity FROM unnest($2::text[]) AS wanted (identity) \
         JOIN contact_identities i ON i.owner_id = $1 AND i.identity = wanted.identity",
    )
    .bind(owner_id)
    .bind(&all)
    .fetch_all(&mut *transaction)
    .await?
    .into_iter()
    .collect();
    Ok(candidates
        .into_iter()
        .filter(|new| {
            !new.identities
                .iter()
                .any(|identity| taken.contains(identity))
        })
        .collect())
}

const COPY_IDENTITIES: &str = "COPY contact_identities (owner_id, identity, contact_id) FROM STDIN";

/// `COPY`: a fraction of the server's time per row of `INSERT ... SELECT FROM
/// unnest(...)` (infra/bench/importer).
const COPY_CONTACTS: &str = "COPY contacts (contact_id, owner_id, import_id, full_name, \
     first_name, last_name, emails, phones, company, title, location, profile_url, connected_on, \
     identities) FROM STDIN";

fn identity_copy_rows(owner_id: Uuid, contacts: &[NewContact]) -> CopyText {
    let mut rows = CopyText::new();
    for new in contacts {
        for identity in &new.identities {
            rows.uuid(owner_id)
                .text(identity)
                .uuid(new.contact.contact_id)
                .end_row();
        }
    }
    rows
}

fn contact_copy_rows(import_id: Uuid, owner_id: Uuid, contacts: &[NewContact]) -> CopyText {
    let mut rows = CopyText::new();
    for NewContact {
        contact,
        identities,
    } in contacts
    {
        rows.uuid(contact.contact_id)
            .uuid(owner_id)
            .uuid(import_id)
            .text(&contact.full_name)
            .optional_text(contact.first_name.as_deref())
            .optional_text(contact.last_name.as_deref())
            .text_array(&contact.emails)
            .text_array(&contact.phones)
            .optional_text(contact.company.as_deref())
            .optional_text(contact.title.as_deref())
            .optional_text(contact.location.as_deref())
            .optional_text(contact.profile_url.as_deref())
            .optional_date(contact.connected_on)
            .text_array(identities)
            .end_row();
    }
    rows
}

async fn insert_rejects(
    transaction: &mut PgConnection,
    import_id: Uuid,
    rejects: &[Reject],
) -> Result<(), sqlx::Error> {
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    let mut columns = Vec::new();
    let mut codes = Vec::new();
    let mut reasons = Vec::new();
    let mut rows = Vec::new();
    for reject in rejects {
        for (index, problem) in reject.problems.iter().enumerate() {
            lines.push(reject.line as i64);
            problems.push(index as i32);
            columns.push(problem.column.clone());
            codes.push(problem.code);
            reasons.push(problem.reason.clone());
            rows.push(reject.source_row.clone());
        }
    }
    if lines.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO import_rejects (import_id, line, problem, column_name, code, reason, source_row) \
         SELECT $1, r.* FROM unnest($2::int8[], $3::int4[], $4::text[], $5::text[], $6::text[], $7::text[]) \
              AS r (line, problem, column_name, code, reason, source_row)",
    )
    .bind(import_id)
    .bind(&lines)
    .bind(&problems)
    .bind(&columns)
    .bind(&codes)
    .bind(&reasons)
    .bind(&rows)
    .execute(transaction)
    .await?;
    Ok(())
}

/// Why a chunk could not be committed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The database failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The batch event could not be written to the outbox.
    #[error("outbox: {0}")]
    Outbox(#[from] six_bus::BusError),
}
