//! HTTP routes, one module per capability, sharing [`AppState`].

use std::{collections::HashMap, sync::Arc};

use axum::extract::FromRef;
use six_events::importer::ImportFormat;
use six_kit::{
    auth::TokenVerifier,
    http::{FieldError, Problem},
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    formats::Field,
    jobs::{fetch::Fetcher, runner::parse_format},
    normalise::phone::Region,
    schedules::scheduler::Wakers,
};

use crate::settings::Settings;

pub mod contacts;
pub mod imports;
pub mod schedules;

/// What every route shares.
#[derive(Clone)]
pub struct AppState {
    /// The `importer` database.
    pub pool: PgPool,
    /// The service's settings.
    pub settings: Arc<Settings>,
    /// Wakes the runners when a job is queued, the scheduler when a schedule
    /// is made due.
    pub wakers: Wakers,
    /// Fetches scheduled runs' files (the routes check sources against it).
    pub fetcher: Arc<Fetcher>,
    /// Verifies access tokens.
    pub verifier: TokenVerifier,
}

impl FromRef<AppState> for TokenVerifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// The page size asked for (`limit`), or `default`; 422 outside 1 to `max`.
fn page_limit(limit: Option<i64>, default: i64, max: i64) -> Result<i64, Problem> {
    let limit = limit.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(Problem::validation(vec![FieldError {
            field: "limit".to_owned(),
            code: "invalid_limit".to_owned(),
            message: format!("must be between 1 and {max}"),
        }]))
    }
}

/// The id in a path: what is not a UUID cannot be one of the caller's, so 404.
fn path_id(raw: &str) -> Result<Uuid, Problem> {
    Uuid::parse_str(raw).map_err(|_| Problem::not_found())
}

/// Checks how a file is to be read (an upload's query, a schedule's body): the
/// `format` name, the phone `region`, the column `mapping` as JSON text. Adds
/// what is wrong to `errors`; returns the mapping as JSON.
fn check_read_options(
    format: Option<&str>,
    region: Option<&str>,
    mapping: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<serde_json::Value> {
    if let Some(format) = format
        && !matches!(parse_format(format), Some(format) if format != ImportFormat::Generic)
    {
        errors.push(FieldError::new(
            "format",
            "invalid_format",
            "must be linkedin, google or outlook (or absent to detect it; give a mapping for any other CSV)",
        ));
    }
    if let Some(region) = region
        && let Err(invalid) = Region::parse(region)
    {
        errors.push(FieldError::new(
            "region",
            invalid.code(),
            invalid.to_string(),
        ));
    }
    if format.is_some() && mapping.is_some() {
        errors.push(FieldError::new(
            "mapping",
            "invalid_mapping",
            "give a format or a mapping, not both",
        ));
    }
    let raw = mapping?;
    match serde_json::from_str::<HashMap<String, Field>>(raw) {
        Ok(fields) if fields.is_empty() => {
            errors.push(FieldError::new(
                "mapping",
                "invalid_mapping",
                "maps no column",
            ));
            None
        }
        Ok(_) => serde_json::from_str::<serde_json::Value>(raw).ok(),
        Err(error) => {
            errors.push(FieldError::new(
                "mapping",
                "invalid_mapping",
                format!("must be a JSON object of column name to field: {error}"),
            ));
            None
        }
    }
}
