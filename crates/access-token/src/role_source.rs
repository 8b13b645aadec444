//! Static roles from the Role and RoleMapping tables.

use persisted_model::acl::{AccessRequest, Caller};
use persisted_model::filter::{Filter, Where};
use persisted_model::{BoxFuture, RestState, Result, RoleSource};
use serde_json::Value;

/// A caller is in role `name` when a RoleMapping row maps their user id to the Role `name`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoleMappingRoles;

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
            let (Some(roles), Some(mappings)) =
                (state.store_on(db, "Role", "isInRole", None), state.store_on(db, "RoleMapping", "isInRole", None))
            else {
                return Ok(None);
            };
            let filter =
                Filter { where_: Some(Where::eq("name", Value::from(role))), limit: Some(1), ..Filter::default() };
            // A role that is not in the table may be another source's.
            let Some(role_id) = roles.find_raw(filter).await?.pop().and_then(|r| r.get("id").cloned()) else {
                return Ok(None);
            };
            let mapped = mappings
                .count(Some(Where::And(vec![
                    Where::eq("roleId", role_id),
                    Where::eq("principalType", Value::from("USER")),
                    Where::eq("principalId", Value::from(user)),
                ])))
                .await?;
            Ok(Some(mapped > 0))
        })
    }
}
