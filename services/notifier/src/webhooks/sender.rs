//! The HTTP side of a webhook: a signed `POST` to a user's endpoint, through the
//! kit's egress client (public addresses only unless the operator allows private
//! ones; the name is resolved once and the connection made to what was checked),
//! no redirects followed, a deadline on the whole call.

use std::time::Duration;

use reqwest::{Url, redirect};
use six_kit::egress::{self, EgressPolicy};

use super::signature::{WebhookSecret, signature_header};

/// One call to make.
pub struct WebhookCall<'a> {
    /// `webhook-id`: the delivery's id, the same on every attempt, so receivers
    /// can drop repeats.
    pub message_id: String,
    pub url: &'a str,
    /// The JSON payload.
    pub body: Vec<u8>,
    /// Every live secret of the endpoint.
    pub secrets: &'a [WebhookSecret],
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// A 2xx answer.
    Delivered,
    /// Anything else: another status (redirects included), a timeout, a refused
    /// connection, an address the policy does not allow.
    Failed(String),
}

/// Makes webhook calls.
#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    policy: EgressPolicy,
}

impl WebhookSender {
    /// A sender reaching addresses `policy` allows, each call bounded by `timeout`.
    pub fn new(policy: EgressPolicy, timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = egress::client_builder(policy)
            .redirect(redirect::Policy::none())
            .timeout(timeout)
            .user_agent("six-degrees-notifier")
            .build()?;
        Ok(Self { client, policy })
    }

    /// Signs and sends `call`, at `timestamp_secs` (`webhook-timestamp`).
    pub async fn send(&self, call: &WebhookCall<'_>, timestamp_secs: i64) -> WebhookOutcome {
        let url = match Url::parse(call.url) {
            Ok(url) => url,
            Err(error) => return WebhookOutcome::Failed(format!("not a URL: {error}")),
        };
        if let Err(refused) = egress::check_url(&url, self.policy) {
            return WebhookOutcome::Failed(refused.to_string());
        }
        let signature =
            signature_header(call.secrets, &call.message_id, timestamp_secs, &call.body);
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &call.message_id)
            .header("webhook-timestamp", timestamp_secs.to_string())
            .header("webhook-signature", signature)
            .body(call.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => WebhookOutcome::Delivered,
            Ok(response) if response.status().is_redirection() => WebhookOutcome::Failed(format!(
                "answered {} (redirects are not followed; register the final URL)",
                response.status()
            )),
            Ok(response) => WebhookOutcome::Failed(format!("answered {}", response.status())),
            Err(error) => WebhookOutcome::Failed(
                egress::refusal(&error).map_or_else(|| describe(&error), ToString::to_string),
            ),
        }
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "no answer before the deadline".to_owned()
    } else if error.is_connect() {
        format!("could not connect: {error}")
    } else {
        error.to_string()
    }
}
