//! Dynamic batching is real and visible: 64 jobs waiting at once are served in far fewer
//! expression-model runs than 64 (with a batching delay, as on CUDA), and each job's record says
//! the batch size its faces ran in.

use futures::future::join_all;
use soyl_tests::{face_photo, temp_dir, Server};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn sixty_four_waiting_jobs_run_in_far_fewer_than_64_batches() {
    let dir = temp_dir();
    // Accept the 64 jobs with no worker running, so they are all waiting when the worker starts.
    let api_only = Server::start(dir.path(), &["--no-worker"]);
    let client = api_only.client();
    let photos = ["happy.jpg", "sad.jpg", "angry.jpg", "surprise.jpg"];
    let ids: Vec<String> = join_all((0..64).map(|i| {
        let client = client.clone();
        let name = photos[i % photos.len()];
        async move { client.submit_ok(name, face_photo(name)).await }
    }))
    .await;
    drop(api_only);

    // Lanes on the CPU run whatever is waiting without delay by default; a batching delay (the
    // default on CUDA) lets the expression lane gather the faces the detector hands it.
    let server = Server::start(dir.path(), &["--max-delay-ms", "50"]);
    let client = server.client();
    let mut runs = 0.0;
    let mut largest = 0;
    for id in &ids {
        let job = client.wait(id, Duration::from_secs(120)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        let sizes = job["result"]["stats"]["batch_sizes"]["face-emotion"]
            .as_array()
            .unwrap_or_else(|| panic!("no batch sizes in {job}"));
        assert_eq!(sizes.len(), 1, "one face per photo: {job}");
        let size = sizes[0].as_u64().expect("batch size");
        largest = largest.max(size);
        // Each run of size b is reported by its b items, so summing 1/b counts runs exactly.
        runs += 1.0 / size as f64;
    }
    let runs = runs.round() as u64;
    println!("64 jobs ran in {runs} face-emotion batches (largest {largest})");
    assert!(
        runs <= 16,
        "64 jobs took {runs} expression-model runs: batching is not working"
    );
    assert!(largest >= 8, "largest batch was {largest}");

    // The Prometheus histogram tells the same story as the job records.
    let metrics = client
        .http
        .get(format!("{}/metrics", client.url))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    let sample = |name: &str| -> f64 {
        let prefix = format!("{name}{{lane=\"face-emotion\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{metrics}"))
    };
    assert_eq!(
        sample("soyl_lane_batch_size_sum"),
        64.0,
        "64 faces went through the lane"
    );
    assert_eq!(
        sample("soyl_lane_batch_size_count") as u64,
        runs,
        "runs per histogram = runs per job records"
    );
    assert!(
        metrics.contains("soyl_jobs_finished_total{status=\"succeeded\"} 64"),
        "{metrics}"
    );
}

/// Number of session runs behind a set of items, from the batch size each item reports.
fn runs_behind(sizes: &[u64]) -> u64 {
    sizes.iter().map(|&b| 1.0 / b as f64).sum::<f64>().round() as u64
}

/// Accepts `n` jobs with no worker running, then starts a worker (with `extra` arguments) and
/// returns the lane batch sizes of `model` reported by all of them.
async fn batch_sizes_of_waiting_jobs(
    n: usize,
    model: &str,
    extra: &[&str],
    submit: impl Fn(soyl_tests::Client) -> futures::future::BoxFuture<'static, String>,
) -> Vec<u64> {
    let dir = temp_dir();
    let api_only = Server::start(dir.path(), &["--no-worker"]);
    let client = api_only.client();
    let mut ids = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(64) {
        ids.extend(join_all(chunk.iter().map(|_| submit(client.clone()))).await);
    }
    drop(api_only);
    // Lanes on the CPU run whatever is waiting without delay by default; a batching delay (the
    // default on CUDA) lets the expression lane gather the faces the detector hands it.
    let args: Vec<&str> = ["--max-delay-ms", "50"]
        .iter()
        .chain(extra)
        .copied()
        .collect();
    let server = Server::start(dir.path(), &args);
    let client = server.client();
    let mut sizes = Vec::new();
    for id in &ids {
        let job = client.wait(id, Duration::from_secs(180)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        let reported = job["result"]["stats"]["batch_sizes"][model]
            .as_array()
            .unwrap_or_else(|| panic!("{job}"));
        sizes.extend(reported.iter().filter_map(|v| v.as_u64()));
    }
    sizes
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_waiting_text_jobs_run_in_few_batches() {
    let sizes = batch_sizes_of_waiting_jobs(1000, "text-sentiment", &[], |client| {
        Box::pin(async move {
            let body = serde_json::json!({"inputs": [{"text": "What a lovely, lovely day."}]});
            let (status, accepted) = client.post_json("/v1/jobs", &body).await;
            assert_eq!(status, 202, "{accepted}");
            accepted["job_id"].as_str().expect("id").to_owned()
        })
    })
    .await;
    let runs = runs_behind(&sizes);
    println!(
        "1000 text jobs ran in {runs} text-sentiment batches (largest {:?})",
        sizes.iter().max()
    );
    assert_eq!(sizes.len(), 1000);
    assert!(runs <= 200, "1000 text jobs took {runs} runs");
}

#[tokio::test(flavor = "multi_thread")]
async fn sixty_four_waiting_audio_jobs_run_in_batches() {
    let speech = soyl_tests::voice_fixture("speech.mp3");
    // The manifest keeps CPU batches of this model small (its memory arena grows with the
    // largest batch); `--max-batch` overrides that for every lane.
    let sizes =
        batch_sizes_of_waiting_jobs(64, "voice-emotion", &["--max-batch", "8"], move |client| {
            let speech = speech.clone();
            Box::pin(async move { client.submit_ok("speech.mp3", speech).await })
        })
        .await;
    let runs = runs_behind(&sizes);
    println!(
        "64 audio jobs ({} windows) ran in {runs} voice-emotion batches",
        sizes.len()
    );
    assert!(
        runs * 4 <= sizes.len() as u64,
        "{} windows took {runs} runs",
        sizes.len()
    );
    assert!(
        sizes.iter().all(|&b| b <= 8),
        "a batch exceeded --max-batch 8: {sizes:?}"
    );
}
