//! The embedded [`JobQueue`]: a SQLite table with SQS semantics, used by `soyl serve` (the
//! submitter sends, the worker receives) and by tests.
//!
//! Every named queue is a set of rows of one table. A receive makes a message invisible for the
//! visibility timeout and gives it a fresh receipt, so an older receipt is refused once the
//! message has been delivered again; a message already delivered `max_receives` times moves to
//! the queue's dead-letter queue (`{name}-dlq`) on its next receive instead of being delivered,
//! like SQS's `maxReceiveCount`. Long polls wait on the queue's [`Arrivals`] (rung by `send` in
//! this process) or a short poll interval (which finds messages whose visibility timeout lapsed,
//! and messages sent by another process), without holding the database or a blocking thread.
//! A look within that interval of one that found the queue empty, with nothing sent here since,
//! answers empty without a database call (see [`Arrivals`]): so a message from another process
//! can take up to the interval to be seen, by a long poll or a zero-wait receive alike.

use super::arrivals::Arrivals;
use super::db::{duration_ms, now_ms, write_transaction, SqliteDb};
use crate::{Delivery, Error, JobQueue, Priority, QueueMessage, Receipt, Result};
use async_trait::async_trait;
use rusqlite::params;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// At most this many messages per receive, as SQS.
const MAX_BATCH: usize = 10;

/// How often a long poll looks again when no `send` woke it, and how long a look that found the
/// queue empty stands for the next ones.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Settings of one queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// How long a received message stays invisible unless extended, released or acked.
    pub visibility_timeout: Duration,
    /// How many deliveries a message gets before it moves to the dead-letter queue.
    pub max_receives: u32,
}

/// The messages a receive takes: visible now, the longest visible first (ties in send order).
/// Ordered as the `queue_messages_ready (queue, visible_at, id)` index is, so SQLite walks the
/// index and stops after `LIMIT` rows. `ORDER BY id` alone made it sort every visible message
/// on each receive: 22 ms per receive with 200,000 waiting (a bulk reprocess), on the one
/// database thread every submit and result also waits for.
const READY_MESSAGES: &str = "SELECT id, body, receive_count FROM queue_messages
     WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, id LIMIT ?3";

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            visibility_timeout: Duration::from_secs(60),
            max_receives: 5,
        }
    }
}

/// A named queue in a [`SqliteDb`], with SQS semantics. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    db: SqliteDb,
    name: Arc<str>,
    config: QueueConfig,
    /// Rung by `send` on this queue (any handle, this process) to end long polls early.
    arrivals: Arc<Arrivals>,
}

