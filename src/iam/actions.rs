//! The supported IAM actions: parameters in, `<XxxResult>` content out.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::api::Params;
use super::error::IamError;
use super::model::{self, GroupRecord, KeyRecord, KeyStatus, Tag, UserRecord};
use super::{Identities, Identity, IdentityKind};
use crate::xml::XmlWriter;

macro_rules! actions {
    ($($name:ident: $result:literal),* $(,)?) => {
        /// An IAM action Coffer serves (AWS's names).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Action { $($name),* }

        impl Action {
            pub fn parse(s: &str) -> Option<Action> {
                match s { $(stringify!($name) => Some(Action::$name),)* _ => None }
            }
            pub fn name(self) -> &'static str {
                match self { $(Action::$name => stringify!($name)),* }
            }
            pub fn response_root(self) -> &'static str {
                match self { $(Action::$name => concat!(stringify!($name), "Response")),* }
            }
            pub fn result_root(self) -> &'static str {
                match self { $(Action::$name => concat!(stringify!($name), "Result")),* }
            }
            /// Whether the response carries an `<XxxResult>` element.
            pub fn has_result(self) -> bool {
                match self { $(Action::$name => $result),* }
            }
        }
    };
}

actions! {
    CreateUser: true, GetUser: true, ListUsers: true, DeleteUser: false,
    CreateAccessKey: true, ListAccessKeys: true, UpdateAccessKey: false, DeleteAccessKey: false,
    PutUserPolicy: false, GetUserPolicy: true, ListUserPolicies: true, DeleteUserPolicy: false,
    CreateGroup: true, GetGroup: true, ListGroups: true, DeleteGroup: false,
    AddUserToGroup: false, RemoveUserFromGroup: false, ListGroupsForUser: true,
    PutGroupPolicy: false, GetGroupPolicy: true, ListGroupPolicies: true, DeleteGroupPolicy: false,
}

/// RFC 3986 unreserved characters stay; AWS returns policy documents encoded so.
const POLICY_ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn date(ms: u64) -> String {
    let full = crate::xml::iso8601_ms(ms);
    // `2026-11-23T22:00:00.123Z` → `2026-11-23T22:00:00Z`, as IAM writes dates.
    format!("{}Z", full.get(..19).unwrap_or(&full))
}

/// The user an action is about: `UserName`, else the caller (a user).
fn target_user<'a>(params: &'a Params, caller: &'a Identity) -> Result<&'a str, IamError> {
    match (params.get("UserName"), &caller.kind) {
        (Some(name), _) => Ok(name),
        (None, IdentityKind::User { user_name, .. }) => Ok(user_name),
        (None, IdentityKind::Root) => Err(IamError::validation(
            "Coffer does not manage access keys of the root user through IAM: UserName is required.",
        )),
    }
}

/// The resource ARN an action is authorized against.
pub fn resource_arn(ids: &Identities, action: Action, params: &Params, caller: &Identity) -> String {
    use Action::*;
    let account = ids.account_id();
    let user_arn = |name: &str| match ids.get_user(name) {
        Ok(rec) => ids.user_arn(&rec),
        Err(_) => model::arn(account, "user", params.get("Path").unwrap_or("/"), name),
    };
    let group_arn = |name: &str| match ids.get_group(name) {
        Ok((rec, _)) => ids.group_arn(&rec),
        Err(_) => model::arn(account, "group", params.get("Path").unwrap_or("/"), name),
    };
    match action {
        ListUsers => format!("arn:aws:iam::{account}:user/"),
        ListGroups => format!("arn:aws:iam::{account}:group/"),
        GetUser if params.get("UserName").is_none() => caller.arn(),
        CreateGroup | GetGroup | DeleteGroup | AddUserToGroup | RemoveUserFromGroup | PutGroupPolicy
        | GetGroupPolicy | ListGroupPolicies | DeleteGroupPolicy => group_arn(params.get("GroupName").unwrap_or("")),
        _ => match target_user(params, caller) {
            Ok(name) => user_arn(name),
            Err(_) => caller.arn(),
        },
    }
}

fn write_tags(w: &mut XmlWriter, tags: &[Tag]) {
    if tags.is_empty() {
        return;
    }
    w.open("Tags");
    for t in tags {
        w.open("member").text("Key", &t.key).text("Value", &t.value).close();
    }
    w.close();
}

fn write_user(ids: &Identities, w: &mut XmlWriter, element: &'static str, u: &UserRecord, tags: bool) {
    w.open(element)
        .text("Path", &u.path)
        .text("UserName", &u.name)
        .text("UserId", &u.user_id)
        .text("Arn", &ids.user_arn(u))
        .text("CreateDate", &date(u.created_ms));
    if tags {
        write_tags(w, &u.tags);
    }
    w.close();
}

