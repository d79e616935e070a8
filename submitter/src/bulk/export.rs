//! `soyl export`: one line per job of a batch, as JSON Lines or CSV, written as the pages are
//! read (a page in memory at a time). Columns: source key, job id, status, per-modality summary,
//! fused label / valence / arousal, error code.

use super::status::for_each_job;
use super::BulkError;
use serde_json::{json, Value};
use soyl_jobs::{Job, JobStore, Tenant};
use std::io::Write;

/// Output format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header line.
    Csv,
}

const CSV_HEADER: &str =
    "source_key,job_id,status,summary,fused_label,fused_valence,fused_arousal,error_code";

/// Writes every job of the batch to `out`; returns the number of lines (header excluded).
pub async fn export(
    store: &dyn JobStore,
    tenant: &Tenant,
    batch_id: &str,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<u64, BulkError> {
    let mut lines = 0;
    let mut failure = None;
    let io = |e: std::io::Error| BulkError::io(std::path::Path::new("-"), "writing the export", e);
    if format == ExportFormat::Csv {
        writeln!(out, "{CSV_HEADER}").map_err(io)?;
    }
    for_each_job(store, tenant, batch_id, |job| {
        if failure.is_some() {
            return;
        }
        let row = row(job);
        let written = match format {
            ExportFormat::Jsonl => writeln!(out, "{row}"),
            ExportFormat::Csv => writeln!(out, "{}", csv_line(&row)),
        };
        match written {
            Ok(()) => lines += 1,
            Err(e) => failure = Some(e),
        }
    })
    .await?;
    match failure {
        Some(e) => Err(io(e)),
        None => Ok(lines),
    }
}

/// The export record of one job.
fn row(job: &Job) -> Value {
    let result = job.result.as_ref();
    let fused = result.and_then(|r| r.get("fused"));
    json!({
        "source_key": job.options.metadata.get("source_key").cloned().unwrap_or(Value::Null),
        "job_id": job.id.to_string(),
        "status": job.status.as_str(),
        "summary": result.map(summary).unwrap_or_default(),
        "fused_label": fused.and_then(|f| f.get("label")).cloned().unwrap_or(Value::Null),
        "fused_valence": fused.and_then(|f| f.get("valence")).cloned().unwrap_or(Value::Null),
        "fused_arousal": fused.and_then(|f| f.get("arousal")).cloned().unwrap_or(Value::Null),
        "error_code": job.error.as_ref().map(|e| e.code.clone()),
    })
}

/// `face=<n> faces`, `voice=<top label | no_speech>`, `text=<top label>`: one short reading per
/// modality.
fn summary(result: &Value) -> String {
    ["face", "voice", "text"]
        .iter()
        .filter_map(|modality| {
            let items = result.get(*modality)?.as_array()?;
            let reading = items
                .iter()
                .map(|item| match item.get("faces").and_then(Value::as_array) {
                    Some(faces) => format!("{} faces", faces.len()),
                    // Voice and text summaries are readings: their top label, or no speech.
                    None if item.pointer("/summary/no_speech") == Some(&Value::Bool(true)) => {
                        "no_speech".to_owned()
                    }
                    None => item
                        .pointer("/summary/top")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned(),
                })
                .collect::<Vec<_>>()
                .join("|");
            Some(format!("{modality}={reading}"))
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn csv_line(row: &Value) -> String {
    CSV_HEADER
        .split(',')
        .map(|column| match row.get(column) {
            Some(Value::String(s)) => csv_field(s),
            Some(Value::Null) | None => String::new(),
            Some(other) => csv_field(&other.to_string()),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}
