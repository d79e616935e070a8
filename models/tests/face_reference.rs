//! The face pipeline on the reference models and the labelled photos in `../shared/media/faces/`:
//! each single-face photo reads as its label, and the group photo has six faces.

use soyl_models::face::{BatchOverrides, FaceParams, FacePipeline};
use soyl_models::image_input::ImageLimits;
use soyl_models::runtime::RuntimeOptions;
use soyl_models::{CancelToken, DeviceChoice, Repository, Runtime};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pipeline() -> FacePipeline {
    let runtime = Runtime::init(RuntimeOptions {
        device: DeviceChoice::Cpu,
        intra_threads: 0,
        spinning: false,
        preprocess_threads: 0,
        replicas: 0,
    })
    .expect("ONNX Runtime (run scripts/setup-ort.sh)");
    let repo = Repository::load(&root().join("models/repository")).expect("model repository");
    FacePipeline::start(
        &runtime,
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
