//! A throwaway RabbitMQ vhost per test, and the management API to look at queues.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::{Client, Method, StatusCode, Url};
use serde::Deserialize;
use uuid::Uuid;

use crate::cleanup::{block_on_own_thread, is_old_leftover};
use crate::servers::{amqp_url, rabbitmq_api_url, redact, unreachable};

/// Prefix of every test vhost name; the rest is a UUIDv7 (its creation time).
const NAME_PREFIX: &str = "test-";

/// Deadline of one management API request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What the management API says about one queue.
///
/// The counts come from the broker's statistics, which it refreshes every few
/// seconds: wait on them with [`crate::wait_until`], never read them once and assert.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QueueStats {
    /// The queue's name.
    pub name: String,
    /// `classic`, `quorum` or `stream`.
    #[serde(rename = "type", default)]
    pub queue_type: String,
    /// Ready plus unacknowledged messages.
    #[serde(default)]
    pub messages: u64,
    /// Messages waiting to be delivered.
    #[serde(default)]
    pub messages_ready: u64,
    /// Messages delivered and not yet acknowledged.
    #[serde(default)]
    pub messages_unacknowledged: u64,
    /// Consumers subscribed to the queue.
    #[serde(default)]
    pub consumers: u64,
    /// The queue's declaration arguments (`x-queue-type`, `x-message-ttl`...).
    #[serde(default)]
    pub arguments: serde_json::Map<String, serde_json::Value>,
    /// What has happened to the queue's messages since it was declared.
    #[serde(default)]
    pub message_stats: MessageStats,
}

/// Running totals of a queue (they only grow, so a stale reading is never ahead).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MessageStats {
    /// Deliveries acknowledged by consumers: every delivery handled, duplicates
    /// included, counts once.
    #[serde(default)]
    pub ack: u64,
}

/// A client of the RabbitMQ management HTTP API.
#[derive(Debug, Clone)]
pub struct RabbitMqApi {
    base: Url,
    user: String,
    password: String,
    client: Client,
}

#[derive(Deserialize)]
struct Vhost {
    name: String,
}

impl RabbitMqApi {
    /// A client for the API at `url` (`http://user:password@host:port`).
    ///
    /// # Panics
    /// When `url` is not a URL with credentials.
    pub fn new(url: &str) -> Self {
        let mut base = Url::parse(url).unwrap_or_else(|error| {
            panic!("`{}` is not a management API URL: {error}", redact(url))
        });
        let user = base.username().to_owned();
        let password = base.password().unwrap_or_default().to_owned();
        assert!(
            !user.is_empty(),
            "the management API URL `{}` has no user",
            redact(url)
        );
        let _ = base.set_username("");
        let _ = base.set_password(None);
        let client = Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_else(|error| panic!("no HTTP client: {error}"));
        Self {
            base,
            user,
            password,
            client,
        }
    }

    /// A client for the API at [`rabbitmq_api_url`].
    pub fn from_env() -> Self {
        Self::new(&rabbitmq_api_url())
    }

    /// Every queue of `vhost`.
    ///
    /// # Panics
    /// When the API is unreachable or answers with an error.
    pub async fn queues(&self, vhost: &str) -> Vec<QueueStats> {
        let response = self
            .send(Method::GET, &["queues", vhost], None)
            .await
            .unwrap_or_else(|error| self.fail(&error));
        response.json().await.unwrap_or_else(|error| {
            panic!("unexpected queue list from the management API: {error}")
        })
    }

    /// The queue `name` of `vhost`, or `None` when it does not exist.
    ///
    /// # Panics
    /// When the API is unreachable or answers with another error.
    pub async fn queue(&self, vhost: &str, name: &str) -> Option<QueueStats> {
        match self.send(Method::GET, &["queues", vhost, name], None).await {
            Ok(response) => Some(response.json().await.unwrap_or_else(|error| {
                panic!("unexpected queue from the management API: {error}")
            })),
            Err(ApiError::Status(StatusCode::NOT_FOUND, _)) => None,
            Err(error) => self.fail(&error),
        }
    }

    async fn create_vhost(&self, vhost: &str, amqp_user: &str) -> Result<(), ApiError> {
        self.send(Method::PUT, &["vhosts", vhost], Some(serde_json::json!({})))
            .await?;
        let everything = serde_json::json!({ "configure": ".*", "write": ".*", "read": ".*" });
        self.send(
            Method::PUT,
            &["permissions", vhost, amqp_user],
            Some(everything),
        )
        .await?;
        Ok(())
    }

