//! `coffer admin user|key|policy|group ...`: identities through the IAM query API.

use clap::Subcommand;
use serde_json::json;

use super::client::{CallError, IamClient, Node};

#[derive(Debug, Subcommand)]
pub enum IamCommand {
    /// Users: create, get, list, delete.
    #[command(subcommand)]
    User(UserCommand),
    /// A user's access keys. `key create` prints the secret once.
    #[command(subcommand)]
    Key(KeyCommand),
    /// A user's inline policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Groups, their members and inline policies.
    #[command(subcommand)]
    Group(GroupCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    Create {
        name: String,
        #[arg(long, default_value = "/")]
        path: String,
        /// Sets the `email` tag (ACL grants by email address find the user by it).
        #[arg(long)]
        email: Option<String>,
    },
    Get {
        name: String,
    },
    List,
    Delete {
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    Create { user: String },
    List { user: String },
    Enable { user: String, key_id: String },
    Disable { user: String, key_id: String },
    Delete { user: String, key_id: String },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Stores the JSON document in FILE (`-` for stdin) as policy NAME of USER.
    Put {
        user: String,
        name: String,
        file: String,
    },
    Get {
        user: String,
        name: String,
    },
    List {
        user: String,
    },
    Delete {
        user: String,
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    Create {
        name: String,
    },
    List,
    Get {
        name: String,
    },
    Delete {
        name: String,
    },
    AddUser {
        group: String,
        user: String,
    },
    RemoveUser {
        group: String,
        user: String,
    },
    /// Stores the JSON document in FILE (`-` for stdin) as policy NAME of GROUP.
    PutPolicy {
        group: String,
        name: String,
        file: String,
    },
    DeletePolicy {
        group: String,
        name: String,
    },
}

fn user_json(n: &Node) -> serde_json::Value {
    json!({
        "UserName": n.get("UserName"), "UserId": n.get("UserId"), "Arn": n.get("Arn"),
        "Path": n.get("Path"), "CreateDate": n.get("CreateDate"),
    })
}

fn key_json(n: &Node) -> serde_json::Value {
    json!({
        "UserName": n.get("UserName"), "AccessKeyId": n.get("AccessKeyId"),
        "Status": n.get("Status"), "CreateDate": n.get("CreateDate"),
    })
}

fn read_document(file: &str) -> Result<String, String> {
    if file == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| format!("stdin: {e}"))
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))
    }
}

fn decode_policy(encoded: &str) -> String {
    percent_encoding::percent_decode_str(encoded).decode_utf8_lossy().into_owned()
}

/// Calls every page of a list action and returns the members of `list`.
async fn list_all(
    client: &IamClient,
    action: &str,
    params: &[(&str, &str)],
    list: &str,
) -> Result<Vec<Node>, CallError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let mut p: Vec<(&str, &str)> = params.to_vec();
        if let Some(m) = &marker {
            p.push(("Marker", m));
        }
        let result = client.call(action, &p).await?;
        out.extend(result.members(list).into_iter().cloned());
        if result.get("IsTruncated") != "true" {
            return Ok(out);
        }
        marker = Some(result.get("Marker"));
    }
}

fn print(json_out: bool, value: serde_json::Value, human: impl FnOnce() -> String) {
    if json_out {
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    } else {
        let text = human();
        if !text.is_empty() {
            println!("{text}");
        }
    }
}

pub async fn run(client: &IamClient, cmd: &IamCommand, json_out: bool) -> Result<(), String> {
    run_inner(client, cmd, json_out).await.map_err(|e| e.to_string())
}

