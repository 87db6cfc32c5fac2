//! Login, throttling, refresh rotation and logout.

mod common;

use std::time::Duration;

use common::{Auth, PASSWORD, problem_code, unique_email};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn a_login_returns_an_access_token_and_a_refresh_token() {
    let auth = Auth::start().await;

    let session = auth.session(&unique_email()).await;

    assert_eq!(session["token_type"], "Bearer");
    assert_eq!(session["expires_in"], 900);
    assert!(session["access_token"].as_str().unwrap().split('.').count() == 3);
    assert!(session["refresh_token"].as_str().unwrap().len() >= 43);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer() {
    let auth = Auth::start().await;
    let email = unique_email();
    auth.register(&email).await;

    let wrong_password = auth.login(&email, "not the password").await;
    let unknown_email = auth.login(&unique_email(), PASSWORD).await;

    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_email.status(), StatusCode::UNAUTHORIZED);
    let wrong_password: Value = wrong_password.json().await.unwrap();
    let unknown_email: Value = unknown_email.json().await.unwrap();
    assert_eq!(wrong_password, unknown_email);
}

#[tokio::test]
async fn repeated_failures_lock_the_account_out_with_retry_after_even_for_the_right_password() {
    let auth = Auth::start_with(&[
        ("AUTH_LOGIN_FREE_FAILURES_PER_ACCOUNT", "3"),
        ("AUTH_LOGIN_FIRST_LOCKOUT_MS", "60000"),
    ])
    .await;
    let email = unique_email();
    auth.register(&email).await;

    for _ in 0..4 {
        assert_eq!(
            auth.login(&email, "not the password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = auth.login(&email, PASSWORD).await;

    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(problem_code(locked).await, "too_many_attempts");
}

#[tokio::test]
async fn the_lockout_grows_with_each_further_failure() {
    let auth = Auth::start_with(&[
        ("AUTH_LOGIN_FREE_FAILURES_PER_ACCOUNT", "1"),
        ("AUTH_LOGIN_FIRST_LOCKOUT_MS", "1000"),
    ])
    .await;
    let email = unique_email();
    auth.register(&email).await;
    let pool = auth.app.pool();
    let lockout_secs = || async {
        sqlx::query_scalar::<_, f64>(
            "SELECT extract(epoch FROM locked_until - last_failure_at)::float8 \
             FROM login_failures WHERE throttle_key LIKE 'account:%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };

    auth.login(&email, "not the password").await;
    auth.login(&email, "not the password").await;
    let first = lockout_secs().await;
    // Let the lockout pass without sleeping: move it into the past.
    sqlx::query("UPDATE login_failures SET locked_until = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    auth.login(&email, "not the password").await;
    let second = lockout_secs().await;

    assert!((first - 1.0).abs() < 0.5, "first lockout {first} s");
    assert!((second - 2.0).abs() < 0.5, "second lockout {second} s");
}

#[tokio::test]
async fn failures_from_one_address_lock_that_address_out_across_accounts() {
    let auth = Auth::start_with(&[
        ("AUTH_LOGIN_FREE_FAILURES_PER_ADDRESS", "3"),
        ("AUTH_LOGIN_FIRST_LOCKOUT_MS", "60000"),
    ])
    .await;
    let email = unique_email();
    auth.register(&email).await;

    for _ in 0..4 {
        auth.login(&unique_email(), PASSWORD).await;
    }
    let locked = auth.login(&email, PASSWORD).await;

    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_refresh_token_is_replaced_on_every_use() {
    let auth = Auth::start().await;
    let session = auth.session(&unique_email()).await;
    let first = session["refresh_token"].as_str().unwrap();

    let refreshed = auth.refresh(first).await;

    assert_eq!(refreshed.status(), StatusCode::OK);
    let next: Value = refreshed.json().await.unwrap();
    let second = next["refresh_token"].as_str().unwrap();
    assert_ne!(first, second);
    assert_eq!(
        auth.get_me(next["access_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(auth.refresh(second).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn reusing_a_replaced_refresh_token_revokes_the_whole_family() {
    let auth = Auth::start().await;
    let session = auth.session(&unique_email()).await;
    let stolen = session["refresh_token"].as_str().unwrap().to_owned();
    let next: Value = auth.refresh(&stolen).await.json().await.unwrap();
    let current = next["refresh_token"].as_str().unwrap();

    let reuse = auth.refresh(&stolen).await;

    assert_eq!(reuse.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem_code(reuse).await, "refresh_token_reused");
    let after = auth.refresh(current).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem_code(after).await, "invalid_refresh_token");
}

#[tokio::test]
async fn logout_revokes_the_family_and_other_logins_stay() {
    let auth = Auth::start().await;
    let email = unique_email();
    let phone = auth.session(&email).await;
    let laptop: Value = auth.login(&email, PASSWORD).await.json().await.unwrap();

    let logout = auth
        .post(
            "/v1/logout",
            serde_json::json!({"refresh_token": phone["refresh_token"]}),
        )
        .await;

    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        auth.refresh(phone["refresh_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        auth.refresh(laptop["refresh_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_unknown_or_expired_refresh_token_is_refused() {
    let auth = Auth::start_with(&[("AUTH_REFRESH_TOKEN_TTL_SECS", "1")]).await;
    let session = auth.session(&unique_email()).await;
    sqlx::query("UPDATE refresh_tokens SET expires_at = now() - interval '1 second'")
        .execute(&auth.app.pool())
        .await
        .unwrap();

    let expired = auth
        .refresh(session["refresh_token"].as_str().unwrap())
        .await;
    let unknown = auth.refresh("not-a-token").await;

    assert_eq!(problem_code(expired).await, "invalid_refresh_token");
    assert_eq!(problem_code(unknown).await, "invalid_refresh_token");
}

#[tokio::test]
async fn housekeeping_deletes_expired_sessions_and_forgotten_failures_and_keeps_live_sessions() {
    let auth = Auth::start_with(&[
        ("AUTH_REFRESH_TOKEN_TTL_SECS", "1"),
        ("AUTH_LOGIN_FAILURE_WINDOW_MS", "1"),
        ("AUTH_HOUSEKEEPING_INTERVAL_MS", "100"),
    ])
    .await;
    let pool = auth.app.pool();
    let email = unique_email();
    auth.session(&email).await;
    assert_eq!(
        auth.login(&email, "not the password").await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A session that goes on: its token is valid for a day.
    let live_family: uuid::Uuid = sqlx::query_scalar(
        "WITH family AS ( \
             INSERT INTO refresh_families (family_id, user_id) \
             SELECT gen_random_uuid(), user_id FROM users LIMIT 1 RETURNING family_id) \
         INSERT INTO refresh_tokens (token_digest, family_id, expires_at) \
         SELECT sha256('live'), family_id, now() + interval '1 day' FROM family \
         RETURNING family_id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();

    six_testkit::wait_until(
        Duration::from_secs(10),
        "expired sessions and forgotten failures are deleted",
        || async {
            let families: Vec<uuid::Uuid> =
                sqlx::query_scalar("SELECT family_id FROM refresh_families")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            let failures: i64 = sqlx::query_scalar("SELECT count(*) FROM login_failures")
                .fetch_one(&pool)
                .await
                .unwrap();
            families == vec![live_family] && failures == 0
        },
    )
    .await;
    let live_tokens: i64 = sqlx::query_scalar("SELECT count(*) FROM refresh_tokens")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(live_tokens, 1);
}
