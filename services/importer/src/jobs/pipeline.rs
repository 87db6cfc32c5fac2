//! Reading one upload on a blocking thread: container and encoding ([`ingest`]),
//! records ([`records`]), the header ([`formats`]), each row ([`rows`]), handed
//! over in chunks of `chunk_rows` data rows. Memory holds one chunk at a time.
//!
//! Rows are counted across every CSV of the upload in order, header and notes
//! excluded, so a resumed job skips exactly the rows its committed chunks held.
//!
//! [`ingest`]: crate::ingest
//! [`records`]: crate::records
//! [`formats`]: crate::formats
//! [`rows`]: crate::rows

use std::{fs::File, io::BufReader, path::Path};

use six_events::importer::ImportFormat;

use crate::{
    formats::{self, ColumnMap, HeaderError, MAX_PREAMBLE_RECORDS, Requested},
    ingest::{SourceError, SourceLimits, for_each_csv},
    records::{Record, Records, csv_cell},
    rows::{self, ContactFields, RowProblem, RowRules},
};

/// Limits and sizes of the reading.
#[derive(Debug, Clone)]
pub struct ReadLimits {
    /// Upload and decompression limits.
    pub source: SourceLimits,
    /// Data rows of the whole upload.
    pub max_rows: u64,
    /// Longest cell, in bytes.
    pub max_cell_bytes: usize,
    /// Most cells in a record.
    pub max_columns: usize,
    /// Data rows per chunk.
    pub chunk_rows: usize,
}

/// A refused row, for the rejects report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// Line of the file where the row starts.
    pub line: u64,
    /// What is wrong with it, at least one thing.
    pub problems: Vec<RowProblem>,
    /// The row as read, as a CSV line (empty when it was too large to keep).
    pub source_row: String,
}

/// Consecutive data rows of the upload.
#[derive(Debug, Default)]
pub struct Chunk {
    /// Data rows in this chunk (accepted and rejected).
    pub rows: u64,
    /// The rows read as contacts, in file order.
    pub contacts: Vec<ContactFields>,
    /// The rows refused, in file order.
    pub rejects: Vec<Reject>,
}

/// What the whole reading found.
#[derive(Debug, Clone)]
pub struct ReadSummary {
    /// The format of the (first) CSV read.
    pub format: Option<ImportFormat>,
    /// Bytes of the upload read.
    pub bytes_read: u64,
    /// Archive entries not read, as `name: reason`.
    pub skipped: Vec<String>,
}

/// The reading was stopped before the end of the upload: by the consumer of the
/// chunks, or by a problem [`ReadError`] names.
#[derive(Debug, thiserror::Error)]
#[error("the reading was stopped")]
pub struct Halted;

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The upload itself: too large, corrupt, not text...
    #[error(transparent)]
    Source(SourceError<Halted>),
    /// A CSV of the upload has no header the request can use.
    #[error("{file}: {error}")]
    Header {
        /// Which CSV (`the file` or the archive entry).
        file: String,
        /// What is wrong.
        error: HeaderError,
    },
    /// A record's bytes are not UTF-8 (ingest transcodes, so this means a bug
    /// or a damaged spool file).
    #[error("the text could not be read: {0}")]
    Unreadable(String),
    /// More data rows than allowed.
    #[error("the file has more than {limit} data rows (IMPORTER_MAX_ROWS)")]
    TooManyRows {
        /// The limit.
        limit: u64,
    },
    /// The consumer of the chunks stopped the reading (cancellation, database).
    #[error("stopped")]
    Stopped,
}

impl ReadError {
    /// A stable code for the job's `failure_code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Source(error) => error.code().unwrap_or("unreadable_upload"),
            Self::Header { .. } => "no_usable_header",
            Self::Unreadable(_) => "unreadable_text",
            Self::TooManyRows { .. } => "too_many_rows",
            Self::Stopped => "stopped",
        }
    }
}

