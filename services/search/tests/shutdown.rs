//! The real binary stopped in the middle of a burst of batches, gracefully and by
//! a crash: after a restart every contact is in the index exactly once.

mod common;

use std::time::Duration;

use common::{batch, contact, serve};
use search::index::{SearchIndex, SearchQuery, TantivyIndex};
use six_kit::testing::TestIssuer;
use six_testkit::{TestDatabase, TestVhost, wait_until};
use sqlx::PgPool;
use tempfile::TempDir;
use uuid::Uuid;

const BATCHES: i64 = 400;
const CONTACTS_PER_BATCH: i64 = 25;

async fn handled(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM bus_inbox")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Publishes the burst: every contact of one owner, named `Burst <n>`.
async fn publish_burst(pool: &PgPool, owner_id: Uuid) {
    for chunk in 0..BATCHES / 100 {
        let mut transaction = pool.begin().await.unwrap();
        for in_chunk in 0..100 {
            let first = (chunk * 100 + in_chunk) * CONTACTS_PER_BATCH;
            let contacts = (first..first + CONTACTS_PER_BATCH)
                .map(|n| contact(&format!("Burst {n}"), &format!("burst{n}@example.org")))
                .collect();
            six_bus::publish(&mut transaction, batch(owner_id, contacts))
                .await
                .unwrap();
        }
        transaction.commit().await.unwrap();
    }
}

/// Contacts of `owner_id` in the index left in `index_dir` (the binary stopped).
async fn indexed(index_dir: &TempDir, owner_id: Uuid) -> u64 {
    // The first version of the index, the live one: no reindex ran.
    let index = TantivyIndex::open(&index_dir.path().join("v1"), 15_000_000).unwrap();
    let page = index
        .search(SearchQuery {
            viewer_id: owner_id,
            terms: vec!["burst".to_owned()],
            filters: Vec::new(),
            limit: 1,
            after: None,
        })
        .await
        .unwrap();
    page.total.value
}

async fn stopped_mid_burst_then_restarted(crash: bool) {
    let database = TestDatabase::create().await;
    let vhost = TestVhost::create().await;
    let issuer = TestIssuer::start().await;
    let index_dir = TempDir::new().unwrap();
    let pool = database.pool();
    let owner_id = Uuid::now_v7();
    let output = common::service(&database, &vhost, &issuer, index_dir.path(), &["migrate"])
        .output()
        .unwrap();
    assert!(output.status.success(), "migrate: {output:?}");
    publish_burst(&pool, owner_id).await;

    let first = serve(&database, &vhost, &issuer, index_dir.path());
    wait_until(
        Duration::from_secs(60),
        "the burst to be partly handled",
        || async { handled(&pool).await >= BATCHES / 10 },
    )
    .await;
    if crash {
        drop(first); // SIGKILL: no drain, no flush
    } else {
        let status = first.terminate(Duration::from_secs(20)).await;
        assert!(status.success(), "exit status after SIGTERM: {status}");
    }
    let handled_before_restart = handled(&pool).await;

    let second = serve(&database, &vhost, &issuer, index_dir.path());
    wait_until(
        Duration::from_secs(120),
        "every batch to be handled",
        || async { handled(&pool).await == BATCHES },
    )
    .await;
    let status = second.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status after SIGTERM: {status}");

    eprintln!("handled before the stop: {handled_before_restart} of {BATCHES}");
    assert_eq!(
        indexed(&index_dir, owner_id).await,
        (BATCHES * CONTACTS_PER_BATCH) as u64,
        "every contact indexed once"
    );
}

#[tokio::test]
async fn sigterm_mid_burst_exits_zero_and_after_restart_every_contact_is_indexed_once() {
    stopped_mid_burst_then_restarted(false).await;
}

#[tokio::test]
async fn a_crash_mid_burst_loses_no_contact_and_indexes_none_twice() {
    stopped_mid_burst_then_restarted(true).await;
}
