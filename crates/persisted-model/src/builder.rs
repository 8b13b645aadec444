//! Putting an API together: the models, the access control, the limits and the change broker,
//! checked as a whole and made ready against the database by [`RestApiBuilder::build`].

use std::sync::Arc;

use actix_web::web::Data;
use sea_orm::DatabaseConnection;

use persisted_model_acl::{AclEntry, Policy};

use crate::access::{AclSource, Authenticator, RoleSource, SharedAclSource, SharedAuthenticator, SharedRoleSource};
use crate::filter::FilterLimits;
use crate::model::{ModelHandle, ModelRegistry, PersistedModel};
use crate::rest::{
    DEFAULT_BODY_LIMIT, DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BATCH, DEFAULT_REQUESTS_PER_ADDRESS, RestApi, RestState,
};

/// Builder for [`RestApi`].
#[must_use]
pub struct RestApiBuilder {
    db: DatabaseConnection,
    registry: ModelRegistry,
    limits: FilterLimits,
    body_limit: usize,
    body_timeout: std::time::Duration,
    requests_per_address: u32,
    forwarded_address: bool,
    max_batch: usize,
    create_tables: bool,
    acls: Vec<AclEntry>,
    authenticator: Option<SharedAuthenticator>,
    role_sources: Vec<SharedRoleSource>,
    acl_sources: Vec<SharedAclSource>,
    deny_with_401: bool,
    openapi_info: crate::openapi::OpenApiInfo,
    layout: crate::Layout,
    checks: Vec<RegistryCheck>,
    omit_nulls: bool,
    broker: BrokerChoice,
    change_secret: Option<Vec<u8>>,
    change_listeners: Vec<crate::changes::FeedListener>,
    keep_alive: std::time::Duration,
}

/// Which change broker `build()` starts.
enum BrokerChoice {
    /// PostgreSQL's own on PostgreSQL; Redis on MySQL when `REDIS_URL` is set.
    Automatic,
    /// The application's.
    Given(Arc<dyn crate::changes::ChangeBroker>),
    /// None: changes reach this process's streams only.
    Off,
}

/// A check of the whole registry that a crate adds to `build()` (access-token checks the
/// shape of the user and token models).
type RegistryCheck = Box<dyn Fn(&ModelRegistry) -> Vec<String>>;

impl std::fmt::Debug for RestApiBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RestApiBuilder").field("registry", &self.registry).finish_non_exhaustive()
    }
}

impl RestApi {
    /// Starts a builder over this connection.
    pub fn builder(db: DatabaseConnection) -> RestApiBuilder {
        RestApiBuilder {
            db,
            registry: ModelRegistry::default(),
            limits: FilterLimits::default(),
            body_limit: DEFAULT_BODY_LIMIT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            requests_per_address: DEFAULT_REQUESTS_PER_ADDRESS,
            forwarded_address: false,
            max_batch: DEFAULT_MAX_BATCH,
            create_tables: true,
            acls: Vec::new(),
            authenticator: None,
            role_sources: Vec::new(),
            acl_sources: Vec::new(),
            deny_with_401: false,
            openapi_info: Default::default(),
            layout: crate::Layout::AsDeclared,
            checks: Vec::new(),
            omit_nulls: false,
            broker: BrokerChoice::Automatic,
            change_secret: None,
            change_listeners: Vec::new(),
            keep_alive: crate::rest::DEFAULT_KEEP_ALIVE,
        }
    }
}

impl RestApiBuilder {
    /// Serves a derived model, without hooks (see [`model_with`](Self::model_with) for a model
    /// with hooks, and the crate documentation for a whole application).
    pub fn model<M: PersistedModel>(self) -> Self {
        self.handle(ModelHandle::of::<M>())
    }