    async fn delete_vhost(&self, vhost: &str) -> Result<(), ApiError> {
        match self.send(Method::DELETE, &["vhosts", vhost], None).await {
            Ok(_) | Err(ApiError::Status(StatusCode::NOT_FOUND, _)) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// The names of every vhost.
    ///
    /// # Panics
    /// When the API is unreachable or answers with an error.
    pub async fn vhosts(&self) -> Vec<String> {
        self.vhost_names()
            .await
            .unwrap_or_else(|error| self.fail(&error))
    }

    async fn vhost_names(&self) -> Result<Vec<String>, ApiError> {
        let response = self.send(Method::GET, &["vhosts"], None).await?;
        let vhosts: Vec<Vhost> = response
            .json()
            .await
            .map_err(|error| ApiError::Other(error.to_string()))?;
        Ok(vhosts.into_iter().map(|vhost| vhost.name).collect())
    }

    /// One request to `/api/<segments...>` (each segment percent-encoded, so the
    /// vhost `/` works); a status other than 2xx is an error.
    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<serde_json::Value>,
    ) -> Result<reqwest::Response, ApiError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ApiError::Other("the management API URL cannot have a path".to_owned()))?
            .pop_if_empty()
            .push("api")
            .extend(segments);
        let mut request = self
            .client
            .request(method, url)
            .basic_auth(&self.user, Some(&self.password));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|error| {
            if error.is_connect() || error.is_timeout() {
                ApiError::Unreachable(error.to_string())
            } else {
                ApiError::Other(error.to_string())
            }
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        Err(ApiError::Status(status, text))
    }

    fn fail(&self, error: &ApiError) -> ! {
        match error {
            ApiError::Unreachable(reason) => {
                unreachable("the RabbitMQ management API", self.base.as_str(), reason)
            }
            other => panic!("RabbitMQ management API at {}: {other}", self.base),
        }
    }
}

#[derive(Debug)]
enum ApiError {
    Unreachable(String),
    Status(StatusCode, String),
    Other(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Unreachable(reason) | ApiError::Other(reason) => f.write_str(reason),
            ApiError::Status(status, body) => write!(f, "answered {status}: {body}"),
        }
    }
}

/// A fresh RabbitMQ vhost that exists for one test.
///
/// Created through the management API at [`rabbitmq_api_url`] with a unique name
/// (`test-<uuidv7>`); the user of [`amqp_url`] gets every permission on it. Deleted,
/// with all its queues and connections, when this value is dropped (also when the
/// test panics). Vhosts left by killed runs are deleted when more than an hour old.
#[derive(Debug)]
pub struct TestVhost {
    name: String,
    amqp_url: String,
    api: RabbitMqApi,
}

impl TestVhost {
    /// Creates the vhost.
    ///
    /// # Panics
    /// When the management API is not reachable (the message says how to start
    /// the broker) or refuses.
    pub async fn create() -> Self {
        let api = RabbitMqApi::from_env();
        static SWEPT: AtomicBool = AtomicBool::new(false);
        if !SWEPT.swap(true, Ordering::Relaxed) {
            sweep_leftovers(&api).await;
        }

        let name = format!("{NAME_PREFIX}{}", Uuid::now_v7().simple());
        let shared_url = amqp_url();
        let mut url = Url::parse(&shared_url).unwrap_or_else(|error| {
            panic!(
                "SIX_AMQP_URL `{}` is not a URL: {error}",
                redact(&shared_url)
            )
        });
        let amqp_user = url.username().to_owned();
        url.set_path("");
        url.path_segments_mut()
            .unwrap_or_else(|()| {
                panic!("SIX_AMQP_URL `{}` cannot name a vhost", redact(&shared_url))
            })
            .push(&name);
        if let Err(error) = api.create_vhost(&name, &amqp_user).await {
            api.fail(&error);
        }
        Self {
            name,
            amqp_url: url.to_string(),
            api,
        }
    }

    /// The vhost's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The AMQP URL of this vhost: host, port and credentials of [`amqp_url`].
    pub fn amqp_url(&self) -> String {
        self.amqp_url.clone()
    }

    /// The management API the vhost was created with.
    pub fn api(&self) -> &RabbitMqApi {
        &self.api
    }

    /// Every queue of this vhost.
    pub async fn queues(&self) -> Vec<QueueStats> {
        self.api.queues(&self.name).await
    }

    /// The queue `name` of this vhost, or `None` when it does not exist.
    pub async fn queue(&self, name: &str) -> Option<QueueStats> {
        self.api.queue(&self.name, name).await
    }

    /// Messages (ready plus unacknowledged) in the queue `name`; 0 when it does not
    /// exist. From the broker's statistics: see [`QueueStats`].
    pub async fn message_count(&self, name: &str) -> u64 {
        self.queue(name).await.map_or(0, |queue| queue.messages)
    }
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        let api = self.api.clone();
        let name = self.name.clone();
        block_on_own_thread(&self.name, async move {
            // A client of this thread's runtime: the test's may be shutting down.
            let api = RabbitMqApi {
                client: Client::builder()
                    .timeout(REQUEST_TIMEOUT)
                    .build()
                    .map_err(|error| error.to_string())?,
                ..api
            };
            api.delete_vhost(&name)
                .await
                .map_err(|error| error.to_string())
        });
    }
}

/// Deletes test vhosts of killed runs, best effort.
async fn sweep_leftovers(api: &RabbitMqApi) {
    let Ok(vhosts) = api.vhost_names().await else {
        return;
    };
    for vhost in vhosts
        .iter()
        .filter(|vhost| is_old_leftover(vhost, NAME_PREFIX))
    {
        if let Err(error) = api.delete_vhost(vhost).await {
            eprintln!("six-testkit: could not delete leftover vhost {vhost}: {error}");
        }
    }
}
