//! `sqlx::migrate!` embeds `migrations/` when the crate compiles, and Cargo
//! recompiles only for files it knows: a new migration alone would leave a
//! binary (and a warm CI target directory) migrating to the old list.
//!
//! The Elasticsearch conformance suite needs a server: it is compiled as ignored
//! (with the reason in the test report) unless `ELASTICSEARCH_URL` is set, which
//! sets `cfg(elasticsearch)`.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-env-changed=ELASTICSEARCH_URL");
    println!("cargo::rustc-check-cfg=cfg(elasticsearch)");
    if std::env::var_os("ELASTICSEARCH_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo:rustc-cfg=elasticsearch");
    }
}
