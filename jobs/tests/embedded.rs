//! The conformance suite ([`soyl_jobs::conformance`]) run against the embedded adapters, one
//! test per scenario, each on a fresh SQLite file and media directory in a temporary directory;
//! then what is particular to the embedded adapters (restarts, several connections, the schema).

use soyl_jobs::conformance::{self, MAX_RECEIVES, VISIBILITY_TIMEOUT};
use soyl_jobs::embedded::{MediaDir, QueueConfig, SqliteDb, SqliteJobStore, SqliteQueue};
use soyl_jobs::{
    Error, Job, JobId, JobQueue, JobStore, MediaKey, MediaStore, Priority, QueueMessage, Tenant,
};
use std::time::Duration;
use tempfile::TempDir;

fn database() -> (TempDir, SqliteDb) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = SqliteDb::open(&dir.path().join("soyl.db")).expect("open database");
    (dir, db)
}

fn suite_config() -> QueueConfig {
    QueueConfig {
        visibility_timeout: VISIBILITY_TIMEOUT,
        max_receives: MAX_RECEIVES,
    }
}

fn queue() -> (TempDir, SqliteQueue) {
    let (dir, db) = database();
    let queue = SqliteQueue::open(&db, "jobs", suite_config()).expect("open queue");
    (dir, queue)
}

fn job_store() -> (TempDir, SqliteJobStore) {
    let (dir, db) = database();
    (dir, SqliteJobStore::open(&db).expect("open job store"))
}

fn media() -> (TempDir, MediaDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let media = MediaDir::open(dir.path().join("media")).expect("open media dir");
    (dir, media)
}

fn message() -> QueueMessage {
    QueueMessage {
        job_id: JobId::new(),
        tenant: Tenant::default_tenant(),
        priority: Priority::Bulk,
    }
}

#[tokio::test]
async fn queue_delivers_then_forgets_an_acked_message() {
    let (_dir, queue) = queue();
    conformance::queue_send_receive_ack(&queue).await;
}

#[tokio::test]
async fn queue_redelivers_after_visibility_timeout() {
    let (_dir, queue) = queue();
    conformance::queue_redelivers_after_visibility_timeout(&queue).await;
}

#[tokio::test]
async fn queue_extend_keeps_message_invisible() {
    let (_dir, queue) = queue();
    conformance::queue_extend_keeps_message_invisible(&queue).await;
}

#[tokio::test]
async fn queue_release_makes_message_visible_again() {
    let (_dir, queue) = queue();
    conformance::queue_release_makes_message_visible_again(&queue).await;
}

#[tokio::test]
async fn queue_refuses_stale_receipt_after_redelivery() {
    let (_dir, queue) = queue();
    conformance::queue_refuses_stale_receipt_after_redelivery(&queue).await;
}

#[tokio::test]
async fn queue_refuses_reused_receipts() {
    let (_dir, queue) = queue();
    conformance::queue_refuses_reused_receipts(&queue).await;
}

#[tokio::test]
async fn queue_dead_letters_after_max_receives() {
    let (_dir, queue) = queue();
    conformance::queue_dead_letters_after_max_receives(&queue, &queue.dead_letter_queue()).await;
}

#[tokio::test]
async fn queue_long_poll_wakes_on_send() {
    let (_dir, queue) = queue();
    conformance::queue_long_poll_wakes_on_send(&queue).await;
}

#[tokio::test]
async fn queue_long_poll_returns_empty_after_wait() {
    let (_dir, queue) = queue();
    conformance::queue_long_poll_returns_empty_after_wait(&queue).await;
}

#[tokio::test]
async fn queue_delivers_each_message_once_to_concurrent_receivers() {
    let (_dir, queue) = queue();
    conformance::queue_delivers_each_message_once_to_concurrent_receivers(&queue).await;
}

#[tokio::test]
async fn store_create_is_idempotent() {
    let (_dir, store) = job_store();
    conformance::store_create_is_idempotent(&store).await;
}

