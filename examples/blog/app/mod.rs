//! The blog application: authors (the built-in User), posts, comments, and tags linked to posts
//! through a join model. Everything the application adds to the generated API is here:
//! an owner-only edit rule, a typed `publish` remote method, hooks with state of their own,
//! and the application's own documented `/health` route.

pub mod comment;
pub mod post;
pub mod post_tag;
pub mod tag;

use actix_web::{HttpResponse, get, web};
use persisted_model::acl::AclEntry;
use persisted_model::{Error, ModelHandle, RestApi};
use persisted_model_access_token::AccessTokens;
use sea_orm::DatabaseConnection;
use utoipa::OpenApi;

/// The application's own route, documented with utoipa and shown in the same Swagger UI.
#[utoipa::path(get, path = "/health", responses((status = 200, description = "The blog is up")))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// A new instance belongs to its caller: `authorId` is the caller's user id (post and
/// comment hooks share this).
pub(crate) fn set_author(
    ctx: &persisted_model::CallContext<'_>,
    event: &mut persisted_model::SaveEvent,
) -> Result<(), Error> {
    if event.is_new
        && let Some(user) = ctx.caller().user_id()
    {
        event.set("authorId", user.parse::<i64>().unwrap_or_default())?;
    }
    Ok(())
}

/// The document of the application's own routes.
#[derive(OpenApi)]
#[openapi(paths(health))]
pub struct BlogDoc;

/// What the blog is built with.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Words that make a post spam.
    pub spam_words: Vec<String>,
    /// A prefix for every table (tests share one database).
    pub table_prefix: String,
}

/// The blog's REST API over `db`: its models, their hooks, the users and tokens.
pub async fn build(db: DatabaseConnection, settings: Settings) -> Result<RestApi, Error> {
    let prefix = settings.table_prefix.clone();
    let table = move |d: &mut persisted_model::ModelDefinition| d.table = format!("{prefix}{}", d.table);
    let builder = RestApi::builder(db)
        .openapi_info("Blog", env!("CARGO_PKG_VERSION"))
        .openapi_description("Posts, comments and tags; log in with POST /api/Users/login.")
        .handle(
            ModelHandle::of::<post::Model>()
                .with_typed_hooks(post::Hooks::new(settings.spam_words))
                .with_method(post::publish_method())
                .map_definition(table.clone()),
        )
        .handle(ModelHandle::of::<comment::Model>().with_hooks(comment::Hooks).map_definition(table.clone()))
        .handle(ModelHandle::of::<tag::Model>().map_definition(table.clone()))
        .handle(ModelHandle::of::<post_tag::Model>().map_definition(table))
        // Tags are managed by editors; everybody reads them.
        .acl(AclEntry::role("Tag", "*", None, "$everyone").deny())
        .acl(AclEntry::role("Tag", "*", Some(persisted_model::acl::AccessType::Read), "$everyone"))
        .acl(AclEntry::role("Tag", "*", None, "editor"));
    AccessTokens::new().table_prefix(&settings.table_prefix).register(builder).build().await
}

/// Mounts the blog: the API under `/api`, its explorer with the application's routes, health.
pub fn configure(api: &RestApi) -> impl FnOnce(&mut web::ServiceConfig) + use<> {
    let doc = api.openapi("/api").merge_from(BlogDoc::openapi());
    let (explorer, scope) = (api.explorer_with(doc), api.scope("/api"));
    move |cfg: &mut web::ServiceConfig| {
        cfg.service(health).service(explorer).service(scope);
    }
}
