//! Import jobs in the database: created by an upload, claimed by a runner, their
//! counters advanced chunk by chunk, ended once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::schedules::Source;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Received, waiting for a runner.
    Queued,
    /// A runner is reading it.
    Running,
    /// Every row was read.
    Completed,
    /// Stopped with a reason; the contacts of committed chunks stay.
    Failed,
    /// Stopped at its owner's request; likewise.
    Cancelled,
}

/// A job as its owner sees it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Job {
    /// The job.
    pub import_id: Uuid,
    /// Its owner.
    #[serde(skip)]
    pub owner_id: Uuid,
    /// `upload` or `schedule`.
    pub origin: String,
    /// The schedule that started it, for a scheduled run.
    pub schedule_id: Option<Uuid>,
    /// The format the file was read as, once known.
    pub format: Option<String>,
    /// The uploaded file's name, if the client gave one.
    pub file_name: Option<String>,
    /// Where the job is.
    pub state: JobState,
    /// Why it failed, as a stable code.
    pub failure_code: Option<String>,
    /// Why it failed, for people.
    pub failure_reason: Option<String>,
    /// Data rows read (header and notes excluded).
    pub rows_read: i64,
    /// Contacts added.
    pub contacts_accepted: i64,
    /// Rows refused (see the rejects report).
    pub rows_rejected: i64,
    /// Rows that repeated a contact already there.
    pub duplicates: i64,
    /// Bytes of the upload.
    pub bytes_read: i64,
    /// Files of a zip upload that were not imported, as `name: reason`.
    pub skipped_files: Vec<String>,
    /// When it was received.
    pub created_at: DateTime<Utc>,
    /// When a runner first took it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// A scheduled run's heartbeat: `due` (completed, not sent yet), `sent`,
    /// `failed` (every attempt failed); absent without a heartbeat URL or before
    /// the run completed.
    pub heartbeat: Option<String>,
}

/// The columns of [`Job`], as a literal so that queries stay static strings.
macro_rules! job_columns {
    () => {
        "import_id, owner_id, origin, schedule_id, format, file_name, state, failure_code, \
         failure_reason, rows_read, contacts_accepted, rows_rejected, duplicates, bytes_read, \
         skipped_files, created_at, started_at, finished_at, heartbeat"
    };
}

/// How a job asked to be read.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRequest {
    /// The format asked for; `None` to detect it.
    pub requested_format: Option<String>,
    /// Generic CSV: column → field.
    pub column_mapping: Option<sqlx::types::Json<std::collections::HashMap<String, String>>>,
    /// Country of national phone numbers.
    pub default_region: Option<String>,
    /// The upload on the spool volume (for a scheduled run, once fetched).
    pub spool_file: Option<String>,
    /// A scheduled run: the URL to fetch...
    pub source_url: Option<String>,
    /// ...or the provider and path to fetch through auth's token proxy.
    pub source_provider: Option<String>,
    /// See `source_provider`.
    pub source_path: Option<String>,
    /// A scheduled run: called once it completes.
    pub heartbeat_url: Option<String>,
}

impl JobRequest {
    /// Where a scheduled run fetches its file.
    pub fn source(&self) -> Option<Source> {
        Source::from_columns(
            self.source_url.clone(),
            self.source_provider.clone(),
            self.source_path.clone(),
        )
    }
}

/// A new upload job.
pub struct NewJob<'a> {
    /// The job id (also the spool file's name).
    pub import_id: Uuid,
    /// Its owner.
    pub owner_id: Uuid,
    /// The format asked for; `None` to detect it.
    pub requested_format: Option<&'a str>,
    /// Generic CSV: column → field, as JSON.
    pub column_mapping: Option<serde_json::Value>,
    /// Country of national phone numbers.
    pub default_region: Option<&'a str>,
    /// The file's name, if given.
    pub file_name: Option<&'a str>,
    /// The received upload.
    pub spool_file: &'a str,
    /// Its size.
    pub bytes: u64,
}

