//! The decision: the highest-scoring entry that applies to the caller decides; DENY wins ties;
//! no entry means the model's default permission.

use std::collections::HashMap;
use std::fmt;

use smallvec::SmallVec;

use crate::entry::{AccessType, AclEntry, Permission, PrincipalType};
use crate::principal::Caller;
use crate::role::{BuiltinRole, RoleResolver};
use crate::score::score;

/// What a request asks to do.
#[derive(Debug, Clone)]
pub struct AccessRequest<'a> {
    /// The model name.
    pub model: &'a str,
    /// The canonical method name (`find`, `__get__products`).
    pub method: &'a str,
    /// Other names of the method (`upsert` for `patchOrCreate`).
    pub aliases: &'a [&'a str],
    /// The method's access type.
    pub access_type: AccessType,
    /// The id of the instance the request names, if any (for `$owner`).
    pub model_id: Option<String>,
    /// The scopes the method accepts; `None` is `["DEFAULT"]`.
    pub scopes: Option<&'a [String]>,
}

impl<'a> AccessRequest<'a> {
    /// A request for a method without aliases or instance.
    pub fn new(model: &'a str, method: &'a str, access_type: AccessType) -> Self {
        Self { model, method, aliases: &[], access_type, model_id: None, scopes: None }
    }

    /// The method name and its aliases.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.method).chain(self.aliases.iter().copied())
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Access granted.
    Allow,
    /// Access refused.
    Deny,
}

/// A decision and what made it, for logs and debugging. It borrows the deciding entry; the
/// reason is put in words only when asked (`reason()`), so a check allocates nothing for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check<'p> {
    /// Allow or deny.
    pub decision: Decision,
    /// The entry that decided; `None` when the default permission or a scope decided.
    pub entry: Option<&'p AclEntry>,
    /// The default permission, when it decided.
    pub default: Option<Permission>,
}

impl Check<'_> {
    /// Why, in words.
    pub fn reason(&self) -> impl fmt::Display + '_ {
        struct Reason<'a, 'p>(&'a Check<'p>);
        impl fmt::Display for Reason<'_, '_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match (self.0.entry, self.0.default) {
                    (Some(entry), _) => write!(f, "decided by {entry}"),
                    (None, Some(default)) => write!(f, "no entry applies: default permission {default:?}"),
                    (None, None) => f.write_str("the token's scopes do not allow this method"),
                }
            }
        }
        Reason(self)
    }
}

/// Static ACLs compiled once: entries grouped by model, each group sorted by specificity is
/// decided per request without allocation beyond the candidate list.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    by_model: HashMap<String, Vec<AclEntry>>,
    wildcard: Vec<AclEntry>,
    defaults: HashMap<String, Permission>,
}

impl Policy {
    /// A policy of these entries; models without an entry allow everything (LoopBack's default).
    pub fn new(entries: Vec<AclEntry>) -> Self {
        let mut policy = Policy::default();
        for e in entries {
            policy.add(e);
        }
        policy
    }

    /// Adds an entry.
    pub fn add(&mut self, entry: AclEntry) {
        if entry.model == "*" {
            self.wildcard.push(entry);
        } else {
            self.by_model.entry(entry.model.clone()).or_default().push(entry);
        }
    }

    /// Sets a model's `defaultPermission` (ALLOW unless set).
    pub fn set_default(&mut self, model: &str, permission: Permission) {
        self.defaults.insert(model.to_owned(), permission);
    }

    /// The entries that could apply to `model`.
    pub fn entries(&self, model: &str) -> impl Iterator<Item = &AclEntry> {
        self.by_model.get(model).into_iter().flatten().chain(self.wildcard.iter())
    }

