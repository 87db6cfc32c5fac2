//! The other services' side of the bus, standing in for the importer and api: a
//! database of its own with the bus's outbox, filled with every event before the
//! clock starts (through `six_bus::publish_all`, as the importer writes its
//! batches), and a `six_bus::Relay` that publishes them (persistent, with
//! confirms) to the search service's vhost once started. The service's queue is
//! bound by then, so every event reaches it.
//!
//! The outbox and the relay are `six_bench_support::producers`; this module
//! decides what goes in it, and in which transactions.

use six_bench_support::producers::{Producers, chunks};

use crate::{
    events::{self, Ids},
    people::AddressBooks,
};

/// Profiles written per transaction.
const PROFILES_PER_TRANSACTION: usize = 500;

/// Bytes of batch events written per transaction, about.
const BATCH_BYTES_PER_TRANSACTION: usize = 4 * 1024 * 1024;

/// Rough size of one contact in an event, to size the transactions.
const CONTACT_BYTES: usize = 350;

/// Writes every event of `books` to the outbox, in the order the relay
/// publishes them: the profiles, then each owner's batches.
pub async fn write_all(
    producers: &Producers,
    books: &AddressBooks,
    ids: &Ids,
    batch_contacts: usize,
) -> anyhow::Result<()> {
    let owners = 0..books.owners();
    for chunk in chunks(owners.clone(), PROFILES_PER_TRANSACTION) {
        producers
            .write(chunk.filter_map(|owner| events::profile(books, ids, owner)))
            .await?;
    }
    let per_owner = books.shape().contacts_per_owner;
    let owners_per_transaction =
        (BATCH_BYTES_PER_TRANSACTION / (per_owner * CONTACT_BYTES).max(1)).max(1);
    for chunk in chunks(owners, owners_per_transaction) {
        producers
            .write(
                chunk.flat_map(|owner| events::contact_batches(books, ids, owner, batch_contacts)),
            )
            .await?;
    }
    Ok(())
}
