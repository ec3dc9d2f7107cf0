//! Identities: the IAM query API (awscli and raw signed requests), access
//! keys that authenticate S3 requests and stop at once when disabled or
//! deleted, persistence across restarts, secrets at rest, and `coffer admin`.

use std::path::Path;
use std::process::Output;
use std::time::SystemTime;

use bytes::Bytes;

use crate::common::http::{send, RawResponse, Req};
use crate::common::server::{Server, ServerOptions, ACCESS_KEY, REGION, SECRET_KEY};
use crate::common::sign::{sign_iam, Creds};
use crate::common::util::xml_text;

/// Runs `aws iam ARGS` against the server as `creds`, output as JSON.
async fn aws_iam(server: &Server, creds: &Creds, args: &[&str]) -> Output {
    let out = tokio::process::Command::new("aws")
        .arg("iam")
        .args(args)
        .args(["--endpoint-url", &server.endpoint(), "--region", "us-east-1", "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", &creds.access_key)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret_key)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_IAM")
        .output()
        .await;
    match out {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("the `aws` CLI is not on PATH"),
        Err(e) => panic!("running `aws`: {e}"),
    }
}

#[track_caller]
fn ok_json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "aws failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.stdout.iter().all(|b| b.is_ascii_whitespace()) {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(&out.stdout).expect("aws prints JSON")
}

#[track_caller]
fn failed_with(out: &Output, code: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected {code}, but aws succeeded: {}", String::from_utf8_lossy(&out.stdout));
    assert!(stderr.contains(&format!("({code})")), "expected {code}; stderr: {stderr}");
}

/// A raw IAM query request (form body), signed for service `iam` as `creds`.
async fn iam_raw(server: &Server, creds: Option<&Creds>, form: &str) -> RawResponse {
    let req = Req::new(server, "POST", "/")
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(Bytes::from(form.to_string()));
    let mut http = req.to_http();
    if let Some(c) = creds {
        sign_iam(&mut http, c, SystemTime::now());
    }
    send(server.s3_addr, http).await
}

#[track_caller]
fn assert_iam_error(r: &RawResponse, status: u16, code: &str) {
    let text = r.text();
    assert_eq!((r.status, xml_text(&text, "Code").as_deref()), (status, Some(code)), "body: {text}");
    assert!(text.contains("<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"), "{text}");
    assert!(text.contains("<Type>Sender</Type>") && text.contains("<RequestId>"), "{text}");
}

fn root() -> Creds {
    Creds::root()
}

fn user_creds(access_key: &str, secret: &str) -> Creds {
    Creds { access_key: access_key.into(), secret_key: secret.into(), region: REGION.into() }
}

/// ListBuckets signed with `creds` (service s3).
async fn list_buckets_as(server: &Server, creds: &Creds) -> RawResponse {
    let req = Req::new(server, "GET", "/");
    let (signed, _) = req.signed_with(creds, SystemTime::now(), crate::common::util::sha256_hex(b"").as_str());
    send(server.s3_addr, signed).await
}

#[track_caller]
fn assert_key_accepted(r: &RawResponse) {
    let code = r.code();
    assert!(
        r.status == 200 || code.as_deref() == Some("AccessDenied"),
        "the signature with a live key must be accepted; got {} {:?}",
        r.status,
        r.text()
    );
}

