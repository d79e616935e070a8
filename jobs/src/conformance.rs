//! The conformance suite of the storage ports: the behaviour every adapter of [`JobQueue`],
//! [`JobStore`] and [`MediaStore`] must show, as plain `async fn`s that panic with a clear message
//! when an adapter misbehaves.
//!
//! Each adapter's integration tests call every function here on a fresh instance (the embedded
//! adapters in `jobs/tests/embedded.rs`; the AWS adapters against an emulator), one test per
//! scenario, so that the embedded mode and the fleet keep the same guarantees.
//!
//! What the functions expect:
//! - a queue: empty, built with [`VISIBILITY_TIMEOUT`] and [`MAX_RECEIVES`], used by nothing else;
//! - a job store: may be shared (every function works in a tenant of its own);
//! - a media store: may be shared (every function uses fresh keys).
//!
//! Receipts: every queue refuses a receipt whose message is gone (acked) or is no longer in
//! flight. Only queues with *strict receipts* (the embedded queue) also refuse an older receipt of
//! a message delivered again, or a second ack; SQS accepts both (and may delete the message), so
//! [`queue_refuses_stale_receipt_after_redelivery`] and [`queue_refuses_reused_receipts`] are run
//! against strict queues only. Nothing in soyl relies on it: the job store's leases are what keep
//! a late worker from overwriting a result.

use crate::{
    BatchCounts, CancelOutcome, ClaimOutcome, CreateOutcome, Delivery, Error, Job, JobError, JobId,
    JobQueue, JobStore, Lease, ListFilter, MediaKey, MediaStore, Priority, QueueMessage, Result,
    Status, Tenant, WebhookOutcome,
};
use bytes::Bytes;
use std::collections::HashSet;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::time::Instant;

/// The visibility timeout the queue under test must be built with.
pub const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(1);

/// The `max_receives` the queue under test must be built with.
pub const MAX_RECEIVES: u32 = 3;

/// How long to wait for something that should happen promptly (a visible message, a message
/// whose visibility timeout has lapsed): generous, since a test only waits this long on failure.
const PATIENCE: Duration = Duration::from_secs(5);

fn ok<T>(what: &str, result: Result<T>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("conformance: {what} failed: {e}"),
    }
}

fn message() -> QueueMessage {
    QueueMessage {
        job_id: JobId::new(),
        tenant: Tenant::default_tenant(),
        priority: Priority::Interactive,
    }
}

/// A tenant no other test uses, so that store checks may share one store.
fn fresh_tenant() -> Tenant {
    let name = format!("conformance-{:016x}", rand::random::<u64>());
    ok("building a tenant", Tenant::parse(&name))
}

/// Receives until one delivery arrives or `within` passes; panics unless exactly `expected`
/// (one message) arrives.
async fn receive_one(queue: &dyn JobQueue, expected: &QueueMessage, within: Duration) -> Delivery {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut got = ok("receive", queue.receive(10, left).await);
        if let Some(delivery) = got.pop() {
            assert!(
                got.is_empty(),
                "conformance: expected one delivery, got {}",
                got.len() + 1
            );
            assert_eq!(
                &delivery.message, expected,
                "conformance: received a message that was not sent by this check"
            );
            return delivery;
        }
        if left.is_zero() {
            panic!(
                "conformance: message {} not delivered within {within:?}",
                expected.job_id
            );
        }
    }
}

/// Panics if anything is delivered within `within`.
async fn receive_nothing(queue: &dyn JobQueue, within: Duration, why: &str) {
    let got = ok("receive", queue.receive(10, within).await);
    assert!(
        got.is_empty(),
        "conformance: {why}, yet {} message(s) were delivered (receive_count {:?})",
        got.len(),
        got.iter().map(|d| d.receive_count).collect::<Vec<_>>()
    );
}

fn assert_stale(what: &str, result: Result<()>) {
    match result {
        Err(Error::StaleReceipt { .. }) => {}
        Err(e) => panic!("conformance: {what} should be refused as a stale receipt, got {e}"),
        Ok(()) => panic!("conformance: {what} should be refused as a stale receipt, but succeeded"),
    }
}

/// A message sent is received once with `receive_count` 1, counts in `depth` until acked, and is
/// gone after the ack; extending its receipt afterwards is refused as stale.
pub async fn queue_send_receive_ack(queue: &dyn JobQueue) {
    let sent = message();
    ok("send", queue.send(&sent).await);
    assert_eq!(
        ok("depth", queue.depth().await),
        1,
        "conformance: depth after one send"
    );
    let delivery = receive_one(queue, &sent, PATIENCE).await;
    assert_eq!(
        delivery.receive_count, 1,
        "conformance: first delivery's receive_count"
    );
    assert_eq!(
        ok("depth", queue.depth().await),
        1,
        "conformance: an in-flight message still counts in depth"
    );
    ok("ack", queue.ack(&delivery.receipt).await);
    assert_eq!(
        ok("depth", queue.depth().await),
        0,
        "conformance: depth after ack"
    );
    receive_nothing(
        queue,
        VISIBILITY_TIMEOUT + Duration::from_millis(500),
        "an acked message must never come back",
    )
    .await;
    assert_stale(
        "extend after ack",
        queue.extend(&delivery.receipt, VISIBILITY_TIMEOUT).await,
    );
}

