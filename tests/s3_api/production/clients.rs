//! Every client through nginx over TLS, every transfer compared byte for byte;
//! and the signature mismatch a wrong `proxy_set_header Host` produces.

use std::path::Path;
use std::process::Command;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use aws_smithy_http_client::tls;

use super::{nginx_with_shipped_conf, Certs, DOMAIN};
use crate::common::server::{ACCESS_KEY, SECRET_KEY};
use crate::common::{boto3_python, bucket_name, run, test_data, Server, ServerOptions};

/// aws-sdk-s3 over HTTPS, trusting the test CA (rustls), without retries:
/// every failure the server or proxy causes is seen.
pub(super) fn tls_client(endpoint: &str, ca: &Path) -> Client {
    let pem = std::fs::read(ca).expect("ca");
    let context = tls::TlsContext::builder()
        .with_trust_store(tls::TrustStore::empty().with_pem_certificate(pem))
        .build()
        .expect("tls context");
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .tls_context(context)
        .build_https();
    Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "coffer-tls"))
            .http_client(http)
            .force_path_style(true)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .build(),
    )
}

fn write_tree(root: &Path) {
    for (i, rel) in ["a.txt", "dir/b.bin", "dir/sub/c.bin", "dir/sub/d e.txt", "big.bin"].iter().enumerate() {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        let len = if *rel == "big.bin" { 7 * 1024 * 1024 + 3 } else { 1000 * (i + 1) };
        std::fs::write(p, test_data(len, 900 + i as u64)).expect("write");
    }
}

fn assert_same_file(a: &Path, b: &Path) {
    let (x, y) = (std::fs::read(a).expect("read a"), std::fs::read(b).expect("read b"));
    assert!(x == y, "{} and {} differ ({} vs {} bytes)", a.display(), b.display(), x.len(), y.len());
}

