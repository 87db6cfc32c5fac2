//! The conformance suite on the embedded tantivy index (the local backend), each
//! case on a fresh index in a temporary directory of its own.

mod conformance;

use conformance::TestIndex;
use search::index::TantivyIndex;
use tempfile::TempDir;

/// The writer's memory budget: tantivy's smallest for two indexing threads, with
/// room to spare.
const WRITER_MEMORY_BYTES: usize = 50_000_000;

async fn tantivy() -> TestIndex<TantivyIndex> {
    let directory = TempDir::new().expect("a temporary directory");
    let index = TantivyIndex::open(directory.path(), WRITER_MEMORY_BYTES)
        .expect("a tantivy index opens in an empty directory");
    TestIndex::new(index, directory).with_exact_totals()
}

every_conformance_case!(tantivy);
