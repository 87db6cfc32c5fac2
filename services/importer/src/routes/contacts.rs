//! My contacts: list (cursor pagination), get one, delete one. The owner comes
//! from the access token; another user's contact is 404.
//!
//! And every owner's contacts for our services (`/internal/contacts`, service
//! tokens only): the source of truth search rebuilds its index from.

use axum::{
    Router,
    extract::{Path, Query, State},
    http::StatusCode,
    routing::get,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use six_events::{
    Envelope,
    importer::{ContactDeleted, ContactExportPage, ImportedContact, OwnedContact},
};
use six_kit::{
    auth::{CurrentUser, ServiceCaller},
    http::{Json, Problem},
};
use uuid::Uuid;

use super::{AppState, page_limit, path_id};

/// Contacts per page unless the client asks for fewer.
const DEFAULT_PAGE: i64 = 50;
/// Most contacts per page.
const MAX_PAGE: i64 = 500;
/// Contacts per page of the export unless the caller asks for fewer.
const DEFAULT_EXPORT_PAGE: i64 = 1_000;
/// Most contacts per page of the export.
const MAX_EXPORT_PAGE: i64 = 5_000;

/// The contact routes (they share the import routes' state).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/contacts", get(list))
        .route("/v1/contacts/{contact_id}", get(one).delete(delete))
        .route("/internal/contacts", get(export))
        .with_state(state)
}

/// A contact as its owner sees it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Contact {
    contact_id: Uuid,
    import_id: Uuid,
    full_name: String,
    first_name: Option<String>,
    last_name: Option<String>,
    emails: Vec<String>,
    phones: Vec<String>,
    company: Option<String>,
    title: Option<String>,
    location: Option<String>,
    profile_url: Option<String>,
    connected_on: Option<NaiveDate>,
    created_at: DateTime<Utc>,
}

/// The columns of [`Contact`], as a literal so that queries stay static strings.
macro_rules! contact_columns {
    () => {
        "contact_id, import_id, full_name, first_name, last_name, emails, phones, company, \
         title, location, profile_url, connected_on, created_at"
    };
}

#[derive(Debug, Deserialize)]
struct Page {
    /// The `next` of the previous page.
    after: Option<Uuid>,
    limit: Option<i64>,
}

#[derive(Serialize)]
struct ContactList {
    contacts: Vec<Contact>,
    /// Pass as `after` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<Uuid>,
}

/// `GET /v1/contacts?after=&limit=`: in the order they were added. The cursor is
/// a contact id (ids grow with time), so pages neither skip nor repeat contacts
/// while an import adds more.
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(page): Query<Page>,
) -> Result<Json<ContactList>, Problem> {
    let limit = page_limit(page.limit, DEFAULT_PAGE, MAX_PAGE)?;
    let contacts = sqlx::query_as::<_, Contact>(concat!(
        "SELECT ",
        contact_columns!(),
        " FROM contacts WHERE owner_id = $1 AND ($2::uuid IS NULL OR contact_id > $2) \
         ORDER BY contact_id LIMIT $3"
    ))
    .bind(user.user_id)
    .bind(page.after)
    .bind(limit)
    .fetch_all(&state.pool)
    .await
    .map_err(Problem::internal)?;
    let next = (contacts.len() as i64 == limit)
        .then(|| contacts.last().map(|contact| contact.contact_id))
        .flatten();
    Ok(Json(ContactList { contacts, next }))
}

/// A contact with its owner, as the export reads it.
#[derive(sqlx::FromRow)]
struct ExportRow {
    owner_id: Uuid,
    contact_id: Uuid,
    full_name: String,
    first_name: Option<String>,
    last_name: Option<String>,
    emails: Vec<String>,
    phones: Vec<String>,
    company: Option<String>,
    title: Option<String>,
    location: Option<String>,
    profile_url: Option<String>,
    connected_on: Option<NaiveDate>,
}