#[tokio::test]
async fn real_clients_through_nginx_over_tls() {
    let work = tempfile::Builder::new().prefix("coffer-clients-").tempdir().expect("tmp");
    let w = work.path();
    let certs = Certs::generate(w);
    let options = ServerOptions {
        domain: Some(DOMAIN.to_string()),
        extra_args: ["--trusted-proxy", "127.0.0.1", "--test-min-part-size-bytes", "1048576"]
            .map(String::from)
            .to_vec(),
        ..Default::default()
    };
    let server = Server::start_with(options).await;
    let nginx = nginx_with_shipped_conf(server.s3_addr, &certs, |c| c).await;
    let endpoint = format!("https://127.0.0.1:{}", nginx.addr.port());
    let bucket = bucket_name("via-nginx");

    // aws-sdk-s3: over TLS it streams bodies as unsigned payload with a checksum trailer.
    let s3 = tls_client(&endpoint, &certs.ca);
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket over TLS");
    let data = test_data(3 * 1024 * 1024 + 7, 1);
    s3.put_object().bucket(&bucket).key("sdk/obj").body(data.clone().into()).send().await.expect("sdk put");
    let got = s3.get_object().bucket(&bucket).key("sdk/obj").send().await.expect("sdk get");
    assert!(got.body.collect().await.expect("body").into_bytes() == data, "sdk round trip");
    let up = s3.create_multipart_upload().bucket(&bucket).key("sdk/mpu").send().await.expect("create upload");
    let id = up.upload_id().expect("id");
    let parts_data = [test_data(1_500_000, 2), test_data(1_200_000, 3)];
    let mut parts = Vec::new();
    for (i, p) in parts_data.iter().enumerate() {
        let n = i as i32 + 1;
        let out = s3
            .upload_part()
            .bucket(&bucket)
            .key("sdk/mpu")
            .upload_id(id)
            .part_number(n)
            .body(p.clone().into())
            .send()
            .await
            .expect("part");
        parts.push(CompletedPart::builder().part_number(n).e_tag(out.e_tag().expect("etag")).build());
    }
    s3.complete_multipart_upload()
        .bucket(&bucket)
        .key("sdk/mpu")
        .upload_id(id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .expect("complete");
    let got = s3.get_object().bucket(&bucket).key("sdk/mpu").send().await.expect("get mpu");
    assert!(got.body.collect().await.expect("body").into_bytes() == parts_data.concat(), "multipart round trip");

    // Files to move around.
    let src = w.join("src");
    write_tree(&src);
    let big = src.join("big.bin");
    let env =
        [("AWS_ACCESS_KEY_ID", ACCESS_KEY), ("AWS_SECRET_ACCESS_KEY", SECRET_KEY), ("AWS_DEFAULT_REGION", "us-east-1")];

    // awscli: a multipart upload (7 MiB > its 8 MiB default? use a small threshold) and a download.
    let aws_cfg = w.join("aws.cfg");
    std::fs::write(&aws_cfg, "[default]\ns3 =\n  multipart_threshold = 2MB\n  multipart_chunksize = 2MB\n")
        .expect("aws cfg");
    let aws = |args: &[&str]| {
        let mut c = Command::new("aws");
        c.envs(env)
            .env("AWS_CONFIG_FILE", &aws_cfg)
            .arg("--endpoint-url")
            .arg(&endpoint)
            .arg("--ca-bundle")
            .arg(&certs.ca)
            .args(args);
        run(&mut c)
    };
    aws(&["s3", "cp", big.to_str().expect("path"), &format!("s3://{bucket}/cli/big.bin")]);
    let back = w.join("cli-big.bin");
    aws(&["s3", "cp", &format!("s3://{bucket}/cli/big.bin"), back.to_str().expect("path")]);
    assert_same_file(&big, &back);
    let head = aws(&["s3api", "head-object", "--bucket", &bucket, "--key", "cli/big.bin"]);
    assert!(head.contains("\"ContentLength\": 7340035"), "{head}");

    // boto3 (current PyPI version, default checksums), path and virtual-hosted style.
    let script = w.join("boto.py");
    std::fs::write(&script, BOTO3_SCRIPT).expect("script");
    run(Command::new(boto3_python())
        .envs(env)
        .env("AWS_CA_BUNDLE", &certs.ca)
        .arg(&script)
        .arg(&endpoint)
        .arg(format!("https://{DOMAIN}:{}", nginx.addr.port()))
        .arg(&bucket)
        .arg(&big));

    // rclone (Debian package): sync a tree up and back.
    let rclone = |args: &[&str]| {
        let mut c = Command::new("rclone");
        c.env("RCLONE_CONFIG_COFFER_TYPE", "s3")
            .env("RCLONE_CONFIG_COFFER_PROVIDER", "Other")
            .env("RCLONE_CONFIG_COFFER_ACCESS_KEY_ID", ACCESS_KEY)
            .env("RCLONE_CONFIG_COFFER_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("RCLONE_CONFIG_COFFER_ENDPOINT", &endpoint)
            .env("RCLONE_CONFIG_COFFER_REGION", "us-east-1")
            // As on AWS: the bucket has ACLs disabled, which accept no ACL
            // or this one (rclone sends `private` unless told otherwise).
            .env("RCLONE_CONFIG_COFFER_ACL", "bucket-owner-full-control")
            .env("RCLONE_CONFIG", w.join("rclone.conf"))
            // rclone 1.60's --ca-cert and AWS_CA_BUNDLE fail with the S3 backend
            // ("unsupported transport"); Go reads the trust store from SSL_CERT_FILE.
            .env_remove("AWS_CA_BUNDLE")
            .env("SSL_CERT_FILE", &certs.ca)
            .args(args);
        run(&mut c)
    };
    rclone(&["sync", src.to_str().expect("path"), &format!("coffer:{bucket}/tree")]);
    let down = w.join("rclone-down");
    rclone(&["sync", &format!("coffer:{bucket}/tree"), down.to_str().expect("path")]);
    for rel in ["a.txt", "dir/b.bin", "dir/sub/c.bin", "dir/sub/d e.txt", "big.bin"] {
        assert_same_file(&src.join(rel), &down.join(rel));
    }
    rclone(&["check", src.to_str().expect("path"), &format!("coffer:{bucket}/tree")]);

    // s3cmd (Debian package): put, get, ls, del.
    let s3cfg = w.join("s3cfg");
    let hostport = format!("127.0.0.1:{}", nginx.addr.port());
    std::fs::write(
        &s3cfg,
        format!(
            "[default]\naccess_key = {ACCESS_KEY}\nsecret_key = {SECRET_KEY}\nhost_base = {hostport}\nhost_bucket = {hostport}\nuse_https = True\nca_certs_file = {}\ncheck_ssl_certificate = True\nsignature_v2 = False\nbucket_location = us-east-1\n",
            certs.ca.display()
        ),
    )
    .expect("s3cfg");
    let s3cmd = |args: &[&str]| run(Command::new("s3cmd").arg("-c").arg(&s3cfg).args(args));
    let small = src.join("dir/b.bin");
    s3cmd(&["put", small.to_str().expect("path"), &format!("s3://{bucket}/s3cmd/b.bin")]);
    let got = w.join("s3cmd-b.bin");
    s3cmd(&["get", &format!("s3://{bucket}/s3cmd/b.bin"), got.to_str().expect("path")]);
    assert_same_file(&small, &got);
    assert!(s3cmd(&["ls", &format!("s3://{bucket}/s3cmd/")]).contains("s3cmd/b.bin"));
    s3cmd(&["del", &format!("s3://{bucket}/s3cmd/b.bin")]);
    assert!(!s3cmd(&["ls", &format!("s3://{bucket}/s3cmd/")]).contains("b.bin"));

    // curl with presigned PUT and GET.
    let presign = PresigningConfig::expires_in(std::time::Duration::from_secs(300)).expect("presign config");
    let put_url =
        s3.put_object().bucket(&bucket).key("curl/x.bin").presigned(presign.clone()).await.expect("presign put");
    let file = src.join("dir/sub/c.bin");
    run(Command::new("curl")
        .args(["--fail", "--silent", "--show-error", "--cacert"])
        .arg(&certs.ca)
        .arg("-T")
        .arg(&file)
        .arg(put_url.uri()));
    let get_url = s3.get_object().bucket(&bucket).key("curl/x.bin").presigned(presign).await.expect("presign get");
    let fetched = w.join("curl-x.bin");
    run(Command::new("curl")
        .args(["--fail", "--silent", "--show-error", "--cacert"])
        .arg(&certs.ca)
        .arg("-o")
        .arg(&fetched)
        .arg(get_url.uri()));
    assert_same_file(&file, &fetched);
    drop(nginx);
}

#[tokio::test]
async fn a_wrong_host_header_shows_in_the_signature_error() {
    let work = tempfile::Builder::new().prefix("coffer-badhost-").tempdir().expect("tmp");
    let certs = Certs::generate(work.path());
    let server = Server::start_with(ServerOptions::default()).await;
    // The classic mistake: `$host` drops the port the client signed.
    let nginx = nginx_with_shipped_conf(server.s3_addr, &certs, |c| {
        c.replace("proxy_set_header Host $http_host;", "proxy_set_header Host $host;")
    })
    .await;
    let s3 = tls_client(&format!("https://127.0.0.1:{}", nginx.addr.port()), &certs.ca);
    let err = s3.list_buckets().send().await.expect_err("signature mismatch");
    let raw = err.raw_response().expect("response");
    assert_eq!(raw.status().as_u16(), 403);
    let body = String::from_utf8_lossy(raw.body().bytes().expect("body")).into_owned();
    assert!(body.contains("<Code>SignatureDoesNotMatch</Code>"), "{body}");
    // The canonical request shows the Host the server saw: without the port.
    assert!(body.contains("<CanonicalRequest>") && body.contains("host:127.0.0.1\n"), "{body}");
    assert!(body.contains("<StringToSign>") && body.contains("<SignatureProvided>"), "{body}");
}

const BOTO3_SCRIPT: &str = r#"
import hashlib, socket, sys
import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

endpoint, vhost_endpoint, bucket, big = sys.argv[1:5]
s3 = boto3.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}))
body = bytes(range(256)) * 4099
s3.put_object(Bucket=bucket, Key="boto3/small", Body=body)
assert s3.get_object(Bucket=bucket, Key="boto3/small")["Body"].read() == body
s3.upload_file(big, bucket, "boto3/big", Config=TransferConfig(multipart_threshold=2 * 1024 * 1024, multipart_chunksize=2 * 1024 * 1024))
s3.download_file(bucket, "boto3/big", big + ".boto3")
assert hashlib.sha256(open(big, "rb").read()).digest() == hashlib.sha256(open(big + ".boto3", "rb").read()).digest()
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="boto3/")["Contents"]]
assert keys == ["boto3/big", "boto3/small"], keys

# Virtual-hosted style: BUCKET.s3.coffer.test, resolved to 127.0.0.1 here (no DNS).
real = socket.getaddrinfo
def local(host, *args, **kwargs):
    if host.endswith("s3.coffer.test"):
        host = "127.0.0.1"
    return real(host, *args, **kwargs)
socket.getaddrinfo = local
v = boto3.client("s3", endpoint_url=vhost_endpoint, config=Config(s3={"addressing_style": "virtual"}))
v.put_object(Bucket=bucket, Key="vhost/key", Body=b"virtual")
assert v.get_object(Bucket=bucket, Key="vhost/key")["Body"].read() == b"virtual"
assert s3.get_object(Bucket=bucket, Key="vhost/key")["Body"].read() == b"virtual"
print("boto3 ok")
"#;
