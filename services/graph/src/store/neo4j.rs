//! The graph in Neo4j (production), through `neo4rs`.
//!
//! The model:
//! - `(:Person {person_id, user_id, display_name, discoverable, profile_updated_at,
//!   account_key, joined_owners})`, one per real-world person, a user when
//!   `user_id` is set;
//! - `(:IdentityKey {key})-[:NAMES]->(:Person)`: the keys that recognise a person,
//!   each unique, written with `MERGE`;
//! - `(owner:Person)-[:KNOWS|KNOWS_SHARED {contact_id, full_name, keys}]->(:Person)`,
//!   one relationship per contact entry. An entry of a discoverable owner is a
//!   `KNOWS_SHARED`, any other a `KNOWS`: the shared reads follow `KNOWS_SHARED`
//!   only, so they never even load the entries of users who are not discoverable
//!   (the same guarantee the `owner_discoverable` column gives on PostgreSQL), and a
//!   change of `discoverable` retypes the owner's relationships;
//! - `(:MergedPerson {merged_id, into_id})`, `(:RemovedContact {owner_id,
//!   contact_id})`, `(:ErasedUser {user_id})`: the projection's bookkeeping.
//!
//! Every statement is parameterised; the only text spliced into a statement is one
//! of the two relationship type names above. Constraints and indexes are created
//! at start ([`Neo4jGraph::connect`]).
//!
//! Neo4j is not in the consumer's PostgreSQL transaction: each projection method
//! writes in a Neo4j transaction of its own, committed before the inbox row, so a
//! failure between the two commits makes the event come again, and every method is
//! written to be applied twice. The methods still take the PostgreSQL projection
//! lock in the consumer's transaction, which serialises identity resolution across
//! every replica of the service exactly as on PostgreSQL.
//!
//! Every call is bounded by `NEO4J_QUERY_TIMEOUT_MS` (the driver's own retries of
//! transient errors included); connecting by `NEO4J_CONNECT_TIMEOUT_MS`.

use std::{
    collections::{HashMap, HashSet, hash_map::Entry},
    time::Duration,
};

use neo4rs::{BoltType, ConfigBuilder, Graph, Query, Row, Txn, query};
use secrecy::{ExposeSecret, SecretString};
use six_events::{
    api::ProfileUpdated,
    auth::UserRegistered,
    importer::{ContactDeleted, ContactsImported, ImportedContact},
};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{
    Adjacent, ContactFacts, GraphStore, JoinedOwner, PersonFacts, StoreError, Target, Viewer,
    postgres::lock_projection,
};
use crate::identity::{IdentityKey, KnownPerson, Planner};

/// Where and how to reach Neo4j (`NEO4J_*`).
#[derive(Debug, Clone)]
pub struct Neo4jConfig {
    /// e.g. `bolt://neo4j:7687` or `neo4j+s://…` (TLS).
    pub uri: String,
    pub user: String,
    pub password: SecretString,
    /// The database; the server's default when `None`.
    pub database: Option<String>,
    pub max_connections: usize,
    pub connect_timeout: Duration,
    /// Bound on each store call, retries included.
    pub query_timeout: Duration,
}

/// The schema, created at start; each statement is idempotent.
const SCHEMA: &[&str] = &[
    "CREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE p.person_id IS UNIQUE",
    "CREATE CONSTRAINT person_user IF NOT EXISTS FOR (p:Person) REQUIRE p.user_id IS UNIQUE",
    "CREATE CONSTRAINT identity_key IF NOT EXISTS FOR (k:IdentityKey) REQUIRE k.key IS UNIQUE",
    "CREATE CONSTRAINT merged_person IF NOT EXISTS \
     FOR (m:MergedPerson) REQUIRE m.merged_id IS UNIQUE",
    "CREATE INDEX merged_person_into IF NOT EXISTS FOR (m:MergedPerson) ON (m.into_id)",
    "CREATE CONSTRAINT removed_contact IF NOT EXISTS \
     FOR (r:RemovedContact) REQUIRE (r.owner_id, r.contact_id) IS UNIQUE",
    "CREATE CONSTRAINT erased_user IF NOT EXISTS FOR (e:ErasedUser) REQUIRE e.user_id IS UNIQUE",
    "CREATE INDEX knows_contact IF NOT EXISTS FOR ()-[e:KNOWS]-() ON (e.contact_id)",
    "CREATE INDEX knows_shared_contact IF NOT EXISTS \
     FOR ()-[e:KNOWS_SHARED]-() ON (e.contact_id)",
];

