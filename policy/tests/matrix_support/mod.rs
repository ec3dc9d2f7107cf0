//! The matrix's vocabulary: the principals (two accounts, their roots and
//! users, anonymous), a case builder (identity policy, bucket policy, ACLs,
//! Block Public Access, condition values, resource account) and the runner
//! that turns a case into a `policy::evaluate` call.

#![allow(dead_code)]

use policy::{
    evaluate, Acl, CannedAcl, ConditionValues, Grant, Grantee, Inputs, Permission, PolicyDocument, Principal,
    PublicAccessBlock, Request,
};

pub const A: &str = "111111111111";
pub const B: &str = "222222222222";

pub fn ca() -> String {
    "a".repeat(64)
}
pub fn cb() -> String {
    "b".repeat(64)
}

#[derive(Clone, Copy, Debug)]
pub enum Who {
    Anon,
    RootA,
    RootB,
    Alice,
    Bob,
    Carol,
}

pub fn principal(who: Who) -> Principal {
    let user = |acct: &str, canon: String, name: &str| Principal::User {
        account_id: acct.into(),
        canonical_id: canon,
        user_name: name.into(),
        user_id: format!("AIDA{}", name.to_uppercase()),
        arn: format!("arn:aws:iam::{acct}:user/{name}"),
    };
    match who {
        Who::Anon => Principal::Anonymous,
        Who::RootA => Principal::Root { account_id: A.into(), canonical_id: ca() },
        Who::RootB => Principal::Root { account_id: B.into(), canonical_id: cb() },
        Who::Alice => user(A, ca(), "alice"),
        Who::Bob => user(A, ca(), "bob"),
        Who::Carol => user(B, cb(), "carol"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Expect {
    Allow,
    Deny,
    ExplicitDeny,
}
pub use Expect::*;

#[derive(Clone, Debug)]
pub struct Case {
    pub rule: &'static str,
    pub who: Who,
    pub action: &'static str,
    pub resource: &'static str,
    pub identity: Vec<String>,
    pub version: &'static str,
    pub bucket_policy: Option<String>,
    pub bucket_acl: Option<Acl>,
    pub object_acl: Option<Acl>,
    pub bpa: PublicAccessBlock,
    pub ctx: Vec<(&'static str, &'static str)>,
    pub resource_account: Option<&'static str>,
    pub expect: Expect,
}

pub fn c(rule: &'static str, who: Who, action: &'static str, resource: &'static str, expect: Expect) -> Case {
    Case {
        rule,
        who,
        action,
        resource,
        identity: Vec::new(),
        version: "2012-10-17",
        bucket_policy: None,
        bucket_acl: None,
        object_acl: None,
        bpa: PublicAccessBlock::default(),
        ctx: Vec::new(),
        resource_account: Some(A),
        expect,
    }
}

impl Case {
    /// The caller's identity policy: these statements.
    pub fn idp(mut self, statements: &str) -> Self {
        self.identity.push(statements.to_string());
        self
    }
    /// The bucket policy of bucket `b`: these statements.
    pub fn bp(mut self, statements: &str) -> Self {
        self.bucket_policy = Some(statements.to_string());
        self
    }
    pub fn v2008(mut self) -> Self {
        self.version = "2008-10-17";
        self
    }
    pub fn bacl(mut self, canned: &str) -> Self {
        self.bucket_acl = Some(canned_acl(canned));
        self
    }
    pub fn oacl(mut self, canned: &str) -> Self {
        self.object_acl = Some(canned_acl(canned));
        self
    }
    pub fn bacl_grant(mut self, grantee: Grantee, permission: Permission) -> Self {
        let mut acl = canned_acl("private");
        acl.grants.push(Grant { grantee, permission });
        self.bucket_acl = Some(acl);
        self
    }
    pub fn oacl_grant(mut self, grantee: Grantee, permission: Permission) -> Self {
        let mut acl = canned_acl("private");
        acl.grants.push(Grant { grantee, permission });
        self.object_acl = Some(acl);
        self
    }
    /// Block Public Access flags: A(cls) I(gnore) P(olicy) R(estrict).
    pub fn bpa(mut self, flags: &str) -> Self {
        self.bpa = PublicAccessBlock {
            block_public_acls: flags.contains('A'),
            ignore_public_acls: flags.contains('I'),
            block_public_policy: flags.contains('P'),
            restrict_public_buckets: flags.contains('R'),
        };
        self
    }
    pub fn ctx(mut self, pairs: &[(&'static str, &'static str)]) -> Self {
        self.ctx.extend_from_slice(pairs);
        self
    }
    pub fn account(mut self, account: Option<&'static str>) -> Self {
        self.resource_account = account;
        self
    }
}

pub fn canned_acl(name: &str) -> Acl {
    let owner = ca();
    CannedAcl::parse(name).expect("canned").to_acl((&owner, "owner"), (&owner, "owner"))
}

pub fn doc(version: &str, statements: &str) -> String {
    format!(r#"{{"Version":"{version}","Statement":[{statements}]}}"#)
}

pub fn run(case: &Case) -> policy::Decision {
    let who = principal(case.who);
    let identity: Vec<PolicyDocument> = case
        .identity
        .iter()
        .map(|s| {
            PolicyDocument::parse_identity_policy(&doc(case.version, s))
                .unwrap_or_else(|e| panic!("{}: {e}", case.rule))
        })
        .collect();
    let identity_refs: Vec<&PolicyDocument> = identity.iter().collect();
    let bucket_policy = case.bucket_policy.as_ref().map(|s| {
        PolicyDocument::parse_bucket_policy(&doc(case.version, s), "b").unwrap_or_else(|e| panic!("{}: {e}", case.rule))
    });
    let mut conditions = ConditionValues::new();
    for (k, v) in &case.ctx {
        conditions.insert(k, v.to_string());
    }
    if let Principal::User { user_name, user_id, arn, account_id, .. } = &who {
        conditions.insert("aws:username", user_name.clone());
        conditions.insert("aws:userid", user_id.clone());
        conditions.insert("aws:PrincipalArn", arn.clone());
        conditions.insert("aws:PrincipalAccount", account_id.clone());
        conditions.insert("aws:PrincipalType", "User".into());
    }
    let request = Request {
        principal: &who,
        action: case.action,
        resource: case.resource,
        resource_account_id: case.resource_account,
        conditions: &conditions,
    };
    let inputs = Inputs {
        identity_policies: &identity_refs,
        bucket_policy: bucket_policy.as_ref(),
        bucket_acl: case.bucket_acl.as_ref(),
        object_acl: case.object_acl.as_ref(),
        public_access_block: case.bpa,
    };
    evaluate(&request, &inputs)
}
