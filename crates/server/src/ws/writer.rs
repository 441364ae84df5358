//! The only task that writes to an interactive run's socket: the output as
//! it comes (text with UTF-8 sequences cut by a chunk boundary kept whole,
//! or base64), the connection's messages, and at the end the result.

use axum::extract::ws::Message;
use futures_util::SinkExt;
use serde_json::json;
use tokio::sync::mpsc;

use super::{send, Sink, SEND_STALL};
use crate::executor::OutputChunk;
use crate::model::Encoding;

/// What the connection's loop hands the writer besides the output.
pub(super) enum ToClient {
    /// An error about a client message, or a ping.
    Message(Message),
    /// The result: sent after the rest of the output, then the socket closes.
    Result(Message),
}

/// The only task that writes to the socket: output as it comes, messages of
/// the connection's loop, and at the end the result. Returns when the socket
/// is closed or the client stopped taking messages.
pub(super) async fn write_loop(
    mut sink: Sink,
    mut out: mpsc::Receiver<OutputChunk>,
    mut ctl: mpsc::Receiver<ToClient>,
    enc: Encoding,
) {
    let mut text = [Utf8Carry::default(), Utf8Carry::default()];
    let mut out_open = true;
    loop {
        let m = tokio::select! {
            c = out.recv(), if out_open => match c {
                Some(c) => output_message(c, enc, &mut text),
                None => {
                    out_open = false;
                    continue;
                }
            },
            m = ctl.recv() => match m {
                Some(ToClient::Message(m)) => m,
                Some(ToClient::Result(result)) => {
                    // The run is over: the rest of its output, then the result.
                    while let Some(c) = out.recv().await {
                        if !send(&mut sink, output_message(c, enc, &mut text)).await {
                            return;
                        }
                    }
                    for (i, carry) in text.iter_mut().enumerate() {
                        if let Some(rest) = carry.finish() {
                            if !send(&mut sink, chunk_message(if i == 0 { "stdout" } else { "stderr" }, rest)).await {
                                return;
                            }
                        }
                    }
                    if send(&mut sink, result).await {
                        let _ = tokio::time::timeout(SEND_STALL, sink.close()).await;
                    }
                    return;
                }
                None => return,
            },
        };
        if !send(&mut sink, m).await {
            return;
        }
    }
}

fn chunk_message(kind: &str, data: String) -> Message {
    Message::Text(json!({ "type": kind, "data": data }).to_string().into())
}

fn output_message(chunk: OutputChunk, enc: Encoding, text: &mut [Utf8Carry; 2]) -> Message {
    let (kind, i, data) = match chunk {
        OutputChunk::Stdout(b) => ("stdout", 0, b),
        OutputChunk::Stderr(b) => ("stderr", 1, b),
    };
    let data = match enc {
        Encoding::Text => text[i].take(&data),
        Encoding::Base64 => enc.render_bytes(&data),
    };
    chunk_message(kind, data)
}

/// Text of a byte stream cut into chunks: a UTF-8 sequence cut in two by a
/// chunk boundary waits for its end instead of becoming two U+FFFD.
#[derive(Default)]
struct Utf8Carry {
    carry: Vec<u8>,
}

impl Utf8Carry {
    fn take(&mut self, data: &[u8]) -> String {
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(data);
        let keep = incomplete_tail(&buf);
        self.carry = buf.split_off(buf.len() - keep);
        String::from_utf8_lossy(&buf).into_owned()
    }

    fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.carry);
        (!rest.is_empty()).then(|| String::from_utf8_lossy(&rest).into_owned())
    }
}

/// How many bytes at the end of `b` start a UTF-8 sequence that is not finished.
fn incomplete_tail(b: &[u8]) -> usize {
    for back in 1..=b.len().min(3) {
        let c = b[b.len() - back];
        if c & 0xC0 == 0x80 {
            continue;
        }
        let need = match c {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 1,
        };
        return if need > back { back } else { 0 };
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_character_cut_by_a_chunk_boundary_stays_whole() {
        let s = "é€😀".as_bytes();
        for cut in 0..=s.len() {
            let mut c = Utf8Carry::default();
            let mut out = c.take(&s[..cut]);
            out += &c.take(&s[cut..]);
            assert_eq!(c.finish(), None);
            assert_eq!(out, "é€😀", "cut at {cut}");
        }
        let mut c = Utf8Carry::default();
        assert_eq!(c.take(b"a\xff\xe2\x82"), "a\u{fffd}");
        assert_eq!(c.finish().as_deref(), Some("\u{fffd}"));
    }
}
