//! A RabbitMQ node of a test's own, to stop and start again.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};

use uuid::Uuid;

use crate::cleanup::is_old_leftover;
use crate::rabbitmq::RabbitMqApi;
use crate::servers::{STACK_SCRIPT, repo_root};

/// Prefix of every dedicated broker's node name; the rest is a UUIDv7.
const NAME_PREFIX: &str = "test-";

/// AMQP ports are picked here: below Linux's ephemeral range (32768-60999), so no
/// outgoing connection takes the port while the node is stopped, and apart from
/// the 20000-29999 range the stack script picks the node's other ports from.
const AMQP_PORTS: std::ops::RangeInclusive<u16> = 30000..=32767;

/// An independent RabbitMQ node (vhost `/`, user six/six) for one test, started with
/// `infra/local/stack broker-node up`.
///
/// Unlike a [`crate::TestVhost`] it can be stopped and started again, with the same
/// port and data: durable queues and persistent messages survive, as in a real
/// broker restart. Dropping it stops the node and deletes its data and logs. Nodes
/// left by killed runs are removed when more than an hour old.
///
/// Starting a node takes several seconds: keep it for the tests that need it.
#[derive(Debug)]
pub struct DedicatedBroker {
    name: String,
    amqp_port: u16,
    script: PathBuf,
    amqp_url: String,
    api_url: String,
    data_dir: PathBuf,
    log_dir: PathBuf,
}

impl DedicatedBroker {
    /// Starts a new node on a free port and waits until it is ready.
    ///
    /// # Panics
    /// When the stack script is missing or fails (its output is in the message).
    pub async fn start() -> Self {
        let script = repo_root().join(STACK_SCRIPT);
        let name = format!("{NAME_PREFIX}{}", Uuid::now_v7().simple());
        let amqp_port = free_port();
        let facts = node_up(&script, &name, amqp_port).await;
        let broker = Self {
            amqp_url: fact(&facts, "BROKER_AMQP_URL"),
            api_url: fact(&facts, "BROKER_API_URL"),
            data_dir: PathBuf::from(fact(&facts, "BROKER_DATA_DIR")),
            log_dir: PathBuf::from(fact(&facts, "BROKER_LOG_DIR")),
            name,
            amqp_port,
            script,
        };
        static SWEPT: AtomicBool = AtomicBool::new(false);
        if !SWEPT.swap(true, Ordering::Relaxed) {
            broker.sweep_leftovers();
        }
        broker
    }

    /// The node's AMQP URL (vhost `/`).
    pub fn amqp_url(&self) -> String {
        self.amqp_url.clone()
    }

    /// The node's management API.
    pub fn api(&self) -> RabbitMqApi {
        RabbitMqApi::new(&self.api_url)
    }

    /// Stops the node gracefully and waits until it is gone; its data is kept.
    ///
    /// # Panics
    /// When the stack script fails.
    pub async fn stop(&self) {
        let output = run_script(&self.script, &["broker-node", "down", &self.name]).await;
        check(&output, "stop", &self.name);
    }

    /// Starts the node again after [`DedicatedBroker::stop`], on the same AMQP port
    /// and with the same data, and waits until it is ready.
    ///
    /// # Panics
    /// When the stack script fails (for instance because another process took the
    /// port in the meantime).
    pub async fn start_again(&self) {
        node_up(&self.script, &self.name, self.amqp_port).await;
    }

    /// Removes nodes of killed runs (stopping them first if they still run), best
    /// effort. They live next to this node's data directory.
    fn sweep_leftovers(&self) {
        let Some(nodes_dir) = self.data_dir.parent() else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(nodes_dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_old_leftover(&name, NAME_PREFIX) {
                remove_node(
                    &self.script,
                    &name,
                    &entry.path(),
                    &sibling_log_dir(&self.log_dir, &self.name, &name),
                );
            }
        }
    }
}

impl Drop for DedicatedBroker {
    fn drop(&mut self) {
        remove_node(&self.script, &self.name, &self.data_dir, &self.log_dir);
    }
}

/// Stops a node and deletes its data and logs; blocking, so usable from `Drop`.
fn remove_node(script: &Path, name: &str, data_dir: &Path, log_dir: &Path) {
    match std::process::Command::new("bash")
        .arg(script)
        .args(["broker-node", "down", name])
        .output()
    {
        Ok(output) if output.status.success() => {
            for dir in [data_dir, log_dir] {
                if let Err(error) = std::fs::remove_dir_all(dir)
                    && error.kind() != std::io::ErrorKind::NotFound
                {
                    eprintln!("six-testkit: could not delete {}: {error}", dir.display());
                }
            }
        }
        Ok(output) => eprintln!(
            "six-testkit: could not stop broker node {name}: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
        Err(error) => eprintln!("six-testkit: could not run {}: {error}", script.display()),
    }
}

/// The log directory of node `other`, next to that of node `name`.
fn sibling_log_dir(log_dir: &Path, name: &str, other: &str) -> PathBuf {
    let file_name = log_dir
        .file_name()
        .map(|own| own.to_string_lossy().replace(name, other))
        .unwrap_or_default();
    log_dir.with_file_name(file_name)
}

async fn node_up(script: &Path, name: &str, amqp_port: u16) -> HashMap<String, String> {
    let output = run_script(script, &["broker-node", "up", name, &amqp_port.to_string()]).await;
    check(&output, "start", name);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

async fn run_script(script: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new("bash")
        .arg(script)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap_or_else(|error| panic!("could not run {}: {error}", script.display()))
}

fn check(output: &Output, action: &str, name: &str) {
    assert!(
        output.status.success(),
        "could not {action} broker node {name} with `{STACK_SCRIPT}` ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn fact(facts: &HashMap<String, String>, key: &str) -> String {
    facts
        .get(key)
        .cloned()
        .unwrap_or_else(|| panic!("`{STACK_SCRIPT} broker-node up` printed no {key}"))
}

/// A port of [`AMQP_PORTS`] that nothing listens on now, starting the search at a
/// random place so that tests starting brokers at the same time do not collide.
fn free_port() -> u16 {
    let (first, last) = (*AMQP_PORTS.start(), *AMQP_PORTS.end());
    let span = last - first + 1;
    // The low bits of a UUIDv7 are random.
    let offset = u16::try_from(Uuid::now_v7().as_u128() % u128::from(span)).unwrap_or_default();
    (0..span)
        .map(|step| first + (offset + step) % span)
        .find(|port| TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .unwrap_or_else(|| panic!("no free port in {AMQP_PORTS:?} for a dedicated broker"))
}
