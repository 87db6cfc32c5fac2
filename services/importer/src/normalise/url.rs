//! Profile URLs.
//!
//! Rules of [`profile_url`]:
//! - the scheme may be missing (`linkedin.com/in/jane`, `//example.com/jane`);
//!   `http` and `https` are accepted and the output is always `https`. Any other
//!   scheme (`javascript:`, `data:`, `ftp:`, `mailto:`...) is refused;
//! - the host is lowercased, internationalised hosts become punycode, a final dot
//!   goes; the host must be an IP address or a domain with at least one dot
//!   (`localhost`, `intranet` are no one's public profile). IP addresses are
//!   accepted: unusual, but harmless;
//! - user name and password, the fragment and a default port (80 for `http`, 443
//!   for `https`) are dropped; any other port is kept;
//! - LinkedIn profiles (`linkedin.com`, `www.`, country and mobile subdomains such
//!   as `uk.` or `m.`, path `/in/<slug>`) get one canonical form,
//!   `https://www.linkedin.com/in/<slug>`: the slug is percent-decoded, lowercased,
//!   put in NFC and percent-encoded again (every byte but `A-Z a-z 0-9 - . _ ~`,
//!   upper-case hex), and anything after it (sub-pages, trailing slash, query) is
//!   dropped. Other LinkedIn pages only get the `www.linkedin.com` host;
//! - on other hosts the path is kept as written (paths can be case-sensitive),
//!   without a trailing slash. The query is kept, because some sites identify a
//!   profile by it (`profile.php?id=...`), but tracking parameters (`utm_*`,
//!   `trk`, `fbclid`, `gclid`...) are removed and the rest sorted by name, so one
//!   profile shared through different campaigns has one URL.
//!
//! Limits: no resolution of short links (`lnkd.in`), no knowledge of other sites'
//! canonical forms (GitHub or X user names keep the case they were written in).

use unicode_normalization::UnicodeNormalization;
use url::{Host, Url, form_urlencoded};

use super::Invalid;

/// Longest input considered; browsers cap URLs near here.
const MAX_INPUT_BYTES: usize = 8192;

/// Query parameters that only track where a link was clicked; compared in
/// lowercase. Parameters starting with `utm_` are tracking too.
const TRACKING_PARAMS: &[&str] = &[
    "_ga",
    "_gl",
    "fbclid",
    "gclid",
    "igshid",
    "lipi",
    "licu",
    "mc_cid",
    "mc_eid",
    "msclkid",
    "originalsubdomain",
    "ref_src",
    "ref_url",
    "trk",
    "trkinfo",
    "trackingid",
    "yclid",
];

/// Characters left as they are in a re-encoded LinkedIn slug: RFC 3986
/// unreserved characters.
const SLUG_ENCODE_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Normalises one profile URL to its canonical `https://` form. Idempotent; the
/// output always parses as a URL again.
pub fn profile_url(raw: &str) -> Result<String, Invalid> {
    let invalid = |reason| Invalid::url(raw, reason);
    let text = raw.trim();
    if text.is_empty() {
        return Err(invalid("empty"));
    }
    if text.len() > MAX_INPUT_BYTES {
        return Err(invalid("far too long"));
    }
    let with_scheme = with_http_scheme(text).map_err(invalid)?;
    let mut url = Url::parse(&with_scheme).map_err(|_| invalid("not a web address"))?;

    let host = canonical_host(&url).map_err(invalid)?;
    let explicit_port = url.port();
    url.set_fragment(None);
    // Cannot fail on an http(s) URL with a host.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    if url.set_scheme("https").is_err() {
        return Err(invalid("not a web address"));
    }
    // `port()` is `None` when the original scheme's default port was written, so
    // `http://x:80` loses its port, and a default port for `https` is dropped on
    // the next line by the URL library itself.
    if url.set_port(explicit_port).is_err() || url.set_host(Some(&host)).is_err() {
        return Err(invalid("not a web address"));
    }

    if is_linkedin(&host) {
        if url.set_host(Some("www.linkedin.com")).is_err() {
            return Err(invalid("not a web address"));
        }
        if let Some(slug) = linkedin_slug(&url).map_err(invalid)? {
            return Ok(format!("https://www.linkedin.com/in/{slug}"));
        }
    }

    let path = url.path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/').to_owned();
        url.set_path(if trimmed.is_empty() { "/" } else { &trimmed });
    }
    let query = kept_query(&url);
    url.set_query(query.as_deref());
    Ok(url.into())
}

