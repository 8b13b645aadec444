//! Roles: the built-in ones the engine answers itself, and a resolver for the rest.

use std::future::Future;

use crate::policy::AccessRequest;
use crate::principal::Caller;

/// LoopBack's built-in roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltinRole {
    /// Everybody.
    Everyone,
    /// Callers with a token.
    Authenticated,
    /// Callers without a token.
    Unauthenticated,
    /// The owner of the instance the request names.
    Owner,
    /// Reserved by LoopBack; no built-in resolver.
    Related,
}

impl BuiltinRole {
    /// The built-in role with this name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "$everyone" => BuiltinRole::Everyone,
            "$authenticated" => BuiltinRole::Authenticated,
            "$unauthenticated" => BuiltinRole::Unauthenticated,
            "$owner" => BuiltinRole::Owner,
            "$related" => BuiltinRole::Related,
            _ => return None,
        })
    }
}

/// Answers "is the caller in this role for this request?" for roles that need data:
/// `$owner`, static roles (RoleMapping) and custom roles.
///
/// Implemented for `()` (knows no role) and for closures; neither can fail.
// Resolvers run inside actix-web handlers, which need no `Send` futures.
#[allow(async_fn_in_trait)]
pub trait RoleResolver {
    /// Why the resolver could not answer (a database error...): the check fails with it.
    type Error;

    /// `Some(answer)` when this resolver knows the role, `None` to let the next one decide.
    async fn is_in_role(
        &self,
        role: &str,
        request: &AccessRequest<'_>,
        caller: &Caller,
    ) -> Result<Option<bool>, Self::Error>;
}

impl RoleResolver for () {
    type Error = std::convert::Infallible;

    async fn is_in_role(&self, _: &str, _: &AccessRequest<'_>, _: &Caller) -> Result<Option<bool>, Self::Error> {
        Ok(None)
    }
}

impl<F, Fut> RoleResolver for F
where
    F: Fn(&str, &AccessRequest<'_>, &Caller) -> Fut,
    Fut: Future<Output = Option<bool>>,
{
    type Error = std::convert::Infallible;

    async fn is_in_role(
        &self,
        role: &str,
        request: &AccessRequest<'_>,
        caller: &Caller,
    ) -> Result<Option<bool>, Self::Error> {
        Ok(self(role, request, caller).await)
    }
}
