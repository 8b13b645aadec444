//! `Tag`: a label posts are linked to through `PostTag`.

use persisted_model::prelude::*;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A tag.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
#[sea_orm(table_name = "tag")]
#[persisted_model(name = "Tag")]
pub struct Model {
    /// The tag id.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The label, unique.
    #[sea_orm(unique)]
    pub name: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
