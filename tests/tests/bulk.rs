//! Bulk reprocessing end to end with the real models: a generated directory of images, WAVs and
//! text files goes through `soyl reprocess` into one batch; re-runs add nothing; an interrupted
//! run resumes without duplicates; interactive jobs stay fast behind a bulk backlog.
//! `SOYL_BULK_ITEMS` sets the directory size (default 2,000).

use soyl_tests::bulk_media::generate;
use soyl_tests::{face_photo, repo_root, soyl_binary, temp_dir, Server};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The three scenarios each load both cores; run one at a time so the latency comparison
/// measures the bulk backlog, not the other tests.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn items() -> usize {
    std::env::var("SOYL_BULK_ITEMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000)
}

/// Runs `soyl reprocess SOURCE` on `data`; returns (batch id, new jobs enqueued).
fn reprocess(source: &Path, data: &Path, extra: &[&str]) -> (String, u64) {
    let (batch, enqueued, _) = reprocess_counting(source, data, extra);
    (batch, enqueued)
}

/// Like [`reprocess`], also returning how many existing jobs were sent again.
fn reprocess_counting(source: &Path, data: &Path, extra: &[&str]) -> (String, u64, u64) {
    let out = Command::new(soyl_binary())
        .current_dir(repo_root())
        .arg("reprocess")
        .arg(source)
        .arg("--data-dir")
        .arg(data)
        .arg("--quiet")
        .args(extra)
        .output()
        .expect("running soyl reprocess");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "reprocess failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let batch = stdout
        .lines()
        .find_map(|l| l.strip_prefix("batch "))
        .expect("batch line")
        .to_owned();
    let enqueued = stdout
        .lines()
        .find_map(|l| l.strip_prefix("enqueued "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("summary line");
    let resent = stdout
        .split_once(" re-sent)")
        .and_then(|(before, _)| before.rsplit('(').next())
        .and_then(|n| n.parse().ok())
        .expect("re-sent count");
    println!("{}", stdout.trim());
    (batch, enqueued, resent)
}

/// `soyl export` lines of a batch.
fn export(data: &Path, batch: &str, format: &str) -> Vec<String> {
    let out = Command::new(soyl_binary())
        .args(["export", batch, "--format", format, "--data-dir"])
        .arg(data)
        .output()
        .expect("running soyl export");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_directory_is_reprocessed_once_and_a_rerun_enqueues_nothing() {
    let _serial = serial();
    let n = items();
    let dir = temp_dir();
    let (source, data) = (dir.path().join("source"), dir.path().join("data"));
    generate(&source, n);
    std::fs::create_dir_all(&data).expect("data dir");
    let _server = Server::start(&data, &[]);
    let started = Instant::now();
    let (batch, enqueued) = reprocess(&source, &data, &["--wait"]);
    println!(
        "{n} items reprocessed end to end in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(enqueued, n as u64);
    let lines = export(&data, &batch, "jsonl");
    assert_eq!(lines.len(), n);
    let finished = lines
        .iter()
        .filter(|l| l.contains("\"status\":\"succeeded\"") || l.contains("\"status\":\"failed\""))
        .count();
    assert_eq!(finished, n, "every job succeeded or failed");
    let summaries: Vec<String> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|row| row["summary"].as_str().map(str::to_owned))
        .collect();
    assert!(
        summaries.iter().any(|s| s.starts_with("face=1 faces")),
        "a face summary"
    );
    assert!(
        summaries
            .iter()
            .any(|s| ["text=positive", "text=neutral", "text=negative"]
                .iter()
                .any(|t| s.starts_with(t))),
        "a text summary with its label"
    );
    assert!(
        !summaries.iter().any(|s| s.contains('?')),
        "every summary names a reading"
    );
    assert_eq!(
        export(&data, &batch, "csv").len(),
        n + 1,
        "header plus one line per job"
    );
    let (again, enqueued) = reprocess(&source, &data, &[]);
    assert_eq!(again, batch, "the same command names the same batch");
    assert_eq!(enqueued, 0);
}

#[test]
fn an_interrupted_run_resumes_without_duplicates() {
    let _serial = serial();
    let n = items();
    let dir = temp_dir();
    let (source, data) = (dir.path().join("source"), dir.path().join("data"));
    generate(&source, n);
    let mut child = Command::new(soyl_binary())
        .current_dir(repo_root())
        .arg("reprocess")
        .arg(&source)
        .arg("--data-dir")
        .arg(&data)
        .args(["--quiet", "--batch", "resume-me"])
        .stdout(Stdio::null())
        .spawn()
        .expect("starting soyl reprocess");
    let deadline = Instant::now() + Duration::from_secs(120);
    let first = loop {
        let count = if data.join("soyl.db").exists() {
            export(&data, "resume-me", "jsonl").len()
        } else {
            0
        };
        if count >= n / 2 || Instant::now() > deadline {
            child.kill().expect("killing reprocess");
            break count;
        }
        if child.try_wait().expect("wait").is_some() {
            break count;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = child.wait();
    let before = export(&data, "resume-me", "jsonl").len();
    println!("interrupted with {first} jobs seen, {before} recorded");
    assert!(before < n, "the run was interrupted before the end");
    let (_, enqueued, resent) = reprocess_counting(&source, &data, &["--batch", "resume-me"]);
    assert_eq!(
        enqueued as usize,
        n - before,
        "the re-run adds exactly the missing jobs"
    );
    // The interrupted run recorded its progress every 256 objects (8 at a time in flight): only
    // the jobs past its last durable record are sent again, not every queued one. The kill may
    // land while a record is being written, so up to two intervals (and those in flight) remain.
    assert!(
        resent <= 2 * 256 + 8,
        "{resent} of {before} recorded jobs re-sent"
    );
    assert_eq!(
        export(&data, "resume-me", "jsonl").len(),
        n,
        "no duplicates"
    );
}

/// Median time from submitting `happy.jpg` over HTTP to seeing it finished, over three jobs (the
/// client polls every 25 ms, so the figure is not quantised by a backoff).
fn interactive_latency(server: &Server) -> Duration {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let client = server.client();
    let photo = face_photo("happy.jpg");
    let mut times: Vec<Duration> = (0..3)
        .map(|_| {
            runtime.block_on(async {
                let started = Instant::now();
                let id = client.submit_ok("happy.jpg", photo.clone()).await;
                let job = client.wait(&id, Duration::from_secs(120)).await;
                assert_eq!(job["status"], "succeeded", "{job}");
                started.elapsed()
            })
        })
        .collect();
    times.sort();
    times[1]
}

#[test]
fn an_interactive_job_stays_fast_behind_a_bulk_backlog() {
    let _serial = serial();
    let n = items();
    let dir = temp_dir();
    let (source, data) = (dir.path().join("source"), dir.path().join("data"));
    generate(&source, n);
    std::fs::create_dir_all(&data).expect("data dir");
    let server = Server::start(&data, &[]);
    interactive_latency(&server); // warm-up
    let unloaded = interactive_latency(&server);
    let (_, enqueued) = reprocess(&source, &data, &[]);
    assert_eq!(enqueued, n as u64);
    let loaded = interactive_latency(&server);
    println!(
        "interactive happy.jpg: unloaded {:.0} ms, behind {n} bulk jobs {:.0} ms",
        unloaded.as_secs_f64() * 1e3,
        loaded.as_secs_f64() * 1e3
    );
    assert!(
        loaded <= unloaded * 5,
        "interactive latency grew more than 5x"
    );
}

/// A file over `--max-object-bytes` is counted as an error without being read, and the rest of
/// the directory is reprocessed.
#[test]
fn a_file_over_the_object_limit_is_an_error_and_the_rest_runs() {
    let _serial = serial();
    let dir = temp_dir();
    let source = dir.path().join("source");
    std::fs::create_dir_all(&source).expect("source dir");
    std::fs::write(source.join("happy.jpg"), face_photo("happy.jpg")).expect("photo");
    std::fs::write(source.join("huge.jpg"), vec![0xFFu8; 2_000_000]).expect("big file");
    let data = dir.path().join("data");
    let out = Command::new(soyl_binary())
        .current_dir(repo_root())
        .arg("reprocess")
        .arg(&source)
        .arg("--data-dir")
        .arg(&data)
        .args(["--quiet", "--max-object-bytes", "1000000"])
        .output()
        .expect("running soyl reprocess");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("enqueued 1 new") && stdout.contains("1 errors, of 2 listed"),
        "{stdout}"
    );
}
