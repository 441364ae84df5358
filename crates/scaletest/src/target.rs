//! Which platform the tests run against, at which URL, with which credential.
//!
//! - `--platform kiln|coder` is taken as given.
//! - `--platform auto` (the default) with no URL (neither `--target` nor
//!   `CODER_URL`) is an embedded Kiln.
//! - `--platform auto` with a URL asks the target what it is: Coder answers
//!   `GET /api/v2/buildinfo` (unauthenticated) with its build info; anything
//!   else that answers HTTP is taken for Kiln. So the scale-testing plan's
//!   `CODER_URL`/`CODER_SESSION_TOKEN` work whether they name a Coder
//!   deployment or a Kiln one. The probe carries `CODER_SESSION_TOKEN`, when
//!   set, as Coder's `Coder-Session-Token` header. A dry run contacts nothing, so there it stays
//!   undecided.
//! - Credentials: Coder takes `CODER_SESSION_TOKEN`, else `--api-key`; Kiln
//!   takes `--api-key`/`KILN_API_KEY`, else `CODER_SESSION_TOKEN`.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;

use crate::error::{PlatformError, ScaletestError};
use crate::http::Http;
use crate::platform::Platform;
use crate::{coder, kiln, PlatformKind, TargetArgs};

/// How long the `auto` probe waits for the target.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The platform, URL and credential a run uses. `url: None` is an embedded
/// Kiln; `kind: Auto` only in a dry run with a URL (undecided).
#[derive(Debug, Clone)]
pub struct Chosen {
    pub kind: PlatformKind,
    pub url: Option<String>,
    pub key: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.is_empty())
}

/// Whether the body of `GET /api/v2/buildinfo` is Coder's build info.
pub fn is_coder_buildinfo(body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    v["version"].is_string() && (v["dashboard_url"].is_string() || v["external_url"].is_string())
}

/// Asks `url` whether it is Coder (see the module doc); a target that does
/// not answer HTTP at all is an error.
pub async fn detect(url: &str, token: Option<&str>) -> Result<PlatformKind, ScaletestError> {
    let target = |source| ScaletestError::Target {
        target: url.to_string(),
        source,
    };
    let auth = token.map(|t| (coder::TOKEN_HEADER.to_string(), t.to_string()));
    let http = Http::new(url, auth, 1).map_err(target)?;
    let a = http
        .send(Method::GET, "/api/v2/buildinfo", None, PROBE_TIMEOUT)
        .await
        .map_err(target)?;
    Ok(if a.status == 200 && is_coder_buildinfo(&a.body) {
        PlatformKind::Coder
    } else {
        PlatformKind::Kiln
    })
}

/// Resolves the flags and the environment; `probe` false (a dry run)
/// leaves `auto` with a URL undecided instead of contacting the target.
pub async fn choose(t: &TargetArgs, probe: bool) -> Result<Chosen, ScaletestError> {
    let coder_url = env(coder::ENV_URL);
    let token = env(coder::ENV_TOKEN);
    let (kind, url) = match t.platform {
        PlatformKind::Kiln => (PlatformKind::Kiln, t.target.clone()),
        PlatformKind::Coder => (PlatformKind::Coder, t.target.clone().or(coder_url)),
        PlatformKind::Auto => match t.target.clone().or(coder_url) {
            None => (PlatformKind::Kiln, None),
            Some(u) if probe => (detect(&u, token.as_deref()).await?, Some(u)),
            Some(u) => (PlatformKind::Auto, Some(u)),
        },
    };
    let key = match kind {
        // CODER_SESSION_TOKEN first: `--api-key` also reads KILN_API_KEY, a Kiln key.
        PlatformKind::Coder => {
            if url.is_none() {
                return Err(ScaletestError::BadArgument {
                    flag: "--target",
                    message: format!(
                        "Coder mode needs a URL: set {} or pass --target",
                        coder::ENV_URL
                    ),
                });
            }
            Some(
                token
                    .or_else(|| t.api_key.clone())
                    .ok_or(ScaletestError::BadArgument {
                        flag: "--api-key",
                        message: format!(
                            "Coder mode needs a session token: set {} or pass --api-key",
                            coder::ENV_TOKEN
                        ),
                    })?,
            )
        }
        _ => t.api_key.clone().or(token),
    };
    Ok(Chosen { kind, url, key })
}

/// The platform client for a decided choice.
pub fn connect(c: &Chosen, url: &str, pool: usize) -> Result<Arc<dyn Platform>, ScaletestError> {
    let target = |source: PlatformError| ScaletestError::Target {
        target: url.to_string(),
        source,
    };
    Ok(match c.kind {
        PlatformKind::Coder => Arc::new(
            coder::Coder::new(url, c.key.as_deref().unwrap_or_default(), pool).map_err(target)?,
        ),
        _ => Arc::new(kiln::Kiln::new(url, c.key.as_deref(), pool).map_err(target)?),
    })
}

/// `kiln`, `coder`, or what a dry run says of an undecided `auto`.
pub fn kind_name(k: PlatformKind) -> &'static str {
    match k {
        PlatformKind::Coder => "coder",
        PlatformKind::Kiln => "kiln",
        PlatformKind::Auto => "auto (kiln or coder: the target is asked when the run starts)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coder_buildinfo_is_recognised_and_other_bodies_are_not() {
        let coder = include_bytes!("../tests/fixtures/coder/buildinfo.json");
        assert!(is_coder_buildinfo(coder));
        assert!(!is_coder_buildinfo(br#"{"error":{"code":"not_found"}}"#));
        assert!(!is_coder_buildinfo(br#"{"version":"1.0"}"#));
        assert!(!is_coder_buildinfo(b"<html>not found</html>"));
    }
}