/// A received message that is not acked is invisible until its visibility timeout lapses, then
/// delivered again with `receive_count` 2 and a new receipt.
pub async fn queue_redelivers_after_visibility_timeout(queue: &dyn JobQueue) {
    let sent = message();
    ok("send", queue.send(&sent).await);
    let first = receive_one(queue, &sent, PATIENCE).await;
    assert_eq!(
        first.receive_count, 1,
        "conformance: first delivery's receive_count"
    );
    receive_nothing(
        queue,
        Duration::ZERO,
        "a received message must be invisible during its visibility timeout",
    )
    .await;
    let second = receive_one(queue, &sent, VISIBILITY_TIMEOUT + PATIENCE).await;
    assert_eq!(
        second.receive_count, 2,
        "conformance: redelivery's receive_count"
    );
    assert_ne!(
        first.receipt, second.receipt,
        "conformance: a redelivery needs a new receipt"
    );
    ok("ack", queue.ack(&second.receipt).await);
}

/// Extending a delivery keeps the message invisible past the original visibility timeout, and
/// the receipt stays valid.
pub async fn queue_extend_keeps_message_invisible(queue: &dyn JobQueue) {
    let sent = message();
    ok("send", queue.send(&sent).await);
    let delivery = receive_one(queue, &sent, PATIENCE).await;
    ok(
        "extend",
        queue
            .extend(&delivery.receipt, VISIBILITY_TIMEOUT * 4)
            .await,
    );
    receive_nothing(
        queue,
        VISIBILITY_TIMEOUT * 2,
        "an extended message must stay invisible past the original visibility timeout",
    )
    .await;
    ok("ack after extend", queue.ack(&delivery.receipt).await);
    assert_eq!(
        ok("depth", queue.depth().await),
        0,
        "conformance: depth after ack"
    );
}

/// Releasing a delivery with no delay makes the message visible at once, and the next delivery
/// counts one more receive.
pub async fn queue_release_makes_message_visible_again(queue: &dyn JobQueue) {
    let sent = message();
    ok("send", queue.send(&sent).await);
    let first = receive_one(queue, &sent, PATIENCE).await;
    ok(
        "release",
        queue.release(&first.receipt, Duration::ZERO).await,
    );
    // Well under the visibility timeout: only the release can make it visible this soon.
    let second = receive_one(queue, &sent, VISIBILITY_TIMEOUT / 2).await;
    assert_eq!(
        second.receive_count,
        first.receive_count + 1,
        "conformance: a released message keeps its receive count"
    );
    ok("ack", queue.ack(&second.receipt).await);
}

/// Strict receipts only: a released delivery's receipt is refused once the message is delivered
/// again, and a second ack of one receipt is refused.
pub async fn queue_refuses_reused_receipts(queue: &dyn JobQueue) {
    let sent = message();
    ok("send", queue.send(&sent).await);
    let first = receive_one(queue, &sent, PATIENCE).await;
    ok(
        "release",
        queue.release(&first.receipt, Duration::ZERO).await,
    );
    let second = receive_one(queue, &sent, VISIBILITY_TIMEOUT / 2).await;
    assert_stale(
        "ack with a released receipt",
        queue.ack(&first.receipt).await,
    );
    ok("ack", queue.ack(&second.receipt).await);
    assert_stale("a second ack", queue.ack(&second.receipt).await);
}

/// Strict receipts only: once a message has been delivered again, the earlier delivery's receipt
/// is refused by ack, extend and release, and the new one works.
pub async fn queue_refuses_stale_receipt_after_redelivery(queue: &dyn JobQueue) {
    let sent = message();
    ok("send", queue.send(&sent).await);
    let first = receive_one(queue, &sent, PATIENCE).await;
    let second = receive_one(queue, &sent, VISIBILITY_TIMEOUT + PATIENCE).await;
    assert_stale(
        "ack with the first receipt",
        queue.ack(&first.receipt).await,
    );
    assert_stale(
        "extend with the first receipt",
        queue.extend(&first.receipt, VISIBILITY_TIMEOUT).await,
    );
    assert_stale(
        "release with the first receipt",
        queue.release(&first.receipt, Duration::ZERO).await,
    );
    ok(
        "ack with the current receipt",
        queue.ack(&second.receipt).await,
    );
}

/// A message is delivered exactly [`MAX_RECEIVES`] times; the next receive moves it to the
/// dead-letter queue, where it can be received, instead of delivering it.
pub async fn queue_dead_letters_after_max_receives(
    queue: &dyn JobQueue,
    dead_letters: &dyn JobQueue,
) {
    let sent = message();
    ok("send", queue.send(&sent).await);
    for expected in 1..=MAX_RECEIVES {
        let delivery = receive_one(queue, &sent, PATIENCE).await;
        assert_eq!(
            delivery.receive_count, expected,
            "conformance: receive_count"
        );
        // Released rather than left to time out, to keep the check short; release keeps the count.
        ok(
            "release",
            queue.release(&delivery.receipt, Duration::ZERO).await,
        );
    }
    receive_nothing(
        queue,
        Duration::from_millis(500),
        "a message delivered max_receives times must not be delivered again",
    )
    .await;
    let dead = receive_one(dead_letters, &sent, PATIENCE).await;
    ok(
        "ack in the dead-letter queue",
        dead_letters.ack(&dead.receipt).await,
    );
    assert_eq!(
        ok("depth", queue.depth().await),
        0,
        "conformance: a dead-lettered message must leave the main queue"
    );
}

/// A long poll on an empty queue returns as soon as a message is sent during the wait.
pub async fn queue_long_poll_wakes_on_send(queue: &dyn JobQueue) {
    let sent = message();
    let wait = Duration::from_secs(10);
    let started = Instant::now();
    let (received, sent_result) = tokio::join!(queue.receive(10, wait), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        queue.send(&sent).await
    });
    ok("send", sent_result);
    let received = ok("receive", received);
    let took = started.elapsed();
    assert_eq!(
        received.len(),
        1,
        "conformance: the long poll should deliver the sent message"
    );
    assert_eq!(
        received[0].message, sent,
        "conformance: long poll delivered another message"
    );
    assert!(
        took < Duration::from_secs(3),
        "conformance: long poll took {took:?} to see a message sent after 200 ms"
    );
    ok("ack", queue.ack(&received[0].receipt).await);
}

