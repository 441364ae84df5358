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

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use kiln_engine::Status;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::model::{ExecuteRequest, PistonError};
use crate::app::AppState;
use crate::executor::OutputChunk;
use crate::ws::{PING_PERIOD, SEND_STALL, STDIN_CHUNK, STDIN_CHUNKS, STREAM_CHUNKS};

/// How long the `init` message may take (Piston's 1 s).
pub const INIT_TIMEOUT: Duration = Duration::from_secs(1);

pub const ALREADY_INITIALIZED: u16 = 4000;
pub const INIT_TIMED_OUT: u16 = 4001;
pub const NOTIFIED_ERROR: u16 = 4002;
pub const NOT_INITIALIZED: u16 = 4003;
pub const ONLY_STDIN: u16 = 4004;
pub const INVALID_SIGNAL: u16 = 4005;
pub const JOB_COMPLETED: u16 = 4999;

/// Piston's `globals.SIGNALS`.
const SIGNALS: &[&str] = &[
    "SIGABRT",
    "SIGALRM",
    "SIGBUS",
    "SIGCHLD",
    "SIGCLD",
    "SIGCONT",
    "SIGEMT",
    "SIGFPE",
    "SIGHUP",
    "SIGILL",
    "SIGINFO",
    "SIGINT",
    "SIGIO",
    "SIGIOT",
    "SIGKILL",
    "SIGLOST",
    "SIGPIPE",
    "SIGPOLL",
    "SIGPROF",
    "SIGPWR",
    "SIGQUIT",
    "SIGSEGV",
    "SIGSTKFLT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGSYS",
    "SIGTERM",
    "SIGTRAP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGUNUSED",
    "SIGURG",
    "SIGUSR1",
    "SIGUSR2",
    "SIGVTALRM",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGWINCH",
];

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

type Sink = SplitSink<WebSocket, Message>;

fn text(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

async fn send(sink: &mut Sink, m: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_STALL, sink.send(m)).await,
        Ok(Ok(()))
    )
}

/// Before a run: sends `messages` then the close frame.
async fn refuse(mut sink: Sink, messages: Vec<Message>, code: u16, reason: &'static str) {
    for m in messages {
        if !send(&mut sink, m).await {
            return;
        }
    }
    let _ = send(&mut sink, close_frame(code, reason)).await;
}

fn error_and_close(message: &str) -> (Vec<Message>, u16, &'static str) {
    (
        vec![text(json!({"type": "error", "message": message}))],
        NOTIFIED_ERROR,
        "Notified Error",
    )
}

