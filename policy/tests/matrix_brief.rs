//! A second authorization matrix, written independently of `matrix.rs` from the
//! same brief (principal × action × resource × policies × ACL × Block Public
//! Access × conditions); each row cites the AWS rule it encodes.

use policy::*;

const OWNER: &str = "111111111111";
const OTHER: &str = "222222222222";

fn who(name: &str) -> Principal {
    match name {
        "anon" => Principal::Anonymous,
        "root" => Principal::Root { account_id: OWNER.into(), canonical_id: "a".repeat(64) },
        "xroot" => Principal::Root { account_id: OTHER.into(), canonical_id: "b".repeat(64) },
        "alice" => user(OWNER, "alice", 'a'),
        _ => user(OTHER, "bob", 'b'),
    }
}

fn user(acct: &str, name: &str, c: char) -> Principal {
    Principal::User {
        account_id: acct.into(),
        canonical_id: c.to_string().repeat(64),
        user_name: name.into(),
        user_id: format!("AIDA{}", name.to_uppercase().repeat(4)),
        arn: format!("arn:aws:iam::{acct}:user/{name}"),
    }
}

fn stmt(effect: &str, principal: &str, action: &str, resource: &str, cond: &str) -> String {
    let p = if principal.is_empty() { String::new() } else { format!(r#""Principal":{principal},"#) };
    let c = if cond.is_empty() { String::new() } else { format!(r#","Condition":{cond}"#) };
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}",{p}"Action":"{action}","Resource":"{resource}"{c}}}]}}"#
    )
}

struct Row {
    rule: &'static str,
    who: &'static str,
    action: &'static str,
    key: Option<&'static str>,
    bucket_policy: Option<String>,
    identity: Option<String>,
    acl: Option<CannedAcl>,
    pab: PublicAccessBlock,
    conds: &'static [(&'static str, &'static str)],
    allowed: bool,
}

fn row(rule: &'static str, who: &'static str, action: &'static str, key: Option<&'static str>, allowed: bool) -> Row {
    Row {
        rule,
        who,
        action,
        key,
        bucket_policy: None,
        identity: None,
        acl: None,
        pab: PublicAccessBlock::default(),
        conds: &[],
        allowed,
    }
}

impl Row {
    fn bp(mut self, s: String) -> Self {
        self.bucket_policy = Some(s);
        self
    }
    fn id(mut self, s: String) -> Self {
        self.identity = Some(s);
        self
    }
    fn acl(mut self, a: CannedAcl) -> Self {
        self.acl = Some(a);
        self
    }
    fn pab(mut self, p: PublicAccessBlock) -> Self {
        self.pab = p;
        self
    }
    fn cond(mut self, c: &'static [(&'static str, &'static str)]) -> Self {
        self.conds = c;
        self
    }
}

fn rows() -> Vec<Row> {
    let star = r#""*""#;
    let aws_star = r#"{"AWS":"*"}"#;
    let alice = r#"{"AWS":"arn:aws:iam::111111111111:user/alice"}"#;
    let other_acct = r#"{"AWS":"222222222222"}"#;
    let obj = "arn:aws:s3:::b/*";
    let ip_cond = r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#;
    let tls_cond = r#"{"Bool":{"aws:SecureTransport":"false"}}"#;
    let allow_all = stmt("Allow", "", "*", "*", "");
    let mut v = Vec::new();
    for action in [
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:GetObjectAcl",
        "s3:GetObjectVersion",
        "s3:DeleteObjectVersion",
    ] {
        v.push(row("implicit deny: no policy allows (IAM evaluation logic)", "anon", action, Some("k"), false));
        v.push(row("account root owns its resources (How S3 authorizes a request)", "root", action, Some("k"), true));
        v.push(row("IAM user needs an allow (IAM evaluation logic: implicit deny)", "alice", action, Some("k"), false));
        v.push(
            row("identity policy allow suffices in the same account", "alice", action, Some("k"), true)
                .id(allow_all.clone()),
        );
        v.push(row("cross-account root needs a resource-based allow", "xroot", action, Some("k"), false));
        v.push(
            row("bucket policy Principal * allows anonymous", "anon", action, Some("k"), true)
                .bp(stmt("Allow", star, "s3:*", obj, "")),
        );
        v.push(
            row("{\"AWS\":\"*\"} equals \"*\" and matches anonymous", "anon", action, Some("k"), true)
                .bp(stmt("Allow", aws_star, "s3:*", obj, "")),
        );
        v.push(
            row("RestrictPublicBuckets blocks anonymous via public policy", "anon", action, Some("k"), false)
                .bp(stmt("Allow", star, "s3:*", obj, ""))
                .pab(PublicAccessBlock::all_on()),
        );
        v.push(
            row("RestrictPublicBuckets keeps owner-account principals", "alice", action, Some("k"), true)
                .bp(stmt("Allow", star, "s3:*", obj, ""))
                .pab(PublicAccessBlock::all_on()),
        );
        v.push(
            row("explicit deny overrides allow (IAM evaluation logic)", "alice", action, Some("k"), false)
                .id(allow_all.clone())
                .bp(stmt("Deny", alice, "s3:*", obj, "")),
        );
        v.push(
            row("explicit deny in bucket policy applies to root", "root", action, Some("k"), false)
                .bp(stmt("Deny", star, "s3:*", obj, "")),
        );
        v.push(
            row("bucket policy naming the user's ARN allows it directly", "alice", action, Some("k"), true)
                .bp(stmt("Allow", alice, "s3:*", obj, "")),
        );
        v.push(
            row("cross-account user needs identity AND resource allow", "bob", action, Some("k"), false)
                .bp(stmt("Allow", other_acct, "s3:*", obj, "")),
        );
        v.push(
            row("cross-account user with both allows is allowed", "bob", action, Some("k"), true)
                .bp(stmt("Allow", other_acct, "s3:*", obj, ""))
                .id(allow_all.clone()),
        );
        v.push(
            row("account principal allows that account's root", "xroot", action, Some("k"), true)
                .bp(stmt("Allow", other_acct, "s3:*", obj, "")),
        );
        v.push(
            row("IpAddress condition matches inside CIDR", "anon", action, Some("k"), true)
                .bp(stmt("Allow", star, "s3:*", obj, ip_cond))
                .cond(&[("aws:SourceIp", "10.9.9.9")]),
        );
        v.push(
            row("IpAddress condition fails outside CIDR", "anon", action, Some("k"), false)
                .bp(stmt("Allow", star, "s3:*", obj, ip_cond))
                .cond(&[("aws:SourceIp", "192.168.1.1")]),
        );
        v.push(
            row(
                "IpAddress-pinned policy is not public, so RestrictPublicBuckets does not apply",
                "anon",
                action,
                Some("k"),
                true,
            )
            .bp(stmt("Allow", star, "s3:*", obj, ip_cond))
            .cond(&[("aws:SourceIp", "10.9.9.9")])
            .pab(PublicAccessBlock::all_on()),
        );
        v.push(
            row("deny on insecure transport (Bool aws:SecureTransport)", "alice", action, Some("k"), false)
                .id(allow_all.clone())
                .bp(stmt("Deny", star, "s3:*", obj, tls_cond))
                .cond(&[("aws:SecureTransport", "false")]),
        );
        v.push(
            row("Bool deny does not apply over TLS", "alice", action, Some("k"), true)
                .id(allow_all.clone())
                .bp(stmt("Deny", star, "s3:*", obj, tls_cond))
                .cond(&[("aws:SecureTransport", "true")]),
        );
    }
    for (action, acl, anon_ok) in [
        ("s3:GetObject", CannedAcl::PublicRead, true),
        ("s3:GetObject", CannedAcl::Private, false),
        ("s3:GetObject", CannedAcl::AuthenticatedRead, false),
        ("s3:PutObjectAcl", CannedAcl::PublicReadWrite, false),
        ("s3:GetObjectAcl", CannedAcl::PublicRead, false),
    ] {
        v.push(row("ACL grants map to actions (ACL permissions mapping)", "anon", action, Some("k"), anon_ok).acl(acl));
        v.push(
            row("IgnorePublicAcls ignores AllUsers/AuthenticatedUsers grants", "anon", action, Some("k"), false)
                .acl(acl)
                .pab(PublicAccessBlock { ignore_public_acls: true, ..Default::default() }),
        );
        let auth_ok = matches!(acl, CannedAcl::PublicRead | CannedAcl::AuthenticatedRead) && action == "s3:GetObject";
        v.push(
            row("AuthenticatedUsers/AllUsers grants cover any signed principal", "xroot", action, Some("k"), auth_ok)
                .acl(acl),
        );
    }
    for (action, acl, ok) in [
        ("s3:ListBucket", CannedAcl::PublicRead, true),
        ("s3:PutObject", CannedAcl::PublicReadWrite, true),
        ("s3:PutObject", CannedAcl::PublicRead, false),
        ("s3:GetBucketAcl", CannedAcl::PublicRead, false),
        ("s3:PutBucketPolicy", CannedAcl::PublicReadWrite, false),
    ] {
        v.push(
            row(
                "bucket ACL READ/WRITE map to list/write actions",
                "anon",
                action,
                if action == "s3:PutObject" { Some("k") } else { None },
                ok,
            )
            .acl(acl),
        );
    }
    for action in ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"] {
        v.push(row("root lock-out protection for bucket policy actions", "root", action, None, true).bp(stmt(
            "Deny",
            star,
            "s3:*",
            "arn:aws:s3:::b",
            "",
        )));
        v.push(
            row("lock-out protection is for root only", "alice", action, None, false).id(allow_all.clone()).bp(stmt(
                "Deny",
                star,
                "s3:*",
                "arn:aws:s3:::b",
                "",
            )),
        );
    }
    v.push(
        row("policy variable ${aws:username} in Resource", "alice", "s3:GetObject", Some("alice/x"), true)
            .id(stmt("Allow", "", "s3:GetObject", "arn:aws:s3:::b/${aws:username}/*", ""))
            .cond(&[("aws:username", "alice")]),
    );
    v.push(
        row(
            "policy variable resolves to another user's prefix: no match",
            "alice",
            "s3:GetObject",
            Some("bob/x"),
            false,
        )
        .id(stmt("Allow", "", "s3:GetObject", "arn:aws:s3:::b/${aws:username}/*", ""))
        .cond(&[("aws:username", "alice")]),
    );
    v.push(
        row("StringLike s3:prefix with variable", "alice", "s3:ListBucket", None, true)
            .id(stmt(
                "Allow",
                "",
                "s3:ListBucket",
                "arn:aws:s3:::b",
                r#"{"StringLike":{"s3:prefix":"${aws:username}/*"}}"#,
            ))
            .cond(&[("aws:username", "alice"), ("s3:prefix", "alice/docs")]),
    );
    v.push(
        row("NotAction allow excludes listed actions", "alice", "s3:DeleteObject", Some("k"), false).id(stmt(
            "Allow",
            "",
            "s3:DeleteObject",
            "*",
            "",
        )
        .replace("\"Action\"", "\"NotAction\"")),
    );
    v.push(
        row("action matching is case-insensitive", "alice", "s3:GetObject", Some("k"), true)
            .id(stmt("Allow", "", "S3:get*", "*", "")),
    );
    v.push(row("resource matching is case-sensitive", "alice", "s3:GetObject", Some("K"), false).id(stmt(
        "Allow",
        "",
        "s3:*",
        "arn:aws:s3:::b/k",
        "",
    )));
    v.push(
        row("NumericLessThanEquals s3:max-keys", "alice", "s3:ListBucket", None, false)
            .id(stmt("Allow", "", "s3:ListBucket", "*", r#"{"NumericLessThanEquals":{"s3:max-keys":"10"}}"#))
            .cond(&[("s3:max-keys", "100")]),
    );
    v.push(
        row("DateLessThan aws:CurrentTime", "alice", "s3:GetObject", Some("k"), true)
            .id(stmt("Allow", "", "s3:*", "*", r#"{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}"#))
            .cond(&[("aws:CurrentTime", "2026-11-23T00:00:00Z")]),
    );
    v.push(
        row("Null true requires the key absent", "alice", "s3:PutObject", Some("k"), false)
            .id(stmt("Allow", "", "s3:*", "*", r#"{"Null":{"s3:x-amz-server-side-encryption":"true"}}"#))
            .cond(&[("s3:x-amz-server-side-encryption", "AES256")]),
    );
    v.push(row("StringEqualsIfExists passes when key absent", "alice", "s3:PutObject", Some("k"), true).id(stmt(
        "Allow",
        "",
        "s3:*",
        "*",
        r#"{"StringEqualsIfExists":{"s3:x-amz-acl":"private"}}"#,
    )));
    v.push(row("ForAllValues with empty key is true", "alice", "s3:PutObject", Some("k"), true).id(stmt(
        "Allow",
        "",
        "s3:*",
        "*",
        r#"{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["a"]}}"#,
    )));
    v.push(row("ForAnyValue with missing key is false", "alice", "s3:PutObject", Some("k"), false).id(stmt(
        "Allow",
        "",
        "s3:*",
        "*",
        r#"{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["a"]}}"#,
    )));
    v.push(row("anonymous gets nothing from identity-style grants", "anon", "s3:ListAllMyBuckets", None, false));
    v
}

#[test]
fn authorization_matrix() {
    let rows = rows();
    assert!(rows.len() >= 150, "only {} rows", rows.len());
    let mut failures = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        assert!(!r.rule.is_empty());
        let p = who(r.who);
        let bp = r
            .bucket_policy
            .as_deref()
            .map(|j| PolicyDocument::parse_bucket_policy(j, "b").expect("valid bucket policy"));
        let id =
            r.identity.as_deref().map(|j| PolicyDocument::parse_identity_policy(j).expect("valid identity policy"));
        let ids: Vec<&PolicyDocument> = id.iter().collect();
        let acl = r.acl.map(|c| c.to_acl((&"a".repeat(64), "owner"), (&"a".repeat(64), "owner")));
        let mut cv = ConditionValues::new();
        for (k, val) in r.conds {
            cv.insert(k, val.to_string());
        }
        let resource = match r.key {
            Some(k) => format!("arn:aws:s3:::b/{k}"),
            None if r.action == "s3:ListAllMyBuckets" => "*".to_string(),
            None => "arn:aws:s3:::b".to_string(),
        };
        let acct = if r.action == "s3:ListAllMyBuckets" { None } else { Some(OWNER) };
        let req = Request {
            principal: &p,
            action: r.action,
            resource: &resource,
            resource_account_id: acct,
            conditions: &cv,
        };
        let inputs = Inputs {
            identity_policies: &ids,
            bucket_policy: bp.as_ref(),
            bucket_acl: acl.as_ref(),
            object_acl: acl.as_ref(),
            public_access_block: r.pab,
        };
        let d = evaluate(&req, &inputs);
        if d.allowed != r.allowed {
            failures.push(format!(
                "row {i} [{}] {} {} {resource}: expected {} got {:?}",
                r.rule, r.who, r.action, r.allowed, d
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
