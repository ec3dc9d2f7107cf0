//! Keyring subcommands: `kms create|list|enable|disable` (SSE-KMS keys) and
//! `master-key status|rotate` (the SSE-S3 master key), through the admin API.

use std::process::ExitCode;

use clap::Subcommand;
use http::Method;

use super::{call_with_body, AdminArgs};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// SSE-KMS keys of the local keyring.
    Kms {
        #[command(subcommand)]
        action: KmsAction,
    },
    /// The SSE-S3 master key.
    MasterKey {
        #[command(subcommand)]
        action: MasterKeyAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum KmsAction {
    /// Create a key; requests name it by id, ARN or `alias/ALIAS`.
    Create {
        #[arg(long)]
        alias: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List the keys (never their material).
    List,
    /// Allow the key again for writes and reads.
    Enable { key: String },
    /// Refuse writes and reads with the key (KMS.DisabledException).
    Disable { key: String },
}

#[derive(Debug, Subcommand)]
pub enum MasterKeyAction {
    /// Current version and the versions kept.
    Status,
    /// New master version; re-wraps every stored data key (no data is rewritten).
    Rotate,
}

fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}

pub async fn run(args: &AdminArgs, cmd: &KeysCommand) -> ExitCode {
    let mut body = bytes::Bytes::new();
    let (method, path) = match cmd {
        KeysCommand::Kms { action: KmsAction::Create { alias, description } } => {
            body = serde_json::to_vec(&serde_json::json!({ "alias": alias, "description": description }))
                .unwrap_or_default()
                .into();
            (Method::POST, "/admin/v1/kms/keys".to_string())
        }
        KeysCommand::Kms { action: KmsAction::List } => (Method::GET, "/admin/v1/kms/keys".to_string()),
        KeysCommand::Kms { action: KmsAction::Enable { key } } => {
            (Method::POST, format!("/admin/v1/kms/keys/{}/enable", encode(key)))
        }
        KeysCommand::Kms { action: KmsAction::Disable { key } } => {
            (Method::POST, format!("/admin/v1/kms/keys/{}/disable", encode(key)))
        }
        KeysCommand::MasterKey { action: MasterKeyAction::Status } => {
            (Method::GET, "/admin/v1/sse/master-key".to_string())
        }
        KeysCommand::MasterKey { action: MasterKeyAction::Rotate } => {
            (Method::POST, "/admin/v1/sse/master-key/rotate".to_string())
        }
    };
    super::print_answer(call_with_body(args, method, &path, body).await)
}
