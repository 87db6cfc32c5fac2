//! Free text: names, companies, titles, locations.
//!
//! Rules of [`clean`]:
//! - every run of Unicode white space (`White_Space`: ASCII blanks, tabs and line
//!   breaks, no-break spaces, ideographic space, line/paragraph separators...)
//!   becomes one ASCII space, and leading and trailing white space goes;
//! - other control characters (`Cc`) are dropped, and so are invisible formatting
//!   characters that only ever get into exports by accident or malice: the byte
//!   order mark, zero-width space, word joiner, soft hyphen and the bidirectional
//!   embedding, override, isolate and mark characters (a right-to-left override in
//!   a name could disguise it). Zero-width (non-)joiners stay: Persian, Indic
//!   scripts and emoji need them;
//! - the result is in Unicode Normalization Form C, so "é" typed on macOS (`e` and
//!   a combining accent) and on Windows (one character) compare equal;
//! - nothing else changes: letters of every script, case, punctuation and emoji are
//!   kept as they are.
//!
//! Limits: no compatibility folding (NFKC would turn "ﬁ" into "fi" but also change
//! meaning elsewhere), no case changes, no length limit.

use unicode_normalization::UnicodeNormalization;

/// Cleans one cell of free text; `None` when nothing is left.
///
/// The output has no leading, trailing or doubled white space, only ASCII spaces
/// as white space, no control characters, and is NFC. Idempotent.
pub fn clean(raw: &str) -> Option<String> {
    let mut collapsed = String::with_capacity(raw.len());
    let mut pending_space = false;
    for c in raw.chars() {
        if c.is_whitespace() {
            pending_space = true;
        } else if c.is_control() || is_invisible_format(c) {
            // Dropped without separating its neighbours: "Ja\u{200B}ne" is "Jane".
        } else {
            if pending_space && !collapsed.is_empty() {
                collapsed.push(' ');
            }
            pending_space = false;
            collapsed.push(c);
        }
    }
    if collapsed.is_empty() {
        return None;
    }
    if collapsed.is_ascii() {
        // ASCII is already NFC; most cells of most exports are ASCII.
        return Some(collapsed);
    }
    Some(collapsed.nfc().collect())
}

/// Whether `c` is an invisible formatting character that [`clean`] drops.
pub(crate) fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' // soft hyphen
            | '\u{061C}' // Arabic letter mark
            | '\u{180E}' // Mongolian vowel separator
            | '\u{200B}' // zero-width space
            | '\u{200E}'..='\u{200F}' // left-to-right and right-to-left marks
            | '\u{202A}'..='\u{202E}' // bidirectional embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidirectional isolates
            | '\u{FEFF}' // byte order mark, zero-width no-break space
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_realistic_cells() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Jane Doe", Some("Jane Doe")),
            ("  Jane   Doe  ", Some("Jane Doe")),
            ("Jane\tDoe\r\n", Some("Jane Doe")),
            ("Jane\u{00A0}Doe", Some("Jane Doe")),
            ("\u{FEFF}Jane", Some("Jane")),
            ("Ja\u{200B}ne", Some("Jane")),
            ("Jane\u{0000}\u{0007}Doe", Some("JaneDoe")),
            ("Acme\u{3000}Corp", Some("Acme Corp")),
            ("line one\u{2028}line two", Some("line one line two")),
            ("Zoe\u{0308}", Some("Zoë")),
            ("José", Some("José")),
            ("山田 太郎", Some("山田 太郎")),
            ("محمد علي", Some("محمد علي")),
            ("Ελένη Παπαδοπούλου", Some("Ελένη Παπαδοπούλου")),
            ("می\u{200C}خواهم", Some("می\u{200C}خواهم")),
            ("evil\u{202E}gnp.exe", Some("evilgnp.exe")),
            ("👩\u{200D}💻 engineer", Some("👩\u{200D}💻 engineer")),
            ("", None),
            ("   \t\n", None),
            ("\u{FEFF}\u{200B}", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(clean(raw).as_deref(), *expected, "clean({raw:?})");
        }
    }

    #[test]
    fn keeps_case_and_punctuation() {
        assert_eq!(
            clean("O'BRIEN-smith, Jr.").as_deref(),
            Some("O'BRIEN-smith, Jr.")
        );
    }
}
