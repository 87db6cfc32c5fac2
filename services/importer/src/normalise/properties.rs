//! Properties every normaliser keeps on any input: no panic, idempotence, and the
//! shape of what it outputs.

use proptest::prelude::*;

use super::{
    date::{self, DateOrder},
    email, name, phone,
    phone::Region,
    text, url,
};

/// Characters that tend to break text handling: white space of every kind,
/// invisible formatting, combining marks, separators the normalisers look for,
/// non-ASCII digits and letters of several scripts.
const AWKWARD: &[char] = &[
    ' ',
    '\t',
    '\n',
    '\r',
    '\u{0B}',
    '\u{0C}',
    '\u{85}',
    '\u{A0}',
    '\u{1680}',
    '\u{2000}',
    '\u{2001}',
    '\u{2028}',
    '\u{3000}',
    '\u{0000}',
    '\u{007F}',
    '\u{009F}',
    '\u{00AD}',
    '\u{200B}',
    '\u{200C}',
    '\u{200D}',
    '\u{200E}',
    '\u{202E}',
    '\u{2066}',
    '\u{FEFF}',
    '\u{0301}',
    '\u{0308}',
    '\u{0327}',
    '\u{1100}',
    '\u{1161}',
    '\u{11A8}',
    'e',
    'E',
    'İ',
    'ß',
    'ǅ',
    'Σ',
    'ς',
    '@',
    '.',
    ':',
    '/',
    '?',
    '#',
    '%',
    '+',
    '-',
    ',',
    ';',
    '<',
    '>',
    '"',
    '[',
    ']',
    '(',
    ')',
    '0',
    '1',
    '9',
    '０',
    '٣',
    'x',
    'X',
    'T',
    'w',
    'h',
    't',
    'p',
    's',
    '\u{FF0B}',
    '\u{FFFD}',
    '\u{1F600}',
    '\u{10FFFF}',
    '山',
    'ü',
    'ю',
];

/// Strings mixing awkward and arbitrary characters, up to `max_chars` long.
fn messy(max_chars: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => proptest::sample::select(AWKWARD),
            1 => any::<char>(),
        ],
        0..max_chars,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// Any input at all: arbitrary, awkward, or very long.
fn any_input() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        4 => messy(64),
        1 => messy(20_000),
    ]
}

fn any_region() -> impl Strategy<Value = Option<Region>> {
    proptest::option::of(
        proptest::sample::select(&["GB", "US", "DE", "FR", "IT", "IN", "JP", "AU", "BR", "NL"][..])
            .prop_map(|code| Region::parse(code).expect("known region")),
    )
}

fn any_order() -> impl Strategy<Value = DateOrder> {
    prop_oneof![Just(DateOrder::DayFirst), Just(DateOrder::MonthFirst)]
}

/// Strings shaped like e-mail addresses, often valid.
fn email_like() -> impl Strategy<Value = String> {
    (
        proptest::option::of(prop_oneof![Just("mailto:"), Just("Jane <"), Just(" ")]),
        "[A-Za-z0-9._%+'-]{0,20}",
        prop_oneof![8 => Just("@"), 1 => Just("@@"), 1 => Just("")],
        "([A-Za-z0-9-]{1,12}|müller|例え|xn--mller-kva)",
        "(\\.[A-Za-z]{2,6}){1,2}\\.?",
        proptest::option::of(prop_oneof![Just(">"), Just(" "), Just("?subject=x")]),
    )
        .prop_map(|(prefix, local, at, domain, tld, suffix)| {
            format!(
                "{}{local}{at}{domain}{tld}{}",
                prefix.unwrap_or_default(),
                suffix.unwrap_or_default()
            )
        })
}

