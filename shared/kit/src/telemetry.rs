//! Logging: JSON lines in production, readable lines locally, filtered by `LOG_LEVEL`.

use tracing_subscriber::{EnvFilter, fmt, fmt::writer::BoxMakeWriter, prelude::*};

use crate::config::{LogFormat, TelemetryConfig};

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    /// Standard output: the service itself, whose output is its log stream.
    Stdout,
    /// Standard error: operator commands, whose standard output is their result.
    Stderr,
}

/// Installs the global subscriber. A second call (several apps in one test process)
/// keeps the first subscriber.
pub fn init(config: &TelemetryConfig, output: LogOutput) {
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|error| {
        eprintln!(
            "LOG_LEVEL `{}` is not a valid filter ({error}); using `info`",
            config.filter
        );
        EnvFilter::new("info")
    });
    let writer = match output {
        LogOutput::Stdout => BoxMakeWriter::new(std::io::stdout),
        LogOutput::Stderr => BoxMakeWriter::new(std::io::stderr),
    };
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match config.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .with_writer(writer)
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(fmt::layer().with_writer(writer).compact())
            .try_init(),
    };
    // Err means a subscriber is already installed, which is fine.
    drop(installed);
}
