//! Role membership (LoopBack's `RoleMapping`): a principal in a role.

use persisted_model::prelude::*;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// `principalType` `USER`, `APP` or `ROLE` with `principalId` is in role `roleId`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
#[sea_orm(table_name = "role_mapping")]
#[serde(rename_all = "camelCase")]
#[persisted_model(name = "RoleMapping", belongs_to(name = "role", model = "Role", foreign_key = "roleId"))]
pub struct Model {
    /// The mapping id.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// `USER`, `APP` or `ROLE`.
    pub principal_type: String,
    /// The principal's id (a user id, an application id or a role name).
    pub principal_id: String,
    /// The role.
    pub role_id: Option<i32>,
}

/// sea-orm relations: none; LoopBack relations are declared in `#[persisted_model]`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
