//! The `soyl` binary: parses the command line, sets up logging, and dispatches.

use clap::Parser;
use soyl_submitter::config::{Cli, Command, LogFormat};
use soyl_submitter::serve::Role;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter =
        EnvFilter::try_from_env("SOYL_LOG").unwrap_or_else(|_| EnvFilter::new("info,ort=error"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal, never in a log file or a collector.
        .with_ansi(std::io::stderr().is_terminal());
    match cli.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.init(),
    }
    match cli.command {
        Command::Serve(args) => soyl_submitter::serve::run(*args, Role::All).await,
        Command::Api(args) => soyl_submitter::serve::run(*args, Role::Api).await,
        Command::Worker(args) => soyl_submitter::serve::run(*args, Role::Worker).await,
        Command::Init(args) => soyl_submitter::backend::init(&args).await,
        Command::Submit(args) => soyl_submitter::client::submit(args).await,
        Command::Status(args) => soyl_submitter::client::status(args).await,
        Command::Wait(args) => soyl_submitter::client::wait(args).await,
        Command::Keys(args) => soyl_submitter::keys::run(args).await,
        Command::Reprocess(args) => soyl_submitter::reprocess::run(args).await,
        Command::Export(args) => soyl_submitter::reprocess::export(args).await,
        Command::Bench(args) => soyl_submitter::bench::run(args).await,
    }
}
