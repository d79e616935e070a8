//! Crash, many times: a `soyl api` process takes a steady stream of face jobs while `soyl worker`
//! processes on the same backend are SIGKILLed mid-batch, one after another, each replaced by a
//! fresh one that runs for the visibility timeout and a moment more before its own kill (which
//! comes right after a burst of jobs, so it lands mid-batch). Every accepted job ends in exactly
//! one terminal state (one terminal transition in all the workers' logs together), succeeded,
//! and work interrupted by a kill finishes within the restart, the visibility timeout and its
//! processing time. On both backends.
//!
//! CI kills the worker 5 times per backend; `SOYL_FULL=1` kills it 20 times.

use serde_json::Value;
use soyl_tests::moto;
use soyl_tests::{face_photo, temp_dir, terminal_transitions, Server};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const VISIBILITY: Duration = Duration::from_secs(2);
/// Jobs submitted at once right before each kill.
const BURST: usize = 6;
/// How long each worker runs beyond the visibility timeout before its burst and kill.
const LIFETIME: Duration = Duration::from_millis(1500);
/// Allowance for running a redelivered job behind the backlog on a shared 2-core machine.
const PROCESSING: Duration = Duration::from_secs(15);
/// A kill this soon after a job's terminal write may beat the log line that reports it.
const LOG_WINDOW: time::Duration = time::Duration::milliseconds(500);

fn kill_count() -> usize {
    if std::env::var("SOYL_FULL").is_ok_and(|v| v == "1") {
        20
    } else {
        5
    }
}

/// One kill: when, and how long the next worker took to be ready.
struct Kill {
    at: OffsetDateTime,
    restart: Duration,
}

/// Starts `soyl worker` with `args` and `env`, logging to `log`; returns it and its start time.
fn start_worker(args: &[String], env: &[(&str, String)], log: &Path) -> (Server, Duration) {
    let started = Instant::now();
    let mut all = vec!["worker", "--listen", "127.0.0.1:0"];
    all.extend(args.iter().map(String::as_str));
    let worker = Server::start_command(&all, env, log);
    (worker, started.elapsed())
}

