//! Tokens already verified, until they expire.
//!
//! A client sends the same access token with every request for its whole lifetime
//! (15 minutes), and checking its Ed25519 signature costs ~45 µs of CPU while a
//! lookup costs ~1 µs. Entries are keyed by the SHA-256 of the whole token, so
//! only that exact token hits; they are only ever added after a full verification
//! succeeded, so refused tokens never take room. A hit is still checked against
//! `exp` (with the clock skew); an expired entry is dropped and the token
//! verified again, which refuses it with the usual reason.
//!
//! The cache is emptied whenever a key it may hold tokens of leaves the key set,
//! so removing a key from auth's JWKS still revokes its tokens at the next fetch.
//! Each emptying starts a new generation; a verification that began in an older
//! one (with a key that may just have left) does not add its token.
//! When full, expired entries are swept (at most once a second); if it is still
//! full, new tokens are verified but not added.

use std::{
    collections::HashMap,
    sync::{PoisonError, RwLock},
};

use sha2::{Digest, Sha256};

use super::token::VerifiedToken;

/// SHA-256 of a token: its key in the cache.
pub(crate) type TokenDigest = [u8; 32];

/// The verified tokens (see the module documentation).
#[derive(Debug)]
pub(crate) struct VerifiedCache {
    capacity: usize,
    clock_skew_secs: u64,
    state: RwLock<State>,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<TokenDigest, VerifiedToken>,
    /// When expired entries were last swept (seconds since the epoch).
    last_sweep_secs: u64,
    /// How many times the cache was emptied.
    generation: u64,
}

impl VerifiedCache {
    /// A cache of at most `capacity` tokens (0: nothing is cached).
    pub fn new(capacity: usize, clock_skew_secs: u64) -> Self {
        Self {
            capacity,
            clock_skew_secs,
            state: RwLock::new(State::default()),
        }
    }

    /// The key of `token`, or `None` when the cache is off.
    pub fn digest(&self, token: &str) -> Option<TokenDigest> {
        (self.capacity > 0).then(|| Sha256::digest(token.as_bytes()).into())
    }

    /// The verified token with `digest`, if cached and not expired at `now_secs`.
    pub fn get(&self, digest: &TokenDigest, now_secs: u64) -> Option<VerifiedToken> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let verified = state.entries.get(digest)?;
        (now_secs
            <= verified
                .expires_at_secs
                .saturating_add(self.clock_skew_secs))
        .then(|| verified.clone())
    }

    /// The current generation: take it before looking up the key a token is
    /// verified with, and give it to [`VerifiedCache::insert`].
    pub fn generation(&self) -> u64 {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .generation
    }

    /// Remembers a token that was just verified, unless the cache was emptied
    /// since `generation` was taken.
    pub fn insert(
        &self,
        digest: TokenDigest,
        verified: &VerifiedToken,
        now_secs: u64,
        generation: u64,
    ) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if state.generation != generation {
            return;
        }
        if state.entries.len() >= self.capacity && state.last_sweep_secs < now_secs {
            state.last_sweep_secs = now_secs;
            let skew = self.clock_skew_secs;
            state
                .entries
                .retain(|_, cached| now_secs <= cached.expires_at_secs.saturating_add(skew));
        }
        if state.entries.len() < self.capacity {
            state.entries.insert(digest, verified.clone());
        }
    }

    /// Forgets every token (a key left the key set).
    pub fn clear(&self) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        state.entries.clear();
        state.generation += 1;
    }

    /// How many tokens are cached.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .len()
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::auth::Principal;

    const NOW: u64 = 1_800_000_000;

    fn verified(expires_at_secs: u64) -> VerifiedToken {
        VerifiedToken {
            principal: Principal::User {
                user_id: Uuid::now_v7(),
            },
            token_id: Uuid::now_v7(),
            issued_at_secs: expires_at_secs - 900,
            expires_at_secs,
        }
    }

    #[test]
    fn a_cached_token_is_found_until_it_expires_plus_the_skew() {
        let cache = VerifiedCache::new(10, 30);
        let digest = cache.digest("token").unwrap();
        let token = verified(NOW + 60);
        cache.insert(digest, &token, NOW, 0);

        assert_eq!(cache.get(&digest, NOW), Some(token.clone()));
        assert_eq!(cache.get(&digest, NOW + 90), Some(token));
        assert_eq!(cache.get(&digest, NOW + 91), None);
        assert_eq!(cache.get(&cache.digest("other token").unwrap(), NOW), None);
    }

    #[test]
    fn a_full_cache_sweeps_expired_tokens_and_otherwise_adds_nothing() {
        let cache = VerifiedCache::new(2, 0);
        cache.insert(cache.digest("a").unwrap(), &verified(NOW + 10), NOW, 0);
        cache.insert(cache.digest("b").unwrap(), &verified(NOW + 1_000), NOW, 0);
        cache.insert(cache.digest("c").unwrap(), &verified(NOW + 1_000), NOW, 0);
        assert_eq!(cache.len(), 2, "full: c is not added");

        cache.insert(
            cache.digest("d").unwrap(),
            &verified(NOW + 1_000),
            NOW + 11,
            0,
        );

        assert_eq!(cache.get(&cache.digest("a").unwrap(), NOW + 11), None);
        assert!(cache.get(&cache.digest("d").unwrap(), NOW + 11).is_some());
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn a_cache_of_no_entries_is_off() {
        let cache = VerifiedCache::new(0, 30);

        assert_eq!(cache.digest("token"), None);
    }

    #[test]
    fn clearing_forgets_every_token() {
        let cache = VerifiedCache::new(10, 0);
        let digest = cache.digest("token").unwrap();
        cache.insert(digest, &verified(NOW + 60), NOW, 0);

        cache.clear();

        assert_eq!(cache.get(&digest, NOW), None);
    }

    #[test]
    fn a_token_verified_before_the_cache_was_emptied_is_not_added() {
        let cache = VerifiedCache::new(10, 0);
        let digest = cache.digest("token").unwrap();
        let generation = cache.generation();

        cache.clear();
        cache.insert(digest, &verified(NOW + 60), NOW, generation);

        assert_eq!(cache.get(&digest, NOW), None);
    }
}
