//! The `csv-spectrum` acid test (npm package, version 2.0.0, in
//! `tests/fixtures/csv-spectrum/`): every `csvs/NAME.csv`, read by
//! [`Records`] with its first record as the header, gives exactly the objects of
//! `json/NAME.json`.
//!
//! Each file is also checked for what the JSON cannot say: the line each record
//! starts on, and that reading the file one byte at a time changes nothing.
//!
//! One file of the package, `location_coordinates`, needs care, each point checked
//! rather than skipped:
//!
//! - its JSON is one object, not an array of one (upstream issue
//!   max-mapper/csv-spectrum#22); it is compared as the file's only record, and
//!   only that file may do so (see [`SINGLE_OBJECT`]);
//! - its JSON says `Contact Phone Number` is `1234567890` where the CSV holds
//!   `2095257564` (upstream issue max-mapper/csv-spectrum#20, fix proposed in #23):
//!   no parser can produce the JSON's value. [`ERRATA`] corrects the expectation,
//!   after checking that the JSON still holds the wrong value, so a fixed package
//!   fails this test until the erratum is removed;
//! - its CSV has `"` inside unquoted cells (`37�36'37.8"N`), which RFC 4180 §2.5
//!   does not allow; csv-core keeps such a quote as a literal character, which is
//!   what the JSON expects. Its `�` are U+FFFD in the package's own bytes (most
//!   likely degree signs lost before publication), so the file is valid UTF-8.

use std::{
    collections::BTreeSet,
    io::{self, Read},
    path::PathBuf,
};

use importer::records::{Record, Records};
use serde_json::{Map, Value};

/// The production defaults (`IMPORTER_MAX_CELL_BYTES`, `IMPORTER_MAX_COLUMNS`):
/// far above anything in the package.
const MAX_CELL_BYTES: usize = 4096;
const MAX_CELLS: usize = 200;

/// Every CSV of the package; [`the_fixture_directory_holds_exactly_these_files`]
/// keeps this list and the directory in step.
const FILES: &[&str] = &[
    "comma_in_quotes",
    "empty",
    "empty_crlf",
    "escaped_quotes",
    "json",
    "location_coordinates",
    "newlines",
    "newlines_crlf",
    "quotes_and_newlines",
    "simple",
    "simple_crlf",
    "utf8",
];

/// The one file whose JSON is a single object rather than an array.
const SINGLE_OBJECT: &str = "location_coordinates";

/// A value the package's JSON gets wrong: in `file`, record `record` (0-based,
/// after the header), `column` is `json_says` in the JSON and `csv_holds` in the
/// CSV's bytes.
struct Erratum {
    file: &'static str,
    record: usize,
    column: &'static str,
    json_says: &'static str,
    csv_holds: &'static str,
}

/// Every known mistake of the package's JSON (see the module documentation).
const ERRATA: &[Erratum] = &[Erratum {
    file: "location_coordinates",
    record: 0,
    column: "Contact Phone Number",
    json_says: "1234567890",
    csv_holds: "2095257564",
}];

fn spectrum_dir() -> PathBuf {
    six_testkit::crate_dir().join("tests/fixtures/csv-spectrum")
}

