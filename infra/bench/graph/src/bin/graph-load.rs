//! The graph benchmark: a generated network of users with overlapping address
//! books, published as the real events and projected by the graph service (KNOWS
//! edges per second), then path queries for random pairs at concurrency 8
//! (p50/p99), with the service's peak memory. Needs the local stack
//! (`infra/local/stack up`). `--help` lists the settings.

use std::{
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::Context;
use six_bench_graph::{
    autovacuum,
    disk::DiskGuard,
    events::{Accounts, EventCounts},
    kept,
    network::Network,
    paths, projection, report, service,
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
    let settings = match cli::settings("graph-load", Settings::parse, settings::usage) {
        Ok(settings) => settings,
        Err(exit) => return exit,
    };
    cli::run(
        "graph-load",
        tokio::runtime::Builder::new_multi_thread(),
        run(settings),
    )
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    // Built first, so compiling it never overlaps a measurement.
    let binary = service::binary(settings.graph_binary.as_deref()).await?;
    let mut admin = postgres::connect_admin().await?;
    let network_label = settings.network_label();
    if let Some(name) = &settings.keep_projection {
        kept::check_free(&mut admin, name).await?;
    }
    if let Some(name) = &settings.from_projection {
        kept::check_matches(&mut admin, name, &network_label).await?;
    }
    let disk = DiskGuard::for_postgres(&mut admin, settings.min_free_disk_mb * 1_000_000).await?;
    let quiet = cpu::Snapshot::take();
    tokio::time::sleep(Duration::from_secs(1)).await;
    report::header(&report::Context {
        settings: &settings,
        graph_binary: binary_with_size(&binary),
        postgres: postgres::describe(&mut admin).await?,
        disk: (disk.path().display().to_string(), disk.free_bytes()?),
        before: quiet.usage_since(),
    });

    let generating = Instant::now();
    let shape = settings.shape;
    let network = tokio::task::spawn_blocking(move || Network::generate(shape))
        .await
        .context("the generator panicked")?;
    let stats = network.stats();
    let events = EventCounts::of(&network, settings.batch_contacts);
    report::network(&stats, &events, &settings, generating.elapsed());
    disk.check()?;

    let issuer = TestIssuer::start().await;
    let mut graph = service::start(
        &binary,
        &issuer,
        &settings.database_settings(),
        settings.from_projection.as_deref(),
    )
    .await?;
    let accounts = Accounts::new(&network);
    settle(&mut admin).await?;
    let projection = match &settings.from_projection {
        Some(name) => {
            report::projection_skipped(name);
            None
        }
        None => {
            let projection = projection::run(
                &mut graph,
                &network,
                &accounts,
                stats.persons,
                settings.batch_contacts,
                &disk,
            )
            .await
            .context("projection phase")?;
            report::projection(&projection);
            let catch_up = autovacuum::catch_up(&graph.database.pool()).await?;
            report::autovacuum(&catch_up);
            Some(projection)
        }
    };

    settle(&mut admin).await?;
    let paths = paths::run(
        graph.service.url("/v1/graph/path"),
        graph.service.pid(),
        &network,
        &accounts,
        &issuer,
        settings.queries,
        settings.warmup_queries,
        settings.concurrency,
    )
    .await
    .with_context(|| {
        format!(
            "path phase; last graph log lines:\n{}",
            graph.service.log().tail()
        )
    })?;
    report::paths(&paths);

    let memory_end = Memory::read(graph.service.pid())?;
    if settings.keep_secs > 0 {
        println!(
            "keeping the graph at {} and its database {} for {} s (--keep-secs)",
            graph.service.url(""),
            graph.database.name(),
            settings.keep_secs
        );
        tokio::time::sleep(Duration::from_secs(settings.keep_secs)).await;
    }
    let log_problems = graph.service.log().problems();
    let keep = settings
        .keep_projection
        .as_deref()
        .map(|name| (name, network_label.as_str()));
    let exit = graph.stop(&mut admin, keep).await?;
    if let Some(name) = &settings.keep_projection {
        println!(
            "kept the projection as database {name}: rerun the queries with --from-projection {name}"
        );
    }
    report::summary(&report::Summary {
        projection: projection.as_ref(),
        paths: &paths,
        memory_end,
        exit,
        log_problems: &log_problems,
    });
    let _ = admin.close().await;
    Ok(())
}