    /// Decides a request; fails only when the resolver does.
    pub async fn check<'p, R: RoleResolver>(
        &'p self,
        request: &AccessRequest<'_>,
        caller: &Caller,
        resolver: &R,
    ) -> Result<Check<'p>, R::Error> {
        self.check_with(request, caller, resolver, &[]).await
    }

    /// Decides a request with extra (dynamic) entries.
    pub async fn check_with<'p, R: RoleResolver>(
        &'p self,
        request: &AccessRequest<'_>,
        caller: &Caller,
        resolver: &R,
        extra: &'p [AclEntry],
    ) -> Result<Check<'p>, R::Error> {
        // Scopes first: a token limited to other scopes may call nothing here.
        if caller.is_authenticated() && !caller.has_scope_in(request.scopes) {
            return Ok(Check { decision: Decision::Deny, entry: None, default: None });
        }
        // Most models have a handful of entries: they are ranked on the stack.
        let mut candidates: SmallVec<[(u64, &AclEntry); 16]> =
            self.entries(request.model).chain(extra.iter()).filter_map(|e| score(e, request).map(|s| (s, e))).collect();
        candidates.sort_by_key(|c| std::cmp::Reverse(c.0));
        for (_, entry) in candidates {
            if applies(entry, request, caller, resolver).await? {
                let decision = if entry.permission.denies() { Decision::Deny } else { Decision::Allow };
                return Ok(Check { decision, entry: Some(entry), default: None });
            }
        }
        let default = self.defaults.get(request.model).copied().unwrap_or(Permission::Allow);
        let decision = if default.denies() { Decision::Deny } else { Decision::Allow };
        Ok(Check { decision, entry: None, default: Some(default) })
    }
}