/// The relationship type of an owner's entries.
fn entry_type(owner_discoverable: bool) -> &'static str {
    if owner_discoverable {
        "KNOWS_SHARED"
    } else {
        "KNOWS"
    }
}

/// The Neo4j store.
#[derive(Clone)]
pub struct Neo4jGraph {
    graph: Graph,
    query_timeout: Duration,
}

impl std::fmt::Debug for Neo4jGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neo4jGraph")
            .field("query_timeout", &self.query_timeout)
            .finish_non_exhaustive()
    }
}

impl Neo4jGraph {
    /// Connects and creates the constraints and indexes the store relies on.
    pub async fn connect(config: &Neo4jConfig) -> Result<Self, StoreError> {
        let mut builder = ConfigBuilder::default()
            .uri(config.uri.as_str())
            .user(config.user.as_str())
            .password(config.password.expose_secret())
            .max_connections(config.max_connections)
            .connection_timeout(config.connect_timeout);
        if let Some(database) = &config.database {
            builder = builder.db(database.as_str());
        }
        let store = Self {
            graph: Graph::connect(builder.build()?)?,
            query_timeout: config.query_timeout,
        };
        store
            .bounded(async {
                for statement in SCHEMA {
                    store.graph.run(query(statement)).await?;
                }
                Ok(())
            })
            .await?;
        Ok(store)
    }

    /// Deletes every node and relationship: for tests, which share one database.
    pub async fn clear(&self) -> Result<(), StoreError> {
        self.bounded(async {
            self.graph.run(query("MATCH (n) DETACH DELETE n")).await?;
            Ok(())
        })
        .await
    }

    /// `work` bounded by the query timeout.
    async fn bounded<T>(
        &self,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.query_timeout, work)
            .await
            .map_err(|_| StoreError::Neo4jTimeout {
                after: self.query_timeout,
            })?
    }

    /// Runs `write` in a Neo4j transaction, committed when it succeeds, after
    /// taking the projection lock in the consumer's PostgreSQL transaction.
    async fn write<T>(
        &self,
        projection: &mut PgConnection,
        write: impl AsyncFnOnce(&mut Txn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        lock_projection(projection).await?;
        self.bounded(async {
            let mut transaction = self.graph.start_txn().await?;
            match write(&mut transaction).await {
                Ok(value) => {
                    transaction.commit().await?;
                    Ok(value)
                }
                Err(error) => {
                    if let Err(rollback) = transaction.rollback().await {
                        tracing::warn!(error = %rollback, "neo4j rollback failed; the connection is reset before reuse");
                    }
                    Err(error)
                }
            }
        })
        .await
    }

    /// The rows of a read.
    async fn read(&self, statement: Query) -> Result<Vec<Row>, StoreError> {
        self.bounded(async {
            let mut stream = self.graph.execute_read(statement).await?;
            let mut rows = Vec::new();
            while let Some(row) = stream.next().await? {
                rows.push(row);
            }
            Ok(rows)
        })
        .await
    }
}

/// The rows of a statement in a transaction.
async fn rows(transaction: &mut Txn, statement: Query) -> Result<Vec<Row>, StoreError> {
    let mut stream = transaction.execute(statement).await?;
    let mut rows = Vec::new();
    while let Some(row) = stream.next(transaction.handle()).await? {
        rows.push(row);
    }
    Ok(rows)
}

/// A column holding an id (ids are stored as their text form).
fn id(row: &Row, column: &str) -> Result<Uuid, StoreError> {
    let text: String = row.get(column)?;
    Uuid::parse_str(&text).map_err(|error| StoreError::Neo4jValue(format!("{column}: {error}")))
}

