//! Ingest: turns an uploaded file into UTF-8 CSV text streams, with flat memory.
//!
//! An upload arrives as a plain CSV file, a gzip file or a zip archive of CSV files,
//! in UTF-8 (with or without a byte order mark), UTF-16 or Windows-1252.
//! [`for_each_csv`] reads it from any [`std::io::Read`] (on a blocking thread, fed
//! from the HTTP body), tells the container by its first bytes, and hands each CSV
//! file to a callback as UTF-8 text, while [`SourceLimits`] stop oversized uploads
//! and decompression bombs as the bytes stream.
//!
//! - `container`: telling the container, plain and gzip files, [`for_each_csv`];
//! - `archive`: zip archives, spooled to disk;
//! - [`encoding`]: detecting the encoding and transcoding to UTF-8;
//! - `limits`: [`SourceLimits`] and the counting readers that enforce them;
//! - `error`: [`SourceError`], with a stable code for each failure.

mod archive;
mod container;
pub mod encoding;
mod error;
mod limits;

pub use container::{CsvSource, SkipReason, SkippedEntry, SourceSummary, for_each_csv};
pub use encoding::DetectedEncoding;
pub use error::SourceError;
pub use limits::{Measure, RATIO_GRACE_BYTES, SourceLimits};

#[cfg(test)]
mod tests;
