//! The webhook endpoint in this process: every benchmark user's endpoint is
//! `POST /hooks/<user number>` on it. It answers 200 to every call at once and
//! notes when each arrived, for which endpoint, its `webhook-id`, and the key of
//! the event it is about (the contact's name, `data.details.display_name` of the
//! payload, [`crate::events`]). A sample of the calls is kept whole (headers and
//! body), for the benchmark to check their signatures afterwards
//! ([`crate::signature`]) without slowing the endpoint down.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::Context;
use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::post,
};
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// One call as it arrived.
#[derive(Debug, Clone)]
pub struct Call {
    /// The endpoint called: the number of the user it belongs to.
    pub endpoint: usize,
    /// The key of the event, from the payload.
    pub key: String,
    /// `webhook-id`: the delivery's id, the same on every attempt.
    pub webhook_id: String,
    /// When the body had been read.
    pub at: Instant,
}

/// A call kept whole, to check its signature.
#[derive(Debug, Clone)]
pub struct SignedCall {
    /// The endpoint called.
    pub endpoint: usize,
    /// `webhook-id`.
    pub webhook_id: String,
    /// `webhook-timestamp`.
    pub timestamp: String,
    /// `webhook-signature`.
    pub signature: String,
    /// The body as received.
    pub body: Bytes,
    /// The receiver's clock when it arrived, in seconds since the Unix epoch.
    pub received_at_secs: i64,
}

/// What the endpoint received, shared by the calls.
#[derive(Debug)]
struct Record {
    /// Calls answered, with a payload whose key could be read.
    received: AtomicUsize,
    /// Keep every `sample_every`-th call whole.
    sample_every: usize,
    /// Keep at most this many whole.
    sample_max: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    calls: Vec<Call>,
    samples: Vec<SignedCall>,
    /// Calls whose payload had no key (answered 200 too, so the notifier does
    /// not retry them): their first bytes.
    unreadable: Vec<String>,
}

/// The running endpoint, on a port of its own on 127.0.0.1.
pub struct Receiver {
    address: SocketAddr,
    record: Arc<Record>,
    stop: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

impl Receiver {
    /// Starts answering; keeps every `sample_every`-th call whole, at most
    /// `sample_max` of them.
    pub async fn start(sample_every: usize, sample_max: usize) -> anyhow::Result<Self> {
        let record = Arc::new(Record {
            received: AtomicUsize::new(0),
            sample_every: sample_every.max(1),
            sample_max,
            inner: Mutex::new(Inner::default()),
        });
        let app = Router::new()
            .route("/hooks/{endpoint}", post(receive))
            .with_state(Arc::clone(&record));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind the webhook endpoint")?;
        let address = listener.local_addr()?;
        let stop = CancellationToken::new();
        let server = tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.clone().cancelled_owned())
                .into_future(),
        );
        Ok(Self {
            address,
            record,
            stop,
            server,
        })
    }

    /// The URL of the endpoint of user `number`.
    pub fn url(&self, number: usize) -> String {
        format!("http://{}/hooks/{number}", self.address)
    }

    /// Calls received so far with a readable payload.
    pub fn received(&self) -> usize {
        self.record.received.load(Ordering::Acquire)
    }

    /// Every call received so far with a readable payload, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The calls kept whole.
    pub fn samples(&self) -> Vec<SignedCall> {
        self.lock().samples.clone()
    }

    /// The first bytes of every call whose payload had no key.
    pub fn unreadable(&self) -> Vec<String> {
        self.lock().unreadable.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.record
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops answering (calls in flight are finished) and waits for the server.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        self.server
            .await
            .context("the webhook endpoint's task")?
            .context("the webhook endpoint")
    }
}

async fn receive(
    State(record): State<Arc<Record>>,
    Path(endpoint): Path<usize>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let at = Instant::now();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let key = key_of(&body);
    let mut inner = record.inner.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(key) = key else {
        inner
            .unreadable
            .push(String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
        return StatusCode::OK;
    };
    let webhook_id = header("webhook-id");
    let number = inner.calls.len();
    if number.is_multiple_of(record.sample_every) && inner.samples.len() < record.sample_max {
        inner.samples.push(SignedCall {
            endpoint,
            webhook_id: webhook_id.clone(),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            body: body.clone(),
            received_at_secs: unix_now_secs(),
        });
    }
    inner.calls.push(Call {
        endpoint,
        key,
        webhook_id,
        at,
    });
    record.received.fetch_add(1, Ordering::AcqRel);
    StatusCode::OK
}

/// Seconds since the Unix epoch now.
fn unix_now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
        })
}

/// The payload's part the key is read from.
#[derive(Deserialize)]
struct Payload {
    data: PayloadData,
}

#[derive(Deserialize)]
struct PayloadData {
    details: Details,
}

#[derive(Deserialize)]
struct Details {
    display_name: String,
}

/// The key of a call's event: the payload's `data.details.display_name`.
pub fn key_of(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Payload>(body)
        .ok()
        .map(|payload| payload.data.details.display_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_contacts_name_in_the_payload() {
        let body = br#"{"type":"contact_joined","timestamp":"2026-11-24T00:00:00Z","data":{
            "notification_id":"x","user_id":"y","title":"c7 joined Six Degrees","body":"...",
            "link":null,"details":{"kind":"contact_joined","joined_user_id":"z",
            "display_name":"c7","matched_by":"email"}}}"#;

        assert_eq!(key_of(body).as_deref(), Some("c7"));
    }

    #[test]
    fn a_payload_without_a_name_has_no_key() {
        assert_eq!(key_of(br#"{"data":{"details":{"kind":"welcome"}}}"#), None);
        assert_eq!(key_of(b"not json"), None);
    }

    #[tokio::test]
    async fn calls_are_answered_200_and_noted_with_a_sample_kept_whole() {
        let receiver = Receiver::start(2, 10).await.expect("a free port");
        let client = reqwest::Client::new();

        for number in 0..3 {
            let status = client
                .post(receiver.url(number))
                .header("webhook-id", format!("msg_{number}"))
                .body(format!(
                    r#"{{"data":{{"details":{{"display_name":"c{number}"}}}}}}"#
                ))
                .send()
                .await
                .expect("the endpoint answers")
                .status();
            assert_eq!(status, reqwest::StatusCode::OK);
        }

        let keys: Vec<String> = receiver.calls().into_iter().map(|call| call.key).collect();
        assert_eq!(keys, ["c0", "c1", "c2"]);
        let sampled: Vec<String> = receiver
            .samples()
            .into_iter()
            .map(|call| call.webhook_id)
            .collect();
        assert_eq!(sampled, ["msg_0", "msg_2"]);
        receiver.stop().await.expect("a clean stop");
    }
}
