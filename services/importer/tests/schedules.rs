//! Scheduled imports against real PostgreSQL and RabbitMQ, fetching from a
//! local HTTP server that plays the file host, the heartbeat monitor and auth's
//! token proxy.

mod common;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderMap, StatusCode as AxumStatus, header},
    response::IntoResponse,
    routing::get,
};
use common::{Importer, fixture};
use reqwest::StatusCode;
use serde_json::{Value, json};
use six_events::{DomainEvent, Envelope, EventData, auth::UserDeleted, importer::ImportStarted};
use six_kit::auth::{Principal, TokenVerifier};
use six_testkit::{wait_for, wait_until};
use tokio::{net::TcpListener, sync::Notify};
use uuid::Uuid;

/// Contacts in `linkedin/Connections.csv` (one of its eight rows is refused).
const FIXTURE_CONTACTS: i64 = 7;
const DEADLINE: Duration = Duration::from_secs(30);

/// What the local server saw and how it behaves.
#[derive(Clone, Default)]
struct Remote {
    hits: Arc<Mutex<HashMap<String, usize>>>,
    /// `/held.csv` answers once this is notified.
    release: Arc<Notify>,
    /// Verifies the bearer token of `/proxy/...` calls.
    verifier: Option<TokenVerifier>,
    /// Client ids of the service tokens the proxy accepted.
    proxy_callers: Arc<Mutex<Vec<String>>>,
}

impl Remote {
    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    fn count(&self, path: &str) {
        *self
            .hits
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default() += 1;
    }
}

