//! Running the real service binary in tests.

use std::process::Command;

use six_events::{Envelope, auth::UserRegistered};
use six_testkit::{ServiceProcess, TestDatabase, TestVhost, service_command};
use uuid::Uuid;

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_{{project-name}}");

/// A command running the binary with `args` on the test's database and vhost.
pub fn service(database: &TestDatabase, vhost: &TestVhost, args: &[&str]) -> Command {
    service_command(BINARY, database, vhost, args)
}

/// Starts `serve` on the test's database and vhost.
pub fn serve(database: &TestDatabase, vhost: &TestVhost) -> ServiceProcess {
    ServiceProcess::spawn(service(database, vhost, &["serve"]))
}

/// Runs a command of the binary to completion and returns what it printed.
pub fn run(database: &TestDatabase, vhost: &TestVhost, args: &[&str]) -> String {
    let output = service(database, vhost, args).output().unwrap();
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
