//! The graph in PostgreSQL: adjacency tables (`migrations/`), written by the
//! projection in the consumer's transaction, read by batched breadth-first steps.
//!
//! Projection writes are serialised by one transaction-level advisory lock: settling
//! identity reads keys and then writes persons, and two batches settling the same
//! new key at once would otherwise both create a person for it.

use std::collections::{HashMap, HashSet};

use six_events::{
    api::ProfileUpdated,
    auth::UserRegistered,
    importer::{ContactDeleted, ContactsImported, ImportedContact},
};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{
    Adjacent, ContactFacts, Contacts, GraphStore, IdMap, JoinedOwner, PersonFacts, StoreError,
    Target, Viewer,
};
use crate::identity::{
    Evidence, IdentityKey, KeyFacts, NamedPerson, Settlement, seeds_of_entry, seeds_of_new_entries,
    settle, settle_new_entries,
};

/// The advisory lock key of projection writes ("graph" in ASCII).
const PROJECTION_LOCK: i64 = 0x0067_7261_7068;

/// The PostgreSQL store; the projection writes in the consumer's transaction, the
/// reads use the pool.
#[derive(Debug, Clone)]
pub struct PostgresGraph {
    pool: PgPool,
}

impl PostgresGraph {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// Serialises projection writes (of either store) across every replica.
pub(super) async fn lock_projection(transaction: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(PROJECTION_LOCK)
        .execute(&mut *transaction)
        .await?;
    Ok(())
}

async fn is_erased(transaction: &mut PgConnection, user_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM erased_users WHERE user_id = $1)")
        .bind(user_id)
        .fetch_one(&mut *transaction)
        .await
}

/// The user's person (id, discoverable), created without keys if the graph has
/// none yet (a batch or a profile may arrive before the registration); `None`
/// once the user is erased: late events about them change nothing.
async fn live_user_person(
    transaction: &mut PgConnection,
    user_id: Uuid,
) -> Result<Option<(Uuid, bool)>, sqlx::Error> {
    let (erased, person_id, discoverable): (bool, Option<Uuid>, Option<bool>) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM erased_users WHERE user_id = $1), p.person_id, p.discoverable \
         FROM (VALUES (1)) AS one LEFT JOIN persons p ON p.user_id = $1",
    )
    .bind(user_id)
    .fetch_one(&mut *transaction)
    .await?;
    if erased {
        return Ok(None);
    }
    if let Some(existing) = person_id.zip(discoverable) {
        return Ok(Some(existing));
    }
    let person_id = Uuid::now_v7();
    sqlx::query("INSERT INTO persons (person_id, user_id) VALUES ($1, $2)")
        .bind(person_id)
        .bind(user_id)
        .execute(&mut *transaction)
        .await?;
    Ok(Some((person_id, false)))
}

/// Gives the registered user's person the registration's name (unless a profile
/// named them already) and, with `account_key`, that key as the account's. The
/// person is the user's own (`own`), else the person the key names if only
/// someone's contact (it becomes the user, keeping its id), else a new one.
async fn register_person(
    transaction: &mut PgConnection,
    own: Option<Uuid>,
    user: &UserRegistered,
    account_key: Option<&IdentityKey>,
) -> Result<Uuid, sqlx::Error> {
    let account_key = account_key.map(IdentityKey::as_str);
    if let Some(own) = own {
        sqlx::query(
            "UPDATE persons SET display_name = coalesce(display_name, $2), \
                                account_key = coalesce($3, account_key) \
             WHERE person_id = $1",
        )
        .bind(own)
        .bind(&user.display_name)
        .bind(account_key)
        .execute(&mut *transaction)
        .await?;
        return Ok(own);
    }
    sqlx::query_scalar(
        "WITH adopted AS ( \
             UPDATE persons p SET user_id = $1, display_name = coalesce(p.display_name, $2), \
                                  account_key = $3 \
             FROM person_keys pk \
             WHERE pk.key = $3 AND p.person_id = pk.person_id AND p.user_id IS NULL \
             RETURNING p.person_id), \
         created AS ( \
             INSERT INTO persons (person_id, user_id, display_name, account_key) \
             SELECT $4, $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM adopted) \
             RETURNING person_id) \
         SELECT person_id FROM adopted UNION ALL SELECT person_id FROM created",
    )
    .bind(user.user_id)
    .bind(&user.display_name)
    .bind(account_key)
    .bind(Uuid::now_v7())
    .fetch_one(&mut *transaction)
    .await
}

