//! `GET /api/v1/run/ws[?encoding=base64]`: one interactive run over a WebSocket.
//!
//! Client → server: first the submission JSON (as for `POST /api/v1/submissions`,
//! `callback_url` excepted), then `{"stdin": "…"}` messages and optionally
//! `{"eof": true}`. Server → client: `{"type":"stdout","data":…}` and
//! `{"type":"stderr","data":…}` as produced, then `{"type":"result", …}` with
//! the result fields (as `GET /api/v1/submissions/{id}` has them), then close.
//! With `encoding=base64` the `data` of output messages and the result's
//! output fields are base64 of the exact bytes. A bad first message gets
//! `{"type":"error","error":{code,message}}`. Interactive runs bypass the
//! queue but are bounded by a semaphore of one permit per worker; when none
//! is free the client gets a `busy` error.
//!
//! Bounds, whatever the client does (docs/api.md, "Interactive run"):
//! - Limits: the run's CPU and wall-clock limits are enforced by the
//!   sandbox's watcher, which waits on nothing of this connection.
//! - Output goes out through bounded buffers: [`STREAM_CHUNKS`] chunks of at
//!   most 64 KiB between the engine and the writer task, one message being
//!   written. A client that reads slower than the program writes slows the
//!   program down (it blocks on its full pipe). A client that takes no
//!   message for [`SEND_STALL`] is treated as gone.
//! - Stdin: at most [`STDIN_CHUNKS`] × 64 KiB wait for the program, plus the
//!   rest of the message being delivered. While that is full, nothing more is
//!   read from the socket (TCP pushes back on the client), and the client is
//!   pinged every [`PING_PERIOD`] so that one that left is still noticed.
//!   Input never blocks output or the limits.
//! - A client that goes away (close, error, a write that fails or stalls)
//!   stops the run: its box is killed and the slot is free within a second.
//!
//! Module map: this file, the bounds, [`upgrade`], the first message and the
//! connection's loop; [`writer`], the only task that writes to the socket;
//! [`stdin`], the client's input on its way to the run (shared with Piston's
//! connect).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use kiln_engine::{Report, Submission};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinHandle};

pub(crate) mod stdin;
mod writer;

use crate::app::AppState;
use crate::error::{ApiError, Query};
use crate::executor::OutputChunk;
use crate::model::{Encoding, ReportView, SubmissionRequest, Validator};
use stdin::StdinFeed;
use writer::{write_loop, ToClient};

pub use crate::executor::STREAM_CHUNKS;

/// Stdin chunks (of at most [`STDIN_CHUNK`] bytes) waiting for the program.
pub const STDIN_CHUNKS: usize = 16;
pub const STDIN_CHUNK: usize = 64 * 1024;
/// A message the client does not take within this long means it is gone.
pub const SEND_STALL: Duration = Duration::from_secs(10);
/// How often a client whose input waits for the program is pinged.
pub const PING_PERIOD: Duration = Duration::from_millis(250);
/// How long the first message (the submission) may take.
pub const FIRST_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a run stopped for a departed client may take to end.
const STOP_DEADLINE: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientInput {
    #[serde(default)]
    stdin: Option<String>,
    #[serde(default)]
    eof: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsQuery {
    #[serde(default)]
    encoding: Encoding,
}

pub async fn upgrade(
    State(app): State<Arc<AppState>>,
    Query(q): Query<WsQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws?;
    Ok(ws
        .max_message_size(app.config.api.max_body_bytes)
        .on_upgrade(move |socket| run(app, socket, q.encoding)))
}

fn error_message(e: &ApiError) -> Message {
    Message::Text(
        json!({ "type": "error", "error": { "code": e.code, "message": e.message } })
            .to_string()
            .into(),
    )
}

type Sink = SplitSink<WebSocket, Message>;

/// Sends one message, giving up after [`SEND_STALL`]; false when the client is gone.
async fn send(sink: &mut Sink, m: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_STALL, sink.send(m)).await,
        Ok(Ok(()))
    )
}

/// Sends an error and closes (before a run started).
async fn refuse(mut sink: Sink, e: &ApiError) {
    if send(&mut sink, error_message(e)).await {
        let _ = tokio::time::timeout(SEND_STALL, sink.close()).await;
    }
}

/// The submission of the first message (as for `POST /api/v1/submissions`,
/// `callback_url` excepted), through the one validator.
fn first_submission(app: &AppState, first: &str) -> Result<Submission, ApiError> {
    serde_json::from_str::<SubmissionRequest>(first)
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
        })
        .map(|v| v.submission)
}

