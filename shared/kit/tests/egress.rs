//! The egress client against a real server on loopback: refused under
//! `PublicOnly` whether the URL names the address or a host name resolving to it,
//! reached under `AnyAddress`, redirects checked hop by hop and counted.

use axum::{Router, response::Redirect, routing::get};
use six_kit::egress::{self, EgressPolicy, UrlRefused};
use tokio::net::TcpListener;

/// Serves `/file`, `/to-metadata` (a redirect to the cloud metadata address) and
/// `/loop` (a redirect to itself) on loopback; returns the port.
async fn loopback_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new()
        .route("/file", get(|| async { "name,email\n" }))
        .route(
            "/to-metadata",
            get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data") }),
        )
        .route("/loop", get(|| async { Redirect::temporary("/loop") }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

fn client(policy: EgressPolicy) -> reqwest::Client {
    egress::client_builder(policy).build().unwrap()
}

/// Why `client` refused to get `url` (the call must fail).
async fn refusal_of(client: reqwest::Client, url: String) -> Option<UrlRefused> {
    let error = client.get(url).send().await.unwrap_err();
    let refused = egress::refusal(&error).cloned();
    assert!(refused.is_some(), "not refused by the policy: {error:?}");
    refused
}

fn not_public_host(refused: Option<UrlRefused>) -> Option<String> {
    match refused {
        Some(UrlRefused::NotPublic { host, .. }) => Some(host),
        _ => None,
    }
}

#[tokio::test]
async fn a_host_name_resolving_to_loopback_is_refused_at_connection() {
    let port = loopback_server().await;
    let refused = refusal_of(
        client(EgressPolicy::PublicOnly),
        format!("http://localhost:{port}/file"),
    )
    .await;
    assert_eq!(not_public_host(refused), Some("localhost".to_owned()));
}

#[tokio::test]
async fn the_same_server_is_reached_when_any_address_is_allowed() {
    let port = loopback_server().await;
    let url = format!("http://localhost:{port}/file");
    egress::check_url(&url.parse().unwrap(), EgressPolicy::AnyAddress).unwrap();
    let body = client(EgressPolicy::AnyAddress)
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "name,email\n");
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_refused_at_the_hop() {
    let port = loopback_server().await;
    // The resolver would refuse loopback before the redirect; leave it out to
    // see the hop itself checked.
    let without_resolver = reqwest::Client::builder()
        .redirect(egress::redirect_policy(EgressPolicy::PublicOnly))
        .build()
        .unwrap();
    let refused = refusal_of(
        without_resolver,
        format!("http://127.0.0.1:{port}/to-metadata"),
    )
    .await;
    assert_eq!(not_public_host(refused), Some("169.254.169.254".to_owned()));
}

#[tokio::test]
async fn redirect_loops_stop() {
    let port = loopback_server().await;
    let refused = refusal_of(
        client(EgressPolicy::AnyAddress),
        format!("http://127.0.0.1:{port}/loop"),
    )
    .await;
    assert_eq!(refused, Some(UrlRefused::TooManyRedirects));
}