async fn run_inner(client: &IamClient, cmd: &IamCommand, j: bool) -> Result<(), CallError> {
    match cmd {
        IamCommand::User(UserCommand::Create { name, path, email }) => {
            let mut p = vec![("UserName", name.as_str()), ("Path", path.as_str())];
            if let Some(e) = email {
                p.extend([("Tags.member.1.Key", "email"), ("Tags.member.1.Value", e.as_str())]);
            }
            let r = client.call("CreateUser", &p).await?;
            let u = r.child("User").cloned().unwrap_or_default();
            print(j, user_json(&u), || {
                format!("created user {} ({}, {})", u.get("UserName"), u.get("UserId"), u.get("Arn"))
            });
        }
        IamCommand::User(UserCommand::Get { name }) => {
            let r = client.call("GetUser", &[("UserName", name)]).await?;
            let u = r.child("User").cloned().unwrap_or_default();
            print(j, user_json(&u), || {
                format!("{}\t{}\t{}\t{}", u.get("UserName"), u.get("UserId"), u.get("Arn"), u.get("CreateDate"))
            });
        }
        IamCommand::User(UserCommand::List) => {
            let users = list_all(client, "ListUsers", &[], "Users").await?;
            print(j, json!(users.iter().map(user_json).collect::<Vec<_>>()), || {
                users
                    .iter()
                    .map(|u| {
                        format!("{}\t{}\t{}\t{}", u.get("UserName"), u.get("UserId"), u.get("Arn"), u.get("CreateDate"))
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        IamCommand::User(UserCommand::Delete { name }) => {
            client.call("DeleteUser", &[("UserName", name)]).await?;
            print(j, json!({"deleted": name}), || format!("deleted user {name}"));
        }
        IamCommand::Key(KeyCommand::Create { user }) => {
            let r = client.call("CreateAccessKey", &[("UserName", user)]).await?;
            let k = r.child("AccessKey").cloned().unwrap_or_default();
            let mut value = key_json(&k);
            value["SecretAccessKey"] = json!(k.get("SecretAccessKey"));
            print(j, value, || {
                format!(
                    "access key id:     {}\nsecret access key: {}\n(the secret is shown only this once)",
                    k.get("AccessKeyId"),
                    k.get("SecretAccessKey")
                )
            });
        }
        IamCommand::Key(KeyCommand::List { user }) => {
            let keys = list_all(client, "ListAccessKeys", &[("UserName", user)], "AccessKeyMetadata").await?;
            print(j, json!(keys.iter().map(key_json).collect::<Vec<_>>()), || {
                keys.iter()
                    .map(|k| format!("{}\t{}\t{}", k.get("AccessKeyId"), k.get("Status"), k.get("CreateDate")))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        IamCommand::Key(KeyCommand::Enable { user, key_id } | KeyCommand::Disable { user, key_id }) => {
            let status = if matches!(cmd, IamCommand::Key(KeyCommand::Enable { .. })) { "Active" } else { "Inactive" };
            client.call("UpdateAccessKey", &[("UserName", user), ("AccessKeyId", key_id), ("Status", status)]).await?;
            print(j, json!({"AccessKeyId": key_id, "Status": status}), || format!("{key_id} is now {status}"));
        }
        IamCommand::Key(KeyCommand::Delete { user, key_id }) => {
            client.call("DeleteAccessKey", &[("UserName", user), ("AccessKeyId", key_id)]).await?;
            print(j, json!({"deleted": key_id}), || format!("deleted access key {key_id}"));
        }
        IamCommand::Policy(PolicyCommand::Put { user, name, file }) => {
            let doc = read_document(file).map_err(CallError::Other)?;
            client.call("PutUserPolicy", &[("UserName", user), ("PolicyName", name), ("PolicyDocument", &doc)]).await?;
            print(j, json!({"UserName": user, "PolicyName": name}), || format!("stored policy {name} of user {user}"));
        }
        IamCommand::Policy(PolicyCommand::Get { user, name }) => {
            let r = client.call("GetUserPolicy", &[("UserName", user), ("PolicyName", name)]).await?;
            let doc = decode_policy(&r.get("PolicyDocument"));
            let parsed: serde_json::Value =
                serde_json::from_str(&doc).unwrap_or(serde_json::Value::String(doc.clone()));
            print(j, json!({"UserName": user, "PolicyName": name, "PolicyDocument": parsed}), || doc.clone());
        }
        IamCommand::Policy(PolicyCommand::List { user }) => {
            let names = list_all(client, "ListUserPolicies", &[("UserName", user)], "PolicyNames").await?;
            let names: Vec<String> = names.iter().map(|n| n.text.clone()).collect();
            print(j, json!(names), || names.join("\n"));
        }
        IamCommand::Policy(PolicyCommand::Delete { user, name }) => {
            client.call("DeleteUserPolicy", &[("UserName", user), ("PolicyName", name)]).await?;
            print(j, json!({"deleted": name}), || format!("deleted policy {name} of user {user}"));
        }
        IamCommand::Group(g) => run_group(client, g, j).await?,
    }
    Ok(())
}

async fn run_group(client: &IamClient, cmd: &GroupCommand, j: bool) -> Result<(), CallError> {
    let group_json =
        |n: &Node| json!({"GroupName": n.get("GroupName"), "GroupId": n.get("GroupId"), "Arn": n.get("Arn")});
    match cmd {
        GroupCommand::Create { name } => {
            let r = client.call("CreateGroup", &[("GroupName", name)]).await?;
            let g = r.child("Group").cloned().unwrap_or_default();
            print(j, group_json(&g), || format!("created group {} ({})", g.get("GroupName"), g.get("Arn")));
        }
        GroupCommand::List => {
            let groups = list_all(client, "ListGroups", &[], "Groups").await?;
            print(j, json!(groups.iter().map(group_json).collect::<Vec<_>>()), || {
                groups
                    .iter()
                    .map(|g| format!("{}\t{}", g.get("GroupName"), g.get("Arn")))
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        GroupCommand::Get { name } => {
            let members = list_all(client, "GetGroup", &[("GroupName", name)], "Users").await?;
            let names: Vec<String> = members.iter().map(|u| u.get("UserName")).collect();
            print(j, json!({"GroupName": name, "Users": names}), || names.join("\n"));
        }
        GroupCommand::Delete { name } => {
            client.call("DeleteGroup", &[("GroupName", name)]).await?;
            print(j, json!({"deleted": name}), || format!("deleted group {name}"));
        }
        GroupCommand::AddUser { group, user } => {
            client.call("AddUserToGroup", &[("GroupName", group), ("UserName", user)]).await?;
            print(j, json!({"GroupName": group, "added": user}), || format!("added {user} to {group}"));
        }
        GroupCommand::RemoveUser { group, user } => {
            client.call("RemoveUserFromGroup", &[("GroupName", group), ("UserName", user)]).await?;
            print(j, json!({"GroupName": group, "removed": user}), || format!("removed {user} from {group}"));
        }
        GroupCommand::PutPolicy { group, name, file } => {
            let doc = read_document(file).map_err(CallError::Other)?;
            client
                .call("PutGroupPolicy", &[("GroupName", group), ("PolicyName", name), ("PolicyDocument", &doc)])
                .await?;
            print(j, json!({"GroupName": group, "PolicyName": name}), || {
                format!("stored policy {name} of group {group}")
            });
        }
        GroupCommand::DeletePolicy { group, name } => {
            client.call("DeleteGroupPolicy", &[("GroupName", group), ("PolicyName", name)]).await?;
            print(j, json!({"deleted": name}), || format!("deleted policy {name} of group {group}"));
        }
    }
    Ok(())
}
