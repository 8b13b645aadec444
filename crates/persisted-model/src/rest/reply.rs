//! The answers every kind of route gives: JSON with 200, or 204.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::Value;

/// A 200 JSON response.
pub(crate) fn json_ok(body: &Value) -> HttpResponse {
    // Straight into bytes: `to_string` goes through `fmt::Write` for every token.
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    HttpResponse::Ok().content_type("application/json; charset=utf-8").body(bytes)
}

/// 204 No Content, for methods without a result.
pub(crate) fn no_content() -> HttpResponse {
    HttpResponse::build(StatusCode::NO_CONTENT).finish()
}
