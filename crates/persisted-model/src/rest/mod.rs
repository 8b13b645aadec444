//! The REST layer: the remote-method table, route mounting, argument reading and handlers.

mod body;
mod handlers;
mod relations;
mod remote_method;
mod routes;

pub use remote_method::{AccessType, Operation, RelationOp, RemoteMethod, remote_methods};
pub use routes::{ModelRoutes, url_not_found};

use std::sync::Arc;

use actix_web::Scope;
use actix_web::web::{self, Data};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::filter::FilterLimits;
use crate::model::{ModelHandle, ModelRegistry, PersistedModel};

/// LoopBack's (body-parser's) default body limit: 100 kB.
pub const DEFAULT_BODY_LIMIT: usize = 100 * 1024;

/// What every handler shares: the connection, the models and the limits.
#[derive(Debug)]
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
}

/// The REST API of a set of models: build it once, mount it in every worker.
#[derive(Debug, Clone)]
pub struct RestApi {
    state: Data<RestState>,
}

/// Builder for [`RestApi`].
#[derive(Debug)]
#[must_use]
pub struct RestApiBuilder {
    db: DatabaseConnection,
    registry: ModelRegistry,
    limits: FilterLimits,
    body_limit: usize,
    create_tables: bool,
}

impl RestApi {
    /// Starts a builder over this connection.
    pub fn builder(db: DatabaseConnection) -> RestApiBuilder {
        RestApiBuilder {
            db,
            registry: ModelRegistry::default(),
            limits: FilterLimits::default(),
            body_limit: DEFAULT_BODY_LIMIT,
            create_tables: true,
        }
    }

    /// The shared state (also registered as app data by [`RestApi::scope`]).
    pub fn state(&self) -> Data<RestState> {
        self.state.clone()
    }

    /// Every route of every model under `root` (for example `/api`), with LoopBack's 404s.
    pub fn scope(&self, root: &str) -> Scope {
        let mut scope = web::scope(root).app_data(self.state.clone());
        for model in self.state.registry.iter() {
            scope = scope.service(ModelRoutes::new(model.clone()));
        }
        scope.default_service(web::to(routes::no_method))
    }
}

impl RestApiBuilder {
    /// Serves a derived model.
    pub fn model<M: PersistedModel>(self) -> Self {
        self.handle(ModelHandle::of::<M>())
    }

    /// Serves a model from its handle (for definitions changed with `map_definition`).
    pub fn handle(mut self, model: ModelHandle) -> Self {
        self.registry.insert(model);
        self
    }

    /// Query limits (default: LoopBack's, no page size).
    pub fn limits(mut self, limits: FilterLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Largest accepted request body in bytes.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Whether `build` creates missing tables (default true).
    pub fn create_tables(mut self, yes: bool) -> Self {
        self.create_tables = yes;
        self
    }

    /// Creates the missing tables and returns the API.
    pub async fn build(self) -> Result<RestApi, DbErr> {
        if self.create_tables {
            let backend = self.db.get_database_backend();
            for model in self.registry.iter() {
                if let Some(stmt) = model.create_table_statement(backend) {
                    self.db.execute(&stmt).await?;
                }
            }
        }
        Ok(RestApi {
            state: Data::new(RestState {
                db: self.db,
                registry: Arc::new(self.registry),
                limits: self.limits,
                body_limit: self.body_limit,
            }),
        })
    }
}
