//! Runners: `IMPORTER_WORKERS` tasks per instance, each taking one job at a time.
//!
//! A runner claims the oldest queued job, or a running one whose lease ran out
//! (its instance died), for `IMPORTER_JOB_LEASE_MS`, renewed while it works. The
//! upload is read on a blocking thread, which also prepares each chunk for
//! writing (`writer::PreparedChunk`); chunks come back over a channel of one, so
//! reading waits while a chunk commits and memory holds at most two chunks.
//!
//! A resumed job goes on after the rows of its committed chunks; its upload must
//! still be on this instance's spool volume, or the job fails saying so. Every job
//! ends exactly once, completed, failed or cancelled, with its event, and its
//! upload is then deleted.

use std::{path::PathBuf, sync::Arc, time::Duration};

use chrono::Utc;
use six_events::{
    Envelope,
    importer::{ImportCompleted, ImportFailed, ImportFormat, ImportOrigin, ImportStarted},
};
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use super::{
    fetch::Fetcher,
    pipeline::{self, ReadError, ReadLimits},
    store::{self, ClaimedJob},
    writer::{self, ChunkOutcome, DuplicateCheck, PreparedChunk},
};
use crate::{
    formats::{Field, Requested},
    normalise::{date::DateOrder, phone::Region},
    rows::RowRules,
    schedules::scheduler::Wakers,
    settings::Settings,
    spool,
};

/// How often an idle runner looks for jobs whose runner died, besides being woken
/// by new uploads.
const IDLE_POLL: Duration = Duration::from_secs(5);

/// Starts the runners, woken by `wakers.runners`; they wake the scheduler when a
/// completed run owes a heartbeat.
pub fn start(
    pool: PgPool,
    settings: Arc<Settings>,
    fetcher: Arc<Fetcher>,
    wakers: Wakers,
    stop: CancellationToken,
) {
    let runner_id = format!("{}-{}", hostname(), Uuid::now_v7());
    for worker in 0..settings.workers {
        let runner = Runner {
            pool: pool.clone(),
            settings: Arc::clone(&settings),
            fetcher: Arc::clone(&fetcher),
            id: format!("{runner_id}/{worker}"),
            wakers: wakers.clone(),
        };
        tokio::spawn(runner.run(stop.clone()));
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "importer".to_owned())
}

struct Runner {
    pool: PgPool,
    settings: Arc<Settings>,
    fetcher: Arc<Fetcher>,
    id: String,
    wakers: Wakers,
}

/// How a job ended.
enum Ending {
    Completed(pipeline::ReadSummary),
    Failed {
        code: &'static str,
        reason: String,
    },
    Cancelled,
    /// The lease was lost or the service is stopping: another runner (or the next
    /// start) resumes the job.
    Abandoned,
}

