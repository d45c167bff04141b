//! `make chaos`: one fault scenario under load (`chaos run`, driven by `scripts/chaos.sh`, which
//! owns the processes and injects the fault), and CHAOS.md from the results (`chaos report`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use bench::chaos::{report, run};
use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Load, wait for the script's fault and recovery, check; exit status 1 when a check failed.
    Run(Box<run::RunArgs>),
    /// Write CHAOS.md from a results dir (one JSON per scenario and meta.json).
    Report {
        #[arg(long)]
        results: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Run(a) => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let pass = rt.block_on(run::run(*a))?;
            // Client tasks may still be parked on sockets: do not wait for them.
            rt.shutdown_timeout(std::time::Duration::from_millis(500));
            Ok(if pass {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Cmd::Report { results, out } => {
            report::write(&results, &out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
