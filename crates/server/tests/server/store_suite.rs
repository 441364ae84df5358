//! One test suite for every [`Store`]: the same checks run against the embedded
//! SQLite store and against PostgreSQL (a private cluster started by the test).

use kiln_engine::{Report, Status};
use kiln_server::store::{postgres::PgStore, sqlite::SqliteStore, ListFilter, Store};
use kiln_testsupport::PgServer;

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

    list_suite(store).await;

    // delete (a refused enqueue).
    store.delete(&["id-b".into(), "id-c".into()]).await.unwrap();
    store.delete(&[]).await.unwrap();
    assert!(store
        .get_many(&["id-b".into(), "id-c".into()])
        .await
        .unwrap()
        .is_empty());
}

/// `list`: per owner, filtered, newest first, paged by `(created_at_ms, id)`.
async fn list_suite(store: &dyn Store) {
    let mut subs = Vec::new();
    for i in 0..7 {
        let mut s = new_submission(&format!("l{i}"));
        s.owner = Some(if i % 2 == 0 { "even" } else { "odd" }.into());
        // Two pairs share a millisecond: the id orders them.
        s.created_at_ms = 100_000 + (i / 2) * 10;
        if i == 6 {
            s.submission.language = "c".into();
        }
        subs.push(s);
    }
    store.insert(&subs).await.unwrap();
    assert!(store.mark_running("id-l4", 1, 1).await.unwrap());
    assert!(store
        .finish("id-l4", 1, &accepted(), 100_100)
        .await
        .unwrap());
    let ids = |v: Vec<kiln_server::store::SubmissionSummary>| -> Vec<String> {
        v.into_iter().map(|r| r.id).collect()
    };
    let even = |limit| ListFilter {
        owner: Some("even".into()),
        limit,
        ..Default::default()
    };
    let all = ids(store.list(&even(10)).await.unwrap());
    assert_eq!(
        all,
        ["id-l6", "id-l4", "id-l2", "id-l0"],
        "one owner's, newest first"
    );
    // Pages of two, each continuing from the last row of the one before.
    let first = store.list(&even(2)).await.unwrap();
    let last = first.last().unwrap();
    let cursor = (last.created_at_ms, last.id.clone());
    assert_eq!(ids(first), ["id-l6", "id-l4"]);
    let next = ListFilter {
        before: Some(cursor),
        ..even(2)
    };
    assert_eq!(ids(store.list(&next).await.unwrap()), ["id-l2", "id-l0"]);
    // The same millisecond: id l3 before l2 (ids descending) across a page edge.
    let odd_then_even = ListFilter {
        owner: None,
        since_ms: Some(100_010),
        until_ms: Some(100_020),
        limit: 1,
        ..Default::default()
    };
    let page = store.list(&odd_then_even).await.unwrap();
    assert_eq!(ids(page.clone()), ["id-l3"]);
    let rest = ListFilter {
        before: Some((page[0].created_at_ms, page[0].id.clone())),
        limit: 5,
        ..odd_then_even
    };
    assert_eq!(ids(store.list(&rest).await.unwrap()), ["id-l2"]);
    let filtered = ListFilter {
        status: Some(Status::Accepted),
        ..even(10)
    };
    let done = store.list(&filtered).await.unwrap();
    let summary = done[0]
        .result
        .as_ref()
        .expect("a finished row has its summary");
    assert_eq!((summary.tests, summary.exit_code), (0, None));
    assert_eq!(done[0].finished_at_ms, Some(100_100));
    assert_eq!(ids(done), ["id-l4"]);
    let c_only = ListFilter {
        language: Some("c".into()),
        ..even(10)
    };
    assert_eq!(ids(store.list(&c_only).await.unwrap()), ["id-l6"]);
    assert!(store
        .list(&ListFilter {
            owner: Some("nobody".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap()
        .is_empty());
    let gone: Vec<String> = (0..7).map(|i| format!("id-l{i}")).collect();
    store.delete(&gone).await.unwrap();
}

/// A database made by the hand-written migrator of earlier releases
/// (`PRAGMA user_version = 1`, same tables) adopts the migration files and keeps its rows.
#[tokio::test]
async fn sqlite_database_of_an_earlier_release_is_migrated_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("kiln.db").display());
    {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let v1 =
            include_str!("../../migrations/sqlite/0001_initial.sql").replace(" IF NOT EXISTS", "");
        sqlx::raw_sql(&v1).execute(&pool).await.unwrap();
        sqlx::raw_sql("PRAGMA user_version = 1; INSERT INTO submissions (id, language, request, status, created_at_ms) VALUES ('old', 'python', '{}', 'queued', 5)")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let pool = kiln_server::sqlite::open(dir.path(), Default::default())
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM submissions WHERE id = 'old'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 1, "rows survive the upgrade");
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .unwrap();
    let files: Vec<i64> = kiln_server::sqlite::MIGRATOR
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(applied, files);
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
    // The schema of earlier releases (hand-written migrator, 32-bit attempt):
    // it adopts the migration files and keeps its rows.
    {
        let pool = sqlx::PgPool::connect(&pg.url()).await.unwrap();
        let v1 = include_str!("../../migrations/postgres/0001_initial.sql")
            .replace(" IF NOT EXISTS", "");
        sqlx::raw_sql(&v1).execute(&pool).await.unwrap();
        sqlx::raw_sql(
            "CREATE TABLE kiln_migrations (version INTEGER PRIMARY KEY); \
             INSERT INTO kiln_migrations VALUES (1); \
             INSERT INTO submissions (id, language, request, status, attempt, created_at_ms, finished_at_ms) \
             VALUES ('old', 'python', '{\"language\":\"python\",\"files\":[]}', 'accepted', 3, 5, 9000000000000)",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    let store = PgStore::connect(&pg.url()).await.unwrap();
    let old = store.get("old").await.unwrap().expect("kept");
    assert_eq!((old.attempt, old.status), (3, Status::Accepted));
    suite(&store).await;
    // Migrations are versioned: a second start applies nothing and keeps data.
    store.insert(&[new_submission("kept")]).await.unwrap();
    let again = PgStore::connect(&pg.url()).await.unwrap();
    assert!(again.get("id-kept").await.unwrap().is_some());
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(again.pool())
            .await
            .unwrap();
    let files: Vec<i64> = kiln_server::store::postgres::MIGRATOR
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(versions, files);
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
        "submissions_owner_created",
        "submissions_created",
    ] {
        assert!(
            indexes.iter().any(|i| i == want),
            "index {want} missing: {indexes:?}"
        );
    }
}
