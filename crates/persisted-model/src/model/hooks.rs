//! Lifecycle hooks: trait methods with default bodies that a model overrides, as sea-orm's
//! `ActiveModelBehavior` does. They run for every route and every relation route that touches
//! the model.

use std::future::Future;
use std::pin::Pin;

use actix_web::HttpRequest;
use serde_json::{Map, Value};

use crate::connection::Db;
use crate::error::Error;
use crate::filter::{FilterLimits, Where};
use crate::model::{ModelDefinition, ModelRegistry};
use crate::store::Store;

/// A JSON object: one model instance as the client sees it.
pub type Instance = Map<String, Value>;

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
}

impl<'a> CallContext<'a> {
    /// A store over another registered model, for hooks that touch related data.
    pub fn store(&self, model: &str) -> Option<Store<'a>> {
        let handle = self.registry.get(model)?;
        Some(Store {
            db: self.db,
            registry: self.registry,
            model: handle,
            call: CallContext { model: handle.definition(), ..self.clone() },
            limits: self.limits,
        })
    }

    /// Who is calling (anonymous outside a request).
    pub fn caller(&self) -> persisted_model_acl::Caller {
        self.request.map(crate::access::caller_of).unwrap_or_default()
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
}

/// Hooks a model can override. `#[derive(PersistedModel)]` implements this trait with the
/// defaults unless the model says `#[persisted_model(custom_hooks)]`.
// actix-web runs handlers on a single-threaded runtime per worker, so the returned futures
// need not be `Send`.
pub trait ModelHooks: 'static {
    /// Maps an id a client sent (path or body) to the stored id; the identity by default.
    fn resolve_id(ctx: &CallContext<'_>, id: Value) -> impl Future<Output = Result<Value, Error>> {
        let _ = ctx;
        async { Ok(id) }
    }

    /// Normalises checked client data before a write (a create, replace, patch or updateAll):
    /// may change values or refuse them. It runs before the write's transaction for creates,
    /// so CPU-heavy work such as hashing a password belongs here rather than in
    /// [`before_save`](Self::before_save), where it would hold a connection; it must not
    /// assume a transaction.
    fn normalize(ctx: &CallContext<'_>, data: &mut Instance) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, data);
        async { Ok(()) }
    }

    /// Before a query reads, counts, updates or deletes rows: may narrow the where clause.
    fn access(ctx: &CallContext<'_>, where_: &mut Option<Where>) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, where_);
        async { Ok(()) }
    }

    /// Before an instance is inserted or updated; may change the data or refuse.
    fn before_save(ctx: &CallContext<'_>, event: &mut SaveEvent) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, event);
        async { Ok(()) }
    }

    /// After an instance was inserted or updated (`instance` as stored).
    fn after_save(ctx: &CallContext<'_>, instance: &Instance, is_new: bool) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, instance, is_new);
        async { Ok(()) }
    }

    /// Before rows matching `where_` are deleted.
    fn before_delete(ctx: &CallContext<'_>, where_: &Where) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, where_);
        async { Ok(()) }
    }

    /// After rows matching `where_` were deleted.
    fn after_delete(ctx: &CallContext<'_>, where_: &Where, count: u64) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, where_, count);
        async { Ok(()) }
    }

    /// After an instance was read, before it is sent; may change or remove properties.
    fn loaded(ctx: &CallContext<'_>, instance: &mut Instance) -> impl Future<Output = Result<(), Error>> {
        let _ = (ctx, instance);
        async { Ok(()) }
    }
}

type HookFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + 'a>>;
type ValueFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, Error>> + 'a>>;

/// The hooks of one model behind a trait object, so routes need no type parameter.
pub(crate) trait DynHooks: Send + Sync {
    fn resolve_id<'a>(&self, ctx: &'a CallContext<'a>, id: Value) -> ValueFuture<'a>;
    fn normalize<'a>(&self, ctx: &'a CallContext<'a>, data: &'a mut Instance) -> HookFuture<'a>;
    fn access<'a>(&self, ctx: &'a CallContext<'a>, where_: &'a mut Option<Where>) -> HookFuture<'a>;
    fn before_save<'a>(&self, ctx: &'a CallContext<'a>, event: &'a mut SaveEvent) -> HookFuture<'a>;
    fn after_save<'a>(&self, ctx: &'a CallContext<'a>, instance: &'a Instance, is_new: bool) -> HookFuture<'a>;
    fn before_delete<'a>(&self, ctx: &'a CallContext<'a>, where_: &'a Where) -> HookFuture<'a>;
    fn after_delete<'a>(&self, ctx: &'a CallContext<'a>, where_: &'a Where, count: u64) -> HookFuture<'a>;
    fn loaded<'a>(&self, ctx: &'a CallContext<'a>, instance: &'a mut Instance) -> HookFuture<'a>;
}

pub(crate) struct HooksOf<M>(pub(crate) std::marker::PhantomData<fn() -> M>);

impl<M: ModelHooks> DynHooks for HooksOf<M> {
    fn resolve_id<'a>(&self, ctx: &'a CallContext<'a>, id: Value) -> ValueFuture<'a> {
        Box::pin(M::resolve_id(ctx, id))
    }
    fn normalize<'a>(&self, ctx: &'a CallContext<'a>, data: &'a mut Instance) -> HookFuture<'a> {
        Box::pin(M::normalize(ctx, data))
    }
    fn access<'a>(&self, ctx: &'a CallContext<'a>, where_: &'a mut Option<Where>) -> HookFuture<'a> {
        Box::pin(M::access(ctx, where_))
    }
    fn before_save<'a>(&self, ctx: &'a CallContext<'a>, event: &'a mut SaveEvent) -> HookFuture<'a> {
        Box::pin(M::before_save(ctx, event))
    }
    fn after_save<'a>(&self, ctx: &'a CallContext<'a>, instance: &'a Instance, is_new: bool) -> HookFuture<'a> {
        Box::pin(M::after_save(ctx, instance, is_new))
    }
    fn before_delete<'a>(&self, ctx: &'a CallContext<'a>, where_: &'a Where) -> HookFuture<'a> {
        Box::pin(M::before_delete(ctx, where_))
    }
    fn after_delete<'a>(&self, ctx: &'a CallContext<'a>, where_: &'a Where, count: u64) -> HookFuture<'a> {
        Box::pin(M::after_delete(ctx, where_, count))
    }
    fn loaded<'a>(&self, ctx: &'a CallContext<'a>, instance: &'a mut Instance) -> HookFuture<'a> {
        Box::pin(M::loaded(ctx, instance))
    }
}

/// Hooks that do nothing, for models registered from a bare definition.
pub(crate) struct NoHooks;

impl ModelHooks for NoHooks {}
