//! `GET /api/v1/workspaces/{id}/pty`: the reconnecting terminal, a
//! WebSocket relayed to the workspace's terminal session (output as binary
//! frames, input and resizes as JSON frames).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use futures_util::{SinkExt, StreamExt};
use kiln_workspace::{Attachment, Manager};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{api_error, manager, owner, workspace_id};
use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, Path, Query};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PtyQuery {
    #[serde(default = "default_width")]
    width: u16,
    #[serde(default = "default_height")]
    height: u16,
    reconnect: Option<String>,
    command: Option<String>,
}

fn default_width() -> u16 {
    80
}

fn default_height() -> u16 {
    24
}

/// A client frame: input, a resize, or both (Coder's `ReconnectingPTYRequest`).
#[derive(Debug, Deserialize)]
struct PtyFrame {
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    height: Option<u16>,
    #[serde(default)]
    width: Option<u16>,
}

pub async fn pty(
    State(app): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(q): Query<PtyQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws?;
    let m = manager(&app)?.clone();
    let owner = owner(&caller);
    let id = workspace_id(&id)?;
    let att = m
        .attach_pty(
            &owner,
            id,
            q.reconnect.as_deref(),
            q.height,
            q.width,
            q.command.as_deref(),
        )
        .await
        .map_err(api_error)?;
    Ok(ws
        .max_message_size(app.config.api.max_body_bytes)
        .on_upgrade(move |socket| async move {
            let session = att.session.clone();
            relay(&m, &owner, id, socket, att).await;
            m.detach_pty(&owner, id, &session);
        }))
}

/// Terminal input bytes (in chunks of at most [`crate::ws::STDIN_CHUNK`])
/// waiting for the terminal, per client.
const PTY_INPUT_CHUNKS: usize = 16;
/// How long a resize request to the box may take.
const RESIZE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(1);
/// The close code for a client that fell too far behind the terminal's output.
const CLOSE_TOO_SLOW: u16 = 4000;

/// Aborts tasks of a connection when it ends, however it ends.
struct AbortOnDrop(Vec<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Terminal output to the client as binary frames; its frames to the terminal.
///
/// Bounds (docs/workspaces.md): output reaches the client from the session's
/// broadcast of [`kiln_workspace::LIVE_CHUNKS`] chunks; a client that falls
/// further behind is closed with code 4000 (it reconnects with the same
/// `reconnect` id and gets the replay buffer), and one that takes no message
/// for [`crate::ws::SEND_STALL`] is dropped. Input goes to the terminal
/// through a queue of [`PTY_INPUT_CHUNKS`] chunks written by a task of its
/// own; while it is full (the program does not read its terminal) nothing
/// more is read from the socket and the client is pinged, so one that left is
/// still noticed. Nothing a client does blocks the terminal, its other
/// clients or the workspace.
async fn relay(m: &Manager, owner: &str, id: Uuid, socket: WebSocket, att: Attachment) {
    let (mut tx, mut rx) = socket.split();
    if !att.replay.is_empty() && !ws_send(&mut tx, Message::Binary(att.replay.into())).await {
        return;
    }
    let Some(live) = att.live else {
        let _ = ws_send(&mut tx, Message::Close(None)).await;
        return;
    };
    let (ctl_tx, ctl_rx) = mpsc::channel::<Message>(4);
    let mut writer = tokio::spawn(pty_writer(tx, live, ctl_rx));
    let (in_tx, mut in_rx) = mpsc::channel::<Bytes>(PTY_INPUT_CHUNKS);
    let session = att.session.clone();
    let input = tokio::spawn(async move {
        while let Some(d) = in_rx.recv().await {
            if session.write(&d).await.is_err() {
                break;
            }
        }
    });
    let _tasks = AbortOnDrop(vec![writer.abort_handle(), input.abort_handle()]);
    let mut pending: Option<Bytes> = None;
    let mut ping = tokio::time::interval(crate::ws::PING_PERIOD);
    loop {
        let deliver = pending.as_ref().and(Some(in_tx.clone()));
        let delivering = deliver.is_some();
        tokio::select! {
            _ = &mut writer => return,
            permit = async move { deliver.expect("guarded").reserve_owned().await }, if delivering => match permit {
                Ok(permit) => {
                    let p = pending.as_mut().expect("guarded");
                    drop(permit.send(p.split_to(p.len().min(crate::ws::STDIN_CHUNK))));
                    if p.is_empty() {
                        pending = None;
                    }
                }
                // The input task ended: the terminal is gone.
                Err(_) => return,
            },
            _ = ping.tick(), if delivering => {
                let _ = ctl_tx.try_send(Message::Ping(Bytes::new()));
            },
            msg = rx.next(), if !delivering => {
                let frame = match msg {
                    Some(Ok(Message::Text(t))) => Bytes::from(t.as_str().to_owned()),
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                };
                let frame: PtyFrame = match serde_json::from_slice(&frame) {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::debug!(error = %e, "ignoring a terminal frame that is not {{data}} / {{height,width}} JSON");
                        continue;
                    }
                };
                if let (Some(h), Some(w)) = (frame.height, frame.width) {
                    if h > 0 && w > 0 {
                        let _ = tokio::time::timeout(RESIZE_DEADLINE, att.session.resize(h, w)).await;
                    }
                }
                if let Some(d) = frame.data.filter(|d| !d.is_empty()) {
                    m.touch(owner, id);
                    pending = Some(Bytes::from(d));
                }
            }
        }
    }
}

