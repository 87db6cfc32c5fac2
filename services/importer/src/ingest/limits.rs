//! What one upload may cost, enforced while its bytes stream.
//!
//! Two counting readers share one [`Tally`]: [`UploadMeter`] below the decompressor
//! counts the bytes of the upload, [`OutputMeter`] above it counts what decompression
//! produced. Each fails the read that crosses a limit, so a bomb stops after at most
//! one buffer past the limit, and records the first fault so that the caller learns
//! the real cause rather than a CSV parser's view of a failed read.

use std::{
    cell::{Cell, RefCell},
    fmt,
    io::{self, Read},
    rc::Rc,
};

/// Below this many decompressed bytes the compression ratio is not checked: small
/// files may legitimately be very repetitive.
pub const RATIO_GRACE_BYTES: u64 = 1 << 20;

/// The limits applied to one upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLimits {
    /// Bytes of the upload itself, as received (compressed when it is an archive).
    pub max_upload_bytes: u64,
    /// Bytes produced by decompression, summed over every CSV file of the upload.
    pub max_decompressed_bytes: u64,
    /// How many times its compressed size a gzip stream or zip entry may expand to
    /// (past the first [`RATIO_GRACE_BYTES`]); text rarely goes beyond 20.
    pub max_compression_ratio: u64,
    /// Entries of a zip archive: its directory is held in memory while it is read.
    pub max_archive_entries: u64,
}

impl Default for SourceLimits {
    /// 1 GiB uploaded, 4 GiB decompressed, a ratio of 200, 10 000 zip entries.
    fn default() -> Self {
        Self {
            max_upload_bytes: 1 << 30,
            max_decompressed_bytes: 4 << 30,
            max_compression_ratio: 200,
            max_archive_entries: 10_000,
        }
    }
}

impl SourceLimits {
    /// How many bytes `compressed_bytes` may expand to.
    pub(super) fn allowed_expansion(&self, compressed_bytes: u64) -> u64 {
        compressed_bytes
            .saturating_mul(self.max_compression_ratio)
            .max(RATIO_GRACE_BYTES)
    }
}

/// What a size limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Measure {
    /// The upload as received.
    Upload,
    /// The content of the upload once decompressed.
    Decompressed,
}

impl fmt::Display for Measure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Upload => "the upload",
            Self::Decompressed => "the decompressed content",
        })
    }
}

/// The first thing that went wrong while streaming one upload.
#[derive(Debug)]
pub(super) enum Fault {
    TooLarge {
        what: Measure,
        limit: u64,
    },
    CompressionRatio {
        limit: u64,
    },
    /// The upload itself could not be read (the client went away, the body broke).
    UploadRead(io::Error),
    /// The decompressor rejected its input: a corrupt or truncated archive.
    Decode(io::Error),
}

impl Fault {
    /// The error a reader hands its caller for this fault, which describes it.
    fn to_io_error(&self) -> io::Error {
        let kind = match self {
            Self::TooLarge { .. } => io::ErrorKind::FileTooLarge,
            Self::CompressionRatio { .. } => io::ErrorKind::InvalidData,
            Self::UploadRead(error) | Self::Decode(error) => error.kind(),
        };
        io::Error::new(kind, self.to_string())
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { what, limit } => write!(formatter, "{what} exceeds {limit} bytes"),
            Self::CompressionRatio { limit } => {
                write!(formatter, "the content expands more than {limit} times")
            }
            Self::UploadRead(error) => write!(formatter, "reading the upload failed: {error}"),
            Self::Decode(error) => write!(formatter, "decompression failed: {error}"),
        }
    }
}

/// Byte counts and the first fault of one upload, shared by its meters.
#[derive(Debug, Default)]
pub(super) struct Tally {
    upload_bytes: Cell<u64>,
    decompressed_bytes: Cell<u64>,
    fault: RefCell<Option<Fault>>,
}

impl Tally {
    /// Bytes of the upload read so far.
    pub(super) fn upload_bytes(&self) -> u64 {
        self.upload_bytes.get()
    }

