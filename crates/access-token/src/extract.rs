//! Finding the token in a request, in LoopBack's order: the `access_token` query parameter,
//! `X-Access-Token`, then `Authorization` (bare, `Bearer`, `Bearer` base64, `Basic`).

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use persisted_model::filter::QueryParams;

/// The raw token a request carries, if any.
pub fn token_from_request(req: &HttpRequest) -> Option<String> {
    if let Some(t) = QueryParams::parse(req.query_string()).get_str("access_token").filter(|t| !t.is_empty()) {
        return Some(t.to_owned());
    }
    let header_value =
        |name| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    if let Some(t) = header_value(header::HeaderName::from_static("x-access-token")) {
        return Some(t.to_owned());
    }
    header_value(header::AUTHORIZATION).and_then(from_authorization)
}

/// The token in an `Authorization` header value.
pub fn from_authorization(value: &str) -> Option<String> {
    if let Some(rest) = value.strip_prefix("Bearer ") {
        let rest = rest.trim();
        // LoopBack expects base64 after Bearer; raw tokens are accepted too. A raw token is
        // 64 alphanumerics, which also decode as base64, but to bytes that are not a token.
        return match STANDARD.decode(rest).ok().and_then(|b| String::from_utf8(b).ok()) {
            Some(decoded) if is_token_like(&decoded) => Some(decoded),
            _ => Some(rest.to_owned()),
        };
    }
    if value.len() > 6 && value[..6].eq_ignore_ascii_case("basic ") {
        let decoded = STANDARD.decode(value[6..].trim()).ok().and_then(|b| String::from_utf8(b).ok())?;
        let (user, pass) = decoded.split_once(':').unwrap_or((&decoded, ""));
        // curl http://<token>@host sends the token as the user name: take the longer part.
        let token = if pass.len() > user.len() { pass } else { user };
        return (!token.is_empty()).then(|| token.to_owned());
    }
    Some(value.to_owned())
}

fn is_token_like(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    const TOKEN: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQrStUvWxYz01";

    #[test]
    fn every_source() {
        let req = TestRequest::get().uri(&format!("/x?access_token={TOKEN}")).to_http_request();
        assert_eq!(token_from_request(&req).as_deref(), Some(TOKEN));
        let req = TestRequest::get().insert_header(("X-Access-Token", TOKEN)).to_http_request();
        assert_eq!(token_from_request(&req).as_deref(), Some(TOKEN));
        let req = TestRequest::get().insert_header(("Authorization", TOKEN)).to_http_request();
        assert_eq!(token_from_request(&req).as_deref(), Some(TOKEN));
        let req = TestRequest::get().to_http_request();
        assert_eq!(token_from_request(&req), None);
    }

    #[test]
    fn authorization_forms() {
        assert_eq!(from_authorization(&format!("Bearer {TOKEN}")).as_deref(), Some(TOKEN));
        assert_eq!(from_authorization(&format!("Bearer {}", STANDARD.encode(TOKEN))).as_deref(), Some(TOKEN));
        assert_eq!(
            from_authorization(&format!("Basic {}", STANDARD.encode(format!("{TOKEN}:")))).as_deref(),
            Some(TOKEN)
        );
        assert_eq!(
            from_authorization(&format!("basic {}", STANDARD.encode(format!("x:{TOKEN}")))).as_deref(),
            Some(TOKEN)
        );
    }
}
