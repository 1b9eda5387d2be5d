//! The embedded PostgreSQL: find the server binaries, `initdb` a throwaway cluster into a cache
//! folder, start and stop it with `pg_ctl -w` on a Unix socket of its own (no TCP listener).
//!
//! qcheck's default target needs no server installed or started by hand. The cluster is kept between
//! runs (seeding a production-sized dataset takes a while), so it lives in `QCHECK_HOME`, by default
//! the user's cache folder. PostgreSQL refuses to run as root, and CI runs as root: then the server
//! runs as an unprivileged OS user (`postgres` if it exists, else `nobody`) that owns the cluster
//! folder; qcheck itself stays root and reaches the server over the socket.
//!
//! ## One home, many processes
//!
//! Parallel CI jobs and a developer's terminals share the default home, so every change of the
//! cluster's state is serialised by an exclusive `flock` on `<home>/pgNN.lock`: `initdb`, writing
//! `qcheck.conf`, `pg_ctl start` and `pg_ctl stop` happen only under it. Each qcheck process that
//! uses the server holds a shared `flock` on `<home>/pgNN.users` for as long as it does (a
//! [`ServerUse`]); the kernel drops it if the process dies. The rule for stopping:
//!
//! - a process that starts the server writes `<home>/pgNN.autostop`: "a qcheck process started this
//!   server and nobody asked to keep it";
//! - `qcheck cluster start|url` remove that marker: the server is then kept until `cluster stop`;
//! - a process that is done takes the lifecycle lock, gives up its shared lock and tries to take the
//!   users lock exclusively without waiting. Only if that succeeds — it is the last user, whoever
//!   started the server — and the marker is there does it stop the server. Otherwise it leaves the
//!   server to the others, and the last of them stops it;
//! - `qcheck cluster stop` stops an unused server at once; a server in use gets the marker, so the
//!   last user stops it and no running query is killed. `cluster destroy` refuses a server in use.
//!
//! A server not started by qcheck (no marker) is never stopped by a command's session.
//!
//! ## Paths in the configuration
//!
//! The only path qcheck writes into the server's configuration is the socket folder, quoted by
//! postgresql.conf rules (see [`conf_quote`]). Homes PostgreSQL cannot take are refused with the
//! reason: a newline (no configuration file can hold it), and `"`, `$`, `` ` `` or `\`, because
//! `pg_ctl start` runs the server through `/bin/sh` with the data folder between double quotes. A
//! `,` is fine in the home, but `unix_socket_directories` and libpq's `host` are comma-separated
//! lists, so such a home gets the short socket folder under /tmp used for long paths.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, IoContext, Result};

/// The superuser and database that `initdb` creates in the embedded cluster.
pub const SUPERUSER: &str = "qcheck";
/// The database qcheck works in; created on first connect (`initdb` makes only `postgres`).
pub const DATABASE: &str = "qcheck";
/// The socket is named after the port; the socket folder is our own, so the port never collides.
pub const PORT: u16 = 5432;
/// sun_path holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;
/// The oldest major version qcheck runs on: its migrations need PostgreSQL 14 (e.g.
/// `CREATE OR REPLACE TRIGGER`, multirange types).
pub const MIN_MAJOR: u32 = 14;

/// Server settings of the embedded cluster. They are part of every experiment (reports print them):
/// memory sized for a scale-10 dataset on a 24 GiB machine, durability off because the cluster is
/// throwaway (fsync does not change what is written to WAL, so write-cost figures stay honest), and
/// otherwise stock planner settings so plans match a default production server.
pub const SERVER_SETTINGS: &[(&str, &str)] = &[
    ("shared_buffers", "'512MB'"),
    ("maintenance_work_mem", "'512MB'"),
    ("work_mem", "'4MB'"),
    ("fsync", "off"),
    ("full_page_writes", "on"),
    ("max_wal_size", "'4GB'"),
    ("checkpoint_timeout", "'30min'"),
    ("max_connections", "100"),
    ("log_min_messages", "warning"),
    ("log_checkpoints", "off"),
];

/// A PostgreSQL installation's binaries.
#[derive(Debug, Clone)]
pub struct PgBin {
    /// The folder holding `initdb`, `pg_ctl` and `postgres`.
    pub dir: PathBuf,
    /// e.g. "15.18"
    pub version: String,
    /// Major version, e.g. 15: it names the cluster folder (`pg15`).
    pub major: u32,
}

const SERVER_PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

