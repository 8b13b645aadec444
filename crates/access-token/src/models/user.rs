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

/// An email address as it is stored, looked up and compared: trimmed, in Unicode NFKC, and in
/// lower case unless `case_sensitive` (then as typed, domain included: a LoopBack 3 database
/// holds its addresses as they were typed, and LoopBack compared them so); `None` for one with
/// control characters, inner spaces or invisible characters (zero-width spaces, soft hyphens,
/// direction marks), which make look-alikes of another address.
pub(crate) fn normalized_email(raw: &str, case_sensitive: bool) -> Option<String> {
    use unicode_normalization::UnicodeNormalization;
    let refused = |c: char| c.is_control() || c.is_whitespace() || invisible(c);
    let trimmed = raw.trim();
    if trimmed.chars().any(refused) {
        return None;
    }
    let nfkc: String = trimmed.nfkc().collect();
    if nfkc.chars().any(refused) {
        return None;
    }
    Some(if case_sensitive { nfkc } else { nfkc.to_lowercase() })
}

/// Unicode's default-ignorable characters: they show as nothing.
fn invisible(c: char) -> bool {
    matches!(u32::from(c),
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

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
    /// Email addresses are told apart by the case of their local part (LoopBack's
    /// `caseSensitiveEmail`, true in LoopBack 3); off by default: `Alice@Example.com` is
    /// stored, found and compared as `alice@example.com`. Domains are compared without case
    /// either way; every address is also trimmed and brought to Unicode NFKC (fullwidth
    /// `ａ` is `a`), and one with invisible characters (a zero-width space, a soft hyphen) is
    /// refused. A model's own `caseSensitiveEmail` setting wins.
    pub case_sensitive_email: bool,
    /// What a new password must be.
    pub password_policy: PasswordPolicy,
    /// `reset-password` takes a reset token only (scope `reset-password`), not a login token:
    /// LoopBack's `restrictResetPasswordTokenScope` (off in LoopBack 3, where any token could
    /// set a password without the current one). A model's own setting of that name wins.
    pub reset_password_needs_reset_token: bool,
}

/// What a new password must be (checked at sign-up, change-password, reset-password and any
/// other write of a password). Every password is also at most 72 bytes (bcrypt reads no more:
/// LoopBack's `PASSWORD_TOO_LONG`), at sign-up and at login alike.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct PasswordPolicy {
    /// The fewest characters (422 `length.min`): 8 by default, 1 in LoopBack 3.
    pub min_length: usize,
    /// The password may not be the user's email address, in any case (422 `custom.password`):
    /// on by default, off in LoopBack 3.
    pub not_the_email: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self { min_length: 8, not_the_email: true }
    }
}

impl PasswordPolicy {
    /// LoopBack 3's: any non-empty password.
    pub fn loopback3() -> Self {
        Self { min_length: 1, not_the_email: false }
    }

    /// The problems of `password` for a user with `email`, as (code, message).
    pub(crate) fn problems(&self, password: &str, email: Option<&str>) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if password.chars().count() < self.min_length {
            out.push(("length.min", format!("is too short (minimum is {} characters)", self.min_length)));
        }
        if self.not_the_email && email.is_some_and(|e| e.to_lowercase() == password.to_lowercase()) {
            out.push(("custom.password", "must not be the email address".to_owned()));
        }
        out
    }
}

impl Default for UserHooks {
    /// The rules for new applications.
    fn default() -> Self {
        Self {
            reject_password_changes_via_patch: true,
            email_changes_need_password: true,
            case_sensitive_email: false,
            password_policy: PasswordPolicy::default(),
            reset_password_needs_reset_token: true,
        }
    }
}

impl UserHooks {
    /// LoopBack 3's rules: a password and an email address can be changed by PATCH or PUT,
    /// emails are told apart by case, and any non-empty password is accepted.
    pub fn loopback3() -> Self {
        Self {
            reject_password_changes_via_patch: false,
            email_changes_need_password: false,
            case_sensitive_email: true,
            password_policy: PasswordPolicy::loopback3(),
            reset_password_needs_reset_token: false,
        }
    }

