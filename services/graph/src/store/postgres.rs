//! The graph in PostgreSQL: adjacency tables (`migrations/`), written by the
//! projection in the consumer's transaction, read by batched breadth-first steps.
//!
//! Projection writes are serialised by one transaction-level advisory lock: identity
//! resolution reads keys and then writes persons, and two batches resolving the same
//! new key at once would otherwise both create a person for it.

use std::collections::{HashMap, HashSet};

use six_events::{
    api::ProfileUpdated,
    auth::UserRegistered,
    importer::{ContactDeleted, ContactsImported, ImportedContact},
};
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use super::{
    Adjacent, ContactFacts, GraphStore, JoinedOwner, PersonFacts, StoreError, Target, Viewer,
};
use crate::identity::{IdentityKey, KnownPerson, Planner};

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
/// none yet (a batch or a profile may arrive before the registration).
async fn user_person(
    transaction: &mut PgConnection,
    user_id: Uuid,
) -> Result<(Uuid, bool), sqlx::Error> {
    let existing: Option<(Uuid, bool)> =
        sqlx::query_as("SELECT person_id, discoverable FROM persons WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&mut *transaction)
            .await?;
    if let Some(person) = existing {
        return Ok(person);
    }
    let person_id = Uuid::now_v7();
    sqlx::query("INSERT INTO persons (person_id, user_id) VALUES ($1, $2)")
        .bind(person_id)
        .bind(user_id)
        .execute(&mut *transaction)
        .await?;
    Ok((person_id, false))
}

/// Sets the user's name from the registration unless a profile already named them.
async fn set_display_name(
    transaction: &mut PgConnection,
    person_id: Uuid,
    display_name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE persons SET display_name = coalesce(display_name, $2) WHERE person_id = $1",
    )
    .bind(person_id)
    .bind(display_name)
    .execute(&mut *transaction)
    .await?;
    Ok(())
}

/// Merges `merged` into `survivor`: keys, entries naming it and its own entries
/// move; `merged` is remembered as an alias.
async fn merge_person(
    transaction: &mut PgConnection,
    merged: Uuid,
    survivor: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH gone AS (DELETE FROM persons WHERE person_id = $1 RETURNING keys), \
         moved AS (UPDATE person_keys SET person_id = $2 \
                   WHERE key = ANY((SELECT keys FROM gone)::text[])) \
         UPDATE persons SET keys = keys || (SELECT keys FROM gone) WHERE person_id = $2",
    )
    .bind(merged)
    .bind(survivor)
    .execute(&mut *transaction)
    .await?;
    sqlx::query(
        "UPDATE knows SET person_id = $2, \
         person_discoverable = (SELECT discoverable FROM persons WHERE person_id = $2) \
         WHERE person_id = $1",
    )
    .bind(merged)
    .bind(survivor)
    .execute(&mut *transaction)
    .await?;
    sqlx::query("UPDATE person_merges SET into_id = $2 WHERE into_id = $1")
        .bind(merged)
        .bind(survivor)
        .execute(&mut *transaction)
        .await?;
    sqlx::query("INSERT INTO person_merges (merged_id, into_id) VALUES ($1, $2) ON CONFLICT (merged_id) DO UPDATE SET into_id = $2")
        .bind(merged)
        .bind(survivor)
        .execute(&mut *transaction)
        .await?;
    Ok(())
}

/// Recomputes the keys of `persons` from what still names them (their account's
/// e-mail and the entries of them that remain), drops keys nothing names any more,
/// and deletes persons that are neither a user nor anyone's contact.
async fn forget_unsupported(
    transaction: &mut PgConnection,
    persons: &[Uuid],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH supported AS ( \
             SELECT p.person_id, \
                    ARRAY(SELECT DISTINCT key FROM ( \
                        SELECT p.account_key AS key WHERE p.account_key IS NOT NULL \
                        UNION ALL \
                        SELECT unnest(k.keys) FROM knows k WHERE k.person_id = p.person_id \
                    ) keys ORDER BY key) AS keys \
             FROM persons p WHERE p.person_id = ANY($1) \
         ), \
         dropped AS ( \
             DELETE FROM person_keys pk USING persons p, supported s \
             WHERE p.person_id = s.person_id AND pk.key = ANY(p.keys) \
               AND pk.person_id = p.person_id AND NOT pk.key = ANY(s.keys) \
         ) \
         UPDATE persons p SET keys = s.keys FROM supported s WHERE p.person_id = s.person_id",
    )
    .bind(persons)
    .execute(&mut *transaction)
    .await?;
    sqlx::query(
        "WITH orphans AS ( \
             DELETE FROM persons p WHERE p.person_id = ANY($1) AND p.user_id IS NULL \
               AND NOT EXISTS (SELECT 1 FROM knows k WHERE k.person_id = p.person_id) \
             RETURNING p.person_id, p.keys \
         ), \
         aliases AS (DELETE FROM person_merges m USING orphans o WHERE m.into_id = o.person_id) \
         DELETE FROM person_keys pk USING orphans o \
         WHERE pk.key = ANY(o.keys) AND pk.person_id = o.person_id",
    )
    .bind(persons)
    .execute(&mut *transaction)
    .await?;
    Ok(())
}

