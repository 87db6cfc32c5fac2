//! The `session-load` benchmark: logins per second at the auth service's argon2id
//! parameters, and the latency of `POST /v1/login` and `POST /v1/refresh` under
//! concurrent load, with where the CPU went.
//!
//! The service runs in this process on its own runtime ([`service`]); the load
//! client runs on a runtime whose threads are named as [`CPU_SPLIT`] says, so the
//! CPU of the two can be told apart.
//! Phases, in order: argon2id alone on one thread ([`hashing`]), then after the
//! accounts are registered, logins and refresh-token rotations ([`load`]).

pub mod api;
pub mod hashing;
pub mod key_file;
pub mod load;
pub mod report;
pub mod service;
pub mod settings;

use std::time::Duration;

use anyhow::Context;
use six_bench_support::cpu::{Snapshot, ThreadSplit};

use crate::session::api::Api;

/// Time the machine's load is measured before the run.
const QUIET_PERIOD: Duration = Duration::from_secs(1);

/// This process in the CPU report: the threads of the load client's runtime are
/// named `bench-client`; every other thread is the auth service under test (its
/// runtime, argon2id on its blocking pool, the harness).
pub const CPU_SPLIT: ThreadSplit = ThreadSplit {
    client_threads: "bench-client",
    service: "auth service",
};

/// Runs the phases of `settings` and prints the report as each finishes.
pub async fn run(settings: settings::Settings) -> anyhow::Result<()> {
    let quiet = Snapshot::take_split(CPU_SPLIT);
    tokio::time::sleep(QUIET_PERIOD).await;
    let before = quiet.usage_since();
    let mut auth = service::start(&settings)
        .await
        .context("start the auth service")?;
    report::header(&settings, &auth.config, &before);

    let argon2 = if settings.phases.argon2 {
        let cost = auth.config.argon2;
        let rounds = tokio::task::spawn_blocking(move || hashing::password_checks(cost))
            .await
            .context("the argon2id task panicked")?
            .context("argon2id alone")?;
        report::argon2_alone(&cost, &rounds);
        Some(rounds)
    } else {
        None
    };
    if !(settings.phases.login || settings.phases.refresh) {
        auth.app.stop().await;
        return Ok(());
    }

    let api = Api::new(auth.app.client().clone(), |path| auth.app.url(path));
    let registered = load::register(&api, settings.accounts, settings.concurrency)
        .await
        .context("register the accounts")?;
    report::setup(&registered, settings.concurrency);
    let login = if settings.phases.login {
        let run = load::login(
            &api,
            &registered.accounts,
            settings.concurrency,
            settings.duration,
        )
        .await
        .context("login phase")?;
        report::load("login: POST /v1/login", "logins", &run, argon2.as_deref());
        Some(run)
    } else {
        None
    };
    let refresh = if settings.phases.refresh {
        let run = load::refresh(
            &api,
            &registered.accounts,
            settings.concurrency,
            settings.duration,
        )
        .await
        .context("refresh phase")?;
        report::load("refresh: POST /v1/refresh", "refreshes", &run, None);
        Some(run)
    } else {
        None
    };
    report::summary(&auth.config, login.as_ref(), refresh.as_ref());
    auth.app.stop().await;
    Ok(())
}