async fn create_key_raw(server: &Server, user: &str) -> (String, String) {
    let r = iam_raw(server, Some(&root()), &format!("Action=CreateAccessKey&Version=2010-05-08&UserName={user}")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    (xml_text(&text, "AccessKeyId").expect("key id"), xml_text(&text, "SecretAccessKey").expect("secret"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awscli_users_keys_and_policies() {
    let server = Server::start().await;
    let r = root();
    let created = ok_json(
        &aws_iam(&server, &r, &["create-user", "--user-name", "alice", "--tags", "Key=email,Value=alice@example.com"])
            .await,
    );
    assert_eq!(created["User"]["UserName"], "alice");
    let user_id = created["User"]["UserId"].as_str().expect("user id");
    assert!(user_id.starts_with("AIDA") && user_id.len() == 21, "{user_id}");
    let arn = created["User"]["Arn"].as_str().expect("arn");
    assert!(arn.starts_with("arn:aws:iam::") && arn.ends_with(":user/alice"), "{arn}");
    let account = &arn["arn:aws:iam::".len()..arn.len() - ":user/alice".len()];
    assert!(account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()), "{account}");
    failed_with(&aws_iam(&server, &r, &["create-user", "--user-name", "ALICE"]).await, "EntityAlreadyExists");

    let got = ok_json(&aws_iam(&server, &r, &["get-user", "--user-name", "alice"]).await);
    assert_eq!(got["User"]["Tags"][0]["Value"], "alice@example.com");
    let users = ok_json(&aws_iam(&server, &r, &["list-users"]).await);
    assert_eq!(users["Users"].as_array().map(|a| a.len()), Some(1));
    failed_with(&aws_iam(&server, &r, &["get-user", "--user-name", "nobody"]).await, "NoSuchEntity");

    // A new key authenticates S3 requests.
    let key = ok_json(&aws_iam(&server, &r, &["create-access-key", "--user-name", "alice"]).await);
    let key_id = key["AccessKey"]["AccessKeyId"].as_str().expect("key id").to_string();
    let secret = key["AccessKey"]["SecretAccessKey"].as_str().expect("secret").to_string();
    assert!(key_id.starts_with("AKIA") && key_id.len() == 20 && secret.len() == 40);
    assert_eq!(key["AccessKey"]["Status"], "Active");
    let alice = user_creds(&key_id, &secret);
    assert_key_accepted(&list_buckets_as(&server, &alice).await);
    let listed = ok_json(&aws_iam(&server, &r, &["list-access-keys", "--user-name", "alice"]).await);
    assert_eq!(listed["AccessKeyMetadata"][0]["AccessKeyId"], key_id.as_str());
    assert!(listed["AccessKeyMetadata"][0].get("SecretAccessKey").is_none());

    // Inactive: refused at once; active again: accepted.
    ok_json(
        &aws_iam(
            &server,
            &r,
            &["update-access-key", "--user-name", "alice", "--access-key-id", &key_id, "--status", "Inactive"],
        )
        .await,
    );
    list_buckets_as(&server, &alice).await.assert_error(403, "InvalidAccessKeyId");
    let listed = ok_json(&aws_iam(&server, &r, &["list-access-keys", "--user-name", "alice"]).await);
    assert_eq!(listed["AccessKeyMetadata"][0]["Status"], "Inactive");
    ok_json(
        &aws_iam(
            &server,
            &r,
            &["update-access-key", "--user-name", "alice", "--access-key-id", &key_id, "--status", "Active"],
        )
        .await,
    );
    assert_key_accepted(&list_buckets_as(&server, &alice).await);

    // Policies.
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
    ok_json(
        &aws_iam(
            &server,
            &r,
            &["put-user-policy", "--user-name", "alice", "--policy-name", "read-b", "--policy-document", doc],
        )
        .await,
    );
    let got =
        ok_json(&aws_iam(&server, &r, &["get-user-policy", "--user-name", "alice", "--policy-name", "read-b"]).await);
    let expected: serde_json::Value = serde_json::from_str(doc).expect("json");
    assert_eq!(got["PolicyDocument"], expected, "awscli decodes the URL-encoded document");
    let names = ok_json(&aws_iam(&server, &r, &["list-user-policies", "--user-name", "alice"]).await);
    assert_eq!(names["PolicyNames"], serde_json::json!(["read-b"]));
    failed_with(
        &aws_iam(
            &server,
            &r,
            &["put-user-policy", "--user-name", "alice", "--policy-name", "bad", "--policy-document", "{not json"],
        )
        .await,
        "MalformedPolicyDocument",
    );

    // A user cannot call IAM (until policies say otherwise).
    let denied = aws_iam(&server, &alice, &["list-users"]).await;
    failed_with(&denied, "AccessDenied");
    assert!(String::from_utf8_lossy(&denied.stderr)
        .contains(&format!("User: {arn} is not authorized to perform: iam:ListUsers")));

    // DeleteUser is refused while keys and policies exist.
    failed_with(&aws_iam(&server, &r, &["delete-user", "--user-name", "alice"]).await, "DeleteConflict");
    ok_json(&aws_iam(&server, &r, &["delete-access-key", "--user-name", "alice", "--access-key-id", &key_id]).await);
    list_buckets_as(&server, &alice).await.assert_error(403, "InvalidAccessKeyId");
    failed_with(&aws_iam(&server, &r, &["delete-user", "--user-name", "alice"]).await, "DeleteConflict");
    ok_json(&aws_iam(&server, &r, &["delete-user-policy", "--user-name", "alice", "--policy-name", "read-b"]).await);
    ok_json(&aws_iam(&server, &r, &["delete-user", "--user-name", "alice"]).await);
    failed_with(&aws_iam(&server, &r, &["get-user", "--user-name", "alice"]).await, "NoSuchEntity");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awscli_groups_carry_policies_and_members() {
    let server = Server::start().await;
    let r = root();
    ok_json(&aws_iam(&server, &r, &["create-user", "--user-name", "gina"]).await);
    let g = ok_json(&aws_iam(&server, &r, &["create-group", "--group-name", "readers"]).await);
    assert!(g["Group"]["Arn"].as_str().expect("arn").ends_with(":group/readers"));
    ok_json(&aws_iam(&server, &r, &["add-user-to-group", "--group-name", "readers", "--user-name", "gina"]).await);
    ok_json(
        &aws_iam(
            &server,
            &r,
            &[
                "put-group-policy",
                "--group-name",
                "readers",
                "--policy-name",
                "p",
                "--policy-document",
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#,
            ],
        )
        .await,
    );
    let got = ok_json(&aws_iam(&server, &r, &["get-group", "--group-name", "readers"]).await);
    assert_eq!(got["Users"][0]["UserName"], "gina");
    let mine = ok_json(&aws_iam(&server, &r, &["list-groups-for-user", "--user-name", "gina"]).await);
    assert_eq!(mine["Groups"][0]["GroupName"], "readers");
    failed_with(&aws_iam(&server, &r, &["delete-user", "--user-name", "gina"]).await, "DeleteConflict");
    failed_with(&aws_iam(&server, &r, &["delete-group", "--group-name", "readers"]).await, "DeleteConflict");
    ok_json(&aws_iam(&server, &r, &["remove-user-from-group", "--group-name", "readers", "--user-name", "gina"]).await);
    ok_json(&aws_iam(&server, &r, &["delete-group-policy", "--group-name", "readers", "--policy-name", "p"]).await);
    ok_json(&aws_iam(&server, &r, &["delete-group", "--group-name", "readers"]).await);
    ok_json(&aws_iam(&server, &r, &["delete-user", "--user-name", "gina"]).await);
    let groups = ok_json(&aws_iam(&server, &r, &["list-groups"]).await);
    assert_eq!(groups["Groups"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_iam_protocol_and_errors() {
    let server = Server::start().await;
    let r = root();
    let ok = iam_raw(&server, Some(&r), "Action=CreateUser&Version=2010-05-08&UserName=bob").await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let text = ok.text();
    assert!(
        text.contains(
            "<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><CreateUserResult><User>"
        ),
        "{text}"
    );
    assert!(text.contains("<ResponseMetadata><RequestId>"), "{text}");

    let dup = iam_raw(&server, Some(&r), "Action=CreateUser&Version=2010-05-08&UserName=bob").await;
    assert_iam_error(&dup, 409, "EntityAlreadyExists");
    let unknown = iam_raw(&server, Some(&r), "Action=GetUser&Version=2010-05-08&UserName=nobody").await;
    assert_iam_error(&unknown, 404, "NoSuchEntity");
    let bad_name = iam_raw(&server, Some(&r), "Action=CreateUser&Version=2010-05-08&UserName=bad%20name").await;
    assert_iam_error(&bad_name, 400, "ValidationError");
    let missing = iam_raw(&server, Some(&r), "Action=CreateUser&Version=2010-05-08").await;
    assert_iam_error(&missing, 400, "ValidationError");
    let action = iam_raw(&server, Some(&r), "Action=CreateRole&Version=2010-05-08").await;
    assert_iam_error(&action, 400, "InvalidAction");
    let bad_utf8 = iam_raw(&server, Some(&r), "Action=CreateUser&UserName=%FF").await;
    assert_iam_error(&bad_utf8, 400, "ValidationError");
    let big = format!("Action=CreateUser&UserName=x&Pad={}", "a".repeat(70 * 1024));
    assert_iam_error(&iam_raw(&server, Some(&r), &big).await, 400, "ValidationError");
    let policy =
        iam_raw(&server, Some(&r), "Action=PutUserPolicy&UserName=bob&PolicyName=p&PolicyDocument=%5B1%5D").await;
    assert_iam_error(&policy, 400, "MalformedPolicyDocument");
    let anonymous = iam_raw(&server, None, "Action=ListUsers&Version=2010-05-08").await;
    assert_iam_error(&anonymous, 403, "MissingAuthenticationToken");
    let wrong_secret =
        iam_raw(&server, Some(&Creds::with_secret("wrong-secret-wrong-secret-wrong-secret-00")), "Action=ListUsers")
            .await;
    assert_iam_error(&wrong_secret, 403, "SignatureDoesNotMatch");
    let unknown_key = iam_raw(&server, Some(&Creds::with_access_key("AKIANOSUCHKEY0000000")), "Action=ListUsers").await;
    assert_iam_error(&unknown_key, 403, "InvalidClientTokenId");

    // Two keys at most, also when four requests race.
    let racing = (0..4).map(|_| iam_raw(&server, Some(&r), "Action=CreateAccessKey&UserName=bob"));
    let results = futures::future::join_all(racing).await;
    let created: Vec<&RawResponse> = results.iter().filter(|x| x.status == 200).collect();
    assert_eq!(created.len(), 2, "exactly two keys created");
    for refused in results.iter().filter(|x| x.status != 200) {
        assert_iam_error(refused, 409, "LimitExceeded");
    }
    let key_id = xml_text(&created[0].text(), "AccessKeyId").expect("key id");
    let secret = xml_text(&created[0].text(), "SecretAccessKey").expect("secret");
    let third = iam_raw(&server, Some(&r), "Action=CreateAccessKey&UserName=bob").await;
    assert_iam_error(&third, 409, "LimitExceeded");

    // A user is authenticated but may not call IAM.
    let bob = user_creds(&key_id, &secret);
    let denied = iam_raw(&server, Some(&bob), "Action=ListUsers&Version=2010-05-08").await;
    assert_iam_error(&denied, 403, "AccessDenied");
    assert!(
        denied.text().contains("is not authorized to perform: iam:ListUsers on resource: arn:aws:iam::"),
        "{}",
        denied.text()
    );

    // Paging: MaxItems and Marker.
    for name in ["carol", "dave", "erin"] {
        let created = iam_raw(&server, Some(&r), &format!("Action=CreateUser&UserName={name}")).await;
        assert_eq!(created.status, 200);
    }
    let mut seen = Vec::new();
    let mut marker = String::new();
    loop {
        let form = format!(
            "Action=ListUsers&MaxItems=2{}",
            if marker.is_empty() { String::new() } else { format!("&Marker={marker}") }
        );
        let page = iam_raw(&server, Some(&r), &form).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let text = page.text();
        seen.extend(text.split("<UserName>").skip(1).map(|s| s.split('<').next().unwrap_or("").to_string()));
        if xml_text(&text, "IsTruncated").as_deref() == Some("false") {
            break;
        }
        marker = xml_text(&text, "Marker").expect("marker");
    }
    assert_eq!(seen, ["bob", "carol", "dave", "erin"]);
    let bad_max = iam_raw(&server, Some(&r), "Action=ListUsers&MaxItems=0").await;
    assert_iam_error(&bad_max, 400, "ValidationError");

    // The same parameters in a GET query string.
    let req = Req::new(&server, "GET", "/?Action=GetUser&Version=2010-05-08&UserName=carol");
    let mut http = req.to_http();
    sign_iam(&mut http, &r, SystemTime::now());
    let got = send(server.s3_addr, http).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(xml_text(&got.text(), "UserName").as_deref(), Some("carol"));

    // GetUser without a name: the caller (root).
    let me = iam_raw(&server, Some(&r), "Action=GetUser").await;
    assert!(me.text().contains(":root</Arn>"), "{}", me.text());
}

fn files_containing(dir: &Path, needle: &[u8], found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_containing(&path, needle, found);
        } else if let Ok(bytes) = std::fs::read(&path) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(path.display().to_string());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identities_survive_restart_and_secrets_are_sealed() {
    let dir = tempfile::Builder::new().prefix("coffer-e2e-iam-").tempdir().expect("tempdir");
    let mut server = Server::start_in(dir.path(), ServerOptions::default()).await;
    let r = root();
    assert_eq!(iam_raw(&server, Some(&r), "Action=CreateUser&UserName=frank").await.status, 200);
    let (key_id, secret) = create_key_raw(&server, "frank").await;
    let (gone_id, gone_secret) = create_key_raw(&server, "frank").await;
    let del = iam_raw(&server, Some(&r), &format!("Action=DeleteAccessKey&UserName=frank&AccessKeyId={gone_id}")).await;
    assert_eq!(del.status, 200);
    assert_eq!(server.stop().code(), Some(0));

    let mut found = Vec::new();
    for az in ["az1", "az2", "az3"] {
        assert!(dir.path().join(az).is_dir(), "zone directory {az} exists");
        files_containing(&dir.path().join(az), secret.as_bytes(), &mut found);
        files_containing(&dir.path().join(az), gone_secret.as_bytes(), &mut found);
    }
    assert!(found.is_empty(), "a secret is readable in plaintext in {found:?}");
    let mut with_key_id = Vec::new();
    for az in ["az1", "az2", "az3"] {
        files_containing(&dir.path().join(az), key_id.as_bytes(), &mut with_key_id);
    }
    assert!(!with_key_id.is_empty(), "the search does see the stored records");

    let server = Server::start_in(dir.path(), ServerOptions::default()).await;
    let users = iam_raw(&server, Some(&r), "Action=ListUsers").await;
    assert!(users.text().contains("<UserName>frank</UserName>"), "{}", users.text());
    assert_key_accepted(&list_buckets_as(&server, &user_creds(&key_id, &secret)).await);
    list_buckets_as(&server, &user_creds(&gone_id, &gone_secret)).await.assert_error(403, "InvalidAccessKeyId");
}

fn admin(server: &Server, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
        .arg("admin")
        .args(["--endpoint", &server.endpoint()])
        .args(args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("COFFER_ENDPOINT")
        .env_remove("COFFER_DATA_DIR")
        .output()
        .expect("run coffer admin")
}

#[track_caller]
fn admin_ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "coffer admin failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coffer_admin_cli_end_to_end() {
    let server = Server::start().await;
    let creds_dir = tempfile::tempdir().expect("tempdir");
    let creds = serde_json::json!({"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY});
    std::fs::write(creds_dir.path().join("root-credentials.json"), creds.to_string()).expect("write creds");
    let root_args = ["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY];
    let by_dir = ["--data-dir", creds_dir.path().to_str().expect("utf-8 path")];

    let out = admin_ok(&admin(
        &server,
        &[&root_args[..], &["user", "create", "hank", "--email", "hank@example.com"]].concat(),
    ));
    assert!(out.contains("created user hank"), "{out}");
    let out = admin_ok(&admin(&server, &[&by_dir[..], &["user", "list"]].concat()));
    assert!(out.contains("hank\tAIDA"), "{out}");

    let out = admin_ok(&admin(&server, &[&root_args[..], &["--json", "key", "create", "hank"]].concat()));
    let key: serde_json::Value = serde_json::from_str(&out).expect("json");
    let key_id = key["AccessKeyId"].as_str().expect("id").to_string();
    let secret = key["SecretAccessKey"].as_str().expect("secret").to_string();
    let hank = user_creds(&key_id, &secret);
    assert_key_accepted(&list_buckets_as(&server, &hank).await);

    admin_ok(&admin(&server, &[&by_dir[..], &["key", "disable", "hank", &key_id]].concat()));
    list_buckets_as(&server, &hank).await.assert_error(403, "InvalidAccessKeyId");
    let out = admin_ok(&admin(&server, &[&by_dir[..], &["key", "list", "hank"]].concat()));
    assert!(out.contains(&format!("{key_id}\tInactive")), "{out}");
    admin_ok(&admin(&server, &[&by_dir[..], &["key", "enable", "hank", &key_id]].concat()));
    assert_key_accepted(&list_buckets_as(&server, &hank).await);

    let policy_file = creds_dir.path().join("policy.json");
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    std::fs::write(&policy_file, doc).expect("write policy");
    admin_ok(&admin(
        &server,
        &[&by_dir[..], &["policy", "put", "hank", "all", policy_file.to_str().expect("path")]].concat(),
    ));
    let out = admin_ok(&admin(&server, &[&by_dir[..], &["policy", "get", "hank", "all"]].concat()));
    assert_eq!(out.trim(), doc);
    let out = admin_ok(&admin(&server, &[&by_dir[..], &["policy", "list", "hank"]].concat()));
    assert_eq!(out.trim(), "all");

    // Errors: the IAM code and message, a non-zero exit.
    let refused = admin(&server, &[&by_dir[..], &["user", "delete", "hank"]].concat());
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("DeleteConflict"), "{:?}", refused);
    let wrong = admin(&server, &["--access-key", ACCESS_KEY, "--secret-key", "nope", "user", "list"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("SignatureDoesNotMatch"), "{:?}", wrong);
    let no_creds = admin(&server, &["user", "list"]);
    assert_eq!(no_creds.status.code(), Some(2));

    admin_ok(&admin(&server, &[&by_dir[..], &["policy", "delete", "hank", "all"]].concat()));
    admin_ok(&admin(&server, &[&by_dir[..], &["key", "delete", "hank", &key_id]].concat()));
    list_buckets_as(&server, &hank).await.assert_error(403, "InvalidAccessKeyId");
    admin_ok(&admin(&server, &[&by_dir[..], &["user", "delete", "hank"]].concat()));
    let out = admin_ok(&admin(&server, &[&by_dir[..], &["--json", "user", "list"]].concat()));
    assert_eq!(out.trim(), "[]");
}
