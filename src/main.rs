//! The `coffer` command: `coffer server` runs the S3 server; `coffer admin`
//! administers a running one.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use coffer::config::{Cli, Command, Config};
use coffer::credentials::{Credentials, Loaded, ROOT_CREDENTIALS_FILE};
use storage_engine::{Engine, EngineConfig};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Admin(args) => coffer::admin_cli::run(args),
        Command::Server(args) => {
            let config = match Config::from_args(&args) {
                Ok(c) => Arc::new(c),
                Err(err) => {
                    eprintln!("coffer: {err}");
                    return ExitCode::from(2);
                }
            };
            let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            // A log line that cannot be written (the disk holding the log is
            // full, a closed pipe) is dropped: by default the subscriber would
            // report that on stderr with `eprintln!`, which panics when stderr
            // fails too, taking down the thread that logged (the server at
            // start-up, a request's blocking task later on).
            let logs = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .log_internal_errors(false);
            if config.log_json {
                logs.json().init();
            } else {
                logs.init();
            }
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(err) => {
                    eprintln!("coffer: cannot start the runtime: {err}");
                    return ExitCode::FAILURE;
                }
            };
            match runtime.block_on(serve(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(message) => {
                    eprintln!("coffer: {message}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn serve(config: Arc<Config>) -> Result<(), String> {
    let credentials = match Credentials::load(&config).map_err(|e| format!("root credentials: {e}"))? {
        Loaded::FromConfig(c) | Loaded::FromFile(c) => c,
        Loaded::Generated(c) => {
            println!(
                "coffer: generated root credentials (stored in {}):",
                config.data_dir.join(ROOT_CREDENTIALS_FILE).display()
            );
            println!("coffer:   access key id:     {}", c.root_access_key_id());
            println!("coffer:   secret access key: {}", c.root_secret_for_display());
            c
        }
    };
    // A successor started by a handover (SIGUSR2) waits for its predecessor to
    // drain and release the data directory; connections wait in the sockets' queues.
    let handover = std::env::var_os("COFFER_HANDOVER").is_some();
    let deadline = std::time::Instant::now()
        + std::time::Duration::from_millis(config.shutdown_grace_ms)
        + std::time::Duration::from_secs(30);
    let mut engine_config = EngineConfig::new(&config.data_dir);
    engine_config.heal_bytes_per_sec = config.heal_bytes_per_sec;
    engine_config.metadata_cache_bytes = config.metadata_cache_bytes;
    engine_config.write_buffer_bytes = config.write_buffer_bytes;
    engine_config.read_buffer_bytes = config.read_buffer_bytes;
    engine_config.buffer_wait = config.buffer_wait;
    let engine = loop {
        match Engine::open(engine_config.clone()).await {
            Ok(engine) => break engine,
            Err(e) if handover && std::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "waiting for the previous process to release the data directory");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(e) => return Err(format!("cannot open the storage engine in {}: {e}", config.data_dir.display())),
        }
    };
    coffer::server::run(config, engine, credentials).await.map_err(|e| e.to_string())
}
