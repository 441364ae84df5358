//! kiln-console: Kiln's web console, served by `kiln serve` itself.
//!
//! The sources live in `web/` (TypeScript); `scripts/build-console.sh`
//! builds them into `crates/console/dist/`, which is committed and embedded
//! here at compile time, so `cargo build` needs no Node and no network, and
//! the console works offline (it loads nothing from anywhere but this
//! server). CI rebuilds `dist/` and fails when it differs from the sources.
//!
//! What is served ([`router`]):
//! - `/`, `/console` and `/console/…`: the single page (`index.html`); the
//!   page's own router shows the playground, submissions, workspaces,
//!   dashboard or reports, and says "no such page" for other paths. With a
//!   strict Content-Security-Policy ([`CSP`]), never cached.
//! - `/console/assets/NAME-HASH.EXT`: the built scripts and styles, named by
//!   their content, so cached for a year as immutable; gzip-compressed when
//!   the browser accepts it (compressed once, on first use).
//! - [`not_found_page`]: for a path no route of the server matched, the page
//!   (with status 404) when a browser asks for a page, so a mistyped address
//!   shows the console's navigation; `None` for API clients and `/api/`
//!   paths, which keep their JSON 404.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use include_dir::{include_dir, Dir};

static DIST: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/dist");

/// The path the built assets are served under (web/build.mjs writes it into the page).
pub const ASSETS_PATH: &str = "/console/assets/";

/// The console page's policy. Scripts, styles, connections (HTTP and the
/// WebSockets of runs and terminals) and images only from this origin; no
/// inline or evaluated script, no plugins, no framing, no `<base>`. Inline
/// styles are allowed because the terminal (xterm.js) and the editor
/// (CodeMirror) write their computed styles into `<style>` elements at run
/// time; no script can be injected through a style. [`csp`] adds this
/// host's `ws:`/`wss:` origin to `connect-src` for browsers whose `'self'`
/// does not cover WebSockets (before CSP Level 3).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; worker-src 'none'; \
object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// [`CSP`] for a page served to `host` (the request's `Host`): its
/// WebSocket origins named in `connect-src`. A host that is not a plain
/// `name[:port]` or `[v6]:port` leaves the policy as it is.
pub fn csp(host: Option<&str>) -> String {
    let plain = |h: &str| {
        !h.is_empty()
            && h.len() <= 255
            && h.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-:[]".contains(&c))
    };
    match host.filter(|h| plain(h)) {
        Some(h) => CSP.replace(
            "connect-src 'self'",
            &format!("connect-src 'self' ws://{h} wss://{h}"),
        ),
        None => CSP.to_string(),
    }
}

/// Hashed assets: a new build gives new names, so they never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Files smaller than this are sent as they are.
const COMPRESS_MIN_BYTES: usize = 1024;

/// The console's routes, for any router state.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/assets/{name}", get(asset))
        .route("/console/{*page}", get(page))
}

async fn index(headers: HeaderMap) -> Response {
    page_response(StatusCode::OK, &headers)
}

async fn page(Path(page): Path<String>, headers: HeaderMap) -> Response {
    if page.starts_with("assets/") {
        return missing_asset();
    }
    page_response(StatusCode::OK, &headers)
}

/// The page, for a request no route matched: `Some` (status 404) for a
/// browser asking for a page — GET or HEAD, accepting `text/html`, not under
/// `/api/` — and `None` otherwise, so API clients keep the JSON 404.
pub fn not_found_page(method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    let browser = (method == Method::GET || method == Method::HEAD)
        && !uri.path().starts_with("/api/")
        && accepts(headers, header::ACCEPT, "text/html");
    browser.then(|| page_response(StatusCode::NOT_FOUND, headers))
}

fn page_response(status: StatusCode, req: &HeaderMap) -> Response {
    let body = DIST
        .get_file("index.html")
        .map(|f| f.contents())
        .unwrap_or(b"the console was built without index.html; run scripts/build-console.sh");
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let host = req.get(header::HOST).and_then(|v| v.to_str().ok());
    let policy = HeaderValue::from_str(&csp(host)).unwrap_or(HeaderValue::from_static(CSP));
    h.insert(header::CONTENT_SECURITY_POLICY, policy);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    res
}

fn missing_asset() -> Response {
    let mut res = (StatusCode::NOT_FOUND, "no such console asset\n").into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(file) = DIST
        .get_dir("assets")
        .and_then(|d| d.get_file(format!("assets/{name}")))
    else {
        return missing_asset();
    };
    let ctype = content_type(&name);
    let compressible = ctype.starts_with("text/") || ctype == "image/svg+xml";
    let gzip = compressible
        && file.contents().len() >= COMPRESS_MIN_BYTES
        && accepts(&headers, header::ACCEPT_ENCODING, "gzip");
    let mut res = if gzip {
        match gzipped(&name, file.contents()) {
            Some(body) => {
                let mut r = axum::body::Bytes::from_owner(body).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }
            None => file.contents().into_response(),
        }
    } else {
        file.contents().into_response()
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if compressible {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    res
}

/// The content type of an asset, from its extension.
pub fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Whether a comma-separated header (`Accept`, `Accept-Encoding`) lists
/// `want` without `q=0`.
fn accepts(headers: &HeaderMap, name: header::HeaderName, want: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let token = parts.next().unwrap_or("");
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            token.eq_ignore_ascii_case(want) && !refused
        })
}

/// The gzip form of an asset, compressed once per process.
fn gzipped(name: &str, data: &'static [u8]) -> Option<Arc<[u8]>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<[u8]>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(name) {
        return Some(hit.clone());
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).ok()?;
    let body: Arc<[u8]> = enc.finish().ok()?.into();
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(name.to_string(), body.clone());
    Some(body)
}

/// Every embedded file's path under `dist/` (for tests and diagnostics).
pub fn files() -> Vec<String> {
    fn walk(d: &Dir<'static>, out: &mut Vec<String>) {
        for f in d.files() {
            out.push(f.path().to_string_lossy().into_owned());
        }
        for sub in d.dirs() {
            walk(sub, out);
        }
    }
    let mut out = Vec::new();
    walk(&DIST, &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests;
