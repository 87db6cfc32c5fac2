//! What the black-box tests share: a real SMTP server capturing what is sent
//! (`tests/smtp/sink.py`, aiosmtpd), the notifier in-process or as its own binary
//! wired to it, and the events other services would publish.

#![allow(dead_code)] // each test binary uses a different part

pub mod receiver;

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use six_events::{
    Envelope, EventData,
    auth::{UserDeleted, UserRegistered},
    graph::{ContactJoined, MatchKey},
    importer::{ImportCompleted, ImportFailed},
};
use six_kit::testing::{TestApp, TestIssuer};
use six_testkit::{
    ServiceProcess, TestDatabase, TestVhost, python_with, repo_root, service_command, wait_for,
    wait_until,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;

/// The binary under test.
pub const BINARY: &str = env!("CARGO_BIN_EXE_notifier");

/// The key of unsubscribe links in tests.
pub const UNSUBSCRIBE_SECRET: &str = "test-unsubscribe-key-of-32-bytes!";

/// Where links in messages point in tests.
pub const PUBLIC_URL: &str = "https://six-degrees.test";

/// The sender in tests.
pub const SENDER: &str = "Six Degrees <no-reply@six-degrees.test>";

/// An e-mail as the SMTP server received it, parsed by Python's `email` package.
#[derive(Debug, Clone, Deserialize)]
pub struct SentMail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub date: String,
    pub list_unsubscribe: String,
    pub list_unsubscribe_post: String,
    pub content_type: String,
    pub text: Option<String>,
    pub html: Option<String>,
    /// Whether the connection it came over was encrypted.
    pub tls: bool,
    /// Who logged in before sending it, if anyone did.
    pub login: Option<String>,
}

/// A real SMTP server on a port of its own that records every message; it can be
/// stopped and started again on the same port (an outage).
pub struct SmtpSink {
    port: u16,
    out: PathBuf,
    python: String,
    tls: Option<SinkTls>,
    server: Option<tokio::process::Child>,
}

/// How a sink started with [`SmtpSink::start_secured`] protects its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkSecurity {
    /// STARTTLS, required before MAIL and before the login.
    StartTls,
    /// TLS from the first byte.
    Tls,
}

struct SinkTls {
    security: SinkSecurity,
    /// The certificate of the authority that signed the server's certificate.
    ca_file: PathBuf,
}

/// The login a secured sink accepts; the password needs percent-encoding in a URL.
pub const SMTP_LOGIN: &str = "notifier";
pub const SMTP_PASSWORD: &str = "p@ss word/1";

impl SmtpSink {
    /// Starts a plain server that takes mail from anyone; returns once it accepts
    /// connections.
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Starts a server that takes mail only over TLS and after a login as
    /// [`SMTP_LOGIN`]; its certificate is for `localhost`.
    pub async fn start_secured(security: SinkSecurity) -> Self {
        let ca_file =
            std::env::temp_dir().join(format!("six-notifier-smtp-ca-{}.pem", Uuid::now_v7()));
        Self::start_with(Some(SinkTls { security, ca_file })).await
    }

    async fn start_with(tls: Option<SinkTls>) -> Self {
        let python = python_with(
            &["aiosmtpd", "trustme"],
            "services/notifier/tests/smtp/requirements.txt",
        )
        .await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let out = std::env::temp_dir().join(format!("six-notifier-smtp-{}.jsonl", Uuid::now_v7()));
        let mut sink = Self {
            port,
            out,
            python,
            tls,
            server: None,
        };
        sink.start_again().await;
        sink
    }

    /// `SMTP_URL` for the notifier: plain SMTP on loopback, or for a secured sink
    /// STARTTLS (`?tls=required`) or `smtps://` to `localhost` with the login.
    pub fn url(&self) -> String {
        let Some(tls) = &self.tls else {
            return format!("smtp://127.0.0.1:{}", self.port);
        };
        let password = SMTP_PASSWORD
            .replace('@', "%40")
            .replace(' ', "%20")
            .replace('/', "%2F");
        let credentials = format!("{SMTP_LOGIN}:{password}");
        match tls.security {
            SinkSecurity::StartTls => {
                format!("smtp://{credentials}@localhost:{}?tls=required", self.port)
            }
            SinkSecurity::Tls => format!("smtps://{credentials}@localhost:{}", self.port),
        }
    }

