//! An in-memory Kiln workspace API (docs/workspaces.md contract) for tests:
//! templates, workspaces (create, list with `name_prefix`/`status`, get,
//! delete), the terminal WebSocket (echoes input), languages and submissions.
//! A workspace moves one step each time it is read (see [`Behaviour`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::Behaviour;

#[derive(Debug, Clone)]
struct Ws {
    id: String,
    name: String,
    template: String,
    behaviour: Behaviour,
    reads: u32,
    deleting: bool,
}

impl Ws {
    /// `(status, agent status, error)` after `reads` reads.
    fn state(&self) -> (&'static str, &'static str, Value) {
        if self.deleting {
            return ("deleting", "disconnected", Value::Null);
        }
        match (self.behaviour, self.reads) {
            (_, 0..=1) | (Behaviour::Stuck, _) => ("provisioning", "connecting", Value::Null),
            (Behaviour::Broken, _) => (
                "failed",
                "disconnected",
                json!("sandbox: cannot create cgroup: no space left on device"),
            ),
            (Behaviour::LateAgent, 2..=4) => ("running", "connecting", Value::Null),
            _ => ("running", "connected", Value::Null),
        }
    }
    fn json(&self) -> Value {
        let (status, agent, error) = self.state();
        json!({
            "id": self.id, "name": self.name, "template": self.template, "owner": "anonymous", "status": status,
            "parameters": {}, "created_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:00Z",
            "last_used_at": "2026-11-23T10:00:00Z", "error": error,
            "build": {"started_at": "2026-11-23T10:00:00Z", "finished_at": null, "duration_ms": 0, "timings": []},
            "agent": {"status": agent, "ready_at": null}
        })
    }
}

/// What happened on the fake, for assertions.
#[derive(Debug, Default)]
pub struct KilnState {
    workspaces: Mutex<BTreeMap<String, Ws>>,
    /// Every workspace name ever created.
    pub created: Mutex<Vec<String>>,
    /// Input bytes received over terminals.
    pub pty_bytes: Mutex<u64>,
    /// Requests per path pattern.
    pub hits: Mutex<BTreeMap<String, u64>>,
    /// When set, every other create and workspace read answers 429.
    pub throttle: AtomicBool,
    throttle_count: AtomicU64,
}

impl KilnState {
    /// Workspaces that exist now (not deleted).
    pub fn live(&self) -> Vec<String> {
        self.workspaces
            .lock()
            .unwrap()
            .values()
            .map(|w| w.name.clone())
            .collect()
    }
    pub fn created_count(&self) -> usize {
        self.created.lock().unwrap().len()
    }
    fn hit(&self, what: &str) {
        *self.hits.lock().unwrap().entry(what.into()).or_default() += 1;
    }
    /// `Some(429)` on every other call while throttling.
    fn throttled(&self) -> Option<Response> {
        let n = self.throttle_count.fetch_add(1, Ordering::SeqCst);
        (self.throttle.load(Ordering::SeqCst) && n.is_multiple_of(2)).then(|| {
            err(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests for this API key".into(),
            )
        })
    }
}

pub struct FakeKiln {
    pub url: String,
    pub state: Arc<KilnState>,
}

