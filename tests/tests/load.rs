//! Load: `SOYL_LOAD_JOBS` text jobs (default 1,000; the full run is 10,000) from
//! `SOYL_LOAD_CLIENTS` concurrent clients (default 64) against a real `soyl serve` with API keys,
//! under a job quota smaller than the client count so that some submits are refused; and on the
//! AWS backend (moto), `SOYL_LOAD_JOBS_AWS` jobs (default 300) under the server's quota. Every
//! accepted job reaches exactly one terminal state (polled, then checked again by listing: none
//! lost, none duplicated), and the only non-2xx answers are 429s. Prints the server's peak RSS and
//! the p50/p99 submit and end-to-end latencies.
//!
//!     SOYL_LOAD_JOBS=10000 SOYL_LOAD_JOBS_AWS=10000 cargo test --release -p soyl-tests --test load -- --nocapture

use serde_json::json;
use soyl_tests::latency::percentile;
use soyl_tests::proc_stats::mib;
use soyl_tests::{moto, soyl_keys, temp_dir, Client, Server};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Queued + running jobs the key may hold: under the client count, so 429s must happen.
const QUOTA: u64 = 32;
/// A refused client waits this long before retrying (not Retry-After's whole second, so that the
/// quota stays under pressure).
const RETRY_AFTER_429: Duration = Duration::from_millis(20);
/// Poll interval of a client waiting for its job.
const POLL: Duration = Duration::from_millis(20);
/// Longest a job may take from acceptance to its terminal state.
const JOB_TIMEOUT: Duration = Duration::from_secs(300);

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What every client records.
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, usize>,
    accepted: Vec<String>,
    terminal: BTreeMap<String, usize>,
    submit_latency: Vec<Duration>,
    end_to_end: Vec<Duration>,
}

/// One client: takes job numbers until `jobs` are accepted, submitting each (retrying 429s) and
/// polling it to its end.
async fn client_loop(
    client: Client,
    next: Arc<AtomicUsize>,
    jobs: usize,
    tally: Arc<Mutex<Tally>>,
) {
    let record = |status: u16| {
        *tally
            .lock()
            .expect("tally")
            .statuses
            .entry(status)
            .or_default() += 1
    };
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n >= jobs {
            return;
        }
        let body = json!({"inputs": [{"text": format!("Job {n}: what a lovely, happy day!")}]});
        let started = Instant::now();
        let id = loop {
            let sent = Instant::now();
            let (status, answer) = client.post_json("/v1/jobs", &body).await;
            tally
                .lock()
                .expect("tally")
                .submit_latency
                .push(sent.elapsed());
            record(status);
            match status {
                202 => break answer["job_id"].as_str().expect("job_id").to_owned(),
                429 => tokio::time::sleep(RETRY_AFTER_429).await,
                other => panic!("submit answered {other}: {answer}"),
            }
        };
        tally.lock().expect("tally").accepted.push(id.clone());
        let final_status = loop {
            let (status, job) = client.job(&id).await;
            record(status);
            match (status, job["status"].as_str()) {
                (200, Some(s @ ("succeeded" | "failed" | "cancelled"))) => break s.to_owned(),
                (200 | 429, _) => {}
                (other, _) => panic!("GET job {id} answered {other}: {job}"),
            }
            assert!(
                started.elapsed() < JOB_TIMEOUT,
                "job {id} did not finish: {job}"
            );
            tokio::time::sleep(POLL).await;
        };
        let mut t = tally.lock().expect("tally");
        t.end_to_end.push(started.elapsed());
        *t.terminal.entry(final_status).or_default() += 1;
    }
}