    /// The certificate the notifier must trust (`SSL_CERT_FILE`) for a secured sink.
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().map(|tls| tls.ca_file.as_path())
    }

    /// Stops the server: connections are refused until [`Self::start_again`].
    pub async fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.kill().await.expect("the SMTP server stops");
        }
    }

    /// Starts the server again on its port, keeping what it received.
    pub async fn start_again(&mut self) {
        let script = repo_root().join("services/notifier/tests/smtp/sink.py");
        let mut command = tokio::process::Command::new(&self.python);
        command
            .arg(script)
            .arg(self.port.to_string())
            .arg(&self.out);
        if let Some(tls) = &self.tls {
            let mode = match tls.security {
                SinkSecurity::StartTls => "starttls",
                SinkSecurity::Tls => "implicit",
            };
            command
                .args(["--tls", mode, "--ca-out"])
                .arg(&tls.ca_file)
                .args(["--login", SMTP_LOGIN, "--password", SMTP_PASSWORD]);
        }
        let mut server = command
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the SMTP server starts");
        let stdout = server.stdout.take().expect("its output is piped");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the SMTP server is ready within 20 s")
            .expect("its output is readable");
        assert_eq!(
            first.as_deref(),
            Some("ready"),
            "the SMTP server did not start"
        );
        self.server = Some(server);
    }

    /// Every message received so far, in order. The sink may be appending a record
    /// while this reads, so only lines it has finished (ended by a newline) count.
    pub fn messages(&self) -> Vec<SentMail> {
        match std::fs::read_to_string(&self.out) {
            Ok(record) => record
                .split_inclusive('\n')
                .filter_map(|line| line.strip_suffix('\n'))
                .map(|line| serde_json::from_str(line).expect("the sink writes JSON lines"))
                .collect(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(error) => panic!("the sink's record is unreadable: {error}"),
        }
    }

    /// Waits until `count` messages arrived and returns them.
    pub async fn wait_for_messages(&self, count: usize) -> Vec<SentMail> {
        wait_for(
            Duration::from_secs(20),
            &format!("the SMTP server to receive {count} messages"),
            || {
                let messages = self.messages();
                std::future::ready((messages.len() >= count).then_some(messages))
            },
        )
        .await
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.out);
        if let Some(tls) = &self.tls {
            let _ = std::fs::remove_file(&tls.ca_file);
        }
    }
}

/// The variables that wire the notifier to `sink` and `issuer`, with retries
/// quick enough for tests.
pub fn notifier_vars(sink: &SmtpSink, issuer: &TestIssuer) -> Vec<(&'static str, String)> {
    let mut vars = issuer.env_vars();
    vars.extend([
        ("SMTP_URL", sink.url()),
        ("SMTP_FROM", SENDER.to_owned()),
        ("SMTP_TIMEOUT_MS", "2000".to_owned()),
        ("NOTIFIER_PUBLIC_URL", PUBLIC_URL.to_owned()),
        ("NOTIFIER_UNSUBSCRIBE_SECRET", UNSUBSCRIBE_SECRET.to_owned()),
        ("NOTIFIER_RETRY_FIRST_DELAY_MS", "100".to_owned()),
        ("NOTIFIER_RETRY_MAX_DELAY_MS", "400".to_owned()),
        ("NOTIFIER_POLL_INTERVAL_MS", "100".to_owned()),
    ]);
    vars
}

/// The notifier in-process, the SMTP server it sends to and the issuer of its
/// users' tokens.
pub struct Notifier {
    pub app: TestApp,
    pub smtp: SmtpSink,
    pub issuer: TestIssuer,
}

