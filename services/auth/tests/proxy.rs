//! Black-box tests of the third-party token proxy: a real OAuth2 provider and API
//! (`common/upstream.rs`) on local sockets, the proxy's router served as the app
//! serves it, and a real HTTP client.

#[path = "common/upstream.rs"]
mod upstream;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use auth::proxy::{ProxySettings, router};
use axum::{Router, extract::DefaultBodyLimit};
use base64::{Engine, engine::general_purpose::STANDARD};
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use sha2::{Digest, Sha256};
use six_kit::config::Env;
use six_testkit::wait_until;
use tokio::{net::TcpListener, sync::mpsc};
use tokio_util::sync::CancellationToken;
use upstream::{Echo, FakeProvider, unused_address};

/// Deadline of every wait on something happening in the background.
const DEADLINE: Duration = Duration::from_secs(20);

/// The proxy's router on a local port, wrapped like the app wraps its routes (the
/// shared request middleware and the JSON body limit); its token refreshers stop
/// when it is dropped.
struct Proxy {
    addr: SocketAddr,
    stop: CancellationToken,
    client: reqwest::Client,
}

impl Proxy {
    async fn spawn(variables: Vec<(String, String)>) -> Self {
        let settings = ProxySettings::from_env(&Env::from_pairs(variables)).unwrap();
        let stop = CancellationToken::new();
        let app: Router = router(settings, stop.clone())
            .layer(DefaultBodyLimit::max(1024 * 1024))
            .layer(axum::middleware::from_fn_with_state(
                Duration::from_secs(30),
                six_kit::http::middleware::request_context,
            ));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving =
            axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned());
        tokio::spawn(async move { serving.await.unwrap() });
        Self {
            addr,
            stop,
            client: reqwest::Client::new(),
        }
    }

    /// A proxy with one provider, `acme`, pointing at `provider`.
    async fn for_provider(provider: &FakeProvider) -> Self {
        Self::spawn(variables("acme", provider, &[])).await
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    async fn get(&self, path_and_query: &str) -> reqwest::Response {
        self.client
            .get(self.url(path_and_query))
            .send()
            .await
            .unwrap()
    }

    async fn echo(&self, path_and_query: &str) -> Echo {
        let response = self.get(path_and_query).await;
        assert_eq!(response.status(), 200, "{path_and_query}");
        response.json().await.unwrap()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The variables configuring provider `name` on `provider`, with `overrides`
/// (suffix, value) replacing or adding some.
fn variables(
    name: &str,
    provider: &FakeProvider,
    overrides: &[(&str, &str)],
) -> Vec<(String, String)> {
    let prefix = format!("AUTH_PROXY_{}", name.to_ascii_uppercase().replace('-', "_"));
    let mut pairs = vec![
        ("AUTH_PROXY_PROVIDERS".to_owned(), name.to_owned()),
        (format!("{prefix}_TOKEN_URL"), provider.token_url()),
        (
            format!("{prefix}_CLIENT_ID"),
            provider.client_id().to_owned(),
        ),
        (
            format!("{prefix}_CLIENT_SECRET"),
            provider.client_secret().to_owned(),
        ),
        (format!("{prefix}_API_BASE_URL"), provider.api_base_url()),
    ];
    for (suffix, value) in overrides {
        let key = format!("{prefix}_{suffix}");
        pairs.retain(|(existing, _)| *existing != key);
        pairs.push((key, (*value).to_owned()));
    }
    pairs
}

async fn problem(response: reqwest::Response) -> serde_json::Value {
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    response.json().await.unwrap()
}

fn bearer(token: &str) -> Option<String> {
    Some(format!("Bearer {token}"))
}

#[tokio::test]
async fn fifty_concurrent_calls_share_one_token_request() {
    let provider = FakeProvider::start().await;
    provider.set_token_delay(Duration::from_millis(300));
    let proxy = Proxy::for_provider(&provider).await;

    let echoes =
        futures_util::future::join_all((0..50).map(|_| proxy.echo("/internal/proxy/acme/echo/x")))
            .await;

    assert_eq!(provider.token_requests(), 1);
    let token = provider.issued()[0].token.clone();
    assert!(
        echoes
            .iter()
            .all(|echo| echo.authorization == bearer(&token))
    );
}

#[tokio::test]
async fn the_token_is_refreshed_in_the_background_at_half_its_lifetime() {
    let provider = FakeProvider::start().await;
    provider.set_expires_in(6);
    let proxy = Proxy::for_provider(&provider).await;
    proxy.echo("/internal/proxy/acme/echo/x").await;

    // The request counter moves when a request arrives, the issued list when its
    // token is handed out: wait on the list this test reads.
    wait_until(DEADLINE, "the token is refreshed", || async {
        provider.issued().len() >= 2
    })
    .await;

    // Due between 50 % and 60 % of the lifetime; the bounds leave room for the
    // token request's own time (below) and a slow machine (1.5 s above).
    let life_used = provider.issued()[1].previous_life_used.unwrap();
    assert!((0.45..0.85).contains(&life_used), "{life_used}");
}

#[tokio::test]
async fn calls_after_a_refresh_carry_the_new_token() {
    let provider = FakeProvider::start().await;
    provider.set_expires_in(2);
    let proxy = Proxy::for_provider(&provider).await;
    proxy.echo("/internal/proxy/acme/echo/x").await;
    wait_until(DEADLINE, "the token is refreshed", || async {
        provider.issued().len() >= 2
    })
    .await;

    let echo = proxy.echo("/internal/proxy/acme/echo/x").await;

    // Later refreshes may have happened meanwhile: any token but the first will do.
    let issued = provider.issued();
    assert_ne!(echo.authorization, bearer(&issued[0].token));
    assert!(
        issued[1..]
            .iter()
            .any(|later| echo.authorization == bearer(&later.token)),
        "{echo:?}"
    );
}

#[tokio::test]
async fn a_large_body_streams_through_both_ways_intact() {
    let provider = FakeProvider::start().await;
    let proxy = Proxy::for_provider(&provider).await;
    let mut payload = vec![0_u8; 20 * 1024 * 1024];
    fastrand::Rng::with_seed(7).fill(&mut payload);
    let expected = Sha256::digest(&payload);
    let payload = Bytes::from(payload);
    let chunks: Vec<Result<Bytes, std::io::Error>> = (0..payload.len())
        .step_by(64 * 1024)
        .map(|start| Ok(payload.slice(start..(start + 64 * 1024).min(payload.len()))))
        .collect();

    let response = proxy
        .client
        .post(proxy.url("/internal/proxy/acme/mirror"))
        .body(reqwest::Body::wrap_stream(stream::iter(chunks)))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let mut received = response.bytes_stream();
    let mut hasher = Sha256::new();
    let mut length = 0;
    while let Some(chunk) = received.next().await {
        let chunk = chunk.unwrap();
        length += chunk.len();
        hasher.update(&chunk);
    }
    assert_eq!(length, payload.len());
    assert_eq!(hasher.finalize(), expected);
}

#[tokio::test]
async fn the_answer_streams_back_before_the_request_body_has_ended() {
    let provider = FakeProvider::start().await;
    let proxy = Proxy::for_provider(&provider).await;
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let body = stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    sender
        .send(Ok(Bytes::from_static(b"first ")))
        .await
        .unwrap();

    // Neither the headers nor the first chunk can come back if any hop waits for
    // the whole request body: the rest is only sent after they arrive.
    let response = tokio::time::timeout(
        DEADLINE,
        proxy
            .client
            .post(proxy.url("/internal/proxy/acme/mirror"))
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    )
    .await
    .expect("the answer starts while the request body is still open")
    .unwrap();
    let mut received = response.bytes_stream();
    let first = tokio::time::timeout(DEADLINE, received.next())
        .await
        .expect("the first chunk comes back while the request body is still open")
        .unwrap()
        .unwrap();
    sender
        .send(Ok(Bytes::from_static(b"second")))
        .await
        .unwrap();
    drop(sender);
    let mut rest = Vec::new();
    while let Some(chunk) = received.next().await {
        rest.extend_from_slice(&chunk.unwrap());
    }

    assert_eq!(first, "first ");
    assert_eq!(rest, b"second");
}

#[tokio::test]
async fn an_unknown_provider_is_answered_with_404_problem_json() {
    let provider = FakeProvider::start().await;
    let proxy = Proxy::for_provider(&provider).await;

    let response = proxy.get("/internal/proxy/nobody/echo/x").await;

    assert_eq!(response.status(), 404);
    assert_eq!(problem(response).await["code"], "unknown_provider");
    assert_eq!(provider.token_requests(), 0);
}

#[tokio::test]
async fn calls_keep_succeeding_on_the_cached_token_while_the_token_endpoint_is_down() {
    let mut provider = FakeProvider::start().await;
    let proxy = Proxy::for_provider(&provider).await;
    proxy.echo("/internal/proxy/acme/echo/x").await;
    provider.stop_token_endpoint().await;

    let response = proxy.get("/internal/proxy/acme/echo/y").await;

    assert_eq!(response.status(), 200);
    let echo: Echo = response.json().await.unwrap();
    assert_eq!(echo.authorization, bearer(&provider.issued()[0].token));
}

#[tokio::test]
async fn a_failed_refresh_is_retried_until_the_token_endpoint_recovers() {
    let provider = FakeProvider::start().await;
    provider.set_expires_in(2);
    let proxy = Proxy::for_provider(&provider).await;
    proxy.echo("/internal/proxy/acme/echo/x").await;
    provider.set_token_endpoint_failing(true);

    wait_until(DEADLINE, "two refreshes have failed", || async {
        provider.token_requests() >= 3
    })
    .await;
    provider.set_token_endpoint_failing(false);

    wait_until(DEADLINE, "a retry obtains a new token", || async {
        provider.issued().len() >= 2
    })
    .await;
}

#[tokio::test]
async fn without_a_token_an_unreachable_token_endpoint_gives_502_problem_json() {
    let provider = FakeProvider::start().await;
    let token_url = format!("http://{}/oauth/token", unused_address());
    let proxy = Proxy::spawn(variables("acme", &provider, &[("TOKEN_URL", &token_url)])).await;

    let response = proxy.get("/internal/proxy/acme/echo/x").await;

    assert_eq!(response.status(), 502);
    assert_eq!(problem(response).await["code"], "upstream_unavailable");
}

#[tokio::test]
async fn refused_client_credentials_give_502_upstream_auth_failed() {
    let provider = FakeProvider::start().await;
    let proxy = Proxy::spawn(variables(
        "acme",
        &provider,
        &[("CLIENT_SECRET", "not-the-secret")],
    ))
    .await;

    let response = proxy.get("/internal/proxy/acme/echo/x").await;

    assert_eq!(response.status(), 502);
    let problem = problem(response).await;
    assert_eq!(problem["code"], "upstream_auth_failed");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("invalid_client"),
        "{problem}"
    );
}

#[tokio::test]
async fn an_unreachable_api_gives_502_problem_json() {
    let provider = FakeProvider::start().await;
    let api = format!("http://{}/v3", unused_address());
    let proxy = Proxy::spawn(variables("acme", &provider, &[("API_BASE_URL", &api)])).await;

    let response = proxy.get("/internal/proxy/acme/echo/x").await;

    assert_eq!(response.status(), 502);
    assert_eq!(problem(response).await["code"], "upstream_unavailable");
}

#[tokio::test]
async fn an_api_slower_than_the_timeout_gives_504_problem_json() {
    let provider = FakeProvider::start().await;
    let proxy = Proxy::spawn(variables("acme", &provider, &[("TIMEOUT_MS", "300")])).await;

    let response = proxy.get("/internal/proxy/acme/slow").await;

    assert_eq!(response.status(), 504);
    assert_eq!(problem(response).await["code"], "upstream_timeout");
}

#[tokio::test]
async fn the_callers_authorization_header_is_replaced_by_the_provider_token() {
    let provider = FakeProvider::start().await;
    let proxy = Proxy::for_provider(&provider).await;

    let echo: Echo = proxy
        .client
        .get(proxy.url("/internal/proxy/acme/echo/x"))
        .bearer_auth("caller-own-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(echo.authorization, bearer(&provider.issued()[0].token));
    assert!(!format!("{:?}", echo.headers).contains("caller-own-token"));
}

#[tokio::test]
async fn hop_by_hop_headers_stop_at_the_proxy_while_others_pass() {
    let provider = FakeProvider::start().await;
    let proxy = Proxy::for_provider(&provider).await;

    let echo: Echo = proxy
        .client
        .get(proxy.url("/internal/proxy/acme/echo/x"))
        .header("connection", "x-session-hop")
        .header("x-session-hop", "1")
        .header("proxy-authorization", "Basic Y2FsbGVyOnB3")
        .header("x-request-tag", "kept")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert!(!echo.headers.contains_key("x-session-hop"), "{echo:?}");
    assert!(
        !echo.headers.contains_key("proxy-authorization"),
        "{echo:?}"
    );
    assert_eq!(echo.headers["x-request-tag"], "kept");
}

#[tokio::test]
async fn method_path_query_and_body_reach_the_api_under_its_base_path() {
    let provider = FakeProvider::start().await;
    let proxy = Proxy::for_provider(&provider).await;

    let echo: Echo = proxy
        .client
        .put(proxy.url("/internal/proxy/acme/echo/a%20b/c?q=x%2Fy&page=2"))
        .body("payload")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(echo.method, "PUT");
    assert_eq!(echo.path, "/v3/echo/a%20b/c");
    assert_eq!(echo.query.as_deref(), Some("q=x%2Fy&page=2"));
    assert_eq!(echo.body, "payload");
}

#[tokio::test]
async fn the_configured_scopes_are_requested() {
    let provider = FakeProvider::start().await;
    let proxy = Proxy::spawn(variables(
        "acme",
        &provider,
        &[("SCOPES", "contacts.read  calendar")],
    ))
    .await;

    proxy.echo("/internal/proxy/acme/echo/x").await;

    assert_eq!(
        provider.scopes_requested(),
        vec![Some("contacts.read calendar".to_owned())]
    );
}

#[tokio::test]
async fn a_refused_token_is_replaced_and_a_bodyless_request_retried() {
    let provider = FakeProvider::start().await;
    let proxy = Proxy::for_provider(&provider).await;
    proxy.echo("/internal/proxy/acme/echo/x").await;
    provider.revoke_issued_tokens();

    let echo = proxy.echo("/internal/proxy/acme/echo/y").await;

    assert_eq!(provider.token_requests(), 2);
    assert_eq!(echo.authorization, bearer(&provider.issued()[1].token));
}

#[tokio::test]
async fn a_401_to_a_request_with_a_body_is_passed_to_the_caller() {
    let provider = FakeProvider::start().await;
    let proxy = Proxy::for_provider(&provider).await;
    proxy.echo("/internal/proxy/acme/echo/x").await;
    provider.revoke_issued_tokens();

    let response = proxy
        .client
        .post(proxy.url("/internal/proxy/acme/echo/y"))
        .body("not replayable")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    assert_eq!(provider.token_requests(), 1);
}

#[tokio::test]
async fn the_request_after_a_passed_through_401_uses_a_new_token() {
    let provider = FakeProvider::start().await;
    let proxy = Proxy::for_provider(&provider).await;
    proxy.echo("/internal/proxy/acme/echo/x").await;
    provider.revoke_issued_tokens();
    let refused = proxy
        .client
        .post(proxy.url("/internal/proxy/acme/echo/y"))
        .body("not replayable")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let echo = proxy.echo("/internal/proxy/acme/echo/z").await;

    assert_eq!(echo.authorization, bearer(&provider.issued()[1].token));
}

/// Log lines written by the test's subscriber.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn no_token_or_secret_appears_in_any_log_line() {
    use tracing_subscriber::util::SubscriberInitExt;

    let logs = LogBuffer::default();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "auth=trace,six_kit=trace,reqwest=debug,hyper=debug,hyper_util=debug",
        ))
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish()
        .try_init()
        .expect("no other subscriber is installed in this test's process");
    let provider = FakeProvider::start().await;
    provider.set_expires_in(2);
    let mut pairs = variables("acme", &provider, &[]);
    pairs.extend(variables(
        "wrong",
        &provider,
        &[("CLIENT_SECRET", "wrong-secret-3d9f")],
    ));
    pairs.retain(|(name, _)| name != "AUTH_PROXY_PROVIDERS");
    pairs.push(("AUTH_PROXY_PROVIDERS".to_owned(), "acme,wrong".to_owned()));
    let proxy = Proxy::spawn(pairs).await;

    // Tokens obtained by a caller, by the refresher and after a 401; a refused
    // secret; a failed refresh; a successful and a failed call.
    proxy.echo("/internal/proxy/acme/echo/first?x=1").await;
    wait_until(DEADLINE, "the token is refreshed", || async {
        provider.issued().len() >= 2
    })
    .await;
    provider.revoke_issued_tokens();
    proxy
        .echo("/internal/proxy/acme/echo/after-revocation")
        .await;
    let refused = proxy.get("/internal/proxy/wrong/echo/x").await;
    assert_eq!(refused.status(), 502);
    provider.set_token_endpoint_failing(true);
    wait_until(DEADLINE, "a failed refresh is logged", || async {
        logs.text().contains("token refresh failed")
    })
    .await;

    let logged = logs.text();
    assert!(logged.contains("token obtained"), "{logged}");
    assert!(logged.contains("request completed"), "{logged}");
    assert!(logged.contains("upstream_auth_failed"), "{logged}");
    for issued in provider.issued() {
        assert!(
            !logged.contains(&issued.token),
            "a token was logged:\n{logged}"
        );
    }
    let credentials = |secret: &str| STANDARD.encode(format!("{}:{secret}", provider.client_id()));
    for secret in [provider.client_secret(), "wrong-secret-3d9f"] {
        assert!(!logged.contains(secret), "a secret was logged:\n{logged}");
        assert!(
            !logged.contains(&credentials(secret)),
            "encoded credentials were logged:\n{logged}"
        );
    }
}
