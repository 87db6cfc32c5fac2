//! Fuzzing the row parser on stable Rust: property tests whose inputs are built to
//! hit the parser's edges (quotes, `""`, every line ending, byte order marks,
//! multi-byte and invalid UTF-8, NUL, very long runs, known headers followed by
//! fuzzed rows), run through the public API: [`Records`], [`formats::recognise`],
//! [`rows::read_row`] and the whole [`read_upload`] pipeline.
//!
//! cargo-fuzz needs nightly; these run wherever `cargo test` does, briefly in CI
//! (proptest's default of 256 cases per property, a few seconds in debug).
//!
//! Run longer, for example before a release or after touching `records.rs`,
//! `formats.rs`, `rows.rs` or `normalise/`:
//!
//! ```sh
//! PROPTEST_CASES=100000 cargo test --release --test parser_fuzz
//! ```
//!
//! A failure prints the smallest input proptest could shrink it to and a `cc` line
//! (the seed of the failing case), which is also saved in
//! `tests/parser_fuzz.proptest-regressions` and replayed first on every later run
//! on that machine. To reproduce a CI failure, add its `cc` line to that file. Fix
//! the bug with the input as a plain unit test beside the code it broke; the file
//! need not be committed (the bugs found so far are unit tests in
//! `src/records.rs`).

use std::{
    collections::HashMap,
    io::{self, Read, Write},
};

use importer::{
    formats::{self, ColumnMap, Field, MAX_PREAMBLE_RECORDS, Requested},
    ingest::SourceLimits,
    jobs::pipeline::{Chunk, Halted, ReadError, ReadLimits, read_upload},
    normalise::{date::DateOrder, phone::Region},
    records::{Record, Records},
    rows::{self, RowRules},
};
use proptest::{
    prelude::*,
    test_runner::{FileFailurePersistence, TestCaseError},
};
use six_events::importer::ImportFormat;

/// proptest's defaults (256 cases, or `PROPTEST_CASES`), with failures saved in
/// `tests/parser_fuzz.proptest-regressions` (proptest cannot place them beside a
/// `lib.rs` for an integration test).
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------
// Inputs

/// Byte sequences that matter to a CSV parser, an encoding sniffer or a normaliser.
const FRAGMENTS: &[&[u8]] = &[
    b"\"",
    b"\"\"",
    b",",
    b"\r\n",
    b"\n",
    b"\r",
    b"\n\n",
    b" ",
    b"\t",
    b"\0",
    b"\xEF\xBB\xBF", // UTF-8 byte order mark
    b"\xFF\xFE",     // UTF-16 LE byte order mark
    b"\xFE\xFF",     // UTF-16 BE byte order mark
    b"\xC3",         // a UTF-8 sequence cut short
    b"\xA9",         // a lone continuation byte
    b"\xE9",         // Windows-1252 `e` acute
    "é".as_bytes(),
    "e\u{301}".as_bytes(), // `e` and a combining acute accent
    "€".as_bytes(),
    "🚀".as_bytes(),
    "\u{FFFD}".as_bytes(),
    "\u{200B}".as_bytes(),
    "\u{2028}".as_bytes(),
    "\u{A0}".as_bytes(),
    b"a",
    b"Ada",
    b"Lovelace",
    b"Acme, Inc.",
    b"ada@example.org",
    b"ADA@Example.ORG; bob@example.org",
    b"https://uk.linkedin.com/in/Ada-L/?trk=x",
    b"ftp://example.org",
    b"21 Nov 2023",
    b"2023-11-21",
    b"11/21/2023",
    b"+44 7911 123456",
    b"(415) 555-0132",
    b"=cmd",
];

fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(FRAGMENTS).prop_map(<[u8]>::to_vec)
}

/// CSV-ish bytes: fragments, a few arbitrary bytes, and now and then a run of one
/// fragment thousands of times long (past csv-core's 4 KiB output buffer and the
/// cell limits).
fn csv_ish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        12 => fragment(),
        3 => prop::collection::vec(any::<u8>(), 0..8),
        1 => (fragment(), 1..5_000_usize).prop_map(|(fragment, times)| fragment.repeat(times)),
    ];
    prop::collection::vec(piece, 0..48).prop_map(|pieces| pieces.concat())
}

