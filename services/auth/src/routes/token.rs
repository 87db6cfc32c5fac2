//! `POST /v1/token`: service tokens by the OAuth 2.0 client credentials grant
//! (RFC 6749 §4.4), with the client's credentials in HTTP Basic or in the form.

use axum::{
    Form, Router,
    extract::{State, rejection::FormRejection},
    http::{HeaderMap, StatusCode, header},
    routing::post,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde::Deserialize;
use six_kit::http::{Json, Problem};

use crate::{
    state::AppState,
    tokens::{AccessToken, TokenKind},
};

/// The token route.
pub fn router() -> Router<AppState> {
    Router::new().route("/v1/token", post(token))
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: String,
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[tracing::instrument(skip_all)]
async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Result<Json<AccessToken>, Problem> {
    let Form(request) = form.map_err(|rejection| Problem::malformed(rejection.body_text()))?;
    if request.grant_type != "client_credentials" {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant type",
        )
        .with_detail("only grant_type=client_credentials is supported"));
    }
    let (client_id, secret) = basic_credentials(&headers)
        .or_else(|| request.client_id.zip(request.client_secret))
        .ok_or_else(invalid_client)?;
    if !state.clients.authenticate(&client_id, &secret) {
        tracing::warn!(client_id, "service token refused");
        return Err(invalid_client());
    }
    let token = state
        .tokens
        .issue(&client_id, TokenKind::Service)
        .map_err(Problem::internal)?;
    tracing::info!(client_id, "service token issued");
    Ok(Json(token))
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (client_id, secret) = decoded.split_once(':')?;
    Some((client_id.to_owned(), secret.to_owned()))
}

fn invalid_client() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "Unknown client or wrong secret",
    )
}
