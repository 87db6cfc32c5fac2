//! What the black-box tests share: a running auth service with fresh signing keys,
//! and small clients for its endpoints.

#![allow(dead_code)] // each test binary uses a different part

use std::path::PathBuf;

use ed25519_dalek::{SigningKey, pkcs8::EncodePrivateKey, pkcs8::spki::der::pem::LineEnding};
use rand_core::{OsRng, RngCore};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use six_kit::testing::{TestApp, TokenForge};

/// A password that satisfies the policy.
pub const PASSWORD: &str = "correct horse battery staple";

/// A client credential configured in every test service.
pub const CLIENT_ID: &str = "graph";
/// Its secret.
pub const CLIENT_SECRET: &str = "graph-secret-0123456789abcdef0123";

/// A fresh Ed25519 private key in a PKCS#8 PEM file, removed when dropped.
pub struct KeyFile {
    pub path: PathBuf,
}

impl KeyFile {
    pub fn generate() -> Self {
        let mut secret = [0_u8; 32];
        OsRng.fill_bytes(&mut secret);
        let pem = SigningKey::from_bytes(&secret)
            .to_pkcs8_pem(LineEnding::LF)
            .expect("an Ed25519 key encodes");
        let path = std::env::temp_dir().join(format!("auth-test-key-{}.pem", uuid::Uuid::now_v7()));
        std::fs::write(&path, pem.as_bytes()).expect("the key file is written");
        Self { path }
    }

    pub fn path(&self) -> &str {
        self.path.to_str().expect("temporary paths are UTF-8")
    }

    /// Mints tokens with this key, as auth does (and as it must refuse).
    pub fn forge(&self) -> TokenForge {
        TokenForge::from_pkcs8_pem(
            &std::fs::read_to_string(&self.path).expect("the key file is readable"),
        )
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A running auth service and the key file it signs with.
pub struct Auth {
    pub app: TestApp,
    pub keys: Vec<KeyFile>,
}

impl Auth {
    /// Starts auth with one fresh key, cheap argon2 parameters and `vars`.
    pub async fn start_with(vars: &[(&str, &str)]) -> Self {
        Self::start_with_keys(vec![KeyFile::generate()], vars).await
    }

    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts auth signing with the first of `keys`.
    pub async fn start_with_keys(keys: Vec<KeyFile>, vars: &[(&str, &str)]) -> Self {
        let key_files = keys.iter().map(KeyFile::path).collect::<Vec<_>>().join(",");
        let clients = format!("{CLIENT_ID}:{CLIENT_SECRET}");
        let mut all: Vec<(&str, &str)> = vec![
            ("AUTH_SIGNING_KEY_FILES", &key_files),
            ("AUTH_ARGON2_MEMORY_KIB", "256"),
            ("AUTH_ARGON2_ITERATIONS", "1"),
            ("AUTH_SERVICE_CLIENTS", &clients),
        ];
        all.extend_from_slice(vars);
        let app = TestApp::spawn_with::<auth::App>(&all).await;
        Self { app, keys }
    }

    pub fn url(&self, path: &str) -> String {
        self.app.url(path)
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.app
            .client()
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("auth answers")
    }

    pub async fn register(&self, email: &str) -> Response {
        self.post(
            "/v1/register",
            json!({"email": email, "password": PASSWORD, "display_name": "Ada Lovelace"}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post("/v1/login", json!({"email": email, "password": password}))
            .await
    }

    /// Registers `email` and logs in: the session's JSON.
    pub async fn session(&self, email: &str) -> Value {
        assert_eq!(self.register(email).await.status(), StatusCode::CREATED);
        let login = self.login(email, PASSWORD).await;
        assert_eq!(login.status(), StatusCode::OK);
        login.json().await.expect("a session is JSON")
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post("/v1/refresh", json!({"refresh_token": refresh_token}))
            .await
    }

    pub async fn get_me(&self, access_token: &str) -> Response {
        self.app
            .client()
            .get(self.url("/v1/me"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("auth answers")
    }
}

impl Auth {
    /// The user id of the account an access token was issued to.
    pub async fn user_id(&self, access_token: &str) -> uuid::Uuid {
        let me = self.get_me(access_token).await;
        assert_eq!(me.status(), StatusCode::OK);
        let me: Value = me.json().await.expect("the account is JSON");
        me["user_id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("a user id")
    }

    /// Starts auth again with `keys`, the first signing, on the same database and
    /// port (so verifiers pointed at it keep their JWKS URL).
    pub async fn restart_with_keys(&mut self, keys: Vec<KeyFile>) {
        let key_files = keys.iter().map(KeyFile::path).collect::<Vec<_>>().join(",");
        self.app.env.set("AUTH_SIGNING_KEY_FILES", key_files);
        let address = self.url("").trim_start_matches("http://").to_owned();
        self.app.env.set("HTTP_ADDR", address);
        self.app.restart::<auth::App>().await;
        self.keys = keys;
    }
}

/// A unique e-mail address for a test.
pub fn unique_email() -> String {
    format!("user-{}@example.org", uuid::Uuid::now_v7().simple())
}

/// The problem `code` of a response.
pub async fn problem_code(response: Response) -> String {
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok()),
        Some("application/problem+json")
    );
    let body: Value = response.json().await.expect("a problem is JSON");
    body["code"].as_str().unwrap_or_default().to_owned()
}
