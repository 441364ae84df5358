//! The web console in `kiln serve`: its pages and assets beside the API, and
//! WebSockets authorised by the `kiln.key.<base64url(KEY)>` subprotocol (how
//! a browser sends a key without putting it in a URL).

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{error_code, TestServer};

fn key_protocol(key: &str) -> String {
    format!(
        "kiln, kiln.key.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key)
    )
}

/// Opens `path` as a WebSocket offering `protocols`; the HTTP status when refused.
async fn open(
    s: &TestServer,
    path: &str,
    protocols: Option<&str>,
) -> Result<
    (
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        Option<String>,
    ),
    u16,
> {
    let mut req = format!("ws://{}{path}", s.app.addr)
        .into_client_request()
        .unwrap();
    if let Some(p) = protocols {
        req.headers_mut()
            .insert("sec-websocket-protocol", p.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, res)) => {
            let proto = res
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| v.to_str().unwrap().to_string());
            Ok((ws, proto))
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("handshake failed without an HTTP answer: {e}"),
    }
}

#[tokio::test]
async fn a_websocket_is_authorised_by_the_key_in_its_subprotocol() {
    let s = TestServer::start(|a| {
        a.api.api_keys = Some(vec!["k-one".into(), "k/two+?".into()]);
        a.api.rate_limit_per_sec = Some(0.0);
    })
    .await;
    // No key, only the protocol, or a wrong key: refused before the upgrade.
    assert_eq!(open(&s, "/api/v1/run/ws", None).await.err(), Some(401));
    assert_eq!(
        open(&s, "/api/v1/run/ws", Some("kiln")).await.err(),
        Some(401)
    );
    let wrong = key_protocol("k-three");
    assert_eq!(
        open(&s, "/api/v1/run/ws", Some(&wrong)).await.err(),
        Some(401)
    );
    // The key of a subprotocol counts only on an upgrade, never on a plain request.
    let res = s
        .client
        .get(s.url("/api/v1/languages"))
        .header("sec-websocket-protocol", key_protocol("k-one"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    // A right key (any bytes, base64url): the upgrade answers `kiln`, and the run works.
    for key in ["k-one", "k/two+?"] {
        let (mut ws, proto) = open(&s, "/api/v1/run/ws", Some(&key_protocol(key)))
            .await
            .unwrap_or_else(|code| panic!("{key}: refused with {code}"));
        assert_eq!(proto.as_deref(), Some("kiln"));
        ws.send(Message::Text(
            json!({"language": "fake", "source": "cat"})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
        ws.send(Message::Text(
            json!({"stdin": "hi\n", "eof": true}).to_string().into(),
        ))
        .await
        .unwrap();
        let mut result = None;
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "result" {
                    result = Some(v);
                }
            }
        }
        let result = result.expect("a result");
        assert_eq!(result["status"], "accepted");
        assert_eq!(result["stdout"], "hi\n");
    }

    // Piston's /connect goes through the same rule.
    let (_, proto) = open(&s, "/api/v2/connect", Some(&key_protocol("k-one")))
        .await
        .expect("piston connect with the subprotocol key");
    assert_eq!(proto.as_deref(), Some("kiln"));
}

#[tokio::test]
async fn without_keys_the_kiln_subprotocol_is_still_answered() {
    let s = TestServer::start(|_| {}).await;
    let (_, proto) = open(&s, "/api/v1/run/ws", Some("kiln")).await.unwrap();
    assert_eq!(proto.as_deref(), Some("kiln"));
    // A client that offers no subprotocol gets none (tungstenite would refuse one).
    let (_, proto) = open(&s, "/api/v1/run/ws", None).await.unwrap();
    assert_eq!(proto, None);
}

#[tokio::test]
async fn the_console_is_served_beside_the_api_and_json_404s_stay_json() {
    let s = TestServer::start(|a| a.api.api_keys = Some(vec!["k".into()])).await;
    // The pages need no key (they hold no data; the API calls do).
    for path in ["/", "/console/workspaces", "/console/dashboard"] {
        let res = s.client.get(s.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
        assert!(res.text().await.unwrap().contains("/console/assets/main-"));
    }
    let html = "text/html,application/xhtml+xml,*/*;q=0.8";
    let page = |path: &'static str| s.client.get(s.url(path)).header("accept", html).send();
    // A browser on an unknown path gets the console (404), an API client JSON.
    let res = page("/no/such/page").await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let (code, v) = s.get("/no/such/page").await;
    assert_eq!((code, error_code(&v)), (404, "not_found"));
    let res = page("/api/v1/nope").await.unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    // Judge0's root routes are still Judge0's.
    let res = page("/languages").await.unwrap();
    assert_eq!(res.status(), 401, "Judge0's /languages needs the key");
}