/// What the connection's loop hands the writer besides the output.
enum ToClient {
    Message(Message),
    /// The client asked for a signal: stop taking output, which kills the run.
    Kill,
    /// A protocol error: stop the run and close with this code.
    Close(u16, &'static str),
    /// The run is over: the rest of its output, then these, then close 4999.
    End(End),
}

/// The end of a run as the writer reports it.
struct End {
    /// The compile step failed: its output and exit code.
    compile_failed: Option<(String, Option<i32>)>,
    code: Option<i32>,
    signal: Option<String>,
    error: Option<String>,
}

/// One client message, read.
enum Input {
    Init,
    Stdin(String),
    Signal,
    Other(&'static str, u16),
}

fn read_input(t: &str) -> Input {
    let Ok(v) = serde_json::from_str::<Value>(t) else {
        return Input::Other("Notified Error", NOTIFIED_ERROR);
    };
    match v.get("type").and_then(Value::as_str) {
        Some("init") => Input::Init,
        Some("data") => {
            if v.get("stream").and_then(Value::as_str) != Some("stdin") {
                return Input::Other("Can only write to stdin", ONLY_STDIN);
            }
            Input::Stdin(
                v.get("data")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            )
        }
        Some("signal") => {
            let s = v.get("signal").and_then(Value::as_str).unwrap_or("");
            if SIGNALS.contains(&s) {
                Input::Signal
            } else {
                Input::Other("Invalid signal", INVALID_SIGNAL)
            }
        }
        _ => Input::Other("Notified Error", NOTIFIED_ERROR),
    }
}

async fn run(app: Arc<AppState>, socket: WebSocket) {
    let (sink, mut rx) = socket.split();
    let first = match tokio::time::timeout(INIT_TIMEOUT, rx.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => t,
        Ok(Some(Ok(_))) => {
            return refuse(sink, vec![], NOT_INITIALIZED, "Not yet Initialized").await
        }
        Ok(_) => return,
        Err(_) => return refuse(sink, vec![], INIT_TIMED_OUT, "Initialization Timeout").await,
    };
    let init: Value = match serde_json::from_str(&first) {
        Ok(v) => v,
        Err(e) => {
            let (m, c, r) = error_and_close(&format!("the first message must be JSON: {e}"));
            return refuse(sink, m, c, r).await;
        }
    };
    if init.get("type").and_then(Value::as_str) != Some("init") {
        return refuse(sink, vec![], NOT_INITIALIZED, "Not yet Initialized").await;
    }
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

    let mut stdin_tx = Some(stdin_tx);
    let mut pending: Option<Bytes> = None;
    let mut killed = false;
    let mut ping = tokio::time::interval(PING_PERIOD);
    let mut writer_done = false;
    let done = loop {
        let deliver = pending.as_ref().and(stdin_tx.clone());
        let delivering = deliver.is_some();
        tokio::select! {
            done = &mut exec => break Some(done),
            _ = &mut writer => {
                writer_done = true;
                break None;
            }
            permit = async move { deliver.expect("guarded").reserve_owned().await }, if delivering => match permit {
                Ok(permit) => {
                    let p = pending.as_mut().expect("guarded");
                    drop(permit.send(p.split_to(p.len().min(STDIN_CHUNK))));
                    if p.is_empty() {
                        pending = None;
                    }
                }
                Err(_) => {
                    pending = None;
                    stdin_tx = None;
                }
            },
            _ = ping.tick(), if pending.is_some() => {
                let _ = ctl_tx.try_send(ToClient::Message(Message::Ping(Bytes::new())));
            },
            msg = rx.next(), if pending.is_none() => match msg {
                Some(Ok(Message::Text(t))) => match read_input(&t) {
                    Input::Stdin(data) => {
                        if !data.is_empty() && stdin_tx.is_some() {
                            pending = Some(Bytes::from(data));
                        }
                    }
                    Input::Signal => {
                        if !killed {
                            killed = true;
                            stdin_tx = None;
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
    drop(stdin_tx);
    match done {
        Some(report) => {
            drop(slot);
            let end = match report {
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
                    let (_, stage) = super::mapping::stages(r, false);
                    End {
                        compile_failed: None,
                        code: stage.code,
                        signal: stage.signal,
                        error: (stage.status.as_deref() == Some("XX"))
                            .then_some(stage.message)
                            .flatten(),
                    }
                }
            };
            if ctl_tx.send(ToClient::End(end)).await.is_ok() {
                // Bounded: each message the writer sends has a deadline.
                let _ = writer.await;
            }
        }
        None => {
            crate::ws::stop_abandoned_run(writer, writer_done, exec, "a Piston interactive run")
                .await;
            drop(slot);
        }
    }
}

/// The only task that writes to the socket (see [`crate::ws`]'s writer).
async fn write_loop(
    mut sink: Sink,
    out: mpsc::Receiver<OutputChunk>,
    mut ctl: mpsc::Receiver<ToClient>,
    compiled: bool,
) {
    let mut out = Some(out);
    let mut carry = [Vec::new(), Vec::new()];
    // The compile stage is open until the run's first output (or the end).
    let mut in_compile = compiled;
    loop {
        let ms = tokio::select! {
            c = async { out.as_mut().expect("guarded").recv().await }, if out.is_some() => match c {
                Some(c) => output_messages(c, &mut carry, &mut in_compile),
                None => {
                    out = None;
                    continue;
                }
            },
            m = ctl.recv() => match m {
                Some(ToClient::Message(m)) => vec![m],
                // Dropping the receiver makes the engine stop the run and kill its box.
                Some(ToClient::Kill) => {
                    out = None;
                    continue;
                }
                Some(ToClient::Close(code, reason)) => {
                    drop(out.take());
                    let _ = send(&mut sink, close_frame(code, reason)).await;
                    return;
                }
                Some(ToClient::End(end)) => {
                    let mut ms = Vec::new();
                    if let Some(mut rx) = out.take() {
                        while let Some(c) = rx.recv().await {
                            ms.extend(output_messages(c, &mut carry, &mut in_compile));
                        }
                    }
                    for (i, c) in carry.iter_mut().enumerate() {
                        if !c.is_empty() {
                            let rest = String::from_utf8_lossy(&std::mem::take(c)).into_owned();
                            ms.push(data_message(if i == 0 { "stdout" } else { "stderr" }, rest));
                        }
                    }
                    ms.extend(end_messages(end, &mut in_compile));
                    for m in ms {
                        if !send(&mut sink, m).await {
                            return;
                        }
                    }
                    let _ = send(&mut sink, close_frame(JOB_COMPLETED, "Job Completed")).await;
                    return;
                }
                None => return,
            },
        };
        for m in ms {
            if !send(&mut sink, m).await {
                return;
            }
        }
    }
}

fn data_message(stream: &str, data: String) -> Message {
    text(json!({"type": "data", "stream": stream, "data": data}))
}

fn exit_message(
    stage: &str,
    code: Option<i32>,
    signal: Option<String>,
    error: Option<String>,
) -> Message {
    let mut m = json!({"type": "exit", "stage": stage, "code": code, "signal": signal});
    if let Some(e) = error {
        m["error"] = json!(e);
    }
    text(m)
}

/// The compile stage ends (successfully) and the run stage begins.
fn to_run_stage(in_compile: &mut bool) -> Vec<Message> {
    if !*in_compile {
        return Vec::new();
    }
    *in_compile = false;
    vec![
        exit_message("compile", Some(0), None, None),
        text(json!({"type": "stage", "stage": "run"})),
    ]
}

fn output_messages(
    chunk: OutputChunk,
    carry: &mut [Vec<u8>; 2],
    in_compile: &mut bool,
) -> Vec<Message> {
    let mut ms = to_run_stage(in_compile);
    let (stream, i, data) = match chunk {
        OutputChunk::Stdout(b) => ("stdout", 0, b),
        OutputChunk::Stderr(b) => ("stderr", 1, b),
    };
    let s = utf8_take(&mut carry[i], &data);
    if !s.is_empty() {
        ms.push(data_message(stream, s));
    }
    ms
}

fn end_messages(end: End, in_compile: &mut bool) -> Vec<Message> {
    if let Some((output, code)) = end.compile_failed {
        let mut ms = Vec::new();
        if !output.is_empty() {
            ms.push(data_message("stderr", output));
        }
        ms.push(exit_message("compile", code, None, None));
        return ms;
    }
    let mut ms = to_run_stage(in_compile);
    ms.push(exit_message("run", end.code, end.signal, end.error));
    ms
}

/// Text of a byte stream cut into chunks: a UTF-8 sequence cut by a chunk
/// boundary waits in `carry` for its end; invalid bytes become U+FFFD.
fn utf8_take(carry: &mut Vec<u8>, data: &[u8]) -> String {
    carry.extend_from_slice(data);
    let mut rest: &[u8] = carry;
    let mut keep = 0;
    while let Err(e) = std::str::from_utf8(rest) {
        match e.error_len() {
            Some(n) => rest = &rest[e.valid_up_to() + n..],
            None => {
                keep = rest.len() - e.valid_up_to();
                break;
            }
        }
    }
    let tail = carry.split_off(carry.len() - keep);
    let s = String::from_utf8_lossy(carry).into_owned();
    *carry = tail;
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_cut_by_a_chunk_boundary_stays_whole() {
        let s = "é€😀".as_bytes();
        for cut in 0..=s.len() {
            let mut c = Vec::new();
            let mut out = utf8_take(&mut c, &s[..cut]);
            out += &utf8_take(&mut c, &s[cut..]);
            assert!(c.is_empty());
            assert_eq!(out, "é€😀", "cut at {cut}");
        }
        let mut c = Vec::new();
        assert_eq!(utf8_take(&mut c, b"a\xff\xe2\x82"), "a\u{fffd}");
        assert_eq!(c, b"\xe2\x82");
    }

    #[test]
    fn client_messages() {
        assert!(matches!(
            read_input(r#"{"type":"data","stream":"stdout","data":"x"}"#),
            Input::Other(_, ONLY_STDIN)
        ));
        assert!(matches!(
            read_input(r#"{"type":"signal","signal":"SIGNOPE"}"#),
            Input::Other(_, INVALID_SIGNAL)
        ));
        assert!(matches!(
            read_input(r#"{"type":"signal","signal":"SIGTERM"}"#),
            Input::Signal
        ));
        assert!(matches!(read_input(r#"{"type":"init"}"#), Input::Init));
    }
}
