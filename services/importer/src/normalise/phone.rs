//! Phone numbers, to E.164 (`+447400123456`).
//!
//! Rules of [`normalise`]:
//! - accepted decorations: spaces (any Unicode white space), `-` and other dashes,
//!   `.`, `/`, parentheses, a `tel:` prefix; digits may be ASCII, full-width or
//!   Arabic-Indic;
//! - a number starting with `+` or `00` is international and needs no region. Any
//!   other number is national and is read in the default [`Region`] (chosen by the
//!   user or inferred from the file); without one it is refused as
//!   `phone_needs_country`: guessing a country would merge strangers in identity
//!   resolution. A national number may start with its region's own international
//!   prefix (`011 44 20...` read as US);
//! - extensions are dropped, because E.164 has no place for them: `x123`,
//!   `ext 123`, `ext. 123`, `extension 123`, `#123`, `;ext=123`, and dial pauses
//!   (`,` or `;` followed by digits). An extension must be digits only;
//! - the number must be *valid* for its country in libphonenumber's metadata (the
//!   `phonenumber` crate), not merely of plausible length, so typos and fillers
//!   (`000000`, `+1 555 555 5555`) are refused rather than stored as identities.
//!
//! Limits: vanity numbers with letters (`1-800-FLOWERS`) are refused; a national
//! trunk prefix written in brackets after the country code (`+44 (0)20...`) is
//! dropped or kept as the country's rules say (dropped for the UK, kept for Italy).
//! Validity follows the metadata compiled into the crate, so numbers in ranges
//! opened after its release are refused until the crate is updated.

use std::{fmt, str::FromStr};

use phonenumber::{Mode, country::Id, metadata::DATABASE};

use super::Invalid;

/// Longest input considered, in characters; a number with an extension and
/// generous formatting is far shorter.
const MAX_INPUT_CHARS: usize = 64;
/// Most digits accepted before the country's own checks (E.164 allows 15, plus
/// an international prefix).
const MAX_DIGITS: usize = 20;
/// Fewest digits worth giving to the parser.
const MIN_DIGITS: usize = 3;

/// The country whose national numbering plan reads a number written without a
/// country code: an ISO 3166-1 alpha-2 code known to the phone metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region(Id);

impl Region {
    /// Parses an ISO 3166-1 alpha-2 code, in any case and with surrounding white
    /// space. `UK`, reserved by ISO for the United Kingdom and often written, is
    /// read as `GB`.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Invalid::region(raw, "not a two-letter country code"));
        }
        let code = if code == "UK" { "GB".to_owned() } else { code };
        let id = Id::from_str(&code).map_err(|_| Invalid::region(raw, "unknown country code"))?;
        // The parser indexes its metadata by region and panics on a region it has
        // no data for, so only regions with data are accepted.
        if DATABASE.by_id(id.as_ref()).is_none() {
            return Err(Invalid::region(
                raw,
                "no phone numbering data for this country",
            ));
        }
        Ok(Self(id))
    }

    /// The upper-case alpha-2 code (`GB`).
    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }
}

impl FromStr for Region {
    type Err = Invalid;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Normalises one phone number to E.164: `+`, then 7 to 15 digits, the first not
/// `0`. Idempotent: an output is international, so it reads the same whatever the
/// region.
pub fn normalise(raw: &str, default_region: Option<Region>) -> Result<String, Invalid> {
    let invalid = |reason| Invalid::phone(raw, reason);
    let dialled = dialled_digits(raw).map_err(invalid)?;
    let (region, text) = match dialled {
        Dialled::International(digits) => (None, format!("+{digits}")),
        Dialled::National(digits) => match default_region {
            Some(region) => (Some(region.0), digits),
            None => {
                return Err(Invalid::PhoneNeedsCountry {
                    input: super::Excerpt::new(raw),
                });
            }
        },
    };
    let number = phonenumber::parse(region, &text).map_err(|_| invalid("not a phone number"))?;
    if !phonenumber::is_valid(&number) {
        return Err(invalid("not a valid number for its country"));
    }
    let e164 = number.format().mode(Mode::E164).to_string();
    if !is_e164(&e164) {
        return Err(invalid("not a valid number for its country"));
    }
    Ok(e164)
}

/// Splits a cell that may hold several numbers into candidate numbers, in order,
/// without validating them.
///
/// Separators: Google's ` ::: `, line breaks, `,` and `;`, except `;ext=` which
/// belongs to the number before it. White space is not a separator, because it is
/// the commonest decoration inside one number. A dial pause (`,` then digits) thus
/// becomes a separate, short candidate that [`normalise`] refuses. Empty pieces are
/// skipped.
pub fn split_list(raw: &str) -> impl Iterator<Item = &str> {
    PhoneList { rest: Some(raw) }
        .map(str::trim)
        .filter(|candidate| !candidate.is_empty())
}

/// The pieces of a multi-number cell, see [`split_list`].
struct PhoneList<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for PhoneList<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        for (index, c) in rest.char_indices() {
            let separator_len = match c {
                '\n' | '\r' => 1,
                ',' => 1,
                ';' if !starts_with_ignore_case(&rest[index + 1..], "ext=") => 1,
                ':' if rest[index..].starts_with(":::") => 3,
                _ => continue,
            };
            self.rest = Some(&rest[index + separator_len..]);
            return Some(&rest[..index]);
        }
        self.rest = None;
        Some(rest)
    }
}

