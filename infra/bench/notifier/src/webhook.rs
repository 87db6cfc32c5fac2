//! The webhook phase: `--webhook-users` users registered, each with an endpoint
//! on the benchmark's receiver for `contact_joined` and `contact_joined` by
//! webhook only ([`crate::setup`], untimed); then `--events`
//! `graph.contact.joined.v1`, spread over the users in turn, written to the
//! producers' outbox before the clock starts; timed from the relay's start until
//! the receiver has answered 200 to a call for every event. webhooks/s = events
//! / that time. Afterwards, untimed: the delivery log must record every call as
//! sent, each event must have had exactly one call, and the signatures of a
//! sample of the calls must verify under their endpoint's secret.

use std::{
    path::Path,
    process::ExitStatus,
    time::{Duration, Instant},
};

use anyhow::Context;
use six_bench_support::{memory::Memory, postgres::settle, producers::chunks};
use six_kit::testing::TestIssuer;
use sqlx::PgConnection;

use crate::{
    email::KeyCheck,
    events,
    receiver::SignedCall,
    service::DeliveryCounts,
    settings::Settings,
    setup, signature,
    throughput::{self, Timed, nth_earliest},
};

/// Events written to the outbox per transaction.
const EVENTS_PER_TRANSACTION: usize = 2_000;

/// Deadline for the delivery log to catch up with the receiver.
const LOG_CATCH_UP: Duration = Duration::from_secs(60);

/// What the webhook phase measured.
#[derive(Debug, Clone)]
pub struct WebhookFigures {
    /// Users with an endpoint.
    pub users: usize,
    /// Events published: calls expected.
    pub events: usize,
    /// Registering the users and their endpoints, before the clock started.
    pub setup: Duration,
    /// Time to fill the outbox, before the clock started.
    pub fill: Duration,
    /// First publish → the receiver answered the last call: the figure.
    pub elapsed: Duration,
    /// First publish → the first call answered.
    pub first_after: Option<Duration>,
    /// Progress, CPU and memory of the timed part.
    pub timed: Timed,
    /// The delivery log's webhook calls once it caught up.
    pub deliveries: DeliveryCounts,
    /// How often each event's call arrived.
    pub keys: KeyCheck,
    /// Calls that came again with a `webhook-id` already seen.
    pub repeated_ids: usize,
    /// The signatures checked.
    pub signatures: SignatureCheck,
    /// Size of the notifier's database at the end.
    pub database_bytes: i64,
    /// The notifier just before SIGTERM (its peak is the phase's).
    pub memory_end: Memory,
    /// How the notifier exited after SIGTERM.
    pub exit: ExitStatus,
    /// Warnings and errors the notifier logged.
    pub problems: Vec<String>,
}

impl WebhookFigures {
    /// Calls per second, first publish → the last one answered.
    pub fn per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }

    /// Calls per second from the first answered to the last.
    pub fn per_second_from_first(&self) -> Option<f64> {
        let span = self.elapsed.checked_sub(self.first_after?)?;
        (span > Duration::ZERO).then(|| (self.events - 1) as f64 / span.as_secs_f64())
    }
}

/// The signatures of the sampled calls, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureCheck {
    /// Calls checked.
    pub checked: usize,
    /// Why each refused call was refused (`webhook-id: reason`).
    pub refused: Vec<String>,
}

impl SignatureCheck {
    /// Every checked call verified.
    pub fn all_verified(&self) -> bool {
        self.refused.is_empty()
    }
}

/// Checks the signature of each of `samples` under the secret of its endpoint
/// (`secrets[endpoint]`), against the clock when it arrived.
pub fn check_signatures(samples: &[SignedCall], secrets: &[String]) -> SignatureCheck {
    let mut check = SignatureCheck::default();
    for call in samples {
        check.checked += 1;
        let verified = match secrets.get(call.endpoint) {
            None => Err(format!("no endpoint {}", call.endpoint)),
            Some(secret) => signature::verify(
                secret,
                &call.webhook_id,
                &call.timestamp,
                &call.body,
                &call.signature,
                call.received_at_secs,
            )
            .map_err(|error| error.to_string()),
        };
        if let Err(reason) = verified {
            check.refused.push(format!("{}: {reason}", call.webhook_id));
        }
    }
    check
}