impl Notifier {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// With `vars` on top of the test defaults.
    pub async fn start_with(vars: &[(&'static str, &str)]) -> Self {
        let smtp = SmtpSink::start().await;
        let issuer = TestIssuer::start().await;
        let mut all_vars = notifier_vars(&smtp, &issuer);
        all_vars.extend(
            vars.iter()
                .map(|(name, value)| (*name, (*value).to_owned())),
        );
        let all_vars: Vec<(&str, &str)> = all_vars
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        let app = TestApp::spawn_with::<notifier::App>(&all_vars).await;
        Self { app, smtp, issuer }
    }

    /// Publishes `event` as another service would.
    pub async fn publish<T: EventData>(&self, event: Envelope<T>) {
        self.app.publish(event).await;
    }

    /// Publishes `event` again once its first copy has left the outbox, as after a
    /// relay crash between publishing and deleting its outbox row.
    pub async fn publish_again<T: EventData>(&self, event: Envelope<T>) {
        wait_until(
            Duration::from_secs(20),
            "the outbox to be empty",
            || async { self.count("SELECT count(*) FROM bus_outbox").await == 0 },
        )
        .await;
        self.publish(event).await;
    }

    /// `GET path` as `user`: the status and the JSON body.
    pub async fn get(&self, user: Uuid, path: &str) -> (StatusCode, Value) {
        self.app.get_json(&self.issuer.user_token(user), path).await
    }

    /// `method path` as `user` with a JSON body: the status and the body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        user: Uuid,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .app
            .client()
            .request(method, self.app.url(path))
            .bearer_auth(self.issuer.user_token(user));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the notifier answers");
        let status = response.status();
        let text = response.text().await.expect("a body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// `PUT /v1/notification-preferences` with `body` as `user`.
    pub async fn put_preferences(&self, user: Uuid, body: Value) -> (StatusCode, Value) {
        self.send(
            reqwest::Method::PUT,
            user,
            "/v1/notification-preferences",
            Some(body),
        )
        .await
    }

    /// The user's inbox, first page.
    pub async fn inbox(&self, user: Uuid) -> Vec<Value> {
        let (status, body) = self.get(user, "/v1/notifications").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["notifications"].as_array().expect("a list").clone()
    }

    /// Waits until the user's inbox holds `count` entries and returns them.
    pub async fn wait_for_inbox(&self, user: Uuid, count: usize) -> Vec<Value> {
        wait_for(
            Duration::from_secs(20),
            &format!("the inbox to hold {count} entries"),
            || async {
                let entries = self.inbox(user).await;
                (entries.len() >= count).then_some(entries)
            },
        )
        .await
    }

    /// Waits until the broker counts `deliveries` acknowledged deliveries on the
    /// notifier's queue (duplicates included) and no e-mail is left to send: after
    /// this, a redelivered event has had every effect it would ever have.
    pub async fn wait_until_settled(&self, deliveries: u64) {
        wait_until(
            Duration::from_secs(30),
            &format!("{deliveries} deliveries acknowledged and nothing left to send"),
            || async {
                let acked = self
                    .app
                    .vhost
                    .queue("notifier")
                    .await
                    .map_or(0, |queue| queue.message_stats.ack);
                acked >= deliveries
                    && self
                        .count("SELECT count(*) FROM deliveries WHERE state = 'pending'")
                        .await
                        == 0
            },
        )
        .await;
    }

    /// A count from the notifier's database.
    pub async fn count(&self, sql: &'static str) -> i64 {
        self.app.count(sql).await
    }

    /// Registers `user_id` as auth would and waits for the welcome to be recorded.
    pub async fn register(&self, user_id: Uuid, display_name: &str) -> Envelope<UserRegistered> {
        let event = registered(user_id, display_name);
        self.publish(event.clone()).await;
        let pool = self.app.pool();
        wait_for(
            Duration::from_secs(20),
            "the registration to be handled",
            || {
                let pool = pool.clone();
                async move {
                    let known: bool = sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM recipients WHERE user_id = $1)",
                    )
                    .bind(user_id)
                    .fetch_one(&pool)
                    .await
                    .expect("the database answers");
                    known.then_some(())
                }
            },
        )
        .await;
        event
    }
}

/// Waits until `count` deliveries have failed at least once (the mail server is down).
pub async fn wait_for_failed_attempts(notifier: &Notifier, count: usize) {
    let pool = notifier.app.pool();
    wait_until(
        Duration::from_secs(30),
        &format!("{count} deliveries to fail at least once"),
        || {
            let pool = pool.clone();
            async move {
                let failed: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM deliveries WHERE state = 'pending' AND last_error IS NOT NULL",
                )
                .fetch_one(&pool)
                .await
                .expect("the database answers");
                failed >= count as i64
            }
        },
    )
    .await;
}

