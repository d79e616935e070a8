//! Submit atomicity: intake stores media, then the record, then the message. A failure at each
//! step (injected by wrapping the real adapters) never leaves a message without a record, nor a
//! record `queued` forever: media refused -> no record, no message, 503 `backend_unavailable`;
//! record refused -> no message, 503; enqueue refused -> the record ends `failed`
//! (`enqueue_failed`), 503 `enqueue_failed`; enqueue and the failure mark both refused -> the
//! record stays `queued` until the reconciler re-sends its message, and a worker then completes
//! it. A job with an idempotency key whose enqueue is refused stays `queued` instead, and the
//! client's retry with the key sends its message. On both backends.

use soyl_jobs::faults::{Faults, Faulty, Outcome};
use soyl_jobs::{JobQueue, JobStore, ListFilter, MediaStore, Status, Tenant};
use soyl_submitter::api::error::ApiError;
use soyl_submitter::intake::{Intake, IntakeError, Submission, Upload};
use soyl_tests::backends::{self, Backend, Ports};
use soyl_tests::worker::{self, Worker};
use soyl_worker::Reconciler;
use std::sync::Arc;
use std::time::Duration;

fn intake(ports: &Ports, faults: &Arc<Faults>) -> Intake {
    let queue: Arc<dyn JobQueue> = Arc::new(Faulty::new(ports.queue.clone(), faults.clone()));
    let store: Arc<dyn JobStore> = Arc::new(Faulty::new(ports.store.clone(), faults.clone()));
    let media: Arc<dyn MediaStore> = Arc::new(Faulty::new(ports.media.clone(), faults.clone()));
    Intake::new(queue, store, media)
}

fn photo_submission() -> Submission {
    Submission {
        tenant: Tenant::default_tenant(),
        files: vec![Upload {
            bytes: soyl_tests::face_photo("happy.jpg").into(),
            filename: Some("happy.jpg".into()),
        }],
        stored: Vec::new(),
        texts: Vec::new(),
        options: Default::default(),
        idempotency_key: None,
    }
}

