//! The results of Keystone token validations, shared by every worker of the process.
//!
//! Both outcomes are kept: a valid token for `token_cache_time` but never past its
//! `expires_at`, an invalid one for `token_cache_time` (so a client retrying a bad token does not
//! cost a Keystone call each time). The map is bounded: when full, expired entries go first,
//! then the ones that would end soonest.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::keystone::TokenIdentity;

/// What Keystone said about a token.
#[derive(Debug, Clone)]
pub(crate) enum Validation {
    /// The token is valid: who it stands for.
    Valid(Arc<TokenIdentity>),
    /// Keystone does not know the token, or it is expired or revoked.
    Invalid,
}

struct Entry {
    validation: Validation,
    until: Instant,
}

/// A bounded token → [`Validation`] map.
pub(crate) struct TokenCache {
    ttl: Duration,
    capacity: usize,
    /// A std mutex: every section is a map operation, never held across an await.
    entries: Mutex<HashMap<String, Entry>>,
}

impl TokenCache {
    /// A cache keeping results `ttl`, holding at most `capacity` tokens.
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The cached result for `token`, if one is still current at `now`.
    pub(crate) fn get(&self, token: &str, now: Instant) -> Option<Validation> {
        let mut entries = self.lock();
        match entries.get(token) {
            Some(e) if e.until > now => Some(e.validation.clone()),
            Some(_) => {
                entries.remove(token);
                None
            }
            None => None,
        }
    }

    /// Records `validation` for `token` at `now`; a valid token is kept no longer than
    /// `valid_for` (the time left before its `expires_at`).
    pub(crate) fn put(
        &self,
        token: &str,
        validation: Validation,
        valid_for: Option<Duration>,
        now: Instant,
    ) {
        let keep = match valid_for {
            Some(left) => left.min(self.ttl),
            None => self.ttl,
        };
        if keep.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(token) {
            entries.retain(|_, e| e.until > now);
            if entries.len() >= self.capacity {
                // Still full of live entries: drop the one ending soonest (a scan, but only
                // when the cache is full of current tokens, which a right-sized cache never is).
                if let Some(victim) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.until)
                    .map(|(k, _)| k.clone())
                {
                    entries.remove(&victim);
                }
            }
        }
        entries.insert(
            token.to_owned(),
            Entry {
                validation,
                until: now + keep,
            },
        );
    }

    /// How many tokens are cached (expired ones included until they are looked up).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock leaves a consistent map (every section is one
        // HashMap call), so a poisoned lock is still usable.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Validation {
        Validation::Valid(Arc::new(TokenIdentity {
            user_id: "u".into(),
            project_id: Some("p".into()),
            domain_id: None,
            roles: vec!["member".into()],
            expires_at: std::time::SystemTime::now(),
        }))
    }

    #[test]
    fn results_end_after_ttl_or_expiry() {
        let cache = TokenCache::new(Duration::from_secs(300), 10);
        let t0 = Instant::now();
        cache.put("valid", identity(), Some(Duration::from_secs(20)), t0);
        cache.put("invalid", Validation::Invalid, None, t0);
        assert!(matches!(cache.get("valid", t0), Some(Validation::Valid(_))));
        assert!(matches!(
            cache.get("invalid", t0 + Duration::from_secs(299)),
            Some(Validation::Invalid)
        ));
        // expires_at wins over the longer ttl
        assert!(cache.get("valid", t0 + Duration::from_secs(20)).is_none());
        assert!(cache
            .get("invalid", t0 + Duration::from_secs(300))
            .is_none());
        assert!(cache.get("unknown", t0).is_none());
    }

    #[test]
    fn already_expired_tokens_are_not_kept() {
        let cache = TokenCache::new(Duration::from_secs(300), 10);
        cache.put("t", identity(), Some(Duration::ZERO), Instant::now());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn size_is_bounded() {
        let cache = TokenCache::new(Duration::from_secs(300), 3);
        let t0 = Instant::now();
        cache.put("old", Validation::Invalid, Some(Duration::from_secs(1)), t0);
        for (i, t) in ["a", "b", "c", "d"].iter().enumerate() {
            cache.put(
                t,
                Validation::Invalid,
                None,
                t0 + Duration::from_secs(i as u64 + 2),
            );
        }
        assert_eq!(cache.len(), 3);
        // the expired one went first, then the one ending soonest
        assert!(cache.get("old", t0).is_none());
        assert!(cache.get("a", t0).is_none());
        assert!(cache.get("d", t0).is_some());
    }
}
