//! # persisted-model-access-token
//!
//! The built-in `AccessToken`, `User`, `Role` and `RoleMapping` models of LoopBack 3 for
//! persisted-model: login and logout, password changes and resets, token lookup from the
//! request (`access_token` query, `X-Access-Token`, `Authorization`), expiry, and static roles.
//!
//! Tokens are 64 alphanumeric characters from the OS CSPRNG, shown once and stored as SHA-256
//! fingerprints. Valid tokens are cached per process while the change feed carries every
//! process's token changes (SQLite, or a connected broker: see `cache`); a logout or
//! revocation is answered once every process has dropped the token, so it takes effect at
//! once on every server sharing the database.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use persisted_model::RestApi;
//! use persisted_model_access_token::AccessTokens;
//!
//! let db = persisted_model::connect("sqlite::memory:").await?;
//! let api = AccessTokens::new().register(RestApi::builder(db)).build().await?;
//! // POST /api/Users, POST /api/Users/login, GET /api/Users/:id with the token...
//! # let _ = api; Ok(()) }
//! ```

mod authenticator;
mod cache;
mod error;
mod extract;
mod methods;
mod models;
mod password;
mod role_cache;
mod role_source;
mod seed;
mod throttle;
mod token;

pub use authenticator::{CurrentToken, TokenAuthenticator};
pub use error::{Credential, Error};
pub use extract::{from_authorization, token_from_request};
pub use methods::{MAX_RESET_TOKENS, ResetNotifier, ResetRequest};
pub use models::access_token::{DEFAULT_TTL, MAX_TTL};
pub use models::acl::AclTable;
pub use models::{access_token, acl, role, role_mapping, user};
pub use role_source::RoleMappingRoles;
pub use seed::{add_user_to_role, create_user};
pub use throttle::Throttle;
pub use token::{fingerprint, generate as generate_token};

use persisted_model::filter::{Op, Where};
use persisted_model::{CallContext, ModelHandle, RestApiBuilder};
use serde_json::Value;

/// The name of the built-in user model (LoopBack's). An application's own user model may
/// have another: it is the model whose `settings.user_model` is set.
pub const USER_MODEL: &str = "User";
/// The name of the token model (LoopBack's; an application's own token model takes it too).
pub const TOKEN_MODEL: &str = "AccessToken";

/// Registers the built-in models, the token authenticator and the RoleMapping roles.
#[derive(Clone, Default)]
#[must_use]
pub struct AccessTokens {
    token_path: Option<String>,
    max_ttl: Option<i64>,
    allow_eternal: bool,
    store_raw_tokens: bool,
    reset_ttl: Option<i64>,
    notifier: Option<ResetNotifier>,
    table_prefix: Option<String>,
    acl_table: bool,
    user_model: Option<ModelHandle>,
    token_model: Option<ModelHandle>,
    no_token_cache: bool,
    loopback3_layout: bool,
    throttle: Option<Option<Throttle>>,
    user_hooks: Option<user::UserHooks>,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens").field("token_path", &self.token_path).finish_non_exhaustive()
    }
}

impl AccessTokens {
    /// LoopBack's defaults: `/AccessTokens`, ttl two weeks, maxTTL one year, no eternal tokens.
    pub fn new() -> Self {
        Self::default()
    }

    /// The REST path of the AccessToken model (LoopBack's default is `AccessTokens`).
    pub fn token_path(mut self, path: &str) -> Self {
        self.token_path = Some(path.trim_start_matches('/').to_owned());
        self
    }

    /// The longest lifetime a token may get, in seconds.
    pub fn max_ttl(mut self, seconds: i64) -> Self {
        self.max_ttl = Some(seconds);
        self
    }

    /// Accept `ttl: -1` (LoopBack's `allowEternalTokens`).
    pub fn allow_eternal_tokens(mut self, yes: bool) -> Self {
        self.allow_eternal = yes;
        self
    }

    /// Store raw token ids instead of fingerprints, to keep an existing LoopBack 3 database's
    /// tokens working (less safe: a read of the table yields usable tokens).
    pub fn store_raw_tokens(mut self, yes: bool) -> Self {
        self.store_raw_tokens = yes;
        self
    }

