//! The scheduler: one task per instance that, every `IMPORTER_SCHEDULE_POLL_MS`
//! or when woken, starts the runs of due schedules and sends the heartbeats of
//! completed runs. Instances share the work through row locks (`SKIP LOCKED`),
//! so each run starts once and each heartbeat is sent by one instance.
//!
//! - A due schedule whose previous run is still queued or running skips this
//!   run (counted in `runs_skipped`) rather than piling runs up.
//! - A heartbeat is owed once the run's job has completed, recorded in the same
//!   transaction as the completion; it is sent (GET) until it succeeds or
//!   [`HEARTBEAT_ATTEMPTS`] attempts have failed, retried after one poll
//!   interval, then two, four, eight. A failed or cancelled run owes none, so
//!   the heartbeat monitor alerts.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use six_kit::{egress, service::BuildError};
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Cron, store};
use crate::{
    jobs::{
        self,
        store::{DueHeartbeat, HeartbeatAttempt},
    },
    settings::ScheduleSettings,
};

/// Attempts at a heartbeat before it is recorded as failed.
pub const HEARTBEAT_ATTEMPTS: i32 = 5;

/// Schedules or heartbeats handled per transaction.
const BATCH: i64 = 50;

/// Wakes the runners (a job was queued) and the scheduler (a run became due, a
/// heartbeat is owed).
#[derive(Clone, Default)]
pub struct Wakers {
    /// Notified when a job is queued.
    pub runners: Arc<Notify>,
    /// Notified when a schedule is made due or a heartbeat is owed.
    pub scheduler: Arc<Notify>,
}

/// Starts the scheduler task.
pub fn start(
    pool: PgPool,
    settings: &ScheduleSettings,
    wakers: Wakers,
    stop: CancellationToken,
) -> Result<(), BuildError> {
    let heartbeats = egress::client_builder(settings.egress)
        .connect_timeout(jobs::fetch::CONNECT_TIMEOUT)
        .timeout(settings.heartbeat_timeout)
        .build()?;
    let scheduler = Scheduler {
        pool,
        heartbeats,
        poll: settings.poll,
        wakers,
    };
    tokio::spawn(scheduler.run(stop));
    Ok(())
}

struct Scheduler {
    pool: PgPool,
    heartbeats: reqwest::Client,
    poll: Duration,
    wakers: Wakers,
}

impl Scheduler {
    async fn run(self, stop: CancellationToken) {
        loop {
            // Drain: a full batch means more may be waiting.
            loop {
                match self.start_due_runs().await {
                    Ok(taken) if taken == BATCH as usize => continue,
                    Ok(_) => break,
                    // At shutdown the pool closes under a pass still going.
                    Err(_) if stop.is_cancelled() => return,
                    Err(error) => {
                        tracing::warn!(%error, "starting due scheduled imports failed");
                        break;
                    }
                }
            }
            match self.send_due_heartbeats().await {
                Err(_) if stop.is_cancelled() => return,
                Err(error) => tracing::warn!(%error, "sending heartbeats failed"),
                Ok(_) => {}
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wakers.scheduler.notified() => {}
                () = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// Queues a job for each due schedule (or skips its run) and sets its next
    /// run; returns how many schedules it took.
    async fn start_due_runs(&self) -> Result<usize, sqlx::Error> {
        let mut transaction = self.pool.begin().await?;
        let due = store::take_due(&mut transaction, BATCH).await?;
        let mut queued = 0;
        for schedule in &due {
            let now = Utc::now();
            let next_run_at = match Cron::parse(&schedule.cron) {
                Ok(cron) => cron.next_after(now),
                Err(reason) => {
                    tracing::error!(schedule_id = %schedule.schedule_id, %reason, "a stored cron expression no longer parses");
                    None
                }
            }
            // A schedule that can never run again is left due in a year, where
            // its owner can see it and delete it.
            .unwrap_or_else(|| now + chrono::Duration::days(365));
            let started = if schedule.busy {
                tracing::warn!(schedule_id = %schedule.schedule_id, "scheduled import skipped: its previous run is still going");
                None
            } else {
                let import_id = Uuid::now_v7();
                jobs::store::queue_scheduled_run(
                    &mut transaction,
                    schedule.schedule_id,
                    import_id,
                    schedule.run_file_name().as_deref(),
                )
                .await?;
                queued += 1;
                tracing::info!(schedule_id = %schedule.schedule_id, owner_id = %schedule.owner_id, %import_id, "scheduled import queued");
                Some(import_id)
            };
            store::advance(&mut transaction, schedule.schedule_id, next_run_at, started).await?;
        }
        transaction.commit().await?;
        if queued > 0 {
            self.wakers.runners.notify_waiters();
        }
        Ok(due.len())
    }

    /// Sends owed heartbeats, one transaction each (a slow heartbeat URL holds
    /// one row); returns how many it tried.
    async fn send_due_heartbeats(&self) -> Result<usize, sqlx::Error> {
        let mut tried = 0;
        while tried < BATCH as usize {
            let mut transaction = self.pool.begin().await?;
            let Some(heartbeat) = jobs::store::take_due_heartbeat(&mut transaction).await? else {
                break;
            };
            tried += 1;
            let outcome = self.send(&heartbeat).await;
            let attempt = match &outcome {
                Ok(()) => HeartbeatAttempt::Sent,
                Err(error) if heartbeat.heartbeat_attempts + 1 >= HEARTBEAT_ATTEMPTS => {
                    HeartbeatAttempt::GaveUp { error }
                }
                Err(error) => HeartbeatAttempt::Failed {
                    error,
                    retry_in: self.poll * 2u32.pow(heartbeat.heartbeat_attempts.unsigned_abs()),
                },
            };
            match &outcome {
                Ok(()) => tracing::info!(import_id = %heartbeat.import_id, "heartbeat sent"),
                Err(error) => tracing::warn!(
                    import_id = %heartbeat.import_id,
                    %error,
                    attempt = heartbeat.heartbeat_attempts + 1,
                    "heartbeat failed"
                ),
            }
            jobs::store::record_heartbeat(&mut transaction, heartbeat.import_id, attempt).await?;
            transaction.commit().await?;
        }
        Ok(tried)
    }

    async fn send(&self, heartbeat: &DueHeartbeat) -> Result<(), String> {
        let url =
            reqwest::Url::parse(&heartbeat.heartbeat_url).map_err(|error| error.to_string())?;
        let response = self.heartbeats.get(url).send().await.map_err(|error| {
            egress::refusal(&error).map_or_else(|| error.to_string(), ToString::to_string)
        })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the heartbeat URL answered {}", response.status()))
        }
    }
}
