//! Access tokens as the other services see them, key rotation, the client
//! credentials grant, and who may use the token proxy.

mod common;

use common::{Auth, CLIENT_ID, CLIENT_SECRET, KeyFile, problem_code, unique_email};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use six_kit::{
    auth::{AuthConfig, Principal, TokenVerifier},
    config::Env,
    testing::BadToken,
};

/// A verifier of another service, pointed at auth's JWKS.
async fn verifier_of_another_service(auth: &Auth) -> TokenVerifier {
    let env = Env::from_pairs([("AUTH_JWKS_URL", auth.url("/.well-known/jwks.json"))]);
    TokenVerifier::start(AuthConfig::from_env(&env).expect("the JWKS URL is valid"))
        .await
        .expect("the HTTP client builds")
}

async fn jwks_kids(auth: &Auth) -> Vec<String> {
    let jwks: Value = auth
        .app
        .client()
        .get(auth.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The `kid` in a token's header.
fn kid_of(token: &str) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn service_token_request(
    auth: &Auth,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Response {
    let mut request = auth.app.client().post(auth.url("/v1/token")).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.expect("auth answers")
}

// --- user tokens ---

#[tokio::test]
async fn a_login_token_verifies_in_another_service_as_its_user() {
    let auth = Auth::start().await;
    let session = auth.session(&unique_email()).await;
    let access_token = session["access_token"].as_str().unwrap();
    let user_id = auth.user_id(access_token).await;
    let verifier = verifier_of_another_service(&auth).await;

    let verified = verifier
        .verify(access_token)
        .await
        .expect("the token verifies");

    assert_eq!(verified.principal, Principal::User { user_id });
    assert_eq!(verified.expires_at_secs - verified.issued_at_secs, 900);
    assert_eq!(kid_of(access_token), auth.keys[0].forge().kid());
}

#[tokio::test]
async fn every_kind_of_bad_token_is_refused_with_401_even_when_signed_with_auths_key() {
    let auth = Auth::start().await;
    let session = auth.session(&unique_email()).await;
    let user_id = auth
        .user_id(session["access_token"].as_str().unwrap())
        .await;
    let forge = auth.keys[0].forge();
    // The forge's good token passes, so each refusal below is the one defect's doing.
    assert_eq!(
        auth.get_me(&forge.user_token(user_id)).await.status(),
        StatusCode::OK
    );

    for kind in BadToken::ALL {
        let response = auth.get_me(&forge.bad_user_token(user_id, kind)).await;

        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{kind:?}");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#,
            "{kind:?}"
        );
        assert_eq!(problem_code(response).await, "invalid_token", "{kind:?}");
    }
}

#[tokio::test]
async fn a_request_without_a_token_gets_401_missing_token() {
    let auth = Auth::start().await;

    let response = auth
        .app
        .client()
        .get(auth.url("/v1/me"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem_code(response).await, "missing_token");
}

// --- key rotation ---

#[tokio::test]
async fn after_rotation_old_tokens_stay_valid_new_ones_use_the_new_key_and_both_keys_are_published()
{
    let mut auth = Auth::start().await;
    let email = unique_email();
    let before = auth.session(&email).await;
    let old_token = before["access_token"].as_str().unwrap().to_owned();
    let old_key = auth.keys.remove(0);
    let old_kid = old_key.forge().kid().to_owned();
    let new_key = KeyFile::generate();
    let new_kid = new_key.forge().kid().to_owned();
    let verifier = verifier_of_another_service(&auth).await;

    auth.restart_with_keys(vec![new_key, old_key]).await;
    let login = auth.login(&email, common::PASSWORD).await;
    let new_token = login.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    assert_eq!(kid_of(&new_token), new_kid);
    assert_eq!(jwks_kids(&auth).await, vec![new_kid, old_kid]);
    assert_eq!(auth.get_me(&old_token).await.status(), StatusCode::OK);
    assert_eq!(auth.get_me(&new_token).await.status(), StatusCode::OK);
    // A verifier that cached the old key set learns the new key on first sight.
    assert!(verifier.verify(&old_token).await.is_ok());
    assert!(verifier.verify(&new_token).await.is_ok());
}

#[tokio::test]
async fn tokens_of_a_key_removed_from_the_set_are_refused() {
    let mut auth = Auth::start().await;
    let session = auth.session(&unique_email()).await;
    let old_token = session["access_token"].as_str().unwrap().to_owned();

    auth.restart_with_keys(vec![KeyFile::generate()]).await;

    let response = auth.get_me(&old_token).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem_code(response).await, "invalid_token");
}

// --- service tokens ---

#[tokio::test]
async fn client_credentials_in_basic_or_in_the_form_get_a_service_token() {
    let auth = Auth::start().await;
    let verifier = verifier_of_another_service(&auth).await;

    let basic = service_token_request(
        &auth,
        &[("grant_type", "client_credentials")],
        Some((CLIENT_ID, CLIENT_SECRET)),
    )
    .await;
    let form = service_token_request(
        &auth,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ],
        None,
    )
    .await;

    for response in [basic, form] {
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
        let verified = verifier
            .verify(body["access_token"].as_str().unwrap())
            .await
            .expect("the service token verifies");
        assert_eq!(
            verified.principal,
            Principal::Service {
                client_id: CLIENT_ID.to_owned()
            }
        );
    }
}

#[tokio::test]
async fn a_wrong_secret_an_unknown_client_or_no_credentials_get_401_invalid_client() {
    let auth = Auth::start().await;
    let grant = [("grant_type", "client_credentials")];

    let attempts = [
        service_token_request(&auth, &grant, Some((CLIENT_ID, "not-the-secret"))).await,
        service_token_request(&auth, &grant, Some(("nobody", CLIENT_SECRET))).await,
        service_token_request(&auth, &grant, None).await,
    ];

    for response in attempts {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(problem_code(response).await, "invalid_client");
    }
}

#[tokio::test]
async fn another_grant_type_gets_400_unsupported_grant_type() {
    let auth = Auth::start().await;

    let response = service_token_request(
        &auth,
        &[("grant_type", "password")],
        Some((CLIENT_ID, CLIENT_SECRET)),
    )
    .await;

    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem_code(response).await, "unsupported_grant_type");
}

