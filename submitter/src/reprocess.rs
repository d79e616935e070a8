//! `soyl reprocess` and `soyl export` on the backend of `soyl serve` (embedded: the same SQLite
//! file and media folder, WAL lets both run at once; AWS: the same queues, table and bucket). The
//! workers pick the jobs up from the bulk queue. Progress is shown with `indicatif`, and a
//! one-line summary printed.

use crate::bulk::{self, BatchSpec, Counters, Filters, LocalPolicy, Sources};
use crate::config::{ExportArgs, ReprocessArgs};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use soyl_jobs::embedded::QueueConfig;
use soyl_jobs::{JobStore, Tenant};
use std::sync::Arc;
use std::time::Duration;

/// Runs `soyl reprocess`.
pub async fn run(args: ReprocessArgs) -> anyhow::Result<()> {
    // Sending needs no queue settings: visibility and receive limits matter to receivers only.
    let ports = crate::backend::open(&args.backend, &args.data_dir, QueueConfig::default()).await?;
    let intake = ports.intake();
    let sources = Sources {
        aws: ports.aws.clone(),
        local: LocalPolicy::Any,
        max_object_bytes: args.max_object_bytes,
    };
    let source = sources.open(&args.source)?;
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
        "enqueued {} new, {} already in the batch ({} re-sent), {} skipped, {} errors, of {} listed; {} read from the source",
        get(&counters.enqueued),
        get(&counters.existing),
        get(&counters.resent),
        get(&counters.skipped),
        get(&counters.errors),
        get(&counters.listed),
        get(&counters.read),
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
    let ports = crate::backend::open(&args.backend, &args.data_dir, QueueConfig::default()).await?;
    let tenant = Tenant::parse(&args.tenant)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let lines = bulk::export(
        ports.store.as_ref(),
        &tenant,
        &args.batch,
        args.format,
        &mut out,
    )
    .await?;
    std::io::Write::flush(&mut out).context("writing the export")?;
    eprintln!("exported {lines} jobs of batch {}", args.batch);
    Ok(())
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
        let status = bulk::batch_status(store, tenant, batch_id, None).await?;
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
