//! `for_each_csv` end to end, on uploads built in memory or generated as they stream.

use std::{
    io::{self, Cursor, Read, Write},
    path::{Path, PathBuf},
};

use flate2::{Compression, read::GzEncoder, write::GzEncoder as GzWriter};
use zip::{CompressionMethod, ZipWriter, write::SimpleFileOptions};

use super::*;

const MIB: u64 = 1 << 20;

/// What the consumer saw of one source.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    name: Option<String>,
    encoding: DetectedEncoding,
    text: String,
}

type Outcome = Result<(SourceSummary, Vec<Seen>), SourceError<io::Error>>;

fn spool_dir() -> PathBuf {
    std::env::temp_dir()
}

/// Runs `for_each_csv` with a consumer that reads every source to the end.
fn ingest_with(upload: impl Read, limits: &SourceLimits) -> Outcome {
    let mut seen = Vec::new();
    let summary = for_each_csv(upload, limits, &spool_dir(), |mut source| {
        let mut text = String::new();
        source.text.read_to_string(&mut text)?;
        seen.push(Seen {
            name: source.name,
            encoding: source.encoding,
            text,
        });
        Ok(())
    })?;
    Ok((summary, seen))
}

fn ingest(upload: &[u8]) -> Outcome {
    ingest_with(upload, &SourceLimits::default())
}

/// Runs `for_each_csv` with a consumer that counts the bytes it manages to read.
fn count_read(
    upload: impl Read,
    limits: &SourceLimits,
) -> (u64, Result<SourceSummary, SourceError<io::Error>>) {
    let mut read_bytes = 0;
    let outcome = for_each_csv(upload, limits, &spool_dir(), |mut source| {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            match source.text.read(&mut buffer)? {
                0 => return Ok(()),
                count => read_bytes += count as u64,
            }
        }
    });
    (read_bytes, outcome)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzWriter::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("in-memory write");
    encoder.finish().expect("in-memory write")
}

/// A zip archive, deflated, of these entries in this order; names ending in `/`
/// are folders.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in entries {
        if name.ends_with('/') {
            writer.add_directory(*name, options).expect("add folder");
        } else {
            writer.start_file(*name, options).expect("start entry");
            writer.write_all(content).expect("in-memory write");
        }
    }
    writer.finish().expect("finish zip").into_inner()
}

/// Where the local and the central header of entry `name` start.
fn headers_of(zip: &[u8], name: &str) -> (usize, usize) {
    let find = |signature: &[u8], name_length_at: usize, name_at: usize| {
        (0..zip.len() - 4)
            .find(|&at| {
                let length = usize::from(u16::from_le_bytes([
                    zip[at + name_length_at],
                    zip[at + name_length_at + 1],
                ]));
                &zip[at..at + 4] == signature
                    && zip.get(at + name_at..at + name_at + length) == Some(name.as_bytes())
            })
            .expect("entry header")
    };
    (find(b"PK\x03\x04", 26, 30), find(b"PK\x01\x02", 28, 46))
}

/// Overwrites a little-endian field of both headers of entry `name`.
fn patch_headers(zip: &mut [u8], name: &str, local_at: usize, central_at: usize, value: &[u8]) {
    let (local, central) = headers_of(zip, name);
    zip[local + local_at..local + local_at + value.len()].copy_from_slice(value);
    zip[central + central_at..central + central_at + value.len()].copy_from_slice(value);
}

fn skipped(name: &str, reason: SkipReason) -> SkippedEntry {
    SkippedEntry {
        name: name.to_owned(),
        reason,
    }
}

/// Generated CSV text, `total_bytes` long, produced as it is read.
struct GeneratedCsv {
    remaining: u64,
    row: Vec<u8>,
    row_at: usize,
}

impl GeneratedCsv {
    fn new(total_bytes: u64) -> Self {
        Self {
            remaining: total_bytes,
            row: "Zoë,Müller,zoe.muller@example.com,\"Acme, Inc.\"\n"
                .as_bytes()
                .to_vec(),
            row_at: 0,
        }
    }
}

impl Read for GeneratedCsv {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut written = 0;
        while written < buf.len() && self.remaining > 0 {
            let piece = &self.row[self.row_at..];
            let count = piece
                .len()
                .min(buf.len() - written)
                .min(self.remaining as usize);
            buf[written..written + count].copy_from_slice(&piece[..count]);
            written += count;
            self.remaining -= count as u64;
            self.row_at = (self.row_at + count) % self.row.len();
        }
        Ok(written)
    }
}

