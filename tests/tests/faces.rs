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

#[tokio::test(flavor = "multi_thread")]
async fn the_bench_gallery_gives_thirty_faces_each_read_as_its_tiles_photo() {
    assert_gallery_reads_right(&[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn thirty_faces_fit_a_lane_whose_channel_holds_sixteen() {
    // At --max-batch 1 the face-emotion lane's channel holds 16 items: a photo's faces go in
    // waves instead of failing `Overloaded` and being retried for ever.
    assert_gallery_reads_right(&["--max-batch", "1"]).await;
}

/// The bench's gallery through `soyl serve` with `args`: 30 faces, one per tile, nearly every
/// one read as the photo its tile was cut from.
async fn assert_gallery_reads_right(args: &[&str]) {
    use soyl_submitter::bench::workloads::{gallery, FACE_PHOTOS, GALLERY_GRID, GALLERY_GUTTER};
    let photos: Vec<Vec<u8>> = FACE_PHOTOS
        .iter()
        .map(|f| face_photo(&format!("{f}.jpg")))
        .collect();
    let jpeg = gallery(&photos).expect("gallery");
    let dir = temp_dir();
    let server = Server::start(dir.path(), args);
    let client = server.client();
    let id = client.submit_ok("gallery.jpg", jpeg).await;
    let job = client.wait(&id, Duration::from_secs(60)).await;
    assert_eq!(job["attempts"], 1, "{job}");
    let found = faces(&job);
    let (cols, rows, side) = GALLERY_GRID;
    assert_eq!(found.len(), (cols * rows) as usize, "{job}");
    // Each face's centre names its tile, and the tile names the photo it was cut from.
    let step = f64::from(side + GALLERY_GUTTER);
    let mut tiles = Vec::new();
    let mut right = 0;
    for face in found {
        let b = &face["box"];
        let at = |k: &str| b[k].as_f64().expect("box field");
        let col = ((at("x") + at("w") / 2.0) / step) as u32;
        let row = ((at("y") + at("h") / 2.0) / step) as u32;
        let tile = row * cols + col;
        tiles.push(tile);
        right += usize::from(face["top"] == FACE_PHOTOS[tile as usize % FACE_PHOTOS.len()]);
    }
    tiles.sort_unstable();
    tiles.dedup();
    assert_eq!(tiles.len(), found.len(), "one face per tile: {job}");
    assert!(right >= 27, "{right} of 30 read as their photo: {job}");
}
