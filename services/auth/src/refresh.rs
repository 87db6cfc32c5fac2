//! Refresh tokens: opaque, stored as SHA-256 digests, replaced on every use.
//!
//! A login starts a family. Each refresh replaces the family's current token with a
//! new one; presenting a replaced token again means it was copied, so the whole
//! family is revoked and neither holder can go on. Logout revokes the family.

use std::time::Duration;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Random bytes in a refresh token.
const TOKEN_BYTES: usize = 32;

/// Why a refresh token was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Unknown, expired or of a revoked family.
    #[error("the refresh token is not valid")]
    Invalid,
    /// Already exchanged: the family is now revoked.
    #[error("the refresh token was already used; every session of its login is revoked")]
    Reused,
    /// The database failed.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Why a family was revoked (stored for the audit trail).
#[derive(Debug, Clone, Copy)]
pub enum Revocation {
    /// The user logged out.
    Logout,
    /// A replaced token was presented again.
    Reuse,
    /// The password changed: every session ends.
    PasswordChanged,
}

impl Revocation {
    fn as_str(self) -> &'static str {
        match self {
            Revocation::Logout => "logout",
            Revocation::Reuse => "reuse",
            Revocation::PasswordChanged => "password_changed",
        }
    }
}

/// Issues, rotates and revokes refresh tokens.
#[derive(Clone)]
pub struct RefreshTokens {
    lifetime: Duration,
}

impl RefreshTokens {
    /// Tokens valid for `lifetime` each.
    pub fn new(lifetime: Duration) -> Self {
        Self { lifetime }
    }

    /// Seconds a new token stays valid.
    pub fn lifetime_secs(&self) -> u64 {
        self.lifetime.as_secs()
    }

    /// Starts a family for `user_id` (a login) and returns its first token.
    pub async fn start_family(
        &self,
        transaction: &mut PgConnection,
        user_id: Uuid,
    ) -> Result<String, sqlx::Error> {
        let family_id = Uuid::now_v7();
        sqlx::query("INSERT INTO refresh_families (family_id, user_id) VALUES ($1, $2)")
            .bind(family_id)
            .bind(user_id)
            .execute(&mut *transaction)
            .await?;
        self.add_token(transaction, family_id).await
    }

    /// Exchanges `presented` for a new token of the same family; returns the user
    /// and the new token.
    pub async fn rotate(
        &self,
        pool: &PgPool,
        presented: &str,
    ) -> Result<(Uuid, String), RefreshError> {
        let mut transaction = pool.begin().await?;
        let row: Option<(Uuid, Uuid, bool, bool, bool)> = sqlx::query_as(
            "SELECT f.family_id, f.user_id, f.revoked_at IS NOT NULL, \
                    t.replaced_at IS NOT NULL, t.expires_at <= now() \
             FROM refresh_tokens t JOIN refresh_families f USING (family_id) \
             WHERE t.token_digest = $1 \
             FOR UPDATE OF t, f",
        )
        .bind(digest(presented))
        .fetch_optional(&mut *transaction)
        .await?;
        let Some((family_id, user_id, revoked, replaced, expired)) = row else {
            return Err(RefreshError::Invalid);
        };
        if revoked {
            return Err(RefreshError::Invalid);
        }
        if replaced {
            revoke(&mut transaction, family_id, Revocation::Reuse).await?;
            transaction.commit().await?;
            tracing::warn!(%user_id, %family_id, "refresh token reused; family revoked");
            return Err(RefreshError::Reused);
        }
        if expired {
            return Err(RefreshError::Invalid);
        }
        sqlx::query("UPDATE refresh_tokens SET replaced_at = now() WHERE token_digest = $1")
            .bind(digest(presented))
            .execute(&mut *transaction)
            .await?;
        let next = self.add_token(&mut transaction, family_id).await?;
        transaction.commit().await?;
        Ok((user_id, next))
    }

    /// Revokes the family of `presented`, if it is one of ours; returns whether it was.
    pub async fn revoke_family_of(
        &self,
        pool: &PgPool,
        presented: &str,
        why: Revocation,
    ) -> Result<bool, sqlx::Error> {
        let revoked = sqlx::query(
            "UPDATE refresh_families SET revoked_at = now(), revoked_why = $2 \
             WHERE revoked_at IS NULL AND family_id = \
                 (SELECT family_id FROM refresh_tokens WHERE token_digest = $1)",
        )
        .bind(digest(presented))
        .bind(why.as_str())
        .execute(pool)
        .await?;
        Ok(revoked.rows_affected() > 0)
    }

    /// Revokes every family of `user_id`.
    pub async fn revoke_all(
        &self,
        transaction: &mut PgConnection,
        user_id: Uuid,
        why: Revocation,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE refresh_families SET revoked_at = now(), revoked_why = $2 \
             WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(why.as_str())
        .execute(transaction)
        .await?;
        Ok(())
    }

    async fn add_token(
        &self,
        transaction: &mut PgConnection,
        family_id: Uuid,
    ) -> Result<String, sqlx::Error> {
        let mut bytes = [0_u8; TOKEN_BYTES];
        OsRng.fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let lifetime_secs = self.lifetime.as_secs_f64();
        sqlx::query(
            "INSERT INTO refresh_tokens (token_digest, family_id, expires_at) \
             VALUES ($1, $2, now() + make_interval(secs => $3))",
        )
        .bind(digest(&token))
        .bind(family_id)
        .bind(lifetime_secs)
        .execute(transaction)
        .await?;
        Ok(token)
    }
}

async fn revoke(
    transaction: &mut PgConnection,
    family_id: Uuid,
    why: Revocation,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE refresh_families SET revoked_at = now(), revoked_why = $2 WHERE family_id = $1",
    )
    .bind(family_id)
    .bind(why.as_str())
    .execute(transaction)
    .await?;
    Ok(())
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