/// Strings shaped like phone numbers: valid numbers of several countries with a
/// changed ending, written with `+` or `00`, decorations and extensions, and
/// random digit runs.
fn phone_like() -> impl Strategy<Value = String> {
    const VALID: &[&str] = &[
        "447400123456",
        "442071234567",
        "12015550123",
        "12127365000",
        "49301234567",
        "390669820000",
        "33142685300",
        "81312345678",
        "919876543210",
        "61412345678",
    ];
    let decorated = (
        proptest::sample::select(VALID),
        "[0-9]{0,2}",
        prop_oneof![Just("+"), Just("00"), Just("tel:+"), Just("\u{FF0B}")],
        proptest::collection::vec(prop_oneof![Just(""), Just(" "), Just("-"), Just(".")], 13),
        prop_oneof![
            Just(""),
            Just(" x12"),
            Just(" ext. 9"),
            Just(",,3#"),
            Just(" #1")
        ],
    )
        .prop_map(|(number, ending, prefix, separators, extension)| {
            let digits = format!("{}{ending}", &number[..number.len() - ending.len()]);
            let mut text = prefix.to_owned();
            for (digit, separator) in digits.chars().zip(separators.iter().cycle()) {
                text.push(digit);
                text.push_str(separator);
            }
            text.push_str(extension);
            text
        });
    let random = (
        prop_oneof![Just(""), Just("+"), Just("00"), Just("(")],
        "[0-9]{1,3}",
        "([ .()/-]{0,2}[0-9]{1,4}){1,5}",
        prop_oneof![
            Just(""),
            Just(" x12"),
            Just(" ext. 9"),
            Just(",,3#"),
            Just(" #1")
        ],
    )
        .prop_map(|(prefix, code, rest, extension)| format!("{prefix}{code}{rest}{extension}"));
    prop_oneof![decorated, random]
}

/// Strings shaped like profile URLs, often valid.
fn url_like() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just(""),
            Just("https://"),
            Just("http://"),
            Just("HTTP://"),
            Just("//"),
            Just("ftp://"),
        ],
        prop_oneof![
            Just("www.linkedin.com"),
            Just("uk.linkedin.com"),
            Just("linkedin.com"),
            Just("example.com"),
            Just("EXAMPLE.com."),
            Just("bücher.example"),
            Just("192.0.2.1"),
            Just("localhost"),
        ],
        prop_oneof![Just(""), Just(":80"), Just(":443"), Just(":8080")],
        "(/(in|IN|pub|[A-Za-z0-9%._~üÜ -]{0,8})){0,4}/?",
        "(\\?((utm_source|trk|id|a|z|A)=[a-z0-9%+ ]{0,4}&?){0,3})?(#[a-z]{0,3})?",
    )
        .prop_map(|(scheme, host, port, path, query)| format!("{scheme}{host}{port}{path}{query}"))
}

/// Strings shaped like dates in the accepted formats, often valid.
fn date_like() -> impl Strategy<Value = String> {
    let month = prop_oneof![
        Just("Jan".to_owned()),
        Just("sept".to_owned()),
        Just("NOVEMBER".to_owned()),
        Just("Feb".to_owned()),
        (0u32..=13).prop_map(|month| month.to_string()),
        (1u32..=12).prop_map(|month| format!("{month:02}")),
    ];
    let year = prop_oneof![
        (1899u32..=2101).prop_map(|year| year.to_string()),
        (0u32..=99).prop_map(|year| format!("{year:02}")),
    ];
    let separator = prop_oneof![Just(" "), Just("/"), Just("-"), Just("."), Just(", ")];
    let day_month_year = (
        0u32..=32,
        separator.clone(),
        month.clone(),
        separator.clone(),
        year.clone(),
    )
        .prop_map(|(day, sep1, month, sep2, year)| format!("{day}{sep1}{month}{sep2}{year}"));
    let month_day_year = (month, separator.clone(), 0u32..=32, separator, year)
        .prop_map(|(month, sep1, day, sep2, year)| format!("{month}{sep1}{day}{sep2}{year}"));
    let iso = (1899u32..=2101, 0u32..=13, 0u32..=32, "(T[0-9:Z]{0,9})?")
        .prop_map(|(year, month, day, time)| format!("{year:04}-{month:02}-{day:02}{time}"));
    prop_oneof![day_month_year, month_day_year, iso]
}