fn err(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

impl FakeKiln {
    pub async fn start() -> std::io::Result<Self> {
        let state = Arc::new(KilnState::default());
        let app = Router::new()
            .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
            .route("/api/v1/templates", get(templates))
            .route(
                "/api/v1/languages",
                get(|State(s): State<Arc<KilnState>>| async move {
                    s.hit("languages");
                    Json(json!({"languages": [{"id": "bash"}, {"id": "python"}]}))
                }),
            )
            .route(
                "/api/v1/submissions",
                post(|State(s): State<Arc<KilnState>>| async move {
                    s.hit("submit");
                    (
                        StatusCode::ACCEPTED,
                        Json(json!({"id": "sub-1", "status": "queued"})),
                    )
                }),
            )
            .route(
                "/api/v1/submissions/batch",
                get(|State(s): State<Arc<KilnState>>| async move {
                    s.hit("submissions_list");
                    Json(json!({"submissions": [{"id": "sub-1", "status": "accepted"}]}))
                }),
            )
            .route(
                "/api/v1/submissions/{id}",
                get(
                    |State(s): State<Arc<KilnState>>, Path(id): Path<String>| async move {
                        s.hit("submission_get");
                        Json(json!({"id": id, "status": "accepted"}))
                    },
                ),
            )
            .route("/api/v1/workspaces", get(list).post(create))
            .route("/api/v1/workspaces/{id}", get(get_one).delete(delete))
            .route("/api/v1/workspaces/{id}/pty", get(pty))
            .with_state(state.clone());
        Ok(FakeKiln {
            url: super::serve(app).await?,
            state,
        })
    }
}

async fn templates(State(s): State<Arc<KilnState>>) -> Json<Value> {
    s.hit("templates");
    let t: Vec<Value> = Behaviour::TEMPLATES
        .iter()
        .map(|n| json!({"name": n, "description": "fake", "cpu": 1.0, "memory_mb": 2048}))
        .collect();
    Json(json!({ "templates": t }))
}

async fn create(State(s): State<Arc<KilnState>>, Json(body): Json<Value>) -> Response {
    s.hit("create");
    if let Some(r) = s.throttled() {
        return r;
    }
    let name = body["name"].as_str().unwrap_or_default().to_string();
    let template = body["template"].as_str().unwrap_or_default().to_string();
    if name.is_empty()
        || name.len() > 63
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return err(
            StatusCode::BAD_REQUEST,
            "invalid_name",
            format!("name `{name}`: 1–63 characters [a-z0-9-]"),
        );
    }
    let Some(behaviour) = Behaviour::of(&template) else {
        return err(
            StatusCode::BAD_REQUEST,
            "unknown_template",
            format!("template `{template}` does not exist"),
        );
    };
    let mut ws = s.workspaces.lock().unwrap();
    if ws.values().any(|w| w.name == name) {
        return err(
            StatusCode::CONFLICT,
            "duplicate_name",
            format!("a workspace named `{name}` exists"),
        );
    }
    let w = Ws {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.clone(),
        template,
        behaviour,
        reads: 0,
        deleting: false,
    };
    let out = w.json();
    ws.insert(w.id.clone(), w);
    s.created.lock().unwrap().push(name);
    (StatusCode::CREATED, Json(out)).into_response()
}

async fn list(
    State(s): State<Arc<KilnState>>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Json<Value> {
    s.hit("list_workspaces");
    let prefix = q.get("name_prefix").cloned().unwrap_or_default();
    let ws = s.workspaces.lock().unwrap();
    let out: Vec<Value> = ws
        .values()
        .filter(|w| w.name.starts_with(&prefix))
        .map(Ws::json)
        .filter(|j| q.get("status").is_none_or(|st| j["status"] == st.as_str()))
        .collect();
    Json(json!({ "workspaces": out }))
}

async fn get_one(State(s): State<Arc<KilnState>>, Path(id): Path<String>) -> Response {
    s.hit("workspace_details");
    if let Some(r) = s.throttled() {
        return r;
    }
    let mut ws = s.workspaces.lock().unwrap();
    let Some(w) = ws.get_mut(&id) else {
        return err(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no workspace {id}"),
        );
    };
    if w.deleting {
        ws.remove(&id);
        return err(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no workspace {id}"),
        );
    }
    w.reads += 1;
    Json(w.json()).into_response()
}

async fn delete(State(s): State<Arc<KilnState>>, Path(id): Path<String>) -> Response {
    s.hit("delete");
    let mut ws = s.workspaces.lock().unwrap();
    let Some(w) = ws.get_mut(&id) else {
        return err(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no workspace {id}"),
        );
    };
    w.deleting = true;
    (StatusCode::ACCEPTED, Json(w.json())).into_response()
}

async fn pty(
    State(s): State<Arc<KilnState>>,
    Path(id): Path<String>,
    Query(q): Query<BTreeMap<String, String>>,
    up: WebSocketUpgrade,
) -> Response {
    s.hit("pty");
    let running = s
        .workspaces
        .lock()
        .unwrap()
        .get(&id)
        .is_some_and(|w| w.state().1 == "connected");
    if !running {
        return err(
            StatusCode::CONFLICT,
            "not_running",
            format!("workspace {id} is not running"),
        );
    }
    if !q.get("command").is_some_and(|c| c.starts_with("dd ")) || !q.contains_key("reconnect") {
        return err(
            StatusCode::BAD_REQUEST,
            "bad_query",
            "expected reconnect and a dd sink command".into(),
        );
    }
    up.on_upgrade(move |socket| async move {
        let n = super::echo_terminal(socket).await;
        *s.pty_bytes.lock().unwrap() += n;
    })
}