impl PgBin {
    /// Finds the server binaries, in this order: the explicit folder (`--pg-bin-dir` or
    /// `QCHECK_PG_BIN`), `pg_config --bindir`, `initdb` on PATH, the highest `/usr/lib/postgresql/*/bin`.
    /// An explicit folder that lacks the programs is an error, not a reason to look elsewhere.
    pub fn locate(explicit: Option<&Path>) -> Result<PgBin> {
        if let Some(dir) = explicit {
            let missing: Vec<&str> = SERVER_PROGRAMS
                .iter()
                .copied()
                .filter(|p| !dir.join(p).is_file())
                .collect();
            if !missing.is_empty() {
                return Err(Error::PgBinDir {
                    path: dir.to_path_buf(),
                    reason: format!(
                        "not a PostgreSQL bin folder: {} missing (it must hold initdb, pg_ctl and postgres)",
                        missing.join(", ")
                    ),
                });
            }
            return PgBin::at(dir);
        }
        let mut searched = Vec::new();
        let mut candidates = Vec::new();
        searched.push("pg_config --bindir".to_string());
        if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
            if out.status.success() {
                candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
            }
        }
        searched.push("PATH".to_string());
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                if dir.join("initdb").is_file() {
                    candidates.push(dir);
                }
            }
        }
        searched.push("/usr/lib/postgresql/*/bin".to_string());
        let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let major = e.file_name().to_str()?.parse::<u32>().ok()?;
                Some((major, e.path().join("bin")))
            })
            .collect();
        versioned.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versioned.into_iter().map(|(_, p)| p));

        // A found installation that is too old (or not PostgreSQL) is skipped for the next one; if
        // none fits, the first refusal is the error, so the user learns why.
        let mut refused = None;
        for dir in candidates {
            if SERVER_PROGRAMS.iter().all(|p| dir.join(p).is_file()) {
                match PgBin::at(&dir) {
                    Ok(bin) => return Ok(bin),
                    Err(e) => {
                        refused.get_or_insert(e);
                    }
                }
            }
        }
        if let Some(err) = refused {
            return Err(err);
        }
        Err(Error::PgBinariesNotFound {
            searched: searched.join(", "),
        })
    }

    /// Asks `postgres --version`, which must say `postgres (PostgreSQL) N...` with N at least
    /// [`MIN_MAJOR`].
    fn at(dir: &Path) -> Result<PgBin> {
        let postgres = dir.join("postgres");
        let out = run(Command::new(&postgres).arg("--version"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let said = match text.trim() {
            "" => "nothing".to_string(),
            t => format!("`{}`", t.lines().next().unwrap_or(t)),
        };
        let refuse = |why: &str| Error::PgBinDir {
            path: dir.to_path_buf(),
            reason: format!(
                "`postgres --version` said {said}: {why}; qcheck needs PostgreSQL {MIN_MAJOR} or later"
            ),
        };
        let (version, major) = parse_version(&text).ok_or_else(|| refuse("not PostgreSQL"))?;
        if !out.status.success() {
            return Err(refuse("it failed"));
        }
        if major < MIN_MAJOR {
            return Err(refuse("too old"));
        }
        Ok(PgBin {
            dir: dir.to_path_buf(),
            version,
            major,
        })
    }

    /// Path of one of the installation's programs, e.g. `pg_ctl`.
    pub fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> ("15.18", 15); "16beta1" -> 16.
fn parse_version(text: &str) -> Option<(String, u32)> {
    let rest = text.trim_start().strip_prefix("postgres (PostgreSQL) ")?;
    let version = rest.split_whitespace().next()?;
    let digits: String = version.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().ok()?;
    Some((version.to_string(), major))
}

/// Quotes a value for postgresql.conf: between single quotes, a quote doubled and a backslash
/// escaped (the server reads `\\` as one backslash). A newline or NUL cannot be written in a
/// configuration file at all: that is an error naming the value.
pub fn conf_quote(value: &str) -> std::result::Result<String, String> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(format!(
            "{value:?} holds a line break, which a PostgreSQL configuration file cannot hold"
        ));
    }
    Ok(format!(
        "'{}'",
        value.replace('\\', "\\\\").replace('\'', "''")
    ))
}

/// One entry of `unix_socket_directories`, a comma-separated list in which an entry may be
/// double-quoted (a quote doubled); a comma cannot be in an entry that libpq must also read.
fn socket_dirs_value(dir: &Path) -> std::result::Result<String, String> {
    let dir = dir
        .to_str()
        .ok_or_else(|| format!("{} is not UTF-8", dir.display()))?;
    if dir.contains(',') {
        return Err(format!(
            "{dir:?} holds a comma, which separates socket folders"
        ));
    }
    conf_quote(&format!("\"{}\"", dir.replace('"', "\"\"")))
}

