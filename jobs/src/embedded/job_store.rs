//! The embedded [`JobStore`]: job records in the `jobs` table of a [`SqliteDb`], used by
//! `soyl serve` (the submitter creates, reads, cancels and lists; the worker claims and finishes).
//!
//! Each row holds the whole [`Job`] as JSON (`record`) next to the columns that queries and
//! conditions need (tenant, status, batch, idempotency key, lease). Every transition reads the
//! record, decides, and writes record and columns back in one `IMMEDIATE` transaction, with an
//! `UPDATE ... WHERE status = ? AND lease_holder IS ?` that repeats the check in SQL, so a stale
//! lease holder or a late duplicate can never overwrite a terminal state. The decisions themselves
//! are shared with the AWS store (`transitions.rs`).

use super::db::{abort, instant_ms, write_transaction, SqliteDb};
use crate::transitions;
use crate::{
    BatchCounts, CancelOutcome, ClaimOutcome, CreateOutcome, Error, Job, JobError, JobId, JobStore,
    Lease, ListFilter, Page, Result, Status, Tenant, WebhookOutcome,
};
use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, OptionalExtension, Savepoint};
use time::OffsetDateTime;

/// Page size of [`JobStore::list`] when the filter asks for 0.
const DEFAULT_PAGE: usize = 100;
/// Largest page of [`JobStore::list`].
const MAX_PAGE: usize = 1000;

/// Job records in SQLite. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteJobStore {
    db: SqliteDb,
}

impl SqliteJobStore {
    /// The job store of `db` (its table is created when the database is opened).
    pub fn open(db: &SqliteDb) -> Result<SqliteJobStore> {
        Ok(SqliteJobStore { db: db.clone() })
    }

    /// Reads job `id` (only if it belongs to `tenant`, when given), lets `decide` look at it,
    /// and writes back the job `decide` returns, if any: all in one write transaction. The write
    /// is conditional on the status and lease holder that were read.
    async fn transition<T>(
        &self,
        operation: &'static str,
        id: &JobId,
        tenant: Option<&Tenant>,
        decide: impl FnOnce(Option<Job>, OffsetDateTime) -> (Option<Job>, T) + Send + 'static,
    ) -> Result<T>
    where
        T: Send + 'static,
    {
        let id = id.to_string();
        let tenant = tenant.map(|t| t.as_str().to_owned());
        self.db
            .call(operation, move |conn| {
                let tx = write_transaction(conn)?;
                let current = tx
                    .prepare_cached(
                        "SELECT record FROM jobs WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)",
                    )?
                    .query_row(params![id, tenant], |row| row.get::<_, String>(0))
                    .optional()?
                    .map(|record| decode(&id, &record))
                    .transpose()?;
                let was = current
                    .as_ref()
                    .map(|job| (job.status, job.lease.as_ref().map(|l| l.holder.clone())));
                let (changed, outcome) = decide(current, OffsetDateTime::now_utc());
                if let (Some(job), Some((status, holder))) = (changed, was) {
                    write(&tx, &job, status, holder.as_deref())?;
                }
                tx.commit()?;
                Ok(outcome)
            })
            .await
    }
}

/// Writes `job` over its row if the row still has `status` and lease `holder`.
fn write(
    tx: &Savepoint<'_>,
    job: &Job,
    status: Status,
    holder: Option<&str>,
) -> rusqlite::Result<()> {
    let id = job.id.to_string();
    let changed = tx
        .prepare_cached(
            "UPDATE jobs
             SET status = ?4, lease_holder = ?5, lease_expires_at = ?6, record = ?7
             WHERE id = ?1 AND status = ?2 AND lease_holder IS ?3",
        )?
        .execute(params![
            id,
            status.as_str(),
            holder,
            job.status.as_str(),
            job.lease.as_ref().map(|l| l.holder.as_str()),
            job.lease.as_ref().map(|l| instant_ms(l.expires_at)),
            encode(job)?,
        ])?;
    if changed != 1 {
        // The transaction holds the write lock since the read: the row cannot have moved.
        return Err(abort(Error::Backend {
            backend: "sqlite",
            operation: "write job",
            message: format!("job {id} changed between read and write inside one transaction"),
        }));
    }
    Ok(())
}

fn encode(job: &Job) -> rusqlite::Result<String> {
    serde_json::to_string(job).map_err(|e| {
        abort(Error::Backend {
            backend: "sqlite",
            operation: "encode job",
            message: format!("job {}: {e}", job.id),
        })
    })
}

