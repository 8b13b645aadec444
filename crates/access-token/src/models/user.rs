//! The built-in User model: hashed passwords, unique email and username, LoopBack's default
//! ACLs, and token revocation when credentials change or the user goes.

use persisted_model::filter::{Filter, Op, Where};
use persisted_model::prelude::*;
use persisted_model::{Rule, ValidationError};
use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::password;

/// A user that can log in.
// Its ACLs are `default_acls()`, which `AccessTokens::register` gives it (written once).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize, PersistedModel)]
#[sea_orm(table_name = "user")]
#[serde(rename_all = "camelCase")]
#[persisted_model(
    name = "User",
    has_many(name = "accessTokens", model = "AccessToken", foreign_key = "userId", disable_include = true)
)]
pub struct Model {
    /// The user id.
    #[sea_orm(primary_key)]
    pub id: i32,
    /// The realm the user belongs to.
    pub realm: Option<String>,
    /// A unique user name.
    #[sea_orm(unique)]
    pub username: Option<String>,
    /// The bcrypt hash of the password; never sent to clients.
    #[persisted_model(hidden)]
    pub password: String,
    /// A unique email address (case-sensitive, as LoopBack's default).
    #[sea_orm(unique)]
    pub email: String,
    /// Whether the email address was verified; set by the server only.
    #[persisted_model(server_managed)]
    pub email_verified: Option<bool>,
    /// The pending email verification token; never sent to clients.
    #[persisted_model(hidden, server_managed)]
    pub verification_token: Option<String>,
}

/// sea-orm relations: none; LoopBack relations are declared in `#[persisted_model]`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// LoopBack's email check: something@something.something, no spaces.
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else { return false };
    !local.is_empty()
        && !domain.starts_with('.')
        && domain.contains('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

/// The User hooks: email format, password rules and hashing (in `normalize`, before the
/// write's transaction), email and username uniqueness, token revocation when credentials
/// change, the users' tokens deleted with them, and which credential changes need the current
/// password. They serve the built-in model and an application's own user model alike.
///
/// A model's own LoopBack setting (`rejectPasswordChangesViaPatchOrReplace` in its
/// `settings.extra`, from a LoopBack 3 model file) wins over the field of the same meaning.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct UserHooks {
    /// A password is changed only through `change-password` and `reset-password`: a PATCH,
    /// PUT or updateAll carrying one is answered 401 `PASSWORD_CHANGE_NOT_ALLOWED` (LoopBack's
    /// `rejectPasswordChangesViaPatchOrReplace`, off in LoopBack 3). On by default.
    pub reject_password_changes_via_patch: bool,
    /// Users change their own email address only through `change-email`, which asks for the
    /// current password as `change-password` does: a PATCH or PUT changing the caller's own
    /// email is answered 401 `EMAIL_CHANGE_NOT_ALLOWED`, so a stolen token cannot take the
    /// account over. Callers allowed to change other users (an admin) are not asked. On by
    /// default; LoopBack 3 had no such rule.
    pub email_changes_need_password: bool,
}

impl Default for UserHooks {
    /// The rules for new applications.
    fn default() -> Self {
        Self { reject_password_changes_via_patch: true, email_changes_need_password: true }
    }
}

impl UserHooks {
    /// LoopBack 3's rules: a password and an email address can be changed by PATCH or PUT.
    pub fn loopback3() -> Self {
        Self { reject_password_changes_via_patch: false, email_changes_need_password: false }
    }

    fn rejects_password_patch(&self, ctx: &CallContext<'_>) -> bool {
        ctx.model
            .settings
            .extra
            .get("rejectPasswordChangesViaPatchOrReplace")
            .and_then(Value::as_bool)
            .unwrap_or(self.reject_password_changes_via_patch)
    }
}

/// Marks a request whose credential change was checked by its method (change-password with
/// the current password, reset-password with a reset token, change-email with the password):
/// the hooks let it through.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CredentialsChecked;

fn checked(ctx: &CallContext<'_>) -> bool {
    use actix_web::HttpMessage;
    ctx.is_system() || ctx.request.is_some_and(|r| r.extensions().get::<CredentialsChecked>().is_some())
}

