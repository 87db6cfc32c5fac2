//! Turns the bytes of one CSV file into UTF-8, whatever encoding the exporter chose.
//!
//! Detection looks at the first [`SNIFF_BYTES`] only, so memory stays flat:
//!
//! 1. A byte order mark decides: UTF-8 (stripped), UTF-16 LE or BE (transcoded).
//! 2. Without one, NUL bytes mean UTF-16 when they sit in every other byte (ASCII text
//!    in UTF-16 without a BOM), and binary data otherwise (nothing a CSV file holds).
//! 3. Valid UTF-8 (a sequence cut by the end of the window counts as valid) is UTF-8.
//! 4. Text that is mostly UTF-8, with far more valid multi-byte sequences than broken
//!    ones, is still UTF-8: a few damaged bytes must not turn every accent of the file
//!    into mojibake.
//! 5. Anything else is Windows-1252, Excel's "CSV" encoding on Western Windows, which
//!    maps every byte to a character.
//!
//! Bytes that are not valid in the detected encoding, including invalid UTF-8 after
//! the window of a file detected as UTF-8, become U+FFFD REPLACEMENT CHARACTER: the
//! row keeps its other fields, the bad bytes never pass through, and whoever parses
//! the row can still see (and reject) a field holding U+FFFD.

use std::io::{self, Chain, Cursor, Read};

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};
use encoding_rs_io::{DecodeReaderBytes, DecodeReaderBytesBuilder};

/// How many bytes at the start of a stream decide its encoding.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// How many leading bytes the UTF-16-without-BOM check looks at.
const UTF16_SNIFF_BYTES: usize = 4 * 1024;

/// The encoding a CSV file was found to be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectedEncoding {
    /// UTF-8 without a byte order mark (plain ASCII included).
    Utf8,
    /// UTF-8 with a byte order mark, as Excel's "CSV UTF-8" writes it.
    Utf8Bom,
    /// UTF-16 little-endian, with a byte order mark or recognised without one.
    Utf16Le,
    /// UTF-16 big-endian, with a byte order mark or recognised without one.
    Utf16Be,
    /// Windows-1252 (what WHATWG also calls ISO-8859-1): the fallback for 8-bit text.
    Windows1252,
}

impl DetectedEncoding {
    /// A stable lowercase name for logs, reports and the import record.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Utf8 => "utf-8",
            Self::Utf8Bom => "utf-8-bom",
            Self::Utf16Le => "utf-16le",
            Self::Utf16Be => "utf-16be",
            Self::Windows1252 => "windows-1252",
        }
    }

    fn encoding(self) -> &'static Encoding {
        match self {
            Self::Utf8 | Self::Utf8Bom => UTF_8,
            Self::Utf16Le => UTF_16LE,
            Self::Utf16Be => UTF_16BE,
            Self::Windows1252 => WINDOWS_1252,
        }
    }
}

impl std::fmt::Display for DetectedEncoding {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// What the first bytes of a stream say it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// Text in this encoding.
    Text(DetectedEncoding),
    /// Nothing at all, or only a byte order mark.
    Empty,
    /// Binary data: NUL bytes that are not UTF-16.
    Binary,
}

/// Classifies a stream from its first bytes: all of it when shorter than
/// [`SNIFF_BYTES`], otherwise its first [`SNIFF_BYTES`].
pub fn sniff(prefix: &[u8]) -> Sniffed {
    let (bom_encoding, bom_len) = match prefix {
        [0xEF, 0xBB, 0xBF, ..] => (Some(DetectedEncoding::Utf8Bom), 3),
        [0xFF, 0xFE, ..] => (Some(DetectedEncoding::Utf16Le), 2),
        [0xFE, 0xFF, ..] => (Some(DetectedEncoding::Utf16Be), 2),
        _ => (None, 0),
    };
    let body = &prefix[bom_len..];
    if body.is_empty() {
        return Sniffed::Empty;
    }
    match bom_encoding {
        Some(DetectedEncoding::Utf8Bom) if body.contains(&0) => Sniffed::Binary,
        Some(encoding) => Sniffed::Text(encoding),
        None if body.contains(&0) => utf16_without_bom(body).map_or(Sniffed::Binary, Sniffed::Text),
        None if is_mostly_utf8(body) => Sniffed::Text(DetectedEncoding::Utf8),
        None => Sniffed::Text(DetectedEncoding::Windows1252),
    }
}

