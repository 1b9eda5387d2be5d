//! Which server qcheck talks to, and how it connects.
//!
//! The embedded cluster is the default. `--database-url` / `DATABASE_URL`, or the libpq variables
//! `PGHOST`, `PGHOSTADDR`, `PGPORT` and `PGDATABASE`, select an existing server instead (with `PGUSER`,
//! `PGPASSWORD`, `PGCONNECT_TIMEOUT`, `PGAPPNAME` applied as libpq would). A password never appears in
//! any output: targets are always displayed from the parsed configuration, which leaves it out.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use postgres::config::Host;
use postgres::{Client, Config, NoTls};

use crate::cluster::{self, Cluster, PgBin};
use crate::error::{DbContext, Error, Result};
use crate::interrupt::{self, CancelGuard};

/// Where the database is.
#[derive(Debug, Clone)]
pub enum Target {
    /// The embedded cluster in a qcheck home.
    Embedded(Cluster),
    /// A server the user runs.
    Server(Config),
}

/// What the command line says about the target.
#[derive(Debug, Clone, Default)]
pub struct TargetOptions {
    /// `--database-url` / `DATABASE_URL`: a server to use instead of the embedded cluster.
    pub database_url: Option<String>,
    /// `--pg-bin-dir` / `QCHECK_PG_BIN`: the server binaries for the embedded cluster; `None`
    /// searches.
    pub pg_bin_dir: Option<PathBuf>,
    /// `--home` / `QCHECK_HOME`: where the embedded cluster lives; `None` for the default home.
    pub home: Option<PathBuf>,
}

const PG_SELECTORS: [&str; 4] = ["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE"];

impl Target {
    /// Chooses the target: an explicit URL, then the PG* variables, then the embedded cluster.
    pub fn resolve(opts: &TargetOptions) -> Result<Target> {
        if let Some(url) = opts
            .database_url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
        {
            return Ok(Target::Server(parse_url(url)?));
        }
        if PG_SELECTORS
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
        {
            return Ok(Target::Server(config_from_env()));
        }
        Ok(Target::Embedded(Self::embedded_cluster(opts)?))
    }

    /// The embedded cluster the options describe (for `qcheck cluster ...`, which ignores URLs).
    pub fn embedded_cluster(opts: &TargetOptions) -> Result<Cluster> {
        let bin = PgBin::locate(opts.pg_bin_dir.as_deref())?;
        Cluster::new(bin, opts.home.clone().unwrap_or_else(Cluster::default_home))
    }

    /// The target without a password, for messages and reports.
    pub fn describe(&self) -> String {
        match self {
            Target::Embedded(c) => format!(
                "embedded PostgreSQL {} in {}",
                c.bin.version,
                c.home.display()
            ),
            Target::Server(cfg) => describe_config(cfg),
        }
    }

    /// Makes the target reachable: starts the embedded cluster if needed and registers this
    /// session as one of its users. When the last user's session ends, a server some qcheck process
    /// started is stopped again (a command leaves the machine as it found it, even with other qcheck
    /// processes sharing the home; see [`crate::cluster`]).
    pub fn open(&self) -> Result<Session> {
        let server_use = match self {
            Target::Embedded(c) => Some(interrupt::register_use(
                c.clone(),
                c.acquire(|| create_database_if_missing(c))?,
            )),
            Target::Server(_) => None,
        };
        Ok(Session {
            target: self.clone(),
            server_use,
        })
    }
}

/// An open target. Connect through it; closing or dropping it ends this process's use of the
/// embedded server, which stops it if this was the last user of a server qcheck started.
#[derive(Debug)]
pub struct Session {
    /// What this session connects to.
    pub target: Target,
    /// This session's use of the embedded server, in the interrupt registry (so that Ctrl-C ends it).
    server_use: Option<u64>,
}

