//! User's remote methods: login, logout, change-password, reset and reset-password.

use std::sync::Arc;

use actix_web::http::Method;
use actix_web::{HttpMessage, HttpResponse};
use persisted_model::filter::{Filter, Where};
use persisted_model::{AccessType, Call, CustomHandler, Error as PmError, RemoteMethod};
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};

use crate::authenticator::CurrentToken;
use crate::error::{Credential, Error};
use crate::models::user::{self, CredentialsChecked, UserHooks};
use crate::password;
use crate::throttle::{Attempts, Key, Kind};

/// The throttle of credential guessing, when the application keeps it on.
pub(crate) type Guard = Option<Arc<Attempts>>;

/// The keys an attempt is counted under: the account (an email address or user name, compared
/// as LoopBack compares them when it looks the user up, case folded for counting), and the
/// client's address when known.
fn keys(call: &Call, account: Kind, who: &str, address: Kind) -> Vec<Key> {
    let mut keys = vec![Key::new(account, &who.trim().to_lowercase())];
    if let Some(ip) = call.state.client_address(&call.request) {
        keys.push(Key::new(address, &ip.to_string()));
    }
    keys
}

/// Called with the user's email and a short-lived token scoped to `reset-password`, for the
/// application to send (LoopBack's `resetPasswordRequest` event).
pub type ResetNotifier = Arc<dyn Fn(ResetRequest) + Send + Sync>;

/// A password reset to deliver to the user.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResetRequest {
    /// The user's email address.
    pub email: String,
    /// The user's id.
    pub user_id: Value,
    /// The token to send; it may only call `POST /Users/reset-password`.
    pub access_token: String,
}

/// The registered AccessToken model.
fn token_model(call: &Call) -> Result<&persisted_model::ModelHandle, PmError> {
    let name = crate::token_model_name(&call.state.registry);
    call.state.registry.get(name).ok_or_else(|| PmError::Internal(format!("{name} is not registered")))
}

fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

fn json_ok(v: &Value) -> HttpResponse {
    HttpResponse::Ok().content_type("application/json; charset=utf-8").body(v.to_string())
}

fn of(ty: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(ty)
}

/// A body schema of string properties, some of them required.
fn strings(properties: &[&str], required: &[&str]) -> ObjectBuilder {
    let object = properties.iter().fold(of(Type::Object), |o, p| o.property(*p, of(Type::String)));
    required.iter().fold(object, |o, p| o.required(*p))
}

/// The remote methods User gets in addition to the PersistedModel ones.
pub(crate) fn user_methods(
    reset_ttl: i64,
    notifier: Option<ResetNotifier>,
    guard: Guard,
    rules: UserHooks,
    restrict_reset: bool,
) -> Vec<RemoteMethod> {
    let (login_guard, change_guard, email_guard, reset_guard) = (guard.clone(), guard.clone(), guard.clone(), guard);
    vec![
        RemoteMethod::custom(
            "login",
            Method::POST,
            "/login",
            AccessType::Execute,
            CustomHandler::new(true, move |call| login(call, login_guard.clone(), rules)),
        )
        .describe("Log in with email or username and password; returns an access token.")
        .body_schema(
            strings(&["email", "username", "realm", "password"], &["password"])
                .property("ttl", of(Type::Integer).description(Some("Token lifetime in seconds"))),
        )
        .response_schema(
            of(Type::Object)
                .property(
                    "id",
                    of(Type::String).description(Some("The access token: use it as the Authorization header")),
                )
                .property("ttl", of(Type::Integer))
                .property("created", of(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))))
                .property(
                    "userId",
                    ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::Integer, Type::String])),
                )
                .property(
                    "scopes",
                    ArrayBuilder::new()
                        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
                        .items(RefOr::from(of(Type::String))),
                )
                .property("user", of(Type::Object).description(Some("With ?include=user")))
                .required("id")
                .required("ttl")
                .required("created")
                .required("userId"),
        ),
        RemoteMethod::custom("logout", Method::POST, "/logout", AccessType::Execute, CustomHandler::new(false, logout))
            .route(Method::GET, "/logout")
            .describe("Log out: the access token of the request is deleted."),
        RemoteMethod::custom(
            "changePassword",
            Method::POST,
            "/change-password",
            AccessType::Execute,
            CustomHandler::new(true, move |call| change_password(call, change_guard.clone(), rules)),
        )
        .describe("Change the caller's password, given the current one.")
        .body_schema(strings(&["oldPassword", "newPassword"], &["oldPassword", "newPassword"])),
        RemoteMethod::custom(
            "changeEmail",
            Method::POST,
            "/change-email",
            AccessType::Execute,
            CustomHandler::new(true, move |call| change_email(call, email_guard.clone(), rules)),
        )
        .describe("Change the caller's email address, given the current password; the caller's other tokens end.")
        .body_schema(strings(&["oldPassword", "newEmail"], &["oldPassword", "newEmail"])),
        RemoteMethod::custom(
            "resetPassword",
            Method::POST,
            "/reset",
            AccessType::Execute,
            CustomHandler::new(true, move |call| reset(call, reset_ttl, notifier.clone(), reset_guard.clone(), rules)),
        )
        .describe("Request a password reset token for an email address.")
        .body_schema(strings(&["email"], &["email"])),
        RemoteMethod::custom(
            "setPassword",
            Method::POST,
            "/reset-password",
            AccessType::Execute,
            CustomHandler::new(true, move |call| set_password(call, rules)),
        )
        .scopes(if restrict_reset { &["reset-password"] } else { &["DEFAULT", "reset-password"] })
        .describe("Set the caller's password with a reset token.")
        .body_schema(strings(&["newPassword"], &["newPassword"])),
    ]
}

