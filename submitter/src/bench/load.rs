//! The HTTP load generator: `concurrency` closed-loop clients, each sending one job, waiting for
//! its result, and sending the next, for a fixed duration. Against soyl a job is `POST /v1/jobs`
//! then long-polling `GET /v1/jobs/{id}?wait_ms=` until it is terminal (the server answers as
//! soon as the job ends, so polling adds one request and no delay); against the peer baseline it
//! is one synchronous `POST /analyze`.
//! Latency is from the first byte sent to the terminal answer read.

use super::lanes::LaneTotals;
use super::workloads::{Payload, Workload};
use anyhow::Context;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Which API the target speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// soyl: submit, then poll.
    Soyl,
    /// The Python baseline: one synchronous request.
    Baseline,
}

/// One workload at one concurrency against one target.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Point {
    /// Which server configuration (`soyl`, `soyl max_batch=1`, `baseline`).
    pub target: String,
    /// Workload name.
    pub workload: String,
    /// Closed-loop clients.
    pub concurrency: usize,
    /// Jobs that succeeded.
    pub completed: usize,
    /// Jobs that failed or were refused.
    pub failed: usize,
    /// Succeeded jobs per second of wall time.
    pub throughput: f64,
    /// Latency percentiles of succeeded jobs, in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Mean size of the ONNX Runtime batch each item ran in, per model (soyl only).
    pub mean_batch: BTreeMap<String, f64>,
    /// Items each lane ran per second spent in session runs during this point (soyl only; see
    /// [`super::lanes`]).
    pub lane_items_per_busy_s: BTreeMap<String, f64>,
    /// CPU the server process used per succeeded job, in milliseconds (servers the benchmark
    /// started; not for one at `--url`).
    pub server_cpu_ms_per_job: Option<f64>,
    /// The server's CPU time as a share of all cores' time during the point (0..1).
    pub server_cpu_share: Option<f64>,
}

/// Where to send load.
#[derive(Debug, Clone)]
pub struct Target {
    /// Label in the report.
    pub label: String,
    /// Base URL.
    pub url: String,
    /// Its API.
    pub api: Api,
    /// The server's process id, when the benchmark started it (for its CPU time).
    pub pid: Option<u32>,
}

/// What one client saw.
#[derive(Default)]
struct Tally {
    latencies: Vec<f64>,
    failed: usize,
    first_error: Option<String>,
    batch_sums: BTreeMap<String, (f64, usize)>,
}

/// Runs one point: `concurrency` clients for `duration`, then waits for the jobs in flight.
pub async fn run_point(
    http: &reqwest::Client,
    target: &Target,
    workload: &Workload,
    concurrency: usize,
    duration: Duration,
) -> Point {
    let base = target.url.trim_end_matches('/');
    let lanes_before = match target.api {
        Api::Soyl => LaneTotals::scrape(http, base).await,
        Api::Baseline => None,
    };
    let cpu_before = target.pid.and_then(process_cpu_s);
    let started = Instant::now();
    let deadline = started + duration;
    let clients = (0..concurrency).map(|client| {
        let (http, target) = (http.clone(), target.clone());
        let payloads = workload.payloads.clone();
        tokio::spawn(async move {
            let mut tally = Tally::default();
            let mut next = client;
            while Instant::now() < deadline {
                let payload = &payloads[next % payloads.len()];
                next += concurrency;
                let sent = Instant::now();
                match one_job(&http, &target, payload).await {
                    Ok(record) => {
                        tally.latencies.push(sent.elapsed().as_secs_f64() * 1e3);
                        add_batch_sizes(&mut tally.batch_sums, &record);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "bench job failed");
                        tally.failed += 1;
                        tally.first_error.get_or_insert_with(|| format!("{e:#}"));
                        // A refusal (429/503) answers at once; do not spin on it.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            tally
        })
    });
    let tallies = futures::future::join_all(clients).await;
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu_s = cpu_before
        .zip(target.pid.and_then(process_cpu_s))
        .map(|(before, after)| after - before);
    let lane_items_per_busy_s = match lanes_before {
        Some(before) => LaneTotals::scrape(http, base)
            .await
            .map(|after| before.rates_until(&after))
            .unwrap_or_default(),
        None => BTreeMap::new(),
    };
    let mut all = Tally::default();
    for tally in tallies.into_iter().flatten() {
        all.latencies.extend(tally.latencies);
        all.failed += tally.failed;
        all.first_error = all.first_error.or(tally.first_error);
        for (model, (sum, n)) in tally.batch_sums {
            let entry = all.batch_sums.entry(model).or_default();
            entry.0 += sum;
            entry.1 += n;
        }
    }
    if let Some(error) = &all.first_error {
        eprintln!(
            "bench: {} {} x{concurrency}: {} jobs failed, the first: {error}",
            target.label, workload.name, all.failed
        );
    }
    all.latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| percentile(&all.latencies, p);
    Point {
        target: target.label.clone(),
        workload: workload.name.to_owned(),
        concurrency,
        completed: all.latencies.len(),
        failed: all.failed,
        throughput: all.latencies.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p95_ms: pct(0.95),
        p99_ms: pct(0.99),
        mean_batch: all
            .batch_sums
            .into_iter()
            .map(|(model, (sum, n))| (model, sum / n.max(1) as f64))
            .collect(),
        lane_items_per_busy_s,
        server_cpu_ms_per_job: server_cpu_s
            .filter(|_| !all.latencies.is_empty())
            .map(|cpu| cpu * 1e3 / all.latencies.len() as f64),
        server_cpu_share: server_cpu_s.map(|cpu| cpu / (elapsed * cpu_cores())),
    }
}

/// Clock ticks per second of `/proc/<pid>/stat`'s CPU times (Linux's `USER_HZ`, 100 on every
/// architecture soyl builds for).
const USER_HZ: f64 = 100.0;

/// User plus system CPU seconds of process `pid` and all its threads so far (Linux); `None`
/// elsewhere or once it has exited.
fn process_cpu_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: fields are counted after its end.
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    // After the name: state (field 3 of proc(5)) ... utime (14) and stime (15).
    let ticks = |i: usize| fields.get(i - 3)?.parse::<f64>().ok();
    Some((ticks(14)? + ticks(15)?) / USER_HZ)
}

/// Cores this process may run on (the machine's, for the benchmark and its servers).
fn cpu_cores() -> f64 {
    std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64)
}

