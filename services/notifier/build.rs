//! `sqlx::migrate!` embeds `migrations/` when the crate compiles, and Cargo
//! recompiles only for files it knows: a new migration alone would leave a
//! binary (and a warm CI target directory) migrating to the old list.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
