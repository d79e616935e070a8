//! Duplicate delivery: the same message handed to two workers at once (an at-least-once queue
//! may do that). One claim wins; the other worker reads no media (so runs no inference) and
//! writes nothing to the store; each job ends with exactly one result. Two real consumers share
//! one store, each seeing the queue through an [`echo`] view; on both backends.

use soyl_jobs::faults::{Faults, Faulty, Outcome};
use soyl_jobs::Status;
use soyl_tests::backends::{self, Backend};
use soyl_tests::echo;
use soyl_tests::worker::{self, Worker};
use std::sync::Arc;
use std::time::{Duration, Instant};

const JOBS: usize = 4;

async fn one_claim_wins_and_the_loser_does_nothing(backend: Backend) {
    let Some(ports) = backends::ports(backend, Duration::from_secs(10), 5).await else {
        return;
    };
    let (view_a, view_b) = echo::pair(ports.queue.clone());
    let mut workers = Vec::new();
    let mut faults = Vec::new();
    for (name, view) in [("a", view_a), ("b", view_b)] {
        let f = Arc::new(Faults::default());
        let worker_ports = soyl_worker::WorkerPorts {
            queue: Arc::new(Faulty::new(Arc::new(view), f.clone())),
            ..worker::faulty_ports(&ports, &f, false)
        };
        let config = worker::config(name, Duration::from_secs(10), Duration::from_millis(50));
        workers.push(Worker::start(worker_ports, config));
        faults.push(f);
    }
    let ids = worker::submit_photos(&ports, JOBS).await;
    for id in &ids {
        let job = worker::wait_terminal(ports.store.as_ref(), id, Duration::from_secs(60)).await;
        assert_eq!(job.status, Status::Succeeded, "{job:?}");
        assert_eq!(job.attempts, 1, "claimed once");
        assert!(job.result.is_some());
    }
    // Every job's duplicate reaches the other worker's claim (refused: busy or already ended).
    let refused_claims = || {
        ids.iter()
            .map(|id| {
                let key = id.to_string();
                let refused = Outcome::Done { wrote: false };
                faults
                    .iter()
                    .map(|f| f.count("store.claim", Some(&key), refused))
                    .sum::<usize>()
            })
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while refused_claims().contains(&0) {
        assert!(
            Instant::now() < deadline,
            "duplicates not all claimed: {:?}",
            refused_claims()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for w in workers {
        w.stop().await;
    }
    for id in &ids {
        let [a, b] = [&faults[0], &faults[1]].map(|f| worker::terminal_writes(f, id));
        assert_eq!(a + b, 1, "job {id}: {a} + {b} terminal writes");
        let (winner, loser) = if a == 1 {
            (&faults[0], &faults[1])
        } else {
            (&faults[1], &faults[0])
        };
        assert!(
            worker::media_reads(winner, id) >= 1,
            "the winner ran the job"
        );
        assert_eq!(
            worker::media_reads(loser, id),
            0,
            "job {id}: the loser read media"
        );
        assert_eq!(
            worker::store_writes(loser, id),
            0,
            "job {id}: the loser wrote"
        );
    }
    let echoed: usize = refused_claims().iter().sum();
    println!("{backend:?}: {JOBS} jobs delivered twice; {echoed} duplicate claims refused, each job one result");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_delivery_runs_once_embedded() {
    one_claim_wins_and_the_loser_does_nothing(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_delivery_runs_once_aws() {
    one_claim_wins_and_the_loser_does_nothing(Backend::Aws).await;
}