/// The input with an `http(s)` scheme, adding `https://` when there is none, or
/// why it is not a web address.
fn with_http_scheme(text: &str) -> Result<String, &'static str> {
    if let Some(rest) = text.strip_prefix("//") {
        return Ok(format!("https://{rest}"));
    }
    if let Some(colon) = text.find(':') {
        let scheme = &text[..colon];
        let is_scheme = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        // `example.com:8080/jane` has a port, not a scheme: a scheme has no dot
        // and is not followed by digits.
        let after = &text[colon + 1..];
        let is_port = after.starts_with(|c: char| c.is_ascii_digit());
        if is_scheme && !is_port && !scheme.contains('.') {
            return if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
                Ok(text.to_owned())
            } else {
                Err("not an http or https address")
            };
        }
    }
    Ok(format!("https://{text}"))
}

/// The lowercase host without a final dot, or why it cannot be a profile's host.
fn canonical_host(url: &Url) -> Result<String, &'static str> {
    match url.host() {
        None => Err("no host"),
        Some(Host::Ipv4(address)) => Ok(address.to_string()),
        Some(Host::Ipv6(address)) => Ok(format!("[{address}]")),
        Some(Host::Domain(domain)) => {
            let domain = domain.strip_suffix('.').unwrap_or(domain);
            if domain.is_empty() || domain.split('.').any(str::is_empty) {
                return Err("an empty part in the host");
            }
            if !domain.contains('.') {
                return Err("a host without a dot");
            }
            Ok(domain.to_ascii_lowercase())
        }
    }
}

/// `linkedin.com` or one of its subdomains.
fn is_linkedin(host: &str) -> bool {
    host == "linkedin.com" || host.ends_with(".linkedin.com")
}

/// The canonical slug of a LinkedIn `/in/<slug>` URL; `None` for other LinkedIn
/// pages.
fn linkedin_slug(url: &Url) -> Result<Option<String>, &'static str> {
    let mut segments = url.path().split('/').filter(|segment| !segment.is_empty());
    if !segments
        .next()
        .is_some_and(|first| first.eq_ignore_ascii_case("in"))
    {
        return Ok(None);
    }
    let Some(encoded) = segments.next() else {
        return Err("a LinkedIn address without a profile name");
    };
    let decoded = percent_encoding::percent_decode_str(encoded)
        .decode_utf8()
        .map_err(|_| "a LinkedIn profile name that is not valid text")?;
    let slug: String = decoded.nfc().collect::<String>().to_lowercase();
    if slug.trim().is_empty() {
        return Err("a LinkedIn address without a profile name");
    }
    Ok(Some(
        percent_encoding::utf8_percent_encode(&slug, SLUG_ENCODE_SET).to_string(),
    ))
}

/// The URL's query without tracking parameters, sorted by name (stably, so
/// repeated names keep their order); `None` when nothing is left.
fn kept_query(url: &Url) -> Option<String> {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| !is_tracking(name))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    pairs.sort_by(|left, right| left.0.cmp(&right.0));
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in &pairs {
        serializer.append_pair(name, value);
    }
    Some(serializer.finish())
}

