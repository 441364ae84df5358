//! Optional API keys. With keys configured, every route but `/health`,
//! `/metrics` and `/openapi.json` needs `Authorization: Bearer KEY` or
//! `X-Api-Key: KEY`; each key (with keys off, each client address) has a token
//! bucket ([`crate::ratelimit`]). Keys are never stored: submissions record a
//! fingerprint.
//!
//! A browser cannot set headers on a WebSocket, and a key in a URL ends up in
//! logs and history, so a WebSocket upgrade may carry the key in its
//! subprotocol list instead: `Sec-WebSocket-Protocol: kiln,
//! kiln.key.<base64url(KEY)>` ([`WS_PROTOCOL`], [`WS_KEY_PREFIX`]). The
//! server then answers the `kiln` subprotocol (it does whenever a client
//! offers it, keys or not), as a browser requires.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::ApiError;
use crate::ratelimit::Admission;

/// Who is calling: the fingerprint of their key (`None` when keys are off)
/// and whether it is an admin key.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub key: Option<String>,
    /// Admin keys (`--admin-keys`) read every key's submissions.
    pub admin: bool,
}

impl Caller {
    /// Whether this caller may read what the key `owner` made. The one rule
    /// of ownership: with keys off everything is everyone's; with keys on a
    /// submission is its key's (and an admin's). Others get a 404, never a
    /// 403, so that ids of other keys cannot be probed.
    pub fn may_read(&self, owner: Option<&str>) -> bool {
        self.admin || self.key.is_none() || self.key.as_deref() == owner
    }

    /// Whose submissions a listing shows: `None` for all (keys off, admin).
    pub fn scope(&self) -> Option<String> {
        if self.admin {
            None
        } else {
            self.key.clone()
        }
    }
}

pub struct Auth {
    /// Each key with its fingerprint and whether it is an admin key.
    keys: Vec<(String, String, bool)>,
}

/// FNV-1a: a stable, dependency-free fingerprint (keys are never stored).
fn fingerprint(key: &str) -> String {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("key-{hash:016x}")
}

/// Comparison whose time does not depend on where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    /// `admin_keys` are keys too (they need not be repeated in `keys`).
    pub fn new(keys: &[String], admin_keys: &[String]) -> Self {
        let entry = |k: &String, admin| (k.clone(), fingerprint(k), admin);
        Auth {
            keys: keys
                .iter()
                .filter(|k| !admin_keys.contains(k))
                .map(|k| entry(k, false))
                .chain(admin_keys.iter().map(|k| entry(k, true)))
                .collect(),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The caller of a request, or 401.
    pub fn identify(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        if !self.enabled() {
            return Ok(Caller::default());
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
            .map(|k| k.trim().to_string());
        let given = match given {
            Some(k) => Some(k),
            None => ws_protocol_key(headers)?,
        };
        let Some(given) = given else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "an API key is required: send `Authorization: Bearer KEY` or `X-Api-Key: KEY` \
                 (on a WebSocket, or the subprotocol `kiln.key.<base64url(KEY)>`)",
            ));
        };
        let mut found = None;
        for (key, fp, admin) in &self.keys {
            if same(key.as_bytes(), given.as_bytes()) {
                found = Some(Caller {
                    key: Some(fp.clone()),
                    admin: *admin,
                });
            }
        }
        found.ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the API key is not valid",
            )
        })
    }
}

/// The subprotocol Kiln answers on its WebSocket routes.
pub const WS_PROTOCOL: &str = "kiln";
/// A subprotocol `kiln.key.<base64url(KEY)>` carries the API key of a WebSocket upgrade.
pub const WS_KEY_PREFIX: &str = "kiln.key.";

/// The subprotocols a WebSocket upgrade offers (none for any other request).
fn ws_protocols(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter(move |_| upgrade)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// The key a WebSocket upgrade carries in its subprotocols, if any.
fn ws_protocol_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    use base64::Engine as _;
    let Some(encoded) = ws_protocols(headers).find_map(|p| p.strip_prefix(WS_KEY_PREFIX)) else {
        return Ok(None);
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .ok()
        .and_then(|k| String::from_utf8(k).ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                format!("the subprotocol {WS_KEY_PREFIX}… must hold the key in base64url"),
            )
        })
}