/// A credential field: absent, or a string (anything else is LoopBack #4195's injection).
fn credential(body: &serde_json::Map<String, Value>, which: Credential) -> Result<Option<String>, Error> {
    match body.get(which.field()) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::InvalidCredential(which)),
    }
}

/// The user whose `key` is `value` exactly, on every back end.
async fn user_by(
    users: &persisted_model::Store<'_>,
    key: &str,
    value: &str,
) -> Result<Option<serde_json::Map<String, Value>>, PmError> {
    let exactly = user::exactly(key, &Value::String(value.to_owned()));
    let filter = Filter { where_: Some(exactly), limit: Some(1), ..Filter::default() };
    Ok(users.find_raw(filter).await?.pop())
}

async fn login(call: Call, guard: Guard, rules: UserHooks) -> Result<HttpResponse, PmError> {
    let body = match &call.body {
        Value::Object(map) => map.clone(),
        Value::Null => serde_json::Map::new(),
        _ => return Err(PmError::bad_request("Value is not an object.")),
    };
    let email = credential(&body, Credential::Email)?;
    let username = credential(&body, Credential::Username)?;
    credential(&body, Credential::Realm)?;
    let (key, value) = match (email, username) {
        // Looked up as stored (trimmed, NFKC, case folded unless case-sensitive); an address
        // no user could have finds none.
        (Some(e), _) if !e.is_empty() => {
            ("email", user::normalized_email(&e, rules.case_sensitive(call.model.definition())).unwrap_or_default())
        }
        (_, Some(u)) if !u.is_empty() => ("username", u),
        _ => return Err(Error::UsernameEmailRequired.into()),
    };
    let password = match body.get("password") {
        Some(Value::String(p)) => Some(p.clone()),
        _ => None,
    };
    let users = call.store();
    // Counted before the password is checked: parallel guesses use the allowance up at once.
    let counted = keys(&call, Kind::Account, &value, Kind::Address);
    if let Some(guard) = &guard {
        guard.attempt(&users, &counted).await?;
    }
    let user = if value.is_empty() { None } else { user_by(&users, key, &value).await? };
    let stored_hash = user.as_ref().and_then(|u| u.get("password")).and_then(Value::as_str).map(str::to_owned);
    // bcrypt reads 72 bytes: a longer password would log in with any ending.
    let password = password.unwrap_or_default();
    let fits = password.len() <= password::MAX_PASSWORD_BYTES;
    // Always one bcrypt verification, so unknown users take as long as wrong passwords.
    let ok = password::verify(password, stored_hash).await? && fits;
    let Some(user) = user.filter(|_| ok) else { return Err(Error::LoginFailed.into()) };
    if let Some(guard) = &guard {
        guard.succeeded(&users, &counted).await?;
    }
    let user_id = user.get("id").cloned().unwrap_or(Value::Null);

    let tokens_handle = token_model(&call)?;
    // The password was checked: the token is minted for that user as the system would.
    let tokens = call.store_for(tokens_handle).as_system();
    let mut data = json!({ "userId": user_id });
    if let Some(ttl) = body.get("ttl").filter(|t| !t.is_null()) {
        data["ttl"] = ttl.clone();
    }
    let mut token = tokens.create(&data).await?;
    if wants_user(&call) {
        let shaped = users.present(user, &Filter::default()).await?;
        token["user"] = Value::Object(shaped);
    }
    Ok(json_ok(&token))
}

