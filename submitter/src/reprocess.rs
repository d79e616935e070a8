//! `soyl reprocess` and `soyl export` on a data directory: they open the same SQLite file and
//! media folder as `soyl serve` (WAL lets both run at once; the server's worker picks the jobs
//! up from the bulk queue), show progress with `indicatif`, and print a one-line summary.

use crate::backend::{BULK_QUEUE, INTERACTIVE_QUEUE};
use crate::bulk::{self, BatchSpec, Counters, Filters, LocalDir, Source};
use crate::config::{ExportArgs, ReprocessArgs};
use crate::intake::Intake;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use soyl_jobs::embedded::{MediaDir, QueueConfig, SqliteDb, SqliteJobStore, SqliteQueue};
use soyl_jobs::{JobQueue, JobStore, MediaStore, Tenant};
use std::sync::Arc;
use std::time::Duration;

/// Runs `soyl reprocess`.
pub async fn run(args: ReprocessArgs) -> anyhow::Result<()> {
    if args.source.to_string_lossy().starts_with("s3://") {
        anyhow::bail!("s3:// sources need the AWS backend, which reprocess does not support yet");
    }
    let intake = open_intake(&args.data_dir)?;
    let source: Arc<dyn Source> = Arc::new(LocalDir::open(&args.source)?);
    let models = crate::serve::resolve_models_dir(&args.models);
    let mut spec = BatchSpec {
        tenant: Tenant::parse(&args.tenant)?,
        batch_id: String::new(),
        filters: Filters {
            ext: args.ext.clone(),
            modified_since: args.modified_since,
            max_items: args.max_items,
        },
        modalities: args.modalities.clone(),
        fuse: args.fuse,
        model_versions: bulk::model_versions(&models)?,
        skip_done_from: args.skip_done_from.clone(),
    };
    spec.batch_id = match &args.batch {
        Some(id) => id.clone(),
        None => bulk::default_batch_id(&spec, source.as_ref()),
    };
    bulk::validate_batch_id(&spec.batch_id)?;
    // The one line scripts read to find the batch.
    println!("batch {}", spec.batch_id);

    let counters = Arc::new(Counters::default());
    let bar = enqueue_bar(args.quiet);
    let ticker = tokio::spawn(tick_enqueue(bar.clone(), counters.clone()));
    let outcome = bulk::enqueue_batch(&intake, source, &spec, &counters).await;
    ticker.abort();
    bar.finish_and_clear();
    outcome.with_context(|| format!("enqueueing batch {}", spec.batch_id))?;
    let get = |c: &std::sync::atomic::AtomicU64| Counters::get(c);
    println!(
        "enqueued {} new, {} already in the batch ({} re-sent), {} skipped, {} errors, of {} listed",
        get(&counters.enqueued),
        get(&counters.existing),
        get(&counters.resent),
        get(&counters.skipped),
        get(&counters.errors),
        get(&counters.listed),
    );
    if args.wait {
        watch_batch(
            intake.store().as_ref(),
            &spec.tenant,
            &spec.batch_id,
            args.quiet,
        )
        .await?;
    }
    Ok(())
}

/// Runs `soyl export`.
pub async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let db = SqliteDb::open(&args.data_dir.join("soyl.db"))?;
    let store = SqliteJobStore::open(&db)?;
    let tenant = Tenant::parse(&args.tenant)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let lines = bulk::export(&store, &tenant, &args.batch, args.format, &mut out).await?;
    std::io::Write::flush(&mut out).context("writing the export")?;
    eprintln!("exported {lines} jobs of batch {}", args.batch);
    Ok(())
}

/// Intake over a data directory's embedded backends, bulk jobs to the bulk queue.
fn open_intake(data_dir: &std::path::Path) -> anyhow::Result<Intake> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    let db = SqliteDb::open(&data_dir.join("soyl.db"))?;
    // Sending needs no queue settings: visibility and receive limits matter to receivers only.
    let config = QueueConfig::default();
    let queue: Arc<dyn JobQueue> = Arc::new(SqliteQueue::open(&db, INTERACTIVE_QUEUE, config)?);
    let bulk: Arc<dyn JobQueue> = Arc::new(SqliteQueue::open(&db, BULK_QUEUE, config)?);
    let store: Arc<dyn JobStore> = Arc::new(SqliteJobStore::open(&db)?);
    let media: Arc<dyn MediaStore> = Arc::new(MediaDir::open(data_dir.join("media"))?);
    Ok(Intake::new(queue, store, media).with_bulk_queue(Some(bulk)))
}

fn enqueue_bar(quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} listed, {per_sec} {msg} [{elapsed_precise}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar
}

async fn tick_enqueue(bar: ProgressBar, counters: Arc<Counters>) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tick.tick().await;
        bar.set_position(Counters::get(&counters.listed));
        bar.set_message(format!(
            "{} new, {} existing, {} errors",
            Counters::get(&counters.enqueued),
            Counters::get(&counters.existing),
            Counters::get(&counters.errors)
        ));
    }
}

/// Polls the batch's counts once a second until every job has finished.
async fn watch_batch(
    store: &dyn JobStore,
    tenant: &Tenant,
    batch_id: &str,
    quiet: bool,
) -> anyhow::Result<()> {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    loop {
        let status = bulk::batch_status(store, tenant, batch_id).await?;
        bar.set_length(status.total);
        bar.set_position(status.finished());
        bar.set_message(format!(
            "queued {} running {} succeeded {} failed {} | {:.1} items/s, ETA {}",
            status.queued,
            status.running,
            status.succeeded,
            status.failed,
            status.items_per_s,
            status.eta_s.map_or("-".to_owned(), |s| format!("{s:.0}s")),
        ));
        if status.done || status.total == 0 {
            bar.finish_and_clear();
            println!("{}", serde_json::to_string(&status)?);
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
