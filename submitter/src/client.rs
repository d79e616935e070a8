//! `soyl submit | status | wait`: a small HTTP client of a running soyl API.

use crate::config::{JobArgs, ServerArgs, SubmitArgs};
use anyhow::{bail, Context};
use serde_json::Value;
use std::time::{Duration, Instant};

fn client(server: &ServerArgs) -> anyhow::Result<(reqwest::Client, String)> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(key) = &server.api_key {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {key}")
                .parse()
                .context("API key is not a valid header value")?,
        );
    }
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()?;
    Ok((client, server.url.trim_end_matches('/').to_owned()))
}

async fn answer(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response
        .text()
        .await
        .with_context(|| format!("reading the server's answer ({status})"))?;
    if !status.is_success() {
        // A proxy or load balancer in front may answer in plain text or HTML.
        bail!("server answered {status}: {}", text.trim());
    }
    serde_json::from_str(&text).with_context(|| {
        format!(
            "the server's answer ({status}) is not JSON: {}",
            text.trim()
        )
    })
}

/// `soyl submit`: prints the job id, or the finished record with `--wait`.
pub async fn submit(args: SubmitArgs) -> anyhow::Result<()> {
    let (http, base) = client(&args.server)?;
    let mut form = reqwest::multipart::Form::new();
    for path in &args.files {
        let bytes = tokio::fs::read(path)
            .await
            .with_context(|| format!("reading {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name),
        );
    }
    if let Some(options) = &args.options {
        form = form.text("options", options.clone());
    }
    let accepted = answer(
        http.post(format!("{base}/v1/jobs"))
            .multipart(form)
            .send()
            .await?,
    )
    .await?;
    let id = accepted["job_id"]
        .as_str()
        .context("server answer has no job_id")?
        .to_owned();
    if !args.wait {
        println!("{id}");
        return Ok(());
    }
    let record = wait_for(&http, &base, &id, Duration::from_secs(args.timeout_s)).await?;
    println!("{}", serde_json::to_string_pretty(&record)?);
    Ok(())
}

/// `soyl status`: prints the record.
pub async fn status(args: JobArgs) -> anyhow::Result<()> {
    let (http, base) = client(&args.server)?;
    let record = answer(
        http.get(format!("{base}/v1/jobs/{}", args.id))
            .send()
            .await?,
    )
    .await?;
    println!("{}", serde_json::to_string_pretty(&record)?);
    Ok(())
}

/// `soyl wait`: prints the record once the job has ended.
pub async fn wait(args: JobArgs) -> anyhow::Result<()> {
    let (http, base) = client(&args.server)?;
    let record = wait_for(&http, &base, &args.id, Duration::from_secs(args.timeout_s)).await?;
    println!("{}", serde_json::to_string_pretty(&record)?);
    Ok(())
}

/// Long-polls (`?wait_ms=`) until the job is terminal or `timeout` has passed.
async fn wait_for(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    timeout: Duration,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let asked = Instant::now();
        let wait_ms = deadline.saturating_duration_since(asked).as_millis();
        let url = format!("{base}/v1/jobs/{id}?wait_ms={wait_ms}");
        let record = answer(http.get(url).send().await?).await?;
        if matches!(
            record["status"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        ) {
            return Ok(record);
        }
        if Instant::now() >= deadline {
            bail!("job {id} still {} after {timeout:?}", record["status"]);
        }
        // A server with a short --sync-deadline-ms answers early: do not spin on it.
        tokio::time::sleep(MIN_POLL.saturating_sub(asked.elapsed())).await;
    }
}

/// The shortest interval between two polls of one job.
const MIN_POLL: Duration = Duration::from_millis(50);
