//! The one SQLite file behind the embedded queue and job store.
//!
//! [`SqliteDb`] opens the file in WAL mode, creates the schema, and runs every statement on the
//! connection's own thread through [`SqliteDb::call`]: SQLite is a blocking library and must never
//! run on an async worker thread. Calls that queue up while the thread is busy run together in
//! one write transaction (a group commit, [`run_group`]): each call in its own savepoint, so a
//! failing call rolls back alone, and every reply waits for the group's commit.
//! [`super::SqliteQueue`] and [`super::SqliteJobStore`] share one
//! `SqliteDb` (clone it; the clones share the connection), so a process has one writer and the
//! transactions of the two adapters run one after another on that thread. (A hop to tokio's
//! blocking pool per statement, each pool thread then waiting on a connection mutex, cost a
//! measurable share of a job's CPU in thread hand-offs: see docs/performance.md.)
//!
//! The process also keeps here, per queue name, the [`Arrivals`] that let a `send` wake the long
//! polls waiting on the same queue in this process.

use super::arrivals::Arrivals;
use crate::{Error, Result};
use rusqlite::{Connection, ErrorCode, Savepoint, TransactionBehavior};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;

/// The schema this build writes, stored in `PRAGMA user_version`. Bump it (and migrate in
/// [`migrate`]) whenever a table changes.
const SCHEMA_VERSION: i64 = 1;

/// Every table of the embedded backend. Times are milliseconds since the Unix epoch.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queue_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    priority      INTEGER NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT,
    sent_at       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_messages_ready ON queue_messages (queue, visible_at, id);
CREATE UNIQUE INDEX IF NOT EXISTS queue_messages_receipt ON queue_messages (receipt);

CREATE TABLE IF NOT EXISTS jobs (
    id               TEXT    PRIMARY KEY NOT NULL,
    tenant           TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    batch_id         TEXT,
    idempotency_key  TEXT,
    lease_holder     TEXT,
    lease_expires_at INTEGER,
    record           TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    UNIQUE (tenant, idempotency_key)
);
CREATE INDEX IF NOT EXISTS jobs_by_tenant ON jobs (tenant, id);
CREATE INDEX IF NOT EXISTS jobs_by_batch ON jobs (tenant, batch_id, id);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (tenant, status, id);
CREATE INDEX IF NOT EXISTS jobs_by_age ON jobs (status, created_at);
";

/// One SQLite database file in WAL mode, shared by the embedded queue and job store.
///
/// Cheap to clone: clones share the connection and the long-poll wake-ups.
#[derive(Clone)]
pub struct SqliteDb {
    inner: Arc<Inner>,
}

/// A closure run on the connection's thread, inside its group's transaction; it returns the
/// reply to send once the group has committed (or failed to).
type Call = Box<dyn FnOnce(&mut Connection) -> Reply + Send>;

/// Sends a call's outcome: its own, or the group's commit error when its writes were lost.
type Reply = Box<dyn FnOnce(Option<&rusqlite::Error>) + Send>;

/// Most calls one group commit runs.
const MAX_GROUP: usize = 64;

struct Inner {
    path: PathBuf,
    /// The connection's thread, which runs the calls sent here in order and ends (closing the
    /// connection) when the last clone of the database is dropped.
    calls: std::sync::mpsc::Sender<Call>,
    /// Per queue name: wakes this process's long polls when a message arrives.
    arrivals: Mutex<HashMap<String, Arc<Arrivals>>>,
}