/// A long poll on an empty queue waits out its `wait` and returns nothing.
pub async fn queue_long_poll_returns_empty_after_wait(queue: &dyn JobQueue) {
    let wait = Duration::from_millis(500);
    let started = Instant::now();
    receive_nothing(queue, wait, "the queue is empty").await;
    let took = started.elapsed();
    assert!(
        took >= wait - Duration::from_millis(50) && took < wait + Duration::from_secs(2),
        "conformance: a {wait:?} long poll on an empty queue returned after {took:?}"
    );
}

/// Concurrent receivers share the messages: each is delivered to exactly one of them, and
/// no receive returns more than it asked for.
pub async fn queue_delivers_each_message_once_to_concurrent_receivers(queue: &dyn JobQueue) {
    let sent: Vec<QueueMessage> = (0..12).map(|_| message()).collect();
    for message in &sent {
        ok("send", queue.send(message).await);
    }
    let receiver = || async {
        let mut got = Vec::new();
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            let batch = ok(
                "receive",
                queue.receive(2, Duration::from_millis(300)).await,
            );
            assert!(
                batch.len() <= 2,
                "conformance: receive(2) returned {}",
                batch.len()
            );
            if batch.is_empty() {
                break;
            }
            for delivery in batch {
                ok("ack", queue.ack(&delivery.receipt).await);
                got.push(delivery.message.job_id);
            }
        }
        got
    };
    let (a, b, c) = tokio::join!(receiver(), receiver(), receiver());
    let all: Vec<JobId> = a.into_iter().chain(b).chain(c).collect();
    let distinct: HashSet<JobId> = all.iter().copied().collect();
    assert_eq!(
        all.len(),
        distinct.len(),
        "conformance: a message was delivered twice"
    );
    let expected: HashSet<JobId> = sent.iter().map(|m| m.job_id).collect();
    assert_eq!(
        distinct, expected,
        "conformance: not every message was delivered"
    );
}

fn new_job(tenant: &Tenant) -> Job {
    Job::new(tenant.clone(), Vec::new(), Default::default())
}

fn lease(holder: &str, expires_in: time::Duration) -> Lease {
    Lease {
        holder: holder.to_owned(),
        expires_at: OffsetDateTime::now_utc() + expires_in,
    }
}

async fn create(store: &dyn JobStore, job: &Job) {
    match ok("create", store.create(job).await) {
        CreateOutcome::Created => {}
        other => panic!(
            "conformance: creating job {} should store it, got {other:?}",
            job.id
        ),
    }
}

async fn get(store: &dyn JobStore, job: &Job) -> Job {
    match ok("get", store.get(&job.tenant, &job.id).await) {
        Some(found) => found,
        None => panic!("conformance: job {} not found after create", job.id),
    }
}

async fn claim(store: &dyn JobStore, id: &JobId, lease: &Lease) -> Job {
    match ok("claim", store.claim(id, lease).await) {
        ClaimOutcome::Claimed(job) => *job,
        other => panic!(
            "conformance: claim of job {id} by {} should succeed, got {other:?}",
            lease.holder
        ),
    }
}

/// Creating twice with one idempotency key stores one job and returns it the second time; the
/// same key in another tenant is another job. `find_idempotent` finds the job by its key in its
/// own tenant only.
pub async fn store_create_is_idempotent(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    let find = |tenant: Tenant, key: &'static str| async move {
        ok("find by key", store.find_idempotent(&tenant, key).await).map(|job| job.id)
    };
    assert_eq!(
        find(tenant.clone(), "key-1").await,
        None,
        "conformance: no job yet"
    );
    let mut first = new_job(&tenant);
    first.idempotency_key = Some("key-1".to_owned());
    create(store, &first).await;
    assert_eq!(
        find(tenant.clone(), "key-1").await,
        Some(first.id),
        "conformance: find_idempotent must find the job by its key"
    );
    assert_eq!(
        find(tenant.clone(), "key-2").await,
        None,
        "conformance: another key"
    );
    assert_eq!(
        find(fresh_tenant(), "key-1").await,
        None,
        "conformance: another tenant's key"
    );
    let mut again = new_job(&tenant);
    again.idempotency_key = Some("key-1".to_owned());
    match ok("create again", store.create(&again).await) {
        CreateOutcome::Existing(existing) => {
            assert_eq!(
                existing.id, first.id,
                "conformance: Existing must be the first job"
            )
        }
        other => {
            panic!("conformance: a reused idempotency key should return Existing, got {other:?}")
        }
    }
    assert!(
        ok("get", store.get(&tenant, &again.id).await).is_none(),
        "conformance: the duplicate must not be stored"
    );
    let mut elsewhere = new_job(&fresh_tenant());
    elsewhere.idempotency_key = Some("key-1".to_owned());
    create(store, &elsewhere).await;
    let mut keyless = new_job(&tenant);
    create(store, &keyless).await;
    keyless.id = JobId::new();
    create(store, &keyless).await;
}

