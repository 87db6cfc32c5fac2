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
    Adjacent, ContactFacts, Contacts, GraphStore, IdMap, JoinedOwner, PersonFacts, StoreError,
    Target, Viewer, postgres::lock_projection,
};
use crate::identity::{
    Evidence, IdentityKey, KeyFacts, NamedPerson, Settlement, seeds_of_entry, seeds_of_new_entries,
    settle, settle_new_entries,
};

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
    "CREATE INDEX person_account_key IF NOT EXISTS FOR (p:Person) ON (p.account_key)",
    "CREATE CONSTRAINT link IF NOT EXISTS \
     FOR (l:Link) REQUIRE (l.owner_person_id, l.contact_id) IS UNIQUE",
    "CREATE CONSTRAINT link_key IF NOT EXISTS FOR (k:LinkKey) REQUIRE k.key IS UNIQUE",
    "CREATE INDEX knows_first_key IF NOT EXISTS FOR ()-[e:KNOWS]-() ON (e.first_key)",
    "CREATE INDEX knows_shared_first_key IF NOT EXISTS \
     FOR ()-[e:KNOWS_SHARED]-() ON (e.first_key)",
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

/// The reads of [`settle`], in the projection's Neo4j transaction.
struct Neo4jEvidence<'a>(&'a mut Txn);

fn key_texts(keys: &[IdentityKey]) -> Vec<String> {
    keys.iter().map(|key| key.as_str().to_owned()).collect()
}

impl Evidence for Neo4jEvidence<'_> {
    async fn facts(
        &mut self,
        keys: &[IdentityKey],
    ) -> Result<HashMap<IdentityKey, KeyFacts>, StoreError> {
        rows(
            self.0,
            query(
                "UNWIND $keys AS key \
                 OPTIONAL MATCH (account:Person {account_key: key}) \
                 WHERE account.user_id IS NOT NULL \
                 OPTIONAL MATCH (:IdentityKey {key: key})-[:NAMES]->(named:Person) \
                 RETURN key, account.person_id AS account_of, named.person_id AS named, \
                        named.user_id IS NOT NULL AS named_is_user",
            )
            .param("keys", key_texts(keys)),
        )
        .await?
        .iter()
        .map(|row| {
            let key = IdentityKey::from_stored(row.get("key")?);
            let facts = KeyFacts {
                account_of: optional_id(row, "account_of")?,
                named: optional_id(row, "named")?
                    .map(|person_id| {
                        Ok::<_, StoreError>(NamedPerson {
                            person_id,
                            is_user: row.get("named_is_user")?,
                        })
                    })
                    .transpose()?,
            };
            Ok((key, facts))
        })
        .collect()
    }

    async fn linking_entries(
        &mut self,
        keys: &[IdentityKey],
    ) -> Result<Vec<Vec<IdentityKey>>, StoreError> {
        rows(
            self.0,
            query(
                "UNWIND $keys AS key \
                 MATCH (:LinkKey {key: key})-[:IN]->(link:Link) \
                 RETURN DISTINCT link.keys AS keys",
            )
            .param("keys", key_texts(keys)),
        )
        .await?
        .iter()
        .map(|row| {
            Ok(row
                .get::<Vec<String>>("keys")?
                .into_iter()
                .map(IdentityKey::from_stored)
                .collect())
        })
        .collect()
    }

    async fn firsts_of_entries(
        &mut self,
        keys: &[IdentityKey],
    ) -> Result<HashSet<IdentityKey>, StoreError> {
        rows(
            self.0,
            query(
                "UNWIND $keys AS key \
                 WITH key WHERE EXISTS { MATCH ()-[:KNOWS {first_key: key}]->() } \
                             OR EXISTS { MATCH ()-[:KNOWS_SHARED {first_key: key}]->() } \
                 RETURN key",
            )
            .param("keys", key_texts(keys)),
        )
        .await?
        .iter()
        .map(|row| Ok(IdentityKey::from_stored(row.get("key")?)))
        .collect()
    }
}

/// Settles the persons around `seeds` and writes the result (see
/// [`crate::identity::settle`]).
async fn settle_keys(transaction: &mut Txn, seeds: Vec<IdentityKey>) -> Result<(), StoreError> {
    let settlement = settle(&mut Neo4jEvidence(&mut *transaction), seeds).await?;
    write_settlement(transaction, &settlement).await
}

