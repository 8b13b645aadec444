//! Creating users and role memberships from server code (demo data, migrations, tests).

use persisted_model::filter::{Filter, Where};
use persisted_model::{Error, RestApi};
use serde_json::{Value, json};

/// Creates a user (the password is hashed as for `POST /Users`); returns its id.
pub async fn create_user(api: &RestApi, email: &str, password: &str) -> Result<Value, Error> {
    let state = api.state();
    let model = crate::user_model(&state.registry)
        .map(|m| m.definition().name.clone())
        .ok_or_else(|| Error::Internal("no user model is registered".into()))?;
    let users =
        state.store(&model, "create", None).ok_or_else(|| Error::Internal(format!("{model} is not registered")))?;
    let user = users.create(&json!({ "email": email, "password": password })).await?;
    Ok(user.get("id").cloned().unwrap_or(Value::Null))
}

/// Puts a user in a role, creating the role when it does not exist yet.
pub async fn add_user_to_role(api: &RestApi, user_id: &Value, role: &str) -> Result<(), Error> {
    let state = api.state();
    let missing = || Error::Internal("Role and RoleMapping are not registered".into());
    let roles = state.store("Role", "create", None).ok_or_else(missing)?;
    let mappings = state.store("RoleMapping", "create", None).ok_or_else(missing)?;
    let filter = Filter { where_: Some(Where::eq("name", Value::from(role))), limit: Some(1), ..Filter::default() };
    let role_id = match roles.find_raw(filter).await?.pop() {
        Some(r) => r.get("id").cloned().unwrap_or(Value::Null),
        None => roles.create(&json!({ "name": role })).await?.get("id").cloned().unwrap_or(Value::Null),
    };
    let principal = persisted_model::id_text(user_id);
    mappings.create(&json!({ "principalType": "USER", "principalId": principal, "roleId": role_id })).await?;
    Ok(())
}