/// Recognises UTF-16 text without a byte order mark by where its NUL bytes sit: in
/// CSV exports most code units are ASCII, so one byte of each pair is zero, always
/// the same one, and the other almost never is.
fn utf16_without_bom(body: &[u8]) -> Option<DetectedEncoding> {
    let window = &body[..body.len().min(UTF16_SNIFF_BYTES)];
    let units = window.len() / 2;
    if units < 2 {
        return None;
    }
    let (mut zero_low, mut zero_high) = (0usize, 0usize);
    for unit in window.chunks_exact(2) {
        zero_low += usize::from(unit[0] == 0);
        zero_high += usize::from(unit[1] == 0);
    }
    // At least 30% of the units are ASCII; a NUL in the other byte of a pair is a
    // real U+0000 or U+xx00 character, which stays under 5% of the units.
    let mostly_ascii = |zeros: usize| zeros * 10 >= units * 3;
    let rarely = |zeros: usize| zeros * 20 < units;
    if mostly_ascii(zero_high) && rarely(zero_low) {
        Some(DetectedEncoding::Utf16Le)
    } else if mostly_ascii(zero_low) && rarely(zero_high) {
        Some(DetectedEncoding::Utf16Be)
    } else {
        None
    }
}

/// Whether `body` is UTF-8, allowing a sequence cut by the end of the window and,
/// in text with many accented characters, a few damaged bytes.
fn is_mostly_utf8(body: &[u8]) -> bool {
    match std::str::from_utf8(body) {
        Ok(_) => return true,
        // Valid up to an incomplete sequence at the very end: cut by the window.
        Err(error) if error.error_len().is_none() => return true,
        Err(_) => {}
    }
    let (mut multibyte, mut invalid) = (0usize, 0usize);
    for chunk in body.utf8_chunks() {
        multibyte += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        invalid += usize::from(!chunk.invalid().is_empty());
    }
    // Windows-1252 accents are single high bytes next to ASCII: they form invalid
    // UTF-8 and almost never a valid multi-byte sequence.
    multibyte >= 4 * invalid
}

/// A UTF-8 view of a byte stream, produced by [`open_text`].
///
/// Reading yields valid UTF-8 only, without a byte order mark; bytes invalid in the
/// detected encoding come out as U+FFFD. Memory: the sniffed window plus a small
/// transcoding buffer, whatever the stream's length.
pub struct Utf8Text<R: Read> {
    encoding: DetectedEncoding,
    decoder: DecodeReaderBytes<Chain<Cursor<Vec<u8>>, R>, Vec<u8>>,
}

impl<R: Read> Utf8Text<R> {
    /// The encoding the stream was detected to be in.
    pub fn encoding(&self) -> DetectedEncoding {
        self.encoding
    }
}

impl<R: Read> Read for Utf8Text<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.decoder.read(buf)
    }
}

impl<R: Read> std::fmt::Debug for Utf8Text<R> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Utf8Text")
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

/// What [`open_text`] found at the start of a stream.
#[derive(Debug)]
pub enum Opened<R: Read> {
    /// Text, readable as UTF-8.
    Text(Utf8Text<R>),
    /// Nothing, or only a byte order mark.
    Empty,
    /// Binary data, not a CSV file.
    Binary,
}

