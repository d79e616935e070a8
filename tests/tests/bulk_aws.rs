//! Bulk reprocessing of an `s3://bucket/prefix` on the AWS backend (SQS, S3, DynamoDB on a local
//! `moto_server`): `soyl init` creates the job and bulk queues, generated objects are uploaded
//! under a prefix of a client bucket, `soyl reprocess s3://...` enqueues them on the bulk queue, a
//! `soyl worker` drains it; every object ends as exactly one finished job, the export has a line
//! per object, and a re-run enqueues nothing. `SOYL_BULK_AWS_ITEMS` sets the count (default 210).

use soyl_jobs::aws::{self, S3Media};
use soyl_jobs::{MediaKey, MediaStore};
use soyl_tests::bulk_media::generate;
use soyl_tests::moto::{self, soyl_init, unique_name};
use soyl_tests::{repo_root, soyl_binary, temp_dir, Server};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn items() -> usize {
    std::env::var("SOYL_BULK_AWS_ITEMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(210)
}

/// Uploads every file under `dir` to `bucket` under `prefix`, keyed by its relative path.
async fn upload(media: &S3Media, dir: &Path, sub: &str) -> usize {
    let mut count = 0;
    for entry in std::fs::read_dir(dir.join(sub)).expect("generated dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let key = if sub.is_empty() {
            name
        } else {
            format!("{sub}/{name}")
        };
        if entry.file_type().expect("file type").is_dir() {
            count += Box::pin(upload(media, dir, &key)).await;
            continue;
        }
        let bytes = std::fs::read(entry.path()).expect("generated file");
        let key = MediaKey::parse(&key).expect("a media key");
        media.put(&key, bytes.into(), None).await.expect("upload");
        count += 1;
    }
    count
}

/// Runs `soyl ARGS` on the AWS environment; returns stdout, asserting success.
fn soyl(env: &[(&str, String)], args: &[&str]) -> String {
    let out = Command::new(soyl_binary())
        .current_dir(repo_root())
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("running soyl");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "soyl {args:?} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The number of new jobs in `soyl reprocess`'s summary line.
fn enqueued(stdout: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("enqueued "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary line in {stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_s3_prefix_is_reprocessed_once_on_the_bulk_queue_and_a_rerun_enqueues_nothing() {
    let Some(moto) = moto::shared() else { return };
    let n = items();
    let env = soyl_init(moto);
    let dir = temp_dir();
    generate(&dir.path().join("archive"), n);
    let clients = moto.clients().await;
    let bucket = unique_name("archive");
    aws::init::create_bucket(&clients.s3, &bucket)
        .await
        .expect("client bucket");
    let objects = S3Media::new(clients.s3.clone(), &bucket, "2024/");
    assert_eq!(upload(&objects, &dir.path().join("archive"), "").await, n);

    let _worker = Server::start_command(
        &["worker", "--listen", "127.0.0.1:0"],
        &env,
        &dir.path().join("worker.log"),
    );
    let source = format!("s3://{bucket}/2024/");
    let started = Instant::now();
    let first = soyl(&env, &["reprocess", &source, "--quiet", "--wait"]);
    println!(
        "{n} objects from S3 reprocessed in {:.1} s\n{first}",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(enqueued(&first), n as u64);
    let batch = first
        .lines()
        .find_map(|l| l.strip_prefix("batch "))
        .expect("batch line")
        .to_owned();
    let status: serde_json::Value = serde_json::from_str(first.lines().last().expect("status"))
        .expect("the final status line is JSON");
    let finished = status["succeeded"].as_u64().unwrap() + status["failed"].as_u64().unwrap();
    assert_eq!(status["total"], n as u64, "{status}");
    assert_eq!(
        finished, n as u64,
        "every object ended as one finished job: {status}"
    );
    assert!(status["succeeded"].as_u64().unwrap() > 0, "{status}");

    let export = soyl(&env, &["export", &batch, "--format", "jsonl"]);
    let lines: Vec<&str> = export.lines().collect();
    assert_eq!(lines.len(), n, "one export line per object");
    assert!(
        lines.iter().all(|l| l.contains("\"source_key\":\"2024/")),
        "export lines name their S3 keys"
    );

    let again = soyl(&env, &["reprocess", &source, "--quiet"]);
    assert_eq!(enqueued(&again), 0, "{again}");
    assert!(again.contains("(0 re-sent)"), "{again}");
    // Every object's ETag names its job: none is downloaded again.
    assert!(again.contains("0 read from the source"), "{again}");
    assert!(again.contains(&format!("batch {batch}")), "{again}");
}

/// `POST /v1/batches` on AWS checks its source before accepting: a bucket that does not exist is
/// the caller's mistake (422 `source_unreadable`, nothing started), an existing prefix runs.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_over_a_missing_bucket_is_refused_at_submit() {
    let Some(moto) = moto::shared() else { return };
    let env = soyl_init(moto);
    let dir = temp_dir();
    let clients = moto.clients().await;
    let bucket = unique_name("archive");
    aws::init::create_bucket(&clients.s3, &bucket)
        .await
        .expect("client bucket");
    let api = Server::start_with_env(
        dir.path(),
        &["--no-worker"],
        &env,
        &dir.path().join("serve.log"),
    );
    let client = api.client();

    let missing = unique_name("no-such-bucket");
    let body = serde_json::json!({"source": format!("s3://{missing}/2024/")});
    let (status, answer) = client.post_json("/v1/batches", &body).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "source_unreadable", "{answer}");

    let body = serde_json::json!({"source": format!("s3://{bucket}/2024/")});
    let (status, answer) = client.post_json("/v1/batches", &body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["started"], true, "{answer}");
}
