//! The labelled reference photos through a real `soyl serve` over HTTP, with the real models.

use soyl_tests::{assert_labelled_photos, face_photo, faces, temp_dir, Server};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn each_labelled_photo_gives_one_face_with_its_label() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[]);
    assert_labelled_photos(&server.client()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn group_photo_gives_six_faces_at_least_five_happy() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[]);
    let client = server.client();
    let id = client
        .submit_ok("group-six-faces.jpg", face_photo("group-six-faces.jpg"))
        .await;
    let job = client.wait(&id, Duration::from_secs(60)).await;
    let found = faces(&job);
    assert_eq!(found.len(), 6, "{job}");
    let happy = found.iter().filter(|f| f["top"] == "happy").count();
    assert!(happy >= 5, "{happy} of 6 happy: {job}");
    let valence = found[1]["valence"].as_f64().expect("valence");
    assert!((-1.0..=1.0).contains(&valence));
}

#[tokio::test(flavor = "multi_thread")]
async fn happy_face_has_positive_valence_and_sad_face_negative() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &[]);
    let client = server.client();
    let mut valence = Vec::new();
    for name in ["happy.jpg", "sad.jpg"] {
        let id = client.submit_ok(name, face_photo(name)).await;
        let job = client.wait(&id, Duration::from_secs(60)).await;
        valence.push(faces(&job)[0]["valence"].as_f64().expect("valence"));
    }
    assert!(
        valence[0] > 0.2 && valence[1] < -0.2,
        "valence happy/sad: {valence:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_job_id_is_404_with_the_error_shape() {
    let dir = temp_dir();
    let server = Server::start(dir.path(), &["--no-worker"]);
    let client = server.client();
    for id in ["01a2174f-da99-7327-b6b0-d9461e949fe2", "not-a-uuid"] {
        let (status, body) = client.job(id).await;
        assert_eq!(status, 404);
        assert_eq!(body["error"]["code"], "not_found", "{body}");
    }
}
