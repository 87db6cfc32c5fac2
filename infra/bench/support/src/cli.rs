//! The `main` of a benchmark binary: settings from the command line (usage on
//! `--help` or an error), then the run on a Tokio runtime, each failure printed
//! with the program's name and turned into an exit code.

use std::{future::Future, process::ExitCode};

use crate::options::Request;

/// Reads the settings with `parse` (arguments without the program name, then the
/// environment). `Err` is the code to exit with: 0 after printing `usage` for
/// `--help`, 2 after printing the error and `usage`.
pub fn settings<S>(
    program: &str,
    parse: impl FnOnce(&[String], std::env::Vars) -> Result<Request<S>, String>,
    usage: impl Fn() -> String,
) -> Result<S, ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse(&args, std::env::vars()) {
        Ok(Request::Run(settings)) => Ok(settings),
        Ok(Request::Help) => {
            print!("{}", usage());
            Err(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("{program}: {error}\n{}", usage());
            Err(ExitCode::from(2))
        }
    }
}

/// Runs `run` on the runtime `runtime` builds (with every driver enabled): 0 when
/// it succeeds, 1 (with the error and its causes printed) when it fails.
pub fn run(
    program: &str,
    mut runtime: tokio::runtime::Builder,
    run: impl Future<Output = anyhow::Result<()>>,
) -> ExitCode {
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{program}: no async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{program}: {error:#}");
            ExitCode::FAILURE
        }
    }
}