/// The tenant's job created under idempotency key `key`, if any.
fn by_idempotency_key(
    conn: &rusqlite::Connection,
    tenant: &str,
    key: &str,
) -> rusqlite::Result<Option<Job>> {
    conn.prepare_cached("SELECT id, record FROM jobs WHERE tenant = ?1 AND idempotency_key = ?2")?
        .query_row(params![tenant, key], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .optional()?
        .map(|(id, record)| decode(&id, &record))
        .transpose()
}

fn decode(id: &str, record: &str) -> rusqlite::Result<Job> {
    serde_json::from_str(record).map_err(|e| {
        abort(Error::Corrupt {
            key: format!("job {id}"),
            message: e.to_string(),
        })
    })
}

#[async_trait]
impl JobStore for SqliteJobStore {
    async fn create(&self, job: &Job) -> Result<CreateOutcome> {
        let record = serde_json::to_string(job).map_err(|e| Error::Backend {
            backend: "sqlite",
            operation: "create job",
            message: format!("encoding job {}: {e}", job.id),
        })?;
        let id = job.id.to_string();
        let tenant = job.tenant.as_str().to_owned();
        let status = job.status.as_str();
        let batch_id = job.options.batch_id.clone();
        let key = job.idempotency_key.clone();
        let lease_holder = job.lease.as_ref().map(|l| l.holder.clone());
        let lease_expires_at = job.lease.as_ref().map(|l| instant_ms(l.expires_at));
        let created_at = instant_ms(job.created_at);
        self.db
            .call("create job", move |conn| {
                let tx = write_transaction(conn)?;
                if let Some(key) = &key {
                    if let Some(job) = by_idempotency_key(&tx, &tenant, key)? {
                        return Ok(CreateOutcome::Existing(Box::new(job)));
                    }
                }
                tx.prepare_cached(
                    "INSERT INTO jobs (id, tenant, status, batch_id, idempotency_key,
                                       lease_holder, lease_expires_at, record, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?
                .execute(params![
                    id,
                    tenant,
                    status,
                    batch_id,
                    key,
                    lease_holder,
                    lease_expires_at,
                    record,
                    created_at
                ])?;
                tx.commit()?;
                Ok(CreateOutcome::Created)
            })
            .await
    }

    async fn find_idempotent(&self, tenant: &Tenant, key: &str) -> Result<Option<Job>> {
        let tenant = tenant.as_str().to_owned();
        let key = key.to_owned();
        self.db
            .call("find job by idempotency key", move |conn| {
                by_idempotency_key(conn, &tenant, &key)
            })
            .await
    }

    async fn get(&self, tenant: &Tenant, id: &JobId) -> Result<Option<Job>> {
        let id = id.to_string();
        let tenant = tenant.as_str().to_owned();
        self.db
            .call("get job", move |conn| {
                conn.prepare_cached("SELECT record FROM jobs WHERE id = ?1 AND tenant = ?2")?
                    .query_row(params![id, tenant], |row| row.get::<_, String>(0))
                    .optional()?
                    .map(|record| decode(&id, &record))
                    .transpose()
            })
            .await
    }

    async fn claim(&self, id: &JobId, lease: &Lease) -> Result<ClaimOutcome> {
        let lease = lease.clone();
        self.transition("claim job", id, None, move |job, now| {
            transitions::claim(job, &lease, now)
        })
        .await
    }

    async fn renew(&self, id: &JobId, holder: &str, expires_at: OffsetDateTime) -> Result<bool> {
        let holder = holder.to_owned();
        self.transition("renew lease", id, None, move |job, _now| {
            transitions::renew(job, &holder, expires_at)
        })
        .await
    }

    async fn requeue(&self, id: &JobId, holder: &str) -> Result<bool> {
        let holder = holder.to_owned();
        self.transition("requeue job", id, None, move |job, _now| {
            transitions::requeue(job, &holder)
        })
        .await
    }

    async fn complete(&self, id: &JobId, holder: &str, result: &serde_json::Value) -> Result<bool> {
        let holder = holder.to_owned();
        let result = result.clone();
        self.transition("complete job", id, None, move |job, now| {
            transitions::complete(job, &holder, &result, now)
        })
        .await
    }

    async fn fail(&self, id: &JobId, holder: Option<&str>, error: &JobError) -> Result<bool> {
        let holder = holder.map(str::to_owned);
        let error = error.clone();
        self.transition("fail job", id, None, move |job, now| {
            transitions::fail(job, holder.as_deref(), &error, now)
        })
        .await
    }

    async fn cancel(&self, tenant: &Tenant, id: &JobId) -> Result<CancelOutcome> {
        self.transition("cancel job", id, Some(tenant), transitions::cancel)
            .await
    }

    async fn count_active(&self, tenant: &Tenant) -> Result<u64> {
        let tenant = tenant.as_str().to_owned();
        self.db
            .call("count active jobs", move |conn| {
                conn.prepare_cached(
                    "SELECT COUNT(*) FROM jobs WHERE tenant = ?1 AND status IN ('queued', 'running')",
                )?
                .query_row(params![tenant], |row| row.get::<_, i64>(0))
                .map(|n| n.max(0) as u64)
            })
            .await
    }

    async fn batch_counts(&self, tenant: &Tenant, batch_id: &str) -> Result<BatchCounts> {
        let (tenant, batch) = (tenant.as_str().to_owned(), batch_id.to_owned());
        // Walks the (tenant, batch_id, id) index and the status column: no record is decoded.
        let (rows, first) = self
            .db
            .call("count batch jobs", move |conn| {
                let rows = conn
                    .prepare_cached(
                        "SELECT status, COUNT(*) FROM jobs WHERE tenant = ?1 AND batch_id = ?2 \
                         GROUP BY status",
                    )?
                    .query_map(params![tenant, batch], |row| {
                        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let first = conn
                    .prepare_cached("SELECT MIN(id) FROM jobs WHERE tenant = ?1 AND batch_id = ?2")?
                    .query_row(params![tenant, batch], |row| {
                        row.get::<_, Option<String>>(0)
                    })?;
                Ok((rows, first))
            })
            .await?;
        let mut counts = BatchCounts {
            first: first.map(|id| id.parse()).transpose()?,
            ..BatchCounts::default()
        };
        for (status, n) in rows {
            let n = n.max(0) as u64;
            match status.parse::<Status>()? {
                Status::Queued => counts.queued = n,
                Status::Running => counts.running = n,
                Status::Succeeded => counts.succeeded = n,
                Status::Failed => counts.failed = n,
                Status::Cancelled => counts.cancelled = n,
            }
        }
        Ok(counts)
    }

    async fn list(&self, tenant: &Tenant, filter: &ListFilter) -> Result<Page> {
        let limit = match filter.limit {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        // Only the conditions asked for go into the SQL, so that SQLite can pick the index that
        // matches them ((tenant, status, id) or (tenant, batch_id, id)).
        let mut sql = String::from("SELECT id, record FROM jobs WHERE tenant = ?");
        let mut args = vec![Value::Text(tenant.as_str().to_owned())];
        if let Some(status) = filter.status {
            sql.push_str(" AND status = ?");
            args.push(Value::Text(status.as_str().to_owned()));
        }
        if let Some(batch_id) = &filter.batch_id {
            sql.push_str(" AND batch_id = ?");
            args.push(Value::Text(batch_id.clone()));
        }
        if let Some(after) = &filter.after {
            sql.push_str(" AND id > ?");
            args.push(Value::Text(after.to_string()));
        }
        sql.push_str(" ORDER BY id LIMIT ?");
        args.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        let jobs = self
            .db
            .call("list jobs", move |conn| {
                let mut select = conn.prepare_cached(&sql)?;
                let rows = select.query_map(params_from_iter(args), |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?;
                rows.map(|row| row.and_then(|(id, record)| decode(&id, &record)))
                    .collect::<rusqlite::Result<Vec<Job>>>()
            })
            .await?;
        let next = if jobs.len() == limit {
            jobs.last().map(|job| job.id)
        } else {
            None
        };
        Ok(Page { jobs, next })
    }

    async fn unclaimed_before(&self, before: OffsetDateTime, limit: usize) -> Result<Vec<Job>> {
        let before = instant_ms(before);
        let limit = i64::try_from(limit.min(MAX_PAGE)).unwrap_or(i64::MAX);
        self.db
            .call("list unclaimed jobs", move |conn| {
                let mut select = conn.prepare_cached(
                    "SELECT id, record FROM jobs
                     WHERE status = 'queued' AND created_at < ?1
                       AND json_extract(record, '$.attempts') = 0
                     ORDER BY created_at LIMIT ?2",
                )?;
                let rows = select.query_map(params![before, limit], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })?;
                rows.map(|row| row.and_then(|(id, record)| decode(&id, &record)))
                    .collect::<rusqlite::Result<Vec<Job>>>()
            })
            .await
    }

    async fn record_webhook(&self, id: &JobId, outcome: &WebhookOutcome) -> Result<()> {
        let outcome = outcome.clone();
        let found = self
            .transition("record webhook", id, None, move |job, _now| {
                transitions::record_webhook(job, &outcome)
            })
            .await?;
        if found {
            Ok(())
        } else {
            Err(Error::NotFound {
                what: "job",
                key: id.to_string(),
            })
        }
    }
}