/// A column holding an id or null.
fn optional_id(row: &Row, column: &str) -> Result<Option<Uuid>, StoreError> {
    let text: Option<String> = row.get(column)?;
    text.map(|text| {
        Uuid::parse_str(&text).map_err(|error| StoreError::Neo4jValue(format!("{column}: {error}")))
    })
    .transpose()
}

fn id_list(ids: &[Uuid]) -> Vec<String> {
    ids.iter().map(Uuid::to_string).collect()
}

async fn is_erased(transaction: &mut Txn, user_id: Uuid) -> Result<bool, StoreError> {
    let found = rows(
        transaction,
        query("MATCH (e:ErasedUser {user_id: $user_id}) RETURN e.user_id AS user_id")
            .param("user_id", user_id),
    )
    .await?;
    Ok(!found.is_empty())
}

/// The user's person (id, discoverable), created without keys if the graph has
/// none yet (a batch or a profile may arrive before the registration).
async fn user_person(transaction: &mut Txn, user_id: Uuid) -> Result<(Uuid, bool), StoreError> {
    let found = rows(
        transaction,
        query(
            "MERGE (p:Person {user_id: $user_id}) \
             ON CREATE SET p.person_id = $new_id, p.discoverable = false \
             RETURN p.person_id AS person_id, p.discoverable AS discoverable",
        )
        .param("user_id", user_id)
        .param("new_id", Uuid::now_v7()),
    )
    .await?;
    let row = single(found, "the user's person")?;
    Ok((id(&row, "person_id")?, row.get("discoverable")?))
}

/// The one row a statement must return.
fn single(rows: Vec<Row>, what: &str) -> Result<Row, StoreError> {
    rows.into_iter()
        .next()
        .ok_or_else(|| StoreError::Neo4jValue(format!("no row for {what}")))
}

async fn set_display_name(
    transaction: &mut Txn,
    person_id: Uuid,
    display_name: &str,
) -> Result<(), StoreError> {
    transaction
        .run(
            query(
                "MATCH (p:Person {person_id: $person_id}) \
                 SET p.display_name = coalesce(p.display_name, $display_name)",
            )
            .param("person_id", person_id)
            .param("display_name", display_name),
        )
        .await?;
    Ok(())
}

/// Records `key` as naming `person_id`.
async fn add_key(
    transaction: &mut Txn,
    key: &IdentityKey,
    person_id: Uuid,
) -> Result<(), StoreError> {
    transaction
        .run(
            query(
                "MATCH (p:Person {person_id: $person_id}) \
                 MERGE (k:IdentityKey {key: $key}) MERGE (k)-[:NAMES]->(p)",
            )
            .param("person_id", person_id)
            .param("key", key.as_str()),
        )
        .await?;
    Ok(())
}

/// Merges `merged` (never a user) into `survivor`: its keys and the entries naming
/// it move, and `merged` is remembered as an alias.
async fn merge_person(
    transaction: &mut Txn,
    merged: Uuid,
    survivor: Uuid,
) -> Result<(), StoreError> {
    let moves = [
        "MATCH (k:IdentityKey)-[n:NAMES]->(:Person {person_id: $merged}) \
         MATCH (s:Person {person_id: $survivor}) \
         DELETE n MERGE (k)-[:NAMES]->(s)",
        "MATCH (o:Person)-[e:KNOWS]->(:Person {person_id: $merged}) \
         MATCH (s:Person {person_id: $survivor}) \
         CREATE (o)-[moved:KNOWS]->(s) SET moved = properties(e) DELETE e",
        "MATCH (o:Person)-[e:KNOWS_SHARED]->(:Person {person_id: $merged}) \
         MATCH (s:Person {person_id: $survivor}) \
         CREATE (o)-[moved:KNOWS_SHARED]->(s) SET moved = properties(e) DELETE e",
        "MATCH (a:MergedPerson {into_id: $merged}) SET a.into_id = $survivor",
        "MERGE (a:MergedPerson {merged_id: $merged}) SET a.into_id = $survivor",
        "MATCH (m:Person {person_id: $merged}) DETACH DELETE m",
    ];
    for statement in moves {
        transaction
            .run(
                query(statement)
                    .param("merged", merged)
                    .param("survivor", survivor),
            )
            .await?;
    }
    Ok(())
}