/// What the user would dial, once decorations and extensions are gone.
enum Dialled {
    /// Country code and national number, without `+` or `00`.
    International(String),
    /// A number to read in some country's numbering plan.
    National(String),
}

/// Reads the digits of a number and whether it is international, or why it cannot
/// be a phone number.
fn dialled_digits(raw: &str) -> Result<Dialled, &'static str> {
    let mut text = raw.trim();
    if text.chars().count() > MAX_INPUT_CHARS {
        return Err("too long");
    }
    if starts_with_ignore_case(text, "tel:") {
        text = text[4..].trim_start();
    }
    let mut digits = String::new();
    let mut plus = false;
    for (index, c) in text.char_indices() {
        if let Some(digit) = decimal_digit(c) {
            digits.push(digit);
        } else if c == '+' || c == '\u{FF0B}' {
            if plus || !digits.is_empty() {
                return Err("a + that is not at the start");
            }
            plus = true;
        } else if is_decoration(c) {
            continue;
        } else if !digits.is_empty() && is_extension(&text[index..])? {
            break;
        } else if c.is_alphabetic() {
            return Err("letters in the number");
        } else {
            return Err("a character that is not part of a phone number");
        }
    }
    if digits.len() < MIN_DIGITS {
        return Err("too few digits");
    }
    if digits.len() > MAX_DIGITS {
        return Err("too many digits");
    }
    if plus {
        return Ok(Dialled::International(digits));
    }
    match digits.strip_prefix("00") {
        Some(international) => Ok(Dialled::International(international.to_owned())),
        None => Ok(Dialled::National(digits)),
    }
}

/// Whether `tail` is an extension or dial pause that ends the number; an error when
/// it starts like one but holds something else, so nothing is dropped silently.
fn is_extension(tail: &str) -> Result<bool, &'static str> {
    const MARKERS: [&str; 8] = [";ext=", "extension", "ext.", "ext", "x", "#", ",", ";"];
    let Some(marker) = MARKERS
        .iter()
        .find(|marker| starts_with_ignore_case(tail, marker))
    else {
        return Ok(false);
    };
    let extension = tail[marker.len()..].trim_start_matches([' ', '.', ':', '=']);
    let mut extension_digits = 0;
    for c in extension.chars() {
        if decimal_digit(c).is_some() {
            extension_digits += 1;
        } else if c == '+' {
            return Err("more than one number");
        } else if !(is_decoration(c) || matches!(c, ',' | ';' | '#' | '*')) {
            return Err("an extension that is not only digits");
        }
    }
    if extension_digits == 0 {
        return Err("an extension without digits");
    }
    if extension_digits > 10 {
        return Err("more than one number");
    }
    Ok(true)
}

/// The ASCII digit for a decimal digit of the scripts seen in exports.
fn decimal_digit(c: char) -> Option<char> {
    let zero = match c {
        '0'..='9' => return Some(c),
        '\u{FF10}'..='\u{FF19}' => '\u{FF10}', // full-width
        '\u{0660}'..='\u{0669}' => '\u{0660}', // Arabic-Indic
        '\u{06F0}'..='\u{06F9}' => '\u{06F0}', // extended Arabic-Indic
        _ => return None,
    };
    char::from_digit(u32::from(c) - u32::from(zero), 10)
}

/// Characters that only format a number.
fn is_decoration(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '.' | '/' | '(' | ')' | '[' | ']' | '\u{2010}'..='\u{2015}' | '\u{2212}'
        )
        || super::text::is_invisible_format(c)
}

/// `text` starts with ASCII `prefix`, ignoring ASCII case.
fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
}

