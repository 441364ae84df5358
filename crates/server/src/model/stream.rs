//! A JSON answer, serialized whole when small and streamed in chunks when
//! large (a result with megabytes of output).

use serde::Serialize;

use crate::error::ApiError;

/// Answers of at most this many bytes (by the hint) are serialized whole;
/// larger ones are streamed.
const STREAM_ABOVE: usize = 1 << 20;
/// Bytes per chunk of a streamed answer.
const STREAM_CHUNK: usize = 64 * 1024;

/// `value` as a JSON answer. Up to [`STREAM_ABOVE`] bytes (`size_hint`) it is
/// serialized into a buffer sized once; a larger one (a result with megabytes
/// of output) is serialized on a blocking thread in chunks of 64 KiB, each
/// handed to the connection when the client has taken the previous ones, so
/// the server never holds a large answer whole. A client that takes no chunk
/// for [`crate::ws::SEND_STALL`] gets a cut answer.
pub fn json_response<T: Serialize + Send + 'static>(
    status: axum::http::StatusCode,
    value: T,
    size_hint: usize,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
    if size_hint <= STREAM_ABOVE {
        let mut buf = Vec::with_capacity(size_hint);
        return match serde_json::to_writer(&mut buf, &value) {
            Ok(()) => (status, json, buf).into_response(),
            Err(e) => ApiError::internal(format!("serializing the answer: {e}")).into_response(),
        };
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(2);
    tokio::task::spawn_blocking(move || {
        let mut w = ChunkWriter {
            tx,
            buf: Vec::with_capacity(STREAM_CHUNK),
        };
        let done = serde_json::to_writer(&mut w, &value)
            .map_err(std::io::Error::from)
            .and_then(|()| w.send());
        if let Err(e) = done {
            // The body ends in an error: the client sees a cut answer, not a short one.
            let _ = w.tx.try_send(Err(e));
        }
    });
    let chunks =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    (status, json, axum::body::Body::from_stream(chunks)).into_response()
}

/// Hands serialized JSON to a streamed body in chunks.
struct ChunkWriter {
    tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        use tokio::sync::mpsc::error::TrySendError;
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut chunk = Ok(bytes::Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(STREAM_CHUNK),
        )));
        let start = std::time::Instant::now();
        loop {
            match self.tx.try_send(chunk) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Closed(_)) => {
                    return Err(std::io::Error::other("the client went away"))
                }
                Err(TrySendError::Full(c)) => {
                    if start.elapsed() > crate::ws::SEND_STALL {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "the client took nothing for too long",
                        ));
                    }
                    chunk = c;
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            }
        }
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= STREAM_CHUNK {
            self.send()?;
        }
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}