/// Reads the upload at `path` as `requested`, skipping the first `skip_rows` data
/// rows, and hands each chunk to `deliver` (which stops the reading by returning
/// `Err`).
pub fn read_upload(
    path: &Path,
    requested: &Requested,
    row_rules: &RowRules,
    limits: &ReadLimits,
    skip_rows: u64,
    mut deliver: impl FnMut(Chunk) -> Result<(), Halted>,
) -> Result<ReadSummary, ReadError> {
    let file =
        File::open(path).map_err(|error| ReadError::Source(SourceError::UploadRead(error)))?;
    let spool_dir = path.parent().unwrap_or(Path::new("."));
    let mut state = Reading {
        requested,
        row_rules,
        limits,
        skip_rows,
        rows_seen: 0,
        chunk: Chunk::default(),
        format: None,
        failure: None,
    };
    let summary = for_each_csv(BufReader::new(file), &limits.source, spool_dir, |source| {
        let file = source.name.clone().unwrap_or_else(|| "the file".to_owned());
        state.read_source(&file, source.text, &mut deliver)
    });
    match summary {
        Ok(summary) => {
            let last = std::mem::take(&mut state.chunk);
            if last.rows > 0 && deliver(last).is_err() {
                return Err(ReadError::Stopped);
            }
            Ok(ReadSummary {
                format: state.format,
                bytes_read: summary.bytes_read,
                skipped: summary
                    .skipped
                    .iter()
                    .map(|entry| format!("{}: {}", entry.name, entry.reason))
                    .collect(),
            })
        }
        Err(SourceError::Consumer(Halted)) => {
            Err(state.failure.take().unwrap_or(ReadError::Stopped))
        }
        Err(error) => Err(ReadError::Source(error)),
    }
}

struct Reading<'a> {
    requested: &'a Requested,
    row_rules: &'a RowRules,
    limits: &'a ReadLimits,
    skip_rows: u64,
    rows_seen: u64,
    chunk: Chunk,
    format: Option<ImportFormat>,
    /// Why `read_source` returned `Err(())`.
    failure: Option<ReadError>,
}

impl Reading<'_> {
    fn read_source(
        &mut self,
        file: &str,
        text: Box<dyn std::io::Read + '_>,
        deliver: &mut impl FnMut(Chunk) -> Result<(), Halted>,
    ) -> Result<(), Halted> {
        let mut records = Records::new(text, self.limits.max_cell_bytes, self.limits.max_columns);
        let map = self.header(file, &mut records)?;
        self.format.get_or_insert(map.format);
        loop {
            let record = match records.next_record() {
                Ok(Some(record)) => record,
                Ok(None) => return Ok(()),
                // When the source's reader failed (the upload broke or crossed a
                // limit), for_each_csv reports that cause instead of this one.
                Err(error) => return self.fail(ReadError::Unreadable(error.to_string())),
            };
            self.rows_seen += 1;
            if self.rows_seen > self.limits.max_rows {
                return self.fail(ReadError::TooManyRows {
                    limit: self.limits.max_rows,
                });
            }
            if self.rows_seen <= self.skip_rows {
                continue;
            }
            self.chunk.rows += 1;
            match record {
                Record::Cells { line, cells } => match rows::read_row(&cells, &map, self.row_rules)
                {
                    Ok(contact) => self.chunk.contacts.push(contact),
                    Err(problems) => self.chunk.rejects.push(Reject {
                        line,
                        problems,
                        source_row: csv_line(&cells),
                    }),
                },
                Record::Oversized { line, reason } => self.chunk.rejects.push(Reject {
                    line,
                    problems: vec![RowProblem {
                        column: None,
                        code: "row_too_large",
                        reason,
                    }],
                    source_row: String::new(),
                }),
            }
            if self.chunk.rows as usize >= self.limits.chunk_rows {
                deliver(std::mem::take(&mut self.chunk))?;
            }
        }
    }

    /// Reads records until the header; notes before it are skipped.
    fn header(
        &mut self,
        file: &str,
        records: &mut Records<Box<dyn std::io::Read + '_>>,
    ) -> Result<ColumnMap, Halted> {
        for _ in 0..=MAX_PREAMBLE_RECORDS {
            let record = match records.next_record() {
                Ok(Some(record)) => record,
                Ok(None) => break,
                Err(error) => return self.fail(ReadError::Unreadable(error.to_string())),
            };
            let Record::Cells { cells, .. } = record else {
                continue;
            };
            match formats::recognise(&cells, self.requested) {
                Ok(Some(map)) => return Ok(map),
                Ok(None) => {}
                Err(error) => {
                    return self.fail(ReadError::Header {
                        file: file.to_owned(),
                        error,
                    });
                }
            }
        }
        self.fail(ReadError::Header {
            file: file.to_owned(),
            error: HeaderError::UnknownFormat,
        })
    }

    fn fail<T>(&mut self, error: ReadError) -> Result<T, Halted> {
        self.failure = Some(error);
        Err(Halted)
    }
}

/// Cells joined as one CSV line, quoted where needed.
fn csv_line(cells: &[&str]) -> String {
    cells
        .iter()
        .map(|cell| csv_cell(cell))
        .collect::<Vec<_>>()
        .join(",")
}
