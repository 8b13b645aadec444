//! Lifecycle hooks: a value the application registers with a model, whose trait methods (with
//! default bodies, as sea-orm's `ActiveModelBehavior`) take `&self`, so the hooks carry their
//! own typed state (a clock, a mailer, settings). They run for every route and every relation
//! route that touches the model, and for the typed repository.

use std::future::Future;
use std::pin::Pin;

use actix_web::HttpRequest;
use serde_json::Value;

use crate::connection::Db;
use crate::error::Error;
use crate::filter::{FilterLimits, Where};
use crate::model::{Instance, ModelDefinition, ModelRegistry};

/// The caller a request was authenticated as (anonymous before authentication).
pub fn caller_of(req: &HttpRequest) -> persisted_model_acl::Caller {
    use actix_web::HttpMessage;
    req.extensions().get::<persisted_model_acl::Caller>().cloned().unwrap_or_default()
}

/// What every hook learns about the call that triggered it.
#[derive(Clone)]
#[non_exhaustive]
pub struct CallContext<'a> {
    /// The model the hook runs for.
    pub model: &'a ModelDefinition,
    /// The remote method (`create`, `patchAttributes`, `__create__products`, ...).
    pub method: &'a str,
    /// The HTTP request, when the call came from one; its extensions carry the caller.
    pub request: Option<&'a HttpRequest>,
    /// The connection, for hooks that read or write other rows: inside a write, the write's
    /// own transaction (a hook must never take another connection from the pool while the
    /// write holds one). It implements sea-orm's `ConnectionTrait`.
    pub db: Db<'a>,
    /// Every registered model.
    pub registry: &'a ModelRegistry,
    /// Query limits.
    pub limits: &'a FilterLimits,
    /// The caller server code acts as ([`Repository::as_caller`](crate::Repository::as_caller));
    /// `None` inside a request (the request's caller) and for the system.
    pub caller: Option<&'a persisted_model_acl::Caller>,
    /// Server code acting as the system inside a request ([`Store::as_system`](crate::Store::as_system)): a remote
    /// method that has checked what it needed (login checked the password).
    pub(crate) system: bool,
    /// The process's change feed: committed writes are published on it.
    pub(crate) changes: &'a crate::changes::ChangeFeed,
}

impl<'a> CallContext<'a> {
    /// Who is calling: the request's caller, the caller server code acts as, or anonymous
    /// for the system.
    pub fn caller(&self) -> persisted_model_acl::Caller {
        match (self.caller, self.request) {
            (Some(caller), _) => caller.clone(),
            (None, Some(req)) => caller_of(req),
            (None, None) => persisted_model_acl::Caller::anonymous(),
        }
    }

    /// Whether the call comes from server code acting as the system: no request and no caller
    /// (seeding, migrations, the repository outside `as_caller`), or a remote method's store
    /// made with [`Store::as_system`](crate::Store::as_system). Hooks may trust it.
    pub fn is_system(&self) -> bool {
        self.system || (self.request.is_none() && self.caller.is_none())
    }
}

/// The data about to be written.
#[derive(Debug)]
#[non_exhaustive]
pub struct SaveEvent {
    /// A new instance (create) rather than an update of `current`.
    pub is_new: bool,
    /// The properties to write, already validated and coerced. For a patch only the changed
    /// properties are here; a hook may add or change entries.
    pub data: Instance,
    /// The stored instance before the update (`None` for creates and bulk updates).
    pub current: Option<Instance>,
    /// For a bulk update (updateAll), the where clause that selects the rows.
    pub where_: Option<Where>,
    /// What the answer shows instead of the stored values ([`SaveEvent::show`]).
    shown: Instance,
}

impl SaveEvent {
    pub(crate) fn new(is_new: bool, data: Instance, current: Option<Instance>, where_: Option<Where>) -> Self {
        Self { is_new, data, current, where_, shown: Instance::new() }
    }

    /// Shows `value` for `property` in the answer to this write instead of what is stored: a
    /// secret shown once to its owner while the table keeps only its digest (a new access
    /// token's id). Writes of many rows (updateAll) answer with a count and show nothing.
    pub fn show(&mut self, property: &str, value: Value) {
        self.shown.insert(property.to_owned(), value);
    }

    /// The instance as answered: `shown` values over the presented row.
    pub(crate) fn shown_over(self, mut instance: Instance) -> Instance {
        instance.extend(self.shown);
        instance
    }

    /// A property about to be written, as a Rust value (`None` when absent or of another
    /// shape).
    pub fn get<T: serde::de::DeserializeOwned>(&self, property: &str) -> Option<T> {
        self.data.get(property).and_then(|v| T::deserialize(v).ok())
    }

