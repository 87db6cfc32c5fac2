//! What the black-box tests share: the real binary (with a test token issuer and
//! an index directory of its own), the service in-process, and events published
//! as other services would.

#![allow(dead_code)] // each test binary uses a different part

use std::{path::Path, process::Command};

use reqwest::StatusCode;
use serde_json::Value;
use six_events::{
    Envelope, EventData,
    importer::{ContactsImported, ImportedContact},
};
use six_kit::testing::{TestApp, TestIssuer};
use six_testkit::{ServiceProcess, TestDatabase, TestVhost, service_command};
use tempfile::TempDir;
use uuid::Uuid;

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_search");

/// A command running the binary with `args` on the test's database, vhost and
/// index directory, verifying tokens of `issuer`.
pub fn service(
    database: &TestDatabase,
    vhost: &TestVhost,
    issuer: &TestIssuer,
    index_dir: &Path,
    args: &[&str],
) -> Command {
    let mut service = service_command(BINARY, database, vhost, args);
    service
        .env("SEARCH_INDEX_DIR", index_dir)
        .envs(issuer.env_vars());
    service
}

/// Starts `serve`.
pub fn serve(
    database: &TestDatabase,
    vhost: &TestVhost,
    issuer: &TestIssuer,
    index_dir: &Path,
) -> ServiceProcess {
    ServiceProcess::spawn(service(database, vhost, issuer, index_dir, &["serve"]))
}

/// A contact named `full_name`, with `email`.
pub fn contact(full_name: &str, email: &str) -> ImportedContact {
    ImportedContact {
        contact_id: Uuid::now_v7(),
        full_name: full_name.to_owned(),
        first_name: None,
        last_name: None,
        emails: vec![email.to_owned()],
        phones: Vec::new(),
        company: None,
        title: None,
        location: None,
        profile_url: None,
        connected_on: None,
    }
}

/// A batch of `owner_id`'s contacts.
pub fn batch(owner_id: Uuid, contacts: Vec<ImportedContact>) -> Envelope<ContactsImported> {
    Envelope::new(ContactsImported {
        import_id: Uuid::now_v7(),
        owner_id,
        batch_seq: 0,
        contacts,
    })
}

/// A search service in-process, the issuer of its users' tokens, and its index
/// directory (removed when dropped).
pub struct SearchService {
    pub app: TestApp,
    pub issuer: TestIssuer,
    index_dir: TempDir,
}

impl SearchService {
    pub async fn start() -> Self {
        Self::start_with(TestIssuer::start().await, Vec::new()).await
    }

    /// With the users' tokens from `issuer`, and `vars` on top of the defaults.
    pub async fn start_with(issuer: TestIssuer, vars: Vec<(&'static str, String)>) -> Self {
        let index_dir = TempDir::new().expect("a temporary directory");
        let mut all_vars = issuer.env_vars();
        all_vars.push((
            "SEARCH_INDEX_DIR",
            index_dir.path().to_string_lossy().into_owned(),
        ));
        all_vars.extend(vars);
        let all_vars: Vec<(&str, &str)> = all_vars
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let app = TestApp::spawn_with::<search::App>(&all_vars).await;
        Self {
            app,
            issuer,
            index_dir,
        }
    }

    /// The index directory (one subdirectory per version).
    pub fn index_dir(&self) -> &Path {
        self.index_dir.path()
    }

    /// Publishes `event` as another service would (`TestApp::publish`).
    pub async fn publish<T: EventData>(&self, event: Envelope<T>) {
        self.app.publish(event).await;
    }

    /// `GET path` as `user`; the status and the JSON body.
    pub async fn get(&self, user: Uuid, path: &str) -> (StatusCode, Value) {
        self.app.get_json(&self.issuer.user_token(user), path).await
    }

    /// The hits of `user`'s search for `query` (URL-encoded by the caller).
    pub async fn search(&self, user: Uuid, query: &str) -> Value {
        let (status, body) = self.get(user, &format!("/v1/search?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// A count from the service's database.
    pub async fn count(&self, sql: &'static str) -> i64 {
        self.app.count(sql).await
    }
}
