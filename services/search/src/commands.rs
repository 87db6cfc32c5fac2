//! The search binary's own command, next to the kit's (`serve`, `migrate`,
//! `parked …`):
//!
//! ```text
//! search reindex [--url URL] [--no-wait]
//! ```
//!
//! asks the running service for a reindex (`POST /internal/reindex`, with this
//! service's client credentials on auth, as its calls to the importer use), then
//! follows the new version (`GET /internal/reindex/{version}`) until it is live or
//! failed, printing its status as one JSON line whenever it changes. `--url` is the
//! service's base URL; by default the local one of `HTTP_ADDR`, so the command
//! runs inside the service's container (`kubectl exec`). `--no-wait` returns once
//! the reindex started. Exit code 0 when the version is live (or started, with
//! `--no-wait`), 1 when it failed or could not start, 2 for bad words.
//!
//! The rebuild itself runs in the service, which holds the index; stopping the
//! command stops following it, not the rebuild.

use std::{net::SocketAddr, time::Duration};

use reqwest::{StatusCode, Url};
use secrecy::ExposeSecret;
use six_kit::{
    auth::ServiceTokenSource,
    cli::{CommandError, OwnCommand},
    config::CommonConfig,
};

use crate::{reindex::VersionStatus, settings::Settings};

/// How often a running reindex is looked at.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Bound on each request to the service.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The commands of [`crate::App`].
pub fn commands() -> Vec<OwnCommand<Settings>> {
    vec![OwnCommand {
        name: "reindex",
        usage: "reindex [--url URL] [--no-wait]",
        run: |args, config, settings| Box::pin(reindex(args, config, settings)),
    }]
}

#[derive(Debug, PartialEq, Eq)]
struct Options {
    url: Option<Url>,
    wait: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        url: None,
        wait: true,
    };
    let mut words = args.iter();
    while let Some(word) = words.next() {
        match word.as_str() {
            "--url" => {
                let url = words.next().ok_or("--url expects the service's base URL")?;
                let url = Url::parse(url)
                    .ok()
                    .filter(|url| matches!(url.scheme(), "http" | "https"))
                    .ok_or_else(|| format!("--url expects an http(s) URL, got `{url}`"))?;
                options.url = Some(url);
            }
            "--no-wait" => options.wait = false,
            other => return Err(format!("reindex: unknown option `{other}`")),
        }
    }
    Ok(options)
}

/// The service's own address as a URL: `HTTP_ADDR`, with a wildcard address
/// (`0.0.0.0`, `::`) read as this machine.
fn local_url(addr: SocketAddr) -> Url {
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        ip if ip.is_ipv6() => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    Url::parse(&format!("http://{host}:{}/", addr.port())).expect("a host and a port make a URL")
}

async fn reindex(
    args: Vec<String>,
    config: CommonConfig,
    settings: Settings,
) -> Result<(), CommandError> {
    let options = parse(&args).map_err(CommandError::Usage)?;
    let Some(reindex) = settings.reindex else {
        return Err(CommandError::failed(
            "reindexing is not configured: set SEARCH_IMPORTER_URL and this service's \
             AUTH_TOKEN_URL, AUTH_CLIENT_ID and AUTH_CLIENT_SECRET",
        ));
    };
    let base = options.url.unwrap_or_else(|| local_url(config.http.addr));
    let tokens = ServiceTokenSource::new(reindex.tokens).map_err(CommandError::failed)?;
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(CommandError::failed)?;
    let service = ReindexRoutes {
        client,
        tokens,
        base,
    };
    let started = service.start().await?;
    println!(
        "{}",
        serde_json::to_string(&started).map_err(CommandError::failed)?
    );
    if !options.wait {
        return Ok(());
    }
    let mut last = started;
    loop {
        match last.state.as_str() {
            "live" => return Ok(()),
            "failed" => {
                return Err(CommandError::failed(format!(
                    "version {} failed: {}",
                    last.version,
                    last.error.as_deref().unwrap_or("no reason recorded")
                )));
            }
            // Replaced by a newer version while this one was being followed.
            "retired" => {
                return Err(CommandError::failed(format!(
                    "version {} was retired before it was followed to the end",
                    last.version
                )));
            }
            _ => {}
        }
        tokio::time::sleep(POLL_INTERVAL).await;
        let status = service.status(last.version).await?;
        if (
            &status.state,
            status.profiles_copied,
            status.contacts_copied,
        ) != (&last.state, last.profiles_copied, last.contacts_copied)
        {
            println!(
                "{}",
                serde_json::to_string(&status).map_err(CommandError::failed)?
            );
        }
        last = status;
    }
}

/// The running service's reindex routes.
struct ReindexRoutes {
    client: reqwest::Client,
    tokens: ServiceTokenSource,
    base: Url,
}

impl ReindexRoutes {
    async fn start(&self) -> Result<VersionStatus, CommandError> {
        self.call(
            self.client.post(self.url("internal/reindex")),
            StatusCode::ACCEPTED,
        )
        .await
    }

    async fn status(&self, version: i64) -> Result<VersionStatus, CommandError> {
        let path = format!("internal/reindex/{version}");
        self.call(self.client.get(self.url(&path)), StatusCode::OK)
            .await
    }

    fn url(&self, path: &str) -> Url {
        self.base
            .join(path)
            .expect("a relative path joins a base URL")
    }

    /// Sends `request` with a service token; its answer when it is `expected`,
    /// otherwise the service's problem as the error.
    async fn call(
        &self,
        request: reqwest::RequestBuilder,
        expected: StatusCode,
    ) -> Result<VersionStatus, CommandError> {
        let token = self.tokens.token().await.map_err(CommandError::failed)?;
        let response = request
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(|error| {
                CommandError::failed(format!(
                    "cannot reach the service at {}: {error}",
                    self.base
                ))
            })?;
        let status = response.status();
        if status == expected {
            return response.json().await.map_err(CommandError::failed);
        }
        let problem: serde_json::Value = response.json().await.unwrap_or_default();
        let explained = ["title", "detail"]
            .iter()
            .filter_map(|field| problem[field].as_str())
            .collect::<Vec<_>>()
            .join(": ");
        Err(CommandError::failed(format!(
            "the service answered {status}: {explained}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| (*word).to_owned()).collect()
    }

    #[test]
    fn options_default_to_the_local_service_and_waiting() {
        assert_eq!(
            parse(&[]),
            Ok(Options {
                url: None,
                wait: true
            })
        );
        assert_eq!(
            parse(&words(&["--url", "http://search:8080", "--no-wait"])),
            Ok(Options {
                url: Some(Url::parse("http://search:8080").unwrap()),
                wait: false
            })
        );
    }

    #[test]
    fn bad_words_are_refused() {
        assert!(parse(&words(&["--url"])).is_err());
        assert!(parse(&words(&["--url", "search:8080"])).is_err());
        assert!(parse(&words(&["--url", "ftp://search"])).is_err());
        assert!(parse(&words(&["--force"])).is_err());
    }

    #[test]
    fn the_local_url_reads_a_wildcard_address_as_this_machine() {
        let url = |addr: &str| local_url(addr.parse().unwrap()).to_string();
        assert_eq!(url("0.0.0.0:8080"), "http://127.0.0.1:8080/");
        assert_eq!(url("[::]:8080"), "http://[::1]:8080/");
        assert_eq!(url("10.0.0.7:9000"), "http://10.0.0.7:9000/");
    }
}
