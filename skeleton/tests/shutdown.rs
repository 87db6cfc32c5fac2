//! The real binary under SIGTERM in the middle of a burst of events.

use std::{
    process::{Child, Command, ExitStatus},
    time::Duration,
};

use six_events::{Envelope, auth::UserRegistered};
use six_testkit::{TestDatabase, TestVhost, wait_until};
use sqlx::PgPool;
use uuid::Uuid;

const EVENTS: i64 = 10_000;
const BINARY: &str = env!("CARGO_BIN_EXE_{{project-name}}");

fn service(database: &TestDatabase, vhost: &TestVhost, command: &str) -> Command {
    let mut service = Command::new(BINARY);
    service
        .arg(command)
        .env("DATABASE_URL", database.url())
        .env("AMQP_URL", vhost.amqp_url())
        .env("HTTP_ADDR", "127.0.0.1:0")
        .env("SHUTDOWN_PRESTOP_DELAY_MS", "0")
        .env("SHUTDOWN_DRAIN_TIMEOUT_MS", "15000")
        .env("LOG_LEVEL", "warn");
    service
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Waits for the process to exit, with a deadline.
async fn exit_status(child: &mut Child, deadline: Duration) -> ExitStatus {
    let mut status = None;
    wait_until(deadline, "the service to exit", || {
        status = child.try_wait().unwrap();
        std::future::ready(status.is_some())
    })
    .await;
    status.unwrap()
}

fn terminate(child: &Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[tokio::test]
async fn sigterm_during_a_burst_exits_zero_and_every_event_takes_effect_once_after_restart() {
    let database = TestDatabase::create().await;
    let vhost = TestVhost::create().await;
    let pool = database.pool();
    let migrated = service(&database, &vhost, "migrate").status().unwrap();
    assert!(migrated.success(), "migrate exits 0");
    for _ in 0..EVENTS / 1_000 {
        let mut transaction = pool.begin().await.unwrap();
        for _ in 0..1_000 {
            let user_id = Uuid::now_v7();
            let event = Envelope::new(UserRegistered {
                user_id,
                email: format!("{user_id}@example.org"),
                display_name: "Burst".to_owned(),
                registered_at: chrono::Utc::now(),
            });
            six_bus::publish(&mut transaction, event).await.unwrap();
        }
        transaction.commit().await.unwrap();
    }

    let mut first = service(&database, &vhost, "serve").spawn().unwrap();
    wait_until(
        Duration::from_secs(60),
        "the burst to be partly handled",
        || async { count(&pool, "SELECT count(*) FROM known_users").await >= EVENTS / 10 },
    )
    .await;
    terminate(&first);
    let status = exit_status(&mut first, Duration::from_secs(20)).await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let handled_before_restart = count(&pool, "SELECT count(*) FROM known_users").await;

    let mut second = service(&database, &vhost, "serve").spawn().unwrap();
    wait_until(
        Duration::from_secs(120),
        "every event to be handled",
        || async { count(&pool, "SELECT count(*) FROM known_users").await == EVENTS },
    )
    .await;
    terminate(&second);
    let status = exit_status(&mut second, Duration::from_secs(20)).await;
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
    assert_eq!(
        vhost.message_count("{{project-name}}.parked").await,
        0,
        "nothing parked"
    );
}