impl fmt::Debug for SqliteDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteDb")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteDb {
    /// Opens (creating if absent) the database at `path`: WAL journal, `synchronous=NORMAL`,
    /// a 5 s busy timeout, foreign keys on, and the schema created or checked.
    ///
    /// Blocks briefly: call it at startup (or from `spawn_blocking`).
    pub fn open(path: &Path) -> Result<SqliteDb> {
        // The path goes into the message: rusqlite's own open errors do not name the file.
        let context = |operation, e| match map_error(operation, e) {
            Error::Backend { message, .. } => Error::Backend {
                backend: "sqlite",
                operation,
                message: format!("{}: {message}", path.display()),
            },
            other => other,
        };
        let mut conn = Connection::open(path).map_err(|e| context("open", e))?;
        configure(&mut conn).map_err(|e| context("open", e))?;
        migrate(&mut conn).map_err(|e| context("create schema", e))?;
        tracing::debug!(path = %path.display(), "opened sqlite database");
        let (calls, queue) = std::sync::mpsc::channel::<Call>();
        std::thread::Builder::new()
            .name("sqlite".to_owned())
            .spawn(move || {
                while let Ok(first) = queue.recv() {
                    let mut group = vec![first];
                    group.extend(queue.try_iter().take(MAX_GROUP - 1));
                    run_group(&mut conn, group);
                }
            })
            .map_err(|e| Error::Backend {
                backend: "sqlite",
                operation: "open",
                message: format!("{}: cannot start the database thread: {e}", path.display()),
            })?;
        Ok(SqliteDb {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                calls,
                arrivals: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The file this database lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` with the connection on its thread, inside a write transaction shared with the
    /// calls queued beside it, and answers once that transaction has committed. Maps the error:
    /// busy or locked to [`Error::Transient`], a crate error carried by [`abort`] to itself,
    /// anything else to [`Error::Backend`] naming `operation`; a failed commit is every call's
    /// error. A panic in `f` resumes in the caller (its savepoint, dropped while unwinding,
    /// rolled back: the connection and the rest of the group stay consistent).
    pub(crate) async fn call<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T>
    where
        T: Send + 'static,
    {
        if std::env::var_os("SOYL_DB_COUNT").is_some() {
            eprintln!("DBCALL {operation}");
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let call: Call = Box::new(move |conn| {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)));
            Box::new(move |commit_error| {
                let outcome = match (outcome, commit_error) {
                    (Ok(Ok(_)), Some(e)) => Ok(Err(map_error(operation, copy_error(e)))),
                    (Ok(result), _) => Ok(result.map_err(|e| map_error(operation, e))),
                    (Err(panic), _) => Err(panic),
                };
                let _ = reply.send(outcome);
            })
        });
        let stopped = || Error::Backend {
            backend: "sqlite",
            operation,
            message: format!(
                "{}: the database thread has stopped",
                self.inner.path.display()
            ),
        };
        self.inner.calls.send(call).map_err(|_| stopped())?;
        match answer.await {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => Err(stopped()),
        }
    }

    /// The arrivals shared by every handle on queue `queue` of this database in this process.
    pub(crate) fn arrivals(&self, queue: &str) -> Arc<Arrivals> {
        let mut arrivals = lock(&self.inner.arrivals);
        Arc::clone(arrivals.entry(queue.to_owned()).or_default())
    }
}

/// Runs `group` in one write transaction and then sends every reply. `BEGIN IMMEDIATE` takes
/// the write lock up front, so a call's read-check-write cannot be invalidated by another process
/// before its write; each call runs in a savepoint ([`write_transaction`]). One commit writes the
/// pages the calls share (the jobs table, its indexes, the queue) to the WAL once instead of once
/// per call (measured in docs/performance.md). If the lock cannot be had (another process held it
/// past the busy timeout), the calls run one by one, each savepoint its own (deferred)
/// transaction: a call whose read is overtaken by another process's write then fails busy on its
/// own write, which is [`Error::Transient`] and retried, never a write over what it did not see.
fn run_group(conn: &mut Connection, group: Vec<Call>) {
    let grouped = conn.execute_batch("BEGIN IMMEDIATE").is_ok();
    let replies: Vec<Reply> = group.into_iter().map(|call| call(conn)).collect();
    let committed = if grouped {
        conn.execute_batch("COMMIT").inspect_err(|_| {
            // A failed COMMIT may leave the transaction open; the error is already every reply's.
            let _ = conn.execute_batch("ROLLBACK");
        })
    } else {
        Ok(())
    };
    let commit_error = committed.err();
    for reply in replies {
        reply(commit_error.as_ref());
    }
}

/// A commit error for one more call of the group (rusqlite's errors do not clone): the SQLite
/// code survives, so busy still maps to [`Error::Transient`].
fn copy_error(error: &rusqlite::Error) -> rusqlite::Error {
    match error {
        rusqlite::Error::SqliteFailure(failure, message) => {
            rusqlite::Error::SqliteFailure(*failure, message.clone())
        }
        other => rusqlite::Error::ToSqlConversionFailure(other.to_string().into()),
    }
}

/// Locks a mutex, taking over a poisoned one (the arrivals map is never left half-updated).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn configure(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_millis(5000))?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(abort(Error::Backend {
            backend: "sqlite",
            operation: "open",
            message: format!(
                "journal_mode WAL refused (got {mode:?}): is the file on a network share?"
            ),
        }));
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Creates the tables if absent and records the schema version, in one write transaction so that
/// two processes opening a fresh file at once do not interleave. Refuses a file written by a newer
/// build rather than guess at its tables.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(abort(Error::Backend {
            backend: "sqlite",
            operation: "open",
            message: format!(
                "schema version {version} is newer than this build's {SCHEMA_VERSION}"
            ),
        }));
    }
    tx.execute_batch(SCHEMA)?;
    if version < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()
}

/// The unit every read-check-write of the adapters runs in: a savepoint inside its group's write
/// transaction ([`run_group`], which holds the write lock since before the call began, so a check
/// cannot be invalidated before its write). Committing it keeps its writes for the group's
/// commit; dropping it uncommitted (an error, a panic) rolls back this call's writes alone.
pub(crate) fn write_transaction(conn: &mut Connection) -> rusqlite::Result<Savepoint<'_>> {
    conn.savepoint()
}

/// Carries one of this crate's errors (a stale receipt, a corrupt record) out of a
/// [`SqliteDb::call`] closure unchanged; returning it also rolls back the closure's transaction.
/// It rides in rusqlite's one boxed-error variant that needs no crate feature, and [`map_error`]
/// unboxes it; a genuine conversion failure (not one of ours) still maps to a backend error.
pub(crate) fn abort(error: Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(error))
}

fn map_error(operation: &'static str, error: rusqlite::Error) -> Error {
    match error {
        rusqlite::Error::ToSqlConversionFailure(inner) => match inner.downcast::<Error>() {
            Ok(ours) => *ours,
            Err(other) => Error::Backend {
                backend: "sqlite",
                operation,
                message: other.to_string(),
            },
        },
        rusqlite::Error::SqliteFailure(failure, message)
            if matches!(
                failure.code,
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked
            ) =>
        {
            Error::Transient {
                backend: "sqlite",
                operation,
                message: message.unwrap_or_else(|| failure.to_string()),
            }
        }
        other => Error::Backend {
            backend: "sqlite",
            operation,
            message: other.to_string(),
        },
    }
}

/// Now, in milliseconds since the Unix epoch (the unit of every time column).
pub(crate) fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    duration_ms(since_epoch)
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// An instant in milliseconds since the Unix epoch, saturating.
pub(crate) fn instant_ms(at: OffsetDateTime) -> i64 {
    let ms = at.unix_timestamp_nanos() / 1_000_000;
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call that panics mid-transaction panics in its caller, its writes are rolled back, and
    /// the connection's thread goes on serving later calls.
    #[tokio::test]
    async fn a_panicking_call_rolls_back_and_the_thread_goes_on() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("soyl.db")).expect("open");
        let count = || {
            db.call("count", |conn| {
                conn.query_row("SELECT COUNT(*) FROM queue_messages", [], |r| {
                    r.get::<_, i64>(0)
                })
            })
        };
        let panicked = tokio::spawn({
            let db = db.clone();
            async move {
                db.call("insert then panic", |conn| {
                    let tx = write_transaction(conn)?;
                    tx.execute(
                        "INSERT INTO queue_messages (queue, body, priority, visible_at, sent_at)
                         VALUES ('q', '{}', 0, 0, 0)",
                        [],
                    )?;
                    panic!("a bug in a statement closure");
                    #[allow(unreachable_code)]
                    Ok(())
                })
                .await
            }
        })
        .await;
        assert!(panicked.is_err_and(|e| e.is_panic()), "the caller panics");
        assert_eq!(count().await.expect("count after the panic"), 0);
    }

    /// Calls that queue up while the thread is busy commit together, once; a call in the group
    /// that fails rolls back its own writes and not its neighbours'.
    #[tokio::test]
    async fn calls_queued_together_commit_once_and_fail_alone() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SqliteDb::open(&dir.path().join("soyl.db")).expect("open");
        let commits = Arc::new(AtomicUsize::new(0));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started, holding) = tokio::sync::oneshot::channel::<()>();
        // The first call counts commits from here on and holds the thread until the rest queue.
        let blocker = tokio::spawn({
            let (db, commits) = (db.clone(), Arc::clone(&commits));
            async move {
                db.call("hold the thread", move |conn| {
                    conn.commit_hook(Some(move || {
                        commits.fetch_add(1, Ordering::SeqCst);
                        false
                    }));
                    let _ = started.send(());
                    let _ = released.recv();
                    Ok(())
                })
                .await
            }
        });
        holding.await.expect("the holding call started");
        let inserts: Vec<_> = (0..10)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.call("insert", move |conn| {
                        let tx = write_transaction(conn)?;
                        tx.execute(
                            "INSERT INTO queue_messages (queue, body, priority, visible_at, sent_at)
                             VALUES ('q', ?1, 0, 0, 0)",
                            [i.to_string()],
                        )?;
                        if i == 3 {
                            return Err(abort(Error::Corrupt {
                                key: "message 3".into(),
                                message: "refused after its insert".into(),
                            }));
                        }
                        tx.commit()
                    })
                    .await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.send(()).expect("release the thread");
        blocker.await.expect("join").expect("the holding call");
        for (i, insert) in inserts.into_iter().enumerate() {
            let outcome = insert.await.expect("join");
            assert_eq!(outcome.is_err(), i == 3, "insert {i}: {outcome:?}");
        }
        let bodies = db
            .call("bodies", |conn| {
                let mut select = conn.prepare("SELECT body FROM queue_messages ORDER BY id")?;
                let rows = select.query_map([], |r| r.get::<_, String>(0))?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await
            .expect("read back");
        let expected: Vec<String> = (0..10).filter(|&i| i != 3).map(|i| i.to_string()).collect();
        assert_eq!(bodies, expected, "every insert but the failed one is kept");
        // One commit for the holding call's group, one for the ten queued behind it, and one
        // for the read back.
        assert_eq!(commits.load(Ordering::SeqCst), 3);
    }
}