/// Drops the keys of `persons` that nothing names any more (their account's
/// e-mail and the entries of them that remain) and deletes the persons that are
/// neither a user nor anyone's contact.
async fn forget_unsupported(transaction: &mut Txn, persons: &[Uuid]) -> Result<(), StoreError> {
    let persons = id_list(persons);
    transaction
        .run(
            query(
                "UNWIND $persons AS person_id \
                 MATCH (p:Person {person_id: person_id}) \
                 OPTIONAL MATCH (:Person)-[e:KNOWS|KNOWS_SHARED]->(p) \
                 WITH p, reduce(keys = [key IN [p.account_key] WHERE key IS NOT NULL], \
                                entry IN collect(e.keys) | keys + entry) AS supported \
                 MATCH (k:IdentityKey)-[:NAMES]->(p) WHERE NOT k.key IN supported \
                 DETACH DELETE k",
            )
            .param("persons", persons.clone()),
        )
        .await?;
    let orphans = rows(
        transaction,
        query(
            "UNWIND $persons AS person_id \
             MATCH (p:Person {person_id: person_id}) \
             WHERE p.user_id IS NULL AND NOT EXISTS { (:Person)-[:KNOWS|KNOWS_SHARED]->(p) } \
             RETURN p.person_id AS person_id",
        )
        .param("persons", persons),
    )
    .await?
    .iter()
    .map(|row| row.get::<String>("person_id"))
    .collect::<Result<Vec<String>, _>>()?;
    if orphans.is_empty() {
        return Ok(());
    }
    for statement in [
        "UNWIND $orphans AS person_id \
         MATCH (k:IdentityKey)-[:NAMES]->(:Person {person_id: person_id}) DETACH DELETE k",
        "UNWIND $orphans AS person_id MATCH (a:MergedPerson {into_id: person_id}) DELETE a",
        "UNWIND $orphans AS person_id MATCH (p:Person {person_id: person_id}) DETACH DELETE p",
    ] {
        transaction
            .run(query(statement).param("orphans", orphans.clone()))
            .await?;
    }
    Ok(())
}

/// The persons the given keys name, with whether each is a user.
async fn known_persons(
    transaction: &mut Txn,
    keys: &[String],
) -> Result<Vec<(IdentityKey, KnownPerson)>, StoreError> {
    rows(
        transaction,
        query(
            "UNWIND $keys AS key \
             MATCH (:IdentityKey {key: key})-[:NAMES]->(p:Person) \
             RETURN key, p.person_id AS person_id, p.user_id IS NOT NULL AS is_user",
        )
        .param("keys", keys.to_vec()),
    )
    .await?
    .iter()
    .map(|row| {
        Ok((
            IdentityKey::from_stored(row.get("key")?),
            KnownPerson {
                person_id: id(row, "person_id")?,
                is_user: row.get("is_user")?,
            },
        ))
    })
    .collect()
}

/// The owners whose entries named the user's person when the registration was
/// first applied (`Person.joined_owners`, kept so a repeated registration announces
/// the same owners).
async fn recorded_joined_owners(
    transaction: &mut Txn,
    person_id: Uuid,
) -> Result<Vec<JoinedOwner>, StoreError> {
    let row = single(
        rows(
            transaction,
            query(
                "MATCH (p:Person {person_id: $person_id}) \
                 RETURN coalesce(p.joined_owners, []) AS owners",
            )
            .param("person_id", person_id),
        )
        .await?,
        "the user's person",
    )?;
    row.get::<Vec<String>>("owners")?
        .iter()
        .map(|owner| {
            Ok(JoinedOwner {
                owner_id: Uuid::parse_str(owner)
                    .map_err(|error| StoreError::Neo4jValue(format!("owners: {error}")))?,
                person_id,
            })
        })
        .collect()
}

