//! Operations subcommands: `status`, `heal [--wait]`, `scrub start|pause|status`,
//! `public-access-block get|put|delete` (the server-wide Block Public Access).

use std::process::ExitCode;

use clap::Subcommand;
use http::Method;

use super::{call_with_body, AdminArgs};

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
    /// The account-level (server-wide) Block Public Access settings.
    PublicAccessBlock {
        #[command(subcommand)]
        action: PublicAccessBlockAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum PublicAccessBlockAction {
    /// Show the settings in force.
    Get,
    /// Replace the settings (a setting not given is off); stored, survives restarts.
    Put {
        #[arg(long)]
        block_public_acls: bool,
        #[arg(long)]
        ignore_public_acls: bool,
        #[arg(long)]
        block_public_policy: bool,
        #[arg(long)]
        restrict_public_buckets: bool,
    },
    /// Forget the stored settings: the config file's apply again.
    Delete,
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
    let mut body = bytes::Bytes::new();
    let (method, path) = match cmd {
        OpsCommand::PublicAccessBlock { action: PublicAccessBlockAction::Get } => {
            (Method::GET, "/admin/v1/public-access-block")
        }
        OpsCommand::PublicAccessBlock { action: PublicAccessBlockAction::Delete } => {
            (Method::DELETE, "/admin/v1/public-access-block")
        }
        OpsCommand::PublicAccessBlock {
            action:
                PublicAccessBlockAction::Put {
                    block_public_acls,
                    ignore_public_acls,
                    block_public_policy,
                    restrict_public_buckets,
                },
        } => {
            let value = policy::PublicAccessBlock {
                block_public_acls: *block_public_acls,
                ignore_public_acls: *ignore_public_acls,
                block_public_policy: *block_public_policy,
                restrict_public_buckets: *restrict_public_buckets,
            };
            body = serde_json::to_vec(&value).unwrap_or_default().into();
            (Method::PUT, "/admin/v1/public-access-block")
        }
        OpsCommand::Status => (Method::GET, "/admin/v1/status"),
        OpsCommand::Heal { wait: true } => (Method::POST, "/admin/v1/heal"),
        OpsCommand::Heal { wait: false } => (Method::POST, "/admin/v1/heal?wait=false"),
        OpsCommand::Scrub { action: ScrubAction::Start } => (Method::POST, "/admin/v1/scrub/start"),
        OpsCommand::Scrub { action: ScrubAction::Pause } => (Method::POST, "/admin/v1/scrub/pause"),
        OpsCommand::Scrub { action: ScrubAction::Status } => (Method::GET, "/admin/v1/scrub/status"),
    };
    let answer = match call_with_body(args, method, path, body).await {
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
