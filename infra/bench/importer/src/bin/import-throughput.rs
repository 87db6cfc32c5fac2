//! The importer benchmark: a generated LinkedIn export through the importer service
//! (upload, parse, normalise, persist, outbox) in rows/s with its peak memory,
//! against `psql \copy` and pgloader loading the same rows into a plain table.
//! Needs the local stack (`infra/local/stack up`) and pgloader. `--help` lists the
//! settings.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::Context;
use six_bench_importer::{
    generate, importer_run,
    importer_run::ImporterFigures,
    plain, report,
    settings::{self, Settings},
};
use six_bench_support::{
    cli, cpu,
    postgres::{self, settle},
    report::binary_with_size,
};
use six_kit::testing::TestIssuer;
use sqlx::Connection;

fn main() -> ExitCode {
    let settings = match cli::settings("import-throughput", Settings::parse, settings::usage) {
        Ok(settings) => settings,
        Err(exit) => return exit,
    };
    cli::run(
        "import-throughput",
        tokio::runtime::Builder::new_multi_thread(),
        run(settings),
    )
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    // Built first, so compiling it never overlaps a measurement.
    let importer_binary = if settings.phases.importer {
        Some(six_bench_importer::service::binary(settings.importer_binary.as_deref()).await?)
    } else {
        None
    };
    let psql = plain::psql(settings.psql.as_deref());
    let work = tempfile::Builder::new()
        .prefix("six-bench-importer-")
        .tempdir_in(&settings.work_dir)
        .with_context(|| format!("create a directory in {}", settings.work_dir.display()))?;

    let mut admin = postgres::connect_admin().await?;
    let quiet = cpu::Snapshot::take();
    tokio::time::sleep(Duration::from_secs(1)).await;
    report::header(&report::Context {
        settings: &settings,
        importer_binary: importer_binary
            .as_deref()
            .map_or_else(|| "not run".to_owned(), binary_with_size),
        postgres: postgres::describe(&mut admin).await?,
        psql: if settings.phases.copy {
            format!("{} ({})", plain::version(&psql).await, psql.display())
        } else {
            "not run".to_owned()
        },
        pgloader: if settings.phases.pgloader {
            plain::pgloader_version(&settings.pgloader, work.path()).await
        } else {
            "not run".to_owned()
        },
        before: quiet.usage_since(),
    });

    // The files, untimed: every size the importer loads, and the main one without
    // its notes lines for copy and pgloader.
    let mut files: Vec<(u64, PathBuf)> = Vec::new();
    let mut plain_file = None;
    for rows in settings.file_sizes() {
        let path = work.path().join(format!("Connections-{rows}.csv"));
        let writing = Instant::now();
        let written = {
            let target = path.clone();
            let seed = settings.seed;
            tokio::task::spawn_blocking(move || generate::write_connections(&target, rows, seed))
                .await?
                .with_context(|| format!("write {}", path.display()))?
        };
        let took = writing.elapsed();
        let plain_bytes =
            if rows == settings.rows && (settings.phases.copy || settings.phases.pgloader) {
                let target = work.path().join(format!("plain-{rows}.csv"));
                let bytes = generate::without_preamble(&path, &target)
                    .with_context(|| format!("write {}", target.display()))?;
                plain_file = Some(target);
                Some(bytes)
            } else {
                None
            };
        report::generated(&written, took, plain_bytes);
        files.push((rows, path));
    }
    println!();

    let mut importer_runs: Vec<ImporterFigures> = Vec::new();
    if let Some(binary) = &importer_binary {
        let issuer = TestIssuer::start().await;
        for run in settings.importer_runs() {
            let file = file_of(&files, run.rows)?;
            settle(&mut admin).await?;
            let figures = importer_run::run(binary, run, file, &issuer, work.path())
                .await
                .with_context(|| {
                    format!(
                        "importer run with {} rows, chunk {}",
                        run.rows,
                        report::chunk_label(run.chunk_rows)
                    )
                })?;
            report::importer(&figures);
            importer_runs.push(figures);
        }
    }

    let copy = match (&plain_file, settings.phases.copy) {
        (Some(file), true) => {
            settle(&mut admin).await?;
            let figures = plain::copy(&psql, file).await.context("psql \\copy")?;
            report::plain(&figures, settings.rows);
            Some(figures)
        }
        _ => None,
    };
    let pgloader = match (&plain_file, settings.phases.pgloader) {
        (Some(file), true) => {
            settle(&mut admin).await?;
            let figures = plain::pgloader(&settings.pgloader, file, work.path())
                .await
                .context("pgloader")?;
            report::plain(&figures, settings.rows);
            Some(figures)
        }
        _ => None,
    };

    let main_size: Vec<&ImporterFigures> = importer_runs
        .iter()
        .filter(|figures| figures.run.rows == settings.rows)
        .collect();
    report::sweep(&main_size);
    let main = importer_runs.first();
    let same_chunk: Vec<&ImporterFigures> = importer_runs
        .iter()
        .filter(|figures| main.is_some_and(|main| main.run.chunk_rows == figures.run.chunk_rows))
        .collect();
    report::by_size(&same_chunk);
    report::summary(main, &same_chunk, copy.as_ref(), pgloader.as_ref());
    let _ = admin.close().await;
    Ok(())
}

fn file_of(files: &[(u64, PathBuf)], rows: u64) -> anyhow::Result<&Path> {
    files
        .iter()
        .find(|(size, _)| *size == rows)
        .map(|(_, path)| path.as_path())
        .with_context(|| format!("no file of {rows} rows was generated"))
}
