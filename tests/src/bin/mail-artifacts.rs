//! Writes or checks the repository's generated files (see `e2e_tests::artifacts`), and
//! renders the alert rules with an operator's own thresholds.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    about = "Generated files of mail-exporters: alert rules from alerts/src and alerts/src/thresholds.yml"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write every generated file into the workspace.
    Generate,
    /// Exit 1 when a committed generated file differs from what `generate` writes.
    Check,
    /// Render alerts/src with another thresholds file into a directory.
    Alerts {
        /// The thresholds file (a copy of alerts/src/thresholds.yml with your values).
        #[arg(long)]
        thresholds: PathBuf,
        /// Where the rule files go.
        #[arg(long)]
        out: PathBuf,
    },
}

fn run() -> Result<ExitCode> {
    let root = e2e_tests::workspace_root();
    match Cli::parse().command {
        Command::Generate => {
            for p in e2e_tests::artifacts::write(&root)? {
                println!("wrote {}", p.display());
            }
        }
        Command::Check => {
            let stale = e2e_tests::artifacts::stale(&root)?;
            if !stale.is_empty() {
                for p in &stale {
                    eprintln!("out of date: {} (run scripts/generate.sh)", p.display());
                }
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Alerts { thresholds, out } => {
            let t = e2e_tests::artifacts::alerts::read_thresholds(&thresholds)?;
            let (files, _) =
                e2e_tests::artifacts::alerts::render_dir(&root.join("alerts/src"), &t)?;
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            for (name, text) in files {
                let p = out.join(name);
                std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
                println!("wrote {}", p.display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    match run() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mail-artifacts: {e:#}");
            ExitCode::FAILURE
        }
    }
}
