//! E-mail addresses as accounts know them: trimmed, lowercase, plausibly deliverable.

use std::fmt;

/// Longest address accepted (RFC 5321 path limit).
const MAX_EMAIL_CHARS: usize = 254;
/// Longest local part (RFC 5321).
const MAX_LOCAL_PART_CHARS: usize = 64;

/// A normalised e-mail address: the form stored and compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Trims and lowercases `input`, then checks its shape: one `@`, a local part of
    /// at most 64 characters, a domain with at least one dot and no empty label, no
    /// spaces or control characters, 254 characters at most.
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let email = input.trim().to_lowercase();
        if email.is_empty() {
            return Err("must not be empty");
        }
        if email.chars().count() > MAX_EMAIL_CHARS {
            return Err("must be at most 254 characters");
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must not contain spaces or control characters");
        }
        let Some((local, domain)) = email.split_once('@') else {
            return Err("must contain @");
        };
        if local.is_empty() || local.chars().count() > MAX_LOCAL_PART_CHARS {
            return Err("must have 1 to 64 characters before @");
        }
        if domain.contains('@') {
            return Err("must contain a single @");
        }
        if !domain.contains('.') || domain.split('.').any(str::is_empty) {
            return Err("must have a domain such as example.org after @");
        }
        Ok(Self(email))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn addresses_are_trimmed_and_lowercased() {
        let email = Email::parse("  Ada.Lovelace@Example.ORG \n").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace@example.org");
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_reason() {
        for input in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "ada@example",
            "ada@@example.org",
            "ada@example..org",
            "ada lovelace@example.org",
            "ada@exa\u{7}mple.org",
        ] {
            assert!(Email::parse(input).is_err(), "{input:?} was accepted");
        }
    }

    #[test]
    fn overlong_addresses_are_refused() {
        let long_local = format!("{}@example.org", "a".repeat(65));
        let long_domain = format!("ada@{}.org", "d".repeat(250));
        assert!(Email::parse(&long_local).is_err());
        assert!(Email::parse(&long_domain).is_err());
    }
}
