//! The built-in AccessToken model and its overrides (security rules 1-3, 13).

use actix_web::http::StatusCode;
use persisted_model::acl::AccessType;
use persisted_model::prelude::*;
use persisted_model::{RestState, ValidationError};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::token;

/// Default token lifetime in seconds (two weeks).
pub const DEFAULT_TTL: i64 = 1_209_600;
/// Longest token lifetime in seconds (one year), LoopBack's `maxTTL`.
pub const MAX_TTL: i64 = 31_556_926;

/// An access token: the id is shown to its owner once; the table holds its SHA-256 fingerprint.
// Its ACLs are `default_acls()`, which `AccessTokens::register` gives it (written once).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
#[sea_orm(table_name = "access_token")]
#[serde(rename_all = "camelCase")]
#[persisted_model(
    name = "AccessToken",
    force_id = true,
    belongs_to(name = "user", model = "User", foreign_key = "userId", authorize_target = false)
)]
pub struct Model {
    /// The token (its fingerprint in the table).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Lifetime in seconds.
    #[persisted_model(default = 1209600)]
    pub ttl: Option<i64>,
    /// What the token may be used for; absent means `["DEFAULT"]`.
    pub scopes: Option<Json>,
    /// When the token was created.
    #[persisted_model(default_fn = "now", server_managed)]
    pub created: Option<DateTimeUtc>,
    /// The user the token authenticates.
    pub user_id: Option<i32>,
}

/// sea-orm relations: none; LoopBack relations are declared in `#[persisted_model]`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

fn denied() -> Error {
    Error::new(StatusCode::FORBIDDEN, "Access Denied").with_code("ACCESS_DENIED")
}

/// The AccessToken hooks (security rules 1-3, 13), with the token settings as fields. They
/// serve the built-in model and an application's own token model alike.
#[derive(Debug, Clone)]
pub struct TokenHooks {
    /// The longest lifetime a token may get, in seconds.
    pub max_ttl: i64,
    /// Whether `ttl: -1` (an eternal token) is accepted.
    pub allow_eternal: bool,
    /// Whether the table holds raw token ids instead of fingerprints.
    pub raw_ids: bool,
    pub(crate) cache: std::sync::Arc<crate::cache::TokenCache>,
}

impl TokenHooks {
    /// Makes cached tokens stale now and again once the write commits: a request that misses
    /// the cache before the commit may read the old row and cache it; the second invalidation
    /// makes that entry stale too.
    fn invalidate_cache(&self, ctx: &CallContext<'_>) {
        self.cache.invalidate();
        let cache = self.cache.clone();
        ctx.db.on_commit(move || cache.invalidate());
    }
}

impl ModelHooks for TokenHooks {
    /// `/:id` takes the token or its fingerprint.
    async fn resolve_id(&self, _ctx: &CallContext<'_>, id: Value) -> Result<Value, Error> {
        let Value::String(s) = id else { return Ok(id) };
        if token::is_fingerprint(&s) || self.raw_ids {
            return Ok(Value::String(s));
        }
        // The answer names the token as the client did (the core shows the id it was sent).
        Ok(Value::String(token::fingerprint(&s)))
    }

    /// Cached tokens are stale from now on.
    async fn before_delete(&self, ctx: &CallContext<'_>, _where: &persisted_model::filter::Where) -> Result<(), Error> {
        self.invalidate_cache(ctx);
        Ok(())
    }

    /// Ids, owners, ttl and scopes (security rules 1-3, 13).
    async fn before_save(&self, ctx: &CallContext<'_>, event: &mut SaveEvent) -> Result<(), Error> {
        // Any change to a token makes cached tokens stale.
        self.invalidate_cache(ctx);
        let caller = ctx.caller();
        let ttl = event.data.get("ttl").and_then(Value::as_i64).unwrap_or(DEFAULT_TTL);
        let ttl = match ttl {
            -1 if self.allow_eternal => -1,
            t if t <= 0 => {
                let mut err = ValidationError::new(&ctx.model.name);
                err.add("ttl", persisted_model::Rule::Number, event.data.get("ttl"));
                return Err(err.into());
            }
            t => t.min(self.max_ttl),
        };
        event.data.insert("ttl".into(), Value::from(ttl));
        if let Some(scopes) = event.data.get("scopes").filter(|s| !s.is_null()) {
            let Some(list) = scopes.as_array().filter(|l| l.iter().all(Value::is_string)) else {
                let mut err = ValidationError::new(&ctx.model.name);
                err.add("scopes", persisted_model::Rule::String, Some(scopes));
                return Err(err.into());
            };
            // A new token can only narrow the caller's own scopes.
            if event.is_new && caller.is_authenticated() {
                let own = caller.effective_scopes();
                if !list.iter().filter_map(Value::as_str).all(|s| own.iter().any(|o| o == s)) {
                    return Err(denied());
                }
            }
        }
        match &event.current {
            Some(current) => {
                // userId is the server's: an update keeps the stored owner.
                event.data.insert("userId".into(), current.get("userId").cloned().unwrap_or(Value::Null));
            }
            None if event.is_new => {
                // Server code (login and password reset mint for the user they checked) is
                // trusted; REST callers mint for themselves unless an ACL grants more (rule 2).
                let trusted = ctx.is_system();
                let asked = event.data.get("userId").filter(|v| !v.is_null()).map(persisted_model::id_text);
                if !trusted {
                    match (caller.user_id(), asked) {
                        (None, _) => {
                            return Err(Error::new(StatusCode::UNAUTHORIZED, "Authorization Required")
                                .with_code("AUTHORIZATION_REQUIRED"));
                        }
                        (Some(own), Some(other)) if own != other && !may_mint_for_others(ctx, &caller).await? => {
                            return Err(denied());
                        }
                        (Some(own), None) => {
                            let id = own.parse::<i64>().map_or_else(|_| Value::String(own.to_owned()), Value::from);
                            event.data.insert("userId".into(), id);
                        }
                        _ => {}
                    }
                }
                // Expiry counts from `created`: the token's own save path stamps it, whatever
                // the model declares as its default.
                event.set("created", persisted_model::format_date(&chrono::Utc::now()))?;
                let raw = token::generate().map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
                let id = if self.raw_ids { raw.clone() } else { token::fingerprint(&raw) };
                event.data.insert("id".into(), Value::String(id));
                // Its owner sees the token once; the table keeps its fingerprint.
                event.show("id", Value::String(raw));
            }
            None => {
                // updateAll: never move tokens between users.
                event.data.remove("userId");
            }
        }
        Ok(())
    }
}

/// The AccessToken ACLs: LoopBack 3.28's `$everyone DENY *`, and ours: an authenticated caller
/// may mint a token for herself (security rule 2).
pub fn default_acls() -> Vec<persisted_model::acl::AclEntry> {
    default_acls_for(crate::TOKEN_MODEL)
}

/// The AccessToken ACLs for a token model named `model` (a model based on AccessToken
/// inherits them).
pub fn default_acls_for(model: &str) -> Vec<persisted_model::acl::AclEntry> {
    use persisted_model::acl::AclEntry;
    vec![
        AclEntry::role(model, "*", None, "$everyone").deny(),
        AclEntry::role(model, "create", None, "$authenticated").allow(),
    ]
}

async fn may_mint_for_others(ctx: &CallContext<'_>, caller: &persisted_model::acl::Caller) -> Result<bool, Error> {
    let Some(state) = ctx.request.and_then(|r| r.app_data::<actix_web::web::Data<RestState>>()) else {
        return Ok(false);
    };
    state.is_allowed(ctx.db, caller, ctx.model, "createForAnyUser", AccessType::Write).await
}