impl SqliteQueue {
    /// The queue `name` (1 to 80 of `A-Z a-z 0-9 _ -`, as SQS) in `db`. Queues need no creation:
    /// any name is a queue, empty until something is sent to it.
    pub fn open(db: &SqliteDb, name: &str, config: QueueConfig) -> Result<SqliteQueue> {
        let name_ok = !name.is_empty()
            && name.len() <= 80
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(Error::Invalid {
                what: "queue name",
                value: name.chars().take(80).collect(),
                reason: "must be 1 to 80 of A-Z a-z 0-9 _ -",
            });
        }
        if config.max_receives == 0 {
            return Err(Error::Invalid {
                what: "queue max_receives",
                value: "0".to_owned(),
                reason: "a message must be deliverable at least once",
            });
        }
        Ok(SqliteQueue::new(db, name, config))
    }

    fn new(db: &SqliteDb, name: &str, config: QueueConfig) -> SqliteQueue {
        SqliteQueue {
            db: db.clone(),
            name: Arc::from(name),
            config,
            arrivals: db.arrivals(name),
        }
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The dead-letter queue (`{name}-dlq`) that messages move to after `max_receives`
    /// deliveries. Nothing is ever dead-lettered out of it: its own `max_receives` is unlimited.
    pub fn dead_letter_queue(&self) -> SqliteQueue {
        SqliteQueue::new(
            &self.db,
            &dead_letter_name(&self.name),
            QueueConfig {
                visibility_timeout: self.config.visibility_timeout,
                max_receives: u32::MAX,
            },
        )
    }

    /// One receive attempt, no waiting: delivers up to `max` visible messages and dead-letters
    /// those that have had their `max_receives` deliveries, in one write transaction. Answers
    /// empty without the database while a recent look left nothing behind ([`Arrivals`]).
    async fn receive_now(&self, max: usize) -> Result<Vec<Delivery>> {
        if self.arrivals.recently_empty(POLL_INTERVAL) {
            return Ok(Vec::new());
        }
        let look = self.arrivals.look();
        let queue = self.name.to_string();
        let dead_letters = dead_letter_name(&self.name);
        let config = self.config;
        let (deliveries, dead) = self
            .db
            .call("receive", move |conn| {
                let tx = write_transaction(conn)?;
                let now = now_ms();
                let invisible_until = now.saturating_add(duration_ms(config.visibility_timeout));
                let mut deliveries = Vec::new();
                let mut dead = 0usize;
                // Dead-lettering frees places in the batch: look again until it is full or no
                // message moved.
                loop {
                    let want = i64::try_from(max - deliveries.len()).unwrap_or(i64::MAX);
                    let rows = {
                        let mut select = tx.prepare_cached(READY_MESSAGES)?;
                        let rows = select.query_map(params![queue, now, want], |row| {
                            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get(2)?))
                        })?;
                        rows.collect::<rusqlite::Result<Vec<(i64, String, u32)>>>()?
                    };
                    let mut moved = 0usize;
                    for (id, body, receive_count) in rows {
                        let message = match serde_json::from_str::<QueueMessage>(&body) {
                            Ok(message) if receive_count < config.max_receives => message,
                            Ok(_) => {
                                dead_letter(&tx, id, &dead_letters, now)?;
                                moved += 1;
                                continue;
                            }
                            Err(e) => {
                                // A body that does not decode would block the head of the queue
                                // on every receive: move it aside for a person to look at.
                                tracing::error!(
                                    queue = %queue, message_id = id, error = %e,
                                    "undecodable queue message moved to the dead-letter queue"
                                );
                                dead_letter(&tx, id, &dead_letters, now)?;
                                moved += 1;
                                continue;
                            }
                        };
                        let receipt = Receipt(format!("{:032x}", rand::random::<u128>()));
                        let receive_count = receive_count.saturating_add(1);
                        tx.prepare_cached(
                            "UPDATE queue_messages
                             SET receive_count = ?2, receipt = ?3, visible_at = ?4 WHERE id = ?1",
                        )?
                        .execute(params![
                            id,
                            receive_count,
                            receipt.0,
                            invisible_until
                        ])?;
                        deliveries.push(Delivery {
                            message,
                            receipt,
                            receive_count,
                        });
                    }
                    dead += moved;
                    if moved == 0 || deliveries.len() >= max {
                        break;
                    }
                }
                tx.commit()?;
                Ok((deliveries, dead))
            })
            .await?;
        if dead > 0 {
            tracing::warn!(
                queue = %self.name,
                dead_lettered = dead,
                max_receives = self.config.max_receives,
                "messages moved to the dead-letter queue"
            );
            self.db.arrivals(&dead_letter_name(&self.name)).arrived();
        }
        // Fewer than `max` means the last look took every visible message.
        if deliveries.len() < max {
            self.arrivals.found_empty(look);
        }
        Ok(deliveries)
    }

    /// Runs `sql` (parameters: queue, receipt, then `visible_at` when `delay` is given) on the
    /// in-flight message with `receipt`; a receipt that matches nothing is stale.
    async fn update_delivery(
        &self,
        operation: &'static str,
        receipt: &Receipt,
        sql: &'static str,
        delay: Option<Duration>,
    ) -> Result<()> {
        let queue = self.name.to_string();
        let receipt = receipt.0.clone();
        let changed = self
            .db
            .call(operation, move |conn| {
                let mut statement = conn.prepare_cached(sql)?;
                match delay {
                    None => statement.execute(params![queue, receipt]),
                    Some(delay) => {
                        let visible_at = now_ms().saturating_add(duration_ms(delay));
                        statement.execute(params![queue, receipt, visible_at])
                    }
                }
            })
            .await?;
        if changed == 0 {
            return Err(Error::StaleReceipt {
                queue: self.name.to_string(),
            });
        }
        Ok(())
    }
}