impl Runner {
    async fn run(self, stop: CancellationToken) {
        loop {
            match self.claim().await {
                Ok(Some(job)) => {
                    let span = tracing::info_span!("import", import_id = %job.import_id, owner_id = %job.owner_id);
                    self.work(job, &stop).instrument(span).await;
                    continue;
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "claiming an import job failed"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wakers.runners.notified() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
    }

    /// Claims a job and, the first time, announces its start in the same
    /// transaction.
    async fn claim(&self) -> Result<Option<ClaimedJob>, ClaimError> {
        let mut transaction = self.pool.begin().await?;
        let Some(job) = store::claim(&mut transaction, &self.id, self.settings.lease).await? else {
            return Ok(None);
        };
        if !job.resumed {
            six_bus::publish(
                &mut transaction,
                Envelope::new(ImportStarted {
                    import_id: job.import_id,
                    owner_id: job.owner_id,
                    format: requested_format(&job).unwrap_or(ImportFormat::Generic),
                    origin: if job.origin == "schedule" {
                        ImportOrigin::Schedule
                    } else {
                        ImportOrigin::Upload
                    },
                    file_name: job.file_name.clone(),
                    started_at: job.started_at,
                }),
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(Some(job))
    }

    async fn work(&self, job: ClaimedJob, stop: &CancellationToken) {
        let import_id = job.import_id;
        tracing::info!(%import_id, resumed = job.resumed, rows_done = job.rows_read, "import job taken");
        let started = std::time::Instant::now();
        let lease_lost = CancellationToken::new();
        let renewing = tokio::spawn(renew_lease(
            self.pool.clone(),
            import_id,
            self.id.clone(),
            self.settings.lease,
            lease_lost.clone(),
        ));
        let ending = self.read_and_write(&job, stop, &lease_lost).await;
        renewing.abort();
        if matches!(ending, Ending::Abandoned) {
            tracing::warn!(%import_id, "import job left for another runner");
            return;
        }
        if let Err(error) = self.finish(&job, ending, started.elapsed()).await {
            tracing::error!(%import_id, %error, "ending the import job failed; its lease will run out and it will be taken again");
        }
    }

    async fn read_and_write(
        &self,
        job: &ClaimedJob,
        stop: &CancellationToken,
        lease_lost: &CancellationToken,
    ) -> Ending {
        let path = match job.request.spool_file.as_deref() {
            Some(path) => PathBuf::from(path),
            None => match self.fetch(job, stop, lease_lost).await {
                Ok(path) => path,
                Err(ending) => return ending,
            },
        };
        if !path.exists() {
            return failed(
                "upload_missing",
                "the upload is no longer on this instance's spool volume; upload the file again \
                 (contacts already imported are kept and not repeated)"
                    .to_owned(),
            );
        }
        let requested = match requested(job) {
            Ok(requested) => requested,
            Err(reason) => return failed("invalid_request", reason),
        };
        let rules = RowRules {
            default_region: job
                .request
                .default_region
                .as_deref()
                .and_then(|region| Region::parse(region).ok()),
            date_order: DateOrder::default(),
            max_field_chars: self.settings.max_cell_bytes,
        };
        let limits = ReadLimits {
            source: self.settings.source_limits,
            max_rows: self.settings.max_rows,
            max_cell_bytes: self.settings.max_cell_bytes,
            max_columns: self.settings.max_columns,
            chunk_rows: self.settings.chunk_rows,
        };
        let skip_rows = u64::try_from(job.rows_read).unwrap_or_default();
        let (chunks, mut received) = mpsc::channel::<PreparedChunk>(1);
        let (import_id, owner_id) = (job.import_id, job.owner_id);
        let reading = tokio::task::spawn_blocking(move || {
            pipeline::read_upload(&path, &requested, &rules, &limits, skip_rows, |chunk| {
                chunks
                    .blocking_send(PreparedChunk::new(import_id, owner_id, chunk))
                    .map_err(|_| pipeline::Halted)
            })
        });
        let mut cancelled = false;
        let mut duplicate_check = DuplicateCheck::Optimistic;
        loop {
            let chunk = tokio::select! {
                () = stop.cancelled() => return Ending::Abandoned,
                () = lease_lost.cancelled() => return Ending::Abandoned,
                chunk = received.recv() => chunk,
            };
            let Some(chunk) = chunk else { break };
            match self.commit_chunk(chunk, &mut duplicate_check).await {
                Ok(ChunkOutcome::Committed) => {}
                Ok(ChunkOutcome::CancelRequested) => {
                    cancelled = true;
                    break;
                }
                Err(error) => {
                    tracing::warn!(import_id = %job.import_id, %error, "committing a chunk failed");
                    return Ending::Abandoned;
                }
            }
        }
        drop(received);
        let read = match reading.await {
            Ok(read) => read,
            Err(error) => {
                return failed(
                    "internal_error",
                    format!("the reading task failed: {error}"),
                );
            }
        };
        if cancelled {
            return Ending::Cancelled;
        }
        match read {
            Ok(summary) => Ending::Completed(summary),
            Err(ReadError::Stopped) => Ending::Abandoned,
            Err(error) => failed(error.code(), error.to_string()),
        }
    }

    /// Fetches a scheduled run's file onto the spool volume and records it on
    /// the job; a run resumed before that point fetches again.
    async fn fetch(
        &self,
        job: &ClaimedJob,
        stop: &CancellationToken,
        lease_lost: &CancellationToken,
    ) -> Result<PathBuf, Ending> {
        let Some(source) = job.request.source() else {
            return Err(failed("upload_missing", "the job has no upload".to_owned()));
        };
        let path = spool::path(&self.settings.spool_dir, job.import_id);
        let bytes = tokio::select! {
            () = stop.cancelled() => return Err(Ending::Abandoned),
            () = lease_lost.cancelled() => return Err(Ending::Abandoned),
            fetched = self.fetcher.fetch(&source, &path) => match fetched {
                Ok(bytes) => bytes,
                Err(error) => return Err(failed(error.code(), error.to_string())),
            },
        };
        let display = path.display().to_string();
        match store::record_fetched(&self.pool, job.import_id, &self.id, &display, bytes).await {
            Ok(true) => {
                tracing::info!(import_id = %job.import_id, bytes, "scheduled import fetched");
                Ok(path)
            }
            Ok(false) => Err(Ending::Abandoned),
            Err(error) => {
                tracing::warn!(import_id = %job.import_id, %error, "recording the fetched file failed");
                Err(Ending::Abandoned)
            }
        }
    }

    async fn commit_chunk(
        &self,
        chunk: PreparedChunk,
        duplicate_check: &mut DuplicateCheck,
    ) -> Result<ChunkOutcome, writer::WriteError> {
        let mut transaction = self.pool.begin().await?;
        let outcome = writer::write_chunk(&mut transaction, chunk, duplicate_check).await?;
        if outcome == ChunkOutcome::Committed {
            transaction.commit().await?;
        }
        Ok(outcome)
    }

    async fn finish(
        &self,
        job: &ClaimedJob,
        ending: Ending,
        took: Duration,
    ) -> Result<(), ClaimError> {
        let mut transaction = self.pool.begin().await?;
        let (state, code, reason, format, bytes): (
            &str,
            Option<&str>,
            Option<String>,
            Option<ImportFormat>,
            Option<u64>,
        ) = match &ending {
            Ending::Completed(summary) => (
                "completed",
                None,
                None,
                summary.format,
                Some(summary.bytes_read),
            ),
            Ending::Failed { code, reason } => {
                ("failed", Some(*code), Some(reason.clone()), None, None)
            }
            Ending::Cancelled => (
                "cancelled",
                Some("cancelled"),
                Some("cancelled by its owner".to_owned()),
                None,
                None,
            ),
            Ending::Abandoned => return Ok(()),
        };
        let totals: Totals = sqlx::query_as(
            "UPDATE import_jobs SET state = $2, failure_code = $3, failure_reason = $4, \
                 format = coalesce($5, format), bytes_read = coalesce($6, bytes_read), \
                 skipped_files = coalesce($8, skipped_files), \
                 finished_at = now(), lease_until = NULL, spool_file = NULL, \
                 heartbeat = CASE WHEN $2 = 'completed' AND heartbeat_url IS NOT NULL \
                     THEN 'due' END, \
                 heartbeat_at = CASE WHEN $2 = 'completed' AND heartbeat_url IS NOT NULL \
                     THEN now() END \
             WHERE import_id = $1 AND runner = $7 AND state = 'running' \
             RETURNING rows_read, contacts_accepted, rows_rejected, duplicates, bytes_read",
        )
        .bind(job.import_id)
        .bind(state)
        .bind(code)
        .bind(&reason)
        .bind(format.map(format_name))
        .bind(bytes.map(|bytes| bytes as i64))
        .bind(&self.id)
        .bind(match &ending {
            Ending::Completed(summary) => Some(summary.skipped.clone()),
            _ => None,
        })
        .fetch_one(&mut *transaction)
        .await?;
        match ending {
            Ending::Completed(_) => {
                six_bus::publish(
                    &mut transaction,
                    Envelope::new(ImportCompleted {
                        import_id: job.import_id,
                        owner_id: job.owner_id,
                        rows_read: totals.rows_read as u64,
                        contacts_accepted: totals.contacts_accepted as u64,
                        rows_rejected: totals.rows_rejected as u64,
                        duplicates: totals.duplicates as u64,
                        bytes_read: totals.bytes_read as u64,
                        duration_ms: took.as_millis() as u64,
                        completed_at: Utc::now(),
                    }),
                )
                .await?;
            }
            _ => {
                six_bus::publish(
                    &mut transaction,
                    Envelope::new(ImportFailed {
                        import_id: job.import_id,
                        owner_id: job.owner_id,
                        reason: reason.unwrap_or_default(),
                        rows_read: totals.rows_read as u64,
                        failed_at: Utc::now(),
                    }),
                )
                .await?;
            }
        }
        transaction.commit().await?;
        if state == "completed" && job.request.heartbeat_url.is_some() {
            self.wakers.scheduler.notify_one();
        }
        let path = job.request.spool_file.as_deref().map_or_else(
            || spool::path(&self.settings.spool_dir, job.import_id),
            PathBuf::from,
        );
        if let Err(error) = spool::discard(&path) {
            tracing::warn!(%error, path = %path.display(), "the finished job's file could not be deleted");
        }
        tracing::info!(import_id = %job.import_id, state, rows = totals.rows_read, "import job ended");
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct Totals {
    rows_read: i64,
    contacts_accepted: i64,
    rows_rejected: i64,
    duplicates: i64,
    bytes_read: i64,
}

fn failed(code: &'static str, reason: String) -> Ending {
    Ending::Failed { code, reason }
}

/// Renews the job's lease every third of it; cancels `lost` when it cannot.
async fn renew_lease(
    pool: PgPool,
    import_id: Uuid,
    runner: String,
    lease: Duration,
    lost: CancellationToken,
) {
    loop {
        tokio::time::sleep(lease / 3).await;
        match store::renew_lease(&pool, import_id, &runner, lease).await {
            Ok(true) => {}
            Ok(false) => {
                lost.cancel();
                return;
            }
            Err(error) => {
                tracing::warn!(%import_id, %error, "renewing the import job's lease failed")
            }
        }
    }
}

/// The name of a format as stored and in the API.
pub fn format_name(format: ImportFormat) -> &'static str {
    match format {
        ImportFormat::Linkedin => "linkedin",
        ImportFormat::Google => "google",
        ImportFormat::Outlook => "outlook",
        ImportFormat::Generic => "generic",
    }
}

/// Reads a stored format name.
pub fn parse_format(name: &str) -> Option<ImportFormat> {
    Some(match name {
        "linkedin" => ImportFormat::Linkedin,
        "google" => ImportFormat::Google,
        "outlook" => ImportFormat::Outlook,
        "generic" => ImportFormat::Generic,
        _ => return None,
    })
}

fn requested_format(job: &ClaimedJob) -> Option<ImportFormat> {
    if job.request.column_mapping.is_some() {
        return Some(ImportFormat::Generic);
    }
    job.request
        .requested_format
        .as_deref()
        .and_then(parse_format)
}

fn requested(job: &ClaimedJob) -> Result<Requested, String> {
    if let Some(mapping) = &job.request.column_mapping {
        let fields = mapping
            .0
            .iter()
            .map(|(column, field)| {
                serde_json::from_value::<Field>(serde_json::Value::String(field.clone()))
                    .map(|field| (column.clone(), field))
                    .map_err(|_| format!("unknown field `{field}` in the column mapping"))
            })
            .collect::<Result<_, _>>()?;
        return Ok(Requested::Mapping(fields));
    }
    Ok(
        match job
            .request
            .requested_format
            .as_deref()
            .and_then(parse_format)
        {
            Some(format) => Requested::Format(format),
            None => Requested::Detect,
        },
    )
}

/// Claiming or ending a job failed.
#[derive(Debug, thiserror::Error)]
enum ClaimError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("outbox: {0}")]
    Outbox(#[from] six_bus::BusError),
}
