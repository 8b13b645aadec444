//! `Post`: an author's article. Readable by everybody, written by its author only.

use actix_web::http::Method;
use chrono::{DateTime, Utc};
use persisted_model::filter::Where;
use persisted_model::prelude::*;
use persisted_model::{AccessType, Call, RemoteMethod, ValidationError};
use sea_orm::Set;
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A blog post.
// Each `acl(...)` is its own entry: clippy takes the repeated keys for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
#[sea_orm(table_name = "post")]
#[serde(rename_all = "camelCase")]
#[persisted_model(
    name = "Post",
    belongs_to(name = "author", model = "User", foreign_key = "authorId"),
    has_many(name = "comments", model = "Comment", foreign_key = "postId"),
    has_many_through(name = "tags", model = "Tag", foreign_key = "postId", through = "PostTag", key_through = "tagId"),
    acl(role = "$everyone", permission = "DENY"),
    acl(role = "$everyone", access_type = "READ", permission = "ALLOW"),
    acl(role = "$authenticated", property = "create", permission = "ALLOW"),
    acl(role = "$owner", access_type = "WRITE", permission = "ALLOW"),
    acl(role = "$owner", property = "publish", permission = "ALLOW")
)]
pub struct Model {
    /// The post id.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The title (at most 200 characters).
    #[sea_orm(column_type = "String(StringLen::N(200))")]
    pub title: String,
    /// The text.
    pub body: Option<String>,
    /// Whether readers see it on the front page.
    #[persisted_model(default = false)]
    pub published: Option<bool>,
    /// When it was published.
    #[persisted_model(server_managed)]
    pub published_at: Option<DateTimeUtc>,
    /// When it last changed; stamped by the hooks.
    #[persisted_model(server_managed)]
    pub updated_at: Option<DateTimeUtc>,
    /// Who wrote it: the caller who created it.
    #[persisted_model(server_managed)]
    pub author_id: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The post hooks: spam is refused with a 422, every write stamps `updatedAt`, and a new post
/// belongs to its caller.
pub struct Hooks {
    spam_words: Vec<String>,
    clock: fn() -> DateTime<Utc>,
}

impl Hooks {
    /// Hooks refusing posts that contain one of `spam_words`, stamping with the system clock.
    pub fn new(spam_words: Vec<String>) -> Self {
        Self { spam_words, clock: Utc::now }
    }
}

// Typed hooks: the write is the post's sea-orm `ActiveModel`, the stored post a `Model`.
impl TypedHooks for Hooks {
    type Model = Model;

    async fn before_save(&self, ctx: &CallContext<'_>, change: &mut Change<Model>) -> Result<(), Error> {
        let mut invalid = ValidationError::new("Post");
        let texts = [
            ("title", change.data.title.try_as_ref()),
            ("body", change.data.body.try_as_ref().and_then(Option::as_ref)),
        ];
        for (property, text) in texts {
            let Some(text) = text else { continue };
            let lower = text.to_lowercase();
            if self.spam_words.iter().any(|w| lower.contains(w.as_str())) {
                invalid.add_message(property, "spam", "looks like spam", Some(&serde_json::Value::from(text.as_str())));
            }
        }
        invalid.into_result()?;
        change.data.updated_at = Set(Some((self.clock)()));
        // A new post belongs to its caller.
        if change.is_new
            && let Some(user) = ctx.caller().user_id()
        {
            change.data.author_id = Set(user.parse().ok());
        }
        Ok(())
    }
}

/// `POST /Posts/{id}/publish`'s body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Publish {
    /// When the post goes live (default: now).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub at: Option<DateTime<Utc>>,
}

/// What `POST /Posts/{id}/publish` answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    /// The post.
    pub id: i32,
    /// When it went live.
    #[schema(value_type = String, format = DateTime)]
    pub published_at: DateTime<Utc>,
}

/// Publishes the post. The route's ACL decided already (only the author may call
/// `publish`); `publishedAt` is server-managed, so clients cannot set it but server code can.
/// The answer is read back through the typed repository, as the caller.
async fn publish(call: Call, args: Publish) -> Result<Published, Error> {
    let id = call.path_id().ok_or_else(|| Error::not_found("no such post"))?;
    let at = args.at.unwrap_or_else(Utc::now);
    let data = serde_json::Map::from_iter([
        ("published".to_owned(), serde_json::Value::Bool(true)),
        ("publishedAt".to_owned(), persisted_model::format_date(&at).into()),
    ]);
    let changed = call.store().update_where(&Where::eq("id", id.clone()), &data).await?;
    if changed == 0 {
        return Err(Error::unknown_id("Post", &persisted_model::id_text(&id)));
    }
    let post = call.repository::<Model>()?.find_by_id(id).await?.ok_or_else(|| Error::not_found("no such post"))?;
    Ok(Published { id: post.id, published_at: post.published_at.unwrap_or(at) })
}

/// The `publish` remote method.
pub fn publish_method() -> RemoteMethod {
    RemoteMethod::typed("publish", Method::POST, "/{id}/publish", AccessType::Write, publish)
        .describe("Publish the post (its author only).")
}
