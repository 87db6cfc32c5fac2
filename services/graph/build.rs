//! `sqlx::migrate!` embeds `migrations/` when the crate compiles, and Cargo
//! recompiles only for files it knows: a new migration alone would leave a
//! binary (and a warm CI target directory) migrating to the old list.
//!
//! The Neo4j conformance suite needs a server: it is compiled as ignored (with the
//! reason in the test report) unless `NEO4J_URI` is set, which sets `cfg(neo4j)`.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=NEO4J_URI");
    println!("cargo::rustc-check-cfg=cfg(neo4j)");
    if std::env::var_os("NEO4J_URI").is_some_and(|uri| !uri.is_empty()) {
        println!("cargo:rustc-cfg=neo4j");
    }
}