    /// Records `fault` unless an earlier one is already recorded, and returns the
    /// error describing the recorded one.
    pub(super) fn fail(&self, fault: Fault) -> io::Error {
        let mut recorded = self.fault.borrow_mut();
        recorded.get_or_insert(fault).to_io_error()
    }

    /// The error describing the recorded fault, if there is one.
    fn replay(&self) -> Option<io::Error> {
        self.fault.borrow().as_ref().map(Fault::to_io_error)
    }

    /// Takes the recorded fault out.
    pub(super) fn take_fault(&self) -> Option<Fault> {
        self.fault.borrow_mut().take()
    }
}

/// Counts the bytes of the upload and fails once there are more than
/// `max_upload_bytes`; never asks its inner reader for more than one byte past it.
pub(super) struct UploadMeter<R> {
    inner: R,
    max_upload_bytes: u64,
    tally: Rc<Tally>,
}

impl<R: Read> UploadMeter<R> {
    pub(super) fn new(inner: R, max_upload_bytes: u64, tally: Rc<Tally>) -> Self {
        Self {
            inner,
            max_upload_bytes,
            tally,
        }
    }
}

impl<R: Read> Read for UploadMeter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(error) = self.tally.replay() {
            return Err(error);
        }
        let read_so_far = self.tally.upload_bytes.get();
        let allowed = self
            .max_upload_bytes
            .saturating_sub(read_so_far)
            .saturating_add(1);
        let cap = usize::try_from(allowed).map_or(buf.len(), |allowed| allowed.min(buf.len()));
        match self.inner.read(&mut buf[..cap]) {
            Ok(count) => {
                let read_so_far = read_so_far + count as u64;
                self.tally.upload_bytes.set(read_so_far);
                if read_so_far > self.max_upload_bytes {
                    return Err(self.tally.fail(Fault::TooLarge {
                        what: Measure::Upload,
                        limit: self.max_upload_bytes,
                    }));
                }
                Ok(count)
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => Err(error),
            Err(error) => Err(self.tally.fail(Fault::UploadRead(error))),
        }
    }
}

/// What the output of a decompressor is compared with for the ratio limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expansion {
    /// Not compressed: no ratio to check.
    None,
    /// A gzip stream: everything decompressed so far against the upload read so far.
    OfUpload,
    /// A zip entry: its output against its compressed size, and everything
    /// decompressed so far against the whole (already spooled) upload.
    OfEntry { compressed_bytes: u64 },
}

/// Counts the bytes a decompressor produces and fails once they pass
/// `max_decompressed_bytes` or the compression ratio; records decompression errors.
pub(super) struct OutputMeter<R> {
    inner: R,
    limits: SourceLimits,
    expansion: Expansion,
    source_bytes: u64,
    tally: Rc<Tally>,
}

impl<R: Read> OutputMeter<R> {
    pub(super) fn new(
        inner: R,
        limits: SourceLimits,
        expansion: Expansion,
        tally: Rc<Tally>,
    ) -> Self {
        Self {
            inner,
            limits,
            expansion,
            source_bytes: 0,
            tally,
        }
    }

    fn exceeded(&self, decompressed_bytes: u64) -> Option<Fault> {
        let limits = &self.limits;
        if decompressed_bytes > limits.max_decompressed_bytes {
            return Some(Fault::TooLarge {
                what: Measure::Decompressed,
                limit: limits.max_decompressed_bytes,
            });
        }
        let upload_bytes = self.tally.upload_bytes();
        let too_expanded = match self.expansion {
            Expansion::None => false,
            Expansion::OfUpload => decompressed_bytes > limits.allowed_expansion(upload_bytes),
            Expansion::OfEntry { compressed_bytes } => {
                self.source_bytes > limits.allowed_expansion(compressed_bytes)
                    || decompressed_bytes > limits.allowed_expansion(upload_bytes)
            }
        };
        too_expanded.then_some(Fault::CompressionRatio {
            limit: limits.max_compression_ratio,
        })
    }
}

