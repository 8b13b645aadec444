//! The crate's error type and LoopBack's JSON error shape.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use sea_orm::DbErr;
use serde_json::{Map, Value, json};

use crate::validation::ValidationError;

/// What a client error tells the client besides its status: LoopBack's `name`, `message`,
/// `code` and `details`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct ClientError {
    /// LoopBack's `name` (`Error`, `SyntaxError`, ...).
    pub name: &'static str,
    /// The message shown to the client.
    pub message: String,
    /// LoopBack's machine-readable `code` (`MODEL_NOT_FOUND`, `ACCESS_DENIED`, ...).
    pub code: Option<&'static str>,
    /// Extra details.
    pub details: Option<Box<Value>>,
}

impl ClientError {
    fn new(message: String) -> Self {
        Self { name: "Error", message, code: None, details: None }
    }
}

/// Every failure a route can answer with: one variant per kind, each rendering LoopBack's
/// `{"error": {statusCode, name, message, code, details}}` in one place
/// ([`Error::to_json`]); 5xx bodies hide internals.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// 400: a malformed request, filter, body or argument.
    #[error(transparent)]
    BadRequest(ClientError),
    /// 401: no valid credential (`AUTHORIZATION_REQUIRED`, `INVALID_TOKEN`, `LOGIN_FAILED`).
    #[error(transparent)]
    Unauthorized(ClientError),
    /// 403: the caller may not do this (`ACCESS_DENIED`).
    #[error(transparent)]
    Forbidden(ClientError),
    /// 404: no such instance or method (`MODEL_NOT_FOUND`).
    #[error(transparent)]
    NotFound(ClientError),
    /// 413: the body or the batch is too large (`ENTITY_TOO_LARGE`, `BATCH_TOO_LARGE`).
    #[error(transparent)]
    PayloadTooLarge(ClientError),
    /// 429: too many requests or attempts; the response says in `Retry-After` when to retry.
    #[error("{error}")]
    TooManyRequests {
        /// What the client is told.
        error: ClientError,
        /// Seconds until a retry may succeed.
        retry_after: u64,
    },
    /// Another status an application chose (a 409 from a hook, ...).
    #[error("{error}")]
    Other {
        /// The HTTP status.
        status: StatusCode,
        /// What the client is told.
        error: ClientError,
    },
    /// A model instance failed validation (422).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// The database failed; the client sees only "Internal Server Error".
    #[error("database error: {0}")]
    Database(#[source] Box<DbErr>),
    /// The database cannot be reached (or no connection was free in time): 503
    /// `SERVICE_UNAVAILABLE` with `Retry-After`, so clients and load balancers retry.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Box<DbErr>),
    /// A statement ran longer than the database allows it ([`limit_statements`](crate::limit_statements))
    /// and was stopped: 503 `QUERY_TIMEOUT`.
    #[error("statement stopped after its time limit: {0}")]
    Timeout(#[source] Box<DbErr>),
    /// Something that should not happen; the client sees only "Internal Server Error".
    #[error("internal error: {0}")]
    Internal(String),
    /// The models and settings given to `RestApiBuilder::build` do not fit together (an
    /// unregistered relation target, a missing key, an ACL naming no method...): every
    /// problem found, one per line. Only `build` returns it.
    #[error("the REST API cannot be built:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Configuration(Vec<String>),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A LoopBack error with a status and message, `name` "Error": the variant for the status
    /// (`Other` for statuses without one of their own).
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let error = ClientError::new(message.into());
        match status {
            StatusCode::BAD_REQUEST => Error::BadRequest(error),
            StatusCode::UNAUTHORIZED => Error::Unauthorized(error),
            StatusCode::FORBIDDEN => Error::Forbidden(error),
            StatusCode::NOT_FOUND => Error::NotFound(error),
            StatusCode::PAYLOAD_TOO_LARGE => Error::PayloadTooLarge(error),
            status => Error::Other { status, error },
        }
    }

    /// What a client error tells the client (`None` for validation and server errors).
    pub fn client(&self) -> Option<&ClientError> {
        match self {
            Error::BadRequest(e)
            | Error::Unauthorized(e)
            | Error::Forbidden(e)
            | Error::NotFound(e)
            | Error::PayloadTooLarge(e)
            | Error::TooManyRequests { error: e, .. }
            | Error::Other { error: e, .. } => Some(e),
            _ => None,
        }
    }

    fn client_mut(&mut self) -> Option<&mut ClientError> {
        match self {
            Error::BadRequest(e)
            | Error::Unauthorized(e)
            | Error::Forbidden(e)
            | Error::NotFound(e)
            | Error::PayloadTooLarge(e)
            | Error::TooManyRequests { error: e, .. }
            | Error::Other { error: e, .. } => Some(e),
            _ => None,
        }
    }

    /// 429 with this message; `Retry-After` says `retry_after` seconds (at least 1).
    pub fn too_many_requests(message: impl Into<String>, retry_after: u64) -> Self {
        Error::TooManyRequests { error: ClientError::new(message.into()), retry_after: retry_after.max(1) }
    }

    /// 400 with this message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 with this message.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 404 `MODEL_NOT_FOUND` with LoopBack's findById wording.
    pub fn unknown_id(model: &str, id: &str) -> Self {
        Self::not_found(format!("Unknown \"{model}\" id \"{id}\".")).with_code("MODEL_NOT_FOUND")
    }

    /// Sets LoopBack's `code`.
    pub fn with_code(mut self, code: &'static str) -> Self {
        if let Some(e) = self.client_mut() {
            e.code = Some(code);
        }
        self
    }

    /// Sets LoopBack's `details`.
    pub fn with_details(mut self, details: Value) -> Self {
        if let Some(e) = self.client_mut() {
            e.details = Some(Box::new(details));
        }
        self
    }

    /// Sets LoopBack's `name`.
    pub fn with_name(mut self, name: &'static str) -> Self {
        if let Some(e) = self.client_mut() {
            e.name = name;
        }
        self
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Other { status, .. } => *status,
            Error::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Database(_) | Error::Internal(_) | Error::Configuration(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Error::Unavailable(_) | Error::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The body LoopBack's strong-error-handler would send, without the `error` wrapper.
    /// 5xx bodies carry only the status and its reason phrase.
    pub fn to_json(&self) -> Value {
        let status = self.status();
        let mut out = Map::new();
        out.insert("statusCode".into(), json!(status.as_u16()));
        if let Error::Unavailable(_) = self {
            out.insert("name".into(), json!("Error"));
            out.insert("message".into(), json!("Service Unavailable: the database cannot be reached; retry later"));
            out.insert("code".into(), json!("SERVICE_UNAVAILABLE"));
            return Value::Object(out);
        }
        if let Error::Timeout(_) = self {
            out.insert("name".into(), json!("Error"));
            out.insert(
                "message".into(),
                json!("The query ran longer than the server allows and was stopped: narrow the filter, or retry later"),
            );
            out.insert("code".into(), json!("QUERY_TIMEOUT"));
            return Value::Object(out);
        }
        if status.is_server_error() {
            let reason = status.canonical_reason().unwrap_or("Internal Server Error");
            out.insert("message".into(), json!(reason));
            return Value::Object(out);
        }
        if let Error::Validation(v) = self {
            out.insert("name".into(), json!("ValidationError"));
            out.insert("message".into(), json!(v.to_string()));
            out.insert("details".into(), v.details());
        } else if let Some(e) = self.client() {
            out.insert("name".into(), json!(e.name));
            out.insert("message".into(), json!(e.message));
            if let Some(code) = e.code {
                out.insert("code".into(), json!(code));
            }
            if let Some(details) = &e.details {
                out.insert("details".into(), (**details).clone());
            }
        }
        Value::Object(out)
    }
}

/// A refused filter is the client's mistake: 400 with LoopBack's code where it has one. (Here,
/// not in the filter module, which stays free of HTTP.)
impl From<crate::filter::FilterError> for Error {
    fn from(err: crate::filter::FilterError) -> Self {
        let e = Error::new(StatusCode::BAD_REQUEST, err.message);
        match err.code {
            Some(code) => e.with_code(code),
            None => e,
        }
    }
}

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            Error::Unavailable(Box::new(err))
        } else if is_timeout(&err) {
            Error::Timeout(Box::new(err))
        } else if let Some(detail) = regexp_gave_up(&err) {
            // MariaDB's PCRE2 gave up on a value (its match limit): the rows are not known.
            Error::bad_request(format!(
                "The database gave up matching the regular expression on a stored value ({}): simplify the pattern",
                detail.trim_start_matches([':', ' '])
            ))
            .with_code("REGEXP_TOO_COMPLEX")
        } else {
            Error::Database(Box::new(err))
        }
    }
}