/// Runs the phase on a notifier from `binary` with its own database, vhost, sink
/// and receiver.
pub async fn run(
    binary: &Path,
    issuer: &TestIssuer,
    settings: &Settings,
    admin: &mut PgConnection,
) -> anyhow::Result<WebhookFigures> {
    let setup::WithEndpoints {
        sink,
        receiver,
        mut notifier,
        users,
        producers,
        secrets,
        took: setup,
    } = setup::with_endpoints(binary, issuer, settings, settings.events).await?;

    let filling = Instant::now();
    for chunk in chunks(0..settings.events, EVENTS_PER_TRANSACTION) {
        producers
            .write(chunk.map(|number| events::contact_joined(&users[number % users.len()], number)))
            .await
            .context("fill the producers' outbox")?;
    }
    let fill = filling.elapsed();
    settle(admin).await?;

    let timed = throughput::run(&mut notifier, &producers, settings.events, || {
        receiver.received()
    })
    .await
    .context("webhook phase")?;
    producers.remove().await;

    let calls = receiver.calls();
    let instants: Vec<Instant> = calls.iter().map(|call| call.at).collect();
    let last = nth_earliest(instants.clone(), settings.events)
        .context("the receiver has fewer calls than it counted")?;
    let first = nth_earliest(instants, 1);
    let counts = notifier.counts.clone();
    let expected = i64::try_from(settings.events)?;
    let deliveries = notifier
        .service
        .until_or_exit(
            LOG_CATCH_UP,
            "the delivery log records every webhook call",
            || {
                let counts = counts.clone();
                async move {
                    let deliveries = counts.deliveries("webhook").await.ok()?;
                    (deliveries.settled() >= expected).then_some(deliveries)
                }
            },
        )
        .await?;
    let expected_keys: Vec<String> = (0..settings.events).map(events::contact_key).collect();
    let keys = KeyCheck::of(
        expected_keys.iter().map(String::as_str),
        calls.iter().map(|call| call.key.as_str()),
    );
    let repeated_ids = repeated_ids(calls.iter().map(|call| call.webhook_id.as_str()));
    let unreadable = receiver.unreadable();
    anyhow::ensure!(
        unreadable.is_empty(),
        "{} webhook calls had no contact name in their payload, the first: {}",
        unreadable.len(),
        unreadable[0]
    );
    let signatures = check_signatures(&receiver.samples(), &secrets);
    let database_bytes = counts.database_bytes().await?;
    let memory_end = Memory::read(notifier.service.pid())?;
    let problems = notifier.service.log().problems();
    let exit = notifier.stop().await?;
    receiver.stop().await?;
    sink.stop().await;

    Ok(WebhookFigures {
        users: users.len(),
        events: settings.events,
        setup,
        fill,
        elapsed: last.duration_since(timed.started),
        first_after: first.map(|first| first.duration_since(timed.started)),
        timed,
        deliveries,
        keys,
        repeated_ids,
        signatures,
        database_bytes,
        memory_end,
        exit,
        problems,
    })
}

/// How many of `ids` were seen before.
pub fn repeated_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> usize {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter().filter(|id| !seen.insert(*id)).count()
}

#[cfg(test)]
mod tests {
    use base64::{Engine, engine::general_purpose::STANDARD};
    use hmac::{Hmac, Mac};

    use super::*;

    fn signed(endpoint: usize, secret: &str, body: &str) -> SignedCall {
        let key = STANDARD
            .decode(secret.trim_start_matches("whsec_"))
            .expect("base64");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key");
        mac.update(format!("msg_{endpoint}.1700000000.{body}").as_bytes());
        SignedCall {
            endpoint,
            webhook_id: format!("msg_{endpoint}"),
            timestamp: "1700000000".to_owned(),
            signature: format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())),
            body: body.to_owned().into(),
            received_at_secs: 1_700_000_001,
        }
    }

    #[test]
    fn each_call_is_checked_under_its_own_endpoints_secret() {
        let secrets = vec![
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            "whsec_c2Vjb25kIHNlY3JldCBvZiAzMiBieXRlcyEhIQ==".to_owned(),
        ];
        let good = signed(1, &secrets[1], "{}");
        let mut wrong_endpoint = signed(1, &secrets[1], "{}");
        wrong_endpoint.endpoint = 0;
        let unknown = signed(5, &secrets[0], "{}");

        let check = check_signatures(&[good, wrong_endpoint, unknown], &secrets);

        assert_eq!(check.checked, 3);
        assert_eq!(
            check.refused,
            ["msg_1: no v1 signature matches", "msg_5: no endpoint 5"]
        );
    }

    #[test]
    fn a_webhook_id_seen_before_is_a_repeat() {
        assert_eq!(repeated_ids(["a", "b", "a", "a", "c"]), 2);
    }
}