/// `bytes`, then a broken connection.
struct BrokenAfter<'a>(&'a [u8]);

impl Read for BrokenAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset by peer",
            ));
        }
        self.0.read(buf)
    }
}

const CONNECTIONS: &str = "First Name,Last Name,URL\nZoë,Müller,https://www.linkedin.com/in/zoe\n";

// --- plain and gzip ---------------------------------------------------------

#[test]
fn a_plain_csv_file_is_one_unnamed_source() {
    let (summary, seen) = ingest(CONNECTIONS.as_bytes()).expect("ingested");

    assert_eq!(
        seen,
        [Seen {
            name: None,
            encoding: DetectedEncoding::Utf8,
            text: CONNECTIONS.to_owned()
        }]
    );
    assert_eq!(
        summary,
        SourceSummary {
            bytes_read: CONNECTIONS.len() as u64,
            skipped: vec![],
            sources: 1
        }
    );
}

#[test]
fn a_plain_windows_1252_file_comes_out_as_utf8() {
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode("Name,Price\r\nRenée,5 €\r\n");

    let (_, seen) = ingest(&bytes).expect("ingested");

    assert_eq!(seen[0].encoding, DetectedEncoding::Windows1252);
    assert_eq!(seen[0].text, "Name,Price\r\nRenée,5 €\r\n");
}

#[test]
fn a_gzip_file_is_one_source_decompressed() {
    let upload = gzip(CONNECTIONS.as_bytes());

    let (summary, seen) = ingest(&upload).expect("ingested");

    assert_eq!((seen.len(), seen[0].name.as_deref()), (1, None));
    assert_eq!(seen[0].text, CONNECTIONS);
    assert_eq!(summary.bytes_read, upload.len() as u64);
}

#[test]
fn concatenated_gzip_members_are_read_as_one_file() {
    let upload = [gzip(b"a,b\n"), gzip(b"1,2\n")].concat();

    let (_, seen) = ingest(&upload).expect("ingested");

    assert_eq!(seen[0].text, "a,b\n1,2\n");
}

