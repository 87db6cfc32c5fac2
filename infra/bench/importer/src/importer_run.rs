//! The importer phase: one generated file uploaded to a fresh importer process as
//! its users' app does (`POST /v1/imports`, the file as the raw body, streamed from
//! disk), then `GET /v1/imports/{id}` every [`POLL_EVERY`] until the job ends. The
//! run fails when the job fails, when it stalls, or when the importer exits.
//!
//! Afterwards: the contacts in the importer's database must be the job's accepted
//! rows, and the outbox must drain (the relay publishes every
//! `contacts.imported` batch to RabbitMQ, where no queue is bound: nobody consumes
//! them, which is fine here).

use std::{
    path::Path,
    process::ExitStatus,
    time::{Duration, Instant},
};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use six_bench_support::{
    cpu::{CpuUsage, ServiceProcess, Tracker},
    memory::{Memory, bytes},
};
use six_kit::testing::TestIssuer;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    memory::Sampler,
    service::{self, ProcessSettings},
    settings::ImporterRun,
};

/// How often the job is polled, and the outbox.
pub const POLL_EVERY: Duration = Duration::from_millis(100);

/// How often the CPU counters are read (processes that end in between still
/// count; see `six_bench_support::cpu::Tracker`).
const CPU_READ_EVERY: Duration = Duration::from_millis(100);

/// A job whose `rows_read` does not move for this long has stalled.
const STALL: Duration = Duration::from_secs(60);

/// Longest wait for the outbox to drain once the job has ended.
const DRAIN_DEADLINE: Duration = Duration::from_secs(120);

/// Quiet time between the importer being ready and the upload.
const SETTLE: Duration = Duration::from_secs(1);

/// Rejects printed from the rejects report when rows were refused.
const REJECTS_SHOWN: usize = 5;

/// The job as `GET /v1/imports/{id}` describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Job {
    /// The job.
    pub import_id: Uuid,
    /// `queued`, `running`, `completed`, `failed` or `cancelled`.
    pub state: String,
    /// The format it was read as.
    pub format: Option<String>,
    /// Why it failed.
    pub failure_code: Option<String>,
    /// Why it failed, for people.
    pub failure_reason: Option<String>,
    /// Data rows read.
    pub rows_read: u64,
    /// Contacts added.
    pub contacts_accepted: u64,
    /// Rows refused.
    pub rows_rejected: u64,
    /// Rows that repeated a contact.
    pub duplicates: u64,
    /// Bytes of the upload.
    pub bytes_read: u64,
    /// When the upload was whole (the job row was written).
    pub created_at: DateTime<Utc>,
    /// When a runner took it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

/// What one importer run measured.
#[derive(Debug, Clone)]
pub struct ImporterFigures {
    /// The run's file size and chunk size.
    pub run: ImporterRun,
    /// Bytes uploaded.
    pub file_bytes: u64,
    /// The ended job.
    pub job: Job,
    /// First byte sent → the importer's 202 (spooled to disk, fsynced, job written).
    pub upload: Duration,
    /// 202 → a runner took the job (`started_at` − `created_at`).
    pub queued: Duration,
    /// The runner's reading and chunk commits (`finished_at` − `started_at`).
    pub processing: Duration,
    /// First byte sent → the job `completed` (`finished_at`): the figure.
    pub total: Duration,
    /// First byte sent → the outbox empty (every batch published and confirmed).
    pub until_drained: Duration,
    /// `contacts.imported` batches committed (events in the outbox).
    pub batches: i64,
    /// Contacts of the owner in the importer's database.
    pub contacts_in_database: i64,
    /// Where the CPU went while uploading.
    pub cpu_upload: CpuUsage,
    /// Where the CPU went from the 202 to the job's end (as seen by polling).
    pub cpu_processing: CpuUsage,
    /// The importer once ready, before the upload.
    pub memory_at_start: Memory,
    /// The importer at the end (its `peak_kib` is the peak of the whole run).
    pub memory_at_end: Memory,
    /// Largest `VmRSS` sample while uploading.
    pub largest_rss_upload_kib: u64,
    /// Largest `VmRSS` sample while the job ran, until the outbox drained.
    pub largest_rss_processing_kib: u64,
    /// `VmRSS` samples taken.
    pub rss_samples: usize,
    /// The first lines of the rejects report when rows were refused.
    pub rejects_sample: Vec<String>,
    /// How the importer ended after SIGTERM.
    pub exit: ExitStatus,
    /// Warnings and errors it logged.
    pub log_problems: Vec<String>,
}

