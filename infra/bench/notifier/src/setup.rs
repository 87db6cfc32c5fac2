//! What the webhook phases need before anything is timed, done as a user would:
//! the users registered (their `auth.user.registered.v1` through the producers'
//! outbox, as auth publishes it), then, with each user's own token, one endpoint
//! on the benchmark's receiver for `contact_joined` (`POST /v1/webhooks`, whose
//! answer is the only place the secret is shown) and `contact_joined` sent by
//! webhook only (`PUT /v1/notification-preferences`), so that no e-mail competes
//! with the calls. Registering sends each user a welcome e-mail; setup waits
//! until every one of them is sent and recorded, so that none is left for the
//! timed part.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt, stream};
use reqwest::StatusCode;
use serde_json::{Value, json};
use six_bench_support::producers::{Producers, chunks};
use six_kit::testing::TestIssuer;

use crate::{
    events::User, receiver::Receiver, service::NotifierProcess, settings::Settings,
    smtp_sink::SmtpSink,
};

/// Registrations written to the outbox per transaction.
pub const EVENTS_PER_TRANSACTION: usize = 1_000;

/// Requests to the notifier at once while adding endpoints.
const REQUESTS_AT_ONCE: usize = 8;

/// Deadline of one request to the notifier.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The relay's name in the broker.
pub const RELAY_NAME: &str = "notifier-bench-producers";

/// The kind every endpoint is registered for.
const KIND: &str = "contact_joined";

/// What the webhook and latency phases run against: a notifier from the binary
/// with its own database, vhost, sink and receiver, and `--webhook-users` users,
/// each with one endpoint (set up untimed).
pub struct WithEndpoints {
    pub sink: SmtpSink,
    pub receiver: Receiver,
    pub notifier: NotifierProcess,
    pub users: Vec<User>,
    pub producers: Producers,
    /// Each user's endpoint secret (`whsec_...`), in the users' order.
    pub secrets: Vec<String>,
    /// Registering the users and adding their endpoints.
    pub took: Duration,
}

/// Starts a notifier from `binary` and sets up `--webhook-users` users with an
/// endpoint each; the receiver keeps a sample of the `calls` expected.
pub async fn with_endpoints(
    binary: &Path,
    issuer: &TestIssuer,
    settings: &Settings,
    calls: usize,
) -> anyhow::Result<WithEndpoints> {
    let sink = SmtpSink::start(settings.sink_quickack).await?;
    let receiver = Receiver::start(
        calls / settings.signature_sample.max(1),
        settings.signature_sample,
    )
    .await?;
    let mut notifier =
        NotifierProcess::start(binary, issuer, &sink.url(), &settings.overrides).await?;
    let users = User::group("w", 0, settings.webhook_users);
    let producers = Producers::create().await?;
    let setting_up = Instant::now();
    register(&mut notifier, &producers, &sink, &users)
        .await
        .context("registering the users")?;
    let secrets = add_endpoints(&notifier, issuer, &receiver, &users).await?;
    Ok(WithEndpoints {
        sink,
        receiver,
        notifier,
        users,
        producers,
        secrets,
        took: setting_up.elapsed(),
    })
}

/// How long registering `users` may take: generous, so that only a stuck
/// notifier fails it (two minutes, and 20 ms per user).
fn deadline_for(users: usize) -> Duration {
    Duration::from_secs(120) + Duration::from_millis(20) * u32::try_from(users).unwrap_or(u32::MAX)
}

/// Registers `users` through `producers`' outbox and a relay started for it;
/// returns once the notifier knows every one of them and the dispatcher has sent
/// and recorded every delivery (their welcome e-mails, which `sink` accepted).
pub async fn register(
    notifier: &mut NotifierProcess,
    producers: &Producers,
    sink: &SmtpSink,
    users: &[User],
) -> anyhow::Result<()> {
    let counts = notifier.counts.clone();
    let known_before = counts.recipients().await?;
    let mail_before = sink.accepted();
    for chunk in chunks(0..users.len(), EVENTS_PER_TRANSACTION) {
        producers
            .write(users[chunk].iter().map(User::registration))
            .await
            .context("write the registrations")?;
    }
    let publishing = producers.start_relay(notifier.vhost.amqp_url(), RELAY_NAME);
    let expected = known_before + i64::try_from(users.len())?;
    let mail_expected = mail_before + users.len();
    notifier
        .service
        .until_or_exit(
            deadline_for(users.len()),
            &format!(
                "the notifier knows {} users and sent their welcome e-mails",
                users.len()
            ),
            || {
                let counts = counts.clone();
                let mailed = sink.accepted() >= mail_expected;
                async move {
                    let known = counts.recipients().await.ok()?;
                    let pending = counts.pending().await.ok()?;
                    (known >= expected && mailed && pending == 0).then_some(())
                }
            },
        )
        .await?;
    publishing.stop().await?;
    Ok(())
}

/// Gives each of `users` (user number `i` is `users[i]`) an endpoint on
/// `receiver` for `contact_joined`, and `contact_joined` by webhook only; returns
/// each endpoint's secret (`whsec_...`), in the same order.
pub async fn add_endpoints(
    notifier: &NotifierProcess,
    issuer: &TestIssuer,
    receiver: &Receiver,
    users: &[User],
) -> anyhow::Result<Vec<String>> {
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    let webhooks_url = notifier.service.url("/v1/webhooks");
    let preferences_url = notifier.service.url("/v1/notification-preferences");
    stream::iter(users.iter().enumerate())
        .map(|(number, user)| {
            let client = &client;
            let webhooks_url = &webhooks_url;
            let preferences_url = &preferences_url;
            async move {
                let token = issuer.user_token(user.user_id);
                let endpoint = call(
                    client
                        .post(webhooks_url)
                        .bearer_auth(&token)
                        .json(&json!({ "url": receiver.url(number), "kinds": [KIND] })),
                    StatusCode::CREATED,
                )
                .await
                .with_context(|| format!("register the endpoint of user {}", user.key))?;
                call(
                    client
                        .put(preferences_url)
                        .bearer_auth(&token)
                        .json(&json!({ "kinds": { KIND: ["webhook"] } })),
                    StatusCode::OK,
                )
                .await
                .with_context(|| format!("set the preferences of user {}", user.key))?;
                endpoint["secret"]
                    .as_str()
                    .map(str::to_owned)
                    .context("the new endpoint has no secret")
            }
        })
        .buffered(REQUESTS_AT_ONCE)
        .try_collect()
        .await
}

/// Sends `request`; its JSON answer if the status is `expected`.
async fn call(request: reqwest::RequestBuilder, expected: StatusCode) -> anyhow::Result<Value> {
    let response = request.send().await.context("no answer")?;
    let status = response.status();
    let text = response.text().await.context("read the answer")?;
    anyhow::ensure!(status == expected, "answered {status}: {text}");
    serde_json::from_str(&text).with_context(|| format!("the answer is not JSON: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registering_may_take_longer_for_more_users() {
        assert_eq!(deadline_for(0), Duration::from_secs(120));
        assert_eq!(deadline_for(2_000), Duration::from_secs(160));
    }
}
