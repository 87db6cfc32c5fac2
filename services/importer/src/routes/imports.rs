//! Import jobs over HTTP: upload, status, list, cancel, rejects report. Every
//! route takes the owner from the access token; another user's job is 404.

use axum::{
    Router,
    body::Body,
    extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use six_kit::{
    auth::CurrentUser,
    http::{FieldError, Json, Problem},
};
use uuid::Uuid;

use crate::{
    jobs::store::{self, Job, NewJob},
    records::csv_cell,
    routes::{AppState, check_read_options, page_limit, path_id},
    spool::{self, SpoolError},
};

/// Jobs per page of the list, unless the client asks for fewer.
const DEFAULT_PAGE: i64 = 20;
/// Most jobs per page.
const MAX_PAGE: i64 = 100;

/// The import routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        // The upload is streamed to disk under its own limit
        // (`IMPORTER_MAX_UPLOAD_BYTES`), not axum's default one for bodies.
        .route(
            "/v1/imports",
            post(upload).layer(DefaultBodyLimit::disable()).get(list),
        )
        .route("/v1/imports/{import_id}", get(status))
        .route("/v1/imports/{import_id}/cancel", post(cancel))
        .route("/v1/imports/{import_id}/rejects.csv", get(rejects))
        .with_state(state)
}

/// Options of an upload, in the query string.
#[derive(Debug, Deserialize)]
struct UploadOptions {
    /// `linkedin`, `google`, `outlook`, or absent to detect.
    format: Option<String>,
    /// Country of phone numbers without a country code (ISO 3166 alpha-2).
    region: Option<String>,
    /// Generic CSV: a JSON object, column name → field.
    mapping: Option<String>,
    /// The file's name, for the job.
    file_name: Option<String>,
}

/// Checks the options before any byte of the body is read.
fn check_options(options: &UploadOptions) -> Result<Option<serde_json::Value>, Problem> {
    let mut errors = Vec::new();
    let mapping = check_read_options(
        options.format.as_deref(),
        options.region.as_deref(),
        options.mapping.as_deref(),
        &mut errors,
    );
    if errors.is_empty() {
        Ok(mapping)
    } else {
        Err(Problem::validation(errors))
    }
}

/// `POST /v1/imports`: the file is the raw body (`text/csv`, `application/gzip`,
/// `application/zip`...). It is stored on the spool volume as it arrives, never
/// held in memory; once it is whole, the job is queued and described (202).
#[tracing::instrument(skip_all, fields(owner_id = %user.user_id))]
async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(options): Query<UploadOptions>,
    request: Request,
) -> Result<Response, Problem> {
    let mapping = check_options(&options)?;
    let import_id = Uuid::now_v7();
    let path = spool::path(&state.settings.spool_dir, import_id);
    let limit = state.settings.source_limits.max_upload_bytes;
    let received = if is_multipart(&request) {
        receive_multipart(request, &path, limit).await
    } else {
        receive(request.into_body().into_data_stream(), &path, limit)
            .await
            .map(|bytes| (bytes, None))
    };
    let (bytes, part_file_name) = match received {
        Ok(received) => received,
        Err(problem) => {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(problem);
        }
    };
    let file_name = options.file_name.or(part_file_name);
    let job = store::create(
        &state.pool,
        NewJob {
            import_id,
            owner_id: user.user_id,
            requested_format: options.format.as_deref(),
            column_mapping: mapping,
            default_region: options.region.as_deref(),
            file_name: file_name.as_deref(),
            spool_file: &path.display().to_string(),
            bytes,
        },
    )
    .await
    .map_err(Problem::internal)?;
    state.wakers.runners.notify_one();
    tracing::info!(%import_id, bytes, "upload received; job queued");
    let mut response = (StatusCode::ACCEPTED, Json(job)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/imports/{import_id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

fn is_multipart(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("multipart/form-data"))
}

/// A `multipart/form-data` upload: the part named `file` is the file (other parts
/// are ignored); returns its size and the file name the client gave it.
async fn receive_multipart(
    request: Request,
    path: &std::path::Path,
    limit: u64,
) -> Result<(u64, Option<String>), Problem> {
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|rejection| Problem::malformed(rejection.body_text()))?;
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|error| {
                Problem::malformed(format!("the multipart body is malformed: {error}"))
            })?
            .ok_or_else(|| {
                Problem::validation(vec![FieldError::new(
                    "file",
                    "missing_file",
                    "a multipart upload needs a part named `file` holding the export",
                )])
            })?;
        if field.name() == Some("file") {
            let file_name = field.file_name().map(str::to_owned);
            return Ok((receive(field, path, limit).await?, file_name));
        }
    }
}

