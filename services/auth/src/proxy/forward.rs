//! Forwarding one request to a provider's API with the provider's token attached,
//! streaming the bodies both ways.

use std::{collections::HashMap, sync::Arc, time::Duration};

use axum::{
    body::{Body, HttpBody},
    extract::{Request, State},
    http::{HeaderMap, Method, StatusCode, header::AUTHORIZATION, request::Parts},
    response::Response,
};
use futures_util::TryStreamExt;
use reqwest::Url;

use super::{
    error::ProxyError,
    headers,
    settings::{ProviderName, ProviderSettings},
    target,
    token_cache::{CachedToken, TokenCache},
    token_endpoint::error_chain,
};

/// The configured providers by name.
pub(super) type Providers = HashMap<String, Provider>;

/// One provider as the proxy uses it.
#[derive(Debug)]
pub(super) struct Provider {
    name: ProviderName,
    api_base_url: Url,
    client: reqwest::Client,
    timeout: Duration,
    tokens: Arc<TokenCache>,
}

/// Handles `/internal/proxy/{provider}/{*path}`, any method.
pub(super) async fn forward(
    State(providers): State<Arc<Providers>>,
    request: Request,
) -> Result<Response, ProxyError> {
    let (parts, body) = request.into_parts();
    // The raw path, not the `Path` extractor: the rest must reach the API encoded
    // exactly as the caller sent it.
    let Some((name, rest)) = target::split(parts.uri.path()) else {
        return Err(ProxyError::unknown_provider(""));
    };
    let provider = providers
        .get(name)
        .ok_or_else(|| ProxyError::unknown_provider(name))?;
    let rest = rest.to_owned();
    provider.forward(parts, &rest, body).await
}

impl Provider {
    pub(super) fn new(settings: &ProviderSettings, tokens: Arc<TokenCache>) -> Self {
        Self {
            name: settings.name.clone(),
            api_base_url: settings.api_base_url.clone(),
            client: settings.client.clone(),
            timeout: settings.timeout,
            tokens,
        }
    }

    #[tracing::instrument(
        name = "proxy",
        skip_all,
        fields(provider = %self.name, method = %parts.method)
    )]
    async fn forward(&self, parts: Parts, rest: &str, body: Body) -> Result<Response, ProxyError> {
        let result = self.exchange(parts, rest, body).await;
        if let Err(error) = &result
            && !matches!(error, ProxyError::PathOutsideApi)
        {
            tracing::warn!(code = error.code(), error = %error, "proxy request failed");
        }
        result
    }

    /// Sends the request upstream and returns the answer as it comes. An API that
    /// answers 401 gets its token rejected; a bodyless request is then sent once
    /// more with a new token, while a request whose body was already streamed
    /// upstream gets the 401 (its body cannot be replayed without buffering it).
    async fn exchange(&self, parts: Parts, rest: &str, body: Body) -> Result<Response, ProxyError> {
        let url = target::upstream_url(&self.api_base_url, rest, parts.uri.query())
            .map_err(|_| ProxyError::PathOutsideApi)?;
        let headers = headers::for_upstream(&parts.headers);
        let bodyless = body.size_hint().exact() == Some(0);
        tracing::trace!(path = url.path(), bodyless, "forwarding request");

        let token = self.token().await?;
        let upstream_body =
            (!bodyless).then(|| reqwest::Body::wrap_stream(body.into_data_stream()));
        let mut response = self
            .send(&parts.method, &url, &headers, &token, upstream_body)
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            self.tokens.reject(token.generation);
            if bodyless {
                tracing::debug!(
                    generation = token.generation,
                    "api refused the token, retrying with a new one"
                );
                let token = self.token().await?;
                response = self
                    .send(&parts.method, &url, &headers, &token, None)
                    .await?;
            }
        }
        tracing::trace!(status = response.status().as_u16(), "api answered");
        Ok(self.caller_response(response))
    }

    async fn token(&self) -> Result<CachedToken, ProxyError> {
        self.tokens
            .token()
            .await
            .map_err(|source| ProxyError::Token {
                provider: self.name.clone(),
                source,
            })
    }

    async fn send(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        token: &CachedToken,
        body: Option<reqwest::Body>,
    ) -> Result<reqwest::Response, ProxyError> {
        let mut request = self
            .client
            .request(method.clone(), url.clone())
            .headers(headers.clone())
            .header(AUTHORIZATION, token.bearer.clone());
        if let Some(body) = body {
            request = request.body(body);
        }
        request.send().await.map_err(|error| {
            if error.is_timeout() {
                ProxyError::ApiTimeout {
                    provider: self.name.clone(),
                    timeout_ms: self.timeout.as_millis(),
                }
            } else {
                ProxyError::ApiUnreachable {
                    provider: self.name.clone(),
                    cause: error_chain(&error.without_url()),
                }
            }
        })
    }

    /// The API's answer for the caller, its body streamed as it arrives. A body
    /// that breaks off midway (connection lost, no data within the timeout) ends the
    /// caller's answer abruptly too, so the caller cannot mistake it for complete.
    fn caller_response(&self, upstream: reqwest::Response) -> Response {
        let status = upstream.status();
        let headers = headers::for_caller(upstream.headers());
        let provider = self.name.clone();
        let body = upstream.bytes_stream().map_err(move |error| {
            let error = error.without_url();
            tracing::warn!(
                provider = %provider,
                error = %error_chain(&error),
                "api answer broke off"
            );
            error
        });
        let mut response = Response::new(Body::from_stream(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        response
    }
}
