//! The notifier service binary: `serve` (default), `migrate`, `parked ...`.

fn main() -> std::process::ExitCode {
    six_kit::cli::main::<notifier::App>()
}
