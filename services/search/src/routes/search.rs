//! `GET /v1/search`: the viewer's contacts and the discoverable profiles that
//! match a few words, best first, with what matched marked.
//!
//! Parameters are read as text and checked here, so every bad value is a
//! problem+json 422 naming the parameter; nothing reaches the index unchecked.

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
    cursor::{self, CursorError},
    document::{Document, Field, Subject},
    index::{Filter, Page, SearchIndex, SearchQuery},
    text::{self, Fragment},
};

/// Longest `q` or filter value, in bytes.
pub const MAX_QUERY_BYTES: usize = 256;
/// Most terms in `q`.
pub const MAX_QUERY_TERMS: usize = 10;
/// Hits per page unless the client asks for another number.
pub const DEFAULT_LIMIT: usize = 20;
/// Most hits per page.
pub const MAX_LIMIT: usize = 100;

/// The search route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/search", get(search))
        .with_state(state)
}

#[derive(Debug, Deserialize)]
struct SearchParams {
    q: Option<String>,
    company: Option<String>,
    location: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// A page of hits.
#[derive(Debug, Serialize)]
struct SearchAnswer {
    hits: Vec<HitAnswer>,
    total: TotalAnswer,
    /// Pass as `cursor`, with the same `q` and filters, for the next page; `null`
    /// on the last.
    next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
struct HitAnswer {
    #[serde(flatten)]
    who: Who,
    full_name: String,
    emails: Vec<String>,
    company: Option<String>,
    title: Option<String>,
    location: Option<String>,
    score: f32,
    highlights: Vec<Highlight>,
}

/// What a hit is: one of the viewer's contacts, or a user's public profile.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Who {
    Contact { contact_id: Uuid },
    Profile { user_id: Uuid },
}

/// One value of a field that matched, cut into marked and unmarked fragments.
#[derive(Debug, Serialize)]
struct Highlight {
    field: &'static str,
    fragments: Vec<Fragment>,
}

#[derive(Debug, Serialize)]
struct TotalAnswer {
    value: u64,
    /// `eq` when `value` is exact, `gte` when it is a lower bound.
    relation: &'static str,
}

fn invalid(field: &str, code: &str, message: impl Into<String>) -> Problem {
    Problem::validation(vec![FieldError {
        field: field.to_owned(),
        code: code.to_owned(),
        message: message.into(),
    }])
}

/// The terms of a text parameter, checked for length.
fn terms_of(field: &str, value: Option<&str>) -> Result<Vec<String>, Problem> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    if value.len() > MAX_QUERY_BYTES {
        return Err(invalid(
            field,
            "too_long",
            format!("at most {MAX_QUERY_BYTES} bytes"),
        ));
    }
    Ok(text::terms(value)
        .into_iter()
        .map(|term| term.text)
        .collect())
}

/// A filter parameter: its terms, all required; present but without letters or
/// digits is an error, not "no filter".
fn filter_of(field: Field, value: Option<&str>) -> Result<Option<Filter>, Problem> {
    let terms = terms_of(field.name(), value)?;
    match (value, terms.is_empty()) {
        (None, _) => Ok(None),
        (Some(_), true) => Err(invalid(
            field.name(),
            "no_terms",
            "must contain a letter or a digit",
        )),
        (Some(_), false) => Ok(Some(Filter { field, terms })),
    }
}

/// The checked search, or a 422 naming every parameter at fault (the first
/// problem of each).
fn parse(viewer_id: Uuid, params: &SearchParams) -> Result<(SearchQuery, u64), Problem> {
    let terms = terms_of("q", params.q.as_deref())?;
    if terms.len() > MAX_QUERY_TERMS {
        return Err(invalid(
            "q",
            "too_many_terms",
            format!("at most {MAX_QUERY_TERMS} words"),
        ));
    }
    let filters: Vec<Filter> = [
        filter_of(Field::Company, params.company.as_deref())?,
        filter_of(Field::Location, params.location.as_deref())?,
    ]
    .into_iter()
    .flatten()
    .collect();
    if terms.is_empty() && filters.is_empty() {
        return Err(invalid(
            "q",
            "empty",
            "give words to search for (letters or digits), or a company or location filter",
        ));
    }
    let limit = match params.limit.as_deref().map(str::trim) {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<usize>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
            _ => {
                return Err(invalid(
                    "limit",
                    "out_of_range",
                    format!("a whole number from 1 to {MAX_LIMIT}"),
                ));
            }
        },
    };
    let fingerprint = cursor::fingerprint(&terms, &filters);
    let after = match params.cursor.as_deref() {
        None => None,
        Some(raw) => Some(cursor::decode(raw, fingerprint).map_err(|error| {
            let code = match error {
                CursorError::Malformed => "malformed",
                CursorError::OtherQuery => "other_query",
            };
            invalid("cursor", code, error.to_string())
        })?),
    };
    Ok((
        SearchQuery {
            viewer_id,
            terms,
            filters,
            limit,
            after,
        },
        fingerprint,
    ))
}

/// The highlights of a document: each shown value in which a query or filter term
/// matched.
fn highlights(document: &Document, query: &SearchQuery) -> Vec<Highlight> {
    let mut highlights = Vec::new();
    for field in Field::ALL {
        let filter_terms = query
            .filters
            .iter()
            .filter(|filter| filter.field == field)
            .flat_map(|filter| filter.terms.iter().cloned());
        let marked: Vec<String> = query.terms.iter().cloned().chain(filter_terms).collect();
        for value in document.values(field) {
            if let Some(fragments) = text::highlight(value, &marked) {
                highlights.push(Highlight {
                    field: field.name(),
                    fragments,
                });
            }
        }
    }
    highlights
}

fn answer(page: Page, query: &SearchQuery, fingerprint: u64) -> SearchAnswer {
    let next_cursor = page
        .more
        .then(|| page.hits.last())
        .flatten()
        .map(|last| cursor::encode(last.position, fingerprint));
    let hits = page
        .hits
        .into_iter()
        .map(|hit| {
            let highlights = highlights(&hit.document, query);
            let document = hit.document;
            HitAnswer {
                who: match document.subject {
                    Subject::Contact { contact_id, .. } => Who::Contact { contact_id },
                    Subject::Profile { user_id } => Who::Profile { user_id },
                },
                full_name: document.full_name,
                emails: document.emails,
                company: document.company,
                title: document.title,
                location: document.location,
                score: hit.position.score,
                highlights,
            }
        })
        .collect();
    SearchAnswer {
        hits,
        total: TotalAnswer {
            value: page.total.value,
            relation: if page.total.exact { "eq" } else { "gte" },
        },
        next_cursor,
    }
}

#[tracing::instrument(skip_all, fields(viewer_id = %viewer.user_id))]
async fn search(
    State(state): State<AppState>,
    viewer: CurrentUser,
    Query(params): Query<SearchParams>,
) -> Result<Json<SearchAnswer>, Problem> {
    let (query, fingerprint) = parse(viewer.user_id, &params)?;
    let page = state.indexes.search(query.clone()).await.map_err(|error| {
        if error.is_unavailable() {
            tracing::warn!(%error, "search index unavailable");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "index_unavailable",
                "The search index is unavailable",
            )
            .with_retry_after(1)
        } else {
            Problem::internal(error)
        }
    })?;
    Ok(Json(answer(page, &query, fingerprint)))
}