/// Writes a settlement: keys reassigned, the entries on them moved, persons
/// retired.
async fn write_settlement(
    transaction: &mut Txn,
    settlement: &Settlement,
) -> Result<(), StoreError> {
    if settlement.closure.is_empty() {
        return Ok(());
    }
    transaction
        .run(
            query(
                "UNWIND $created AS person_id \
                 CREATE (:Person {person_id: person_id, discoverable: false})",
            )
            .param("created", id_list(&settlement.created)),
        )
        .await?;
    let moved: Vec<String> = settlement
        .reassigned
        .iter()
        .map(|(key, _)| key.as_str().to_owned())
        .collect();
    let assigned: Vec<Vec<String>> = settlement
        .reassigned
        .iter()
        .filter_map(|(key, person)| {
            person.map(|person| vec![key.as_str().to_owned(), person.to_string()])
        })
        .collect();
    for (statement, parameter, value) in [
        (
            "UNWIND $moved AS key MATCH (:IdentityKey {key: key})-[old:NAMES]->() DELETE old",
            "moved",
            BoltType::from(moved),
        ),
        (
            "UNWIND $assigned AS pair \
             MATCH (p:Person {person_id: pair[1]}) \
             MERGE (k:IdentityKey {key: pair[0]}) MERGE (k)-[:NAMES]->(p)",
            "assigned",
            BoltType::from(assigned),
        ),
        (
            "MATCH (k:IdentityKey) WHERE k.key IN $closure AND NOT EXISTS { (k)-[:NAMES]->() } \
             DELETE k",
            "closure",
            BoltType::from(key_texts(&settlement.closure)),
        ),
    ] {
        transaction
            .run(query(statement).param(parameter, value))
            .await?;
    }
    for kind in ["KNOWS", "KNOWS_SHARED"] {
        let statement = format!(
            "UNWIND $closure AS key \
             MATCH (:IdentityKey {{key: key}})-[:NAMES]->(p:Person) \
             MATCH (o:Person)-[e:{kind} {{first_key: key}}]->(old:Person) WHERE old <> p \
             CREATE (o)-[moved:{kind}]->(p) SET moved = properties(e) DELETE e"
        );
        transaction
            .run(query(&statement).param("closure", key_texts(&settlement.closure)))
            .await?;
    }
    for (retired, heir) in &settlement.retired {
        let statements: &[&str] = match heir {
            Some(_) => &[
                "MATCH (a:MergedPerson {into_id: $retired}) SET a.into_id = $heir",
                "MERGE (a:MergedPerson {merged_id: $retired}) SET a.into_id = $heir",
            ],
            None => &["MATCH (a:MergedPerson {into_id: $retired}) DELETE a"],
        };
        for statement in statements {
            transaction
                .run(
                    query(statement)
                        .param("retired", *retired)
                        .param("heir", heir.map(|heir| heir.to_string())),
                )
                .await?;
        }
    }
    let retired: Vec<Uuid> = settlement
        .retired
        .iter()
        .map(|(person, _)| *person)
        .collect();
    delete_orphans(transaction, &retired).await
}

/// Deletes those of `persons` that are neither a user, nor named by a key, nor
/// anyone's contact.
async fn delete_orphans(transaction: &mut Txn, persons: &[Uuid]) -> Result<(), StoreError> {
    transaction
        .run(
            query(
                "UNWIND $persons AS person_id \
                 MATCH (p:Person {person_id: person_id}) \
                 WHERE p.user_id IS NULL \
                   AND NOT EXISTS { (:IdentityKey)-[:NAMES]->(p) } \
                   AND NOT EXISTS { (:Person)-[:KNOWS|KNOWS_SHARED]->(p) } \
                 DETACH DELETE p",
            )
            .param("persons", id_list(persons)),
        )
        .await?;
    Ok(())
}

