//! The other services' side of the bus, standing in for auth, api and the
//! importer: a database of its own with the bus's outbox, filled with every event
//! of the network through `six_bus::publish_all` before the clock starts, and a
//! `six_bus::Relay` that publishes them (persistent, with confirms) to the graph's
//! vhost once started. The graph's queue is already bound by then, so every event
//! reaches it.
//!
//! The outbox and the relay are `six_bench_support::producers`; this module
//! decides what goes in it, and in which transactions.

use six_bench_support::producers::{Producers, chunks};

use crate::{
    events::{self, Accounts},
    network::Network,
};

/// Registrations and profiles written per transaction.
const SMALL_EVENTS_PER_TRANSACTION: usize = 500;

/// Bytes of batch events written per transaction, about (200 contacts are ~60 KB).
const BATCH_BYTES_PER_TRANSACTION: usize = 4 * 1024 * 1024;

/// Rough size of one contact entry in an event, to size the transactions.
const ENTRY_BYTES: usize = 330;

/// Writes every event of `network` to the outbox, in the order the relay
/// publishes them: the registrations, the profiles, then each user's batches.
pub async fn write_all(
    producers: &Producers,
    network: &Network,
    accounts: &Accounts,
    batch_contacts: usize,
) -> anyhow::Result<()> {
    let users = 0..network.users();
    for chunk in chunks(users.clone(), SMALL_EVENTS_PER_TRANSACTION) {
        let registrations = chunk.map(|user| events::registration(network, accounts, user));
        producers.write(registrations).await?;
    }
    for chunk in chunks(users.clone(), SMALL_EVENTS_PER_TRANSACTION) {
        let profiles = chunk.filter_map(|user| events::profile(network, accounts, user));
        producers.write(profiles).await?;
    }
    let contacts = network.shape().contacts_per_user;
    let users_per_transaction =
        (BATCH_BYTES_PER_TRANSACTION / (contacts * ENTRY_BYTES).max(1)).max(1);
    for chunk in chunks(users, users_per_transaction) {
        let batches =
            chunk.flat_map(|user| events::contact_batches(network, accounts, user, batch_contacts));
        producers.write(batches).await?;
    }
    Ok(())
}
