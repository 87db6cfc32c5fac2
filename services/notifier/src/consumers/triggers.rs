//! What each event does here: keep the recipients' addresses and names, raise
//! the notifications the events call for, and erase a deleted user.

use six_bus::{Handler, HandlerError, IncomingEvent};
use six_events::{
    DomainEvent, EventData,
    api::ProfileUpdated,
    auth::{UserDeleted, UserRegistered},
    graph::ContactJoined,
    importer::{ImportCompleted, ImportFailed},
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    notices::Notice,
    notify::{self, Raise},
};

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
        apply_all(&[event], transaction).await
    }

    /// The notifications of a whole batch are raised together.
    async fn handle_all(
        &self,
        events: &[IncomingEvent<'_>],
        transaction: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        let events: Vec<&DomainEvent> = events.iter().map(IncomingEvent::event).collect();
        apply_all(&events, transaction).await
    }
}

/// Applies `events` as one by one, with the notifications raised together: those
/// collected so far when a registration makes their recipient known (raising
/// reads whether it is), and the rest at the end.
async fn apply_all(
    events: &[&DomainEvent],
    transaction: &mut PgConnection,
) -> Result<(), HandlerError> {
    let mut raises: Vec<Raise> = Vec::new();
    for event in events {
        let cause_id = event.meta().id;
        match event {
            DomainEvent::UserRegistered(registered) => {
                let user = registered.data();
                raise_those_for(user.user_id, &mut raises, transaction).await?;
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
                raises.push(Raise {
                    user_id: user.user_id,
                    cause_id,
                    notice: Notice::Welcome {
                        display_name: user.display_name.clone(),
                    },
                });
            }
            DomainEvent::ProfileUpdated(updated) => {
                // The name is read when a message is sent, not when it is raised.
                let profile = updated.data();
                sqlx::query(
                    "UPDATE recipients SET display_name = $2, updated_at = now() WHERE user_id = $1",
                )
                .bind(profile.user_id)
                .bind(&profile.display_name)
                .execute(&mut *transaction)
                .await?;
            }
            DomainEvent::UserDeleted(deleted) => {
                // Cascades to preferences, notifications and the delivery log: nothing
                // about the user stays, and nothing pending is sent after this commits.
                // The user's notifications still to raise find no recipient then.
                sqlx::query("DELETE FROM recipients WHERE user_id = $1")
                    .bind(deleted.data().user_id)
                    .execute(&mut *transaction)
                    .await?;
            }
            DomainEvent::ImportCompleted(completed) => {
                let import = completed.data();
                raises.push(Raise {
                    user_id: import.owner_id,
                    cause_id,
                    notice: Notice::ImportCompleted {
                        import_id: import.import_id,
                        rows_read: import.rows_read,
                        contacts_accepted: import.contacts_accepted,
                        rows_rejected: import.rows_rejected,
                        duplicates: import.duplicates,
                    },
                });
            }
            DomainEvent::ImportFailed(failed) => {
                let import = failed.data();
                raises.push(Raise {
                    user_id: import.owner_id,
                    cause_id,
                    notice: Notice::ImportFailed {
                        import_id: import.import_id,
                        reason: import.reason.clone(),
                        rows_read: import.rows_read,
                    },
                });
            }
            DomainEvent::ContactJoined(joined) => {
                let joined = joined.data();
                raises.push(Raise {
                    user_id: joined.owner_id,
                    cause_id,
                    notice: Notice::ContactJoined {
                        joined_user_id: joined.joined_user_id,
                        display_name: joined.display_name.clone(),
                        matched_by: joined.matched_by,
                    },
                });
            }
            other => {
                return Err(HandlerError::Permanent(format!(
                    "unexpected event `{}`",
                    other.routing_key()
                )));
            }
        }
    }
    notify::raise_all(transaction, &raises).await?;
    Ok(())
}

/// Raises the notifications collected so far, if one is for `user_id`, before
/// `user_id` registers.
async fn raise_those_for(
    user_id: Uuid,
    raises: &mut Vec<Raise>,
    transaction: &mut PgConnection,
) -> Result<(), HandlerError> {
    if raises.iter().any(|raise| raise.user_id == user_id) {
        notify::raise_all(transaction, raises).await?;
        raises.clear();
    }
    Ok(())
}