async fn serve_remote(remote: Remote) -> String {
    let app = Router::new()
        .route(
            "/contacts.csv",
            get(|State(remote): State<Remote>| async move {
                remote.count("/contacts.csv");
                fixture("linkedin/Connections.csv")
            }),
        )
        .route(
            "/held.csv",
            get(|State(remote): State<Remote>| async move {
                remote.count("/held.csv");
                remote.release.notified().await;
                fixture("linkedin/Connections.csv")
            }),
        )
        .route(
            "/missing.csv",
            get(|| async { (AxumStatus::NOT_FOUND, "no such export") }),
        )
        .route(
            "/heartbeat/up",
            get(|State(remote): State<Remote>| async move {
                remote.count("/heartbeat/up");
                "OK"
            }),
        )
        .route(
            "/heartbeat/down",
            get(|State(remote): State<Remote>| async move {
                remote.count("/heartbeat/down");
                AxumStatus::SERVICE_UNAVAILABLE
            }),
        )
        .route("/proxy/{provider}/{*path}", get(token_proxy))
        .with_state(remote);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

/// Auth's token proxy as the importer sees it: a service token required, the
/// provider's file behind it.
async fn token_proxy(
    State(remote): State<Remote>,
    Path((provider, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let verified = match (token, &remote.verifier) {
        (Some(token), Some(verifier)) => verifier.verify(token).await.ok(),
        _ => None,
    };
    match verified.map(|token| token.principal) {
        Some(Principal::Service { client_id }) => {
            remote.proxy_callers.lock().unwrap().push(client_id);
            if provider == "acme-crm" && path == "exports/connections.csv" {
                (AxumStatus::OK, fixture("linkedin/Connections.csv")).into_response()
            } else {
                AxumStatus::NOT_FOUND.into_response()
            }
        }
        _ => AxumStatus::UNAUTHORIZED.into_response(),
    }
}

/// A file host on loopback, an importer allowed to fetch from it (polling for
/// due schedules often), and one of its users.
struct Scene {
    remote: Remote,
    base: String,
    importer: Importer,
    owner: Uuid,
}

impl Scene {
    async fn start() -> Self {
        let remote = Remote::default();
        let base = serve_remote(remote.clone()).await;
        let importer = Importer::start_with(&[
            ("IMPORTER_FETCH_PRIVATE_ADDRESSES", "true"),
            ("IMPORTER_SCHEDULE_POLL_MS", "100"),
        ])
        .await;
        Self {
            remote,
            base,
            importer,
            owner: Uuid::now_v7(),
        }
    }

    /// Creates a daily schedule fetching `source_path` from the file host, with
    /// a heartbeat to `heartbeat_path` if given; returns its id.
    async fn schedule(&self, source_path: &str, heartbeat_path: Option<&str>) -> String {
        let mut body = json!({
            "cron": "@daily",
            "source": {"kind": "url", "url": format!("{}{source_path}", self.base)},
        });
        if let Some(heartbeat_path) = heartbeat_path {
            body["heartbeat_url"] = json!(format!("{}{heartbeat_path}", self.base));
        }
        let created = created(&self.importer, self.owner, body).await;
        created["schedule_id"].as_str().unwrap().to_owned()
    }

    async fn run(&self, schedule_id: &str) -> Value {
        run_and_wait(&self.importer, self.owner, schedule_id).await
    }

    /// Waits until the heartbeat of the run `ended` is `state`.
    async fn wait_for_heartbeat(&self, ended: &Value, state: &str) {
        let import_id = ended["import_id"].as_str().unwrap();
        wait_until(
            DEADLINE,
            &format!("the heartbeat to be {state}"),
            || async { job(&self.importer, self.owner, import_id).await["heartbeat"] == state },
        )
        .await;
    }
}

async fn create(importer: &Importer, owner: Uuid, body: Value) -> reqwest::Response {
    importer
        .app
        .client()
        .post(importer.app.url("/v1/import-schedules"))
        .bearer_auth(importer.issuer.user_token(owner))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn created(importer: &Importer, owner: Uuid, body: Value) -> Value {
    let response = create(importer, owner, body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn call(
    importer: &Importer,
    owner: Uuid,
    method: reqwest::Method,
    path: &str,
) -> reqwest::Response {
    importer
        .app
        .client()
        .request(method, importer.app.url(path))
        .bearer_auth(importer.issuer.user_token(owner))
        .send()
        .await
        .unwrap()
}

/// Runs the schedule now and waits for the run's job to end.
async fn run_and_wait(importer: &Importer, owner: Uuid, schedule_id: &str) -> Value {
    let previous = schedule(importer, owner, schedule_id).await["last_import_id"].clone();
    let response = call(
        importer,
        owner,
        reqwest::Method::POST,
        &format!("/v1/import-schedules/{schedule_id}/run"),
    )
    .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let import_id = wait_for(DEADLINE, "the scheduled run to start", || async {
        let last = schedule(importer, owner, schedule_id).await["last_import_id"].clone();
        (last != previous && !last.is_null()).then_some(last)
    })
    .await;
    importer
        .wait_for_end(owner, import_id.as_str().unwrap())
        .await
}

/// The `(field, code)` of each error of a 422 problem, in order.
fn field_errors(problem: &Value) -> Vec<(&str, &str)> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| {
            (
                error["field"].as_str().unwrap(),
                error["code"].as_str().unwrap(),
            )
        })
        .collect()
}

async fn schedule(importer: &Importer, owner: Uuid, schedule_id: &str) -> Value {
    let response = importer
        .get(owner, &format!("/v1/import-schedules/{schedule_id}"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn job(importer: &Importer, owner: Uuid, import_id: &str) -> Value {
    importer
        .get(owner, &format!("/v1/imports/{import_id}"))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_scheduled_run_imports_the_file_and_then_sends_its_heartbeat() {
    let scene = Scene::start().await;
    let (importer, owner) = (&scene.importer, scene.owner);
    let tap = importer.app.tap_events(&[ImportStarted::TYPE]).await;
    let schedule = created(
        importer,
        owner,
        json!({
            "name": "LinkedIn weekly",
            "cron": "0 3 * * 1",
            "source": {"kind": "url", "url": format!("{}/contacts.csv", scene.base)},
            "heartbeat_url": format!("{}/heartbeat/up", scene.base),
        }),
    )
    .await;
    let schedule_id = schedule["schedule_id"].as_str().unwrap();
    let next: chrono::DateTime<chrono::Utc> =
        schedule["next_run_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        (
            next.format("%u %H:%M:%S").to_string(),
            next > chrono::Utc::now()
        ),
        ("1 03:00:00".to_owned(), true),
        "the first run is the cron's next Monday 03:00 UTC"
    );

    let ended = scene.run(schedule_id).await;
    assert_eq!(ended["state"], "completed", "{ended}");
    assert_eq!(ended["origin"], "schedule");
    assert_eq!(ended["schedule_id"], schedule_id);
    assert_eq!(ended["file_name"], "LinkedIn weekly");
    assert_eq!(ended["contacts_accepted"], FIXTURE_CONTACTS);
    assert_eq!(importer.contacts_of(owner).await, FIXTURE_CONTACTS);
    scene.wait_for_heartbeat(&ended, "sent").await;
    assert_eq!(scene.remote.hits("/heartbeat/up"), 1);
    assert_eq!(importer.spooled_files(), 0, "the fetched file is deleted");

    let after = self::schedule(importer, owner, schedule_id).await;
    assert_eq!(
        after["next_run_at"], schedule["next_run_at"],
        "back on the cron"
    );
    assert_eq!(after["last_import_id"], ended["import_id"]);
    let events = tap
        .published_by(&importer.app.pool(), Duration::from_secs(10))
        .await;
    let [DomainEvent::ImportStarted(started)] = events.as_slice() else {
        panic!("expected one start, got {events:?}");
    };
    assert_eq!(
        serde_json::to_value(started.data()).unwrap()["origin"],
        "schedule"
    );
}

#[tokio::test]
async fn running_again_adds_no_duplicates_and_beats_again() {
    let scene = Scene::start().await;
    let schedule_id = scene.schedule("/contacts.csv", Some("/heartbeat/up")).await;
    let first = scene.run(&schedule_id).await;
    let second = scene.run(&schedule_id).await;
    assert_eq!(first["file_name"], "contacts.csv");
    assert_eq!(second["state"], "completed");
    assert_eq!(second["contacts_accepted"], 0);
    assert_eq!(second["duplicates"], FIXTURE_CONTACTS);
    assert_eq!(
        scene.importer.contacts_of(scene.owner).await,
        FIXTURE_CONTACTS
    );
    scene.wait_for_heartbeat(&second, "sent").await;
    assert_eq!(scene.remote.hits("/contacts.csv"), 2);
    assert_eq!(scene.remote.hits("/heartbeat/up"), 2);
}

#[tokio::test]
async fn a_failed_run_sends_no_heartbeat() {
    let scene = Scene::start().await;
    let schedule_id = scene.schedule("/missing.csv", Some("/heartbeat/up")).await;
    let ended = scene.run(&schedule_id).await;
    assert_eq!(ended["state"], "failed");
    assert_eq!(ended["failure_code"], "source_error_status");
    assert!(
        ended["failure_reason"].as_str().unwrap().contains("404"),
        "{ended}"
    );
    // The heartbeat would have been owed in the transaction that ended the job.
    assert_eq!(ended["heartbeat"], Value::Null);
    assert_eq!(scene.remote.hits("/heartbeat/up"), 0);
}

#[tokio::test]
async fn a_failing_heartbeat_is_retried_then_recorded_as_failed() {
    let scene = Scene::start().await;
    let schedule_id = scene
        .schedule("/contacts.csv", Some("/heartbeat/down"))
        .await;
    let ended = scene.run(&schedule_id).await;
    assert_eq!(ended["state"], "completed");
    scene.wait_for_heartbeat(&ended, "failed").await;
    assert_eq!(
        scene.remote.hits("/heartbeat/down"),
        importer::schedules::scheduler::HEARTBEAT_ATTEMPTS as usize
    );
}

#[tokio::test]
async fn a_run_due_while_the_previous_one_is_going_is_skipped() {
    let scene = Scene::start().await;
    let (importer, owner, remote) = (&scene.importer, scene.owner, &scene.remote);
    let schedule_id = scene.schedule("/held.csv", None).await;
    let schedule_id = schedule_id.as_str();
    let run_path = format!("/v1/import-schedules/{schedule_id}/run");
    call(importer, owner, reqwest::Method::POST, &run_path).await;
    wait_until(DEADLINE, "the first run to fetch", || async {
        remote.hits("/held.csv") == 1
    })
    .await;
    call(importer, owner, reqwest::Method::POST, &run_path).await;
    wait_until(DEADLINE, "the second run to be skipped", || async {
        self::schedule(importer, owner, schedule_id).await["runs_skipped"] == 1
    })
    .await;
    remote.release.notify_one();
    let import_id = self::schedule(importer, owner, schedule_id).await["last_import_id"].clone();
    let ended = importer
        .wait_for_end(owner, import_id.as_str().unwrap())
        .await;
    assert_eq!(ended["state"], "completed");
    assert_eq!(remote.hits("/held.csv"), 1, "one run fetched");
}

#[tokio::test]
async fn a_source_behind_the_token_proxy_is_fetched_with_the_importers_service_token() {
    let issuer = six_kit::testing::TestIssuer::start().await;
    issuer.add_client("importer", "importer-secret-of-at-least-32-characters");
    let remote = Remote {
        verifier: Some(TokenVerifier::start(issuer.auth_config()).await.unwrap()),
        ..Remote::default()
    };
    let base = serve_remote(remote.clone()).await;
    let proxy_url = format!("{base}/proxy");
    let importer = Importer::start_with_issuer(
        issuer,
        &[
            ("IMPORTER_SCHEDULE_POLL_MS", "100"),
            ("IMPORTER_TOKEN_PROXY_URL", &proxy_url),
            ("AUTH_CLIENT_ID", "importer"),
            (
                "AUTH_CLIENT_SECRET",
                "importer-secret-of-at-least-32-characters",
            ),
        ],
    )
    .await;
    let owner = Uuid::now_v7();
    let schedule = created(
        &importer,
        owner,
        json!({
            "cron": "@daily",
            "source": {"kind": "token_proxy", "provider": "acme-crm", "path": "exports/connections.csv"},
        }),
    )
    .await;
    assert_eq!(
        schedule["source"],
        json!({"kind": "token_proxy", "provider": "acme-crm", "path": "exports/connections.csv"})
    );
    let ended = run_and_wait(&importer, owner, schedule["schedule_id"].as_str().unwrap()).await;
    assert_eq!(ended["state"], "completed", "{ended}");
    assert_eq!(ended["contacts_accepted"], FIXTURE_CONTACTS);
    assert_eq!(*remote.proxy_callers.lock().unwrap(), ["importer"]);
}

#[tokio::test]
async fn private_addresses_are_refused_unless_the_operator_allows_them() {
    let remote = Remote::default();
    let base = serve_remote(remote.clone()).await;
    let port = base.rsplit(':').next().unwrap();
    let importer = Importer::start_with(&[("IMPORTER_SCHEDULE_POLL_MS", "100")]).await;
    let owner = Uuid::now_v7();

    let response = create(
        &importer,
        owner,
        json!({
            "cron": "@daily",
            "source": {"kind": "url", "url": format!("{base}/contacts.csv")},
            "heartbeat_url": "http://169.254.169.254/latest/meta-data",
        }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(
        field_errors(&problem),
        [
            ("source.url", "invalid_url"),
            ("heartbeat_url", "invalid_url")
        ],
        "{problem}"
    );

    // A host name is only resolved when fetching; it resolves to loopback.
    let schedule = created(
        &importer,
        owner,
        json!({
            "cron": "@daily",
            "source": {"kind": "url", "url": format!("http://localhost:{port}/contacts.csv")},
        }),
    )
    .await;
    let ended = run_and_wait(&importer, owner, schedule["schedule_id"].as_str().unwrap()).await;
    assert_eq!(ended["state"], "failed");
    assert_eq!(ended["failure_code"], "source_refused", "{ended}");
    assert!(
        ended["failure_reason"]
            .as_str()
            .unwrap()
            .contains("not on the public internet"),
        "{ended}"
    );
    assert_eq!(remote.hits("/contacts.csv"), 0);
}

#[tokio::test]
async fn bad_schedules_get_every_problem_at_once() {
    let importer = Importer::start().await;
    let owner = Uuid::now_v7();
    let cases = [
        (
            json!({"cron": "*/5 * * * *", "source": {"kind": "url", "url": "ftp://example.com/a.csv"}, "format": "vcard"}),
            vec![
                ("format", "invalid_format"),
                ("cron", "cron_too_frequent"),
                ("source.url", "invalid_url"),
            ],
        ),
        (
            json!({"cron": "0 25 * * *", "source": {"kind": "url", "url": "https://me:pw@example.com/a.csv"}, "region": "XX"}),
            vec![
                ("region", "invalid_region"),
                ("cron", "invalid_cron"),
                ("source.url", "invalid_url"),
            ],
        ),
        (
            json!({"cron": "@daily", "source": {"kind": "token_proxy", "provider": "acme", "path": "a.csv"}, "mapping": {}}),
            vec![
                ("mapping", "invalid_mapping"),
                ("source.kind", "token_proxy_not_configured"),
            ],
        ),
        (
            json!({"cron": "@daily", "source": {"kind": "url", "url": "https://example.com/a.csv"}, "heartbeat_url": "not a url", "name": "x".repeat(201)}),
            vec![("name", "invalid_name"), ("heartbeat_url", "invalid_url")],
        ),
    ];
    for (body, expected) in cases {
        let response = create(&importer, owner, body.clone()).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(field_errors(&problem), expected, "{body}");
    }
    let unknown_kind = create(
        &importer,
        owner,
        json!({"cron": "@daily", "source": {"kind": "ftp", "url": "x"}}),
    )
    .await;
    assert_eq!(unknown_kind.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        importer
            .get(owner, "/v1/import-schedules")
            .await
            .json::<Value>()
            .await
            .unwrap()["schedules"],
        json!([]),
        "nothing was created"
    );
}

#[tokio::test]
async fn schedules_are_their_owners_and_limited_per_user() {
    let importer = Importer::start_with(&[("IMPORTER_MAX_SCHEDULES", "2")]).await;
    let (owner, stranger) = (Uuid::now_v7(), Uuid::now_v7());
    let body =
        json!({"cron": "@daily", "source": {"kind": "url", "url": "https://example.com/a.csv"}});
    let first = created(&importer, owner, body.clone()).await;
    created(&importer, owner, body.clone()).await;
    let third = create(&importer, owner, body.clone()).await;
    assert_eq!(third.status(), StatusCode::CONFLICT);
    assert_eq!(
        third.json::<Value>().await.unwrap()["code"],
        "too_many_schedules"
    );
    created(&importer, stranger, body).await;

    let mine: Value = importer
        .get(owner, "/v1/import-schedules")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["schedules"].as_array().unwrap().len(), 2);
    let path = format!(
        "/v1/import-schedules/{}",
        first["schedule_id"].as_str().unwrap()
    );
    for (method, path) in [
        (reqwest::Method::GET, path.clone()),
        (reqwest::Method::POST, format!("{path}/run")),
        (reqwest::Method::DELETE, path.clone()),
    ] {
        assert_eq!(
            call(&importer, stranger, method.clone(), &path)
                .await
                .status(),
            StatusCode::NOT_FOUND,
            "{method} {path} by a stranger"
        );
    }
    assert_eq!(
        call(&importer, owner, reqwest::Method::DELETE, &path)
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        importer.get(owner, &path).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        importer
            .get(owner, "/v1/import-schedules/not-a-uuid")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_deleted_users_schedules_are_erased() {
    let importer = Importer::start().await;
    let owner = Uuid::now_v7();
    created(
        &importer,
        owner,
        json!({"cron": "@daily", "source": {"kind": "url", "url": "https://example.com/a.csv"}}),
    )
    .await;
    importer
        .publish(Envelope::new(UserDeleted {
            user_id: owner,
            deleted_at: chrono::Utc::now(),
        }))
        .await;
    wait_until(DEADLINE, "the schedules to be erased", || async {
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM import_schedules WHERE owner_id = $1")
                .bind(owner)
                .fetch_one(&importer.app.pool())
                .await
                .unwrap();
        count == 0
    })
    .await;
}