    /// Serves a derived model with its hooks: a value whose fields are the hooks' state.
    ///
    /// ```no_run
    /// use persisted_model::prelude::*;
    /// use sea_orm::entity::prelude::*;
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    /// #[sea_orm(table_name = "post")]
    /// pub struct Model {
    ///     #[sea_orm(primary_key)]
    ///     pub id: i32,
    ///     pub title: String,
    /// }
    /// #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// pub enum Relation {}
    /// impl ActiveModelBehavior for ActiveModel {}
    ///
    /// /// Titles are stored with a prefix of the application's choosing.
    /// struct PostHooks {
    ///     prefix: String,
    /// }
    ///
    /// impl ModelHooks for PostHooks {
    ///     async fn before_save(&self, _ctx: &CallContext<'_>, event: &mut SaveEvent) -> Result<(), Error> {
    ///         let title: String = event.get("title").unwrap_or_default();
    ///         event.set("title", format!("{}{title}", self.prefix))
    ///     }
    /// }
    ///
    /// #[actix_web::main]
    /// async fn main() -> Result<(), persisted_model::Error> {
    ///     let db = persisted_model::connect("sqlite::memory:").await?;
    ///     let api = RestApi::builder(db).model_with::<Model>(PostHooks { prefix: "> ".into() }).build().await?;
    ///     # let _ = api;
    ///     Ok(())
    /// }
    /// ```
    pub fn model_with<M: PersistedModel>(self, hooks: impl crate::ModelHooks) -> Self {
        self.handle(ModelHandle::of::<M>().with_hooks(hooks))
    }

    /// Serves the derived model `H::Model` with hooks over its Rust types ([`TypedHooks`](crate::TypedHooks):
    /// the sea-orm `ActiveModel` for writes, the `Model` for stored instances).
    ///
    /// ```no_run
    /// # use persisted_model::prelude::*;
    /// # use sea_orm::entity::prelude::*;
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
    /// # #[sea_orm(table_name = "post")]
    /// # pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub title: String }
    /// # #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    /// # pub enum Relation {}
    /// # impl ActiveModelBehavior for ActiveModel {}
    /// use persisted_model::{Change, TypedHooks};
    ///
    /// /// Refuses empty titles.
    /// struct PostHooks;
    ///
    /// impl TypedHooks for PostHooks {
    ///     type Model = Model;
    ///     async fn before_save(&self, _ctx: &CallContext<'_>, change: &mut Change<Model>) -> Result<(), Error> {
    ///         match change.data.title.try_as_ref() {
    ///             Some(title) if title.trim().is_empty() => Err(Error::bad_request("a title is required")),
    ///             _ => Ok(()),
    ///         }
    ///     }
    /// }
    ///
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// let api = RestApi::builder(db).model_with_typed(PostHooks).build().await?;
    /// # let _ = api; Ok(()) }
    /// ```
    pub fn model_with_typed<H>(self, hooks: H) -> Self
    where
        H: crate::TypedHooks,
        H::Model: PersistedModel,
    {
        self.handle(ModelHandle::of::<H::Model>().with_typed_hooks(hooks))
    }

    /// Serves a model from its handle (for definitions changed with `map_definition`).
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// use persisted_model::{ModelHandle, RestApi};
    /// // A model defined at run time (or a derived one with another table: `ModelHandle::of::<M>()`).
    /// let product = ModelHandle::from_definition(persisted_model::testing::product_definition())
    ///     .map_definition(|d| d.table = "shop_product".into());
    /// let api = RestApi::builder(db).handle(product).build().await?;
    /// # let _ = api;
    /// # Ok(()) }
    /// ```
    pub fn handle(mut self, model: ModelHandle) -> Self {
        self.registry.insert(model);
        self
    }

