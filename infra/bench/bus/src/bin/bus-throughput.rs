//! The bus benchmark: raw lapin ceiling, outbox → broker → consumer with inbox, and
//! the memory of a service at rest, printed as a report. Needs the local stack
//! (`infra/local/stack up`). `--help` lists the settings.

use std::{process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context;
use six_bench_bus::{
    at_rest, ceiling, database, end_to_end, meter, report,
    sample::RawMessage,
    settings::{self, Settings},
};
use six_bench_support::{cli, cpu};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let settings = match cli::settings("bus-throughput", Settings::parse, settings::usage) {
        Ok(settings) => settings,
        Err(exit) => return exit,
    };
    // The bus logs what goes wrong (lost connections, failed batches) on stderr.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("BENCH_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    cli::run(
        "bus-throughput",
        tokio::runtime::Builder::new_multi_thread(),
        run(settings),
    )
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    // Built first, so compiling it never overlaps a measurement.
    let service_binary = if settings.phases.at_rest {
        Some(at_rest::service_binary().await?)
    } else {
        None
    };
    let messages = (0..settings.events)
        .map(RawMessage::new)
        .collect::<Result<Vec<_>, _>>()
        .context("encode the benchmark events")?;
    let body_bytes = messages.first().map_or(0, |message| message.body.len());
    // Installed before the bus records anything.
    if meter::bus_meter().is_none() {
        eprintln!("bus-throughput: another metrics recorder is installed; no stage timings");
    }
    let quiet = cpu::Snapshot::take();
    tokio::time::sleep(Duration::from_secs(1)).await;
    report::header(&settings, body_bytes, &quiet.usage_since());

    let ceiling = if settings.phases.ceiling {
        let run = ceiling::run(&settings, Arc::new(messages))
            .await
            .context("raw lapin ceiling")?;
        report::ceiling(&run);
        Some(run)
    } else {
        None
    };
    let database = if settings.phases.database {
        let run = database::run(&settings).await.context("database ceiling")?;
        report::database(&run);
        Some(run)
    } else {
        None
    };
    let end_to_end = if settings.phases.end_to_end {
        let run = end_to_end::run(&settings).await.context("end to end")?;
        report::end_to_end(&run, ceiling.as_ref());
        Some(run)
    } else {
        None
    };
    let at_rest = match &service_binary {
        Some(binary) => {
            let run = at_rest::run(&settings, binary)
                .await
                .context("service at rest")?;
            report::at_rest(&run);
            Some(run)
        }
        None => None,
    };
    report::summary(
        ceiling.as_ref(),
        database.as_ref(),
        end_to_end.as_ref(),
        at_rest.as_ref(),
    );
    Ok(())
}
