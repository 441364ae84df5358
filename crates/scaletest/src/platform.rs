//! The platform under test: one trait, two implementations ([`crate::kiln`],
//! [`crate::coder`]). The runners only speak this trait.

use async_trait::async_trait;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;

use crate::error::PlatformError;
use crate::http::Http;

/// Every workspace the tool creates has a name starting with this; cleanup
/// removes every workspace of the caller that has it.
pub const NAME_PREFIX: &str = "scaletest-";

/// A workspace the tool knows about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceRef {
    pub id: String,
    pub name: String,
    /// Coder: the build being followed (create or delete build).
    pub build_id: Option<String>,
}

/// Where a build is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildState {
    /// Still going; the text says where (`job pending`, `agent connecting`, …).
    Building(String),
    /// Build finished and every agent ready.
    Ready,
    /// The build failed; the text is the platform's error.
    Failed(String),
}

/// One page a dashboard user views: a label (per-endpoint statistics) and a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub endpoint: &'static str,
    pub path: String,
}

#[async_trait]
pub trait Platform: Send + Sync {
    /// `kiln` or `coder`.
    fn kind(&self) -> &'static str;
    /// The HTTP client (base URL and auth).
    fn http(&self) -> &Http;
    /// Checks the target answers and resolves what later calls need
    /// (Coder: the user, organization and template ids).
    async fn prepare(&self, templates: &[String]) -> Result<(), PlatformError>;
    /// Asks for a workspace; returns once the platform accepted it.
    async fn create(&self, name: &str, template: &str) -> Result<WorkspaceRef, PlatformError>;
    /// Where the build of a created workspace is.
    async fn build_state(&self, ws: &WorkspaceRef) -> Result<BuildState, PlatformError>;
    /// Asks for a workspace's deletion; returns the reference to follow.
    async fn delete(&self, ws: &WorkspaceRef) -> Result<WorkspaceRef, PlatformError>;
    /// Whether a deletion finished (`Err` when it failed).
    async fn deleted(&self, ws: &WorkspaceRef) -> Result<bool, PlatformError>;
    /// The caller's workspaces whose name starts with `prefix`; `running_only`
    /// keeps only ready ones.
    async fn list(
        &self,
        prefix: &str,
        running_only: bool,
    ) -> Result<Vec<WorkspaceRef>, PlatformError>;
    /// The URL of the terminal WebSocket of a running workspace, running `command`.
    async fn pty_url(
        &self,
        ws: &WorkspaceRef,
        reconnect: &str,
        command: &str,
    ) -> Result<String, PlatformError>;
    /// One round of what a dashboard shows, given some workspaces.
    async fn dashboard_pages(&self, workspaces: &[WorkspaceRef]) -> Vec<Page>;
}

/// The workspaces of a list answer (`{"workspaces": [...]}`) whose name
/// starts with `prefix` and that `keep` accepts, as references.
pub fn listed(
    v: &serde_json::Value,
    url: &str,
    prefix: &str,
    to_ref: impl Fn(&serde_json::Value, &str) -> Result<WorkspaceRef, PlatformError>,
    keep: impl Fn(&serde_json::Value) -> bool,
) -> Result<Vec<WorkspaceRef>, PlatformError> {
    let arr = v["workspaces"]
        .as_array()
        .ok_or_else(|| PlatformError::Decode {
            url: url.into(),
            message: "no `workspaces` array".into(),
        })?;
    let mut out = Vec::new();
    for w in arr {
        let r = to_ref(w, url)?;
        if r.name.starts_with(prefix) && keep(w) {
            out.push(r);
        }
    }
    Ok(out)
}

/// The WebSocket handshake request for `url`, with the platform's auth header.
pub fn ws_request(http: &Http, url: &str) -> Result<Request, PlatformError> {
    let mut rq = url
        .into_client_request()
        .map_err(|e| PlatformError::Other(format!("bad PTY URL {url}: {e}")))?;
    if let Some((k, v)) = http.auth() {
        let name = tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| PlatformError::Other(format!("bad header name {k}: {e}")))?;
        let value = v
            .parse()
            .map_err(|e| PlatformError::Other(format!("bad header value for {k}: {e}")))?;
        rq.headers_mut().insert(name, value);
    }
    Ok(rq)
}

/// `http://…` → `ws://…`, `https://…` → `wss://…`.
pub fn ws_base(base: &str) -> String {
    if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        format!("ws://{}", base.trim_start_matches("http://"))
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_base_and_escape() {
        assert_eq!(ws_base("http://127.0.0.1:8080"), "ws://127.0.0.1:8080");
        assert_eq!(
            ws_base("https://coder.example.com"),
            "wss://coder.example.com"
        );
        assert_eq!(query_escape("dd if=/dev/stdin"), "dd%20if%3D%2Fdev%2Fstdin");
    }
}
