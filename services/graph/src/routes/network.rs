//! The questions a user asks about their network: path, mutual connections,
//! suggestions, statistics, ego network. The viewer is the token's user; the
//! answers follow the privacy rule of [`crate::network`].
//!
//! Query parameters are read as text and checked here, so every bad value is a
//! problem+json 422 naming the parameter.

use axum::{
    Router,
    extract::{Query, State},
    http::StatusCode,
    routing::get,
};
use serde::{Deserialize, Serialize};
use six_kit::{
    auth::CurrentUser,
    http::{FieldError, Json, Problem},
};
use uuid::Uuid;

use super::AppState;
use crate::{
    identity::IdentityKey,
    network::{
        self, EgoNetwork, MAX_HOPS, NetworkError, NetworkStats, PathAnswer, ShownPerson, Suggestion,
    },
    store::{GraphStore, Target, Viewer},
};

/// Suggestions per answer unless the client asks for fewer.
const DEFAULT_SUGGESTIONS: usize = 20;
/// Most suggestions per answer.
const MAX_SUGGESTIONS: usize = 100;

/// The network routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/graph/path", get(path))
        .route("/v1/graph/mutuals", get(mutuals))
        .route("/v1/graph/suggestions", get(suggestions))
        .route("/v1/graph/stats", get(stats))
        .route("/v1/graph/ego", get(ego))
        .with_state(state)
}

/// Whom a question is about: exactly one of the three.
#[derive(Debug, Deserialize)]
struct TargetParams {
    email: Option<String>,
    person_id: Option<String>,
    user_id: Option<String>,
    max_hops: Option<String>,
}

fn invalid(field: &str, code: &str, message: impl Into<String>) -> Problem {
    Problem::validation(vec![FieldError {
        field: field.to_owned(),
        code: code.to_owned(),
        message: message.into(),
    }])
}