/// The persons the given keys name, with whether each is a user.
async fn known_persons(
    transaction: &mut PgConnection,
    keys: &[String],
) -> Result<Vec<(IdentityKey, KnownPerson)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT pk.key, pk.person_id, p.user_id IS NOT NULL AS is_user \
         FROM person_keys pk JOIN persons p ON p.person_id = pk.person_id \
         WHERE pk.key = ANY($1)",
    )
    .bind(keys)
    .fetch_all(&mut *transaction)
    .await?;
    rows.into_iter()
        .map(|row| {
            Ok((
                IdentityKey::from_stored(row.try_get("key")?),
                KnownPerson {
                    person_id: row.try_get("person_id")?,
                    is_user: row.try_get("is_user")?,
                },
            ))
        })
        .collect()
}

impl GraphStore for PostgresGraph {
    #[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
    async fn register_user(
        &self,
        transaction: &mut PgConnection,
        user: &UserRegistered,
    ) -> Result<Vec<JoinedOwner>, StoreError> {
        lock_projection(transaction).await?;
        if is_erased(transaction, user.user_id).await? {
            return Ok(Vec::new());
        }
        let Some(key) = IdentityKey::email(&user.email) else {
            tracing::warn!("registration without a usable e-mail address: no key recorded");
            let (person_id, _) = user_person(transaction, user.user_id).await?;
            set_display_name(transaction, person_id, &user.display_name).await?;
            return Ok(Vec::new());
        };
        let own: Option<Uuid> =
            sqlx::query_scalar("SELECT person_id FROM persons WHERE user_id = $1")
                .bind(user.user_id)
                .fetch_optional(&mut *transaction)
                .await?;
        let named: Option<(Uuid, bool)> = sqlx::query_as(
            "SELECT pk.person_id, p.user_id IS NOT NULL FROM person_keys pk \
             JOIN persons p ON p.person_id = pk.person_id WHERE pk.key = $1",
        )
        .bind(key.as_str())
        .fetch_optional(&mut *transaction)
        .await?;
        let mut joined_persons = Vec::new();
        let person_id = match (own, named) {
            (Some(own), Some((named, _))) if own == named => own,
            (_, Some((named, true))) => {
                // The address names another account's person (an account deleted and
                // its address reused is erased first, so this is a contradiction):
                // keep both apart.
                tracing::warn!(%named, "e-mail key already names another user: not linked");
                let (person_id, _) = user_person(transaction, user.user_id).await?;
                set_display_name(transaction, person_id, &user.display_name).await?;
                return Ok(Vec::new());
            }
            (None, Some((named, false))) => {
                // Others' contact: it becomes the user, keeping its id.
                sqlx::query("UPDATE persons SET user_id = $2 WHERE person_id = $1")
                    .bind(named)
                    .bind(user.user_id)
                    .execute(&mut *transaction)
                    .await?;
                joined_persons.push(named);
                named
            }
            (Some(own), Some((named, false))) => {
                merge_person(transaction, named, own).await?;
                joined_persons.push(named);
                own
            }
            (own, None) => {
                let person_id = match own {
                    Some(own) => own,
                    None => user_person(transaction, user.user_id).await?.0,
                };
                sqlx::query("INSERT INTO person_keys (key, person_id) VALUES ($1, $2)")
                    .bind(key.as_str())
                    .bind(person_id)
                    .execute(&mut *transaction)
                    .await?;
                sqlx::query("UPDATE persons SET keys = keys || ARRAY[$2] WHERE person_id = $1")
                    .bind(person_id)
                    .bind(key.as_str())
                    .execute(&mut *transaction)
                    .await?;
                person_id
            }
        };
        set_display_name(transaction, person_id, &user.display_name).await?;
        sqlx::query("UPDATE persons SET account_key = $2 WHERE person_id = $1")
            .bind(person_id)
            .bind(key.as_str())
            .execute(&mut *transaction)
            .await?;
        if joined_persons.is_empty() {
            return Ok(Vec::new());
        }
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
        if is_erased(transaction, profile.user_id).await? {
            return Ok(());
        }
        let (person_id, was_discoverable) = user_person(transaction, profile.user_id).await?;
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
        if is_erased(transaction, batch.owner_id).await? {
            return Ok(());
        }
        let (owner_person, owner_discoverable) = user_person(transaction, batch.owner_id).await?;
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

        let mut all_keys: Vec<String> = fresh
            .iter()
            .flat_map(|(_, keys)| keys.iter().map(|key| key.as_str().to_owned()))
            .collect();
        all_keys.sort_unstable();
        all_keys.dedup();
        let mut planner = Planner::new(known_persons(transaction, &all_keys).await?);
        let placed: Vec<Uuid> = fresh.iter().map(|(_, keys)| planner.place(keys)).collect();
        let placed: Vec<Uuid> = placed.into_iter().map(|p| planner.current(p)).collect();
        let plan = planner.finish();

        sqlx::query("INSERT INTO persons (person_id) SELECT * FROM UNNEST($1::uuid[])")
            .bind(&plan.created)
            .execute(&mut *transaction)
            .await?;
        for (merged, survivor) in &plan.merges {
            merge_person(transaction, *merged, *survivor).await?;
        }
        let (keys, key_persons): (Vec<&str>, Vec<Uuid>) = plan
            .new_keys
            .iter()
            .map(|(key, person)| (key.as_str(), *person))
            .unzip();
        sqlx::query(
            "WITH added AS ( \
                 INSERT INTO person_keys (key, person_id) \
                 SELECT * FROM UNNEST($1::text[], $2::uuid[]) \
                 RETURNING key, person_id \
             ) \
             UPDATE persons p SET keys = p.keys || a.keys \
             FROM (SELECT person_id, array_agg(key ORDER BY key) AS keys FROM added GROUP BY person_id) a \
             WHERE p.person_id = a.person_id",
        )
        .bind(&keys)
        .bind(&key_persons)
        .execute(&mut *transaction)
        .await?;

        let mut entry_ids = Vec::with_capacity(fresh.len());
        let mut names = Vec::with_capacity(fresh.len());
        let mut entry_keys = Vec::with_capacity(fresh.len());
        for (contact, keys) in &fresh {
            entry_ids.push(contact.contact_id);
            names.push(contact.full_name.as_str());
            entry_keys.push(IdentityKey::join(keys));
        }
        sqlx::query(
            "INSERT INTO knows (owner_person_id, contact_id, person_id, full_name, keys, \
                                owner_discoverable, person_discoverable) \
             SELECT $1, e.contact_id, e.person_id, e.full_name, \
                    CASE WHEN e.keys = '' THEN '{}'::text[] ELSE string_to_array(e.keys, E'\\x1f') END, \
                    $2, p.discoverable \
             FROM UNNEST($3::uuid[], $4::uuid[], $5::text[], $6::text[]) \
                  AS e(contact_id, person_id, full_name, keys) \
             JOIN persons p ON p.person_id = e.person_id \
             ON CONFLICT (owner_person_id, contact_id) DO NOTHING",
        )
        .bind(owner_person)
        .bind(owner_discoverable)
        .bind(&entry_ids)
        .bind(&placed)
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
        let person: Option<Uuid> = sqlx::query_scalar(
            "DELETE FROM knows k USING persons o \
             WHERE o.user_id = $1 AND k.owner_person_id = o.person_id AND k.contact_id = $2 \
             RETURNING k.person_id",
        )
        .bind(deleted.owner_id)
        .bind(deleted.contact_id)
        .fetch_optional(&mut *transaction)
        .await?;
        if let Some(person) = person {
            forget_unsupported(transaction, &[person]).await?;
        }
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
        let person: Option<Uuid> = sqlx::query_scalar(
            "UPDATE persons SET user_id = NULL, display_name = NULL, discoverable = false, \
                    profile_updated_at = NULL, account_key = NULL \
             WHERE user_id = $1 RETURNING person_id",
        )
        .bind(user_id)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(person) = person else {
            return Ok(());
        };
        let mut touched: Vec<Uuid> =
            sqlx::query_scalar("DELETE FROM knows WHERE owner_person_id = $1 RETURNING person_id")
                .bind(person)
                .fetch_all(&mut *transaction)
                .await?;
        sqlx::query("UPDATE knows SET person_discoverable = false WHERE person_id = $1")
            .bind(person)
            .execute(&mut *transaction)
            .await?;
        touched.push(person);
        touched.sort_unstable();
        touched.dedup();
        forget_unsupported(transaction, &touched).await?;
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
        let mut contacts = HashMap::with_capacity(rows.len());
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
    ) -> Result<Vec<Adjacent>, StoreError> {
        let rows: Vec<(Uuid, Uuid, bool)> = sqlx::query_as(
            "SELECT owner_person_id, person_id, person_discoverable FROM knows \
             WHERE owner_person_id = ANY($2) AND owner_discoverable \
             UNION ALL \
             SELECT person_id, owner_person_id, true FROM knows \
             WHERE person_id = ANY($1) AND owner_discoverable",
        )
        .bind(frontier)
        .bind(owners)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(from, to, to_discoverable)| Adjacent {
                from,
                to,
                to_discoverable,
            })
            .collect())
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
