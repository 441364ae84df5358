//! The only task that writes to a connect socket: the run's output as
//! Piston's `data` messages, the stage changes, the end and the close.

use axum::extract::ws::Message;
use serde_json::json;
use tokio::sync::mpsc;

use super::messages::{close_frame, data_message, exit_message, send, text, utf8_take, Sink};
use super::JOB_COMPLETED;
use crate::executor::OutputChunk;

/// What the connection's loop hands the writer besides the output.
pub(super) enum ToClient {
    Message(Message),
    /// The client asked for a signal: stop taking output, which kills the run.
    Kill,
    /// A protocol error: stop the run and close with this code.
    Close(u16, &'static str),
    /// The run is over: the rest of its output, then these, then close 4999.
    End(End),
}

/// The end of a run as the writer reports it.
pub(super) struct End {
    /// The compile step failed: its output and exit code.
    pub(super) compile_failed: Option<(String, Option<i32>)>,
    pub(super) code: Option<i32>,
    pub(super) signal: Option<String>,
    pub(super) error: Option<String>,
}

/// The only task that writes to the socket (see [`crate::ws`]'s writer).
pub(super) async fn write_loop(
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
