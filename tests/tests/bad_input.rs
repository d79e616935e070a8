//! Bad input never crashes the service and is never retried forever: each kind of bad upload ends
//! its job `failed` with its own documented code, and the next good job still succeeds.

use soyl_tests::{face_photo, faces, temp_dir, Server};
use std::time::Duration;

/// Deterministic noise (xorshift), so the "random bytes" case is the same on every run.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A valid PNG header that declares 50000 x 50000 RGB pixels (7.5 GB decoded), with almost no data.
fn png_bomb() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut png, b"IHDR", &ihdr);
    png_chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut png, b"IEND", &[]);
    png
}

/// A 1x1 GIF.
fn gif() -> Vec<u8> {
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec()
}

/// A little-endian TIFF header.
fn tiff() -> Vec<u8> {
    let mut t = b"II*\x00\x08\x00\x00\x00".to_vec();
    t.extend_from_slice(&[0; 32]);
    t
}

#[tokio::test(flavor = "multi_thread")]
async fn each_bad_upload_fails_with_its_code_and_the_service_keeps_serving() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[]);
    let client = server.client();
    let happy = face_photo("happy.jpg");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("noise.bin", noise(4096), "media_unrecognized"),
        (
            "truncated.jpg",
            happy[..happy.len() * 2 / 5].to_vec(),
            "image_corrupt",
        ),
        ("empty.jpg", Vec::new(), "input_empty"),
        ("bomb.png", png_bomb(), "image_too_large"),
        ("tiny.gif", gif(), "image_unsupported_format"),
        ("header.tiff", tiff(), "image_unsupported_format"),
    ];
    for (name, bytes, code) in cases {
        let id = client.submit_ok(name, bytes).await;
        let job = client.wait(&id, Duration::from_secs(60)).await;
        assert_eq!(job["status"], "failed", "{name}: {job}");
        assert_eq!(job["error"]["code"], code, "{name}: {job}");
        assert_eq!(job["attempts"], 1, "{name} must not be retried: {job}");
        assert!(job["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    // Asked for voice alone, bytes of no known format are still called so (the submitter sends
    // what is not audio to the image decoder), and a photo is what matches nothing.
    let voice_only = serde_json::json!({"modalities": ["voice"]});
    let cases = [
        ("noise.bin", noise(4096), "media_unrecognized"),
        ("empty.wav", Vec::new(), "input_empty"),
        ("happy.jpg", happy.clone(), "nothing_to_analyze"),
    ];
    for (name, bytes, code) in cases {
        let (status, body) = client
            .submit(&[(name, bytes)], Some(voice_only.clone()))
            .await;
        assert_eq!(status, 202, "{name}: {body}");
        let id = body["job_id"].as_str().expect("job id");
        let job = client.wait(id, Duration::from_secs(60)).await;
        assert_eq!(
            (job["status"].as_str(), job["error"]["code"].as_str()),
            (Some("failed"), Some(code)),
            "{name}: {job}"
        );
    }
    let id = client.submit_ok("happy.jpg", happy.clone()).await;
    let job = client.wait(&id, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(faces(&job)[0]["top"], "happy");

    // A motion photo: a video after the image's end, whose bytes hold scan markers after its
    // last end marker. The image is whole; what follows it is not the image's.
    let mut motion = happy;
    motion.extend_from_slice(b"\0\0\0\x18ftypmp42");
    motion.extend(noise(4096));
    motion.extend_from_slice(&[0xFF, 0xD9, 0x12, 0xFF, 0xDA, 0x00, 0x08, 0x34]);
    let id = client.submit_ok("motion.jpg", motion).await;
    let job = client.wait(&id, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(faces(&job)[0]["top"], "happy");
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_over_the_limit_is_refused_with_413() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--no-worker", "--max-upload-bytes", "100000"]);
    let client = server.client();
    let (status, body) = client.submit(&[("big.bin", noise(150_000))], None).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large", "{body}");
    let (status, _) = client
        .submit(&[("happy.jpg", face_photo("happy.jpg"))], None)
        .await;
    assert_eq!(status, 202, "a file under the limit is still accepted");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_submissions_get_clear_4xx_codes() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--no-worker"]);
    let client = server.client();
    let (status, body) = client.submit(&[], Some(serde_json::json!({}))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("no_inputs")),
        "{body}"
    );
    let (status, body) = client
        .submit(
            &[("happy.jpg", face_photo("happy.jpg"))],
            Some(serde_json::json!({"bogus": 1})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_options")),
        "{body}"
    );
}
