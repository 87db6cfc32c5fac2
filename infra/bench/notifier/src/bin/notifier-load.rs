//! The notifier benchmark: welcome e-mails per second to an SMTP sink, signed
//! webhook calls per second to a local endpoint, and event-to-send latency at a
//! steady rate, each phase on a fresh notifier process, database and vhost.
//! Needs the local stack (`infra/local/stack up`). `--help` lists the settings.

use std::{process::ExitCode, time::Duration};

use anyhow::Context;
use six_bench_notifier::{
    email, report, service,
    settings::{self, Settings},
    steady, webhook,
};
use six_bench_support::{cli, cpu, postgres, report::binary_with_size};
use six_kit::testing::TestIssuer;
use sqlx::Connection;

fn main() -> ExitCode {
    let settings = match cli::settings("notifier-load", Settings::parse, settings::usage) {
        Ok(settings) => settings,
        Err(exit) => return exit,
    };
    cli::run(
        "notifier-load",
        tokio::runtime::Builder::new_multi_thread(),
        run(settings),
    )
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    // Built first, so compiling it never overlaps a measurement.
    let binary = service::binary(settings.notifier_binary.as_deref()).await?;
    let mut admin = postgres::connect_admin().await?;
    let quiet = cpu::Snapshot::take();
    tokio::time::sleep(Duration::from_secs(1)).await;
    report::header(&report::Context {
        settings: &settings,
        notifier_binary: binary_with_size(&binary),
        postgres: postgres::describe(&mut admin).await?,
        before: quiet.usage_since(),
    });

    let issuer = TestIssuer::start().await;
    let email = if settings.phases.email {
        let figures = email::run(&binary, &issuer, &settings, &mut admin)
            .await
            .context("email phase")?;
        report::email(&figures);
        Some(figures)
    } else {
        None
    };
    let webhook = if settings.phases.webhook {
        let figures = webhook::run(&binary, &issuer, &settings, &mut admin)
            .await
            .context("webhook phase")?;
        report::webhook(&figures);
        Some(figures)
    } else {
        None
    };
    let steady = if settings.phases.latency {
        let figures = steady::run(&binary, &issuer, &settings, &mut admin)
            .await
            .context("latency phase")?;
        report::steady(&figures);
        Some(figures)
    } else {
        None
    };
    report::summary(&report::Summary {
        email: email.as_ref(),
        webhook: webhook.as_ref(),
        steady: steady.as_ref(),
    });
    let _ = admin.close().await;

    // Wrong signatures or lost messages mean the notifier is broken, not slow.
    let refused = webhook
        .iter()
        .map(|figures| &figures.signatures)
        .chain(steady.iter().map(|figures| &figures.signatures))
        .map(|check| check.refused.len())
        .sum::<usize>();
    anyhow::ensure!(refused == 0, "{refused} webhook signatures did not verify");
    let exact = email.iter().all(|figures| figures.keys.is_exact())
        && webhook.iter().all(|figures| figures.keys.is_exact());
    anyhow::ensure!(
        exact,
        "messages were lost or sent more than once (see above)"
    );
    Ok(())
}
