//! The one SQL implementation of [`Store`](super::Store), instantiated for
//! SQLite and PostgreSQL by [`sql_store!`]. Both backends share the schema's
//! shape (`migrations/{sqlite,postgres}/*.sql`, every integer 64-bit), the
//! statements (`$N` placeholders, which SQLite reads as numbered names) and the
//! row decoder; what differs is passed in: the pool type and the column that
//! orders rows inserted in the same millisecond.
//!
//! A macro rather than a generic `impl<DB: Database>`: the generic version
//! needs a dozen higher-ranked `Encode`/`Decode`/`Executor` bounds that say
//! nothing to a reader, while the expansion is plain sqlx code per backend.

/// The columns every read selects, in [`record`]'s order.
pub(crate) const COLUMNS: &str = "id, request, callback_url, owner, status, attempt, report, \
     created_at_ms, started_at_ms, finished_at_ms, callback_kind, callback_state, \
     callback_attempts, callback_error, callback_at_ms";

/// The columns of a listing, in [`summary`]'s order (no source, no output).
pub(crate) const SUMMARY_COLUMNS: &str =
    "id, language, status, summary, created_at_ms, started_at_ms, finished_at_ms";

/// Implements `Store` for `$store` (a struct with a `pool: sqlx::Pool<$db>`
/// field for reads, and `fn writer(&self, Durability) -> &sqlx::Pool<$db>`
/// giving the pool a write commits on: see [`super::Durability`]).
macro_rules! sql_store {
    ($store:ty, $db:ty, tiebreak = $tiebreak:literal) => {
        fn record(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::store::SubmissionRecord, $crate::store::StoreError> {
            use sqlx::Row;
            let status: String = row.try_get("status")?;
            let report: Option<String> = row.try_get("report")?;
            let kind: Option<String> = row.try_get("callback_kind")?;
            let state: Option<String> = row.try_get("callback_state")?;
            let callback = match state {
                Some(state) => Some($crate::store::CallbackStatus {
                    state,
                    attempts: u32::try_from(row.try_get::<i64, _>("callback_attempts")?)
                        .unwrap_or(u32::MAX),
                    last_error: row.try_get("callback_error")?,
                    at_ms: row.try_get("callback_at_ms")?,
                }),
                None => None,
            };
            Ok($crate::store::SubmissionRecord {
                id: row.try_get("id")?,
                submission: serde_json::from_str(row.try_get::<&str, _>("request")?)?,
                callback_url: row.try_get("callback_url")?,
                callback_kind: $crate::store::CallbackKind::parse(kind.as_deref()),
                callback,
                owner: row.try_get("owner")?,
                status: status.parse().map_err($crate::store::StoreError::Status)?,
                attempt: u32::try_from(row.try_get::<i64, _>("attempt")?).unwrap_or(u32::MAX),
                report: report
                    .map(|r| kiln_engine::stored::from_json(&r))
                    .transpose()?,
                created_at_ms: row.try_get("created_at_ms")?,
                started_at_ms: row.try_get("started_at_ms")?,
                finished_at_ms: row.try_get("finished_at_ms")?,
            })
        }

        fn summary(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::store::SubmissionSummary, $crate::store::StoreError> {
            use sqlx::Row;
            let status: String = row.try_get("status")?;
            let result: Option<String> = row.try_get("summary")?;
            Ok($crate::store::SubmissionSummary {
                id: row.try_get("id")?,
                language: row.try_get("language")?,
                status: status.parse().map_err($crate::store::StoreError::Status)?,
                result: result.map(|r| serde_json::from_str(&r)).transpose()?,
                created_at_ms: row.try_get("created_at_ms")?,
                started_at_ms: row.try_get("started_at_ms")?,
                finished_at_ms: row.try_get("finished_at_ms")?,
            })
        }

        /// `SELECT … WHERE id IN (…)`-style builder over a list of ids.
        fn with_ids<'a>(
            head: &str,
            ids: &'a [String],
            tail: &str,
        ) -> sqlx::QueryBuilder<'a, $db> {
            let mut q = sqlx::QueryBuilder::<$db>::new(head);
            q.push(" (");
            let mut sep = q.separated(", ");
            for id in ids {
                sep.push_bind(id);
            }
            q.push(")");
            q.push(tail);
            q
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn insert(
                &self,
                subs: &[$crate::store::NewSubmission],
            ) -> Result<(), $crate::store::StoreError> {
                let mut tx = self.writer($crate::store::Durability::Lazy).begin().await?;
                for s in subs {
                    sqlx::query(
                        "INSERT INTO submissions (id, language, request, callback_url, owner, status, created_at_ms, callback_kind) \
                         VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7)",
                    )
                    .bind(&s.id)
                    .bind(&s.submission.language)
                    .bind(serde_json::to_string(&s.submission)?)
                    .bind(&s.callback_url)
                    .bind(&s.owner)
                    .bind(s.created_at_ms)
                    .bind(s.callback_kind.as_str())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn delete(&self, ids: &[String]) -> Result<(), $crate::store::StoreError> {
                if ids.is_empty() {
                    return Ok(());
                }
                with_ids("DELETE FROM submissions WHERE id IN", ids, "")
                    .build()
                    .execute(self.writer($crate::store::Durability::Lazy))
                    .await?;
                Ok(())
            }

            async fn get(
                &self,
                id: &str,
            ) -> Result<Option<$crate::store::SubmissionRecord>, $crate::store::StoreError> {
                let sql = format!("SELECT {} FROM submissions WHERE id = $1", $crate::store::sql::COLUMNS);
                let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map(record).transpose()
            }

            async fn get_many(
                &self,
                ids: &[String],
            ) -> Result<Vec<$crate::store::SubmissionRecord>, $crate::store::StoreError> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let head = format!("SELECT {} FROM submissions WHERE id IN", $crate::store::sql::COLUMNS);
                with_ids(&head, ids, "")
                    .build()
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(record)
                    .collect()
            }

            async fn list(
                &self,
                f: &$crate::store::ListFilter,
            ) -> Result<Vec<$crate::store::SubmissionSummary>, $crate::store::StoreError> {
                let mut q = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {} FROM submissions WHERE 1 = 1",
                    $crate::store::sql::SUMMARY_COLUMNS
                ));
                if let Some(owner) = &f.owner {
                    q.push(" AND owner = ").push_bind(owner);
                }
                if let Some(status) = f.status {
                    q.push(" AND status = ").push_bind(status.as_str());
                }
                if let Some(language) = &f.language {
                    q.push(" AND language = ").push_bind(language);
                }
                if let Some(ms) = f.since_ms {
                    q.push(" AND created_at_ms >= ").push_bind(ms);
                }
                if let Some(ms) = f.until_ms {
                    q.push(" AND created_at_ms < ").push_bind(ms);
                }
                if let Some((ms, id)) = &f.before {
                    q.push(" AND (created_at_ms < ").push_bind(*ms);
                    q.push(" OR (created_at_ms = ").push_bind(*ms);
                    q.push(" AND id < ").push_bind(id);
                    q.push("))");
                }
                q.push(" ORDER BY created_at_ms DESC, id DESC LIMIT ")
                    .push_bind(i64::from(f.limit));
                q.build()
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(summary)
                    .collect()
            }

            async fn mark_running(
                &self,
                id: &str,
                attempt: u32,
                now_ms: i64,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query(
                    "UPDATE submissions SET status = 'running', attempt = $1, started_at_ms = $2 \
                     WHERE id = $3 AND status IN ('queued', 'running')",
                )
                .bind(i64::from(attempt))
                .bind(now_ms)
                .bind(id)
                .execute(self.writer($crate::store::Durability::Lazy))
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn finish(
                &self,
                id: &str,
                attempt: u32,
                report: &kiln_engine::Report,
                now_ms: i64,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query(
                    "UPDATE submissions SET status = $1, report = $2, finished_at_ms = $3, summary = $4, \
                     callback_state = CASE WHEN callback_url IS NULL THEN NULL ELSE 'pending' END, \
                     callback_next_at_ms = $3 \
                     WHERE id = $5 AND attempt = $6 AND status IN ('queued', 'running')",
                )
                .bind(report.status.as_str())
                .bind(kiln_engine::stored::to_json(report)?)
                .bind(now_ms)
                .bind(serde_json::to_string(&$crate::store::ResultSummary::of(report))?)
                .bind(id)
                .bind(i64::from(attempt))
                .execute(self.writer($crate::store::Durability::Durable))
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn claim_callbacks(
                &self,
                now_ms: i64,
                hold_ms: i64,
                limit: u32,
            ) -> Result<Vec<$crate::store::CallbackJob>, $crate::store::StoreError> {
                use sqlx::Row;
                let due = sqlx::query(
                    "SELECT id, callback_url, callback_kind, callback_attempts, callback_next_at_ms \
                     FROM submissions WHERE callback_state = 'pending' AND callback_next_at_ms <= $1 \
                     ORDER BY callback_next_at_ms LIMIT $2",
                )
                .bind(now_ms)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                let mut claimed = Vec::with_capacity(due.len());
                for row in &due {
                    let id: String = row.try_get("id")?;
                    let at: i64 = row.try_get("callback_next_at_ms")?;
                    // Claimed by whoever moves the due time first.
                    let won = sqlx::query(
                        "UPDATE submissions SET callback_next_at_ms = $1 \
                         WHERE id = $2 AND callback_state = 'pending' AND callback_next_at_ms = $3",
                    )
                    .bind(now_ms + hold_ms)
                    .bind(&id)
                    .bind(at)
                    .execute(self.writer($crate::store::Durability::Lazy))
                    .await?
                    .rows_affected()
                        == 1;
                    if won {
                        let kind: Option<String> = row.try_get("callback_kind")?;
                        claimed.push($crate::store::CallbackJob {
                            id,
                            url: row.try_get::<Option<String>, _>("callback_url")?.unwrap_or_default(),
                            kind: $crate::store::CallbackKind::parse(kind.as_deref()),
                            attempts: u32::try_from(row.try_get::<i64, _>("callback_attempts")?)
                                .unwrap_or(u32::MAX),
                        });
                    }
                }
                Ok(claimed)
            }

            async fn callback_done(
                &self,
                id: &str,
                outcome: &$crate::store::CallbackOutcome,
                now_ms: i64,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::CallbackOutcome as O;
                let (state, error, next, at) = match outcome {
                    O::Delivered => ("delivered", None, None, Some(now_ms)),
                    O::Retry { error, next_at_ms } => ("pending", Some(error.as_str()), Some(*next_at_ms), None),
                    O::Failed { error } => ("failed", Some(error.as_str()), None, Some(now_ms)),
                };
                sqlx::query(
                    "UPDATE submissions SET callback_state = $1, callback_error = COALESCE($2, callback_error), \
                     callback_next_at_ms = $3, callback_at_ms = $4, callback_attempts = callback_attempts + 1 \
                     WHERE id = $5 AND callback_state = 'pending'",
                )
                .bind(state)
                .bind(error)
                .bind(next)
                .bind(at)
                .bind(id)
                .execute(self.writer($crate::store::Durability::Lazy))
                .await?;
                Ok(())
            }

            async fn release(&self, id: &str, attempt: u32) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "UPDATE submissions SET status = 'queued' \
                     WHERE id = $1 AND attempt = $2 AND status = 'running'",
                )
                .bind(id)
                .bind(i64::from(attempt))
                .execute(self.writer($crate::store::Durability::Lazy))
                .await?;
                Ok(())
            }

            async fn requeue_interrupted(&self) -> Result<Vec<String>, $crate::store::StoreError> {
                sqlx::query("UPDATE submissions SET status = 'queued' WHERE status = 'running'")
                    .execute(self.writer($crate::store::Durability::Durable))
                    .await?;
                let ids = sqlx::query_scalar(concat!(
                    "SELECT id FROM submissions WHERE status = 'queued' ORDER BY created_at_ms, ",
                    $tiebreak
                ))
                .fetch_all(&self.pool)
                .await?;
                Ok(ids)
            }

            async fn count_unfinished(&self, owner: &str) -> Result<u64, $crate::store::StoreError> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM submissions WHERE owner = $1 AND status IN ('queued', 'running')",
                )
                .bind(owner)
                .fetch_one(&self.pool)
                .await?;
                Ok(n.max(0) as u64)
            }

            async fn unfinished_before(
                &self,
                cutoff_ms: i64,
                limit: u32,
            ) -> Result<Vec<String>, $crate::store::StoreError> {
                let ids = sqlx::query_scalar(
                    "SELECT id FROM submissions WHERE status IN ('queued', 'running') AND created_at_ms < $1 \
                     ORDER BY created_at_ms LIMIT $2",
                )
                .bind(cutoff_ms)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(ids)
            }

            async fn purge_finished_before(&self, cutoff_ms: i64) -> Result<u64, $crate::store::StoreError> {
                let done = sqlx::query(
                    "DELETE FROM submissions WHERE finished_at_ms IS NOT NULL AND finished_at_ms < $1",
                )
                .bind(cutoff_ms)
                .execute(self.writer($crate::store::Durability::Lazy))
                .await?;
                Ok(done.rows_affected())
            }

            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
        }
    };
}

pub(crate) use sql_store;
