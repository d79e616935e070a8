//! The one SQLite file behind the embedded queue and job store.
//!
//! [`SqliteDb`] opens the file in WAL mode, creates the schema, and runs every statement on the
//! connection's own thread through [`SqliteDb::call`]: SQLite is a blocking library and must never
//! run on an async worker thread. [`super::SqliteQueue`] and [`super::SqliteJobStore`] share one
//! `SqliteDb` (clone it; the clones share the connection), so a process has one writer and the
//! transactions of the two adapters run one after another on that thread. (A hop to tokio's
//! blocking pool per statement, each pool thread then waiting on a connection mutex, cost a
//! measurable share of a job's CPU in thread hand-offs: see docs/performance.md.)
//!
//! The process also keeps here, per queue name, the [`Notify`] that lets a `send` wake the long
//! polls waiting on the same queue in this process.

use crate::{Error, Result};
use rusqlite::{Connection, ErrorCode, TransactionBehavior};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use time::OffsetDateTime;
use tokio::sync::Notify;

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

/// A closure run on the connection's thread.
type Call = Box<dyn FnOnce(&mut Connection) + Send>;

struct Inner {
    path: PathBuf,
    /// The connection's thread, which runs the calls sent here in order and ends (closing the
    /// connection) when the last clone of the database is dropped.
    calls: std::sync::mpsc::Sender<Call>,
    /// Per queue name: wakes this process's long polls when a message arrives.
    notifiers: Mutex<HashMap<String, Arc<Notify>>>,
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
                for call in queue {
                    call(&mut conn);
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
                notifiers: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The file this database lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` with the connection on its thread and maps its error: busy or locked to
    /// [`Error::Transient`], a crate error carried by [`abort`] to itself, anything else to
    /// [`Error::Backend`] naming `operation`. A panic in `f` resumes in the caller (its open
    /// transaction, dropped while unwinding, rolled back: the connection stays consistent).
    pub(crate) async fn call<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T>
    where
        T: Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let call: Call = Box::new(move |conn| {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(conn)));
            let _ = reply.send(outcome);
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
            Ok(Ok(result)) => result.map_err(|e| map_error(operation, e)),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => Err(stopped()),
        }
    }

    /// The wake-up shared by every handle on queue `queue` of this database in this process.
    pub(crate) fn notifier(&self, queue: &str) -> Arc<Notify> {
        let mut notifiers = lock(&self.inner.notifiers);
        Arc::clone(notifiers.entry(queue.to_owned()).or_default())
    }
}

/// Locks a mutex, taking over a poisoned one (the notifier map is never left half-updated).
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
    let tx = write_transaction(conn)?;
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

/// Starts the write transaction every read-check-write of the adapters runs in: `IMMEDIATE`
/// takes the write lock up front, so a check cannot be invalidated before its write.
pub(crate) fn write_transaction(
    conn: &mut Connection,
) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
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
                    let tx = conn.transaction()?;
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
}
