//! A small JSON-over-HTTP client shared by the Kiln and Coder platforms:
//! base URL, one auth header, typed errors naming method, URL and status.

use std::time::Duration;

use reqwest::{Client, Method};
use serde_json::Value;

use crate::error::PlatformError;

/// A base URL plus the auth header every request carries.
#[derive(Clone, Debug)]
pub struct Http {
    client: Client,
    /// `http://host:port` without a trailing slash.
    pub base: String,
    auth: Option<(String, String)>,
}

/// The status, body and time of one request.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self, url: &str) -> Result<Value, PlatformError> {
        serde_json::from_slice(&self.body).map_err(|e| PlatformError::Decode {
            url: url.into(),
            message: format!("not JSON: {e}"),
        })
    }
}

impl Http {
    /// `auth`: header name and value (e.g. `Authorization`, `Bearer KEY`).
    pub fn new(
        base: &str,
        auth: Option<(String, String)>,
        pool: usize,
    ) -> Result<Self, PlatformError> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(PlatformError::Other(format!(
                "target `{base}` must start with http:// or https://"
            )));
        }
        let client = Client::builder()
            .pool_max_idle_per_host(pool.max(1))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| PlatformError::Other(format!("cannot build HTTP client: {e}")))?;
        Ok(Http { client, base, auth })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The auth header, for the WebSocket handshake.
    pub fn auth(&self) -> Option<&(String, String)> {
        self.auth.as_ref()
    }

    /// Sends a request; any status is an answer (the caller judges it).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Answer, PlatformError> {
        let url = self.url(path);
        let mut rq = self.client.request(method.clone(), &url).timeout(timeout);
        if let Some((k, v)) = &self.auth {
            rq = rq.header(k.as_str(), v.as_str());
        }
        if let Some(b) = body {
            rq = rq.json(b);
        }
        let transport = |e: reqwest::Error| PlatformError::Transport {
            method: method.to_string(),
            url: url.clone(),
            message: if e.is_timeout() {
                format!("timed out after {timeout:?}")
            } else {
                format!("{e}")
            },
        };
        let res = rq.send().await.map_err(transport)?;
        let status = res.status().as_u16();
        let body = res.bytes().await.map_err(transport)?.to_vec();
        Ok(Answer { status, body })
    }

    /// Sends a request and wants one of `ok` statuses with a JSON body.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        ok: &[u16],
    ) -> Result<Value, PlatformError> {
        let a = self
            .send(method.clone(), path, body, Duration::from_secs(60))
            .await?;
        if !ok.contains(&a.status) {
            return Err(PlatformError::Status {
                method: method.to_string(),
                url: self.url(path),
                status: a.status,
                body: String::from_utf8_lossy(&a.body).chars().take(300).collect(),
            });
        }
        a.json(&self.url(path))
    }
}

/// A string field of a JSON object, or a decode error naming it.
pub fn str_field<'a>(v: &'a Value, pointer: &str, url: &str) -> Result<&'a str, PlatformError> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| PlatformError::Decode {
            url: url.into(),
            message: format!("missing string field {pointer}"),
        })
}
