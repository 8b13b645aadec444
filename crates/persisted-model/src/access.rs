//! Authentication and authorization of every route: the caller comes from the application's
//! [`Authenticator`], the decision from the compiled ACL [`Policy`](persisted_model_acl::Policy)
//! with `$owner` and application roles resolved here.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest};
use persisted_model_acl::{AccessRequest, AccessType, Caller, Decision, RoleResolver};
use serde_json::Value;

use crate::connection::Db;
use crate::error::{Error, Result};
use crate::filter::Include;
use crate::model::{ModelDefinition, RelationKind};
use crate::rest::{RemoteMethod, RestState};
use crate::store::find_rows_by_id;
use crate::value::id_text;

/// A boxed future, as the strategy traits return them.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Finds who is calling. access-token implements it with the AccessToken model.
pub trait Authenticator: Send + Sync + 'static {
    /// The caller of `req`: anonymous when there is no token or an unknown one; an error (401
    /// `INVALID_TOKEN`) for an expired token.
    fn authenticate<'a>(&'a self, req: &'a HttpRequest, state: &'a RestState) -> BoxFuture<'a, Result<Caller>>;

    /// Whether `change` may have revoked the credential `req` was authenticated with, or a role
    /// its caller holds: a change stream opened with it authenticates again. By default every
    /// change of a model whose changes need confirming (tokens, roles) may; access-token's
    /// authenticator narrows a token's change to the streams opened with that token.
    fn affects(&self, change: &crate::changes::ModelChange, req: &HttpRequest, caller: &Caller) -> bool {
        let _ = (change, req, caller);
        true
    }

    /// How callers present their credentials, for the OpenAPI document: each scheme by name.
    /// Operations that anonymous callers may not call require one of them. None by default.
    fn security_schemes(&self) -> Vec<(String, utoipa::openapi::security::SecurityScheme)> {
        Vec::new()
    }
}

/// Answers whether a caller holds a named role (roles of a RoleMapping table, custom roles).
pub trait RoleSource: Send + Sync + 'static {
    /// `Some(answer)` for roles this source knows, `None` otherwise.
    fn has_role<'a>(
        &'a self,
        role: &'a str,
        request: &'a AccessRequest<'a>,
        caller: &'a Caller,
        state: &'a RestState,
        db: Db<'a>,
    ) -> BoxFuture<'a, Result<Option<bool>>>;
}

/// ACL entries kept outside the code (LoopBack's `ACL` table), read for each decision.
pub trait AclSource: Send + Sync + 'static {
    /// The entries that may apply to `model` (its own and those for `*`), read on `db`.
    fn entries<'a>(
        &'a self,
        model: &'a str,
        state: &'a RestState,
        db: Db<'a>,
    ) -> BoxFuture<'a, Result<Vec<persisted_model_acl::AclEntry>>>;
}

/// A role source from a closure: `|role, caller| -> Option<bool>` (no database access).
pub struct RoleFn<F>(pub F);

impl<F> RoleSource for RoleFn<F>
where
    F: Fn(&str, &Caller) -> Option<bool> + Send + Sync + 'static,
{
    fn has_role<'a>(
        &'a self,
        role: &'a str,
        _: &'a AccessRequest<'a>,
        caller: &'a Caller,
        _: &'a RestState,
        _: Db<'a>,
    ) -> BoxFuture<'a, Result<Option<bool>>> {
        Box::pin(async move { Ok((self.0)(role, caller)) })
    }
}

pub use crate::model::caller_of;

/// The caller of a request, as the authenticator found it (cached in the request).
pub(crate) async fn caller(state: &RestState, req: &HttpRequest) -> Result<Caller> {
    if let Some(c) = req.extensions().get::<Caller>() {
        return Ok(c.clone());
    }
    let caller = match &state.authenticator {
        Some(auth) => auth.authenticate(req, state).await?,
        None => Caller::anonymous(),
    };
    req.extensions_mut().insert(caller.clone());
    Ok(caller)
}

struct Resolver<'a> {
    state: &'a RestState,
    db: Db<'a>,
    model: &'a ModelDefinition,
}

impl RoleResolver for Resolver<'_> {
    type Error = Error;

    async fn is_in_role(&self, role: &str, request: &AccessRequest<'_>, caller: &Caller) -> Result<Option<bool>> {
        if role == "$owner" {
            return is_owner(self.state, self.db, self.model, request, caller).await.map(Some);
        }
        // A role holds when any source says so.
        let mut answer = None;
        for source in &self.state.role_sources {
            match source.has_role(role, request, caller, self.state, self.db).await? {
                Some(true) => return Ok(Some(true)),
                Some(false) => answer = Some(false),
                None => {}
            }
        }
        Ok(answer)
    }
}