/// A whole-number parameter: `default` when absent, else a value of `range`, or a
/// 422 naming `field` with `code`.
fn whole_number<T>(
    raw: Option<&str>,
    default: T,
    range: std::ops::RangeInclusive<T>,
    (field, code): (&str, &str),
) -> Result<T, Problem>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let Some(raw) = raw else {
        return Ok(default);
    };
    match raw.trim().parse::<T>() {
        Ok(value) if range.contains(&value) => Ok(value),
        _ => Err(invalid(
            field,
            code,
            format!(
                "must be a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

fn target(params: &TargetParams) -> Result<Target, Problem> {
    let id = |field: &str, raw: &str| {
        Uuid::parse_str(raw.trim()).map_err(|_| invalid(field, "invalid_id", "must be a UUID"))
    };
    match (&params.email, &params.person_id, &params.user_id) {
        (Some(email), None, None) => IdentityKey::email(email)
            .map(Target::Key)
            .ok_or_else(|| invalid("email", "invalid_email", "must be an e-mail address")),
        (None, Some(person_id), None) => Ok(Target::Person(id("person_id", person_id)?)),
        (None, None, Some(user_id)) => Ok(Target::User(id("user_id", user_id)?)),
        _ => Err(invalid(
            "email",
            "target_required",
            "give exactly one of email, person_id, user_id",
        )),
    }
}

fn failed(error: NetworkError) -> Problem {
    match error {
        NetworkError::TooBroad { limit } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "search_too_broad",
            "The question reaches too many people",
        )
        .with_detail(format!(
            "more than {limit} people reached (GRAPH_MAX_VISITED); ask for fewer hops"
        )),
        NetworkError::Store(error) if error.is_unavailable() => {
            tracing::warn!(%error, "graph store unavailable");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "The graph store is unavailable",
            )
            .with_retry_after(1)
        }
        NetworkError::Store(error) => Problem::internal(error),
    }
}

/// The viewer, or `None` when the graph has no person for the user yet (nothing
/// imported, registration not yet seen): every answer is then empty.
async fn viewer(state: &AppState, user: CurrentUser) -> Result<Option<Viewer>, Problem> {
    state
        .store
        .viewer(user.user_id)
        .await
        .map_err(|error| failed(error.into()))
}

#[derive(Debug, Serialize)]
struct PathBody {
    connected: bool,
    /// Hops from the viewer to the target; absent when not connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    degree: Option<usize>,
    max_hops: u8,
    /// The viewer first, the target last; empty when not connected.
    path: Vec<ShownPerson>,
}

/// `GET /v1/graph/path?email=|person_id=|user_id=&max_hops=`: the shortest chain
/// from me to the target, or `connected: false` ("not connected within
/// `max_hops`"), which is also the answer for a target the graph does not know.
async fn path(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(params): Query<TargetParams>,
) -> Result<Json<PathBody>, Problem> {
    let target = target(&params)?;
    let max_hops = whole_number(
        params.max_hops.as_deref(),
        MAX_HOPS,
        1..=MAX_HOPS,
        ("max_hops", "invalid_max_hops"),
    )?;
    let answer = match viewer(&state, user).await? {
        Some(viewer) => network::path(&*state.store, &viewer, &target, max_hops, state.limits)
            .await
            .map_err(failed)?,
        None => PathAnswer::NotConnected,
    };
    Ok(Json(match answer {
        PathAnswer::Connected { chain } => PathBody {
            connected: true,
            degree: Some(chain.len() - 1),
            max_hops,
            path: chain,
        },
        PathAnswer::NotConnected => PathBody {
            connected: false,
            degree: None,
            max_hops,
            path: Vec::new(),
        },
    }))
}

#[derive(Debug, Serialize)]
struct MutualsBody {
    mutuals: Vec<ShownPerson>,
}

/// `GET /v1/graph/mutuals?email=|person_id=|user_id=`: the people both I and the
/// other person are connected to.
async fn mutuals(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(params): Query<TargetParams>,
) -> Result<Json<MutualsBody>, Problem> {
    let other = target(&params)?;
    let mutuals = match viewer(&state, user).await? {
        Some(viewer) => network::mutuals(&*state.store, &viewer, &other, state.limits)
            .await
            .map_err(failed)?,
        None => Vec::new(),
    };
    Ok(Json(MutualsBody { mutuals }))
}

#[derive(Debug, Deserialize)]
struct SuggestionParams {
    limit: Option<String>,
}

#[derive(Debug, Serialize)]
struct SuggestionsBody {
    suggestions: Vec<Suggestion>,
}

/// `GET /v1/graph/suggestions?limit=`: people I may know.
async fn suggestions(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(params): Query<SuggestionParams>,
) -> Result<Json<SuggestionsBody>, Problem> {
    let limit = whole_number(
        params.limit.as_deref(),
        DEFAULT_SUGGESTIONS,
        1..=MAX_SUGGESTIONS,
        ("limit", "invalid_limit"),
    )?;
    let suggestions = match viewer(&state, user).await? {
        Some(viewer) => network::suggestions(&*state.store, &viewer, limit, state.limits)
            .await
            .map_err(failed)?,
        None => Vec::new(),
    };
    Ok(Json(SuggestionsBody { suggestions }))
}

/// `GET /v1/graph/stats`: how many people I reach at degree 1, 2 and 3.
async fn stats(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<NetworkStats>, Problem> {
    let stats = match viewer(&state, user).await? {
        Some(viewer) => network::stats(&*state.store, &viewer, state.limits)
            .await
            .map_err(failed)?,
        None => NetworkStats {
            degree_1: 0,
            degree_2: 0,
            degree_3: 0,
        },
    };
    Ok(Json(stats))
}

/// `GET /v1/graph/ego`: my network to depth 2, at most `GRAPH_EGO_MAX_NODES`
/// nodes.
async fn ego(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<EgoNetwork>, Problem> {
    let ego = match viewer(&state, user).await? {
        Some(viewer) => network::ego(&*state.store, &viewer, state.limits)
            .await
            .map_err(failed)?,
        None => EgoNetwork {
            nodes: Vec::new(),
            edges: Vec::new(),
            node_cap: state.limits.ego_max_nodes,
            nodes_available: 0,
            truncated: false,
        },
    };
    Ok(Json(ego))
}
