//! `coffer admin`: the operator's client. It talks to a running server over
//! the network only (the IAM query API on the S3 endpoint for identities), so
//! it works the same against a local or a remote server.
//!
//! Adding a command family: a `clap::Subcommand` enum in its own module,
//! flattened into [`AdminCommand`], and a branch in [`run`].

pub mod client;
pub mod iam;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use crate::credentials::ROOT_CREDENTIALS_FILE;

/// Options shared by every admin command.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The server's S3 endpoint (IAM calls go there too).
    #[arg(long, global = true, env = "COFFER_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    pub endpoint: String,
    /// Access key id of the root user (or of a user allowed to call IAM).
    #[arg(long, global = true, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    pub access_key: Option<String>,
    /// Secret access key that goes with --access-key.
    #[arg(long, global = true, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Read the root credentials from `<DATA_DIR>/root-credentials.json` (when no key is given).
    #[arg(long, global = true, env = "COFFER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Region to sign for (IAM clients use us-east-1).
    #[arg(long, global = true, default_value = "us-east-1")]
    pub region: String,
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    #[command(flatten)]
    Iam(iam::IamCommand),
}

#[derive(serde::Deserialize)]
struct StoredRoot {
    access_key_id: String,
    secret_access_key: String,
}

fn credentials(args: &AdminArgs) -> Result<(String, Zeroizing<String>), String> {
    if let (Some(ak), Some(sk)) = (&args.access_key, &args.secret_key) {
        return Ok((ak.clone(), Zeroizing::new(sk.clone())));
    }
    let Some(dir) = &args.data_dir else {
        return Err("no credentials: give --access-key and --secret-key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or --data-dir".into());
    };
    let path = dir.join(ROOT_CREDENTIALS_FILE);
    let bytes = Zeroizing::new(std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?);
    let stored: StoredRoot = serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((stored.access_key_id, Zeroizing::new(stored.secret_access_key)))
}

/// Runs an admin command; errors go to stderr and make the exit code non-zero.
pub fn run(args: AdminArgs) -> ExitCode {
    let (access_key_id, secret) = match credentials(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("coffer admin: {e}");
            return ExitCode::from(2);
        }
    };
    let client =
        client::IamClient { endpoint: args.endpoint.clone(), access_key_id, secret, region: args.region.clone() };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("coffer admin: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match &args.command {
        AdminCommand::Iam(cmd) => runtime.block_on(iam::run(&client, cmd, args.json)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coffer admin: {e}");
            ExitCode::FAILURE
        }
    }
}
