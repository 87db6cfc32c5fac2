//! Schedules in the database: created, listed, deleted by their owner; claimed
//! when due by whichever instance's scheduler gets there first.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool, types::Json};
use uuid::Uuid;

use super::Source;

/// A schedule as its owner sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    /// The schedule.
    pub schedule_id: Uuid,
    /// A name the owner gave it.
    pub name: Option<String>,
    /// When it runs (UTC).
    pub cron: String,
    /// Where the file comes from.
    pub source: Source,
    /// The format asked for (absent: detected).
    pub format: Option<String>,
    /// Country of national phone numbers.
    pub region: Option<String>,
    /// Generic CSV: column → field.
    pub mapping: Option<serde_json::Value>,
    /// Called after each run that completes.
    pub heartbeat_url: Option<String>,
    /// When it runs next.
    pub next_run_at: DateTime<Utc>,
    /// When it last started a run (or skipped one).
    pub last_run_at: Option<DateTime<Utc>>,
    /// The job of its last run.
    pub last_import_id: Option<Uuid>,
    /// Runs not started because the previous one was still going.
    pub runs_skipped: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    schedule_id: Uuid,
    name: Option<String>,
    cron: String,
    source_url: Option<String>,
    source_provider: Option<String>,
    source_path: Option<String>,
    requested_format: Option<String>,
    default_region: Option<String>,
    column_mapping: Option<Json<serde_json::Value>>,
    heartbeat_url: Option<String>,
    next_run_at: DateTime<Utc>,
    last_run_at: Option<DateTime<Utc>>,
    last_import_id: Option<Uuid>,
    runs_skipped: i64,
    created_at: DateTime<Utc>,
}

impl TryFrom<ScheduleRow> for Schedule {
    type Error = sqlx::Error;

    fn try_from(row: ScheduleRow) -> Result<Self, Self::Error> {
        let source = Source::from_columns(row.source_url, row.source_provider, row.source_path)
            .ok_or_else(|| {
                sqlx::Error::Decode(format!("schedule {} has no source", row.schedule_id).into())
            })?;
        Ok(Self {
            schedule_id: row.schedule_id,
            name: row.name,
            cron: row.cron,
            source,
            format: row.requested_format,
            region: row.default_region,
            mapping: row.column_mapping.map(|mapping| mapping.0),
            heartbeat_url: row.heartbeat_url,
            next_run_at: row.next_run_at,
            last_run_at: row.last_run_at,
            last_import_id: row.last_import_id,
            runs_skipped: row.runs_skipped,
            created_at: row.created_at,
        })
    }
}

/// The columns of [`ScheduleRow`], as a literal so that queries stay static.
macro_rules! schedule_columns {
    () => {
        "schedule_id, name, cron, source_url, source_provider, source_path, requested_format, \
         default_region, column_mapping, heartbeat_url, next_run_at, last_run_at, \
         last_import_id, runs_skipped, created_at"
    };
}

fn schedule(row: Option<ScheduleRow>) -> Result<Option<Schedule>, sqlx::Error> {
    row.map(Schedule::try_from).transpose()
}

/// A schedule to create, checked.
pub struct NewSchedule<'a> {
    /// Its owner.
    pub owner_id: Uuid,
    /// A name for it.
    pub name: Option<&'a str>,
    /// When it runs.
    pub cron: &'a str,
    /// Its first run.
    pub first_run_at: DateTime<Utc>,
    /// Where the file comes from.
    pub source: &'a Source,
    /// The format asked for; `None` to detect it.
    pub requested_format: Option<&'a str>,
    /// Generic CSV: column → field, as JSON.
    pub column_mapping: Option<serde_json::Value>,
    /// Country of national phone numbers.
    pub default_region: Option<&'a str>,
    /// Called after each completed run.
    pub heartbeat_url: Option<&'a str>,
}

