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
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Entries kept at most; the cache starts over when full.
const CAPACITY: usize = 10_000;

/// How long an entry is served before the table is read again.
pub const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// Answers that any change of their table voids: each is stored with the generation it was
/// read at, and served only while that generation is current and for at most [`MAX_AGE`]. The
/// token cache and the role cache are both one.
#[derive(Debug)]
pub(crate) struct Generational<K, V> {
    entries: Mutex<HashMap<K, (V, u64, Instant)>>,
    generation: AtomicU64,
}

impl<K, V> Default for Generational<K, V> {
    fn default() -> Self {
        Self { entries: Mutex::new(HashMap::new()), generation: AtomicU64::new(0) }
    }
}

impl<K: Eq + Hash, V: Clone> Generational<K, V> {
    /// Voids every entry (and drops them, since none may be served again).
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    /// The generation to read at: taken before the read, so a change during it leaves the
    /// answer stale.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The answer for `key`, if current.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let entries = self.entries.lock().ok()?;
        let (value, generation, at) = entries.get(key)?;
        (*generation == self.generation() && at.elapsed() < MAX_AGE).then(|| value.clone())
    }

    /// Remembers an answer read at `generation`.
    pub(crate) fn put(&self, key: K, value: V, generation: u64) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(key, (value, generation, Instant::now()));
        }
    }
}

/// What a request needs from a token row.
#[derive(Debug, Clone)]
pub(crate) struct Cached {
    pub(crate) user_id: Value,
    pub(crate) scopes: Option<Vec<String>>,
    /// `None`: eternal.
    pub(crate) expires_at: Option<DateTime<Utc>>,
}

/// Valid tokens by stored id, shared by the token hooks (which invalidate it on any token save
/// or delete) and the authenticator (which fills it).
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    tokens: Generational<String, Cached>,
}

impl TokenCache {
    /// Marks every cached token stale: called on any token save or delete.
    pub(crate) fn invalidate(&self) {
        self.tokens.invalidate();
    }

    pub(crate) fn generation(&self) -> u64 {
        self.tokens.generation()
    }

    /// The entry for a stored id, if it is current and the token has not expired.
    pub(crate) fn get(&self, id: &str) -> Option<Cached> {
        self.tokens.get(id).filter(|hit| hit.expires_at.is_none_or(|t| Utc::now() < t))
    }

    /// Remembers a token read at `generation`.
    pub(crate) fn put(&self, id: String, entry: Cached, generation: u64) {
        self.tokens.put(id, entry, generation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_token_change_makes_entries_stale() {
        let cache = TokenCache::default();
        let token = Cached { user_id: Value::from(1), scopes: None, expires_at: None };
        cache.put("a".into(), token, cache.generation());
        assert!(cache.get("a").is_some());
        cache.invalidate();
        assert!(cache.get("a").is_none());
    }

    #[test]
    fn expired_entries_are_not_served() {
        let cache = TokenCache::default();
        let past = Utc::now() - chrono::Duration::seconds(1);
        let token = Cached { user_id: Value::from(1), scopes: None, expires_at: Some(past) };
        cache.put("b".into(), token, cache.generation());
        assert!(cache.get("b").is_none());
    }
}
