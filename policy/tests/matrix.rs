//! The authorization matrix: principal × action × resource × policies ×
//! conditions × Block Public Access × ACLs, one row per case, each citing the
//! AWS rule it encodes (IAM "Policy evaluation logic", S3 "How Amazon S3
//! authorizes a request", "The meaning of public", the ACL permission
//! mapping, and the IAM condition-operator reference).
//!
//! Object Ownership enters as whether ACLs are passed at all: under
//! BucketOwnerEnforced the server passes no ACL (rows tagged "enforced").

mod matrix_support;

use matrix_support::*;
use policy::{Grantee, Permission};

// Statement shorthands.
const OBJ: &str = "arn:aws:s3:::b/k";
const BKT: &str = "arn:aws:s3:::b";
const ALLOW_ALL_S3: &str = r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#;
const PUBLIC_GET: &str = r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;
const DENY_ALL_B: &str =
    r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}"#;

fn get_if(cond: &str) -> String {
    format!(r#"{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{cond}}}"#)
}

fn list_if(cond: &str) -> String {
    format!(r#"{{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{cond}}}"#)
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    // ---- The account root ------------------------------------------------------------
    let r = "the account root has every permission on its own resources (IAM evaluation: root user)";
    for action in ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:PutBucketAcl", "s3:DeleteBucket"] {
        let res = if action.contains("Bucket") { BKT } else { OBJ };
        v.push(c(r, Who::RootA, action, res, Allow));
    }
    v.push(c(r, Who::RootA, "s3:ListAllMyBuckets", "arn:aws:s3:::*", Allow).account(None));
    v.push(c(r, Who::RootA, "iam:CreateUser", "arn:aws:iam::111111111111:user/x", Allow));
    let r = "an explicit Deny in a bucket policy applies to the root user too";
    v.push(c(r, Who::RootA, "s3:GetObject", OBJ, ExplicitDeny).bp(DENY_ALL_B));
    v.push(c(r, Who::RootA, "s3:PutObject", OBJ, ExplicitDeny).bp(DENY_ALL_B));
    let r = "the root cannot lock itself out: it may always get, put and delete its bucket policy";
    for action in ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"] {
        v.push(c(r, Who::RootA, action, BKT, Allow).bp(DENY_ALL_B));
    }
    let r = "lock-out protection is for the root of the bucket's own account only";
    v.push(c(r, Who::RootB, "s3:PutBucketPolicy", BKT, ExplicitDeny).bp(DENY_ALL_B));
    let r = "another account's root needs a resource-based grant (cross-account access)";
    v.push(c(r, Who::RootB, "s3:GetObject", OBJ, Deny));
    v.push(c(r, Who::RootB, "s3:GetObject", OBJ, Allow).bp(&format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{B}:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#
    )));
    v.push(c(r, Who::RootB, "s3:GetObject", OBJ, Allow).bp(&format!(
        r#"{{"Effect":"Allow","Principal":{{"AWS":"{B}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#
    )));
    v.push(c(r, Who::RootB, "s3:GetObject", OBJ, Allow).bp(&format!(
        r#"{{"Effect":"Allow","Principal":{{"CanonicalUser":"{}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#, cb()
    )));
    v.push(
        c(r, Who::RootB, "s3:GetObject", OBJ, Allow)
            .oacl_grant(Grantee::CanonicalUser { id: cb(), display_name: None }, Permission::Read),
    );
    v.push(c(r, Who::RootB, "s3:GetObject", OBJ, Allow).bp(PUBLIC_GET));
    v.push(c(r, Who::RootB, "s3:GetObject", OBJ, Deny).bp(PUBLIC_GET).bpa("R"));
    v.push(c(r, Who::RootB, "iam:CreateUser", "arn:aws:iam::111111111111:user/x", Deny));

    // ---- IAM users of the bucket's account --------------------------------------------
    let r = "default deny: a user with no policy is allowed nothing (IAM evaluation logic)";
    for action in ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketPolicy", "iam:CreateUser"] {
        let res = if action == "s3:ListBucket" || action == "s3:GetBucketPolicy" { BKT } else { OBJ };
        v.push(c(r, Who::Bob, action, res, Deny));
    }
    v.push(c(r, Who::Bob, "s3:ListAllMyBuckets", "arn:aws:s3:::*", Deny).account(None));
    let r = "an identity-based Allow grants within the account";
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, Allow).idp(ALLOW_ALL_S3));
    v.push(c(r, Who::Alice, "s3:ListAllMyBuckets", "arn:aws:s3:::*", Allow).idp(ALLOW_ALL_S3).account(None));
    v.push(
        c(r, Who::Alice, "iam:CreateUser", "arn:aws:iam::111111111111:user/x", Allow)
            .idp(r#"{"Effect":"Allow","Action":"iam:*","Resource":"*"}"#),
    );
    v.push(
        c(r, Who::Alice, "iam:CreateUser", "arn:aws:iam::111111111111:user/x", Deny)
            .idp(r#"{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}"#),
    );
    let r = "Action matching is case-insensitive and supports * and ? (IAM JSON: Action)";
    v.push(
        c(r, Who::Alice, "s3:GetObject", OBJ, Allow)
            .idp(r#"{"Effect":"Allow","Action":"S3:getobject","Resource":"*"}"#),
    );
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, Allow).idp(r#"{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}"#));
    v.push(c(r, Who::Alice, "s3:PutObject", OBJ, Deny).idp(r#"{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}"#));
    v.push(
        c(r, Who::Alice, "s3:GetObject", OBJ, Allow)
            .idp(r#"{"Effect":"Allow","Action":"s3:?etObject","Resource":"*"}"#),
    );
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, Allow).idp(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#));
    let r = "NotAction matches every action except those listed (IAM JSON: NotAction)";
    v.push(
        c(r, Who::Alice, "s3:GetObject", OBJ, Allow)
            .idp(r#"{"Effect":"Allow","NotAction":"s3:Delete*","Resource":"*"}"#),
    );
    v.push(
        c(r, Who::Alice, "s3:DeleteObject", OBJ, Deny)
            .idp(r#"{"Effect":"Allow","NotAction":"s3:Delete*","Resource":"*"}"#),
    );
    let r = "Resource matching is case-sensitive with * and ? wildcards (IAM JSON: Resource)";
    v.push(
        c(r, Who::Alice, "s3:GetObject", "arn:aws:s3:::b/docs/a.txt", Allow)
            .idp(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/docs/*"}"#),
    );
    v.push(
        c(r, Who::Alice, "s3:GetObject", "arn:aws:s3:::b/Docs/a.txt", Deny)
            .idp(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/docs/*"}"#),
    );
    v.push(
        c(r, Who::Alice, "s3:GetObject", "arn:aws:s3:::b/doc1", Allow)
            .idp(r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/doc?"}"#),
    );
    v.push(
        c(r, Who::Alice, "s3:ListBucket", BKT, Deny)
            .idp(r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#),
    );
    let r = "NotResource matches every resource except those listed (IAM JSON: NotResource)";
    v.push(
        c(r, Who::Alice, "s3:GetObject", "arn:aws:s3:::b/public/x", Allow)
            .idp(r#"{"Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::b/secret/*"}"#),
    );
    v.push(
        c(r, Who::Alice, "s3:GetObject", "arn:aws:s3:::b/secret/x", Deny)
            .idp(r#"{"Effect":"Allow","Action":"s3:GetObject","NotResource":"arn:aws:s3:::b/secret/*"}"#),
    );
    let r = "policy variables: ${aws:username} is replaced by the caller's name (IAM policy variables)";
    let home = r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/home/${aws:username}/*"}"#;
    v.push(c(r, Who::Alice, "s3:PutObject", "arn:aws:s3:::b/home/alice/f", Allow).idp(home));
    v.push(c(r, Who::Alice, "s3:PutObject", "arn:aws:s3:::b/home/bob/f", Deny).idp(home));
    v.push(c(r, Who::Bob, "s3:PutObject", "arn:aws:s3:::b/home/bob/f", Allow).idp(home));
    let r = "policy variables are literal text in Version 2008-10-17 (IAM policy variables)";
    v.push(c(r, Who::Alice, "s3:PutObject", "arn:aws:s3:::b/home/alice/f", Deny).idp(home).v2008());
    let r = "within the account, a bucket policy naming the user grants without an identity policy";
    let to_alice = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, Allow).bp(to_alice));
    v.push(c(r, Who::Bob, "s3:GetObject", OBJ, Deny).bp(to_alice));
    v.push(c(r, Who::Alice, "s3:PutObject", OBJ, Deny).bp(to_alice));
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, Allow).bp(PUBLIC_GET));
    let r = "a bucket policy naming the account delegates to it: its users still need an identity Allow";
    let to_account = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, Deny).bp(to_account));
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, Allow).bp(to_account).idp(ALLOW_ALL_S3));
    v.push(c(r, Who::RootA, "s3:GetObject", OBJ, Allow).bp(to_account));
    let r = "ACL grants to an account do not by themselves authorize that account's IAM users";
    v.push(
        c(r, Who::Alice, "s3:GetObject", OBJ, Deny)
            .oacl_grant(Grantee::CanonicalUser { id: ca(), display_name: None }, Permission::Read),
    );
    let r = "ACL grants to the AllUsers / AuthenticatedUsers groups authorize users too";
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, Allow).oacl("public-read"));
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, Allow).oacl("authenticated-read"));
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, Deny).oacl("authenticated-read").bpa("I"));

    // ---- Anonymous --------------------------------------------------------------------
    let r = "anonymous requests are denied unless a resource-based policy or ACL allows principal *";
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Deny));
    v.push(c(r, Who::Anon, "s3:ListAllMyBuckets", "arn:aws:s3:::*", Deny).account(None));
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Allow).bp(PUBLIC_GET));
    v.push(
        c(r, Who::Anon, "s3:GetObject", OBJ, Allow)
            .bp(r#"{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#),
    );
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Deny).bp(to_account));
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Deny).idp(ALLOW_ALL_S3));
    let r = "a public-read object policy does not make the bucket listable or writable";
    v.push(c(r, Who::Anon, "s3:ListBucket", BKT, Deny).bp(PUBLIC_GET));
    v.push(c(r, Who::Anon, "s3:PutObject", OBJ, Deny).bp(PUBLIC_GET));
    v.push(c(r, Who::Anon, "s3:DeleteObject", OBJ, Deny).bp(PUBLIC_GET));
    let r = "NotPrincipal with Allow grants everyone not listed (anonymous included)";
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Allow).bp(r#"{"Effect":"Allow","NotPrincipal":{"AWS":"arn:aws:iam::111111111111:user/bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#));
    let r = "ACL: object READ allows GetObject (ACL permission mapping)";
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Allow).oacl("public-read"));
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Deny).oacl("private"));
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Deny).oacl("authenticated-read"));
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Deny).bacl("public-read"));
    let r = "ACL: object READ does not allow reading or writing the object's ACL";
    v.push(c(r, Who::Anon, "s3:GetObjectAcl", OBJ, Deny).oacl("public-read"));
    v.push(c(r, Who::Anon, "s3:PutObjectAcl", OBJ, Deny).oacl("public-read"));
    let r = "ACL: READ_ACP / WRITE_ACP allow GetObjectAcl / PutObjectAcl; FULL_CONTROL covers all";
    v.push(c(r, Who::Anon, "s3:GetObjectAcl", OBJ, Allow).oacl_grant(Grantee::AllUsers, Permission::ReadAcp));
    v.push(c(r, Who::Anon, "s3:PutObjectAcl", OBJ, Allow).oacl_grant(Grantee::AllUsers, Permission::WriteAcp));
    v.push(c(r, Who::Anon, "s3:PutObjectAcl", OBJ, Allow).oacl_grant(Grantee::AllUsers, Permission::FullControl));
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Allow).oacl_grant(Grantee::AllUsers, Permission::FullControl));
    let r = "ACL: bucket READ allows ListBucket; bucket WRITE allows PutObject and DeleteObject";
    v.push(c(r, Who::Anon, "s3:ListBucket", BKT, Allow).bacl("public-read"));
    v.push(c(r, Who::Anon, "s3:ListBucketMultipartUploads", BKT, Allow).bacl("public-read"));
    v.push(c(r, Who::Anon, "s3:PutObject", OBJ, Deny).bacl("public-read"));
    v.push(c(r, Who::Anon, "s3:PutObject", OBJ, Allow).bacl("public-read-write"));
    v.push(c(r, Who::Anon, "s3:DeleteObject", OBJ, Allow).bacl("public-read-write"));
    v.push(c(r, Who::Anon, "s3:GetBucketAcl", BKT, Deny).bacl("public-read-write"));
    v.push(c(r, Who::Anon, "s3:GetBucketAcl", BKT, Allow).bacl_grant(Grantee::AllUsers, Permission::ReadAcp));
    v.push(c(r, Who::Anon, "s3:PutBucketAcl", BKT, Allow).bacl_grant(Grantee::AllUsers, Permission::WriteAcp));
    let r = "ACLs cannot grant actions outside the ACL permission mapping";
    v.push(c(r, Who::Anon, "s3:PutBucketPolicy", BKT, Deny).bacl_grant(Grantee::AllUsers, Permission::FullControl));
    v.push(c(r, Who::Anon, "s3:DeleteBucket", BKT, Deny).bacl_grant(Grantee::AllUsers, Permission::FullControl));
    let r = "LogDelivery grants are for the log delivery service, never for callers";
    v.push(c(r, Who::Anon, "s3:PutObject", OBJ, Deny).bacl("log-delivery-write"));
    let r = "Object Ownership BucketOwnerEnforced disables ACLs: no ACL takes part (enforced)";
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Deny));
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, Deny));

    // ---- Block Public Access ------------------------------------------------------------
    let r = "IgnorePublicAcls: grants to AllUsers and AuthenticatedUsers are ignored";
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Deny).oacl("public-read").bpa("I"));
    v.push(c(r, Who::Anon, "s3:ListBucket", BKT, Deny).bacl("public-read").bpa("I"));
    v.push(
        c(r, Who::RootB, "s3:GetObject", OBJ, Allow)
            .oacl_grant(Grantee::CanonicalUser { id: cb(), display_name: None }, Permission::Read)
            .bpa("I"),
    );
    let r = "BlockPublicAcls and BlockPublicPolicy act on PUT only, not on evaluation";
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Allow).oacl("public-read").bpa("A"));
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Allow).bp(PUBLIC_GET).bpa("P"));
    let r = "RestrictPublicBuckets: a public policy allows only the bucket owner's account";
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Deny).bp(PUBLIC_GET).bpa("R"));
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, Allow).bp(PUBLIC_GET).bpa("R"));
    v.push(c(r, Who::Carol, "s3:GetObject", OBJ, Deny).bp(PUBLIC_GET).idp(ALLOW_ALL_S3).bpa("R"));
    v.push(c(r, Who::Carol, "s3:GetObject", OBJ, Allow).bp(PUBLIC_GET).idp(ALLOW_ALL_S3));
    let r = "RestrictPublicBuckets leaves a non-public policy (pinned aws:SourceIp) in force";
    let pinned = r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}"#;
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Allow).bp(pinned).bpa("R").ctx(&[("aws:SourceIp", "192.0.2.7")]));
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Deny).bp(pinned).bpa("R").ctx(&[("aws:SourceIp", "198.51.100.7")]));
    let r = "RestrictPublicBuckets does not touch ACLs (IgnorePublicAcls does)";
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Allow).oacl("public-read").bpa("R"));

    // ---- Cross-account users ------------------------------------------------------------
    let r = "cross-account: the caller's identity policy AND the resource must both allow";
    let to_carol = r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:user/carol"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;
    let to_b = r#"{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;
    v.push(c(r, Who::Carol, "s3:GetObject", OBJ, Deny).idp(ALLOW_ALL_S3));
    v.push(c(r, Who::Carol, "s3:GetObject", OBJ, Deny).bp(to_carol));
    v.push(c(r, Who::Carol, "s3:GetObject", OBJ, Allow).bp(to_carol).idp(ALLOW_ALL_S3));
    v.push(c(r, Who::Carol, "s3:GetObject", OBJ, Allow).bp(to_b).idp(ALLOW_ALL_S3));
    v.push(c(r, Who::Carol, "s3:GetObject", OBJ, Deny).bp(to_b));
    v.push(
        c(r, Who::Carol, "s3:GetObject", OBJ, Allow)
            .oacl_grant(Grantee::CanonicalUser { id: cb(), display_name: None }, Permission::Read)
            .idp(ALLOW_ALL_S3),
    );
    v.push(
        c(r, Who::Carol, "s3:GetObject", OBJ, Deny)
            .oacl_grant(Grantee::CanonicalUser { id: cb(), display_name: None }, Permission::Read),
    );
    v.push(c(r, Who::Carol, "s3:GetObject", OBJ, Allow).oacl("authenticated-read").idp(ALLOW_ALL_S3));
    v.push(c(r, Who::Carol, "s3:PutObject", OBJ, Deny).bp(to_carol).idp(ALLOW_ALL_S3));
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, Deny).bp(to_carol));

    // ---- Explicit deny wins -------------------------------------------------------------
    let r = "an explicit Deny in an identity policy overrides any Allow";
    let deny_get = r#"{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}"#;
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, ExplicitDeny).idp(ALLOW_ALL_S3).idp(deny_get));
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, ExplicitDeny).idp(deny_get).bp(PUBLIC_GET));
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, ExplicitDeny).idp(deny_get).oacl("public-read"));
    v.push(c(r, Who::Alice, "s3:PutObject", OBJ, Allow).idp(ALLOW_ALL_S3).idp(deny_get));
    let r = "an explicit Deny in the bucket policy overrides identity Allows, policy Allows and ACLs";
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, ExplicitDeny).idp(ALLOW_ALL_S3).bp(DENY_ALL_B));
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, ExplicitDeny).oacl("public-read").bp(DENY_ALL_B));
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, ExplicitDeny).bp(&format!("{PUBLIC_GET},{DENY_ALL_B}")));
    v.push(
        c(r, Who::Carol, "s3:GetObject", OBJ, ExplicitDeny).bp(&format!("{to_carol},{DENY_ALL_B}")).idp(ALLOW_ALL_S3),
    );
    let r = "a Deny whose condition does not match does not apply";
    let deny_http = r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#;
    v.push(
        c(r, Who::Alice, "s3:GetObject", OBJ, ExplicitDeny)
            .idp(ALLOW_ALL_S3)
            .bp(deny_http)
            .ctx(&[("aws:SecureTransport", "false")]),
    );
    v.push(
        c(r, Who::Alice, "s3:GetObject", OBJ, Allow)
            .idp(ALLOW_ALL_S3)
            .bp(deny_http)
            .ctx(&[("aws:SecureTransport", "true")]),
    );
    let r = "a Deny naming another principal does not apply to the caller";
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, Allow).idp(ALLOW_ALL_S3).bp(r#"{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111111111111:user/bob"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#));
    v.push(c(r, Who::Bob, "s3:GetObject", OBJ, ExplicitDeny).idp(ALLOW_ALL_S3).bp(r#"{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::111111111111:user/bob"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#));
    let r = "a Deny naming the account applies to all of its principals";
    v.push(
        c(r, Who::Alice, "s3:GetObject", OBJ, ExplicitDeny).idp(ALLOW_ALL_S3).bp(
            r#"{"Effect":"Deny","Principal":{"AWS":"111111111111"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#,
        ),
    );
    let r = "Deny with NotPrincipal exempts a user only if the user and its account are listed";
    let np_user = r#"{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111111111111:user/alice"]},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#;
    let np_both = r#"{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111111111111:user/alice","arn:aws:iam::111111111111:root"]},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}"#;
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, ExplicitDeny).idp(ALLOW_ALL_S3).bp(np_user));
    v.push(c(r, Who::Alice, "s3:GetObject", OBJ, Allow).idp(ALLOW_ALL_S3).bp(np_both));
    v.push(c(r, Who::Bob, "s3:GetObject", OBJ, ExplicitDeny).idp(ALLOW_ALL_S3).bp(np_both));
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, ExplicitDeny).bp(&format!("{PUBLIC_GET},{np_both}")));
    let r = "a Deny with NotAction denies every other action";
    v.push(
        c(r, Who::Alice, "s3:PutObject", OBJ, ExplicitDeny)
            .idp(ALLOW_ALL_S3)
            .idp(r#"{"Effect":"Deny","NotAction":"s3:Get*","Resource":"*"}"#),
    );
    v.push(
        c(r, Who::Alice, "s3:GetObject", OBJ, Allow)
            .idp(ALLOW_ALL_S3)
            .idp(r#"{"Effect":"Deny","NotAction":"s3:Get*","Resource":"*"}"#),
    );
    let r = "a Deny with NotResource denies everywhere else";
    v.push(
        c(r, Who::Alice, "s3:GetObject", "arn:aws:s3:::b/other", ExplicitDeny)
            .idp(ALLOW_ALL_S3)
            .idp(r#"{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::b/mine/*"}"#),
    );
    v.push(
        c(r, Who::Alice, "s3:GetObject", "arn:aws:s3:::b/mine/x", Allow)
            .idp(ALLOW_ALL_S3)
            .idp(r#"{"Effect":"Deny","Action":"s3:*","NotResource":"arn:aws:s3:::b/mine/*"}"#),
    );

    // ---- Condition operators (IAM condition operator reference) -------------------------
    let allow = |r: &'static str, cond: &'static str, ctx: &[(&'static str, &'static str)], expect: Expect| {
        c(r, Who::Alice, "s3:GetObject", OBJ, expect).idp(&get_if(cond)).ctx(ctx)
    };
    let r = "StringEquals is exact and case-sensitive";
    v.push(allow(r, r#"{"StringEquals":{"aws:UserAgent":"tool/1"}}"#, &[("aws:UserAgent", "tool/1")], Allow));
    v.push(allow(r, r#"{"StringEquals":{"aws:UserAgent":"tool/1"}}"#, &[("aws:UserAgent", "Tool/1")], Deny));
    v.push(allow(r, r#"{"StringEquals":{"aws:UserAgent":["a","tool/1"]}}"#, &[("aws:UserAgent", "tool/1")], Allow));
    let r = "StringEqualsIgnoreCase / StringNotEqualsIgnoreCase ignore case";
    v.push(allow(r, r#"{"StringEqualsIgnoreCase":{"aws:UserAgent":"TOOL/1"}}"#, &[("aws:UserAgent", "tool/1")], Allow));
    v.push(allow(
        r,
        r#"{"StringNotEqualsIgnoreCase":{"aws:UserAgent":"TOOL/1"}}"#,
        &[("aws:UserAgent", "tool/1")],
        Deny,
    ));
    let r = "StringNotEquals is true when no value matches, and when the key is missing";
    v.push(allow(r, r#"{"StringNotEquals":{"aws:UserAgent":"bad"}}"#, &[("aws:UserAgent", "good")], Allow));
    v.push(allow(r, r#"{"StringNotEquals":{"aws:UserAgent":"bad"}}"#, &[("aws:UserAgent", "bad")], Deny));
    v.push(allow(r, r#"{"StringNotEquals":{"aws:UserAgent":"bad"}}"#, &[], Allow));
    let r = "StringLike / StringNotLike use * and ? wildcards";
    v.push(allow(
        r,
        r#"{"StringLike":{"aws:Referer":"https://*.example.com/*"}}"#,
        &[("aws:Referer", "https://www.example.com/page")],
        Allow,
    ));
    v.push(allow(
        r,
        r#"{"StringLike":{"aws:Referer":"https://*.example.com/*"}}"#,
        &[("aws:Referer", "https://evil.test/")],
        Deny,
    ));
    v.push(allow(
        r,
        r#"{"StringNotLike":{"aws:Referer":"https://evil*"}}"#,
        &[("aws:Referer", "https://good/")],
        Allow,
    ));
    v.push(allow(
        r,
        r#"{"StringNotLike":{"aws:Referer":"https://evil*"}}"#,
        &[("aws:Referer", "https://evil.test/")],
        Deny,
    ));
    let r = "a positive operator on a missing key is false";
    v.push(allow(r, r#"{"StringLike":{"aws:Referer":"*"}}"#, &[], Deny));
    let r = "Numeric operators compare numbers; unparsable values never match";
    let mk = |op: &'static str, expect: Expect| {
        c(r, Who::Alice, "s3:ListBucket", BKT, expect).idp(&list_if(&format!(r#"{{"{op}":{{"s3:max-keys":"100"}}}}"#)))
    };
    v.push(mk("NumericEquals", Deny).ctx(&[("s3:max-keys", "50")]));
    v.push(mk("NumericNotEquals", Allow).ctx(&[("s3:max-keys", "50")]));
    v.push(mk("NumericLessThan", Allow).ctx(&[("s3:max-keys", "50")]));
    v.push(mk("NumericLessThanEquals", Allow).ctx(&[("s3:max-keys", "100")]));
    v.push(mk("NumericGreaterThan", Deny).ctx(&[("s3:max-keys", "100")]));
    v.push(mk("NumericGreaterThanEquals", Allow).ctx(&[("s3:max-keys", "100")]));
    v.push(mk("NumericLessThan", Deny).ctx(&[("s3:max-keys", "many")]));
    v.push(mk("NumericEquals", Allow).ctx(&[("s3:max-keys", "100.0")]));
    let r = "Date operators compare ISO 8601 dates and epoch seconds (aws:CurrentTime, aws:EpochTime)";
    v.push(allow(
        r,
        r#"{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}"#,
        &[("aws:CurrentTime", "2026-11-23T10:00:00Z")],
        Allow,
    ));
    v.push(allow(
        r,
        r#"{"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}"#,
        &[("aws:CurrentTime", "2026-11-23T10:00:00Z")],
        Deny,
    ));
    v.push(allow(
        r,
        r#"{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01"}}"#,
        &[("aws:CurrentTime", "2026-11-23T10:00:00Z")],
        Allow,
    ));
    v.push(allow(
        r,
        r#"{"DateGreaterThanEquals":{"aws:EpochTime":"1700000000"}}"#,
        &[("aws:EpochTime", "1700000000")],
        Allow,
    ));
    v.push(allow(r, r#"{"DateEquals":{"aws:EpochTime":"1700000000"}}"#, &[("aws:EpochTime", "1700000001")], Deny));
    v.push(allow(r, r#"{"DateNotEquals":{"aws:EpochTime":"1700000000"}}"#, &[("aws:EpochTime", "1700000001")], Allow));
    v.push(allow(
        r,
        r#"{"DateLessThanEquals":{"aws:CurrentTime":"2026-11-23T10:00:00+00:00"}}"#,
        &[("aws:CurrentTime", "2026-11-23T10:00:00Z")],
        Allow,
    ));
    let r = "Bool compares true/false (aws:SecureTransport)";
    v.push(allow(r, r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[("aws:SecureTransport", "true")], Allow));
    v.push(allow(r, r#"{"Bool":{"aws:SecureTransport":true}}"#, &[("aws:SecureTransport", "false")], Deny));
    v.push(allow(r, r#"{"Bool":{"aws:SecureTransport":"true"}}"#, &[], Deny));
    let r = "IpAddress / NotIpAddress match IPv4 and IPv6 CIDRs (aws:SourceIp)";
    v.push(allow(r, r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", "203.0.113.9")], Allow));
    v.push(allow(r, r#"{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", "203.0.114.9")], Deny));
    v.push(allow(
        r,
        r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]}}"#,
        &[("aws:SourceIp", "2001:db8::5")],
        Allow,
    ));
    v.push(allow(
        r,
        r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#,
        &[("aws:SourceIp", "198.51.100.1")],
        Allow,
    ));
    v.push(allow(r, r#"{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}"#, &[("aws:SourceIp", "203.0.113.1")], Deny));
    v.push(allow(r, r#"{"IpAddress":{"aws:SourceIp":"203.0.113.9"}}"#, &[("aws:SourceIp", "203.0.113.9")], Allow));
    let r = "ArnEquals / ArnLike / ArnNotLike on ARN-valued keys (aws:PrincipalArn)";
    v.push(allow(r, r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111111111111:user/alice"}}"#, &[], Allow));
    v.push(allow(r, r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111111111111:user/*"}}"#, &[], Allow));
    v.push(allow(r, r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::111111111111:user/*"}}"#, &[], Deny));
    v.push(allow(r, r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::222222222222:*"}}"#, &[], Deny));
    let r = "Null tests whether a key is present";
    v.push(allow(r, r#"{"Null":{"aws:Referer":"true"}}"#, &[], Allow));
    v.push(allow(r, r#"{"Null":{"aws:Referer":"true"}}"#, &[("aws:Referer", "x")], Deny));
    v.push(allow(r, r#"{"Null":{"aws:Referer":"false"}}"#, &[("aws:Referer", "x")], Allow));
    let r = "...IfExists is true when the key is missing, and tests the value when present";
    v.push(allow(r, r#"{"StringEqualsIfExists":{"aws:Referer":"https://ok/"}}"#, &[], Allow));
    v.push(allow(
        r,
        r#"{"StringEqualsIfExists":{"aws:Referer":"https://ok/"}}"#,
        &[("aws:Referer", "https://bad/")],
        Deny,
    ));
    v.push(allow(r, r#"{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}"#, &[("aws:SourceIp", "10.2.3.4")], Allow));
    let r = "all conditions of a statement must hold (AND); the values of one key are ORed";
    v.push(allow(
        r,
        r#"{"StringEquals":{"aws:UserAgent":"t"},"Bool":{"aws:SecureTransport":"true"}}"#,
        &[("aws:UserAgent", "t"), ("aws:SecureTransport", "false")],
        Deny,
    ));
    v.push(allow(
        r,
        r#"{"StringEquals":{"aws:UserAgent":"t"},"Bool":{"aws:SecureTransport":"true"}}"#,
        &[("aws:UserAgent", "t"), ("aws:SecureTransport", "true")],
        Allow,
    ));
    v.push(allow(r, r#"{"StringEquals":{"aws:UserAgent":"t","aws:Referer":"r"}}"#, &[("aws:UserAgent", "t")], Deny));
    let r = "condition key names are case-insensitive";
    v.push(allow(r, r#"{"StringEquals":{"AWS:USERAGENT":"t"}}"#, &[("aws:useragent", "t")], Allow));
    let r = "ForAnyValue: true if any request value matches; false for a missing key";
    v.push(allow(
        r,
        r#"{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["team"]}}"#,
        &[("s3:RequestObjectTagKeys", "team"), ("s3:RequestObjectTagKeys", "x")],
        Allow,
    ));
    v.push(allow(r, r#"{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":["team"]}}"#, &[], Deny));
    let r = "ForAllValues: true if every request value matches; true for a missing key";
    v.push(allow(
        r,
        r#"{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["team","env"]}}"#,
        &[("s3:RequestObjectTagKeys", "team"), ("s3:RequestObjectTagKeys", "env")],
        Allow,
    ));
    v.push(allow(
        r,
        r#"{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["team"]}}"#,
        &[("s3:RequestObjectTagKeys", "team"), ("s3:RequestObjectTagKeys", "env")],
        Deny,
    ));
    v.push(allow(r, r#"{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["team"]}}"#, &[], Allow));
    let r = "policy variables in condition values (${aws:username})";
    v.push(
        c(r, Who::Alice, "s3:ListBucket", BKT, Allow)
            .idp(&list_if(r#"{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}"#))
            .ctx(&[("s3:prefix", "home/alice/docs/")]),
    );
    v.push(
        c(r, Who::Alice, "s3:ListBucket", BKT, Deny)
            .idp(&list_if(r#"{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}"#))
            .ctx(&[("s3:prefix", "home/bob/")]),
    );
    v.push(
        c(r, Who::Alice, "s3:ListBucket", BKT, Deny)
            .idp(&list_if(r#"{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}"#)),
    );

    // ---- S3 condition keys --------------------------------------------------------------
    let r = "s3:prefix / s3:delimiter restrict listing (S3 condition keys)";
    v.push(
        c(r, Who::Alice, "s3:ListBucket", BKT, Allow)
            .idp(&list_if(r#"{"StringEquals":{"s3:prefix":"public/","s3:delimiter":"/"}}"#))
            .ctx(&[("s3:prefix", "public/"), ("s3:delimiter", "/")]),
    );
    v.push(
        c(r, Who::Alice, "s3:ListBucket", BKT, Deny)
            .idp(&list_if(r#"{"StringEquals":{"s3:prefix":"public/","s3:delimiter":"/"}}"#))
            .ctx(&[("s3:prefix", "public/")]),
    );
    let put_if =
        |cond: &str| format!(r#"{{"Effect":"Allow","Action":"s3:PutObject","Resource":"*","Condition":{cond}}}"#);
    let r = "s3:x-amz-acl restricts the canned ACL a writer may set";
    v.push(
        c(r, Who::Alice, "s3:PutObject", OBJ, Allow)
            .idp(&put_if(r#"{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control"}}"#))
            .ctx(&[("s3:x-amz-acl", "bucket-owner-full-control")]),
    );
    v.push(
        c(r, Who::Alice, "s3:PutObject", OBJ, Deny)
            .idp(&put_if(r#"{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control"}}"#))
            .ctx(&[("s3:x-amz-acl", "public-read")]),
    );
    let r = "s3:x-amz-server-side-encryption requires encrypted writes (Deny when absent via Null)";
    let deny_unencrypted = r#"{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"}}}"#;
    v.push(c(r, Who::Alice, "s3:PutObject", OBJ, ExplicitDeny).idp(ALLOW_ALL_S3).bp(deny_unencrypted));
    v.push(
        c(r, Who::Alice, "s3:PutObject", OBJ, Allow)
            .idp(ALLOW_ALL_S3)
            .bp(deny_unencrypted)
            .ctx(&[("s3:x-amz-server-side-encryption", "AES256")]),
    );
    let r = "s3:x-amz-content-sha256 can refuse unsigned payloads";
    let deny_unsigned = r#"{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"s3:x-amz-content-sha256":"UNSIGNED-PAYLOAD"}}}"#;
    v.push(
        c(r, Who::Alice, "s3:PutObject", OBJ, ExplicitDeny)
            .idp(ALLOW_ALL_S3)
            .bp(deny_unsigned)
            .ctx(&[("s3:x-amz-content-sha256", "UNSIGNED-PAYLOAD")]),
    );
    v.push(
        c(r, Who::Alice, "s3:PutObject", OBJ, Allow)
            .idp(ALLOW_ALL_S3)
            .bp(deny_unsigned)
            .ctx(&[("s3:x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]),
    );
    let r = "s3:authType and s3:signatureversion distinguish presigned URLs and signatures";
    let deny_query = r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"s3:authType":"REST-QUERY-STRING"}}}"#;
    v.push(
        c(r, Who::Alice, "s3:GetObject", OBJ, ExplicitDeny)
            .idp(ALLOW_ALL_S3)
            .bp(deny_query)
            .ctx(&[("s3:authType", "REST-QUERY-STRING")]),
    );
    v.push(
        c(r, Who::Alice, "s3:GetObject", OBJ, Allow)
            .idp(ALLOW_ALL_S3)
            .bp(deny_query)
            .ctx(&[("s3:authType", "REST-HEADER")]),
    );
    v.push(allow(
        r,
        r#"{"StringEquals":{"s3:signatureversion":"AWS4-HMAC-SHA256"}}"#,
        &[("s3:signatureversion", "AWS4-HMAC-SHA256")],
        Allow,
    ));
    let r = "s3:ExistingObjectTag/<key> tests the object's stored tags";
    v.push(allow(
        r,
        r#"{"StringEquals":{"s3:ExistingObjectTag/visibility":"public"}}"#,
        &[("s3:ExistingObjectTag/visibility", "public")],
        Allow,
    ));
    v.push(allow(
        r,
        r#"{"StringEquals":{"s3:ExistingObjectTag/visibility":"public"}}"#,
        &[("s3:ExistingObjectTag/visibility", "private")],
        Deny,
    ));
    v.push(allow(r, r#"{"StringEquals":{"s3:ExistingObjectTag/visibility":"public"}}"#, &[], Deny));
    let r = "s3:RequestObjectTag/<key> tests the tags a write sets";
    v.push(
        c(r, Who::Alice, "s3:PutObject", OBJ, Allow)
            .idp(&put_if(r#"{"StringEquals":{"s3:RequestObjectTag/team":"blue"}}"#))
            .ctx(&[("s3:RequestObjectTag/team", "blue")]),
    );
    v.push(
        c(r, Who::Alice, "s3:PutObject", OBJ, Deny)
            .idp(&put_if(r#"{"StringEquals":{"s3:RequestObjectTag/team":"blue"}}"#))
            .ctx(&[("s3:RequestObjectTag/team", "red")]),
    );
    let r = "s3:VersionId names the version a request addresses";
    v.push(allow(r, r#"{"StringEquals":{"s3:VersionId":"v1"}}"#, &[("s3:VersionId", "v1")], Allow));
    v.push(allow(r, r#"{"StringEquals":{"s3:VersionId":"v1"}}"#, &[], Deny));
    let r = "aws:PrincipalType, aws:userid and aws:username identify the caller";
    v.push(allow(r, r#"{"StringEquals":{"aws:PrincipalType":"User"}}"#, &[], Allow));
    v.push(allow(r, r#"{"StringEquals":{"aws:userid":"AIDAALICE"}}"#, &[], Allow));
    v.push(allow(r, r#"{"StringEquals":{"aws:username":"bob"}}"#, &[], Deny));
    let r = "anonymous access can be limited by aws:SourceIp in a bucket policy";
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Allow).bp(pinned).ctx(&[("aws:SourceIp", "192.0.2.200")]));
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Deny).bp(pinned).ctx(&[("aws:SourceIp", "10.0.0.1")]));
    v.push(c(r, Who::Anon, "s3:GetObject", OBJ, Deny).bp(pinned));
    v
}

#[test]
fn authorization_matrix() {
    let cases = cases();
    assert!(cases.len() >= 150, "the matrix has {} cases", cases.len());
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let decision = run(case);
        let got = match (decision.allowed, decision.explicit_deny) {
            (true, _) => Allow,
            (false, true) => ExplicitDeny,
            (false, false) => Deny,
        };
        if got != case.expect {
            failures.push(format!(
                "#{i} [{}] {:?} {} {}: expected {:?}, got {got:?} ({})",
                case.rule, case.who, case.action, case.resource, case.expect, decision.reason
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
