//! [`Platform`] for a Coder deployment through its REST API v2 (codersdk):
//! `Coder-Session-Token` auth; create from a template looked up by name
//! (`POST /api/v2/organizations/{org}/members/me/workspaces`); follow the
//! build (`GET /api/v2/workspacebuilds/{id}`: job `pending → running →
//! succeeded | failed | canceled`) until its agents are `connected` with
//! lifecycle `ready`; delete with a `delete` transition build; the agent's
//! reconnecting PTY at `/api/v2/workspaceagents/{id}/pty`.

use std::collections::HashMap;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::{OnceCell, RwLock};

use crate::error::PlatformError;
use crate::http::{str_field, Http};
use crate::platform::{listed, query_escape, ws_base, BuildState, Page, Platform, WorkspaceRef};

/// The environment variables that select Coder mode.
pub const ENV_URL: &str = "CODER_URL";
pub const ENV_TOKEN: &str = "CODER_SESSION_TOKEN";
/// The header Coder reads the session token from.
pub const TOKEN_HEADER: &str = "Coder-Session-Token";

#[derive(Debug, Clone)]
struct Me {
    org: String,
}

pub struct Coder {
    http: Http,
    me: OnceCell<Me>,
    templates: RwLock<HashMap<String, String>>,
}

/// Lifecycle states of an agent that mean its start failed.
const AGENT_FAILED: &[&str] = &[
    "start_error",
    "start_timeout",
    "shutting_down",
    "shutdown_error",
    "shutdown_timeout",
    "off",
];

impl Coder {
    pub fn new(base: &str, token: &str, pool: usize) -> Result<Self, PlatformError> {
        let auth = Some((TOKEN_HEADER.to_string(), token.to_string()));
        Ok(Coder {
            http: Http::new(base, auth, pool)?,
            me: OnceCell::new(),
            templates: RwLock::new(HashMap::new()),
        })
    }

    async fn me(&self) -> Result<&Me, PlatformError> {
        self.me
            .get_or_try_init(|| async {
                let url = self.http.url("/api/v2/users/me");
                let v = self
                    .http
                    .json(Method::GET, "/api/v2/users/me", None, &[200])
                    .await?;
                let org = v["organization_ids"]
                    .get(0)
                    .and_then(Value::as_str)
                    .ok_or_else(|| PlatformError::Decode {
                        url,
                        message: "user has no organization_ids".into(),
                    })?;
                Ok(Me {
                    org: org.to_string(),
                })
            })
            .await
    }

    async fn template_id(&self, name: &str) -> Result<String, PlatformError> {
        if let Some(id) = self.templates.read().await.get(name) {
            return Ok(id.clone());
        }
        let org = self.me().await?.org.clone();
        let path = format!(
            "/api/v2/organizations/{org}/templates/{}",
            query_escape(name)
        );
        let v = self
            .http
            .json(Method::GET, &path, None, &[200])
            .await
            .map_err(|e| match e.status() {
                Some(404) => PlatformError::Other(format!(
                    "template `{name}` not found in organization {org}"
                )),
                _ => e,
            })?;
        let id = str_field(&v, "/id", &self.http.url(&path))?.to_string();
        self.templates
            .write()
            .await
            .insert(name.to_string(), id.clone());
        Ok(id)
    }

    async fn build(&self, build_id: &str) -> Result<Value, PlatformError> {
        self.http
            .json(
                Method::GET,
                &format!("/api/v2/workspacebuilds/{build_id}"),
                None,
                &[200],
            )
            .await
    }