/// claim -> renew -> complete: the job runs under the lease, counts the attempt, ends with the
/// result and no lease, and a later claim reports it terminal.
pub async fn store_claim_then_complete(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    let job = new_job(&tenant);
    create(store, &job).await;
    assert_eq!(
        get(store, &job).await.status,
        Status::Queued,
        "conformance: a new job is queued"
    );

    let a = lease("worker-a", time::Duration::minutes(1));
    let claimed = claim(store, &job.id, &a).await;
    assert_eq!(
        claimed.status,
        Status::Running,
        "conformance: claimed status"
    );
    assert_eq!(
        claimed.attempts, 1,
        "conformance: a claim counts an attempt"
    );
    assert_eq!(
        claimed.lease.as_ref(),
        Some(&a),
        "conformance: claimed lease"
    );
    assert!(
        claimed.started_at.is_some(),
        "conformance: a claim sets started_at"
    );
    let stored = get(store, &job).await;
    assert_eq!(
        stored.status,
        Status::Running,
        "conformance: stored status after claim"
    );
    assert_eq!(
        stored.lease.as_ref().map(|l| l.holder.as_str()),
        Some("worker-a")
    );

    let later = OffsetDateTime::now_utc() + time::Duration::minutes(2);
    assert!(
        ok("renew", store.renew(&job.id, "worker-a", later).await),
        "conformance: holder renews"
    );
    assert!(
        !ok("renew", store.renew(&job.id, "worker-b", later).await),
        "conformance: a non-holder cannot renew"
    );
    let result = serde_json::json!({"version": 1, "text": []});
    assert!(
        ok(
            "complete",
            store.complete(&job.id, "worker-a", &result).await
        ),
        "conformance: the holder completes"
    );
    let done = get(store, &job).await;
    assert_eq!(
        done.status,
        Status::Succeeded,
        "conformance: status after complete"
    );
    assert_eq!(
        done.result.as_ref(),
        Some(&result),
        "conformance: stored result"
    );
    assert!(
        done.finished_at.is_some(),
        "conformance: complete sets finished_at"
    );
    assert!(
        done.lease.is_none(),
        "conformance: a finished job has no lease"
    );
    assert_eq!(
        ok(
            "claim",
            store
                .claim(&job.id, &lease("worker-c", time::Duration::minutes(1)))
                .await
        ),
        ClaimOutcome::Terminal(Status::Succeeded),
        "conformance: a finished job cannot be claimed"
    );
}

/// A holder whose lease lapsed loses the job to the next claim: its complete, renew, requeue and
/// fail are refused, the new holder's complete wins, and nothing changes the terminal state.
pub async fn store_refuses_stale_lease_holder(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    let job = new_job(&tenant);
    create(store, &job).await;
    // A lease that has already lapsed stands in for a worker that stalled past its lease.
    claim(
        store,
        &job.id,
        &lease("worker-a", time::Duration::seconds(-1)),
    )
    .await;
    let taken = claim(
        store,
        &job.id,
        &lease("worker-b", time::Duration::minutes(1)),
    )
    .await;
    assert_eq!(
        taken.attempts, 2,
        "conformance: a takeover counts another attempt"
    );

    let late = serde_json::json!({"by": "a"});
    let later = OffsetDateTime::now_utc() + time::Duration::minutes(5);
    let error = JobError::new("test", "stale holder");
    assert!(
        !ok("complete", store.complete(&job.id, "worker-a", &late).await),
        "conformance: stale complete"
    );
    assert!(
        !ok("renew", store.renew(&job.id, "worker-a", later).await),
        "conformance: stale renew"
    );
    assert!(
        !ok("requeue", store.requeue(&job.id, "worker-a").await),
        "conformance: stale requeue"
    );
    assert!(
        !ok("fail", store.fail(&job.id, Some("worker-a"), &error).await),
        "conformance: stale fail"
    );

    let result = serde_json::json!({"by": "b"});
    assert!(
        ok(
            "complete",
            store.complete(&job.id, "worker-b", &result).await
        ),
        "conformance: the current holder completes"
    );
    assert!(
        !ok("fail", store.fail(&job.id, Some("worker-a"), &error).await),
        "conformance: fail after the end"
    );
    assert!(
        !ok("fail", store.fail(&job.id, None, &error).await),
        "conformance: unconditional fail after the end"
    );
    assert!(
        !ok("complete", store.complete(&job.id, "worker-b", &late).await),
        "conformance: a second complete"
    );
    assert_eq!(
        ok(
            "claim",
            store
                .claim(&job.id, &lease("worker-c", time::Duration::minutes(1)))
                .await
        ),
        ClaimOutcome::Terminal(Status::Succeeded),
        "conformance: claim after the end"
    );
    let done = get(store, &job).await;
    assert_eq!(done.status, Status::Succeeded, "conformance: final status");
    assert_eq!(
        done.result.as_ref(),
        Some(&result),
        "conformance: the holder's result stays"
    );
    assert!(
        done.error.is_none(),
        "conformance: no error on a succeeded job"
    );
    assert_eq!(done.attempts, 2, "conformance: attempts");
}

/// While a lease is live, another claim is refused as busy until the lease's expiry, and the
/// lease stays with its holder; the holder's own claim, retried, answers the job as claimed.
pub async fn store_reports_busy_while_lease_is_live(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    let job = new_job(&tenant);
    create(store, &job).await;
    let a = lease("worker-a", time::Duration::minutes(1));
    claim(store, &job.id, &a).await;
    match ok(
        "claim",
        store
            .claim(&job.id, &lease("worker-b", time::Duration::minutes(1)))
            .await,
    ) {
        ClaimOutcome::Busy(until) => assert!(
            (until - a.expires_at).abs() < time::Duration::seconds(1),
            "conformance: Busy should name the live lease's expiry {}, got {until}",
            a.expires_at
        ),
        other => panic!("conformance: claim under a live lease should be Busy, got {other:?}"),
    }
    let stored = get(store, &job).await;
    assert_eq!(
        stored.lease.map(|l| l.holder),
        Some("worker-a".to_owned()),
        "conformance: lease holder"
    );
    assert_eq!(
        stored.attempts, 1,
        "conformance: a refused claim counts no attempt"
    );
    // The holder's own claim again (a retry after a lost reply) is the same claim, not Busy.
    match ok(
        "claim retried by its holder",
        store.claim(&job.id, &a).await,
    ) {
        ClaimOutcome::Claimed(again) => {
            assert_eq!(
                again.attempts, 1,
                "conformance: a retried claim counts no attempt"
            )
        }
        other => panic!("conformance: the holder's retried claim should be Claimed, got {other:?}"),
    }
}

