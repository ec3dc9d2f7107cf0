//! Account subcommands: `account create|list|delete`, through the admin API.

use std::process::ExitCode;

use clap::Subcommand;
use http::Method;

use super::{call_with_body, AdminArgs};

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Additional accounts: separate owners of buckets, each with a root user.
    Account {
        #[command(subcommand)]
        action: AccountAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountAction {
    /// Create an account and its root access key (the secret is printed once).
    Create {
        name: String,
        /// ACL grants by e-mail address resolve to the account with this address.
        #[arg(long)]
        email: Option<String>,
    },
    /// List the accounts, the installation's own first.
    List,
    /// Delete an account that owns no bucket, with its access keys.
    Delete { name: String },
}

pub async fn run(args: &AdminArgs, cmd: &AccountsCommand) -> ExitCode {
    let AccountsCommand::Account { action } = cmd;
    let mut body = bytes::Bytes::new();
    let (method, path) = match action {
        AccountAction::Create { name, email } => {
            body = serde_json::to_vec(&serde_json::json!({ "name": name, "email": email })).unwrap_or_default().into();
            (Method::POST, crate::iam::accounts_admin::PATH.to_string())
        }
        AccountAction::List => (Method::GET, crate::iam::accounts_admin::PATH.to_string()),
        AccountAction::Delete { name } => (
            Method::DELETE,
            format!(
                "{}/{}",
                crate::iam::accounts_admin::PATH,
                percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
            ),
        ),
    };
    super::print_answer(call_with_body(args, method, &path, body).await)
}