/// Records the owner's entries with two keys or more as linking evidence
/// (`(:LinkKey)-[:IN]->(:Link)`), read by [`Neo4jEvidence::linking_entries`].
async fn add_links(
    transaction: &mut Txn,
    owner_person: Uuid,
    entries: Vec<BoltType>,
) -> Result<(), StoreError> {
    transaction
        .run(
            query(
                "UNWIND $entries AS entry \
                 WITH entry WHERE size(entry.keys) > 1 \
                 MERGE (link:Link {owner_person_id: $owner_person, contact_id: entry.contact_id}) \
                 ON CREATE SET link.keys = entry.keys \
                 WITH link \
                 UNWIND link.keys AS key \
                 MERGE (k:LinkKey {key: key}) MERGE (k)-[:IN]->(link)",
            )
            .param("owner_person", owner_person)
            .param("entries", entries),
        )
        .await?;
    Ok(())
}

/// Drops linking evidence: the owner's links, or only those of `contact_ids`.
async fn remove_links(
    transaction: &mut Txn,
    owner_person: Uuid,
    contact_ids: Option<Vec<String>>,
) -> Result<(), StoreError> {
    let keys = rows(
        transaction,
        query(
            "MATCH (link:Link {owner_person_id: $owner_person}) \
             WHERE $contact_ids IS NULL OR link.contact_id IN $contact_ids \
             WITH link, link.keys AS keys DETACH DELETE link \
             WITH keys UNWIND keys AS key RETURN DISTINCT key",
        )
        .param("owner_person", owner_person)
        .param("contact_ids", contact_ids),
    )
    .await?
    .iter()
    .map(|row| row.get::<String>("key"))
    .collect::<Result<Vec<String>, _>>()?;
    transaction
        .run(
            query(
                "UNWIND $keys AS key MATCH (k:LinkKey {key: key}) \
                 WHERE NOT EXISTS { (k)-[:IN]->() } DELETE k",
            )
            .param("keys", keys),
        )
        .await?;
    Ok(())
}

