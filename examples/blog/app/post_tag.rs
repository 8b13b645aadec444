//! `PostTag`: the join model linking posts and tags.

use persisted_model::prelude::*;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A post carries a tag.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
#[sea_orm(table_name = "post_tag")]
#[serde(rename_all = "camelCase")]
#[persisted_model(name = "PostTag", plural = "PostTags")]
pub struct Model {
    /// The link id.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The post.
    pub post_id: Option<i32>,
    /// The tag.
    pub tag_id: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