/// What the database said when its regular expression engine gave up on a value: MariaDB's
/// warning (read after the statement), MySQL's errors 3698 and 3699 (ICU's stack and time
/// limits).
fn regexp_gave_up(err: &DbErr) -> Option<String> {
    use sea_orm::RuntimeErr;
    if let DbErr::Custom(message) = err {
        return message.strip_prefix(crate::connection::REGEXP_GAVE_UP).map(str::to_owned);
    }
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err else { return None };
    let sqlx::Error::Database(db) = &**e else { return None };
    let mysql = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()?;
    matches!(mysql.number(), 3698 | 3699).then(|| mysql.message().to_owned())
}

/// Whether the database stopped a statement at its time limit: PostgreSQL's
/// `query_canceled` (57014), MariaDB's 1969 and MySQL's 3024, SQLite's `SQLITE_INTERRUPT` (9).
fn is_timeout(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err else { return false };
    let sqlx::Error::Database(db) = &**e else { return false };
    if let Some(mysql) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return matches!(mysql.number(), 1969 | 3024);
    }
    matches!(db.code().as_deref(), Some("57014" | "9"))
}

/// Whether a database error means the database cannot be reached rather than that a
/// statement failed: no connection in time, a broken connection, or a server shutting down
/// or starting up.
fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => match &**e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => true,
            // PostgreSQL's connection exceptions (08) and operator interventions (57P: shutdown,
            // crash, starting up).
            sqlx::Error::Database(db) => db.code().is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
            _ => false,
        },
        _ => false,
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(target: "persisted_model::error", error = %self, "request failed");
        } else {
            tracing::debug!(target: "persisted_model::rejection", status = status.as_u16(), error = %self, "request rejected");
        }
        let mut res = error_response(status, self.to_json());
        let retry_after = match self {
            Error::Unavailable(_) | Error::Timeout(_) => Some(1),
            Error::TooManyRequests { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            res.headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, actix_web::http::header::HeaderValue::from(seconds));
        }
        res
    }
}

