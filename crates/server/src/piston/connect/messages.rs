//! Piston's connect messages: the client's read ([`Input`]), the server's
//! written (`data`, `exit`, `error`, close frames), and the UTF-8 text of
//! output cut into chunks.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use serde_json::{json, Value};

use super::{INVALID_SIGNAL, NOTIFIED_ERROR, ONLY_STDIN};
use crate::ws::SEND_STALL;

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

pub(super) type Sink = SplitSink<WebSocket, Message>;

pub(super) fn text(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

pub(super) fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

pub(super) async fn send(sink: &mut Sink, m: Message) -> bool {
    matches!(
        tokio::time::timeout(SEND_STALL, sink.send(m)).await,
        Ok(Ok(()))
    )
}

/// Before a run: sends `messages` then the close frame.
pub(super) async fn refuse(
    mut sink: Sink,
    messages: Vec<Message>,
    code: u16,
    reason: &'static str,
) {
    for m in messages {
        if !send(&mut sink, m).await {
            return;
        }
    }
    let _ = send(&mut sink, close_frame(code, reason)).await;
}

pub(super) fn error_and_close(message: &str) -> (Vec<Message>, u16, &'static str) {
    (
        vec![text(json!({"type": "error", "message": message}))],
        NOTIFIED_ERROR,
        "Notified Error",
    )
}

/// One client message, read.
pub(super) enum Input {
    Init,
    Stdin(String),
    Signal,
    Other(&'static str, u16),
}

pub(super) fn read_input(t: &str) -> Input {
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

pub(super) fn data_message(stream: &str, data: String) -> Message {
    text(json!({"type": "data", "stream": stream, "data": data}))
}

pub(super) fn exit_message(
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

/// Text of a byte stream cut into chunks: a UTF-8 sequence cut by a chunk
/// boundary waits in `carry` for its end; invalid bytes become U+FFFD.
pub(super) fn utf8_take(carry: &mut Vec<u8>, data: &[u8]) -> String {
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
