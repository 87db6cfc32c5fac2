//! `auth.user.deleted.v1`: erases everything the user imported.

use six_bus::{Handler, HandlerError};
use six_events::{DomainEvent, EventData, auth::UserDeleted};
use sqlx::PgConnection;

/// Deletes the user's contacts and their identities, their schedules, their
/// jobs (rejects follow) and any event about their imports still in the outbox.
/// A job of theirs still running finds its row gone at its next chunk and stops;
/// its upload is deleted here.
pub struct Erasure;

impl Handler for Erasure {
    fn event_types(&self) -> Vec<&'static str> {
        vec![UserDeleted::TYPE]
    }

    async fn handle(
        &self,
        event: &DomainEvent,
        transaction: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let DomainEvent::UserDeleted(deleted) = event else {
            return Err(HandlerError::Permanent(format!(
                "unexpected event `{}`",
                event.routing_key()
            )));
        };
        let owner_id = deleted.data().user_id;
        for statement in [
            "DELETE FROM contact_identities WHERE owner_id = $1",
            "DELETE FROM contacts WHERE owner_id = $1",
            "DELETE FROM import_schedules WHERE owner_id = $1",
        ] {
            sqlx::query(statement)
                .bind(owner_id)
                .execute(&mut *transaction)
                .await?;
        }
        let jobs: Vec<(uuid::Uuid, Option<String>)> = sqlx::query_as(
            "DELETE FROM import_jobs WHERE owner_id = $1 RETURNING import_id, spool_file",
        )
        .bind(owner_id)
        .fetch_all(&mut *transaction)
        .await?;
        for (import_id, spool_file) in &jobs {
            six_bus::discard_unsent(transaction, &import_id.to_string()).await?;
            if let Some(path) = spool_file
                && let Err(error) = std::fs::remove_file(path)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                return Err(HandlerError::Transient(
                    format!("the upload of job {import_id} could not be deleted: {error}").into(),
                ));
            }
        }
        tracing::info!(%owner_id, jobs = jobs.len(), "imported data of a deleted user erased");
        Ok(())
    }
}
