//! End-to-end text pipeline benchmark: many texts of mixed length through `TextPipeline::analyze`
//! (span splitting, tokenization on the blocking pool, the batching lane, merging), once with the
//! lane sorting waiting chunks by length and once without. Prints sentences per second and the
//! share of tensor slots that were padding, for two workloads at sentence granularity:
//! - `short texts`: many texts of 1 to 3 sentences (chat messages, reviews), which reach the lane
//!   one tokenized text at a time;
//! - `documents`: texts of 100 sentences, whose sentences reach the lane together.
//!
//! ```text
//! cargo run --release -p soyl-models --example text_bench -- [sentences] [repository]
//! ```
//! Defaults: about 20,000 sentences per workload, the project's `models/repository` (the
//! reference VADER-lexicon model).

use futures::StreamExt;
use soyl_models::face::BatchOverrides;
use soyl_models::runtime::RuntimeOptions;
use soyl_models::text::{Granularity, TextOptions, TextParams, TextPipeline};
use soyl_models::{CancelToken, DeviceChoice, Repository, Runtime};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Words to build sentences from: a few lexicon words among neutral ones.
const WORDS: [&str; 16] = [
    "the", "meeting", "was", "good", "and", "we", "talked", "about", "a", "terrible", "plan",
    "that", "nobody", "liked", "really", "today",
];

/// `n` texts of `min..=max` sentences, each 3 to 60 words: a deterministic mix of short and long.
fn corpus(n: usize, min: usize, max: usize) -> Vec<String> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |m: u64| {
        // xorshift64: deterministic and dependency-free.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % m) as usize
    };
    (0..n)
        .map(|_| {
            let sentences = min + next((max - min + 1) as u64);
            (0..sentences)
                .map(|_| {
                    // Mostly short sentences with a long tail, as in real text.
                    let words = if next(5) == 0 {
                        20 + next(41)
                    } else {
                        3 + next(12)
                    };
                    let body: Vec<&str> = (0..words).map(|_| WORDS[next(16)]).collect();
                    // A capital after the full stop, or Unicode rules see no sentence break.
                    format!("So {}.", body.join(" "))
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

struct Figures {
    sentences: usize,
    failed: usize,
    seconds: f64,
    padding: f64,
    runs: u64,
    chunks: u64,
}

async fn run(text: &TextPipeline, texts: &[String], sentences_per_text: usize) -> Figures {
    let cancel = CancelToken::new();
    let params = TextParams {
        granularity: Granularity::Sentence,
    };
    // Keep the sentences in flight under the lane's channel capacity, as a worker's bounded
    // pollers would; past it the lane answers `Overloaded`.
    let in_flight = (text.lanes()[0].config().capacity / 2 / sentences_per_text).max(1);
    let started = Instant::now();
    let (sentences, failed) = futures::stream::iter(texts.iter().cloned())
        .map(|t| text.analyze(t, params, false, &cancel))
        .buffer_unordered(in_flight)
        .fold((0, 0), |(ok, failed), r| async move {
            match r {
                Ok(a) => (ok + a.spans.len(), failed),
                Err(e) => {
                    eprintln!("analysis failed: {e}");
                    (ok, failed + 1)
                }
            }
        })
        .await;
    let stats = text.lanes()[0].stats();
    Figures {
        sentences,
        failed,
        seconds: started.elapsed().as_secs_f64(),
        padding: text.padding().padding_ratio(),
        runs: stats.runs.load(Ordering::Relaxed),
        chunks: stats.items.load(Ordering::Relaxed),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20_000);
    let repo_dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("repository"));
    let runtime = Runtime::init(RuntimeOptions {
        device: DeviceChoice::Auto,
        intra_threads: 0,
        spinning: false,
        preprocess_threads: 0,
        replicas: 0,
        cuda_graph: true,
    })?;
    let repo = Repository::load(&repo_dir)?;
    println!(
        "{} CPU threads available",
        std::thread::available_parallelism().map_or(0, |p| p.get())
    );
    let workloads = [
        ("short texts", 3, corpus(n / 2, 1, 3)),
        ("documents", 100, corpus(n / 100, 100, 100)),
    ];
    for ((workload, per_text, texts), sort) in
        workloads.iter().flat_map(|w| [(w, true), (w, false)])
    {
        let options = TextOptions {
            sort_by_length: Some(sort),
            ..TextOptions::default()
        };
        let text = TextPipeline::start_with(&runtime, &repo, BatchOverrides::default(), options)?
            .ok_or("no text model in the repository")?;
        // Warm-up: first runs allocate and tune; not counted.
        run(&text, &texts[..texts.len().min(200)], *per_text).await;
        let text = TextPipeline::start_with(&runtime, &repo, BatchOverrides::default(), options)?
            .ok_or("no text model in the repository")?;
        let f = run(&text, texts, *per_text).await;
        println!(
            "{workload:<11} sort_by_length={sort:<5} device={:?}: {:>7.0} sentences/s \
             ({} sentences in {:.2} s, {} texts failed), padding {:>4.1}% of tensor slots, {} runs, {:.1} chunks/run",
            text.device(),
            f.sentences as f64 / f.seconds,
            f.sentences,
            f.seconds,
            f.failed,
            f.padding * 100.0,
            f.runs,
            f.chunks as f64 / f.runs.max(1) as f64
        );
    }
    Ok(())
}
