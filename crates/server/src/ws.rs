//! `GET /api/v1/run/ws`: one interactive run over a WebSocket.
//!
//! Client → server: first the submission JSON (as for `POST /api/v1/submissions`,
//! `callback_url` excepted), then `{"stdin": "…"}` messages and optionally
//! `{"eof": true}`. Server → client: `{"type":"stdout","data":…}` and
//! `{"type":"stderr","data":…}` as produced, then `{"type":"result", …}` with
//! the report, then close. A bad first message gets `{"type":"error","error":{code,message}}`.
//! Interactive runs bypass the queue but are bounded by a semaphore of one
//! permit per worker; when none is free the client gets a `busy` error.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;

use crate::app::AppState;
use crate::error::ApiError;
use crate::executor::OutputChunk;
use crate::model::{SubmissionRequest, Validator};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientInput {
    #[serde(default)]
    stdin: Option<String>,
    #[serde(default)]
    eof: bool,
}

pub async fn upgrade(
    State(app): State<Arc<AppState>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws?;
    Ok(ws
        .max_message_size(app.config.api.max_body_bytes)
        .on_upgrade(move |socket| run(app, socket)))
}

fn error_message(e: &ApiError) -> Message {
    Message::Text(
        json!({ "type": "error", "error": { "code": e.code, "message": e.message } })
            .to_string()
            .into(),
    )
}

async fn run(app: Arc<AppState>, socket: WebSocket) {
    let (mut tx, mut rx) = socket.split();
    let first = match rx.next().await {
        Some(Ok(Message::Text(t))) => t,
        _ => return,
    };
    let sub = serde_json::from_str::<SubmissionRequest>(&first)
        .map_err(|e| {
            ApiError::bad_request(
                "invalid_body",
                format!("the first message must be the submission JSON: {e}"),
            )
        })
        .and_then(|req| {
            if req.callback_url.is_some() {
                return Err(ApiError::invalid_field(
                    "callback_url",
                    "is not supported on the WebSocket",
                ));
            }
            Validator {
                config: &app.config,
                executor: app.executor.as_ref(),
            }
            .check(req, "")
        });
    let sub = match sub {
        Ok(v) => v.submission,
        Err(e) => {
            let _ = tx.send(error_message(&e)).await;
            let _ = tx.close().await;
            return;
        }
    };
    let Ok(_permit) = app.interactive.try_acquire() else {
        let busy =
            ApiError::unavailable("busy", "all interactive slots are in use; retry shortly", 1);
        let _ = tx.send(error_message(&busy)).await;
        let _ = tx.close().await;
        return;
    };
    let (stdin_tx, stdin_rx) = mpsc::channel::<Bytes>(64);
    let (out_tx, mut out_rx) = mpsc::channel::<OutputChunk>(64);
    let executor = app.executor.clone();
    let mut exec =
        tokio::spawn(async move { executor.execute_streaming(sub, stdin_rx, out_tx).await });
    let mut stdin_tx = Some(stdin_tx);
    let report = loop {
        tokio::select! {
            chunk = out_rx.recv() => if let Some(chunk) = chunk {
                if tx.send(output_message(chunk)).await.is_err() {
                    exec.abort();
                    return;
                }
            },
            msg = rx.next(), if stdin_tx.is_some() => match msg {
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ClientInput>(&t) {
                    Ok(input) => {
                        if let (Some(data), Some(s)) = (input.stdin, &stdin_tx) {
                            let _ = s.send(Bytes::from(data)).await;
                        }
                        if input.eof {
                            stdin_tx = None;
                        }
                    }
                    Err(e) => {
                        let bad = ApiError::bad_request("invalid_message", format!("expected {{\"stdin\":\"…\"}} or {{\"eof\":true}}: {e}"));
                        let _ = tx.send(error_message(&bad)).await;
                    }
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    // The client left: nobody reads the output; stop the run.
                    exec.abort();
                    return;
                }
                Some(Ok(_)) => {}
            },
            done = &mut exec => break done,
        }
    };
    while let Ok(chunk) = out_rx.try_recv() {
        let _ = tx.send(output_message(chunk)).await;
    }
    let report = report
        .unwrap_or_else(|e| kiln_engine::Report::internal_error(format!("the run failed: {e}")));
    let mut body = serde_json::to_value(&report).unwrap_or_default();
    body["type"] = json!("result");
    let _ = tx.send(Message::Text(body.to_string().into())).await;
    let _ = tx.close().await;
}

fn output_message(chunk: OutputChunk) -> Message {
    let (kind, data) = match chunk {
        OutputChunk::Stdout(b) => ("stdout", b),
        OutputChunk::Stderr(b) => ("stderr", b),
    };
    Message::Text(
        json!({ "type": kind, "data": String::from_utf8_lossy(&data) })
            .to_string()
            .into(),
    )
}
