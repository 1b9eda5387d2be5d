//! Which server qcheck talks to, and how it connects.
//!
//! The embedded cluster is the default. `--database-url` / `DATABASE_URL`, or the libpq variables
//! `PGHOST`, `PGHOSTADDR`, `PGPORT`, `PGDATABASE` and `PGUSER`, select an existing server instead,
//! resolved as libpq (psql) would: what the connection string leaves out comes from `PGHOST`,
//! `PGPORT`, `PGDATABASE`, `PGUSER`, `PGPASSWORD`, `PGCONNECT_TIMEOUT`, `PGAPPNAME`, `PGOPTIONS` and
//! `PGSSL*`; without any host, the local socket folder (see [`LocalDefaults`]), not localhost TCP.
//! TLS follows libpq's `sslmode` (see [`crate::tls`]). A password never appears in any output:
//! targets are always displayed from the parsed configuration, which leaves it out.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use postgres::config::{Host, SslMode as PgSslMode};
use postgres::{Client, Config, NoTls};

use crate::cluster::{self, Cluster, PgBin};
use crate::error::{DbContext, Error, Result};
use crate::interrupt::{self, CancelGuard};
use crate::tls::{SslMode, TlsSettings};

mod conninfo;
pub(crate) use conninfo::CRL_UNSUPPORTED;
use conninfo::process_env;
pub use conninfo::{LocalDefaults, parse_url, server_config, split_tls_params, tls_settings};

/// Where the database is.
#[derive(Debug, Clone)]
pub enum Target {
    /// The embedded cluster in a qcheck home.
    Embedded(Cluster),
    /// A server the user runs, and how to secure the connection.
    Server(Box<Config>, TlsSettings),
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
    /// `--citus-workers N`: the embedded Citus topology (a coordinator and N workers) instead of the
    /// single node; see [`crate::topology`].
    pub citus_workers: Option<u32>,
}

/// The variables that select a server the user runs instead of the embedded cluster.
const PG_SELECTORS: [&str; 6] = [
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGSERVICE",
];

impl Target {
    /// Chooses the target: an explicit URL, then the PG* variables, then the embedded cluster.
    pub fn resolve(opts: &TargetOptions) -> Result<Target> {
        if let Some((cfg, tls)) = server_config(
            opts.database_url.as_deref(),
            &process_env,
            &LocalDefaults::detect(),
        )? {
            if let Some(n) = opts.citus_workers {
                return Err(Error::Topology(format!(
                    "--citus-workers {n} starts an embedded Citus cluster and cannot be combined with \
                     --database-url or the PG* variables: point those at your own coordinator instead \
                     (qcheck detects Citus there)"
                )));
            }
            return Ok(Target::Server(Box::new(cfg), tls));
        }
        Ok(Target::Embedded(Self::embedded_cluster(opts)?))
    }

    /// The embedded cluster the options describe (for `qcheck cluster ...`, which ignores URLs).
    pub fn embedded_cluster(opts: &TargetOptions) -> Result<Cluster> {
        let bin = PgBin::locate(opts.pg_bin_dir.as_deref())?;
        let home = opts.home.clone().unwrap_or_else(Cluster::default_home);
        match opts.citus_workers {
            Some(n) => crate::topology::citus_cluster(&bin, &home, n),
            None => Cluster::new(bin, home),
        }
    }

    /// The target without a password, for messages and reports.
    pub fn describe(&self) -> String {
        match self {
            Target::Embedded(c) if crate::topology::is_citus(c) => format!(
                "embedded Citus (coordinator + {} worker{}) on PostgreSQL {} in {}",
                c.followers.len(),
                if c.followers.len() == 1 { "" } else { "s" },
                c.bin.version,
                c.home.parent().unwrap_or(&c.home).display()
            ),
            Target::Embedded(c) => format!(
                "embedded PostgreSQL {} in {}",
                c.bin.version,
                c.home.display()
            ),
            Target::Server(cfg, tls) => describe_target(cfg, tls),
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
            Target::Server(..) => None,
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
            Target::Server(..) => Ok(()),
        }
    }

    /// Connects to the target's database.
    pub fn connect(&self) -> Result<Conn> {
        connect_with(&self.config(None), &self.tls())
    }

