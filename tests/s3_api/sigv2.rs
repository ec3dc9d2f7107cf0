//! AWS Signature Version 2 from real clients: boto3's `s3` signer (path and
//! virtual-hosted style, presigned URLs, sub-resources, multipart, batch
//! delete) and s3cmd with `signature_v2 = True`; and the switch that turns it
//! off.

use std::process::Command;

use crate::common::server::{ACCESS_KEY, DOMAIN, SECRET_KEY};
use crate::common::{boto3_python, bucket_name, client, run, test_data, Req, Server, ServerOptions};

#[tokio::test]
async fn boto3_and_s3cmd_sign_with_version_2() {
    let server =
        Server::start_with(ServerOptions { domain: Some(DOMAIN.to_string()), ..ServerOptions::default() }).await;
    let work = tempfile::Builder::new().prefix("coffer-sigv2-").tempdir().expect("tmp");
    let bucket = bucket_name("sigv2");
    let big = work.path().join("big.bin");
    std::fs::write(&big, test_data(11 * 1024 * 1024 + 5, 77)).expect("write big");
    let script = work.path().join("v2.py");
    std::fs::write(&script, BOTO3_V2_SCRIPT).expect("script");
    let port = server.s3_addr.port();
    let out = run(Command::new(boto3_python())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .arg(&script)
        .arg(server.endpoint())
        .arg(format!("http://{DOMAIN}:{port}"))
        .arg(&bucket)
        .arg(&big));
    assert!(out.contains("boto3 v2 ok"), "{out}");

    // What boto3 wrote through SigV2 reads back through SigV4.
    let s3 = client(&server);
    let got = s3.get_object().bucket(&bucket).key("dir/a b+c.txt").send().await.expect("get (SigV4)");
    assert_eq!(got.metadata().and_then(|m| m.get("colour")).map(String::as_str), Some("blue"));
    assert_eq!(&got.body.collect().await.expect("body").into_bytes()[..], b"signed the old way");
    let mp = s3.head_object().bucket(&bucket).key("multipart").send().await.expect("head multipart");
    assert_eq!(mp.content_length(), Some(11 * 1024 * 1024 + 5));

    // s3cmd (Debian package) with SigV2: put, get, ls, setacl-free listing, del.
    let s3cfg = work.path().join("s3cfg");
    let hostport = format!("127.0.0.1:{port}");
    std::fs::write(
        &s3cfg,
        format!(
            "[default]\naccess_key = {ACCESS_KEY}\nsecret_key = {SECRET_KEY}\nhost_base = {hostport}\nhost_bucket = {hostport}\nuse_https = False\nsignature_v2 = True\nbucket_location = us-east-1\n"
        ),
    )
    .expect("s3cfg");
    let s3cmd = |args: &[&str]| run(Command::new("s3cmd").arg("-c").arg(&s3cfg).args(args));
    let small = work.path().join("small.bin");
    std::fs::write(&small, test_data(5000, 78)).expect("small");
    s3cmd(&["put", small.to_str().expect("path"), &format!("s3://{bucket}/s3cmd/small.bin")]);
    s3cmd(&[
        "put",
        "--multipart-chunk-size-mb=5",
        big.to_str().expect("path"),
        &format!("s3://{bucket}/s3cmd/big.bin"),
    ]);
    let back = work.path().join("back.bin");
    s3cmd(&["get", &format!("s3://{bucket}/s3cmd/big.bin"), back.to_str().expect("path")]);
    assert!(std::fs::read(&back).expect("read back") == std::fs::read(&big).expect("read big"), "s3cmd round trip");
    let listing = s3cmd(&["ls", &format!("s3://{bucket}/s3cmd/")]);
    assert!(listing.contains("s3cmd/small.bin") && listing.contains("s3cmd/big.bin"), "{listing}");
    s3cmd(&["del", &format!("s3://{bucket}/s3cmd/small.bin")]);
    assert!(!s3cmd(&["ls", &format!("s3://{bucket}/s3cmd/")]).contains("small.bin"));
}

