//! A small third-party provider for the proxy's tests, on real sockets: an OAuth2
//! token endpoint (client credentials, HTTP Basic) and, on a separate server so
//! each can go down alone, an API under `/v3` that checks the bearer token.
//!
//! API routes:
//! - `/v3/echo/...` (any method): answers what it received as JSON;
//! - `POST /v3/mirror`: streams the request body back as it arrives;
//! - `/v3/slow`: answers after a minute.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Form, Json, Router,
    body::{Body, to_bytes},
    extract::{Request, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{any, get, post},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

/// Largest body `/v3/echo` reads.
const MAX_ECHO_BYTES: usize = 1024 * 1024;

/// What `/v3/echo` saw.
#[derive(Debug, Deserialize)]
pub struct Echo {
    /// The method.
    pub method: String,
    /// The path, as received (still percent-encoded).
    pub path: String,
    /// The query, as received.
    pub query: Option<String>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// Every header, repeated values joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The body, as text.
    pub body: String,
}

#[derive(Serialize)]
struct EchoBody {
    method: String,
    path: String,
    query: Option<String>,
    authorization: Option<String>,
    headers: BTreeMap<String, String>,
    body: String,
}

/// One issued token.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The access token.
    pub token: String,
    /// How much of the previous token's lifetime had passed when this one was
    /// requested (0.5: half), if there was a previous token.
    pub previous_life_used: Option<f64>,
    issued_at: Instant,
    lifetime: Duration,
}

struct ProviderState {
    client_id: String,
    client_secret: String,
    expires_in_secs: AtomicU64,
    token_delay_ms: AtomicU64,
    token_endpoint_failing: AtomicBool,
    token_requests: AtomicU32,
    issued: Mutex<Vec<Issued>>,
    /// Tokens issued before this many are refused by the API.
    revoked_below: AtomicU32,
    scopes_requested: Mutex<Vec<Option<String>>>,
}

/// A running provider; its servers stop when it is dropped.
pub struct FakeProvider {
    state: Arc<ProviderState>,
    token_server: Server,
    api_server: Server,
}

struct Server {
    addr: SocketAddr,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    scope: Option<String>,
}

impl FakeProvider {
    /// Starts both servers; tokens live an hour unless [`Self::set_expires_in`].
    pub async fn start() -> Self {
        let state = Arc::new(ProviderState {
            client_id: format!("client-{}", uuid::Uuid::now_v7().simple()),
            client_secret: format!("secret-{}", uuid::Uuid::now_v7().simple()),
            expires_in_secs: AtomicU64::new(3600),
            token_delay_ms: AtomicU64::new(0),
            token_endpoint_failing: AtomicBool::new(false),
            token_requests: AtomicU32::new(0),
            issued: Mutex::new(Vec::new()),
            revoked_below: AtomicU32::new(0),
            scopes_requested: Mutex::new(Vec::new()),
        });
        let token_routes = Router::new()
            .route("/oauth/token", post(issue_token))
            .with_state(Arc::clone(&state));
        let api_routes = Router::new()
            .route("/v3/echo", any(echo))
            .route("/v3/echo/{*rest}", any(echo))
            .route("/v3/mirror", post(mirror))
            .route("/v3/slow", get(slow))
            .with_state(Arc::clone(&state));
        Self {
            state,
            token_server: Server::start(token_routes).await,
            api_server: Server::start(api_routes).await,
        }
    }

    /// The client id the token endpoint accepts.
    pub fn client_id(&self) -> &str {
        &self.state.client_id
    }

    /// The client secret the token endpoint accepts.
    pub fn client_secret(&self) -> &str {
        &self.state.client_secret
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("http://{}/oauth/token", self.token_server.addr)
    }

    /// The API's base URL.
    pub fn api_base_url(&self) -> String {
        format!("http://{}/v3", self.api_server.addr)
    }