    /// Whether `reset-password` on `model` takes reset tokens only.
    pub(crate) fn restricts_reset(&self, model: &persisted_model::ModelDefinition) -> bool {
        model
            .settings
            .extra
            .get("restrictResetPasswordTokenScope")
            .and_then(Value::as_bool)
            .unwrap_or(self.reset_password_needs_reset_token)
    }

    /// Whether `model`'s email addresses are told apart by case.
    pub(crate) fn case_sensitive(&self, model: &persisted_model::ModelDefinition) -> bool {
        model.settings.extra.get("caseSensitiveEmail").and_then(Value::as_bool).unwrap_or(self.case_sensitive_email)
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
        if let Some(raw) = data.get("email").and_then(Value::as_str).filter(|e| !e.is_empty()).map(str::to_owned) {
            match normalized_email(&raw, self.case_sensitive(ctx.model)) {
                Some(email) if valid_email(&email) => {
                    data.insert("email".into(), Value::String(email));
                }
                _ => errors.add_message("email", "custom.email", "is invalid", Some(&Value::String(raw))),
            }
        }
        let mut hash = None;
        if let Some(Value::String(p)) = data.get("password") {
            let is_hash = password::is_hash(p) && ctx.is_system();
            if !is_hash && !p.is_empty() {
                let email = data.get("email").and_then(Value::as_str);
                for (code, message) in self.password_policy.problems(p, email) {
                    errors.add_message("password", code, &message, None);
                }
            }
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

/// `key` equal to `value` exactly, on every back end: `=` (which an index serves) and a `like`
/// of the escaped value, which the filter language makes a byte comparison on MySQL (whose
/// collations may ignore case, and ignore trailing spaces) and case-sensitive everywhere.
pub(crate) fn exactly(key: &str, value: &Value) -> Where {
    let mut clauses = vec![Where::eq(key, value.clone())];
    if let Value::String(text) = value {
        let mut escaped = String::with_capacity(text.len() + 4);
        for c in text.chars() {
            if matches!(c, '%' | '_' | '\\') {
                escaped.push('\\');
            }
            escaped.push(c);
        }
        clauses.push(Where::Cond { property: key.into(), op: Op::Like(escaped) });
    }
    Where::all(clauses)
}

/// Whether another user has `value` as `key`, compared exactly on every back end.
async fn taken(ctx: &CallContext<'_>, key: &str, value: &Value, except: Option<&Value>) -> Result<bool, Error> {
    let Some(users) = ctx.store(&ctx.model.name) else { return Ok(false) };
    let mut clauses = vec![exactly(key, value)];
    if let Some(id) = except {
        clauses.push(Where::Cond { property: "id".into(), op: Op::Neq(id.clone()) });
    }
    let filter = Filter { where_: Some(Where::all(clauses)), limit: Some(1), ..Filter::default() };
    Ok(!users.find_raw(filter).await?.is_empty())
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
    fn look_alike_addresses_are_one_or_refused() {
        use super::normalized_email as n;
        assert_eq!(n("  Alice@Example.COM ", false).as_deref(), Some("alice@example.com"));
        assert_eq!(n("Alice@Example.COM ", true).as_deref(), Some("Alice@Example.COM"));
        // Fullwidth letters and a decomposed é are their plain forms.
        assert_eq!(n("ａｌｉｃｅ@example.com", false).as_deref(), Some("alice@example.com"));
        assert_eq!(n("e\u{301}lise@example.com", false), n("\u{e9}lise@example.com", false));
        for invisible in [
            "ali\u{200b}ce@example.com",
            "ali\u{ad}ce@example.com",
            "alice@exam\u{200d}ple.com",
            "al ice@x.com",
            "a\tb@x.com",
        ] {
            assert_eq!(n(invisible, false), None, "{invisible:?}");
        }
    }

    #[test]
    fn password_policies() {
        use super::PasswordPolicy;
        let new = PasswordPolicy::default();
        assert!(new.problems("correct horse", Some("a@b.co")).is_empty());
        assert_eq!(new.problems("short", None)[0].0, "length.min");
        assert_eq!(new.problems("Alice@Example.com", Some("alice@example.com"))[0].0, "custom.password");
        assert!(PasswordPolicy::loopback3().problems("x", Some("x")).is_empty());
    }

    #[test]
    fn emails() {
        assert!(valid_email("a@example.com"));
        assert!(!valid_email("not-an-email"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("a b@c.d"));
    }
}
