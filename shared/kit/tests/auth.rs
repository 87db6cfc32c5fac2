//! Token verification, the extractors and service tokens, black-box against a
//! `TestIssuer` serving a real JWKS and token endpoint over HTTP.

use std::time::Duration;

use axum::{Router, http::StatusCode, routing::get};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use six_kit::{
    auth::{
        AuthConfig, CurrentUser, Principal, ServiceCaller, ServiceTokenConfig, ServiceTokenError,
        ServiceTokenSource, TokenError, TokenVerifier,
    },
    testing::{BadToken, TestIssuer},
};
use six_testkit::wait_until;
use tokio::{net::TcpListener, task::JoinSet};
use uuid::Uuid;

/// Deadline of every wait for something that happens in the background.
const DEADLINE: Duration = Duration::from_secs(10);

async fn verifier_for(issuer: &TestIssuer) -> TokenVerifier {
    verifier_with(issuer.auth_config()).await
}

async fn verifier_with(config: AuthConfig) -> TokenVerifier {
    TokenVerifier::start(config)
        .await
        .expect("the HTTP client builds")
}

async fn rejection_of(issuer: &TestIssuer, token: &str) -> TokenError {
    verifier_for(issuer)
        .await
        .verify(token)
        .await
        .expect_err("the token is refused")
}

fn token_source(issuer: &TestIssuer, client_id: &str, client_secret: &str) -> ServiceTokenSource {
    ServiceTokenSource::new(ServiceTokenConfig {
        token_url: issuer.token_url(),
        client_id: client_id.to_owned(),
        client_secret: SecretString::from(client_secret.to_owned()),
        http_timeout: Duration::from_secs(5),
    })
    .expect("the HTTP client builds")
}

// --- valid tokens ---

#[tokio::test]
async fn a_user_token_verifies_to_its_user_and_token_id() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier_for(&issuer).await;
    let user_id = Uuid::now_v7();
    let claims = issuer.user_claims(user_id);
    let token = issuer.sign(&claims);

    let verified = verifier.verify(&token).await.unwrap();

    assert_eq!(verified.principal, Principal::User { user_id });
    assert_eq!(
        verified.token_id.to_string(),
        claims["jti"].as_str().unwrap()
    );
    assert_eq!(verified.expires_at_secs, claims["exp"].as_u64().unwrap());
}

#[tokio::test]
async fn a_service_token_verifies_to_its_client() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier_for(&issuer).await;

    let verified = verifier
        .verify(&issuer.service_token("contacts"))
        .await
        .unwrap();

    assert_eq!(
        verified.principal,
        Principal::Service {
            client_id: "contacts".into()
        }
    );
}

#[tokio::test]
async fn a_token_expired_within_the_clock_skew_is_still_accepted() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier_for(&issuer).await;
    let now = jsonwebtoken::get_current_timestamp();
    let mut claims = issuer.user_claims(Uuid::now_v7());
    claims["iat"] = json!(now - 900);
    claims["nbf"] = json!(now - 900);
    claims["exp"] = json!(now - 5);

    let verified = verifier.verify(&issuer.sign(&claims)).await;

    assert!(verified.is_ok(), "{verified:?}");
}

// --- refused tokens ---

#[tokio::test]
async fn an_expired_token_is_refused() {
    let issuer = TestIssuer::start().await;

    let error = rejection_of(&issuer, &issuer.bad_user_token(BadToken::Expired)).await;

    assert_eq!(error, TokenError::Expired);
}

#[tokio::test]
async fn a_token_not_valid_yet_is_refused() {
    let issuer = TestIssuer::start().await;

    let error = rejection_of(&issuer, &issuer.bad_user_token(BadToken::NotYetValid)).await;

    assert_eq!(error, TokenError::NotYetValid);
}

