//! A Coder deployment replayed from recorded API v2 responses
//! (`tests/fixtures/coder/*.json`, ids replaced per workspace). Each read of
//! a build moves it one step along its template's script:
//!
//! - `pod-swdev`: pending → running → succeeded, agent ready;
//! - `ec2-datasci`: pending → running → succeeded, agent connecting (twice)
//!   → connected/starting → ready (agents that connect late);
//! - `broken`: pending → running → failed (a recorded Terraform error);
//! - `stuck`: pending → running forever (job timeout).
//!
//! Every request must carry `Coder-Session-Token`, else 401.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Request, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::Behaviour;

macro_rules! fixture {
    ($f:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/coder/",
            $f
        ))
    };
}

const USERS_ME: &str = fixture!("users_me.json");
const TEMPLATE: &str = fixture!("template.json");
const BUILDINFO: &str = fixture!("buildinfo.json");
const WORKSPACE: &str = fixture!("workspace.json");
const PENDING: &str = fixture!("build_pending.json");
const RUNNING: &str = fixture!("build_running.json");
const CONNECTING: &str = fixture!("build_succeeded_agent_connecting.json");
const STARTING: &str = fixture!("build_succeeded_agent_starting.json");
const READY: &str = fixture!("build_succeeded_agent_ready.json");
const FAILED: &str = fixture!("build_failed.json");
const DELETE_PENDING: &str = fixture!("build_delete_pending.json");
const DELETE_DONE: &str = fixture!("build_delete_succeeded.json");

fn script(b: Behaviour) -> &'static [&'static str] {
    match b {
        Behaviour::Quick => &[PENDING, RUNNING, READY],
        Behaviour::LateAgent => &[PENDING, RUNNING, CONNECTING, CONNECTING, STARTING, READY],
        Behaviour::Broken => &[PENDING, RUNNING, FAILED],
        Behaviour::Stuck => &[PENDING, RUNNING],
    }
}

#[derive(Debug, Clone)]
struct Ws {
    id: String,
    name: String,
    template: String,
    agent_id: String,
    behaviour: Behaviour,
    /// Build id → (script, step).
    build: String,
    step: usize,
    deleting: bool,
    deleted: bool,
}

/// What happened on the replay server, for assertions.
#[derive(Debug, Default)]
pub struct CoderState {
    pub token: String,
    workspaces: Mutex<BTreeMap<String, Ws>>,
    pub created: Mutex<Vec<String>>,
    pub pty_bytes: Mutex<u64>,
    /// Requests refused for a missing or wrong session token.
    pub unauthorized: Mutex<u64>,
}

impl CoderState {
    /// Names of workspaces not deleted.
    pub fn live(&self) -> Vec<String> {
        self.workspaces
            .lock()
            .unwrap()
            .values()
            .filter(|w| !w.deleted)
            .map(|w| w.name.clone())
            .collect()
    }
    pub fn created_count(&self) -> usize {
        self.created.lock().unwrap().len()
    }
}

pub struct CoderReplay {
    pub url: String,
    pub state: Arc<CoderState>,
}

fn template_id(name: &str) -> String {
    format!(
        "5f1a8c2e-3b0d-4a47-9a11-{:012x}",
        name.bytes()
            .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(b as u64))
            & 0xffff_ffff_ffff
    )
}

fn coder_err(status: StatusCode, message: String) -> Response {
    (status, Json(json!({"message": message, "detail": ""}))).into_response()
}

impl Ws {
    fn fill(&self, text: &str, build_id: &str) -> Value {
        let t = text
            .replace("BUILD_ID", build_id)
            .replace("WORKSPACE_ID", &self.id)
            .replace("WORKSPACE_NAME", &self.name)
            .replace("TEMPLATE_ID", &template_id(&self.template))
            .replace("TEMPLATE_NAME", &self.template)
            .replace("AGENT_ID", &self.agent_id)
            .replace("RESOURCE_ID", &format!("{}-res", self.id))
            .replace("JOB_ID", &format!("{build_id}-job"));
        serde_json::from_str(&t).expect("fixture is JSON")
    }
    /// The current build, without advancing.
    fn build_json(&self) -> Value {
        if self.deleting {
            return self.fill(
                if self.deleted {
                    DELETE_DONE
                } else {
                    DELETE_PENDING
                },
                &self.build,
            );
        }
        let s = script(self.behaviour);
        self.fill(s[self.step.min(s.len() - 1)], &self.build)
    }
    fn json(&self) -> Value {
        let mut w = self.fill(WORKSPACE, &self.build);
        w["latest_build"] = self.build_json();
        w
    }
}

async fn auth(State(s): State<Arc<CoderState>>, rq: Request, next: Next) -> Response {
    let ok = rq
        .headers()
        .get("Coder-Session-Token")
        .is_some_and(|v| v.as_bytes() == s.token.as_bytes());
    if !ok {
        *s.unauthorized.lock().unwrap() += 1;
        return coder_err(
            StatusCode::UNAUTHORIZED,
            "You must be logged in to use this endpoint.".into(),
        );
    }
    next.run(rq).await
}