/// Characters a home cannot hold, and why.
fn home_refusal(home: &Path) -> Option<&'static str> {
    let text = home.as_os_str().as_encoded_bytes();
    if text.iter().any(|b| matches!(b, b'\n' | b'\r')) {
        return Some("a line break cannot be written in PostgreSQL's configuration");
    }
    if text.iter().any(|b| matches!(b, b'"' | b'$' | b'`' | b'\\')) {
        return Some(
            "`pg_ctl start` runs the server through /bin/sh with the data folder in double quotes, \
             where `\"`, `$`, `` ` `` and `\\` are special; choose a home without them",
        );
    }
    None
}

/// Percent-encodes a socket folder for the `host` parameter of a libpq URI.
fn uri_encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Quotes a libpq keyword/value when it needs it (a space, a quote, a backslash).
fn libpq_quote(value: &str) -> String {
    if !value.is_empty() && !value.contains([' ', '\'', '\\']) {
        return value.to_string();
    }
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The OS user the server runs as.
#[derive(Debug, Clone)]
pub struct ServerUser {
    /// Login name (`postgres`, else `nobody`).
    pub name: String,
    /// Numeric user id.
    pub uid: u32,
    /// Numeric primary group id.
    pub gid: u32,
}

impl ServerUser {
    /// `None` when qcheck is not root: the server runs as whoever runs qcheck.
    fn for_current_process() -> Result<Option<ServerUser>> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(None);
        }
        for name in ["postgres", "nobody"] {
            if let Ok(Some(user)) = nix::unistd::User::from_name(name) {
                return Ok(Some(ServerUser {
                    name: user.name,
                    uid: user.uid.as_raw(),
                    gid: user.gid.as_raw(),
                }));
            }
        }
        Err(Error::NoServerUser)
    }
}

/// A throwaway cluster in `home`.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The binaries that create and run it.
    pub bin: PgBin,
    /// The folder holding one cluster per major version (see [`Cluster::default_home`]).
    pub home: PathBuf,
    /// The OS user the server runs as; `None` when it runs as the user running qcheck (not root).
    pub server_user: Option<ServerUser>,
    /// Settings written after [`SERVER_SETTINGS`] (a Citus node's `shared_preload_libraries`, ...);
    /// empty for the single-node cluster.
    pub extra_settings: Vec<(String, String)>,
    /// Clusters that start and stop with this one, under its lifecycle lock and before it (the
    /// workers of a Citus coordinator, see [`crate::topology`]); empty for a single node.
    pub followers: Vec<Cluster>,
}

/// What `qcheck cluster status` reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Status {
    /// The home folder.
    pub home: PathBuf,
    /// The data folder (`PGDATA`).
    pub data_dir: PathBuf,
    /// Where the server's Unix socket lives.
    pub socket_dir: PathBuf,
    /// The binaries' folder.
    pub bin_dir: PathBuf,
    /// Version of the binaries, e.g. "15.18".
    pub version: String,
    /// Whether `initdb` has run (`PG_VERSION` exists).
    pub initialized: bool,
    /// Whether the server is running (`pg_ctl status`).
    pub running: bool,
    /// The OS user the server runs as.
    pub server_user: String,
    /// The server's log file.
    pub log_file: PathBuf,
}

impl Cluster {
    /// The default home: `QCHECK_HOME`, else `<cache dir>/qcheck`. Root's own cache folder is under
    /// /root (mode 0700), which the unprivileged server user cannot enter, so root defaults to the
    /// system cache folder instead.
    pub fn default_home() -> PathBuf {
        if let Some(home) = std::env::var_os("QCHECK_HOME").filter(|h| !h.is_empty()) {
            return PathBuf::from(home);
        }
        if nix::unistd::geteuid().is_root() {
            return PathBuf::from("/var/cache/qcheck");
        }
        dirs::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("qcheck")
    }

