//! E-mail addresses.
//!
//! Rules of [`normalise`]:
//! - surrounding white space goes, and so do the wrappers exports put around an
//!   address: `mailto:` (with any `?subject=...` after the address), angle
//!   brackets, and a display name before them (`Jane Doe <jane@example.com>`);
//! - the whole address is lowercased. Strictly the local part is case-sensitive,
//!   but no mainstream provider treats it so, and identity resolution needs
//!   `Jane@x.com` and `jane@x.com` to be one person;
//! - exactly one `@`; a local part of 1 to 64 octets made of RFC 5322 dot-atom
//!   characters (`a-z 0-9 ! # $ % & ' * + - / = ? ^ _ \` { | } ~` and single dots,
//!   not first or last);
//! - a domain of at most 253 octets with at least two labels, each of 1 to 63
//!   letters, digits or hyphens, not starting or ending with a hyphen, and a
//!   top-level label that is not all digits. Internationalised domains are
//!   accepted in Unicode and stored as ASCII (punycode, `xn--`), so `müller.de` and
//!   `xn--mller-kva.de` are one domain. A final dot (`example.com.`) is dropped.
//!
//! Limits, on purpose: no quoted local parts (`"jane doe"@x.com`), no comments, no
//! IP-literal domains (`jane@[192.0.2.1]`), no non-ASCII local parts (RFC 6531);
//! all are legal but vanishingly rare in address books and each is a way to smuggle
//! odd strings into identity resolution. No provider-specific folding either
//! (Gmail's dots and `+tags` are kept): whether two such addresses are one person is
//! the graph's decision, not a normalisation.

use super::Invalid;

/// Longest input considered; anything longer cannot be a valid address (64 + 1 +
/// 253 octets) even with a display name and `mailto:` around it.
const MAX_INPUT_BYTES: usize = 1024;
const MAX_LOCAL_OCTETS: usize = 64;
const MAX_DOMAIN_OCTETS: usize = 253;
const MAX_LABEL_OCTETS: usize = 63;

/// Normalises one e-mail address to its lowercase ASCII form. Idempotent; the
/// output always has exactly one `@`.
pub fn normalise(raw: &str) -> Result<String, Invalid> {
    let invalid = |reason| Invalid::email(raw, reason);
    if raw.len() > MAX_INPUT_BYTES {
        return Err(invalid("far too long to be an address"));
    }
    let address = unwrap_address(raw);
    if address.is_empty() {
        return Err(invalid("empty"));
    }
    let mut parts = address.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(if address.contains('@') {
            invalid("more than one @")
        } else {
            invalid("no @")
        });
    };
    let local = local_part(local).map_err(invalid)?;
    let domain = domain_part(domain).map_err(invalid)?;
    Ok(format!("{local}@{domain}"))
}

/// Splits a cell that may hold several addresses into candidate addresses, in
/// order, without validating them.
///
/// Separators: `,`, `;`, Google's ` ::: `, and white space, except inside a piece
/// holding `<`, so `Jane Doe <jane@example.com>` stays one candidate. Empty pieces
/// are skipped. Each candidate still goes through [`normalise`].
pub fn split_list(raw: &str) -> impl Iterator<Item = &str> {
    raw.split([',', ';'])
        .flat_map(|piece| piece.split(":::"))
        .flat_map(|piece| {
            let keep_whole = piece.contains('<');
            piece.split(move |c: char| !keep_whole && c.is_whitespace())
        })
        .map(str::trim)
        .filter(|candidate| !candidate.is_empty())
}

/// Strips white space, a display name, angle brackets and `mailto:` from around
/// the address.
fn unwrap_address(raw: &str) -> &str {
    let mut address = raw.trim();
    if let Some(inner) = address.strip_suffix('>')
        && let Some(open) = inner.rfind('<')
    {
        address = inner[open + 1..].trim();
    }
    if let Some(prefix) = address.get(..7)
        && prefix.eq_ignore_ascii_case("mailto:")
    {
        address = address[7..].trim();
        // A mailto URI may carry headers after the address; `?` is legal in a
        // local part, so only cut here, where a URI is certain.
        if let Some(query) = address.find('?') {
            address = &address[..query];
        }
    }
    address
}

/// The lowercase local part, or why it is refused.
fn local_part(local: &str) -> Result<String, &'static str> {
    if local.is_empty() {
        return Err("nothing before the @");
    }
    if local.len() > MAX_LOCAL_OCTETS {
        return Err("more than 64 characters before the @");
    }
    if local.starts_with('"') {
        return Err("quoted names before the @ are not supported");
    }
    if !local.split('.').all(|atom| !atom.is_empty()) {
        return Err("a dot at the start or end of the name, or two dots in a row");
    }
    if !local.bytes().all(|b| b == b'.' || is_atext(b)) {
        return Err(if local.is_ascii() {
            "a character not allowed before the @"
        } else {
            "non-ASCII characters before the @ are not supported"
        });
    }
    Ok(local.to_ascii_lowercase())
}

/// RFC 5322 `atext`.
fn is_atext(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&byte)
}

