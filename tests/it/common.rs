//! Shared fixture of the integration tests: one throwaway embedded cluster per test binary, started
//! on first use and stopped when the process exits, and a fresh database per test so tests run in
//! parallel without seeing each other's rows.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use qcheck::cluster::{Cluster, PgBin};
use qcheck::db::Conn as Client;
use qcheck::db::{Session, Target};

pub struct TestCluster {
    pub session: Session,
    pub cluster: Cluster,
    pub home: PathBuf,
}

static CLUSTER: OnceLock<TestCluster> = OnceLock::new();
static STOP: OnceLock<(Cluster, PathBuf)> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

extern "C" fn stop_cluster_at_exit() {
    if let Some((cluster, base)) = STOP.get() {
        let _ = cluster.stop();
        let _ = std::fs::remove_dir_all(base);
    }
}

/// A temp folder the unprivileged server user can enter (when the tests run as root).
pub fn temp_home(tag: &str) -> PathBuf {
    let base = std::env::temp_dir().join(format!("qcheck-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
    base
}

pub fn pg_bin() -> PgBin {
    PgBin::locate(
        std::env::var_os("QCHECK_PG_BIN")
            .map(PathBuf::from)
            .as_deref(),
    )
    .expect("PostgreSQL server binaries (set QCHECK_PG_BIN)")
}

/// The binary's shared cluster, started on first use.
pub fn cluster() -> &'static TestCluster {
    CLUSTER.get_or_init(|| {
        let base = temp_home(env!("CARGO_CRATE_NAME"));
        let cluster = Cluster::new(pg_bin(), base.join("home")).unwrap();
        let target = Target::Embedded(cluster.clone());
        let mut session = target.open().expect("start the test cluster");
        session
            .keep_running()
            .expect("keep the test cluster running");
        STOP.set((cluster.clone(), base.clone())).ok();
        unsafe {
            libc::atexit(stop_cluster_at_exit);
        }
        TestCluster {
            session,
            cluster,
            home: base.join("home"),
        }
    })
}

/// A new empty database on the shared cluster; returns its name and a client.
pub fn fresh_db(tag: &str) -> (String, Client) {
    let tc = cluster();
    let name = format!("t_{}_{}", tag, NEXT_DB.fetch_add(1, Ordering::SeqCst));
    let mut admin = tc.session.connect().unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let client = tc.session.connect_to(&name).unwrap();
    (name, client)
}

/// A fresh database with the schema migrated (no secondary indexes).
pub fn migrated_db(tag: &str) -> (String, Client) {
    let (name, mut client) = fresh_db(tag);
    qcheck::schema::migrate_up(&mut client).unwrap();
    (name, client)
}

/// The one value of a one-row, one-column query with one text parameter.
pub fn value<T: for<'a> postgres::types::FromSql<'a>>(
    c: &mut postgres::Client,
    sql: &str,
    param: &str,
) -> T {
    c.query_one(sql, &[&param]).unwrap().get(0)
}

/// Another connection to a test database.
pub fn connect(dbname: &str) -> Client {
    cluster().session.connect_to(dbname).unwrap()
}

/// libpq URL of a test database (for the binary and psql).
pub fn url(dbname: &str) -> String {
    cluster().cluster.url(dbname)
}

/// The libpq variables that select or configure a server: cleared for every qcheck the tests run,
/// so the caller's environment (CI may set PGUSER or PGHOST) cannot redirect a test.
pub const LIBPQ_VARS: [&str; 15] = [
    "DATABASE_URL",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
    "PGSERVICE",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGOPTIONS",
    "PGAPPNAME",
    "PGPASSFILE",
];

/// The qcheck binary with `QCHECK_HOME = home` and none of [`LIBPQ_VARS`].
pub fn qcheck_command(home: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_qcheck"));
    cmd.env("QCHECK_HOME", home);
    for var in LIBPQ_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs the qcheck binary with a clean environment (no PG* variables leaking in from the caller).
pub fn qcheck(args: &[&str], home: &Path) -> std::process::Output {
    qcheck_command(home)
        .args(args)
        .output()
        .expect("run qcheck")
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The failed (or undecided) verdicts of a `check --format json` report, one line each.
pub fn failures(doc: &serde_json::Value) -> Vec<String> {
    doc["queries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|q| {
            ["custom", "generic"].into_iter().flat_map(move |mode| {
                q[mode]["verdicts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|v| v["passed"] != true)
                    .map(move |v| {
                        format!("{} ({mode}) {}: found {}", q["name"], v["text"], v["found"])
                    })
            })
        })
        .collect()
}
