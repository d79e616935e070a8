//! Webhooks end to end: `soyl serve` POSTs the finished job's record to its `callback_url`,
//! signed with the configured secret, retries a receiver that answers 500 twice, and records the
//! delivery on the job; bad callback URLs are refused at submit with 422.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use soyl_tests::{temp_dir, Server};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One request the receiver got.
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

/// A receiver on 127.0.0.1 that answers 500 to the first `failures` requests, then 200, and
/// hands every request to the test. Returns its port.
async fn receiver(failures: u32) -> (u16, mpsc::UnboundedReceiver<Received>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let port = listener.local_addr().expect("receiver address").port();
    let (tx, rx) = mpsc::unbounded_channel();
    let count = Arc::new(AtomicU32::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (tx, count) = (tx.clone(), count.clone());
            async move {
                let _ = tx.send(Received { headers, body });
                if count.fetch_add(1, Ordering::SeqCst) < failures {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (port, rx)
}

fn header<'a>(request: &'a Received, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// Checks `Soyl-Signature: t=..,v1=..` over the raw body with the hmac crate.
fn verify_signature(request: &Received, secret: &[u8]) {
    let signature = header(request, "soyl-signature");
    let (t, v1) = signature
        .split_once(",v1=")
        .and_then(|(t, v1)| Some((t.strip_prefix("t=")?, v1)))
        .unwrap_or_else(|| panic!("malformed signature {signature}"));
    let sent_at: i64 = t.parse().expect("numeric timestamp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    assert!(
        (now - sent_at).abs() < 300,
        "timestamp {sent_at} far from now {now}"
    );
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(&request.body);
    mac.verify_slice(&hex::decode(v1).expect("hex signature"))
        .expect("the signature verifies with the shared secret");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_finished_job_is_posted_signed_and_retried_until_the_receiver_accepts() {
    let (port, mut requests) = receiver(2).await;
    let dir = temp_dir();
    let server = Server::start(
        dir.path(),
        &[
            "--webhook-allow-http",
            "--webhook-allow-hosts",
            "127.0.0.1",
            "--webhook-secret",
            "s3cret",
            "--webhook-retry-base-ms",
            "50",
        ],
    );
    let client = server.client();
    let body = json!({
        "inputs": [{"text": "I love this, it is wonderful"}],
        "options": {"callback_url": format!("http://127.0.0.1:{port}/hook")},
    });
    let (status, accepted) = client.post_json("/v1/jobs", &body).await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["job_id"].as_str().expect("job_id").to_owned();

    let mut got = Vec::new();
    for n in 1..=3 {
        let request = tokio::time::timeout(Duration::from_secs(90), requests.recv())
            .await
            .unwrap_or_else(|_| panic!("webhook request {n} not received"))
            .expect("receiver alive");
        got.push(request);
    }
    for request in &got {
        verify_signature(request, b"s3cret");
        assert_eq!(header(request, "soyl-event"), "job.succeeded");
        assert_eq!(header(request, "content-type"), "application/json");
        let record: Value = serde_json::from_slice(&request.body).expect("JSON body");
        assert_eq!(record["id"], id.as_str(), "{record}");
        assert_eq!(record["status"], "succeeded", "{record}");
        assert!(record["result"]["text"].is_array(), "{record}");
        assert!(
            record.get("lease").is_none(),
            "internal fields stay out: {record}"
        );
    }
    let delivery = header(&got[0], "soyl-delivery");
    assert!(
        got.iter().all(|r| header(r, "soyl-delivery") == delivery),
        "retries keep the delivery id"
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        let (status, job) = client.job(&id).await;
        assert_eq!(status, 200, "{job}");
        if !job["webhook"].is_null() {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "no webhook outcome recorded: {job}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    let webhook = &job["webhook"];
    assert_eq!(webhook["delivered"], true, "{webhook}");
    assert_eq!(webhook["attempts"], 3, "{webhook}");
    assert_eq!(webhook["last_status"], 200, "{webhook}");
    assert_eq!(webhook["url_host"], "127.0.0.1", "{webhook}");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), requests.recv())
            .await
            .is_err(),
        "no request after the receiver accepted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_callback_urls_are_refused_at_submit() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--no-worker"]);
    let client = server.client();
    let long = format!("https://hooks.example.com/{}", "a".repeat(2048));
    for url in [
        "http://hooks.example.com/hook",
        "ftp://hooks.example.com/hook",
        "https://user:secret@hooks.example.com/hook",
        "not a url",
        long.as_str(),
    ] {
        let body = json!({"inputs": [{"text": "hello"}], "options": {"callback_url": url}});
        let (status, answer) = client.post_json("/v1/jobs", &body).await;
        assert_eq!(status, 422, "{url}: {answer}");
        assert_eq!(
            answer["error"]["code"], "invalid_callback_url",
            "{url}: {answer}"
        );
    }
    let body = json!({
        "inputs": [{"text": "hello"}],
        "options": {"callback_url": "https://hooks.example.com/hook"},
    });
    let (status, answer) = client.post_json("/v1/jobs", &body).await;
    assert_eq!(status, 202, "{answer}");
}
