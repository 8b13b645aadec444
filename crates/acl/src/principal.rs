//! Who is calling.

use crate::entry::PrincipalType;

/// A principal: a user or an application, by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// USER or APP (ROLE principals come from role resolution).
    pub kind: PrincipalType,
    /// The id, compared as a string as LoopBack does.
    pub id: String,
}

impl Principal {
    /// A user principal.
    pub fn user(id: impl ToString) -> Self {
        Self { kind: PrincipalType::User, id: id.to_string() }
    }

    /// An application principal.
    pub fn app(id: impl ToString) -> Self {
        Self { kind: PrincipalType::App, id: id.to_string() }
    }
}

/// The caller of a request: its principals and the scopes of its token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// USER and APP principals; empty for an anonymous caller.
    pub principals: Vec<Principal>,
    /// The token's scopes; `None` means LoopBack's `["DEFAULT"]`.
    pub scopes: Option<Vec<String>>,
    /// Roles already known to hold (for example resolved by the token middleware).
    pub roles: Vec<String>,
    /// The name of the user model the user principal belongs to (`User`).
    pub user_model: Option<String>,
    /// When the credential the caller presented stops being valid (its token's expiry);
    /// `None`: never, or not known. A change stream ends then.
    pub expires_at: Option<std::time::SystemTime>,
}

impl Caller {
    /// No token.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// A user of the given user model.
    pub fn user(id: impl ToString, user_model: &str) -> Self {
        Self { principals: vec![Principal::user(id)], user_model: Some(user_model.to_owned()), ..Self::default() }
    }

    /// Whether the caller has a user or application principal.
    pub fn is_authenticated(&self) -> bool {
        !self.principals.is_empty()
    }

    /// The user principal's id.
    pub fn user_id(&self) -> Option<&str> {
        self.principals.iter().find(|p| p.kind == PrincipalType::User).map(|p| p.id.as_str())
    }

    /// Whether one of the token's scopes is among `wanted` (a method's scopes, `None` for
    /// LoopBack's `["DEFAULT"]`). A token without scopes has `DEFAULT`; an empty list has none.
    pub fn has_scope_in(&self, wanted: Option<&[String]>) -> bool {
        let wanted = |scope: &str| wanted.map_or(scope == "DEFAULT", |w| w.iter().any(|s| s == scope));
        match &self.scopes {
            Some(scopes) => scopes.iter().any(|s| wanted(s)),
            None => wanted("DEFAULT"),
        }
    }

    /// The token's scopes: LoopBack's `["DEFAULT"]` when it has none. An empty list allows
    /// nothing (scopes only ever narrow).
    pub fn effective_scopes(&self) -> Vec<String> {
        self.scopes.clone().unwrap_or_else(|| vec!["DEFAULT".to_owned()])
    }
}