/// Every job of the caller's tenant, by listing page after page: (id, status) pairs.
async fn list_all(client: &Client) -> Vec<(String, String)> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{}/v1/jobs?limit=1000", client.url);
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = client.send(client.http.get(path)).await;
        assert_eq!(status, 200, "{page}");
        for job in page["jobs"].as_array().expect("jobs") {
            let field = |k: &str| job[k].as_str().expect("string").to_owned();
            all.push((field("id"), field("status")));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return all,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_accepted_job_ends_exactly_once_and_only_the_quota_refuses() {
    let jobs = env_usize("SOYL_LOAD_JOBS", 1000);
    let dir = temp_dir();
    let quota = QUOTA.to_string();
    let key = soyl_keys(
        dir.path(),
        &[
            "create",
            "--tenant",
            "load",
            "--max-concurrent-jobs",
            &quota,
        ],
    );
    // The request rate is not what this test limits: polling alone makes thousands of requests.
    let server = Server::start(
        dir.path(),
        &[
            "--auth",
            "enabled",
            "--rate-limit-per-s",
            "1000000",
            "--rate-limit-burst",
            "1000000",
        ],
    );
    let client = server.client_with_key(&key);
    load(&server, client, jobs).await;
}

/// The same on the AWS backend (moto), where tenants' keys live in API Gateway: the quota is the
/// server's `--max-concurrent-jobs` for its one tenant. Fewer jobs by default (`SOYL_LOAD_JOBS_AWS`):
/// the emulator serves one request at a time.
#[tokio::test(flavor = "multi_thread")]
async fn every_accepted_job_ends_exactly_once_and_only_the_quota_refuses_aws() {
    let Some(moto) = moto::shared() else { return };
    let jobs = env_usize("SOYL_LOAD_JOBS_AWS", 300);
    let dir = temp_dir();
    let quota = QUOTA.to_string();
    let server = Server::start_with_env(
        dir.path(),
        &["--max-concurrent-jobs", &quota],
        &moto::soyl_init(moto),
        &dir.path().join("serve.log"),
    );
    let client = server.client();
    load(&server, client, jobs).await;
}

/// `jobs` jobs from `SOYL_LOAD_CLIENTS` clients (default 64) through `client`, then the checks.
async fn load(server: &Server, client: Client, jobs: usize) {
    let clients = env_usize("SOYL_LOAD_CLIENTS", 64);
    let tally = Arc::new(Mutex::new(Tally::default()));
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            tokio::spawn(client_loop(
                client.clone(),
                next.clone(),
                jobs,
                tally.clone(),
            ))
        })
        .collect();
    for task in tasks {
        task.await.expect("a client panicked");
    }
    let wall = started.elapsed();
    let mut t = Arc::try_unwrap(tally)
        .ok()
        .expect("clients are done")
        .into_inner()
        .expect("tally");

    let unique: HashSet<&String> = t.accepted.iter().collect();
    assert_eq!(t.accepted.len(), jobs, "accepted jobs");
    assert_eq!(unique.len(), jobs, "a job id was handed out twice");
    assert_eq!(t.terminal.get("succeeded"), Some(&jobs), "{:?}", t.terminal);
    let refused = t.statuses.get(&429).copied().unwrap_or(0);
    assert!(
        refused > 0,
        "the quota of {QUOTA} never refused a submit from {clients} clients"
    );
    let odd: Vec<_> = t
        .statuses
        .iter()
        .filter(|(s, _)| !(200..300).contains(*s) && **s != 429)
        .collect();
    assert!(odd.is_empty(), "non-2xx answers other than 429: {odd:?}");

    let listed = list_all(&client).await;
    let listed_ids: HashSet<&String> = listed.iter().map(|(id, _)| id).collect();
    assert_eq!(listed.len(), jobs, "the listing holds each job once");
    assert_eq!(
        listed_ids, unique,
        "the listing holds exactly the accepted jobs"
    );
    assert!(
        listed.iter().all(|(_, s)| s == "succeeded"),
        "a listed job is not succeeded"
    );

    let peak = server.peak_rss_bytes();
    let p = |v: &mut Vec<Duration>, q| percentile(v, q).as_secs_f64() * 1000.0;
    println!(
        "load: {jobs} jobs, {clients} clients, {wall:.1?}, {:.0} jobs/s; 429s: {refused}; \
         server peak RSS {:.0} MiB; submit p50 {:.1} ms p99 {:.1} ms; \
         end-to-end p50 {:.1} ms p99 {:.1} ms; answers {:?}",
        jobs as f64 / wall.as_secs_f64(),
        mib(peak),
        p(&mut t.submit_latency, 0.5),
        p(&mut t.submit_latency, 0.99),
        p(&mut t.end_to_end, 0.5),
        p(&mut t.end_to_end, 0.99),
        t.statuses
    );
}