/// The owner's entries as [`entry_map`]s, for their links.
async fn entries_of(
    transaction: &mut Txn,
    owner_person: Uuid,
) -> Result<Vec<BoltType>, StoreError> {
    rows(
        transaction,
        query(
            "MATCH (:Person {person_id: $owner_person})-[e:KNOWS|KNOWS_SHARED]->() \
             WHERE size(e.keys) > 1 \
             RETURN e.contact_id AS contact_id, e.keys AS keys",
        )
        .param("owner_person", owner_person),
    )
    .await?
    .iter()
    .map(|row| {
        Ok(HashMap::from([
            (
                "contact_id",
                BoltType::from(row.get::<String>("contact_id")?),
            ),
            ("keys", BoltType::from(row.get::<Vec<String>>("keys")?)),
        ])
        .into())
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

/// One entry, as the statements that write entries and links read it.
fn entry_map(contact: &ImportedContact, keys: &[IdentityKey]) -> BoltType {
    let keys: Vec<String> = keys.iter().map(|key| key.as_str().to_owned()).collect();
    HashMap::from([
        ("contact_id", BoltType::from(contact.contact_id)),
        ("full_name", BoltType::from(contact.full_name.as_str())),
        ("first_key", BoltType::from(keys.first().cloned())),
        ("person_id", BoltType::from(Uuid::now_v7())),
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
            let own = rows(
                tx,
                query(
                    "MATCH (p:Person {user_id: $user_id}) \
                     RETURN p.person_id AS person_id, p.account_key IS NOT NULL AS registered",
                )
                .param("user_id", user.user_id),
            )
            .await?
            .first()
            .map(|row| Ok::<_, StoreError>((id(row, "person_id")?, row.get::<bool>("registered")?)))
            .transpose()?;
            if let Some((person_id, true)) = own {
                // Applied before, but the event came again: its inbox row did not
                // commit, so neither did its notices; give the same owners.
                return recorded_joined_owners(tx, person_id).await;
            }
            let Some(key) = IdentityKey::email(&user.email) else {
                tracing::warn!("registration without a usable e-mail address: no key recorded");
                let (person_id, _) = user_person(tx, user.user_id).await?;
                set_display_name(tx, person_id, &user.display_name).await?;
                return Ok(Vec::new());
            };
            let holders = rows(
                tx,
                query(
                    "MATCH (p:Person {account_key: $key}) WHERE p.user_id <> $user_id \
                     RETURN p.user_id AS user_id",
                )
                .param("key", key.as_str())
                .param("user_id", user.user_id),
            )
            .await?;
            if !holders.is_empty() {
                tracing::warn!("e-mail key is already another account's: not linked");
                let (person_id, _) = user_person(tx, user.user_id).await?;
                set_display_name(tx, person_id, &user.display_name).await?;
                return Ok(Vec::new());
            }
            let person_id = match own {
                Some((own, _)) => own,
                None => {
                    // The person the address names, if only someone's contact,
                    // becomes the user, keeping its id.
                    let adopted = rows(
                        tx,
                        query(
                            "MATCH (:IdentityKey {key: $key})-[:NAMES]->(p:Person) \
                             WHERE p.user_id IS NULL \
                             SET p.user_id = $user_id RETURN p.person_id AS person_id",
                        )
                        .param("key", key.as_str())
                        .param("user_id", user.user_id),
                    )
                    .await?
                    .first()
                    .map(|row| id(row, "person_id"))
                    .transpose()?;
                    match adopted {
                        Some(person) => person,
                        None => user_person(tx, user.user_id).await?.0,
                    }
                }
            };
            set_display_name(tx, person_id, &user.display_name).await?;
            tx.run(
                query("MATCH (p:Person {person_id: $person_id}) SET p.account_key = $key")
                    .param("person_id", person_id)
                    .param("key", key.as_str()),
            )
            .await?;
            settle_keys(tx, vec![key]).await?;
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
            if applied.is_empty() || was_discoverable == profile.discoverable {
                return Ok(());
            }
            let statement = format!(
                "MATCH (o:Person {{person_id: $person_id}})-[e:{from}]->(c:Person) \
                 CREATE (o)-[moved:{to}]->(c) SET moved = properties(e) DELETE e",
                from = entry_type(was_discoverable),
                to = entry_type(profile.discoverable),
            );
            tx.run(query(&statement).param("person_id", person_id))
                .await?;
            // The user's entries start or stop linking keys.
            let linking = entries_of(tx, person_id).await?;
            let seeds: Vec<IdentityKey> = rows(
                tx,
                query(
                    "MATCH (:Person {person_id: $person_id})-[e:KNOWS|KNOWS_SHARED]->() \
                     WHERE size(e.keys) > 1 UNWIND e.keys AS key RETURN DISTINCT key",
                )
                .param("person_id", person_id),
            )
            .await?
            .iter()
            .map(|row| row.get::<String>("key").map(IdentityKey::from_stored))
            .collect::<Result<_, _>>()?;
            if profile.discoverable {
                add_links(tx, person_id, linking).await?;
            } else {
                remove_links(tx, person_id, None).await?;
            }
            settle_keys(tx, seeds).await
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
            let new_entries = seeds_of_new_entries(
                &mut Neo4jEvidence(&mut *tx),
                fresh
                    .iter()
                    .map(|(_, keys)| (keys.as_slice(), owner_discoverable)),
            )
            .await?;
            let mut keyed = Vec::new();
            let mut keyless = Vec::new();
            for (contact, keys) in &fresh {
                let entries = if keys.is_empty() {
                    &mut keyless
                } else {
                    &mut keyed
                };
                entries.push(entry_map(contact, keys));
            }
            if owner_discoverable {
                add_links(tx, owner_person, keyed.clone()).await?;
            }
            // The entries are written on the persons the settlement gives their
            // first keys: until then, only their links are in the graph.
            let settlement = settle_new_entries(&mut Neo4jEvidence(&mut *tx), &new_entries).await?;
            write_settlement(tx, &settlement).await?;
            let kind = entry_type(owner_discoverable);
            let on_keys = format!(
                "MATCH (o:Person {{person_id: $owner_person}}) \
                 UNWIND $entries AS entry \
                 MATCH (:IdentityKey {{key: entry.first_key}})-[:NAMES]->(p:Person) \
                 MERGE (o)-[e:{kind} {{contact_id: entry.contact_id}}]->(p) \
                 ON CREATE SET e.full_name = entry.full_name, e.keys = entry.keys, \
                               e.first_key = entry.first_key"
            );
            let on_own_persons = format!(
                "MATCH (o:Person {{person_id: $owner_person}}) \
                 UNWIND $entries AS entry \
                 CREATE (p:Person {{person_id: entry.person_id, discoverable: false}}) \
                 CREATE (o)-[:{kind} {{contact_id: entry.contact_id, \
                                       full_name: entry.full_name, keys: []}}]->(p)"
            );
            for (statement, entries) in [(on_keys, keyed), (on_own_persons, keyless)] {
                tx.run(
                    query(&statement)
                        .param("owner_person", owner_person)
                        .param("entries", entries),
                )
                .await?;
            }
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
                    "MATCH (o:Person {user_id: $owner_id})\
                     -[e:KNOWS|KNOWS_SHARED {contact_id: $contact_id}]->(p:Person) \
                     WITH o, e, p.person_id AS person_id, e.keys AS keys, \
                          type(e) = 'KNOWS_SHARED' AS shared \
                     DELETE e RETURN o.person_id AS owner_person, person_id, keys, shared",
                )
                .param("owner_id", deleted.owner_id)
                .param("contact_id", deleted.contact_id),
            )
            .await?;
            let Some(row) = removed.first() else {
                return Ok(());
            };
            let (owner_person, person) = (id(row, "owner_person")?, id(row, "person_id")?);
            let keys: Vec<IdentityKey> = row
                .get::<Vec<String>>("keys")?
                .into_iter()
                .map(IdentityKey::from_stored)
                .collect();
            let shared: bool = row.get("shared")?;
            remove_links(tx, owner_person, Some(vec![deleted.contact_id.to_string()])).await?;
            settle_keys(tx, seeds_of_entry(&keys, shared).to_vec()).await?;
            delete_orphans(tx, &[person]).await
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
            let erased = rows(
                tx,
                query(
                    "MATCH (p:Person {user_id: $user_id}) \
                     WITH p, p.account_key AS account_key \
                     REMOVE p.user_id, p.display_name, p.profile_updated_at, p.account_key, \
                            p.joined_owners \
                     SET p.discoverable = false \
                     RETURN p.person_id AS person_id, account_key",
                )
                .param("user_id", user_id),
            )
            .await?;
            let Some(row) = erased.first() else {
                return Ok(());
            };
            let person = id(row, "person_id")?;
            let mut seeds: Vec<IdentityKey> = row
                .get::<Option<String>>("account_key")?
                .map(IdentityKey::from_stored)
                .into_iter()
                .collect();
            let entries = rows(
                tx,
                query(
                    "MATCH (:Person {person_id: $person_id})-[e:KNOWS|KNOWS_SHARED]->(c:Person) \
                     WITH e, c.person_id AS person_id, e.keys AS keys, \
                          type(e) = 'KNOWS_SHARED' AS shared \
                     DELETE e RETURN person_id, keys, shared",
                )
                .param("person_id", person),
            )
            .await?;
            let mut touched = vec![person];
            for row in &entries {
                let keys: Vec<IdentityKey> = row
                    .get::<Vec<String>>("keys")?
                    .into_iter()
                    .map(IdentityKey::from_stored)
                    .collect();
                seeds.extend_from_slice(seeds_of_entry(&keys, row.get("shared")?));
                touched.push(id(row, "person_id")?);
            }
            remove_links(tx, person, None).await?;
            seeds.sort_unstable();
            seeds.dedup();
            settle_keys(tx, seeds).await?;
            touched.sort_unstable();
            touched.dedup();
            delete_orphans(tx, &touched).await
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
        let mut contacts = IdMap::with_capacity_and_hasher(rows.len(), Default::default());
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
        contacts: Contacts,
    ) -> Result<Vec<Adjacent>, StoreError> {
        self.read(
            query(
                "UNWIND $owners AS owner_id \
                 MATCH (:Person {person_id: owner_id})-[:KNOWS_SHARED]->(p:Person) \
                 WHERE $every_contact OR p.discoverable \
                 RETURN owner_id AS from, p.person_id AS to, p.discoverable AS to_discoverable \
                 UNION ALL \
                 UNWIND $frontier AS person_id \
                 MATCH (:Person {person_id: person_id})<-[:KNOWS_SHARED]-(o:Person) \
                 RETURN person_id AS from, o.person_id AS to, true AS to_discoverable",
            )
            .param("owners", id_list(owners))
            .param("frontier", id_list(frontier))
            .param("every_contact", contacts == Contacts::All),
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
