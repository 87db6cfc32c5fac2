//! What the black-box tests share: a running importer with a test token issuer and
//! its own spool directory, and small clients for its routes.

#![allow(dead_code)] // each test binary uses a different part

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::Value;
use six_kit::testing::{TestApp, TestIssuer};
use six_testkit::wait_for;
use uuid::Uuid;

/// Deadline for a job to end.
pub const JOB_DEADLINE: Duration = Duration::from_secs(30);

/// A fixture file's bytes.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = six_testkit::crate_dir().join("tests/fixtures").join(path);
    std::fs::read(&full).unwrap_or_else(|error| panic!("{}: {error}", full.display()))
}

/// A running importer and the issuer of its users' tokens.
pub struct Importer {
    pub app: TestApp,
    pub issuer: TestIssuer,
    spool: tempfile::TempDir,
}

impl Importer {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(vars: &[(&str, &str)]) -> Self {
        Self::start_with_issuer(TestIssuer::start().await, vars).await
    }

    /// An importer whose users' (and own service) tokens come from `issuer`.
    pub async fn start_with_issuer(issuer: TestIssuer, vars: &[(&str, &str)]) -> Self {
        let spool = tempfile::tempdir().expect("a temporary spool directory");
        let spool_dir = spool.path().display().to_string();
        let issuer_vars = issuer.env_vars();
        let mut all: Vec<(&str, &str)> = issuer_vars
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        all.push(("IMPORTER_SPOOL_DIR", &spool_dir));
        all.extend_from_slice(vars);
        let app = TestApp::spawn_with::<importer::App>(&all).await;
        Self { app, issuer, spool }
    }

    /// Uploads `body` as `user` with the query string `query` (e.g. `format=linkedin`).
    pub async fn upload(&self, user: Uuid, query: &str, body: Vec<u8>) -> Response {
        self.app
            .client()
            .post(self.app.url(&format!("/v1/imports?{query}")))
            .bearer_auth(self.issuer.user_token(user))
            .body(body)
            .send()
            .await
            .expect("the importer answers")
    }

    pub async fn get(&self, user: Uuid, path: &str) -> Response {
        self.app
            .client()
            .get(self.app.url(path))
            .bearer_auth(self.issuer.user_token(user))
            .send()
            .await
            .expect("the importer answers")
    }

    /// Uploads and waits for the job to end; returns the ended job.
    pub async fn import(&self, user: Uuid, query: &str, body: Vec<u8>) -> Value {
        let response = self.upload(user, query, body).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let job: Value = response.json().await.expect("the job is JSON");
        self.wait_for_end(user, job["import_id"].as_str().expect("an import id"))
            .await
    }

    /// Waits until the job is completed, failed or cancelled.
    pub async fn wait_for_end(&self, user: Uuid, import_id: &str) -> Value {
        wait_for(JOB_DEADLINE, "the import job to end", || async {
            let job: Value = self
                .get(user, &format!("/v1/imports/{import_id}"))
                .await
                .json()
                .await
                .ok()?;
            matches!(
                job["state"].as_str(),
                Some("completed" | "failed" | "cancelled")
            )
            .then_some(job)
        })
        .await
    }

    /// How many contacts `owner` has.
    pub async fn contacts_of(&self, owner: Uuid) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM contacts WHERE owner_id = $1")
            .bind(owner)
            .fetch_one(&self.app.pool())
            .await
            .expect("contacts are counted")
    }

    /// Publishes `event` as another service would (`TestApp::publish`).
    pub async fn publish<T: six_events::EventData>(&self, event: six_events::Envelope<T>) {
        self.app.publish(event).await;
    }

    /// Files left in the spool directory.
    pub fn spooled_files(&self) -> usize {
        std::fs::read_dir(self.spool.path())
            .map(|entries| entries.count())
            .unwrap_or(0)
    }
}