    /// A cluster handle for `home` (made absolute); picks the server user when qcheck runs as root.
    /// A home PostgreSQL cannot run in (see the module doc) is refused here, before any folder is
    /// created.
    pub fn new(bin: PgBin, home: PathBuf) -> Result<Cluster> {
        let home = if home.is_absolute() {
            home
        } else {
            std::env::current_dir().at(".")?.join(home)
        };
        if let Some(reason) = home_refusal(&home) {
            return Err(Error::io(
                home,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, reason),
            ));
        }
        Ok(Cluster {
            bin,
            home,
            server_user: ServerUser::for_current_process()?,
            extra_settings: Vec::new(),
            followers: Vec::new(),
        })
    }

    /// One folder per major version: a cluster cannot be opened by another major's binaries.
    pub fn root(&self) -> PathBuf {
        self.home.join(format!("pg{}", self.bin.major))
    }
    /// The data folder: `<root>/data`.
    pub fn data_dir(&self) -> PathBuf {
        self.root().join("data")
    }
    /// The server's log file: `<root>/server.log`.
    pub fn log_file(&self) -> PathBuf {
        self.root().join("server.log")
    }
    /// The socket folder: inside the cluster folder when the path fits in sun_path and holds no
    /// comma (`unix_socket_directories` and libpq's `host` are comma-separated lists), else a short
    /// folder of our own under /tmp named after the home, so two homes never share a socket.
    pub fn socket_dir(&self) -> PathBuf {
        use sha2::Digest;
        let inside = self.root().join("run");
        let socket_len = inside.as_os_str().len() + format!("/.s.PGSQL.{PORT}").len();
        if socket_len <= MAX_SOCKET_PATH && !inside.as_os_str().as_encoded_bytes().contains(&b',') {
            return inside;
        }
        let digest = sha2::Sha256::digest(self.root().as_os_str().as_encoded_bytes());
        PathBuf::from(format!("/tmp/qcheck-{}", &hex::encode(digest)[..12]))
    }

    /// Whether `initdb` has run (the data folder holds `PG_VERSION`).
    pub fn is_initialized(&self) -> bool {
        self.data_dir().join("PG_VERSION").is_file()
    }

    /// libpq keyword/value connection string for a database of the cluster (values quoted when
    /// they hold a space, a quote or a backslash).
    pub fn conn_string(&self, dbname: &str) -> String {
        format!(
            "host={} port={PORT} user={SUPERUSER} dbname={}",
            libpq_quote(&self.socket_dir().to_string_lossy()),
            libpq_quote(dbname)
        )
    }

    /// A libpq URI, for `psql "$(qcheck cluster url)"` (the socket folder percent-encoded).
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@/{}?host={}&port={PORT}",
            uri_encode(dbname),
            uri_encode(&self.socket_dir().to_string_lossy())
        )
    }

    /// Where everything is, and whether it is initialized and running.
    pub fn status(&self) -> Result<Status> {
        Ok(Status {
            home: self.home.clone(),
            data_dir: self.data_dir(),
            socket_dir: self.socket_dir(),
            bin_dir: self.bin.dir.clone(),
            version: self.bin.version.clone(),
            initialized: self.is_initialized(),
            running: self.is_running()?,
            server_user: self.server_user_name(),
            log_file: self.log_file(),
        })
    }

    fn server_user_name(&self) -> String {
        match &self.server_user {
            Some(u) => u.name.clone(),
            None => nix::unistd::User::from_uid(nix::unistd::geteuid())
                .ok()
                .flatten()
                .map_or_else(|| "current user".into(), |u| u.name),
        }
    }

    /// `pg_ctl status`: 0 running, 3 not running, 4 no usable data folder.
    pub fn is_running(&self) -> Result<bool> {
        if !self.is_initialized() {
            return Ok(false);
        }
        let out = self.output(self.pg_ctl().arg("status").arg("-D").arg(self.data_dir()))?;
        Ok(out.status.success())
    }

    /// Starts using the server (see the module doc): under the lifecycle lock, initializes the
    /// cluster the first time and starts the server unless it runs — then marks it to be stopped by
    /// its last user — and takes a shared users lock, held until [`Cluster::release`].
    /// `on_start` runs after a start, still under the lock, so no other process sees the server
    /// before it is ready (qcheck creates its database there).
    pub fn acquire(&self, on_start: impl FnOnce() -> Result<()>) -> Result<ServerUse> {
        let _lifecycle = self.lifecycle_lock()?;
        self.init()?;
        for follower in &self.followers {
            follower.ensure_running()?;
        }
        let started = !self.is_running()?;
        if started {
            self.start()?;
            let marker = self.state_file("autostop");
            std::fs::write(&marker, "").at(&marker)?;
            on_start()?;
        }
        let users = self.state_file("users");
        let users = lock_file(&users, FlockArg::LockShared)?.ok_or_else(|| {
            Error::io(&users, std::io::Error::from(std::io::ErrorKind::WouldBlock))
        })?;
        Ok(ServerUse {
            _users: users,
            started,
        })
    }

    /// A follower's start (see [`Cluster::followers`]): initializes and starts it unless it runs,
    /// under its own lifecycle lock (taken after its leader's: always in that order). No users lock
    /// or autostop marker: the leader's govern it.
    fn ensure_running(&self) -> Result<()> {
        let _lifecycle = self.lifecycle_lock()?;
        self.init()?;
        if !self.is_running()? {
            self.start()?;
        }
        Ok(())
    }

    /// Ends a use. If it was the last one and a qcheck process started the server without being
    /// asked to keep it, stops the server; returns whether it did.
    pub fn release(&self, server_use: ServerUse) -> Result<bool> {
        let _lifecycle = self.lifecycle_lock()?;
        drop(server_use);
        if !self.state_file("autostop").exists() || !self.is_unused()? {
            return Ok(false);
        }
        self.stop_locked()
    }

    /// Keeps the server running after the last user is done (`qcheck cluster start|url`): removes
    /// the mark a starting process leaves.
    pub fn keep_running(&self) -> Result<()> {
        let _lifecycle = self.lifecycle_lock()?;
        remove_if_exists(&self.state_file("autostop"))
    }

    /// `qcheck cluster stop`: stops the server now if no qcheck process uses it; else marks it so
    /// that the last user stops it (a running query is never cut off).
    pub fn stop_when_unused(&self) -> Result<StopOutcome> {
        let _lifecycle = self.lifecycle_lock()?;
        if !self.is_running()? {
            // Followers a crashed leader left running are stopped too.
            self.stop_locked()?;
            return Ok(StopOutcome::NotRunning);
        }
        if self.is_unused()? {
            self.stop_locked()?;
            return Ok(StopOutcome::Stopped);
        }
        let marker = self.state_file("autostop");
        std::fs::write(&marker, "").at(&marker)?;
        Ok(StopOutcome::InUse)
    }

    /// Bookkeeping files next to the cluster folder: `<home>/pgNN.<suffix>`. They are not inside
    /// it, so `destroy` never deletes a lock file another process holds.
    fn state_file(&self, suffix: &str) -> PathBuf {
        self.home.join(format!("pg{}.{suffix}", self.bin.major))
    }

    /// The exclusive lock that serialises init, start and stop (creates the home).
    fn lifecycle_lock(&self) -> Result<Flock<File>> {
        std::fs::create_dir_all(&self.home).at(&self.home)?;
        let path = self.state_file("lock");
        lock_file(&path, FlockArg::LockExclusive)?
            .ok_or_else(|| Error::io(&path, std::io::Error::from(std::io::ErrorKind::WouldBlock)))
    }

    /// Whether no process holds a users lock; call under the lifecycle lock (users take theirs
    /// only under it, so none can come in between).
    fn is_unused(&self) -> Result<bool> {
        Ok(lock_file(&self.state_file("users"), FlockArg::LockExclusiveNonblock)?.is_some())
    }

    /// `initdb` unless the data folder exists, and the settings file qcheck owns. Under the lifecycle
    /// lock.
    fn init(&self) -> Result<()> {
        self.prepare_folders()?;
        if !self.is_initialized() {
            let mut cmd = Command::new(self.bin.program("initdb"));
            cmd.arg("-D")
                .arg(self.data_dir())
                .args([
                    "-U",
                    SUPERUSER,
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ])
                .arg("--no-instructions");
            self.checked(&mut cmd)?;
            let conf = self.data_dir().join("postgresql.conf");
            let mut text = std::fs::read_to_string(&conf).at(&conf)?;
            text.push_str("\n# qcheck: its own settings live in qcheck.conf\ninclude_if_exists = 'qcheck.conf'\n");
            std::fs::write(&conf, text).at(&conf)?;
        }
        // Rewritten every time: the socket folder follows the home, the settings follow qcheck.
        let mut settings =
            String::from("# Written by qcheck on every start; edits are overwritten.\n");
        settings.push_str("listen_addresses = ''\n");
        let socket_dir = self.socket_dir();
        let socket_dirs = socket_dirs_value(&socket_dir).map_err(|reason| {
            Error::io(
                &socket_dir,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, reason),
            )
        })?;
        settings.push_str(&format!("unix_socket_directories = {socket_dirs}\n"));
        settings.push_str("unix_socket_permissions = 0700\n");
        settings.push_str(&format!("port = {PORT}\n"));
        for (name, value) in SERVER_SETTINGS {
            settings.push_str(&format!("{name} = {value}\n"));
        }
        for (name, value) in &self.extra_settings {
            settings.push_str(&format!("{name} = {value}\n"));
        }
        let path = self.data_dir().join("qcheck.conf");
        std::fs::write(&path, settings).at(&path)?;
        self.chown_to_server(&path)?;
        Ok(())
    }

    /// Starts the server with `pg_ctl start -w` (60 s timeout); a failure message ends with the
    /// log's tail. Under the lifecycle lock.
    fn start(&self) -> Result<()> {
        let socket_dir = self.socket_dir();
        std::fs::create_dir_all(&socket_dir).at(&socket_dir)?;
        std::fs::set_permissions(&socket_dir, std::fs::Permissions::from_mode(0o700))
            .at(&socket_dir)?;
        self.chown_to_server(&socket_dir)?;
        let mut cmd = self.pg_ctl();
        cmd.arg("start")
            .arg("-w")
            .args(["-t", "60"])
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.log_file());
        // pg_ctl -w waits for the server; it inherits our stdout, so capture it to keep output clean.
        match self.checked(&mut cmd) {
            Ok(_) => Ok(()),
            Err(Error::Command {
                command,
                status,
                stderr,
            }) => Err(Error::Command {
                command,
                status,
                stderr: format!("{stderr}\n{}", self.log_tail()),
            }),
            Err(e) => Err(e),
        }
    }

    /// Stops the server now, in use or not (fast shutdown: rolls back open transactions, then a
    /// clean checkpoint). For `qcheck cluster stop` see [`Cluster::stop_when_unused`].
    pub fn stop(&self) -> Result<bool> {
        let _lifecycle = self.lifecycle_lock()?;
        self.stop_locked()
    }

    fn stop_locked(&self) -> Result<bool> {
        remove_if_exists(&self.state_file("autostop"))?;
        let running = self.is_running()?;
        if running {
            let mut cmd = self.pg_ctl();
            cmd.arg("stop")
                .arg("-w")
                .args(["-m", "fast"])
                .arg("-D")
                .arg(self.data_dir());
            self.checked(&mut cmd)?;
        }
        // After the leader: a Citus coordinator never runs without its workers.
        for follower in &self.followers {
            let _lifecycle = follower.lifecycle_lock()?;
            follower.stop_locked()?;
        }
        Ok(running)
    }

    /// Stops the server and deletes the cluster folder (and the socket folder if it is elsewhere);
    /// refused while another qcheck process uses the server.
    pub fn destroy(&self) -> Result<()> {
        if !self.home.exists() {
            return Ok(());
        }
        let _lifecycle = self.lifecycle_lock()?;
        if !self.is_unused()? {
            return Err(Error::io(
                self.root(),
                std::io::Error::other(
                    "the cluster is in use by another qcheck process; destroy it when that is done",
                ),
            ));
        }
        self.stop_locked()?;
        for follower in &self.followers {
            follower.destroy()?;
        }
        let root = self.root();
        if root.exists() {
            std::fs::remove_dir_all(&root).at(&root)?;
        }
        let socket_dir = self.socket_dir();
        if !socket_dir.starts_with(&root) && socket_dir.exists() {
            std::fs::remove_dir_all(&socket_dir).at(&socket_dir)?;
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_file()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// Creates the home (searchable by the server user) and the cluster folder it owns, and checks
    /// that the server user can reach it: every parent must be searchable for it.
    fn prepare_folders(&self) -> Result<()> {
        std::fs::create_dir_all(&self.home).at(&self.home)?;
        let root = self.root();
        std::fs::create_dir_all(&root).at(&root)?;
        let Some(user) = &self.server_user else {
            return Ok(());
        };
        // Our own folders: the home needs search permission for others, the cluster folder belongs
        // to the server user.
        let meta = std::fs::metadata(&self.home).at(&self.home)?;
        if meta.uid() == nix::unistd::geteuid().as_raw() && meta.mode() & 0o001 == 0 {
            let mode = meta.mode() | 0o011;
            std::fs::set_permissions(&self.home, std::fs::Permissions::from_mode(mode))
                .at(&self.home)?;
        }
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).at(&root)?;
        self.chown_to_server(&root)?;
        for dir in self.home.ancestors() {
            let meta = std::fs::metadata(dir).at(dir)?;
            let searchable = meta.mode() & 0o001 != 0
                || (meta.uid() == user.uid && meta.mode() & 0o100 != 0)
                || (meta.gid() == user.gid && meta.mode() & 0o010 != 0);
            if !searchable {
                return Err(Error::HomeNotReachable {
                    user: user.name.clone(),
                    folder: dir.to_path_buf(),
                    mode: meta.mode() & 0o7777,
                });
            }
        }
        Ok(())
    }

    fn chown_to_server(&self, path: &Path) -> Result<()> {
        if let Some(user) = &self.server_user {
            std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid)).at(path)?;
        }
        Ok(())
    }

    fn pg_ctl(&self) -> Command {
        Command::new(self.bin.program("pg_ctl"))
    }

    /// Runs a server program as the server user, from a folder that user can read.
    fn output(&self, cmd: &mut Command) -> Result<Output> {
        cmd.current_dir(&self.home);
        if let Some(user) = self.server_user.clone() {
            let (uid, gid) = (user.uid, user.gid);
            // SAFETY: only async-signal-safe system calls between fork and exec. Supplementary
            // groups are cleared so the server does not keep root's.
            unsafe {
                cmd.pre_exec(move || {
                    let gid = nix::unistd::Gid::from_raw(gid);
                    nix::unistd::setgroups(&[gid]).map_err(std::io::Error::from)?;
                    nix::unistd::setgid(gid).map_err(std::io::Error::from)?;
                    nix::unistd::setuid(nix::unistd::Uid::from_raw(uid))
                        .map_err(std::io::Error::from)?;
                    Ok(())
                });
            }
            cmd.env("HOME", &self.home);
        }
        run(cmd)
    }

    fn checked(&self, cmd: &mut Command) -> Result<Output> {
        let out = self.output(cmd)?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(command_failed(cmd, &out))
        }
    }
}

