//! Token lookup for every request: one query by fingerprint; expired tokens are deleted and
//! answered with 401 `INVALID_TOKEN`; unknown tokens make an anonymous caller.

use actix_web::{HttpMessage, HttpRequest};
use chrono::{DateTime, Utc};
use persisted_model::acl::Caller;
use persisted_model::filter::{Filter, Where};
use persisted_model::{Authenticator, BoxFuture, RestState, Result, id_text};
use serde_json::Value;

use crate::cache::{Cached, TokenCache};
use crate::error::Error;
use crate::extract::token_from_request;
use crate::token;

/// The token a request was authenticated with.
#[derive(Debug, Clone)]
pub struct CurrentToken {
    /// What the table holds (the fingerprint, or the raw id in compatibility mode).
    pub fingerprint: String,
    /// The user the token belongs to.
    pub user_id: Value,
}

/// Identifies callers by their AccessToken. Made by [`AccessTokens::register`](crate::AccessTokens::register),
/// sharing its token cache and settings with the AccessToken hooks.
#[derive(Debug, Clone)]
pub struct TokenAuthenticator {
    pub(crate) cache: std::sync::Arc<TokenCache>,
    pub(crate) use_cache: bool,
    pub(crate) raw_ids: bool,
    pub(crate) allow_eternal: bool,
    /// The user model's name: callers are users of it (`$owner` compares it).
    pub(crate) user_model: String,
    /// The token model's name.
    pub(crate) token_model: String,
}

impl Authenticator for TokenAuthenticator {
    /// The three places a token may come from: `Authorization`, `X-Access-Token` and the
    /// `access_token` query parameter.
    fn security_schemes(&self) -> Vec<(String, utoipa::openapi::security::SecurityScheme)> {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        vec![
            (
                "AccessToken".into(),
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    "Authorization",
                    "The access token id (or `Bearer <token>`): log in with POST /Users/login and use the id it returns.",
                ))),
            ),
            ("XAccessToken".into(), SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Access-Token")))),
            ("access_token".into(), SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new("access_token")))),
        ]
    }

    /// A token's change concerns the streams opened with that token only: a change names a
    /// token by its fingerprint (the stored id, or with raw ids the fingerprint of it), and one
    /// that names none (a delete of a user's tokens) concerns every stream.
    fn affects(&self, change: &persisted_model::ModelChange, req: &HttpRequest, _caller: &Caller) -> bool {
        if change.model != self.token_model {
            return true;
        }
        let (Some(Value::String(target)), Some(current)) =
            (&change.target, req.extensions().get::<CurrentToken>().cloned())
        else {
            return true;
        };
        let named = if self.raw_ids { token::fingerprint(&current.fingerprint) } else { current.fingerprint };
        *target == named
    }

    fn authenticate<'a>(&'a self, req: &'a HttpRequest, state: &'a RestState) -> BoxFuture<'a, Result<Caller>> {
        Box::pin(async move {
            let Some(raw) = token_from_request(req) else { return Ok(Caller::anonymous()) };
            let Some(tokens) = state.store(&self.token_model, "authenticate", None) else {
                return Ok(Caller::anonymous());
            };
            // A fingerprint is never a credential: listings show fingerprints.
            let stored_id = if self.raw_ids { raw } else { token::fingerprint(&raw) };
            // Only while every token change reaches this process (see the `cache` module).
            let cached = self.use_cache && state.changes.is_complete();
            if cached && let Some(hit) = self.cache.get(&stored_id) {
                return Ok(caller_for(req, &self.user_model, stored_id, hit.user_id, hit.scopes, hit.expires_at));
            }
            let generation = self.cache.generation();
            let filter = Filter {
                where_: Some(Where::eq("id", Value::String(stored_id.clone()))),
                limit: Some(1),
                ..Filter::default()
            };
            let Some(row) = tokens.find_raw(filter).await?.pop() else { return Ok(Caller::anonymous()) };
            let eternal_ok = self.allow_eternal;
            if expired(&row, eternal_ok) {
                tokens.delete_where(Where::eq("id", Value::String(stored_id))).await?;
                return Err(Error::InvalidToken.into());
            }
            let user_id = row.get("userId").cloned().unwrap_or(Value::Null);
            if user_id.is_null() {
                return Ok(Caller::anonymous());
            }
            let scopes: Option<Vec<String>> = row
                .get("scopes")
                .and_then(Value::as_array)
                .map(|s| s.iter().filter_map(Value::as_str).map(str::to_owned).collect());
            let expires = expires_at(&row);
            if cached && (!expires_never(&row) || eternal_ok) {
                let entry = Cached { user_id: user_id.clone(), scopes: scopes.clone(), expires_at: expires };
                self.cache.put(stored_id.clone(), entry, generation);
            }
            Ok(caller_for(req, &self.user_model, stored_id, user_id, scopes, expires))
        })
    }
}

fn caller_for(
    req: &HttpRequest,
    user_model: &str,
    stored_id: String,
    user_id: Value,
    scopes: Option<Vec<String>>,
    expires_at: Option<DateTime<Utc>>,
) -> Caller {
    let mut caller = Caller::user(id_text(&user_id), user_model);
    caller.scopes = scopes;
    caller.expires_at = expires_at.map(std::time::SystemTime::from);
    req.extensions_mut().insert(CurrentToken { fingerprint: stored_id, user_id });
    caller
}

fn expires_never(row: &serde_json::Map<String, Value>) -> bool {
    row.get("ttl").and_then(Value::as_i64) == Some(-1)
}

/// When a (valid) token row expires; `None` for an eternal token.
fn expires_at(row: &serde_json::Map<String, Value>) -> Option<DateTime<Utc>> {
    let ttl = row.get("ttl").and_then(Value::as_i64).unwrap_or(crate::DEFAULT_TTL);
    if ttl == -1 {
        return None;
    }
    let created = row.get("created").and_then(Value::as_str).and_then(|c| c.parse::<DateTime<Utc>>().ok())?;
    let ttl = chrono::TimeDelta::try_seconds(ttl).unwrap_or(chrono::TimeDelta::MAX);
    Some(created.checked_add_signed(ttl).unwrap_or(DateTime::<Utc>::MAX_UTC))
}

fn expired(row: &serde_json::Map<String, Value>, eternal_ok: bool) -> bool {
    if expires_never(row) {
        return !eternal_ok;
    }
    // A row without a readable `created` is not valid either.
    expires_at(row).is_none_or(|t| Utc::now() >= t)
}
