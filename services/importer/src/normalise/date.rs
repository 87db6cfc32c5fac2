//! Calendar dates, such as when the owner connected with a contact.
//!
//! Formats [`connected_on`] reads:
//! - LinkedIn's `21 Nov 2023`, and the same with a full or `Sept` month name, with
//!   dashes (`21-Nov-2023`, `21-Nov-23`) or month first (`Nov 21, 2023`). Month
//!   names are English, in any case, as LinkedIn writes them whatever the user's
//!   language;
//! - ISO 8601 `2023-11-21`, also with a time after it (`2023-11-21T09:30:00Z`, the
//!   time is ignored: the date is the one written, not converted to UTC), and
//!   `2023/11/21`: year first is never ambiguous;
//! - numeric `21/11/2023` or `11/21/2023` (separators `/`, `.` or `-`), read in the
//!   [`DateOrder`] the caller gives. Outlook writes dates in the order of the
//!   exporting computer's locale; US English (month first) is the default. A date
//!   impossible in the given order (`21/11/2023` month first) is refused, never
//!   silently swapped: the other rows of the file would still be read in the wrong
//!   order.
//!
//! Two-digit years follow POSIX `strptime`: `00`-`68` are 2000-2068, `69`-`99`
//! are 1969-1999. Years outside 1900..=2100 are refused, so are placeholders such
//! as Outlook's `0/0/00` for "no date".

use chrono::NaiveDate;

use super::Invalid;

/// Longest input considered; an ISO timestamp with zone is well under it.
const MAX_INPUT_BYTES: usize = 64;
const MIN_YEAR: i32 = 1900;
const MAX_YEAR: i32 = 2100;

/// The order of day and month in all-numeric dates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum DateOrder {
    /// `21/11/2023`: most of the world.
    DayFirst,
    /// `11/21/2023`: the United States, and Outlook's default.
    #[default]
    MonthFirst,
}

/// Reads a date written in one of the formats of this module. Idempotent through
/// ISO 8601: the output's `to_string()` reads back as the same date.
pub fn connected_on(raw: &str, order: DateOrder) -> Result<NaiveDate, Invalid> {
    let invalid = |reason| Invalid::date(raw, reason);
    let text = raw.trim();
    if text.is_empty() {
        return Err(invalid("empty"));
    }
    if text.len() > MAX_INPUT_BYTES {
        return Err(invalid("too long"));
    }
    let (year, month, day) = match iso_prefix(text) {
        Some(parts) => parts,
        None => fields(text, order).map_err(invalid)?,
    };
    let year = full_year(year).map_err(invalid)?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return Err(invalid("a year outside 1900 to 2100"));
    }
    if !(1..=12).contains(&month) {
        return Err(invalid("no such month"));
    }
    NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| invalid("no such day in that month"))
}

/// A year as written: its value and how many digits it had.
#[derive(Debug, Clone, Copy)]
struct WrittenYear {
    value: u32,
    digits: usize,
}

/// Year, month and day of `YYYY-MM-DD`, optionally followed by a time.
fn iso_prefix(text: &str) -> Option<(WrittenYear, u32, u32)> {
    let date = text.get(..10)?;
    let rest = &text[10..];
    if !(rest.is_empty() || rest.starts_with(['T', 't', ' '])) {
        return None;
    }
    let bytes = date.as_bytes();
    if bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = number(&date[..4])?;
    let month = number(&date[5..7])?;
    let day = number(&date[8..])?;
    Some((
        WrittenYear {
            value: year,
            digits: 4,
        },
        month,
        day,
    ))
}

/// Year, month and day of a date written as three fields, or why it cannot be one.
fn fields(text: &str, order: DateOrder) -> Result<(WrittenYear, u32, u32), &'static str> {
    let tokens: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, '/' | '.' | '-' | ','))
        .filter(|token| !token.is_empty())
        .collect();
    let [first, second, third] = tokens[..] else {
        return Err("not a date");
    };
    match (month_name(first), month_name(second)) {
        // 21 Nov 2023
        (None, Some(month)) => Ok((year(third)?, month, day(first)?)),
        // Nov 21, 2023
        (Some(month), None) => Ok((year(third)?, month, day(second)?)),
        _ => {
            if first.len() == 4 {
                // 2023/11/21
                return Ok((year(first)?, day(second)?, day(third)?));
            }
            let year = year(third)?;
            if year.value == 0 && day(first)? == 0 && day(second)? == 0 {
                return Err("a blank placeholder, not a date");
            }
            match order {
                DateOrder::DayFirst => Ok((year, day(second)?, day(first)?)),
                DateOrder::MonthFirst => Ok((year, day(first)?, day(second)?)),
            }
        }
    }
}

/// A one- or two-digit day or month number.
fn day(token: &str) -> Result<u32, &'static str> {
    if token.len() > 2 {
        return Err("not a date");
    }
    number(token).ok_or("not a date")
}

/// A two- or four-digit year.
fn year(token: &str) -> Result<WrittenYear, &'static str> {
    if token.len() != 2 && token.len() != 4 {
        return Err("a year that is not two or four digits");
    }
    let value = number(token).ok_or("a year that is not two or four digits")?;
    Ok(WrittenYear {
        value,
        digits: token.len(),
    })
}

