//! Logins per second at the auth service's argon2id parameters, and p50/p90/p99/max
//! of `POST /v1/login` and `POST /v1/refresh` under concurrent load. Starts auth
//! in-process on the local stack (`infra/local/stack up`). `--help` lists the
//! settings.

use std::process::ExitCode;

use six_bench_auth::{
    session::{self, CPU_SPLIT, settings::Settings},
    settings::Request,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = match Settings::parse(&args, std::env::vars()) {
        Ok(Request::Run(settings)) => settings,
        Ok(Request::Help) => {
            print!("{}", session::settings::usage());
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("session-load: {error}\n{}", session::settings::usage());
            return ExitCode::from(2);
        }
    };
    // One named thread for the load client: the service under test runs on its own
    // runtime in this process, and the CPU report tells the two apart by name.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(CPU_SPLIT.client_threads)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("session-load: no async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Spawned, so the run is on the named worker, not on this thread.
    match runtime.block_on(async { tokio::spawn(session::run(settings)).await }) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(error)) => {
            eprintln!("session-load: {error:#}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("session-load: the run panicked (see above): {error}");
            ExitCode::FAILURE
        }
    }
}
