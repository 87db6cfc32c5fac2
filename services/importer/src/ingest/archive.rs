//! Zip archives: spooled to a temporary file (their directory is at the end), checked
//! on what they declare, then each CSV entry streamed through the limits.

use std::{
    borrow::Cow,
    fs::File,
    io::{self, BufReader, Read, Seek, SeekFrom, Write},
    path::Path,
    rc::Rc,
};

use zip::{CompressionMethod, ZipArchive, result::ZipError};

use super::{
    container::{CsvSource, SkipReason, SkippedEntry, fault_or, hand_over},
    encoding::{self, Opened},
    error::SourceError,
    limits::{Expansion, Measure, OutputMeter, SourceLimits, Tally},
};

/// Extensions of archives that are listed as nested archives, never opened.
const NESTED_ARCHIVE_EXTENSIONS: [&str; 10] = [
    "zip", "gz", "tgz", "tar", "7z", "rar", "bz2", "xz", "zst", "jar",
];

/// Entries whose presence, without any CSV file, marks an Excel workbook.
const WORKBOOK_ENTRIES: [&str; 2] = ["xl/workbook.xml", "xl/workbook.bin"];

/// The copy buffer used while spooling the upload to disk.
const SPOOL_BUFFER_BYTES: usize = 64 * 1024;

/// One entry of the archive's directory, as far as reading it goes.
struct Entry {
    index: usize,
    name: String,
    kind: Kind,
    declared_bytes: u64,
    compressed_bytes: u64,
}

/// What is done with an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Folders and macOS metadata: not content, not mentioned.
    Ignored,
    /// Listed in the summary, not read.
    Skipped(SkipReason),
    /// A CSV file, read.
    Csv,
}