/// The holder can hand a job back to the queue; then it has no lease and the next claim works.
pub async fn store_requeue_returns_job_to_queue(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    let job = new_job(&tenant);
    create(store, &job).await;
    claim(
        store,
        &job.id,
        &lease("worker-a", time::Duration::minutes(1)),
    )
    .await;
    assert!(
        !ok("requeue", store.requeue(&job.id, "worker-b").await),
        "conformance: non-holder requeue"
    );
    assert!(
        ok("requeue", store.requeue(&job.id, "worker-a").await),
        "conformance: holder requeue"
    );
    let queued = get(store, &job).await;
    assert_eq!(
        queued.status,
        Status::Queued,
        "conformance: status after requeue"
    );
    assert!(
        queued.lease.is_none(),
        "conformance: a queued job has no lease"
    );
    let again = claim(
        store,
        &job.id,
        &lease("worker-b", time::Duration::minutes(1)),
    )
    .await;
    assert_eq!(
        again.attempts, 2,
        "conformance: attempts after requeue and claim"
    );
}

/// `unclaimed_before` finds, across tenants, the queued jobs older than the cut-off that no
/// worker ever claimed, oldest first; not newer ones, not claimed-then-requeued ones, not ended
/// ones.
pub async fn store_lists_unclaimed_jobs_across_tenants(store: &dyn JobStore) {
    let hours_ago = |h: i64| OffsetDateTime::now_utc() - time::Duration::hours(h);
    let (a, b) = (fresh_tenant(), fresh_tenant());
    let mut old_a = new_job(&a);
    old_a.created_at = hours_ago(3);
    let mut old_b = new_job(&b);
    old_b.created_at = hours_ago(2);
    let mut requeued = new_job(&a);
    requeued.created_at = hours_ago(2);
    let mut ended = new_job(&b);
    ended.created_at = hours_ago(2);
    let recent = new_job(&a);
    for job in [&old_a, &old_b, &requeued, &ended, &recent] {
        create(store, job).await;
    }
    claim(
        store,
        &requeued.id,
        &lease("worker-a", time::Duration::minutes(1)),
    )
    .await;
    assert!(ok("requeue", store.requeue(&requeued.id, "worker-a").await));
    let error = JobError::new("test", "ended");
    assert!(ok("fail", store.fail(&ended.id, None, &error).await));

    let found = ok(
        "unclaimed_before",
        store.unclaimed_before(hours_ago(1), 1000).await,
    );
    let ours = [old_a.id, old_b.id, requeued.id, ended.id, recent.id];
    let found: Vec<JobId> = found
        .iter()
        .map(|job| job.id)
        .filter(|id| ours.contains(id))
        .collect();
    assert_eq!(
        found,
        vec![old_a.id, old_b.id],
        "conformance: unclaimed queued jobs older than the cut-off, oldest first"
    );
}

/// `fail` with a holder needs that holder's running job; without one it fails any job that has
/// not ended, once.
pub async fn store_fail_by_holder_or_unconditionally(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    let error = JobError::new("image_undecodable", "not an image");
    let running = new_job(&tenant);
    create(store, &running).await;
    claim(
        store,
        &running.id,
        &lease("worker-a", time::Duration::minutes(1)),
    )
    .await;
    assert!(
        !ok(
            "fail",
            store.fail(&running.id, Some("worker-b"), &error).await
        ),
        "conformance: non-holder fail"
    );
    assert!(
        ok(
            "fail",
            store.fail(&running.id, Some("worker-a"), &error).await
        ),
        "conformance: holder fail"
    );
    let failed = get(store, &running).await;
    assert_eq!(
        failed.status,
        Status::Failed,
        "conformance: status after fail"
    );
    assert_eq!(
        failed.error.as_ref(),
        Some(&error),
        "conformance: stored error"
    );
    assert!(
        failed.finished_at.is_some() && failed.lease.is_none(),
        "conformance: fail ends the job"
    );

    let queued = new_job(&tenant);
    create(store, &queued).await;
    assert!(
        !ok(
            "fail",
            store.fail(&queued.id, Some("worker-a"), &error).await
        ),
        "conformance: a holder cannot fail a job it does not run"
    );
    assert!(
        ok("fail", store.fail(&queued.id, None, &error).await),
        "conformance: unconditional fail of a queued job"
    );
    assert!(
        !ok("fail", store.fail(&queued.id, None, &error).await),
        "conformance: a second unconditional fail"
    );
    assert_eq!(
        get(store, &queued).await.status,
        Status::Failed,
        "conformance: status after fail"
    );
}

/// Operations on an id that was never stored report it missing.
pub async fn store_unknown_job_is_missing(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    let id = JobId::new();
    let a = lease("worker-a", time::Duration::minutes(1));
    assert_eq!(
        ok("claim", store.claim(&id, &a).await),
        ClaimOutcome::Missing,
        "conformance: claim"
    );
    assert!(
        ok("get", store.get(&tenant, &id).await).is_none(),
        "conformance: get"
    );
    assert!(
        !ok("renew", store.renew(&id, "worker-a", a.expires_at).await),
        "conformance: renew"
    );
    assert!(
        !ok("requeue", store.requeue(&id, "worker-a").await),
        "conformance: requeue"
    );
    let result = serde_json::json!({});
    assert!(
        !ok("complete", store.complete(&id, "worker-a", &result).await),
        "conformance: complete"
    );
    let error = JobError::new("test", "missing");
    assert!(
        !ok("fail", store.fail(&id, None, &error).await),
        "conformance: fail"
    );
    assert_eq!(
        ok("cancel", store.cancel(&tenant, &id).await),
        CancelOutcome::NotFound,
        "conformance: cancel"
    );
}

