//! [`Platform`] for Kiln's workspace API (`/api/v1/workspaces`, see
//! docs/workspaces.md): a workspace is ready when `status == "running"` and
//! `agent.status == "connected"`.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};

use crate::error::PlatformError;
use crate::http::{str_field, Http};
use crate::platform::{listed, query_escape, ws_base, BuildState, Page, Platform, WorkspaceRef};

pub struct Kiln {
    http: Http,
    /// One submission made by `prepare`, for the dashboard's submission pages.
    submission: tokio::sync::OnceCell<Option<String>>,
}

impl Kiln {
    /// `api_key` goes in `Authorization: Bearer KEY`.
    pub fn new(base: &str, api_key: Option<&str>, pool: usize) -> Result<Self, PlatformError> {
        let auth = api_key.map(|k| ("Authorization".to_string(), format!("Bearer {k}")));
        Ok(Kiln {
            http: Http::new(base, auth, pool)?,
            submission: tokio::sync::OnceCell::new(),
        })
    }

    fn ws_ref(v: &Value, url: &str) -> Result<WorkspaceRef, PlatformError> {
        Ok(WorkspaceRef {
            id: str_field(v, "/id", url)?.into(),
            name: str_field(v, "/name", url)?.into(),
            build_id: None,
        })
    }

    fn is_ready(v: &Value) -> bool {
        v["status"] == "running" && v["agent"]["status"] == "connected"
    }

    /// Creates (once) a small submission so the dashboard can view one.
    async fn submission_id(&self) -> Option<String> {
        self.submission
            .get_or_init(|| async {
                let body = json!({"language": "bash", "source": "echo scaletest"});
                let v = self
                    .http
                    .json(
                        Method::POST,
                        "/api/v1/submissions",
                        Some(&body),
                        &[200, 201, 202],
                    )
                    .await
                    .ok()?;
                v["id"].as_str().map(str::to_owned)
            })
            .await
            .clone()
    }
}

#[async_trait]
impl Platform for Kiln {
    fn kind(&self) -> &'static str {
        "kiln"
    }
    fn http(&self) -> &Http {
        &self.http
    }

    async fn prepare(&self, templates: &[String]) -> Result<(), PlatformError> {
        let a = self
            .http
            .send(Method::GET, "/health", None, Duration::from_secs(10))
            .await?;
        if a.status != 200 {
            return Err(PlatformError::Status {
                method: "GET".into(),
                url: self.http.url("/health"),
                status: a.status,
                body: String::new(),
            });
        }
        if templates.is_empty() {
            return Ok(());
        }
        let url = self.http.url("/api/v1/templates");
        let v = self
            .http
            .json(Method::GET, "/api/v1/templates", None, &[200])
            .await?;
        let have: Vec<&str> = v["templates"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| t["name"].as_str()).collect())
            .unwrap_or_default();
        for t in templates {
            if !have.contains(&t.as_str()) {
                return Err(PlatformError::Decode {
                    url,
                    message: format!("template `{t}` does not exist (have: {})", have.join(", ")),
                });
            }
        }
        Ok(())
    }

    async fn create(&self, name: &str, template: &str) -> Result<WorkspaceRef, PlatformError> {
        let body = json!({"name": name, "template": template, "parameters": {}});
        let v = self
            .http
            .json(
                Method::POST,
                "/api/v1/workspaces",
                Some(&body),
                &[200, 201, 202],
            )
            .await?;
        Self::ws_ref(&v, &self.http.url("/api/v1/workspaces"))
    }

    async fn build_state(&self, ws: &WorkspaceRef) -> Result<BuildState, PlatformError> {
        let path = format!("/api/v1/workspaces/{}", ws.id);
        let v = self.http.json(Method::GET, &path, None, &[200]).await?;
        if Self::is_ready(&v) {
            return Ok(BuildState::Ready);
        }
        let status = v["status"].as_str().unwrap_or("?");
        match status {
            "failed" | "deleted" | "deleting" | "stopped" | "stopping" => {
                let err = v["error"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v["error"].to_string());
                Ok(BuildState::Failed(format!(
                    "workspace status {status}: {err}"
                )))
            }
            _ => Ok(BuildState::Building(format!(
                "status {status}, agent {}",
                v["agent"]["status"].as_str().unwrap_or("?")
            ))),
        }
    }

    async fn delete(&self, ws: &WorkspaceRef) -> Result<WorkspaceRef, PlatformError> {
        let path = format!("/api/v1/workspaces/{}", ws.id);
        match self
            .http
            .json(Method::DELETE, &path, None, &[200, 202, 204])
            .await
        {
            Ok(_) => Ok(ws.clone()),
            // 404: already gone; 409: already deleting — follow it either way.
            Err(e) if matches!(e.status(), Some(404 | 409)) => Ok(ws.clone()),
            Err(e) => Err(e),
        }
    }

    async fn deleted(&self, ws: &WorkspaceRef) -> Result<bool, PlatformError> {
        let path = format!("/api/v1/workspaces/{}", ws.id);
        match self.http.json(Method::GET, &path, None, &[200]).await {
            Ok(v) => match v["status"].as_str() {
                Some("deleted") => Ok(true),
                Some("failed") if v["error"].is_string() => Err(PlatformError::Other(format!(
                    "deletion failed: {}",
                    v["error"]
                ))),
                _ => Ok(false),
            },
            Err(e) if e.status() == Some(404) => Ok(true),
            Err(e) => Err(e),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        running_only: bool,
    ) -> Result<Vec<WorkspaceRef>, PlatformError> {
        let mut path = format!("/api/v1/workspaces?name_prefix={}", query_escape(prefix));
        if running_only {
            path.push_str("&status=running");
        }
        let url = self.http.url(&path);
        let v = self.http.json(Method::GET, &path, None, &[200]).await?;
        listed(&v, &url, prefix, Self::ws_ref, |w| {
            w["status"] != "deleted" && (!running_only || Self::is_ready(w))
        })
    }

    async fn pty_url(
        &self,
        ws: &WorkspaceRef,
        reconnect: &str,
        command: &str,
    ) -> Result<String, PlatformError> {
        Ok(format!(
            "{}/api/v1/workspaces/{}/pty?width=80&height=25&reconnect={reconnect}&command={}",
            ws_base(&self.http.base),
            ws.id,
            query_escape(command)
        ))
    }

    async fn dashboard_pages(&self, workspaces: &[WorkspaceRef]) -> Vec<Page> {
        let mut pages = vec![
            Page {
                endpoint: "list_workspaces",
                path: "/api/v1/workspaces".into(),
            },
            Page {
                endpoint: "templates",
                path: "/api/v1/templates".into(),
            },
            Page {
                endpoint: "languages",
                path: "/api/v1/languages".into(),
            },
        ];
        if let Some(w) = workspaces.first() {
            pages.push(Page {
                endpoint: "workspace_details",
                path: format!("/api/v1/workspaces/{}", w.id),
            });
        }
        if let Some(id) = self.submission_id().await {
            pages.push(Page {
                endpoint: "submissions_list",
                path: format!("/api/v1/submissions/batch?ids={id}"),
            });
            pages.push(Page {
                endpoint: "submission_get",
                path: format!("/api/v1/submissions/{id}"),
            });
        }
        pages
    }
}