/// `$owner`: the user itself for user models; otherwise the instance's `userId`/`owner`
/// property, or its first belongsTo relation to a user model, names the caller.
async fn is_owner(
    state: &RestState,
    db: Db<'_>,
    model: &ModelDefinition,
    request: &AccessRequest<'_>,
    caller: &Caller,
) -> Result<bool> {
    let (Some(user), Some(id)) = (caller.user_id(), request.model_id.as_deref()) else {
        return Ok(false);
    };
    if model.settings.user_model {
        return Ok(caller.user_model.as_deref().is_none_or(|m| m == model.name) && id == user);
    }
    let Some(id_value) = crate::value::parse_id(model.id_property().ty, id) else { return Ok(false) };
    let Some(row) = find_rows_by_id(&db, model, &id_value).await? else { return Ok(false) };
    let owner_key =
        ["userId", "owner"].into_iter().find(|k| model.property(k).is_some()).map(str::to_owned).or_else(|| {
            model
                .relations
                .iter()
                .find(|r| {
                    r.kind == RelationKind::BelongsTo
                        && state.registry.get(&r.model).is_some_and(|m| m.definition().settings.user_model)
                })
                .map(|r| r.foreign_key.clone())
        });
    Ok(owner_key.and_then(|k| row.get(&k).cloned()).is_some_and(|v| !v.is_null() && id_text(&v) == user))
}

/// Checks that the caller may call `method` on `model` (for the instance `model_id`).
pub(crate) async fn authorize(
    state: &RestState,
    caller: &Caller,
    model: &ModelDefinition,
    method: &RemoteMethod,
    model_id: Option<&Value>,
) -> Result<()> {
    Check::on_pool(state, caller)
        .authorize_as(model, &method.name, &method.aliases, method.access, model_id, method.scopes.as_deref())
        .await
}

/// One authorization question's context: the policy, the connection role lookups use (a
/// write's transaction when asked from a hook), and the caller.
pub(crate) struct Check<'a> {
    pub(crate) state: &'a RestState,
    pub(crate) db: Db<'a>,
    pub(crate) caller: &'a Caller,
}

impl<'a> Check<'a> {
    /// A check that looks roles up on the pool (outside any write).
    pub(crate) fn on_pool(state: &'a RestState, caller: &'a Caller) -> Self {
        Check { state, db: state.pool(), caller }
    }

    /// Checks `method` on `model` (for the instance `model_id`): a denial is LoopBack's 401 or
    /// 403.
    pub(crate) async fn authorize_as(
        &self,
        model: &ModelDefinition,
        method: &str,
        aliases: &[&str],
        access: AccessType,
        model_id: Option<&Value>,
        scopes: Option<&[String]>,
    ) -> Result<()> {
        match self.decide(model, method, aliases, access, model_id, scopes).await? {
            Decision::Allow => Ok(()),
            Decision::Deny => Err(denied(self.state, self.caller)),
        }
    }

    /// The policy's decision on `method` of `model`; an error only when a role or ACL source
    /// failed.
    pub(crate) async fn decide(
        &self,
        model: &ModelDefinition,
        method: &str,
        aliases: &[&str],
        access: AccessType,
        model_id: Option<&Value>,
        scopes: Option<&[String]>,
    ) -> Result<Decision> {
        let Check { state, db, caller } = *self;
        let request = AccessRequest {
            model: &model.name,
            method,
            aliases,
            access_type: access,
            model_id: model_id.map(id_text),
            scopes,
        };
        let mut extra = Vec::new();
        for source in &state.acl_sources {
            extra.extend(source.entries(&model.name, state, db).await?);
        }
        let resolver = Resolver { state, db, model };
        let check = state.policy.check_with(&request, caller, &resolver, &extra).await?;
        tracing::trace!(target: "persisted_model::acl", model = %model.name, method, decision = ?check.decision, reason = %check.reason());
        Ok(check.decision)
    }
}

/// 401 for an anonymous caller, 403 for an authenticated one (or 401 always, as LoopBack 3
/// answered by default, when the application asks for it).
pub(crate) fn denied(state: &RestState, caller: &Caller) -> Error {
    if !caller.is_authenticated() || state.deny_with_401 {
        Error::new(StatusCode::UNAUTHORIZED, "Authorization Required").with_code("AUTHORIZATION_REQUIRED")
    } else {
        Error::new(StatusCode::FORBIDDEN, "Access Denied").with_code("ACCESS_DENIED")
    }
}

/// Every model an `include` reaches must be readable by the caller (security rule 11).
pub(crate) fn authorize_includes<'a>(
    state: &'a RestState,
    caller: &'a Caller,
    model: &'a ModelDefinition,
    includes: &'a [Include],
) -> BoxFuture<'a, Result<()>> {
    Box::pin(async move {
        for include in includes {
            let Some(rel) = model.relation(&include.relation) else { continue };
            let Some(target) = state.registry.get(&rel.model) else { continue };
            if rel.authorize_target {
                Check::on_pool(state, caller)
                    .authorize_as(target.definition(), "find", &[], AccessType::Read, None, None)
                    .await?;
            }
            authorize_includes(state, caller, target.definition(), &include.scope.include).await?;
        }
        Ok(())
    })
}

pub(crate) type SharedAuthenticator = Arc<dyn Authenticator>;
pub(crate) type SharedRoleSource = Arc<dyn RoleSource>;
pub(crate) type SharedAclSource = Arc<dyn AclSource>;