async fn run(app: Arc<AppState>, socket: WebSocket, enc: Encoding) {
    let (sink, mut rx) = socket.split();
    let first = match tokio::time::timeout(FIRST_MESSAGE_TIMEOUT, rx.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => t,
        _ => return,
    };
    let sub = match first_submission(&app, &first) {
        Ok(sub) => sub,
        Err(e) => return refuse(sink, &e).await,
    };
    let Ok(slot) = app.interactive.try_acquire() else {
        let busy =
            ApiError::unavailable("busy", "all interactive slots are in use; retry shortly", 1);
        return refuse(sink, &busy).await;
    };
    let (stdin_tx, stdin_rx) = mpsc::channel::<Bytes>(STDIN_CHUNKS);
    let (out_tx, out_rx) = mpsc::channel::<OutputChunk>(STREAM_CHUNKS);
    let (ctl_tx, ctl_rx) = mpsc::channel::<ToClient>(4);
    let executor = app.executor.clone();
    let mut exec =
        tokio::spawn(async move { executor.execute_streaming(sub, stdin_rx, out_tx).await });
    let mut writer = tokio::spawn(write_loop(sink, out_rx, ctl_rx, enc));

    let (done, writer_done) = pump(&mut rx, &mut exec, &mut writer, stdin_tx, &ctl_tx).await;
    match done {
        Some(report) => {
            drop(slot);
            let report = report.unwrap_or_else(|e| {
                kiln_engine::Report::internal_error(format!("the run failed: {e}"))
            });
            let mut body = serde_json::to_value(ReportView::new(&report, enc)).unwrap_or_default();
            body["type"] = json!("result");
            drop(report);
            if ctl_tx
                .send(ToClient::Result(Message::Text(body.to_string().into())))
                .await
                .is_ok()
            {
                // Bounded: each message the writer sends has a deadline.
                let _ = writer.await;
            }
        }
        None => {
            stop_abandoned_run(writer, writer_done, exec, "an interactive run").await;
            drop(slot);
        }
    }
}

/// The connection's loop: the client's stdin to the run (while a message
/// waits for room, nothing more is read and the client is pinged), its bad
/// messages answered, until the run or the writer ends or the client leaves
/// (`None`; `true` when the writer ended). `stdin_tx` is dropped when it
/// returns.
async fn pump(
    rx: &mut SplitStream<WebSocket>,
    exec: &mut JoinHandle<Report>,
    writer: &mut JoinHandle<()>,
    stdin_tx: mpsc::Sender<Bytes>,
    ctl_tx: &mpsc::Sender<ToClient>,
) -> (Option<Result<Report, JoinError>>, bool) {
    let mut feed = StdinFeed::new(stdin_tx);
    let mut ping = tokio::time::interval(PING_PERIOD);
    let mut writer_done = false;
    let complain = |msg: String| {
        let bad = ApiError::bad_request("invalid_message", msg);
        // A client that does not read its errors does not get them all.
        let _ = ctl_tx.try_send(ToClient::Message(error_message(&bad)));
    };
    let done = loop {
        let room = feed.room();
        let delivering = room.is_some();
        tokio::select! {
            done = &mut *exec => break Some(done),
            _ = &mut *writer => {
                writer_done = true;
                break None;
            }
            room = async move { room.expect("guarded").await }, if delivering => feed.deliver(room),
            _ = ping.tick(), if feed.waiting() => {
                let _ = ctl_tx.try_send(ToClient::Message(Message::Ping(Bytes::new())));
            },
            msg = rx.next(), if !feed.waiting() => match msg {
                Some(Ok(Message::Text(t))) => match serde_json::from_str::<ClientInput>(&t) {
                    Ok(input) => {
                        if feed.push(input.stdin.unwrap_or_default()).is_err() {
                            complain("stdin is closed (after {\"eof\":true}, or the program closed it); this input was dropped".into());
                        }
                        if input.eof {
                            feed.eof();
                        }
                    }
                    Err(e) => complain(format!("expected {{\"stdin\":\"…\"}} or {{\"eof\":true}}: {e}")),
                },
                // The client left: the run is stopped below.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                Some(Ok(_)) => {}
            },
        }
    };
    (done, writer_done)
}

/// Stops a run whose client left: nobody reads the output, so the writer is
/// stopped (dropping its receiver makes the engine stop the run and kill its
/// box), and the run gets [`STOP_DEADLINE`] to end before it is aborted.
/// Shared by every interactive WebSocket (`/api/v1/run/ws`, Piston's
/// `/api/v2/connect`).
pub(crate) async fn stop_abandoned_run<W, R>(
    writer: tokio::task::JoinHandle<W>,
    writer_done: bool,
    mut exec: tokio::task::JoinHandle<R>,
    what: &str,
) {
    if !writer_done {
        writer.abort();
        let _ = writer.await;
    }
    if tokio::time::timeout(STOP_DEADLINE, &mut exec)
        .await
        .is_err()
    {
        tracing::warn!(
            "{what} did not stop within {STOP_DEADLINE:?} of its client leaving; aborting it"
        );
        exec.abort();
    }
}