#[test]
fn a_gzipped_utf16_file_is_decompressed_then_transcoded() {
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(CONNECTIONS.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();

    let (_, seen) = ingest(&gzip(&utf16)).expect("ingested");

    assert_eq!(
        (seen[0].encoding, seen[0].text.as_str()),
        (DetectedEncoding::Utf16Le, CONNECTIONS)
    );
}

#[test]
fn an_empty_upload_is_refused_as_empty() {
    let error = ingest(b"").expect_err("empty");
    assert!(matches!(error, SourceError::Empty), "{error:?}");
    assert_eq!(error.code(), Some("empty_file"));
}

#[test]
fn a_gzip_of_nothing_is_refused_as_empty() {
    let error = ingest(&gzip(b"")).expect_err("empty");
    assert!(matches!(error, SourceError::Empty), "{error:?}");
}

#[test]
fn binary_garbage_is_refused_as_not_text() {
    let mut state = 0x2545_F491_4F6C_DD1D_u64;
    let garbage: Vec<u8> = (0..10_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();

    let error = ingest(&garbage).expect_err("garbage");

    assert!(matches!(error, SourceError::NotText), "{error:?}");
    assert_eq!(error.code(), Some("not_text"));
}

#[test]
fn a_truncated_gzip_file_is_corrupt() {
    let mut upload = gzip(&CONNECTIONS.repeat(100).into_bytes());
    upload.truncate(upload.len() / 2);

    let error = ingest(&upload).expect_err("truncated");

    assert!(matches!(error, SourceError::CorruptGzip(_)), "{error:?}");
    assert_eq!(error.code(), Some("corrupt_archive"));
}

#[test]
fn gzip_magic_followed_by_garbage_is_corrupt() {
    let error = ingest(b"\x1f\x8bthis is not deflate at all").expect_err("garbage");
    assert!(matches!(error, SourceError::CorruptGzip(_)), "{error:?}");
}

#[test]
fn an_old_excel_workbook_is_refused_with_advice() {
    let error = ingest(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0\0\0").expect_err("xls");

    assert!(matches!(error, SourceError::Spreadsheet), "{error:?}");
    assert!(error.to_string().contains("CSV UTF-8"));
}

// --- zip --------------------------------------------------------------------

#[test]
fn every_csv_of_a_zip_is_a_source_in_archive_order_and_the_rest_is_skipped() {
    let upload = zip_of(&[
        ("export/", b""),
        ("export/Connections.csv", CONNECTIONS.as_bytes()),
        ("export/readme.txt", b"hello"),
        (
            "__MACOSX/export/._Connections.csv",
            b"\0\x05\x16\x07 mac metadata",
        ),
        ("export/contacts.CSV", b"a,b\n1,2\n"),
        ("export/older.zip", &zip_of(&[("inner.csv", b"x\n")])),
    ]);

    let (summary, seen) = ingest(&upload).expect("ingested");

    let names: Vec<_> = seen.iter().map(|source| source.name.as_deref()).collect();
    assert_eq!(
        names,
        [Some("export/Connections.csv"), Some("export/contacts.CSV")]
    );
    assert_eq!(
        (seen[0].text.as_str(), seen[1].text.as_str()),
        (CONNECTIONS, "a,b\n1,2\n")
    );
    assert_eq!(
        summary,
        SourceSummary {
            bytes_read: upload.len() as u64,
            skipped: vec![
                skipped("export/readme.txt", SkipReason::NotCsv),
                skipped("export/older.zip", SkipReason::NestedArchive),
            ],
            sources: 2,
        }
    );
}

#[test]
fn each_zip_entry_has_its_own_encoding() {
    let utf16: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain("a,b\nü,ß\n".encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    let (latin, _, _) = encoding_rs::WINDOWS_1252.encode("a,b\né,€\n");
    let upload = zip_of(&[("utf16.csv", &utf16), ("latin.csv", &latin)]);

    let (_, seen) = ingest(&upload).expect("ingested");

    assert_eq!(
        (seen[0].encoding, seen[0].text.as_str()),
        (DetectedEncoding::Utf16Be, "a,b\nü,ß\n")
    );
    assert_eq!(
        (seen[1].encoding, seen[1].text.as_str()),
        (DetectedEncoding::Windows1252, "a,b\né,€\n")
    );
}

#[test]
fn empty_and_binary_csv_entries_are_skipped_with_a_reason() {
    let upload = zip_of(&[
        ("empty.csv", b""),
        ("bom-only.csv", b"\xEF\xBB\xBF"),
        ("image.csv", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
        ("good.csv", b"a\n1\n"),
    ]);

    let (summary, seen) = ingest(&upload).expect("ingested");

    assert_eq!(seen.len(), 1);
    assert_eq!(
        summary.skipped,
        [
            skipped("empty.csv", SkipReason::Empty),
            skipped("bom-only.csv", SkipReason::Empty),
            skipped("image.csv", SkipReason::NotText),
        ]
    );
}

#[test]
fn an_encrypted_csv_entry_is_skipped() {
    let mut upload = zip_of(&[("secret.csv", b"a\n1\n"), ("open.csv", b"a\n2\n")]);
    let (local, central) = headers_of(&upload, "secret.csv");
    upload[local + 6] |= 1;
    upload[central + 8] |= 1;

    let (summary, seen) = ingest(&upload).expect("ingested");

    assert_eq!(seen.len(), 1);
    assert_eq!(
        summary.skipped,
        [skipped("secret.csv", SkipReason::Encrypted)]
    );
}

#[test]
fn a_csv_entry_with_an_unsupported_compression_is_skipped() {
    let mut upload = zip_of(&[("bzip2.csv", b"a\n1\n"), ("deflate.csv", b"a\n2\n")]);
    patch_headers(&mut upload, "bzip2.csv", 8, 10, &12u16.to_le_bytes());

    let (summary, seen) = ingest(&upload).expect("ingested");

    assert_eq!(seen.len(), 1);
    assert_eq!(
        summary.skipped,
        [skipped("bzip2.csv", SkipReason::UnsupportedCompression)]
    );
}

#[test]
fn a_zip_without_csv_is_refused_and_says_what_it_holds() {
    let upload = zip_of(&[
        ("readme.txt", b"hi"),
        ("nested.zip", &zip_of(&[("a.csv", b"a\n")])),
    ]);

    let error = ingest(&upload).expect_err("no CSV");

    let SourceError::NoCsvInArchive { skipped: listed } = &error else {
        panic!("expected NoCsvInArchive, got {error:?}");
    };
    assert_eq!(
        listed,
        &[
            skipped("readme.txt", SkipReason::NotCsv),
            skipped("nested.zip", SkipReason::NestedArchive)
        ]
    );
    assert_eq!(error.code(), Some("no_csv_in_archive"));
}

#[test]
fn an_empty_zip_has_no_csv() {
    let upload = zip_of(&[]);
    assert!(upload.starts_with(b"PK\x05\x06"));

    let error = ingest(&upload).expect_err("empty zip");

    assert!(
        matches!(&error, SourceError::NoCsvInArchive { skipped } if skipped.is_empty()),
        "{error:?}"
    );
}

#[test]
fn an_xlsx_workbook_is_refused_with_advice() {
    let upload = zip_of(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("xl/workbook.xml", b"<workbook/>"),
        ("xl/worksheets/sheet1.xml", b"<worksheet/>"),
    ]);

    let error = ingest(&upload).expect_err("xlsx");

    assert!(matches!(error, SourceError::Spreadsheet), "{error:?}");
    assert_eq!(error.code(), Some("spreadsheet_not_csv"));
}

#[test]
fn a_truncated_zip_is_corrupt() {
    let mut upload = zip_of(&[("a.csv", CONNECTIONS.as_bytes())]);
    upload.truncate(upload.len() - 30);

    let error = ingest(&upload).expect_err("truncated");

    assert!(matches!(error, SourceError::CorruptZip(_)), "{error:?}");
    assert_eq!(error.code(), Some("corrupt_archive"));
}

#[test]
fn a_zip_with_more_entries_than_allowed_is_refused_before_its_directory_is_read() {
    let names: Vec<String> = (0..20).map(|index| format!("{index}.csv")).collect();
    let entries: Vec<(&str, &[u8])> = names
        .iter()
        .map(|name| (name.as_str(), &b"a\n"[..]))
        .collect();
    let limits = SourceLimits {
        max_archive_entries: 10,
        ..SourceLimits::default()
    };

    let error = ingest_with(zip_of(&entries).as_slice(), &limits).expect_err("too many");

    assert!(
        matches!(error, SourceError::TooManyEntries { limit: 10 }),
        "{error:?}"
    );
}

#[test]
fn a_missing_spool_directory_is_a_spool_failure() {
    let upload = zip_of(&[("a.csv", b"a\n")]);

    let outcome = for_each_csv(
        upload.as_slice(),
        &SourceLimits::default(),
        Path::new("/nonexistent/spool"),
        |_| Ok::<_, io::Error>(()),
    );

    let error = outcome.expect_err("no spool directory");
    assert!(matches!(error, SourceError::Spool(_)), "{error:?}");
    assert_eq!(error.code(), Some("spool_failed"));
}

// --- limits and bombs ------------------------------------------------------

fn zeros(bytes: u64) -> Vec<u8> {
    vec![b'0'; bytes as usize]
}

#[test]
fn a_zip_bomb_is_refused_on_its_declared_size_before_any_source() {
    let upload = zip_of(&[("bomb.csv", &zeros(10 * MIB))]);
    let limits = SourceLimits {
        max_decompressed_bytes: MIB,
        max_compression_ratio: 1_000_000,
        ..SourceLimits::default()
    };

    let (read_bytes, outcome) = count_read(upload.as_slice(), &limits);

    let error = outcome.expect_err("bomb");
    assert!(
        matches!(error, SourceError::TooLarge { what: Measure::Decompressed, limit } if limit == MIB),
        "{error:?}"
    );
    assert_eq!(read_bytes, 0);
    assert_eq!(error.code(), Some("payload_too_large"));
}

#[test]
fn a_zip_bomb_is_refused_on_its_declared_ratio() {
    let upload = zip_of(&[("bomb.csv", &zeros(10 * MIB))]);

    let (read_bytes, outcome) = count_read(upload.as_slice(), &SourceLimits::default());

    let error = outcome.expect_err("bomb");
    assert!(
        matches!(error, SourceError::CompressionRatio { limit: 200 }),
        "{error:?}"
    );
    assert_eq!(read_bytes, 0);
}

#[test]
fn a_zip_entry_that_lies_about_its_size_stops_where_it_declared_it_ends() {
    let mut upload = zip_of(&[("liar.csv", &zeros(10 * MIB))]);
    patch_headers(&mut upload, "liar.csv", 22, 24, &100u32.to_le_bytes());

    let (read_bytes, outcome) = count_read(upload.as_slice(), &SourceLimits::default());

    let error = outcome.expect_err("lying entry");
    assert!(
        matches!(
            error,
            SourceError::CorruptZip(_) | SourceError::TooLarge { .. }
        ),
        "{error:?}"
    );
    assert!(read_bytes <= 2 * MIB, "read {read_bytes} bytes");
}

#[test]
fn a_gzip_bomb_stops_at_the_decompressed_limit() {
    let upload = gzip(&zeros(10 * MIB));
    let limits = SourceLimits {
        max_decompressed_bytes: MIB,
        max_compression_ratio: 1_000_000,
        ..SourceLimits::default()
    };

    let (read_bytes, outcome) = count_read(upload.as_slice(), &limits);

    let error = outcome.expect_err("bomb");
    assert!(
        matches!(error, SourceError::TooLarge { what: Measure::Decompressed, limit } if limit == MIB),
        "{error:?}"
    );
    assert!(read_bytes <= MIB, "read {read_bytes} bytes");
}

#[test]
fn a_gzip_bomb_stops_at_the_compression_ratio() {
    let upload = gzip(&zeros(50 * MIB));

    let (read_bytes, outcome) = count_read(upload.as_slice(), &SourceLimits::default());

    let error = outcome.expect_err("bomb");
    assert!(
        matches!(error, SourceError::CompressionRatio { limit: 200 }),
        "{error:?}"
    );
    assert!(
        read_bytes <= 200 * upload.len() as u64 + 64 * 1024,
        "read {read_bytes} bytes"
    );
    assert!(read_bytes < 20 * MIB);
}

#[test]
fn an_upload_over_the_limit_stops_after_the_limit() {
    let limits = SourceLimits {
        max_upload_bytes: MIB,
        ..SourceLimits::default()
    };

    let (read_bytes, outcome) = count_read(GeneratedCsv::new(3 * MIB), &limits);

    let error = outcome.expect_err("too large");
    assert!(
        matches!(error, SourceError::TooLarge { what: Measure::Upload, limit } if limit == MIB),
        "{error:?}"
    );
    assert!(read_bytes <= MIB);
}

#[test]
fn a_zip_upload_over_the_limit_stops_while_spooling() {
    let upload = zip_of(&[("a.csv", &zeros(MIB))]);
    let limits = SourceLimits {
        max_upload_bytes: 100,
        ..SourceLimits::default()
    };

    let (read_bytes, outcome) = count_read(upload.as_slice(), &limits);

    let error = outcome.expect_err("too large");
    assert!(
        matches!(
            error,
            SourceError::TooLarge {
                what: Measure::Upload,
                limit: 100
            }
        ),
        "{error:?}"
    );
    assert_eq!(read_bytes, 0);
}

// --- errors while the consumer reads ------------------------------------------

#[test]
fn a_broken_upload_is_reported_as_such_not_as_the_consumers_error() {
    let body = CONNECTIONS.repeat(5_000);

    let (_, outcome) = count_read(BrokenAfter(body.as_bytes()), &SourceLimits::default());

    let error = outcome.expect_err("broken");
    assert!(
        matches!(&error, SourceError::UploadRead(cause) if cause.kind() == io::ErrorKind::ConnectionReset),
        "{error:?}"
    );
    assert_eq!(error.code(), Some("upload_interrupted"));
}

#[test]
fn a_fault_is_reported_even_when_the_consumer_swallows_the_read_error() {
    let limits = SourceLimits {
        max_upload_bytes: MIB,
        ..SourceLimits::default()
    };

    let outcome = for_each_csv(
        GeneratedCsv::new(2 * MIB),
        &limits,
        &spool_dir(),
        |mut source| {
            let _ = io::copy(&mut source.text, &mut io::sink());
            Ok::<_, io::Error>(())
        },
    );

    assert!(
        matches!(
            outcome,
            Err(SourceError::TooLarge {
                what: Measure::Upload,
                ..
            })
        ),
        "{outcome:?}"
    );
}

#[test]
fn the_consumers_own_error_stops_everything_and_is_returned() {
    let upload = zip_of(&[("a.csv", b"a\n"), ("b.csv", b"b\n")]);
    let mut calls = 0;

    let outcome = for_each_csv(
        upload.as_slice(),
        &SourceLimits::default(),
        &spool_dir(),
        |_| {
            calls += 1;
            Err("row 2: not a valid e-mail address")
        },
    );

    assert!(matches!(
        outcome,
        Err(SourceError::Consumer("row 2: not a valid e-mail address"))
    ));
    assert_eq!(calls, 1);
}

// --- memory stays flat ----------------------------------------------------------

const STREAMED_BYTES: u64 = 200 * MIB;

#[test]
fn a_200_mib_plain_upload_streams_through() {
    let (read_bytes, outcome) =
        count_read(GeneratedCsv::new(STREAMED_BYTES), &SourceLimits::default());

    let summary = outcome.expect("streamed");
    assert_eq!(
        (read_bytes, summary.bytes_read),
        (STREAMED_BYTES, STREAMED_BYTES)
    );
}

#[test]
fn a_200_mib_gzip_upload_streams_through() {
    let upload = GzEncoder::new(GeneratedCsv::new(STREAMED_BYTES), Compression::fast());

    let (read_bytes, outcome) = count_read(upload, &SourceLimits::default());

    let summary = outcome.expect("streamed");
    assert_eq!(read_bytes, STREAMED_BYTES);
    assert!(summary.bytes_read < STREAMED_BYTES / 5);
}

// --- the fixtures under tests/fixtures ----------------------------------------------

fn fixture(relative: &str) -> Vec<u8> {
    let path = six_testkit::crate_dir()
        .join("tests/fixtures")
        .join(relative);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn only_text(upload: &[u8]) -> (DetectedEncoding, String) {
    let (_, mut seen) = ingest(upload).expect("ingested");
    assert_eq!(seen.len(), 1);
    let source = seen.remove(0);
    (source.encoding, source.text)
}

#[test]
fn every_encoding_fixture_decodes_to_the_utf8_outlook_export() {
    let original = String::from_utf8(fixture("outlook/contacts.csv")).expect("UTF-8 fixture");
    let variants = [
        ("outlook/contacts.csv", DetectedEncoding::Utf8),
        ("encodings/outlook-utf8-bom.csv", DetectedEncoding::Utf8Bom),
        (
            "encodings/outlook-utf16le-bom.csv",
            DetectedEncoding::Utf16Le,
        ),
        (
            "encodings/outlook-utf16be-bom.csv",
            DetectedEncoding::Utf16Be,
        ),
        (
            "encodings/outlook-windows-1252.csv",
            DetectedEncoding::Windows1252,
        ),
    ];
    for (relative, expected) in variants {
        assert_eq!(
            only_text(&fixture(relative)),
            (expected, original.clone()),
            "{relative}"
        );
    }
}

#[test]
fn the_archive_fixtures_hold_the_exports() {
    let linkedin = String::from_utf8(fixture("linkedin/Connections.csv")).expect("UTF-8 fixture");
    let google = String::from_utf8(fixture("google/contacts.csv")).expect("UTF-8 fixture");

    assert_eq!(
        only_text(&fixture("archives/Connections.csv.gz")).1,
        linkedin
    );
    let (summary, seen) = ingest(&fixture("archives/exports.zip")).expect("ingested");
    let sources: Vec<_> = seen
        .iter()
        .map(|source| (source.name.as_deref(), source.text.as_str()))
        .collect();
    assert_eq!(
        sources,
        [
            (Some("Connections.csv"), linkedin.as_str()),
            (Some("google/contacts.csv"), google.as_str())
        ]
    );
    assert_eq!(summary.skipped, [skipped("readme.txt", SkipReason::NotCsv)]);
    let no_csv = ingest(&fixture("archives/no-csv.zip")).expect_err("no CSV");
    assert!(
        matches!(no_csv, SourceError::NoCsvInArchive { .. }),
        "{no_csv:?}"
    );
}

#[test]
fn the_bad_fixtures_fail_where_ingest_can_tell() {
    assert!(matches!(
        ingest(&fixture("bad/empty.csv")),
        Err(SourceError::Empty)
    ));
    assert!(matches!(
        ingest(&fixture("bad/garbage.csv")),
        Err(SourceError::NotText)
    ));
    assert_eq!(
        only_text(&fixture("bad/semicolon.csv")).0,
        DetectedEncoding::Windows1252
    );
    assert_eq!(
        only_text(&fixture("bad/header-only.csv")).0,
        DetectedEncoding::Utf8
    );
    assert_eq!(
        only_text(&fixture("bad/ragged.csv")).0,
        DetectedEncoding::Utf8
    );
}

#[test]
fn every_csv_spectrum_file_comes_through_unchanged() {
    let folder = six_testkit::crate_dir().join("tests/fixtures/csv-spectrum/csvs");
    let mut files = 0;
    for entry in std::fs::read_dir(&folder).expect("csv-spectrum fixtures") {
        let bytes = std::fs::read(entry.expect("directory entry").path()).expect("fixture");
        assert_eq!(only_text(&bytes).1.as_bytes(), bytes.as_slice());
        files += 1;
    }
    assert_eq!(files, 12);
}
