//! Waiting for work that other transactions commit: a task that drains a table
//! (the outbox relay, a service's own dispatcher) sleeps until a transaction calls
//! `pg_notify(<channel>, ...)`, which PostgreSQL delivers at commit, or until its
//! poll interval passes, which covers notifications missed while the listening
//! connection was down and work that becomes due with time.

use std::time::Duration;

use sqlx::{PgPool, postgres::PgListener};
use tokio_util::sync::CancellationToken;

/// A listener on one notification channel, with polling as the fallback.
pub struct CommitWakeups {
    pool: PgPool,
    channel: &'static str,
    poll_interval: Duration,
    listener: Option<PgListener>,
}

impl CommitWakeups {
    /// Starts listening on `channel`; if the database cannot be reached now, it
    /// polls and tries to listen again after each interval.
    pub async fn listen(pool: PgPool, channel: &'static str, poll_interval: Duration) -> Self {
        let mut wakeups = Self {
            pool,
            channel,
            poll_interval,
            listener: None,
        };
        wakeups.listener = wakeups.connect().await;
        wakeups
    }

    async fn connect(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool).await.ok()?;
        listener.listen(self.channel).await.ok()?;
        Some(listener)
    }

    /// Returns at the next notification, after the poll interval, or when `stop`
    /// is cancelled, whichever comes first.
    pub async fn wait(&mut self, stop: &CancellationToken) {
        let poll = tokio::time::sleep(self.poll_interval);
        match &mut self.listener {
            Some(listener) => {
                tokio::select! {
                    notification = listener.recv() => {
                        if notification.is_err() {
                            // The listener reconnects on its next `recv`; until then, poll.
                            tokio::select! {
                                () = tokio::time::sleep(self.poll_interval) => {}
                                () = stop.cancelled() => {}
                            }
                        }
                    }
                    () = poll => {}
                    () = stop.cancelled() => {}
                }
            }
            None => {
                tokio::select! {
                    () = poll => {}
                    () = stop.cancelled() => {}
                }
                self.listener = self.connect().await;
            }
        }
    }
}