fn dead_letter_name(queue: &str) -> String {
    format!("{queue}-dlq")
}

/// Moves message `id` to the dead-letter queue as a fresh, visible message.
fn dead_letter(
    tx: &rusqlite::Savepoint<'_>,
    id: i64,
    dead_letters: &str,
    now: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE queue_messages
         SET queue = ?2, receive_count = 0, visible_at = ?3, receipt = NULL WHERE id = ?1",
    )?
    .execute(params![id, dead_letters, now])?;
    Ok(())
}

fn priority_rank(priority: Priority) -> i64 {
    match priority {
        Priority::Interactive => 0,
        Priority::Bulk => 1,
    }
}

#[async_trait]
impl JobQueue for SqliteQueue {
    async fn send(&self, message: &QueueMessage) -> Result<()> {
        let body = serde_json::to_string(message).map_err(|e| Error::Backend {
            backend: "sqlite",
            operation: "send",
            message: format!("encoding the message of job {}: {e}", message.job_id),
        })?;
        let queue = self.name.to_string();
        let priority = priority_rank(message.priority);
        self.db
            .call("send", move |conn| {
                let now = now_ms();
                conn.prepare_cached(
                    "INSERT INTO queue_messages (queue, body, priority, visible_at, sent_at)
                     VALUES (?1, ?2, ?3, ?4, ?4)",
                )?
                .execute(params![queue, body, priority, now])
            })
            .await?;
        self.arrivals.arrived();
        Ok(())
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        let max = max.min(MAX_BATCH);
        if max == 0 {
            return Ok(Vec::new());
        }
        // A wait too long to represent is as good as a day: callers loop on empty receives.
        let deadline = Instant::now()
            .checked_add(wait)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(24 * 60 * 60));
        loop {
            // Registered before looking, so a send between the look and the wait still wakes us.
            let arrival = self.arrivals.notified();
            tokio::pin!(arrival);
            arrival.as_mut().enable();

            let deliveries = self.receive_now(max).await?;
            if !deliveries.is_empty() {
                return Ok(deliveries);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(deliveries);
            }
            let nap = POLL_INTERVAL.min(deadline - now);
            tokio::select! {
                () = &mut arrival => {}
                () = tokio::time::sleep(nap) => {}
            }
        }
    }

    async fn ack(&self, receipt: &Receipt) -> Result<()> {
        self.update_delivery(
            "ack",
            receipt,
            "DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2",
            None,
        )
        .await
    }

    async fn extend(&self, receipt: &Receipt, by: Duration) -> Result<()> {
        self.update_delivery(
            "extend",
            receipt,
            "UPDATE queue_messages SET visible_at = ?3 WHERE queue = ?1 AND receipt = ?2",
            Some(by),
        )
        .await
    }

    async fn release(&self, receipt: &Receipt, delay: Duration) -> Result<()> {
        self.update_delivery(
            "release",
            receipt,
            "UPDATE queue_messages SET visible_at = ?3, receipt = NULL
             WHERE queue = ?1 AND receipt = ?2",
            Some(delay),
        )
        .await?;
        if delay.is_zero() {
            self.arrivals.arrived();
        }
        Ok(())
    }

    async fn depth(&self) -> Result<u64> {
        let queue = self.name.to_string();
        let count = self
            .db
            .call("depth", move |conn| {
                conn.prepare_cached("SELECT COUNT(*) FROM queue_messages WHERE queue = ?1")?
                    .query_row(params![queue], |row| row.get::<_, i64>(0))
            })
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_receive_walks_the_ready_index_without_sorting_the_backlog() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("soyl.db")).unwrap();
        let plan = db
            .call("explain", |conn| {
                let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {READY_MESSAGES}"))?;
                let rows = explain
                    .query_map(params!["q", 0_i64, 10_i64], |row| row.get::<_, String>(3))?;
                rows.collect::<rusqlite::Result<Vec<String>>>()
            })
            .await
            .unwrap()
            .join("; ");
        assert!(plan.contains("queue_messages_ready"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
