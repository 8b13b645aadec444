//! Reading request bodies as LoopBack's body parsers do: JSON (any value), urlencoded with
//! nested brackets, anything else ignored; over the size limit is a 413.

use actix_web::HttpRequest;
use actix_web::http::{StatusCode, header};
use actix_web::web::Payload;
use futures_util::StreamExt;
use serde_json::Value;

use crate::error::Error;
use crate::filter::QueryParams;

/// Reads and parses the body; `Value::Null` when there is none or its type is not understood.
/// A body larger than `limit` bytes is a 413 (at once when its `Content-Length` says so), one
/// not received within `timeout` a 408: a client sending a byte now and then holds a request
/// no longer than that.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: Payload,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Value, Error> {
    let kind = content_kind(req);
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut bytes = Vec::new();
    loop {
        let next = match tokio::time::timeout_at(deadline, payload.next()).await {
            Ok(next) => next,
            Err(_) => return Err(too_slow(timeout)),
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| Error::bad_request(format!("Cannot read the request body: {e}")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    match kind {
        BodyKind::Json => {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Null);
            }
            serde_json::from_slice(&bytes)
                .map_err(|e| Error::bad_request(format!("Unexpected token in JSON: {e}")).with_name("SyntaxError"))
        }
        BodyKind::Form => {
            let text = String::from_utf8_lossy(&bytes);
            let params = QueryParams::parse(&text);
            Ok(params.to_object())
        }
        BodyKind::Other => Ok(Value::Null),
    }
}

fn too_slow(timeout: std::time::Duration) -> Error {
    Error::new(
        StatusCode::REQUEST_TIMEOUT,
        format!("The request body was not received within {} ms", timeout.as_millis()),
    )
    .with_code("REQUEST_TIMEOUT")
}

fn too_large() -> Error {
    Error::new(StatusCode::PAYLOAD_TOO_LARGE, "request entity too large")
        .with_name("PayloadTooLargeError")
        .with_code("ENTITY_TOO_LARGE")
}

enum BodyKind {
    Json,
    Form,
    Other,
}

fn content_kind(req: &HttpRequest) -> BodyKind {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return BodyKind::Other;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        BodyKind::Json
    } else if essence == "application/x-www-form-urlencoded" {
        BodyKind::Form
    } else {
        BodyKind::Other
    }
}
