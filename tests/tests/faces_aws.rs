//! The labelled reference photos through real `soyl` processes on the AWS backend (SQS, S3,
//! DynamoDB on a local `moto_server`): `soyl init --backend aws` creates the resources, then
//! `soyl serve --backend aws` runs the API and a worker on them; and the same split across a
//! `soyl api` and a `soyl worker` process, as the fleet runs.

use soyl_tests::moto::{self, soyl_init as init};
use soyl_tests::{assert_labelled_photos, temp_dir, Server};

#[tokio::test(flavor = "multi_thread")]
async fn each_labelled_photo_gives_one_face_with_its_label_on_aws() {
    let Some(moto) = moto::shared() else { return };
    let env = init(moto);
    let dir = temp_dir();
    let server = Server::start_with_env(dir.path(), &[], &env, &dir.path().join("serve.log"));
    assert_labelled_photos(&server.client()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn api_and_worker_processes_share_the_aws_backend() {
    let Some(moto) = moto::shared() else { return };
    let env = init(moto);
    let dir = temp_dir();
    let api = Server::start_command(
        &["api", "--listen", "127.0.0.1:0"],
        &env,
        &dir.path().join("api.log"),
    );
    let worker = Server::start_command(
        &["worker", "--listen", "127.0.0.1:0"],
        &env,
        &dir.path().join("worker.log"),
    );
    let health = reqwest::get(format!("{}/ready", worker.url))
        .await
        .expect("worker /ready");
    assert_eq!(health.status(), 200);
    let submit = reqwest::Client::new()
        .post(format!("{}/v1/jobs", worker.url))
        .send()
        .await
        .expect("POST to the worker");
    assert_eq!(submit.status(), 404, "a worker takes no submissions");
    assert_labelled_photos(&api.client()).await;
}