impl ImporterFigures {
    /// Rows per second, first byte sent → job completed.
    pub fn rows_per_second(&self) -> f64 {
        self.run.rows as f64 / self.total.as_secs_f64()
    }

    /// Rows per second of the runner alone (`finished_at` − `started_at`).
    pub fn processing_rows_per_second(&self) -> f64 {
        self.run.rows as f64 / self.processing.as_secs_f64()
    }

    /// The peak resident set of the run, in bytes (`VmHWM` at the end).
    pub fn peak_rss_bytes(&self) -> u64 {
        bytes(self.memory_at_end.peak_kib)
    }
}

/// Runs the importer on `file` (holding `run.rows` data rows).
pub async fn run(
    binary: &Path,
    run: ImporterRun,
    file: &Path,
    issuer: &TestIssuer,
    work_dir: &Path,
) -> anyhow::Result<ImporterFigures> {
    let file_bytes = std::fs::metadata(file)
        .with_context(|| format!("read the size of {}", file.display()))?
        .len();
    let mut importer = service::start(
        binary,
        ProcessSettings {
            chunk_rows: run.chunk_rows,
            rows: run.rows,
        },
        issuer,
        work_dir,
    )
    .await?;
    tokio::time::sleep(SETTLE).await;
    let pid = importer.service.pid();
    let memory_at_start = Memory::read(pid)?;
    let owner_id = Uuid::now_v7();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;

    let cpu_process = ServiceProcess {
        pid,
        service: "importer",
    };
    let sampler = Sampler::start(pid);
    let cpu = Tracker::start_with_process(CPU_READ_EVERY, cpu_process);
    let sent_at = Utc::now();
    let sending = Instant::now();
    let job = upload(
        &importer
            .service
            .url("/v1/imports?file_name=Connections.csv"),
        issuer,
        owner_id,
        file,
    )
    .await
    .with_context(|| {
        format!(
            "last importer log lines:\n{}",
            importer.service.log().tail()
        )
    })?;
    let upload = sending.elapsed();
    let uploaded_at = sampler.started().elapsed();
    let cpu_upload = cpu.finish();

    let cpu = Tracker::start_with_process(CPU_READ_EVERY, cpu_process);
    let job_path = format!("/v1/imports/{}", job.import_id);
    let mut last_progress = (job.rows_read, Instant::now());
    let job = loop {
        tokio::time::sleep(POLL_EVERY).await;
        importer.service.check_alive()?;
        let job = get_job(&client, &importer.service.url(&job_path), issuer, owner_id).await?;
        match job.state.as_str() {
            "completed" => break job,
            "failed" | "cancelled" => anyhow::bail!(
                "the import job ended {} after {} rows: {} ({}); last importer log lines:\n{}",
                job.state,
                job.rows_read,
                job.failure_code.as_deref().unwrap_or("no code"),
                job.failure_reason.as_deref().unwrap_or("no reason"),
                importer.service.log().tail()
            ),
            _ => {}
        }
        if job.rows_read != last_progress.0 {
            last_progress = (job.rows_read, Instant::now());
        } else if last_progress.1.elapsed() > STALL {
            anyhow::bail!(
                "the import job stalled: {} rows read, none more for {} s; last importer log lines:\n{}",
                job.rows_read,
                STALL.as_secs(),
                importer.service.log().tail()
            );
        }
    };
    let cpu_processing = cpu.finish();

    let pool = importer.database.pool();
    let drained = wait_for_empty_outbox(&pool).await.with_context(|| {
        format!(
            "last importer log lines:\n{}",
            importer.service.log().tail()
        )
    })?;
    let until_drained = sending.elapsed();
    let drained_at = sampler.started().elapsed();
    let memory_at_end = Memory::read(pid)?;
    let samples = sampler.finish().await;
    anyhow::ensure!(
        drained,
        "the outbox still held events {} s after the job ended",
        DRAIN_DEADLINE.as_secs()
    );

    let (Some(started_at), Some(finished_at)) = (job.started_at, job.finished_at) else {
        anyhow::bail!("the completed job has no start or end time: {job:?}");
    };
    let contacts_in_database = count(
        &pool,
        "SELECT count(*) FROM contacts WHERE owner_id = $1",
        owner_id,
    )
    .await?;
    let batches = count(
        &pool,
        "SELECT batches_committed::bigint FROM import_jobs WHERE owner_id = $1",
        owner_id,
    )
    .await?;
    let rejects_sample = if job.rows_rejected > 0 {
        rejects(
            &client,
            &importer.service.url(&format!("{job_path}/rejects.csv")),
            issuer,
            owner_id,
        )
        .await
        .unwrap_or_else(|error| vec![format!("(the rejects report could not be read: {error})")])
    } else {
        Vec::new()
    };
    let log_problems = importer.service.log().problems();
    let exit = importer.stop().await?;
    Ok(ImporterFigures {
        run,
        file_bytes,
        upload,
        queued: positive(started_at - job.created_at),
        processing: positive(finished_at - started_at),
        total: positive(finished_at - sent_at),
        until_drained,
        batches,
        contacts_in_database,
        cpu_upload,
        cpu_processing,
        memory_at_start,
        memory_at_end,
        largest_rss_upload_kib: samples.largest_between(Duration::ZERO, uploaded_at),
        largest_rss_processing_kib: samples.largest_between(uploaded_at, drained_at),
        rss_samples: samples.readings.len(),
        rejects_sample,
        exit,
        log_problems,
        job,
    })
}