/// `count_active` counts the tenant's queued and running jobs, and nothing that has ended (each
/// terminal state) or belongs to another tenant, through every transition in and out of active.
pub async fn store_counts_only_active_jobs(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    let count = || async { ok("count active", store.count_active(&tenant).await) };
    assert_eq!(
        count().await,
        0,
        "conformance: a new tenant has no active jobs"
    );
    let mut jobs = Vec::new();
    for _ in 0..6 {
        let job = new_job(&tenant);
        create(store, &job).await;
        jobs.push(job);
    }
    create(store, &new_job(&fresh_tenant())).await;
    assert_eq!(count().await, 6, "conformance: six queued jobs");

    for (i, job) in jobs.iter().enumerate().skip(2) {
        claim(
            store,
            &job.id,
            &lease(&format!("worker-{i}"), time::Duration::minutes(1)),
        )
        .await;
    }
    assert_eq!(
        count().await,
        6,
        "conformance: claimed jobs are still active"
    );

    let result = serde_json::json!({});
    assert!(ok(
        "complete",
        store.complete(&jobs[2].id, "worker-2", &result).await
    ));
    let error = JobError::new("test", "failed on purpose");
    assert!(ok(
        "fail",
        store.fail(&jobs[3].id, Some("worker-3"), &error).await
    ));
    match ok("cancel", store.cancel(&tenant, &jobs[0].id).await) {
        CancelOutcome::Cancelled(_) => {}
        other => panic!("conformance: cancelling a queued job should succeed, got {other:?}"),
    }
    assert_eq!(
        count().await,
        3,
        "conformance: succeeded, failed and cancelled jobs are not active"
    );
    assert!(ok("requeue", store.requeue(&jobs[4].id, "worker-4").await));
    assert_eq!(
        count().await,
        3,
        "conformance: a requeued job is active again"
    );
}

/// Queued and running jobs can be cancelled; the worker of a cancelled job can no longer finish
/// it, and nobody can claim it.
pub async fn store_cancels_queued_and_running_jobs(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    let queued = new_job(&tenant);
    create(store, &queued).await;
    match ok("cancel", store.cancel(&tenant, &queued.id).await) {
        CancelOutcome::Cancelled(job) => {
            assert_eq!(
                job.status,
                Status::Cancelled,
                "conformance: returned status"
            );
            assert!(
                job.finished_at.is_some(),
                "conformance: cancel sets finished_at"
            );
        }
        other => panic!("conformance: cancelling a queued job should succeed, got {other:?}"),
    }
    assert_eq!(
        get(store, &queued).await.status,
        Status::Cancelled,
        "conformance: stored status"
    );

    let running = new_job(&tenant);
    create(store, &running).await;
    claim(
        store,
        &running.id,
        &lease("worker-a", time::Duration::minutes(1)),
    )
    .await;
    match ok("cancel", store.cancel(&tenant, &running.id).await) {
        CancelOutcome::Cancelled(job) => {
            assert!(job.lease.is_none(), "conformance: cancel clears the lease")
        }
        other => panic!("conformance: cancelling a running job should succeed, got {other:?}"),
    }
    let result = serde_json::json!({});
    assert!(
        !ok(
            "complete",
            store.complete(&running.id, "worker-a", &result).await
        ),
        "conformance: a cancelled job cannot be completed"
    );
    assert_eq!(
        ok(
            "claim",
            store
                .claim(&running.id, &lease("worker-b", time::Duration::minutes(1)))
                .await
        ),
        ClaimOutcome::Terminal(Status::Cancelled),
        "conformance: a cancelled job cannot be claimed"
    );
    assert_eq!(
        get(store, &running).await.status,
        Status::Cancelled,
        "conformance: stored status"
    );
}

/// Cancelling a job that already ended changes nothing and says how it ended.
pub async fn store_cancel_of_terminal_job_is_already_terminal(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    let job = new_job(&tenant);
    create(store, &job).await;
    claim(
        store,
        &job.id,
        &lease("worker-a", time::Duration::minutes(1)),
    )
    .await;
    let result = serde_json::json!({"ok": true});
    assert!(
        ok(
            "complete",
            store.complete(&job.id, "worker-a", &result).await
        ),
        "conformance: complete"
    );
    assert_eq!(
        ok("cancel", store.cancel(&tenant, &job.id).await),
        CancelOutcome::AlreadyTerminal(Status::Succeeded),
        "conformance: cancel of a succeeded job"
    );
    assert_eq!(
        get(store, &job).await.status,
        Status::Succeeded,
        "conformance: status stays"
    );

    let cancelled = new_job(&tenant);
    create(store, &cancelled).await;
    ok("cancel", store.cancel(&tenant, &cancelled.id).await);
    assert_eq!(
        ok("cancel", store.cancel(&tenant, &cancelled.id).await),
        CancelOutcome::AlreadyTerminal(Status::Cancelled),
        "conformance: second cancel"
    );
}

/// Another tenant's job reads as unknown: `get` is `None`, `cancel` is `NotFound` and changes
/// nothing, and listings leave it out.
pub async fn store_scopes_reads_by_tenant(store: &dyn JobStore) {
    let owner = fresh_tenant();
    let other = fresh_tenant();
    let job = new_job(&owner);
    create(store, &job).await;
    assert!(
        ok("get", store.get(&other, &job.id).await).is_none(),
        "conformance: get by another tenant"
    );
    assert_eq!(
        ok("cancel", store.cancel(&other, &job.id).await),
        CancelOutcome::NotFound,
        "conformance: cancel by another tenant"
    );
    assert_eq!(
        get(store, &job).await.status,
        Status::Queued,
        "conformance: untouched by the other tenant"
    );
    let listed = ok("list", store.list(&other, &ListFilter::default()).await);
    assert!(
        listed.jobs.is_empty(),
        "conformance: another tenant's listing shows {} jobs",
        listed.jobs.len()
    );
}