#[tokio::test]
async fn store_claim_then_complete() {
    let (_dir, store) = job_store();
    conformance::store_claim_then_complete(&store).await;
}

#[tokio::test]
async fn store_refuses_stale_lease_holder() {
    let (_dir, store) = job_store();
    conformance::store_refuses_stale_lease_holder(&store).await;
}

#[tokio::test]
async fn store_reports_busy_while_lease_is_live() {
    let (_dir, store) = job_store();
    conformance::store_reports_busy_while_lease_is_live(&store).await;
}

#[tokio::test]
async fn store_requeue_returns_job_to_queue() {
    let (_dir, store) = job_store();
    conformance::store_requeue_returns_job_to_queue(&store).await;
}

#[tokio::test]
async fn store_fail_by_holder_or_unconditionally() {
    let (_dir, store) = job_store();
    conformance::store_fail_by_holder_or_unconditionally(&store).await;
}

#[tokio::test]
async fn store_unknown_job_is_missing() {
    let (_dir, store) = job_store();
    conformance::store_unknown_job_is_missing(&store).await;
}

#[tokio::test]
async fn store_cancels_queued_and_running_jobs() {
    let (_dir, store) = job_store();
    conformance::store_cancels_queued_and_running_jobs(&store).await;
}

#[tokio::test]
async fn store_counts_only_active_jobs() {
    let (_dir, store) = job_store();
    conformance::store_counts_only_active_jobs(&store).await;
}

#[tokio::test]
async fn store_cancel_of_terminal_job_is_already_terminal() {
    let (_dir, store) = job_store();
    conformance::store_cancel_of_terminal_job_is_already_terminal(&store).await;
}

#[tokio::test]
async fn store_scopes_reads_by_tenant() {
    let (_dir, store) = job_store();
    conformance::store_scopes_reads_by_tenant(&store).await;
}

#[tokio::test]
async fn store_lists_by_batch_and_status_with_paging() {
    let (_dir, store) = job_store();
    conformance::store_lists_by_batch_and_status_with_paging(&store).await;
}

#[tokio::test]
async fn store_records_webhook_outcome() {
    let (_dir, store) = job_store();
    conformance::store_records_webhook_outcome(&store).await;
}

#[tokio::test]
async fn store_lists_unclaimed_jobs_across_tenants() {
    let (_dir, store) = job_store();
    conformance::store_lists_unclaimed_jobs_across_tenants(&store).await;
}

#[tokio::test]
async fn store_round_trips_a_large_result() {
    let (_dir, store) = job_store();
    conformance::store_round_trips_a_large_result(&store).await;
}

#[tokio::test]
async fn media_round_trip() {
    let (_dir, media) = media();
    conformance::media_round_trip(&media).await;
}

#[tokio::test]
async fn media_refuses_over_max_bytes() {
    let (_dir, media) = media();
    conformance::media_refuses_over_max_bytes(&media).await;
}

#[tokio::test]
async fn media_missing_is_not_found() {
    let (_dir, media) = media();
    conformance::media_missing_is_not_found(&media).await;
}

#[tokio::test]
async fn media_head_reads_the_start_and_the_size() {
    let (_dir, media) = media();
    conformance::media_head_reads_the_start_and_the_size(&media).await;
}

// What follows is particular to the embedded adapters.

#[tokio::test]
async fn media_dir_has_no_presigned_urls() {
    let (_dir, media) = media();
    let key = MediaKey::for_input("default", &JobId::new(), 0);
    let url = media
        .presign_put(&key, Duration::from_secs(60))
        .await
        .expect("presign");
    assert_eq!(url, None);
}

