//! ACL entries stored in the database (LoopBack's `ACL` model), opt-in.

use persisted_model::acl::AclEntry;
use persisted_model::filter::{Filter, Op, Where};
use persisted_model::prelude::*;
use persisted_model::{AclSource, BoxFuture, RestState};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One ACL entry, as LoopBack's `ACL` model stores it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
#[sea_orm(table_name = "acl")]
#[serde(rename_all = "camelCase")]
#[persisted_model(name = "ACL", plural = "ACLs")]
pub struct Model {
    /// The entry id.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The model name, or `*`.
    pub model: String,
    /// A method name (or alias), a comma-separated list, or `*`.
    pub property: Option<String>,
    /// `READ`, `WRITE`, `EXECUTE`, `REPLICATE` or `*`.
    pub access_type: Option<String>,
    /// `ALLOW`, `DENY`, `ALARM` or `AUDIT`.
    pub permission: String,
    /// `USER`, `APP` or `ROLE`.
    pub principal_type: String,
    /// The user or app id, or the role name.
    pub principal_id: String,
}

/// sea-orm relations: none.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Reads the `ACL` table at each decision: one query for the model's rows and `*`'s.
#[derive(Debug, Clone, Copy, Default)]
pub struct AclTable;

impl AclSource for AclTable {
    fn entries<'a>(
        &'a self,
        model: &'a str,
        state: &'a RestState,
        db: persisted_model::Db<'a>,
    ) -> BoxFuture<'a, persisted_model::Result<Vec<AclEntry>>> {
        Box::pin(async move {
            let Some(store) = state.store_on(db, "ACL", "find", None) else { return Ok(Vec::new()) };
            let where_ =
                Where::Cond { property: "model".into(), op: Op::Inq(vec![Value::from(model), Value::from("*")]) };
            let rows = store.find_raw(Filter { where_: Some(where_), ..Filter::default() }).await?;
            let text = |r: &Instance, k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
            Ok(rows
                .iter()
                .filter_map(|r| {
                    let entry = AclEntry::parse(
                        &text(r, "model"),
                        &text(r, "property"),
                        &text(r, "accessType"),
                        &text(r, "principalType"),
                        &text(r, "principalId"),
                        &text(r, "permission"),
                    );
                    // A malformed row is skipped (and logged), never a 500 for every request.
                    entry.map_err(|e| tracing::warn!(target: "persisted_model::acl", row = ?r.get("id"), error = %e, "ignoring ACL row")).ok()
                })
                .collect())
        })
    }
}
