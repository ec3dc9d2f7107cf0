//! `coffer admin`: the operator's client. It talks to a running server over
//! the network only, so it works the same against a local or a remote server:
//! identities through the IAM query API on the S3 endpoint (`--endpoint`,
//! root credentials), status, heal and scrub through the admin API
//! (`--admin-endpoint`, bearer token from `COFFER_ADMIN_TOKEN`), and the
//! encryption keyring (KMS keys, master key rotation) the same way.
//!
//! Adding a command family: a `clap::Subcommand` enum in its own module,
//! flattened into [`AdminCommand`], and a branch in [`run`].

pub mod accounts;
pub mod client;
pub mod iam;
pub mod keys;
pub mod ops;

use std::path::PathBuf;
use std::process::ExitCode;

use bytes::Bytes;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
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
    /// Base URL of the server's admin listener.
    #[arg(long, global = true, env = "COFFER_ADMIN_ENDPOINT", default_value = "http://127.0.0.1:9001")]
    pub admin_endpoint: String,
    /// Admin bearer token (normally from the environment).
    #[arg(long, global = true, env = "COFFER_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    #[command(flatten)]
    Iam(iam::IamCommand),
    #[command(flatten)]
    Ops(ops::OpsCommand),
    #[command(flatten)]
    Keys(keys::KeysCommand),
    #[command(flatten)]
    Accounts(accounts::AccountsCommand),
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

/// A response from the admin API.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Sends one request to the admin API.
pub async fn call(args: &AdminArgs, method: http::Method, path: &str) -> Result<Answer, String> {
    call_with_body(args, method, path, Bytes::new()).await
}

/// Sends one request with a (JSON) body to the admin API.
pub async fn call_with_body(args: &AdminArgs, method: http::Method, path: &str, body: Bytes) -> Result<Answer, String> {
    let url = format!("{}{}", args.admin_endpoint.trim_end_matches('/'), path);
    let uri: http::Uri = url.parse().map_err(|e| format!("invalid admin endpoint {url:?}: {e}"))?;
    let mut builder = http::Request::builder().method(method).uri(uri);
    if let Some(token) = &args.admin_token {
        builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let req = builder.body(Full::new(body)).map_err(|e| format!("cannot build the request: {e}"))?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let resp = client.request(req).await.map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.map_err(|e| format!("reading the answer of {url}: {e}"))?;
    Ok(Answer { status, body: String::from_utf8_lossy(&body.to_bytes()).into_owned() })
}

/// Prints a successful admin API answer's body; a failure goes to stderr
/// and makes the exit code non-zero.
pub fn print_answer(answer: Result<Answer, String>) -> ExitCode {
    match answer {
        Ok(answer) if (200..300).contains(&answer.status) => {
            println!("{}", answer.body.trim());
            ExitCode::SUCCESS
        }
        Ok(answer) => {
            eprintln!("coffer: admin API answered {}: {}", answer.status, answer.body.trim());
            ExitCode::FAILURE
        }
        Err(msg) => {
            eprintln!("coffer: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Runs an admin command; errors go to stderr and make the exit code non-zero.
pub fn run(args: AdminArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("coffer admin: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match &args.command {
        AdminCommand::Ops(cmd) => runtime.block_on(ops::run(&args, cmd)),
        AdminCommand::Keys(cmd) => runtime.block_on(keys::run(&args, cmd)),
        AdminCommand::Accounts(cmd) => runtime.block_on(accounts::run(&args, cmd)),
        AdminCommand::Iam(cmd) => {
            let (access_key_id, secret) = match credentials(&args) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("coffer admin: {e}");
                    return ExitCode::from(2);
                }
            };
            let client = client::IamClient {
                endpoint: args.endpoint.clone(),
                access_key_id,
                secret,
                region: args.region.clone(),
            };
            match runtime.block_on(iam::run(&client, cmd, args.json)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("coffer admin: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