/// What lets the notifier call a test's endpoint on 127.0.0.1 over plain HTTP.
pub const LOCAL_WEBHOOKS: [(&str, &str); 2] = [
    ("NOTIFIER_WEBHOOK_PRIVATE_ADDRESSES", "true"),
    ("NOTIFIER_WEBHOOK_REQUIRE_HTTPS", "false"),
];

impl Notifier {
    /// Registers an endpoint at `url` for `kinds` as `user_id`: its id and secret.
    pub async fn register_webhook(
        &self,
        user_id: Uuid,
        url: &str,
        kinds: &[&str],
    ) -> (String, String) {
        let (status, endpoint) = self
            .send(
                reqwest::Method::POST,
                user_id,
                "/v1/webhooks",
                Some(serde_json::json!({ "url": url, "kinds": kinds })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{endpoint}");
        (
            endpoint["endpoint_id"].as_str().expect("an id").to_owned(),
            endpoint["secret"].as_str().expect("a secret").to_owned(),
        )
    }
}

/// A notifier that may call local endpoints, and Ada, registered with one
/// endpoint for `contact_joined` on `receiver`.
pub struct WithWebhook {
    pub notifier: Notifier,
    pub receiver: receiver::Receiver,
    pub user_id: Uuid,
    pub endpoint_id: String,
    pub secret: String,
}

impl WithWebhook {
    /// With `vars` on top of [`LOCAL_WEBHOOKS`], and a receiver answering
    /// `answers` first.
    pub async fn start(vars: &[(&'static str, &str)], answers: &[StatusCode]) -> Self {
        let mut all_vars = LOCAL_WEBHOOKS.to_vec();
        all_vars.extend_from_slice(vars);
        let notifier = Notifier::start_with(&all_vars).await;
        let receiver = receiver::Receiver::answering(answers).await;
        let user_id = Uuid::now_v7();
        notifier.register(user_id, "Ada").await;
        let (endpoint_id, secret) = notifier
            .register_webhook(user_id, &receiver.url("/hooks"), &["contact_joined"])
            .await;
        Self {
            notifier,
            receiver,
            user_id,
            endpoint_id,
            secret,
        }
    }
}

/// The `key` (`field` or `code`) of every field error of a problem document.
pub fn error_list(problem: &Value, key: &str) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| error[key].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// How many e-mails each address received.
pub fn emails_per_address(smtp: &SmtpSink) -> std::collections::HashMap<String, usize> {
    let mut per_address = std::collections::HashMap::new();
    for mail in smtp.messages() {
        for address in mail.rcpt_tos {
            *per_address.entry(address).or_default() += 1;
        }
    }
    per_address
}

/// `user_id`'s registration, with an address of its own.
pub fn registered(user_id: Uuid, display_name: &str) -> Envelope<UserRegistered> {
    Envelope::new(UserRegistered {
        user_id,
        email: address_of(user_id),
        display_name: display_name.to_owned(),
        registered_at: chrono::Utc::now(),
    })
}

/// The address a test user registers with.
pub fn address_of(user_id: Uuid) -> String {
    format!("{}@example.org", user_id.simple())
}

/// `user_id`'s account deletion.
pub fn deleted(user_id: Uuid) -> Envelope<UserDeleted> {
    Envelope::new(UserDeleted {
        user_id,
        deleted_at: chrono::Utc::now(),
    })
}

/// An import of `owner_id` that finished with these counts.
pub fn import_completed(owner_id: Uuid, accepted: u64, rejected: u64) -> Envelope<ImportCompleted> {
    Envelope::new(ImportCompleted {
        import_id: Uuid::now_v7(),
        owner_id,
        rows_read: accepted + rejected,
        contacts_accepted: accepted,
        rows_rejected: rejected,
        duplicates: 0,
        bytes_read: 1_000,
        duration_ms: 20,
        completed_at: chrono::Utc::now(),
    })
}

/// An import of `owner_id` that failed.
pub fn import_failed(owner_id: Uuid, reason: &str) -> Envelope<ImportFailed> {
    Envelope::new(ImportFailed {
        import_id: Uuid::now_v7(),
        owner_id,
        reason: reason.to_owned(),
        rows_read: 12,
        failed_at: chrono::Utc::now(),
    })
}

/// `display_name`, in `owner_id`'s contacts, just joined.
pub fn contact_joined(owner_id: Uuid, display_name: &str) -> Envelope<ContactJoined> {
    Envelope::new(ContactJoined {
        owner_id,
        joined_user_id: Uuid::now_v7(),
        person_id: Uuid::now_v7(),
        display_name: display_name.to_owned(),
        matched_by: MatchKey::Email,
    })
}

/// A command running the binary with `args` on the test's database and vhost,
/// sending to `sink` and verifying tokens of `issuer`.
pub fn service(
    database: &TestDatabase,
    vhost: &TestVhost,
    sink: &SmtpSink,
    issuer: &TestIssuer,
    args: &[&str],
) -> Command {
    let mut command = service_command(BINARY, database, vhost, args);
    command.envs(notifier_vars(sink, issuer));
    if let Some(ca_file) = sink.ca_file() {
        // rustls-native-certs trusts the file named here instead of the system's.
        command.env("SSL_CERT_FILE", ca_file);
    }
    command
}

/// Starts `serve` as its own process.
pub fn serve(
    database: &TestDatabase,
    vhost: &TestVhost,
    sink: &SmtpSink,
    issuer: &TestIssuer,
) -> ServiceProcess {
    ServiceProcess::spawn(service(database, vhost, sink, issuer, &["serve"]))
}

/// Runs a command of the binary to completion and returns what it printed.
pub fn run(
    database: &TestDatabase,
    vhost: &TestVhost,
    sink: &SmtpSink,
    issuer: &TestIssuer,
    args: &[&str],
) -> String {
    let output = service(database, vhost, sink, issuer, args)
        .output()
        .expect("the binary runs");
    assert!(output.status.success(), "{args:?} failed: {output:?}");
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// A migrated database whose outbox holds `users` registrations, a vhost, a mail
/// server and an issuer: what a notifier process needs to start on a backlog.
pub struct Backlog {
    pub database: TestDatabase,
    pub vhost: TestVhost,
    pub smtp: SmtpSink,
    pub issuer: TestIssuer,
}

impl Backlog {
    /// With a plain mail server.
    pub async fn of(users: i64) -> Self {
        Self::for_sink(SmtpSink::start().await, users).await
    }

    /// With `smtp` as the mail server.
    pub async fn for_sink(smtp: SmtpSink, users: i64) -> Self {
        let backlog = Self {
            database: TestDatabase::create().await,
            vhost: TestVhost::create().await,
            smtp,
            issuer: TestIssuer::start().await,
        };
        backlog.run(&["migrate"]);
        let mut transaction = backlog.database.pool().begin().await.unwrap();
        for _ in 0..users {
            six_bus::publish(&mut transaction, registered(Uuid::now_v7(), "Backlog"))
                .await
                .unwrap();
        }
        transaction.commit().await.unwrap();
        backlog
    }

    pub fn run(&self, args: &[&str]) -> String {
        run(&self.database, &self.vhost, &self.smtp, &self.issuer, args)
    }

    /// `serve` as its own process, not started yet.
    pub fn command(&self) -> std::process::Command {
        service(
            &self.database,
            &self.vhost,
            &self.smtp,
            &self.issuer,
            &["serve"],
        )
    }
}
