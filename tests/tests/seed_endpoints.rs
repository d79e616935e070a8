//! The original API's endpoints: `/getEmotionState` fuses given readings; `/analyzeFace`,
//! `/analyzeVoice`, `/analyzeText` answer 200 with the result within the deadline, or 202 with a
//! job id that completes once a worker runs.

use serde_json::{json, Value};
use soyl_tests::{face_photo, temp_dir, voice_fixture, Server};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn get_emotion_state_weighs_sources_as_documented() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--no-worker"]);
    let client = server.client();
    let m = |source: &str, v: f64, a: f64, c: f64| json!({"source": source, "valence": v, "arousal": a, "confidence": c});
    // (modules, expected valence, expected label, check)
    let cases: Vec<(Vec<Value>, Option<f64>, &str)> = vec![
        (vec![m("face", 0.6, 0.4, 0.9)], Some(0.6), "excited"),
        (
            vec![m("face", 0.8, 0.2, 1.0), m("voice", -0.9, 0.9, 0.0)],
            Some(0.8),
            "pleased",
        ),
        (
            vec![m("face", 1.0, 0.0, 1.0), m("text", -1.0, 0.0, 1.0)],
            Some(0.25),
            "pleased",
        ),
        (
            vec![m("a", 0.8, 0.0, 1.0), m("b", -0.8, 0.0, 1.0)],
            Some(0.0),
            "neutral",
        ),
        (
            vec![m("face", -0.6, -0.6, 0.8), m("voice", -0.6, -0.5, 0.8)],
            Some(-0.6),
            "sad",
        ),
        (vec![m("face", 0.5, 0.5, 0.0)], None, "unknown"),
    ];
    for (modules, valence, label) in cases {
        let (status, fused) = client
            .post_json("/getEmotionState", &json!({"modules": modules}))
            .await;
        assert_eq!(status, 200, "{fused}");
        assert_eq!(fused["valence"].as_f64(), valence, "{modules:?} -> {fused}");
        assert_eq!(fused["label"], label, "{modules:?} -> {fused}");
    }
    let (_, agree) = client
        .post_json(
            "/getEmotionState",
            &json!({"modules": [m("a", 0.8, 0.0, 1.0), m("b", 0.7, 0.0, 1.0)]}),
        )
        .await;
    let (_, split) = client
        .post_json(
            "/getEmotionState",
            &json!({"modules": [m("a", 0.8, 0.0, 1.0), m("b", -0.8, 0.0, 1.0)]}),
        )
        .await;
    assert!(agree["agreement"].as_f64() > split["agreement"].as_f64());
    assert!(agree["confidence"].as_f64() > split["confidence"].as_f64());
}

#[tokio::test(flavor = "multi_thread")]
async fn get_emotion_state_names_the_bad_field_with_422() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--no-worker"]);
    let client = server.client();
    let bad = json!({"modules": [{"valence": 0.1, "confidence": 1}, {"valence": 3, "arousal": 0}]});
    let (status, body) = client.post_json("/getEmotionState", &bad).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("modules[1].valence")),
        "{body}"
    );
    let (status, _) = client
        .post_json("/getEmotionState", &json!({"modules": []}))
        .await;
    assert_eq!(status, 422);
}

#[tokio::test(flavor = "multi_thread")]
async fn analyze_face_voice_and_text_answer_200_with_results() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[]);
    let client = server.client();
    let (status, job) = client
        .post_file("/analyzeFace", "happy.jpg", face_photo("happy.jpg"))
        .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(
        job["result"]["face"][0]["faces"][0]["top"], "happy",
        "{job}"
    );
    let (status, job) = client
        .post_file("/analyzeVoice", "speech.mp3", voice_fixture("speech.mp3"))
        .await;
    assert_eq!(status, 200, "{job}");
    assert!(job["result"]["voice"][0]["segments"].is_array(), "{job}");
    let (status, job) = client
        .post_json(
            "/analyzeText",
            &json!({"text": "I love this, it is wonderful :)"}),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    assert!(
        job["result"]["text"][0]["summary"]["valence"]
            .as_f64()
            .expect("valence")
            > 0.5,
        "{job}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn analyze_face_without_a_worker_answers_202_and_completes_when_one_starts() {
    let dir = temp_dir();
    let api_only = Server::start(dir.path(), &["--no-worker", "--sync-deadline-ms", "300"]);
    let (status, accepted) = api_only
        .client()
        .post_file("/analyzeFace", "happy.jpg", face_photo("happy.jpg"))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let id = accepted["job_id"].as_str().expect("job id").to_owned();
    assert_eq!(accepted["links"]["self"], format!("/v1/jobs/{id}"));
    drop(api_only);
    let server = Server::start(dir.path(), &[]);
    let job = server.client().wait(&id, Duration::from_secs(60)).await;
    assert_eq!(
        job["result"]["face"][0]["faces"][0]["top"], "happy",
        "{job}"
    );
}
