//! The crate's errors, rendered as LoopBack's.

use actix_web::http::StatusCode;

/// Authentication failures with LoopBack's codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 401 `LOGIN_FAILED`: the same for an unknown user and a wrong password.
    #[error("login failed")]
    LoginFailed,
    /// 400 `USERNAME_EMAIL_REQUIRED`.
    #[error("username or email is required")]
    UsernameEmailRequired,
    /// 400: a credential that is not a string (LoopBack #4195).
    #[error("Invalid {0}")]
    InvalidCredential(Credential),
    /// 401 `INVALID_TOKEN`: the token expired (and was deleted).
    #[error("Invalid Access Token")]
    InvalidToken,
    /// 401: logout without a valid token.
    #[error("accessToken is required to logout")]
    LogoutWithoutToken,
    /// 400 `INVALID_PASSWORD`: the current password given to change-password is wrong.
    #[error("Invalid current password")]
    InvalidCurrentPassword,
    /// 401 `USER_NOT_FOUND`: the token's user is gone.
    #[error("User not found")]
    UserNotFound,
    /// 400: a required body field is missing.
    #[error("{0} is a required argument")]
    Required(&'static str),
}

/// A login credential field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credential {
    /// `email`.
    Email,
    /// `username`.
    Username,
    /// `realm`.
    Realm,
}

impl Credential {
    /// The body field's name.
    pub fn field(self) -> &'static str {
        match self {
            Credential::Email => "email",
            Credential::Username => "username",
            Credential::Realm => "realm",
        }
    }
}

impl std::fmt::Display for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.field())
    }
}

impl From<Error> for persisted_model::Error {
    fn from(err: Error) -> Self {
        let message = err.to_string();
        let (status, code) = match &err {
            Error::LoginFailed => (StatusCode::UNAUTHORIZED, Some("LOGIN_FAILED")),
            Error::UsernameEmailRequired => (StatusCode::BAD_REQUEST, Some("USERNAME_EMAIL_REQUIRED")),
            Error::InvalidCredential(Credential::Email) => (StatusCode::BAD_REQUEST, Some("INVALID_EMAIL")),
            Error::InvalidCredential(Credential::Username) => (StatusCode::BAD_REQUEST, Some("INVALID_USERNAME")),
            Error::InvalidCredential(Credential::Realm) => (StatusCode::BAD_REQUEST, Some("INVALID_REALM")),
            Error::InvalidToken => (StatusCode::UNAUTHORIZED, Some("INVALID_TOKEN")),
            Error::LogoutWithoutToken => (StatusCode::UNAUTHORIZED, None),
            Error::InvalidCurrentPassword => (StatusCode::BAD_REQUEST, Some("INVALID_PASSWORD")),
            Error::UserNotFound => (StatusCode::UNAUTHORIZED, Some("USER_NOT_FOUND")),
            Error::Required(_) => (StatusCode::BAD_REQUEST, None),
        };
        let e = persisted_model::Error::new(status, message);
        match code {
            Some(c) => e.with_code(c),
            None => e,
        }
    }
}
