//! The embedded PostgreSQL: find the server binaries, `initdb` a throwaway cluster into a cache
//! folder, start and stop it with `pg_ctl -w` on a Unix socket of its own (no TCP listener).
//!
//! qcheck's default target needs no server installed or started by hand. The cluster is kept between
//! runs (seeding a production-sized dataset takes a while), so it lives in `QCHECK_HOME`, by default
//! the user's cache folder. PostgreSQL refuses to run as root, and CI runs as root: then the server
//! runs as an unprivileged OS user (`postgres` if it exists, else `nobody`) that owns the cluster
//! folder; qcheck itself stays root and reaches the server over the socket.

use std::ffi::OsStr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::error::{Error, IoContext, Result};

/// The superuser and database that `initdb` creates in the embedded cluster.
pub const SUPERUSER: &str = "qcheck";
/// The database qcheck works in; created on first connect (`initdb` makes only `postgres`).
pub const DATABASE: &str = "qcheck";
/// The socket is named after the port; the socket folder is our own, so the port never collides.
pub const PORT: u16 = 5432;
/// sun_path holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

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

        for dir in candidates {
            if SERVER_PROGRAMS.iter().all(|p| dir.join(p).is_file()) {
                return PgBin::at(&dir);
            }
        }
        Err(Error::PgBinariesNotFound {
            searched: searched.join(", "),
        })
    }

    fn at(dir: &Path) -> Result<PgBin> {
        let postgres = dir.join("postgres");
        let out = run(Command::new(&postgres).arg("--version"))?;
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text
            .split_whitespace()
            .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
            .unwrap_or("")
            .to_string();
        let major = version
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|m| m.parse().ok())
            .ok_or_else(|| Error::PgBinDir {
                path: dir.to_path_buf(),
                reason: format!(
                    "cannot read the version from `postgres --version`: {}",
                    text.trim()
                ),
            })?;
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
    pub fn new(bin: PgBin, home: PathBuf) -> Result<Cluster> {
        let home = if home.is_absolute() {
            home
        } else {
            std::env::current_dir().at(".")?.join(home)
        };
        Ok(Cluster {
            bin,
            home,
            server_user: ServerUser::for_current_process()?,
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
    /// The socket folder: inside the cluster folder when the path fits in sun_path, else a short
    /// folder of our own under /tmp named after the home, so two homes never share a socket.
    pub fn socket_dir(&self) -> PathBuf {
        use sha2::Digest;
        let inside = self.root().join("run");
        let socket_len = inside.as_os_str().len() + format!("/.s.PGSQL.{PORT}").len();
        if socket_len <= MAX_SOCKET_PATH {
            return inside;
        }
        let digest = sha2::Sha256::digest(self.root().as_os_str().as_encoded_bytes());
        PathBuf::from(format!("/tmp/qcheck-{}", &hex::encode(digest)[..12]))
    }

    /// Whether `initdb` has run (the data folder holds `PG_VERSION`).
    pub fn is_initialized(&self) -> bool {
        self.data_dir().join("PG_VERSION").is_file()
    }

    /// libpq keyword/value connection string for a database of the cluster.
    pub fn conn_string(&self, dbname: &str) -> String {
        format!(
            "host={} port={PORT} user={SUPERUSER} dbname={dbname}",
            self.socket_dir().display()
        )
    }

    /// A libpq URI, for `psql "$(qcheck cluster url)"`.
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@/{dbname}?host={}&port={PORT}",
            self.socket_dir().display()
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

    /// Initializes (first time), then starts the server unless it runs. Returns true when this call
    /// started it, so the caller can stop it again when done.
    pub fn ensure_running(&self) -> Result<bool> {
        self.init()?;
        if self.is_running()? {
            return Ok(false);
        }
        self.start()?;
        Ok(true)
    }

    /// `initdb` unless the data folder exists, and the settings file qcheck owns.
    pub fn init(&self) -> Result<()> {
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
        settings.push_str(&format!(
            "unix_socket_directories = '{}'\n",
            self.socket_dir().display()
        ));
        settings.push_str("unix_socket_permissions = 0700\n");
        settings.push_str(&format!("port = {PORT}\n"));
        for (name, value) in SERVER_SETTINGS {
            settings.push_str(&format!("{name} = {value}\n"));
        }
        let path = self.data_dir().join("qcheck.conf");
        std::fs::write(&path, settings).at(&path)?;
        self.chown_to_server(&path)?;
        Ok(())
    }

    /// Starts the server with `pg_ctl start -w` (60 s timeout); a failure message ends with the
    /// log's tail.
    pub fn start(&self) -> Result<()> {
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

    /// Stops the server (fast shutdown: rolls back open transactions, then a clean checkpoint).
    pub fn stop(&self) -> Result<bool> {
        if !self.is_running()? {
            return Ok(false);
        }
        let mut cmd = self.pg_ctl();
        cmd.arg("stop")
            .arg("-w")
            .args(["-m", "fast"])
            .arg("-D")
            .arg(self.data_dir());
        self.checked(&mut cmd)?;
        Ok(true)
    }

    /// Stops the server and deletes the cluster folder (and the socket folder if it is elsewhere).
    pub fn destroy(&self) -> Result<()> {
        self.stop()?;
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
        };
        assert_eq!(short.socket_dir(), PathBuf::from("/tmp/q/pg15/run"));
    }

    #[test]
    fn url_and_conn_string_name_the_socket() {
        let cluster = Cluster {
            bin: fake_bin(),
            home: "/tmp/q".into(),
            server_user: None,
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
}