    /// Query limits (default: `FilterLimits::default()`: pages of at most 1,000 rows, at most
    /// 10,000 included instances; see `docs/robustness.md`).
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// use persisted_model::RestApi;
    /// use persisted_model::filter::FilterLimits;
    /// let mut limits = FilterLimits::recommended(); // pages of 100, at most 1,000
    /// limits.max_include_rows = 2_000;
    /// let api = RestApi::builder(db).limits(limits).build().await?;
    /// # let _ = api;
    /// # Ok(()) }
    /// ```
    pub fn limits(mut self, limits: FilterLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Largest accepted request body in bytes.
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// let api = persisted_model::RestApi::builder(db).body_limit(1024 * 1024).build().await?;
    /// # let _ = api;
    /// # Ok(()) }
    /// ```
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// How long a request's body may take to arrive (default [`DEFAULT_BODY_TIMEOUT`]); a body
    /// still incomplete then is answered 408 `REQUEST_TIMEOUT` and the connection closed, so a
    /// client sending a byte now and then holds nothing for long.
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// let api = persisted_model::RestApi::builder(db).body_timeout(std::time::Duration::from_secs(30)).build().await?;
    /// # let _ = api;
    /// # Ok(()) }
    /// ```
    pub fn body_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// How many requests one client address may have in progress at once (default
    /// [`DEFAULT_REQUESTS_PER_ADDRESS`]; a change stream counts while it is open). One more is
    /// answered 429 `TOO_MANY_REQUESTS` with `Retry-After`, and its connection closed.
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// let api = persisted_model::RestApi::builder(db).requests_per_address(256).build().await?;
    /// # let _ = api;
    /// # Ok(()) }
    /// ```
    pub fn requests_per_address(mut self, n: u32) -> Self {
        self.requests_per_address = n;
        self
    }

    /// Whether the client's address is the one a proxy in front of the server names
    /// (`Forwarded`, `X-Forwarded-For`) rather than the connection's peer (default: the peer).
    /// Turn it on only behind a proxy that sets the header: otherwise clients choose their
    /// address. The per-address limits (requests in progress, login attempts) count by it.
    pub fn trust_forwarded_address(mut self, yes: bool) -> Self {
        self.forwarded_address = yes;
        self
    }

    /// Most items an array body may hold (default [`DEFAULT_MAX_BATCH`]): a larger batch is
    /// answered 413 `BATCH_TOO_LARGE` before anything is written.
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// let api = persisted_model::RestApi::builder(db).max_batch(500).build().await?;
    /// # let _ = api;
    /// # Ok(()) }
    /// ```
    pub fn max_batch(mut self, items: usize) -> Self {
        self.max_batch = items;
        self
    }

    /// Adds an application-level ACL entry (as LoopBack's model-config `acls`).
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// use persisted_model::acl::{AccessType, AclEntry};
    /// # let product = persisted_model::ModelHandle::from_definition(persisted_model::testing::product_definition())
    /// #     .map_definition(|d| d.relations.clear());
    /// let api = persisted_model::RestApi::builder(db)
    ///     .handle(product)
    ///     .acl(AclEntry::role("Product", "*", Some(AccessType::Write), "$everyone").deny())
    ///     .acl(AclEntry::role("Product", "*", Some(AccessType::Write), "admin"))
    ///     .build()
    ///     .await?;
    /// # let _ = api;
    /// # Ok(()) }
    /// ```
    pub fn acl(mut self, entry: AclEntry) -> Self {
        self.acls.push(entry);
        self
    }

    /// Sets how callers are identified (access-token's token lookup).
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// use persisted_model::acl::Caller;
    /// use persisted_model::{Authenticator, BoxFuture, RestState};
    ///
    /// /// Every caller is user 7 (a test double; access-token's `TokenAuthenticator` is the real one).
    /// struct AlwaysSeven;
    ///
    /// impl Authenticator for AlwaysSeven {
    ///     fn authenticate<'a>(
    ///         &'a self,
    ///         _req: &'a actix_web::HttpRequest,
    ///         _state: &'a RestState,
    ///     ) -> BoxFuture<'a, persisted_model::Result<Caller>> {
    ///         Box::pin(async { Ok(Caller::user("7", "User")) })
    ///     }
    /// }
    ///
    /// let api = persisted_model::RestApi::builder(db).authenticator(AlwaysSeven).build().await?;
    /// # let _ = api;
    /// # Ok(()) }
    /// ```
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticator = Some(std::sync::Arc::new(authenticator));
        self
    }

