//! Scheduled imports over HTTP: create, list, get, delete, run now. Every route
//! takes the owner from the access token; another user's schedule is 404.

use axum::{
    Router,
    extract::{Path, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use six_kit::{
    auth::CurrentUser,
    egress::{self, EgressPolicy},
    http::{FieldError, Json, Problem},
};
use url::Url;

use crate::{
    routes::{AppState, check_read_options, path_id},
    schedules::{
        Cron, MAX_URL_CHARS, Source, proxy_url,
        store::{self, NewSchedule, Schedule},
    },
};

/// Longest schedule name.
const MAX_NAME_CHARS: usize = 200;

/// The schedule routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/import-schedules", post(create).get(list))
        .route(
            "/v1/import-schedules/{schedule_id}",
            get(fetch_one).delete(delete),
        )
        .route("/v1/import-schedules/{schedule_id}/run", post(run_now))
        .with_state(state)
}

/// The body of `POST /v1/import-schedules`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSchedule {
    name: Option<String>,
    cron: String,
    source: Source,
    format: Option<String>,
    region: Option<String>,
    mapping: Option<serde_json::Value>,
    heartbeat_url: Option<String>,
}

/// `POST /v1/import-schedules`: 201 the schedule; 422 with every problem of the
/// body; 409 `too_many_schedules` at `IMPORTER_MAX_SCHEDULES`.
#[tracing::instrument(skip_all, fields(owner_id = %user.user_id))]
async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(body): Json<CreateSchedule>,
) -> Result<Response, Problem> {
    let settings = &state.settings.schedules;
    let mut errors = Vec::new();
    let mapping_text = body.mapping.as_ref().map(serde_json::Value::to_string);
    let mapping = check_read_options(
        body.format.as_deref(),
        body.region.as_deref(),
        mapping_text.as_deref(),
        &mut errors,
    );
    let name = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty());
    if name.is_some_and(|name| name.chars().count() > MAX_NAME_CHARS) {
        errors.push(FieldError::new(
            "name",
            "invalid_name",
            format!("at most {MAX_NAME_CHARS} characters"),
        ));
    }
    let first_run_at = match Cron::parse(&body.cron) {
        Err(reason) => {
            errors.push(FieldError::new("cron", "invalid_cron", &reason));
            None
        }
        Ok(cron) => {
            let now = Utc::now();
            match cron.shortest_gap(now) {
                Some(gap) if gap < settings.min_interval => {
                    errors.push(FieldError::new(
                        "cron",
                        "cron_too_frequent",
                        format!(
                            "runs {} s apart; schedules run at most every {} s \
                             (IMPORTER_SCHEDULE_MIN_INTERVAL_SECS)",
                            gap.as_secs(),
                            settings.min_interval.as_secs()
                        ),
                    ));
                    None
                }
                _ => cron.next_after(now),
            }
        }
    };
    let source = check_source(&body.source, &state, &mut errors);
    if let Some(url) = &body.heartbeat_url
        && let Err(reason) = check_user_url(url, settings.egress)
    {
        errors.push(FieldError::new("heartbeat_url", "invalid_url", &reason));
    }
    let (Some(first_run_at), Some(source), true) = (first_run_at, source, errors.is_empty()) else {
        return Err(Problem::validation(errors));
    };
    let created = store::create(
        &state.pool,
        NewSchedule {
            owner_id: user.user_id,
            name,
            cron: body.cron.trim(),
            first_run_at,
            source: &source,
            requested_format: body.format.as_deref(),
            column_mapping: mapping,
            default_region: body.region.as_deref(),
            heartbeat_url: body.heartbeat_url.as_deref(),
        },
        settings.max_per_user,
    )
    .await
    .map_err(Problem::internal)?
    .ok_or_else(|| {
        Problem::new(
            StatusCode::CONFLICT,
            "too_many_schedules",
            "Too many scheduled imports",
        )
        .with_detail(format!(
            "a user may have {} scheduled imports (IMPORTER_MAX_SCHEDULES); delete one first",
            settings.max_per_user
        ))
    })?;
    tracing::info!(schedule_id = %created.schedule_id, "import schedule created");
    let mut response = (StatusCode::CREATED, Json(&created)).into_response();
    if let Ok(location) =
        HeaderValue::from_str(&format!("/v1/import-schedules/{}", created.schedule_id))
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// The source, if the request's is usable; otherwise its problems are added.
fn check_source(source: &Source, state: &AppState, errors: &mut Vec<FieldError>) -> Option<Source> {
    let checked = match source {
        Source::Url { url } => check_user_url(url, state.settings.schedules.egress)
            .map_err(|reason| ("source.url", "invalid_url", reason)),
        Source::TokenProxy { provider, path } => match state.fetcher.proxy_base() {
            None => Err((
                "source.kind",
                "token_proxy_not_configured",
                "this importer is not set up to fetch through auth's token proxy \
                 (IMPORTER_TOKEN_PROXY_URL); fetch from a URL"
                    .to_owned(),
            )),
            Some(base) => proxy_url(base, provider, path)
                .map(drop)
                .map_err(|reason| ("source.path", "invalid_path", reason)),
        },
    };
    match checked {
        Ok(()) => Some(source.clone()),
        Err((field, code, reason)) => {
            errors.push(FieldError::new(field, code, &reason));
            None
        }
    }
}

/// A URL the importer will call on the user's behalf: http(s), no credentials,
/// not an address the egress policy forbids, at most [`MAX_URL_CHARS`].
fn check_user_url(url: &str, policy: EgressPolicy) -> Result<(), String> {
    if url.chars().count() > MAX_URL_CHARS {
        return Err(format!("at most {MAX_URL_CHARS} characters"));
    }
    let parsed = Url::parse(url).map_err(|error| format!("not an absolute URL: {error}"))?;
    egress::check_url(&parsed, policy).map_err(|refused| refused.to_string())
}

#[derive(Serialize)]
struct ScheduleList {
    schedules: Vec<Schedule>,
}

/// `GET /v1/import-schedules`: my schedules, oldest first (all of them; there
/// are at most `IMPORTER_MAX_SCHEDULES`).
async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<ScheduleList>, Problem> {
    let schedules = store::list(&state.pool, user.user_id)
        .await
        .map_err(Problem::internal)?;
    Ok(Json(ScheduleList { schedules }))
}

/// `GET /v1/import-schedules/{id}`.
async fn fetch_one(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw_id): Path<String>,
) -> Result<Json<Schedule>, Problem> {
    store::get(&state.pool, user.user_id, path_id(&raw_id)?)
        .await
        .map_err(Problem::internal)?
        .map(Json)
        .ok_or_else(Problem::not_found)
}

/// `DELETE /v1/import-schedules/{id}`: 204; a run already started goes on.
async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw_id): Path<String>,
) -> Result<StatusCode, Problem> {
    if store::delete(&state.pool, user.user_id, path_id(&raw_id)?)
        .await
        .map_err(Problem::internal)?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found())
    }
}

/// `POST /v1/import-schedules/{id}/run`: 202; the schedule is due now and runs
/// within moments (or skips the run if its previous one is still going).
async fn run_now(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(raw_id): Path<String>,
) -> Result<(StatusCode, Json<Schedule>), Problem> {
    let schedule = store::run_now(&state.pool, user.user_id, path_id(&raw_id)?)
        .await
        .map_err(Problem::internal)?
        .ok_or_else(Problem::not_found)?;
    state.wakers.scheduler.notify_one();
    Ok((StatusCode::ACCEPTED, Json(schedule)))
}
