//! `coffer-load`: an S3 load generator (see bench/README.md). Targets any S3
//! endpoint with the given credentials and prints a table (or `--json`) of
//! ops/s, MiB/s, latency percentiles and errors per operation.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bench::load::client::Target;
use bench::load::run::{self, Config, SizeSpec, Stop, Workload};
use bench::load::stats::RunInfo;
use bench::load::{units, Op};
use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OpArg {
    Put,
    Get,
    Head,
    Delete,
    List,
    MultipartPut,
    Mixed,
}

#[derive(Debug, Parser)]
#[command(name = "coffer-load", about = "S3 load generator: ops/s, MiB/s and latency percentiles")]
struct Args {
    /// S3 endpoint, http://HOST:PORT (path-style requests).
    #[arg(long, env = "COFFER_LOAD_ENDPOINT", default_value = "http://127.0.0.1:9000")]
    endpoint: String,
    #[arg(long, env = "COFFER_LOAD_ACCESS_KEY", default_value = "")]
    access_key: String,
    #[arg(long, env = "COFFER_LOAD_SECRET_KEY", default_value = "", hide_env_values = true)]
    secret_key: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Created if missing.
    #[arg(long, default_value = "coffer-load")]
    bucket: String,
    #[arg(long, value_enum, default_value = "put")]
    op: OpArg,
    /// Weights of `--op mixed`.
    #[arg(long, default_value = "get=45,put=30,head=15,delete=10")]
    mix: String,
    /// Object size of PUTs and prefill: 4KiB, 64MiB, ...
    #[arg(long, default_value = "4KiB", conflicts_with = "size_dist")]
    size: String,
    /// Log-uniform size range instead of a fixed size: 1KiB..1MiB.
    #[arg(long)]
    size_dist: Option<String>,
    /// Part size of `multipart-put`.
    #[arg(long, default_value = "8MiB")]
    part_size: String,
    /// Requests in flight (one connection each).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Length of the measured phase: 30s, 2m, ...
    #[arg(long, default_value = "30s", conflicts_with = "ops")]
    duration: String,
    /// Run this many operations instead of a duration.
    #[arg(long)]
    ops: Option<u64>,
    /// Objects PUT before measuring (GET, HEAD, DELETE and mixed pick from
    /// them). Default: 4 × concurrency for get/head/mixed, the operation
    /// count (or 10,000) for delete, 0 otherwise.
    #[arg(long)]
    prefill: Option<u64>,
    /// Read/delete the objects already under --list-prefix (written by an
    /// earlier coffer-load run, e.g. before a zone was taken away) instead of
    /// prefilling; found by listing.
    #[arg(long)]
    existing: bool,
    /// Workers of the prefill phase (default: --concurrency).
    #[arg(long)]
    prefill_concurrency: Option<usize>,
    /// Spread the prefill over this many "directories",
    /// PREFIX/<run id>/pre/dNNNNNN/..., for listings with a delimiter; a list
    /// then runs under PREFIX/<run id>/pre/ unless --list-prefix is given.
    #[arg(long)]
    prefill_dirs: Option<u64>,
    /// Fraction of GET bodies compared with the content that was PUT.
    #[arg(long, default_value_t = 0.01)]
    verify_fraction: f64,
    /// Prefix of ListObjectsV2 requests.
    #[arg(long, default_value = "")]
    list_prefix: String,
    /// Delimiter of ListObjectsV2 requests.
    #[arg(long)]
    list_delimiter: Option<String>,
    /// Keys are written under PREFIX/<run id>/.
    #[arg(long, default_value = "coffer-load")]
    key_prefix: String,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    no_progress: bool,
    /// Ask for server-side encryption on PUT and multipart uploads: AES256 (SSE-S3) or aws:kms.
    #[arg(long)]
    sse: Option<String>,
    /// Tokio worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
}

fn config(args: &Args) -> Result<Config, String> {
    let mut target = Target::new(&args.endpoint, &args.bucket, &args.region, &args.access_key, &args.secret_key)?;
    target.sse = args.sse.clone();
    let target = Arc::new(target);
    let (workload, name) = match args.op {
        OpArg::Put => (Workload::Single(Op::Put), "put".to_string()),
        OpArg::Get => (Workload::Single(Op::Get), "get".to_string()),
        OpArg::Head => (Workload::Single(Op::Head), "head".to_string()),
        OpArg::Delete => (Workload::Single(Op::Delete), "delete".to_string()),
        OpArg::List => (Workload::Single(Op::List), "list".to_string()),
        OpArg::MultipartPut => (Workload::Single(Op::MultipartPut), "multipart-put".to_string()),
        OpArg::Mixed => (Workload::Mixed(units::parse_mix(&args.mix)?), format!("mixed({})", args.mix)),
    };
    let (size, size_name) = match &args.size_dist {
        Some(range) => {
            let (a, b) = units::parse_size_range(range)?;
            (SizeSpec::Range(a, b), range.clone())
        }
        None => (SizeSpec::Fixed(units::parse_size(&args.size)?), args.size.clone()),
    };
    // Reads of objects found by listing have their own sizes; --size only
    // applies to what this run writes.
    let size_name = match args.op {
        OpArg::Get | OpArg::Head | OpArg::Delete if args.existing && args.prefill.unwrap_or(0) == 0 => {
            "as listed".to_string()
        }
        _ => size_name,
    };
    let stop = match args.ops {
        Some(n) => Stop::Ops(n),
        None => Stop::Duration(units::parse_duration(&args.duration)?),
    };
    if args.concurrency == 0 {
        return Err("--concurrency must be at least 1".into());
    }
    if !(0.0..=1.0).contains(&args.verify_fraction) {
        return Err("--verify-fraction must be between 0 and 1".into());
    }
    let prefill = args.prefill.unwrap_or(match args.op {
        _ if args.existing => 0,
        OpArg::Get | OpArg::Head | OpArg::Mixed => 4 * args.concurrency as u64,
        OpArg::Delete => args.ops.unwrap_or(10_000),
        _ => 0,
    });
    if prefill == 0 && !args.existing && matches!(args.op, OpArg::Get | OpArg::Head | OpArg::Delete) {
        return Err("get, head and delete need objects: --prefill must be at least 1".into());
    }
    let run_id = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let key_prefix = format!("{}/{run_id}", args.key_prefix.trim_end_matches('/'));
    let prefill_dirs = args.prefill_dirs.unwrap_or(0);
    let list_prefix = match (prefill_dirs, args.list_prefix.as_str()) {
        (1.., "") => format!("{key_prefix}/pre/"),
        _ => args.list_prefix.clone(),
    };
    Ok(Config {
        info: RunInfo {
            endpoint: args.endpoint.clone(),
            bucket: args.bucket.clone(),
            workload: name,
            size: size_name,
            concurrency: args.concurrency,
            prefill,
        },
        target,
        workload,
        size,
        concurrency: args.concurrency,
        stop,
        prefill,
        existing: args.existing,
        prefill_concurrency: args.prefill_concurrency.unwrap_or(args.concurrency),
        prefill_dirs,
        verify_fraction: args.verify_fraction,
        part_size: units::parse_size(&args.part_size)?,
        list_prefix,
        list_delimiter: args.list_delimiter.clone(),
        key_prefix,
        progress: !args.no_progress && !args.json,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("coffer-load: {e}");
            return ExitCode::from(2);
        }
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = match rt.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("coffer-load: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run::run(config)) {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("coffer-load: JSON: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{}", report.table());
            }
            if report.total_errors > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("coffer-load: {e}");
            ExitCode::FAILURE
        }
    }
}