/// The calendar year, expanding two-digit years.
fn full_year(year: WrittenYear) -> Result<i32, &'static str> {
    let value = i32::try_from(year.value).map_err(|_| "a year outside 1900 to 2100")?;
    if year.digits == 2 {
        return Ok(if value <= 68 {
            2000 + value
        } else {
            1900 + value
        });
    }
    Ok(value)
}

/// An all-ASCII-digit number.
fn number(token: &str) -> Option<u32> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

/// The month of an English month name or abbreviation, in any case.
fn month_name(token: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let token = token.to_ascii_lowercase();
    if token.len() < 3 {
        return None;
    }
    if token == "sept" {
        return Some(9);
    }
    MONTHS
        .iter()
        .position(|name| *name == token || (token.len() == 3 && name.starts_with(&token)))
        .and_then(|index| u32::try_from(index + 1).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).expect("test date")
    }

    #[test]
    fn reads_realistic_dates() {
        use DateOrder::{DayFirst, MonthFirst};
        let cases = [
            ("21 Nov 2023", MonthFirst, ymd(2023, 11, 21)),
            ("21 Nov 2023", DayFirst, ymd(2023, 11, 21)),
            ("01 Jan 2008", MonthFirst, ymd(2008, 1, 1)),
            ("5 May 2019", MonthFirst, ymd(2019, 5, 5)),
            (" 21 nov 2023 ", MonthFirst, ymd(2023, 11, 21)),
            ("21 November 2023", MonthFirst, ymd(2023, 11, 21)),
            ("3 Sept 2021", MonthFirst, ymd(2021, 9, 3)),
            ("21-Nov-23", MonthFirst, ymd(2023, 11, 21)),
            ("21-Nov-2023", MonthFirst, ymd(2023, 11, 21)),
            ("Nov 21, 2023", DayFirst, ymd(2023, 11, 21)),
            ("November 21 2023", MonthFirst, ymd(2023, 11, 21)),
            ("2023-11-21", DayFirst, ymd(2023, 11, 21)),
            ("2023-11-21T09:30:00Z", MonthFirst, ymd(2023, 11, 21)),
            ("2023-11-21 23:59:59+05:00", MonthFirst, ymd(2023, 11, 21)),
            ("2023/11/21", DayFirst, ymd(2023, 11, 21)),
            ("21/11/2023", DayFirst, ymd(2023, 11, 21)),
            ("11/21/2023", MonthFirst, ymd(2023, 11, 21)),
            ("3/4/2023", DayFirst, ymd(2023, 4, 3)),
            ("3/4/2023", MonthFirst, ymd(2023, 3, 4)),
            ("21.11.2023", DayFirst, ymd(2023, 11, 21)),
            ("11-21-23", MonthFirst, ymd(2023, 11, 21)),
            ("1/2/68", MonthFirst, ymd(2068, 1, 2)),
            ("1/2/69", MonthFirst, ymd(1969, 1, 2)),
            ("29 Feb 2024", MonthFirst, ymd(2024, 2, 29)),
            ("1 Jan 1900", MonthFirst, ymd(1900, 1, 1)),
            ("31 Dec 2100", MonthFirst, ymd(2100, 12, 31)),
        ];
        for (raw, order, expected) in cases {
            assert_eq!(
                connected_on(raw, order),
                Ok(expected),
                "connected_on({raw:?}, {order:?})"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_a_date() {
        use DateOrder::{DayFirst, MonthFirst};
        let cases = [
            ("", MonthFirst, "empty"),
            ("yesterday", MonthFirst, "not a date"),
            ("21 Nov", MonthFirst, "not a date"),
            ("21/11/2023", MonthFirst, "no such month"),
            ("11/31/2023", MonthFirst, "no such day"),
            ("29 Feb 2023", MonthFirst, "no such day"),
            ("32 Nov 2023", DayFirst, "no such day"),
            ("2023-13-01", MonthFirst, "no such month"),
            ("2023-11-21garbage", MonthFirst, "not a date"),
            ("0/0/00", MonthFirst, "placeholder"),
            ("00/00/0000", DayFirst, "placeholder"),
            ("31 Dec 1899", MonthFirst, "a year outside"),
            ("1 Jan 2101", MonthFirst, "a year outside"),
            ("21 Nov 202", MonthFirst, "two or four digits"),
            ("21 Noe 2023", MonthFirst, "not a date"),
            ("21 Nov 2023 12", MonthFirst, "not a date"),
            ("21 Ma 2023", MonthFirst, "not a date"),
        ];
        for (raw, order, reason) in cases {
            let error = connected_on(raw, order).expect_err(raw);
            assert_eq!(error.code(), "invalid_date", "{raw:?}");
            assert!(
                error.to_string().contains(reason),
                "connected_on({raw:?}) gave {error}, expected {reason:?}"
            );
        }
    }

    #[test]
    fn month_first_is_the_default_order() {
        assert_eq!(DateOrder::default(), DateOrder::MonthFirst);
    }
}
