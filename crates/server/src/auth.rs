//! Optional API keys. With keys configured, every route but `/health`,
//! `/metrics` and `/openapi.json` needs `Authorization: Bearer KEY` or
//! `X-Api-Key: KEY`; each key (with keys off, each client address) has a token
//! bucket ([`crate::ratelimit`]). Keys are never stored: submissions record a
//! fingerprint.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
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
            .map(str::trim);
        let Some(given) = given else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "an API key is required: send `Authorization: Bearer KEY` or `X-Api-Key: KEY`",
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

/// Middleware of the `/api` routes: identify, rate-limit, and pass the
/// [`Caller`] on as a request extension.
pub async fn require_key(
    State(app): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
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
}