/// Whether a query parameter only tracks the click.
fn is_tracking(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.is_empty() || name.starts_with("utm_") || TRACKING_PARAMS.contains(&name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalises_linkedin_profiles() {
        let cases = [
            (
                "https://www.linkedin.com/in/jane-doe-1a2b3c",
                "https://www.linkedin.com/in/jane-doe-1a2b3c",
            ),
            ("linkedin.com/in/jane", "https://www.linkedin.com/in/jane"),
            (
                "www.linkedin.com/in/Jane-Doe/",
                "https://www.linkedin.com/in/jane-doe",
            ),
            (
                "http://uk.linkedin.com/in/jane-doe?trk=public_profile",
                "https://www.linkedin.com/in/jane-doe",
            ),
            (
                "https://de.linkedin.com/in/jane-doe/?originalSubdomain=de",
                "https://www.linkedin.com/in/jane-doe",
            ),
            (
                "HTTPS://WWW.LINKEDIN.COM/IN/JANE-DOE#experience",
                "https://www.linkedin.com/in/jane-doe",
            ),
            (
                "https://m.linkedin.com/in/jane-doe/detail/contact-info/",
                "https://www.linkedin.com/in/jane-doe",
            ),
            (
                "https://www.linkedin.com/in/j%c3%bcrgen-m%C3%BCller",
                "https://www.linkedin.com/in/j%C3%BCrgen-m%C3%BCller",
            ),
            (
                "https://www.linkedin.com/in/Jürgen-Müller",
                "https://www.linkedin.com/in/j%C3%BCrgen-m%C3%BCller",
            ),
            (
                "https://www.linkedin.com/in/ju%CC%88rgen",
                "https://www.linkedin.com/in/j%C3%BCrgen",
            ),
            (
                "https://www.linkedin.com:443/in/jane",
                "https://www.linkedin.com/in/jane",
            ),
            (
                "https://user:secret@www.linkedin.com/in/jane",
                "https://www.linkedin.com/in/jane",
            ),
            (
                "  https://www.linkedin.com/in/jane  ",
                "https://www.linkedin.com/in/jane",
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                profile_url(raw).as_deref(),
                Ok(expected),
                "profile_url({raw:?})"
            );
        }
    }

    #[test]
    fn keeps_other_linkedin_pages_on_the_canonical_host() {
        let cases = [
            (
                "https://uk.linkedin.com/company/acme/",
                "https://www.linkedin.com/company/acme",
            ),
            (
                "https://www.linkedin.com/profile/view?id=12345&trk=nav",
                "https://www.linkedin.com/profile/view?id=12345",
            ),
            (
                "https://www.linkedin.com/pub/jane-doe/1/2b/3c4",
                "https://www.linkedin.com/pub/jane-doe/1/2b/3c4",
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                profile_url(raw).as_deref(),
                Ok(expected),
                "profile_url({raw:?})"
            );
        }
    }

    #[test]
    fn normalises_other_hosts() {
        let cases = [
            ("github.com/JaneDoe", "https://github.com/JaneDoe"),
            ("http://GitHub.com/JaneDoe/", "https://github.com/JaneDoe"),
            ("//example.com/jane", "https://example.com/jane"),
            ("https://example.com", "https://example.com/"),
            ("https://example.com/", "https://example.com/"),
            ("https://example.com.//jane//", "https://example.com//jane"),
            ("http://example.com:80/jane", "https://example.com/jane"),
            (
                "http://example.com:8080/jane",
                "https://example.com:8080/jane",
            ),
            ("example.com:8080/jane", "https://example.com:8080/jane"),
            (
                "https://www.facebook.com/profile.php?id=100012345&fbclid=abc&utm_source=x",
                "https://www.facebook.com/profile.php?id=100012345",
            ),
            (
                "https://example.com/p?z=1&a=2&UTM_Medium=mail&a=1",
                "https://example.com/p?a=2&a=1&z=1",
            ),
            (
                "https://example.com/p?utm_source=x#top",
                "https://example.com/p",
            ),
            (
                "https://example.com/a b/ü",
                "https://example.com/a%20b/%C3%BC",
            ),
            (
                "https://bücher.example/jane",
                "https://xn--bcher-kva.example/jane",
            ),
            ("https://192.0.2.1/jane", "https://192.0.2.1/jane"),
            ("https://[2001:db8::1]/jane", "https://[2001:db8::1]/jane"),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                profile_url(raw).as_deref(),
                Ok(expected),
                "profile_url({raw:?})"
            );
        }
    }

    #[test]
    fn refuses_what_is_not_a_profile_address() {
        let cases = [
            ("", "empty"),
            ("javascript:alert(1)", "not an http or https address"),
            ("JavaScript:alert(1)", "not an http or https address"),
            ("data:text/html,hi", "not an http or https address"),
            ("ftp://example.com/jane", "not an http or https address"),
            ("mailto:jane@example.com", "not an http or https address"),
            ("https://", "not a web address"),
            ("http://localhost/jane", "a host without a dot"),
            ("jane", "a host without a dot"),
            ("https://example..com/jane", "an empty part in the host"),
            ("https://www.linkedin.com/in/", "without a profile name"),
            ("https://www.linkedin.com/in/%FF", "not valid text"),
            ("https://exa mple.com/", "not a web address"),
        ];
        for (raw, reason) in cases {
            let error = profile_url(raw).expect_err(raw);
            assert_eq!(error.code(), "invalid_url", "{raw:?}");
            assert!(
                error.to_string().contains(reason),
                "profile_url({raw:?}) gave {error}, expected {reason:?}"
            );
        }
    }
}
