//! The face pipeline on the reference models and the labelled photos in `../shared/media/faces/`:
//! each single-face photo reads as its label, and the group photo has six faces.

use soyl_models::face::{BatchOverrides, FaceParams, FacePipeline};
use soyl_models::image_input::ImageLimits;
use soyl_models::{CancelToken, Repository};
use std::path::PathBuf;

mod common;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pipeline() -> FacePipeline {
    let runtime = common::runtime();
    let repo = Repository::load(&root().join("models/repository")).expect("model repository");
    FacePipeline::start(
        runtime,
        &repo,
        BatchOverrides::default(),
        ImageLimits::default(),
    )
    .expect("face lanes")
    .expect("face models present")
}

fn photo(name: &str) -> Vec<u8> {
    std::fs::read(root().join("../shared/media/faces").join(name)).expect("shared media")
}

const PARAMS: FaceParams = FaceParams {
    min_face_px: 20,
    max_faces: 32,
};

#[tokio::test(flavor = "multi_thread")]
async fn each_labelled_photo_reads_as_its_label() {
    let faces = pipeline();
    for label in ["happy", "sad", "angry", "surprise"] {
        let got = faces
            .analyze(
                photo(&format!("{label}.jpg")),
                PARAMS,
                true,
                &CancelToken::new(),
            )
            .await
            .expect("analysis");
        let tops: Vec<&str> = got.faces.iter().map(|f| f.reading.top.as_str()).collect();
        eprintln!("{label}.jpg -> {:?}", got.faces);
        assert_eq!(tops, [label], "{label}.jpg");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn group_photo_has_six_faces_mostly_happy() {
    let faces = pipeline();
    let got = faces
        .analyze(
            photo("group-six-faces.jpg"),
            PARAMS,
            true,
            &CancelToken::new(),
        )
        .await
        .expect("analysis");
    let happy = got
        .faces
        .iter()
        .filter(|f| f.reading.top == "happy")
        .count();
    assert_eq!(got.faces.len(), 6, "{:?}", got.faces);
    assert!(happy >= 5, "{happy} happy of 6");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_face_filling_a_large_photo_is_cut_off_the_async_threads_and_reads_the_same() {
    // happy.jpg scaled to 2000x2000: its face's square is over a megapixel, past the crops
    // cut inline (face::crop::INLINE_PIXELS), so they are cut on the blocking pool.
    let small = image::load_from_memory(&photo("happy.jpg")).expect("decodes");
    let large = small.resize_exact(2000, 2000, image::imageops::FilterType::Triangle);
    let mut jpeg = Vec::new();
    large
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .expect("encodes");
    let got = pipeline()
        .analyze(jpeg, PARAMS, true, &CancelToken::new())
        .await
        .expect("analysis");
    assert_eq!(got.faces.len(), 1, "{:?}", got.faces);
    let side = got.faces[0].bbox.w.max(got.faces[0].bbox.h);
    assert!(
        side * side > soyl_models::face::crop::INLINE_PIXELS,
        "the face is {side} px"
    );
    assert_eq!(got.faces[0].reading.top, "happy");
}

/// The detector's input for `name`, as the pipeline builds it.
fn detector_input(manifest: &soyl_models::manifest::Manifest, name: &str) -> Vec<f32> {
    let img =
        soyl_models::image_input::decode(&photo(name), &ImageLimits::default()).expect("decodes");
    soyl_models::face::detect::to_tensor(&img, manifest.image())
}

#[test]
fn an_item_run_alone_gives_what_it_gives_in_a_batch() {
    // Batching changes nothing in an item's outputs, and each item gets its own rows back.
    use soyl_models::lane::Batcher;
    let repo = Repository::load(&root().join("models/repository")).expect("model repository");
    let manifest = repo
        .for_task(soyl_models::manifest::Task::FaceDetection)
        .expect("detector");
    let (mut session, _) =
        soyl_models::tensor_lane::TensorBatcher::<Vec<f32>>::load(common::runtime(), manifest)
            .expect("session");
    let (happy, sad) = (
        detector_input(manifest, "happy.jpg"),
        detector_input(manifest, "sad.jpg"),
    );
    let alone = session.run(std::slice::from_ref(&happy)).expect("one item");
    let batched = session.run(&[sad, happy]).expect("two items");
    assert_eq!(alone.len(), 1);
    assert_eq!(batched.len(), 2);
    for (output, (a, b)) in alone[0].iter().zip(&batched[1]).enumerate() {
        assert_eq!(a.len(), b.len(), "output {output}");
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-4, "output {output}: differs by {worst}");
    }
    assert_ne!(
        alone[0][0], batched[0][0],
        "two photos score alike: the rows are mixed up"
    );
}
