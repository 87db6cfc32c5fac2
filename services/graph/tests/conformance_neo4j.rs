//! The conformance suite on the Neo4j store (production). It needs a server:
//! with `NEO4J_URI` (and `NEO4J_USER`, `NEO4J_PASSWORD`) set when the tests are
//! built, every case runs against it, one at a time, on an emptied database;
//! without, every case is reported as ignored with the reason. `.gitlab-ci.yml`
//! runs it with a Neo4j service container.
//!
//! The database is emptied before each case: never point it at a graph you keep.

mod conformance;

use std::sync::{Arc, LazyLock};

use conformance::{Graph, database};
use graph::{
    StoreSettings,
    store::{Neo4jConfig, Neo4jGraph},
};
use six_kit::config::Env;
use tokio::sync::Mutex;

/// Cases share the one database of the server, so they take turns.
static SERVER: LazyLock<Arc<Mutex<()>>> = LazyLock::new(Arc::default);

fn config() -> Neo4jConfig {
    let mut env = Env::from_process().expect("the environment is readable");
    env.set("GRAPH_STORE", "neo4j");
    match StoreSettings::from_env(&env) {
        Ok(StoreSettings::Neo4j(config)) => config,
        Ok(StoreSettings::Postgres) => unreachable!("GRAPH_STORE is neo4j"),
        Err(error) => panic!("the NEO4J_* variables: {error}"),
    }
}

async fn neo4j() -> Graph<Neo4jGraph> {
    let exclusive = Arc::clone(&SERVER).lock_owned().await;
    let config = config();
    let store = Neo4jGraph::connect(&config)
        .await
        .unwrap_or_else(|error| panic!("neo4j at {}: {error}", config.uri));
    store.clear().await.expect("the neo4j database is emptied");
    Graph::exclusive(store, database().await, exclusive)
}

every_conformance_case!(
    #[cfg_attr(
        not(neo4j),
        ignore = "needs a Neo4j server: set NEO4J_URI (see .gitlab-ci.yml)"
    )]
    neo4j
);
