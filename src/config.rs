//! The only reader of command-line flags, environment and the TOML file.
//!
//! Precedence, highest first: flag, environment variable, TOML file, default.
//! The result is validated into a typed [`Config`] shared as `Arc<Config>`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

/// Smallest size of a multipart part other than the last (AWS: 5 MiB).
pub const MIN_PART_SIZE_BYTES: u64 = 5 * 1024 * 1024;

/// Largest object a single PUT may carry (AWS: 5 GiB).
pub const MAX_PUT_SIZE_BYTES: u64 = 5 * 1024 * 1024 * 1024;

#[derive(Debug, Parser)]
#[command(name = "coffer", version = env!("COFFER_VERSION"), about = "Coffer: an S3-compatible object storage server")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the S3 server.
    Server(ServerArgs),
    /// Administer a running server: users, access keys, policies and groups
    /// (IAM API), status, heal and scrub (admin API).
    Admin(crate::admin_cli::AdminArgs),
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// TOML configuration file.
    #[arg(long, env = "COFFER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (AZ directories az1, az2, az3 inside). Default ./coffer-data
    #[arg(long, env = "COFFER_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the S3 listener. Default 127.0.0.1:9000
    #[arg(long, env = "COFFER_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Address of the admin listener (health, later metrics). Default 127.0.0.1:9001
    #[arg(long, env = "COFFER_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// Region name used in signatures and bucket locations. Default us-east-1
    #[arg(long, env = "COFFER_REGION")]
    pub region: Option<String>,
    /// Domain for virtual-hosted-style requests (BUCKET.DOMAIN). Path-style always works.
    #[arg(long, env = "COFFER_DOMAIN")]
    pub domain: Option<String>,
    /// Log filter (tracing env-filter syntax), e.g. `info` or `coffer=debug`.
    #[arg(long, env = "COFFER_LOG", default_value = "info")]
    pub log: String,
    /// Addresses or CIDR ranges of reverse proxies (e.g. nginx) whose
    /// `X-Forwarded-For`/`X-Forwarded-Proto` headers are believed. Repeatable;
    /// the environment variable takes a comma-separated list.
    #[arg(long = "trusted-proxy", env = "COFFER_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Bearer token for the admin API (`Authorization: Bearer <token>`); without one the admin API answers 401.
    #[arg(long, env = "COFFER_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Seconds between scrub passes over every object. Default 604800 (weekly)
    #[arg(long, env = "COFFER_SCRUB_INTERVAL_SECS")]
    pub scrub_interval_secs: Option<u64>,
    /// Read rate limit of the scrubber, bytes per second (0 = unlimited). Default 20 MiB/s
    #[arg(long, env = "COFFER_SCRUB_BYTES_PER_SEC")]
    pub scrub_bytes_per_sec: Option<u64>,
    /// Read rate limit of heal passes started by the admin API, bytes per second (0 = unlimited). Default 0
    #[arg(long, env = "COFFER_HEAL_BYTES_PER_SEC")]
    pub heal_bytes_per_sec: Option<u64>,
    /// Metadata block cache shared by the three replicas, MiB. Default 32
    #[arg(long, env = "COFFER_METADATA_CACHE_MIB")]
    pub metadata_cache_mib: Option<u64>,
    /// Stripe buffers all uploads together may hold, MiB; uploads beyond it wait, then get 503 SlowDown. Default 256
    #[arg(long, env = "COFFER_WRITE_BUFFER_MIB")]
    pub write_buffer_mib: Option<u64>,
    /// Stripe buffers all downloads of large objects together may hold, MiB; downloads beyond it wait, then get 503 SlowDown. Default 256
    #[arg(long, env = "COFFER_READ_BUFFER_MIB")]
    pub read_buffer_mib: Option<u64>,
    /// Client connections the S3 listener serves at once; further clients wait in the kernel's accept queue. Default 1024
    #[arg(long, env = "COFFER_MAX_CONNECTIONS")]
    pub max_connections: Option<u64>,
    /// Keyring file (SSE-S3 master key, SSE-KMS keys), outside the zone directories. Default <data-dir>/keyring.json
    #[arg(long, env = "COFFER_KEYRING_FILE")]
    pub keyring_file: Option<PathBuf>,
    /// Encryption of objects that ask for none in buckets without a default: none or sse-s3. Default none
    #[arg(long, env = "COFFER_DEFAULT_ENCRYPTION")]
    pub default_encryption: Option<String>,
    /// Accept SSE-C keys over plain HTTP (local testing only; AWS refuses them)
    #[arg(long, env = "COFFER_ALLOW_SSE_C_OVER_HTTP")]
    pub allow_sse_c_over_http: bool,
    /// Refuse AWS Signature Version 2 (HMAC-SHA1) requests, as AWS does for buckets created since 2020
    #[arg(long, env = "COFFER_DISABLE_SIGNATURE_V2")]
    pub disable_signature_v2: bool,
    /// SSE-S3 master key as base64 of 32 bytes, instead of the keyring's (environment only)
    #[arg(long, env = "COFFER_SSE_MASTER_KEY", hide = true, hide_env_values = true)]
    pub sse_master_key: Option<String>,
    /// Settings of new buckets: current (AWS since April 2023: ACLs disabled, Block Public Access on) or legacy (ACLs enabled, no Block Public Access). Default current
    #[arg(long, env = "COFFER_NEW_BUCKET_DEFAULTS")]
    pub new_bucket_defaults: Option<String>,
    /// Log format of the server's own logs (stderr): text or json. Default text
    #[arg(long, env = "COFFER_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Access log, one JSON line per request: a file path, `stdout`, or `off`. Default off
    #[arg(long, env = "COFFER_ACCESS_LOG")]
    pub access_log: Option<String>,
    /// Host suffix of static websites: `BUCKET.NAME` on the S3 listener serves the bucket's website. Default none
    #[arg(long, env = "COFFER_WEBSITE_DOMAIN")]
    pub website_domain: Option<String>,
    /// Seconds between lifecycle passes over the buckets with lifecycle rules. Default 3600
    #[arg(long, env = "COFFER_LIFECYCLE_INTERVAL_SECS")]
    pub lifecycle_interval_secs: Option<u64>,
    /// Test-only: a lifecycle "day" lasts this many milliseconds (no rounding to midnight); passes run 4 times a day.
    #[arg(long, hide = true)]
    pub test_lifecycle_day_ms: Option<u64>,
    /// Test-only: scrub interval in milliseconds, overriding scrub_interval_secs.
    #[arg(long, hide = true)]
    pub test_scrub_interval_ms: Option<u64>,
    /// Test-only: lowers the 5 MiB minimum size of multipart parts (not for production).
    #[arg(long, hide = true)]
    pub test_min_part_size_bytes: Option<u64>,
    /// Test-only: how long an upload or download waits for stripe buffers before 503 SlowDown (default 10 s).
    #[arg(long, hide = true)]
    pub test_buffer_wait_ms: Option<u64>,
    /// Root access key id (normally from the environment).
    #[arg(long, env = "COFFER_ROOT_ACCESS_KEY", hide = true)]
    pub root_access_key: Option<String>,
    /// Root secret key (normally from the environment; never printed).
    #[arg(long, env = "COFFER_ROOT_SECRET_KEY", hide = true, hide_env_values = true)]
    pub root_secret_key: Option<String>,
}

