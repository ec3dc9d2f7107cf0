//! Records the git commit the binary is built from, for `coffer --version`
//! (`unknown` outside a git checkout, e.g. a source tarball or a Docker
//! build without `.git`).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some();
    let date = git(&["log", "-1", "--format=%cs"]).unwrap_or_default();
    let version = format!(
        "{} ({}{}{})",
        env!("CARGO_PKG_VERSION"),
        commit,
        if dirty { "-dirty" } else { "" },
        if date.is_empty() { String::new() } else { format!(" {date}") }
    );
    println!("cargo:rustc-env=COFFER_VERSION={version}");
    for path in [".git/HEAD", ".git/index"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let path = format!(".git/{reference}");
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
