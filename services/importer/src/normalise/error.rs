//! The one error every normaliser returns.

use std::fmt;

/// Why a cell's value was refused. `code()` is stable and machine-readable; the
/// `Display` message is for people and quotes at most [`Excerpt::MAX_CHARS`]
/// characters of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Not a usable e-mail address.
    #[error("invalid e-mail address {input}: {reason}")]
    Email {
        /// The start of the refused value.
        input: Excerpt,
        /// What was wrong, in words.
        reason: &'static str,
    },
    /// Not a usable phone number.
    #[error("invalid phone number {input}: {reason}")]
    Phone {
        /// The start of the refused value.
        input: Excerpt,
        /// What was wrong, in words.
        reason: &'static str,
    },
    /// A phone number in national form, with no default country to read it in.
    #[error(
        "phone number {input} needs a country: write it with its country code \
         (+44...) or choose the country of the file's numbers"
    )]
    PhoneNeedsCountry {
        /// The start of the refused value.
        input: Excerpt,
    },
    /// Not an ISO 3166 alpha-2 country code known to the phone number metadata.
    #[error("invalid country code {input}: {reason}")]
    Region {
        /// The start of the refused value.
        input: Excerpt,
        /// What was wrong, in words.
        reason: &'static str,
    },
    /// Not a usable profile URL.
    #[error("invalid profile URL {input}: {reason}")]
    Url {
        /// The start of the refused value.
        input: Excerpt,
        /// What was wrong, in words.
        reason: &'static str,
    },
    /// Not a date this importer can read.
    #[error("invalid date {input}: {reason}")]
    Date {
        /// The start of the refused value.
        input: Excerpt,
        /// What was wrong, in words.
        reason: &'static str,
    },
}

impl Invalid {
    /// The stable machine code of this refusal, as written to the rejects report.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Email { .. } => "invalid_email",
            Self::Phone { .. } => "invalid_phone",
            Self::PhoneNeedsCountry { .. } => "phone_needs_country",
            Self::Region { .. } => "invalid_region",
            Self::Url { .. } => "invalid_url",
            Self::Date { .. } => "invalid_date",
        }
    }

    pub(crate) fn email(raw: &str, reason: &'static str) -> Self {
        Self::Email {
            input: Excerpt::new(raw),
            reason,
        }
    }

    pub(crate) fn phone(raw: &str, reason: &'static str) -> Self {
        Self::Phone {
            input: Excerpt::new(raw),
            reason,
        }
    }

    pub(crate) fn region(raw: &str, reason: &'static str) -> Self {
        Self::Region {
            input: Excerpt::new(raw),
            reason,
        }
    }

    pub(crate) fn url(raw: &str, reason: &'static str) -> Self {
        Self::Url {
            input: Excerpt::new(raw),
            reason,
        }
    }

    pub(crate) fn date(raw: &str, reason: &'static str) -> Self {
        Self::Date {
            input: Excerpt::new(raw),
            reason,
        }
    }
}

/// The first [`Excerpt::MAX_CHARS`] characters of a refused value, trimmed, with
/// control and invisible formatting characters replaced by `\u{FFFD}` so a message
/// can never break a report's layout. Shown in double quotes, with `…` when cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excerpt {
    text: String,
    truncated: bool,
}

impl Excerpt {
    /// How many characters of the input a message may quote.
    pub const MAX_CHARS: usize = 40;

    /// Takes the start of `raw`.
    pub fn new(raw: &str) -> Self {
        let trimmed = raw.trim();
        let mut chars = trimmed.chars();
        let text = chars
            .by_ref()
            .take(Self::MAX_CHARS)
            .map(|c| {
                if c.is_control() || crate::normalise::text::is_invisible_format(c) {
                    '\u{FFFD}'
                } else {
                    c
                }
            })
            .collect();
        Self {
            text,
            truncated: chars.next().is_some(),
        }
    }

    /// The quoted characters, without quotes or ellipsis.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ellipsis = if self.truncated { "…" } else { "" };
        write!(f, "\"{}{ellipsis}\"", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        let cases = [
            (Invalid::email("x", "r"), "invalid_email"),
            (Invalid::phone("x", "r"), "invalid_phone"),
            (
                Invalid::PhoneNeedsCountry {
                    input: Excerpt::new("x"),
                },
                "phone_needs_country",
            ),
            (Invalid::region("x", "r"), "invalid_region"),
            (Invalid::url("x", "r"), "invalid_url"),
            (Invalid::date("x", "r"), "invalid_date"),
        ];
        for (invalid, code) in cases {
            assert_eq!(invalid.code(), code);
        }
    }

    #[test]
    fn message_quotes_at_most_forty_characters_of_the_input() {
        let raw = "a".repeat(500);

        let message = Invalid::email(&raw, "no @").to_string();

        assert_eq!(
            message,
            format!("invalid e-mail address \"{}…\": no @", "a".repeat(40))
        );
    }

    #[test]
    fn message_replaces_control_characters() {
        let message = Invalid::url("a\nb\u{202E}c", "bad").to_string();

        assert_eq!(message, "invalid profile URL \"a\u{FFFD}b\u{FFFD}c\": bad");
    }

    #[test]
    fn short_input_is_quoted_whole() {
        let message = Invalid::date("  32 Nov 2023 ", "no such day").to_string();

        assert_eq!(message, "invalid date \"32 Nov 2023\": no such day");
    }
}