/// Streams `body` into `path`; 413 past `limit` bytes, 422 when empty.
async fn receive<E: std::fmt::Display>(
    body: impl futures_util::Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
    path: &std::path::Path,
    limit: u64,
) -> Result<u64, Problem> {
    spool::receive(body, path, limit)
        .await
        .map_err(|error| match error {
            SpoolError::TooLarge { limit } => {
                Problem::payload_too_large(usize::try_from(limit).unwrap_or(usize::MAX))
            }
            SpoolError::Empty => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "empty_file",
                "The file is empty",
            ),
            SpoolError::BrokeOff(reason) => {
                Problem::malformed(format!("the upload broke off: {reason}"))
            }
            SpoolError::Disk(error) => Problem::internal(error),
        })
}

#[derive(Debug, Deserialize)]
struct Page {
    before: Option<Uuid>,
    limit: Option<i64>,
}

#[derive(Serialize)]
struct JobList {
    imports: Vec<Job>,
    /// Pass as `before` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<Uuid>,
}

/// `GET /v1/imports`: my jobs, newest first.
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(page): Query<Page>,
) -> Result<Json<JobList>, Problem> {
    let limit = page_limit(page.limit, DEFAULT_PAGE, MAX_PAGE)?;
    let imports = store::list(&state.pool, user.user_id, page.before, limit)
        .await
        .map_err(Problem::internal)?;
    let next = (imports.len() as i64 == limit)
        .then(|| imports.last().map(|job| job.import_id))
        .flatten();
    Ok(Json(JobList { imports, next }))
}

/// `GET /v1/imports/{id}`: where the job stands.
async fn status(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw_id): Path<String>,
) -> Result<Json<Job>, Problem> {
    store::get(&state.pool, user.user_id, path_id(&raw_id)?)
        .await
        .map_err(Problem::internal)?
        .map(Json)
        .ok_or_else(Problem::not_found)
}

/// `POST /v1/imports/{id}/cancel`: stops a queued job at once and a running one
/// at its next chunk; its committed contacts stay.
async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw_id): Path<String>,
) -> Result<(StatusCode, Json<Job>), Problem> {
    store::request_cancel(&state.pool, user.user_id, path_id(&raw_id)?)
        .await
        .map_err(Problem::internal)?
        .map(|job| (StatusCode::ACCEPTED, Json(job)))
        .ok_or_else(Problem::not_found)
}

/// `GET /v1/imports/{id}/rejects.csv`: every refused row with its line, column,
/// code and reason, streamed. Cells that a spreadsheet would run as a formula are
/// neutralised (see [`neutralise`]).
async fn rejects(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw_id): Path<String>,
) -> Result<Response, Problem> {
    let import_id = path_id(&raw_id)?;
    if store::get(&state.pool, user.user_id, import_id)
        .await
        .map_err(Problem::internal)?
        .is_none()
    {
        return Err(Problem::not_found());
    }
    let header_line = "line,column,code,reason,row\r\n".to_owned();
    // Pages of REJECTS_PAGE problems by (line, problem), so memory holds one page.
    let pages = futures_util::stream::unfold(
        (state.pool.clone(), Some((-1_i64, -1_i32))),
        move |(pool, after)| async move {
            let (line, problem) = after?;
            let page = sqlx::query_as::<_, RejectRow>(
                "SELECT line, problem, column_name, code, reason, source_row FROM import_rejects \
                 WHERE import_id = $1 AND (line, problem) > ($2, $3) \
                 ORDER BY line, problem LIMIT $4",
            )
            .bind(import_id)
            .bind(line)
            .bind(problem)
            .bind(REJECTS_PAGE)
            .fetch_all(&pool)
            .await;
            match page {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let last = rows.last().map(|row| (row.line, row.problem));
                    let text: String = rows.into_iter().map(RejectRow::into_csv_line).collect();
                    Some((Ok::<_, sqlx::Error>(text), (pool, last)))
                }
                Err(error) => {
                    tracing::warn!(%error, "reading the rejects failed mid-report");
                    Some((Err(error), (pool, None)))
                }
            }
        },
    );
    let lines = futures_util::stream::once(async { Ok(header_line) }).chain(pages);
    let body = Body::from_stream(lines);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"import-{import_id}-rejects.csv\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// Problems per page of the rejects report.
const REJECTS_PAGE: i64 = 1_000;

#[derive(sqlx::FromRow)]
struct RejectRow {
    line: i64,
    problem: i32,
    column_name: Option<String>,
    code: String,
    reason: String,
    source_row: String,
}

impl RejectRow {
    fn into_csv_line(self) -> String {
        let cells = [
            self.line.to_string(),
            self.column_name.unwrap_or_default(),
            self.code,
            self.reason,
            self.source_row,
        ];
        let mut line = cells
            .iter()
            .map(|cell| csv_cell(&neutralise(cell)))
            .collect::<Vec<_>>()
            .join(",");
        line.push_str("\r\n");
        line
    }
}

/// A cell a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`,
/// tab or carriage return) gets a leading `'`, so it shows as text (OWASP, CSV
/// injection).
pub fn neutralise(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        for formula in ["=1+1", "+44 20", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(formula), format!("'{formula}"));
        }
        assert_eq!(neutralise("Ada"), "Ada");
        assert_eq!(neutralise(""), "");
    }
}
