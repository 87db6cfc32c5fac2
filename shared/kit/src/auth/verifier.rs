//! [`TokenVerifier`]: checks access tokens against auth's keys, which it caches.
//!
//! Auth itself verifies against the keys it signs with
//! ([`TokenVerifier::with_key_set`]); every other service fetches them
//! ([`TokenVerifier::start`]). The key set is fetched once at start, again in the
//! background when it is older than `AUTH_JWKS_REFRESH_SECS`, and again when a
//! token names a key it does not have (rotation), at most once per
//! `AUTH_JWKS_MIN_REFETCH_MS` so that made-up key ids cannot flood auth. Fetches
//! never overlap: requests that need one while it runs wait for it and use its
//! result. A failed fetch keeps the previous set, so tokens keep verifying while
//! auth is down.
//!
//! Tokens that verified are remembered until they expire (see `verified_cache`),
//! so a client's later requests with the same token skip the signature check.

use std::{
    sync::{Arc, PoisonError, RwLock, Weak},
    time::Duration,
};

use jsonwebtoken::{DecodingKey, Validation};
use tokio::{sync::Mutex, time::Instant};
use tokio_util::sync::CancellationToken;

use super::{
    AuthConfig, DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES,
    claims::{self, read_header},
    error::{TokenError, echoed},
    keys::{self, JwksError, KeySet},
    token::VerifiedToken,
    verified_cache::VerifiedCache,
};

/// The HTTP client could not be built (TLS backend initialisation).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client for auth: {0}")]
pub struct HttpClientError(#[from] reqwest::Error);

/// Verifies access tokens (see the module documentation). Cheap to clone: clones
/// share the key cache. The background refresh stops when the last clone is
/// dropped.
///
/// Handlers get it through state: the extractors in [`crate::auth`] need
/// `TokenVerifier: FromRef<S>`.
#[derive(Clone)]
pub struct TokenVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    validation: Validation,
    /// Replaced whole by each successful fetch; readers clone a key out.
    keys: RwLock<Arc<KeySet>>,
    /// Tokens verified before, until they expire.
    verified: VerifiedCache,
    /// Where the keys are fetched from; `None` for a fixed set.
    remote: Option<Remote>,
}

/// The fetching side of a verifier started with [`TokenVerifier::start`].
struct Remote {
    config: AuthConfig,
    http: reqwest::Client,
    /// Held for the whole of each fetch: that is what makes fetches single-flight.
    fetches: Mutex<FetchLog>,
    stop_refresh: CancellationToken,
}

/// When the key set was last fetched, for the refresh schedule and the rate limit.
struct FetchLog {
    /// Last attempt of any kind, successful or not.
    last_attempt: Instant,
    /// Last attempt caused by an unknown `kid`.
    last_unknown_kid_attempt: Option<Instant>,
}

impl TokenVerifier {
    /// Fetches the key set once and starts refreshing it in the background. A
    /// failed first fetch is logged, not returned: the service starts anyway, and
    /// the first token fetches again (answering 503 `token_keys_unavailable` until
    /// a fetch succeeds).
    pub async fn start(config: AuthConfig) -> Result<Self, HttpClientError> {
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .connect_timeout(config.http_timeout)
            .build()?;
        let stop_refresh = CancellationToken::new();
        let inner = Arc::new(Inner {
            validation: claims::validation(&config.issuer, &config.audience, config.clock_skew),
            keys: RwLock::new(Arc::new(KeySet::default())),
            verified: VerifiedCache::new(
                config.verified_token_cache_entries,
                config.clock_skew.as_secs(),
            ),
            remote: Some(Remote {
                http,
                fetches: Mutex::new(FetchLog {
                    last_attempt: Instant::now(),
                    last_unknown_kid_attempt: None,
                }),
                stop_refresh: stop_refresh.clone(),
                config,
            }),
        });
        if let Some(remote) = &inner.remote {
            let mut log = remote.fetches.lock().await;
            inner.fetch(remote, &mut log).await;
        }
        tokio::spawn(refresh_periodically(Arc::downgrade(&inner), stop_refresh));
        Ok(Self { inner })
    }

    /// A verifier over a fixed key set (a JWKS document), which it never fetches:
    /// auth's own, since auth holds the keys it signs with. It checks exactly what
    /// [`TokenVerifier::start`] checks; a token naming a key outside the set is
    /// refused as an unknown key. Up to [`DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES`]
    /// verified tokens are remembered.
    pub fn with_key_set(
        issuer: &str,
        audience: &str,
        clock_skew: Duration,
        jwks: &[u8],
    ) -> Result<Self, JwksError> {
        Ok(Self {
            inner: Arc::new(Inner {
                validation: claims::validation(issuer, audience, clock_skew),
                keys: RwLock::new(Arc::new(keys::parse(jwks)?)),
                verified: VerifiedCache::new(
                    DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES,
                    clock_skew.as_secs(),
                ),
                remote: None,
            }),
        })
    }

