//! One test suite for every [`Store`]: the same checks run against the embedded
//! SQLite store and against PostgreSQL (a private cluster started by the test).

use kiln_engine::{Report, Status};
use kiln_server::store::{postgres::PgStore, sqlite::SqliteStore, Store};
use kiln_server::testenv::PgServer;

use crate::common::new_submission;

fn accepted() -> Report {
    let mut r = Report::internal_error("");
    r.status = Status::Accepted;
    r.message = None;
    r.stdout = "ok\n".into();
    r
}

/// What every store must do; `store` starts empty.
async fn suite(store: &dyn Store) {
    store.ping().await.unwrap();

    // insert, get, get_many; all-or-none.
    let mut a = new_submission("a");
    a.owner = Some("key1".into());
    a.created_at_ms = 1_000;
    let mut b = new_submission("b");
    b.owner = Some("key1".into());
    b.created_at_ms = 2_000;
    b.callback_url = Some("https://example.com/hook".into());
    store.insert(&[a.clone(), b.clone()]).await.unwrap();
    let got = store.get("id-a").await.unwrap().expect("stored");
    assert_eq!(got.status, Status::Queued);
    assert_eq!(got.submission, a.submission);
    assert_eq!(got.owner.as_deref(), Some("key1"));
    assert_eq!((got.attempt, got.created_at_ms), (0, 1_000));
    assert!(got.report.is_none() && got.started_at_ms.is_none());
    assert!(store.get("nope").await.unwrap().is_none());
    let c = new_submission("c");
    assert!(
        store.insert(&[c.clone(), a.clone()]).await.is_err(),
        "a duplicate id fails the whole insert"
    );
    assert!(store.get("id-c").await.unwrap().is_none(), "all or none");
    let mut many = store
        .get_many(&["id-b".into(), "id-a".into(), "nope".into()])
        .await
        .unwrap();
    many.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(many.len(), 2);
    assert_eq!(
        many[1].callback_url.as_deref(),
        Some("https://example.com/hook")
    );
    assert!(store.get_many(&[]).await.unwrap().is_empty());

    // Lookups of the API and the sweeper.
    assert_eq!(store.count_unfinished("key1").await.unwrap(), 2);
    assert_eq!(store.count_unfinished("other").await.unwrap(), 0);
    assert_eq!(
        store.unfinished_before(1_500, 10).await.unwrap(),
        vec!["id-a".to_string()]
    );
    assert_eq!(
        store.unfinished_before(9_000, 1).await.unwrap(),
        vec!["id-a".to_string()]
    );

    // Exactly once: only the current attempt finishes, and only once.
    assert!(store.mark_running("id-a", 1, 10).await.unwrap());
    assert!(store.mark_running("id-a", 2, 11).await.unwrap());
    let rec = store.get("id-a").await.unwrap().unwrap();
    assert_eq!(
        (rec.status, rec.attempt, rec.started_at_ms),
        (Status::Running, 2, Some(11))
    );
    assert!(
        !store.finish("id-a", 1, &accepted(), 20).await.unwrap(),
        "a stale attempt cannot finish"
    );
    assert!(store.finish("id-a", 2, &accepted(), 20).await.unwrap());
    assert!(
        !store.finish("id-a", 2, &accepted(), 21).await.unwrap(),
        "finished twice"
    );
    assert!(
        !store.mark_running("id-a", 3, 22).await.unwrap(),
        "a final submission does not run again"
    );
    let rec = store.get("id-a").await.unwrap().unwrap();
    assert_eq!(rec.status, Status::Accepted);
    assert_eq!(rec.report.unwrap().stdout, "ok\n");
    assert_eq!(rec.finished_at_ms, Some(20));
    assert_eq!(store.count_unfinished("key1").await.unwrap(), 1);
    assert_eq!(
        store.unfinished_before(9_000, 10).await.unwrap(),
        vec!["id-b".to_string()]
    );

    // release: only the attempt that runs it.
    assert!(store.mark_running("id-b", 1, 30).await.unwrap());
    store.release("id-b", 7).await.unwrap();
    assert_eq!(
        store.get("id-b").await.unwrap().unwrap().status,
        Status::Running
    );
    store.release("id-b", 1).await.unwrap();
    assert_eq!(
        store.get("id-b").await.unwrap().unwrap().status,
        Status::Queued
    );

    // requeue_interrupted (embedded start): running → queued, oldest first.
    store.insert(&[c]).await.unwrap();
    assert!(store.mark_running("id-c", 1, 40).await.unwrap());
    let ids = store.requeue_interrupted().await.unwrap();
    assert_eq!(ids.first().map(String::as_str), Some("id-b"));
    assert!(ids.contains(&"id-c".to_string()) && !ids.contains(&"id-a".to_string()));
    assert_eq!(
        store.get("id-c").await.unwrap().unwrap().status,
        Status::Queued
    );

    // Retention deletes finished results older than the cutoff, nothing else.
    assert_eq!(store.purge_finished_before(20).await.unwrap(), 0);
    assert_eq!(store.purge_finished_before(21).await.unwrap(), 1);
    assert!(store.get("id-a").await.unwrap().is_none());
    assert!(
        store.get("id-b").await.unwrap().is_some(),
        "unfinished are kept"
    );

    // delete (a refused enqueue).
    store.delete(&["id-b".into(), "id-c".into()]).await.unwrap();
    store.delete(&[]).await.unwrap();
    assert!(store
        .get_many(&["id-b".into(), "id-c".into()])
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn sqlite_store_passes_the_store_suite() {
    let dir = tempfile::tempdir().unwrap();
    let pool = kiln_server::sqlite::open(dir.path(), Default::default())
        .await
        .unwrap();
    suite(&SqliteStore::new(pool)).await;
}

#[tokio::test]
async fn postgres_store_passes_the_store_suite() {
    let pg = PgServer::start();
    let store = PgStore::connect(&pg.url()).await.unwrap();
    suite(&store).await;
    // Migrations are versioned: a second start applies nothing and keeps data.
    store.insert(&[new_submission("kept")]).await.unwrap();
    let again = PgStore::connect(&pg.url()).await.unwrap();
    assert!(again.get("id-kept").await.unwrap().is_some());
    let versions: Vec<i32> =
        sqlx::query_scalar("SELECT version FROM kiln_migrations ORDER BY version")
            .fetch_all(again.pool())
            .await
            .unwrap();
    assert_eq!(
        versions,
        (1..=kiln_server::store::postgres::MIGRATIONS.len() as i32).collect::<Vec<_>>()
    );
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE tablename = 'submissions'",
    )
    .fetch_all(again.pool())
    .await
    .unwrap();
    for want in [
        "submissions_pkey",
        "submissions_owner",
        "submissions_finished",
        "submissions_unfinished",
    ] {
        assert!(
            indexes.iter().any(|i| i == want),
            "index {want} missing: {indexes:?}"
        );
    }
}
