//! `Comment`: a reader's answer to a post.

use persisted_model::prelude::*;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A comment on a post.
#[allow(clippy::duplicated_attributes)]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
#[sea_orm(table_name = "comment")]
#[serde(rename_all = "camelCase")]
#[persisted_model(
    name = "Comment",
    belongs_to(name = "post", model = "Post", foreign_key = "postId"),
    belongs_to(name = "author", model = "User", foreign_key = "authorId"),
    acl(role = "$everyone", permission = "DENY"),
    acl(role = "$everyone", access_type = "READ", permission = "ALLOW"),
    acl(role = "$authenticated", property = "create", permission = "ALLOW"),
    acl(role = "$owner", access_type = "WRITE", permission = "ALLOW")
)]
pub struct Model {
    /// The comment id.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The text.
    pub body: String,
    /// The post it answers.
    pub post_id: Option<i32>,
    /// Who wrote it: the caller who created it.
    #[persisted_model(server_managed)]
    pub author_id: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A new comment belongs to its caller.
pub struct Hooks;

impl ModelHooks for Hooks {
    async fn before_save(&self, ctx: &CallContext<'_>, event: &mut SaveEvent) -> Result<(), Error> {
        super::set_author(ctx, event)
    }
}
