//! Loopback stand-ins for tests: [`kiln::FakeKiln`], a small in-memory
//! implementation of the Kiln workspace API contract, and
//! [`coder::CoderReplay`], a server that replays recorded Coder API v2
//! responses (`tests/fixtures/coder/`). Both bind 127.0.0.1:0.
//!
//! Both choose a workspace's behaviour by its template name:
//! `pod-swdev` builds quickly; `ec2-datasci` builds and its agent connects
//! late; `broken` fails its build; `stuck` never finishes.

pub mod coder;
pub mod kiln;

use axum::extract::ws::{Message, WebSocket};

/// What a template does in the fakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Quick,
    LateAgent,
    Broken,
    Stuck,
}

impl Behaviour {
    pub fn of(template: &str) -> Option<Self> {
        Some(match template {
            "pod-swdev" => Behaviour::Quick,
            "ec2-datasci" => Behaviour::LateAgent,
            "broken" => Behaviour::Broken,
            "stuck" => Behaviour::Stuck,
            _ => return None,
        })
    }
    pub const TEMPLATES: [&'static str; 4] = ["pod-swdev", "ec2-datasci", "broken", "stuck"];
}

/// A terminal that echoes every input frame's `data` back (like a tty's
/// echo); returns the number of input bytes received.
pub async fn echo_terminal(mut socket: WebSocket) -> u64 {
    let mut received = 0u64;
    while let Some(Ok(m)) = socket.recv().await {
        let frame: Vec<u8> = match m {
            Message::Binary(b) => b.to_vec(),
            Message::Text(t) => t.as_bytes().to_vec(),
            Message::Close(_) => break,
            _ => continue,
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&frame) else {
            break;
        };
        if let Some(d) = v["data"].as_str() {
            received += d.len() as u64;
            if socket
                .send(Message::Binary(d.as_bytes().to_vec().into()))
                .await
                .is_err()
            {
                break;
            }
        }
    }
    received
}

/// Serves `app` on 127.0.0.1:0 in the background; returns `http://127.0.0.1:PORT`.
pub async fn serve(app: axum::Router) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}