    /// The settings for serving a LoopBack 3 application's database as it is: LoopBack's
    /// table and column names ([`Layout::LoopBack3`](persisted_model::Layout::LoopBack3), applied
    /// to every model of the API, no table created) and raw token ids, so every user stays
    /// logged in. See `docs/migrating-from-loopback.md`.
    ///
    /// ```no_run
    /// # #[actix_web::main]
    /// # async fn main() -> persisted_model::Result<()> {
    /// # let db = persisted_model::connect("postgres://postgres@127.0.0.1/lb3app").await?;
    /// use persisted_model::RestApi;
    /// use persisted_model_access_token::AccessTokens;
    /// let api = AccessTokens::loopback3().register(RestApi::builder(db)).build().await?;
    /// # let _ = api; Ok(()) }
    /// ```
    pub fn loopback3() -> Self {
        Self {
            store_raw_tokens: true,
            loopback3_layout: true,
            user_hooks: Some(user::UserHooks::loopback3()),
            ..Self::default()
        }
    }

    /// The rules for credential changes and emails ([`user::UserHooks`]): by default a
    /// password changes only through change-password or reset-password, and users change their
    /// own email address only through change-email with the current password;
    /// [`UserHooks::loopback3`](user::UserHooks::loopback3) (which [`loopback3`](Self::loopback3)
    /// uses) allows both by PATCH and PUT, as LoopBack 3 did.
    pub fn user_rules(mut self, hooks: user::UserHooks) -> Self {
        self.user_hooks = Some(hooks);
        self
    }

    /// Lifetime of password reset tokens (default 900 s).
    pub fn reset_token_ttl(mut self, seconds: i64) -> Self {
        self.reset_ttl = Some(seconds);
        self
    }

    /// Where password reset tokens are delivered.
    pub fn on_reset_request(mut self, notify: impl Fn(ResetRequest) + Send + Sync + 'static) -> Self {
        self.notifier = Some(std::sync::Arc::new(notify));
        self
    }

    /// A prefix for the four tables (`app_` → `app_user`, ...).
    pub fn table_prefix(mut self, prefix: &str) -> Self {
        self.table_prefix = Some(prefix.to_owned());
        self
    }

    /// Serve the application's own user model instead of the built-in one. It must have
    /// `email` and `password` (hidden) properties; it gets the User hooks
    /// ([`user::UserHooks`]) and, without ACLs of its own, LoopBack's default User ACLs. Its
    /// name may differ from `User` (a LoopBack `Customer` based on `User`): tokens then belong
    /// to it.
    pub fn user_model<U: persisted_model::PersistedModel>(self) -> Self {
        self.user_handle(ModelHandle::of::<U>())
    }

    /// [`user_model`](Self::user_model) for a model defined at run time (a LoopBack model
    /// file whose `base` is `User`).
    pub fn user_handle(mut self, handle: ModelHandle) -> Self {
        self.user_model = Some(handle);
        self
    }

    /// Serve the application's own token model (for its own table and column names). It must be
    /// named `AccessToken`, have the properties `id` (string), `ttl`, `scopes`, `created` and
    /// `userId` with a belongsTo `user`; it gets the AccessToken hooks
    /// ([`access_token::TokenHooks`]).
    pub fn token_model<T: persisted_model::PersistedModel>(self) -> Self {
        self.token_handle(ModelHandle::of::<T>())
    }

    /// [`token_model`](Self::token_model) for a model defined at run time (a LoopBack model
    /// file whose `base` is `AccessToken`). Its name may differ from `AccessToken`: it is the
    /// target of the user model's `accessTokens` relation.
    pub fn token_handle(mut self, handle: ModelHandle) -> Self {
        self.token_model = Some(handle);
        self
    }

    /// Turn off the per-process token cache (on by default; used while the change feed is
    /// complete: on SQLite, or with a connected change broker). Turn it off when several
    /// processes write one SQLite file, or when tokens are changed outside the API.
    pub fn token_cache(mut self, yes: bool) -> Self {
        self.no_token_cache = !yes;
        self
    }

    /// How credential guessing is held back (default [`Throttle::default`]: 5 failed logins
    /// per account and 20 per client address in 15 minutes, then waits from 1 s doubling to 15
    /// minutes; 3 reset requests per email address and 10 per client address in 15 minutes),
    /// answered 429 `TOO_MANY_ATTEMPTS` with `Retry-After`. `None` turns it off (LoopBack 3 had
    /// none). The counts are kept in the database's `persisted_model_throttle` table, so every
    /// server process sees the same.
    pub fn throttle(mut self, throttle: Option<Throttle>) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Also read ACL entries from an `ACL` table at each decision (one query per check).
    pub fn acl_table(mut self, yes: bool) -> Self {
        self.acl_table = yes;
        self
    }