impl Default for ServerArgs {
    fn default() -> Self {
        ServerArgs {
            config: None,
            data_dir: None,
            listen: None,
            admin_listen: None,
            region: None,
            domain: None,
            log: "info".into(),
            trusted_proxies: Vec::new(),
            admin_token: None,
            scrub_interval_secs: None,
            scrub_bytes_per_sec: None,
            heal_bytes_per_sec: None,
            metadata_cache_mib: None,
            write_buffer_mib: None,
            read_buffer_mib: None,
            max_connections: None,
            new_bucket_defaults: None,
            log_format: None,
            access_log: None,
            website_domain: None,
            lifecycle_interval_secs: None,
            test_lifecycle_day_ms: None,
            keyring_file: None,
            default_encryption: None,
            allow_sse_c_over_http: false,
            disable_signature_v2: false,
            sse_master_key: None,
            test_scrub_interval_ms: None,
            test_min_part_size_bytes: None,
            test_buffer_wait_ms: None,
            root_access_key: None,
            root_secret_key: None,
        }
    }
}

/// The TOML file's shape; every field optional, same names as the flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    region: Option<String>,
    domain: Option<String>,
    shutdown_grace_ms: Option<u64>,
    body_idle_timeout_ms: Option<u64>,
    header_read_timeout_ms: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
    account_public_access_block: Option<FilePublicAccessBlock>,
    admin_token: Option<String>,
    scrub_interval_secs: Option<u64>,
    scrub_bytes_per_sec: Option<u64>,
    heal_bytes_per_sec: Option<u64>,
    metadata_cache_mib: Option<u64>,
    write_buffer_mib: Option<u64>,
    read_buffer_mib: Option<u64>,
    max_connections: Option<u64>,
    keyring_file: Option<PathBuf>,
    default_encryption: Option<String>,
    allow_sse_c_over_http: Option<bool>,
    signature_v2: Option<bool>,
    lifecycle_interval_secs: Option<u64>,
    website_domain: Option<String>,
    log_format: Option<String>,
    access_log: Option<String>,
    new_bucket_defaults: Option<String>,
}

