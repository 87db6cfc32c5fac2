//! [`TestIssuer`]: a stand-in for the auth service in tests. It serves a JWKS and a
//! client credentials token endpoint on 127.0.0.1, mints access tokens with the
//! claims of `docs/tokens.md` (and broken ones), rotates keys, counts requests, and
//! can hold or fail its answers.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use axum::{
    Form, Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use jsonwebtoken::jwk::JwkSet;
use serde_json::json;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::token_forge::{BadToken, TOKEN_LIFETIME_SECS, TokenForge, access_claims};
use crate::{
    auth::{AuthConfig, DEFAULT_AUDIENCE, DEFAULT_ISSUER},
    config::Env,
};

/// Path of the key set, as on auth.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// Path of the token endpoint, as on auth.
pub const TOKEN_PATH: &str = "/v1/token";

/// A fake auth service on 127.0.0.1 (see the module documentation). Stops when
/// dropped.
pub struct TestIssuer {
    state: Arc<IssuerState>,
    address: SocketAddr,
    stop: CancellationToken,
    server: Option<JoinHandle<()>>,
}

struct IssuerState {
    /// The first key signs; all are published.
    keys: Mutex<Vec<TokenForge>>,
    /// Client id → secret.
    clients: Mutex<HashMap<String, String>>,
    service_token_lifetime_secs: AtomicU64,
    jwks_fetches: AtomicU64,
    token_requests: AtomicU64,
    available: AtomicBool,
    /// `false` while answers are held.
    answering: watch::Sender<bool>,
}

impl TestIssuer {
    /// Starts the issuer with one key, no client, on a free port.
    ///
    /// # Panics
    /// If no local port can be bound.
    pub async fn start() -> Self {
        let state = Arc::new(IssuerState {
            keys: Mutex::new(vec![TokenForge::generate()]),
            clients: Mutex::new(HashMap::new()),
            service_token_lifetime_secs: AtomicU64::new(TOKEN_LIFETIME_SECS),
            jwks_fetches: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
            available: AtomicBool::new(true),
            answering: watch::Sender::new(true),
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port is free");
        let address = listener
            .local_addr()
            .expect("a bound socket has an address");
        let routes = Router::new()
            .route(JWKS_PATH, get(jwks))
            .route(TOKEN_PATH, post(token))
            .with_state(state.clone());
        let stop = CancellationToken::new();
        let stopped = stop.clone().cancelled_owned();
        let server = tokio::spawn(async move {
            let serving = axum::serve(listener, routes).with_graceful_shutdown(stopped);
            if let Err(error) = serving.await {
                eprintln!("the test issuer stopped: {error}");
            }
        });
        Self {
            state,
            address,
            stop,
            server: Some(server),
        }
    }

    /// URL of the key set (`AUTH_JWKS_URL`).
    pub fn jwks_url(&self) -> String {
        format!("http://{}{JWKS_PATH}", self.address)
    }

    /// URL of the token endpoint (`AUTH_TOKEN_URL`).
    pub fn token_url(&self) -> String {
        format!("http://{}{TOKEN_PATH}", self.address)
    }

    /// The `iss` of its tokens (auth's default).
    pub fn issuer(&self) -> &'static str {
        DEFAULT_ISSUER
    }

    /// The `aud` of its tokens (auth's default).
    pub fn audience(&self) -> &'static str {
        DEFAULT_AUDIENCE
    }

