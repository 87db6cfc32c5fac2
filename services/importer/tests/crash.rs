//! The real binary killed (SIGKILL) in the middle of a 200,000-row import: after a
//! restart the job completes, and the contacts and the contacts announced
//! downstream are exactly the file's good rows, none lost, none twice.

use std::{collections::HashSet, net::TcpListener, process::Command, time::Duration};

use reqwest::StatusCode;
use serde_json::Value;
use six_events::DomainEvent;
use six_kit::testing::{EventTap, TestIssuer};
use six_testkit::{ServiceProcess, TestDatabase, TestVhost, wait_for, wait_until};
use uuid::Uuid;

/// Rows of the file; every one is a good, distinct contact.
const ROWS: usize = 200_000;
/// Rows per chunk, so the kill lands between many commits.
const CHUNK_ROWS: &str = "5000";
/// Generous: a debug build reads a few thousand rows a second on 2 cores.
const JOB_DEADLINE: Duration = Duration::from_secs(600);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free local port")
}

/// `importer serve`, killed when dropped.
fn serve(env: &[(String, String)]) -> ServiceProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_importer"));
    command
        .arg("serve")
        .envs(env.iter().map(|(name, value)| (name, value)));
    ServiceProcess::spawn(command)
}

fn linkedin_csv(rows: usize) -> Vec<u8> {
    let mut csv = String::from(
        "Notes:\n\"Some e-mail addresses are missing.\"\n\n\
         First Name,Last Name,URL,Email Address,Company,Position,Connected On\n",
    );
    for n in 0..rows {
        csv.push_str(&format!(
            "Grace,Hopper {n},https://www.linkedin.com/in/grace-{n},,\"Navy, US\",Rear Admiral,09 Dec 1906\n"
        ));
    }
    csv.into_bytes()
}

#[tokio::test]
async fn a_job_killed_mid_import_completes_after_restart_with_every_row_once() {
    let database = TestDatabase::create().await;
    let vhost = TestVhost::create().await;
    let issuer = TestIssuer::start().await;
    let spool = tempfile::tempdir().unwrap();
    let address = format!("127.0.0.1:{}", free_port());
    let mut env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), database.url()),
        ("AMQP_URL".into(), vhost.amqp_url()),
        ("HTTP_ADDR".into(), address.clone()),
        ("LOG_LEVEL".into(), "warn".into()),
        ("SHUTDOWN_PRESTOP_DELAY_MS".into(), "0".into()),
        (
            "IMPORTER_SPOOL_DIR".into(),
            spool.path().display().to_string(),
        ),
        ("IMPORTER_CHUNK_ROWS".into(), CHUNK_ROWS.into()),
        // A dead runner's job is taken again soon after the restart.
        ("IMPORTER_JOB_LEASE_MS".into(), "2000".into()),
    ];
    env.extend(
        issuer
            .env_vars()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value)),
    );
    let tap = EventTap::bind(
        &vhost.amqp_url(),
        six_bus::DEFAULT_EXCHANGE,
        &["importer.contacts.imported.v1"],
    )
    .await;
    let owner = Uuid::now_v7();
    let token = issuer.user_token(owner);
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{address}{path}");
    let job_of = |import_id: String| {
        let (client, token, url) = (
            client.clone(),
            token.clone(),
            url(&format!("/v1/imports/{import_id}")),
        );
        async move {
            let response = client.get(url).bearer_auth(token).send().await.ok()?;
            response.json::<Value>().await.ok()
        }
    };

    // Arrange: the service is up and importing.
    let first = serve(&env);
    wait_until(Duration::from_secs(30), "the importer answers", || async {
        client.get(url("/healthz")).send().await.is_ok()
    })
    .await;
    let response = client
        .post(url("/v1/imports"))
        .bearer_auth(&token)
        .body(linkedin_csv(ROWS))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let import_id = response.json::<Value>().await.unwrap()["import_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rows_at_kill = wait_for(JOB_DEADLINE, "a few chunks are committed", || async {
        let job = job_of(import_id.clone()).await?;
        let rows = job["rows_read"].as_i64()?;
        (rows >= 20_000).then_some(rows)
    })
    .await;

    // Act: SIGKILL, then start again.
    drop(first);
    let _second = serve(&env);
    let job = wait_for(JOB_DEADLINE, "the job ends after the restart", || async {
        let job = job_of(import_id.clone()).await?;
        matches!(
            job["state"].as_str(),
            Some("completed" | "failed" | "cancelled")
        )
        .then_some(job)
    })
    .await;

    // Assert
    assert!(rows_at_kill < ROWS as i64, "killed mid-import");
    assert_eq!(job["state"], "completed", "{job}");
    assert_eq!(job["rows_read"], ROWS);
    assert_eq!(job["contacts_accepted"], ROWS);
    assert_eq!(job["duplicates"], 0);
    let contacts: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts WHERE owner_id = $1")
        .bind(owner)
        .fetch_one(&database.pool())
        .await
        .unwrap();
    assert_eq!(contacts, ROWS as i64);
    // Downstream effects: each batch applied once by event id, as a consumer's
    // inbox would; together they hold every contact exactly once.
    let mut batches = HashSet::new();
    let mut announced = HashSet::new();
    let mut announced_twice = 0;
    for event in tap
        .published_by(&database.pool(), Duration::from_secs(60))
        .await
    {
        let DomainEvent::ContactsImported(batch) = event else {
            continue;
        };
        if !batches.insert(batch.meta().id) {
            continue;
        }
        for contact in &batch.data().contacts {
            if !announced.insert(contact.contact_id) {
                announced_twice += 1;
            }
        }
    }
    assert_eq!(announced.len(), ROWS);
    assert_eq!(announced_twice, 0);
}