/// Listings filter by batch and status, come in id order, and page with `next` until done.
pub async fn store_lists_by_batch_and_status_with_paging(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    let in_batch = |batch: Option<&str>| {
        let mut job = new_job(&tenant);
        job.options.batch_id = batch.map(str::to_owned);
        job
    };
    let batch_one: Vec<Job> = (0..5).map(|_| in_batch(Some("batch-1"))).collect();
    let batch_two: Vec<Job> = (0..2).map(|_| in_batch(Some("batch-2"))).collect();
    let loose = in_batch(None);
    for job in batch_one.iter().chain(&batch_two).chain([&loose]) {
        create(store, job).await;
    }
    let result = serde_json::json!({});
    for job in &batch_one[..2] {
        claim(
            store,
            &job.id,
            &lease("worker-a", time::Duration::minutes(1)),
        )
        .await;
        assert!(
            ok(
                "complete",
                store.complete(&job.id, "worker-a", &result).await
            ),
            "conformance: complete"
        );
    }

    let tenant = &tenant;
    let list_all = |filter: ListFilter| async move {
        let mut ids = Vec::new();
        let mut filter = filter;
        for _ in 0..100 {
            let page = ok("list", store.list(tenant, &filter).await);
            assert!(
                filter.limit == 0 || page.jobs.len() <= filter.limit,
                "conformance: page of {} over the limit {}",
                page.jobs.len(),
                filter.limit
            );
            ids.extend(page.jobs.iter().map(|j| j.id));
            match page.next {
                Some(next) => filter.after = Some(next),
                None => return ids,
            }
        }
        panic!("conformance: listing never ended");
    };
    let sorted = |jobs: &[&Job]| {
        let mut ids: Vec<JobId> = jobs.iter().map(|j| j.id).collect();
        ids.sort();
        ids
    };

    let by_batch = ListFilter {
        batch_id: Some("batch-1".to_owned()),
        limit: 2,
        ..Default::default()
    };
    let first_page = ok("list", store.list(tenant, &by_batch).await);
    assert_eq!(first_page.jobs.len(), 2, "conformance: first page size");
    assert!(
        first_page.next.is_some(),
        "conformance: a full page has a next cursor"
    );
    assert_eq!(
        list_all(by_batch).await,
        sorted(&batch_one.iter().collect::<Vec<_>>()),
        "conformance: batch-1 listing, in id order, across pages"
    );

    let succeeded = ListFilter {
        status: Some(Status::Succeeded),
        ..Default::default()
    };
    assert_eq!(
        list_all(succeeded).await,
        sorted(&batch_one[..2].iter().collect::<Vec<_>>()),
        "conformance: succeeded listing"
    );
    let queued_in_batch = ListFilter {
        status: Some(Status::Queued),
        batch_id: Some("batch-1".to_owned()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        list_all(queued_in_batch).await,
        sorted(&batch_one[2..].iter().collect::<Vec<_>>()),
        "conformance: queued jobs of batch-1"
    );
    let running = ListFilter {
        status: Some(Status::Running),
        ..Default::default()
    };
    assert!(
        list_all(running).await.is_empty(),
        "conformance: no job is running"
    );
    let everything: Vec<&Job> = batch_one.iter().chain(&batch_two).chain([&loose]).collect();
    let page = ok("list", store.list(tenant, &ListFilter::default()).await);
    assert_eq!(
        page.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        sorted(&everything),
        "conformance: an unfiltered listing with the default limit holds every job, in id order"
    );
    assert!(
        page.next.is_none(),
        "conformance: a partial page has no next cursor"
    );

    // Batch counts: by status, first job, scoped by tenant.
    let counts = ok("batch_counts", store.batch_counts(tenant, "batch-1").await);
    assert_eq!(
        (
            counts.queued,
            counts.running,
            counts.succeeded,
            counts.total()
        ),
        (3, 0, 2, 5),
        "conformance: batch-1 counts by status"
    );
    assert_eq!(
        counts.first,
        batch_one.iter().map(|j| j.id).min(),
        "conformance: the batch's first job"
    );
    let unknown = ok("batch_counts", store.batch_counts(tenant, "batch-9").await);
    assert_eq!(
        unknown,
        BatchCounts::default(),
        "conformance: an unknown batch"
    );
    let other = ok(
        "batch_counts",
        store.batch_counts(&fresh_tenant(), "batch-1").await,
    );
    assert_eq!(
        other.total(),
        0,
        "conformance: another tenant's batch counts nothing"
    );
}

/// `record_webhook` stores the outcome on a finished job and replaces it when called again,
/// leaving status, result and timestamps alone; an unknown id is `NotFound`.
pub async fn store_records_webhook_outcome(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    let job = new_job(&tenant);
    create(store, &job).await;
    claim(
        store,
        &job.id,
        &lease("worker-a", time::Duration::minutes(1)),
    )
    .await;
    let result = serde_json::json!({"version": 1});
    assert!(
        ok(
            "complete",
            store.complete(&job.id, "worker-a", &result).await
        ),
        "conformance: the holder completes"
    );
    let finished = get(store, &job).await;
    // Whole seconds, so that every backend's timestamp encoding round-trips it exactly.
    let at = OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let failed = WebhookOutcome {
        url_host: "hooks.example.com".to_owned(),
        attempts: 5,
        delivered: false,
        last_status: Some(503),
        last_error: Some("HTTP 503".to_owned()),
        finished_at: at,
    };
    ok(
        "record_webhook",
        store.record_webhook(&job.id, &failed).await,
    );
    let recorded = get(store, &job).await;
    assert_eq!(
        recorded.webhook.as_ref(),
        Some(&failed),
        "conformance: stored webhook outcome"
    );
    assert_eq!(
        (
            recorded.status,
            recorded.result.as_ref(),
            recorded.finished_at
        ),
        (
            finished.status,
            finished.result.as_ref(),
            finished.finished_at
        ),
        "conformance: recording a webhook changes nothing else"
    );

    let delivered = WebhookOutcome {
        attempts: 1,
        delivered: true,
        last_status: Some(200),
        last_error: None,
        ..failed
    };
    ok(
        "record_webhook",
        store.record_webhook(&job.id, &delivered).await,
    );
    assert_eq!(
        get(store, &job).await.webhook.as_ref(),
        Some(&delivered),
        "conformance: a second outcome replaces the first"
    );

    match store.record_webhook(&JobId::new(), &delivered).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!(
            "conformance: record_webhook of an unknown job should be NotFound, got {other:?}"
        ),
    }
}

