//! CSV records from a text stream, with bounded memory: RFC 4180 parsing by
//! `csv-core` into buffers that never grow past the limits, so a file of one
//! gigabyte-long line costs what a normal file does.
//!
//! A record whose cell is longer than `max_cell_bytes`, or that has more than
//! `max_cells` cells, is read to its end and returned as [`Record::Oversized`]
//! without its content; the next record is read normally. Quoted cells may span
//! lines; a record's line is the line it starts on.

use std::io::{self, Read};

use csv_core::{ReadFieldResult, Reader, ReaderBuilder};

/// Bytes read from the stream at a time.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// Bytes the first read gathers at least: a UTF-8 byte order mark and one more.
const FIRST_FILL_BYTES: usize = 4;

/// One record, or why it could not be kept.
#[derive(Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// The record's cells, in order.
    Cells {
        /// Line of the file the record starts on (the first line is 1).
        line: u64,
        /// The cells.
        cells: Vec<&'a str>,
    },
    /// The record was larger than the limits; its content was dropped.
    Oversized {
        /// Line of the file the record starts on.
        line: u64,
        /// What was too large, for the rejects report.
        reason: String,
    },
}

/// Reads records from UTF-8 text (see the module documentation).
pub struct Records<R> {
    input: R,
    parser: Reader,
    buffer: Box<[u8]>,
    /// Unparsed bytes are `buffer[start..end]`.
    start: usize,
    end: usize,
    eof: bool,
    /// Whether anything was read yet (the first fill is larger).
    filled_once: bool,
    /// The cells of the current record, one after another, and where each ends.
    cell_bytes: Vec<u8>,
    cell_ends: Vec<usize>,
    max_cell_bytes: usize,
    max_cells: usize,
    /// Lines started so far (newlines consumed, plus one).
    line: u64,
}

impl<R: Read> Records<R> {
    /// Records of `input` (UTF-8 text), comma-separated with `"` quotes.
    pub fn new(input: R, max_cell_bytes: usize, max_cells: usize) -> Self {
        Self {
            input,
            parser: ReaderBuilder::new().build(),
            buffer: vec![0; READ_BUFFER_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
            eof: false,
            filled_once: false,
            cell_bytes: Vec::new(),
            cell_ends: Vec::new(),
            max_cell_bytes,
            max_cells,
            line: 1,
        }
    }

    /// The next record; `None` at the end of the text. Empty lines are skipped.
    pub fn next_record(&mut self) -> io::Result<Option<Record<'_>>> {
        self.cell_bytes.clear();
        self.cell_ends.clear();
        let mut oversized: Option<String> = None;
        let mut cell_start = 0;
        let mut record_line = None;
        let mut output = [0_u8; 4096];
        loop {
            if self.start == self.end && !self.eof {
                self.fill()?;
            }
            let input = &self.buffer[self.start..self.end];
            let (result, consumed, written) = self.parser.read_field(input, &mut output);
            if record_line.is_none() {
                // A record starts on the line of its first byte that is not a line
                // break: the parser skips empty lines, which may arrive in several
                // reads.
                let mut line = self.line;
                for byte in &input[..consumed] {
                    match byte {
                        b'\n' => line += 1,
                        b'\r' => {}
                        _ => {
                            record_line = Some(line);
                            break;
                        }
                    }
                }
            }
            self.line += count_newlines(&input[..consumed]);
            self.start += consumed;
            if oversized.is_none() {
                if self.cell_bytes.len() - cell_start + written > self.max_cell_bytes {
                    oversized = Some(format!(
                        "a cell is longer than {} bytes",
                        self.max_cell_bytes
                    ));
                } else {
                    self.cell_bytes.extend_from_slice(&output[..written]);
                }
            }
            match result {
                ReadFieldResult::InputEmpty => {
                    if self.eof {
                        // csv-core wants an empty input to finish the last record.
                        continue;
                    }
                }
                ReadFieldResult::OutputFull => {}
                ReadFieldResult::Field { record_end } => {
                    if oversized.is_none() {
                        if self.cell_ends.len() == self.max_cells {
                            oversized = Some(format!("more than {} cells", self.max_cells));
                        } else {
                            self.cell_ends.push(self.cell_bytes.len());
                        }
                    }
                    cell_start = self.cell_bytes.len();
                    if record_end {
                        let line = record_line.unwrap_or(self.line);
                        return Ok(Some(match oversized {
                            Some(reason) => Record::Oversized { line, reason },
                            None => Record::Cells {
                                line,
                                cells: self.cells()?,
                            },
                        }));
                    }
                }
                ReadFieldResult::End => return Ok(None),
            }
        }
    }

    /// The cells of the current record, each checked to be UTF-8 on its own (the
    /// bytes of all of them together may be valid where one cell is not).
    fn cells(&self) -> io::Result<Vec<&str>> {
        let mut cells = Vec::with_capacity(self.cell_ends.len());
        let mut start = 0;
        for &end in &self.cell_ends {
            let cell = std::str::from_utf8(&self.cell_bytes[start..end])
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
            cells.push(cell);
            start = end;
        }
        Ok(cells)
    }

