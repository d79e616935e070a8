//! The conformance suite ([`soyl_jobs::conformance`]) run against the AWS adapters (SQS, S3,
//! DynamoDB) on a local `moto_server`, one test per scenario, each on fresh resources; then what
//! is particular to the AWS adapters (TTL-expired items, batch deletes, presigned URLs).
//!
//! Not run here: the two strict-receipt checks (`queue_refuses_stale_receipt_after_redelivery`,
//! `queue_refuses_reused_receipts`), since SQS accepts an older receipt of a redelivered message.

use soyl_jobs::aws::DynamoJobStore;
use soyl_jobs::conformance::{self, MAX_RECEIVES, VISIBILITY_TIMEOUT};
use soyl_jobs::{
    Error, Job, JobId, JobQueue, JobStore, ListFilter, MediaKey, MediaStore, Priority,
    QueueMessage, Receipt, Tenant,
};
use soyl_tests::moto::{self, Fixture};
use std::time::Duration;

/// Fresh resources, or `None` when the emulator is missing outside CI (the test then passes
/// after printing why).
async fn fixture() -> Option<Fixture> {
    let moto = moto::shared()?;
    Some(Fixture::new(moto, MAX_RECEIVES, VISIBILITY_TIMEOUT).await)
}

macro_rules! queue_test {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread")]
        async fn $name() {
            let Some(aws) = fixture().await else { return };
            conformance::$name(&aws.ports.queue).await;
        }
    };
}

macro_rules! store_test {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread")]
        async fn $name() {
            let Some(aws) = fixture().await else { return };
            conformance::$name(&aws.ports.store).await;
        }
    };
}

macro_rules! media_test {
    ($name:ident) => {
        #[tokio::test(flavor = "multi_thread")]
        async fn $name() {
            let Some(aws) = fixture().await else { return };
            conformance::$name(&aws.ports.media).await;
        }
    };
}

queue_test!(queue_send_receive_ack);
queue_test!(queue_redelivers_after_visibility_timeout);
queue_test!(queue_extend_keeps_message_invisible);
queue_test!(queue_release_makes_message_visible_again);
queue_test!(queue_long_poll_wakes_on_send);
queue_test!(queue_long_poll_returns_empty_after_wait);
queue_test!(queue_delivers_each_message_once_to_concurrent_receivers);

#[tokio::test(flavor = "multi_thread")]
async fn queue_dead_letters_after_max_receives() {
    let Some(aws) = fixture().await else { return };
    let dead_letters = aws.ports.dead_letters.as_ref().expect("dead-letter queue");
    conformance::queue_dead_letters_after_max_receives(&aws.ports.queue, dead_letters).await;
}

store_test!(store_create_is_idempotent);
store_test!(store_claim_then_complete);
store_test!(store_refuses_stale_lease_holder);
store_test!(store_reports_busy_while_lease_is_live);
store_test!(store_requeue_returns_job_to_queue);
store_test!(store_fail_by_holder_or_unconditionally);
store_test!(store_unknown_job_is_missing);
store_test!(store_cancels_queued_and_running_jobs);
store_test!(store_counts_only_active_jobs);
store_test!(store_cancel_of_terminal_job_is_already_terminal);
store_test!(store_scopes_reads_by_tenant);
store_test!(store_lists_by_batch_and_status_with_paging);
store_test!(store_round_trips_a_large_result);
store_test!(store_records_webhook_outcome);
store_test!(store_lists_unclaimed_jobs_across_tenants);

media_test!(media_round_trip);
media_test!(media_refuses_over_max_bytes);
media_test!(media_missing_is_not_found);
media_test!(media_head_reads_the_start_and_the_size);

// What follows is particular to the AWS adapters.

fn message() -> QueueMessage {
    QueueMessage {
        job_id: JobId::new(),
        tenant: Tenant::default_tenant(),
        priority: Priority::Bulk,
    }
}

