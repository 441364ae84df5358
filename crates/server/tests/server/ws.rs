//! The interactive WebSocket run.

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::common::TestServer;

async fn next_json<S>(ws: &mut S) -> Value
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match ws.next().await.expect("message").expect("ok") {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(_) => panic!("closed early"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn stdin_in_output_out_then_result() {
    let s = TestServer::start(|_| {}).await;
    let url = format!("ws://{}/api/v1/run/ws", s.app.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::Text(
        json!({ "language": "fake", "source": "cat" })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    ws.send(Message::Text(
        json!({ "stdin": "hello\n" }).to_string().into(),
    ))
    .await
    .unwrap();
    assert_eq!(
        next_json(&mut ws).await,
        json!({ "type": "stdout", "data": "hello\n" })
    );
    ws.send(Message::Text(
        json!({ "stdin": "again\n" }).to_string().into(),
    ))
    .await
    .unwrap();
    assert_eq!(
        next_json(&mut ws).await,
        json!({ "type": "stdout", "data": "again\n" })
    );
    ws.send(Message::Text(json!({ "eof": true }).to_string().into()))
        .await
        .unwrap();
    assert_eq!(
        next_json(&mut ws).await,
        json!({ "type": "stderr", "data": "done\n" })
    );
    let result = next_json(&mut ws).await;
    assert_eq!(result["type"], "result");
    assert_eq!(result["status"], "accepted");
    assert_eq!(result["stdout"], "hello\nagain\n");
}

#[tokio::test]
async fn a_bad_first_message_gets_an_error() {
    let s = TestServer::start(|_| {}).await;
    let url = format!("ws://{}/api/v1/run/ws", s.app.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::Text(
        json!({ "language": "nope", "source": "x" })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let v = next_json(&mut ws).await;
    assert_eq!(v["type"], "error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("language"));
}

/// With `encoding=base64`, output messages and the result carry the exact bytes.
#[tokio::test]
async fn base64_encoding_on_the_websocket() {
    let s = TestServer::start(|_| {}).await;
    let url = format!("ws://{}/api/v1/run/ws?encoding=base64", s.app.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::Text(
        json!({ "language": "fake", "source": "cat" })
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    ws.send(Message::Text(
        json!({ "stdin": "hi", "eof": true }).to_string().into(),
    ))
    .await
    .unwrap();
    assert_eq!(
        next_json(&mut ws).await,
        json!({ "type": "stdout", "data": "aGk=" })
    );
    assert_eq!(
        next_json(&mut ws).await,
        json!({ "type": "stderr", "data": "ZG9uZQo=" })
    );
    let result = next_json(&mut ws).await;
    assert_eq!(
        (
            result["type"].as_str(),
            result["encoding"].as_str(),
            result["stdout"].as_str()
        ),
        (Some("result"), Some("base64"), Some("aGk=")),
        "{result}"
    );
    assert_eq!(result["stdout_lossy"], false);
}