#[tokio::test]
async fn a_token_issued_in_the_future_is_refused() {
    let issuer = TestIssuer::start().await;

    let error = rejection_of(&issuer, &issuer.bad_user_token(BadToken::IssuedInFuture)).await;

    assert_eq!(error, TokenError::IssuedInFuture);
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let issuer = TestIssuer::start().await;

    let error = rejection_of(&issuer, &issuer.bad_user_token(BadToken::WrongAudience)).await;

    assert_eq!(error, TokenError::WrongAudience);
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    let issuer = TestIssuer::start().await;

    let error = rejection_of(&issuer, &issuer.bad_user_token(BadToken::WrongIssuer)).await;

    assert_eq!(error, TokenError::WrongIssuer);
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused() {
    let issuer = TestIssuer::start().await;

    let error = rejection_of(&issuer, &issuer.bad_user_token(BadToken::AlgNone)).await;

    assert_eq!(
        error,
        TokenError::UnsupportedAlgorithm { alg: "none".into() }
    );
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_public_key_is_refused() {
    let issuer = TestIssuer::start().await;

    let error = rejection_of(
        &issuer,
        &issuer.bad_user_token(BadToken::Hs256WithPublicKey),
    )
    .await;

    assert_eq!(
        error,
        TokenError::UnsupportedAlgorithm {
            alg: "HS256".into()
        }
    );
}

#[tokio::test]
async fn a_token_signed_by_an_unpublished_key_is_refused_as_unknown_kid() {
    let issuer = TestIssuer::start().await;

    let error = rejection_of(&issuer, &issuer.bad_user_token(BadToken::UnknownKid)).await;

    assert!(
        matches!(error, TokenError::UnknownKeyId { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_token_without_kid_is_refused() {
    let issuer = TestIssuer::start().await;

    let error = rejection_of(&issuer, &issuer.bad_user_token(BadToken::MissingKid)).await;

    assert_eq!(error, TokenError::MissingKeyId);
}

#[tokio::test]
async fn a_token_that_is_not_an_access_token_is_refused() {
    let issuer = TestIssuer::start().await;

    let error = rejection_of(&issuer, &issuer.bad_user_token(BadToken::WrongType)).await;

    assert_eq!(error, TokenError::WrongType { typ: "JWT".into() });
}

#[tokio::test]
async fn a_token_whose_claims_changed_after_signing_is_refused() {
    let issuer = TestIssuer::start().await;

    let error = rejection_of(&issuer, &issuer.bad_user_token(BadToken::BadSignature)).await;

    assert_eq!(error, TokenError::BadSignature);
}

#[tokio::test]
async fn a_token_missing_a_claim_is_refused_naming_it() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier_for(&issuer).await;

    for claim in ["iss", "aud", "sub", "kind", "iat", "nbf", "exp", "jti"] {
        let mut claims = issuer.user_claims(Uuid::now_v7());
        claims.as_object_mut().unwrap().remove(claim);

        let error = verifier.verify(&issuer.sign(&claims)).await.unwrap_err();

        assert_eq!(error, TokenError::MissingClaim(claim));
    }
}

#[tokio::test]
async fn a_claim_of_the_wrong_json_type_is_refused_naming_it() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier_for(&issuer).await;
    let now = jsonwebtoken::get_current_timestamp();
    let wrong_values = [
        ("iss", json!(42)),
        ("aud", json!(["six-degrees"])),
        ("sub", json!(42)),
        ("kind", json!("admin")),
        ("iat", json!(now.to_string())),
        ("nbf", json!(null)),
        ("exp", json!({"at": now + 900})),
        ("jti", json!("not-a-uuid")),
    ];

    for (claim, wrong_value) in wrong_values {
        let mut claims = issuer.user_claims(Uuid::now_v7());
        claims[claim] = wrong_value;

        let error = verifier.verify(&issuer.sign(&claims)).await.unwrap_err();

        assert_eq!(error, TokenError::InvalidClaim(claim), "{claim}");
    }
}

#[tokio::test]
async fn a_user_token_whose_subject_is_not_a_uuid_is_refused() {
    let issuer = TestIssuer::start().await;
    let mut claims = issuer.user_claims(Uuid::now_v7());
    claims["sub"] = json!("ada@example.org");

    let error = rejection_of(&issuer, &issuer.sign(&claims)).await;

    assert_eq!(error, TokenError::InvalidClaim("sub"));
}

// --- the key set ---

#[tokio::test]
async fn a_token_signed_by_a_rotated_key_verifies_after_one_refetch() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier_for(&issuer).await;
    let old_token = issuer.user_token(Uuid::now_v7());
    let fetches_at_start = issuer.jwks_fetches();

    let new_kid = issuer.rotate_key();
    let new_token = issuer.user_token(Uuid::now_v7());

    assert_eq!(issuer.active_kid(), new_kid);
    assert!(verifier.verify(&new_token).await.is_ok());
    assert!(verifier.verify(&old_token).await.is_ok());
    assert_eq!(issuer.jwks_fetches(), fetches_at_start + 1);
}

#[tokio::test]
async fn concurrent_tokens_of_a_new_key_share_one_refetch() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier_for(&issuer).await;
    let fetches_at_start = issuer.jwks_fetches();
    issuer.rotate_key();
    issuer.hold_responses();

    let mut verifications = JoinSet::new();
    for _ in 0..20 {
        let (verifier, token) = (verifier.clone(), issuer.user_token(Uuid::now_v7()));
        verifications.spawn(async move { verifier.verify(&token).await });
    }
    wait_until(DEADLINE, "the refetch reaches the issuer", || async {
        issuer.jwks_fetches() > fetches_at_start
    })
    .await;
    issuer.release_responses();
    let results = verifications.join_all().await;

    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(issuer.jwks_fetches(), fetches_at_start + 1);
}

#[tokio::test]
async fn twenty_tokens_with_unknown_kids_cause_one_refetch() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier_for(&issuer).await;
    let fetches_at_start = issuer.jwks_fetches();
    issuer.hold_responses();

    let mut verifications = JoinSet::new();
    for _ in 0..20 {
        let (verifier, token) = (
            verifier.clone(),
            issuer.bad_user_token(BadToken::UnknownKid),
        );
        verifications.spawn(async move { verifier.verify(&token).await });
    }
    wait_until(DEADLINE, "the refetch reaches the issuer", || async {
        issuer.jwks_fetches() > fetches_at_start
    })
    .await;
    issuer.release_responses();
    let results = verifications.join_all().await;

    assert!(
        results
            .iter()
            .all(|result| matches!(result, Err(TokenError::UnknownKeyId { .. }))),
        "{results:?}"
    );
    assert_eq!(issuer.jwks_fetches(), fetches_at_start + 1);
}

#[tokio::test]
async fn a_refetch_for_a_new_key_waits_for_the_rate_limit() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier_for(&issuer).await;
    let refused = verifier
        .verify(&issuer.bad_user_token(BadToken::UnknownKid))
        .await;
    let fetches_after_unknown_kid = issuer.jwks_fetches();

    issuer.rotate_key();
    let new_key_token = issuer.user_token(Uuid::now_v7());
    let error = verifier.verify(&new_key_token).await.unwrap_err();

    assert!(matches!(refused, Err(TokenError::UnknownKeyId { .. })));
    assert!(
        matches!(error, TokenError::UnknownKeyId { .. }),
        "{error:?}"
    );
    assert_eq!(issuer.jwks_fetches(), fetches_after_unknown_kid);
}

