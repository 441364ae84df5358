use std::io::Read;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::*;

async fn get(path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = router::<()>()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

/// The page's script and stylesheet, as index.html names them.
fn linked_assets() -> Vec<String> {
    let html = DIST
        .get_file("index.html")
        .unwrap()
        .contents_utf8()
        .unwrap();
    html.split('"')
        .filter(|s| s.starts_with(ASSETS_PATH))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn every_page_path_serves_the_page_with_its_policy() {
    for path in [
        "/",
        "/console",
        "/console/workspaces/abc",
        "/console/dashboard",
    ] {
        let (status, h, body) = get(path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(
            h[header::CONTENT_SECURITY_POLICY],
            CSP,
            "no Host, no ws origin"
        );
        assert_eq!(h[header::CACHE_CONTROL], "no-cache");
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert!(String::from_utf8(body)
            .unwrap()
            .contains("<main id=\"main\""));
    }
}

#[tokio::test]
async fn the_policy_names_this_hosts_websocket_origin_and_nothing_else() {
    let (_, h, _) = get("/", &[("host", "kiln.example:3000")]).await;
    let policy = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        policy.contains("connect-src 'self' ws://kiln.example:3000 wss://kiln.example:3000;"),
        "{policy}"
    );
    assert_eq!(
        csp(Some("[::1]:8080")),
        CSP.replace(
            "connect-src 'self'",
            "connect-src 'self' ws://[::1]:8080 wss://[::1]:8080"
        )
    );
    // A Host that could add a source or a directive is ignored.
    for bad in [
        "a b",
        "x; script-src *",
        "evil.example/'unsafe-inline'",
        "",
        "*",
    ] {
        assert_eq!(csp(Some(bad)), CSP, "{bad:?}");
    }
}

#[tokio::test]
async fn the_policy_allows_no_inline_or_foreign_script() {
    let script = CSP
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .unwrap();
    assert_eq!(script, "script-src 'self'");
    assert!(CSP.contains("frame-ancestors 'none'") && CSP.contains("object-src 'none'"));
    // The page itself holds no inline script or style for the policy to refuse.
    let html = DIST
        .get_file("index.html")
        .unwrap()
        .contents_utf8()
        .unwrap();
    assert!(!html.contains("<script>") && !html.contains("<style") && !html.contains(" style="));
}

#[tokio::test]
async fn hashed_assets_are_immutable_with_their_type_and_compressed_on_request() {
    let linked = linked_assets();
    assert!(linked.iter().any(|a| a.ends_with(".js")), "{linked:?}");
    assert!(linked.iter().any(|a| a.ends_with(".css")), "{linked:?}");
    for path in &linked {
        let name = path.trim_start_matches(ASSETS_PATH);
        let raw = DIST.get_file(format!("assets/{name}")).unwrap().contents();
        let (status, h, body) = get(path, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(h[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(h[header::CONTENT_TYPE], content_type(name));
        assert_eq!(body, raw, "{path} uncompressed");
        assert!(h.get(header::CONTENT_ENCODING).is_none());

        let (_, h, body) = get(path, &[("accept-encoding", "br, gzip;q=0.8")]).await;
        if raw.len() >= COMPRESS_MIN_BYTES {
            assert_eq!(h[header::CONTENT_ENCODING], "gzip", "{path}");
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut plain)
                .unwrap();
            assert_eq!(plain, raw, "{path} after gunzip");
            assert!(body.len() < raw.len());
        }
        let (_, h, _) = get(path, &[("accept-encoding", "gzip;q=0")]).await;
        assert!(
            h.get(header::CONTENT_ENCODING).is_none(),
            "q=0 refuses gzip"
        );
    }
}

#[tokio::test]
async fn a_missing_asset_is_a_plain_404_never_the_page() {
    for path in ["/console/assets/nope-123.js", "/console/assets/a/b.js"] {
        let (status, h, _) = get(path, &[("accept", "text/html")]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(h[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    }
}

#[test]
fn unmatched_paths_get_the_page_only_when_a_browser_asks_for_one() {
    let html: HeaderMap = [(
        header::ACCEPT,
        "text/html,application/xhtml+xml,*/*;q=0.8".parse().unwrap(),
    )]
    .into_iter()
    .collect();
    let json: HeaderMap = [(header::ACCEPT, "application/json".parse().unwrap())]
        .into_iter()
        .collect();
    let uri = |p: &str| p.parse::<Uri>().unwrap();
    let page = not_found_page(&Method::GET, &uri("/nowhere"), &html).unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .starts_with("default-src 'self'; script-src 'self';"));
    assert!(not_found_page(&Method::GET, &uri("/nowhere"), &json).is_none());
    assert!(not_found_page(&Method::GET, &uri("/nowhere"), &HeaderMap::new()).is_none());
    assert!(not_found_page(&Method::GET, &uri("/api/v1/nope"), &html).is_none());
    assert!(not_found_page(&Method::POST, &uri("/nowhere"), &html).is_none());
    let refused: HeaderMap = [(header::ACCEPT, "text/html;q=0".parse().unwrap())]
        .into_iter()
        .collect();
    assert!(not_found_page(&Method::GET, &uri("/nowhere"), &refused).is_none());
}

#[test]
fn the_embedded_build_is_complete() {
    let files = files();
    assert!(files.contains(&"index.html".to_string()), "{files:?}");
    for a in linked_assets() {
        let rel = format!("assets/{}", a.trim_start_matches(ASSETS_PATH));
        assert!(
            files.contains(&rel),
            "index.html links {a}, which is not embedded"
        );
    }
}
