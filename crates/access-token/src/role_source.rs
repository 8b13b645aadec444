//! Static roles from the Role and RoleMapping tables.

use std::sync::Arc;

use persisted_model::acl::{AccessRequest, Caller};
use persisted_model::{BoxFuture, Error, ModelDefinition, RestState, Result, RoleSource};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, Query};

use crate::role_cache::RoleCache;

/// A caller is in role `name` when a RoleMapping row maps their user id to the Role `name`.
/// The one `AccessTokens::register` adds remembers answers while the change feed is complete
/// (see `role_cache`); `RoleMappingRoles::default()` asks the tables every time.
#[derive(Debug, Clone, Default)]
pub struct RoleMappingRoles {
    cache: Option<Arc<RoleCache>>,
}

impl RoleMappingRoles {
    pub(crate) fn cached(cache: Arc<RoleCache>) -> Self {
        Self { cache: Some(cache) }
    }
}

/// `table.column` of a property, for hand-built SQL over a model's own names.
fn column(model: &ModelDefinition, property: &str) -> Result<Expr> {
    let p = model
        .property(property)
        .ok_or_else(|| Error::Internal(format!("{} has no property {property}", model.name)))?;
    Ok(Expr::col((Alias::new(model.table.as_str()), Alias::new(p.column.as_str()))))
}

impl RoleSource for RoleMappingRoles {
    fn has_role<'a>(
        &'a self,
        role: &'a str,
        _: &'a AccessRequest<'a>,
        caller: &'a Caller,
        state: &'a RestState,
        db: persisted_model::Db<'a>,
    ) -> BoxFuture<'a, Result<Option<bool>>> {
        Box::pin(async move {
            let Some(user) = caller.user_id() else { return Ok(Some(false)) };
            let (Some(roles), Some(mappings)) = (state.registry.get("Role"), state.registry.get("RoleMapping")) else {
                return Ok(None);
            };
            let cache = self.cache.as_deref().filter(|_| !db.in_transaction() && state.changes.is_complete());
            if let Some(known) = cache.and_then(|c| c.get(role, user)) {
                return Ok(known);
            }
            let generation = cache.map(RoleCache::generation);
            let (r, m) = (roles.definition(), mappings.definition());
            // One query: whether the role exists, and whether the user is mapped to it.
            let mut select = Query::select();
            select
                .expr(column(r, "id")?.count())
                .expr(column(m, "id")?.count())
                .from(Alias::new(r.table.as_str()))
                .left_join(
                    Alias::new(m.table.as_str()),
                    Condition::all()
                        .add(
                            column(m, "roleId")?
                                .equals((Alias::new(r.table.as_str()), Alias::new(r.id_property().column.as_str()))),
                        )
                        .add(column(m, "principalType")?.eq("USER"))
                        .add(column(m, "principalId")?.eq(user)),
                )
                .and_where(column(r, "name")?.eq(role));
            let row = db.query_one(&select).await?.ok_or_else(|| Error::Internal("COUNT returned no row".into()))?;
            let (roles_named, mapped): (i64, i64) = (row.try_get_by_index(0)?, row.try_get_by_index(1)?);
            // A role that is not in the table may be another source's.
            let answer = (roles_named > 0).then_some(mapped > 0);
            if let (Some(cache), Some(generation)) = (cache, generation) {
                cache.put(role, user, answer, generation);
            }
            Ok(answer)
        })
    }
}
