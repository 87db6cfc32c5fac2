//! Reindexing from the importer's contacts while searches and events go on. The
//! importer is played by a small server with the importer's contract
//! (`GET /internal/contacts`, service tokens verified as the importer does); it
//! holds every page after the first until the test lets it go, so events can
//! arrive while the new version is being built.

mod common;

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Query, State},
    routing::get,
};
use chrono::Utc;
use common::{SearchService, batch, contact};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use six_events::{
    Envelope,
    api::ProfileUpdated,
    auth::UserDeleted,
    importer::{ContactDeleted, ContactExportPage, ImportedContact, OwnedContact},
};
use six_kit::{
    auth::{ServiceCaller, TokenVerifier},
    testing::TestIssuer,
};
use six_testkit::{wait_for, wait_until};
use tokio::sync::watch;
use uuid::Uuid;

const DEADLINE: Duration = Duration::from_secs(30);
const CLIENT_ID: &str = "search";
const CLIENT_SECRET: &str = "search-secret";

/// The importer's side: its contacts, and whether pages after the first may go.
#[derive(Clone)]
struct FakeImporter {
    contacts: Arc<Mutex<Vec<OwnedContact>>>,
    release: watch::Receiver<bool>,
    verifier: TokenVerifier,
}

impl axum::extract::FromRef<FakeImporter> for TokenVerifier {
    fn from_ref(importer: &FakeImporter) -> Self {
        importer.verifier.clone()
    }
}

#[derive(Deserialize)]
struct PageQuery {
    after: Option<Uuid>,
    limit: usize,
}

async fn export(
    State(importer): State<FakeImporter>,
    _caller: ServiceCaller,
    Query(query): Query<PageQuery>,
) -> Json<ContactExportPage> {
    if query.after.is_some() {
        let mut release = importer.release.clone();
        release
            .wait_for(|released| *released)
            .await
            .expect("the test keeps the sender");
    }
    let mut contacts: Vec<OwnedContact> = importer.contacts.lock().unwrap().clone();
    contacts.sort_by_key(|owned| owned.contact.contact_id);
    let page: Vec<OwnedContact> = contacts
        .into_iter()
        .filter(|owned| {
            query
                .after
                .is_none_or(|after| owned.contact.contact_id > after)
        })
        .take(query.limit)
        .collect();
    let next = (page.len() == query.limit).then(|| page[page.len() - 1].contact.contact_id);
    Json(ContactExportPage {
        contacts: page,
        next,
    })
}