/// The reads of [`settle`], in the consumer's transaction.
struct PgEvidence<'a>(&'a mut PgConnection);

fn key_texts(keys: &[IdentityKey]) -> Vec<&str> {
    keys.iter().map(IdentityKey::as_str).collect()
}

impl Evidence for PgEvidence<'_> {
    async fn facts(
        &mut self,
        keys: &[IdentityKey],
    ) -> Result<HashMap<IdentityKey, KeyFacts>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Facts {
            key: String,
            account_of: Option<Uuid>,
            named: Option<Uuid>,
            named_is_user: bool,
        }
        let rows: Vec<Facts> = sqlx::query_as(
            "SELECT k.key, account.person_id AS account_of, named.person_id AS named, \
                    named.user_id IS NOT NULL AS named_is_user \
             FROM unnest($1::text[]) AS k(key) \
             LEFT JOIN persons account \
                    ON account.account_key = k.key AND account.user_id IS NOT NULL \
             LEFT JOIN person_keys pk ON pk.key = k.key \
             LEFT JOIN persons named ON named.person_id = pk.person_id",
        )
        .bind(key_texts(keys))
        .fetch_all(&mut *self.0)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let facts = KeyFacts {
                    account_of: row.account_of,
                    named: row.named.map(|person_id| NamedPerson {
                        person_id,
                        is_user: row.named_is_user,
                    }),
                };
                (IdentityKey::from_stored(row.key), facts)
            })
            .collect())
    }

    async fn linking_entries(
        &mut self,
        keys: &[IdentityKey],
    ) -> Result<Vec<Vec<IdentityKey>>, StoreError> {
        let rows: Vec<Vec<String>> = sqlx::query_scalar(
            // One index search per key: cheaper than one search for any of them.
            "SELECT DISTINCT e.keys FROM unnest($1::text[]) AS k(key) \
             JOIN LATERAL (SELECT keys FROM knows \
                           WHERE owner_discoverable AND cardinality(keys) > 1 \
                             AND keys @> ARRAY[k.key]) e ON true",
        )
        .bind(key_texts(keys))
        .fetch_all(&mut *self.0)
        .await?;
        Ok(rows
            .into_iter()
            .map(|keys| keys.into_iter().map(IdentityKey::from_stored).collect())
            .collect())
    }

    async fn firsts_of_entries(
        &mut self,
        keys: &[IdentityKey],
    ) -> Result<HashSet<IdentityKey>, StoreError> {
        let firsts: Vec<String> = sqlx::query_scalar(
            // An entry is on the person its first key names: read that person's
            // entries (knows_person) rather than index every entry's first key.
            "SELECT k.key FROM unnest($1::text[]) AS k(key) \
             JOIN person_keys pk ON pk.key = k.key \
             WHERE EXISTS (SELECT 1 FROM knows e \
                           WHERE e.person_id = pk.person_id AND e.keys[1] = k.key)",
        )
        .bind(key_texts(keys))
        .fetch_all(&mut *self.0)
        .await?;
        Ok(firsts.into_iter().map(IdentityKey::from_stored).collect())
    }
}

/// Settles the persons around `seeds` and writes the result.
async fn settle_keys(
    transaction: &mut PgConnection,
    seeds: impl IntoIterator<Item = IdentityKey>,
) -> Result<(), StoreError> {
    let settlement = settle(&mut PgEvidence(&mut *transaction), seeds).await?;
    write_settlement(transaction, &settlement).await
}

