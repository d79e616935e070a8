//! The jobs API as a multi-tenant service: keys, tenant isolation, revocation, rate limits and
//! quotas, idempotent submission, cancel and listing.

use futures::future::join_all;
use serde_json::json;
use soyl_tests::{face_photo, soyl_keys, temp_dir, Server};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn every_api_endpoint_needs_a_key_and_probes_do_not() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--auth", "enabled", "--no-worker"]);
    let anonymous = server.client();
    let id = "01a2174f-da99-7327-b6b0-d9461e949fe2";
    let requests = [
        anonymous
            .http
            .post(format!("{}/v1/jobs", server.url))
            .json(&json!({"inputs": [{"text": "hi"}]})),
        anonymous.http.get(format!("{}/v1/jobs", server.url)),
        anonymous.http.get(format!("{}/v1/jobs/{id}", server.url)),
        anonymous
            .http
            .delete(format!("{}/v1/jobs/{id}", server.url)),
        anonymous
            .http
            .post(format!("{}/getEmotionState", server.url))
            .json(&json!({"modules": []})),
        anonymous
            .http
            .post(format!("{}/analyzeText", server.url))
            .json(&json!({"text": "hi"})),
        anonymous.http.post(format!("{}/analyzeFace", server.url)),
        anonymous.http.post(format!("{}/analyzeVoice", server.url)),
        anonymous
            .http
            .get(format!("{}/v1/jobs", server.url))
            .bearer_auth("soyl_not_a_key"),
    ];
    for request in requests {
        let (status, body) = anonymous.send(request).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    for probe in ["/health", "/ready"] {
        let (status, _) = anonymous
            .send(anonymous.http.get(format!("{}{probe}", server.url)))
            .await;
        assert_eq!(status, 200, "{probe}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_tenants_job_is_404_like_an_unknown_one_and_revoked_keys_stop_at_once() {
    let dir = temp_dir();
    let alice_key = soyl_keys(dir.path(), &["create", "--tenant", "alice"]);
    let bob_key = soyl_keys(dir.path(), &["create", "--tenant", "bob"]);
    let server = Server::start(dir.path(), &["--auth", "enabled"]);
    let (alice, bob) = (
        server.client_with_key(&alice_key),
        server.client_with_key(&bob_key),
    );
    let id = alice.submit_ok("happy.jpg", face_photo("happy.jpg")).await;
    let job = alice.wait(&id, Duration::from_secs(60)).await;
    assert_eq!(job["tenant"], "alice");

    let (status, theirs) = bob.job(&id).await;
    let (unknown_status, unknown) = bob.job("01a2174f-da99-7327-b6b0-d9461e949fe2").await;
    assert_eq!(
        (status, &theirs),
        (unknown_status, &unknown),
        "another tenant's id must read as unknown"
    );
    assert_eq!(status, 404);
    let (status, _) = bob
        .send(bob.http.delete(format!("{}/v1/jobs/{id}", server.url)))
        .await;
    assert_eq!(status, 404);
    let (_, listing) = bob
        .send(bob.http.get(format!("{}/v1/jobs", server.url)))
        .await;
    assert_eq!(
        listing["jobs"].as_array().map(Vec::len),
        Some(0),
        "{listing}"
    );

    let key_id = soyl_keys(dir.path(), &["list", "--tenant", "alice"]);
    let key_id: serde_json::Value = serde_json::from_str(&key_id).expect("key json");
    soyl_keys(dir.path(), &["revoke", key_id["id"].as_str().expect("id")]);
    let (status, _) = alice.job(&id).await;
    assert_eq!(
        status, 401,
        "a revoked key must stop working on the next request"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_over_its_rate_gets_429_with_retry_after() {
    let dir = temp_dir();
    let key = soyl_keys(
        dir.path(),
        &["create", "--tenant", "fast", "--rate-per-s", "1"],
    );
    let server = Server::start(
        dir.path(),
        &[
            "--auth",
            "enabled",
            "--no-worker",
            "--rate-limit-burst",
            "5",
        ],
    );
    let client = server.client_with_key(&key);
    let answers = join_all((0..12).map(|_| {
        let client = client.clone();
        async move {
            let response = client
                .http
                .get(format!("{}/v1/jobs", client.url))
                .send()
                .await
                .expect("request");
            (
                response.status().as_u16(),
                response.headers().get("retry-after").cloned(),
            )
        }
    }))
    .await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let limited: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
    assert!(
        (5..=6).contains(&ok),
        "burst of 5 (+1 refill) expected, got {ok} OK: {answers:?}"
    );
    assert_eq!(ok + limited.len(), 12, "only 200 or 429: {answers:?}");
    assert!(
        limited.iter().all(|(_, retry)| retry.is_some()),
        "429 without Retry-After"
    );
}

/// Files under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => files_under(&e.path()),
                    _ => 1,
                })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_at_its_job_quota_gets_429_but_a_replay_gets_its_job_without_a_new_upload() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--no-worker", "--max-concurrent-jobs", "2"]);
    let client = server.client();
    let keyed = || {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(face_photo("happy.jpg")).file_name("happy.jpg"),
        );
        client
            .http
            .post(format!("{}/v1/jobs", server.url))
            .header("Idempotency-Key", "upload-7")
            .multipart(form)
    };
    let (status, first) = client.send(keyed()).await;
    assert_eq!(status, 202, "{first}");
    client.submit_ok("happy.jpg", face_photo("happy.jpg")).await;
    let (status, body) = client
        .submit(&[("happy.jpg", face_photo("happy.jpg"))], None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("quota_exceeded")),
        "{body}"
    );
    let media = server.data_dir.join("media");
    let stored = files_under(&media);
    assert_eq!(stored, 2, "one object per accepted job");
    let replay = keyed().send().await.expect("replay");
    assert_eq!(
        replay.status().as_u16(),
        202,
        "a replay is not counted again"
    );
    assert_eq!(
        replay
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let replayed: serde_json::Value = replay.json().await.expect("json");
    assert_eq!(replayed["job_id"], first["job_id"]);
    assert_eq!(files_under(&media), stored, "a replay stores no media");
}

