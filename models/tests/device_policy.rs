//! The device policy of sessions under `--device cuda`: a model whose manifest says `cuda = false`
//! (the voice model, faster on the host's cores) gets a CPU session, while a model that allows
//! CUDA gets CUDA or a clear `DeviceUnavailable` error, never a silent CPU session. Its own test
//! binary, since ONNX Runtime allows one environment per process and this one asks for CUDA.

use soyl_models::manifest::Task;
use soyl_models::runtime::RuntimeOptions;
use soyl_models::{Device, DeviceChoice, ModelError, Repository, Runtime};
use std::path::PathBuf;

#[test]
fn under_device_cuda_a_cpu_only_model_runs_on_the_cpu_and_the_others_get_cuda_or_a_clear_error() {
    let runtime = Runtime::init(RuntimeOptions {
        device: DeviceChoice::Cuda,
        intra_threads: 1,
        spinning: false,
        preprocess_threads: 1,
        replicas: 1,
        cuda_graph: true,
    })
    .expect("ONNX Runtime (run scripts/setup-ort.sh)");
    let repo = Repository::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("repository"))
        .expect("model repository");
    let voice = repo.for_task(Task::VoiceEmotion).expect("voice model");
    assert!(!voice.cuda, "the voice manifest keeps its model on the CPU");
    let (_, device) = runtime
        .session(&voice.name, &voice.model_path(), voice.cuda)
        .expect("a CPU session for a cuda = false model, even under --device cuda");
    assert_eq!(device, Device::Cpu);

    let face = repo
        .for_task(Task::FaceEmotion)
        .expect("face-emotion model");
    assert!(face.cuda, "cuda defaults to yes");
    match runtime.session(&face.name, &face.model_path(), face.cuda) {
        Ok((_, device)) => assert_eq!(device, Device::Cuda, "never a silent CPU fallback"),
        Err(ModelError::DeviceUnavailable(message)) => assert!(!message.is_empty()),
        Err(other) => panic!("expected CUDA or DeviceUnavailable, got {other}"),
    }
}