/// Nearest-rank percentile of sorted values (0 when empty).
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Sends one job and returns its final record (soyl) or answer (baseline).
async fn one_job(
    http: &reqwest::Client,
    target: &Target,
    payload: &Payload,
) -> anyhow::Result<Value> {
    let base = target.url.trim_end_matches('/');
    let path = match target.api {
        Api::Soyl => "/v1/jobs",
        Api::Baseline => "/analyze",
    };
    let request = http.post(format!("{base}{path}"));
    let request = match payload {
        Payload::File { name, mime, bytes } => {
            let part = reqwest::multipart::Part::bytes(bytes.clone())
                .file_name(*name)
                .mime_str(mime)?;
            request.multipart(reqwest::multipart::Form::new().part("file", part))
        }
        Payload::Text(text) => request.json(&serde_json::json!({"inputs": [{"text": text}]})),
    };
    let answer = json_ok(request.send().await?).await?;
    if target.api == Api::Baseline {
        return Ok(answer);
    }
    let id = answer["job_id"]
        .as_str()
        .context("submission answer has no job_id")?
        .to_owned();
    poll(http, base, &id).await
}

/// Long-polls a soyl job (`?wait_ms=`) until it is terminal; `Err` unless it succeeded.
async fn poll(http: &reqwest::Client, base: &str, id: &str) -> anyhow::Result<Value> {
    loop {
        let url = format!("{base}/v1/jobs/{id}?wait_ms={LONG_POLL_MS}");
        let record = json_ok(http.get(url).send().await?).await?;
        match record["status"].as_str() {
            Some("succeeded") => return Ok(record),
            Some("queued" | "running") => {}
            other => anyhow::bail!("job {id} ended {other:?}: {}", record["error"]),
        }
    }
}

/// How long one poll may wait on the server (it answers as soon as the job ends).
const LONG_POLL_MS: u64 = 20_000;

async fn json_ok(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response.json().await.context("reading the answer")?;
    if !status.is_success() {
        anyhow::bail!("server answered {status}: {body}");
    }
    Ok(body)
}

/// Adds a soyl record's `result.stats.batch_sizes` (model -> batch of each item) to `sums`.
fn add_batch_sizes(sums: &mut BTreeMap<String, (f64, usize)>, record: &Value) {
    let Some(models) = record["result"]["stats"]["batch_sizes"].as_object() else {
        return;
    };
    for (model, sizes) in models {
        let entry = sums.entry(model.clone()).or_default();
        for size in sizes
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
        {
            entry.0 += size;
            entry.1 += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_cpu_time_counts_its_threads_work() {
        let pid = std::process::id();
        let before = process_cpu_s(pid).expect("this process's /proc stat");
        // Another thread of this process spins until the process's time shows 50 ms more
        // (10 s of wall time at most, however busy the machine).
        let counted = std::thread::spawn(move || {
            let start = Instant::now();
            let mut x = 0u64;
            while start.elapsed() < Duration::from_secs(10) {
                for _ in 0..100_000 {
                    x = std::hint::black_box(
                        x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1),
                    );
                }
                if process_cpu_s(pid).is_some_and(|now| now - before >= 0.05) {
                    return true;
                }
            }
            false
        })
        .join()
        .expect("spinner");
        assert!(counted, "a spinning thread's CPU time never showed");
        assert_eq!(process_cpu_s(u32::MAX), None, "no such process");
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
    }
}
