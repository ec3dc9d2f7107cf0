//! The cost of an access-control decision, which every request pays: parsing
//! a bucket policy (done once per policy text; cached by the server) and
//! `policy::evaluate` for the common cases — the bucket's own root with no
//! policy, an IAM user allowed by its identity policy with a
//! `${aws:username}` resource, and an anonymous GET through a public bucket
//! policy with conditions to check. Throughput is in decisions.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use policy::{evaluate, ConditionValues, Inputs, PolicyDocument, Principal, PublicAccessBlock, Request};

const BUCKET_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/public/*",
  "Condition":{"StringLike":{"aws:Referer":["https://*.example.com/*"]},"Bool":{"aws:SecureTransport":"true"}}},
 {"Sid":"DenyUnencrypted","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*",
  "Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"}}},
 {"Sid":"Office","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/alice"},"Action":["s3:Get*","s3:List*"],
  "Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.0/24"]}}}]}"#;

const IDENTITY_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}},
 {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::b/home/${aws:username}/*"}]}"#;

fn bench_policy(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_bucket_policy", |b| {
        b.iter(|| PolicyDocument::parse_bucket_policy(BUCKET_POLICY, "b").expect("valid"))
    });
    let bucket_policy = PolicyDocument::parse_bucket_policy(BUCKET_POLICY, "b").expect("valid");
    let identity = PolicyDocument::parse_identity_policy(IDENTITY_POLICY).expect("valid");
    let root = Principal::Root { account_id: "111111111111".into(), canonical_id: "a".repeat(64) };
    let alice = Principal::User {
        account_id: "111111111111".into(),
        canonical_id: "a".repeat(64),
        user_name: "alice".into(),
        user_id: "AIDAALICE".into(),
        arn: "arn:aws:iam::111111111111:user/alice".into(),
    };
    let mut anon_ctx = ConditionValues::new();
    anon_ctx.insert("aws:SourceIp", "198.51.100.7".into());
    anon_ctx.insert("aws:SecureTransport", "true".into());
    anon_ctx.insert("aws:Referer", "https://www.example.com/page".into());
    let mut alice_ctx = anon_ctx.clone();
    alice_ctx.insert("aws:username", "alice".into());

    let cases: [(&str, &Principal, &ConditionValues, Vec<&PolicyDocument>, &str); 3] = [
        ("root_no_policy", &root, &anon_ctx, vec![], "arn:aws:s3:::b/k"),
        ("user_identity_policy", &alice, &alice_ctx, vec![&identity], "arn:aws:s3:::b/home/alice/notes.txt"),
        ("anonymous_public_policy", &Principal::Anonymous, &anon_ctx, vec![], "arn:aws:s3:::b/public/logo.png"),
    ];
    for (name, who, ctx, identity_refs, resource) in cases {
        let with_policy = name != "root_no_policy";
        group.bench_function(format!("evaluate/{name}"), |b| {
            b.iter(|| {
                let request = Request {
                    principal: who,
                    action: "s3:GetObject",
                    resource,
                    resource_account_id: Some("111111111111"),
                    conditions: ctx,
                };
                let inputs = Inputs {
                    identity_policies: &identity_refs,
                    bucket_policy: with_policy.then_some(&bucket_policy),
                    bucket_acl: None,
                    object_acl: None,
                    public_access_block: PublicAccessBlock::default(),
                };
                let decision = evaluate(&request, &inputs);
                assert!(decision.allowed, "{name}: {}", decision.reason);
                decision
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_policy);
criterion_main!(benches);
