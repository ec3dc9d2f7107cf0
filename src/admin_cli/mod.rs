//! `coffer admin …`: a client for the admin API of a running server.
//!
//! The endpoint comes from `--admin-endpoint` (or `COFFER_ADMIN_ENDPOINT`),
//! the bearer token from `COFFER_ADMIN_TOKEN`. Each subcommand prints the
//! server's JSON answer on stdout.

pub mod ops;

use std::process::ExitCode;

use bytes::Bytes;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Base URL of the server's admin listener.
    #[arg(long, env = "COFFER_ADMIN_ENDPOINT", default_value = "http://127.0.0.1:9001")]
    pub admin_endpoint: String,
    /// Admin bearer token (normally from the environment).
    #[arg(long, env = "COFFER_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    #[command(flatten)]
    Ops(ops::OpsCommand),
}

/// A response from the admin API.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Sends one request to the admin API.
pub async fn call(args: &AdminArgs, method: http::Method, path: &str) -> Result<Answer, String> {
    let url = format!("{}{}", args.admin_endpoint.trim_end_matches('/'), path);
    let uri: http::Uri = url.parse().map_err(|e| format!("invalid admin endpoint {url:?}: {e}"))?;
    let mut builder = http::Request::builder().method(method).uri(uri);
    if let Some(token) = &args.admin_token {
        builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let req = builder.body(Full::new(Bytes::new())).map_err(|e| format!("cannot build the request: {e}"))?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let resp = client.request(req).await.map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.map_err(|e| format!("reading the answer of {url}: {e}"))?;
    Ok(Answer { status, body: String::from_utf8_lossy(&body.to_bytes()).into_owned() })
}

/// Runs `coffer admin …` to completion.
pub fn run(args: AdminArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("coffer: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match &args.command {
            AdminCommand::Ops(cmd) => ops::run(&args, cmd).await,
        }
    })
}
