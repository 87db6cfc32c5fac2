//! Keeps `known_users` in step with auth's user events.

use six_bus::{Handler, HandlerError};
use six_events::{
    DomainEvent, EventData,
    auth::{UserDeleted, UserRegistered},
};
use sqlx::PgConnection;

/// Handles `auth.user.registered.v1` and `auth.user.deleted.v1`.
pub struct Users;

impl Handler for Users {
    fn event_types(&self) -> Vec<&'static str> {
        vec![UserRegistered::TYPE, UserDeleted::TYPE]
    }

    async fn handle(
        &self,
        event: &DomainEvent,
        transaction: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        match event {
            DomainEvent::UserRegistered(registered) => {
                let user = registered.data();
                // A plain insert: the inbox already makes redeliveries harmless, so a
                // second row for the same user is a contradiction worth parking.
                let inserted = sqlx::query(
                    "INSERT INTO known_users (user_id, display_name, registered_at) VALUES ($1, $2, $3)",
                )
                .bind(user.user_id)
                .bind(&user.display_name)
                .bind(user.registered_at)
                .execute(&mut *transaction)
                .await;
                match inserted {
                    Ok(_) => Ok(()),
                    Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                        Err(HandlerError::Permanent(format!(
                            "user {} was already registered by another event",
                            user.user_id
                        )))
                    }
                    Err(error) => Err(error.into()),
                }
            }
            DomainEvent::UserDeleted(deleted) => {
                sqlx::query("DELETE FROM known_users WHERE user_id = $1")
                    .bind(deleted.data().user_id)
                    .execute(&mut *transaction)
                    .await?;
                Ok(())
            }
            other => Err(HandlerError::Permanent(format!(
                "unexpected event `{}`",
                other.routing_key()
            ))),
        }
    }
}
