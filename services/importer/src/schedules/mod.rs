//! Scheduled imports: when a schedule runs ([`Cron`]), where its file comes from
//! ([`Source`]), the schedules in the database ([`store`]) and the loop that
//! starts due runs and sends heartbeats ([`scheduler`]).

pub mod scheduler;
pub mod store;

use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds};
use serde::{Deserialize, Serialize};
use url::Url;

/// Longest URL or provider path a schedule may hold.
pub const MAX_URL_CHARS: usize = 2_048;

/// Runs looked at to find how often a cron expression fires: two hours' worth
/// of a pattern that fires up to every minute.
const RUNS_EXAMINED: usize = 130;

/// A five-field cron expression (minute, hour, day of month, month, day of
/// week; or `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`), in UTC.
#[derive(Debug, Clone)]
pub struct Cron(croner::Cron);

impl Cron {
    /// Parses `expression`; the error says what is wrong with it.
    pub fn parse(expression: &str) -> Result<Self, String> {
        let parser = CronParser::builder().seconds(Seconds::Disallowed).build();
        let cron = parser
            .parse(expression.trim())
            .map_err(|error| format!("not a five-field cron expression: {error}"))?;
        let parsed = Self(cron);
        if parsed.next_after(Utc::now()).is_none() {
            return Err("the expression never fires".to_owned());
        }
        Ok(parsed)
    }

    /// The first time after `time` the expression fires (`None`: never).
    pub fn next_after(&self, time: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.0.find_next_occurrence(&time, false).ok()
    }

    /// The shortest time between two runs, from `from` on (`None`: it fires at
    /// most once).
    pub fn shortest_gap(&self, from: DateTime<Utc>) -> Option<Duration> {
        let mut previous = self.next_after(from)?;
        let mut shortest: Option<Duration> = None;
        for _ in 1..RUNS_EXAMINED {
            let Some(next) = self.next_after(previous) else {
                break;
            };
            let gap = (next - previous).to_std().unwrap_or_default();
            shortest = Some(shortest.map_or(gap, |shortest| shortest.min(gap)));
            previous = next;
        }
        shortest
    }
}

/// Where a scheduled run gets its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// Fetched directly; only public addresses unless the operator allows
    /// private ones (`IMPORTER_FETCH_PRIVATE_ADDRESSES`).
    Url {
        /// `http://` or `https://`, without credentials.
        url: String,
    },
    /// Fetched through auth's token proxy, which adds the provider's OAuth token
    /// (`GET {IMPORTER_TOKEN_PROXY_URL}/{provider}/{path}`).
    TokenProxy {
        /// The provider's name as configured on auth (`AUTH_PROXY_PROVIDERS`).
        provider: String,
        /// The path (and query) under the provider's API base URL.
        path: String,
    },
}

impl Source {
    /// The source stored in a schedule's or job's `source_*` columns.
    pub fn from_columns(
        url: Option<String>,
        provider: Option<String>,
        path: Option<String>,
    ) -> Option<Self> {
        match (url, provider, path) {
            (Some(url), _, _) => Some(Self::Url { url }),
            (None, Some(provider), Some(path)) => Some(Self::TokenProxy { provider, path }),
            _ => None,
        }
    }

    /// The `source_url`, `source_provider` and `source_path` columns.
    pub fn columns(&self) -> (Option<&str>, Option<&str>, Option<&str>) {
        match self {
            Self::Url { url } => (Some(url), None, None),
            Self::TokenProxy { provider, path } => (None, Some(provider), Some(path)),
        }
    }

    /// The last segment of the URL or path, as the job's file name.
    pub fn file_name(&self) -> Option<String> {
        let path = match self {
            Self::Url { url } => Url::parse(url).ok()?.path().to_owned(),
            Self::TokenProxy { path, .. } => path.split(['?', '#']).next()?.to_owned(),
        };
        path.rsplit('/')
            .find(|segment| !segment.is_empty())
            .map(|segment| {
                percent_encoding::percent_decode_str(segment)
                    .decode_utf8_lossy()
                    .into_owned()
            })
    }
}