    fn ws_ref(v: &Value, url: &str) -> Result<WorkspaceRef, PlatformError> {
        Ok(WorkspaceRef {
            id: str_field(v, "/id", url)?.into(),
            name: str_field(v, "/name", url)?.into(),
            build_id: v
                .pointer("/latest_build/id")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    fn agents(build: &Value) -> Vec<&Value> {
        build["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["agents"].as_array().into_iter().flatten())
            .collect()
    }
}

/// Judges a WorkspaceBuild: its job, then its agents.
pub fn judge_build(build: &Value) -> BuildState {
    let job = build["job"]["status"].as_str().unwrap_or("?");
    match job {
        "succeeded" => {}
        "failed" | "canceled" | "canceling" => {
            let err = build["job"]["error"]
                .as_str()
                .filter(|s| !s.is_empty())
                .unwrap_or("(no error message)");
            return BuildState::Failed(format!("build job {job}: {err}"));
        }
        other => return BuildState::Building(format!("job {other}")),
    }
    let agents = Coder::agents(build);
    for a in &agents {
        let (status, life) = (
            a["status"].as_str().unwrap_or("?"),
            a["lifecycle_state"].as_str().unwrap_or("?"),
        );
        if AGENT_FAILED.contains(&life) {
            return BuildState::Failed(format!(
                "agent {} lifecycle {life}",
                a["name"].as_str().unwrap_or("?")
            ));
        }
        if status != "connected" || life != "ready" {
            return BuildState::Building(format!(
                "agent {} {status}/{life}",
                a["name"].as_str().unwrap_or("?")
            ));
        }
    }
    BuildState::Ready
}

#[async_trait]
impl Platform for Coder {
    fn kind(&self) -> &'static str {
        "coder"
    }
    fn http(&self) -> &Http {
        &self.http
    }

    async fn prepare(&self, templates: &[String]) -> Result<(), PlatformError> {
        self.me().await?;
        for t in templates {
            self.template_id(t).await?;
        }
        Ok(())
    }

    async fn create(&self, name: &str, template: &str) -> Result<WorkspaceRef, PlatformError> {
        let template_id = self.template_id(template).await?;
        let org = self.me().await?.org.clone();
        let path = format!("/api/v2/organizations/{org}/members/me/workspaces");
        let body = json!({"template_id": template_id, "name": name, "rich_parameter_values": []});
        let v = self
            .http
            .json(Method::POST, &path, Some(&body), &[200, 201])
            .await?;
        let r = Self::ws_ref(&v, &self.http.url(&path))?;
        if r.build_id.is_none() {
            return Err(PlatformError::Decode {
                url: self.http.url(&path),
                message: "workspace has no latest_build.id".into(),
            });
        }
        Ok(r)
    }

    async fn build_state(&self, ws: &WorkspaceRef) -> Result<BuildState, PlatformError> {
        let id = ws.build_id.as_deref().ok_or_else(|| {
            PlatformError::Other(format!("workspace {} has no build to follow", ws.name))
        })?;
        Ok(judge_build(&self.build(id).await?))
    }

    async fn delete(&self, ws: &WorkspaceRef) -> Result<WorkspaceRef, PlatformError> {
        let path = format!("/api/v2/workspaces/{}/builds", ws.id);
        match self
            .http
            .json(
                Method::POST,
                &path,
                Some(&json!({"transition": "delete"})),
                &[200, 201],
            )
            .await
        {
            Ok(b) => Ok(WorkspaceRef {
                build_id: Some(str_field(&b, "/id", &self.http.url(&path))?.into()),
                ..ws.clone()
            }),
            Err(e) if matches!(e.status(), Some(404 | 410)) => Ok(WorkspaceRef {
                build_id: None,
                ..ws.clone()
            }),
            Err(e) => Err(e),
        }
    }

    async fn deleted(&self, ws: &WorkspaceRef) -> Result<bool, PlatformError> {
        let Some(id) = ws.build_id.as_deref() else {
            return Ok(true);
        };
        let b = self.build(id).await?;
        match b["job"]["status"].as_str() {
            Some("succeeded") => Ok(true),
            Some(s @ ("failed" | "canceled")) => Err(PlatformError::Other(format!(
                "delete build {s}: {}",
                b["job"]["error"].as_str().unwrap_or("(no error message)")
            ))),
            _ => Ok(false),
        }
    }

    async fn list(
        &self,
        prefix: &str,
        running_only: bool,
    ) -> Result<Vec<WorkspaceRef>, PlatformError> {
        let path = format!(
            "/api/v2/workspaces?q={}",
            query_escape(&format!("owner:me name:{prefix}"))
        );
        let url = self.http.url(&path);
        let v = self.http.json(Method::GET, &path, None, &[200]).await?;
        listed(&v, &url, prefix, Self::ws_ref, |w| {
            let b = &w["latest_build"];
            let deleted = b["transition"] == "delete" && b["job"]["status"] == "succeeded";
            let ready = b["transition"] == "start" && judge_build(b) == BuildState::Ready;
            !deleted && (!running_only || ready)
        })
    }

    async fn pty_url(
        &self,
        ws: &WorkspaceRef,
        reconnect: &str,
        command: &str,
    ) -> Result<String, PlatformError> {
        let path = format!("/api/v2/workspaces/{}", ws.id);
        let v = self.http.json(Method::GET, &path, None, &[200]).await?;
        let agent = Self::agents(&v["latest_build"])
            .first()
            .and_then(|a| a["id"].as_str())
            .map(str::to_owned)
            .ok_or_else(|| PlatformError::Decode {
                url: self.http.url(&path),
                message: "workspace has no agent".into(),
            })?;
        Ok(format!(
            "{}/api/v2/workspaceagents/{agent}/pty?reconnect={reconnect}&width=80&height=25&command={}",
            ws_base(&self.http.base),
            query_escape(command)
        ))
    }

    async fn dashboard_pages(&self, workspaces: &[WorkspaceRef]) -> Vec<Page> {
        let mut pages = vec![
            Page {
                endpoint: "users_me",
                path: "/api/v2/users/me".into(),
            },
            Page {
                endpoint: "list_workspaces",
                path: format!("/api/v2/workspaces?q={}", query_escape("owner:me")),
            },
            Page {
                endpoint: "buildinfo",
                path: "/api/v2/buildinfo".into(),
            },
        ];
        if let Ok(me) = self.me().await {
            pages.push(Page {
                endpoint: "templates",
                path: format!("/api/v2/organizations/{}/templates", me.org),
            });
        }
        if let Some(w) = workspaces.first() {
            pages.push(Page {
                endpoint: "workspace_details",
                path: format!("/api/v2/workspaces/{}", w.id),
            });
            if let Some(b) = &w.build_id {
                pages.push(Page {
                    endpoint: "workspace_build",
                    path: format!("/api/v2/workspacebuilds/{b}"),
                });
            }
        }
        pages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(job: &str, agents: Value) -> Value {
        json!({"job": {"status": job, "error": "terraform apply: boom"}, "resources": [{"agents": agents}]})
    }

    #[test]
    fn judges_job_then_agents() {
        assert!(matches!(
            judge_build(&build("pending", json!([]))),
            BuildState::Building(_)
        ));
        assert!(matches!(
            judge_build(&build("running", json!([]))),
            BuildState::Building(_)
        ));
        match judge_build(&build("failed", json!([]))) {
            BuildState::Failed(m) => assert!(m.contains("boom"), "{m}"),
            s => panic!("{s:?}"),
        }
        assert!(matches!(
            judge_build(&build("canceled", json!([]))),
            BuildState::Failed(_)
        ));
        let connecting =
            json!([{"name": "main", "status": "connecting", "lifecycle_state": "created"}]);
        assert!(matches!(
            judge_build(&build("succeeded", connecting)),
            BuildState::Building(_)
        ));
        let starting =
            json!([{"name": "main", "status": "connected", "lifecycle_state": "starting"}]);
        assert!(matches!(
            judge_build(&build("succeeded", starting)),
            BuildState::Building(_)
        ));
        let ready = json!([{"name": "main", "status": "connected", "lifecycle_state": "ready"}]);
        assert_eq!(judge_build(&build("succeeded", ready)), BuildState::Ready);
        let broken =
            json!([{"name": "main", "status": "connected", "lifecycle_state": "start_error"}]);
        assert!(matches!(
            judge_build(&build("succeeded", broken)),
            BuildState::Failed(_)
        ));
        assert_eq!(
            judge_build(&build("succeeded", json!([]))),
            BuildState::Ready
        );
    }
}