impl Session {
    /// Leave the embedded server running after every user is done (`qcheck cluster start|url`),
    /// until `qcheck cluster stop`.
    pub fn keep_running(&mut self) -> Result<()> {
        match &self.target {
            Target::Embedded(c) => c.keep_running(),
            Target::Server(_) => Ok(()),
        }
    }

    /// Connects to the target's database.
    pub fn connect(&self) -> Result<Conn> {
        connect(&self.config(None))
    }

    /// Connects to another database of the same server (tests create one per test).
    pub fn connect_to(&self, dbname: &str) -> Result<Conn> {
        connect(&self.config(Some(dbname)))
    }

    /// Connection settings for the target's database, or for `dbname` on the same server.
    pub fn config(&self, dbname: Option<&str>) -> Config {
        let mut cfg = match &self.target {
            Target::Embedded(c) => {
                let mut cfg = Config::new();
                cfg.host_path(c.socket_dir())
                    .port(cluster::PORT)
                    .user(cluster::SUPERUSER)
                    .dbname(cluster::DATABASE);
                cfg
            }
            Target::Server(cfg) => cfg.clone(),
        };
        if let Some(db) = dbname {
            cfg.dbname(db);
        }
        cfg
    }

    /// Ends this session's use of the server now (see [`Target::open`]).
    pub fn close(mut self) -> Result<()> {
        self.release()
    }

    fn release(&mut self) -> Result<()> {
        match self.server_use.take() {
            Some(id) => interrupt::release_use(id),
            None => Ok(()),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

fn create_database_if_missing(cluster: &Cluster) -> Result<()> {
    let mut cfg = Config::new();
    cfg.host_path(cluster.socket_dir())
        .port(cluster::PORT)
        .user(cluster::SUPERUSER)
        .dbname("postgres");
    let mut client = connect(&cfg)?;
    let exists = client
        .query_opt(
            "SELECT 1 FROM pg_database WHERE datname = $1",
            &[&cluster::DATABASE],
        )
        .map_err(|e| Error::db("looking up the qcheck database", e))?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!("CREATE DATABASE {}", cluster::DATABASE))
            .map_err(|e| Error::db("creating the qcheck database", e))?;
    }
    Ok(())
}

/// `--statement-timeout` in milliseconds, 0 for none: set on every connection [`connect`] opens.
static STATEMENT_TIMEOUT_MS: AtomicU64 = AtomicU64::new(0);

/// Sets the `statement_timeout` every connection opened from now on gets (`None` or zero: no
/// bound). The CLI sets it from `--statement-timeout`; the library default is no bound.
pub fn set_statement_timeout(timeout: Option<Duration>) {
    let ms = timeout.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    STATEMENT_TIMEOUT_MS.store(ms, Ordering::Relaxed);
}

/// The `statement_timeout` new connections get; `None` when unbounded.
pub fn statement_timeout() -> Option<Duration> {
    match STATEMENT_TIMEOUT_MS.load(Ordering::Relaxed) {
        0 => None,
        ms => Some(Duration::from_millis(ms)),
    }
}

/// Runs `f` with no statement timeout on `client`, then restores the connection's setting: for the
/// maintenance work that legitimately runs for minutes at scale (migrations, index builds, VACUUM,
/// CHECKPOINT, ANALYZE; seeding sessions lift it for good).
pub fn unbounded<T>(client: &mut Client, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
    let before: String = client
        .query_one("SELECT current_setting('statement_timeout')", &[])
        .db("reading statement_timeout")?
        .get(0);
    client
        .batch_execute("SET statement_timeout = 0")
        .db("lifting statement_timeout")?;
    let result = f(client);
    let restore = client
        .execute(
            "SELECT set_config('statement_timeout', $1, false)",
            &[&before],
        )
        .db("restoring statement_timeout");
    match (result, restore) {
        (Ok(v), Ok(_)) => Ok(v),
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
    }
}

/// A connection: a [`Client`] (it derefs to one) whose cancel token stays registered for Ctrl-C
/// (see [`crate::interrupt`]) until it drops.
pub struct Conn {
    client: Client,
    _cancel: CancelGuard,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Conn")
    }
}