/// The URL of `path` of `provider` behind the token proxy at `base`; refuses a
/// provider name auth would not accept and a path that would leave the
/// provider's part of the proxy (`..`, a scheme, a fragment).
pub fn proxy_url(base: &Url, provider: &str, path: &str) -> Result<Url, String> {
    if provider.is_empty()
        || provider.len() > 64
        || !provider
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
    {
        return Err("a provider name is 1 to 64 characters of a-z, 0-9 and -".to_owned());
    }
    if path.is_empty() || path.chars().count() > MAX_URL_CHARS {
        return Err(format!("a path is 1 to {MAX_URL_CHARS} characters"));
    }
    if path.starts_with('/')
        || path.contains('#')
        || path.contains('\\')
        || path.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(
            "a path is relative to the provider's API (no leading /), without spaces, \\ or #"
                .to_owned(),
        );
    }
    let segments = path.split('?').next().unwrap_or_default();
    if segments.split('/').any(|segment| {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        decoded == "." || decoded == ".." || decoded.contains('/')
    }) {
        return Err("a path may not contain . or .. segments or encoded slashes".to_owned());
    }
    let prefix = format!("{}/{provider}/", base.as_str().trim_end_matches('/'));
    let url = Url::parse(&format!("{prefix}{path}"))
        .map_err(|error| format!("not a usable path: {error}"))?;
    if !url.as_str().starts_with(&prefix) {
        return Err("the path leaves the provider's part of the token proxy".to_owned());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn cron_expressions_fire_in_utc() {
        let daily = Cron::parse("30 6 * * *").unwrap();
        assert_eq!(
            daily.next_after(at("2026-11-23T06:29:00Z")),
            Some(at("2026-11-23T06:30:00Z"))
        );
        assert_eq!(
            daily.next_after(at("2026-11-23T06:30:00Z")),
            Some(at("2026-11-24T06:30:00Z"))
        );
        let weekly = Cron::parse("@weekly").unwrap();
        assert_eq!(
            weekly.next_after(at("2026-11-23T12:00:00Z")),
            Some(at("2026-11-29T00:00:00Z"))
        );
        assert_eq!(
            Cron::parse("0 9 * * 1-5")
                .unwrap()
                .next_after(at("2026-11-27T10:00:00Z")),
            Some(at("2026-11-30T09:00:00Z")),
            "Friday after nine: next Monday"
        );
    }

    #[test]
    fn bad_cron_expressions_say_why() {
        for bad in [
            "",
            "* * * *",
            "0 0 * * * *",
            "61 * * * *",
            "0 0 31 2 *",
            "banana",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad:?} is refused");
        }
    }

    #[test]
    fn the_shortest_gap_is_found_wherever_the_pattern_is_dense() {
        let gap = |expression: &str| {
            Cron::parse(expression)
                .unwrap()
                .shortest_gap(at("2026-11-23T05:00:00Z"))
        };
        assert_eq!(gap("*/5 * * * *"), Some(Duration::from_secs(300)));
        assert_eq!(gap("@daily"), Some(Duration::from_secs(86_400)));
        // Dense only within hour 0, which is 19 hours away.
        assert_eq!(gap("0,1 0 * * *"), Some(Duration::from_secs(60)));
        // Every minute of one day a year.
        assert_eq!(gap("* * 29 2 *"), Some(Duration::from_secs(60)));
        assert_eq!(gap("0 0 1 1 *"), Some(Duration::from_secs(365 * 86_400)));
    }

    #[test]
    fn proxy_paths_stay_under_the_provider() {
        let base = Url::parse("http://auth:8080/internal/proxy").unwrap();
        assert_eq!(
            proxy_url(
                &base,
                "acme-crm",
                "v2/exports/contacts.csv?since=2026-01-01"
            )
            .unwrap()
            .as_str(),
            "http://auth:8080/internal/proxy/acme-crm/v2/exports/contacts.csv?since=2026-01-01"
        );
        for bad in [
            "/absolute",
            "../other/x",
            "a/%2e%2e/b",
            "a/%2F/b",
            "a/./b",
            "a#frag",
            "a b",
            "a\\b",
            "",
        ] {
            assert!(
                proxy_url(&base, "acme-crm", bad).is_err(),
                "{bad:?} is refused"
            );
        }
        for bad in ["", "Acme", "acme_crm", "a/b", &"x".repeat(65)] {
            assert!(
                proxy_url(&base, bad, "x.csv").is_err(),
                "provider {bad:?} is refused"
            );
        }
    }

    #[test]
    fn the_file_name_is_the_last_segment() {
        let url = |url: &str| {
            Source::Url {
                url: url.to_owned(),
            }
            .file_name()
        };
        assert_eq!(
            url("https://x.test/exports/My%20Contacts.csv?x=1"),
            Some("My Contacts.csv".to_owned())
        );
        assert_eq!(url("https://x.test/"), None);
        let proxied = Source::TokenProxy {
            provider: "acme".to_owned(),
            path: "v1/contacts.csv?page=all".to_owned(),
        };
        assert_eq!(proxied.file_name(), Some("contacts.csv".to_owned()));
    }
}
