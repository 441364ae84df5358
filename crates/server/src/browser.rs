//! Browsers, first-class and safe: CORS for the origins an operator allows
//! (`--cors-origins`; preflights answered), and the `Origin` check of every
//! WebSocket upgrade. Browsers send `Origin` on a WebSocket handshake but do
//! not apply CORS to it, so without this check any page a user visits could
//! open a terminal in their workspace with the cookies or the network position
//! of that user (cross-site WebSocket hijacking). Same origin is always
//! allowed; clients that send no `Origin` (SDKs, CLIs) are not browsers and
//! are not concerned.

use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;

/// Headers a browser page may send and read across origins.
const REQUEST_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "x-api-key",
    "x-auth-token",
    "x-auth-user",
    "x-request-id",
];
const EXPOSED_HEADERS: &[&str] = &[
    "retry-after",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "x-request-id",
];

/// The CORS layer for `origins` (`*` = any); `None` without origins (no
/// cross-origin access at all, the safe default).
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()),
        )
    };
    let names = |list: &[&'static str]| -> Vec<HeaderName> {
        list.iter().map(|h| HeaderName::from_static(h)).collect()
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::PATCH,
            ])
            .allow_headers(names(REQUEST_HEADERS))
            .expose_headers(names(EXPOSED_HEADERS))
            .max_age(Duration::from_secs(600)),
    )
}

/// Whether a browser page of `origin` may open a WebSocket here: its own
/// origin (the authority matches `Host`), or one of `allowed` (`*` = any).
pub fn origin_allowed(origin: &str, headers: &HeaderMap, allowed: &[String]) -> bool {
    let origin = origin.trim_end_matches('/');
    if allowed
        .iter()
        .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    !host.is_empty() && authority.eq_ignore_ascii_case(host)
}

fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Middleware: refuses (403) a WebSocket upgrade whose `Origin` is neither
/// this server's nor allowed.
pub async fn check_ws_origin(
    allowed: std::sync::Arc<Vec<String>>,
    req: Request,
    next: Next,
) -> Response {
    if is_websocket_upgrade(req.headers()) {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !origin_allowed(origin, req.headers(), &allowed) {
                return ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden_origin",
                    format!(
                        "a page of {origin:?} may not open a WebSocket here; the server allows its own origin and --cors-origins"
                    ),
                )
                .into_response();
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(h: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::HOST, HeaderValue::from_str(h).unwrap());
        m
    }

    #[test]
    fn same_origin_and_listed_origins_are_allowed_others_not() {
        let none: Vec<String> = Vec::new();
        assert!(origin_allowed(
            "http://kiln.local:3000",
            &host("kiln.local:3000"),
            &none
        ));
        assert!(origin_allowed(
            "https://KILN.local:3000/",
            &host("kiln.local:3000"),
            &none
        ));
        assert!(!origin_allowed(
            "https://evil.example",
            &host("kiln.local:3000"),
            &none
        ));
        assert!(!origin_allowed("null", &host("kiln.local:3000"), &none));
        assert!(!origin_allowed(
            "http://kiln.local:3000.evil",
            &host("kiln.local:3000"),
            &none
        ));
        assert!(!origin_allowed(
            "http://kiln.local:3000",
            &HeaderMap::new(),
            &none
        ));
        let listed = vec!["https://console.example.com".to_string()];
        assert!(origin_allowed(
            "https://console.example.com",
            &host("api:3000"),
            &listed
        ));
        assert!(!origin_allowed(
            "https://console.example.com.evil",
            &host("api:3000"),
            &listed
        ));
        let any = vec!["*".to_string()];
        assert!(origin_allowed("https://anything", &host("api:3000"), &any));
    }

    #[test]
    fn no_origins_no_cors_layer() {
        assert!(cors(&[]).is_none());
        assert!(cors(&["https://a.example".into()]).is_some());
    }
}
