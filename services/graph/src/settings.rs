//! The graph's own configuration (the common variables are the kit's).

use std::time::Duration;

use six_kit::{
    auth::AuthConfig,
    config::{ConfigError, Env},
};

use crate::{network::Limits, store::Neo4jConfig};

/// Everything the graph reads beyond the common settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Verifying the users' access tokens.
    pub auth: AuthConfig,
    /// Bounds on the work of one question (`GRAPH_MAX_VISITED`,
    /// `GRAPH_EGO_MAX_NODES`).
    pub limits: Limits,
    /// Where the graph lives (`GRAPH_STORE`).
    pub store: StoreSettings,
}

/// `GRAPH_STORE=postgres` (the default: the service's own database) or
/// `GRAPH_STORE=neo4j` with the `NEO4J_*` variables.
#[derive(Debug, Clone)]
pub enum StoreSettings {
    Postgres,
    Neo4j(Neo4jConfig),
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let limits = Limits {
            max_visited: at_least_one(env, "GRAPH_MAX_VISITED", 200_000)?,
            ego_max_nodes: at_least_one(env, "GRAPH_EGO_MAX_NODES", 300)?,
        };
        Ok(Self {
            auth: AuthConfig::from_env(env)?,
            limits,
            store: StoreSettings::from_env(env)?,
        })
    }
}

impl StoreSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        match env
            .optional("GRAPH_STORE", String::from("postgres"))?
            .as_str()
        {
            "postgres" => Ok(Self::Postgres),
            "neo4j" => Ok(Self::Neo4j(Neo4jConfig {
                uri: env.required(
                    "NEO4J_URI",
                    "the Neo4j Bolt URI, e.g. bolt://neo4j:7687 (GRAPH_STORE=neo4j)",
                )?,
                user: env.optional("NEO4J_USER", String::from("neo4j"))?,
                password: env.secret("NEO4J_PASSWORD", "the Neo4j user's password")?,
                database: env
                    .optional::<String>("NEO4J_DATABASE", String::new())
                    .map(|database| Some(database).filter(|database| !database.is_empty()))?,
                max_connections: at_least_one(env, "NEO4J_MAX_CONNECTIONS", 16)?,
                connect_timeout: env.millis("NEO4J_CONNECT_TIMEOUT_MS", Duration::from_secs(5))?,
                query_timeout: env.millis("NEO4J_QUERY_TIMEOUT_MS", Duration::from_secs(10))?,
            })),
            _ => Err(ConfigError::Invalid {
                name: "GRAPH_STORE".to_owned(),
                reason: "must be `postgres` or `neo4j`".to_owned(),
            }),
        }
    }
}

fn at_least_one(env: &Env, name: &str, default: usize) -> Result<usize, ConfigError> {
    match env.optional(name, default)? {
        0 => Err(ConfigError::Invalid {
            name: name.to_owned(),
            reason: "must be at least 1".to_owned(),
        }),
        value => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_postgres_unless_neo4j_is_chosen_with_its_address() {
        let store =
            |pairs: &[(&str, &str)]| StoreSettings::from_env(&Env::from_pairs(pairs.to_vec()));

        assert!(matches!(store(&[]), Ok(StoreSettings::Postgres)));
        let Ok(StoreSettings::Neo4j(config)) = store(&[
            ("GRAPH_STORE", "neo4j"),
            ("NEO4J_URI", "bolt://neo4j:7687"),
            ("NEO4J_PASSWORD", "secret"),
        ]) else {
            panic!("neo4j settings");
        };
        assert_eq!(config.uri, "bolt://neo4j:7687");
        assert_eq!(config.user, "neo4j");
        assert_eq!(config.database, None);
        assert_eq!(config.query_timeout, Duration::from_secs(10));

        let missing = store(&[("GRAPH_STORE", "neo4j"), ("NEO4J_PASSWORD", "secret")]);
        assert!(
            matches!(&missing, Err(ConfigError::Missing { name, .. }) if name == "NEO4J_URI"),
            "{missing:?}"
        );
        let unknown = store(&[("GRAPH_STORE", "neo4")]);
        assert!(
            matches!(&unknown, Err(ConfigError::Invalid { name, .. }) if name == "GRAPH_STORE"),
            "{unknown:?}"
        );
    }
}