    /// The variables that point a service at this issuer: `AUTH_JWKS_URL`,
    /// `AUTH_TOKEN_URL`, `AUTH_ISSUER`, `AUTH_AUDIENCE`.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AUTH_JWKS_URL", self.jwks_url()),
            ("AUTH_TOKEN_URL", self.token_url()),
            ("AUTH_ISSUER", self.issuer().to_owned()),
            ("AUTH_AUDIENCE", self.audience().to_owned()),
        ]
    }

    /// Verification settings for this issuer, otherwise the defaults.
    pub fn auth_config(&self) -> AuthConfig {
        AuthConfig::from_env(&Env::from_pairs(self.env_vars()))
            .expect("the issuer's variables are valid")
    }

    /// The `kid` of the key that signs now.
    pub fn active_kid(&self) -> String {
        self.state.keys()[0].kid().to_owned()
    }

    /// The claims of a user token for `user_id`, valid from now for 15 minutes;
    /// change them and [`TestIssuer::sign`] them to test claim checks.
    pub fn user_claims(&self, user_id: Uuid) -> serde_json::Value {
        self.state.keys()[0].user_claims(user_id)
    }

    /// The claims of a service token for `client_id`, valid from now for 15 minutes.
    pub fn service_claims(&self, client_id: &str) -> serde_json::Value {
        self.state.keys()[0].service_claims(client_id)
    }

    /// `claims` signed as auth signs: EdDSA, `typ` `at+jwt`, the active key's `kid`.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        self.state.keys()[0].sign(claims)
    }

    /// A valid user token.
    pub fn user_token(&self, user_id: Uuid) -> String {
        self.state.keys()[0].user_token(user_id)
    }

    /// A valid service token.
    pub fn service_token(&self, client_id: &str) -> String {
        self.state.keys()[0].service_token(client_id)
    }

    /// A user token, for a new user id, that verification must refuse.
    pub fn bad_user_token(&self, kind: BadToken) -> String {
        self.state.keys()[0].bad_user_token(Uuid::now_v7(), kind)
    }

    /// Adds a key that signs from now on, and keeps publishing the old ones (as
    /// auth does on rotation). Returns the new `kid`.
    pub fn rotate_key(&self) -> String {
        let key = TokenForge::generate();
        let kid = key.kid().to_owned();
        self.state.keys().insert(0, key);
        kid
    }

    /// Stops publishing every key but the one that signs now (as auth does once
    /// the retired keys' tokens expired, or to revoke a leaked key).
    pub fn remove_retired_keys(&self) {
        self.state.keys().truncate(1);
    }

    /// Accepts `client_id` with `client_secret` at the token endpoint.
    pub fn add_client(&self, client_id: &str, client_secret: &str) {
        self.state
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(client_id.to_owned(), client_secret.to_owned());
    }

    /// The `expires_in` (and lifetime) of service tokens from the token endpoint.
    pub fn set_service_token_lifetime(&self, lifetime_secs: u64) {
        self.state
            .service_token_lifetime_secs
            .store(lifetime_secs, Ordering::SeqCst);
    }

    /// While `false`, both endpoints answer 503 (the requests are still counted).
    pub fn set_available(&self, available: bool) {
        self.state.available.store(available, Ordering::SeqCst);
    }

    /// Holds every answer (requests are counted on arrival) until
    /// [`TestIssuer::release_responses`]: makes concurrent callers overlap.
    pub fn hold_responses(&self) {
        self.state.answering.send_replace(false);
    }

    /// Sends the held answers and stops holding.
    pub fn release_responses(&self) {
        self.state.answering.send_replace(true);
    }

    /// Requests for the key set so far.
    pub fn jwks_fetches(&self) -> u64 {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Requests to the token endpoint so far.
    pub fn token_requests(&self) -> u64 {
        self.state.token_requests.load(Ordering::SeqCst)
    }

    /// Stops serving: connections are refused from now on (minting still works).
    pub async fn stop(&mut self) {
        self.release_responses();
        self.stop.cancel();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.release_responses();
        self.stop.cancel();
    }
}

impl IssuerState {
    fn keys(&self) -> std::sync::MutexGuard<'_, Vec<TokenForge>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits while answers are held.
    async fn answer_when_released(&self) {
        let mut answering = self.answering.subscribe();
        let _ = answering.wait_for(|answering| *answering).await;
    }
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> Response {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    state.answer_when_released().await;
    if !state.available.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = state.keys().iter().map(|key| key.jwk.clone()).collect();
    Json(JwkSet { keys }).into_response()
}

/// The client credentials grant (RFC 6749 §4.4), client authentication in the form.
async fn token(
    State(state): State<Arc<IssuerState>>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    state.answer_when_released().await;
    let oauth_error = |status: StatusCode, error: &str| (status, Json(json!({ "error": error })));
    if !state.available.load(Ordering::SeqCst) {
        return oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
            .into_response();
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type").into_response();
    }
    let (Some(client_id), Some(client_secret)) = (form.get("client_id"), form.get("client_secret"))
    else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request").into_response();
    };
    let known = state
        .clients
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(client_id)
        .is_some_and(|secret| secret == client_secret);
    if !known {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client").into_response();
    }
    let lifetime_secs = state.service_token_lifetime_secs.load(Ordering::SeqCst);
    let claims = access_claims("service", client_id, lifetime_secs);
    let access_token = state.keys()[0].sign(&claims);
    Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime_secs,
    }))
    .into_response()
}
