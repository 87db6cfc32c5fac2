//! The current token of one provider, and the single fetch that replaces it.
//!
//! At most one token request per provider is in flight at any time: whoever finds
//! no usable token (a caller, the refresher, a retry after a 401) starts it, and
//! everyone arriving meanwhile awaits that same request. The request runs in its
//! own task, so it completes (and its token is cached) even if the caller that
//! started it goes away.

use std::{
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use futures_util::{
    FutureExt,
    future::{BoxFuture, Shared},
};
use reqwest::header::HeaderValue;
use tokio::sync::watch;

use super::token_endpoint::{IssuedToken, TokenEndpoint, TokenError};

/// Lifetime assumed for a token whose answer has no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// A token stops being handed out this long before it expires, so it does not
/// expire on its way to the API: a tenth of its lifetime, at most this much.
const MAX_EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// Refreshes never come sooner than this after the previous token was requested,
/// whatever the lifetime, so a provider issuing very short tokens cannot make the
/// refresher spin.
const MIN_REFRESH_DELAY: Duration = Duration::from_secs(1);

type SharedFetch = Shared<BoxFuture<'static, Result<CachedToken, TokenError>>>;

/// One provider's token and the fetch replacing it, if any.
#[derive(Debug)]
pub(super) struct TokenCache {
    endpoint: TokenEndpoint,
    state: Mutex<State>,
    /// When the current token should be refreshed; `None` until the first token.
    refresh_due: watch::Sender<Option<Instant>>,
}

#[derive(Default)]
struct State {
    current: Option<CachedToken>,
    in_flight: Option<SharedFetch>,
    /// Tokens obtained so far; numbers each one.
    obtained: u64,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("current", &self.current)
            .field("fetching", &self.in_flight.is_some())
            .field("obtained", &self.obtained)
            .finish()
    }
}

/// A token ready to attach to a request.
#[derive(Debug, Clone)]
pub(super) struct CachedToken {
    /// Which token this is (1 for the first obtained); lets a 401 reject exactly
    /// the token it was answered to.
    pub(super) generation: u64,
    /// `Bearer <access token>`, marked sensitive so it never prints.
    pub(super) bearer: HeaderValue,
    /// Handed out until then.
    usable_until: Instant,
    /// Replaced in the background from then on.
    refresh_at: Instant,
}

impl TokenCache {
    pub(super) fn new(endpoint: TokenEndpoint) -> Self {
        Self {
            endpoint,
            state: Mutex::new(State::default()),
            refresh_due: watch::Sender::new(None),
        }
    }

    /// When the current token is due for a refresh, updated with every new token.
    pub(super) fn refresh_due(&self) -> watch::Receiver<Option<Instant>> {
        self.refresh_due.subscribe()
    }

    /// The cached token while it is usable; otherwise the result of the token
    /// request in flight, started if there is none.
    pub(super) async fn token(self: &Arc<Self>) -> Result<CachedToken, TokenError> {
        let fetch = {
            let mut state = self.lock();
            if let Some(token) = state
                .current
                .as_ref()
                .filter(|token| Instant::now() < token.usable_until)
            {
                return Ok(token.clone());
            }
            self.start_or_join(&mut state)
        };
        fetch.await
    }

    /// A new token, from the request in flight or a new one; the cached token stays
    /// in use meanwhile, and stays if the request fails.
    pub(super) async fn refresh(self: &Arc<Self>) -> Result<CachedToken, TokenError> {
        let fetch = {
            let mut state = self.lock();
            self.start_or_join(&mut state)
        };
        fetch.await
    }

    /// Stops handing out token `generation` (the API refused it); a newer token,
    /// already cached, is kept.
    pub(super) fn reject(&self, generation: u64) {
        let mut state = self.lock();
        if state
            .current
            .as_ref()
            .is_some_and(|token| token.generation == generation)
        {
            state.current = None;
        }
    }