/// The lowercase ASCII domain, or why it is refused.
fn domain_part(domain: &str) -> Result<String, &'static str> {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    if domain.is_empty() {
        return Err("nothing after the @");
    }
    if domain.starts_with('[') {
        return Err("IP addresses after the @ are not supported");
    }
    let ascii = if domain.is_ascii() {
        domain.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(domain).map_err(|_| "not a valid international domain")?
    };
    if ascii.len() > MAX_DOMAIN_OCTETS {
        return Err("a domain longer than 253 characters");
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err("a domain without a dot");
    }
    for label in &labels {
        if label.is_empty() || label.len() > MAX_LABEL_OCTETS {
            return Err("an empty or over-long part in the domain");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("a character not allowed in a domain");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a domain part starting or ending with a hyphen");
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("a domain ending in a number");
    }
    if ascii.contains("xn--") {
        // Punycode labels must decode to a valid international name, so that an
        // ASCII and a Unicode spelling of one domain always agree.
        let (_, check) = idna::domain_to_unicode(&ascii);
        check.map_err(|_| "not a valid international domain")?;
    }
    Ok(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_realistic_addresses() {
        let cases = [
            ("jane@example.com", "jane@example.com"),
            ("  Jane.Doe@Example.COM ", "jane.doe@example.com"),
            ("mailto:jane@example.com", "jane@example.com"),
            ("MAILTO:Jane@Example.com?subject=Hi", "jane@example.com"),
            ("<jane@example.com>", "jane@example.com"),
            ("Jane Doe <Jane@Example.com>", "jane@example.com"),
            ("\"Doe, Jane\" <jane@example.com>", "jane@example.com"),
            ("jane+linkedin@gmail.com", "jane+linkedin@gmail.com"),
            ("j.a.n.e@gmail.com", "j.a.n.e@gmail.com"),
            ("o'brien@example.ie", "o'brien@example.ie"),
            ("jane@mail.example.co.uk", "jane@mail.example.co.uk"),
            ("jane@example.com.", "jane@example.com"),
            ("hans@müller.de", "hans@xn--mller-kva.de"),
            ("hans@MÜLLER.de", "hans@xn--mller-kva.de"),
            ("hans@xn--mller-kva.de", "hans@xn--mller-kva.de"),
            ("info@例え.jp", "info@xn--r8jz45g.jp"),
            ("x@a-b.io", "x@a-b.io"),
            ("{weird}~!@example.org", "{weird}~!@example.org"),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                normalise(raw).as_deref(),
                Ok(expected),
                "normalise({raw:?})"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("jane", "no @"),
            ("jane.example.com", "no @"),
            ("jane@@example.com", "more than one @"),
            ("jane@doe@example.com", "more than one @"),
            ("@example.com", "nothing before the @"),
            ("jane@", "nothing after the @"),
            ("jane@localhost", "a domain without a dot"),
            (".jane@example.com", "a dot at the start or end"),
            ("jane.@example.com", "a dot at the start or end"),
            ("ja..ne@example.com", "two dots in a row"),
            (
                "jane doe@example.com",
                "a character not allowed before the @",
            ),
            (
                "jane(x)@example.com",
                "a character not allowed before the @",
            ),
            ("\"jane doe\"@example.com", "quoted names"),
            ("jürgen@example.de", "non-ASCII characters before the @"),
            ("jane@[192.0.2.1]", "IP addresses"),
            ("jane@192.0.2.1", "a domain ending in a number"),
            ("jane@exa_mple.com", "a character not allowed in a domain"),
            ("jane@-example.com", "starting or ending with a hyphen"),
            ("jane@example-.com", "starting or ending with a hyphen"),
            ("jane@example..com", "an empty or over-long part"),
            ("jane@.example.com", "an empty or over-long part"),
            ("javascript:alert(1)", "no @"),
        ];
        for (raw, reason) in cases {
            let error = normalise(raw).expect_err(raw);
            assert_eq!(error.code(), "invalid_email");
            assert!(
                error.to_string().contains(reason),
                "normalise({raw:?}) gave {error}, expected {reason:?}"
            );
        }
    }

    #[test]
    fn enforces_length_limits() {
        let local_64 = "a".repeat(64);
        let label_63 = "b".repeat(63);
        let domain_253 = format!("{label_63}.{label_63}.{label_63}.{}.com", "c".repeat(57));
        assert_eq!(domain_253.len(), 253);

        assert!(normalise(&format!("{local_64}@example.com")).is_ok());
        assert!(normalise(&format!("{local_64}a@example.com")).is_err());
        assert!(normalise(&format!("x@{label_63}.com")).is_ok());
        assert!(normalise(&format!("x@{label_63}b.com")).is_err());
        assert!(normalise(&format!("x@{domain_253}")).is_ok());
        assert!(normalise(&format!("x@c{domain_253}")).is_err());
        assert!(normalise(&"a".repeat(100_000)).is_err());
    }

    #[test]
    fn splits_multi_address_cells() {
        let cases: &[(&str, &[&str])] = &[
            ("jane@example.com", &["jane@example.com"]),
            (
                "jane@example.com ::: j.doe@work.example",
                &["jane@example.com", "j.doe@work.example"],
            ),
            ("a@x.io, b@y.io;c@z.io", &["a@x.io", "b@y.io", "c@z.io"]),
            ("a@x.io b@y.io\nc@z.io", &["a@x.io", "b@y.io", "c@z.io"]),
            (
                "Jane Doe <jane@x.io>; John <john@y.io>",
                &["Jane Doe <jane@x.io>", "John <john@y.io>"],
            ),
            ("mailto:a@x.io", &["mailto:a@x.io"]),
            (" ,; ::: ", &[]),
            ("", &[]),
        ];
        for (raw, expected) in cases {
            let got: Vec<&str> = split_list(raw).collect();
            assert_eq!(&got, expected, "split_list({raw:?})");
        }
    }
}
