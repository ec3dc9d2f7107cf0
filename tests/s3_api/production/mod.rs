//! Coffer behind a real nginx (Debian's package) terminating TLS with
//! `docs/nginx/coffer.conf`, driven by the real clients operators use:
//! aws-sdk-s3, awscli, boto3, rclone, s3cmd and curl (presigned URLs, SigV4,
//! virtual-hosted style). The shipped nginx file is used as it is, with only
//! its ports, certificate paths and domain substituted.

mod clients;
mod restart;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::nginx::Nginx;
use crate::common::run;

/// The S3 domain of these tests (never resolved by DNS: clients pin it to 127.0.0.1).
pub const DOMAIN: &str = "s3.coffer.test";

/// A throwaway CA and a server certificate for 127.0.0.1, `DOMAIN` and `*.DOMAIN`.
pub struct Certs {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Certs {
    pub fn generate(dir: &Path) -> Certs {
        let p = |n: &str| dir.join(n);
        let ext = p("san.ext");
        std::fs::write(
            &ext,
            format!("subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:{DOMAIN},DNS:*.{DOMAIN}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"),
        )
        .expect("write ext");
        run(Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Coffer test CA"])
            .arg("-keyout")
            .arg(p("ca.key"))
            .arg("-out")
            .arg(p("ca.pem")));
        run(Command::new("openssl")
            .args(["req", "-newkey", "rsa:2048", "-nodes", "-subj", &format!("/CN={DOMAIN}")])
            .arg("-keyout")
            .arg(p("server.key"))
            .arg("-out")
            .arg(p("server.csr")));
        run(Command::new("openssl")
            .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
            .arg("-in")
            .arg(p("server.csr"))
            .arg("-CA")
            .arg(p("ca.pem"))
            .arg("-CAkey")
            .arg(p("ca.key"))
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(p("server.pem")));
        Certs { ca: p("ca.pem"), cert: p("server.pem"), key: p("server.key") }
    }
}

/// The shipped configuration with this test's addresses, paths and domain.
/// `edit` may change it further (a deliberately broken variant).
pub fn render_conf(upstream: SocketAddr, port: u16, certs: &Certs, edit: impl Fn(String) -> String) -> String {
    // The checkout being tested, as cargo tells the running test (a binary
    // reused from a shared target directory may have been built elsewhere).
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
    let path = format!("{root}/docs/nginx/coffer.conf");
    let shipped = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut conf = shipped;
    for (from, to) in [
        ("server 127.0.0.1:9000;", format!("server {upstream};")),
        ("listen 443 ssl default_server;", format!("listen 127.0.0.1:{port} ssl default_server;")),
        ("listen [::]:443 ssl default_server;", String::new()),
        ("/etc/ssl/coffer/fullchain.pem", certs.cert.display().to_string()),
        ("/etc/ssl/coffer/privkey.pem", certs.key.display().to_string()),
        ("s3.example.com", DOMAIN.to_string()),
    ] {
        assert!(conf.contains(from), "docs/nginx/coffer.conf no longer contains {from:?}");
        conf = conf.replace(from, &to);
    }
    edit(conf)
}

/// nginx with `docs/nginx/coffer.conf` in front of `upstream`; `edit` may change the file further.
pub async fn nginx_with_shipped_conf(upstream: SocketAddr, certs: &Certs, edit: impl Fn(String) -> String) -> Nginx {
    Nginx::start(|port, dir| {
        std::fs::write(dir.join("coffer.conf"), render_conf(upstream, port, certs, edit)).expect("write conf");
        format!("    include {}/coffer.conf;", dir.display())
    })
    .await
}