    /// Sets a property to write from a Rust value (dates as `chrono::DateTime<Utc>` serialize
    /// to what the column expects).
    pub fn set(&mut self, property: &str, value: impl serde::Serialize) -> Result<(), Error> {
        let value = serde_json::to_value(value).map_err(|e| Error::Internal(format!("{property}: {e}")))?;
        self.data.insert(property.to_owned(), value);
        Ok(())
    }

    /// The data about to be written as the model's sea-orm `ActiveModel`: the properties being
    /// written are `Set`, the others `NotSet` (a typed view of a create or a patch).
    pub fn active_model<A>(&self) -> Result<A, Error>
    where
        A: sea_orm::ActiveModelTrait + sea_orm::TryIntoModel<<A::Entity as sea_orm::EntityTrait>::Model>,
        <A::Entity as sea_orm::EntityTrait>::Model:
            sea_orm::IntoActiveModel<A> + serde::de::DeserializeOwned + serde::Serialize,
    {
        A::from_json(Value::Object(self.data.clone()))
            .map_err(|e| Error::Internal(format!("the data does not fit the active model: {e}")))
    }

    /// Writes what `model` sets: `Set` values replace the data's, `NotSet` ones are removed
    /// from it (they will not be written), `Unchanged` ones stay as they are.
    pub fn set_active_model<A: sea_orm::ActiveModelTrait>(&mut self, model: &A) {
        write_active_model(&mut self.data, model);
    }

    /// The stored instance before the update as the model's type (updates of one instance).
    pub fn current_as<M: serde::de::DeserializeOwned>(&self) -> Option<Result<M, Error>> {
        self.current.as_ref().map(stored_as)
    }
}

/// A stored row as the model's Rust type.
pub(crate) fn stored_as<M: serde::de::DeserializeOwned>(row: &Instance) -> Result<M, Error> {
    M::deserialize(&Value::Object(row.clone()))
        .map_err(|e| Error::Internal(format!("the stored instance does not fit its type: {e}")))
}

/// Writes an `ActiveModel` into JSON data: `Set` values replace the data's, `NotSet` ones are
/// removed (they will not be written), `Unchanged` ones stay as they are.
pub(crate) fn write_active_model<A: sea_orm::ActiveModelTrait>(data: &mut Instance, model: &A) {
    use sea_orm::{ActiveValue, ColumnTrait, Iterable};
    for column in <<A::Entity as sea_orm::EntityTrait>::Column as Iterable>::iter() {
        let key = column.json_key();
        match model.get(column) {
            ActiveValue::Set(value) => {
                data.insert(key.to_owned(), crate::value::from_db(&value));
            }
            ActiveValue::NotSet => {
                data.remove(key);
            }
            ActiveValue::Unchanged(_) => {}
        }
    }
}

/// A model's hooks over JSON (for models defined at run time; a derived model may use
/// [`TypedHooks`](crate::TypedHooks) instead): implement the methods you need on a type of your own (its fields are the
/// hooks' state) and register a value with
/// [`RestApiBuilder::model_with`](crate::RestApiBuilder::model_with) or
/// [`ModelHandle::with_hooks`](crate::ModelHandle::with_hooks). A model registered without
/// hooks gets none.
///
/// ```
/// use persisted_model::prelude::*;
///
/// /// Stamps `updatedAt` and refuses spam.
/// struct PostHooks {
///     banned: Vec<String>,
/// }
///
/// impl ModelHooks for PostHooks {
///     async fn before_save(&self, _ctx: &CallContext<'_>, event: &mut SaveEvent) -> Result<(), Error> {
///         let title: Option<String> = event.get("title");
///         if title.is_some_and(|t| self.banned.iter().any(|b| t.contains(b.as_str()))) {
///             let mut invalid = persisted_model::ValidationError::new("Post");
///             invalid.add("title", persisted_model::Rule::Absence, event.data.get("title"));
///             return Err(invalid.into());
///         }
///         event.set("updatedAt", chrono::Utc::now())
///     }
/// }
///
/// # let definition = persisted_model::testing::product_definition();
/// let post = persisted_model::ModelHandle::from_definition(definition)
///     .with_hooks(PostHooks { banned: vec!["cheap pills".into()] });
/// # let _ = post;
/// ```
// actix-web runs handlers on a single-threaded runtime per worker, so the returned futures
// need not be `Send`; the hooks value itself is shared by every worker.
pub trait ModelHooks: Send + Sync + 'static {
    /// Maps an id a client sent (path or body) to the stored id; the identity by default.
    fn resolve_id(&self, ctx: &CallContext<'_>, id: Value) -> impl Future<Output = Result<Value, Error>> {
        let _ = ctx;
        async { Ok(id) }
    }

    /// Normalises checked client data before a write (a create, replace, patch or updateAll):
    /// may change values or refuse them. It runs before the write's transaction for creates,
    /// so CPU-heavy work such as hashing a password belongs here rather than in
    /// [`before_save`](Self::before_save), where it would hold a connection; it must not
    /// assume a transaction.
    fn normalize(&self, ctx: &CallContext<'_>, data: &mut Instance) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, data);
        async { Ok(()) }
    }

    /// Before a query reads, counts, updates or deletes rows: may narrow the where clause.
    fn access(&self, ctx: &CallContext<'_>, where_: &mut Option<Where>) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, where_);
        async { Ok(()) }
    }

    /// Before an instance is inserted or updated; may change the data or refuse. Runs in the
    /// write's transaction (`ctx.db`).
    fn before_save(&self, ctx: &CallContext<'_>, event: &mut SaveEvent) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, event);
        async { Ok(()) }
    }

    /// After an instance was inserted or updated (`instance` as stored), in the write's
    /// transaction: an error rolls the write back.
    fn after_save(
        &self,
        ctx: &CallContext<'_>,
        instance: &Instance,
        is_new: bool,
    ) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, instance, is_new);
        async { Ok(()) }
    }

    /// Before rows matching `where_` are deleted, in the delete's transaction.
    fn before_delete(&self, ctx: &CallContext<'_>, where_: &Where) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, where_);
        async { Ok(()) }
    }

    /// After rows matching `where_` were deleted, in the delete's transaction.
    fn after_delete(
        &self,
        ctx: &CallContext<'_>,
        where_: &Where,
        count: u64,
    ) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, where_, count);
        async { Ok(()) }
    }

    /// After an instance was read, before it is sent; may change or remove properties.
    fn loaded(&self, ctx: &CallContext<'_>, instance: &mut Instance) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, instance);
        async { Ok(()) }
    }
}

type HookFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + 'a>>;
type ValueFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, Error>> + 'a>>;

/// The hooks of one model behind a trait object, so routes need no type parameter.
pub(crate) trait DynHooks: Send + Sync {
    fn resolve_id<'a>(&'a self, ctx: &'a CallContext<'a>, id: Value) -> ValueFuture<'a>;
    fn normalize<'a>(&'a self, ctx: &'a CallContext<'a>, data: &'a mut Instance) -> HookFuture<'a>;
    fn access<'a>(&'a self, ctx: &'a CallContext<'a>, where_: &'a mut Option<Where>) -> HookFuture<'a>;
    fn before_save<'a>(&'a self, ctx: &'a CallContext<'a>, event: &'a mut SaveEvent) -> HookFuture<'a>;
    fn after_save<'a>(&'a self, ctx: &'a CallContext<'a>, instance: &'a Instance, is_new: bool) -> HookFuture<'a>;
    fn before_delete<'a>(&'a self, ctx: &'a CallContext<'a>, where_: &'a Where) -> HookFuture<'a>;
    fn after_delete<'a>(&'a self, ctx: &'a CallContext<'a>, where_: &'a Where, count: u64) -> HookFuture<'a>;
    fn loaded<'a>(&'a self, ctx: &'a CallContext<'a>, instance: &'a mut Instance) -> HookFuture<'a>;
}

impl<H: ModelHooks> DynHooks for H {
    fn resolve_id<'a>(&'a self, ctx: &'a CallContext<'a>, id: Value) -> ValueFuture<'a> {
        Box::pin(ModelHooks::resolve_id(self, ctx, id))
    }
    fn normalize<'a>(&'a self, ctx: &'a CallContext<'a>, data: &'a mut Instance) -> HookFuture<'a> {
        Box::pin(ModelHooks::normalize(self, ctx, data))
    }
    fn access<'a>(&'a self, ctx: &'a CallContext<'a>, where_: &'a mut Option<Where>) -> HookFuture<'a> {
        Box::pin(ModelHooks::access(self, ctx, where_))
    }
    fn before_save<'a>(&'a self, ctx: &'a CallContext<'a>, event: &'a mut SaveEvent) -> HookFuture<'a> {
        Box::pin(ModelHooks::before_save(self, ctx, event))
    }
    fn after_save<'a>(&'a self, ctx: &'a CallContext<'a>, instance: &'a Instance, is_new: bool) -> HookFuture<'a> {
        Box::pin(ModelHooks::after_save(self, ctx, instance, is_new))
    }
    fn before_delete<'a>(&'a self, ctx: &'a CallContext<'a>, where_: &'a Where) -> HookFuture<'a> {
        Box::pin(ModelHooks::before_delete(self, ctx, where_))
    }
    fn after_delete<'a>(&'a self, ctx: &'a CallContext<'a>, where_: &'a Where, count: u64) -> HookFuture<'a> {
        Box::pin(ModelHooks::after_delete(self, ctx, where_, count))
    }
    fn loaded<'a>(&'a self, ctx: &'a CallContext<'a>, instance: &'a mut Instance) -> HookFuture<'a> {
        Box::pin(ModelHooks::loaded(self, ctx, instance))
    }
}

/// No hooks: what a model registered without any gets.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl ModelHooks for NoHooks {}