/// Sends one message with the stall deadline; false when the client is gone.
async fn ws_send(tx: &mut futures_util::stream::SplitSink<WebSocket, Message>, m: Message) -> bool {
    matches!(
        tokio::time::timeout(crate::ws::SEND_STALL, tx.send(m)).await,
        Ok(Ok(()))
    )
}

/// The most bytes of terminal output sent in one message.
const PTY_MESSAGE_BYTES: usize = 256 * 1024;

/// `first` and the chunks queued behind it, up to [`PTY_MESSAGE_BYTES`]
/// (a lag found on the way is left for the next `recv` to report).
fn coalesce(first: Bytes, live: &mut tokio::sync::broadcast::Receiver<Bytes>) -> Bytes {
    let mut buf: Option<bytes::BytesMut> = None;
    while buf.as_ref().map_or(first.len(), |b| b.len()) < PTY_MESSAGE_BYTES {
        match live.try_recv() {
            Ok(next) => buf
                .get_or_insert_with(|| bytes::BytesMut::from(&first[..]))
                .extend_from_slice(&next),
            Err(_) => break,
        }
    }
    buf.map_or(first, |b| b.freeze())
}

/// The only writer of a terminal client's socket: the live output, pings.
async fn pty_writer(
    mut tx: futures_util::stream::SplitSink<WebSocket, Message>,
    mut live: tokio::sync::broadcast::Receiver<Bytes>,
    mut ctl: mpsc::Receiver<Message>,
) {
    loop {
        let m = tokio::select! {
            out = live.recv() => match out {
                // What else is already there goes in the same message, so the
                // writer keeps up with a terminal that writes in small pieces.
                Ok(b) => Message::Binary(coalesce(b, &mut live)),
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!(skipped = n, "a terminal client fell too far behind; closing it");
                    let reason = "too slow: the terminal's output went past what this connection had taken; reconnect with the same reconnect id to get the recent output";
                    let close = CloseFrame { code: CLOSE_TOO_SLOW, reason: reason.into() };
                    let _ = ws_send(&mut tx, Message::Close(Some(close))).await;
                    return;
                }
                Err(RecvError::Closed) => {
                    let _ = ws_send(&mut tx, Message::Close(None)).await;
                    return;
                }
            },
            m = ctl.recv() => match m {
                Some(m) => m,
                None => return,
            },
        };
        if !ws_send(&mut tx, m).await {
            return;
        }
    }
}