impl<R: Read> Read for OutputMeter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(error) = self.tally.replay() {
            return Err(error);
        }
        match self.inner.read(buf) {
            Ok(count) => {
                self.source_bytes += count as u64;
                let decompressed_bytes = self.tally.decompressed_bytes.get() + count as u64;
                self.tally.decompressed_bytes.set(decompressed_bytes);
                match self.exceeded(decompressed_bytes) {
                    Some(fault) => Err(self.tally.fail(fault)),
                    None => Ok(count),
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => Err(error),
            // A fault below (a broken upload, a limit) surfaces here as the
            // decompressor's error: keep the fault recorded first.
            Err(error) => Err(self.tally.fail(Fault::Decode(error))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(
        max_upload_bytes: u64,
        max_decompressed_bytes: u64,
        max_compression_ratio: u64,
    ) -> SourceLimits {
        SourceLimits {
            max_upload_bytes,
            max_decompressed_bytes,
            max_compression_ratio,
            ..SourceLimits::default()
        }
    }

    #[test]
    fn the_upload_meter_fails_the_read_that_crosses_the_limit() {
        let tally = Rc::new(Tally::default());
        let mut meter = UploadMeter::new(&[7u8; 100][..], 60, tally.clone());
        let mut sink = Vec::new();

        let error = meter.read_to_end(&mut sink).expect_err("over the limit");

        assert_eq!(error.kind(), io::ErrorKind::FileTooLarge);
        assert!(sink.len() <= 60 && tally.upload_bytes() == 61);
        assert!(matches!(
            tally.take_fault(),
            Some(Fault::TooLarge {
                what: Measure::Upload,
                limit: 60
            })
        ));
    }

    #[test]
    fn the_upload_meter_accepts_exactly_the_limit() {
        let tally = Rc::new(Tally::default());
        let mut meter = UploadMeter::new(&[7u8; 60][..], 60, tally.clone());
        let mut sink = Vec::new();

        meter.read_to_end(&mut sink).expect("at the limit");

        assert_eq!((sink.len(), tally.upload_bytes()), (60, 60));
    }

    #[test]
    fn the_first_fault_wins_and_keeps_failing_reads() {
        let tally = Rc::new(Tally::default());
        let mut meter = UploadMeter::new(&[7u8; 100][..], 10, tally.clone());
        let _ = meter.read(&mut [0; 64]);

        let later = tally.fail(Fault::Decode(io::Error::other("late")));

        assert_eq!(later.kind(), io::ErrorKind::FileTooLarge);
        assert!(meter.read(&mut [0; 64]).is_err());
    }

    #[test]
    fn the_output_meter_stops_a_stream_that_expands_past_the_ratio() {
        let tally = Rc::new(Tally::default());
        tally.upload_bytes.set(1_000);
        let expanded = io::repeat(0).take(10 * RATIO_GRACE_BYTES);
        let mut meter = OutputMeter::new(
            expanded,
            limits(u64::MAX, u64::MAX, 2_000),
            Expansion::OfUpload,
            tally.clone(),
        );

        let copied = io::copy(&mut meter, &mut io::sink());

        assert!(copied.is_err());
        assert!(matches!(
            tally.take_fault(),
            Some(Fault::CompressionRatio { limit: 2_000 })
        ));
    }

    #[test]
    fn the_output_meter_counts_every_source_towards_the_total() {
        let tally = Rc::new(Tally::default());
        let limits = limits(u64::MAX, 1_500, 200);
        let mut first = OutputMeter::new(&[1u8; 1_000][..], limits, Expansion::None, tally.clone());
        io::copy(&mut first, &mut io::sink()).expect("under the total");
        let mut second =
            OutputMeter::new(&[1u8; 1_000][..], limits, Expansion::None, tally.clone());

        let copied = io::copy(&mut second, &mut io::sink());

        assert!(copied.is_err());
        assert!(matches!(
            tally.take_fault(),
            Some(Fault::TooLarge {
                what: Measure::Decompressed,
                limit: 1_500
            })
        ));
    }

    #[test]
    fn small_outputs_are_exempt_from_the_ratio() {
        let limits = limits(u64::MAX, u64::MAX, 10);
        assert_eq!(limits.allowed_expansion(1), RATIO_GRACE_BYTES);
        assert_eq!(
            limits.allowed_expansion(RATIO_GRACE_BYTES),
            10 * RATIO_GRACE_BYTES
        );
    }
}