    /// Adds a source of named roles (RoleMapping, custom roles).
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// use persisted_model::RoleFn;
    /// use persisted_model::acl::Caller;
    /// // User 1 is an auditor; other roles are someone else's to answer.
    /// let auditors = RoleFn(|role: &str, caller: &Caller| (role == "auditor").then(|| caller.user_id() == Some("1")));
    /// let api = persisted_model::RestApi::builder(db).role_source(auditors).build().await?;
    /// # let _ = api;
    /// # Ok(()) }
    /// ```
    pub fn role_source(mut self, source: impl RoleSource) -> Self {
        self.role_sources.push(std::sync::Arc::new(source));
        self
    }

    /// Adds a source of ACL entries read at each decision (an `ACL` table).
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// use persisted_model::acl::AclEntry;
    /// use persisted_model::{AclSource, BoxFuture, Db, RestState};
    ///
    /// /// Entries kept elsewhere (access-token's `AclTable` reads LoopBack's `ACL` table).
    /// struct Frozen(Vec<AclEntry>);
    ///
    /// impl AclSource for Frozen {
    ///     fn entries<'a>(
    ///         &'a self,
    ///         _model: &'a str,
    ///         _state: &'a RestState,
    ///         _db: Db<'a>,
    ///     ) -> BoxFuture<'a, persisted_model::Result<Vec<AclEntry>>> {
    ///         Box::pin(async move { Ok(self.0.clone()) })
    ///     }
    /// }
    ///
    /// let api = persisted_model::RestApi::builder(db).acl_source(Frozen(Vec::new())).build().await?;
    /// # let _ = api;
    /// # Ok(()) }
    /// ```
    pub fn acl_source(mut self, source: impl AclSource) -> Self {
        self.acl_sources.push(std::sync::Arc::new(source));
        self
    }

    /// The OpenAPI document's title and version (default: "persisted-model API" and this
    /// crate's version).
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// let api = persisted_model::RestApi::builder(db).openapi_info("Shop", "2.0.0").build().await?;
    /// assert_eq!(api.openapi("/api").info.title, "Shop");
    /// # Ok(()) }
    /// ```
    pub fn openapi_info(mut self, title: &str, version: &str) -> Self {
        self.openapi_info.title = title.to_owned();
        self.openapi_info.version = version.to_owned();
        self
    }

    /// The OpenAPI document's description (default: "LoopBack 3 compatible REST API.").
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// let api = persisted_model::RestApi::builder(db).openapi_description("The shop's catalogue.").build().await?;
    /// # let _ = api;
    /// # Ok(()) }
    /// ```
    pub fn openapi_description(mut self, text: &str) -> Self {
        self.openapi_info.description = text.to_owned();
        self
    }

    /// Answers every denial with 401 `AUTHORIZATION_REQUIRED`, as LoopBack 3 did by default.
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// let api = persisted_model::RestApi::builder(db).deny_with_401(true).build().await?;
    /// # let _ = api;
    /// # Ok(()) }
    /// ```
    pub fn deny_with_401(mut self, yes: bool) -> Self {
        self.deny_with_401 = yes;
        self
    }

    /// Whether the models include one with this name.
    pub fn has_model(&self, name: &str) -> bool {
        self.registry.get(name).is_some()
    }

    /// The database connection.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Whether `build` creates missing tables (default true).
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// // The tables exist already (a LoopBack 3 database): create nothing.
    /// let api = persisted_model::RestApi::builder(db).create_tables(false).build().await?;
    /// # let _ = api;
    /// # Ok(()) }
    /// ```
    pub fn create_tables(mut self, yes: bool) -> Self {
        self.create_tables = yes;
        self
    }

    /// The kind of database the API is built over (for code that names tables per back end).
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// let builder = persisted_model::RestApi::builder(db);
    /// assert_eq!(builder.backend(), sea_orm::DbBackend::Sqlite);
    /// # Ok(()) }
    /// ```
    pub fn backend(&self) -> sea_orm::DbBackend {
        self.db.get_database_backend()
    }