#[tokio::test(flavor = "multi_thread")]
async fn idempotency_key_returns_the_same_job_and_409_for_another_body() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--no-worker"]);
    let client = server.client();
    let post = |text: &'static str| {
        client
            .http
            .post(format!("{}/v1/jobs", server.url))
            .header("Idempotency-Key", "order-42")
            .json(&json!({"inputs": [{"text": text}]}))
    };
    let (first_status, first) = client.send(post("I am happy")).await;
    let (second_status, second) = client.send(post("I am happy")).await;
    assert_eq!((first_status, second_status), (202, 202));
    assert_eq!(
        first["job_id"], second["job_id"],
        "same key and body: same job"
    );
    let (status, conflict) = client.send(post("I am sad")).await;
    assert_eq!(
        (status, conflict["error"]["code"].as_str()),
        (409, Some("idempotency_conflict")),
        "{conflict}"
    );
    let (_, listing) = client
        .send(client.http.get(format!("{}/v1/jobs", server.url)))
        .await;
    assert_eq!(
        listing["jobs"].as_array().map(Vec::len),
        Some(1),
        "one job was created: {listing}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_job_never_runs_and_cannot_be_cancelled_twice() {
    let dir = temp_dir();
    let api_only = Server::start(dir.path(), &["--no-worker"]);
    let client = api_only.client();
    let id = client.submit_ok("happy.jpg", face_photo("happy.jpg")).await;
    let keep = client.submit_ok("sad.jpg", face_photo("sad.jpg")).await;
    let (status, job) = client
        .send(client.http.delete(format!("{}/v1/jobs/{id}", api_only.url)))
        .await;
    assert_eq!(
        (status, job["status"].as_str()),
        (200, Some("cancelled")),
        "{job}"
    );
    let (status, again) = client
        .send(client.http.delete(format!("{}/v1/jobs/{id}", api_only.url)))
        .await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("already_finished")),
        "{again}"
    );
    drop(api_only);

    let server = Server::start(dir.path(), &[]);
    let client = server.client();
    let kept = client.wait(&keep, Duration::from_secs(60)).await;
    assert_eq!(kept["status"], "succeeded");
    let (_, cancelled) = client.job(&id).await;
    assert_eq!(cancelled["status"], "cancelled");
    assert!(
        cancelled.get("result").is_none() && cancelled["attempts"] == 0,
        "{cancelled}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_pages_through_jobs_and_filters_by_status() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--no-worker"]);
    let client = server.client();
    for _ in 0..5 {
        let (status, _) = client
            .post_json("/v1/jobs", &json!({"inputs": [{"text": "hello"}]}))
            .await;
        assert_eq!(status, 202);
    }
    let get = |query: String| client.http.get(format!("{}/v1/jobs?{query}", server.url));
    let (_, page1) = client.send(get("limit=3".into())).await;
    assert_eq!(page1["jobs"].as_array().map(Vec::len), Some(3), "{page1}");
    let cursor = page1["next_cursor"].as_str().expect("cursor").to_owned();
    let (_, page2) = client.send(get(format!("limit=3&cursor={cursor}"))).await;
    assert_eq!(page2["jobs"].as_array().map(Vec::len), Some(2), "{page2}");
    let (_, queued) = client.send(get("status=queued".into())).await;
    assert_eq!(queued["jobs"].as_array().map(Vec::len), Some(5));
    let (_, done) = client.send(get("status=succeeded".into())).await;
    assert_eq!(done["jobs"].as_array().map(Vec::len), Some(0));
    let (status, _) = client.send(get("status=bogus".into())).await;
    assert_eq!(status, 400);
}
