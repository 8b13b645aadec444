//! A per-process cache of static role memberships, so that a role ACL (`admin` may read
//! tokens) costs no query once a caller's membership is known.
//!
//! It follows the token cache's rules (see `cache`): it is used only while the change feed is
//! complete, every change to a Role or a RoleMapping, in any process, empties it (and such a
//! write is answered once every process has heard of it), a possible loss of changes empties
//! it, and an entry is served for at most [`MAX_AGE`](crate::cache::MAX_AGE). A lookup inside
//! a write's transaction bypasses it: the transaction may hold role changes not yet committed.

use crate::cache::Generational;

/// Whether a user is in a role, by (role, user id); `None`: no role of that name (another
/// source may know it).
#[derive(Debug, Default)]
pub(crate) struct RoleCache {
    members: Generational<(String, String), Option<bool>>,
}

impl RoleCache {
    /// Forgets every membership: called on any Role or RoleMapping change.
    pub(crate) fn invalidate(&self) {
        self.members.invalidate();
    }

    /// The generation to read at (see [`Generational::generation`]).
    pub(crate) fn generation(&self) -> u64 {
        self.members.generation()
    }

    /// The known answer for `user` in `role`, if current.
    pub(crate) fn get(&self, role: &str, user: &str) -> Option<Option<bool>> {
        self.members.get(&(role.to_owned(), user.to_owned()))
    }

    /// Remembers an answer read at `generation`.
    pub(crate) fn put(&self, role: &str, user: &str, answer: Option<bool>, generation: u64) {
        self.members.put((role.to_owned(), user.to_owned()), answer, generation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_change_forgets_every_membership() {
        let cache = RoleCache::default();
        cache.put("admin", "1", Some(true), cache.generation());
        assert_eq!(cache.get("admin", "1"), Some(Some(true)));
        assert_eq!(cache.get("admin", "2"), None);
        cache.invalidate();
        assert_eq!(cache.get("admin", "1"), None);
    }

    #[test]
    fn an_answer_read_before_a_change_is_not_kept() {
        let cache = RoleCache::default();
        let read_at = cache.generation();
        cache.invalidate();
        cache.put("admin", "1", Some(true), read_at);
        assert_eq!(cache.get("admin", "1"), None);
    }
}
