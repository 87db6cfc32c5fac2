//! Opens an upload, whatever it is wrapped in, and hands over each CSV file it holds
//! as UTF-8 text.
//!
//! The container is told by its first bytes, never by a file name or content type:
//! gzip (`1f 8b`), zip (`PK\x03\x04`, or `PK\x05\x06` for an empty archive), an old
//! Excel workbook (refused with a clear message), or else a plain file.

use std::{
    fmt,
    io::{self, Cursor, Read},
    path::Path,
    rc::Rc,
};

use flate2::read::MultiGzDecoder;

use super::{
    archive,
    encoding::{self, DetectedEncoding, Opened},
    error::SourceError,
    limits::{Expansion, Fault, OutputMeter, SourceLimits, Tally, UploadMeter},
};

/// One CSV file of an upload, readable as UTF-8.
pub struct CsvSource<'a> {
    /// The entry's name inside a zip archive (with its folders); `None` for a plain
    /// or gzip upload, whose name is the upload's own.
    pub name: Option<String>,
    /// The encoding the file was in before it was transcoded.
    pub encoding: DetectedEncoding,
    /// The file's content as valid UTF-8, without a byte order mark. A read error
    /// means the upload broke or crossed a limit: stop and return any error, and
    /// [`for_each_csv`] returns the real cause instead of it.
    pub text: Box<dyn Read + 'a>,
}

impl fmt::Debug for CsvSource<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("CsvSource")
            .field("name", &self.name)
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

/// What [`for_each_csv`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSummary {
    /// Bytes of the upload read, as received (compressed when it is an archive).
    pub bytes_read: u64,
    /// Files of a zip archive that were not CSV sources, in archive order.
    pub skipped: Vec<SkippedEntry>,
    /// How many CSV sources were handed over.
    pub sources: usize,
}

/// A file of a zip archive that was not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEntry {
    /// Its name inside the archive, with its folders.
    pub name: String,
    /// Why it was not read.
    pub reason: SkipReason,
}

impl fmt::Display for SkippedEntry {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.name, self.reason)
    }
}

/// Why a file of a zip archive was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// Its name does not end in `.csv`.
    NotCsv,
    /// An archive inside the archive (`.zip`, `.gz`, ...): not opened.
    NestedArchive,
    /// Password-protected.
    Encrypted,
    /// Compressed with a method other than deflate or none.
    UnsupportedCompression,
    /// Named `.csv` but empty, or only a byte order mark.
    Empty,
    /// Named `.csv` but binary data.
    NotText,
}

impl SkipReason {
    /// A stable machine code.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotCsv => "not_csv",
            Self::NestedArchive => "nested_archive",
            Self::Encrypted => "encrypted",
            Self::UnsupportedCompression => "unsupported_compression",
            Self::Empty => "empty_file",
            Self::NotText => "not_text",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::NotCsv => "not a CSV file",
            Self::NestedArchive => "nested archive, not opened",
            Self::Encrypted => "encrypted",
            Self::UnsupportedCompression => "unsupported compression",
            Self::Empty => "empty file",
            Self::NotText => "not a text file",
        })
    }
}

/// What an upload is wrapped in, told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Plain,
    Gzip,
    Zip,
    /// OLE2 compound file: an Excel 97-2003 workbook, as far as uploads go.
    LegacyExcel,
}

/// How many leading bytes decide the container.
const MAGIC_BYTES: usize = 8;

impl Container {
    fn detect(magic: &[u8]) -> Self {
        match magic {
            [0x1F, 0x8B, ..] => Self::Gzip,
            [b'P', b'K', 0x03, 0x04, ..] | [b'P', b'K', 0x05, 0x06, ..] => Self::Zip,
            [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1] => Self::LegacyExcel,
            _ => Self::Plain,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Gzip => "gzip",
            Self::Zip => "zip",
            Self::LegacyExcel => "ole2",
        }
    }
}