    /// Connects to another database of the same server (tests create one per test).
    pub fn connect_to(&self, dbname: &str) -> Result<Conn> {
        connect_with(&self.config(Some(dbname)), &self.tls())
    }

    /// The TLS settings (the embedded cluster is reached over its Unix socket: no TLS).
    pub fn tls(&self) -> TlsSettings {
        match &self.target {
            Target::Embedded(_) => TlsSettings {
                mode: SslMode::Disable,
                ..TlsSettings::default()
            },
            Target::Server(_, tls) => tls.clone(),
        }
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
            Target::Server(cfg, _) => (**cfg).clone(),
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
    if crate::topology::is_citus(cluster) {
        return crate::topology::prepare_database(cluster, cluster::DATABASE);
    }
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

/// Connects without TLS (the embedded cluster's Unix socket); see [`connect_with`].
pub fn connect(cfg: &Config) -> Result<Conn> {
    connect_with(
        cfg,
        &TlsSettings {
            mode: SslMode::Disable,
            ..TlsSettings::default()
        },
    )
}

/// Connects with libpq's `sslmode` semantics (see [`crate::tls`]), with a connect timeout so an
/// unreachable host fails in seconds, not minutes, and the `statement_timeout` of
/// [`set_statement_timeout`]; registers the connection's cancel token for Ctrl-C. Errors are one
/// line naming the target (never the password) and, for TLS, the reason.
pub fn connect_with(cfg: &Config, tls: &TlsSettings) -> Result<Conn> {
    let mut cfg = cfg.clone();
    if cfg.get_connect_timeout().is_none() {
        cfg.connect_timeout(Duration::from_secs(10));
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name("qcheck");
    }
    let unix_only = cfg.get_hosts().iter().all(|h| matches!(h, Host::Unix(_)));
    let mode = if unix_only {
        SslMode::Disable
    } else {
        tls.mode
    };
    let target = describe_target(&cfg, tls);
    // Only when TLS may be used: a socket connection needs no certificate files.
    let connector = if mode == SslMode::Disable {
        None
    } else {
        tls.connector().map_err(|message| Error::Tls {
            target: target.clone(),
            message,
        })?
    };
    let plain = |cfg: &mut Config| cfg.ssl_mode(PgSslMode::Disable).connect(NoTls);
    let result = match (mode, connector) {
        (SslMode::Disable, _) | (_, None) => plain(&mut cfg),
        (SslMode::Allow, Some(connector)) => match plain(&mut cfg) {
            // The server refused a plain connection (pg_hba `hostssl`): try TLS.
            Err(e) if e.as_db_error().is_some() => {
                cfg.ssl_mode(PgSslMode::Require).connect(connector)
            }
            other => other,
        },
        (SslMode::Prefer, Some(connector)) => {
            match cfg.ssl_mode(PgSslMode::Prefer).connect(connector) {
                // libpq falls back to plain when the TLS handshake fails.
                Err(e) if is_tls_failure(&e) => plain(&mut cfg),
                other => other,
            }
        }
        (SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull, Some(connector)) => {
            cfg.ssl_mode(PgSslMode::Require).connect(connector)
        }
    };
    let mut client = result.map_err(|source| {
        let hint = if is_tls_failure(&source) {
            "check sslmode, sslrootcert and the server's certificate".into()
        } else {
            "check that the server runs and the URL (host, port, user, database) is right".into()
        };
        Error::Connect {
            target,
            hint,
            source,
        }
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

/// Whether connecting failed in TLS (negotiation or certificate), not in the network or the server.
fn is_tls_failure(err: &postgres::Error) -> bool {
    err.as_db_error().is_none() && {
        let text = err.to_string();
        text.contains("TLS") || text.contains("tls")
    }
}

/// [`describe_config`], with the `sslmode` when it is not the default.
pub fn describe_target(cfg: &Config, tls: &TlsSettings) -> String {
    let mut out = describe_config(cfg);
    if tls.mode != SslMode::default() {
        out.push_str(&format!(" sslmode={}", tls.mode.as_str()));
    }
    out
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
        let (cfg, _) = parse_url("postgresql://alice:s3cret@db.example:6543/app").unwrap();
        let shown = describe_config(&cfg);
        assert_eq!(shown, "host=db.example port=6543 user=alice dbname=app");
        let err = parse_url("postgresql://alice:s3cret@db.example:notaport/app")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn tls_parameters_come_out_of_urls() {
        let (rest, found) = split_tls_params(
            "postgresql://u@h/db?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca%20a.pem",
        );
        assert_eq!(rest, "postgresql://u@h/db?application_name=x");
        assert_eq!(
            found,
            pairs(&[("sslmode", "verify-full"), ("sslrootcert", "/tmp/ca a.pem")])
        );
        let (rest, found) = split_tls_params("postgres://u@h/db?sslmode=require");
        assert_eq!(rest, "postgres://u@h/db");
        assert_eq!(found, pairs(&[("sslmode", "require")]));
        let (rest, found) = split_tls_params("postgresql://u@h/db");
        assert_eq!((rest.as_str(), found.len()), ("postgresql://u@h/db", 0));
    }

    #[test]
    fn tls_parameters_come_out_of_keyword_strings() {
        let (rest, found) = split_tls_params(
            r"host=h sslmode = verify-ca  dbname='my db' sslkey='/k\'s key' user=u",
        );
        assert_eq!(rest, "host=h dbname='my db' user=u");
        assert_eq!(
            found,
            pairs(&[("sslmode", "verify-ca"), ("sslkey", "/k's key")])
        );
        let (cfg, tls) =
            parse_url("host=h sslmode=verify-full sslrootcert=/ca.pem dbname=d").unwrap();
        assert_eq!(cfg.get_dbname(), Some("d"));
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.root_cert, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn tls_settings_fall_back_to_the_environment() {
        let env = |name: &str| match name {
            "PGSSLMODE" => Some("require".to_string()),
            "PGSSLROOTCERT" => Some("/env/ca.pem".to_string()),
            "PGSSLCERT" => Some("/env/c.crt".to_string()),
            "PGSSLKEY" => Some("/env/c.key".to_string()),
            _ => None,
        };
        let tls = tls_settings(&pairs(&[("sslmode", "verify-ca")]), &env).unwrap();
        assert_eq!(tls.mode, SslMode::VerifyCa);
        assert_eq!(tls.root_cert, Some(PathBuf::from("/env/ca.pem")));
        assert_eq!(tls.cert, Some(PathBuf::from("/env/c.crt")));
        assert_eq!(tls.key, Some(PathBuf::from("/env/c.key")));
        let tls = tls_settings(&[], &|_: &str| None).unwrap();
        assert_eq!(tls, TlsSettings::default());
        assert_eq!(tls.mode, SslMode::Prefer);
        let err = tls_settings(&pairs(&[("sslmode", "verify")]), &|_: &str| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid sslmode `verify`"), "{err}");
    }

    #[test]
    fn revocation_lists_and_key_passwords_are_refused_not_ignored() {
        let none = |_: &str| None;
        for (key, why) in [
            ("sslcrl", "does not check certificate revocation lists"),
            ("sslcrldir", "does not check certificate revocation lists"),
            ("sslpassword", "reads no encrypted client keys"),
        ] {
            let err = tls_settings(&pairs(&[(key, "x")]), &none)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!(
                    "{key} (in the connection string or its service) is not supported by qcheck"
                )) && err.contains(why),
                "{err}"
            );
        }
        let env = |name: &str| (name == "PGSSLCRL").then(|| "/etc/crl.pem".to_string());
        let err = tls_settings(&[], &env).unwrap_err().to_string();
        assert!(
            err.starts_with("sslcrl (from PGSSLCRL) is not supported"),
            "{err}"
        );
        // Through a URL: the key is taken out before rust-postgres would call it unknown.
        let err = server_config(
            Some("postgresql://u@db.example/app?sslmode=verify-full&sslcrl=/x.crl"),
            &none,
            &LocalDefaults::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("sslcrl (in the connection string"), "{err}");
    }

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    fn debian() -> LocalDefaults {
        LocalDefaults {
            socket_dir: Some(PathBuf::from("/var/run/postgresql")),
            os_user: Some("osuser".into()),
            home: None,
        }
    }

    fn resolve(conn: Option<&str>, vars: &[(&str, &str)]) -> Option<(Config, TlsSettings)> {
        server_config(conn, &env_of(vars), &debian()).unwrap()
    }

    #[test]
    fn nothing_set_means_the_embedded_cluster() {
        assert!(resolve(None, &[]).is_none());
        assert!(resolve(Some("  "), &[("PGPASSWORD", "x"), ("PGAPPNAME", "a")]).is_none());
        assert!(resolve(None, &[("PGHOST", "")]).is_none());
    }

    #[test]
    fn a_url_without_host_uses_pghost_else_the_local_socket() {
        let (cfg, _) = resolve(Some("postgresql:///app"), &[]).unwrap();
        assert_eq!(
            cfg.get_hosts(),
            [Host::Unix(PathBuf::from("/var/run/postgresql"))]
        );
        assert_eq!(cfg.get_user(), Some("osuser"));
        assert_eq!(cfg.get_dbname(), Some("app"));

        let (cfg, _) = resolve(
            Some("postgresql:///app"),
            &[("PGHOST", "db1,db2"), ("PGPORT", "6543")],
        )
        .unwrap();
        assert_eq!(
            cfg.get_hosts(),
            [Host::Tcp("db1".into()), Host::Tcp("db2".into())]
        );
        assert_eq!(cfg.get_ports(), [6543]);

        // A host or port in the URL wins over the variables.
        let (cfg, _) = resolve(
            Some("postgresql://u@db:5433/app"),
            &[("PGHOST", "other"), ("PGPORT", "6543"), ("PGUSER", "x")],
        )
        .unwrap();
        assert_eq!(cfg.get_hosts(), [Host::Tcp("db".into())]);
        assert_eq!((cfg.get_ports(), cfg.get_user()), (&[5433][..], Some("u")));

        // A keyword string with a socket folder for PGHOST.
        let (cfg, _) = resolve(Some("dbname=app"), &[("PGHOST", "/run/pg")]).unwrap();
        assert_eq!(cfg.get_hosts(), [Host::Unix(PathBuf::from("/run/pg"))]);

        // No socket folder at all: localhost over TCP.
        let (cfg, _) = server_config(Some("dbname=app"), &env_of(&[]), &LocalDefaults::default())
            .unwrap()
            .unwrap();
        assert_eq!(cfg.get_hosts(), [Host::Tcp("localhost".into())]);
    }

    #[test]
    fn pgdatabase_or_pguser_alone_select_the_server_on_the_local_socket() {
        for vars in [[("PGDATABASE", "app")], [("PGUSER", "alice")]] {
            let (cfg, _) = resolve(None, &vars).unwrap();
            assert_eq!(
                cfg.get_hosts(),
                [Host::Unix(PathBuf::from("/var/run/postgresql"))],
                "{vars:?}"
            );
        }
        let (cfg, _) = resolve(None, &[("PGDATABASE", "app"), ("PGUSER", "alice")]).unwrap();
        assert_eq!(
            (cfg.get_dbname(), cfg.get_user()),
            (Some("app"), Some("alice"))
        );
    }

    #[test]
    fn appname_options_timeout_and_password_come_from_the_environment() {
        let vars = [
            ("PGHOST", "db"),
            ("PGAPPNAME", "nightly"),
            ("PGOPTIONS", "-c statement_timeout=5s"),
            ("PGCONNECT_TIMEOUT", "1"),
            ("PGPASSWORD", "pw"),
            ("PGSSLMODE", "verify-full"),
        ];
        let (cfg, tls) = resolve(None, &vars).unwrap();
        assert_eq!(cfg.get_application_name(), Some("nightly"));
        assert_eq!(cfg.get_options(), Some("-c statement_timeout=5s"));
        assert_eq!(cfg.get_connect_timeout(), Some(&Duration::from_secs(2)));
        assert_eq!(cfg.get_password(), Some(&b"pw"[..]));
        assert_eq!(tls.mode, SslMode::VerifyFull);
        // The connection string wins.
        let (cfg, tls) = resolve(
            Some("postgresql://db/app?application_name=x&connect_timeout=7&sslmode=disable"),
            &vars,
        )
        .unwrap();
        assert_eq!(cfg.get_application_name(), Some("x"));
        assert_eq!(cfg.get_connect_timeout(), Some(&Duration::from_secs(7)));
        assert_eq!(tls.mode, SslMode::Disable);
        // PGCONNECT_TIMEOUT=0 waits as long as qcheck's default.
        let (cfg, _) = resolve(None, &[("PGHOST", "db"), ("PGCONNECT_TIMEOUT", "0")]).unwrap();
        assert_eq!(cfg.get_connect_timeout(), None);
    }

    #[test]
    fn a_service_sits_between_the_connection_string_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("services.conf");
        std::fs::write(
            &file,
            "[prod]\nhost=db.example\nport=6543\ndbname=app\nuser=svc\nsslmode=verify-full\n",
        )
        .unwrap();
        let file = file.display().to_string();
        let vars = [
            ("PGSERVICEFILE", file.as_str()),
            ("PGSYSCONFDIR", "/nonexistent"),
            ("PGHOST", "env-host"),
            ("PGUSER", "env-user"),
        ];
        let mut with_service = vars.to_vec();
        with_service.push(("PGSERVICE", "prod"));
        let (cfg, tls) = resolve(None, &with_service).unwrap();
        assert_eq!(cfg.get_hosts(), [Host::Tcp("db.example".into())]);
        assert_eq!(cfg.get_ports(), [6543]);
        assert_eq!(
            (cfg.get_user(), cfg.get_dbname()),
            (Some("svc"), Some("app"))
        );
        assert_eq!(tls.mode, SslMode::VerifyFull);
        // `service=` in the string; the string's own settings win.
        let (cfg, tls) = resolve(Some("service=prod user=me sslmode=require"), &vars).unwrap();
        assert_eq!(cfg.get_hosts(), [Host::Tcp("db.example".into())]);
        assert_eq!(cfg.get_user(), Some("me"));
        assert_eq!(tls.mode, SslMode::Require);
        let (cfg, _) = resolve(Some("postgresql:///other?service=prod"), &vars).unwrap();
        assert_eq!(cfg.get_dbname(), Some("other"));
        let err = server_config(
            None,
            &env_of(&[
                ("PGSERVICE", "nope"),
                ("PGSERVICEFILE", &file),
                ("PGSYSCONFDIR", "/nonexistent"),
            ]),
            &debian(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("definition of service \"nope\" not found"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_password_comes_from_the_password_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "localhost:5432:app:alice:socketpw\ndb:6543:*:alice:tcppw\n",
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let file = file.display().to_string();
        let pw = |conn: &str, extra: &[(&str, &str)]| {
            let mut vars = vec![("PGPASSFILE", file.as_str())];
            vars.extend_from_slice(extra);
            let (cfg, _) = resolve(Some(conn), &vars).unwrap();
            cfg.get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        };
        // The local socket counts as localhost.
        assert_eq!(
            pw("dbname=app user=alice", &[]).as_deref(),
            Some("socketpw")
        );
        assert_eq!(
            pw("postgresql://alice@db:6543/x", &[]).as_deref(),
            Some("tcppw")
        );
        assert_eq!(pw("postgresql://alice@db/x", &[]), None);
        // PGPASSWORD and the string come first.
        assert_eq!(
            pw("postgresql://alice@db:6543/x", &[("PGPASSWORD", "envpw")]).as_deref(),
            Some("envpw")
        );
        assert_eq!(
            pw("postgresql://alice:own@db:6543/x", &[]).as_deref(),
            Some("own")
        );
        // Readable by others: ignored (with a warning).
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(pw("postgresql://alice@db:6543/x", &[]), None);
    }

    #[test]
    fn sslrootcert_system_means_verify_full() {
        let none = |_: &str| None;
        let tls = tls_settings(&pairs(&[("sslrootcert", "system")]), &none).unwrap();
        assert_eq!(tls.mode, SslMode::VerifyFull);
        let tls = tls_settings(
            &pairs(&[("sslrootcert", "system"), ("sslmode", "require")]),
            &none,
        )
        .unwrap();
        let err = tls.connector().err().unwrap();
        assert!(
            err.contains("weak sslmode \"require\" may not be used with sslrootcert=system"),
            "{err}"
        );
    }
}
