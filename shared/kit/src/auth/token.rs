//! What a verified token says about its bearer.

use uuid::Uuid;

/// Who a verified token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A person signed in to Six Degrees (`kind` = `user`).
    User {
        /// The user id (`sub`).
        user_id: Uuid,
    },
    /// Another service, with the client credentials grant (`kind` = `service`).
    Service {
        /// The client id configured on auth (`sub`).
        client_id: String,
    },
}

/// An access token whose signature, issuer, audience, times and claims all
/// checked out. Holds no part of the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// Who the token was issued to.
    pub principal: Principal,
    /// The token's own id (`jti`), e.g. to revoke it or to correlate logs.
    pub token_id: Uuid,
    /// When it was issued (`iat`), in seconds since the Unix epoch.
    pub issued_at_secs: u64,
    /// When it expires (`exp`), in seconds since the Unix epoch.
    pub expires_at_secs: u64,
}