async fn serve_importer(importer: FakeImporter) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/internal/contacts", get(export))
        .with_state(importer);
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// A search service that reindexes from a stand-in importer, which holds every
/// page after the first until `released` holds true; `vars` on top. Also the
/// variables that configure reindexing, for running the binary next to it.
async fn search_with_importer(
    released: watch::Receiver<bool>,
    vars: Vec<(&'static str, String)>,
) -> (SearchService, FakeImporter, Vec<(&'static str, String)>) {
    let issuer = TestIssuer::start().await;
    issuer.add_client(CLIENT_ID, CLIENT_SECRET);
    let importer = FakeImporter {
        contacts: Arc::new(Mutex::new(Vec::new())),
        release: released,
        verifier: TokenVerifier::start(issuer.auth_config()).await.unwrap(),
    };
    let importer_address = serve_importer(importer.clone()).await;
    let reindex_vars = vec![
        ("SEARCH_IMPORTER_URL", format!("http://{importer_address}")),
        ("AUTH_CLIENT_ID", CLIENT_ID.to_owned()),
        ("AUTH_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
    ];
    let all_vars = reindex_vars.iter().cloned().chain(vars).collect();
    let search = SearchService::start_with(issuer, all_vars).await;
    (search, importer, reindex_vars)
}

fn owned(owner_id: Uuid, contact: &ImportedContact) -> OwnedContact {
    OwnedContact {
        owner_id,
        contact: contact.clone(),
    }
}

fn names(answer: &Value) -> Vec<String> {
    let mut names: Vec<String> = answer["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|hit| hit["full_name"].as_str().expect("a name").to_owned())
        .collect();
    names.sort();
    names
}

async fn post_reindex(search: &SearchService, token: &str) -> (StatusCode, Value) {
    let response = search
        .app
        .client()
        .post(search.app.url("/internal/reindex"))
        .bearer_auth(token)
        .send()
        .await
        .expect("search answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn version_status(search: &SearchService, version: i64) -> Value {
    let (status, body) = search
        .app
        .get_json(
            &search.issuer.service_token("operator"),
            &format!("/internal/reindex/{version}"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn wait_for_state(search: &SearchService, version: i64, state: &str) -> Value {
    wait_for(DEADLINE, "the reindex to reach its state", || async {
        let status = version_status(search, version).await;
        (status["state"] == state).then_some(status)
    })
    .await
}

#[tokio::test]
async fn a_reindex_rebuilds_from_the_importer_while_searches_and_events_go_on() {
    let (release, released) = watch::channel(false);
    let (search, importer, _) =
        search_with_importer(released, vec![("SEARCH_REINDEX_PAGE_SIZE", "5".to_owned())]).await;
    let (me, erased, celebrity) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());

    // What the events built: two contacts, one deleted since, an erased user's
    // contact, a discoverable profile.
    let ada = contact("Ada Lovelace", "ada@example.com");
    let alan = contact("Alan Turing", "alan@example.com");
    let dan = contact("Dan Deleted", "dan@example.com");
    let eve = contact("Eve Erased", "eve@example.com");
    search
        .publish(batch(me, vec![ada.clone(), alan.clone(), dan.clone()]))
        .await;
    search.publish(batch(erased, vec![eve.clone()])).await;
    search
        .publish(Envelope::new(ContactDeleted {
            import_id: Uuid::now_v7(),
            owner_id: me,
            contact_id: dan.contact_id,
            deleted_at: Utc::now(),
        }))
        .await;
    search
        .publish(Envelope::new(UserDeleted {
            user_id: erased,
            deleted_at: Utc::now(),
        }))
        .await;
    search
        .publish(Envelope::new(ProfileUpdated {
            user_id: celebrity,
            display_name: "Grace Hopper".to_owned(),
            headline: None,
            discoverable: true,
            updated_at: Utc::now(),
        }))
        .await;
    // Every contact has an address at example.com; profiles have none.
    wait_until(DEADLINE, "the events to be indexed", || async {
        names(&search.search(me, "q=example").await) == ["Ada Lovelace", "Alan Turing"]
            && names(&search.search(me, "q=grace").await) == ["Grace Hopper"]
    })
    .await;

    // The importer's truth: the same contacts, one the index never got, and
    // (as if its own erasure and deletion were late) Dan and Eve; filler
    // contacts of another owner make several pages.
    let barbara = contact("Barbara Liskov", "barbara@example.com");
    let someone = Uuid::now_v7();
    let fillers: Vec<ImportedContact> = (0..17)
        .map(|n| contact(&format!("Filler {n}"), &format!("filler{n}@example.com")))
        .collect();
    {
        let mut contacts = importer.contacts.lock().unwrap();
        for known in [&ada, &alan, &dan, &barbara] {
            contacts.push(owned(me, known));
        }
        contacts.push(owned(erased, &eve));
        contacts.extend(fillers.iter().map(|filler| owned(someone, filler)));
    }

    let user_try = post_reindex(&search, &search.issuer.user_token(me)).await;
    let (accepted, started) = post_reindex(&search, &search.issuer.service_token("operator")).await;
    assert_eq!(user_try.0, StatusCode::FORBIDDEN, "{}", user_try.1);
    assert_eq!(accepted, StatusCode::ACCEPTED, "{started}");
    assert_eq!(started["state"], "building");
    let version = started["version"].as_i64().expect("a version number");
    assert_eq!(version, 2);
    let (second_start, conflict) =
        post_reindex(&search, &search.issuer.service_token("operator")).await;
    assert_eq!(second_start, StatusCode::CONFLICT, "{conflict}");
    assert_eq!(conflict["code"], "reindex_running");

    // Searches keep answering from the live version for the whole rebuild.
    let searches = Arc::new(AtomicU64::new(0));
    let (stop_searching, mut stopped) = watch::channel(false);
    let searcher = tokio::spawn({
        let client = search.app.client().clone();
        let url = search.app.url("/v1/search?q=ada");
        let token = search.issuer.user_token(me);
        let searches = Arc::clone(&searches);
        async move {
            while !*stopped.borrow_and_update() {
                let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
                assert_eq!(response.status(), StatusCode::OK);
                let answer: Value = response.json().await.unwrap();
                assert_eq!(names(&answer), ["Ada Lovelace"], "during the rebuild");
                searches.fetch_add(1, Ordering::Relaxed);
            }
        }
    });

    // Events while the new version is built reach both versions. (The importer
    // stores a contact before it announces it, and deletes it before it
    // announces the deletion.)
    let edsger = contact("Edsger Dijkstra", "edsger@example.com");
    importer.contacts.lock().unwrap().push(owned(me, &edsger));
    search.publish(batch(me, vec![edsger.clone()])).await;
    importer
        .contacts
        .lock()
        .unwrap()
        .retain(|owned| owned.contact.contact_id != alan.contact_id);
    search
        .publish(Envelope::new(ContactDeleted {
            import_id: Uuid::now_v7(),
            owner_id: me,
            contact_id: alan.contact_id,
            deleted_at: Utc::now(),
        }))
        .await;
    // Profiles were copied first: only the projection's double write can bring
    // this one into the new version.
    search
        .publish(Envelope::new(ProfileUpdated {
            user_id: Uuid::now_v7(),
            display_name: "Katherine Johnson".to_owned(),
            headline: None,
            discoverable: true,
            updated_at: Utc::now(),
        }))
        .await;
    wait_until(
        DEADLINE,
        "the events during the rebuild to be indexed",
        || async {
            names(&search.search(me, "q=example").await) == ["Ada Lovelace", "Edsger Dijkstra"]
                && names(&search.search(me, "q=katherine").await) == ["Katherine Johnson"]
        },
    )
    .await;
    assert_eq!(version_status(&search, version).await["state"], "building");

    release.send(true).unwrap();
    let done = wait_for_state(&search, version, "live").await;
    stop_searching.send(true).unwrap();
    searcher
        .await
        .expect("every search during the rebuild answered");

    assert!(
        searches.load(Ordering::Relaxed) > 0,
        "searches ran during the rebuild"
    );
    assert_eq!(done["profiles_copied"], 1, "Grace; Katherine came later");
    // Ada, Alan (when his page was copied before his deletion), Barbara, Edsger,
    // the fillers; never Dan or Eve.
    let copied = done["contacts_copied"].as_i64().unwrap();
    assert!((20..=21).contains(&copied), "copied {copied}");
    assert_eq!(version_status(&search, 1).await["state"], "retired");
    assert_eq!(
        names(&search.search(me, "q=example").await),
        ["Ada Lovelace", "Barbara Liskov", "Edsger Dijkstra"],
        "the new version: the importer's contacts, the events during the rebuild, \
         and the bookkeeping's deletions"
    );
    assert_eq!(names(&search.search(me, "q=grace").await), ["Grace Hopper"]);
    assert_eq!(
        names(&search.search(me, "q=katherine").await),
        ["Katherine Johnson"]
    );
    assert_eq!(
        names(&search.search(erased, "q=example").await),
        Vec::<String>::new()
    );
    assert_eq!(
        search.search(someone, "q=filler").await["total"]["value"],
        17
    );

    // The next reindex deletes the retired version's data.
    assert!(search.index_dir().join("v1").exists());
    let (accepted, started) = post_reindex(&search, &search.issuer.service_token("operator")).await;
    assert_eq!(accepted, StatusCode::ACCEPTED, "{started}");
    wait_for_state(&search, 3, "live").await;
    assert!(
        !search.index_dir().join("v1").exists(),
        "retired data deleted"
    );
    assert!(
        search.index_dir().join("v2").exists(),
        "kept until the next reindex"
    );
    assert_eq!(
        names(&search.search(me, "q=example").await),
        ["Ada Lovelace", "Barbara Liskov", "Edsger Dijkstra"]
    );
}

#[tokio::test]
async fn without_an_importer_address_reindexing_is_off_and_says_how_to_turn_it_on() {
    let search = SearchService::start().await;

    let (status, problem) = post_reindex(&search, &search.issuer.service_token("operator")).await;
    let (unknown, _) = search
        .app
        .get_json(
            &search.issuer.service_token("operator"),
            "/internal/reindex/99",
        )
        .await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(problem["code"], "reindex_off");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("SEARCH_IMPORTER_URL")
    );
    assert_eq!(unknown, StatusCode::NOT_FOUND);
    assert_eq!(version_status(&search, 1).await["state"], "live");
}

/// Runs `search` with `args` next to the running `search` (its database, vhost,
/// index directory and token issuer) and `vars`: the exit status and the lines it
/// printed.
async fn run_command(
    search: &SearchService,
    args: &[&str],
    vars: &[(&str, String)],
) -> (std::process::ExitStatus, Vec<String>, String) {
    let mut command = common::service(
        &search.app.database,
        &search.app.vhost,
        &search.issuer,
        search.index_dir(),
        args,
    );
    command.envs(vars.iter().map(|(name, value)| (*name, value.as_str())));
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let output = tokio::time::timeout(DEADLINE, command.output())
        .await
        .expect("the command ends before the deadline")
        .expect("the binary runs");
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    (
        output.status,
        lines,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_reindex_command_starts_a_reindex_and_follows_it_until_it_is_live() {
    // Arrange: an importer that hands out its pages at once, holding a contact
    // the events never brought.
    let (_release, released) = watch::channel(true);
    let (search, importer, reindex_vars) = search_with_importer(released, Vec::new()).await;
    let me = Uuid::now_v7();
    let barbara = contact("Barbara Liskov", "barbara@example.com");
    importer.contacts.lock().unwrap().push(owned(me, &barbara));
    assert_eq!(
        names(&search.search(me, "q=barbara").await),
        Vec::<String>::new()
    );

    // Act
    let (status, lines, stderr) = run_command(
        &search,
        &["reindex", "--url", &search.app.url("/")],
        &reindex_vars,
    )
    .await;

    // Assert
    assert!(status.success(), "{status}: {stderr}");
    let printed: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).expect("each line is a version's status"))
        .collect();
    assert_eq!(
        printed.first().map(|first| &first["state"]),
        Some(&"building".into())
    );
    let last = printed.last().expect("at least the started version");
    assert_eq!(last["state"], "live", "{lines:?}");
    assert_eq!(last["version"], 2);
    assert_eq!(last["contacts_copied"], 1);
    assert_eq!(version_status(&search, 2).await["state"], "live");
    assert_eq!(
        names(&search.search(me, "q=barbara").await),
        ["Barbara Liskov"]
    );
}

#[tokio::test]
async fn the_reindex_command_explains_what_it_cannot_do() {
    // Arrange: no SEARCH_IMPORTER_URL, so reindexing is off.
    let search = SearchService::start().await;
    let url = search.app.url("/");

    // Act
    let (unknown_status, _, unknown_stderr) =
        run_command(&search, &["reindex", "--force"], &[]).await;
    let (off_status, off_lines, off_stderr) =
        run_command(&search, &["reindex", "--url", &url], &[]).await;

    // Assert
    assert_eq!(unknown_status.code(), Some(2), "{unknown_stderr}");
    assert!(
        unknown_stderr.contains("unknown option `--force`"),
        "{unknown_stderr}"
    );
    assert!(
        unknown_stderr.contains("reindex [--url URL] [--no-wait]"),
        "{unknown_stderr}"
    );
    assert_eq!(off_status.code(), Some(1), "{off_stderr}");
    assert!(off_lines.is_empty(), "{off_lines:?}");
    assert!(
        off_stderr.contains("reindexing is not configured: set SEARCH_IMPORTER_URL"),
        "{off_stderr}"
    );
}
