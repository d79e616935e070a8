//! Graceful drain: SIGTERM while jobs are in flight stops receiving, finishes or releases the
//! in-flight work within the stop timeout, and exits 0; nothing is left `running`, and a restarted
//! server finishes every job. On both backends.

use soyl_tests::{face_photo, moto, temp_dir, Server};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_exits_cleanly_and_leaves_nothing_running() {
    drain(Vec::new()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_under_load_exits_cleanly_and_leaves_nothing_running_aws() {
    let Some(moto) = moto::shared() else { return };
    drain(moto::soyl_init(moto)).await;
}

/// The scenario on the backend `env` selects (none: embedded).
async fn drain(env: Vec<(&'static str, String)>) {
    let dir = temp_dir();
    let start = |args: &[&str], name: &str| {
        Server::start_with_env(dir.path(), args, &env, &dir.path().join(name))
    };
    let mut server = start(&["--stop-timeout-s", "3"], "serve-1.log");
    let client = server.client();
    let photo = face_photo("group-six-faces.jpg");
    let ids = client.submit_many(40, "group.jpg", &photo).await;
    let asked = Instant::now();
    let status = server
        .terminate(Duration::from_secs(20))
        .expect("soyl serve exits after SIGTERM");
    let took = asked.elapsed();
    assert!(status.success(), "exit status {status:?}");
    assert!(
        took < Duration::from_secs(10),
        "drain took {took:?} with a 3 s stop timeout"
    );

    let api_only = start(&["--no-worker"], "api.log");
    let (_, running) = api_only
        .client()
        .send(
            api_only
                .client()
                .http
                .get(format!("{}/v1/jobs?status=running", api_only.url)),
        )
        .await;
    assert_eq!(
        running["jobs"].as_array().map(Vec::len),
        Some(0),
        "jobs left running: {running}"
    );
    drop(api_only);

    let server = start(&[], "serve-2.log");
    let client = server.client();
    for id in &ids {
        let job = client.wait(id, Duration::from_secs(120)).await;
        assert_eq!(job["status"], "succeeded", "{job}");
    }
    println!("drained in {took:?}");
}