/// Hands `each` every CSV file of `upload`, in order, as UTF-8 text, and stops at
/// the first error.
///
/// - A plain file is one source: the whole stream.
/// - A gzip file (several members allowed) is one source, decompressed as it streams.
/// - A zip archive is spooled to an anonymous temporary file in `spool_dir` (removed
///   when it is closed, crash included), because its directory sits at its end;
///   every file whose name ends in `.csv` (any case) is a source, in archive order.
///   Folders, `__MACOSX/` and `._` AppleDouble files are ignored without a mention;
///   every other file is listed in [`SourceSummary::skipped`] with the reason.
///
/// Memory stays flat whatever the upload's size: a few buffers of at most 64 KiB.
/// `limits` are checked while bytes stream, and for zip entries on their declared
/// sizes too, before any source is handed over (declared sizes may lie; the actual
/// bytes are counted all the same). Sources handed over before an error have been
/// consumed: callers that must be all-or-nothing keep their writes in a transaction.
///
/// `each` gets [`CsvSource::text`] to read; returning an error stops everything with
/// [`SourceError::Consumer`], except when the read failed because of the upload (a
/// limit, a corrupt archive, a broken connection): then that cause is returned.
#[tracing::instrument(name = "ingest", skip_all, fields(container))]
pub fn for_each_csv<E>(
    upload: impl Read,
    limits: &SourceLimits,
    spool_dir: &Path,
    mut each: impl FnMut(CsvSource<'_>) -> Result<(), E>,
) -> Result<SourceSummary, SourceError<E>> {
    let tally = Rc::new(Tally::default());
    let mut metered = UploadMeter::new(upload, limits.max_upload_bytes, tally.clone());
    let mut magic = Vec::with_capacity(MAGIC_BYTES);
    if let Err(error) = (&mut metered)
        .take(MAGIC_BYTES as u64)
        .read_to_end(&mut magic)
    {
        return Err(fault_or(&tally, error, false));
    }
    let container = Container::detect(&magic);
    tracing::Span::current().record("container", container.as_str());
    let upload = Cursor::new(magic).chain(metered);
    let (sources, skipped) = match container {
        Container::Plain => {
            let stream = OutputMeter::new(upload, *limits, Expansion::None, tally.clone());
            single_source(stream, &tally, false, &mut each)?
        }
        Container::Gzip => {
            let decoder = MultiGzDecoder::new(upload);
            let stream = OutputMeter::new(decoder, *limits, Expansion::OfUpload, tally.clone());
            single_source(stream, &tally, false, &mut each)?
        }
        Container::Zip => archive::for_each_entry(upload, limits, spool_dir, &tally, &mut each)?,
        Container::LegacyExcel => return Err(SourceError::Spreadsheet),
    };
    let summary = SourceSummary {
        bytes_read: tally.upload_bytes(),
        skipped,
        sources,
    };
    tracing::debug!(
        bytes_read = summary.bytes_read,
        sources = summary.sources,
        skipped = summary.skipped.len(),
        "upload read"
    );
    Ok(summary)
}

/// Hands the whole decompressed `stream` to `each` as the upload's only source.
fn single_source<E, R: Read>(
    stream: R,
    tally: &Tally,
    zip: bool,
    each: &mut impl FnMut(CsvSource<'_>) -> Result<(), E>,
) -> Result<(usize, Vec<SkippedEntry>), SourceError<E>> {
    let text = match encoding::open_text(stream) {
        Ok(Opened::Text(text)) => text,
        Ok(Opened::Empty) => return Err(SourceError::Empty),
        Ok(Opened::Binary) => return Err(SourceError::NotText),
        Err(error) => return Err(fault_or(tally, error, zip)),
    };
    let source = CsvSource {
        name: None,
        encoding: text.encoding(),
        text: Box::new(text),
    };
    hand_over(source, tally, zip, each)?;
    Ok((1, Vec::new()))
}

/// Calls `each` with `source`; a fault recorded while it read wins over what it
/// made of the failed read, and over its success if it swallowed the error.
pub(super) fn hand_over<E>(
    source: CsvSource<'_>,
    tally: &Tally,
    zip: bool,
    each: &mut impl FnMut(CsvSource<'_>) -> Result<(), E>,
) -> Result<(), SourceError<E>> {
    let outcome = each(source);
    if let Some(fault) = tally.take_fault() {
        return Err(SourceError::from_fault(fault, zip));
    }
    outcome.map_err(SourceError::Consumer)
}

/// The error for a failed read: the recorded fault behind it, or the error itself
/// as a failure to read the upload.
pub(super) fn fault_or<E>(tally: &Tally, error: io::Error, zip: bool) -> SourceError<E> {
    let fault = tally.take_fault().unwrap_or(Fault::UploadRead(error));
    SourceError::from_fault(fault, zip)
}
