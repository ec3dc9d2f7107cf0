//! Property: an explicit Deny that applies can never be overridden — not by
//! identity Allows, bucket-policy Allows, ACL grants, the root user, or
//! Block Public Access settings. The only exception is AWS's own: the account
//! root may always get, put and delete its own buckets' policies.

use policy::{
    evaluate, Acl, CannedAcl, ConditionValues, Inputs, PolicyDocument, Principal, PublicAccessBlock, Request,
};
use proptest::prelude::*;

const ACTIONS: &[&str] =
    &["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:PutObjectAcl", "s3:GetBucketAcl"];
const ALLOW_STATEMENTS: &[&str] = &[
    r#"{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}"#,
    r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/alice"},"Action":"*","Resource":"arn:aws:s3:::b/*"}"#,
    r#"{"Effect":"Allow","NotPrincipal":{"AWS":"222222222222"},"Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}"#,
];
const DENY_STATEMENTS: &[&str] = &[
    r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}"#,
    r#"{"Effect":"Deny","Principal":{"AWS":"*"},"NotAction":"s3:GetBucketPolicy","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}"#,
    r#"{"Effect":"Deny","Principal":"*","Action":"*","NotResource":"arn:aws:s3:::b/never/*"}"#,
];
const IDENTITY_ALLOWS: &[&str] = &[
    r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#,
    r#"{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}"#,
];

fn principal(n: u8) -> Principal {
    match n % 4 {
        0 => Principal::Anonymous,
        1 => Principal::Root { account_id: "111111111111".into(), canonical_id: "a".repeat(64) },
        2 => Principal::User {
            account_id: "111111111111".into(),
            canonical_id: "a".repeat(64),
            user_name: "alice".into(),
            user_id: "AIDAALICE".into(),
            arn: "arn:aws:iam::111111111111:user/alice".into(),
        },
        _ => Principal::Root { account_id: "222222222222".into(), canonical_id: "b".repeat(64) },
    }
}

fn acl(n: u8) -> Option<Acl> {
    let owner = "a".repeat(64);
    let canned = ["public-read", "public-read-write", "authenticated-read", "private"][usize::from(n % 4)];
    (n % 5 != 4).then(|| CannedAcl::parse(canned).expect("canned").to_acl((&owner, "o"), (&owner, "o")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn an_applicable_deny_always_wins(
        who in 0u8..4,
        action in 0usize..ACTIONS.len(),
        allows in proptest::collection::vec(0usize..ALLOW_STATEMENTS.len(), 0..3),
        deny in 0usize..DENY_STATEMENTS.len(),
        deny_in_identity in any::<bool>(),
        identity_allow in proptest::option::of(0usize..IDENTITY_ALLOWS.len()),
        bucket_acl in any::<u8>(),
        object_acl in any::<u8>(),
        bpa in any::<u8>(),
        key in "[a-z]{1,8}",
    ) {
        let caller = principal(who);
        let action = ACTIONS[action];
        let resource = if action.contains("Bucket") { "arn:aws:s3:::b".to_string() } else { format!("arn:aws:s3:::b/{key}") };
        let mut bucket_statements: Vec<&str> = allows.iter().map(|i| ALLOW_STATEMENTS[*i]).collect();
        let mut identity_docs = Vec::new();
        if let Some(i) = identity_allow {
            identity_docs.push(PolicyDocument::parse_identity_policy(&format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, IDENTITY_ALLOWS[i])).expect("identity"));
        }
        let deny_applies_to_caller = if deny_in_identity {
            // Identity policies only exist for users.
            if !matches!(caller, Principal::User { .. }) {
                return Ok(());
            }
            let text = DENY_STATEMENTS[deny].replace(r#""Principal":"*","#, "").replace(r#""Principal":{"AWS":"*"},"#, "");
            identity_docs.push(PolicyDocument::parse_identity_policy(&format!(r#"{{"Version":"2012-10-17","Statement":[{text}]}}"#)).expect("identity deny"));
            true
        } else {
            bucket_statements.push(DENY_STATEMENTS[deny]);
            true
        };
        let bucket_policy = (!bucket_statements.is_empty()).then(|| PolicyDocument::parse_bucket_policy(
            &format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, bucket_statements.join(",")),
            "b",
        ).expect("bucket policy"));
        let identity_refs: Vec<&PolicyDocument> = identity_docs.iter().collect();
        let (bacl, oacl) = (acl(bucket_acl), acl(object_acl));
        let conditions = ConditionValues::new();
        let request = Request { principal: &caller, action, resource: &resource, resource_account_id: Some("111111111111"), conditions: &conditions };
        let inputs = Inputs {
            identity_policies: &identity_refs,
            bucket_policy: bucket_policy.as_ref(),
            bucket_acl: bacl.as_ref(),
            object_acl: oacl.as_ref(),
            public_access_block: PublicAccessBlock {
                block_public_acls: bpa & 1 != 0,
                ignore_public_acls: bpa & 2 != 0,
                block_public_policy: bpa & 4 != 0,
                restrict_public_buckets: bpa & 8 != 0,
            },
        };
        let decision = evaluate(&request, &inputs);
        prop_assert!(deny_applies_to_caller);
        prop_assert!(!decision.allowed, "{caller:?} {action} {resource}: {}", decision.reason);
        prop_assert!(decision.explicit_deny, "{}", decision.reason);
    }

    #[test]
    fn the_root_keeps_its_bucket_policy_despite_any_deny(deny in 0usize..DENY_STATEMENTS.len(), op in 0usize..3) {
        let action = ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"][op];
        let doc = PolicyDocument::parse_bucket_policy(&format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, DENY_STATEMENTS[deny]), "b").expect("doc");
        let root = principal(1);
        let conditions = ConditionValues::new();
        let request = Request { principal: &root, action, resource: "arn:aws:s3:::b", resource_account_id: Some("111111111111"), conditions: &conditions };
        let inputs = Inputs { identity_policies: &[], bucket_policy: Some(&doc), bucket_acl: None, object_acl: None, public_access_block: PublicAccessBlock::all_on() };
        prop_assert!(evaluate(&request, &inputs).allowed);
    }
}
