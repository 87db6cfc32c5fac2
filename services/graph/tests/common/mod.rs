//! What the black-box tests share: the real binary (with a test token issuer), a
//! graph service in-process, and events published as other services would.

#![allow(dead_code)] // each test binary uses a different part

use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;
use six_events::{Envelope, EventData, auth::UserRegistered};
use six_kit::testing::{TestApp, TestIssuer};
use six_testkit::{ServiceProcess, TestDatabase, TestVhost, service_command};
use uuid::Uuid;

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_graph");

/// A command running the binary with `args` on the test's database and vhost,
/// verifying tokens of `issuer`.
pub fn service(
    database: &TestDatabase,
    vhost: &TestVhost,
    issuer: &TestIssuer,
    args: &[&str],
) -> Command {
    let mut service = service_command(BINARY, database, vhost, args);
    service.envs(issuer.env_vars());
    service
}

/// Starts `serve` on the test's database and vhost.
pub fn serve(database: &TestDatabase, vhost: &TestVhost, issuer: &TestIssuer) -> ServiceProcess {
    ServiceProcess::spawn(service(database, vhost, issuer, &["serve"]))
}

/// Runs a command of the binary to completion and returns what it printed.
pub fn run(
    database: &TestDatabase,
    vhost: &TestVhost,
    issuer: &TestIssuer,
    args: &[&str],
) -> String {
    let output = service(database, vhost, issuer, args).output().unwrap();
    assert!(output.status.success(), "{args:?} failed: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// A registration event for `user_id`.
pub fn registered(user_id: Uuid, display_name: &str) -> Envelope<UserRegistered> {
    Envelope::new(UserRegistered {
        user_id,
        email: format!("{user_id}@example.org"),
        display_name: display_name.to_owned(),
        registered_at: chrono::Utc::now(),
    })
}

/// A graph service in-process and the issuer of its users' tokens.
pub struct GraphService {
    pub app: TestApp,
    pub issuer: TestIssuer,
}

impl GraphService {
    pub async fn start() -> Self {
        let issuer = TestIssuer::start().await;
        let vars = issuer.env_vars();
        let vars: Vec<(&str, &str)> = vars
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let app = TestApp::spawn_with::<graph::App>(&vars).await;
        Self { app, issuer }
    }

    /// Publishes `event` as another service would (`TestApp::publish`).
    pub async fn publish<T: EventData>(&self, event: Envelope<T>) {
        self.app.publish(event).await;
    }

    /// `GET path` as `user`; the status and the JSON body.
    pub async fn get(&self, user: Uuid, path: &str) -> (StatusCode, Value) {
        self.app.get_json(&self.issuer.user_token(user), path).await
    }

    /// A count from the graph's database.
    pub async fn count(&self, sql: &'static str) -> i64 {
        self.app.count(sql).await
    }
}
