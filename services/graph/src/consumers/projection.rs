//! Keeps the graph in step with the events of auth, api and the importer, and
//! announces contacts who joined.

use std::sync::Arc;

use six_bus::{Handler, HandlerError};
use six_events::{
    DomainEvent, Envelope, EventData,
    api::ProfileUpdated,
    auth::{UserDeleted, UserRegistered},
    graph::{ContactJoined, MatchKey},
    importer::{ContactDeleted, ContactsImported},
};
use sqlx::PgConnection;

use crate::store::{GraphStore, StoreError};

/// Applies every event that shapes the graph to the store. Each event is
/// idempotent on its own (the inbox skips redeliveries; a store outside PostgreSQL
/// may see an event again and upserts), and events about the same people converge
/// whatever order they arrive in (`docs/graph.md`, "Projection").
pub struct Projection<S> {
    store: Arc<S>,
}

impl<S> Projection<S> {
    pub fn new(store: Arc<S>) -> Self {
        Self { store }
    }
}

impl From<StoreError> for HandlerError {
    fn from(error: StoreError) -> Self {
        HandlerError::Transient(Box::new(error))
    }
}

impl<S: GraphStore> Handler for Projection<S> {
    fn event_types(&self) -> Vec<&'static str> {
        vec![
            UserRegistered::TYPE,
            UserDeleted::TYPE,
            ProfileUpdated::TYPE,
            ContactsImported::TYPE,
            ContactDeleted::TYPE,
        ]
    }

    async fn handle(
        &self,
        event: &DomainEvent,
        transaction: &mut PgConnection,
    ) -> Result<(), HandlerError> {
        match event {
            DomainEvent::UserRegistered(registered) => {
                let user = registered.data();
                let joined = self.store.register_user(transaction, user).await?;
                let announcements = joined.into_iter().map(|owner| {
                    Envelope::derived_from(
                        registered,
                        ContactJoined {
                            owner_id: owner.owner_id,
                            joined_user_id: user.user_id,
                            person_id: owner.person_id,
                            display_name: user.display_name.clone(),
                            matched_by: MatchKey::Email,
                        },
                        &owner.owner_id.to_string(),
                    )
                });
                six_bus::publish_all(transaction, announcements).await?;
            }
            DomainEvent::UserDeleted(deleted) => {
                let user_id = deleted.data().user_id;
                self.store.erase_user(transaction, user_id).await?;
                // "Your contact joined" notices to the erased user that are not sent yet.
                six_bus::discard_unsent(transaction, &user_id.to_string()).await?;
            }
            DomainEvent::ProfileUpdated(updated) => {
                self.store
                    .update_profile(transaction, updated.data())
                    .await?;
            }
            DomainEvent::ContactsImported(batch) => {
                self.store.add_contacts(transaction, batch.data()).await?;
            }
            DomainEvent::ContactDeleted(deleted) => {
                self.store
                    .remove_contact(transaction, deleted.data())
                    .await?;
            }
            other => {
                return Err(HandlerError::Permanent(format!(
                    "unexpected event `{}`",
                    other.routing_key()
                )));
            }
        }
        Ok(())
    }
}