/// Middleware of the `/api` routes: identify, rate-limit, and pass the
/// [`Caller`] on as a request extension. A WebSocket upgrade that offers
/// the [`WS_PROTOCOL`] subprotocol gets it in the answer.
pub async fn require_key(
    State(app): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let kiln_protocol = ws_protocols(req.headers()).any(|p| p == WS_PROTOCOL);
    let caller = app.auth.identify(req.headers())?;
    let quota = match app.limits.admit(&caller, peer(&req)) {
        Admission::Free => None,
        Admission::Admitted(q) => Some(q),
        Admission::Refused(q, secs) => {
            let mut res = ApiError {
                retry_after: Some(secs),
                ..ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    if caller.key.is_some() {
                        "too many requests for this API key; retry after the Retry-After seconds"
                    } else {
                        "too many requests from this address; retry after the Retry-After seconds"
                    },
                )
            }
            .into_response();
            q.write(res.headers_mut());
            return Ok(res);
        }
    };
    req.extensions_mut().insert(caller.clone());
    let mut res = next.run(req).await;
    if let Some(q) = quota {
        q.write(res.headers_mut());
    }
    // For the access log (`metrics::track_http`): who called, as a fingerprint.
    res.extensions_mut().insert(caller);
    if kiln_protocol && res.status() == StatusCode::SWITCHING_PROTOCOLS {
        res.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(WS_PROTOCOL),
        );
    }
    Ok(res)
}

/// The client's address, when the server was started with connect info.
pub fn peer(req: &Request) -> Option<std::net::IpAddr> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        let auth = Auth::new(&["secret".into()], &["root".into()]);
        let mut h = HeaderMap::new();
        assert!(auth.identify(&h).is_err());
        h.insert("x-api-key", "nope".parse().unwrap());
        assert!(auth.identify(&h).is_err());
        h.insert(header::AUTHORIZATION, "Bearer secret".parse().unwrap());
        let user = auth.identify(&h).unwrap();
        assert!(user.key.is_some() && !user.admin);
        h.insert(header::AUTHORIZATION, "Bearer root".parse().unwrap());
        let admin = auth.identify(&h).unwrap();
        assert!(admin.admin && admin.key != user.key);
    }

    #[test]
    fn ownership_is_one_rule() {
        let anyone = Caller::default();
        assert!(anyone.may_read(Some("key-1")) && anyone.may_read(None));
        assert_eq!(anyone.scope(), None);
        let owner = Caller {
            key: Some("key-1".into()),
            admin: false,
        };
        assert!(owner.may_read(Some("key-1")));
        assert!(!owner.may_read(Some("key-2")) && !owner.may_read(None));
        assert_eq!(owner.scope().as_deref(), Some("key-1"));
        let admin = Caller {
            key: Some("key-9".into()),
            admin: true,
        };
        assert!(admin.may_read(Some("key-1")) && admin.scope().is_none());
    }

    #[test]
    fn a_websocket_upgrade_may_carry_the_key_in_its_subprotocols() {
        let auth = Auth::new(&["sécret".into()], &[]);
        // base64url("sécret") without padding
        let offer = "kiln, kiln.key.c8OpY3JldA";
        let mut h = HeaderMap::new();
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, offer.parse().unwrap());
        assert!(auth.identify(&h).is_err(), "only on a WebSocket upgrade");
        h.insert(header::UPGRADE, "websocket".parse().unwrap());
        assert!(auth.identify(&h).unwrap().key.is_some());
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            "kiln, kiln.key.bm9wZQ".parse().unwrap(),
        );
        assert!(auth.identify(&h).is_err(), "a wrong key");
        h.insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            "kiln, kiln.key.*!".parse().unwrap(),
        );
        let e = auth.identify(&h).unwrap_err();
        assert!(e.message.contains("base64url"), "{}", e.message);
    }
}
