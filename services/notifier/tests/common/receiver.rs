//! A webhook endpoint for tests: records every call and answers with the statuses
//! it is told, in order, then 200.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header::LOCATION},
    response::IntoResponse,
    routing::post,
};
use serde_json::{Value, json};
use six_testkit::{python_with, repo_root, wait_for};
use tokio::io::AsyncWriteExt;

/// One call as the endpoint received it.
#[derive(Debug, Clone)]
pub struct ReceivedCall {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl ReceivedCall {
    /// A header's value.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("the body is JSON")
    }
}

#[derive(Default)]
struct Recorded {
    calls: Vec<ReceivedCall>,
    answers: VecDeque<StatusCode>,
}

/// A running endpoint on 127.0.0.1.
pub struct Receiver {
    address: SocketAddr,
    recorded: Arc<Mutex<Recorded>>,
}

impl Receiver {
    /// Starts answering 200 to every call.
    pub async fn start() -> Self {
        Self::answering(&[]).await
    }

    /// Starts answering `answers` to the first calls, in order, then 200.
    pub async fn answering(answers: &[StatusCode]) -> Self {
        let recorded = Arc::new(Mutex::new(Recorded {
            calls: Vec::new(),
            answers: answers.iter().copied().collect(),
        }));
        let app = Router::new()
            .route("/{*path}", post(receive))
            .with_state(Arc::clone(&recorded));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address = listener.local_addr().expect("a local address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { address, recorded }
    }

    /// The URL of `path` on this endpoint.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<ReceivedCall> {
        self.recorded.lock().expect("not poisoned").calls.clone()
    }

    /// Waits until `count` calls arrived and returns them.
    pub async fn wait_for_calls(&self, count: usize) -> Vec<ReceivedCall> {
        wait_for(
            Duration::from_secs(20),
            &format!("the endpoint to receive {count} calls"),
            || {
                let calls = self.calls();
                std::future::ready((calls.len() >= count).then_some(calls))
            },
        )
        .await
    }
}

async fn receive(
    State(recorded): State<Arc<Mutex<Recorded>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let mut recorded = recorded.lock().expect("not poisoned");
    recorded.calls.push(ReceivedCall {
        path: uri.path().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let status = recorded.answers.pop_front().unwrap_or(StatusCode::OK);
    (status, [(LOCATION, "/moved")])
}

/// What the Standard Webhooks reference library says of `call` under `secret`:
/// the verified payload, or why it refused.
pub async fn verify_with_reference_library(
    call: &ReceivedCall,
    secret: &str,
) -> Result<Value, String> {
    let python = python_with(
        &["standardwebhooks"],
        "services/notifier/tests/webhooks/requirements.txt",
    )
    .await;
    let headers: serde_json::Map<String, Value> =
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .iter()
            .map(|name| {
                (
                    (*name).to_owned(),
                    Value::String(call.header(name).to_owned()),
                )
            })
            .collect();
    let input = json!({ "secret": secret, "headers": headers, "body": call.body });
    let mut verifier = tokio::process::Command::new(python)
        .arg(repo_root().join("services/notifier/tests/webhooks/verify.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the verifier starts");
    let mut stdin = verifier.stdin.take().expect("stdin is piped");
    stdin
        .write_all(input.to_string().as_bytes())
        .await
        .expect("the verifier reads its input");
    drop(stdin);
    let output = verifier
        .wait_with_output()
        .await
        .expect("the verifier ends");
    let printed = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if output.status.success() {
        Ok(serde_json::from_str(&printed).expect("the verifier prints JSON"))
    } else {
        Err(printed)
    }
}