fn write_group(ids: &Identities, w: &mut XmlWriter, element: &'static str, g: &GroupRecord) {
    w.open(element)
        .text("Path", &g.path)
        .text("GroupName", &g.name)
        .text("GroupId", &g.group_id)
        .text("Arn", &ids.group_arn(g))
        .text("CreateDate", &date(g.created_ms))
        .close();
}

fn write_key(w: &mut XmlWriter, element: &'static str, user_name: &str, k: &KeyRecord, secret: Option<&str>) {
    w.open(element).text("UserName", user_name).text("AccessKeyId", &k.access_key_id).text("Status", k.status.as_str());
    if let Some(s) = secret {
        w.text("SecretAccessKey", s);
    }
    w.text("CreateDate", &date(k.created_ms)).close();
}

/// One page of `items` (sorted by `key`): those after `Marker`, at most `MaxItems`.
fn page<T>(items: Vec<T>, key: impl Fn(&T) -> String, params: &Params) -> Result<(Vec<T>, Option<String>), IamError> {
    let max = match params.get("MaxItems") {
        None => 100,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(IamError::validation(format!(
                    "1 validation error detected: Value '{v}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"
                )))
            }
        },
    };
    let marker = params.get("Marker").filter(|m| !m.is_empty());
    let mut rest: Vec<T> = items.into_iter().filter(|t| marker.is_none_or(|m| key(t).as_str() > m)).collect();
    if rest.len() > max {
        rest.truncate(max);
        let next = rest.last().map(&key);
        return Ok((rest, next));
    }
    Ok((rest, None))
}

fn write_truncation(w: &mut XmlWriter, next: Option<String>) {
    w.text("IsTruncated", if next.is_some() { "true" } else { "false" });
    w.opt_text("Marker", next.as_deref());
}

fn parse_tags(params: &Params) -> Result<Vec<Tag>, IamError> {
    let mut tags: Vec<Tag> = Vec::new();
    for n in 1.. {
        let (Some(key), value) =
            (params.get(&format!("Tags.member.{n}.Key")), params.get(&format!("Tags.member.{n}.Value")))
        else {
            break;
        };
        if key.is_empty() || key.len() > 128 || value.is_some_and(|v| v.len() > 256) {
            return Err(IamError::validation("Tag keys must be 1 to 128 characters and values at most 256."));
        }
        if tags.iter().any(|t| t.key.eq_ignore_ascii_case(key)) {
            return Err(IamError::new("InvalidInput", http::StatusCode::BAD_REQUEST, "Duplicate tag keys found."));
        }
        tags.push(Tag { key: key.to_string(), value: value.unwrap_or("").to_string() });
        if tags.len() > 50 {
            return Err(IamError::limit_exceeded("Cannot exceed quota for TagsPerUser: 50"));
        }
    }
    Ok(tags)
}

fn write_policy_names(w: &mut XmlWriter, names: Vec<String>, params: &Params) -> Result<(), IamError> {
    let (names, next) = page(names, |n| n.clone(), params)?;
    w.open("PolicyNames");
    for n in &names {
        w.text("member", n);
    }
    w.close();
    write_truncation(w, next);
    Ok(())
}