/// Writes a settlement: persons created, the entries of every key it moves placed
/// on the key's new person, the keys reassigned, persons no key names retired
/// (their ids resolving to their heir).
async fn write_settlement(
    transaction: &mut PgConnection,
    settlement: &Settlement,
) -> Result<(), StoreError> {
    let mut moved_keys = Vec::new();
    let mut moved_to = Vec::new();
    let mut dropped = Vec::new();
    for (key, person) in &settlement.reassigned {
        match person {
            Some(person) => {
                moved_keys.push(key.as_str());
                moved_to.push(*person);
            }
            None => dropped.push(key.as_str()),
        }
    }
    if !moved_keys.is_empty() {
        // One statement, so one snapshot: the entries are found on the person
        // each key names until the keys are written (knows_person), and moved
        // with the key; a person created here is nobody's user, not discoverable.
        sqlx::query(
            "WITH created AS (INSERT INTO persons (person_id) SELECT * FROM unnest($3::uuid[])), \
                  placed AS MATERIALIZED ( \
                      SELECT e.owner_person_id, e.contact_id, m.person_id, \
                             coalesce(p.discoverable, false) AS discoverable \
                      FROM unnest($1::text[], $2::uuid[]) AS m(key, person_id) \
                      JOIN person_keys pk ON pk.key = m.key AND pk.person_id <> m.person_id \
                      LEFT JOIN persons p ON p.person_id = m.person_id \
                      JOIN LATERAL (SELECT owner_person_id, contact_id FROM knows \
                                    WHERE person_id = pk.person_id AND keys[1] = m.key) e ON true), \
                  moved AS (UPDATE knows e SET person_id = placed.person_id, \
                                               person_discoverable = placed.discoverable \
                            FROM placed \
                            WHERE e.owner_person_id = placed.owner_person_id \
                              AND e.contact_id = placed.contact_id) \
             INSERT INTO person_keys (key, person_id) SELECT * FROM unnest($1::text[], $2::uuid[]) \
             ON CONFLICT (key) DO UPDATE SET person_id = EXCLUDED.person_id",
        )
        .bind(&moved_keys)
        .bind(&moved_to)
        .bind(&settlement.created)
        .execute(&mut *transaction)
        .await?;
    }
    if !dropped.is_empty() {
        sqlx::query("DELETE FROM person_keys WHERE key = ANY($1)")
            .bind(&dropped)
            .execute(&mut *transaction)
            .await?;
    }
    if settlement.retired.is_empty() {
        return Ok(());
    }
    retire(transaction, &settlement.retired).await
}

/// Retires persons no key names any more (once no entry is on them): their ids
/// resolve to their heir from now on.
async fn retire(
    transaction: &mut PgConnection,
    retired: &[(Uuid, Option<Uuid>)],
) -> Result<(), StoreError> {
    for (retired, heir) in retired {
        match heir {
            Some(heir) => {
                sqlx::query("UPDATE person_merges SET into_id = $2 WHERE into_id = $1")
                    .bind(retired)
                    .bind(heir)
                    .execute(&mut *transaction)
                    .await?;
                sqlx::query(
                    "INSERT INTO person_merges (merged_id, into_id) VALUES ($1, $2) \
                     ON CONFLICT (merged_id) DO UPDATE SET into_id = $2",
                )
                .bind(retired)
                .bind(heir)
                .execute(&mut *transaction)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM person_merges WHERE into_id = $1")
                    .bind(retired)
                    .execute(&mut *transaction)
                    .await?;
            }
        }
    }
    let retired: Vec<Uuid> = retired.iter().map(|(person, _)| *person).collect();
    delete_orphans(transaction, &retired).await?;
    Ok(())
}

/// Deletes those of `persons` that are neither a user, nor named by a key, nor
/// anyone's contact.
async fn delete_orphans(
    transaction: &mut PgConnection,
    persons: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM persons p WHERE p.person_id = ANY($1) AND p.user_id IS NULL \
           AND NOT EXISTS (SELECT 1 FROM person_keys pk WHERE pk.person_id = p.person_id) \
           AND NOT EXISTS (SELECT 1 FROM knows e WHERE e.person_id = p.person_id)",
    )
    .bind(persons)
    .execute(&mut *transaction)
    .await?;
    Ok(())
}

