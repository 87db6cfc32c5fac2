//! The service whose memory at rest `bus-throughput` measures: `serve` (default),
//! `migrate`, `parked ...`, like every service binary.

fn main() -> std::process::ExitCode {
    six_kit::cli::main::<six_bench_bus::service::BenchService>()
}
