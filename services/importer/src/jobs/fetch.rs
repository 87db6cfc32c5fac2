//! Fetching a scheduled run's file onto the spool volume, streamed under the
//! upload limit: directly from a URL (kept to public addresses, see
//! [`six_kit::egress`]) or through auth's token proxy with this service's token.

use std::{path::Path, time::Duration};

use reqwest::{StatusCode, header};
use secrecy::ExposeSecret;
use six_kit::{
    auth::{ServiceTokenError, ServiceTokenSource},
    egress::{self, UrlRefused},
    service::BuildError,
};
use url::Url;

use crate::{
    schedules::{Source, proxy_url},
    settings::{ScheduleSettings, TokenProxySettings},
    spool::{self, SpoolError},
};

/// Deadline to connect to a source.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Fetches sources of scheduled runs.
pub struct Fetcher {
    direct: reqwest::Client,
    policy: egress::EgressPolicy,
    proxy: Option<TokenProxy>,
    max_bytes: u64,
}

struct TokenProxy {
    base: Url,
    tokens: ServiceTokenSource,
    /// Follows no redirect: a redirect would leave the proxy (and its token).
    http: reqwest::Client,
}

/// Why a source could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL may not be fetched (scheme, credentials, private address...).
    #[error("the source URL is refused: {0}")]
    Refused(UrlRefused),
    /// A token-proxy source on an instance without `IMPORTER_TOKEN_PROXY_URL`.
    #[error(
        "the source goes through auth's token proxy, which this importer is not configured for (IMPORTER_TOKEN_PROXY_URL)"
    )]
    ProxyNotConfigured,
    /// The provider path is not one the proxy can take.
    #[error("the provider path is refused: {0}")]
    BadProxyPath(String),
    /// No service token from auth.
    #[error("no service token for the token proxy: {0}")]
    Token(#[from] ServiceTokenError),
    /// Connecting or transferring failed, or took too long.
    #[error("the source could not be fetched: {0}")]
    Unreachable(String),
    /// The source answered, but not with the file.
    #[error("the source answered {status}{detail}")]
    Status {
        /// Its HTTP status.
        status: StatusCode,
        /// More about it, e.g. the proxy's problem code.
        detail: String,
    },
    /// Writing the file failed or it broke a limit.
    #[error("{0}")]
    Spool(#[from] SpoolError),
}

impl FetchError {
    /// A stable code for the job's `failure_code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused(_) | Self::BadProxyPath(_) => "source_refused",
            Self::ProxyNotConfigured => "token_proxy_not_configured",
            Self::Token(_) => "token_unavailable",
            Self::Unreachable(_) => "source_unreachable",
            Self::Status { .. } => "source_error_status",
            Self::Spool(SpoolError::TooLarge { .. }) => "payload_too_large",
            Self::Spool(SpoolError::Empty) => "empty_file",
            Self::Spool(SpoolError::BrokeOff(_)) => "source_unreachable",
            Self::Spool(SpoolError::Disk(_)) => "spool_failed",
        }
    }
}

impl Fetcher {
    /// A fetcher under `settings`; `max_bytes` is the upload limit.
    pub fn new(settings: &ScheduleSettings, max_bytes: u64) -> Result<Self, BuildError> {
        let direct = egress::client_builder(settings.egress)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(settings.fetch_timeout)
            .build()?;
        let proxy = settings
            .token_proxy
            .as_ref()
            .map(|proxy| TokenProxy::new(proxy, settings.fetch_timeout))
            .transpose()?;
        Ok(Self {
            direct,
            policy: settings.egress,
            proxy,
            max_bytes,
        })
    }

    /// Whether token-proxy sources can be fetched, and the URL a path becomes.
    pub fn proxy_base(&self) -> Option<&Url> {
        self.proxy.as_ref().map(|proxy| &proxy.base)
    }

    /// Fetches `source` into `path`; returns its size in bytes.
    pub async fn fetch(&self, source: &Source, path: &Path) -> Result<u64, FetchError> {
        let response = match source {
            Source::Url { url } => {
                let url = Url::parse(url)
                    .map_err(|error| FetchError::Unreachable(format!("not a URL: {error}")))?;
                egress::check_url(&url, self.policy).map_err(FetchError::Refused)?;
                self.direct.get(url).send().await.map_err(transfer_error)?
            }
            Source::TokenProxy { provider, path } => {
                let proxy = self.proxy.as_ref().ok_or(FetchError::ProxyNotConfigured)?;
                let url =
                    proxy_url(&proxy.base, provider, path).map_err(FetchError::BadProxyPath)?;
                let token = proxy.tokens.token().await?;
                proxy
                    .http
                    .get(url)
                    .bearer_auth(token.expose_secret())
                    .send()
                    .await
                    .map_err(transfer_error)?
            }
        };
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                status,
                detail: status_detail(response).await,
            });
        }
        if response
            .content_length()
            .is_some_and(|length| length > self.max_bytes)
        {
            return Err(SpoolError::TooLarge {
                limit: self.max_bytes,
            }
            .into());
        }
        Ok(spool::receive(Box::pin(response.bytes_stream()), path, self.max_bytes).await?)
    }
}

impl TokenProxy {
    fn new(settings: &TokenProxySettings, timeout: Duration) -> Result<Self, BuildError> {
        Ok(Self {
            base: settings.url.clone(),
            tokens: ServiceTokenSource::new(settings.tokens.clone())?,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(timeout)
                .build()?,
        })
    }
}

fn transfer_error(error: reqwest::Error) -> FetchError {
    match egress::refusal(&error) {
        Some(refused) => FetchError::Refused(refused.clone()),
        None => FetchError::Unreachable(error_chain(&error)),
    }
}

/// reqwest's own message is "error sending request"; the cause is further down.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What a failed answer says: a problem+json `code` (auth's proxy answers so), or
/// the `Location` of a redirect that was not followed.
async fn status_detail(response: reqwest::Response) -> String {
    if response.status().is_redirection() {
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("nowhere");
        return format!(" (a redirect to {location}, not followed through the token proxy)");
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/problem+json"));
    if !is_problem {
        return String::new();
    }
    match response.json::<serde_json::Value>().await {
        Ok(problem) => match problem.get("code").and_then(|code| code.as_str()) {
            Some(code) => format!(" ({code})"),
            None => String::new(),
        },
        Err(_) => String::new(),
    }
}