/// Records a received upload as a queued job.
pub async fn create(pool: &PgPool, job: NewJob<'_>) -> Result<Job, sqlx::Error> {
    sqlx::query_as::<_, Job>(concat!(
        "INSERT INTO import_jobs (import_id, owner_id, origin, requested_format, column_mapping, \
             default_region, file_name, state, spool_file, bytes_read) \
         VALUES ($1, $2, 'upload', $3, $4, $5, $6, 'queued', $7, $8) RETURNING ",
        job_columns!()
    ))
    .bind(job.import_id)
    .bind(job.owner_id)
    .bind(job.requested_format)
    .bind(job.column_mapping)
    .bind(job.default_region)
    .bind(job.file_name)
    .bind(job.spool_file)
    .bind(i64::try_from(job.bytes).unwrap_or(i64::MAX))
    .fetch_one(pool)
    .await
}

/// The job `import_id` if `owner_id` owns it.
pub async fn get(
    pool: &PgPool,
    owner_id: Uuid,
    import_id: Uuid,
) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as::<_, Job>(concat!(
        "SELECT ",
        job_columns!(),
        " FROM import_jobs WHERE import_id = $1 AND owner_id = $2"
    ))
    .bind(import_id)
    .bind(owner_id)
    .fetch_optional(pool)
    .await
}

/// The owner's jobs, newest first, `limit` of them from after `before` (a job id
/// of the previous page).
pub async fn list(
    pool: &PgPool,
    owner_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Job>, sqlx::Error> {
    sqlx::query_as::<_, Job>(concat!(
        "SELECT ",
        job_columns!(),
        " FROM import_jobs \
         WHERE owner_id = $1 AND ($2::uuid IS NULL OR (created_at, import_id) < \
             (SELECT created_at, import_id FROM import_jobs WHERE import_id = $2 AND owner_id = $1)) \
         ORDER BY created_at DESC, import_id DESC LIMIT $3"
    ))
    .bind(owner_id)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Asks the job to stop: a queued job is cancelled at once, a running one at its
/// next chunk. Returns the job, or `None` if the owner has no such job.
pub async fn request_cancel(
    pool: &PgPool,
    owner_id: Uuid,
    import_id: Uuid,
) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as::<_, Job>(concat!(
        "UPDATE import_jobs SET cancel_requested = state IN ('queued', 'running'), \
             state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END, \
             finished_at = CASE WHEN state = 'queued' THEN now() ELSE finished_at END \
         WHERE import_id = $1 AND owner_id = $2 RETURNING ",
        job_columns!()
    ))
    .bind(import_id)
    .bind(owner_id)
    .fetch_optional(pool)
    .await
}

/// A job a runner took, with how to read it and where it stands.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedJob {
    /// The job.
    pub import_id: Uuid,
    /// Its owner.
    pub owner_id: Uuid,
    /// `upload` or `schedule`.
    pub origin: String,
    /// The file's name, if given.
    pub file_name: Option<String>,
    /// How to read it.
    #[sqlx(flatten)]
    pub request: JobRequest,
    /// `false` the first time a runner takes it (the start is announced then).
    pub resumed: bool,
    /// Rows read in committed chunks: where a resumed job goes on.
    pub rows_read: i64,
    /// Chunks committed: the next batch's sequence number.
    pub batches_committed: i32,
    /// When it was first taken.
    pub started_at: DateTime<Utc>,
}

/// Takes the oldest job that is queued, or running with its lease run out (its
/// runner died), for `lease`.
pub async fn claim(
    connection: &mut PgConnection,
    runner: &str,
    lease: Duration,
) -> Result<Option<ClaimedJob>, sqlx::Error> {
    sqlx::query_as::<_, ClaimedJob>(
        "UPDATE import_jobs j SET state = 'running', runner = $1, \
             lease_until = now() + make_interval(secs => $2), \
             started_at = coalesce(j.started_at, now()) \
         FROM (SELECT import_id, started_at IS NOT NULL AS resumed FROM import_jobs \
               WHERE state = 'queued' OR (state = 'running' AND lease_until < now()) \
               ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) picked \
         WHERE j.import_id = picked.import_id \
         RETURNING j.import_id, j.owner_id, j.origin, j.file_name, j.requested_format, \
             j.column_mapping, j.default_region, j.spool_file, j.source_url, j.source_provider, \
             j.source_path, j.heartbeat_url, picked.resumed, j.rows_read, j.batches_committed, j.started_at",
    )
    .bind(runner)
    .bind(lease.as_secs_f64())
    .fetch_optional(connection)
    .await
}