fn is_e164(text: &str) -> bool {
    text.strip_prefix('+').is_some_and(|digits| {
        (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

proptest! {
    #[test]
    fn clean_output_has_single_inner_spaces_and_is_idempotent(raw in any_input()) {
        if let Some(cleaned) = text::clean(&raw) {
            prop_assert!(!cleaned.is_empty());
            prop_assert_eq!(cleaned.trim(), cleaned.as_str());
            prop_assert!(!cleaned.contains("  "));
            prop_assert!(!cleaned.chars().any(|c| c.is_whitespace() && c != ' '));
            prop_assert!(!cleaned.chars().any(char::is_control));
            prop_assert_eq!(text::clean(&cleaned), Some(cleaned.clone()));
        }
    }

    #[test]
    fn email_output_is_lowercase_with_one_at_and_idempotent(
        raw in prop_oneof![any_input(), email_like()],
    ) {
        if let Ok(address) = email::normalise(&raw) {
            prop_assert_eq!(address.to_lowercase(), address.clone());
            prop_assert!(address.is_ascii());
            prop_assert_eq!(address.matches('@').count(), 1);
            prop_assert_eq!(email::normalise(&address), Ok(address.clone()));
        }
    }

    #[test]
    fn email_split_list_never_yields_empty_candidates(raw in any_input()) {
        for candidate in email::split_list(&raw) {
            prop_assert!(!candidate.trim().is_empty());
            let _ = email::normalise(candidate);
        }
    }

    #[test]
    fn phone_output_is_e164_and_idempotent(
        raw in prop_oneof![any_input(), phone_like()],
        region in any_region(),
        other_region in any_region(),
    ) {
        if let Ok(number) = phone::normalise(&raw, region) {
            prop_assert!(is_e164(&number), "{} is not E.164", number);
            prop_assert_eq!(phone::normalise(&number, None), Ok(number.clone()));
            prop_assert_eq!(phone::normalise(&number, other_region), Ok(number.clone()));
        }
    }

    #[test]
    fn phone_split_list_never_yields_empty_candidates(raw in any_input(), region in any_region()) {
        for candidate in phone::split_list(&raw) {
            prop_assert!(!candidate.trim().is_empty());
            let _ = phone::normalise(candidate, region);
        }
    }

    #[test]
    fn region_parsing_never_panics(raw in prop_oneof![any_input(), "[A-Za-z]{2}"]) {
        if let Ok(region) = Region::parse(&raw) {
            prop_assert_eq!(Region::parse(region.as_str()), Ok(region));
        }
    }

    #[test]
    fn url_output_is_https_reparses_and_is_idempotent(
        raw in prop_oneof![any_input(), url_like()],
    ) {
        if let Ok(address) = url::profile_url(&raw) {
            prop_assert!(address.starts_with("https://"), "{}", address);
            prop_assert!(::url::Url::parse(&address).is_ok(), "{} does not parse", address);
            prop_assert_eq!(url::profile_url(&address), Ok(address.clone()));
        }
    }

    #[test]
    fn date_output_reads_back_in_any_order(
        raw in prop_oneof![any_input(), date_like()],
        order in any_order(),
        other_order in any_order(),
    ) {
        if let Ok(day) = date::connected_on(&raw, order) {
            prop_assert_eq!(date::connected_on(&day.to_string(), other_order), Ok(day));
            let linkedin = day.format("%d %b %Y").to_string();
            prop_assert_eq!(date::connected_on(&linkedin, other_order), Ok(day));
        }
    }

    #[test]
    fn full_name_is_idempotent(
        first in proptest::option::of(any_input()),
        middle in proptest::option::of(any_input()),
        last in proptest::option::of(any_input()),
    ) {
        let cleaned = |part: Option<String>| part.and_then(|part| text::clean(&part));
        let (first, middle, last) = (cleaned(first), cleaned(middle), cleaned(last));
        let built = name::full_name(first.as_deref(), middle.as_deref(), last.as_deref(), None);
        if let Some(built) = built {
            prop_assert!(!built.is_empty());
            prop_assert_eq!(text::clean(&built), Some(built.clone()));
            prop_assert_eq!(
                name::full_name(None, None, None, Some(&built)),
                Some(built.clone())
            );
        }
    }
}
