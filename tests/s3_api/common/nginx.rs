//! A real nginx (Debian's package) for the tests that put Coffer behind a
//! proxy: started with a temporary prefix and a caller-given `http` block
//! body, checked with `nginx -t`, killed by PID when dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NGINX: &str = "/usr/sbin/nginx";

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

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

impl Nginx {
    /// nginx serving on 127.0.0.1:PORT, with `http_body(PORT, prefix dir)` inside its `http` block.
    pub async fn start(http_body: impl FnOnce(u16, &Path) -> String) -> Nginx {
        assert!(Path::new(NGINX).exists(), "{NGINX} is missing: install Debian's nginx package (.ci/run does)");
        let dir = tempfile::Builder::new().prefix("coffer-nginx-").tempdir().expect("tempdir");
        let port = free_port();
        let d = dir.path().display();
        let body = http_body(port, dir.path());
        let conf = format!(
            "daemon off;\nmaster_process off;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\nevents {{ worker_connections 256; }}\nhttp {{\n    access_log off;\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n    fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n{body}\n}}\n"
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).expect("write nginx.conf");
        let check =
            Command::new(NGINX).arg("-t").arg("-c").arg(&path).arg("-p").arg(dir.path()).output().expect("nginx -t");
        assert!(check.status.success(), "nginx -t: {}", String::from_utf8_lossy(&check.stderr));
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
