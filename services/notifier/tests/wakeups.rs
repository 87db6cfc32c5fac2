//! The trigger that wakes the dispatchers (`notifier_deliveries` at commit): which
//! changes to `deliveries` make a row due now and notify, and which do not.
//!
//! A change that must not notify is followed by a sentinel notification of its
//! own: the listener receives notifications in commit order, so the next one it
//! gets must be the sentinel.

mod common;

use std::time::Duration;

use common::Backlog;
use sqlx::{PgPool, postgres::PgListener};
use uuid::Uuid;

const CHANNEL: &str = "notifier_deliveries";
const SENTINEL: &str = "sentinel";

struct Wakeups {
    pool: PgPool,
    listener: PgListener,
    user_id: Uuid,
}

impl Wakeups {
    async fn listen(pool: PgPool) -> Self {
        let user_id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO recipients (user_id, email, display_name) VALUES ($1, 'a@example.test', 'A')",
        )
        .bind(user_id)
        .execute(&pool)
        .await
        .unwrap();
        let mut listener = PgListener::connect_with(&pool).await.unwrap();
        listener.listen(CHANNEL).await.unwrap();
        Self {
            pool,
            listener,
            user_id,
        }
    }

    /// Inserts an e-mail delivery in `state` (of a notification of its own) in a
    /// transaction of its own; returns its id.
    async fn insert(&self, state: &str) -> Uuid {
        let notification_id = Uuid::now_v7();
        let delivery_id = Uuid::now_v7();
        let mut transaction = self.pool.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO notifications (notification_id, user_id, kind, cause_id, data, in_inbox) \
             VALUES ($1, $2, 'welcome', $1, '{}', true)",
        )
        .bind(notification_id)
        .bind(self.user_id)
        .execute(&mut *transaction)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO deliveries (delivery_id, notification_id, channel, state) \
             VALUES ($1, $2, 'email', $3)",
        )
        .bind(delivery_id)
        .bind(notification_id)
        .bind(state)
        .execute(&mut *transaction)
        .await
        .unwrap();
        transaction.commit().await.unwrap();
        delivery_id
    }

    /// Runs `UPDATE deliveries SET <set>` on one delivery.
    async fn update(&self, delivery_id: Uuid, set: &str) {
        // `set` is one of this file's literals.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE deliveries SET {set} WHERE delivery_id = $1"
        )))
        .bind(delivery_id)
        .execute(&self.pool)
        .await
        .unwrap();
    }

    /// The payload of the next notification.
    async fn next(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(10), self.listener.recv())
            .await
            .expect("a notification within 10 s")
            .unwrap()
            .payload()
            .to_owned()
    }

    async fn assert_woken(&mut self, what: &str) {
        assert_eq!(self.next().await, "", "{what} did not wake the dispatchers");
    }

    async fn assert_not_woken(&mut self, what: &str) {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(SENTINEL)
            .execute(&self.pool)
            .await
            .unwrap();
        assert_eq!(self.next().await, SENTINEL, "{what} woke the dispatchers");
    }
}

#[tokio::test]
async fn only_deliveries_that_become_due_now_wake_the_dispatchers() {
    let backlog = Backlog::of(0).await;
    let mut wakeups = Wakeups::listen(backlog.database.pool()).await;

    let held = wakeups.insert("held").await;
    wakeups
        .assert_not_woken("an e-mail held for the digest")
        .await;

    let email = wakeups.insert("pending").await;
    wakeups.assert_woken("a new pending e-mail").await;

    wakeups
        .update(
            email,
            "attempts = attempts + 1, claimed_until = now() + interval '5 minutes'",
        )
        .await;
    wakeups.assert_not_woken("a claim").await;

    wakeups
        .update(
            email,
            "state = 'pending', claimed_until = NULL, next_attempt_at = now() + interval '1 hour'",
        )
        .await;
    wakeups
        .assert_not_woken("a retry scheduled for later")
        .await;

    wakeups
        .update(email, "attempts = 0, next_attempt_at = now()")
        .await;
    wakeups
        .assert_woken("an operator's retry of a pending e-mail")
        .await;

    wakeups.update(email, "state = 'failed'").await;
    wakeups.assert_not_woken("a failure").await;

    wakeups
        .update(email, "state = 'pending', next_attempt_at = now()")
        .await;
    wakeups
        .assert_woken("an operator's retry of a failed e-mail")
        .await;

    wakeups
        .update(email, "state = 'sent', sent_at = now()")
        .await;
    wakeups.assert_not_woken("a send").await;

    wakeups
        .update(held, "state = 'pending', next_attempt_at = now()")
        .await;
    wakeups.assert_woken("a held e-mail released").await;
}
