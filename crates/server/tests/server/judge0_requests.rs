//! Judge0's refusals, batches, keys, callbacks, additional files, runs and
//! rate limits (the rest of the dialect is in `judge0.rs`).

use std::time::Duration;

use axum::routing::put;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::common::TestServer;
use crate::judge0::{b64, fake_id, finished, raw, unb64};

#[tokio::test]
async fn refusals_have_judge0s_shape() {
    let s = TestServer::start(|_| {}).await;
    let id = fake_id(&s).await;
    let cases = [
        (
            json!({"source_code": "echo"}),
            json!({"language_id": ["can't be blank"]}),
        ),
        (
            json!({"source_code": "echo", "language_id": 999999}),
            json!({"language_id": ["language with id 999999 doesn't exist"]}),
        ),
        (
            json!({"source_code": "echo", "language_id": 34}),
            json!({"language_id": ["language with id 34 is archived and cannot be used anymore"]}),
        ),
        (
            json!({"language_id": id}),
            json!({"source_code": ["can't be blank"]}),
        ),
        (
            json!({"source_code": "echo", "language_id": id, "enable_network": true}),
            json!({"enable_network": ["enabling network is not allowed"]}),
        ),
        (
            json!({"source_code": "echo", "language_id": id, "compiler_options": "-O2"}),
            json!({"compiler_options": ["setting compiler options is only allowed for compiled languages"]}),
        ),
        (
            json!({"source_code": "echo", "language_id": id, "number_of_runs": 21}),
            json!({"number_of_runs": ["must be less than or equal to 20"]}),
        ),
        (
            json!({"source_code": "echo", "language_id": id, "cpu_time_limit": "x"}),
            json!({"cpu_time_limit": ["is not a number"]}),
        ),
    ];
    for (body, want) in cases {
        let (code, v, _) = s.post("/submissions", body.clone()).await;
        assert_eq!((code, &v), (422, &want), "{body}");
    }
    // Kiln's validator decides the limits; its field is named back in Judge0's words.
    for (field, value) in [
        ("cpu_time_limit", json!(1000)),
        ("memory_limit", json!(1)),
        ("wall_time_limit", json!(99999)),
        ("max_processes_and_or_threads", json!(100000)),
    ] {
        let (code, v, _) = s
            .post(
                "/submissions",
                json!({"source_code": "echo", "language_id": id, field: value}),
            )
            .await;
        assert_eq!(code, 422, "{field}: {v}");
        assert!(v[field][0].is_string(), "{field}: {v}");
        assert_eq!(v.as_object().unwrap().len(), 1);
    }
    let (code, v, _) = s.post("/submissions", json!({"source_code": "echo", "language_id": id, "additional_files": b64(b"not a zip")})).await;
    assert_eq!(code, 422);
    assert!(
        v["additional_files"][0].as_str().unwrap().contains("zip"),
        "{v}"
    );
    // A file in a subdirectory: Kiln's validator refuses the name, named as Judge0's field.
    let z = kiln_server::judge0::zip::write(&[("dir/x.txt", b"x")], false);
    let (code, v, _) = s
        .post(
            "/submissions",
            json!({"source_code": "echo", "language_id": id, "additional_files": b64(&z)}),
        )
        .await;
    assert_eq!(code, 422, "{v}");
    assert!(
        v["additional_files"][0]
            .as_str()
            .unwrap()
            .contains("plain file name"),
        "{v}"
    );
    // Malformed JSON: 400 with an empty body.
    assert_eq!(
        raw(&s, reqwest::Method::POST, "/submissions", Some("{nope")).await,
        (400, String::new())
    );
    let (code, body) = raw(&s, reqwest::Method::DELETE, "/submissions/some-token", None).await;
    assert_eq!(
        (code, serde_json::from_str::<Value>(&body).unwrap()),
        (400, json!({"error": "delete not allowed"}))
    );
}

#[tokio::test]
async fn batches_carry_tokens_and_errors_in_order() {
    let s = TestServer::start(|_| {}).await;
    let id = fake_id(&s).await;
    let body = json!({"submissions": [
        {"source_code": "echo", "language_id": id, "stdin": "one"},
        {"source_code": "echo", "language_id": 123456789},
        {"source_code": "echo", "language_id": id, "stdin": "three"},
    ]});
    let (code, v, _) = s.post("/submissions/batch", body).await;
    assert_eq!(code, 201, "{v}");
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(
        list[1],
        json!({"language_id": ["language with id 123456789 doesn't exist"]})
    );
    let (t1, t3) = (
        list[0]["token"].as_str().unwrap(),
        list[2]["token"].as_str().unwrap(),
    );
    finished(&s, t1, "").await;
    finished(&s, t3, "").await;
    let (code, v) = s
        .get(&format!("/submissions/batch?tokens={t3},00000000-0000-4000-8000-000000000000,{t1}&base64_encoded=true&fields=stdout,status"))
        .await;
    assert_eq!(code, 200, "{v}");
    let subs = v["submissions"].as_array().unwrap();
    assert_eq!(unb64(&subs[0]["stdout"]), b"three");
    assert_eq!(subs[1], Value::Null);
    assert_eq!(unb64(&subs[2]["stdout"]), b"one");
    assert_eq!(subs[2]["status"]["id"], 3);

    let (code, v, _) = s
        .post(
            "/submissions/batch",
            json!({"submissions": [{"language_id": 1}]}),
        )
        .await;
    assert_eq!(code, 422, "{v}");
    let (code, v, _) = s
        .post("/submissions/batch", json!({"submissions": []}))
        .await;
    assert_eq!(
        (code, v),
        (
            400,
            json!({"error": "there should be at least one submission in a batch"})
        )
    );
    let (code, v) = s.get("/submissions/batch?tokens=").await;
    assert_eq!(code, 400, "{v}");
}

