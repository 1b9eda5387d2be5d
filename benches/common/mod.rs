//! What the benchmarks share: how criterion was invoked, and a throwaway home for a test-mode run.
#![allow(dead_code)] // each bench binary uses its own subset

use std::os::unix::fs::PermissionsExt;

/// How the bench binary was started, decided as criterion decides it (`configure_from_args`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invocation {
    /// `cargo bench -- --list`: enumerate only, touch no database.
    List,
    /// `cargo test --benches` or `cargo bench -- --test`: run every benchmark once, on small
    /// throwaway data, to prove the code works; never seed the user's cached dataset.
    Test,
    /// `cargo bench`: measure.
    Bench,
}

/// Reads the arguments the way criterion does: without `--bench` (cargo test) or with `--test` it
/// runs each benchmark once.
pub fn invocation() -> Invocation {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    if has("--list") {
        Invocation::List
    } else if has("--test") || !has("--bench") {
        Invocation::Test
    } else {
        Invocation::Bench
    }
}

/// A temporary folder the unprivileged server user can enter (the server runs as another user when
/// the benchmarks run as root); removed when dropped.
pub fn throwaway_home(tag: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("qcheck-bench-{tag}-"))
        .tempdir()
        .expect("a temporary folder");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod the temporary folder");
    dir
}
