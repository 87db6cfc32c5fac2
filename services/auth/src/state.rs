//! What every handler of the service shares.

use std::{
    net::{IpAddr, Ipv6Addr, SocketAddr},
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::{HeaderName, request::Parts},
};
use six_kit::auth::TokenVerifier;
use sqlx::PgPool;

use crate::{
    clients::ServiceClients, password::Passwords, refresh::RefreshTokens, throttle::LoginThrottle,
    tokens::TokenIssuer,
};

/// The service's state, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The `auth` database.
    pub pool: PgPool,
    /// argon2id hashing.
    pub passwords: Passwords,
    /// Access token signing.
    pub tokens: TokenIssuer,
    /// Access token verification, against the keys auth signs with.
    pub verifier: TokenVerifier,
    /// Refresh token families.
    pub refresh: RefreshTokens,
    /// Login throttling.
    pub throttle: LoginThrottle,
    /// Clients of the client credentials grant.
    pub clients: Arc<ServiceClients>,
    /// Where the client address comes from, behind a proxy.
    pub client_address_header: Option<HeaderName>,
}

impl FromRef<AppState> for TokenVerifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// The client's IP address: the last entry of the configured header (set by the
/// trusted proxy in front), else the TCP peer.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let from_header = state
            .client_address_header
            .as_ref()
            .and_then(|name| parts.headers.get(name))
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').next())
            .and_then(|last| last.trim().parse::<IpAddr>().ok());
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip());
        // Without either (a router driven in-process), all requests share one key.
        Ok(Self(
            from_header
                .or(peer)
                .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        ))
    }
}
