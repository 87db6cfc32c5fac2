//! What each event does here: keep the recipients' addresses and names, raise
//! the notifications the events call for, and erase a deleted user.

use six_bus::{Handler, HandlerError};
use six_events::{
    DomainEvent, EventData,
    api::ProfileUpdated,
    auth::{UserDeleted, UserRegistered},
    graph::ContactJoined,
    importer::{ImportCompleted, ImportFailed},
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{notices::Notice, notify};

/// Handles auth's, api's, the importer's and the graph's events for the notifier.
pub struct Triggers;

impl Handler for Triggers {
    fn event_types(&self) -> Vec<&'static str> {
        vec![
            UserRegistered::TYPE,
            UserDeleted::TYPE,
            ProfileUpdated::TYPE,
            ImportCompleted::TYPE,
            ImportFailed::TYPE,
            ContactJoined::TYPE,
        ]
    }

    async fn handle(
        &self,
        event: &DomainEvent,
        transaction: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let event_id = event.meta().id;
        match event {
            DomainEvent::UserRegistered(registered) => {
                let user = registered.data();
                sqlx::query(
                    "INSERT INTO recipients (user_id, email, display_name) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_id) DO UPDATE \
                     SET email = EXCLUDED.email, display_name = EXCLUDED.display_name, updated_at = now()",
                )
                .bind(user.user_id)
                .bind(&user.email)
                .bind(&user.display_name)
                .execute(&mut *transaction)
                .await?;
                let welcome = Notice::Welcome {
                    display_name: user.display_name.clone(),
                };
                raise(transaction, user.user_id, event_id, &welcome).await
            }
            DomainEvent::ProfileUpdated(updated) => {
                let profile = updated.data();
                sqlx::query(
                    "UPDATE recipients SET display_name = $2, updated_at = now() WHERE user_id = $1",
                )
                .bind(profile.user_id)
                .bind(&profile.display_name)
                .execute(&mut *transaction)
                .await?;
                Ok(())
            }
            DomainEvent::UserDeleted(deleted) => {
                // Cascades to preferences, notifications and the delivery log: nothing
                // about the user stays, and nothing pending is sent after this commits.
                sqlx::query("DELETE FROM recipients WHERE user_id = $1")
                    .bind(deleted.data().user_id)
                    .execute(&mut *transaction)
                    .await?;
                Ok(())
            }
            DomainEvent::ImportCompleted(completed) => {
                let import = completed.data();
                let summary = Notice::ImportCompleted {
                    import_id: import.import_id,
                    rows_read: import.rows_read,
                    contacts_accepted: import.contacts_accepted,
                    rows_rejected: import.rows_rejected,
                    duplicates: import.duplicates,
                };
                raise(transaction, import.owner_id, event_id, &summary).await
            }
            DomainEvent::ImportFailed(failed) => {
                let import = failed.data();
                let summary = Notice::ImportFailed {
                    import_id: import.import_id,
                    reason: import.reason.clone(),
                    rows_read: import.rows_read,
                };
                raise(transaction, import.owner_id, event_id, &summary).await
            }
            DomainEvent::ContactJoined(joined) => {
                let joined = joined.data();
                let notice = Notice::ContactJoined {
                    joined_user_id: joined.joined_user_id,
                    display_name: joined.display_name.clone(),
                    matched_by: joined.matched_by,
                };
                raise(transaction, joined.owner_id, event_id, &notice).await
            }
            other => Err(HandlerError::Permanent(format!(
                "unexpected event `{}`",
                other.routing_key()
            ))),
        }
    }
}

async fn raise(
    transaction: &mut PgConnection,
    user_id: Uuid,
    event_id: Uuid,
    notice: &Notice,
) -> Result<(), HandlerError> {
    notify::raise(transaction, user_id, event_id, notice).await?;
    Ok(())
}
