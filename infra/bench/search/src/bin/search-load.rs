//! The search benchmark: generated address books published as the real events and
//! indexed by the search service (documents per second), then a mix of full-name,
//! typo, prefix and filtered searches at concurrency 8 (p50/p95/p99/max), with the
//! index's size on disk and the service's memory. Needs the local stack
//! (`infra/local/stack up`). `--help` lists the settings.

use std::{process::ExitCode, sync::Arc, time::Instant};

use anyhow::Context;
use six_bench_search::{
    events::{EventCounts, Ids},
    indexing,
    people::AddressBooks,
    queries::{self, Target},
    report, rest,
    service::{self, IndexDir},
    settings::{self, Settings},
};
use six_bench_support::{
    cli, cpu,
    memory::Memory,
    postgres::{self, settle},
    report::binary_with_size,
};
use six_kit::testing::TestIssuer;
use sqlx::Connection;

fn main() -> ExitCode {
    let settings = match cli::settings("search-load", Settings::parse, settings::usage) {
        Ok(settings) => settings,
        Err(exit) => return exit,
    };
    cli::run(
        "search-load",
        tokio::runtime::Builder::new_multi_thread(),
        run(settings),
    )
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    // Built first, so compiling it never overlaps a measurement.
    let binary = service::binary(settings.search_binary.as_deref()).await?;
    let mut admin = postgres::connect_admin().await?;
    let quiet = cpu::Snapshot::take();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    report::header(&report::Context {
        settings: &settings,
        search_binary: binary_with_size(&binary),
        postgres: postgres::describe(&mut admin).await?,
        before: quiet.usage_since(),
    });

    let generating = Instant::now();
    let shape = settings.shape;
    let books = Arc::new(
        tokio::task::spawn_blocking(move || AddressBooks::generate(shape))
            .await
            .context("the generator panicked")?,
    );
    let events = EventCounts::of(&books, settings.batch_contacts);
    report::people(&books.stats(), &events, &settings, generating.elapsed());
    let ids = Arc::new(Ids::new(&books));

    let issuer = TestIssuer::start().await;
    let index_dir = IndexDir::create(&settings.index_parent)?;
    let mut search = service::start(&binary, &issuer, &index_dir, &settings.overrides).await?;
    let filled = indexing::fill(&books, &ids, settings.batch_contacts).await?;
    settle(&mut admin).await?;
    let indexing = indexing::run(&mut search, filled, &index_dir)
        .await
        .context("indexing phase")?;
    report::indexing(&indexing);

    let target = Arc::new(Target::new(
        search.service.url("/v1/search"),
        &books,
        &ids,
        &issuer,
        settings.concurrency,
    )?);
    let check = queries::check_owners(&target, &books, settings.concurrency)
        .await
        .context("checking every owner's documents")?;
    report::check(&check);

    settle(&mut admin).await?;
    let searches = queries::run(
        &target,
        &search.service.url("/metrics"),
        search.service.pid(),
        &books,
        &ids,
        settings.queries,
        settings.warmup_queries,
        settings.concurrency,
    )
    .await
    .with_context(|| {
        format!(
            "search phase; last log lines:\n{}",
            search.service.log().tail()
        )
    })?;
    report::queries(&searches);

    let rest = rest::at_rest(&mut search, &index_dir).await?;
    report::rest(&rest);

    let memory_end = Memory::read(search.service.pid())?;
    let log_problems = search.service.log().problems();
    let exit = search.stop().await?;
    drop(index_dir);
    report::summary(&report::Summary {
        indexing: &indexing,
        queries: &searches,
        rest: &rest,
        memory_end,
        exit,
        log_problems: &log_problems,
    });
    let _ = admin.close().await;
    Ok(())
}