/// Creates the schedule unless its owner already has `max_per_owner`; `None`
/// then. Creations of one owner are serialised, so the limit holds under races.
pub async fn create(
    pool: &PgPool,
    new: NewSchedule<'_>,
    max_per_owner: u64,
) -> Result<Option<Schedule>, sqlx::Error> {
    let mut transaction = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('import_schedules:' || $1, 0))")
        .bind(new.owner_id.to_string())
        .execute(&mut *transaction)
        .await?;
    let (url, provider, path) = new.source.columns();
    let row = sqlx::query_as::<_, ScheduleRow>(concat!(
        "INSERT INTO import_schedules (schedule_id, owner_id, name, cron, source_url, \
             source_provider, source_path, requested_format, column_mapping, default_region, \
             heartbeat_url, next_run_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 \
         WHERE (SELECT count(*) FROM import_schedules WHERE owner_id = $2) < $13 \
         RETURNING ",
        schedule_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(new.owner_id)
    .bind(new.name)
    .bind(new.cron)
    .bind(url)
    .bind(provider)
    .bind(path)
    .bind(new.requested_format)
    .bind(new.column_mapping)
    .bind(new.default_region)
    .bind(new.heartbeat_url)
    .bind(new.first_run_at)
    .bind(i64::try_from(max_per_owner).unwrap_or(i64::MAX))
    .fetch_optional(&mut *transaction)
    .await?;
    transaction.commit().await?;
    schedule(row)
}

/// The owner's schedules, oldest first.
pub async fn list(pool: &PgPool, owner_id: Uuid) -> Result<Vec<Schedule>, sqlx::Error> {
    sqlx::query_as::<_, ScheduleRow>(concat!(
        "SELECT ",
        schedule_columns!(),
        " FROM import_schedules WHERE owner_id = $1 ORDER BY created_at, schedule_id"
    ))
    .bind(owner_id)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(Schedule::try_from)
    .collect()
}

/// The schedule if `owner_id` owns it.
pub async fn get(
    pool: &PgPool,
    owner_id: Uuid,
    schedule_id: Uuid,
) -> Result<Option<Schedule>, sqlx::Error> {
    let row = sqlx::query_as::<_, ScheduleRow>(concat!(
        "SELECT ",
        schedule_columns!(),
        " FROM import_schedules WHERE schedule_id = $1 AND owner_id = $2"
    ))
    .bind(schedule_id)
    .bind(owner_id)
    .fetch_optional(pool)
    .await?;
    schedule(row)
}

/// Deletes the schedule; `false` if the owner has no such schedule. A run
/// already started goes on.
pub async fn delete(pool: &PgPool, owner_id: Uuid, schedule_id: Uuid) -> Result<bool, sqlx::Error> {
    let deleted =
        sqlx::query("DELETE FROM import_schedules WHERE schedule_id = $1 AND owner_id = $2")
            .bind(schedule_id)
            .bind(owner_id)
            .execute(pool)
            .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Makes the schedule due now; the scheduler starts the run (or skips it if the
/// previous one is still going).
pub async fn run_now(
    pool: &PgPool,
    owner_id: Uuid,
    schedule_id: Uuid,
) -> Result<Option<Schedule>, sqlx::Error> {
    let row = sqlx::query_as::<_, ScheduleRow>(concat!(
        "UPDATE import_schedules SET next_run_at = now() \
         WHERE schedule_id = $1 AND owner_id = $2 RETURNING ",
        schedule_columns!()
    ))
    .bind(schedule_id)
    .bind(owner_id)
    .fetch_optional(pool)
    .await?;
    schedule(row)
}

/// A due schedule, locked by the transaction that took it.
#[derive(Debug, sqlx::FromRow)]
pub struct DueSchedule {
    /// The schedule.
    pub schedule_id: Uuid,
    /// Its owner.
    pub owner_id: Uuid,
    /// When it runs.
    pub cron: String,
    /// Its name, if any.
    pub name: Option<String>,
    /// Its source's columns (see [`Source::from_columns`]).
    pub source_url: Option<String>,
    /// See `source_url`.
    pub source_provider: Option<String>,
    /// See `source_url`.
    pub source_path: Option<String>,
    /// Whether its previous run is still queued or running.
    pub busy: bool,
}

impl DueSchedule {
    /// The file name its run's job shows: the schedule's name, else the last
    /// segment of its source.
    pub fn run_file_name(&self) -> Option<String> {
        self.name.clone().or_else(|| {
            Source::from_columns(
                self.source_url.clone(),
                self.source_provider.clone(),
                self.source_path.clone(),
            )?
            .file_name()
        })
    }
}

/// Locks up to `limit` due schedules that no other scheduler holds.
pub async fn take_due(
    connection: &mut PgConnection,
    limit: i64,
) -> Result<Vec<DueSchedule>, sqlx::Error> {
    sqlx::query_as::<_, DueSchedule>(
        "SELECT s.schedule_id, s.owner_id, s.cron, s.name, s.source_url, s.source_provider, \
             s.source_path, EXISTS ( \
             SELECT 1 FROM import_jobs j \
             WHERE j.schedule_id = s.schedule_id AND j.state IN ('queued', 'running')) AS busy \
         FROM import_schedules s WHERE s.next_run_at <= now() \
         ORDER BY s.next_run_at LIMIT $1 FOR UPDATE OF s SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(connection)
    .await
}

/// Records a due schedule's run (`started`: its job) or its skipping (`None`),
/// and when it runs next.
pub async fn advance(
    connection: &mut PgConnection,
    schedule_id: Uuid,
    next_run_at: DateTime<Utc>,
    started: Option<Uuid>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE import_schedules SET next_run_at = $2, last_run_at = now(), \
             last_import_id = coalesce($3, last_import_id), \
             runs_skipped = runs_skipped + CASE WHEN $3 IS NULL THEN 1 ELSE 0 END \
         WHERE schedule_id = $1",
    )
    .bind(schedule_id)
    .bind(next_run_at)
    .bind(started)
    .execute(connection)
    .await?;
    Ok(())
}