    /// Adds the models, the authenticator and the role source to an API.
    pub fn register(self, builder: RestApiBuilder) -> RestApiBuilder {
        let prefix = self.table_prefix.clone().unwrap_or_default();
        let table = |d: &mut persisted_model::ModelDefinition| d.table = format!("{prefix}{}", d.table);
        let custom_user = self.user_model.is_some();
        let user_rules = self.user_hooks.unwrap_or_default();
        let restrict_reset = match &self.user_model {
            Some(own) => user_rules.restricts_reset(own.definition()),
            None => user_rules.reset_password_needs_reset_token,
        };
        let token_name =
            self.token_model.as_ref().map_or_else(|| TOKEN_MODEL.to_owned(), |t| t.definition().name.clone());
        let user = self
            .user_model
            .clone()
            .unwrap_or_else(ModelHandle::of::<user::Model>)
            .with_hooks(user_rules)
            .map_definition(|d| {
                if !custom_user {
                    table(d);
                }
                d.settings.user_model = true;
                // Answers about users are personal data: never stored by browsers or proxies.
                d.settings.no_store = true;
                // A user's tokens are the token model's, whatever its name.
                for rel in d.relations.iter_mut().filter(|r| r.name == "accessTokens") {
                    rel.model = token_name.clone();
                }
                if d.acls.is_empty() {
                    d.acls = user::default_acls_for(&d.name);
                }
            })
            .with_methods(methods::user_methods(
                self.reset_ttl.unwrap_or(900),
                self.notifier.clone(),
                self.throttle.clone().unwrap_or_else(|| Some(Throttle::default())).map(|t| {
                    std::sync::Arc::new(throttle::Attempts::new(t, format!("{prefix}persisted_model_throttle")))
                }),
                user_rules,
                restrict_reset,
            ));
        let token_path = self.token_path.clone();
        // The hooks and the authenticator share the token cache and the settings.
        let cache = std::sync::Arc::<cache::TokenCache>::default();
        let hooks = access_token::TokenHooks {
            max_ttl: self.max_ttl.unwrap_or(MAX_TTL),
            allow_eternal: self.allow_eternal,
            raw_ids: self.store_raw_tokens,
            cache: cache.clone(),
        };
        let user_name = user.definition().name.clone();
        // Any process's change to a token (a logout, a revocation, a password change deleting
        // the user's tokens) empties the cache, as does a possible loss of changes.
        let feed_cache = cache.clone();
        let watched = token_name.clone();
        // Any change to a Role or a RoleMapping (a new mapping grants a role) empties the role
        // cache.
        let roles = std::sync::Arc::<role_cache::RoleCache>::default();
        let feed_roles = roles.clone();
        let builder = builder.on_change(move |notice| match notice {
            persisted_model::Notice::Change(c) => {
                if c.model == watched && c.kind != persisted_model::ChangeKind::Create {
                    feed_cache.invalidate();
                }
                if c.model == "Role" || c.model == "RoleMapping" {
                    feed_roles.invalidate();
                }
            }
            persisted_model::Notice::MayHaveMissed => {
                feed_cache.invalidate();
                feed_roles.invalidate();
            }
        });
        let token_authenticator = TokenAuthenticator {
            user_model: user_name.clone(),
            token_model: token_name.clone(),
            cache,
            use_cache: !self.no_token_cache,
            raw_ids: hooks.raw_ids,
            allow_eternal: hooks.allow_eternal,
        };
        let custom_tokens = self.token_model.is_some();
        let raw_ids = self.store_raw_tokens;
        let tokens = self
            .token_model
            .clone()
            .unwrap_or_else(ModelHandle::of::<access_token::Model>)
            .with_hooks(hooks)
            .map_definition(|d| {
                if !custom_tokens {
                    table(d);
                }
                // Tokens belong to the user model, whatever its name.
                for rel in d.relations.iter_mut().filter(|r| r.model == USER_MODEL) {
                    rel.model = user_name.clone();
                }
                if d.acls.is_empty() {
                    d.acls = access_token::default_acls_for(&d.name);
                }
                // A token write is answered once every process has heard of it.
                d.settings.confirm_changes = true;
                // Raw token ids never leave in a change event or a broker message.
                d.settings.id_is_credential = raw_ids;
                d.settings.no_store = true;
                if let Some(p) = token_path {
                    d.path = p;
                }
            })
            // Minting for another user is decided by an ACL on this name (no route of its own).
            .with_acl_method("createForAnyUser");
        let hidden = |d: &mut persisted_model::ModelDefinition| {
            table(d);
            d.settings.public = false;
        };
        // A role write is answered once every process has emptied its role cache.
        let confirmed = |d: &mut persisted_model::ModelDefinition| d.settings.confirm_changes = true;
        let builder = builder.check(model_shapes);
        let builder = if self.loopback3_layout { builder.layout(persisted_model::Layout::LoopBack3) } else { builder };
        let builder = if self.acl_table {
            builder.handle(ModelHandle::of::<acl::Model>().map_definition(hidden)).acl_source(AclTable)
        } else {
            builder
        };
        builder
            .handle(user)
            .handle(tokens)
            .handle(ModelHandle::of::<role::Model>().map_definition(hidden).map_definition(confirmed))
            .handle(ModelHandle::of::<role_mapping::Model>().map_definition(hidden).map_definition(confirmed))
            .authenticator(token_authenticator)
            .role_source(RoleMappingRoles::cached(roles))
    }
}

