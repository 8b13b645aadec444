//! Roles (LoopBack's `Role`): named groups of principals, not exposed over REST.

use persisted_model::prelude::*;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A named role such as `admin`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
#[sea_orm(table_name = "role")]
#[persisted_model(name = "Role", has_many(name = "principals", model = "RoleMapping", foreign_key = "roleId"))]
pub struct Model {
    /// The role id.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The role name used in ACLs.
    #[sea_orm(unique)]
    pub name: String,
    /// What the role is for.
    pub description: Option<String>,
    /// When the role was created.
    #[persisted_model(default_fn = "now", server_managed)]
    pub created: Option<DateTimeUtc>,
    /// When the role last changed.
    #[persisted_model(default_fn = "now", server_managed)]
    pub modified: Option<DateTimeUtc>,
}

/// sea-orm relations: none; LoopBack relations are declared in `#[persisted_model]`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