#[tokio::test]
async fn known_keys_keep_working_while_auth_is_down() {
    let mut issuer = TestIssuer::start().await;
    let verifier = verifier_for(&issuer).await;
    let token = issuer.user_token(Uuid::now_v7());

    issuer.stop().await;

    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn a_failed_refetch_keeps_the_keys_fetched_before() {
    let mut issuer = TestIssuer::start().await;
    let verifier = verifier_for(&issuer).await;
    let token = issuer.user_token(Uuid::now_v7());
    issuer.stop().await;

    let unknown = verifier
        .verify(&issuer.bad_user_token(BadToken::UnknownKid))
        .await;
    let known = verifier.verify(&token).await;

    assert!(
        matches!(unknown, Err(TokenError::UnknownKeyId { .. })),
        "{unknown:?}"
    );
    assert!(known.is_ok(), "{known:?}");
}

#[tokio::test]
async fn a_failed_background_refresh_keeps_the_keys_fetched_before() {
    let issuer = TestIssuer::start().await;
    let mut config = issuer.auth_config();
    config.jwks_refresh_interval = Duration::from_secs(1);
    let verifier = verifier_with(config).await;
    let token = issuer.user_token(Uuid::now_v7());
    let fetches_at_start = issuer.jwks_fetches();
    issuer.set_available(false);

    // Refreshes run one after the other: once the second has reached the issuer,
    // the first has failed and been handled.
    wait_until(DEADLINE, "two background refreshes were tried", || async {
        issuer.jwks_fetches() >= fetches_at_start + 2
    })
    .await;

    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn the_key_set_is_refreshed_in_the_background() {
    let issuer = TestIssuer::start().await;
    let mut config = issuer.auth_config();
    config.jwks_refresh_interval = Duration::from_secs(1);
    let verifier = verifier_with(config).await;
    let fetches_at_start = issuer.jwks_fetches();
    let new_key_token = {
        issuer.rotate_key();
        issuer.user_token(Uuid::now_v7())
    };

    wait_until(DEADLINE, "a background refresh", || async {
        issuer.jwks_fetches() > fetches_at_start
    })
    .await;
    let fetches_before_verifying = issuer.jwks_fetches();
    let verified = verifier.verify(&new_key_token).await;

    assert!(verified.is_ok(), "{verified:?}");
    assert_eq!(issuer.jwks_fetches(), fetches_before_verifying);
}

#[tokio::test]
async fn tokens_are_refused_as_unavailable_until_a_key_set_was_ever_fetched() {
    let mut issuer = TestIssuer::start().await;
    let config = issuer.auth_config();
    let token = issuer.user_token(Uuid::now_v7());
    issuer.stop().await;
    let verifier = verifier_with(config).await;

    let error = verifier.verify(&token).await.unwrap_err();

    assert!(
        matches!(error, TokenError::KeysUnavailable { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_verified_token_of_a_key_that_left_the_key_set_is_refused_after_the_next_fetch() {
    let issuer = TestIssuer::start().await;
    let verifier = verifier_for(&issuer).await;
    let old_token = issuer.user_token(Uuid::now_v7());
    assert!(
        verifier.verify(&old_token).await.is_ok(),
        "verified, so cached"
    );

    issuer.rotate_key();
    issuer.remove_retired_keys();
    // A token of the new key makes the verifier fetch the set without the old key.
    assert!(
        verifier
            .verify(&issuer.user_token(Uuid::now_v7()))
            .await
            .is_ok()
    );
    let refused = verifier.verify(&old_token).await;

    assert!(
        matches!(refused, Err(TokenError::UnknownKeyId { .. })),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_verified_token_is_refused_once_it_expires() {
    let issuer = TestIssuer::start().await;
    let mut config = issuer.auth_config();
    config.clock_skew = Duration::ZERO;
    let verifier = verifier_with(config).await;
    let mut claims = issuer.user_claims(Uuid::now_v7());
    claims["exp"] = json!(claims["iat"].as_u64().unwrap() + 1);
    let token = issuer.sign(&claims);
    assert!(verifier.verify(&token).await.is_ok(), "verified, so cached");

    wait_until(DEADLINE, "the token is refused as expired", || async {
        matches!(verifier.verify(&token).await, Err(TokenError::Expired))
    })
    .await;
}

#[tokio::test]
async fn a_fixed_key_set_verifies_its_tokens_and_refuses_other_keys_without_fetching() {
    let issuer = TestIssuer::start().await;
    let jwks = reqwest::get(issuer.jwks_url())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let verifier = TokenVerifier::with_key_set(
        issuer.issuer(),
        issuer.audience(),
        Duration::from_secs(30),
        &jwks,
    )
    .expect("the issuer's JWKS is usable");
    let known = issuer.user_token(Uuid::now_v7());
    issuer.rotate_key();
    let fetches_before = issuer.jwks_fetches();

    let unknown = verifier.verify(&issuer.user_token(Uuid::now_v7())).await;

    assert!(verifier.verify(&known).await.is_ok());
    assert!(
        matches!(unknown, Err(TokenError::UnknownKeyId { .. })),
        "{unknown:?}"
    );
    assert_eq!(issuer.jwks_fetches(), fetches_before);
}

#[test]
fn a_fixed_key_set_without_a_usable_key_is_refused() {
    let error = TokenVerifier::with_key_set(
        "six-degrees-auth",
        "six-degrees",
        Duration::from_secs(30),
        br#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"hmac"}]}"#,
    )
    .unwrap_err();

    assert!(
        error.to_string().contains("no usable Ed25519 key"),
        "{error}"
    );
}

// --- extractors ---

/// A router with a route for people and one for services, served on port 0.
async fn serve_routes(verifier: TokenVerifier) -> String {
    let routes = Router::new()
        .route(
            "/v1/me",
            get(|user: CurrentUser| async move { user.user_id.to_string() }),
        )
        .route(
            "/internal/caller",
            get(|caller: ServiceCaller| async move { caller.client_id }),
        )
        .with_state(verifier);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, routes).await });
    format!("http://{address}")
}

async fn get_with(url: &str, token: Option<&str>) -> reqwest::Response {
    let request = reqwest::Client::new().get(url);
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    request.send().await.unwrap()
}

/// Status, `WWW-Authenticate`, content type and problem code of a refusal.
async fn refusal(response: reqwest::Response) -> (StatusCode, String, String, String) {
    let status = response.status();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (challenge, content_type) = (header("www-authenticate"), header("content-type"));
    let body: serde_json::Value = response.json().await.unwrap();
    let code = body["code"].as_str().unwrap_or("").to_owned();
    (status, challenge, content_type, code)
}

#[tokio::test]
async fn a_user_token_reaches_the_handler_as_the_current_user() {
    let issuer = TestIssuer::start().await;
    let base = serve_routes(verifier_for(&issuer).await).await;
    let user_id = Uuid::now_v7();

    let response = get_with(&format!("{base}/v1/me"), Some(&issuer.user_token(user_id))).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), user_id.to_string());
}

#[tokio::test]
async fn a_service_token_reaches_the_handler_as_the_service_caller() {
    let issuer = TestIssuer::start().await;
    let base = serve_routes(verifier_for(&issuer).await).await;

    let response = get_with(
        &format!("{base}/internal/caller"),
        Some(&issuer.service_token("contacts")),
    )
    .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "contacts");
}

#[tokio::test]
async fn a_request_without_a_token_gets_401_missing_token() {
    let issuer = TestIssuer::start().await;
    let base = serve_routes(verifier_for(&issuer).await).await;

    let response = get_with(&format!("{base}/v1/me"), None).await;

    assert_eq!(
        refusal(response).await,
        (
            StatusCode::UNAUTHORIZED,
            "Bearer".into(),
            "application/problem+json".into(),
            "missing_token".into()
        )
    );
}

#[tokio::test]
async fn an_invalid_token_gets_401_invalid_token() {
    let issuer = TestIssuer::start().await;
    let base = serve_routes(verifier_for(&issuer).await).await;

    let response = get_with(
        &format!("{base}/v1/me"),
        Some(&issuer.bad_user_token(BadToken::Expired)),
    )
    .await;

    assert_eq!(
        refusal(response).await,
        (
            StatusCode::UNAUTHORIZED,
            r#"Bearer error="invalid_token""#.into(),
            "application/problem+json".into(),
            "invalid_token".into()
        )
    );
}

#[tokio::test]
async fn a_service_token_on_a_route_for_people_gets_403() {
    let issuer = TestIssuer::start().await;
    let base = serve_routes(verifier_for(&issuer).await).await;

    let response = get_with(
        &format!("{base}/v1/me"),
        Some(&issuer.service_token("contacts")),
    )
    .await;

    assert_eq!(
        refusal(response).await,
        (
            StatusCode::FORBIDDEN,
            r#"Bearer error="insufficient_scope""#.into(),
            "application/problem+json".into(),
            "user_token_required".into()
        )
    );
}

#[tokio::test]
async fn a_user_token_on_a_route_for_services_gets_403() {
    let issuer = TestIssuer::start().await;
    let base = serve_routes(verifier_for(&issuer).await).await;

    let response = get_with(
        &format!("{base}/internal/caller"),
        Some(&issuer.user_token(Uuid::now_v7())),
    )
    .await;

    assert_eq!(
        refusal(response).await,
        (
            StatusCode::FORBIDDEN,
            r#"Bearer error="insufficient_scope""#.into(),
            "application/problem+json".into(),
            "service_token_required".into()
        )
    );
}

// --- service tokens ---

#[tokio::test]
async fn a_service_token_from_the_source_verifies_as_that_client() {
    let issuer = TestIssuer::start().await;
    issuer.add_client("contacts", "s3cret");
    let verifier = verifier_for(&issuer).await;
    let source = token_source(&issuer, "contacts", "s3cret");

    let token = source.token().await.unwrap();
    let verified = verifier.verify(token.expose_secret()).await.unwrap();

    assert_eq!(
        verified.principal,
        Principal::Service {
            client_id: "contacts".into()
        }
    );
}

#[tokio::test]
async fn twenty_concurrent_callers_share_one_token_fetch() {
    let issuer = TestIssuer::start().await;
    issuer.add_client("contacts", "s3cret");
    let source = token_source(&issuer, "contacts", "s3cret");
    issuer.hold_responses();

    let mut callers = JoinSet::new();
    for _ in 0..20 {
        let source = source.clone();
        callers.spawn(async move { source.token().await.map(|t| t.expose_secret().to_owned()) });
    }
    wait_until(DEADLINE, "the token request reaches the issuer", || async {
        issuer.token_requests() > 0
    })
    .await;
    issuer.release_responses();
    let tokens: Vec<String> = callers
        .join_all()
        .await
        .into_iter()
        .map(|token| token.unwrap())
        .collect();

    assert!(tokens.iter().all(|token| *token == tokens[0]));
    assert_eq!(issuer.token_requests(), 1);
}

#[tokio::test]
async fn the_token_is_fetched_again_once_half_its_lifetime_has_passed() {
    let issuer = TestIssuer::start().await;
    issuer.add_client("contacts", "s3cret");
    issuer.set_service_token_lifetime(2);
    let source = token_source(&issuer, "contacts", "s3cret");
    let first = source.token().await.unwrap().expose_secret().to_owned();
    let cached = source.token().await.unwrap().expose_secret().to_owned();

    wait_until(DEADLINE, "a new token", || async {
        source.token().await.unwrap().expose_secret() != first
    })
    .await;

    assert_eq!(cached, first);
    assert_eq!(issuer.token_requests(), 2);
}

#[tokio::test]
async fn while_auth_fails_the_cached_token_is_used_until_it_expires() {
    let issuer = TestIssuer::start().await;
    issuer.add_client("contacts", "s3cret");
    issuer.set_service_token_lifetime(4);
    let source = token_source(&issuer, "contacts", "s3cret");
    let first = source.token().await.unwrap().expose_secret().to_owned();
    issuer.set_available(false);

    let during_failed_refresh = std::sync::Mutex::new(None);
    wait_until(DEADLINE, "a refresh was tried", || async {
        let token = source.token().await;
        let tried = issuer.token_requests() > 1;
        if tried {
            *during_failed_refresh.lock().unwrap() =
                Some(token.map(|token| token.expose_secret().to_owned()));
        }
        tried
    })
    .await;
    wait_until(DEADLINE, "the cached token expired", || async {
        source.token().await.is_err()
    })
    .await;

    let during_failed_refresh = during_failed_refresh.into_inner().unwrap().unwrap();
    assert_eq!(during_failed_refresh.unwrap(), first);
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_as_invalid_client() {
    let issuer = TestIssuer::start().await;
    issuer.add_client("contacts", "s3cret");
    let source = token_source(&issuer, "contacts", "guess");

    let error = source.token().await.unwrap_err();

    assert!(
        matches!(
            &error,
            ServiceTokenError::Refused { status, error }
                if *status == StatusCode::UNAUTHORIZED && error == "invalid_client"
        ),
        "{error:?}"
    );
}