/// `+`, then 7 to 15 digits, the first not `0`.
fn is_e164(text: &str) -> bool {
    let Some(digits) = text.strip_prefix('+') else {
        return false;
    };
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(code: &str) -> Option<Region> {
        Some(Region::parse(code).expect(code))
    }

    #[test]
    fn normalises_realistic_numbers() {
        let cases = [
            ("+44 7400 123456", None, "+447400123456"),
            ("+44 (0)20 7946 0958", None, "+442079460958"),
            ("0044 20 7946 0958", None, "+442079460958"),
            ("07400 123456", region("GB"), "+447400123456"),
            ("020 7946 0958", region("gb"), "+442079460958"),
            ("(201) 555-0123", region("US"), "+12015550123"),
            ("201.555.0123", region("US"), "+12015550123"),
            ("1-201-555-0123", region("US"), "+12015550123"),
            ("011 44 20 7946 0958", region("US"), "+442079460958"),
            ("+1 201-555-0123 x456", None, "+12015550123"),
            ("+1 201 555 0123 ext. 456", None, "+12015550123"),
            ("+1 201 555 0123 Ext 456", None, "+12015550123"),
            ("+1 201 555 0123 extension 7", None, "+12015550123"),
            ("+1 201 555 0123 #45", None, "+12015550123"),
            ("tel:+1-201-555-0123;ext=1234", None, "+12015550123"),
            ("+1 201 555 0123,,1234#", None, "+12015550123"),
            ("030/1234567", region("DE"), "+49301234567"),
            ("+39 06 6982 0000", None, "+390669820000"),
            ("+33 1 42 68 53 00", None, "+33142685300"),
            ("01 42 68 53 00", region("FR"), "+33142685300"),
            ("+81 3-1234-5678", None, "+81312345678"),
            ("+91 98765 43210", None, "+919876543210"),
            ("+61 412 345 678", None, "+61412345678"),
            ("＋４４ ７４００ １２３４５６", None, "+447400123456"),
            ("+44\u{00A0}7400\u{00A0}123456", None, "+447400123456"),
            ("+447400123456", region("US"), "+447400123456"),
        ];
        for (raw, default_region, expected) in cases {
            assert_eq!(
                normalise(raw, default_region).as_deref(),
                Ok(expected),
                "normalise({raw:?}, {default_region:?})"
            );
        }
    }

    #[test]
    fn national_number_without_region_needs_a_country() {
        let error = normalise("07400 123456", None).expect_err("no region");

        assert_eq!(error.code(), "phone_needs_country");
        assert!(error.to_string().contains("needs a country"), "{error}");
    }

    #[test]
    fn refuses_what_is_not_a_number() {
        let cases = [
            ("", None, "too few digits"),
            ("n/a", None, "letters"),
            ("12", region("US"), "too few digits"),
            ("1-800-FLOWERS", region("US"), "letters"),
            ("+44 7400 123456 x", None, "an extension without digits"),
            ("+44 7400 123456 x12a", None, "not only digits"),
            (
                "+44 7400 123456, +1 201 555 0123",
                None,
                "more than one number",
            ),
            ("+44 +7400 123456", None, "a + that is not at the start"),
            ("+999 1234 5678", None, "not a phone number"),
            ("+1 555 555 5555", None, "not a valid number"),
            ("000000", region("GB"), "not"),
            ("+44 12", None, "not"),
            ("1234567890123456789012", None, "too"),
            ("+44 7400 123456 ☎", None, "not part of a phone number"),
            ("tel:+1;phone-context=+1", None, "not"),
        ];
        for (raw, default_region, reason) in cases {
            let error = normalise(raw, default_region).expect_err(raw);
            assert_eq!(error.code(), "invalid_phone", "{raw:?}: {error}");
            assert!(
                error.to_string().contains(reason),
                "normalise({raw:?}) gave {error}, expected {reason:?}"
            );
        }
    }

    #[test]
    fn parses_regions() {
        assert_eq!(Region::parse("gb").map(|r| r.to_string()), Ok("GB".into()));
        assert_eq!(
            Region::parse(" US ").map(|r| r.to_string()),
            Ok("US".into())
        );
        assert_eq!(Region::parse("UK").map(|r| r.to_string()), Ok("GB".into()));
        assert_eq!(
            "de".parse::<Region>().map(|r| r.to_string()),
            Ok("DE".into())
        );
        for raw in ["", "G", "GBR", "Q1", "ZZ", "XX", "éé"] {
            let error = Region::parse(raw).expect_err(raw);
            assert_eq!(error.code(), "invalid_region", "{raw:?}");
        }
    }

    #[test]
    fn splits_multi_number_cells() {
        let cases: &[(&str, &[&str])] = &[
            ("+44 7400 123456", &["+44 7400 123456"]),
            (
                "+44 7400 123456 ::: +1 201-555-0123",
                &["+44 7400 123456", "+1 201-555-0123"],
            ),
            ("0201 1; 0202 2, 0203 3", &["0201 1", "0202 2", "0203 3"]),
            ("a\r\nb", &["a", "b"]),
            (
                "tel:+1-201-555-0123;ext=1234",
                &["tel:+1-201-555-0123;ext=1234"],
            ),
            (" ::: ;, ", &[]),
            ("", &[]),
        ];
        for (raw, expected) in cases {
            let got: Vec<&str> = split_list(raw).collect();
            assert_eq!(&got, expected, "split_list({raw:?})");
        }
    }
}