#[tokio::test]
async fn signature_v2_can_be_turned_off() {
    let on = Server::start().await;
    let off = Server::start_with(ServerOptions {
        extra_args: vec!["--disable-signature-v2".into()],
        ..ServerOptions::default()
    })
    .await;
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let header = |server: &Server| {
        Req::new(server, "GET", "/")
            .header("date", date.clone())
            .header("authorization", format!("AWS {ACCESS_KEY}:bm90IHRoZSBzaWduYXR1cmU="))
    };
    let query = |server: &Server| {
        Req::new(server, "GET", &format!("/?AWSAccessKeyId={ACCESS_KEY}&Expires=4102444800&Signature=bm90%3D"))
    };
    // On: verified, and a wrong signature is a signature error.
    header(&on).send_anonymous().await.assert_error(403, "SignatureDoesNotMatch");
    query(&on).send_anonymous().await.assert_error(403, "SignatureDoesNotMatch");
    // Off: refused as AWS refuses SigV2 where it is not supported.
    header(&off).send_anonymous().await.assert_error(400, "InvalidRequest");
    query(&off).send_anonymous().await.assert_error(400, "InvalidRequest");
    // SigV4 is unaffected.
    client(&off).list_buckets().send().await.expect("SigV4 list buckets");
}

const BOTO3_V2_SCRIPT: &str = r#"
import os, socket, sys, urllib.request, urllib.error
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, vhost_endpoint, bucket, big = sys.argv[1:5]
v2 = Config(signature_version="s3", s3={"addressing_style": "path"})
s3 = boto3.client("s3", endpoint_url=endpoint, config=v2)
s3.create_bucket(Bucket=bucket)
s3.put_object(Bucket=bucket, Key="dir/a b+c.txt", Body=b"signed the old way", ContentType="text/plain", Metadata={"colour": "blue"})
got = s3.get_object(Bucket=bucket, Key="dir/a b+c.txt")
assert got["Body"].read() == b"signed the old way"
assert got["Metadata"] == {"colour": "blue"}, got["Metadata"]
assert s3.head_object(Bucket=bucket, Key="dir/a b+c.txt")["ContentLength"] == 18
# Sub-resources in the signed resource: tagging, versioning, location, uploads/uploadId/partNumber, delete.
s3.put_object_tagging(Bucket=bucket, Key="dir/a b+c.txt", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
assert s3.get_object_tagging(Bucket=bucket, Key="dir/a b+c.txt")["TagSet"] == [{"Key": "k", "Value": "v"}]
s3.get_bucket_versioning(Bucket=bucket)
s3.get_bucket_location(Bucket=bucket)
s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "dir/a b+c.txt"})
cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
s3.upload_file(big, bucket, "multipart", Config=cfg)
s3.download_file(bucket, "multipart", big + ".back")
assert open(big, "rb").read() == open(big + ".back", "rb").read()
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="dir/")["Contents"]]
assert keys == ["dir/a b+c.txt"], keys
s3.put_object(Bucket=bucket, Key="gone-1", Body=b"1")
s3.put_object(Bucket=bucket, Key="gone-2", Body=b"2")
deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "gone-1"}, {"Key": "gone-2"}]})
assert sorted(d["Key"] for d in deleted["Deleted"]) == ["gone-1", "gone-2"], deleted

# Presigned (Signature, Expires, AWSAccessKeyId), with a response override.
url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "dir/a b+c.txt", "ResponseContentType": "application/x-test"}, ExpiresIn=300)
assert "Signature=" in url and "Expires=" in url, url
with urllib.request.urlopen(url) as resp:
    assert resp.read() == b"signed the old way"
    assert resp.headers["Content-Type"] == "application/x-test", resp.headers["Content-Type"]
try:
    urllib.request.urlopen(url.replace("application%2Fx-test", "text%2Fhtml"))
    raise AssertionError("a changed override must not verify")
except urllib.error.HTTPError as e:
    assert e.code == 403 and b"SignatureDoesNotMatch" in e.read()

# A wrong secret is a signature error, not anonymous access.
bad = boto3.client("s3", endpoint_url=endpoint, config=v2, aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="wrong" * 8)
try:
    bad.get_object(Bucket=bucket, Key="dir/a b+c.txt")
    raise AssertionError("a wrong secret must fail")
except ClientError as e:
    assert e.response["Error"]["Code"] == "SignatureDoesNotMatch", e.response["Error"]

# Virtual-hosted style: BUCKET.s3.coffer.test resolved to 127.0.0.1 here (no DNS).
real = socket.getaddrinfo
def local(host, *args, **kwargs):
    if host.endswith("s3.coffer.test"):
        host = "127.0.0.1"
    return real(host, *args, **kwargs)
socket.getaddrinfo = local
v = boto3.client("s3", endpoint_url=vhost_endpoint, config=Config(signature_version="s3", s3={"addressing_style": "virtual"}))
v.put_object(Bucket=bucket, Key="vhost/key", Body=b"virtual")
assert v.get_object(Bucket=bucket, Key="vhost/key")["Body"].read() == b"virtual"
assert v.get_object_acl(Bucket=bucket, Key="vhost/key")["Grants"], "owner grant"
print("boto3 v2 ok")
"#;