/// A store on the fixture's table whose items expire `retention` after creation.
fn store_with_retention(aws: &Fixture, retention: Duration) -> DynamoJobStore {
    DynamoJobStore::new(
        aws.clients.dynamodb.clone(),
        &aws.settings.table,
        aws.clients.s3.clone(),
        &aws.settings.bucket,
        &aws.settings.results_prefix,
        retention,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn items_past_their_ttl_read_as_not_found() {
    let Some(aws) = fixture().await else { return };
    // Zero retention: the item's TTL is its creation second, already past once that second ends;
    // moto, like DynamoDB for up to days, still holds the item.
    let store = store_with_retention(&aws, Duration::ZERO);
    let tenant = Tenant::parse("ttl").expect("tenant");
    let mut job = Job::new(tenant.clone(), Vec::new(), Default::default());
    job.created_at -= time::Duration::seconds(5);
    job.idempotency_key = Some("ttl-key".to_owned());
    store.create(&job).await.expect("create");
    assert_eq!(store.get(&tenant, &job.id).await.expect("get"), None);
    let listed = store
        .list(&tenant, &ListFilter::default())
        .await
        .expect("list");
    assert!(
        listed.jobs.is_empty(),
        "expired jobs listed: {}",
        listed.jobs.len()
    );
    let lease = soyl_jobs::Lease {
        holder: "worker-a".to_owned(),
        expires_at: time::OffsetDateTime::now_utc() + time::Duration::minutes(1),
    };
    assert_eq!(
        store.claim(&job.id, &lease).await.expect("claim"),
        soyl_jobs::ClaimOutcome::Missing
    );
    // The expired idempotency key no longer names a job: the same key makes a new one.
    let mut again = Job::new(tenant.clone(), Vec::new(), Default::default());
    again.idempotency_key = Some("ttl-key".to_owned());
    let live = store_with_retention(&aws, Duration::from_secs(3600));
    assert_eq!(
        live.create(&again).await.expect("create again"),
        soyl_jobs::CreateOutcome::Created
    );
    assert_eq!(
        live.get(&tenant, &again.id)
            .await
            .expect("get")
            .map(|j| j.id),
        Some(again.id)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ack_many_reports_each_entry() {
    let Some(aws) = fixture().await else { return };
    let queue = &aws.ports.queue;
    for _ in 0..12 {
        queue.send(&message()).await.expect("send");
    }
    let mut receipts = Vec::new();
    while receipts.len() < 12 {
        let got = queue
            .receive(10, Duration::from_secs(2))
            .await
            .expect("receive");
        assert!(!got.is_empty(), "only {} of 12 received", receipts.len());
        receipts.extend(got.into_iter().map(|d| d.receipt));
    }
    receipts.insert(5, Receipt("not-a-receipt-handle".to_owned()));
    let results = queue.ack_many(&receipts).await;
    assert_eq!(results.len(), 13);
    for (i, result) in results.iter().enumerate() {
        match (i, result) {
            (5, Err(Error::StaleReceipt { .. })) => {}
            (5, other) => panic!("the bogus receipt should be stale, got {other:?}"),
            (_, Ok(())) => {}
            (_, Err(e)) => panic!("entry {i} failed: {e}"),
        }
    }
    assert_eq!(queue.depth().await.expect("depth"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn media_gets_a_presigned_put_url_that_works() {
    let Some(aws) = fixture().await else { return };
    let key = MediaKey::for_input("default", &JobId::new(), 0);
    let url = aws
        .ports
        .media
        .presign_put(&key, Duration::from_secs(300))
        .await
        .expect("presign")
        .expect("S3 presigns");
    assert!(url.contains("X-Amz-Signature"), "{url}");
    let put = reqwest::Client::new()
        .put(&url)
        .body(b"uploaded directly".to_vec())
        .send()
        .await
        .expect("PUT to the presigned URL");
    assert!(put.status().is_success(), "{}", put.status());
    let got = aws.ports.media.get(&key, 1024).await.expect("get");
    assert_eq!(&got[..], b"uploaded directly");
}

#[tokio::test(flavor = "multi_thread")]
async fn init_is_idempotent() {
    let Some(aws) = fixture().await else { return };
    soyl_jobs::aws::init::create_bucket(&aws.clients.s3, &aws.settings.bucket)
        .await
        .expect("bucket again");
    soyl_jobs::aws::init::create_table(&aws.clients.dynamodb, &aws.settings.table)
        .await
        .expect("table again");
}

/// The job ids in index `index` under partition `attribute` = `value`, read straight from it.
async fn index_ids(aws: &Fixture, index: &str, attribute: &str, value: &str) -> Vec<String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let output = aws
        .clients
        .dynamodb
        .query()
        .table_name(&aws.settings.table)
        .index_name(index)
        .key_condition_expression("#key = :value")
        .expression_attribute_names("#key", attribute)
        .expression_attribute_values(":value", AttributeValue::S(value.to_owned()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("query {index}: {e}"));
    let mut ids: Vec<String> = output
        .items
        .unwrap_or_default()
        .iter()
        .filter_map(|item| item.get("id")?.as_s().ok().cloned())
        .collect();
    ids.sort();
    ids
}

/// Every id in the sparse `by-unclaimed` index, all shards.
async fn unclaimed_index_ids(aws: &Fixture) -> Vec<String> {
    let mut ids = Vec::new();
    for shard in 0..8 {
        ids.extend(index_ids(aws, "by-unclaimed", "unclaimed_shard", &shard.to_string()).await);
    }
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sparse_indexes_hold_only_active_and_never_claimed_jobs() {
    // What keeps the quota check and the reconciler cheap: jobs leave these indexes when they
    // end (or are first claimed), so neither reads them again.
    let Some(aws) = fixture().await else { return };
    let store = &aws.ports.store;
    let tenant = Tenant::parse("sparse").expect("tenant");
    let jobs: Vec<Job> = (0..3)
        .map(|_| Job::new(tenant.clone(), Vec::new(), Default::default()))
        .collect();
    for job in &jobs {
        store.create(job).await.expect("create");
    }
    let lease = soyl_jobs::Lease {
        holder: "worker-a".to_owned(),
        expires_at: time::OffsetDateTime::now_utc() + time::Duration::minutes(1),
    };
    for job in &jobs[..2] {
        store.claim(&job.id, &lease).await.expect("claim");
    }
    let done = serde_json::json!({});
    assert!(store
        .complete(&jobs[0].id, "worker-a", &done)
        .await
        .expect("complete"));
    let mut active = vec![jobs[1].id.to_string(), jobs[2].id.to_string()];
    active.sort();
    assert_eq!(
        index_ids(&aws, "by-active", "active_tenant", tenant.as_str()).await,
        active
    );
    assert_eq!(store.count_active(&tenant).await.expect("count"), 2);
    // Only the job never claimed is left for the reconciler to look at.
    assert_eq!(unclaimed_index_ids(&aws).await, [jobs[2].id.to_string()]);
    assert!(store
        .requeue(&jobs[1].id, "worker-a")
        .await
        .expect("requeue"));
    assert_eq!(
        unclaimed_index_ids(&aws).await,
        [jobs[2].id.to_string()],
        "a requeued job was claimed once: it had a message"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn init_adds_the_active_index_to_a_table_made_without_it() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let Some(moto) = moto::shared() else { return };
    let clients = moto.clients().await;
    let table = moto::unique_name("soyl-old-jobs");
    clients
        .dynamodb
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .expect("key"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute"),
        )
        .send()
        .await
        .expect("an older table, without indexes");
    soyl_jobs::aws::init::create_table(&clients.dynamodb, &table)
        .await
        .expect("init on the older table");
    let described = clients
        .dynamodb
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("describe");
    let mut names: Vec<String> = described
        .table
        .and_then(|t| t.global_secondary_indexes)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|index| index.index_name)
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["by-active", "by-batch", "by-tenant", "by-unclaimed"]
    );
    // And a store on it counts through the new index (its records are small: no bucket needed).
    let store = DynamoJobStore::new(
        clients.dynamodb.clone(),
        &table,
        clients.s3.clone(),
        "no-bucket",
        "results/",
        Duration::from_secs(3600),
    );
    let tenant = Tenant::parse("upgraded").expect("tenant");
    let job = Job::new(tenant.clone(), Vec::new(), Default::default());
    store.create(&job).await.expect("create");
    assert_eq!(store.count_active(&tenant).await.expect("count"), 1);
}
