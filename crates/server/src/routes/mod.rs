//! The HTTP router: the `/api/v1` routes behind the API-key middleware, the
//! open `/health`, `/metrics` and `/openapi.json`, the web console's pages
//! and assets (`/`, `/console/…`: the `kiln-console` crate), and JSON answers
//! for unknown paths and methods (a browser asking for a page gets the
//! console's instead). Every route is timed by [`crate::metrics::track_http`].

mod submission_list;
pub(crate) mod submissions;
mod system;
mod workspaces;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::app::AppState;
use crate::error::ApiError;

/// Every route with its methods, as the OpenAPI document must list them.
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/api/v1/submissions", &["post"]),
    ("/api/v1/submissions/batch", &["get", "post"]),
    ("/api/v1/submissions/{id}", &["get"]),
    ("/api/v1/languages", &["get"]),
    ("/api/v1/run/ws", &["get"]),
    ("/api/v1/templates", &["get"]),
    ("/api/v1/workspaces", &["get", "post"]),
    ("/api/v1/workspaces/{id}", &["get", "delete"]),
    ("/api/v1/workspaces/{id}/start", &["post"]),
    ("/api/v1/workspaces/{id}/stop", &["post"]),
    ("/api/v1/workspaces/{id}/exec", &["post"]),
    ("/api/v1/workspaces/{id}/files", &["get", "put", "delete"]),
    ("/api/v1/workspaces/{id}/files/list", &["get"]),
    ("/api/v1/workspaces/{id}/files/rename", &["post"]),
    ("/api/v1/workspaces/{id}/files/mkdir", &["post"]),
    ("/api/v1/workspaces/{id}/files/archive", &["get", "put"]),
    ("/api/v1/workspaces/{id}/pty", &["get"]),
    ("/health", &["get"]),
    ("/health/live", &["get"]),
    ("/metrics", &["get"]),
    ("/openapi.json", &["get"]),
];

pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route(
            "/api/v1/submissions",
            post(submissions::create).get(submission_list::list),
        )
        .route(
            "/api/v1/submissions/batch",
            post(submissions::create_batch).get(submissions::get_batch),
        )
        .route("/api/v1/submissions/{id}", get(submissions::get_one))
        .route("/api/v1/languages", get(system::languages))
        .route("/api/v1/run/ws", get(crate::ws::upgrade))
        .route("/api/v1/templates", get(workspaces::templates))
        .route(
            "/api/v1/workspaces",
            post(workspaces::create).get(workspaces::list),
        )
        .route(
            "/api/v1/workspaces/{id}",
            get(workspaces::get_one).delete(workspaces::delete),
        )
        .route("/api/v1/workspaces/{id}/start", post(workspaces::start))
        .route("/api/v1/workspaces/{id}/stop", post(workspaces::stop))
        .route("/api/v1/workspaces/{id}/exec", post(workspaces::exec))
        .route(
            "/api/v1/workspaces/{id}/files",
            get(workspaces::get_file)
                .put(workspaces::put_file)
                .delete(workspaces::files::remove),
        )
        .route(
            "/api/v1/workspaces/{id}/files/list",
            get(workspaces::files::list_dir),
        )
        .route(
            "/api/v1/workspaces/{id}/files/rename",
            post(workspaces::files::rename),
        )
        .route(
            "/api/v1/workspaces/{id}/files/mkdir",
            post(workspaces::files::mkdir),
        )
        .route(
            "/api/v1/workspaces/{id}/files/archive",
            get(workspaces::files::get_archive).put(workspaces::files::put_archive),
        )
        .route("/api/v1/workspaces/{id}/pty", get(workspaces::pty))
        .route_layer(from_fn_with_state(state.clone(), crate::auth::require_key));
    let router = Router::new()
        .route("/openapi.json", get(system::openapi))
        .merge(ops_routes())
        .merge(api)
        .merge(crate::piston::router(state.clone()))
        .merge(crate::judge0::router(state.clone()))
        .merge(kiln_console::router())
        .fallback(not_found_or_page)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.api.max_body_bytes));
    let allowed = Arc::new(state.config.api.cors_origins.clone());
    let router = router.layer(from_fn(move |req, next| {
        crate::browser::check_ws_origin(allowed.clone(), req, next)
    }));
    let router = match crate::browser::cors(&state.config.api.cors_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router
        .layer(from_fn(crate::metrics::track_http))
        .with_state(state)
}

/// `/health`, `/health/live` and `/metrics`: what every node serves.
fn ops_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/health", get(system::health))
        .route("/health/live", get(system::live))
        .route("/metrics", get(system::metrics))
}

/// The router of `kiln worker`: only the operational routes, no public API.
pub fn ops_router(state: Arc<AppState>) -> Router {
    ops_routes()
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn(crate::metrics::track_http))
        .with_state(state)
}

fn no_route() -> ApiError {
    ApiError::not_found("no such route; see /openapi.json for the API")
}

async fn not_found() -> ApiError {
    no_route()
}

/// The JSON 404, or the console's page for a browser asking for one.
async fn not_found_or_page(req: Request) -> Response {
    kiln_console::not_found_page(req.method(), req.uri(), req.headers())
        .unwrap_or_else(|| no_route().into_response())
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see /openapi.json",
    )
}
