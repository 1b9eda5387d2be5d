//! What the benchmarks share: how criterion was invoked, and a throwaway home for a test-mode run.
#![allow(dead_code)] // each bench binary uses its own subset

use std::os::unix::fs::PermissionsExt;

use qcheck::db::{Conn, Session, Target, TargetOptions};
use qcheck::generate::{self, SeedRequest};
use qcheck::progress::{Progress, ProgressMode};

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

/// An environment variable, `None` when unset or blank.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Opens the target and makes sure it holds the dataset: `clinic` at `QCHECK_BENCH_SCALE`
/// (default 1) with strategy `QCHECK_BENCH_STRATEGY` (default `tuned`) on the target qcheck would
/// use; in test mode (`test_home`), a throwaway cluster there seeded with `tiny`. `bench` names
/// the benchmark in the line it prints.
pub fn setup(bench: &str, test_home: Option<&std::path::Path>) -> qcheck::Result<(Session, Conn)> {
    if let Some(home) = test_home {
        let request = SeedRequest::new("tiny", 1.0, generate::DEFAULT_SEED, "tuned")?;
        let target = Target::resolve(&TargetOptions {
            database_url: None,
            pg_bin_dir: env("QCHECK_PG_BIN").map(Into::into),
            home: Some(home.to_path_buf()),
            citus_workers: None,
        })?;
        let session = target.open()?;
        generate::ensure_seeded(&session, &request, &Progress::new(ProgressMode::Quiet))?;
        let client = session.connect()?;
        return Ok((session, client));
    }
    let scale: f64 = match env("QCHECK_BENCH_SCALE") {
        Some(s) => s
            .parse()
            .map_err(|_| qcheck::Error::Usage(format!("QCHECK_BENCH_SCALE={s} is not a number")))?,
        None => 1.0,
    };
    let strategy = env("QCHECK_BENCH_STRATEGY").unwrap_or_else(|| "tuned".into());
    let request = SeedRequest::new("clinic", scale, generate::DEFAULT_SEED, &strategy)?;
    let target = Target::resolve(&TargetOptions {
        database_url: env("DATABASE_URL"),
        pg_bin_dir: env("QCHECK_PG_BIN").map(Into::into),
        home: env("QCHECK_HOME").map(Into::into),
        citus_workers: None,
    })?;
    let session = target.open()?;
    let outcome = generate::ensure_seeded(&session, &request, &Progress::new(ProgressMode::Plain))?;
    eprintln!(
        "{bench} bench: clinic scale {scale}, strategy {strategy}, {} appointments on {}",
        outcome
            .dataset
            .row_counts
            .get("appointment")
            .copied()
            .unwrap_or(0),
        outcome.target
    );
    let client = session.connect()?;
    Ok((session, client))
}

/// A database benchmark's `main`: criterion configured from the arguments (1 s warm-up, 3 s
/// measurement, `sample_size` samples), nothing touched for `--list`, a throwaway `tiny` cluster in
/// test mode, else the dataset of [`setup`]; `body` registers and runs the benchmarks. On error
/// prints `bench bench: error` and exits 2.
pub fn main(
    bench: &str,
    sample_size: usize,
    body: impl FnOnce(&mut criterion::Criterion, &Session, &mut Conn) -> qcheck::Result<()>,
) {
    let mut c = criterion::Criterion::default()
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3))
        .sample_size(sample_size)
        .configure_from_args();
    let invocation = invocation();
    // `cargo bench -- --list` only enumerates: no database then.
    if invocation == Invocation::List {
        return;
    }
    let test_home = (invocation == Invocation::Test).then(|| throwaway_home(bench));
    let run = || -> qcheck::Result<Session> {
        let (session, mut client) = setup(bench, test_home.as_ref().map(tempfile::TempDir::path))?;
        body(&mut c, &session, &mut client)?;
        Ok(session)
    };
    match run() {
        Ok(session) => {
            c.final_summary();
            let _ = session.close();
        }
        Err(e) => {
            eprintln!("{bench} bench: {e}");
            std::process::exit(2);
        }
    }
}
