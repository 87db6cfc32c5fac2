//! The dispatcher: claims due deliveries, sends them, records each outcome.
//! Several instances share the table safely (`FOR UPDATE SKIP LOCKED` and claims).

use std::{collections::HashSet, time::Duration};

use futures_util::{StreamExt, stream};
use serde_json::json;
use six_bus::CommitWakeups;
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    WAKE_CHANNEL,
    email::{Email, Mailer, SendError},
};
use crate::{
    messages::{self, Links},
    notices::{Channel, Notice},
    notify,
    settings::DispatchSettings,
    unsubscribe::{Scope, UnsubscribeKeys},
    webhooks::{WebhookCall, WebhookOutcome, WebhookSecret, WebhookSender},
};

/// Sends what is due until stopped.
#[derive(Clone)]
pub struct Dispatcher {
    pub pool: PgPool,
    pub mailer: Mailer,
    pub webhooks: WebhookSender,
    pub links: Links,
    pub unsubscribe: UnsubscribeKeys,
    pub settings: DispatchSettings,
}

/// Outcomes recorded in one transaction at most: those of sends that finished
/// while the group before was being recorded.
const RECORDED_TOGETHER: usize = 32;

/// A claimed delivery with what its message needs.
#[derive(Debug, sqlx::FromRow)]
struct Claimed {
    delivery_id: Uuid,
    notification_id: Uuid,
    channel: String,
    attempts: i32,
    user_id: Uuid,
    data: serde_json::Value,
    email: String,
    display_name: String,
    endpoint_id: Option<Uuid>,
    endpoint_url: Option<String>,
    /// The endpoint's live secrets (`whsec_...`), newest first; empty for e-mail.
    endpoint_secrets: Vec<String>,
}

/// What is written for one outcome.
struct Recorded<'a> {
    state: &'static str,
    /// Until the next attempt (a retry).
    delay: Duration,
    error: Option<&'a str>,
    /// The outcome's label on `notifier_deliveries_total`.
    label: &'static str,
}

/// How one send ended.
enum Outcome {
    Sent,
    /// Worth trying again later.
    Retry(String),
    /// Will not succeed by trying again.
    Failed(String),
}

impl Dispatcher {
    /// Works until `stop` is cancelled; a batch being sent is finished first.
    #[tracing::instrument(name = "dispatcher", skip_all)]
    pub async fn run(self, stop: CancellationToken) {
        let mut wakeups =
            CommitWakeups::listen(self.pool.clone(), WAKE_CHANNEL, self.settings.poll_interval)
                .await;
        while !stop.is_cancelled() {
            match self.dispatch_batch().await {
                Ok(claimed) if claimed == self.settings.batch_size => {}
                Ok(_) => wakeups.wait(&stop).await,
                Err(error) => {
                    tracing::warn!(%error, "dispatch failed; trying again after the poll interval");
                    wakeups.wait(&stop).await;
                }
            }
        }
    }

    /// Claims, sends and records one batch; returns how many deliveries it claimed.
    /// Outcomes are recorded while the other sends go on: those that finished while
    /// the last group was being written make the next group, recorded in one
    /// transaction. An outcome that cannot be recorded leaves its delivery
    /// claimed: it is sent again once the claim expires.
    async fn dispatch_batch(&self) -> Result<i64, sqlx::Error> {
        let claimed = self.claim().await?;
        let count = claimed.len();
        let (finished, mut outcomes) = mpsc::channel(count.max(1));
        let sending = async move {
            let mut sends = stream::iter(claimed)
                .map(|delivery| async move {
                    let outcome = self.send(&delivery).await;
                    (delivery, outcome)
                })
                .buffer_unordered(self.settings.send_concurrency);
            while let Some(outcome) = sends.next().await {
                // The channel holds a whole batch, and its receiver lives until
                // this sender is dropped, at the end of the batch.
                let _ = finished.send(outcome).await;
            }
        };
        let recording = async {
            let mut group = Vec::with_capacity(RECORDED_TOGETHER);
            while outcomes.recv_many(&mut group, RECORDED_TOGETHER).await > 0 {
                self.record_group(&group).await;
                group.clear();
            }
        };
        tokio::join!(sending, recording);
        Ok(count as i64)
    }

