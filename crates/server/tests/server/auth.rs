//! API keys, per-key rate limit and per-key queued cap.

use crate::common::{error_code, fake, split, TestServer};

#[tokio::test]
async fn keys_are_required_except_on_health_and_metrics() {
    let s = TestServer::start(|a| {
        a.api.api_keys = Some(vec!["k-one".into(), "k-two".into()]);
        a.api.rate_limit_per_sec = Some(0.0);
    })
    .await;
    let (code, v) = s.get("/api/v1/languages").await;
    assert_eq!((code, error_code(&v)), (401, "unauthorized"));
    let res = s
        .client
        .get(s.url("/api/v1/languages"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = s
        .client
        .get(s.url("/api/v1/languages"))
        .bearer_auth("k-one")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = s
        .client
        .post(s.url("/api/v1/submissions"))
        .header("x-api-key", "k-two")
        .json(&fake("echo", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    assert_eq!(s.get("/health").await.0, 200);
    assert_eq!(s.get("/metrics").await.0, 200);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let s = TestServer::start(|a| {
        a.api.api_keys = Some(vec!["k".into()]);
        a.api.rate_limit_per_sec = Some(1.0);
        a.api.rate_limit_burst = Some(3);
    })
    .await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        let res = s
            .client
            .get(s.url("/api/v1/languages"))
            .bearer_auth("k")
            .send()
            .await
            .unwrap();
        codes.push(res.status().as_u16());
        if res.status() == 429 {
            assert!(res.headers().get("retry-after").is_some());
            let (_, v, _) = split(res).await;
            assert_eq!(error_code(&v), "rate_limited");
        }
    }
    assert_eq!(codes, [200, 200, 200, 429]);
}

#[tokio::test]
async fn queued_submissions_are_capped_per_key() {
    let s = TestServer::start(|a| {
        a.api.api_keys = Some(vec!["a".into(), "b".into()]);
        a.api.rate_limit_per_sec = Some(0.0);
        a.api.max_queued_per_key = Some(2);
        a.jobs.workers = Some(1);
    })
    .await;
    let submit = |key: &'static str| {
        let req = s
            .client
            .post(s.url("/api/v1/submissions"))
            .bearer_auth(key)
            .json(&fake("sleep 1000", key));
        async move { split(req.send().await.unwrap()).await }
    };
    assert_eq!(submit("a").await.0, 202);
    assert_eq!(submit("a").await.0, 202);
    let (code, v, h) = submit("a").await;
    assert_eq!((code, error_code(&v)), (429, "too_many_queued"));
    assert!(h.get("retry-after").is_some());
    assert_eq!(submit("b").await.0, 202, "another key has its own cap");
}

/// A keyed GET with the JSON answer.
async fn get_as(s: &TestServer, key: &str, path: &str) -> (u16, serde_json::Value) {
    let res = s
        .client
        .get(s.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let (code, v, _) = split(res).await;
    (code, v)
}

#[tokio::test]
async fn a_submission_is_read_only_with_its_own_key_or_an_admin_key() {
    let s = TestServer::start(|a| {
        a.api.api_keys = Some(vec!["alice".into(), "bob".into()]);
        a.api.admin_keys = Some(vec!["root".into()]);
        a.api.rate_limit_per_sec = Some(0.0);
    })
    .await;
    let res = s
        .client
        .post(s.url("/api/v1/submissions?wait=true"))
        .bearer_auth("alice")
        .json(&fake("echo", "secret input"))
        .send()
        .await
        .unwrap();
    let (code, v, _) = split(res).await;
    assert_eq!(code, 200, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    let one = format!("/api/v1/submissions/{id}");
    assert_eq!(get_as(&s, "alice", &one).await.0, 200);
    assert_eq!(get_as(&s, "root", &one).await.0, 200, "admins read all");
    let (code, v) = get_as(&s, "bob", &one).await;
    assert_eq!((code, error_code(&v)), (404, "not_found"), "{v}");
    assert!(!v.to_string().contains("secret"));
    let (code, v) = get_as(&s, "bob", &format!("/api/v1/submissions/batch?ids={id}")).await;
    assert_eq!(code, 200);
    assert!(v["submissions"][0].is_null(), "{v}");
    // Judge0's dialect asks the same rule.
    assert_eq!(
        get_as(&s, "bob", &format!("/submissions/{id}")).await.0,
        404
    );
    assert_eq!(
        get_as(&s, "alice", &format!("/submissions/{id}")).await.0,
        200
    );
    let (_, v) = get_as(&s, "bob", &format!("/submissions/batch?tokens={id}")).await;
    assert!(v["submissions"][0].is_null(), "{v}");
    // Listings: one's own, or all for an admin.
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["submissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(&get_as(&s, "alice", "/api/v1/submissions").await.1),
        std::slice::from_ref(&id)
    );
    assert!(ids(&get_as(&s, "bob", "/api/v1/submissions").await.1).is_empty());
    assert_eq!(
        ids(&get_as(&s, "root", "/api/v1/submissions").await.1),
        [id]
    );
}

#[tokio::test]
async fn the_list_filters_pages_and_echoes_inputs_on_request() {
    let s = TestServer::start(|a| {
        a.api.rate_limit_per_sec = Some(0.0);
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (code, v, _) = s
            .post(
                "/api/v1/submissions?wait=true",
                fake("echo", &format!("in-{i}")),
            )
            .await;
        assert_eq!(code, 200, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    // Pages of two, by cursor, until the last page says so.
    let mut seen = Vec::new();
    let mut path = "/api/v1/submissions?limit=2".to_string();
    loop {
        let (code, v) = s.get(&path).await;
        assert_eq!(code, 200, "{v}");
        for row in v["submissions"].as_array().unwrap() {
            assert_eq!(row["status"], "accepted");
            assert!(row["result"]["time_ms"].is_u64(), "{row}");
            assert!(row.get("stdout").is_none(), "a page holds no output: {row}");
            seen.push(row["id"].as_str().unwrap().to_string());
        }
        match v["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/submissions?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, newest_first);
    // Filters.
    let (_, v) = s.get("/api/v1/submissions?status=queued").await;
    assert!(v["submissions"].as_array().unwrap().is_empty());
    let (_, v) = s
        .get("/api/v1/submissions?language=fake&until=2000-01-01T00:00:00Z")
        .await;
    assert!(v["submissions"].as_array().unwrap().is_empty());
    let (_, v) = s
        .get("/api/v1/submissions?language=fake&since=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(v["submissions"].as_array().unwrap().len(), 5);
    // Bad input: a clear 400 naming the field.
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=nonsense", "cursor"),
        ("since=yesterday", "since"),
    ] {
        let (code, v) = s.get(&format!("/api/v1/submissions?{q}")).await;
        assert_eq!(code, 400, "{q}: {v}");
        assert!(v.to_string().contains(field), "{q}: {v}");
    }
    let (code, _) = s.get("/api/v1/submissions?status=bogus").await;
    assert_eq!(code, 400);
    // ?include=input echoes the source, stdin and the limits applied.
    let (code, v) = s
        .get(&format!("/api/v1/submissions/{}?include=input", ids[0]))
        .await;
    assert_eq!(code, 200);
    assert_eq!(v["input"]["stdin"], "in-0");
    assert_eq!(v["input"]["files"][0]["content"], "echo");
    assert!(v["input"]["limits"]["cpu_time_ms"].is_u64(), "{v}");
    let (_, v) = s.get(&format!("/api/v1/submissions/{}", ids[0])).await;
    assert!(v.get("input").is_none());
}
