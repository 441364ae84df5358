//! The client's stdin on its way to a run, shared by every interactive
//! WebSocket (`/api/v1/run/ws`, Piston's `/api/v2/connect`).
//!
//! One message at most waits here for room in the run's bounded stdin
//! channel; while it waits the connection reads nothing more (TCP pushes
//! back on the client). It goes in [`STDIN_CHUNK`]-byte pieces. Once the
//! program's stdin is closed (by the client's EOF, a signal, or the program
//! itself) the rest has nowhere to go and is dropped.

use bytes::Bytes;
use tokio::sync::mpsc::{self, error::SendError, OwnedPermit};

use super::STDIN_CHUNK;

/// Room for one chunk in the run's stdin, or the program's stdin closed.
pub(crate) type Room = Result<OwnedPermit<Bytes>, SendError<()>>;

/// What was pushed could not be taken: stdin is already closed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct StdinClosed;

pub(crate) struct StdinFeed {
    tx: Option<mpsc::Sender<Bytes>>,
    /// The rest of a message waiting for room.
    pending: Option<Bytes>,
    /// Close stdin once `pending` is delivered.
    eof_after: bool,
}

impl StdinFeed {
    pub(crate) fn new(tx: mpsc::Sender<Bytes>) -> Self {
        StdinFeed {
            tx: Some(tx),
            pending: None,
            eof_after: false,
        }
    }

    /// Whether a message waits for room (read nothing more from the client
    /// meanwhile, and ping it).
    pub(crate) fn waiting(&self) -> bool {
        self.pending.is_some()
    }

    /// A future for room in the run's stdin when a message waits for it; it
    /// borrows nothing, so it can sit in a `select!` beside `&mut self` uses.
    pub(crate) fn room(&self) -> Option<impl std::future::Future<Output = Room> + 'static> {
        let tx = self.pending.as_ref().and(self.tx.clone())?;
        Some(tx.reserve_owned())
    }

    /// Sends the next chunk of the waiting message into the room found.
    pub(crate) fn deliver(&mut self, room: Room) {
        let Ok(permit) = room else {
            // The program's stdin is closed: the rest has nowhere to go.
            self.pending = None;
            self.tx = None;
            return;
        };
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        drop(permit.send(p.split_to(p.len().min(STDIN_CHUNK))));
        if p.is_empty() {
            self.pending = None;
            if self.eof_after {
                self.tx = None;
            }
        }
    }

    /// Queues a message for the program; empty ones are ignored.
    pub(crate) fn push(&mut self, data: String) -> Result<(), StdinClosed> {
        if data.is_empty() {
            return Ok(());
        }
        if self.tx.is_none() {
            return Err(StdinClosed);
        }
        self.pending = Some(Bytes::from(data));
        Ok(())
    }

    /// Closes the program's stdin once what waits has been delivered.
    pub(crate) fn eof(&mut self) {
        if self.pending.is_some() {
            self.eof_after = true;
        } else {
            self.tx = None;
        }
    }

    /// Closes the program's stdin now, dropping whatever waits.
    pub(crate) fn close(&mut self) {
        self.pending = None;
        self.tx = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn step(feed: &mut StdinFeed) {
        let room = feed.room().expect("a message waits").await;
        feed.deliver(room);
    }

    #[tokio::test]
    async fn a_large_message_goes_in_chunks_and_eof_waits_for_it() {
        let (tx, mut rx) = mpsc::channel(4);
        let mut feed = StdinFeed::new(tx);
        feed.push("x".repeat(STDIN_CHUNK + 10)).unwrap();
        feed.eof();
        assert!(feed.waiting());
        step(&mut feed).await;
        assert!(feed.waiting(), "the rest still waits");
        step(&mut feed).await;
        assert!(!feed.waiting());
        assert_eq!(rx.recv().await.unwrap().len(), STDIN_CHUNK);
        assert_eq!(rx.recv().await.unwrap().len(), 10);
        assert_eq!(rx.recv().await, None, "EOF after the message");
        assert_eq!(feed.push("more".into()), Err(StdinClosed));
    }

    #[tokio::test]
    async fn input_for_a_program_that_closed_stdin_is_dropped() {
        let (tx, rx) = mpsc::channel(1);
        let mut feed = StdinFeed::new(tx);
        drop(rx);
        feed.push("hello".into()).unwrap();
        step(&mut feed).await;
        assert!(!feed.waiting());
        assert!(feed.room().is_none());
        assert_eq!(feed.push("again".into()), Err(StdinClosed));
    }

    #[tokio::test]
    async fn empty_messages_and_close() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut feed = StdinFeed::new(tx);
        feed.push(String::new()).unwrap();
        assert!(!feed.waiting());
        feed.push("dropped".into()).unwrap();
        feed.close();
        assert!(!feed.waiting());
        assert_eq!(rx.recv().await, None);
    }
}