/// `?include=user` (or an array containing it), case-insensitive.
fn wants_user(call: &Call) -> bool {
    match call.params.get("include") {
        Ok(Some(Value::String(s))) => s.eq_ignore_ascii_case("user"),
        Ok(Some(Value::Array(items))) => {
            items.iter().any(|i| i.as_str().is_some_and(|s| s.eq_ignore_ascii_case("user")))
        }
        _ => false,
    }
}

async fn logout(call: Call) -> Result<HttpResponse, PmError> {
    let token = call.request.extensions().get::<CurrentToken>().cloned();
    let Some(token) = token else { return Err(Error::LogoutWithoutToken.into()) };
    let handle = token_model(&call)?;
    let deleted = call.store_for(handle).delete_where(Where::eq("id", Value::String(token.fingerprint))).await?;
    if deleted == 0 {
        return Err(PmError::new(actix_web::http::StatusCode::UNAUTHORIZED, "Could not find accessToken"));
    }
    Ok(no_content())
}

fn required_string(body: &Value, key: &'static str) -> Result<String, Error> {
    match body.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(Error::Required(key)),
    }
}

async fn caller_user(call: &Call) -> Result<(Value, serde_json::Map<String, Value>), PmError> {
    let token = call.request.extensions().get::<CurrentToken>().cloned();
    let Some(token) = token else { return Err(Error::UserNotFound.into()) };
    let filter = Filter { where_: Some(Where::eq("id", token.user_id.clone())), limit: Some(1), ..Filter::default() };
    let user = call.store().find_raw(filter).await?.pop().ok_or(Error::UserNotFound)?;
    Ok((token.user_id, user))
}

/// Checks the caller's current password (`oldPassword`; throttled: a stolen token must not
/// become a way to guess it), then changes `changes` with the request marked as checked.
/// A new password against the policy (the hooks check it too, without the user's email when
/// only the password changes).
fn policy(rules: &UserHooks, new: &str, email: Option<&str>) -> Result<(), PmError> {
    let problems = rules.password_policy.problems(new, email);
    if problems.is_empty() {
        return Ok(());
    }
    let mut errors = persisted_model::ValidationError::new("User");
    for (code, message) in problems {
        errors.add_message("password", code, &message, None);
    }
    Err(errors.into())
}

async fn with_current_password(call: &Call, guard: &Guard, rules: &UserHooks, changes: Value) -> Result<(), PmError> {
    let old = required_string(&call.body, "oldPassword")?;
    let (id, user) = caller_user(call).await?;
    let fits = old.len() <= password::MAX_PASSWORD_BYTES;
    let counted = keys(call, Kind::Account, &format!("user:{}", persisted_model::id_text(&id)), Kind::Address);
    if let Some(guard) = guard {
        guard.attempt(&call.store(), &counted).await?;
    }
    let hash = user.get("password").and_then(Value::as_str).map(str::to_owned);
    if !(password::verify(old, hash).await? && fits) {
        return Err(Error::InvalidCurrentPassword.into());
    }
    if let Some(guard) = guard {
        guard.succeeded(&call.store(), &counted).await?;
    }
    if let Some(new) = changes.get("password").and_then(Value::as_str) {
        policy(rules, new, user.get("email").and_then(Value::as_str))?;
    }
    call.request.extensions_mut().insert(CredentialsChecked);
    call.store().patch_attributes(&id, &changes).await?;
    Ok(())
}

async fn change_password(call: Call, guard: Guard, rules: UserHooks) -> Result<HttpResponse, PmError> {
    // Both are required; the current one is named first when neither is given (LoopBack's order).
    required_string(&call.body, "oldPassword")?;
    let new = required_string(&call.body, "newPassword")?;
    with_current_password(&call, &guard, &rules, json!({ "password": new })).await?;
    Ok(no_content())
}

/// `POST /Users/change-email`: the caller's email address, given the current password (a
/// stolen token alone cannot move the account to another address). As any email change, it
/// ends the caller's other sessions.
async fn change_email(call: Call, guard: Guard, rules: UserHooks) -> Result<HttpResponse, PmError> {
    required_string(&call.body, "oldPassword")?;
    let email = required_string(&call.body, "newEmail")?;
    with_current_password(&call, &guard, &rules, json!({ "email": email })).await?;
    Ok(no_content())
}