/// `[account_public_access_block]`: the server-wide (account-level) Block
/// Public Access settings; absent fields are off.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePublicAccessBlock {
    #[serde(default)]
    block_public_acls: bool,
    #[serde(default)]
    ignore_public_acls: bool,
    #[serde(default)]
    block_public_policy: bool,
    #[serde(default)]
    restrict_public_buckets: bool,
}

/// Validated server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub region: String,
    pub domain: Option<String>,
    /// How long in-flight requests may run after SIGTERM.
    pub shutdown_grace_ms: u64,
    /// A request body that sends nothing for this long fails with RequestTimeout.
    pub body_idle_timeout_ms: u64,
    /// Time allowed to receive a request's headers.
    pub header_read_timeout_ms: u64,
    /// Minimum size of every part but the last (AWS: 5 MiB; lowered only by tests).
    pub min_part_size_bytes: u64,
    /// Root credentials given by the operator; generated and stored when absent.
    pub root_credentials: Option<(String, SecretString)>,
    /// Peers whose forwarding headers give the client address and scheme.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Account-level Block Public Access, combined with each bucket's setting.
    pub account_public_access_block: policy::PublicAccessBlock,
    /// Bearer token of the admin API; `None` disables it (401) but not health.
    pub admin_token: Option<SecretString>,
    /// Time between scrub passes.
    pub scrub_interval: std::time::Duration,
    /// Scrubber read rate limit (bytes/s); `None` = unlimited.
    pub scrub_bytes_per_sec: Option<u64>,
    /// Admin heal read rate limit (bytes/s); `None` = unlimited.
    pub heal_bytes_per_sec: Option<u64>,
    /// Metadata block cache size (bytes).
    pub metadata_cache_bytes: usize,
    /// Write buffers of all uploads together (bytes).
    pub write_buffer_bytes: usize,
    /// Read buffers of all downloads of erasure-coded data together (bytes).
    pub read_buffer_bytes: usize,
    /// How long an upload or download waits for its share of the buffers.
    pub buffer_wait: std::time::Duration,
    /// Connections the S3 listener serves at once.
    pub max_connections: usize,
    /// New buckets get pre-2023 AWS settings (ACLs enabled, no Block Public Access).
    pub legacy_bucket_defaults: bool,
    /// Server logs as JSON lines instead of text.
    pub log_json: bool,
    /// Where the access log goes.
    pub access_log: crate::audit::Target,
    /// Host suffix of static websites (`BUCKET.website_domain`).
    pub website_domain: Option<String>,
    /// Time between lifecycle passes.
    pub lifecycle_interval: std::time::Duration,
    /// The lifecycle day (shortened only by tests).
    pub lifecycle_clock: crate::lifecycle::Clock,
    /// The keyring (master key versions, KMS keys); never inside a zone directory.
    pub keyring_file: PathBuf,
    /// Objects that ask for no encryption, in buckets without a default, get SSE-S3.
    pub default_encryption_sse_s3: bool,
    /// SSE-C over plain HTTP (from a client, not through a trusted TLS proxy) is accepted.
    pub allow_sse_c_over_http: bool,
    /// A master key from the environment, used instead of the keyring's versions.
    pub sse_master_key: Option<SecretString>,
    /// AWS Signature Version 2 requests are verified (else refused).
    pub signature_v2: bool,
}