async fn applies<R: RoleResolver>(
    entry: &AclEntry,
    request: &AccessRequest<'_>,
    caller: &Caller,
    resolver: &R,
) -> Result<bool, R::Error> {
    let resolved =
        async |role: &str| Ok::<_, R::Error>(resolver.is_in_role(role, request, caller).await?.unwrap_or(false));
    Ok(match entry.principal_type {
        PrincipalType::User | PrincipalType::App => {
            caller.principals.iter().any(|p| p.kind == entry.principal_type && p.id == entry.principal_id)
        }
        PrincipalType::Role => {
            let role = entry.principal_id.as_str();
            match BuiltinRole::from_name(role) {
                Some(BuiltinRole::Everyone) => true,
                Some(BuiltinRole::Authenticated) => caller.is_authenticated(),
                Some(BuiltinRole::Unauthenticated) => !caller.is_authenticated(),
                // $owner needs an instance and a user; $related has no built-in resolver.
                Some(BuiltinRole::Owner) => {
                    caller.is_authenticated() && request.model_id.is_some() && resolved(role).await?
                }
                Some(BuiltinRole::Related) => resolved(role).await?,
                None => caller.roles.iter().any(|r| r == role) || resolved(role).await?,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::PrincipalType as P;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the policy never waits without a resolver that does"),
        }
    }

    fn decide(policy: &Policy, req: &AccessRequest<'_>, caller: &Caller) -> Decision {
        block_on(policy.check(req, caller, &())).unwrap().decision
    }

    /// LoopBack's User ACLs (user.json), in their order.
    fn user_acls() -> Policy {
        Policy::new(vec![
            AclEntry::role("User", "*", None, "$everyone").deny(),
            AclEntry::role("User", "create", None, "$everyone").allow(),
            AclEntry::role("User", "deleteById", None, "$owner").allow(),
            AclEntry::role("User", "login", None, "$everyone").allow(),
            AclEntry::role("User", "logout", None, "$everyone").allow(),
            AclEntry::role("User", "findById", None, "$owner").allow(),
            AclEntry::role("User", "patchAttributes", None, "$owner").allow(),
            AclEntry::role("User", "replaceById", None, "$owner").allow(),
            AclEntry::role("User", "verify", Some(AccessType::Execute), "$everyone").allow(),
            AclEntry::role("User", "changePassword", Some(AccessType::Execute), "$authenticated").allow(),
        ])
    }

    struct Owners(&'static str);

    impl RoleResolver for Owners {
        type Error = std::convert::Infallible;

        async fn is_in_role(
            &self,
            role: &str,
            request: &AccessRequest<'_>,
            caller: &Caller,
        ) -> Result<Option<bool>, Self::Error> {
            Ok((role == "$owner")
                .then(|| request.model_id.as_deref() == caller.user_id() && caller.user_id() == Some(self.0)))
        }
    }

    #[test]
    fn more_specific_entries_win_regardless_of_order() {
        let policy = user_acls();
        let anon = Caller::anonymous();
        assert_eq!(decide(&policy, &AccessRequest::new("User", "create", AccessType::Write), &anon), Decision::Allow);
        assert_eq!(decide(&policy, &AccessRequest::new("User", "find", AccessType::Read), &anon), Decision::Deny);
        assert_eq!(decide(&policy, &AccessRequest::new("User", "login", AccessType::Execute), &anon), Decision::Allow);
    }

    #[test]
    fn owner_rules_need_an_instance_and_the_owner() {
        let policy = user_acls();
        let alice = Caller::user(2, "User");
        let mut own = AccessRequest::new("User", "findById", AccessType::Read);
        own.model_id = Some("2".into());
        assert_eq!(block_on(policy.check(&own, &alice, &Owners("2"))).unwrap().decision, Decision::Allow);
        own.model_id = Some("1".into());
        assert_eq!(block_on(policy.check(&own, &alice, &Owners("2"))).unwrap().decision, Decision::Deny);
        // `$owner` never matches list endpoints.
        let find = AccessRequest::new("User", "find", AccessType::Read);
        assert_eq!(block_on(policy.check(&find, &alice, &Owners("2"))).unwrap().decision, Decision::Deny);
    }

    #[test]
    fn deny_wins_ties() {
        let policy = Policy::new(vec![
            AclEntry::role("M", "find", None, "$everyone").allow(),
            AclEntry::role("M", "find", None, "$everyone").deny(),
        ]);
        assert_eq!(
            decide(&policy, &AccessRequest::new("M", "find", AccessType::Read), &Caller::anonymous()),
            Decision::Deny
        );
    }

    #[test]
    fn user_principals_outrank_roles() {
        let policy = Policy::new(vec![
            AclEntry::role("M", "*", None, "$everyone").deny(),
            AclEntry::new("M", "*", None, P::User, "u001").allow(),
        ]);
        let req = AccessRequest::new("M", "find", AccessType::Read);
        assert_eq!(decide(&policy, &req, &Caller::user("u001", "User")), Decision::Allow);
        assert_eq!(decide(&policy, &req, &Caller::user("u002", "User")), Decision::Deny);
    }

    #[test]
    fn role_kinds_rank_custom_owner_authenticated_everyone() {
        let policy = Policy::new(vec![
            AclEntry::role("M", "*", None, "$everyone").allow(),
            AclEntry::role("M", "*", None, "$authenticated").deny(),
            AclEntry::role("M", "*", None, "admin").allow(),
        ]);
        let req = AccessRequest::new("M", "find", AccessType::Read);
        assert_eq!(decide(&policy, &req, &Caller::anonymous()), Decision::Allow);
        assert_eq!(decide(&policy, &req, &Caller::user(1, "User")), Decision::Deny);
        let mut admin = Caller::user(1, "User");
        admin.roles.push("admin".into());
        assert_eq!(decide(&policy, &req, &admin), Decision::Allow);
    }

    #[test]
    fn execute_entries_cover_read_and_write() {
        let policy = Policy::new(vec![
            AclEntry::role("M", "*", None, "$everyone").deny(),
            AclEntry::role("M", "*", Some(AccessType::Execute), "$authenticated").allow(),
        ]);
        let caller = Caller::user(1, "User");
        for access in [AccessType::Read, AccessType::Write, AccessType::Replicate] {
            assert_eq!(decide(&policy, &AccessRequest::new("M", "x", access), &caller), Decision::Allow);
        }
        let read_only = Policy::new(vec![
            AclEntry::role("M", "*", None, "$everyone").deny(),
            AclEntry::role("M", "*", Some(AccessType::Read), "$everyone").allow(),
        ]);
        assert_eq!(decide(&read_only, &AccessRequest::new("M", "find", AccessType::Read), &caller), Decision::Allow);
        assert_eq!(decide(&read_only, &AccessRequest::new("M", "create", AccessType::Write), &caller), Decision::Deny);
    }

    #[test]
    fn aliases_match() {
        let policy = Policy::new(vec![
            AclEntry::role("M", "*", None, "$everyone").deny(),
            AclEntry::role("M", "upsert", None, "$everyone").allow(),
        ]);
        let mut req = AccessRequest::new("M", "patchOrCreate", AccessType::Write);
        req.aliases = &["upsert", "updateOrCreate"];
        assert_eq!(decide(&policy, &req, &Caller::anonymous()), Decision::Allow);
    }

    #[test]
    fn default_permission_applies_when_nothing_matches() {
        let mut policy = Policy::new(vec![AclEntry::role("Other", "*", None, "$everyone").deny()]);
        let req = AccessRequest::new("M", "find", AccessType::Read);
        assert_eq!(decide(&policy, &req, &Caller::anonymous()), Decision::Allow);
        policy.set_default("M", Permission::Deny);
        assert_eq!(decide(&policy, &req, &Caller::anonymous()), Decision::Deny);
    }

    #[test]
    fn wildcard_models_apply_to_every_model() {
        let policy = Policy::new(vec![
            AclEntry::role("*", "*", None, "$unauthenticated").deny(),
            AclEntry::role("M", "find", None, "$everyone").allow(),
        ]);
        assert_eq!(
            decide(&policy, &AccessRequest::new("M", "find", AccessType::Read), &Caller::anonymous()),
            Decision::Allow
        );
        assert_eq!(
            decide(&policy, &AccessRequest::new("N", "find", AccessType::Read), &Caller::anonymous()),
            Decision::Deny
        );
        assert_eq!(
            decide(&policy, &AccessRequest::new("N", "find", AccessType::Read), &Caller::user(1, "User")),
            Decision::Allow
        );
    }

    #[test]
    fn alarm_and_audit_do_not_deny() {
        for p in [Permission::Alarm, Permission::Audit] {
            let policy = Policy::new(vec![
                AclEntry::role("M", "*", None, "$everyone").deny(),
                AclEntry::role("M", "find", None, "$everyone").permission(p),
            ]);
            assert_eq!(
                decide(&policy, &AccessRequest::new("M", "find", AccessType::Read), &Caller::anonymous()),
                Decision::Allow
            );
        }
    }

    #[test]
    fn scopes_are_checked_before_acls() {
        let policy = Policy::new(vec![]);
        let mut caller = Caller::user(1, "User");
        caller.scopes = Some(vec!["reset-password".into()]);
        let req = AccessRequest::new("M", "find", AccessType::Read);
        let check = block_on(policy.check(&req, &caller, &())).unwrap();
        assert_eq!(check.decision, Decision::Deny);
        let scopes = vec!["reset-password".to_owned()];
        let mut set_password = AccessRequest::new("User", "setPassword", AccessType::Execute);
        set_password.scopes = Some(&scopes);
        assert_eq!(decide(&policy, &set_password, &caller), Decision::Allow);
    }

    #[test]
    fn the_deciding_entry_is_reported() {
        let policy = user_acls();
        let check =
            block_on(policy.check(&AccessRequest::new("User", "find", AccessType::Read), &Caller::anonymous(), &()))
                .unwrap();
        assert_eq!(check.entry.cloned(), Some(AclEntry::role("User", "*", None, "$everyone").deny()));
        assert!(check.reason().to_string().contains("Deny User.*"), "{}", check.reason());
    }

    #[test]
    fn entries_parse_from_loopback_strings() {
        let e = AclEntry::parse("AccessToken", "*", "*", "ROLE", "admin", "ALLOW").unwrap();
        assert_eq!(e, AclEntry::role("AccessToken", "*", None, "admin").allow());
        assert!(AclEntry::parse("M", "*", "SOMETIMES", "ROLE", "a", "ALLOW").is_err());
        assert!(AclEntry::parse("M", "*", "READ", "ROLE", "a", "MAYBE").is_err());
    }
}
