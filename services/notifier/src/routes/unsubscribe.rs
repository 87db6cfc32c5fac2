//! `/v1/unsubscribe?token=`: the link at the end of every e-mail. `GET` shows what
//! the link would turn off (one kind of e-mail, or from a daily digest every
//! e-mail) and a button; `POST` turns it off (RFC 8058: mail
//! clients post `List-Unsubscribe=One-Click` to the `List-Unsubscribe` URL).
//! `GET` changes nothing, because mail scanners open links on their own.

use axum::{
    Router,
    extract::{Query, State},
    response::Html,
    routing::get,
};
use serde::Deserialize;
use six_kit::http::Problem;

use super::AppState;
use crate::{
    delivery,
    messages::escape_html,
    notices::{Channel, Kind},
    preferences,
    unsubscribe::{Scope, Unsubscribe},
};

/// The unsubscribe routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/unsubscribe", get(confirm).post(unsubscribe))
        .with_state(state)
}

#[derive(Debug, Deserialize)]
struct TokenParam {
    token: Option<String>,
}

fn checked(state: &AppState, param: &TokenParam) -> Result<Unsubscribe, Problem> {
    param
        .token
        .as_deref()
        .and_then(|token| state.unsubscribe.check(token))
        .ok_or_else(|| {
            Problem::malformed(
                "the unsubscribe link is incomplete or was changed; use the link of the e-mail",
            )
        })
}

async fn confirm(
    State(state): State<AppState>,
    Query(param): Query<TokenParam>,
) -> Result<Html<String>, Problem> {
    let allowed = checked(&state, &param)?;
    let token = escape_html(param.token.as_deref().unwrap_or_default());
    Ok(Html(format!(
        "<!DOCTYPE html>\n<html><body>\n<p>Stop {}? \
         You will still see your notifications in the app unless you turn that off too.</p>\n\
         <form method=\"post\" action=\"?token={token}\">\
         <button type=\"submit\">Stop these e-mails</button></form>\n</body></html>\n",
        allowed.scope.describe()
    )))
}

#[tracing::instrument(skip_all)]
async fn unsubscribe(
    State(state): State<AppState>,
    Query(param): Query<TokenParam>,
) -> Result<Html<String>, Problem> {
    let allowed = checked(&state, &param)?;
    let mut transaction = state.pool.begin().await.map_err(Problem::internal)?;
    // Locked, so an erasure cannot slip in between; an erased user gets nothing
    // anyway, and the answer is the same.
    if super::lock_recipient(&mut transaction, allowed.user_id).await? {
        let kinds = match allowed.scope {
            Scope::Kind(kind) => vec![kind],
            Scope::AllEmail => Kind::ALL.to_vec(),
        };
        for kind in kinds {
            preferences::remove_channel(&mut transaction, allowed.user_id, kind, Channel::Email)
                .await
                .map_err(Problem::internal)?;
        }
        if allowed.scope == Scope::AllEmail {
            delivery::drop_held(&mut transaction, allowed.user_id)
                .await
                .map_err(Problem::internal)?;
        }
    }
    transaction.commit().await.map_err(Problem::internal)?;
    tracing::info!(user_id = %allowed.user_id, scope = ?allowed.scope, "e-mails unsubscribed");
    Ok(Html(format!(
        "<!DOCTYPE html>\n<html><body>\n<p>Done: no more {}.</p>\n</body></html>\n",
        allowed.scope.describe()
    )))
}