    /// Token requests received so far, refused ones included.
    pub fn token_requests(&self) -> u32 {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    /// Tokens issued so far, oldest first.
    pub fn issued(&self) -> Vec<Issued> {
        self.state.issued.lock().unwrap().clone()
    }

    /// The `scope` of each token request.
    pub fn scopes_requested(&self) -> Vec<Option<String>> {
        self.state.scopes_requested.lock().unwrap().clone()
    }

    /// `expires_in` of the tokens issued from now on.
    pub fn set_expires_in(&self, seconds: u64) {
        self.state.expires_in_secs.store(seconds, Ordering::SeqCst);
    }

    /// How long the token endpoint takes to answer from now on.
    pub fn set_token_delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap();
        self.state.token_delay_ms.store(millis, Ordering::SeqCst);
    }

    /// Makes the token endpoint answer 503 (or work again).
    pub fn set_token_endpoint_failing(&self, failing: bool) {
        self.state
            .token_endpoint_failing
            .store(failing, Ordering::SeqCst);
    }

    /// Makes the API refuse every token issued so far.
    pub fn revoke_issued_tokens(&self) {
        let issued = u32::try_from(self.state.issued.lock().unwrap().len()).unwrap();
        self.state.revoked_below.store(issued, Ordering::SeqCst);
    }

    /// Shuts the token endpoint down: connections to it are refused from now on.
    pub async fn stop_token_endpoint(&mut self) {
        self.token_server.stop().await;
    }
}

impl Server {
    async fn start(routes: Router) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let serving =
            axum::serve(listener, routes).with_graceful_shutdown(stop.clone().cancelled_owned());
        let task = tokio::spawn(async move { serving.await.unwrap() });
        Self {
            addr,
            stop,
            task: Some(task),
        }
    }

    /// Stops accepting, closes idle connections and waits until the listener is gone.
    async fn stop(&mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("the server stops within 10 s")
                .unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// An address nothing listens on: connections to it are refused.
pub fn unused_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

async fn issue_token(
    State(state): State<Arc<ProviderState>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    state
        .scopes_requested
        .lock()
        .unwrap()
        .push(form.scope.clone());
    if state.token_endpoint_failing.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response();
    }
    let delay = Duration::from_millis(state.token_delay_ms.load(Ordering::SeqCst));
    tokio::time::sleep(delay).await;
    if basic_credentials(&headers) != Some((state.client_id.clone(), state.client_secret.clone())) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if form.grant_type != "client_credentials" {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    let expires_in = state.expires_in_secs.load(Ordering::SeqCst);
    let token = format!("token-{}", uuid::Uuid::now_v7().simple());
    let now = Instant::now();
    let mut issued = state.issued.lock().unwrap();
    let previous_life_used = issued.last().map(|previous| {
        now.duration_since(previous.issued_at).as_secs_f64() / previous.lifetime.as_secs_f64()
    });
    issued.push(Issued {
        token: token.clone(),
        previous_life_used,
        issued_at: now,
        lifetime: Duration::from_secs(expires_in),
    });
    Json(serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": expires_in,
    }))
    .into_response()
}

/// The client id and secret of a Basic `Authorization` header (test credentials
/// need no form-urldecoding).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let encoded = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// Whether the request carries a token this provider issued and has not revoked.
fn authorized(state: &ProviderState, headers: &HeaderMap) -> bool {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return false;
    };
    let issued = state.issued.lock().unwrap();
    let revoked_below = usize::try_from(state.revoked_below.load(Ordering::SeqCst)).unwrap();
    issued
        .iter()
        .position(|issued| issued.token == token)
        .is_some_and(|index| index >= revoked_below)
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
        "invalid token",
    )
        .into_response()
}

async fn echo(State(state): State<Arc<ProviderState>>, request: Request) -> Response {
    if !authorized(&state, request.headers()) {
        return unauthorized();
    }
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, MAX_ECHO_BYTES).await.unwrap();
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|joined| {
                joined.push_str(", ");
                joined.push_str(&value);
            })
            .or_insert(value);
    }
    Json(EchoBody {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        authorization: headers.get("authorization").cloned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
    .into_response()
}

async fn mirror(State(state): State<Arc<ProviderState>>, request: Request) -> Response {
    if !authorized(&state, request.headers()) {
        return unauthorized();
    }
    Body::from_stream(request.into_body().into_data_stream()).into_response()
}

async fn slow(State(state): State<Arc<ProviderState>>, headers: HeaderMap) -> Response {
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    tokio::time::sleep(Duration::from_secs(60)).await;
    "finally".into_response()
}