    /// Where the models' tables are: the names the models declare (the default), or the
    /// names of a LoopBack 3 database ([`Layout::LoopBack3`](crate::Layout::LoopBack3), which
    /// creates no table).
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("postgres://postgres@127.0.0.1/lb3app").await?;
    /// use persisted_model::{Layout, ModelHandle, RestApi};
    /// // `Product` in LoopBack's table `product`, its `inStock` in the column `instock`.
    /// let product = ModelHandle::from_definition(persisted_model::testing::product_definition());
    /// let api = RestApi::builder(db).layout(Layout::LoopBack3).handle(product).build().await?;
    /// # let _ = api; Ok(()) }
    /// ```
    pub fn layout(mut self, layout: crate::Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Leaves properties whose value is null out of every model's responses (LoopBack 3's
    /// memory and MongoDB connectors never send a property that was not set; its SQL
    /// connectors send `null`, the default). One model: `ModelSettings::omit_nulls`.
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// let api = persisted_model::RestApi::builder(db).omit_null_properties(true).build().await?;
    /// # let _ = api; Ok(()) }
    /// ```
    pub fn omit_null_properties(mut self, yes: bool) -> Self {
        self.omit_nulls = yes;
        self
    }

    /// Adds a check of the whole registry to `build()`: each line it returns is a problem
    /// reported with the others in [`Error::Configuration`](crate::Error::Configuration).
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("sqlite::memory:").await?;
    /// let api = persisted_model::RestApi::builder(db)
    ///     .check(|models| match models.get("Product") {
    ///         Some(_) => Vec::new(),
    ///         None => vec!["the shop needs a Product model".to_owned()],
    ///     })
    ///     .build()
    ///     .await;
    /// assert!(api.is_err());
    /// # Ok(()) }
    /// ```
    pub fn check(mut self, check: impl Fn(&ModelRegistry) -> Vec<String> + 'static) -> Self {
        self.checks.push(Box::new(check));
        self
    }

    /// The broker that carries changes between the server processes sharing the database
    /// (see [`changes`](crate::changes)). By default: PostgreSQL's `LISTEN`/`NOTIFY` on
    /// PostgreSQL, Redis pub/sub on MySQL/MariaDB when `REDIS_URL` is set (feature `redis`),
    /// none on SQLite.
    pub fn change_broker(mut self, broker: impl crate::changes::ChangeBroker) -> Self {
        self.broker = BrokerChoice::Given(Arc::new(broker));
        self
    }

    /// The secret that signs the messages server processes send each other through the change
    /// broker (HMAC-SHA256): every process of the application must have the same. By default
    /// `CHANGE_FEED_SECRET`, else a random secret kept in the database's `persisted_model_feed`
    /// table (so that a login that can `NOTIFY` on the database, or a client of the Redis
    /// server, but cannot read that table, cannot inject changes). Set one, and keep the
    /// table's grants narrow, where others share the database or the Redis server.
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("postgres://postgres@127.0.0.1/shop").await?;
    /// let secret = std::env::var("SHOP_FEED_SECRET").expect("a secret shared by every process");
    /// let api = persisted_model::RestApi::builder(db).change_secret(secret).build().await?;
    /// # let _ = api; Ok(()) }
    /// ```
    pub fn change_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.change_secret = Some(secret.into());
        self
    }

    /// No change broker: change streams see this process's writes only, and caches of rows
    /// other processes may change (tokens) are off unless the database is SQLite.
    pub fn without_change_broker(mut self) -> Self {
        self.broker = BrokerChoice::Off;
        self
    }

