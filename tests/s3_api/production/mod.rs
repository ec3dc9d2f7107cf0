//! Coffer behind a real nginx (Debian's package) terminating TLS with
//! `docs/nginx/coffer.conf`, driven by the real clients operators use:
//! aws-sdk-s3, awscli, boto3, rclone, s3cmd and curl (presigned URLs, SigV4,
//! virtual-hosted style). The shipped nginx file is used as it is, with only
//! its ports, certificate paths and domain substituted.

mod clients;
mod restart;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NGINX: &str = "/usr/sbin/nginx";
/// The S3 domain of these tests (never resolved by DNS: clients pin it to 127.0.0.1).
pub const DOMAIN: &str = "s3.coffer.test";

/// A throwaway CA and a server certificate for 127.0.0.1, `DOMAIN` and `*.DOMAIN`.
pub struct Certs {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Runs a command; panics with its output unless it succeeds. Returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
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

/// A running nginx with `docs/nginx/coffer.conf`; killed (by PID) when dropped.
pub struct Nginx {
    child: Child,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// The shipped configuration with this test's addresses, paths and domain.
/// `edit` may change it further (a deliberately broken variant).
pub fn render_conf(upstream: SocketAddr, port: u16, certs: &Certs, edit: impl Fn(String) -> String) -> String {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/nginx/coffer.conf"))
        .expect("docs/nginx/coffer.conf");
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

impl Nginx {
    pub async fn start(upstream: SocketAddr, certs: &Certs, edit: impl Fn(String) -> String) -> Nginx {
        assert!(Path::new(NGINX).exists(), "{NGINX} is missing: install Debian's nginx package (.ci/run does)");
        let dir = tempfile::Builder::new().prefix("coffer-nginx-tls-").tempdir().expect("tempdir");
        let port = free_port();
        let d = dir.path().display();
        std::fs::write(dir.path().join("coffer.conf"), render_conf(upstream, port, certs, edit)).expect("write conf");
        let main = format!(
            "daemon off;\nmaster_process off;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\nhttp {{\n    access_log off;\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n    fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n    include {d}/coffer.conf;\n}}\n"
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, main).expect("write nginx.conf");
        run(Command::new(NGINX).arg("-t").arg("-c").arg(&path).arg("-p").arg(dir.path()));
        let child = Command::new(NGINX)
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nginx");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(addr).await.is_err() {
            assert!(Instant::now() < deadline, "nginx did not start; see {d}/error.log");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Nginx { child, addr, _dir: dir }
    }
}