/// Waits until the worker's log shows a claimed job (so the kill lands mid-batch).
async fn wait_for_claim(log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains("\"job claimed\"")
    {
        assert!(Instant::now() < deadline, "worker claimed nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every worker log line that names job `id`, prefixed with its log's file name.
fn log_lines_of(logs: &[&Path], id: &str) -> String {
    let mut lines = Vec::new();
    for log in logs {
        let name = log.file_name().unwrap_or_default().to_string_lossy();
        for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
            if line.contains(id) {
                lines.push(format!("{name}: {line}"));
            }
        }
    }
    lines.join("\n")
}

fn timestamp(job: &Value, field: &str) -> OffsetDateTime {
    let text = job[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field}: {job}"));
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{field} {text}: {e}"))
}

async fn repeated_sigkill_loses_and_doubles_nothing(args: Vec<String>, env: Vec<(&str, String)>) {
    let dir = temp_dir();
    let log = |name: String| -> PathBuf { dir.path().join(name) };
    let mut api_args = vec!["api", "--listen", "127.0.0.1:0"];
    api_args.extend(args.iter().map(String::as_str));
    let api = Server::start_command(&api_args, &env, &log("api.log".into()));
    let client = api.client();

    // A steady stream of jobs for the whole run.
    let ids = Arc::new(Mutex::new(Vec::new()));
    let photo = face_photo("group-six-faces.jpg");
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let stream = tokio::spawn({
        let (client, ids, photo) = (client.clone(), ids.clone(), photo.clone());
        async move {
            loop {
                let id = client.submit_ok("group.jpg", photo.clone()).await;
                ids.lock().expect("ids").push(id);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(150)) => {}
                    _ = stopped.wait_for(|s| *s) => return,
                }
            }
        }
    });

    let mut logs = Vec::new();
    let mut kills: Vec<Kill> = Vec::new();
    for k in 0..kill_count() {
        logs.push(log(format!("worker-{k}.log")));
        let (mut worker, restart) = start_worker(&args, &env, &logs[k]);
        if let Some(previous) = kills.last_mut() {
            previous.restart = restart;
        }
        // Each worker lives at least the visibility timeout plus a moment, so the work the
        // previous kill interrupted comes back to it and can finish (a crash loop faster than
        // the visibility timeout finishes nothing, and is the poison case: see `poison`).
        tokio::time::sleep(VISIBILITY + LIFETIME).await;
        wait_for_claim(&logs[k]).await;
        // A burst just before the kill, so it lands with a batch in flight however fast the
        // stream's jobs run; the moment within the batch varies from one kill to the next.
        let burst = client.submit_many(BURST, "group.jpg", &photo).await;
        ids.lock().expect("ids").extend(burst);
        tokio::time::sleep(Duration::from_millis(20 + (k as u64 * 37) % 100)).await;
        worker.kill();
        kills.push(Kill {
            at: OffsetDateTime::now_utc(),
            restart: Duration::ZERO,
        });
    }
    let _ = stop.send(true);
    stream.await.expect("submitting");
    logs.push(log("worker-last.log".into()));
    let (_last, restart) = start_worker(&args, &env, logs.last().expect("a log"));
    if let Some(previous) = kills.last_mut() {
        previous.restart = restart;
    }

    let ids = ids.lock().expect("ids").clone();
    let mut jobs = Vec::new();
    for id in &ids {
        jobs.push(client.wait(id, Duration::from_secs(180)).await);
    }
    let logs: Vec<&Path> = logs.iter().map(PathBuf::as_path).collect();
    let counts = terminal_transitions(&logs);
    let mut redelivered = 0;
    let mut unlogged = 0;
    let mut worst = Duration::ZERO;
    for (id, job) in ids.iter().zip(&jobs) {
        assert_eq!(
            job["status"],
            "succeeded",
            "{job}\nits log lines:\n{}",
            log_lines_of(&logs, id)
        );
        let finished = timestamp(job, "finished_at");
        // One terminal transition in the logs; none only when the kill came between the write
        // and its log line (the job finished at most LOG_WINDOW before a kill).
        let killed_right_after = kills
            .iter()
            .any(|k| k.at >= finished && k.at - finished <= LOG_WINDOW);
        match counts.get(id).copied().unwrap_or(0) {
            1 => {}
            0 if killed_right_after => unlogged += 1,
            n => panic!("job {id} reached a terminal state {n} times: {job}"),
        }
        if job["attempts"].as_u64().unwrap_or(0) < 2 {
            continue;
        }
        redelivered += 1;
        // Interrupted by the last kill before it finished: done within restart + visibility +
        // processing of that kill.
        let kill = kills
            .iter()
            .rev()
            .find(|k| k.at < finished)
            .unwrap_or_else(|| panic!("job {id} retried with no kill before it finished"));
        let took: Duration = (finished - kill.at).try_into().unwrap_or_default();
        let bound = kill.restart + VISIBILITY + PROCESSING;
        assert!(
            took <= bound,
            "job {id} finished {took:?} after a kill (bound {bound:?})"
        );
        worst = worst.max(took.saturating_sub(kill.restart));
    }
    assert!(
        redelivered > 0,
        "no kill interrupted a job: the test proved nothing"
    );
    println!(
        "{} kills, {} jobs, {redelivered} redelivered, {unlogged} written just before a kill (log line lost); slowest redelivered job done {worst:?} after its worker restarted (visibility {VISIBILITY:?})",
        kills.len(),
        ids.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_worker_sigkills_lose_and_double_nothing_embedded() {
    let dir = temp_dir();
    let args = vec![
        "--data-dir".to_owned(),
        dir.path().to_string_lossy().into_owned(),
        "--visibility-timeout-s".to_owned(),
        VISIBILITY.as_secs().to_string(),
    ];
    repeated_sigkill_loses_and_doubles_nothing(args, Vec::new()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_worker_sigkills_lose_and_double_nothing_aws() {
    let Some(moto) = moto::shared() else { return };
    let args = vec![
        "--visibility-timeout-s".to_owned(),
        VISIBILITY.as_secs().to_string(),
    ];
    repeated_sigkill_loses_and_doubles_nothing(args, moto::soyl_init(moto)).await;
}