/// Parses a trusted proxy: an address (`127.0.0.1`, `::1`) or a CIDR range.
fn parse_proxy(text: &str) -> Result<ipnet::IpNet, ConfigError> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)).map_err(|_| {
        ConfigError::Invalid {
            field: "trusted_proxies",
            message: format!("{text:?} is not an IP address or CIDR range"),
        }
    })
}

/// A secret that never appears in `Debug` output.
#[derive(Clone)]
pub struct SecretString(pub String);

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid value for `{field}`: {message}")]
    Invalid { field: &'static str, message: String },
}

impl Config {
    pub fn from_args(args: &ServerArgs) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(path) => load_file(path)?,
            None => FileConfig::default(),
        };
        let region = args.region.clone().or(file.region).unwrap_or_else(|| "us-east-1".to_string());
        if region.is_empty() || !region.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(ConfigError::Invalid {
                field: "region",
                message: format!("{region:?} is not a region name (letters, digits and '-')"),
            });
        }
        let domain = args.domain.clone().or(file.domain).map(|d| d.trim_end_matches('.').to_ascii_lowercase());
        if let Some(d) = &domain {
            if d.is_empty() || d.contains(':') || d.contains('/') {
                return Err(ConfigError::Invalid { field: "domain", message: format!("{d:?} is not a host name") });
            }
        }
        let proxies = if args.trusted_proxies.is_empty() {
            file.trusted_proxies.unwrap_or_default()
        } else {
            args.trusted_proxies.clone()
        };
        let trusted_proxies =
            proxies.iter().filter(|p| !p.trim().is_empty()).map(|p| parse_proxy(p)).collect::<Result<Vec<_>, _>>()?;
        let account_bpa = file.account_public_access_block.unwrap_or_default();
        let data_dir = args.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("./coffer-data"));
        let keyring_file =
            args.keyring_file.clone().or(file.keyring_file).unwrap_or_else(|| data_dir.join("keyring.json"));
        if ["az1", "az2", "az3"].iter().any(|z| keyring_file.starts_with(data_dir.join(z))) {
            return Err(ConfigError::Invalid {
                field: "keyring_file",
                message: "must be outside the zone directories (whoever holds the disks must not hold the keys)".into(),
            });
        }
        let default_encryption_sse_s3 =
            match args.default_encryption.clone().or(file.default_encryption).as_deref().map(str::trim) {
                None | Some("none") => false,
                Some("sse-s3") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        field: "default_encryption",
                        message: format!("{other:?}: expected \"none\" or \"sse-s3\""),
                    })
                }
            };
        let lifecycle_clock = match args.test_lifecycle_day_ms {
            Some(ms) => crate::lifecycle::Clock { day_ms: ms.max(1), round_to_day: false },
            None => crate::lifecycle::Clock::real(),
        };
        let lifecycle_interval = match args.test_lifecycle_day_ms {
            Some(ms) => std::time::Duration::from_millis((ms / 4).max(20)),
            None => {
                let secs = args.lifecycle_interval_secs.or(file.lifecycle_interval_secs).unwrap_or(3600);
                if secs == 0 {
                    return Err(ConfigError::Invalid {
                        field: "lifecycle_interval_secs",
                        message: "must be at least 1 second".into(),
                    });
                }
                std::time::Duration::from_secs(secs)
            }
        };
        let website_domain =
            args.website_domain.clone().or(file.website_domain).map(|d| d.trim_end_matches('.').to_ascii_lowercase());
        if let Some(w) = &website_domain {
            if w.is_empty() || w.contains(':') || w.contains('/') || Some(w) == domain.as_ref() {
                return Err(ConfigError::Invalid {
                    field: "website_domain",
                    message: format!("{w:?} must be a host name other than `domain`"),
                });
            }
        }
        let log_json = match args.log_format.clone().or(file.log_format).as_deref().map(str::trim) {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    field: "log_format",
                    message: format!("{other:?}: expected \"text\" or \"json\""),
                })
            }
        };
        let access_log =
            crate::audit::Target::parse(args.access_log.as_deref().or(file.access_log.as_deref()).unwrap_or("off"));
        let legacy_bucket_defaults =
            match args.new_bucket_defaults.clone().or(file.new_bucket_defaults).as_deref().map(str::trim) {
                None | Some("current") => false,
                Some("legacy") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        field: "new_bucket_defaults",
                        message: format!("{other:?}: expected \"current\" or \"legacy\""),
                    })
                }
            };
        let config = Config {
            legacy_bucket_defaults,
            log_json,
            access_log,
            website_domain,
            lifecycle_interval,
            lifecycle_clock,
            keyring_file,
            default_encryption_sse_s3,
            allow_sse_c_over_http: args.allow_sse_c_over_http || file.allow_sse_c_over_http.unwrap_or(false),
            sse_master_key: args.sse_master_key.clone().map(SecretString),
            signature_v2: !args.disable_signature_v2 && file.signature_v2.unwrap_or(true),
            data_dir,
            listen: args.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9000))),
            admin_listen: args
                .admin_listen
                .or(file.admin_listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 9001))),
            region,
            domain,
            shutdown_grace_ms: file.shutdown_grace_ms.unwrap_or(30_000),
            body_idle_timeout_ms: file.body_idle_timeout_ms.unwrap_or(60_000),
            header_read_timeout_ms: file.header_read_timeout_ms.unwrap_or(30_000),
            min_part_size_bytes: args.test_min_part_size_bytes.unwrap_or(MIN_PART_SIZE_BYTES),
            admin_token: args.admin_token.clone().or(file.admin_token).map(SecretString),
            scrub_interval: match args.test_scrub_interval_ms {
                Some(ms) => std::time::Duration::from_millis(ms.max(10)),
                None => {
                    let secs = args.scrub_interval_secs.or(file.scrub_interval_secs).unwrap_or(7 * 24 * 3600);
                    if secs == 0 {
                        return Err(ConfigError::Invalid {
                            field: "scrub_interval_secs",
                            message: "must be at least 1 second".into(),
                        });
                    }
                    std::time::Duration::from_secs(secs)
                }
            },
            scrub_bytes_per_sec: Some(args.scrub_bytes_per_sec.or(file.scrub_bytes_per_sec).unwrap_or(20 << 20))
                .filter(|r| *r > 0),
            heal_bytes_per_sec: args.heal_bytes_per_sec.or(file.heal_bytes_per_sec).filter(|r| *r > 0),
            metadata_cache_bytes: mib_bytes(
                "metadata_cache_mib",
                args.metadata_cache_mib.or(file.metadata_cache_mib).unwrap_or(32),
            )?,
            write_buffer_bytes: mib_bytes(
                "write_buffer_mib",
                args.write_buffer_mib.or(file.write_buffer_mib).unwrap_or(256),
            )?,
            read_buffer_bytes: mib_bytes(
                "read_buffer_mib",
                args.read_buffer_mib.or(file.read_buffer_mib).unwrap_or(256),
            )?,
            buffer_wait: std::time::Duration::from_millis(args.test_buffer_wait_ms.unwrap_or(10_000)),
            max_connections: match args.max_connections.or(file.max_connections).unwrap_or(1024) {
                n @ 1..=1_000_000 => n as usize,
                other => {
                    return Err(ConfigError::Invalid {
                        field: "max_connections",
                        message: format!("{other} is not between 1 and 1000000"),
                    })
                }
            },
            root_credentials: match (&args.root_access_key, &args.root_secret_key) {
                (Some(ak), Some(sk)) => Some((ak.clone(), SecretString(sk.clone()))),
                (None, None) => None,
                _ => {
                    return Err(ConfigError::Invalid {
                        field: "COFFER_ROOT_ACCESS_KEY",
                        message: "COFFER_ROOT_ACCESS_KEY and COFFER_ROOT_SECRET_KEY must be set together".into(),
                    })
                }
            },
            trusted_proxies,
            account_public_access_block: policy::PublicAccessBlock {
                block_public_acls: account_bpa.block_public_acls,
                ignore_public_acls: account_bpa.ignore_public_acls,
                block_public_policy: account_bpa.block_public_policy,
                restrict_public_buckets: account_bpa.restrict_public_buckets,
            },
        };
        if let Some((ak, sk)) = &config.root_credentials {
            if ak.len() < 3 || ak.len() > 128 || !ak.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(ConfigError::Invalid {
                    field: "COFFER_ROOT_ACCESS_KEY",
                    message: "must be 3 to 128 letters and digits".into(),
                });
            }
            if sk.0.len() < 8 {
                return Err(ConfigError::Invalid {
                    field: "COFFER_ROOT_SECRET_KEY",
                    message: "must be at least 8 characters".into(),
                });
            }
        }
        if let Some(token) = &config.admin_token {
            if token.0.len() < 8 || token.0.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ConfigError::Invalid {
                    field: "admin_token",
                    message: "must be at least 8 characters without spaces".into(),
                });
            }
        }
        if config.listen == config.admin_listen && config.listen.port() != 0 {
            return Err(ConfigError::Invalid { field: "admin_listen", message: "must differ from listen".into() });
        }
        Ok(config)
    }
}