/// What `qcheck cluster stop` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// The server was unused and is stopped.
    Stopped,
    /// The server was not running.
    NotRunning,
    /// Other qcheck processes use it: the last of them stops it.
    InUse,
}

/// A qcheck process's use of the embedded server (a shared lock on `<home>/pgNN.users`); while it
/// lives no other process stops the server. End it with [`Cluster::release`].
#[derive(Debug)]
pub struct ServerUse {
    _users: Flock<File>,
    /// Whether this use started the server.
    pub started: bool,
}

/// Opens (creating) `path` and flocks it; `None` when a non-blocking lock is taken by another.
pub(crate) fn lock_file(path: &Path, arg: FlockArg) -> Result<Option<Flock<File>>> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .at(path)?;
    loop {
        match Flock::lock(file, arg) {
            Ok(lock) => return Ok(Some(lock)),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Ok(None),
            Err((again, nix::errno::Errno::EINTR)) => file = again,
            Err((_, e)) => return Err(Error::io(path, e.into())),
        }
    }
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

fn describe(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(
        cmd.get_args()
            .map(|a: &OsStr| a.to_string_lossy().into_owned()),
    );
    parts.join(" ")
}

fn run(cmd: &mut Command) -> Result<Output> {
    cmd.stdin(std::process::Stdio::null());
    cmd.output().map_err(|source| Error::Spawn {
        command: describe(cmd),
        source,
    })
}