#[tokio::test]
async fn x_auth_token_maps_onto_kiln_keys() {
    let s = TestServer::start(|a| {
        a.api.api_keys = Some(vec!["k-one".into()]);
        a.api.rate_limit_per_sec = Some(0.0);
    })
    .await;
    assert_eq!(
        raw(&s, reqwest::Method::GET, "/languages", None).await,
        (401, String::new())
    );
    let res = s
        .client
        .get(s.url("/languages"))
        .header("X-Auth-Token", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = s
        .client
        .get(s.url("/languages"))
        .header("X-Auth-Token", "k-one")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(s.get("/about?X-Auth-Token=k-one").await.0, 200);
    let res = s
        .client
        .get(s.url("/statuses"))
        .bearer_auth("k-one")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = s
        .client
        .post(s.url("/authenticate"))
        .header("X-Auth-Token", "k-one")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn callbacks_are_sent_with_put_and_base64() {
    let s = TestServer::start(|a| a.jobs.allow_private_callbacks = Some(true)).await;
    let id = fake_id(&s).await;
    let (tx, mut rx) = mpsc::channel::<Value>(4);
    let hook = axum::Router::new().route(
        "/hook",
        put(move |axum::Json(v): axum::Json<Value>| {
            let tx = tx.clone();
            async move {
                tx.send(v).await.unwrap();
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await });
    let (code, v, _) = s
        .post(
            "/submissions",
            json!({"source_code": "echo", "language_id": id, "stdin": "cb", "callback_url": url}),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got["token"], v["token"]);
    assert_eq!(got["status"]["id"], 3);
    assert_eq!(got["stdout"], "Y2I=\n");

    // Private addresses stay refused by default, in Judge0's shape.
    let d = TestServer::start(|_| {}).await;
    let (code, v, _) = d
        .post("/submissions", json!({"source_code": "echo", "language_id": id, "callback_url": "http://127.0.0.1:9/x"}))
        .await;
    assert_eq!(code, 422, "{v}");
    assert!(v["callback_url"][0].is_string());
}

#[tokio::test]
async fn additional_files_go_beside_the_source() {
    let s = TestServer::start(|_| {}).await;
    let id = fake_id(&s).await;
    for deflate in [false, true] {
        let z = kiln_server::judge0::zip::write(
            &[
                ("data.txt", b"some data\n"),
                ("main.fake", b"ignored: the source wins"),
            ],
            deflate,
        );
        // Always base64, whatever base64_encoded says.
        let (code, v, _) = s
            .post(
                "/submissions?wait=true&fields=status",
                json!({"source_code": "echo", "language_id": id, "additional_files": b64(&z)}),
            )
            .await;
        assert_eq!((code, v["status"]["id"].as_u64()), (201, Some(3)), "{v}");
    }
    let (_, v) = s.get("/config_info").await;
    assert_eq!(v["enable_additional_files"], true);
}

#[tokio::test]
async fn number_of_runs_runs_the_program_that_many_times() {
    let s = TestServer::start(|_| {}).await;
    let id = fake_id(&s).await;
    let (code, v, _) = s
        .post("/submissions?wait=true&fields=status,stdout,number_of_runs,time,memory", json!({"source_code": "echo", "language_id": id, "stdin": "again", "number_of_runs": 3}))
        .await;
    assert_eq!(code, 201, "{v}");
    assert_eq!(
        v,
        json!({"status": {"id": 3, "description": "Accepted"}, "stdout": "again", "number_of_runs": 3, "time": "0.001", "memory": 1024})
    );
}

#[tokio::test]
async fn rate_limited_keys_get_429_with_retry_after() {
    let s = TestServer::start(|a| {
        a.api.api_keys = Some(vec!["k".into()]);
        a.api.rate_limit_per_sec = Some(0.001);
        a.api.rate_limit_burst = Some(1);
    })
    .await;
    let get = || {
        s.client
            .get(s.url("/statuses"))
            .header("X-Auth-Token", "k")
            .send()
    };
    assert_eq!(get().await.unwrap().status(), 200);
    let res = get().await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
    let v: Value = res.json().await.unwrap();
    assert!(v["error"].is_string(), "{v}");
}
