//! Logins per second at the auth service's argon2id parameters, and p50/p90/p99/max
//! of `POST /v1/login` and `POST /v1/refresh` under concurrent load. Starts auth
//! in-process on the local stack (`infra/local/stack up`). `--help` lists the
//! settings.

use std::process::ExitCode;

use six_bench_auth::session::{self, CPU_SPLIT, settings::Settings};
use six_bench_support::cli;

fn main() -> ExitCode {
    let settings = match cli::settings("session-load", Settings::parse, session::settings::usage) {
        Ok(settings) => settings,
        Err(exit) => return exit,
    };
    // One named thread for the load client: the service under test runs on its own
    // runtime in this process, and the CPU report tells the two apart by name.
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime
        .worker_threads(1)
        .thread_name(CPU_SPLIT.client_threads);
    // Spawned, so the run is on the named worker, not on this thread.
    cli::run("session-load", runtime, async {
        tokio::spawn(session::run(settings))
            .await
            .map_err(|error| anyhow::anyhow!("the run panicked (see above): {error}"))?
    })
}