    /// Records a group of outcomes together, or, if that fails, one by one.
    async fn record_group(&self, outcomes: &[(Claimed, Outcome)]) {
        let Err(error) = self.record_all(outcomes).await else {
            return;
        };
        tracing::warn!(%error, deliveries = outcomes.len(), "outcomes not recorded together; recording them one by one");
        for outcome in outcomes {
            if let Err(error) = self.record_all(std::slice::from_ref(outcome)).await {
                tracing::error!(%error, delivery_id = %outcome.0.delivery_id, "outcome not recorded; the delivery is sent again when its claim expires");
            }
        }
    }

    /// Takes up to a batch of due deliveries for this instance, counting the attempt.
    async fn claim(&self) -> Result<Vec<Claimed>, sqlx::Error> {
        sqlx::query_as::<_, Claimed>(
            "WITH due AS ( \
                 SELECT delivery_id FROM deliveries \
                 WHERE state = 'pending' AND next_attempt_at <= now() \
                   AND (claimed_until IS NULL OR claimed_until < now()) \
                   AND NOT EXISTS (SELECT 1 FROM webhook_endpoints \
                                   WHERE webhook_endpoints.endpoint_id = deliveries.endpoint_id \
                                     AND NOT webhook_endpoints.enabled) \
                 ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED \
             ), claimed AS ( \
                 UPDATE deliveries SET attempts = deliveries.attempts + 1, \
                        claimed_until = now() + make_interval(secs => $2) \
                 FROM due WHERE deliveries.delivery_id = due.delivery_id \
                 RETURNING deliveries.delivery_id, deliveries.notification_id, \
                           deliveries.channel, deliveries.attempts, deliveries.endpoint_id \
             ) \
             SELECT claimed.delivery_id, claimed.notification_id, claimed.channel, \
                    claimed.attempts, notifications.user_id, notifications.data, \
                    recipients.email, recipients.display_name, \
                    claimed.endpoint_id, webhook_endpoints.url AS endpoint_url, \
                    ARRAY(SELECT secret FROM webhook_secrets \
                          WHERE webhook_secrets.endpoint_id = claimed.endpoint_id \
                            AND (expires_at IS NULL OR expires_at > now()) \
                          ORDER BY created_at DESC) AS endpoint_secrets \
             FROM claimed \
             JOIN notifications USING (notification_id) \
             JOIN recipients USING (user_id) \
             LEFT JOIN webhook_endpoints ON webhook_endpoints.endpoint_id = claimed.endpoint_id",
        )
        .bind(self.settings.batch_size)
        .bind(self.settings.claim_timeout.as_secs_f64())
        .fetch_all(&self.pool)
        .await
    }

    async fn send(&self, delivery: &Claimed) -> Outcome {
        let notice: Notice = match serde_json::from_value(delivery.data.clone()) {
            Ok(notice) => notice,
            Err(error) => return Outcome::Failed(format!("unreadable notification: {error}")),
        };
        match Channel::parse(&delivery.channel) {
            Some(Channel::Email) => self.send_email(delivery, &notice).await,
            Some(Channel::Webhook) => self.send_webhook(delivery, &notice).await,
            _ => Outcome::Failed(format!("no sender for channel `{}`", delivery.channel)),
        }
    }

    async fn send_email(&self, delivery: &Claimed, notice: &Notice) -> Outcome {
        let wording = messages::wording(notice, &delivery.display_name, &self.links);
        let scope = match notice {
            Notice::Digest { .. } => Scope::AllEmail,
            other => Scope::Kind(other.kind()),
        };
        let unsubscribe_url = self
            .links
            .unsubscribe(&self.unsubscribe.token(delivery.user_id, scope));
        let body = messages::email_body(&wording, &unsubscribe_url);
        let sent = self
            .mailer
            .send(&Email {
                delivery_id: delivery.delivery_id,
                to_name: &messages::clipped(&delivery.display_name, messages::MAX_NAME_CHARS),
                to_address: &delivery.email,
                subject: &wording.title,
                body: &body,
                unsubscribe_url: unsubscribe_url.as_str(),
            })
            .await;
        match sent {
            Ok(()) => Outcome::Sent,
            Err(error @ SendError::Unavailable(_)) => Outcome::Retry(error.to_string()),
            Err(error) => Outcome::Failed(error.to_string()),
        }
    }

