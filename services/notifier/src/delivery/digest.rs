//! The daily digest: for each user who chose it, once their local clock has
//! passed their digest hour, the e-mails held since the last digest become one
//! e-mail. One digest per user and local day (`digests`' unique key), and each
//! held e-mail goes into exactly one digest (it moves from `held` to `digested`
//! in the transaction that writes the digest).

use std::time::Duration;

use chrono::NaiveDate;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{notices::Notice, notify};

/// Writes the digests that are due, every `interval`, until stopped.
pub struct Digester {
    pub pool: PgPool,
    /// `NOTIFIER_DIGEST_INTERVAL_MS`: how often due digests are looked for.
    pub interval: Duration,
}

impl Digester {
    #[tracing::instrument(name = "digester", skip_all)]
    pub async fn run(self, stop: CancellationToken) {
        loop {
            if let Err(error) = self.write_due().await {
                tracing::warn!(%error, "digests could not be written; trying again later");
            }
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                () = stop.cancelled() => return,
            }
        }
    }

    /// Writes every digest that is due now; returns how many.
    async fn write_due(&self) -> Result<usize, sqlx::Error> {
        // The user's local date and hour come from PostgreSQL's time zone data.
        let due: Vec<(Uuid, NaiveDate)> = sqlx::query_as(
            "SELECT user_id, (now() AT TIME ZONE time_zone)::date FROM recipients r \
             WHERE digest_hour IS NOT NULL \
               AND extract(hour FROM now() AT TIME ZONE time_zone) >= digest_hour \
               AND NOT EXISTS (SELECT 1 FROM digests \
                               WHERE digests.user_id = r.user_id \
                                 AND local_date = (now() AT TIME ZONE r.time_zone)::date) \
               AND EXISTS (SELECT 1 FROM deliveries JOIN notifications USING (notification_id) \
                           WHERE notifications.user_id = r.user_id AND deliveries.state = 'held')",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut written = 0;
        for (user_id, local_date) in due {
            if self.write(user_id, local_date).await? {
                written += 1;
            }
        }
        Ok(written)
    }

    /// Writes `user_id`'s digest for `local_date` and queues its e-mail; false if
    /// another instance wrote it first or nothing is held any more.
    async fn write(&self, user_id: Uuid, local_date: NaiveDate) -> Result<bool, sqlx::Error> {
        let mut transaction = self.pool.begin().await?;
        let digest_id: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO digests (digest_id, user_id, local_date) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id, local_date) DO NOTHING RETURNING digest_id",
        )
        .bind(Uuid::now_v7())
        .bind(user_id)
        .bind(local_date)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some(digest_id) = digest_id else {
            return Ok(false);
        };
        let held: Vec<(Uuid, serde_json::Value)> = sqlx::query_as(
            "SELECT deliveries.delivery_id, notifications.data \
             FROM deliveries JOIN notifications USING (notification_id) \
             WHERE notifications.user_id = $1 AND deliveries.state = 'held' \
             ORDER BY deliveries.delivery_id FOR UPDATE OF deliveries",
        )
        .bind(user_id)
        .fetch_all(&mut *transaction)
        .await?;
        if held.is_empty() {
            // Rolled back: the day's digest is still to come if something is held later.
            return Ok(false);
        }
        let (delivery_ids, notices): (Vec<Uuid>, Vec<Notice>) = held
            .into_iter()
            .filter_map(|(delivery_id, data)| {
                serde_json::from_value(data)
                    .ok()
                    .map(|notice| (delivery_id, notice))
            })
            .unzip();
        sqlx::query(
            "UPDATE deliveries SET state = 'digested', digest_id = $2 WHERE delivery_id = ANY($1)",
        )
        .bind(&delivery_ids)
        .bind(digest_id)
        .execute(&mut *transaction)
        .await?;
        let digest = Notice::Digest {
            local_date,
            notices,
        };
        // Its items are in the inbox already, one by one.
        notify::record_all(
            &mut transaction,
            &[notify::NewNotification {
                user_id,
                cause_id: digest_id,
                notice: &digest,
                in_inbox: false,
                deliveries: vec![super::NewDelivery::Email],
            }],
        )
        .await?;
        transaction.commit().await?;
        tracing::info!(%user_id, %local_date, items = delivery_ids.len(), "daily digest written");
        Ok(true)
    }
}