/// One new entry, as the statement that writes entries reads it.
fn entry_map(contact: &ImportedContact, person_id: Uuid, keys: &[IdentityKey]) -> BoltType {
    let keys: Vec<String> = keys.iter().map(|key| key.as_str().to_owned()).collect();
    HashMap::from([
        ("contact_id", BoltType::from(contact.contact_id)),
        ("person_id", BoltType::from(person_id)),
        ("full_name", BoltType::from(contact.full_name.as_str())),
        ("keys", BoltType::from(keys)),
    ])
    .into()
}

impl GraphStore for Neo4jGraph {
    #[tracing::instrument(skip_all, fields(user_id = %user.user_id))]
    async fn register_user(
        &self,
        projection: &mut PgConnection,
        user: &UserRegistered,
    ) -> Result<Vec<JoinedOwner>, StoreError> {
        self.write(projection, async |tx| {
            if is_erased(tx, user.user_id).await? {
                return Ok(Vec::new());
            }
            let Some(key) = IdentityKey::email(&user.email) else {
                tracing::warn!("registration without a usable e-mail address: no key recorded");
                let (person_id, _) = user_person(tx, user.user_id).await?;
                set_display_name(tx, person_id, &user.display_name).await?;
                return Ok(Vec::new());
            };
            let own = rows(
                tx,
                query("MATCH (p:Person {user_id: $user_id}) RETURN p.person_id AS person_id")
                    .param("user_id", user.user_id),
            )
            .await?
            .first()
            .map(|row| id(row, "person_id"))
            .transpose()?;
            let named = rows(
                tx,
                query(
                    "MATCH (:IdentityKey {key: $key})-[:NAMES]->(p:Person) \
                     RETURN p.person_id AS person_id, p.user_id IS NOT NULL AS is_user",
                )
                .param("key", key.as_str()),
            )
            .await?
            .first()
            .map(|row| Ok::<_, StoreError>((id(row, "person_id")?, row.get::<bool>("is_user")?)))
            .transpose()?;
            let mut joined = false;
            let person_id = match (own, named) {
                (Some(own), Some((named, _))) if own == named => {
                    // Applied before, but the event came again: its inbox row did
                    // not commit, so neither did its notices; give the same owners.
                    return recorded_joined_owners(tx, own).await;
                }
                (_, Some((named, true))) => {
                    tracing::warn!(%named, "e-mail key already names another user: not linked");
                    let (person_id, _) = user_person(tx, user.user_id).await?;
                    set_display_name(tx, person_id, &user.display_name).await?;
                    return Ok(Vec::new());
                }
                (None, Some((named, false))) => {
                    tx.run(
                        query("MATCH (p:Person {person_id: $person_id}) SET p.user_id = $user_id")
                            .param("person_id", named)
                            .param("user_id", user.user_id),
                    )
                    .await?;
                    joined = true;
                    named
                }
                (Some(own), Some((named, false))) => {
                    merge_person(tx, named, own).await?;
                    joined = true;
                    own
                }
                (own, None) => {
                    let person_id = match own {
                        Some(own) => own,
                        None => user_person(tx, user.user_id).await?.0,
                    };
                    add_key(tx, &key, person_id).await?;
                    person_id
                }
            };
            set_display_name(tx, person_id, &user.display_name).await?;
            tx.run(
                query("MATCH (p:Person {person_id: $person_id}) SET p.account_key = $key")
                    .param("person_id", person_id)
                    .param("key", key.as_str()),
            )
            .await?;
            if !joined {
                return Ok(Vec::new());
            }
            tx.run(
                query(
                    "MATCH (p:Person {person_id: $person_id}) \
                     SET p.joined_owners = COLLECT { \
                         MATCH (o:Person)-[:KNOWS|KNOWS_SHARED]->(p) \
                         WHERE o.user_id IS NOT NULL AND o.user_id <> $user_id \
                         RETURN DISTINCT o.user_id ORDER BY o.user_id \
                     }",
                )
                .param("person_id", person_id)
                .param("user_id", user.user_id),
            )
            .await?;
            recorded_joined_owners(tx, person_id).await
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(user_id = %profile.user_id))]
    async fn update_profile(
        &self,
        projection: &mut PgConnection,
        profile: &ProfileUpdated,
    ) -> Result<(), StoreError> {
        self.write(projection, async |tx| {
            if is_erased(tx, profile.user_id).await? {
                return Ok(());
            }
            let (person_id, was_discoverable) = user_person(tx, profile.user_id).await?;
            let applied = rows(
                tx,
                query(
                    "MATCH (p:Person {person_id: $person_id}) \
                     WHERE p.profile_updated_at IS NULL OR p.profile_updated_at < $updated_at \
                     SET p.display_name = $display_name, p.discoverable = $discoverable, \
                         p.profile_updated_at = $updated_at \
                     RETURN p.person_id AS person_id",
                )
                .param("person_id", person_id)
                .param("display_name", profile.display_name.as_str())
                .param("discoverable", profile.discoverable)
                .param("updated_at", profile.updated_at),
            )
            .await?;
            if !applied.is_empty() && was_discoverable != profile.discoverable {
                let statement = format!(
                    "MATCH (o:Person {{person_id: $person_id}})-[e:{from}]->(c:Person) \
                     CREATE (o)-[moved:{to}]->(c) SET moved = properties(e) DELETE e",
                    from = entry_type(was_discoverable),
                    to = entry_type(profile.discoverable),
                );
                tx.run(query(&statement).param("person_id", person_id))
                    .await?;
            }
            Ok(())
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(owner_id = %batch.owner_id, import_id = %batch.import_id, batch_seq = batch.batch_seq))]
    async fn add_contacts(
        &self,
        projection: &mut PgConnection,
        batch: &ContactsImported,
    ) -> Result<(), StoreError> {
        self.write(projection, async |tx| {
            if is_erased(tx, batch.owner_id).await? {
                return Ok(());
            }
            let (owner_person, owner_discoverable) = user_person(tx, batch.owner_id).await?;
            let contact_ids: Vec<String> = batch
                .contacts
                .iter()
                .map(|contact| contact.contact_id.to_string())
                .collect();
            let seen: HashSet<Uuid> = rows(
                tx,
                query(
                    "UNWIND $contact_ids AS contact_id \
                     MATCH (o:Person)-[e:KNOWS|KNOWS_SHARED {contact_id: contact_id}]->() \
                     WHERE o.person_id = $owner_person \
                     RETURN contact_id \
                     UNION \
                     UNWIND $contact_ids AS contact_id \
                     MATCH (:RemovedContact {owner_id: $owner_id, contact_id: contact_id}) \
                     RETURN contact_id",
                )
                .param("contact_ids", contact_ids)
                .param("owner_person", owner_person)
                .param("owner_id", batch.owner_id),
            )
            .await?
            .iter()
            .map(|row| id(row, "contact_id"))
            .collect::<Result<_, _>>()?;
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
            let mut planner = Planner::new(known_persons(tx, &all_keys).await?);
            let placed: Vec<Uuid> = fresh.iter().map(|(_, keys)| planner.place(keys)).collect();
            let placed: Vec<Uuid> = placed.into_iter().map(|p| planner.current(p)).collect();
            let plan = planner.finish();

            tx.run(
                query(
                    "UNWIND $created AS person_id \
                     CREATE (:Person {person_id: person_id, discoverable: false})",
                )
                .param("created", id_list(&plan.created)),
            )
            .await?;
            for (merged, survivor) in &plan.merges {
                merge_person(tx, *merged, *survivor).await?;
            }
            let new_keys: Vec<Vec<String>> = plan
                .new_keys
                .iter()
                .map(|(key, person)| vec![key.as_str().to_owned(), person.to_string()])
                .collect();
            tx.run(
                query(
                    "UNWIND $new_keys AS new_key \
                     MATCH (p:Person {person_id: new_key[1]}) \
                     MERGE (k:IdentityKey {key: new_key[0]}) MERGE (k)-[:NAMES]->(p)",
                )
                .param("new_keys", new_keys),
            )
            .await?;

            let entries: Vec<BoltType> = fresh
                .iter()
                .zip(&placed)
                .map(|((contact, keys), person)| entry_map(contact, *person, keys))
                .collect();
            let statement = format!(
                "MATCH (o:Person {{person_id: $owner_person}}) \
                 UNWIND $entries AS entry \
                 MATCH (p:Person {{person_id: entry.person_id}}) \
                 MERGE (o)-[e:{kind} {{contact_id: entry.contact_id}}]->(p) \
                 ON CREATE SET e.full_name = entry.full_name, e.keys = entry.keys",
                kind = entry_type(owner_discoverable),
            );
            tx.run(
                query(&statement)
                    .param("owner_person", owner_person)
                    .param("entries", entries),
            )
            .await?;
            Ok(())
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(owner_id = %deleted.owner_id, contact_id = %deleted.contact_id))]
    async fn remove_contact(
        &self,
        projection: &mut PgConnection,
        deleted: &ContactDeleted,
    ) -> Result<(), StoreError> {
        self.write(projection, async |tx| {
            if is_erased(tx, deleted.owner_id).await? {
                return Ok(());
            }
            tx.run(
                query("MERGE (:RemovedContact {owner_id: $owner_id, contact_id: $contact_id})")
                    .param("owner_id", deleted.owner_id)
                    .param("contact_id", deleted.contact_id),
            )
            .await?;
            let removed = rows(
                tx,
                query(
                    "MATCH (:Person {user_id: $owner_id})\
                     -[e:KNOWS|KNOWS_SHARED {contact_id: $contact_id}]->(p:Person) \
                     WITH e, p.person_id AS person_id DELETE e RETURN person_id",
                )
                .param("owner_id", deleted.owner_id)
                .param("contact_id", deleted.contact_id),
            )
            .await?
            .iter()
            .map(|row| id(row, "person_id"))
            .collect::<Result<Vec<_>, _>>()?;
            forget_unsupported(tx, &removed).await
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(%user_id))]
    async fn erase_user(
        &self,
        projection: &mut PgConnection,
        user_id: Uuid,
    ) -> Result<(), StoreError> {
        self.write(projection, async |tx| {
            for statement in [
                "MERGE (:ErasedUser {user_id: $user_id})",
                "MATCH (r:RemovedContact {owner_id: $user_id}) DELETE r",
            ] {
                tx.run(query(statement).param("user_id", user_id)).await?;
            }
            let person = rows(
                tx,
                query(
                    "MATCH (p:Person {user_id: $user_id}) \
                     REMOVE p.user_id, p.display_name, p.profile_updated_at, p.account_key, \
                            p.joined_owners \
                     SET p.discoverable = false \
                     RETURN p.person_id AS person_id",
                )
                .param("user_id", user_id),
            )
            .await?
            .first()
            .map(|row| id(row, "person_id"))
            .transpose()?;
            let Some(person) = person else {
                return Ok(());
            };
            let mut touched = rows(
                tx,
                query(
                    "MATCH (:Person {person_id: $person_id})-[e:KNOWS|KNOWS_SHARED]->(c:Person) \
                     WITH e, c.person_id AS person_id DELETE e RETURN person_id",
                )
                .param("person_id", person),
            )
            .await?
            .iter()
            .map(|row| id(row, "person_id"))
            .collect::<Result<Vec<_>, _>>()?;
            touched.push(person);
            touched.sort_unstable();
            touched.dedup();
            forget_unsupported(tx, &touched).await
        })
        .await
    }

    async fn viewer(&self, user_id: Uuid) -> Result<Option<Viewer>, StoreError> {
        let rows = self
            .read(
                query(
                    "MATCH (me:Person {user_id: $user_id}) \
                     OPTIONAL MATCH (me)-[e:KNOWS|KNOWS_SHARED]->(c:Person) \
                     RETURN me.person_id AS me, c.person_id AS person_id, \
                            e.full_name AS full_name, c.discoverable AS discoverable \
                     ORDER BY e.contact_id",
                )
                .param("user_id", user_id),
            )
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let person_id = id(first, "me")?;
        let mut contacts = HashMap::with_capacity(rows.len());
        for row in &rows {
            let Some(contact) = optional_id(row, "person_id")? else {
                continue;
            };
            // The first entry's name, as on PostgreSQL.
            if let Entry::Vacant(slot) = contacts.entry(contact) {
                slot.insert(ContactFacts {
                    full_name: row.get("full_name")?,
                    discoverable: row.get("discoverable")?,
                });
            }
        }
        Ok(Some(Viewer {
            person_id,
            contacts,
        }))
    }

    async fn resolve(&self, target: &Target) -> Result<Option<Uuid>, StoreError> {
        let statement = match target {
            Target::Key(key) => query(
                "MATCH (:IdentityKey {key: $key})-[:NAMES]->(p:Person) \
                 RETURN p.person_id AS person_id",
            )
            .param("key", key.as_str()),
            Target::User(user_id) => {
                query("MATCH (p:Person {user_id: $user_id}) RETURN p.person_id AS person_id")
                    .param("user_id", *user_id)
            }
            Target::Person(person_id) => query(
                "OPTIONAL MATCH (p:Person {person_id: $person_id}) \
                 OPTIONAL MATCH (a:MergedPerson {merged_id: $person_id}) \
                 WITH coalesce(p.person_id, a.into_id) AS person_id \
                 WHERE person_id IS NOT NULL RETURN person_id",
            )
            .param("person_id", *person_id),
        };
        self.read(statement)
            .await?
            .first()
            .map(|row| id(row, "person_id"))
            .transpose()
    }

    async fn shared_neighbours(
        &self,
        frontier: &[Uuid],
        owners: &[Uuid],
    ) -> Result<Vec<Adjacent>, StoreError> {
        self.read(
            query(
                "UNWIND $owners AS owner_id \
                 MATCH (:Person {person_id: owner_id})-[:KNOWS_SHARED]->(p:Person) \
                 RETURN owner_id AS from, p.person_id AS to, p.discoverable AS to_discoverable \
                 UNION ALL \
                 UNWIND $frontier AS person_id \
                 MATCH (:Person {person_id: person_id})<-[:KNOWS_SHARED]-(o:Person) \
                 RETURN person_id AS from, o.person_id AS to, true AS to_discoverable",
            )
            .param("owners", id_list(owners))
            .param("frontier", id_list(frontier)),
        )
        .await?
        .iter()
        .map(|row| {
            Ok(Adjacent {
                from: id(row, "from")?,
                to: id(row, "to")?,
                to_discoverable: row.get("to_discoverable")?,
            })
        })
        .collect()
    }

    async fn describe(&self, persons: &[Uuid]) -> Result<HashMap<Uuid, PersonFacts>, StoreError> {
        self.read(
            query(
                "UNWIND $persons AS person_id \
                 MATCH (p:Person {person_id: person_id}) \
                 RETURN p.person_id AS person_id, p.user_id AS user_id, \
                        p.display_name AS display_name, p.discoverable AS discoverable",
            )
            .param("persons", id_list(persons)),
        )
        .await?
        .iter()
        .map(|row| {
            let person_id = id(row, "person_id")?;
            Ok((
                person_id,
                PersonFacts {
                    person_id,
                    user_id: optional_id(row, "user_id")?,
                    display_name: row.get("display_name")?,
                    discoverable: row.get("discoverable")?,
                },
            ))
        })
        .collect()
    }

    async fn entry_name(&self, owner: Uuid, person: Uuid) -> Result<Option<String>, StoreError> {
        self.read(
            query(
                "MATCH (:Person {person_id: $owner})-[e:KNOWS_SHARED]->(:Person {person_id: $person}) \
                 RETURN e.full_name AS full_name ORDER BY e.contact_id LIMIT 1",
            )
            .param("owner", owner)
            .param("person", person),
        )
        .await?
        .first()
        .map(|row| row.get("full_name").map_err(StoreError::from))
        .transpose()
    }
}