impl Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// Connects, with a connect timeout so an unreachable host fails in seconds, not minutes, and the
/// `statement_timeout` of [`set_statement_timeout`]; registers the connection's cancel token.
pub fn connect(cfg: &Config) -> Result<Conn> {
    let mut cfg = cfg.clone();
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(Duration::from_secs(10));
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name("qcheck");
    }
    let mut client = cfg.connect(NoTls).map_err(|source| Error::Connect {
        target: describe_config(&cfg),
        hint: "check that the server runs and the URL (host, port, user, database) is right".into(),
        source,
    })?;
    let cancel = CancelGuard::register(client.cancel_token());
    if let Some(t) = statement_timeout() {
        client
            .batch_execute(&format!("SET statement_timeout = {}", t.as_millis()))
            .db("setting statement_timeout")?;
    }
    Ok(Conn {
        client,
        _cancel: cancel,
    })
}

/// Parses a URL or keyword/value string. The error never repeats the input, which may hold a password.
pub fn parse_url(url: &str) -> Result<Config> {
    let mut cfg: Config = url
        .parse()
        .map_err(|e: postgres::Error| Error::DatabaseUrl {
            message: e.to_string(),
        })?;
    apply_env_defaults(&mut cfg);
    Ok(cfg)
}

/// A configuration from the libpq environment variables, as psql would read them.
fn config_from_env() -> Config {
    let mut cfg = Config::new();
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if let Some(hosts) = var("PGHOST").or_else(|| var("PGHOSTADDR")) {
        for host in hosts.split(',') {
            cfg.host(host);
        }
    }
    if let Some(port) = var("PGPORT").and_then(|p| p.parse().ok()) {
        cfg.port(port);
    }
    if let Some(db) = var("PGDATABASE") {
        cfg.dbname(&db);
    }
    apply_env_defaults(&mut cfg);
    cfg
}

/// libpq's fallbacks: PGUSER, PGPASSWORD, PGCONNECT_TIMEOUT, and the OS user name.
fn apply_env_defaults(cfg: &mut Config) {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if cfg.get_hosts().is_empty() {
        cfg.host("localhost");
    }
    if cfg.get_user().is_none() {
        let user = var("PGUSER").or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::geteuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        });
        if let Some(user) = user {
            cfg.user(&user);
        }
    }
    if cfg.get_password().is_none() {
        if let Some(pw) = var("PGPASSWORD") {
            cfg.password(pw);
        }
    }
    if cfg.get_connect_timeout().is_none() {
        if let Some(secs) = var("PGCONNECT_TIMEOUT").and_then(|s| s.parse().ok()) {
            cfg.connect_timeout(Duration::from_secs(secs));
        }
    }
}

/// `host=… port=… user=… dbname=…` without the password.
pub fn describe_config(cfg: &Config) -> String {
    let hosts: Vec<String> = cfg
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = cfg.get_ports().iter().map(ToString::to_string).collect();
    let mut out = format!(
        "host={}",
        if hosts.is_empty() {
            "localhost".into()
        } else {
            hosts.join(",")
        }
    );
    out.push_str(&format!(
        " port={}",
        if ports.is_empty() {
            "5432".into()
        } else {
            ports.join(",")
        }
    ));
    if let Some(user) = cfg.get_user() {
        out.push_str(&format!(" user={user}"));
    }
    if let Some(db) = cfg.get_dbname() {
        out.push_str(&format!(" dbname={db}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let cfg = parse_url("postgresql://alice:s3cret@db.example:6543/app").unwrap();
        let shown = describe_config(&cfg);
        assert_eq!(shown, "host=db.example port=6543 user=alice dbname=app");
        let err = parse_url("postgresql://alice:s3cret@db.example:notaport/app")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