impl CoderReplay {
    pub async fn start(token: &str) -> std::io::Result<Self> {
        let state = Arc::new(CoderState {
            token: token.into(),
            ..Default::default()
        });
        let app = Router::new()
            .route("/api/v2/users/me", get(|| async { raw(USERS_ME) }))
            .route("/api/v2/buildinfo", get(|| async { raw(BUILDINFO) }))
            .route("/api/v2/organizations/{org}/templates", get(list_templates))
            .route(
                "/api/v2/organizations/{org}/templates/{name}",
                get(template),
            )
            .route(
                "/api/v2/organizations/{org}/members/{user}/workspaces",
                post(create),
            )
            .route("/api/v2/workspaces", get(list))
            .route("/api/v2/workspaces/{id}", get(get_ws))
            .route("/api/v2/workspaces/{id}/builds", post(new_build))
            .route("/api/v2/workspacebuilds/{id}", get(get_build))
            .route("/api/v2/workspaceagents/{id}/pty", get(pty))
            .layer(middleware::from_fn_with_state(state.clone(), auth))
            .with_state(state.clone());
        Ok(CoderReplay {
            url: super::serve(app).await?,
            state,
        })
    }
}

fn raw(text: &'static str) -> Response {
    ([("content-type", "application/json")], text).into_response()
}

fn template_json(name: &str) -> Value {
    let mut t: Value = serde_json::from_str(TEMPLATE).expect("fixture is JSON");
    t["name"] = json!(name);
    t["id"] = json!(template_id(name));
    t
}

async fn list_templates() -> Json<Value> {
    Json(Value::Array(
        Behaviour::TEMPLATES
            .iter()
            .map(|n| template_json(n))
            .collect(),
    ))
}

async fn template(Path((_org, name)): Path<(String, String)>) -> Response {
    match Behaviour::of(&name) {
        Some(_) => Json(template_json(&name)).into_response(),
        None => coder_err(
            StatusCode::NOT_FOUND,
            format!("No template by name \"{name}\" found in organization."),
        ),
    }
}

async fn create(
    State(s): State<Arc<CoderState>>,
    Path((_org, _user)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let name = body["name"].as_str().unwrap_or_default().to_string();
    let tid = body["template_id"].as_str().unwrap_or_default();
    let Some(template) = Behaviour::TEMPLATES.iter().find(|n| template_id(n) == tid) else {
        return coder_err(
            StatusCode::BAD_REQUEST,
            format!("Template {tid} not found."),
        );
    };
    let mut ws = s.workspaces.lock().unwrap();
    if ws.values().any(|w| w.name == name && !w.deleted) {
        return coder_err(
            StatusCode::CONFLICT,
            format!("Workspace \"{name}\" already exists."),
        );
    }
    let w = Ws {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.clone(),
        template: template.to_string(),
        agent_id: uuid::Uuid::new_v4().to_string(),
        behaviour: Behaviour::of(template).expect("known"),
        build: uuid::Uuid::new_v4().to_string(),
        step: 0,
        deleting: false,
        deleted: false,
    };
    let out = w.json();
    ws.insert(w.id.clone(), w);
    s.created.lock().unwrap().push(name);
    (StatusCode::CREATED, Json(out)).into_response()
}

async fn list(State(s): State<Arc<CoderState>>) -> Json<Value> {
    let ws = s.workspaces.lock().unwrap();
    let out: Vec<Value> = ws.values().filter(|w| !w.deleted).map(Ws::json).collect();
    Json(json!({"workspaces": out, "count": out.len()}))
}

async fn get_ws(State(s): State<Arc<CoderState>>, Path(id): Path<String>) -> Response {
    match s.workspaces.lock().unwrap().get(&id) {
        Some(w) if w.deleted => coder_err(StatusCode::GONE, format!("Workspace {id} was deleted.")),
        Some(w) => Json(w.json()).into_response(),
        None => coder_err(
            StatusCode::NOT_FOUND,
            "Resource not found or you do not have access to this resource".into(),
        ),
    }
}

async fn new_build(
    State(s): State<Arc<CoderState>>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if body["transition"] != "delete" {
        return coder_err(
            StatusCode::BAD_REQUEST,
            "the replay server only records delete builds".into(),
        );
    }
    let mut ws = s.workspaces.lock().unwrap();
    let Some(w) = ws.get_mut(&id).filter(|w| !w.deleted) else {
        return coder_err(
            StatusCode::NOT_FOUND,
            "Resource not found or you do not have access to this resource".into(),
        );
    };
    w.deleting = true;
    w.build = uuid::Uuid::new_v4().to_string();
    (StatusCode::CREATED, Json(w.build_json())).into_response()
}

async fn get_build(State(s): State<Arc<CoderState>>, Path(id): Path<String>) -> Response {
    let mut ws = s.workspaces.lock().unwrap();
    let Some(w) = ws.values_mut().find(|w| w.build == id) else {
        return coder_err(
            StatusCode::NOT_FOUND,
            "Resource not found or you do not have access to this resource".into(),
        );
    };
    let out = w.build_json();
    if w.deleting {
        w.deleted = true; // the next read of the delete build says succeeded
    } else {
        w.step += 1;
    }
    Json(out).into_response()
}

async fn pty(
    State(s): State<Arc<CoderState>>,
    Path(agent): Path<String>,
    up: WebSocketUpgrade,
) -> Response {
    let ready =
        s.workspaces.lock().unwrap().values().any(|w| {
            w.agent_id == agent && !w.deleting && w.build_json() == w.fill(READY, &w.build)
        });
    if !ready {
        return coder_err(
            StatusCode::BAD_REQUEST,
            format!("Agent {agent} is not connected."),
        );
    }
    up.on_upgrade(move |socket| async move {
        let n = super::echo_terminal(socket).await;
        *s.pty_bytes.lock().unwrap() += n;
    })
}