impl From<ExportRow> for OwnedContact {
    fn from(row: ExportRow) -> Self {
        OwnedContact {
            owner_id: row.owner_id,
            contact: ImportedContact {
                contact_id: row.contact_id,
                full_name: row.full_name,
                first_name: row.first_name,
                last_name: row.last_name,
                emails: row.emails,
                phones: row.phones,
                company: row.company,
                title: row.title,
                location: row.location,
                profile_url: row.profile_url,
                connected_on: row.connected_on,
            },
        }
    }
}

/// `GET /internal/contacts?after=&limit=`: every owner's contacts in id order
/// (`limit` 1–5,000, default 1,000), for a service rebuilding its projection. A
/// user's token is refused (403 `service_token_required`). Contacts added while
/// a caller pages through come after its cursor, so it sees them too.
async fn export(
    State(state): State<AppState>,
    caller: ServiceCaller,
    Query(page): Query<Page>,
) -> Result<Json<ContactExportPage>, Problem> {
    let limit = page_limit(page.limit, DEFAULT_EXPORT_PAGE, MAX_EXPORT_PAGE)?;
    let rows = sqlx::query_as::<_, ExportRow>(
        "SELECT owner_id, contact_id, full_name, first_name, last_name, emails, phones, \
         company, title, location, profile_url, connected_on \
         FROM contacts WHERE ($1::uuid IS NULL OR contact_id > $1) \
         ORDER BY contact_id LIMIT $2",
    )
    .bind(page.after)
    .bind(limit)
    .fetch_all(&state.pool)
    .await
    .map_err(Problem::internal)?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|row| row.contact_id))
        .flatten();
    tracing::debug!(client_id = %caller.client_id, contacts = rows.len(), "contact export page");
    Ok(Json(ContactExportPage {
        contacts: rows.into_iter().map(OwnedContact::from).collect(),
        next,
    }))
}

/// `GET /v1/contacts/{id}`.
async fn one(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw_id): Path<String>,
) -> Result<Json<Contact>, Problem> {
    sqlx::query_as::<_, Contact>(concat!(
        "SELECT ",
        contact_columns!(),
        " FROM contacts WHERE contact_id = $1 AND owner_id = $2"
    ))
    .bind(path_id(&raw_id)?)
    .bind(user.user_id)
    .fetch_optional(&state.pool)
    .await
    .map_err(Problem::internal)?
    .map(Json)
    .ok_or_else(Problem::not_found)
}

/// `DELETE /v1/contacts/{id}`: the contact and its identities go, and
/// `importer.contact.deleted.v1` tells graph and search, in one transaction. The
/// same file imported again brings the contact back.
async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw_id): Path<String>,
) -> Result<StatusCode, Problem> {
    let contact_id = path_id(&raw_id)?;
    let mut transaction = state.pool.begin().await.map_err(Problem::internal)?;
    let deleted: Option<(Uuid, Vec<String>)> = sqlx::query_as(
        "DELETE FROM contacts WHERE contact_id = $1 AND owner_id = $2 RETURNING import_id, identities",
    )
    .bind(contact_id)
    .bind(user.user_id)
    .fetch_optional(&mut *transaction)
    .await
    .map_err(Problem::internal)?;
    let Some((import_id, identities)) = deleted else {
        return Err(Problem::not_found());
    };
    sqlx::query(
        "DELETE FROM contact_identities \
         WHERE owner_id = $1 AND identity = ANY($2) AND contact_id = $3",
    )
    .bind(user.user_id)
    .bind(&identities)
    .bind(contact_id)
    .execute(&mut *transaction)
    .await
    .map_err(Problem::internal)?;
    six_bus::publish(
        &mut transaction,
        Envelope::new(ContactDeleted {
            import_id,
            owner_id: user.user_id,
            contact_id,
            deleted_at: Utc::now(),
        }),
    )
    .await
    .map_err(Problem::internal)?;
    transaction.commit().await.map_err(Problem::internal)?;
    tracing::info!(%contact_id, "contact deleted");
    Ok(StatusCode::NO_CONTENT)
}
