//! The real binary under SIGTERM in the middle of a burst of events and e-mails,
//! and killed outright while it holds claimed deliveries.

mod common;

use std::time::Duration;

use common::Backlog;
use six_testkit::{ServiceProcess, wait_until};
use sqlx::PgPool;

const EVENTS: i64 = 2_000;

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

impl Backlog {
    /// Waits until `process` sent every e-mail of the backlog's `users`, then stops
    /// it with SIGTERM, which it must answer with exit 0.
    async fn finish(&self, process: ServiceProcess, users: i64) {
        let pool = self.database.pool();
        wait_until(
            Duration::from_secs(180),
            "every e-mail to be sent",
            || async {
                count(
                    &pool,
                    "SELECT count(*) FROM deliveries WHERE state = 'sent'",
                )
                .await
                    == users
            },
        )
        .await;
        let status = process.terminate(Duration::from_secs(20)).await;
        assert!(status.success(), "exit status after SIGTERM: {status}");
    }

    /// Asserts that each of the `users` addresses received exactly one e-mail.
    fn assert_each_user_got_one_email(&self, users: i64) {
        let per_address = common::emails_per_address(&self.smtp);
        assert_eq!(
            per_address.len() as i64,
            users,
            "every user got their welcome"
        );
        let repeated: Vec<_> = per_address.iter().filter(|(_, sent)| **sent > 1).collect();
        assert!(repeated.is_empty(), "sent more than once: {repeated:?}");
    }
}

#[tokio::test]
async fn sigterm_during_a_burst_exits_zero_and_every_email_goes_out_once_after_restart() {
    let backlog = Backlog::of(EVENTS).await;
    let pool = backlog.database.pool();

    let first = ServiceProcess::spawn(backlog.command());
    wait_until(
        Duration::from_secs(60),
        "the burst to be partly sent",
        || async { backlog.smtp.messages().len() as i64 >= EVENTS / 10 },
    )
    .await;
    let status = first.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let sent_before_restart = backlog.smtp.messages().len();

    backlog
        .finish(ServiceProcess::spawn(backlog.command()), EVENTS)
        .await;

    eprintln!("sent before SIGTERM: {sent_before_restart} of {EVENTS}");
    backlog.assert_each_user_got_one_email(EVENTS);
    assert_eq!(
        count(&pool, "SELECT count(*) FROM bus_inbox").await,
        EVENTS,
        "each event handled once"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM notifications").await,
        EVENTS
    );
}

#[tokio::test]
async fn a_killed_instance_loses_no_email_and_its_claims_pass_to_the_next() {
    const USERS: i64 = 200;
    let backlog = Backlog::of(USERS).await;
    let pool = backlog.database.pool();
    // The first instance's mail server accepts connections and never answers, so
    // its sends hang with the deliveries claimed; it is killed (SIGKILL, no
    // shutdown) while it holds those claims. Claims last a second here (5 min by
    // default), so the test need not wait long for them to expire.
    let silent_server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("smtp://{}", silent_server.local_addr().unwrap());
    let silent_connections = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = silent_server.accept().await {
            held.push(connection);
        }
    });
    let claims_of_a_second = |mut command: std::process::Command| {
        command.env("NOTIFIER_CLAIM_TIMEOUT_MS", "1000");
        ServiceProcess::spawn(command)
    };
    let mut first = backlog.command();
    first
        .env("SMTP_URL", &silent_url)
        .env("SMTP_TIMEOUT_MS", "60000");
    let first = claims_of_a_second(first);
    wait_until(
        Duration::from_secs(60),
        "the first instance to hold claims",
        || async {
            count(
                &pool,
                "SELECT count(*) FROM deliveries WHERE claimed_until > now()",
            )
            .await
                > 0
        },
    )
    .await;
    drop(first);
    silent_connections.abort();

    backlog
        .finish(claims_of_a_second(backlog.command()), USERS)
        .await;

    backlog.assert_each_user_got_one_email(USERS);
}
