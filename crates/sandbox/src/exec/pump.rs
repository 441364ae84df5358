//! The pump of an exec (output into the capture and the stream, see the
//! module header of [`exec`](super)) and the stdin task.

use std::os::fd::OwnedFd;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::mpsc;

use super::watch::RunState;
use super::{Input, Output, CHUNK_BYTES, STREAM_GRACE};

/// Output kept so far, with the cap shared by stdout and stderr.
pub(super) struct Capture {
    pub(super) cap: u64,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
    pub(super) exceeded: bool,
}

impl Capture {
    pub(super) fn new(cap: u64) -> Capture {
        Capture {
            cap,
            stdout: Vec::new(),
            stderr: Vec::new(),
            exceeded: false,
        }
    }

    fn take(&mut self, is_err: bool, data: &[u8]) -> usize {
        let room = self
            .cap
            .saturating_sub((self.stdout.len() + self.stderr.len()) as u64)
            as usize;
        let n = data.len().min(room);
        if n < data.len() {
            self.exceeded = true;
        }
        let buf = if is_err {
            &mut self.stderr
        } else {
            &mut self.stdout
        };
        buf.extend_from_slice(&data[..n]);
        n
    }
}

/// Reads both pipes to their end into `cap`, forwarding what is kept to
/// `stream` (see the module's streaming policy).
pub(super) async fn pump(
    mut out: pipe::Receiver,
    mut err: pipe::Receiver,
    cap: &mut Capture,
    mut stream: Option<mpsc::Sender<Output>>,
    run: &RunState,
) {
    let (mut obuf, mut ebuf) = (vec![0u8; CHUNK_BYTES], vec![0u8; CHUNK_BYTES]);
    let (mut out_open, mut err_open) = (true, true);
    let mut ended = run.ended.subscribe();
    let mut deadline: Option<tokio::time::Instant> = None;
    while out_open || err_open {
        let (is_err, n) = tokio::select! {
            r = out.read(&mut obuf), if out_open => match r {
                Ok(0) | Err(_) => { out_open = false; continue }
                Ok(n) => (false, n),
            },
            r = err.read(&mut ebuf), if err_open => match r {
                Ok(0) | Err(_) => { err_open = false; continue }
                Ok(n) => (true, n),
            },
        };
        let data = if is_err { &ebuf[..n] } else { &obuf[..n] };
        let kept = cap.take(is_err, data);
        if cap.exceeded && run.hit().is_none() {
            run.over_cap.notify_one();
        }
        let Some(tx) = stream.as_ref().filter(|_| kept > 0) else {
            continue;
        };
        let chunk = Bytes::copy_from_slice(&data[..kept]);
        let chunk = if is_err {
            Output::Stderr(chunk)
        } else {
            Output::Stdout(chunk)
        };
        if *ended.borrow() {
            deadline.get_or_insert_with(|| tokio::time::Instant::now() + STREAM_GRACE);
        }
        // Whether the reader went away (the watcher then stops the run).
        let gone = {
            let send = tx.send(chunk);
            tokio::pin!(send);
            let mut sent = None;
            if deadline.is_none() {
                // Backpressure: wait for the reader as long as the run goes on.
                tokio::select! {
                    r = &mut send => sent = Some(r.is_err()),
                    _ = ended.wait_for(|e| *e) => deadline = Some(tokio::time::Instant::now() + STREAM_GRACE),
                }
            }
            match sent {
                Some(gone) => gone,
                // The run is over: a little more time, then the chunk is not streamed.
                None => {
                    let d = deadline.unwrap_or_else(tokio::time::Instant::now);
                    matches!(tokio::time::timeout_at(d, send).await, Ok(Err(_)))
                }
            }
        };
        if gone {
            stream = None;
        }
    }
}

pub(super) async fn feed_stdin(fd: OwnedFd, input: Input) {
    let Ok(mut tx) = pipe::Sender::from_owned_fd(fd) else {
        return;
    };
    match input {
        Input::Bytes(b) => {
            let _ = tx.write_all(&b).await;
        }
        Input::Stream(mut rx) => {
            while let Some(chunk) = rx.recv().await {
                if tx.write_all(&chunk).await.is_err() {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_caps_both_streams_together() {
        let mut c = Capture {
            cap: 10,
            stdout: vec![],
            stderr: vec![],
            exceeded: false,
        };
        assert_eq!(c.take(false, b"123456"), 6);
        assert_eq!(c.take(true, b"abcdef"), 4);
        assert!(c.exceeded);
        assert_eq!(c.stdout, b"123456");
        assert_eq!(c.stderr, b"abcd");
    }
}