#[tokio::test]
async fn media_put_leaves_only_the_stored_file() {
    let (dir, media) = media();
    let key = MediaKey::parse("default/job-1/0").expect("key");
    media
        .put(&key, b"first".to_vec().into(), None)
        .await
        .expect("put");
    media
        .put(&key, b"second".to_vec().into(), None)
        .await
        .expect("put again");
    let job_dir = dir.path().join("media/default/job-1");
    let names: Vec<String> = std::fs::read_dir(&job_dir)
        .expect("read job dir")
        .map(|entry| {
            entry
                .expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, vec!["0".to_owned()], "temporary files left behind");
    assert_eq!(std::fs::read(job_dir.join("0")).expect("read"), b"second");
}

#[tokio::test]
async fn queue_messages_survive_a_restart() {
    let (dir, db) = database();
    let path = dir.path().join("soyl.db");
    let queue = SqliteQueue::open(&db, "jobs", suite_config()).expect("open queue");
    let waiting = message();
    let in_flight = message();
    queue.send(&in_flight).await.expect("send");
    let delivered = queue.receive(10, Duration::ZERO).await.expect("receive");
    assert_eq!(delivered.len(), 1);
    queue.send(&waiting).await.expect("send");
    drop((queue, db));

    let db = SqliteDb::open(&path).expect("reopen");
    let queue = SqliteQueue::open(&db, "jobs", suite_config()).expect("open queue");
    assert_eq!(queue.depth().await.expect("depth"), 2);
    let first = queue.receive(10, Duration::ZERO).await.expect("receive");
    assert_eq!(
        first.len(),
        1,
        "only the message that was waiting is visible"
    );
    assert_eq!(first[0].message, waiting);
    queue.ack(&first[0].receipt).await.expect("ack");
    // The delivery in flight at the restart comes back once its visibility timeout lapses.
    let again = queue
        .receive(10, VISIBILITY_TIMEOUT * 3)
        .await
        .expect("receive");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message, in_flight);
    assert_eq!(again[0].receive_count, 2);
}

#[tokio::test]
async fn jobs_survive_a_restart() {
    let (dir, db) = database();
    let store = SqliteJobStore::open(&db).expect("open job store");
    let job = Job::new(Tenant::default_tenant(), Vec::new(), Default::default());
    store.create(&job).await.expect("create");
    drop((store, db));
    let db = SqliteDb::open(&dir.path().join("soyl.db")).expect("reopen");
    let store = SqliteJobStore::open(&db).expect("open job store");
    let found = store.get(&job.tenant, &job.id).await.expect("get");
    assert_eq!(found, Some(job));
}

#[tokio::test]
async fn queues_in_one_database_are_independent() {
    let (_dir, db) = database();
    let jobs = SqliteQueue::open(&db, "jobs", suite_config()).expect("open queue");
    let other = SqliteQueue::open(&db, "other", suite_config()).expect("open queue");
    let sent = message();
    jobs.send(&sent).await.expect("send");
    assert!(other
        .receive(10, Duration::ZERO)
        .await
        .expect("receive")
        .is_empty());
    assert_eq!(other.depth().await.expect("depth"), 0);
    let got = jobs.receive(10, Duration::ZERO).await.expect("receive");
    assert_eq!(got.len(), 1);
    assert!(
        matches!(
            other.ack(&got[0].receipt).await,
            Err(Error::StaleReceipt { .. })
        ),
        "a receipt of one queue must not ack in another"
    );
    jobs.ack(&got[0].receipt).await.expect("ack");
}

