//! Stamps the build with its git revision (`QCHECK_GIT_REVISION`), so every comparison report says
//! which qcheck measured it. Outside a git checkout (a crate tarball, a Docker COPY without .git) or
//! without git installed, the revision is `unknown` and the build still succeeds.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let revision = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) if !rev.is_empty() => {
            // Uncommitted changes to tracked files make the build differ from the commit.
            // `--no-optional-locks`: a plain `git status` refreshes and rewrites .git/index, which
            // this script watches, so a fresh clone would rebuild on its second build.
            let dirty = git(&[
                "--no-optional-locks",
                "status",
                "--porcelain",
                "--untracked-files=no",
            ])
            .is_some_and(|s| !s.is_empty());
            if dirty { format!("{rev}-dirty") } else { rev }
        }
        _ => "unknown".to_string(),
    };
    println!("cargo:rustc-env=QCHECK_GIT_REVISION={revision}");

    // Rerun when the commit or the index moves, and when the sources change (which may make the tree
    // dirty). Paths that do not exist would make cargo rerun this on every build, so only existing
    // ones are named.
    if let Some(git_dir) = git(&["rev-parse", "--git-dir"]) {
        let branch = git(&["symbolic-ref", "-q", "HEAD"]).unwrap_or_default();
        for file in ["HEAD", "index", branch.as_str()]
            .into_iter()
            .filter(|f| !f.is_empty())
        {
            let path = Path::new(&git_dir).join(file);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
    for path in ["src", "sql", "datasets", "benches", "Cargo.toml"] {
        if Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