#[tokio::test]
async fn a_service_token_is_not_a_users_and_gets_403_on_account_routes() {
    let auth = Auth::start().await;
    let service_token = auth.keys[0].forge().service_token(CLIENT_ID);

    let response = auth.get_me(&service_token).await;

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem_code(response).await, "user_token_required");
}

// --- the token proxy is for services only ---

#[tokio::test]
async fn the_token_proxy_answers_only_service_tokens() {
    let auth = Auth::start().await;
    let forge = auth.keys[0].forge();
    let proxy_call = |token: Option<String>| {
        let mut request = auth
            .app
            .client()
            .get(auth.url("/internal/proxy/unconfigured/v1/things"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let anonymous = proxy_call(None).await.unwrap();
    let user = proxy_call(Some(forge.user_token(uuid::Uuid::now_v7())))
        .await
        .unwrap();
    let service = proxy_call(Some(forge.service_token(CLIENT_ID)))
        .await
        .unwrap();

    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem_code(anonymous).await, "missing_token");
    assert_eq!(user.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem_code(user).await, "service_token_required");
    // Past the guard: the provider is not configured.
    assert_eq!(service.status(), StatusCode::NOT_FOUND);
    assert_eq!(problem_code(service).await, "unknown_provider");
}

#[tokio::test]
async fn a_token_request_that_is_not_a_grant_form_gets_400_malformed_request() {
    let auth = Auth::start().await;

    let without_grant_type =
        service_token_request(&auth, &[], Some((CLIENT_ID, CLIENT_SECRET))).await;
    let json_body = auth
        .app
        .client()
        .post(auth.url("/v1/token"))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();

    for response in [without_grant_type, json_body] {
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(problem_code(response).await, "malformed_request");
    }
}