/// Reads the first [`SNIFF_BYTES`] of `inner` to detect its encoding, and returns a
/// reader that yields the whole stream (those bytes included) as UTF-8.
///
/// Errors are `inner`'s own read errors.
pub fn open_text<R: Read>(mut inner: R) -> io::Result<Opened<R>> {
    let mut prefix = Vec::with_capacity(SNIFF_BYTES);
    (&mut inner)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut prefix)?;
    let encoding = match sniff(&prefix) {
        Sniffed::Text(encoding) => encoding,
        Sniffed::Empty => return Ok(Opened::Empty),
        Sniffed::Binary => return Ok(Opened::Binary),
    };
    // An explicit encoding turns off encoding_rs_io's own BOM sniffing; the decoder
    // still removes a BOM of that encoding, so none reaches the caller.
    let decoder = DecodeReaderBytesBuilder::new()
        .encoding(Some(encoding.encoding()))
        .build(Cursor::new(prefix).chain(inner));
    Ok(Opened::Text(Utf8Text { encoding, decoder }))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn decode(bytes: &[u8]) -> (DetectedEncoding, String) {
        let Opened::Text(mut text) = open_text(bytes).expect("in-memory read") else {
            panic!("expected text");
        };
        let mut decoded = String::new();
        text.read_to_string(&mut decoded).expect("valid UTF-8 out");
        (text.encoding(), decoded)
    }

    fn utf16(text: &str, little_endian: bool, bom: bool) -> Vec<u8> {
        let units = bom.then_some(0xFEFF).into_iter().chain(text.encode_utf16());
        units
            .flat_map(|unit| {
                if little_endian {
                    unit.to_le_bytes()
                } else {
                    unit.to_be_bytes()
                }
            })
            .collect()
    }

    const SAMPLE: &str = "First Name,Last Name\r\nZoë,Müller\r\nJosé,\"Núñez, Jr.\"\r\n";

    #[test]
    fn plain_ascii_is_utf8_passed_through() {
        let (encoding, text) = decode(b"a,b\n1,2\n");
        assert_eq!(
            (encoding, text.as_str()),
            (DetectedEncoding::Utf8, "a,b\n1,2\n")
        );
    }

    #[test]
    fn utf8_without_bom_keeps_its_accents() {
        assert_eq!(
            decode(SAMPLE.as_bytes()),
            (DetectedEncoding::Utf8, SAMPLE.to_owned())
        );
    }

    #[test]
    fn utf8_bom_is_detected_and_stripped() {
        let bytes = [b"\xEF\xBB\xBF".as_slice(), SAMPLE.as_bytes()].concat();
        assert_eq!(
            decode(&bytes),
            (DetectedEncoding::Utf8Bom, SAMPLE.to_owned())
        );
    }

    #[test]
    fn utf16_le_with_bom_is_transcoded() {
        let bytes = utf16(SAMPLE, true, true);
        assert_eq!(
            decode(&bytes),
            (DetectedEncoding::Utf16Le, SAMPLE.to_owned())
        );
    }

    #[test]
    fn utf16_be_with_bom_is_transcoded() {
        let bytes = utf16(SAMPLE, false, true);
        assert_eq!(
            decode(&bytes),
            (DetectedEncoding::Utf16Be, SAMPLE.to_owned())
        );
    }

    #[test]
    fn utf16_without_bom_is_recognised_by_its_nul_bytes() {
        assert_eq!(
            decode(&utf16(SAMPLE, true, false)).0,
            DetectedEncoding::Utf16Le
        );
        assert_eq!(
            decode(&utf16(SAMPLE, false, false)),
            (DetectedEncoding::Utf16Be, SAMPLE.to_owned())
        );
    }

    #[test]
    fn windows_1252_is_transcoded_with_euro_and_accents() {
        let (bytes, _, unmappable) = WINDOWS_1252.encode("Name,Price\r\nRenée Müller,5 €\r\n");
        assert!(!unmappable);
        let (encoding, text) = decode(&bytes);
        assert_eq!(encoding, DetectedEncoding::Windows1252);
        assert_eq!(text, "Name,Price\r\nRenée Müller,5 €\r\n");
    }

    #[test]
    fn a_utf8_sequence_cut_by_the_sniff_window_is_still_utf8() {
        let mut bytes = vec![b'a'; SNIFF_BYTES - 1];
        bytes.extend_from_slice("é,ü\n".as_bytes()); // 'é' straddles the window's end
        let (encoding, text) = decode(&bytes);
        assert_eq!(encoding, DetectedEncoding::Utf8);
        assert!(text.ends_with("aé,ü\n"));
    }

    #[test]
    fn invalid_utf8_after_the_sniff_window_becomes_replacement_characters() {
        let mut bytes = vec![b'a'; SNIFF_BYTES];
        bytes.extend_from_slice(b"\n\xFF\xFEbad,row\nnext,row\n");
        let (encoding, text) = decode(&bytes);
        assert_eq!(encoding, DetectedEncoding::Utf8);
        assert!(text.ends_with("\n\u{FFFD}\u{FFFD}bad,row\nnext,row\n"));
    }

    #[test]
    fn a_few_broken_bytes_in_accented_utf8_keep_it_utf8() {
        let bytes = [SAMPLE.as_bytes(), b"Bad,\xE9\n", SAMPLE.as_bytes()].concat();
        let (encoding, text) = decode(&bytes);
        assert_eq!(encoding, DetectedEncoding::Utf8);
        assert!(text.contains("Bad,\u{FFFD}\n") && text.contains("Zoë"));
    }

    #[test]
    fn an_empty_stream_or_a_lone_bom_is_empty() {
        for bytes in [&b""[..], b"\xEF\xBB\xBF", b"\xFF\xFE", b"\xFE\xFF"] {
            assert!(matches!(open_text(bytes), Ok(Opened::Empty)), "{bytes:?}");
        }
    }

    #[test]
    fn nul_bytes_that_are_not_utf16_are_binary() {
        let garbage: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert!(garbage.contains(&0));
        assert!(matches!(open_text(garbage.as_slice()), Ok(Opened::Binary)));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Sniffed::Binary);
    }

    #[test]
    fn detected_encoding_names_are_stable() {
        let names = [
            DetectedEncoding::Utf8,
            DetectedEncoding::Utf8Bom,
            DetectedEncoding::Utf16Le,
            DetectedEncoding::Utf16Be,
            DetectedEncoding::Windows1252,
        ]
        .map(DetectedEncoding::as_str);
        assert_eq!(
            names,
            ["utf-8", "utf-8-bom", "utf-16le", "utf-16be", "windows-1252"]
        );
    }

    /// Reads in pieces of the given sizes, to exercise the decoder's buffer edges.
    struct Dribble<'a> {
        bytes: &'a [u8],
        sizes: Vec<usize>,
        next: usize,
    }

    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let size = self.sizes[self.next % self.sizes.len()]
                .min(buf.len())
                .min(self.bytes.len());
            self.next += 1;
            buf[..size].copy_from_slice(&self.bytes[..size]);
            self.bytes = &self.bytes[size..];
            Ok(size)
        }
    }

    proptest! {
        #[test]
        fn any_utf8_text_comes_out_unchanged_however_it_is_chunked(
            text in "\\PC{0,300}",
            sizes in proptest::collection::vec(1usize..20, 1..8),
        ) {
            prop_assume!(!text.contains('\0'));
            let reader = Dribble { bytes: text.as_bytes(), sizes, next: 0 };
            let mut decoded = String::new();
            match open_text(reader).expect("in-memory read") {
                Opened::Text(mut utf8) => { utf8.read_to_string(&mut decoded).expect("valid UTF-8"); }
                Opened::Empty => prop_assert!(text.is_empty() || text == "\u{FEFF}", "taken for empty"),
                Opened::Binary => prop_assert!(false, "text taken for binary"),
            }
            let without_bom = text.strip_prefix('\u{FEFF}').unwrap_or(&text);
            prop_assert_eq!(decoded.as_str(), without_bom);
        }

        #[test]
        fn any_bytes_come_out_as_valid_utf8(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Opened::Text(mut utf8) = open_text(bytes.as_slice()).expect("in-memory read") {
                let mut decoded = Vec::new();
                utf8.read_to_end(&mut decoded).expect("in-memory read");
                prop_assert!(std::str::from_utf8(&decoded).is_ok());
            }
        }
    }
}
