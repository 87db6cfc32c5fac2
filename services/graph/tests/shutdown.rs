//! The real binary under SIGTERM in the middle of a burst of events.

mod common;

use std::time::Duration;

use common::{registered, serve};
use six_kit::testing::TestIssuer;
use six_testkit::{TestDatabase, TestVhost, wait_until};
use sqlx::PgPool;
use uuid::Uuid;

const EVENTS: i64 = 10_000;

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test]
async fn sigterm_during_a_burst_exits_zero_and_every_event_takes_effect_once_after_restart() {
    let database = TestDatabase::create().await;
    let vhost = TestVhost::create().await;
    let issuer = TestIssuer::start().await;
    let pool = database.pool();
    common::run(&database, &vhost, &issuer, &["migrate"]);
    for _ in 0..EVENTS / 1_000 {
        let mut transaction = pool.begin().await.unwrap();
        for _ in 0..1_000 {
            six_bus::publish(&mut transaction, registered(Uuid::now_v7(), "Burst"))
                .await
                .unwrap();
        }
        transaction.commit().await.unwrap();
    }

    let first = serve(&database, &vhost, &issuer);
    wait_until(
        Duration::from_secs(60),
        "the burst to be partly handled",
        || async {
            count(
                &pool,
                "SELECT count(*) FROM persons WHERE user_id IS NOT NULL",
            )
            .await
                >= EVENTS / 10
        },
    )
    .await;
    let status = first.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let handled_before_restart = count(
        &pool,
        "SELECT count(*) FROM persons WHERE user_id IS NOT NULL",
    )
    .await;

    let second = serve(&database, &vhost, &issuer);
    wait_until(
        Duration::from_secs(120),
        "every event to be handled",
        || async {
            count(
                &pool,
                "SELECT count(*) FROM persons WHERE user_id IS NOT NULL",
            )
            .await
                == EVENTS
        },
    )
    .await;
    let status = second.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status after SIGTERM: {status}");

    eprintln!("handled before SIGTERM: {handled_before_restart} of {EVENTS}");
    assert_eq!(
        count(&pool, "SELECT count(*) FROM bus_inbox").await,
        EVENTS,
        "each event handled once"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM bus_outbox").await,
        0,
        "outbox flushed"
    );
    let parked = common::run(&database, &vhost, &issuer, &["parked", "list"]);
    assert_eq!(parked, "", "nothing parked");
}
