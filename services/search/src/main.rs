//! The search service binary: `serve` (default), `migrate`, `parked ...`, `reindex`.

fn main() -> std::process::ExitCode {
    six_kit::cli::main::<search::App>()
}
