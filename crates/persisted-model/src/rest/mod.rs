//! The REST layer: the remote-method table, route mounting, argument reading and handlers.

mod body;
mod call;
mod client_limits;
mod explorer;
mod handlers;
mod health;
mod relations;
mod remote_method;
mod reply;
mod routes;
pub(crate) mod stream;

pub use call::Call;
pub(crate) use client_limits::ClientLimits;
pub use client_limits::DEFAULT_REQUESTS_PER_ADDRESS;
pub use remote_method::{AccessType, CustomHandler, Operation, RelationOp, RemoteMethod, remote_methods};
pub use routes::{ModelRoutes, url_not_found};
pub use stream::DEFAULT_KEEP_ALIVE;

use std::sync::Arc;

use actix_web::Scope;
use actix_web::web::{self, Data};
use sea_orm::DatabaseConnection;

use persisted_model_acl::Policy;

use crate::access::{SharedAclSource, SharedAuthenticator, SharedRoleSource};
use crate::filter::FilterLimits;
use crate::model::{ModelRegistry, PersistedModel};

/// LoopBack's (body-parser's) default body limit: 100 kB.
pub const DEFAULT_BODY_LIMIT: usize = 100 * 1024;

/// The default cap on items in one array body (LoopBack had none).
pub const DEFAULT_MAX_BATCH: usize = 100;

/// How long a request's body may take to arrive, by default.
pub const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What every handler shares: the connection, the models, the access policy and the limits.
#[non_exhaustive]
pub struct RestState {
    /// The database.
    pub db: DatabaseConnection,
    /// Every model served.
    pub registry: Arc<ModelRegistry>,
    /// Query limits.
    pub limits: FilterLimits,
    /// Largest accepted request body in bytes (413 above).
    pub body_limit: usize,
    /// How long a request's body may take to arrive (408 after).
    pub body_timeout: std::time::Duration,
    /// Requests in progress per client address.
    pub(crate) clients: client_limits::ClientLimits,
    /// Most items an array body may hold (a create of many instances); 413 above.
    pub max_batch: usize,
    /// Every model's static ACLs plus the application's, compiled once.
    pub policy: Policy,
    pub(crate) authenticator: Option<SharedAuthenticator>,
    pub(crate) role_sources: Vec<SharedRoleSource>,
    pub(crate) acl_sources: Vec<SharedAclSource>,
    /// Answer every denial with 401, as LoopBack 3 did by default (off: 403 when authenticated).
    pub deny_with_401: bool,
    pub(crate) openapi_info: crate::openapi::OpenApiInfo,
    /// The process's change feed (change streams, caches that other processes' writes void).
    pub changes: crate::changes::ChangeFeed,
    /// How often an idle change stream sends a keep-alive comment.
    pub keep_alive: std::time::Duration,
    /// The generated document, made once per REST root (every worker mounts the explorer).
    pub(crate) openapi_cache: std::sync::Mutex<Vec<(String, utoipa::openapi::OpenApi)>>,
    /// SQLite's writes, one at a time in arrival order.
    pub(crate) write_gate: Option<crate::connection::WriteGate>,
    /// Set once the first worker mounts the routes and the start-up connections are closed.
    pub(crate) serving: std::sync::Once,
}