/// Any bytes: arbitrary, or CSV-ish.
fn any_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..512),
        3 => csv_ish_bytes(),
    ]
}

/// Text as the ingest layer hands it to the parser: valid UTF-8, with U+FFFD where
/// the bytes were not text.
fn any_text() -> impl Strategy<Value = String> {
    any_bytes().prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// One cell's value: plausible, or assembled from fragments, or long.
fn cell_value() -> impl Strategy<Value = String> {
    let assembled = prop::collection::vec(fragment(), 0..5)
        .prop_map(|pieces| String::from_utf8_lossy(&pieces.concat()).into_owned());
    prop_oneof![
        6 => assembled,
        1 => Just(String::new()),
        1 => (prop::sample::select(&["x", "é", " ", "\"", "a@b.c "][..]), 1..300_usize)
            .prop_map(|(text, times)| text.repeat(times)),
    ]
}

/// `value` as written in a CSV file: quoted when it must be or when `quote` says
/// so, or raw when `raw` says so (which makes malformed CSV out of values holding
/// quotes, commas or line breaks).
fn written_cell(value: &str, quote: bool, raw: bool) -> String {
    let needs_quotes = value.contains([',', '"', '\n', '\r']);
    if raw {
        value.to_owned()
    } else if quote || needs_quotes {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// One row of `columns` cells most of the time, any count otherwise, with its
/// line ending (sometimes none, sometimes a blank line after it).
fn row(columns: usize) -> impl Strategy<Value = String> {
    let cells = prop_oneof![
        5 => prop::collection::vec((cell_value(), any::<bool>(), prop::bool::weighted(0.05)), columns),
        1 => prop::collection::vec((cell_value(), any::<bool>(), prop::bool::weighted(0.05)), 0..12),
    ];
    let ending = prop::sample::select(&["\n", "\r\n", "\r", "\n\n", "\r\n\r\n", ""][..]);
    (cells, ending).prop_map(|(cells, ending)| {
        let written: Vec<String> = cells
            .iter()
            .map(|(value, quote, raw)| written_cell(value, *quote, *raw))
            .collect();
        format!("{}{ending}", written.join(","))
    })
}

/// The header of each export the importer recognises (a subset of their columns).
const HEADERS: &[(ImportFormat, &[&str])] = &[
    (
        ImportFormat::Linkedin,
        &[
            "First Name",
            "Last Name",
            "URL",
            "Email Address",
            "Company",
            "Position",
            "Connected On",
        ],
    ),
    (
        ImportFormat::Outlook,
        &[
            "First Name",
            "Middle Name",
            "Last Name",
            "E-mail Address",
            "E-mail 2 Address",
            "Mobile Phone",
            "Company",
            "Job Title",
            "Business City",
            "Web Page",
            "Notes",
        ],
    ),
    (
        ImportFormat::Google,
        &[
            "First Name",
            "Last Name",
            "E-mail 1 - Value",
            "E-mail 2 - Value",
            "Phone 1 - Value",
            "Organization Name",
            "Organization Title",
            "Address 1 - Formatted",
        ],
    ),
];

/// LinkedIn's notes before its header, as its export writes them.
const LINKEDIN_NOTES: &str = "Notes:\n\"When exporting your connection data, you may notice that some of the email addresses are missing. You will only see email addresses for connections who have allowed their connections to see or download their email address using this setting https://www.linkedin.com/psettings/privacy/email. You can learn more here https://www.linkedin.com/help/linkedin/answer/261\"\n\n";

/// A file of a known format: its header (columns shuffled, case and spacing
/// changed, sometimes a byte order mark or LinkedIn's notes first), then fuzzed
/// rows and, now and then, CSV-ish noise.
#[derive(Debug, Clone)]
struct KnownFile {
    format: ImportFormat,
    columns: usize,
    text: String,
}

fn known_file() -> impl Strategy<Value = KnownFile> {
    prop::sample::select(HEADERS).prop_flat_map(|(format, header)| {
        let columns = header.len();
        let header = Just(header.to_vec())
            .prop_shuffle()
            .prop_flat_map(|cells| {
                let styles = prop::collection::vec(0..4_u8, cells.len());
                (Just(cells), styles)
            })
            .prop_map(|(cells, styles)| {
                cells
                    .iter()
                    .zip(styles)
                    .map(|(cell, style)| match style {
                        0 => cell.to_lowercase(),
                        1 => format!(" {} ", cell.replace(' ', "  ")),
                        2 => format!("\"{cell}\""),
                        _ => (*cell).to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            });
        let rows = prop::collection::vec(prop_oneof![8 => row(columns), 1 => any_text()], 0..24);
        (
            header,
            any::<bool>(),
            any::<bool>(),
            prop::sample::select(&["\n", "\r\n"][..]),
            rows,
        )
            .prop_map(move |(header, bom, notes, ending, rows)| {
                let mut text = String::new();
                if bom {
                    text.push('\u{FEFF}');
                }
                if notes && format == ImportFormat::Linkedin {
                    text.push_str(LINKEDIN_NOTES);
                }
                text.push_str(&header);
                text.push_str(ending);
                text.push_str(&rows.concat());
                KnownFile {
                    format,
                    columns,
                    text,
                }
            })
    })
}

fn any_rules() -> impl Strategy<Value = RowRules> {
    let region = prop::option::of(
        prop::sample::select(&["GB", "US", "DE", "FR", "IN"][..])
            .prop_map(|code| Region::parse(code).expect("a known region")),
    );
    let order = prop_oneof![Just(DateOrder::DayFirst), Just(DateOrder::MonthFirst)];
    let max_field_chars = prop_oneof![1 => 1..40_usize, 3 => Just(500_usize)];
    (region, order, max_field_chars).prop_map(|(default_region, date_order, max_field_chars)| {
        RowRules {
            default_region,
            date_order,
            max_field_chars,
        }
    })
}

/// Cell limits: tight ones (most records hit them) or the production defaults.
fn any_cell_limits() -> impl Strategy<Value = (usize, usize)> {
    prop_oneof![(1..64_usize, 1..16_usize), Just((4096, 200))]
}

/// How a [`Trickle`] hands its bytes out: each step gives that many bytes, or
/// fails with `Interrupted` (which readers must retry).
#[derive(Debug, Clone, Copy)]
enum Step {
    Give(usize),
    Interrupt,
}

/// Steps of 1 to N bytes, N itself random, ending in a `Give` so reading always
/// makes progress.
fn any_steps() -> impl Strategy<Value = Vec<Step>> {
    prop_oneof![3 => 1..8_usize, 2 => 8..300_usize, 1 => 300..100_000_usize].prop_flat_map(|most| {
        let step = prop_oneof![
            9 => (1..=most).prop_map(Step::Give),
            1 => Just(Step::Interrupt),
        ];
        (prop::collection::vec(step, 0..16), 1..=most).prop_map(|(mut steps, last)| {
            steps.push(Step::Give(last));
            steps
        })
    })
}

/// A reader that hands `bytes` out in the sizes of `steps`, over and over.
struct Trickle<'a> {
    bytes: &'a [u8],
    steps: &'a [Step],
    next: usize,
}

impl<'a> Trickle<'a> {
    fn new(bytes: &'a [u8], steps: &'a [Step]) -> Self {
        assert!(
            matches!(steps.last(), Some(Step::Give(_))),
            "steps must make progress"
        );
        Self {
            bytes,
            steps,
            next: 0,
        }
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let step = self.steps[self.next % self.steps.len()];
        self.next += 1;
        let size = match step {
            Step::Interrupt => return Err(io::ErrorKind::Interrupted.into()),
            Step::Give(size) => size,
        };
        let size = size.min(buffer.len()).min(self.bytes.len());
        let (given, rest) = self.bytes.split_at(size);
        buffer[..size].copy_from_slice(given);
        self.bytes = rest;
        Ok(size)
    }
}

// ---------------------------------------------------------------------------------
// Reading records

/// One call to `next_record`, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Cells { line: u64, cells: Vec<String> },
    Oversized { line: u64, reason: String },
    Failed(io::ErrorKind),
}

/// Every record of `input` up to the end or the first error, failing the case if
/// there are more records than `input_len + 1` (the reader is not terminating).
fn read_outcomes(
    input: impl Read,
    input_len: usize,
    (max_cell_bytes, max_cells): (usize, usize),
) -> Result<Vec<Outcome>, TestCaseError> {
    let mut records = Records::new(input, max_cell_bytes, max_cells);
    let mut outcomes = Vec::new();
    loop {
        prop_assert!(
            outcomes.len() <= input_len + 1,
            "more records than input bytes + 1: {} records from {input_len} bytes",
            outcomes.len()
        );
        let outcome = match records.next_record() {
            Ok(None) => return Ok(outcomes),
            Ok(Some(Record::Cells { line, cells })) => Outcome::Cells {
                line,
                cells: cells.into_iter().map(str::to_owned).collect(),
            },
            Ok(Some(Record::Oversized { line, reason })) => Outcome::Oversized { line, reason },
            Err(error) => {
                outcomes.push(Outcome::Failed(error.kind()));
                return Ok(outcomes);
            }
        };
        outcomes.push(outcome);
    }
}

/// What every reading must respect, whatever the input.
fn check_outcomes(
    outcomes: &[Outcome],
    input: &[u8],
    (max_cell_bytes, max_cells): (usize, usize),
) -> Result<(), TestCaseError> {
    let last_line = input.iter().filter(|byte| **byte == b'\n').count() as u64 + 1;
    let mut previous_line = 1;
    for outcome in outcomes {
        let line = match outcome {
            Outcome::Cells { line, cells } => {
                prop_assert!(cells.len() <= max_cells, "{} cells", cells.len());
                for cell in cells {
                    prop_assert!(cell.len() <= max_cell_bytes, "a cell of {}", cell.len());
                }
                *line
            }
            Outcome::Oversized { line, reason } => {
                prop_assert!(!reason.is_empty());
                *line
            }
            Outcome::Failed(_) => continue,
        };
        prop_assert!(
            line >= previous_line,
            "line {line} after line {previous_line}"
        );
        prop_assert!(line <= last_line, "line {line} of a {last_line}-line input");
        previous_line = line;
    }
    Ok(())
}

/// A code fit for a rejects report and an API: lowercase ASCII and `_`.
fn is_stable_code(code: &str) -> bool {
    !code.is_empty()
        && code
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte == b'_')
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_reads_into_bounded_records_on_non_decreasing_lines(
        text in any_text(),
        limits in any_cell_limits(),
    ) {
        let outcomes = read_outcomes(text.as_bytes(), text.len(), limits)?;

        check_outcomes(&outcomes, text.as_bytes(), limits)?;
        prop_assert!(
            !outcomes.iter().any(|outcome| matches!(outcome, Outcome::Failed(_))),
            "UTF-8 text gave a read error: {outcomes:?}"
        );
    }

    #[test]
    fn any_text_reads_the_same_in_any_sizes_of_reads(
        text in any_text(),
        steps in any_steps(),
        limits in any_cell_limits(),
    ) {
        let bytes = text.as_bytes();

        let whole = read_outcomes(bytes, bytes.len(), limits)?;
        let trickled = read_outcomes(Trickle::new(bytes, &steps), bytes.len(), limits)?;

        prop_assert_eq!(trickled, whole);
    }

    /// The reader expects UTF-8 (ingest sees to it), but it has an error for
    /// anything else and must not panic on it.
    #[test]
    fn any_bytes_read_into_bounded_records_or_an_error_without_panicking(
        bytes in any_bytes(),
        steps in any_steps(),
        limits in any_cell_limits(),
    ) {
        let whole = read_outcomes(bytes.as_slice(), bytes.len(), limits)?;
        let trickled = read_outcomes(Trickle::new(&bytes, &steps), bytes.len(), limits)?;

        check_outcomes(&whole, &bytes, limits)?;
        prop_assert_eq!(trickled, whole);
    }
}

// ---------------------------------------------------------------------------------
// Headers and rows

/// The header and data records of `text`, as the pipeline finds them: the header
/// among the first records (LinkedIn's notes come before it), then every record.
fn header_and_rows(
    text: &str,
    requested: &Requested,
) -> Result<(Option<ColumnMap>, Vec<Outcome>), TestCaseError> {
    let outcomes = read_outcomes(text.as_bytes(), text.len(), (4096, 200))?;
    for (index, outcome) in outcomes.iter().enumerate().take(MAX_PREAMBLE_RECORDS + 1) {
        let Outcome::Cells { cells, .. } = outcome else {
            continue;
        };
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        if let Some(map) = formats::recognise(&cells, requested).ok().flatten() {
            return Ok((Some(map), outcomes[index + 1..].to_vec()));
        }
    }
    Ok((None, outcomes))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_record_as_a_header_is_recognised_or_not_without_panicking(
        text in any_text(),
        requested in prop_oneof![
            Just(Requested::Detect),
            Just(Requested::Format(ImportFormat::Linkedin)),
            Just(Requested::Mapping(HashMap::from([
                ("First Name".to_owned(), Field::FirstName),
                ("\u{FEFF}e-mail".to_owned(), Field::Email),
            ]))),
        ],
    ) {
        let outcomes = read_outcomes(text.as_bytes(), text.len(), (4096, 200))?;

        for outcome in &outcomes {
            if let Outcome::Cells { cells, .. } = outcome {
                let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
                if let Ok(Some(map)) = formats::recognise(&cells, &requested) {
                    prop_assert_eq!(map.header.len(), cells.len());
                    prop_assert_eq!(map.fields.len(), cells.len());
                }
            }
        }
    }

    #[test]
    fn every_row_of_a_known_format_is_a_named_contact_or_coded_problems(
        file in known_file(),
        rules in any_rules(),
    ) {
        let (map, rows) = header_and_rows(&file.text, &Requested::Detect)?;

        let map = map.ok_or_else(|| TestCaseError::fail("the header was not recognised"))?;
        prop_assert_eq!(map.format, file.format);
        prop_assert_eq!(map.header.len(), file.columns);
        for row in &rows {
            let Outcome::Cells { line, cells } = row else {
                continue;
            };
            let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
            match rows::read_row(&cells, &map, &rules) {
                Ok(contact) => {
                    prop_assert!(!contact.full_name.is_empty(), "line {}: {:?}", line, contact);
                    prop_assert_eq!(contact.full_name.trim(), contact.full_name.as_str());
                    prop_assert!(!contact.identities().is_empty());
                }
                Err(problems) => {
                    prop_assert!(!problems.is_empty(), "line {}: no problems", line);
                    for problem in &problems {
                        prop_assert!(is_stable_code(problem.code), "code {:?}", problem.code);
                        prop_assert!(!problem.reason.is_empty());
                        if let Some(column) = &problem.column {
                            prop_assert!(map.header.contains(column), "column {:?}", column);
                        }
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// The whole pipeline

/// An upload as it reaches the spool: plain, or gzip-compressed.
fn any_upload() -> impl Strategy<Value = Vec<u8>> {
    let content = prop_oneof![
        3 => known_file().prop_map(|file| file.text.into_bytes()),
        1 => any_bytes(),
    ];
    (content, prop::bool::weighted(0.2)).prop_map(|(bytes, gzip)| {
        if !gzip {
            return bytes;
        }
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&bytes).expect("gzip into memory");
        encoder.finish().expect("gzip into memory")
    })
}

fn any_requested() -> impl Strategy<Value = Requested> {
    prop_oneof![
        4 => Just(Requested::Detect),
        1 => Just(Requested::Format(ImportFormat::Linkedin)),
        1 => Just(Requested::Mapping(HashMap::from([
            ("first name".to_owned(), Field::FirstName),
            ("Company".to_owned(), Field::Company),
        ]))),
    ]
}

fn any_read_limits() -> impl Strategy<Value = ReadLimits> {
    (1..40_u64, any_cell_limits(), 1..8_usize).prop_map(
        |(max_rows, (max_cell_bytes, max_columns), chunk_rows)| ReadLimits {
            source: SourceLimits::default(),
            max_rows,
            max_cell_bytes,
            max_columns,
            chunk_rows,
        },
    )
}

/// What one reading of an upload delivered, and how it ended.
#[derive(Debug)]
struct Reading {
    chunks: Vec<Chunk>,
    ended: Result<(), &'static str>,
}

/// Reads `upload` (written to a spool file) through [`read_upload`], keeping every
/// chunk; `halt_after` chunks, the consumer stops the reading.
fn read_through_pipeline(
    upload: &[u8],
    requested: &Requested,
    rules: &RowRules,
    limits: &ReadLimits,
    skip_rows: u64,
    halt_after: Option<usize>,
) -> Reading {
    let spool = tempfile::tempdir().expect("a spool directory");
    let path = spool.path().join("upload");
    std::fs::write(&path, upload).expect("the upload written");
    let mut chunks = Vec::new();
    let result = read_upload(&path, requested, rules, limits, skip_rows, |chunk| {
        chunks.push(chunk);
        match halt_after {
            Some(halt_after) if chunks.len() >= halt_after => Err(Halted),
            _ => Ok(()),
        }
    });
    Reading {
        chunks,
        ended: result.map(drop).map_err(|error: ReadError| error.code()),
    }
}

fn rows_of(reading: &Reading) -> u64 {
    reading.chunks.iter().map(|chunk| chunk.rows).sum()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_pipeline_delivers_every_row_once_as_a_contact_or_a_reject(
        upload in any_upload(),
        requested in any_requested(),
        rules in any_rules(),
        limits in any_read_limits(),
    ) {
        let reading = read_through_pipeline(&upload, &requested, &rules, &limits, 0, None);

        if let Err(code) = reading.ended {
            prop_assert!(is_stable_code(code), "failure code {:?}", code);
        }
        prop_assert!(rows_of(&reading) <= limits.max_rows);
        let chunk_count = reading.chunks.len();
        for (index, chunk) in reading.chunks.iter().enumerate() {
            prop_assert_eq!(
                chunk.rows,
                (chunk.contacts.len() + chunk.rejects.len()) as u64,
                "chunk {}", index
            );
            prop_assert!(chunk.rows >= 1, "an empty chunk {}", index);
            if index + 1 < chunk_count {
                prop_assert_eq!(chunk.rows, limits.chunk_rows as u64, "chunk {}", index);
            } else {
                prop_assert!(chunk.rows <= limits.chunk_rows as u64);
            }
            for contact in &chunk.contacts {
                prop_assert!(!contact.full_name.is_empty(), "{:?}", contact);
            }
            let mut previous_line = 0;
            for reject in &chunk.rejects {
                prop_assert!(reject.line >= 1.max(previous_line), "line {}", reject.line);
                previous_line = reject.line;
                prop_assert!(!reject.problems.is_empty(), "line {}", reject.line);
                for problem in &reject.problems {
                    prop_assert!(is_stable_code(problem.code), "code {:?}", problem.code);
                }
            }
        }
    }

    #[test]
    fn a_resumed_reading_delivers_exactly_the_rows_after_those_skipped(
        upload in any_upload(),
        requested in any_requested(),
        rules in any_rules(),
        limits in any_read_limits(),
        skip_rows in 0..12_u64,
    ) {
        let whole = read_through_pipeline(&upload, &requested, &rules, &limits, 0, None);
        let resumed = read_through_pipeline(&upload, &requested, &rules, &limits, skip_rows, None);

        prop_assert_eq!(resumed.ended, whole.ended);
        if whole.ended.is_err() {
            // Rows of an unfinished chunk are never delivered, and the chunks of a
            // resumed reading start elsewhere: only the failure must be the same.
            return Ok(());
        }
        prop_assert_eq!(rows_of(&resumed), rows_of(&whole).saturating_sub(skip_rows));
        let contacts = |reading: &Reading| -> Vec<_> {
            reading.chunks.iter().flat_map(|chunk| chunk.contacts.clone()).collect()
        };
        let rejects = |reading: &Reading| -> Vec<_> {
            reading.chunks.iter().flat_map(|chunk| chunk.rejects.clone()).collect()
        };
        let (all_contacts, later_contacts) = (contacts(&whole), contacts(&resumed));
        let (all_rejects, later_rejects) = (rejects(&whole), rejects(&resumed));
        prop_assert!(all_contacts.ends_with(&later_contacts));
        prop_assert!(all_rejects.ends_with(&later_rejects));
    }

    #[test]
    fn a_consumer_that_stops_the_reading_gets_no_further_chunk(
        upload in any_upload(),
        rules in any_rules(),
        limits in any_read_limits(),
        halt_after in 1..4_usize,
    ) {
        let whole = read_through_pipeline(&upload, &Requested::Detect, &rules, &limits, 0, None);
        let halted =
            read_through_pipeline(&upload, &Requested::Detect, &rules, &limits, 0, Some(halt_after));

        if whole.chunks.len() >= halt_after {
            prop_assert_eq!(halted.chunks.len(), halt_after);
            prop_assert_eq!(halted.ended, Err("stopped"));
        } else {
            prop_assert_eq!(halted.chunks.len(), whole.chunks.len());
            prop_assert_eq!(halted.ended, whole.ended);
        }
    }
}