/// `POST /Users/reset-password` with a reset token: the password is set and the token is
/// spent with it (LoopBack 3 left it usable until it expired).
async fn set_password(call: Call, rules: UserHooks) -> Result<HttpResponse, PmError> {
    let new = required_string(&call.body, "newPassword")?;
    let (id, user) = caller_user(&call).await?;
    policy(&rules, &new, user.get("email").and_then(Value::as_str))?;
    let token = call.request.extensions().get::<CurrentToken>().map(|t| t.fingerprint.clone());
    let tokens = token_model(&call)?;
    call.request.extensions_mut().insert(CredentialsChecked);
    call.store()
        .transaction(async |users| {
            users.patch_attributes(&id, &json!({ "password": new })).await?;
            if let Some(token) = &token {
                users
                    .for_model(tokens, "setPassword")
                    .delete_where(Where::eq("id", Value::String(token.clone())))
                    .await?;
            }
            Ok(())
        })
        .await?;
    Ok(no_content())
}

/// Reset tokens a user may hold at once; a new request replaces the oldest.
pub const MAX_RESET_TOKENS: usize = 3;

/// Always 204 at once, whether or not the address is known: the lookup and the token are
/// made after the answer, so neither the status nor the time taken tells whether an account
/// exists.
async fn reset(
    call: Call,
    ttl: i64,
    notifier: Option<ResetNotifier>,
    guard: Guard,
    rules: UserHooks,
) -> Result<HttpResponse, PmError> {
    let email = match call.body.get("email") {
        // As stored; one no user could have is looked up as given (and finds none).
        Some(Value::String(e)) if !e.is_empty() => {
            user::normalized_email(e, rules.case_sensitive(call.model.definition())).unwrap_or_else(|| e.clone())
        }
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(PmError::bad_request("Email is required").with_code("EMAIL_REQUIRED"));
        }
        Some(_) => return Err(Error::InvalidCredential(Credential::Email).into()),
    };
    // Per address asked for, known or not (the answer tells nothing of the account), and per
    // client address.
    if let Some(guard) = &guard {
        guard.attempt(&call.store(), &keys(&call, Kind::ResetAccount, &email, Kind::ResetAddress)).await?;
    }
    actix_web::rt::spawn(async move {
        if let Err(e) = issue_reset_token(&call, email, ttl, notifier).await {
            tracing::warn!(target: "persisted_model::access_token", error = %e, "password reset failed");
        }
    });
    Ok(no_content())
}

async fn issue_reset_token(
    call: &Call,
    email: String,
    ttl: i64,
    notifier: Option<ResetNotifier>,
) -> Result<(), PmError> {
    let Some(user) = user_by(&call.store(), "email", &email).await? else { return Ok(()) };
    let user_id = user.get("id").cloned().unwrap_or(Value::Null);
    let handle = token_model(call)?;
    let token = call
        .store_for(handle)
        .as_system()
        .transaction(async |tokens| {
            // One reset at a time per user (the user's row is locked), and the oldest
            // outstanding reset tokens go, so repeated requests cannot fill the table.
            tokens.for_model(&call.model, "resetPassword").lock_by_id(&user_id).await?;
            let mine = Filter { where_: Some(Where::eq("userId", user_id.clone())), ..Filter::default() };
            let mut resets: Vec<_> = tokens
                .find_raw(mine)
                .await?
                .into_iter()
                .filter(|t| t.get("scopes") == Some(&json!(["reset-password"])))
                .collect();
            resets.sort_by(|a, b| {
                let created =
                    |t: &serde_json::Map<String, Value>| t.get("created").and_then(Value::as_str).map(str::to_owned);
                created(b).cmp(&created(a))
            });
            let stale: Vec<Value> =
                resets.iter().skip(MAX_RESET_TOKENS - 1).filter_map(|t| t.get("id").cloned()).collect();
            if !stale.is_empty() {
                tokens
                    .delete_where(Where::Cond { property: "id".into(), op: persisted_model::filter::Op::Inq(stale) })
                    .await?;
            }
            tokens.create(&json!({"userId": user_id, "ttl": ttl, "scopes": ["reset-password"]})).await
        })
        .await?;
    let access_token = token.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
    match &notifier {
        Some(notify) => notify(ResetRequest { email, user_id, access_token }),
        None => {
            tracing::info!(target: "persisted_model::access_token", "password reset requested; no notifier is configured")
        }
    }
    Ok(())
}
