//! `GET /api/v2/connect`: Piston's interactive WebSocket on Kiln's
//! interactive run path (the executor's streaming run, in an interactive
//! slot), with the bounds of `/api/v1/run/ws` (see [`crate::ws`]).
//!
//! Protocol (Piston's `api/src/api/v2.js`): the client sends
//! `{"type":"init", …execute fields…}` within [`INIT_TIMEOUT`]; the server
//! answers `{"type":"runtime","language","version"}` and
//! `{"type":"stage","stage":"compile"|"run"}`; the client writes stdin with
//! `{"type":"data","stream":"stdin","data"}` and may send
//! `{"type":"signal","signal":"SIGKILL"}`; the server sends
//! `{"type":"data","stream":"stdout"|"stderr","data"}` and
//! `{"type":"exit","stage","code","signal"}`, then closes with 4999. Close
//! codes: 4000 already initialized, 4001 initialization timeout, 4002
//! notified error (after `{"type":"error","message"}`), 4003 not yet
//! initialized, 4004 can only write to stdin, 4005 invalid signal.
//!
//! Differences (docs/piston.md): Kiln's engine streams the run's output
//! only; the compile step's output is sent when it failed (as compile-stage
//! `stderr` data before its `exit`), and the run stage begins when the run's
//! first output arrives (or at the end). Any valid signal stops the run
//! (its box is killed): the `exit` says `SIGKILL`.
//!
//! Bounds: output goes out through [`crate::ws::STREAM_CHUNKS`] chunks and
//! one message being written, each send with [`crate::ws::SEND_STALL`];
//! stdin waits in [`crate::ws::STDIN_CHUNKS`] chunks and, while full,
//! nothing more is read from the socket (the client is pinged meanwhile);
//! a client that leaves, stalls or breaks the protocol stops the run.
//!
//! Module map:
//! - this file: the close codes, [`upgrade`], the `init` handshake and the
//!   connection's loop (stdin to the run, signals and protocol errors to
//!   the writer).
//! - [`messages`]: the client's messages read, the server's written, the
//!   UTF-8 text of output cut into chunks.
//! - [`writer`]: the only task that writes to the socket.

mod messages;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::SplitStream;
use futures_util::StreamExt;
use kiln_engine::{Report, Status};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::model::{ExecuteRequest, PistonError};
use crate::app::AppState;
use crate::executor::OutputChunk;
use crate::ws::stdin::StdinFeed;
use crate::ws::{PING_PERIOD, STDIN_CHUNKS, STREAM_CHUNKS};
use messages::{error_and_close, read_input, refuse, send, text, Input};
use writer::{write_loop, End, ToClient};

/// How long the `init` message may take (Piston's 1 s).
pub const INIT_TIMEOUT: Duration = Duration::from_secs(1);

pub const ALREADY_INITIALIZED: u16 = 4000;
pub const INIT_TIMED_OUT: u16 = 4001;
pub const NOTIFIED_ERROR: u16 = 4002;
pub const NOT_INITIALIZED: u16 = 4003;
pub const ONLY_STDIN: u16 = 4004;
pub const INVALID_SIGNAL: u16 = 4005;
pub const JOB_COMPLETED: u16 = 4999;

pub async fn upgrade(
    State(app): State<Arc<AppState>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match ws {
        Ok(ws) => ws
            .max_message_size(app.config.api.max_body_bytes)
            .on_upgrade(move |socket| run(app, socket)),
        Err(r) => PistonError {
            status: r.status(),
            message: format!("{}: open /api/v2/connect as a WebSocket", r.body_text()),
        }
        .into_response(),
    }
}

type Source = SplitStream<WebSocket>;

