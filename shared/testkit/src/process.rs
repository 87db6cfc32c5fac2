//! A service binary run as its own process by a black-box test.

use std::{
    process::{Child, Command, ExitStatus},
    time::Duration,
};

use crate::wait_until;

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