fn fresh_key() -> MediaKey {
    MediaKey::for_input("conformance", &JobId::new(), 0)
}

/// Bytes put under a key come back from `get`; a second put replaces them.
pub async fn media_round_trip(media: &dyn MediaStore) {
    let key = fresh_key();
    let bytes = Bytes::from_static(b"\x89PNG\r\n\x1a\n not really a png");
    ok(
        "put",
        media.put(&key, bytes.clone(), Some("image/png")).await,
    );
    let read = ok("get", media.get(&key, bytes.len() as u64).await);
    assert_eq!(read, bytes, "conformance: get returns what put stored");
    let replaced = Bytes::from(vec![7u8; 4096]);
    ok("put again", media.put(&key, replaced.clone(), None).await);
    assert_eq!(
        ok("get", media.get(&key, 1 << 20).await),
        replaced,
        "conformance: put replaces"
    );
}

/// Media over the caller's limit is refused as too large, with its size.
pub async fn media_refuses_over_max_bytes(media: &dyn MediaStore) {
    let key = fresh_key();
    ok(
        "put",
        media.put(&key, Bytes::from(vec![0u8; 1000]), None).await,
    );
    match media.get(&key, 999).await {
        Err(Error::TooLarge { size, limit, .. }) => {
            assert_eq!(
                (size, limit),
                (1000, 999),
                "conformance: TooLarge size and limit"
            )
        }
        other => panic!("conformance: get over max_bytes should be TooLarge, got {other:?}"),
    }
    assert_eq!(
        ok("get at the limit", media.get(&key, 1000).await).len(),
        1000
    );
}

/// `head` reads the first bytes and tells the whole size, for objects longer and shorter than
/// asked and for an empty one; a missing key is not found, as for `get`.
pub async fn media_head_reads_the_start_and_the_size(media: &dyn MediaStore) {
    let key = fresh_key();
    let bytes = Bytes::from((0..5000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    ok("put", media.put(&key, bytes.clone(), None).await);
    let (head, size) = ok("head", media.head(&key, 64).await);
    assert_eq!(
        (head, size),
        (bytes.slice(..64), 5000),
        "conformance: the first 64 bytes and the size"
    );
    let (head, size) = ok("head past the end", media.head(&key, 10_000).await);
    assert_eq!(
        (head, size),
        (bytes, 5000),
        "conformance: a short object whole"
    );
    let empty = fresh_key();
    ok("put empty", media.put(&empty, Bytes::new(), None).await);
    let (head, size) = ok("head of empty", media.head(&empty, 64).await);
    assert_eq!((head.len(), size), (0, 0), "conformance: an empty object");
    match media.head(&fresh_key(), 64).await {
        Err(Error::NotFound { what, .. }) => assert_eq!(what, "media"),
        other => panic!("conformance: head of a missing key should be NotFound, got {other:?}"),
    }
}

/// A key nothing was put under is not found.
pub async fn media_missing_is_not_found(media: &dyn MediaStore) {
    let key = fresh_key();
    match media.get(&key, 1 << 20).await {
        Err(Error::NotFound { what, key: named }) => {
            assert_eq!(what, "media", "conformance: NotFound names what is missing");
            assert_eq!(named, key.as_str(), "conformance: NotFound names the key");
        }
        other => panic!("conformance: get of a missing key should be NotFound, got {other:?}"),
    }
}

/// A result larger than a DynamoDB item (over 400 KB) is stored and read back whole, by `get`
/// and by `list`.
pub async fn store_round_trips_a_large_result(store: &dyn JobStore) {
    let tenant = fresh_tenant();
    let job = new_job(&tenant);
    create(store, &job).await;
    claim(
        store,
        &job.id,
        &lease("worker-a", time::Duration::minutes(1)),
    )
    .await;
    let texts: Vec<String> = (0..5000)
        .map(|i| format!("span {i}: {}", "x".repeat(90)))
        .collect();
    let result = serde_json::json!({"version": 1, "text": texts});
    assert!(
        result.to_string().len() > 400 * 1024,
        "conformance: the large result must exceed a DynamoDB item"
    );
    assert!(
        ok(
            "complete",
            store.complete(&job.id, "worker-a", &result).await
        ),
        "conformance: complete with a large result"
    );
    let done = get(store, &job).await;
    assert_eq!(done.status, Status::Succeeded, "conformance: status");
    assert!(
        done.result.as_ref() == Some(&result),
        "conformance: the large result read back differs from the one stored"
    );
    let listed = ok("list", store.list(&tenant, &ListFilter::default()).await);
    assert_eq!(
        listed.jobs.len(),
        1,
        "conformance: listing of the large job"
    );
    assert!(
        listed.jobs[0].result.as_ref() == Some(&result),
        "conformance: the listed large result differs from the one stored"
    );
}