#[tokio::test]
async fn a_second_connection_sees_messages_sent_by_the_first() {
    // Two `SqliteDb`s on one file stand in for two processes: no in-process wake-up reaches the
    // receiver, so the long poll must find the message by polling.
    let (dir, db) = database();
    let other_process = SqliteDb::open(&dir.path().join("soyl.db")).expect("second connection");
    let sender = SqliteQueue::open(&db, "jobs", suite_config()).expect("open queue");
    let receiver = SqliteQueue::open(&other_process, "jobs", suite_config()).expect("open queue");
    let sent = message();
    let started = tokio::time::Instant::now();
    let (got, sent_result) = tokio::join!(receiver.receive(10, Duration::from_secs(5)), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sender.send(&sent).await
    });
    sent_result.expect("send");
    let got = got.expect("receive");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message, sent);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_empty_look_stands_for_the_poll_interval_against_other_processes_only() {
    let (dir, db) = database();
    let other_process = SqliteDb::open(&dir.path().join("soyl.db")).expect("second connection");
    let receiver = SqliteQueue::open(&db, "jobs", suite_config()).expect("open queue");
    let same_process = SqliteQueue::open(&db, "jobs", suite_config()).expect("open queue");
    let remote = SqliteQueue::open(&other_process, "jobs", suite_config()).expect("open queue");

    // A send in this process is seen by the next look, however recent the empty one.
    assert!(receiver
        .receive(10, Duration::ZERO)
        .await
        .expect("receive")
        .is_empty());
    same_process.send(&message()).await.expect("send");
    assert_eq!(
        receiver
            .receive(10, Duration::ZERO)
            .await
            .expect("receive")
            .len(),
        1
    );

    // Another process's send is not: the empty look stands until it is a poll interval old
    // (100 ms), and the next look finds the message.
    assert!(receiver
        .receive(10, Duration::ZERO)
        .await
        .expect("receive")
        .is_empty());
    let looked = std::time::Instant::now();
    remote.send(&message()).await.expect("send");
    let mut got = receiver.receive(10, Duration::ZERO).await.expect("receive");
    let stood = looked.elapsed() < Duration::from_millis(80);
    if stood {
        assert!(
            got.is_empty(),
            "a fresh empty look answers without the database"
        );
    }
    tokio::time::sleep(Duration::from_millis(120)).await;
    got.extend(receiver.receive(10, Duration::ZERO).await.expect("receive"));
    assert_eq!(got.len(), 1, "found once the empty look went stale");
}

#[tokio::test]
async fn dead_letter_queue_never_dead_letters() {
    let (_dir, queue) = queue();
    let dead_letters = queue.dead_letter_queue();
    assert_eq!(dead_letters.name(), "jobs-dlq");
    let sent = message();
    dead_letters.send(&sent).await.expect("send");
    for expected in 1..=MAX_RECEIVES + 2 {
        let got = dead_letters
            .receive(10, Duration::ZERO)
            .await
            .expect("receive");
        assert_eq!(
            got.len(),
            1,
            "delivery {expected} from the dead-letter queue"
        );
        assert_eq!(got[0].receive_count, expected);
        dead_letters
            .release(&got[0].receipt, Duration::ZERO)
            .await
            .expect("release");
    }
}

#[tokio::test]
async fn receive_caps_a_batch_at_ten() {
    let (_dir, queue) = queue();
    for _ in 0..12 {
        queue.send(&message()).await.expect("send");
    }
    let got = queue.receive(100, Duration::ZERO).await.expect("receive");
    assert_eq!(got.len(), 10);
}

#[test]
fn bad_queue_names_and_configs_are_refused() {
    let (_dir, db) = database();
    for name in ["", "has space", "slash/name", &"x".repeat(81)] {
        assert!(
            matches!(
                SqliteQueue::open(&db, name, suite_config()),
                Err(Error::Invalid { .. })
            ),
            "{name:?} should be refused"
        );
    }
    let never = QueueConfig {
        max_receives: 0,
        ..suite_config()
    };
    assert!(matches!(
        SqliteQueue::open(&db, "jobs", never),
        Err(Error::Invalid { .. })
    ));
}

#[test]
fn a_database_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("soyl.db");
    drop(SqliteDb::open(&path).expect("create"));
    let conn = rusqlite::Connection::open(&path).expect("raw connection");
    conn.pragma_update(None, "user_version", 99)
        .expect("set user_version");
    drop(conn);
    match SqliteDb::open(&path) {
        Err(Error::Backend { message, .. }) => {
            assert!(message.contains("schema version 99"), "{message}")
        }
        other => panic!("a newer schema should be refused, got {other:?}"),
    }
}

#[test]
fn the_database_is_in_wal_mode() {
    let (dir, _db) = database();
    let conn = rusqlite::Connection::open(dir.path().join("soyl.db")).expect("raw connection");
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
}
