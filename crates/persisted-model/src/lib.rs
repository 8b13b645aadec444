//! # persisted-model
//!
//! LoopBack 3's PersistedModel REST API for sea-orm entities, served by actix-web.
//! Derive [`PersistedModel`] on an entity's `Model`, register it with a [`RestApi`], and the
//! model answers every PersistedModel route: create, find, findById, findOne, count, exists,
//! replace, patch, upsert, updateAll, deleteById and its relation routes, with LoopBack's
//! filter language and error shapes.
//!
//! ```no_run
//! use persisted_model::prelude::*;
//! use sea_orm::entity::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
//! #[sea_orm(table_name = "note")]
//! #[serde(rename_all = "camelCase")]
//! pub struct Model {
//!     #[sea_orm(primary_key)]
//!     pub id: i32,
//!     pub title: String,
//!     pub body: Option<String>,
//! }
//!
//! #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//! pub enum Relation {}
//!
//! impl ActiveModelBehavior for ActiveModel {}
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let db = persisted_model::connect("sqlite::memory:").await.expect("database");
//!     let api = RestApi::builder(db).model::<Model>().build().await.expect("tables");
//!     actix_web::HttpServer::new(move || {
//!         actix_web::App::new().service(api.scope("/api")).default_service(actix_web::web::to(url_not_found))
//!     })
//!     .bind(("127.0.0.1", 3000))?
//!     .run()
//!     .await
//! }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc(test(attr(deny(warnings))))]

extern crate self as persisted_model;

mod access;
mod builder;
pub mod changes;
mod connection;
mod database;
mod error;
pub mod filter;
mod model;
mod openapi;
mod repository;
mod rest;
mod server;
mod store;
mod validation;
mod value;

pub mod prelude;
#[doc(hidden)]
pub mod testing;

#[doc(inline)]
pub use access::{AclSource, Authenticator, BoxFuture, RoleFn, RoleSource, caller_of};
#[doc(inline)]
pub use builder::RestApiBuilder;
#[cfg(feature = "redis")]
#[doc(inline)]
pub use changes::RedisBroker;
#[doc(inline)]
pub use changes::{ChangeBroker, ChangeFeed, ChangeKind, ModelChange, Notice, PostgresBroker};
#[doc(inline)]
pub use connection::Db;
#[doc(inline)]
pub use database::{
    DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_DATABASE_URL, DEFAULT_STATEMENT_TIMEOUT, SQLITE_POOL_SIZE, connect,
    connect_from_env, connect_options, limit_statements,
};
#[doc(inline)]
pub use error::{ClientError, Error, Result};
#[doc(inline)]
pub use model::{
    ActiveModelOf, CallContext, Change, DefaultValue, EntityModel, FloatWidth, Instance, IntegerWidth, Layout,
    ModelDefinition, ModelHandle, ModelHooks, ModelRegistry, ModelSettings, NoHooks, PersistedModel, Property,
    PropertyType, Relation, RelationKind, SaveEvent, TypedHooks, pluralize,
};
#[doc(inline)]
pub use repository::Repository;
#[doc(inline)]
pub use rest::{
    AccessType, Call, CustomHandler, DEFAULT_BODY_LIMIT, DEFAULT_BODY_TIMEOUT, DEFAULT_KEEP_ALIVE, DEFAULT_MAX_BATCH,
    DEFAULT_REQUESTS_PER_ADDRESS, ModelRoutes, Operation, RelationOp, RemoteMethod, RestApi, RestState, remote_methods,
    url_not_found,
};
#[doc(inline)]
pub use server::ServerLimits;
#[doc(inline)]
pub use store::Store;

/// The SQL text and bound values of the SELECT a filter makes (for benchmarks and debugging);
/// an error when the filter names a property the model lacks.
pub fn store_select_sql(
    model: &ModelDefinition,
    filter: &filter::Filter,
    backend: sea_orm::DbBackend,
) -> Result<(String, sea_orm::sea_query::Values), sea_orm::DbErr> {
    let stmt = store::select_statement(model, filter, backend)?;
    Ok((stmt.sql, stmt.values.unwrap_or_else(|| sea_orm::sea_query::Values(Vec::new()))))
}
#[doc(inline)]
pub use validation::{Rule, ValidationError, Violation};
#[doc(inline)]
pub use value::{coerce, fingerprint, format_date, id_text, parse_date};

/// The ACL engine (`persisted-model-acl`).
pub use persisted_model_acl as acl;

/// `#[derive(PersistedModel)]`: see the crate documentation.
#[cfg(feature = "derive")]
pub use persisted_model_derive::PersistedModel;

/// Paths used by generated code; not a public API.
#[doc(hidden)]
pub mod __private {
    pub use actix_web;
    pub use persisted_model_acl as acl;
    pub use sea_orm;
    pub use serde_json;
}