/// Submits with `op` refused; returns the HTTP answer's status and code.
async fn refused_submit(intake: &Intake, faults: &Faults, ops: &[&'static str]) -> (u16, String) {
    for op in ops {
        faults.always(op, None);
    }
    let error: IntakeError = intake
        .submit(photo_submission())
        .await
        .expect_err("the submit must fail");
    faults.heal();
    let answer = ApiError::from(error);
    (answer.status.as_u16(), answer.code.to_owned())
}

async fn jobs_of(store: &dyn JobStore) -> Vec<soyl_jobs::Job> {
    let filter = ListFilter {
        limit: 100,
        ..Default::default()
    };
    let tenant = Tenant::default_tenant();
    store.list(&tenant, &filter).await.expect("list").jobs
}

async fn no_step_leaves_a_job_stranded(backend: Backend) {
    let Some(ports) = backends::ports(backend, Duration::from_secs(10), 5).await else {
        return;
    };
    let faults = Arc::new(Faults::default());
    let intake = intake(&ports, &faults);
    let sent = || faults.count("queue.send", None, Outcome::Done { wrote: true });

    let answer = refused_submit(&intake, &faults, &["media.put"]).await;
    assert_eq!(
        answer,
        (503, "backend_unavailable".to_owned()),
        "media refused"
    );
    assert!(jobs_of(ports.store.as_ref()).await.is_empty(), "no record");
    assert_eq!(sent(), 0, "no message");

    let answer = refused_submit(&intake, &faults, &["store.create"]).await;
    assert_eq!(
        answer,
        (503, "backend_unavailable".to_owned()),
        "record refused"
    );
    assert!(jobs_of(ports.store.as_ref()).await.is_empty(), "no record");
    assert_eq!(sent(), 0, "no message without a record");

    let answer = refused_submit(&intake, &faults, &["queue.send"]).await;
    assert_eq!(
        answer,
        (503, "enqueue_failed".to_owned()),
        "enqueue refused"
    );
    let jobs = jobs_of(ports.store.as_ref()).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, Status::Failed, "not left queued");
    assert_eq!(
        jobs[0].error.as_ref().map(|e| e.code.as_str()),
        Some("enqueue_failed")
    );

    // Enqueue and the failure mark both refused: the record is left queued, with no message...
    let answer = refused_submit(&intake, &faults, &["queue.send", "store.fail"]).await;
    assert_eq!(answer, (503, "enqueue_failed".to_owned()));
    let stranded = jobs_of(ports.store.as_ref()).await;
    let stranded = stranded
        .iter()
        .find(|job| job.status == Status::Queued)
        .expect("a queued record without a message");
    assert_eq!(sent(), 0);
    assert_eq!(ports.queue.depth().await.expect("depth"), 0);

    // ...until the reconciler finds it (once older than its threshold) and a worker runs it.
    let threshold = Duration::from_secs(1);
    let reconciler = Reconciler::new(ports.store.clone(), ports.queue.clone(), None, threshold);
    assert_eq!(reconciler.pass().await.expect("reconcile"), 0, "too young");
    tokio::time::sleep(threshold).await;
    assert_eq!(reconciler.pass().await.expect("reconcile"), 1, "re-sent");
    assert_eq!(
        reconciler.pass().await.expect("reconcile"),
        0,
        "re-sent once per threshold"
    );
    let quiet = Arc::new(Faults::default());
    let w = Worker::start(
        worker::faulty_ports(&ports, &quiet, false),
        worker::config(
            "reconciled",
            Duration::from_secs(10),
            Duration::from_millis(50),
        ),
    );
    let done = worker::wait_terminal(ports.store.as_ref(), &stranded.id, Duration::from_secs(60));
    let done = done.await;
    w.stop().await;
    assert_eq!(done.status, Status::Succeeded, "{done:?}");
    assert_eq!(worker::terminal_writes(&quiet, &stranded.id), 1);
    println!("{backend:?}: media, record and enqueue faults left nothing queued forever");
}

async fn a_keyed_job_whose_enqueue_failed_is_queued_by_the_retry(backend: Backend) {
    let Some(ports) = backends::ports(backend, Duration::from_secs(10), 5).await else {
        return;
    };
    let faults = Arc::new(Faults::default());
    let intake = intake(&ports, &faults);
    let keyed = || Submission {
        idempotency_key: Some("retry-me".into()),
        ..photo_submission()
    };
    faults.always("queue.send", None);
    let error = intake.submit(keyed()).await.expect_err("enqueue refused");
    faults.heal();
    let answer = ApiError::from(error);
    assert_eq!(
        (answer.status.as_u16(), answer.code),
        (503, "enqueue_failed")
    );
    assert!(answer.message.contains("retry"), "{}", answer.message);
    let jobs = jobs_of(ports.store.as_ref()).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, Status::Queued, "kept for the retry");
    assert_eq!(ports.queue.depth().await.expect("depth"), 0);

    let (job, created) = intake.submit(keyed()).await.expect("the retry");
    assert_eq!((job.id, created), (jobs[0].id, false), "the same job");
    assert_eq!(
        ports.queue.depth().await.expect("depth"),
        1,
        "its message sent"
    );
    let sent = faults.count("queue.send", None, Outcome::Done { wrote: true });
    assert_eq!(sent, 1);
    assert_eq!(
        jobs_of(ports.store.as_ref()).await.len(),
        1,
        "no second job"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keyed_job_whose_enqueue_failed_is_queued_by_the_retry_embedded() {
    a_keyed_job_whose_enqueue_failed_is_queued_by_the_retry(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keyed_job_whose_enqueue_failed_is_queued_by_the_retry_aws() {
    a_keyed_job_whose_enqueue_failed_is_queued_by_the_retry(Backend::Aws).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_submit_failure_strands_a_job_embedded() {
    no_step_leaves_a_job_stranded(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_submit_failure_strands_a_job_aws() {
    no_step_leaves_a_job_stranded(Backend::Aws).await;
}