/// A refusal before a run: messages to send, then a close code and reason.
type Refusal = (Vec<Message>, u16, &'static str);

/// The first message: an `init` within [`INIT_TIMEOUT`]. `Err(None)`: the
/// client left.
async fn read_init(rx: &mut Source) -> Result<Value, Option<Refusal>> {
    let not_initialized = || Some((vec![], NOT_INITIALIZED, "Not yet Initialized"));
    let first = match tokio::time::timeout(INIT_TIMEOUT, rx.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => t,
        Ok(Some(Ok(_))) => return Err(not_initialized()),
        Ok(_) => return Err(None),
        Err(_) => return Err(Some((vec![], INIT_TIMED_OUT, "Initialization Timeout"))),
    };
    let init: Value = match serde_json::from_str(&first) {
        Ok(v) => v,
        Err(e) => {
            return Err(Some(error_and_close(&format!(
                "the first message must be JSON: {e}"
            ))))
        }
    };
    if init.get("type").and_then(Value::as_str) != Some("init") {
        return Err(not_initialized());
    }
    Ok(init)
}

async fn run(app: Arc<AppState>, socket: WebSocket) {
    let (sink, mut rx) = socket.split();
    let init = match read_init(&mut rx).await {
        Ok(v) => v,
        Err(Some((m, c, r))) => return refuse(sink, m, c, r).await,
        Err(None) => return,
    };
    let prepared = ExecuteRequest::parse(&init).and_then(|req| super::prepare(&app, req, false));
    let p = match prepared {
        Ok(p) => p,
        Err(e) => {
            let (m, c, r) = error_and_close(&e.message);
            return refuse(sink, m, c, r).await;
        }
    };
    let Ok(slot) = app.interactive.try_acquire() else {
        let (m, c, r) =
            error_and_close("every run slot of this Kiln server is busy; retry shortly");
        return refuse(sink, m, c, r).await;
    };
    let mut sink = sink;
    let first_stage = if p.compiled { "compile" } else { "run" };
    for m in [
        json!({"type": "runtime", "language": p.language, "version": p.version}),
        json!({"type": "stage", "stage": first_stage}),
    ] {
        if !send(&mut sink, text(m)).await {
            return;
        }
    }

    let (stdin_tx, stdin_rx) = mpsc::channel::<Bytes>(STDIN_CHUNKS);
    let (out_tx, out_rx) = mpsc::channel::<OutputChunk>(STREAM_CHUNKS);
    let (ctl_tx, ctl_rx) = mpsc::channel::<ToClient>(4);
    let executor = app.executor.clone();
    let sub = p.submission;
    let mut exec =
        tokio::spawn(async move { executor.execute_streaming(sub, stdin_rx, out_tx).await });
    let mut writer = tokio::spawn(write_loop(sink, out_rx, ctl_rx, p.compiled));

    let pumped = pump(&mut rx, &mut exec, &mut writer, stdin_tx, &ctl_tx).await;
    match pumped.done {
        Some(report) => {
            drop(slot);
            let end = end_of(report, pumped.killed);
            if ctl_tx.send(ToClient::End(end)).await.is_ok() {
                // Bounded: each message the writer sends has a deadline.
                let _ = writer.await;
            }
        }
        None => {
            crate::ws::stop_abandoned_run(
                writer,
                pumped.writer_done,
                exec,
                "a Piston interactive run",
            )
            .await;
            drop(slot);
        }
    }
}

/// How the connection's loop ended.
struct Pumped {
    /// The run ended (with its report); `None`: the writer or the client did.
    done: Option<Result<Report, tokio::task::JoinError>>,
    writer_done: bool,
    /// The client sent a signal.
    killed: bool,
}

/// The connection's loop: the client's stdin to the run (while a chunk
/// waits for room, nothing more is read and the client is pinged), its
/// signals and protocol errors to the writer, until the run or the writer
/// ends or the client leaves. `stdin_tx` is dropped when it returns.
async fn pump(
    rx: &mut Source,
    exec: &mut JoinHandle<Report>,
    writer: &mut JoinHandle<()>,
    stdin_tx: mpsc::Sender<Bytes>,
    ctl_tx: &mpsc::Sender<ToClient>,
) -> Pumped {
    let mut feed = StdinFeed::new(stdin_tx);
    let mut killed = false;
    let mut ping = tokio::time::interval(PING_PERIOD);
    let mut writer_done = false;
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
                Some(Ok(Message::Text(t))) => match read_input(&t) {
                    // Piston drops input for a closed stdin without a word.
                    Input::Stdin(data) => drop(feed.push(data)),
                    Input::Signal => {
                        if !killed {
                            killed = true;
                            feed.close();
                            let _ = ctl_tx.send(ToClient::Kill).await;
                        }
                    }
                    Input::Init => {
                        let _ = ctl_tx.send(ToClient::Close(ALREADY_INITIALIZED, "Already Initialized")).await;
                    }
                    Input::Other(reason, code) => {
                        let _ = ctl_tx.send(ToClient::Close(code, reason)).await;
                    }
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break None,
                Some(Ok(_)) => {}
            },
        }
    };
    Pumped {
        done,
        writer_done,
        killed,
    }
}

/// The end of a finished run as the writer reports it.
fn end_of(report: Result<Report, tokio::task::JoinError>, killed: bool) -> End {
    match report {
        Err(e) => End {
            compile_failed: None,
            code: None,
            signal: None,
            error: Some(format!("the run failed inside Kiln: {e}")),
        },
        Ok(r) if r.status == Status::CompilationError => End {
            compile_failed: Some((r.compile_output, r.exit_code.or(Some(1)))),
            code: None,
            signal: None,
            error: None,
        },
        Ok(_) if killed => End {
            compile_failed: None,
            code: None,
            signal: Some("SIGKILL".into()),
            error: None,
        },
        Ok(r) => {
            let (_, stage) = crate::piston::mapping::stages(r, false);
            End {
                compile_failed: None,
                code: stage.code,
                signal: stage.signal,
                error: (stage.status.as_deref() == Some("XX"))
                    .then_some(stage.message)
                    .flatten(),
            }
        }
    }
}
