//! The three endpoints the benchmark calls, as a client sees them. Any answer other
//! than the expected success is an error: the benchmark measures working requests,
//! so a failure stops the run instead of being timed.

use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Longest a request may take; far above any latency worth reporting, it only
/// keeps a stuck service from hanging the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Characters of an unexpected answer's body kept in the error.
const BODY_EXCERPT_CHARS: usize = 300;

/// The auth service's HTTP API at one base URL.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    login_url: String,
    refresh_url: String,
    register_url: String,
}

/// An account the benchmark registered.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    /// Its e-mail address.
    pub email: String,
    /// Its password.
    pub password: String,
}

#[derive(Serialize)]
struct Registration<'a> {
    email: &'a str,
    password: &'a str,
    display_name: &'a str,
}

#[derive(Serialize)]
struct RefreshRequest<'a> {
    refresh_token: &'a str,
}

/// What login and refresh answer (the fields the benchmark needs).
#[derive(Deserialize)]
struct Session {
    access_token: String,
    refresh_token: String,
}

impl Api {
    /// The API of the service whose URLs `url_of` builds from paths.
    pub fn new(client: reqwest::Client, url_of: impl Fn(&str) -> String) -> Self {
        Self {
            client,
            login_url: url_of("/v1/login"),
            refresh_url: url_of("/v1/refresh"),
            register_url: url_of("/v1/register"),
        }
    }

    /// `POST /v1/register`; expects 201.
    pub async fn register(&self, account: &Account) -> anyhow::Result<()> {
        let body = Registration {
            email: &account.email,
            password: &account.password,
            display_name: "Bench User",
        };
        let response = self.post(&self.register_url, &body).await?;
        expect_status(response, reqwest::StatusCode::CREATED, "register").await?;
        Ok(())
    }

    /// `POST /v1/login`; expects 200 and returns the new refresh token.
    pub async fn login(&self, account: &Account) -> anyhow::Result<String> {
        let response = self.post(&self.login_url, account).await?;
        session(response, "login").await
    }

    /// `POST /v1/refresh` with `refresh_token`; expects 200 and returns the next one.
    pub async fn refresh(&self, refresh_token: &str) -> anyhow::Result<String> {
        let response = self
            .post(&self.refresh_url, &RefreshRequest { refresh_token })
            .await?;
        session(response, "refresh").await
    }

    async fn post(&self, url: &str, body: &impl Serialize) -> anyhow::Result<reqwest::Response> {
        self.client
            .post(url)
            .timeout(REQUEST_TIMEOUT)
            .json(body)
            .send()
            .await
            .with_context(|| format!("POST {url}"))
    }
}

/// The refresh token of a 200 session answer.
async fn session(response: reqwest::Response, operation: &str) -> anyhow::Result<String> {
    let response = expect_status(response, reqwest::StatusCode::OK, operation).await?;
    let session: Session = response
        .json()
        .await
        .with_context(|| format!("{operation}: read the session"))?;
    anyhow::ensure!(
        !session.access_token.is_empty() && !session.refresh_token.is_empty(),
        "{operation}: the session has an empty token"
    );
    Ok(session.refresh_token)
}

async fn expect_status(
    response: reqwest::Response,
    expected: reqwest::StatusCode,
    operation: &str,
) -> anyhow::Result<reqwest::Response> {
    let status = response.status();
    if status == expected {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let excerpt: String = body.chars().take(BODY_EXCERPT_CHARS).collect();
    anyhow::bail!("{operation}: expected {expected}, got {status}: {excerpt}")
}