/// Sends `file` as the raw body, read from disk as it goes; the job of the 202.
async fn upload(
    url: &str,
    issuer: &TestIssuer,
    owner_id: Uuid,
    file: &Path,
) -> anyhow::Result<Job> {
    let opened = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("open {}", file.display()))?;
    let stream = tokio_util::io::ReaderStream::with_capacity(opened, 256 * 1024);
    // No client timeout: a large file takes what it takes (the importer's own
    // request deadline applies).
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(issuer.user_token(owner_id))
        .header(reqwest::header::CONTENT_TYPE, "text/csv")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .context("upload the file")?;
    let status = response.status();
    let text = response.text().await.context("read the upload's answer")?;
    anyhow::ensure!(
        status == reqwest::StatusCode::ACCEPTED,
        "the upload was answered {status}: {text}"
    );
    serde_json::from_str(&text).with_context(|| format!("the upload's answer is not a job: {text}"))
}

async fn get_job(
    client: &reqwest::Client,
    url: &str,
    issuer: &TestIssuer,
    owner_id: Uuid,
) -> anyhow::Result<Job> {
    // A fresh token each time: a run may outlast one token's 15 minutes.
    let response = client
        .get(url)
        .bearer_auth(issuer.user_token(owner_id))
        .send()
        .await
        .context("ask for the job")?;
    let status = response.status();
    let text = response.text().await.context("read the job")?;
    anyhow::ensure!(status.is_success(), "the job was answered {status}: {text}");
    serde_json::from_str(&text).with_context(|| format!("not a job: {text}"))
}

/// The first lines of the job's rejects report.
async fn rejects(
    client: &reqwest::Client,
    url: &str,
    issuer: &TestIssuer,
    owner_id: Uuid,
) -> anyhow::Result<Vec<String>> {
    let text = client
        .get(url)
        .bearer_auth(issuer.user_token(owner_id))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(text
        .lines()
        .take(REJECTS_SHOWN + 1)
        .map(str::to_owned)
        .collect())
}

/// Waits until `bus_outbox` is empty; false when it still is not after
/// [`DRAIN_DEADLINE`].
async fn wait_for_empty_outbox(pool: &PgPool) -> anyhow::Result<bool> {
    let deadline = Instant::now() + DRAIN_DEADLINE;
    loop {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM bus_outbox")
            .fetch_one(pool)
            .await
            .context("count the outbox")?;
        if left == 0 {
            return Ok(true);
        }
        if Instant::now() > deadline {
            return Ok(false);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

async fn count(pool: &PgPool, query: &'static str, owner_id: Uuid) -> anyhow::Result<i64> {
    sqlx::query_scalar(query)
        .bind(owner_id)
        .fetch_one(pool)
        .await
        .with_context(|| format!("query `{query}`"))
}

/// A time difference as a duration, zero when negative.
fn positive(delta: chrono::TimeDelta) -> Duration {
    delta.to_std().unwrap_or_default()
}