fn load_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })
}

/// A size setting in MiB (1–65536), in bytes.
fn mib_bytes(field: &'static str, mib: u64) -> Result<usize, ConfigError> {
    match mib {
        1..=65_536 => Ok((mib as usize) << 20),
        other => Err(ConfigError::Invalid { field, message: format!("{other} is not between 1 and 65536") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let config = Config::from_args(&ServerArgs::default()).expect("defaults are valid");
        assert_eq!(config.data_dir, PathBuf::from("./coffer-data"));
        assert_eq!(config.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(config.admin_listen.to_string(), "127.0.0.1:9001");
        assert_eq!(config.region, "us-east-1");
        assert!(config.domain.is_none());
    }

    #[test]
    fn file_values_apply_and_flags_win() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("coffer.toml");
        std::fs::write(&path, "region = \"eu-west-1\"\nlisten = \"127.0.0.1:9100\"\ndomain = \"S3.Example.com\"\n")
            .expect("write");
        let args = ServerArgs {
            config: Some(path),
            listen: Some("127.0.0.1:9200".parse().expect("addr")),
            ..Default::default()
        };
        let config = Config::from_args(&args).expect("valid");
        assert_eq!(config.region, "eu-west-1");
        assert_eq!(config.listen.to_string(), "127.0.0.1:9200");
        assert_eq!(config.domain.as_deref(), Some("s3.example.com"));
    }

    #[test]
    fn trusted_proxies_and_account_public_access_block() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("coffer.toml");
        std::fs::write(
            &path,
            "trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n[account_public_access_block]\nblock_public_policy = true\n",
        )
        .expect("write");
        let config =
            Config::from_args(&ServerArgs { config: Some(path.clone()), ..Default::default() }).expect("valid");
        assert_eq!(config.trusted_proxies.len(), 2);
        assert!(config.trusted_proxies[1].contains(&"10.1.2.3".parse::<std::net::IpAddr>().expect("ip")));
        assert!(config.account_public_access_block.block_public_policy);
        assert!(!config.account_public_access_block.block_public_acls);
        let args = ServerArgs { config: Some(path), trusted_proxies: vec!["nginx".into()], ..Default::default() };
        let err = Config::from_args(&args).expect_err("invalid");
        assert!(err.to_string().contains("trusted_proxies"), "{err}");
    }

    #[test]
    fn unknown_field_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("coffer.toml");
        std::fs::write(&path, "regoin = \"x\"\n").expect("write");
        let err = Config::from_args(&ServerArgs { config: Some(path), ..Default::default() }).expect_err("invalid");
        assert!(err.to_string().contains("regoin"), "{err}");
    }

    #[test]
    fn ops_settings_default_and_validate() {
        let config = Config::from_args(&ServerArgs::default()).expect("defaults are valid");
        assert_eq!(config.scrub_interval, std::time::Duration::from_secs(7 * 24 * 3600));
        assert_eq!(config.scrub_bytes_per_sec, Some(20 << 20));
        assert!(config.admin_token.is_none() && config.heal_bytes_per_sec.is_none());
        let short = ServerArgs { admin_token: Some("short".into()), ..Default::default() };
        assert!(Config::from_args(&short).expect_err("too short").to_string().contains("admin_token"));
        let zero = ServerArgs { scrub_interval_secs: Some(0), ..Default::default() };
        assert!(Config::from_args(&zero).expect_err("zero").to_string().contains("scrub_interval_secs"));
        assert_eq!(config.metadata_cache_bytes, 32 << 20);
        let cache = ServerArgs { metadata_cache_mib: Some(256), ..Default::default() };
        assert_eq!(Config::from_args(&cache).expect("valid").metadata_cache_bytes, 256 << 20);
        for bad in [0, 65_537] {
            let args = ServerArgs { metadata_cache_mib: Some(bad), ..Default::default() };
            assert!(Config::from_args(&args).expect_err("out of range").to_string().contains("metadata_cache_mib"));
        }
        assert_eq!(config.write_buffer_bytes, 256 << 20);
        assert_eq!(config.read_buffer_bytes, 256 << 20);
        assert_eq!(config.buffer_wait, std::time::Duration::from_secs(10));
        assert_eq!(config.max_connections, 1024);
        for bad in [0, 1_000_001] {
            let args = ServerArgs { max_connections: Some(bad), ..Default::default() };
            assert!(Config::from_args(&args).expect_err("out of range").to_string().contains("max_connections"));
        }
        let buffers = ServerArgs { write_buffer_mib: Some(64), read_buffer_mib: Some(48), ..Default::default() };
        let sized = Config::from_args(&buffers).expect("valid");
        assert_eq!((sized.write_buffer_bytes, sized.read_buffer_bytes), (64 << 20, 48 << 20));
        for bad in [0, 65_537] {
            let args = ServerArgs { write_buffer_mib: Some(bad), ..Default::default() };
            assert!(Config::from_args(&args).expect_err("out of range").to_string().contains("write_buffer_mib"));
            let args = ServerArgs { read_buffer_mib: Some(bad), ..Default::default() };
            assert!(Config::from_args(&args).expect_err("out of range").to_string().contains("read_buffer_mib"));
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("coffer.toml");
        std::fs::write(
            &path,
            "admin_token = \"file-token-123\"\nscrub_interval_secs = 3600\nscrub_bytes_per_sec = 0\nwrite_buffer_mib = 32\nread_buffer_mib = 16\nmax_connections = 64\n",
        )
        .expect("write");
        let config = Config::from_args(&ServerArgs { config: Some(path), ..Default::default() }).expect("valid");
        assert_eq!(config.admin_token.map(|t| t.0).as_deref(), Some("file-token-123"));
        assert_eq!(config.scrub_interval, std::time::Duration::from_secs(3600));
        assert_eq!((config.write_buffer_bytes, config.read_buffer_bytes), (32 << 20, 16 << 20));
        assert_eq!(config.max_connections, 64);
        assert_eq!(config.scrub_bytes_per_sec, None, "0 means unlimited");
    }
}