impl RestState {
    /// The pool, as the framework's own statements use it: on SQLite, writes take their turn in
    /// the process's write queue.
    pub fn pool(&self) -> crate::Db<'_> {
        crate::Db::gated(&self.db, self.write_gate.as_ref())
    }

    /// Called as a worker mounts the routes: the connections opened until then (on the
    /// runtime that built the API) are closed once, so that the workers open their own (see
    /// `connection::close_idle_connections`).
    pub(crate) fn start_serving(&self) {
        self.serving.call_once(|| crate::connection::close_idle_connections(&self.db));
    }

    /// A store over a registered model, for code outside a route (seeding, authenticators).
    pub fn store<'a>(
        &'a self,
        model: &str,
        method: &'a str,
        request: Option<&'a actix_web::HttpRequest>,
    ) -> Option<crate::Store<'a>> {
        self.store_on(self.pool(), model, method, request)
    }

    /// A store over a registered model on a given connection (a write's transaction, for
    /// role sources and hooks that run inside one).
    pub fn store_on<'a>(
        &'a self,
        db: crate::Db<'a>,
        model: &str,
        method: &'a str,
        request: Option<&'a actix_web::HttpRequest>,
    ) -> Option<crate::Store<'a>> {
        Some(crate::Store::new(self, db, self.registry.get(model)?, method, request))
    }

    /// The address of the client that sent `req`: the connection's peer, or the address a
    /// trusted proxy forwarded ([`RestApiBuilder::trust_forwarded_address`]). Limits per client
    /// (requests in progress, login attempts) count by it.
    pub fn client_address(&self, req: &actix_web::HttpRequest) -> Option<std::net::IpAddr> {
        self.clients.address(req)
    }

    /// Whether `caller` may call `method` of `model` (for hooks and custom methods that need a
    /// finer decision than their route's, such as minting a token for another user). `db` is
    /// the connection role lookups use: a hook passes its own (`ctx.db`).
    pub async fn is_allowed(
        &self,
        db: crate::Db<'_>,
        caller: &persisted_model_acl::Caller,
        model: &crate::model::ModelDefinition,
        method: &str,
        access: AccessType,
    ) -> crate::Result<bool> {
        let check = crate::access::Check { state: self, db, caller };
        let decision = check.decide(model, method, &[], access, None, None).await?;
        Ok(decision == persisted_model_acl::Decision::Allow)
    }
}

impl std::fmt::Debug for RestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestState")
            .field("registry", &self.registry)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The REST API of a set of models: build it once, mount it in every worker.
#[derive(Clone)]
pub struct RestApi {
    pub(crate) state: Data<RestState>,
}

impl std::fmt::Debug for RestApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestApi").finish_non_exhaustive()
    }
}

impl RestApi {
    /// The process's change feed: subscribe to every committed change, or close it on
    /// shutdown so that change streams end.
    pub fn changes(&self) -> &crate::changes::ChangeFeed {
        &self.state.changes
    }

    /// Typed data access to a registered model for server code, with the same hooks,
    /// validation and row rules as the routes (see [`Repository`](crate::Repository)).
    pub fn repository<M: PersistedModel + serde::de::DeserializeOwned>(&self) -> crate::Result<crate::Repository<M>> {
        crate::Repository::new(self.state.clone())
    }

    /// The shared state (also registered as app data by [`RestApi::scope`]).
    pub fn state(&self) -> Data<RestState> {
        self.state.clone()
    }

    /// The OpenAPI 3.1 document of the API mounted under `root`, built from the same tables as
    /// the routes, as utoipa's typed document: an application merges its own
    /// `#[utoipa::path]` routes into it (`merge_from`) and serves the result with
    /// [`explorer_with`](Self::explorer_with).
    pub fn openapi(&self, root: &str) -> utoipa::openapi::OpenApi {
        let cache = &self.state.openapi_cache;
        if let Some((_, doc)) = cache.lock().ok().and_then(|c| c.iter().find(|(r, _)| r == root).cloned()) {
            return doc;
        }
        let doc = crate::openapi::document(&self.state, root);
        if let Ok(mut c) = cache.lock() {
            c.push((root.to_owned(), doc.clone()));
        }
        doc
    }

    /// The routes of one public model, to mount on their own (`App::service` inside a scope of
    /// the application's choosing); `None` for an unknown or non-public model.
    pub fn model_routes(&self, model: &str) -> Option<ModelRoutes> {
        let handle = self.state.registry.get(model).filter(|m| m.definition().settings.public)?;
        Some(ModelRoutes::new(handle.clone(), self.state.clone()))
    }

    /// Every route of every model under `root` (for example `/api`), with LoopBack's 404s.
    pub fn scope(&self, root: &str) -> Scope {
        let mut scope = web::scope(root).app_data(self.state.clone());
        for model in self.state.registry.iter().filter(|m| m.definition().settings.public) {
            scope = scope.service(ModelRoutes::new(model.clone(), self.state.clone()));
        }
        scope.default_service(web::to(routes::no_method))
    }
}