/// A response with LoopBack's `{"error": ...}` envelope.
pub(crate) fn error_response(status: StatusCode, inner: Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .content_type("application/json; charset=utf-8")
        .body(json!({ "error": inner }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_keep_their_fields() {
        let err = Error::unknown_id("Product", "9");
        assert_eq!(
            err.to_json(),
            json!({"statusCode":404,"name":"Error","message":"Unknown \"Product\" id \"9\".","code":"MODEL_NOT_FOUND"})
        );
    }

    #[test]
    fn an_unreachable_database_is_a_503() {
        let err = Error::from(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout));
        assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.to_json()["code"], "SERVICE_UNAVAILABLE");
        assert_eq!(err.error_response().headers().get("retry-after").unwrap(), "1");
    }

    #[test]
    fn each_kind_is_its_own_variant() {
        assert!(matches!(Error::unknown_id("Product", "9"), Error::NotFound(_)));
        assert!(matches!(Error::bad_request("x"), Error::BadRequest(_)));
        let conflict = Error::new(StatusCode::CONFLICT, "taken").with_code("TAKEN");
        assert_eq!(conflict.status(), StatusCode::CONFLICT);
        assert_eq!(conflict.client().and_then(|e| e.code), Some("TAKEN"));
    }

    #[test]
    fn server_errors_hide_internals() {
        let err = Error::from(DbErr::Custom("secret table".into()));
        assert_eq!(err.to_json(), json!({"statusCode":500,"message":"Internal Server Error"}));
    }
}