fn command_failed(cmd: &Command, out: &Output) -> Error {
    let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if stderr.trim().is_empty() {
        stderr = String::from_utf8_lossy(&out.stdout).into_owned();
    }
    Error::Command {
        command: describe(cmd),
        status: out.status.to_string(),
        stderr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bin() -> PgBin {
        PgBin {
            dir: "/nonexistent".into(),
            version: "15.18".into(),
            major: 15,
        }
    }

    #[test]
    fn long_homes_get_a_short_socket_folder() {
        let long = PathBuf::from(format!("/tmp/{}", "x".repeat(120)));
        let cluster = Cluster {
            bin: fake_bin(),
            home: long,
            server_user: None,
            extra_settings: Vec::new(),
            followers: Vec::new(),
        };
        let socket = cluster.socket_dir();
        assert!(
            socket.to_str().unwrap().starts_with("/tmp/qcheck-"),
            "{socket:?}"
        );
        assert!(socket.as_os_str().len() + 14 <= MAX_SOCKET_PATH);

        let short = Cluster {
            bin: fake_bin(),
            home: "/tmp/q".into(),
            server_user: None,
            extra_settings: Vec::new(),
            followers: Vec::new(),
        };
        assert_eq!(short.socket_dir(), PathBuf::from("/tmp/q/pg15/run"));
    }

    #[test]
    fn url_and_conn_string_name_the_socket() {
        let cluster = Cluster {
            bin: fake_bin(),
            home: "/tmp/q".into(),
            server_user: None,
            extra_settings: Vec::new(),
            followers: Vec::new(),
        };
        assert_eq!(
            cluster.url("qcheck"),
            "postgresql://qcheck@/qcheck?host=/tmp/q/pg15/run&port=5432"
        );
        assert_eq!(
            cluster.conn_string("x"),
            "host=/tmp/q/pg15/run port=5432 user=qcheck dbname=x"
        );
    }

    #[test]
    fn an_explicit_folder_without_binaries_is_an_error() {
        let err = PgBin::locate(Some(Path::new("/nonexistent/bin")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("initdb, pg_ctl, postgres missing"), "{err}");
    }

    #[test]
    fn versions_are_read_strictly() {
        assert_eq!(
            parse_version("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some(("15.18".into(), 15))
        );
        assert_eq!(
            parse_version("postgres (PostgreSQL) 17beta1"),
            Some(("17beta1".into(), 17))
        );
        assert_eq!(parse_version(""), None);
        assert_eq!(parse_version("9.1 something"), None);
        assert_eq!(parse_version("postgres (PostgreSQL) garbage"), None);
    }

    /// A folder with initdb, pg_ctl and postgres, each the given shell script.
    fn fake_bin_dir(script: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in SERVER_PROGRAMS {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        dir
    }

    #[test]
    fn binaries_that_are_not_postgresql_14_or_later_are_refused() {
        for (script, said) in [
            ("exit 0", "said nothing: not PostgreSQL"),
            (
                "echo 'hello 9.1 world'",
                "said `hello 9.1 world`: not PostgreSQL",
            ),
            (
                "echo 'postgres (PostgreSQL) 13.4'",
                "said `postgres (PostgreSQL) 13.4`: too old",
            ),
        ] {
            let dir = fake_bin_dir(script);
            let err = PgBin::locate(Some(dir.path())).unwrap_err().to_string();
            assert!(err.starts_with(&dir.path().display().to_string()), "{err}");
            assert!(err.contains(said), "{err}");
            assert!(err.contains("needs PostgreSQL 14 or later"), "{err}");
        }
        let dir = fake_bin_dir("echo 'postgres (PostgreSQL) 16.2'");
        assert_eq!(PgBin::locate(Some(dir.path())).unwrap().major, 16);
    }

    #[test]
    fn config_values_are_quoted_or_refused() {
        assert_eq!(conf_quote("/tmp/a b").unwrap(), "'/tmp/a b'");
        assert_eq!(conf_quote("it's").unwrap(), "'it''s'");
        assert_eq!(conf_quote(r"a\b").unwrap(), r"'a\\b'");
        assert!(conf_quote("a'\nlisten_addresses = '*").is_err());
        assert_eq!(
            socket_dirs_value(Path::new("/tmp/o'k y/run")).unwrap(),
            r#"'"/tmp/o''k y/run"'"#
        );
        assert!(socket_dirs_value(Path::new("/tmp/a,b")).is_err());
    }

    #[test]
    fn homes_pg_ctl_cannot_run_in_are_refused_before_any_folder() {
        for home in [
            "/tmp/a\nb",
            "/tmp/a\"b",
            "/tmp/$HOME",
            "/tmp/a`b",
            r"/tmp/a\b",
        ] {
            let err = Cluster::new(fake_bin(), home.into())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("choose a home") || err.contains("line break"),
                "{err}"
            );
            assert!(!Path::new(home).exists());
        }
        assert!(Cluster::new(fake_bin(), "/tmp/it's, fine".into()).is_ok());
    }

    #[test]
    fn a_comma_in_the_home_gets_the_short_socket_folder_and_urls_are_encoded() {
        let cluster = Cluster {
            bin: fake_bin(),
            home: "/tmp/a,b".into(),
            server_user: None,
            extra_settings: Vec::new(),
            followers: Vec::new(),
        };
        assert!(
            cluster
                .socket_dir()
                .to_str()
                .unwrap()
                .starts_with("/tmp/qcheck-"),
            "{:?}",
            cluster.socket_dir()
        );
        let spaced = Cluster {
            bin: fake_bin(),
            home: "/tmp/it's a".into(),
            server_user: None,
            extra_settings: Vec::new(),
            followers: Vec::new(),
        };
        assert_eq!(
            spaced.url("qcheck"),
            "postgresql://qcheck@/qcheck?host=/tmp/it%27s%20a/pg15/run&port=5432"
        );
        assert_eq!(
            spaced.conn_string("qcheck"),
            r"host='/tmp/it\'s a/pg15/run' port=5432 user=qcheck dbname=qcheck"
        );
    }
}
