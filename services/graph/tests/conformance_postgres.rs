//! The conformance suite on the PostgreSQL store (the local default).

mod conformance;

use conformance::{Graph, database};
use graph::store::PostgresGraph;

async fn postgres() -> Graph<PostgresGraph> {
    let database = database().await;
    Graph::new(PostgresGraph::new(database.pool()), database)
}

every_conformance_case!(postgres);