    /// Calls `listener` with every committed change, from this process or another, and
    /// whenever changes may have been missed; synchronously, before change streams see them.
    /// The access-token crate drops revoked tokens from its cache this way.
    pub fn on_change(mut self, listener: impl Fn(crate::changes::Notice<'_>) + Send + Sync + 'static) -> Self {
        self.change_listeners.push(Arc::new(listener));
        self
    }

    /// How often an idle change stream sends a keep-alive comment (default 15 s).
    pub fn change_stream_keep_alive(mut self, every: std::time::Duration) -> Self {
        self.keep_alive = every;
        self
    }

    /// Checks the models as a whole (relation targets, keys and through models, ACL entries'
    /// models and methods, REST paths, the added checks), creates the missing tables, checks
    /// the database's tables against the models and returns the API.
    ///
    /// A configuration that does not fit together is refused with
    /// [`Error::Configuration`](crate::Error::Configuration) listing every problem, so nothing
    /// in the request path meets an unknown name or a missing column.
    ///
    /// On PostgreSQL (and on MySQL with a Redis broker) it starts the change broker's tasks on
    /// the current tokio runtime.
    pub async fn build(mut self) -> crate::Result<RestApi> {
        let mut problems = crate::model::registry_problems(&self.registry, &self.acls);
        for check in &self.checks {
            problems.extend(check(&self.registry));
        }
        if !problems.is_empty() {
            return Err(crate::Error::Configuration(problems));
        }
        let backend = self.db.get_database_backend();
        let (layout, omit_nulls) = (self.layout, self.omit_nulls);
        self.registry.map(|m| {
            m.map_definition(|d| {
                layout.apply(d, backend);
                d.settings.omit_nulls |= omit_nulls;
            })
        });
        if self.create_tables && layout.creates_tables() {
            crate::store::schema::create_tables(&self.db, &self.registry).await?;
        }
        crate::store::schema::fit_tables(&self.db, &mut self.registry).await?;
        let mut policy = Policy::new(Vec::new());
        for model in self.registry.iter() {
            let def = model.definition();
            for entry in &def.acls {
                policy.add(entry.clone());
            }
            if let Some(p) = def.settings.default_permission {
                policy.set_default(&def.name, p);
            }
        }
        for entry in self.acls {
            policy.add(entry);
        }
        let broker = match self.broker {
            BrokerChoice::Given(broker) => Some(broker),
            BrokerChoice::Off => None,
            BrokerChoice::Automatic => automatic_broker(&self.db)?,
        };
        let shared = match broker {
            Some(broker) => {
                // The revocation epoch and the stored secret (`changes::lease`).
                let stored = crate::changes::lease::prepare(&self.db).await?;
                let secret = self
                    .change_secret
                    .or_else(|| {
                        std::env::var("CHANGE_FEED_SECRET").ok().filter(|s| !s.is_empty()).map(String::into_bytes)
                    })
                    .unwrap_or_else(|| stored.into_bytes());
                Some(crate::changes::SharedFeed {
                    broker,
                    secret: crate::changes::FeedSecret::new(secret),
                    epoch: crate::changes::lease::EpochReader::new(&self.db),
                })
            }
            None => None,
        };
        let changes =
            crate::changes::ChangeFeed::start(shared, backend == sea_orm::DbBackend::Sqlite, self.change_listeners);
        Ok(RestApi {
            state: Data::new(RestState {
                write_gate: crate::connection::WriteGate::for_database(&self.db),
                db: self.db,
                registry: Arc::new(self.registry),
                limits: self.limits,
                body_limit: self.body_limit,
                body_timeout: self.body_timeout,
                clients: crate::rest::ClientLimits::new(self.requests_per_address, self.forwarded_address),
                max_batch: self.max_batch,
                policy,
                authenticator: self.authenticator,
                role_sources: self.role_sources,
                acl_sources: self.acl_sources,
                deny_with_401: self.deny_with_401,
                openapi_info: self.openapi_info,
                changes,
                keep_alive: self.keep_alive,
                openapi_cache: Default::default(),
                serving: std::sync::Once::new(),
            }),
        })
    }
}

/// PostgreSQL's `LISTEN`/`NOTIFY` on PostgreSQL; on MySQL, Redis when `REDIS_URL` is set (and
/// the `redis` feature is on); otherwise none.
fn automatic_broker(db: &DatabaseConnection) -> crate::Result<Option<Arc<dyn crate::changes::ChangeBroker>>> {
    if let Some(pg) = crate::changes::PostgresBroker::new(db) {
        return Ok(Some(Arc::new(pg)));
    }
    #[cfg(feature = "redis")]
    if db.get_database_backend() == sea_orm::DbBackend::MySql
        && let Some(redis) = crate::changes::RedisBroker::from_env()
    {
        let redis = redis.map_err(|e| crate::Error::Configuration(vec![format!("REDIS_URL: {e}")]))?;
        return Ok(Some(Arc::new(redis)));
    }
    Ok(None)
}