    async fn send_webhook(&self, delivery: &Claimed, notice: &Notice) -> Outcome {
        let Some(url) = &delivery.endpoint_url else {
            return Outcome::Failed("the delivery has no endpoint".to_owned());
        };
        let secrets: Vec<WebhookSecret> = delivery
            .endpoint_secrets
            .iter()
            .filter_map(|text| WebhookSecret::from_text(text))
            .collect();
        let wording = messages::wording(notice, &delivery.display_name, &self.links);
        let now = chrono::Utc::now();
        let payload = json!({
            "type": notice.kind().as_str(),
            "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "data": {
                "notification_id": delivery.notification_id,
                "user_id": delivery.user_id,
                "title": wording.title,
                "body": wording.text,
                "link": wording.link.map(|(_, link)| link.to_string()),
                "details": notice,
            },
        });
        let call = WebhookCall {
            message_id: delivery.delivery_id.to_string(),
            url,
            body: payload.to_string().into_bytes(),
            secrets: &secrets,
        };
        match self.webhooks.send(&call, now.timestamp()).await {
            WebhookOutcome::Delivered => Outcome::Sent,
            WebhookOutcome::Failed(error) => Outcome::Retry(error),
        }
    }

    /// Writes how sends ended, in one transaction: the deliveries in one
    /// statement, the runs of failures of the endpoints that answered in one more,
    /// and, in order, every outcome of an endpoint that failed in this group. A
    /// row no longer there (the user was erased while it was being sent) is left
    /// alone.
    async fn record_all(&self, outcomes: &[(Claimed, Outcome)]) -> Result<(), sqlx::Error> {
        let recorded: Vec<Recorded> = outcomes
            .iter()
            .map(|(delivery, outcome)| self.recorded(delivery, outcome))
            .collect();
        let failing_endpoints: HashSet<Uuid> = outcomes
            .iter()
            .zip(&recorded)
            .filter(|(_, recorded)| recorded.error.is_some())
            .filter_map(|((delivery, _), _)| delivery.endpoint_id)
            .collect();
        let mut transaction = self.pool.begin().await?;
        sqlx::query(
            "UPDATE deliveries SET state = outcome.state, claimed_until = NULL, \
                    last_error = outcome.error, \
                    sent_at = CASE WHEN outcome.state = 'sent' THEN now() END, \
                    next_attempt_at = now() + make_interval(secs => outcome.delay) \
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::float8[]) \
                  AS outcome (delivery_id, state, error, delay) \
             WHERE deliveries.delivery_id = outcome.delivery_id",
        )
        .bind(
            outcomes
                .iter()
                .map(|(delivery, _)| delivery.delivery_id)
                .collect::<Vec<_>>(),
        )
        .bind(recorded.iter().map(|r| r.state).collect::<Vec<_>>())
        .bind(recorded.iter().map(|r| r.error).collect::<Vec<_>>())
        .bind(
            recorded
                .iter()
                .map(|r| r.delay.as_secs_f64())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *transaction)
        .await?;
        let answered: Vec<Uuid> = outcomes
            .iter()
            .filter_map(|(delivery, _)| delivery.endpoint_id)
            .filter(|endpoint_id| !failing_endpoints.contains(endpoint_id))
            .collect();
        if !answered.is_empty() {
            sqlx::query(
                "UPDATE webhook_endpoints SET consecutive_failures = 0 \
                 WHERE endpoint_id = ANY($1) AND consecutive_failures <> 0",
            )
            .bind(&answered)
            .execute(&mut *transaction)
            .await?;
        }
        for ((delivery, _), recorded) in outcomes.iter().zip(&recorded) {
            if let Some(endpoint_id) = delivery.endpoint_id
                && failing_endpoints.contains(&endpoint_id)
            {
                self.record_endpoint(&mut transaction, delivery, endpoint_id, recorded.error)
                    .await?;
            }
        }
        transaction.commit().await?;
        for ((delivery, _), recorded) in outcomes.iter().zip(recorded) {
            metrics::counter!("notifier_deliveries_total", "channel" => delivery.channel.clone(), "outcome" => recorded.label)
                .increment(1);
        }
        Ok(())
    }

    /// What to write for how one send ended; logs failures.
    fn recorded<'a>(&self, delivery: &Claimed, outcome: &'a Outcome) -> Recorded<'a> {
        let retry = &self.settings.retry;
        let attempts = delivery.attempts;
        let delivery_id = delivery.delivery_id;
        match outcome {
            Outcome::Sent => Recorded {
                state: "sent",
                delay: Duration::ZERO,
                error: None,
                label: "sent",
            },
            Outcome::Retry(error) if attempts < retry.max_attempts => {
                let delay = retry.delay_after(attempts, fastrand::f64());
                tracing::warn!(%delivery_id, channel = %delivery.channel, attempts, %error, retry_in_ms = delay.as_millis() as u64, "delivery failed; will retry");
                Recorded {
                    state: "pending",
                    delay,
                    error: Some(error),
                    label: "retried",
                }
            }
            Outcome::Retry(error) | Outcome::Failed(error) => {
                tracing::error!(%delivery_id, channel = %delivery.channel, attempts, %error, "delivery failed for good");
                Recorded {
                    state: "failed",
                    delay: Duration::ZERO,
                    error: Some(error),
                    label: "failed",
                }
            }
        }
    }

    /// Resets the endpoint's run of failures after a success, or extends it; at
    /// `NOTIFIER_WEBHOOK_DISABLE_AFTER` the endpoint is disabled, its pending
    /// deliveries fail, and its owner gets a notice.
    async fn record_endpoint(
        &self,
        transaction: &mut sqlx::PgConnection,
        delivery: &Claimed,
        endpoint_id: Uuid,
        error: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let Some(error) = error else {
            sqlx::query(
                "UPDATE webhook_endpoints SET consecutive_failures = 0 \
                 WHERE endpoint_id = $1 AND consecutive_failures <> 0",
            )
            .bind(endpoint_id)
            .execute(&mut *transaction)
            .await?;
            return Ok(());
        };
        let failures: Option<(i32, String, bool)> = sqlx::query_as(
            "UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1 \
             WHERE endpoint_id = $1 RETURNING consecutive_failures, url, enabled",
        )
        .bind(endpoint_id)
        .fetch_optional(&mut *transaction)
        .await?;
        let Some((consecutive_failures, url, true)) = failures else {
            return Ok(());
        };
        if consecutive_failures < self.settings.webhook_disable_after {
            return Ok(());
        }
        let reason = format!("{consecutive_failures} failures in a row, the last: {error}");
        sqlx::query(
            "UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2 WHERE endpoint_id = $1",
        )
        .bind(endpoint_id)
        .bind(&reason)
        .execute(&mut *transaction)
        .await?;
        sqlx::query(
            "UPDATE deliveries SET state = 'failed', claimed_until = NULL, \
                    last_error = 'the endpoint was disabled' \
             WHERE endpoint_id = $1 AND state = 'pending'",
        )
        .bind(endpoint_id)
        .execute(&mut *transaction)
        .await?;
        tracing::warn!(%endpoint_id, consecutive_failures, "webhook endpoint disabled");
        let notice = Notice::WebhookDisabled {
            endpoint_id,
            url,
            consecutive_failures,
            last_error: error.to_owned(),
        };
        notify::raise_all(
            transaction,
            &[notify::Raise {
                user_id: delivery.user_id,
                cause_id: delivery.delivery_id,
                notice,
            }],
        )
        .await
    }
}