    fn start_or_join(self: &Arc<Self>, state: &mut State) -> SharedFetch {
        // A finished fetch still registered means its task died before it could
        // unregister it (a panic): start afresh rather than repeat its failure.
        if let Some(fetch) = state
            .in_flight
            .as_ref()
            .filter(|fetch| fetch.peek().is_none())
        {
            return fetch.clone();
        }
        let cache = Arc::clone(self);
        let task = tokio::spawn(async move { cache.fetch_and_store().await });
        let fetch = async move { task.await.unwrap_or(Err(TokenError::Interrupted)) }
            .boxed()
            .shared();
        state.in_flight = Some(fetch.clone());
        fetch
    }

    async fn fetch_and_store(&self) -> Result<CachedToken, TokenError> {
        let issued = self.endpoint.request().await;
        let mut state = self.lock();
        state.in_flight = None;
        let issued = issued?;
        state.obtained += 1;
        let token = CachedToken::new(state.obtained, issued, fastrand::f64());
        state.current = Some(token.clone());
        drop(state);
        self.refresh_due.send_replace(Some(token.refresh_at));
        Ok(token)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; if something did, the state is
        // still consistent (each field is replaced whole).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl CachedToken {
    /// Schedules `issued`: refreshed once half its lifetime plus up to a tenth more
    /// (`jitter` in `[0, 1)`) has passed, handed out until shortly before it expires.
    fn new(generation: u64, issued: IssuedToken, jitter: f64) -> Self {
        let lifetime = issued.lifetime.unwrap_or(DEFAULT_LIFETIME);
        let margin = (lifetime / 10).min(MAX_EXPIRY_MARGIN);
        let refresh_after = lifetime
            .mul_f64(0.5 + 0.1 * jitter.clamp(0.0, 1.0))
            .max(MIN_REFRESH_DELAY);
        Self {
            generation,
            bearer: issued.bearer,
            usable_until: issued.requested_at + (lifetime - margin),
            refresh_at: issued.requested_at + refresh_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued(lifetime: Option<Duration>, requested_at: Instant) -> IssuedToken {
        IssuedToken {
            bearer: HeaderValue::from_static("Bearer t"),
            lifetime,
            requested_at,
        }
    }

    #[test]
    fn a_token_is_refreshed_between_half_and_six_tenths_of_its_lifetime() {
        let now = Instant::now();
        let lifetime = Duration::from_secs(3600);

        let earliest = CachedToken::new(1, issued(Some(lifetime), now), 0.0);
        let latest = CachedToken::new(1, issued(Some(lifetime), now), 0.999);

        assert_eq!(earliest.refresh_at, now + Duration::from_secs(1800));
        assert!(latest.refresh_at > now + Duration::from_secs(2155));
        assert!(latest.refresh_at < now + Duration::from_secs(2160));
    }

    #[test]
    fn a_token_is_handed_out_until_shortly_before_it_expires() {
        let now = Instant::now();

        let short = CachedToken::new(1, issued(Some(Duration::from_secs(10)), now), 0.5);
        let long = CachedToken::new(1, issued(Some(Duration::from_secs(3600)), now), 0.5);

        assert_eq!(short.usable_until, now + Duration::from_secs(9));
        assert_eq!(long.usable_until, now + Duration::from_secs(3570));
    }

    #[test]
    fn a_token_without_lifetime_is_assumed_to_live_five_minutes() {
        let now = Instant::now();

        let token = CachedToken::new(1, issued(None, now), 0.0);

        assert_eq!(token.refresh_at, now + Duration::from_secs(150));
        assert_eq!(token.usable_until, now + Duration::from_secs(270));
    }

    #[test]
    fn a_very_short_lifetime_never_schedules_refreshes_back_to_back() {
        let now = Instant::now();

        let token = CachedToken::new(1, issued(Some(Duration::ZERO), now), 0.0);

        assert_eq!(token.refresh_at, now + MIN_REFRESH_DELAY);
    }
}