fn read_fixture(relative: &str) -> Vec<u8> {
    let path = spectrum_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A record as read, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ReadRecord {
    line: u64,
    cells: Vec<String>,
}

/// Every record of `input`; panics on an oversized record or a read error, which
/// no file of the package may cause.
fn read_records(name: &str, input: impl Read) -> Vec<ReadRecord> {
    let mut records = Records::new(input, MAX_CELL_BYTES, MAX_CELLS);
    let mut out = Vec::new();
    loop {
        match records.next_record() {
            Ok(Some(Record::Cells { line, cells })) => out.push(ReadRecord {
                line,
                cells: cells.into_iter().map(str::to_owned).collect(),
            }),
            Ok(Some(oversized @ Record::Oversized { .. })) => {
                panic!("{name}.csv: unexpected {oversized:?}")
            }
            Ok(None) => return out,
            Err(error) => panic!("{name}.csv: read error {error}"),
        }
    }
}

/// The records of `json/NAME.json`: an array of objects of strings (or, for
/// [`SINGLE_OBJECT`] only, one such object), with its [`ERRATA`] corrected.
fn expected_records(name: &str) -> Vec<Map<String, Value>> {
    let bytes = read_fixture(&format!("json/{name}.json"));
    let json: Value =
        serde_json::from_slice(&bytes).unwrap_or_else(|error| panic!("json/{name}.json: {error}"));
    let objects = match json {
        Value::Array(items) => items,
        object @ Value::Object(_) if name == SINGLE_OBJECT => vec![object],
        other => panic!("json/{name}.json: expected an array of objects, found {other}"),
    };
    let mut records: Vec<Map<String, Value>> = objects
        .into_iter()
        .map(|item| match item {
            Value::Object(object) => {
                for (key, value) in &object {
                    assert!(
                        value.is_string(),
                        "json/{name}.json: {key} is not a string: {value}"
                    );
                }
                object
            }
            other => panic!("json/{name}.json: expected an object, found {other}"),
        })
        .collect();
    for erratum in ERRATA.iter().filter(|erratum| erratum.file == name) {
        let value = records
            .get_mut(erratum.record)
            .and_then(|record| record.get_mut(erratum.column))
            .unwrap_or_else(|| {
                panic!(
                    "json/{name}.json: no {} in record {}",
                    erratum.column, erratum.record
                )
            });
        assert_eq!(
            *value, erratum.json_says,
            "json/{name}.json no longer has the erratum on {}: remove it from ERRATA",
            erratum.column
        );
        *value = Value::String(erratum.csv_holds.to_owned());
    }
    records
}

/// Reads `csvs/NAME.csv` whole and checks its data records against the JSON.
fn assert_parses_to_its_json(name: &str) {
    let records = read_records(name, read_fixture(&format!("csvs/{name}.csv")).as_slice());
    let expected = expected_records(name);

    let (header, rows) = records
        .split_first()
        .unwrap_or_else(|| panic!("{name}.csv: no header record"));
    let distinct: BTreeSet<&String> = header.cells.iter().collect();
    assert_eq!(
        distinct.len(),
        header.cells.len(),
        "{name}.csv: duplicate header cells {:?}",
        header.cells
    );
    let actual: Vec<Map<String, Value>> = rows
        .iter()
        .map(|row| {
            assert_eq!(
                row.cells.len(),
                header.cells.len(),
                "{name}.csv line {}: {:?} against header {:?}",
                row.line,
                row.cells,
                header.cells
            );
            header
                .cells
                .iter()
                .zip(&row.cells)
                .map(|(key, cell)| (key.clone(), Value::String(cell.clone())))
                .collect()
        })
        .collect();
    assert_eq!(actual, expected, "{name}.csv against json/{name}.json");
}

/// Checks that each record of `csvs/NAME.csv` starts on the right line. None of the
/// package's files has blank lines, so a record starts one line after the previous
/// one ended: the previous record's line, plus the line breaks inside its cells
/// (quoted cells keep them as written), plus its own terminator.
fn assert_records_start_on_their_lines(name: &str) {
    let records = read_records(name, read_fixture(&format!("csvs/{name}.csv")).as_slice());

    let mut expected_line = 1;
    for record in &records {
        assert_eq!(
            record.line, expected_line,
            "{name}.csv: the record {:?}",
            record.cells
        );
        let breaks_inside: u64 = record
            .cells
            .iter()
            .map(|cell| cell.matches('\n').count() as u64)
            .sum();
        expected_line += breaks_inside + 1;
    }
}

/// Gives at most one byte per read.
struct OneByteAtATime<'a>(&'a [u8]);

impl Read for OneByteAtATime<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let Some((first, rest)) = self.0.split_first() else {
            return Ok(0);
        };
        let Some(slot) = buffer.first_mut() else {
            return Ok(0);
        };
        *slot = *first;
        self.0 = rest;
        Ok(1)
    }
}

/// Checks that `csvs/NAME.csv` read one byte per `read` call gives the same
/// records, lines included, as read whole: every CRLF, `""` and multi-byte
/// character is split across reads somewhere.
fn assert_reads_the_same_one_byte_at_a_time(name: &str) {
    let bytes = read_fixture(&format!("csvs/{name}.csv"));

    let whole = read_records(name, bytes.as_slice());
    let trickled = read_records(name, OneByteAtATime(&bytes));

    assert_eq!(trickled, whole, "{name}.csv");
}

/// One test per file and check, named after the file.
macro_rules! spectrum_tests {
    ($($name:ident),* $(,)?) => {
        mod every_file_parses_to_its_json {
            $(#[test] fn $name() { super::assert_parses_to_its_json(stringify!($name)); })*
        }
        mod every_record_starts_on_its_line {
            $(#[test] fn $name() { super::assert_records_start_on_their_lines(stringify!($name)); })*
        }
        mod every_file_reads_the_same_one_byte_at_a_time {
            $(#[test] fn $name() { super::assert_reads_the_same_one_byte_at_a_time(stringify!($name)); })*
        }
        #[test]
        fn the_tests_cover_every_listed_file() {
            assert_eq!([$(stringify!($name)),*], FILES);
        }
    };
}

spectrum_tests!(
    comma_in_quotes,
    empty,
    empty_crlf,
    escaped_quotes,
    json,
    location_coordinates,
    newlines,
    newlines_crlf,
    quotes_and_newlines,
    simple,
    simple_crlf,
    utf8,
);

#[test]
fn the_fixture_directory_holds_exactly_these_files() {
    let names_in = |directory: &str, extension: &str| -> BTreeSet<String> {
        let path = spectrum_dir().join(directory);
        std::fs::read_dir(&path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
            .map(|entry| {
                let entry = entry.unwrap_or_else(|error| panic!("{}: {error}", path.display()));
                entry.file_name().to_string_lossy().into_owned()
            })
            .map(|file| {
                file.strip_suffix(extension)
                    .unwrap_or_else(|| panic!("{directory}/{file}: not a {extension} file"))
                    .to_owned()
            })
            .collect()
    };
    let listed: BTreeSet<String> = FILES.iter().map(|name| (*name).to_owned()).collect();

    assert_eq!(names_in("csvs", ".csv"), listed);
    assert_eq!(names_in("json", ".json"), listed);
}