/// Spools `upload` (a zip archive) to disk and hands `each` its CSV entries in
/// archive order. Returns how many were handed over and what was skipped.
pub(super) fn for_each_entry<E>(
    upload: impl Read,
    limits: &SourceLimits,
    spool_dir: &Path,
    tally: &Rc<Tally>,
    each: &mut impl FnMut(CsvSource<'_>) -> Result<(), E>,
) -> Result<(usize, Vec<SkippedEntry>), SourceError<E>> {
    let mut spooled = spool(upload, spool_dir, tally)?;
    let entry_limit = limits.max_archive_entries;
    if declared_entry_count(&mut spooled).map_err(SourceError::Spool)? > entry_limit {
        return Err(SourceError::TooManyEntries { limit: entry_limit });
    }
    let mut archive = ZipArchive::new(BufReader::new(spooled)).map_err(SourceError::CorruptZip)?;
    if archive.len() as u64 > entry_limit {
        return Err(SourceError::TooManyEntries { limit: entry_limit });
    }
    let entries = (0..archive.len())
        .map(|index| describe(&archive, index))
        .collect::<Result<Vec<_>, _>>()
        .map_err(SourceError::CorruptZip)?;
    check_declared_sizes(&entries, limits, tally.upload_bytes())?;

    let mut sources = 0;
    let mut skipped = Vec::new();
    for entry in entries {
        let reason = match entry.kind {
            Kind::Ignored => continue,
            Kind::Skipped(reason) => reason,
            Kind::Csv => {
                let file = archive
                    .by_index(entry.index)
                    .map_err(SourceError::CorruptZip)?;
                let expansion = Expansion::OfEntry {
                    compressed_bytes: entry.compressed_bytes,
                };
                let stream = OutputMeter::new(file, *limits, expansion, tally.clone());
                match encoding::open_text(stream) {
                    Ok(Opened::Text(text)) => {
                        let source = CsvSource {
                            name: Some(entry.name),
                            encoding: text.encoding(),
                            text: Box::new(text),
                        };
                        hand_over(source, tally, true, each)?;
                        sources += 1;
                        continue;
                    }
                    Ok(Opened::Empty) => SkipReason::Empty,
                    Ok(Opened::Binary) => SkipReason::NotText,
                    Err(error) => return Err(fault_or(tally, error, true)),
                }
            }
        };
        tracing::debug!(entry = %entry.name, reason = reason.code(), "zip entry skipped");
        skipped.push(SkippedEntry {
            name: entry.name,
            reason,
        });
    }
    if sources == 0 {
        return Err(SourceError::NoCsvInArchive { skipped });
    }
    Ok((sources, skipped))
}

/// Copies the upload into an anonymous temporary file, which the operating system
/// removes once it is closed, and rewinds it.
fn spool<E>(
    mut upload: impl Read,
    spool_dir: &Path,
    tally: &Tally,
) -> Result<File, SourceError<E>> {
    let mut spooled = tempfile::tempfile_in(spool_dir).map_err(SourceError::Spool)?;
    let mut buffer = vec![0; SPOOL_BUFFER_BYTES];
    loop {
        let count = match upload.read(&mut buffer) {
            Ok(0) => break,
            Ok(count) => count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(fault_or(tally, error, true)),
        };
        spooled
            .write_all(&buffer[..count])
            .map_err(SourceError::Spool)?;
    }
    spooled.rewind().map_err(SourceError::Spool)?;
    Ok(spooled)
}

/// The largest entry count declared by any end-of-central-directory record (zip64
/// included) that a reader could pick at the end of the file.
///
/// The zip crate holds the whole directory in memory; this bounds it before the
/// directory is parsed. It is a guard, not a parser: a record it misses is one the
/// zip crate does not find either, or else the count is checked again after parsing.
fn declared_entry_count(file: &mut File) -> io::Result<u64> {
    const END_SIGNATURE: &[u8] = b"PK\x05\x06";
    const END_RECORD_BYTES: usize = 22;
    const ZIP64_LOCATOR_SIGNATURE: &[u8] = b"PK\x06\x07";
    const ZIP64_LOCATOR_BYTES: usize = 20;
    const TAIL_BYTES: u64 = (ZIP64_LOCATOR_BYTES + END_RECORD_BYTES + u16::MAX as usize) as u64;

    let file_bytes = file.seek(SeekFrom::End(0))?;
    let tail_bytes = file_bytes.min(TAIL_BYTES);
    file.seek(SeekFrom::Start(file_bytes - tail_bytes))?;
    let mut tail = Vec::new();
    Read::take(&mut *file, tail_bytes).read_to_end(&mut tail)?;

    let mut most = 0;
    for at in 0..(tail.len() + 1).saturating_sub(END_RECORD_BYTES) {
        if &tail[at..at + 4] != END_SIGNATURE {
            continue;
        }
        most = most.max(u64::from(u16_at(&tail, at + 10)));
        let Some(locator) = at.checked_sub(ZIP64_LOCATOR_BYTES) else {
            continue;
        };
        if &tail[locator..locator + 4] == ZIP64_LOCATOR_SIGNATURE {
            let record_offset = u64_at(&tail, locator + 8);
            most = most.max(zip64_entry_count(file, record_offset)?.unwrap_or(0));
        }
    }
    Ok(most)
}

/// The total entry count of the zip64 end-of-central-directory record at `offset`,
/// if there is one there.
fn zip64_entry_count(file: &mut File, offset: u64) -> io::Result<Option<u64>> {
    const SIGNATURE: &[u8] = b"PK\x06\x06";
    const BYTES: u64 = 40;
    let file_bytes = file.seek(SeekFrom::End(0))?;
    if offset.saturating_add(BYTES) > file_bytes {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(offset))?;
    let mut record = [0; BYTES as usize];
    file.read_exact(&mut record)?;
    Ok((&record[..4] == SIGNATURE).then(|| u64_at(&record, 32)))
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut le = [0; 8];
    le.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(le)
}

fn describe<R: Read + Seek>(archive: &ZipArchive<R>, index: usize) -> Result<Entry, ZipError> {
    let entry = archive.by_index_data(index)?;
    let name = entry.name().map_or_else(
        |_| String::from_utf8_lossy(entry.name_raw()).into_owned(),
        Cow::into_owned,
    );
    let kind = classify(
        &name,
        entry.is_dir(),
        entry.encrypted(),
        entry.compression(),
    );
    Ok(Entry {
        index,
        name,
        kind,
        declared_bytes: entry.size(),
        compressed_bytes: entry.compressed_size(),
    })
}

/// Decides from its directory record what is done with an entry.
fn classify(name: &str, is_dir: bool, encrypted: bool, compression: CompressionMethod) -> Kind {
    let mut components = name.split(['/', '\\']);
    let file_name = components.next_back().unwrap_or(name);
    let macos_metadata = file_name.starts_with("._")
        || file_name == ".DS_Store"
        || name
            .split(['/', '\\'])
            .any(|component| component == "__MACOSX");
    if is_dir || file_name.is_empty() || macos_metadata {
        return Kind::Ignored;
    }
    let extension = file_name
        .rsplit_once('.')
        .map(|(_, extension)| extension.to_ascii_lowercase());
    match extension.as_deref() {
        Some("csv") => {}
        Some(extension) if NESTED_ARCHIVE_EXTENSIONS.contains(&extension) => {
            return Kind::Skipped(SkipReason::NestedArchive);
        }
        _ => return Kind::Skipped(SkipReason::NotCsv),
    }
    if encrypted {
        return Kind::Skipped(SkipReason::Encrypted);
    }
    if !matches!(
        compression,
        CompressionMethod::Stored | CompressionMethod::Deflated
    ) {
        return Kind::Skipped(SkipReason::UnsupportedCompression);
    }
    Kind::Csv
}

/// Refuses the archive on what its directory declares, before any entry is read:
/// a bomb is then refused before the first of its rows is imported.
fn check_declared_sizes<E>(
    entries: &[Entry],
    limits: &SourceLimits,
    upload_bytes: u64,
) -> Result<(), SourceError<E>> {
    let csv_entries = entries.iter().filter(|entry| entry.kind == Kind::Csv);
    let ratio_exceeded = SourceError::CompressionRatio {
        limit: limits.max_compression_ratio,
    };
    let mut declared_total: u64 = 0;
    let mut any_csv = false;
    for entry in csv_entries {
        any_csv = true;
        if entry.declared_bytes > limits.allowed_expansion(entry.compressed_bytes) {
            return Err(ratio_exceeded);
        }
        declared_total = declared_total.saturating_add(entry.declared_bytes);
    }
    if declared_total > limits.max_decompressed_bytes {
        return Err(SourceError::TooLarge {
            what: Measure::Decompressed,
            limit: limits.max_decompressed_bytes,
        });
    }
    if declared_total > limits.allowed_expansion(upload_bytes) {
        return Err(ratio_exceeded);
    }
    if any_csv {
        return Ok(());
    }
    if entries
        .iter()
        .any(|entry| WORKBOOK_ENTRIES.contains(&entry.name.as_str()))
    {
        return Err(SourceError::Spreadsheet);
    }
    let skipped = entries
        .iter()
        .filter_map(|entry| match entry.kind {
            Kind::Skipped(reason) => Some(SkippedEntry {
                name: entry.name.clone(),
                reason,
            }),
            Kind::Ignored | Kind::Csv => None,
        })
        .collect();
    Err(SourceError::NoCsvInArchive { skipped })
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use zip::{ZipWriter, write::SimpleFileOptions};

    use super::*;

    const DEFLATED: CompressionMethod = CompressionMethod::Deflated;

    #[test]
    fn csv_files_are_read_whatever_the_case_of_their_extension() {
        for name in ["Connections.csv", "export/contacts.CSV", "a.b.Csv"] {
            assert_eq!(classify(name, false, false, DEFLATED), Kind::Csv, "{name}");
        }
        assert_eq!(
            classify("raw.csv", false, false, CompressionMethod::Stored),
            Kind::Csv
        );
    }

    #[test]
    fn folders_and_macos_metadata_are_ignored() {
        for name in [
            "export/",
            "__MACOSX/._Connections.csv",
            "export/__MACOSX/x.csv",
            "._x.csv",
            ".DS_Store",
        ] {
            assert_eq!(
                classify(name, name.ends_with('/'), false, DEFLATED),
                Kind::Ignored,
                "{name}"
            );
        }
    }

    #[test]
    fn other_files_are_skipped_with_a_reason() {
        let cases = [
            ("readme.txt", false, DEFLATED, SkipReason::NotCsv),
            ("csv", false, DEFLATED, SkipReason::NotCsv),
            ("old/export.ZIP", false, DEFLATED, SkipReason::NestedArchive),
            (
                "contacts.csv.gz",
                false,
                DEFLATED,
                SkipReason::NestedArchive,
            ),
            ("secret.csv", true, DEFLATED, SkipReason::Encrypted),
            (
                "packed.csv",
                false,
                CompressionMethod::BZIP2,
                SkipReason::UnsupportedCompression,
            ),
        ];
        for (name, encrypted, compression, reason) in cases {
            assert_eq!(
                classify(name, false, encrypted, compression),
                Kind::Skipped(reason),
                "{name}"
            );
        }
    }

    fn spooled(bytes: &[u8]) -> File {
        let mut file = tempfile::tempfile().expect("temporary file");
        file.write_all(bytes).expect("write temporary file");
        file
    }

    fn zip_with_entries(count: usize) -> Vec<u8> {
        let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
        for index in 0..count {
            writer
                .start_file(format!("{index}.txt"), SimpleFileOptions::default())
                .expect("start entry");
        }
        writer.finish().expect("finish zip").into_inner()
    }

    #[test]
    fn the_declared_entry_count_is_read_before_the_directory_is_parsed() {
        let mut file = spooled(&zip_with_entries(3));
        assert_eq!(declared_entry_count(&mut file).expect("read spool"), 3);
    }

    #[test]
    fn a_forged_entry_count_is_seen_even_in_a_short_file() {
        let mut forged = b"PK\x05\x06\0\0\0\0".to_vec();
        forged.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
        forged.extend_from_slice(&[0; 10]);
        let mut file = spooled(&forged);

        assert_eq!(declared_entry_count(&mut file).expect("read spool"), 0xFFFF);
    }

    #[test]
    fn a_file_without_an_end_record_declares_no_entries() {
        let mut file = spooled(b"PK\x03\x04 not really a zip");
        assert_eq!(declared_entry_count(&mut file).expect("read spool"), 0);
    }
}