impl ModelHooks for UserHooks {
    async fn normalize(&self, ctx: &CallContext<'_>, data: &mut Instance) -> Result<(), Error> {
        let mut errors = ValidationError::new(&ctx.model.name);
        if let Some(email) = data.get("email").and_then(Value::as_str)
            && !email.is_empty()
            && !valid_email(email)
        {
            errors.add_message("email", "custom.email", "is invalid", data.get("email"));
        }
        let mut hash = None;
        if let Some(Value::String(p)) = data.get("password") {
            if p.is_empty() {
                errors.add("password", Rule::Presence, data.get("password"));
            } else if p.len() > password::MAX_PASSWORD_BYTES {
                return Err(Error::new(
                    actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "The password entered was too long. Max length is {} (entered {})",
                        password::MAX_PASSWORD_BYTES,
                        p.len()
                    ),
                )
                .with_code("PASSWORD_TOO_LONG"));
            } else if !(password::is_hash(p) && ctx.is_system()) {
                // Server code may store a hash it already has (migrations); clients never can.
                hash = Some(p.clone());
            }
        }
        errors.into_result()?;
        if let Some(plain) = hash {
            data.insert("password".into(), Value::String(password::hash(plain).await?));
        }
        Ok(())
    }

    async fn before_save(&self, ctx: &CallContext<'_>, event: &mut SaveEvent) -> Result<(), Error> {
        let current_id = event.current.as_ref().and_then(|c| c.get("id")).cloned();
        if !event.is_new && !checked(ctx) {
            if event.data.contains_key("password") && self.rejects_password_patch(ctx) {
                return Err(Error::new(
                    actix_web::http::StatusCode::UNAUTHORIZED,
                    "Changing user password via patch/replace API is not allowed. Use changePassword() or setPassword() instead.",
                )
                .with_code("PASSWORD_CHANGE_NOT_ALLOWED"));
            }
            let email_changes = event
                .data
                .get("email")
                .is_some_and(|e| event.current.as_ref().is_none_or(|c| c.get("email") != Some(e)));
            // The user's own change (or one of many rows at once, which no password covers).
            let own = match &current_id {
                Some(id) => ctx.caller().user_id() == Some(persisted_model::id_text(id).as_str()),
                None => true,
            };
            if email_changes && own && self.email_changes_need_password {
                return Err(Error::new(
                    actix_web::http::StatusCode::UNAUTHORIZED,
                    "Changing the email address needs the current password: use POST /change-email with oldPassword and newEmail",
                )
                .with_code("EMAIL_CHANGE_NOT_ALLOWED"));
            }
        }
        let mut errors = ValidationError::new(&ctx.model.name);
        for (key, message) in [("email", "Email already exists"), ("username", "User already exists")] {
            let Some(value) = event.data.get(key).filter(|v| !v.is_null()) else { continue };
            if event.current.as_ref().and_then(|c| c.get(key)) == Some(value) {
                continue;
            }
            if taken(ctx, key, value, current_id.as_ref()).await? {
                errors.add_message(key, "uniqueness", message, Some(value));
            }
        }
        errors.into_result()?;
        // A changed password or email revokes the user's other tokens at once (rule 4).
        if let (Some(current), Some(id)) = (&event.current, &current_id) {
            let email_changed = event.data.get("email").is_some_and(|e| Some(e) != current.get("email"));
            if event.data.contains_key("password") || email_changed {
                crate::revoke_tokens(ctx, id, current_token(ctx)).await?;
            }
        }
        Ok(())
    }

    /// Deleting users deletes their tokens.
    async fn before_delete(&self, ctx: &CallContext<'_>, where_: &Where) -> Result<(), Error> {
        let Some(users) = ctx.store(&ctx.model.name) else { return Ok(()) };
        let ids: Vec<Value> = persisted_model_rows(&users, where_).await?;
        if ids.is_empty() {
            return Ok(());
        }
        if let Some(tokens) = ctx.store(crate::token_model_name(ctx.registry)) {
            tokens.delete_where(Where::Cond { property: "userId".into(), op: Op::Inq(ids) }).await?;
        }
        Ok(())
    }
}

/// LoopBack's default User ACLs, for application user models that declare none (without the
/// entries for `verify` and `confirm`: email verification is not served).
pub fn default_acls() -> Vec<persisted_model::acl::AclEntry> {
    default_acls_for(crate::USER_MODEL)
}

/// LoopBack's default User ACLs for a user model named `model` (a model based on User
/// inherits them).
pub fn default_acls_for(model: &str) -> Vec<persisted_model::acl::AclEntry> {
    use persisted_model::acl::{AccessType, AclEntry};
    let e = |property: &str, access: Option<AccessType>, role: &str| AclEntry::role(model, property, access, role);
    vec![
        e("*", None, "$everyone").deny(),
        e("create", None, "$everyone"),
        e("deleteById", None, "$owner"),
        e("login", None, "$everyone"),
        e("logout", None, "$everyone"),
        e("findById", None, "$owner"),
        e("patchAttributes", None, "$owner"),
        e("replaceById", None, "$owner"),
        e("resetPassword", Some(AccessType::Execute), "$everyone"),
        e("changePassword", Some(AccessType::Execute), "$authenticated"),
        e("changeEmail", Some(AccessType::Execute), "$authenticated"),
        e("setPassword", Some(AccessType::Execute), "$authenticated"),
    ]
}

async fn persisted_model_rows(users: &persisted_model::Store<'_>, where_: &Where) -> Result<Vec<Value>, Error> {
    let rows = users
        .find(Filter { where_: Some(where_.clone()), fields: Some(vec!["id".into()]), ..Filter::default() })
        .await?;
    Ok(rows.into_iter().filter_map(|r| r.get("id").cloned()).collect())
}

async fn taken(ctx: &CallContext<'_>, key: &str, value: &Value, except: Option<&Value>) -> Result<bool, Error> {
    let Some(users) = ctx.store(&ctx.model.name) else { return Ok(false) };
    let mut clauses = vec![Where::eq(key, value.clone())];
    if let Some(id) = except {
        clauses.push(Where::Cond { property: "id".into(), op: Op::Neq(id.clone()) });
    }
    Ok(users.count(Some(Where::all(clauses))).await? > 0)
}

/// The fingerprint of the token the request was made with, kept when credentials change.
fn current_token(ctx: &CallContext<'_>) -> Option<String> {
    use actix_web::HttpMessage;
    ctx.request.and_then(|r| r.extensions().get::<crate::CurrentToken>().map(|t| t.fingerprint.clone()))
}

#[cfg(test)]
mod tests {
    use super::valid_email;

    #[test]
    fn emails() {
        assert!(valid_email("a@example.com"));
        assert!(!valid_email("not-an-email"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a b@c.d"));
    }
}