/// Runs `action`, writing its result content into `w` (nothing for actions without output).
pub async fn run(
    ids: &Identities,
    action: Action,
    params: &Params,
    caller: &Identity,
    w: &mut XmlWriter,
) -> Result<(), IamError> {
    use Action::*;
    let user = || params.required("UserName", "userName");
    let group = || params.required("GroupName", "groupName");
    let policy = || params.required("PolicyName", "policyName");
    match action {
        CreateUser => {
            let tags = parse_tags(params)?;
            let rec = ids.create_user(user()?, params.get("Path").unwrap_or("/"), tags).await?;
            write_user(ids, w, "User", &rec, true);
        }
        GetUser => match (params.get("UserName"), &caller.kind) {
            (None, IdentityKind::Root) => {
                w.open("User")
                    .text("UserId", caller.account_id.as_str())
                    .text("Arn", &caller.arn())
                    .text("CreateDate", &date(0))
                    .close();
            }
            _ => {
                let rec = ids.get_user(target_user(params, caller)?)?;
                write_user(ids, w, "User", &rec, true);
            }
        },
        ListUsers => {
            let users = ids.list_users(params.get("PathPrefix").unwrap_or("/"));
            let (users, next) = page(users, |u| u.name.to_ascii_lowercase(), params)?;
            w.open("Users");
            for u in &users {
                write_user(ids, w, "member", u, false);
            }
            w.close();
            write_truncation(w, next);
        }
        DeleteUser => ids.delete_user(user()?).await?,
        CreateAccessKey => {
            let name = target_user(params, caller)?;
            let (rec, secret) = ids.create_access_key(name).await?;
            let user_name = ids.get_user(name).map(|u| u.name).unwrap_or_else(|_| name.to_string());
            write_key(w, "AccessKey", &user_name, &rec, Some(secret.as_str()));
        }
        ListAccessKeys => {
            let name = target_user(params, caller)?;
            let user_name = ids.get_user(name)?.name;
            let mut keys = ids.list_access_keys(name)?;
            keys.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
            let (keys, next) = page(keys, |k| k.access_key_id.clone(), params)?;
            w.text("UserName", &user_name);
            w.open("AccessKeyMetadata");
            for k in &keys {
                write_key(w, "member", &user_name, k, None);
            }
            w.close();
            write_truncation(w, next);
        }
        UpdateAccessKey => {
            let status = params.required("Status", "status")?;
            let status = KeyStatus::parse(status).ok_or_else(|| {
                IamError::validation(format!(
                    "1 validation error detected: Value '{status}' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]"
                ))
            })?;
            let key = params.required("AccessKeyId", "accessKeyId")?;
            ids.update_access_key(target_user(params, caller)?, key, status).await?;
        }
        DeleteAccessKey => {
            let key = params.required("AccessKeyId", "accessKeyId")?;
            ids.delete_access_key(target_user(params, caller)?, key).await?;
        }
        PutUserPolicy => {
            let doc = params.required("PolicyDocument", "policyDocument")?;
            ids.put_user_policy(user()?, policy()?, doc).await?;
        }
        GetUserPolicy => {
            let (rec, doc) = ids.get_user_policy(user()?, policy()?)?;
            w.text("UserName", &rec.name)
                .text("PolicyName", policy()?)
                .text("PolicyDocument", &utf8_percent_encode(&doc, POLICY_ENCODE).to_string());
        }
        ListUserPolicies => {
            let rec = ids.get_user(user()?)?;
            write_policy_names(w, rec.policies.into_keys().collect(), params)?;
        }
        DeleteUserPolicy => ids.delete_user_policy(user()?, policy()?).await?,
        CreateGroup => {
            let rec = ids.create_group(group()?, params.get("Path").unwrap_or("/")).await?;
            write_group(ids, w, "Group", &rec);
        }
        GetGroup => {
            let (g, members) = ids.get_group(group()?)?;
            let (members, next) = page(members, |u| u.name.to_ascii_lowercase(), params)?;
            write_group(ids, w, "Group", &g);
            w.open("Users");
            for u in &members {
                write_user(ids, w, "member", u, false);
            }
            w.close();
            write_truncation(w, next);
        }
        ListGroups => {
            let groups = ids.list_groups(params.get("PathPrefix").unwrap_or("/"));
            let (groups, next) = page(groups, |g| g.name.to_ascii_lowercase(), params)?;
            w.open("Groups");
            for g in &groups {
                write_group(ids, w, "member", g);
            }
            w.close();
            write_truncation(w, next);
        }
        ListGroupsForUser => {
            let groups = ids.list_groups_for_user(user()?)?;
            let (groups, next) = page(groups, |g| g.name.to_ascii_lowercase(), params)?;
            w.open("Groups");
            for g in &groups {
                write_group(ids, w, "member", g);
            }
            w.close();
            write_truncation(w, next);
        }
        DeleteGroup => ids.delete_group(group()?).await?,
        AddUserToGroup => ids.set_membership(group()?, user()?, true).await?,
        RemoveUserFromGroup => ids.set_membership(group()?, user()?, false).await?,
        PutGroupPolicy => {
            let doc = params.required("PolicyDocument", "policyDocument")?;
            ids.put_group_policy(group()?, policy()?, doc).await?;
        }
        GetGroupPolicy => {
            let (g, doc) = ids.get_group_policy(group()?, policy()?)?;
            w.text("GroupName", &g.name)
                .text("PolicyName", policy()?)
                .text("PolicyDocument", &utf8_percent_encode(&doc, POLICY_ENCODE).to_string());
        }
        ListGroupPolicies => {
            let (g, _) = ids.get_group(group()?)?;
            write_policy_names(w, g.policies.into_keys().collect(), params)?;
        }
        DeleteGroupPolicy => ids.delete_group_policy(group()?, policy()?).await?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_and_roots() {
        assert_eq!(Action::parse("CreateUser"), Some(Action::CreateUser));
        assert_eq!(Action::parse("createuser"), None);
        assert_eq!(Action::ListUsers.response_root(), "ListUsersResponse");
        assert_eq!(Action::ListUsers.result_root(), "ListUsersResult");
        assert!(!Action::DeleteUser.has_result());
    }

    #[test]
    fn paging_by_marker() {
        let params = Params::parse(b"MaxItems=2", "").expect("params");
        let (first, next) = page(vec!["a", "b", "c"], |s| s.to_string(), &params).expect("page");
        assert_eq!((first, next.as_deref()), (vec!["a", "b"], Some("b")));
        let params = Params::parse(b"MaxItems=2&Marker=b", "").expect("params");
        let (second, next) = page(vec!["a", "b", "c"], |s| s.to_string(), &params).expect("page");
        assert_eq!((second, next), (vec!["c"], None));
        assert!(page(vec!["a"], |s| s.to_string(), &Params::parse(b"MaxItems=0", "").expect("p")).is_err());
    }
}
