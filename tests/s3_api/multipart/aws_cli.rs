//! The `aws` CLI: `aws s3 cp` up and down with its multipart transfer
//! (default 8 MiB parts), 40 MiB always and 1 GiB when asked for.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::Instant;

use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::MIB;
use crate::common::server::{ACCESS_KEY, REGION, SECRET_KEY};
use crate::common::{test_data, Ctx};

/// Writes `size` pseudo-random bytes to `path` without holding them in
/// memory; returns the SHA-256 (hex) and the MD5 of every `part_size` slice.
fn write_random_file(path: &Path, size: usize, part_size: usize) -> (String, Vec<Vec<u8>>) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create source file"));
    let (mut sha, mut md5, mut md5s) = (Sha256::new(), Md5::new(), Vec::new());
    let (mut written, mut in_part, mut seed) = (0usize, 0usize, 7000u64);
    while written < size {
        let len = MIB.min(size - written).min(part_size - in_part);
        let chunk = test_data(len, seed);
        seed += 1;
        file.write_all(&chunk).expect("write source file");
        sha.update(&chunk);
        md5.update(&chunk);
        (written, in_part) = (written + len, in_part + len);
        if in_part == part_size || written == size {
            md5s.push(md5.finalize_reset().to_vec());
            in_part = 0;
        }
    }
    file.flush().expect("flush source file");
    (hex::encode(sha.finalize()), md5s)
}

fn sha256_file(path: &Path) -> (String, u64) {
    let mut file = std::fs::File::open(path).expect("open downloaded file");
    let (mut sha, mut buf, mut total) = (Sha256::new(), vec![0u8; MIB], 0u64);
    loop {
        let n = file.read(&mut buf).expect("read downloaded file");
        if n == 0 {
            return (hex::encode(sha.finalize()), total);
        }
        sha.update(&buf[..n]);
        total += n as u64;
    }
}

async fn aws_cli(ctx: &Ctx, config: &Path, args: &[&str]) {
    let out = tokio::process::Command::new("aws")
        .args(args)
        .args(["--endpoint-url", &ctx.server.endpoint(), "--only-show-errors"])
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_CONFIG_FILE", config)
        .env("AWS_SHARED_CREDENTIALS_FILE", config.with_file_name("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .output()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("the `aws` CLI is not on PATH; install awscli (e.g. `pip install awscli`) to run this test")
        }
        Err(e) => panic!("running `aws`: {e}"),
    };
    assert!(
        out.status.success(),
        "aws {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `aws s3 cp` up and down with the CLI's multipart transfer (8 MiB parts).
async fn aws_cli_round_trip(tag: &str, size: usize) {
    const PART: usize = 8 * MIB;
    let ctx = Ctx::new(tag).await;
    let tmp = tempfile::Builder::new().prefix("coffer-awscli-").tempdir().expect("temp dir");
    let config = tmp.path().join("config");
    std::fs::write(
        &config,
        "[default]\ns3 =\n    addressing_style = path\n    multipart_threshold = 8MB\n    multipart_chunksize = 8MB\n",
    )
    .expect("write aws config");
    let source = tmp.path().join("upload.bin");
    let (sha, md5s) = write_random_file(&source, size, PART);
    let url = format!("s3://{}/big/file.bin", ctx.bucket);
    let started = Instant::now();
    aws_cli(&ctx, &config, &["s3", "cp", source.to_str().expect("UTF-8 path"), &url]).await;
    let up = started.elapsed();

    let head = ctx.s3.head_object().bucket(&ctx.bucket).key("big/file.bin").send().await.expect("head");
    assert_eq!(head.content_length(), Some(size as i64));
    let mut md5 = Md5::new();
    md5s.iter().for_each(|d| md5.update(d));
    let etag = format!("\"{}-{}\"", hex::encode(md5.finalize()), size.div_ceil(PART));
    assert_eq!(head.e_tag(), Some(etag.as_str()), "multipart ETag of the CLI's 8 MiB parts");

    let target = tmp.path().join("download.bin");
    let started = Instant::now();
    aws_cli(&ctx, &config, &["s3", "cp", &url, target.to_str().expect("UTF-8 path")]).await;
    let down = started.elapsed();
    assert_eq!(sha256_file(&target), (sha, size as u64), "downloaded file is byte-identical");
    eprintln!("aws s3 cp {size} bytes: upload {up:?}, download {down:?}");
}

#[tokio::test]
async fn aws_cli_cp_40_mib() {
    aws_cli_round_trip("mpu-awscli", 40 * MIB).await;
}

#[tokio::test]
#[ignore = "1 GiB through the aws CLI; run: CARGO_TARGET_DIR=/root/.cache/coffer-target cargo test --release -p coffer --test s3_api multipart::aws_cli::aws_cli_cp_1_gib -- --ignored"]
async fn aws_cli_cp_1_gib() {
    aws_cli_round_trip("mpu-awscli-1g", 1024 * MIB).await;
}