    /// Reads the next bytes. The first fill gathers at least
    /// [`FIRST_FILL_BYTES`] (or the whole text, if shorter): csv-core strips a
    /// leading byte order mark only when its first input holds all of it.
    fn fill(&mut self) -> io::Result<()> {
        let wanted = if self.filled_once {
            1
        } else {
            FIRST_FILL_BYTES
        };
        self.filled_once = true;
        self.start = 0;
        self.end = 0;
        while self.end < wanted {
            match self.input.read(&mut self.buffer[self.end..]) {
                Ok(0) => break,
                Ok(read) => self.end += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
        self.eof = self.end == 0;
        Ok(())
    }
}

/// One cell as written to a CSV file: quoted, with its quotes doubled, when it
/// holds a comma, a quote or a line break.
pub fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|byte| **byte == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &str, max_cell_bytes: usize, max_cells: usize) -> Vec<String> {
        let mut records = Records::new(text.as_bytes(), max_cell_bytes, max_cells);
        let mut out = Vec::new();
        while let Some(record) = records.next_record().unwrap() {
            out.push(match record {
                Record::Cells { line, cells } => format!("{line}: {}", cells.join("|")),
                Record::Oversized { line, reason } => format!("{line}: oversized: {reason}"),
            });
        }
        out
    }

    #[test]
    fn quoted_cells_commas_quotes_and_newlines_are_read_and_lines_counted() {
        let text = "a,b\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\nlines\",z\r\nlast,row";

        assert_eq!(
            read_all(text, 100, 10),
            [
                "1: a|b",
                "2: x, y|say \"hi\"",
                "3: two\nlines|z",
                "5: last|row"
            ]
        );
    }

    #[test]
    fn empty_lines_are_skipped_and_do_not_shift_line_numbers() {
        assert_eq!(read_all("a\n\n\nb\n", 100, 10), ["1: a", "4: b"]);
    }

    /// Gives `bytes` in reads of the sizes of `sizes`, then one byte at a time.
    struct InReads<'a> {
        bytes: &'a [u8],
        sizes: &'a [usize],
    }

    impl Read for InReads<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            let (size, sizes) = self.sizes.split_first().unwrap_or((&1, &[]));
            self.sizes = sizes;
            let size = (*size).min(buffer.len()).min(self.bytes.len());
            let (given, rest) = self.bytes.split_at(size);
            buffer[..size].copy_from_slice(given);
            self.bytes = rest;
            Ok(size)
        }
    }

    fn read_in(input: InReads<'_>) -> Vec<String> {
        let mut records = Records::new(input, 100, 10);
        let mut out = Vec::new();
        while let Some(record) = records.next_record().unwrap() {
            if let Record::Cells { line, cells } = record {
                out.push(format!("{line}: {}", cells.join("|")));
            }
        }
        out
    }

    // Found by tests/parser_fuzz.rs.
    #[test]
    fn a_blank_line_split_across_reads_still_counts() {
        let one_byte_at_a_time = InReads {
            bytes: b"a\r\n\r\nb",
            sizes: &[],
        };

        assert_eq!(read_in(one_byte_at_a_time), ["1: a", "3: b"]);
    }

    // Found by tests/parser_fuzz.rs: csv-core strips a byte order mark only when
    // its first input holds all of it, and a first input of only the mark left it
    // with nothing, which it took for the end of the text.
    #[test]
    fn a_leading_bom_is_stripped_whatever_the_reads() {
        for sizes in [&[][..], &[3, 100][..], &[100][..]] {
            let input = InReads {
                bytes: "\u{feff}a,b\n".as_bytes(),
                sizes,
            };

            assert_eq!(read_in(input), ["1: a|b"], "reads of {sizes:?}");
        }
    }

    // Found by tests/parser_fuzz.rs: the cells together are valid UTF-8 (C3 A9 is
    // `é`), each alone is not.
    #[test]
    fn invalid_utf8_split_by_a_comma_is_an_error_not_a_panic() {
        let mut records = Records::new(&b"\xC3,\xA9\n"[..], 4096, 200);

        let error = records.next_record().expect_err("not UTF-8");

        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn an_oversized_cell_drops_only_its_record() {
        let long = "x".repeat(50_000);
        let text = format!("a,b\n{long},c\nd,e\n");

        assert_eq!(
            read_all(&text, 1_000, 10),
            [
                "1: a|b",
                "2: oversized: a cell is longer than 1000 bytes",
                "3: d|e"
            ]
        );
    }

    #[test]
    fn too_many_cells_drop_only_their_record() {
        assert_eq!(
            read_all("a,b\n1,2,3,4\nc,d", 100, 3),
            ["1: a|b", "2: oversized: more than 3 cells", "3: c|d"]
        );
    }

    #[test]
    fn a_line_of_many_megabytes_streams_through_in_bounded_memory() {
        /// One line of `remaining` bytes of `x`, generated as it is read.
        struct OneLongLine {
            remaining: u64,
        }
        impl Read for OneLongLine {
            fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
                let n = buffer.len().min(self.remaining as usize);
                buffer[..n].fill(b'x');
                self.remaining -= n as u64;
                Ok(n)
            }
        }
        let mut records = Records::new(OneLongLine { remaining: 1 << 30 }, 1 << 20, 100);

        let record = records.next_record().unwrap();

        assert!(
            matches!(record, Some(Record::Oversized { line: 1, .. })),
            "{record:?}"
        );
        assert!(records.cell_bytes.capacity() <= 2 << 20);
        assert_eq!(records.next_record().unwrap(), None);
    }
}