/// What the user and token models must have for login and token checks to work; an
/// application's own models are checked too.
fn model_shapes(models: &persisted_model::ModelRegistry) -> Vec<String> {
    use persisted_model::PropertyType as T;
    type Fits = fn(T) -> bool;
    /// A property's name, the types it may have, and what the error calls them.
    type Shape = (&'static str, Fits, &'static str);
    let text: Fits = |t| t == T::String;
    let number: Fits = |t| matches!(t, T::Integer(_) | T::Number(_));
    let date: Fits = |t| t == T::Date;
    let any: Fits = |_| true;
    // Scopes are a list: a text property would be read as one string and never narrow.
    let json: Fits = |t| t == T::Json;
    let shapes: [(&str, &[Shape]); 2] = [
        (
            TOKEN_MODEL,
            &[
                ("id", text, "a string"),
                ("ttl", number, "a number"),
                ("scopes", json, "JSON (`Option<Json>`; a text column is read as JSON)"),
                ("created", date, "a date"),
                ("userId", any, "the user's id"),
            ],
        ),
        (USER_MODEL, &[("email", text, "a string"), ("password", text, "a string")]),
    ];
    let mut out = Vec::new();
    for (model, properties) in shapes {
        // The user model is the one marked as such, the token model its `accessTokens`
        // target, whatever their names.
        let found = match model {
            USER_MODEL => user_model(models),
            _ => models.get(token_model_name(models)),
        };
        let Some(def) = found.map(|m| m.definition()) else { continue };
        let model = def.name.as_str();
        for (name, fits, what) in properties {
            match def.property(name) {
                Some(p) if fits(p.ty) => {}
                Some(_) => out.push(format!("{model}.{name} must be {what}")),
                None => out.push(format!("{model} needs the property {name}, {what}")),
            }
        }
    }
    out
}

/// The user model: the one marked as such (`settings.user_model`), whatever its name.
pub(crate) fn user_model(models: &persisted_model::ModelRegistry) -> Option<&ModelHandle> {
    models.iter().find(|m| m.definition().settings.user_model)
}

/// The token model: the target of the user model's `accessTokens` relation, as LoopBack finds
/// it (an application's token model may have another name than `AccessToken`).
pub(crate) fn token_model_name(models: &persisted_model::ModelRegistry) -> &str {
    user_model(models).and_then(|u| u.definition().relation("accessTokens")).map_or(TOKEN_MODEL, |r| r.model.as_str())
}

/// Deletes a user's tokens, except `keep` (the fingerprint of the request's own token).
pub(crate) async fn revoke_tokens(
    ctx: &CallContext<'_>,
    user_id: &Value,
    keep: Option<String>,
) -> persisted_model::Result<u64> {
    let Some(tokens) = ctx.store(token_model_name(ctx.registry)) else { return Ok(0) };
    let mut clauses = vec![Where::eq("userId", user_id.clone())];
    if let Some(keep) = keep {
        clauses.push(Where::Cond { property: "id".into(), op: Op::Neq(Value::String(keep)) });
    }
    tokens.delete_where(Where::all(clauses)).await
}

#[cfg(test)]
mod tests {
    use persisted_model::{ModelHandle, ModelRegistry, PropertyType};

    use super::*;

    #[test]
    fn token_models_whose_scopes_are_not_json_are_refused() {
        let mut models = ModelRegistry::default();
        models.insert(ModelHandle::of::<access_token::Model>());
        models.insert(ModelHandle::of::<user::Model>());
        assert!(model_shapes(&models).is_empty());
        let text_scopes = ModelHandle::of::<access_token::Model>().map_definition(|d| {
            d.properties.iter_mut().filter(|p| p.name == "scopes").for_each(|p| p.ty = PropertyType::String);
            d.properties.retain(|p| p.name != "created");
        });
        models.insert(text_scopes);
        assert_eq!(
            model_shapes(&models),
            vec![
                "AccessToken.scopes must be JSON (`Option<Json>`; a text column is read as JSON)",
                "AccessToken needs the property created, a date",
            ]
        );
    }
}
