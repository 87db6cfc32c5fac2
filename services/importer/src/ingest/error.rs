//! Why an upload could not be turned into CSV text, in words for the person who
//! uploaded it and a stable code for machines.

use std::{fmt, io};

use super::limits::{Fault, Measure};

/// Why an uploaded file could not be read as CSV files, or the consumer's own error.
///
/// Every variant but [`SourceError::Consumer`] has a stable [`SourceError::code`];
/// its `Display` is a sentence fit to show the person who uploaded the file.
#[derive(Debug, thiserror::Error)]
pub enum SourceError<E> {
    /// The upload has no bytes, or a gzip stream decompresses to nothing.
    #[error("the file is empty")]
    Empty,
    /// The upload, or its decompressed content, is larger than allowed.
    #[error("{what} is larger than the limit of {}", Bytes(*.limit))]
    TooLarge { what: Measure, limit: u64 },
    /// The content expands far more than text does: a likely decompression bomb.
    #[error(
        "the archive expands more than {limit} times its compressed size, which real CSV \
         exports do not; it was refused as a likely decompression bomb"
    )]
    CompressionRatio { limit: u64 },
    /// The zip archive declares more entries than allowed.
    #[error("the zip archive has more than {limit} entries")]
    TooManyEntries { limit: u64 },
    /// The gzip stream is damaged or cut short.
    #[error("the gzip file is corrupt or truncated: {0}")]
    CorruptGzip(#[source] io::Error),
    /// The zip archive is damaged or cut short (this includes a file that starts
    /// like a zip archive but has no readable directory).
    #[error("the zip archive is corrupt or truncated: {0}")]
    CorruptZip(#[source] zip::result::ZipError),
    /// The zip archive holds no readable CSV file; `skipped` says what it holds.
    #[error("the zip archive contains no CSV file{}", SkippedList(.skipped))]
    NoCsvInArchive { skipped: Vec<super::SkippedEntry> },
    /// An Excel workbook (`.xlsx`, or the older `.xls`) rather than a CSV export.
    #[error("this is an Excel workbook, not a CSV file: open it and save it as \"CSV UTF-8\"")]
    Spreadsheet,
    /// Binary data rather than text.
    #[error("the file is not text, so it cannot be a CSV file")]
    NotText,
    /// Reading the upload failed: the connection broke or the client went away.
    #[error("reading the upload failed: {0}")]
    UploadRead(#[source] io::Error),
    /// The temporary file a zip archive is spooled to could not be written or read.
    #[error("the upload could not be stored for reading: {0}")]
    Spool(#[source] io::Error),
    /// The error returned by the function each CSV source was handed to.
    #[error(transparent)]
    Consumer(E),
}

impl<E> SourceError<E> {
    /// A stable machine code, or `None` for [`SourceError::Consumer`], whose error
    /// carries its own.
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::Empty => "empty_file",
            Self::TooLarge { .. } => "payload_too_large",
            Self::CompressionRatio { .. } => "compression_ratio_exceeded",
            Self::TooManyEntries { .. } => "too_many_archive_entries",
            Self::CorruptGzip(_) | Self::CorruptZip(_) => "corrupt_archive",
            Self::NoCsvInArchive { .. } => "no_csv_in_archive",
            Self::Spreadsheet => "spreadsheet_not_csv",
            Self::NotText => "not_text",
            Self::UploadRead(_) => "upload_interrupted",
            Self::Spool(_) => "spool_failed",
            Self::Consumer(_) => return None,
        })
    }

    /// The error for a fault recorded while streaming a container of this kind.
    pub(super) fn from_fault(fault: Fault, zip: bool) -> Self {
        match fault {
            Fault::TooLarge { what, limit } => Self::TooLarge { what, limit },
            Fault::CompressionRatio { limit } => Self::CompressionRatio { limit },
            Fault::UploadRead(error) => Self::UploadRead(error),
            Fault::Decode(error) if zip => Self::CorruptZip(error.into()),
            Fault::Decode(error) => Self::CorruptGzip(error),
        }
    }
}

/// A byte count, in the largest binary unit it is a whole multiple of.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
        match UNITS
            .iter()
            .find(|(size, _)| self.0 >= *size && self.0.is_multiple_of(*size))
        {
            Some((size, unit)) => write!(formatter, "{} {unit}", self.0 / size),
            None => write!(formatter, "{} bytes", self.0),
        }
    }
}

/// ` (skipped: a.txt: not a CSV file; b.zip: nested archive)`, or nothing.
struct SkippedList<'a>(&'a [super::SkippedEntry]);

impl fmt::Display for SkippedList<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 5;
        let Some((first, rest)) = self.0.split_first() else {
            return Ok(());
        };
        write!(formatter, " (skipped: {first}")?;
        for entry in rest.iter().take(SHOWN - 1) {
            write!(formatter, "; {entry}")?;
        }
        if self.0.len() > SHOWN {
            write!(formatter, "; and {} more", self.0.len() - SHOWN)?;
        }
        formatter.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{SkipReason, SkippedEntry};

    type Error = SourceError<io::Error>;

    #[test]
    fn limits_read_in_binary_units_when_they_are_round() {
        let upload = Error::TooLarge {
            what: Measure::Upload,
            limit: 1 << 30,
        };
        let decompressed = Error::TooLarge {
            what: Measure::Decompressed,
            limit: 1_500,
        };

        assert_eq!(
            upload.to_string(),
            "the upload is larger than the limit of 1 GiB"
        );
        assert_eq!(
            decompressed.to_string(),
            "the decompressed content is larger than the limit of 1500 bytes"
        );
    }

    #[test]
    fn no_csv_in_archive_says_what_was_skipped() {
        let skipped = vec![
            SkippedEntry {
                name: "readme.txt".into(),
                reason: SkipReason::NotCsv,
            },
            SkippedEntry {
                name: "old.zip".into(),
                reason: SkipReason::NestedArchive,
            },
        ];

        let error = Error::NoCsvInArchive { skipped };

        assert_eq!(
            error.to_string(),
            "the zip archive contains no CSV file (skipped: readme.txt: not a CSV file; \
             old.zip: nested archive, not opened)"
        );
        assert_eq!(error.code(), Some("no_csv_in_archive"));
    }

    #[test]
    fn only_the_consumer_error_has_no_code_of_its_own() {
        let consumer = Error::Consumer(io::Error::other("bad row"));

        assert_eq!(consumer.code(), None);
        assert_eq!(consumer.to_string(), "bad row");
        assert_eq!(Error::Empty.code(), Some("empty_file"));
    }
}
