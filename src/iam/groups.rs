//! Groups: inline group policies and membership. A user's identity carries
//! the policies of every group it belongs to.

use std::collections::BTreeMap;

use super::error::IamError;
use super::model::{self, GroupRecord, UserRecord};
use super::store::{check_document, no_such_policy, no_such_user, now_ms, Change, Identities};

fn no_such_group(name: &str) -> IamError {
    IamError::no_such_entity(format!("The group with name {name} cannot be found."))
}

impl Identities {
    pub fn get_group(&self, name: &str) -> Result<(GroupRecord, Vec<UserRecord>), IamError> {
        let st = self.read();
        let g = st.groups.get(&name.to_ascii_lowercase()).cloned().ok_or_else(|| no_such_group(name))?;
        let members = g.members.iter().filter_map(|m| st.users.get(m).cloned()).collect();
        Ok((g, members))
    }

    pub fn list_groups(&self, path_prefix: &str) -> Vec<GroupRecord> {
        self.read().groups.values().filter(|g| g.path.starts_with(path_prefix)).cloned().collect()
    }

    pub fn list_groups_for_user(&self, user: &str) -> Result<Vec<GroupRecord>, IamError> {
        let lower = user.to_ascii_lowercase();
        let st = self.read();
        st.users.get(&lower).ok_or_else(|| no_such_user(user))?;
        Ok(st.groups.values().filter(|g| g.members.contains(&lower)).cloned().collect())
    }

    pub async fn create_group(&self, name: &str, path: &str) -> Result<GroupRecord, IamError> {
        model::check_name("groupName", name, 128).map_err(IamError::validation)?;
        model::check_path(path).map_err(IamError::validation)?;
        let _w = self.writer().await;
        if self.read().groups.contains_key(&name.to_ascii_lowercase()) {
            return Err(IamError::already_exists(format!("Group with name {name} already exists.")));
        }
        let rec = GroupRecord {
            version: model::RECORD_VERSION,
            name: name.to_string(),
            group_id: model::new_group_id(),
            path: path.to_string(),
            created_ms: now_ms(),
            members: Vec::new(),
            policies: BTreeMap::new(),
        };
        self.commit(Change { groups: vec![rec.clone()], ..Default::default() }).await?;
        Ok(rec)
    }

    pub async fn delete_group(&self, name: &str) -> Result<(), IamError> {
        let _w = self.writer().await;
        let (g, _) = self.get_group(name)?;
        if !g.members.is_empty() {
            return Err(IamError::delete_conflict("Cannot delete entity, must remove users from group first."));
        }
        if !g.policies.is_empty() {
            return Err(IamError::delete_conflict("Cannot delete entity, must delete policies first."));
        }
        self.commit(Change { del_groups: vec![g.name], ..Default::default() }).await
    }

    /// Adds (`add`) or removes a user from a group.
    pub async fn set_membership(&self, group: &str, user: &str, add: bool) -> Result<(), IamError> {
        let _w = self.writer().await;
        let lower = user.to_ascii_lowercase();
        let (mut g, _) = self.get_group(group)?;
        self.get_user(user)?;
        let present = g.members.contains(&lower);
        match (add, present) {
            (true, true) => return Ok(()),
            (false, false) => {
                return Err(IamError::no_such_entity(format!(
                    "The user with name {user} cannot be found in group {group}."
                )))
            }
            (true, false) => g.members.push(lower),
            (false, true) => g.members.retain(|m| *m != lower),
        }
        self.commit(Change { groups: vec![g], ..Default::default() }).await
    }

    pub async fn put_group_policy(&self, group: &str, policy: &str, document: &str) -> Result<(), IamError> {
        model::check_name("policyName", policy, 128).map_err(IamError::validation)?;
        check_document(document)?;
        let _w = self.writer().await;
        let (mut g, _) = self.get_group(group)?;
        g.policies.insert(policy.to_string(), document.to_string());
        self.commit(Change { groups: vec![g], ..Default::default() }).await
    }

    pub fn get_group_policy(&self, group: &str, policy: &str) -> Result<(GroupRecord, String), IamError> {
        let (g, _) = self.get_group(group)?;
        let doc = g.policies.get(policy).cloned().ok_or_else(|| no_such_policy("group", group, policy))?;
        Ok((g, doc))
    }

    pub async fn delete_group_policy(&self, group: &str, policy: &str) -> Result<(), IamError> {
        let _w = self.writer().await;
        let (mut g, _) = self.get_group(group)?;
        if g.policies.remove(policy).is_none() {
            return Err(no_such_policy("group", group, policy));
        }
        self.commit(Change { groups: vec![g], ..Default::default() }).await
    }
}