impl GraphStore for PostgresGraph {
    #[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
    async fn register_user(
        &self,
        transaction: &mut PgConnection,
        user: &UserRegistered,
    ) -> Result<Vec<JoinedOwner>, StoreError> {
        lock_projection(transaction).await?;
        let key = IdentityKey::email(&user.email);
        let (erased, own, account_key, account_holder): (
            bool,
            Option<Uuid>,
            Option<String>,
            Option<Uuid>,
        ) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM erased_users WHERE user_id = $1), \
                    own.person_id, own.account_key, \
                    (SELECT user_id FROM persons WHERE account_key = $2 AND user_id IS NOT NULL) \
             FROM (VALUES (1)) AS one LEFT JOIN persons own ON own.user_id = $1",
        )
        .bind(user.user_id)
        .bind(key.as_ref().map(IdentityKey::as_str))
        .fetch_one(&mut *transaction)
        .await?;
        if erased || account_key.is_some() {
            return Ok(Vec::new()); // erased, or applied already
        }
        let Some(key) = key else {
            tracing::warn!("registration without a usable e-mail address: no key recorded");
            register_person(transaction, own, user, None).await?;
            return Ok(Vec::new());
        };
        if account_holder.is_some_and(|holder| holder != user.user_id) {
            // An account deleted and its address reused is erased first, so this
            // is a contradiction: keep both apart.
            tracing::warn!("e-mail key is already another account's: not linked");
            register_person(transaction, own, user, None).await?;
            return Ok(Vec::new());
        }
        let person_id = register_person(transaction, own, user, Some(&key)).await?;
        settle_keys(transaction, [key]).await?;
        let owners: Vec<Uuid> = sqlx::query_scalar(
            "SELECT DISTINCT o.user_id FROM knows k \
             JOIN persons o ON o.person_id = k.owner_person_id \
             WHERE k.person_id = $1 AND o.user_id IS NOT NULL AND o.user_id <> $2 \
             ORDER BY o.user_id",
        )
        .bind(person_id)
        .bind(user.user_id)
        .fetch_all(&mut *transaction)
        .await?;
        Ok(owners
            .into_iter()
            .map(|owner_id| JoinedOwner {
                owner_id,
                person_id,
            })
            .collect())
    }

    #[tracing::instrument(skip_all, fields(user_id = %profile.user_id))]
    async fn update_profile(
        &self,
        transaction: &mut PgConnection,
        profile: &ProfileUpdated,
    ) -> Result<(), StoreError> {
        lock_projection(transaction).await?;
        let Some((person_id, was_discoverable)) =
            live_user_person(transaction, profile.user_id).await?
        else {
            return Ok(());
        };
        let applied = sqlx::query(
            "UPDATE persons SET display_name = $2, discoverable = $3, profile_updated_at = $4 \
             WHERE person_id = $1 \
               AND (profile_updated_at IS NULL OR profile_updated_at < $4)",
        )
        .bind(person_id)
        .bind(&profile.display_name)
        .bind(profile.discoverable)
        .bind(profile.updated_at)
        .execute(&mut *transaction)
        .await?
        .rows_affected();
        if applied == 1 && was_discoverable != profile.discoverable {
            sqlx::query("UPDATE knows SET owner_discoverable = $2 WHERE owner_person_id = $1")
                .bind(person_id)
                .bind(profile.discoverable)
                .execute(&mut *transaction)
                .await?;
            sqlx::query("UPDATE knows SET person_discoverable = $2 WHERE person_id = $1")
                .bind(person_id)
                .bind(profile.discoverable)
                .execute(&mut *transaction)
                .await?;
            // The user's entries start or stop linking keys.
            let linking: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT unnest(keys) FROM knows \
                 WHERE owner_person_id = $1 AND cardinality(keys) > 1",
            )
            .bind(person_id)
            .fetch_all(&mut *transaction)
            .await?;
            settle_keys(
                transaction,
                linking.into_iter().map(IdentityKey::from_stored),
            )
            .await?;
        }
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(owner_id = %batch.owner_id, import_id = %batch.import_id, batch_seq = batch.batch_seq))]
    async fn add_contacts(
        &self,
        transaction: &mut PgConnection,
        batch: &ContactsImported,
    ) -> Result<(), StoreError> {
        lock_projection(transaction).await?;
        let Some((owner_person, owner_discoverable)) =
            live_user_person(transaction, batch.owner_id).await?
        else {
            return Ok(());
        };
        let contact_ids: Vec<Uuid> = batch.contacts.iter().map(|c| c.contact_id).collect();
        let seen: HashSet<Uuid> = sqlx::query_scalar(
            "SELECT contact_id FROM knows WHERE owner_person_id = $1 AND contact_id = ANY($2) \
             UNION ALL \
             SELECT contact_id FROM removed_contacts WHERE owner_id = $3 AND contact_id = ANY($2)",
        )
        .bind(owner_person)
        .bind(&contact_ids)
        .bind(batch.owner_id)
        .fetch_all(&mut *transaction)
        .await?
        .into_iter()
        .collect();
        let fresh: Vec<(&ImportedContact, Vec<IdentityKey>)> = batch
            .contacts
            .iter()
            .filter(|contact| !seen.contains(&contact.contact_id))
            .map(|contact| (contact, IdentityKey::of_contact(contact)))
            .collect();
        if fresh.is_empty() {
            return Ok(());
        }

        // The new entries are settled before they are written, so that each goes
        // straight onto the person its first key names; only entries already in
        // the graph whose first key the settlement moves are placed. An entry
        // without keys is a person of its own.
        let new_entries = seeds_of_new_entries(
            &mut PgEvidence(&mut *transaction),
            fresh
                .iter()
                .map(|(_, keys)| (keys.as_slice(), owner_discoverable)),
        )
        .await?;
        let settlement =
            settle_new_entries(&mut PgEvidence(&mut *transaction), &new_entries).await?;
        let mut entry_ids = Vec::with_capacity(fresh.len());
        let mut persons = Vec::with_capacity(fresh.len());
        let mut names = Vec::with_capacity(fresh.len());
        let mut entry_keys = Vec::with_capacity(fresh.len());
        let mut own_persons = Vec::new();
        for ((contact, keys), person) in fresh
            .iter()
            .zip(new_entries.persons_once_settled(&settlement))
        {
            let person = person.unwrap_or_else(|| {
                let person = Uuid::now_v7();
                own_persons.push(person);
                person
            });
            entry_ids.push(contact.contact_id);
            persons.push(person);
            names.push(contact.full_name.as_str());
            entry_keys.push(IdentityKey::join(keys));
        }
        write_settlement(transaction, &settlement).await?;
        if !own_persons.is_empty() {
            sqlx::query("INSERT INTO persons (person_id) SELECT * FROM unnest($1::uuid[])")
                .bind(&own_persons)
                .execute(&mut *transaction)
                .await?;
        }
        sqlx::query(
            "INSERT INTO knows (owner_person_id, contact_id, person_id, full_name, keys, \
                                owner_discoverable, person_discoverable) \
             SELECT $1, e.contact_id, e.person_id, e.full_name, \
                    CASE WHEN e.keys = '' THEN '{}'::text[] ELSE string_to_array(e.keys, E'\\x1f') END, \
                    $2, coalesce(p.discoverable, false) \
             FROM unnest($3::uuid[], $4::uuid[], $5::text[], $6::text[]) \
                  AS e(contact_id, person_id, full_name, keys) \
             LEFT JOIN persons p ON p.person_id = e.person_id \
             ON CONFLICT (owner_person_id, contact_id) DO NOTHING",
        )
        .bind(owner_person)
        .bind(owner_discoverable)
        .bind(&entry_ids)
        .bind(&persons)
        .bind(&names)
        .bind(&entry_keys)
        .execute(&mut *transaction)
        .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(owner_id = %deleted.owner_id, contact_id = %deleted.contact_id))]
    async fn remove_contact(
        &self,
        transaction: &mut PgConnection,
        deleted: &ContactDeleted,
    ) -> Result<(), StoreError> {
        lock_projection(transaction).await?;
        if is_erased(transaction, deleted.owner_id).await? {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO removed_contacts (owner_id, contact_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(deleted.owner_id)
        .bind(deleted.contact_id)
        .execute(&mut *transaction)
        .await?;
        let removed: Option<(Uuid, Vec<String>, bool)> = sqlx::query_as(
            "DELETE FROM knows k USING persons o \
             WHERE o.user_id = $1 AND k.owner_person_id = o.person_id AND k.contact_id = $2 \
             RETURNING k.person_id, k.keys, k.owner_discoverable",
        )
        .bind(deleted.owner_id)
        .bind(deleted.contact_id)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some((person, keys, owner_discoverable)) = removed else {
            return Ok(());
        };
        let keys: Vec<IdentityKey> = keys.into_iter().map(IdentityKey::from_stored).collect();
        settle_keys(
            transaction,
            seeds_of_entry(&keys, owner_discoverable).to_vec(),
        )
        .await?;
        delete_orphans(transaction, &[person]).await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(%user_id))]
    async fn erase_user(
        &self,
        transaction: &mut PgConnection,
        user_id: Uuid,
    ) -> Result<(), StoreError> {
        lock_projection(transaction).await?;
        sqlx::query("INSERT INTO erased_users (user_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        sqlx::query("DELETE FROM removed_contacts WHERE owner_id = $1")
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        let erased: Option<(Uuid, Option<String>)> = sqlx::query_as(
            "WITH before AS (SELECT person_id, account_key FROM persons WHERE user_id = $1) \
             UPDATE persons p SET user_id = NULL, display_name = NULL, discoverable = false, \
                    profile_updated_at = NULL, account_key = NULL \
             FROM before WHERE p.person_id = before.person_id \
             RETURNING p.person_id, before.account_key",
        )
        .bind(user_id)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some((person, account_key)) = erased else {
            return Ok(());
        };
        let entries: Vec<(Uuid, Vec<String>, bool)> = sqlx::query_as(
            "DELETE FROM knows WHERE owner_person_id = $1 \
             RETURNING person_id, keys, owner_discoverable",
        )
        .bind(person)
        .fetch_all(&mut *transaction)
        .await?;
        sqlx::query("UPDATE knows SET person_discoverable = false WHERE person_id = $1")
            .bind(person)
            .execute(&mut *transaction)
            .await?;
        let mut seeds: Vec<IdentityKey> = account_key
            .into_iter()
            .map(IdentityKey::from_stored)
            .collect();
        let mut touched = vec![person];
        for (contact, keys, owner_discoverable) in entries {
            let keys: Vec<IdentityKey> = keys.into_iter().map(IdentityKey::from_stored).collect();
            seeds.extend_from_slice(seeds_of_entry(&keys, owner_discoverable));
            touched.push(contact);
        }
        seeds.sort_unstable();
        seeds.dedup();
        settle_keys(transaction, seeds).await?;
        touched.sort_unstable();
        touched.dedup();
        delete_orphans(transaction, &touched).await?;
        Ok(())
    }

    async fn viewer(&self, user_id: Uuid) -> Result<Option<Viewer>, StoreError> {
        let person_id: Option<Uuid> =
            sqlx::query_scalar("SELECT person_id FROM persons WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        let Some(person_id) = person_id else {
            return Ok(None);
        };
        let rows: Vec<(Uuid, String, bool)> = sqlx::query_as(
            "SELECT person_id, full_name, person_discoverable FROM knows \
             WHERE owner_person_id = $1 ORDER BY contact_id",
        )
        .bind(person_id)
        .fetch_all(&self.pool)
        .await?;
        let mut contacts = IdMap::with_capacity_and_hasher(rows.len(), Default::default());
        for (contact, full_name, discoverable) in rows {
            contacts.entry(contact).or_insert(ContactFacts {
                full_name,
                discoverable,
            });
        }
        Ok(Some(Viewer {
            person_id,
            contacts,
        }))
    }

    async fn resolve(&self, target: &Target) -> Result<Option<Uuid>, StoreError> {
        let person = match target {
            Target::Key(key) => {
                sqlx::query_scalar("SELECT person_id FROM person_keys WHERE key = $1")
                    .bind(key.as_str())
                    .fetch_optional(&self.pool)
                    .await?
            }
            Target::User(user_id) => {
                sqlx::query_scalar("SELECT person_id FROM persons WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?
            }
            Target::Person(person_id) => {
                sqlx::query_scalar(
                    "SELECT person_id FROM persons WHERE person_id = $1 \
                     UNION ALL \
                     SELECT into_id FROM person_merges WHERE merged_id = $1 \
                     LIMIT 1",
                )
                .bind(person_id)
                .fetch_optional(&self.pool)
                .await?
            }
        };
        Ok(person)
    }

    async fn shared_neighbours(
        &self,
        frontier: &[Uuid],
        owners: &[Uuid],
        contacts: Contacts,
    ) -> Result<Vec<Adjacent>, StoreError> {
        // One row per owner and per frontier person, the edges as arrays: a step
        // reads ~10,000 edges, and a row costs far more to send and decode than an
        // array element. Every part is an index-only scan (see the migrations).
        let statement = match contacts {
            Contacts::All => {
                "SELECT owner_person_id, array_agg(person_id), array_agg(person_discoverable) \
                 FROM knows WHERE owner_person_id = ANY($2) AND owner_discoverable \
                 GROUP BY owner_person_id \
                 UNION ALL \
                 SELECT person_id, array_agg(owner_person_id), NULL FROM knows \
                 WHERE person_id = ANY($1) AND owner_discoverable \
                 GROUP BY person_id"
            }
            Contacts::OfDiscoverableUsers => {
                "SELECT owner_person_id, array_agg(person_id), array_agg(true) \
                 FROM knows \
                 WHERE owner_person_id = ANY($2) AND owner_discoverable AND person_discoverable \
                 GROUP BY owner_person_id \
                 UNION ALL \
                 SELECT person_id, array_agg(owner_person_id), NULL FROM knows \
                 WHERE person_id = ANY($1) AND owner_discoverable \
                 GROUP BY person_id"
            }
        };
        let rows: Vec<(Uuid, Vec<Uuid>, Option<Vec<bool>>)> = sqlx::query_as(statement)
            .bind(frontier)
            .bind(owners)
            .fetch_all(&self.pool)
            .await?;
        let mut edges = Vec::with_capacity(rows.iter().map(|(_, to, _)| to.len()).sum());
        for (from, to, to_discoverable) in rows {
            match to_discoverable {
                // An owner's entries: whether each contact is a discoverable user.
                Some(flags) => edges.extend(to.into_iter().zip(flags).map(
                    |(to, to_discoverable)| Adjacent {
                        from,
                        to,
                        to_discoverable,
                    },
                )),
                // The discoverable owners naming `from`.
                None => edges.extend(to.into_iter().map(|to| Adjacent {
                    from,
                    to,
                    to_discoverable: true,
                })),
            }
        }
        Ok(edges)
    }

    async fn describe(&self, persons: &[Uuid]) -> Result<HashMap<Uuid, PersonFacts>, StoreError> {
        let rows: Vec<(Uuid, Option<Uuid>, Option<String>, bool)> = sqlx::query_as(
            "SELECT person_id, user_id, display_name, discoverable FROM persons \
             WHERE person_id = ANY($1)",
        )
        .bind(persons)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(person_id, user_id, display_name, discoverable)| {
                (
                    person_id,
                    PersonFacts {
                        person_id,
                        user_id,
                        display_name,
                        discoverable,
                    },
                )
            })
            .collect())
    }

    async fn entry_name(&self, owner: Uuid, person: Uuid) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT full_name FROM knows \
             WHERE owner_person_id = $1 AND person_id = $2 AND owner_discoverable \
             ORDER BY contact_id LIMIT 1",
        )
        .bind(owner)
        .bind(person)
        .fetch_optional(&self.pool)
        .await?)
    }
}
