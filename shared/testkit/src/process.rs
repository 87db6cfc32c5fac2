//! A service binary run as its own process by a black-box test.

use std::{
    process::{Child, Command, ExitStatus},
    time::Duration,
};

use crate::{TestDatabase, TestVhost, wait_until};

/// A command running the service `binary` with `args` on the test's database and
/// vhost, with what every test run wants: a port of its own, no pre-stop delay,
/// a drain deadline, warnings only. Services add their own variables.
pub fn service_command(
    binary: &str,
    database: &TestDatabase,
    vhost: &TestVhost,
    args: &[&str],
) -> Command {
    let mut command = Command::new(binary);
    command
        .args(args)
        .env("DATABASE_URL", database.url())
        .env("AMQP_URL", vhost.amqp_url())
        .env("HTTP_ADDR", "127.0.0.1:0")
        .env("SHUTDOWN_PRESTOP_DELAY_MS", "0")
        .env("SHUTDOWN_DRAIN_TIMEOUT_MS", "15000")
        .env("LOG_LEVEL", "warn");
    command
}

/// A running service process, killed if the test ends without stopping it.
pub struct ServiceProcess(Child);

impl ServiceProcess {
    /// Spawns `command` (the service binary with its arguments and environment).
    pub fn spawn(mut command: Command) -> Self {
        Self(command.spawn().expect("the service binary starts"))
    }

    /// Sends SIGTERM and waits for the process to exit, with a deadline.
    pub async fn terminate(mut self, deadline: Duration) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM could not be sent");
        let mut status = None;
        wait_until(deadline, "the service to exit", || {
            status = self.0.try_wait().expect("the service's status is readable");
            std::future::ready(status.is_some())
        })
        .await;
        status.expect("the service exited")
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
