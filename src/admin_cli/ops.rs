//! Operations subcommands: `status`, `heal [--wait]`, `scrub start|pause|status`.

use std::process::ExitCode;

use clap::Subcommand;
use http::Method;

use super::{call, AdminArgs};

#[derive(Debug, Subcommand)]
pub enum OpsCommand {
    /// Zones (state, capacity, free space), objects, degraded objects, heal queue, last scrub.
    Status,
    /// Verify every object and repair what is damaged.
    Heal {
        /// Wait for the pass to finish and print its summary; exits non-zero if anything is unrecoverable.
        #[arg(long)]
        wait: bool,
    },
    /// Control the background scrubber.
    Scrub {
        #[command(subcommand)]
        action: ScrubAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScrubAction {
    /// Start a scrub pass now (and resume a paused schedule).
    Start,
    /// Pause the schedule: no new pass starts until `scrub start`.
    Pause,
    /// Show the scrubber's state and its last pass.
    Status,
}

pub async fn run(args: &AdminArgs, cmd: &OpsCommand) -> ExitCode {
    let (method, path) = match cmd {
        OpsCommand::Status => (Method::GET, "/admin/v1/status"),
        OpsCommand::Heal { wait: true } => (Method::POST, "/admin/v1/heal"),
        OpsCommand::Heal { wait: false } => (Method::POST, "/admin/v1/heal?wait=false"),
        OpsCommand::Scrub { action: ScrubAction::Start } => (Method::POST, "/admin/v1/scrub/start"),
        OpsCommand::Scrub { action: ScrubAction::Pause } => (Method::POST, "/admin/v1/scrub/pause"),
        OpsCommand::Scrub { action: ScrubAction::Status } => (Method::GET, "/admin/v1/scrub/status"),
    };
    let answer = match call(args, method, path).await {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("coffer: {msg}");
            return ExitCode::FAILURE;
        }
    };
    if !(200..300).contains(&answer.status) {
        eprintln!("coffer: admin API answered {}: {}", answer.status, answer.body.trim());
        return ExitCode::FAILURE;
    }
    print!("{}", answer.body);
    if let OpsCommand::Heal { wait: true } = cmd {
        let unrecoverable = serde_json::from_str::<serde_json::Value>(&answer.body)
            .ok()
            .and_then(|v| v.get("unrecoverable").and_then(|u| u.as_u64()));
        match unrecoverable {
            Some(0) => {}
            Some(n) => {
                eprintln!("coffer: {n} object(s) unrecoverable");
                return ExitCode::from(3);
            }
            None => {
                eprintln!("coffer: the heal summary has no `unrecoverable` count");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