    /// Verifies `token` (the part after `Bearer `): header, key, signature and
    /// claims, as in `docs/tokens.md`. Only waits when the token names a key that
    /// is not cached yet.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        let digest = self.inner.verified.digest(token);
        if let Some(digest) = &digest
            && let Some(verified) = self.inner.verified.get(digest, now_secs())
        {
            return Ok(verified);
        }
        let generation = self.inner.verified.generation();
        let header = read_header(token)?;
        let key = match (self.inner.cached_key(&header.kid), &self.inner.remote) {
            (Some(key), _) => key,
            (None, Some(remote)) => self.inner.key_after_refetch(remote, &header.kid).await?,
            (None, None) => {
                return Err(TokenError::UnknownKeyId {
                    kid: echoed(&header.kid),
                });
            }
        };
        let verified = claims::verify_with_key(token, &key, &self.inner.validation)?;
        if let Some(digest) = digest {
            self.inner
                .verified
                .insert(digest, &verified, now_secs(), generation);
        }
        Ok(verified)
    }
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field(
                "jwks_url",
                &self
                    .inner
                    .remote
                    .as_ref()
                    .map(|remote| &remote.config.jwks_url),
            )
            .field("keys", &self.inner.current_keys().len())
            .finish()
    }
}

impl Inner {
    fn current_keys(&self) -> Arc<KeySet> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn cached_key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(kid)
    }

    /// The key named by a token that the cache does not have: fetches the set
    /// again unless the last such fetch is too recent.
    async fn key_after_refetch(
        &self,
        remote: &Remote,
        kid: &str,
    ) -> Result<Arc<DecodingKey>, TokenError> {
        let mut log = remote.fetches.lock().await;
        // A fetch may have completed while this request waited for the lock.
        if let Some(key) = self.cached_key(kid) {
            return Ok(key);
        }
        let min_interval = remote.config.jwks_min_refetch_interval;
        let rate_limited = log
            .last_unknown_kid_attempt
            .is_some_and(|at| at.elapsed() < min_interval);
        if rate_limited {
            tracing::debug!(kid = %echoed(kid), "unknown kid, jwks refetch rate limited");
        } else {
            log.last_unknown_kid_attempt = Some(Instant::now());
            tracing::info!(kid = %echoed(kid), "unknown kid, fetching the jwks again");
            self.fetch(remote, &mut log).await;
            if let Some(key) = self.cached_key(kid) {
                return Ok(key);
            }
        }
        if self.current_keys().is_empty() {
            let next_attempt = log
                .last_unknown_kid_attempt
                .map_or(min_interval, |at| min_interval.saturating_sub(at.elapsed()));
            return Err(TokenError::KeysUnavailable {
                retry_after_secs: next_attempt.as_secs().max(1),
            });
        }
        Err(TokenError::UnknownKeyId { kid: echoed(kid) })
    }

    /// Fetches the key set; on failure keeps the current one. The caller holds
    /// the fetch lock (`log`), so fetches never overlap.
    async fn fetch(&self, remote: &Remote, log: &mut FetchLog) {
        log.last_attempt = Instant::now();
        match keys::fetch(&remote.http, &remote.config.jwks_url).await {
            Ok(fetched) => {
                tracing::info!(keys = fetched.len(), "jwks fetched");
                let previous = std::mem::replace(
                    &mut *self.keys.write().unwrap_or_else(PoisonError::into_inner),
                    Arc::new(fetched),
                );
                if !self.current_keys().keeps_every_key_of(&previous) {
                    tracing::info!("a key left the key set; forgetting verified tokens");
                    self.verified.clear();
                }
            }
            Err(error) => tracing::warn!(
                error = %error,
                url = %remote.config.jwks_url,
                keys_kept = self.current_keys().len(),
                "jwks fetch failed, keeping the previous keys"
            ),
        }
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        self.stop_refresh.cancel();
    }
}

/// Fetches the key set whenever the last fetch is older than the refresh interval.
/// Holds the verifier only while fetching, so dropping the last clone stops it.
async fn refresh_periodically(inner: Weak<Inner>, stop: CancellationToken) {
    loop {
        let due = {
            let Some(inner) = inner.upgrade() else { return };
            let Some(remote) = &inner.remote else { return };
            let log = remote.fetches.lock().await;
            log.last_attempt + remote.config.jwks_refresh_interval
        };
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep_until(due) => {}
        }
        let Some(inner) = inner.upgrade() else { return };
        let Some(remote) = &inner.remote else { return };
        let mut log = remote.fetches.lock().await;
        if log.last_attempt.elapsed() >= remote.config.jwks_refresh_interval {
            inner.fetch(remote, &mut log).await;
        }
    }
}

/// Seconds since the Unix epoch, as token claims count time.
fn now_secs() -> u64 {
    jsonwebtoken::get_current_timestamp()
}
