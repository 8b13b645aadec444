//! A per-process cache of valid tokens, so an authenticated request costs no extra query.
//!
//! Correctness first (security rule 4: revocation takes effect at once): every change to any
//! token (save or delete, through any hook path) bumps the cache's generation, before the
//! write and again after its commit, and entries from an older generation are ignored.
//!
//! Other processes' token changes arrive through the change feed
//! ([`persisted_model::changes`]): an update or delete of any token, in any process, empties
//! the cache, and a token write is answered only once the broker has carried it to every
//! process. The cache is used only while the feed is complete: on SQLite (one process), or
//! while the broker is connected (PostgreSQL `LISTEN`/`NOTIFY`, Redis). When the broker's
//! connection is lost the cache is emptied and bypassed until it is back. As a last guard, an
//! entry is served for at most [`MAX_AGE`], so a change the broker failed to carry is seen
//! within that time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Entries kept at most; the cache starts over when full.
const CAPACITY: usize = 10_000;

/// How long an entry is served before the table is read again.
pub const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// What a request needs from a token row.
#[derive(Debug, Clone)]
pub(crate) struct Cached {
    pub(crate) user_id: Value,
    pub(crate) scopes: Option<Vec<String>>,
    /// `None`: eternal.
    pub(crate) expires_at: Option<DateTime<Utc>>,
    generation: u64,
    cached_at: std::time::Instant,
}

impl Cached {
    pub(crate) fn new(
        user_id: Value,
        scopes: Option<Vec<String>>,
        expires_at: Option<DateTime<Utc>>,
        generation: u64,
    ) -> Self {
        Self { user_id, scopes, expires_at, generation, cached_at: std::time::Instant::now() }
    }
}

/// Valid tokens by stored id, shared by the token hooks (which invalidate it) and the
/// authenticator (which fills it).
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    entries: Mutex<HashMap<String, Cached>>,
    generation: AtomicU64,
}

impl TokenCache {
    /// Marks every cached token stale: called on any token save or delete. The entries are
    /// dropped too, since none of them may be served again.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The entry for a stored id, if it is from the current generation and not expired.
    pub(crate) fn get(&self, id: &str) -> Option<Cached> {
        let entries = self.entries.lock().ok()?;
        let hit = entries.get(id)?;
        let fresh = hit.generation == self.generation()
            && hit.cached_at.elapsed() < MAX_AGE
            && hit.expires_at.is_none_or(|t| Utc::now() < t);
        fresh.then(|| hit.clone())
    }

    /// Remembers a token read at `generation` (taken before the read, so a change during the
    /// read leaves the entry stale).
    pub(crate) fn put(&self, id: String, entry: Cached) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(id, entry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_token_change_makes_entries_stale() {
        let cache = TokenCache::default();
        cache.put("a".into(), Cached::new(Value::from(1), None, None, cache.generation()));
        assert!(cache.get("a").is_some());
        cache.invalidate();
        assert!(cache.get("a").is_none());
    }

    #[test]
    fn expired_entries_are_not_served() {
        let cache = TokenCache::default();
        let past = Utc::now() - chrono::Duration::seconds(1);
        cache.put("b".into(), Cached::new(Value::from(1), None, Some(past), cache.generation()));
        assert!(cache.get("b").is_none());
    }
}