/// Extends the lease of a job this runner holds; `false` if it no longer does.
pub async fn renew_lease(
    pool: &PgPool,
    import_id: Uuid,
    runner: &str,
    lease: Duration,
) -> Result<bool, sqlx::Error> {
    let renewed = sqlx::query(
        "UPDATE import_jobs SET lease_until = now() + make_interval(secs => $3) \
         WHERE import_id = $1 AND runner = $2 AND state = 'running'",
    )
    .bind(import_id)
    .bind(runner)
    .bind(lease.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(renewed.rows_affected() == 1)
}

/// Queues a run of the schedule `schedule_id` as job `import_id`: the schedule's
/// source, reading options and heartbeat URL are copied onto the job.
pub async fn queue_scheduled_run(
    connection: &mut PgConnection,
    schedule_id: Uuid,
    import_id: Uuid,
    file_name: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO import_jobs (import_id, owner_id, origin, schedule_id, requested_format, \
             column_mapping, default_region, file_name, state, source_url, source_provider, \
             source_path, heartbeat_url) \
         SELECT $2, owner_id, 'schedule', schedule_id, requested_format, column_mapping, \
             default_region, $3, 'queued', source_url, source_provider, source_path, heartbeat_url \
         FROM import_schedules WHERE schedule_id = $1",
    )
    .bind(schedule_id)
    .bind(import_id)
    .bind(file_name)
    .execute(connection)
    .await?;
    Ok(())
}

/// Records the fetched file of a scheduled run this runner holds; `false` if it
/// no longer holds the job.
pub async fn record_fetched(
    pool: &PgPool,
    import_id: Uuid,
    runner: &str,
    spool_file: &str,
    bytes: u64,
) -> Result<bool, sqlx::Error> {
    let recorded = sqlx::query(
        "UPDATE import_jobs SET spool_file = $3, bytes_read = $4 \
         WHERE import_id = $1 AND runner = $2 AND state = 'running'",
    )
    .bind(import_id)
    .bind(runner)
    .bind(spool_file)
    .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
    .execute(pool)
    .await?;
    Ok(recorded.rows_affected() == 1)
}

/// A completed scheduled run whose heartbeat is still to be sent.
#[derive(Debug, sqlx::FromRow)]
pub struct DueHeartbeat {
    /// The job.
    pub import_id: Uuid,
    /// Where to send it.
    pub heartbeat_url: String,
    /// Attempts that failed so far.
    pub heartbeat_attempts: i32,
}

/// Locks the next heartbeat due by now that no other scheduler holds.
pub async fn take_due_heartbeat(
    connection: &mut PgConnection,
) -> Result<Option<DueHeartbeat>, sqlx::Error> {
    sqlx::query_as::<_, DueHeartbeat>(
        "SELECT import_id, heartbeat_url, heartbeat_attempts FROM import_jobs \
         WHERE heartbeat = 'due' AND heartbeat_at <= now() \
         ORDER BY heartbeat_at LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(connection)
    .await
}

/// How a heartbeat attempt went.
pub enum HeartbeatAttempt<'a> {
    /// Sent.
    Sent,
    /// Failed; tried again after `retry_in`.
    Failed {
        /// What went wrong.
        error: &'a str,
        /// When to try again.
        retry_in: Duration,
    },
    /// Failed, and no attempt is left.
    GaveUp {
        /// What went wrong.
        error: &'a str,
    },
}

/// Records a heartbeat attempt.
pub async fn record_heartbeat(
    connection: &mut PgConnection,
    import_id: Uuid,
    attempt: HeartbeatAttempt<'_>,
) -> Result<(), sqlx::Error> {
    let (state, error, retry_in) = match attempt {
        HeartbeatAttempt::Sent => ("sent", None, None),
        HeartbeatAttempt::Failed { error, retry_in } => ("due", Some(error), Some(retry_in)),
        HeartbeatAttempt::GaveUp { error } => ("failed", Some(error), None),
    };
    sqlx::query(
        "UPDATE import_jobs SET heartbeat = $2, heartbeat_attempts = heartbeat_attempts + 1, \
             heartbeat_error = $3, \
             heartbeat_at = CASE WHEN $4::float8 IS NULL THEN NULL \
                 ELSE now() + make_interval(secs => $4) END \
         WHERE import_id = $1",
    )
    .bind(import_id)
    .bind(state)
    .bind(error)
    .bind(retry_in.map(|retry_in| retry_in.as_secs_f64()))
    .execute(connection)
    .await?;
    Ok(())
}
