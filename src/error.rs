//! The library's error type.
//!
//! Every variant carries what qcheck was working on (a path, a command and its stderr, a migration, a
//! query name, SQLSTATE with DETAIL and HINT) so that `main` can print the whole chain on one line and
//! a user knows what to do without a backtrace. Everything here maps to exit code 2; a failed
//! expectation is not an error (it is a verdict) and maps to exit code 1 in `main`.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that stops a qcheck command. Each variant carries its subject; `main` prints the
/// Display text on one line after `qcheck: error:` and exits 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No folder with PostgreSQL server binaries was found: where qcheck looked.
    #[error(
        "no PostgreSQL server binaries found (looked in: {searched}); install PostgreSQL \
         (Debian/Ubuntu: apt-get install postgresql postgresql-contrib) or pass --pg-bin-dir DIR / set QCHECK_PG_BIN \
         to the folder that holds initdb, pg_ctl and postgres"
    )]
    PgBinariesNotFound {
        /// The places searched, in order.
        searched: String,
    },

    /// A `--pg-bin-dir` / `QCHECK_PG_BIN` folder that does not hold usable server binaries.
    #[error("{path}: {reason}")]
    PgBinDir {
        /// The folder given.
        path: PathBuf,
        /// What is missing or wrong there.
        reason: String,
    },

    /// An external program (initdb, pg_ctl, pgbench, ...) ran and failed.
    #[error("`{command}` failed ({status}){}", stderr_suffix(.stderr))]
    Command {
        /// The command line, as a user would rerun it (never with a password).
        command: String,
        /// Its exit status.
        status: String,
        /// Its standard error; the last lines are shown.
        stderr: String,
    },

    /// An external program could not be started at all.
    #[error("could not run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why the OS refused.
        source: std::io::Error,
    },

    /// Reading or writing a file or folder failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },

    /// `--citus-workers` on an installation without the Citus extension: where qcheck looked and how
    /// to install it.
    #[error(
        "--citus-workers needs the Citus extension, and PostgreSQL {version} has none ({} missing): \
         install it with ../shared/vendor/install-citus.sh (builds Citus 13.2.2 from the vendored \
         source for PostgreSQL 15; needs root, apt-get and about a minute), or run without --citus-workers",
        .missing.display()
    )]
    CitusMissing {
        /// The server version of the binaries found.
        version: String,
        /// The library file that is not there (`<pkglibdir>/citus.so`).
        missing: PathBuf,
    },

    /// A Citus topology request that cannot be served (e.g. `--citus-workers` with `--database-url`).
    #[error("{0}")]
    Topology(String),

    /// qcheck runs as root, PostgreSQL refuses to, and there is no OS user to run the server as.
    #[error(
        "qcheck runs as root, PostgreSQL refuses to, and neither a `postgres` nor a `nobody` OS user \
         exists to run it: create one (useradd --system postgres) or run qcheck as an ordinary user"
    )]
    NoServerUser,

    /// The OS user that runs the embedded server cannot enter a folder on the way to its home.
    #[error(
        "the PostgreSQL server runs as OS user `{user}` (qcheck runs as root) and cannot enter {} \
         (mode {mode:o}): set QCHECK_HOME to a folder it can reach, e.g. /var/cache/qcheck",
        .folder.display()
    )]
    HomeNotReachable {
        /// The server's OS user.
        user: String,
        /// The folder it cannot search.
        folder: PathBuf,
        /// The folder's permission bits.
        mode: u32,
    },

    /// Connecting to a server failed: which server (never with its password), what to check.
    #[error("cannot connect to {target}: {}; {hint}", db_message(.source))]
    Connect {
        /// The server, as `host:port/dbname user`.
        target: String,
        /// What to check.
        hint: String,
        /// The client library's error.
        source: postgres::Error,
    },

    /// `service=` or `PGSERVICE` names a service no service file defines.
    #[error("definition of service \"{service}\" not found (looked in {files})")]
    ServiceNotFound {
        /// The service name.
        service: String,
        /// The service files read, in order.
        files: String,
    },

    /// The TLS settings cannot be used (a missing or unreadable certificate file, ...).
    #[error("cannot connect to {target}: TLS: {message}")]
    Tls {
        /// The server, without its password.
        target: String,
        /// What is wrong.
        message: String,
    },

    /// A libpq TLS setting qcheck does not support (`sslcrl`, `sslcrldir`, `sslpassword`): refused,
    /// never ignored. Names the setting, where it came from and what to do instead.
    #[error("{setting} ({origin}) is not supported by qcheck: {why}")]
    UnsupportedSetting {
        /// The libpq keyword, e.g. `sslcrl`.
        setting: String,
        /// Where it was set: the connection string or service, or a `PG*` variable.
        origin: String,
        /// Why qcheck refuses it and what to do instead.
        why: String,
    },

    /// A `--database-url` / `DATABASE_URL` that does not parse. The input is never repeated: it may
    /// hold a password.
    #[error(
        "invalid --database-url (not shown, it may hold a password): {message}; expected e.g. \
         postgresql://user@host:5432/dbname or 'host=... dbname=...'"
    )]
    DatabaseUrl {
        /// The parser's complaint.
        message: String,
    },

    /// The server refused a statement: what qcheck was doing, and the server's message with
    /// SQLSTATE, DETAIL and HINT.
    #[error("{context}: {}", db_message(.source))]
    Db {
        /// What qcheck was doing.
        context: String,
        /// The server's (or the client library's) error.
        source: postgres::Error,
    },

    /// A migration script failed on the server.
    #[error("migration {version} ({name}): {}", db_message(.source))]
    Migration {
        /// The migration's number.
        version: u32,
        /// The migration's name.
        name: String,
        /// The server's error.
        source: postgres::Error,
    },

    /// A shipped migration file is malformed (its name, its pair, its encoding).
    #[error("sql/migrations/{file}: {message}")]
    MigrationFile {
        /// The file name inside `sql/migrations`.
        file: String,
        /// What is wrong with it.
        message: String,
    },

    /// The database's record of a migration disagrees with the migrations this qcheck ships.
    #[error("migration {version:04}_{name} {message}")]
    MigrationState {
        /// The migration's number.
        version: u32,
        /// The migration's name.
        name: String,
        /// The disagreement and what to do, as a predicate (`was changed after ...`).
        message: String,
    },

    /// A catalog query cannot be run as written (its `params:` SQL found no row, its parameter count
    /// differs from the server's, its plan could not be read): which query, its file, what is wrong.
    #[error("query `{name}` ({}): {message}", .path.display())]
    Query {
        /// The query's name.
        name: String,
        /// Its file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// The server refused a step of running a catalog query: which query, its file, the step, and
    /// the server's message with SQLSTATE, DETAIL and HINT.
    #[error("query `{name}` ({}): {step}: {}", .path.display(), db_message(.source))]
    QueryDb {
        /// The query's name.
        name: String,
        /// Its file.
        path: PathBuf,
        /// What the runner was doing (`custom plan: executing`, `preparing`, ...).
        step: String,
        /// The server's error.
        source: postgres::Error,
    },

    /// A file named on the command line that cannot be read as input: not a regular file, over
    /// its size limit, not UTF-8, or not in the expected format.
    #[error("{}: {message}", .path.display())]
    InputFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the limit where one applies.
        message: String,
    },

    /// A file given as a plan (`explain --plan`) is not an EXPLAIN (FORMAT JSON) document.
    #[error("{}: not an EXPLAIN (FORMAT JSON) plan: {source}", .path.display())]
    PlanFile {
        /// The file.
        path: PathBuf,
        /// Why it could not be read as a plan.
        source: crate::plan::PlanParseError,
    },

    /// A baseline (`check --baseline FILE`, `qcheck diff`) that cannot be read, or that was taken
    /// on other data than the run it is compared with (plans and buffers of different rows are not
    /// comparable): the file, and what to do.
    #[error("{}: {message}", .path.display())]
    Baseline {
        /// The baseline file.
        path: PathBuf,
        /// What is wrong, and what to do.
        message: String,
    },

    /// A name (query, strategy, profile) that is none of the known ones.
    #[error("unknown {} `{name}`; known {}: {known}{hint}", .kind.singular(), .kind.plural())]
    Unknown {
        /// What was named.
        kind: Named,
        /// The name given.
        name: String,
        /// The known names, comma-separated.
        known: String,
        /// Anything else the user can do (may be empty).
        hint: &'static str,
    },

    /// The command line asks for something qcheck cannot do (conflicting or out-of-range values).
    #[error("{0}")]
    Usage(String),

    /// A query file (`sql/queries/*.sql` or `--queries DIR`) that does not parse: the file, the 1-based
    /// line where the problem is, and what is wrong.
    #[error("{}:{line}: {message}", .path.display())]
    QueryFile {
        /// The query file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong there.
        message: String,
    },

    /// A shipped strategy file (`sql/strategies/NAME.sql`) that does not parse.
    #[error("sql/strategies/{name}.sql:{line}: {message}")]
    StrategyFile {
        /// The strategy's name.
        name: String,
        /// 1-based line.
        line: usize,
        /// What is wrong there.
        message: String,
    },

    /// A `--queries` folder that cannot serve as a catalog (no query files, two files with one name).
    #[error("{}: {message}", .dir.display())]
    QueryFolder {
        /// The folder.
        dir: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// A dataset profile that does not parse or validate: file, line (when known), what is wrong.
    #[error("{origin}{}: {message}", .line.map(|l| format!(":{l}")).unwrap_or_default())]
    Profile {
        /// The profile's file (`datasets/NAME.toml` for built-ins).
        origin: String,
        /// The line, when the TOML parser knows it.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },

    /// Seeding cannot proceed (the dataset would not fit, the profile cannot be satisfied, the
    /// database holds no dataset record, the generator failed): the message names the dataset or
    /// step.
    #[error("{0}")]
    Dataset(String),

    /// The queries cannot run as the role asked for (`--as-role`, or the application role by
    /// default): it does not exist, the connecting user may not `SET ROLE` to it, or no tenant is
    /// known for it. The message says what to do.
    #[error("cannot check the queries as role `{role}`: {message}")]
    RunAs {
        /// The role.
        role: String,
        /// What is wrong, and what to do.
        message: String,
    },

    /// The server answered something qcheck cannot read (e.g. a WAL position in an unknown format).
    #[error("unexpected {what} from the server: `{found}`")]
    Unexpected {
        /// What was read.
        what: &'static str,
        /// What the server sent.
        found: String,
    },
}

/// The kinds of things a user names on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Named {
    /// A catalog query (`--query`).
    Query,
    /// An index strategy (`--strategy`).
    Strategy,
    /// A dataset profile (`--profile`).
    Profile,
}

impl Named {
    /// `query`, `strategy`, `profile`.
    pub fn singular(self) -> &'static str {
        match self {
            Named::Query => "query",
            Named::Strategy => "strategy",
            Named::Profile => "profile",
        }
    }

    /// `queries`, `strategies`, `profiles`.
    pub fn plural(self) -> &'static str {
        match self {
            Named::Query => "queries",
            Named::Strategy => "strategies",
            Named::Profile => "profiles",
        }
    }
}

fn stderr_suffix(stderr: &str) -> String {
    let trimmed = stderr.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        // One line: the last lines of stderr are where the cause is.
        let lines: Vec<&str> = trimmed.lines().rev().take(3).collect();
        let joined: Vec<&str> = lines.into_iter().rev().collect();
        format!(": {}", joined.join(" | "))
    }
}

/// Renders a database error as `message (SQLSTATE xxxxx) DETAIL: … HINT: …`, or the client-side cause
/// (I/O, protocol) when the server did not answer. rust-postgres' own Display says only "db error".
pub fn db_message(err: &postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let mut out = format!("{} (SQLSTATE {})", db.message(), db.code().code());
        if *db.code() == postgres::error::SqlState::QUERY_CANCELED
            && db.message().contains("statement timeout")
        {
            if let Some(limit) = crate::db::statement_timeout() {
                out.push_str(&format!(
                    "; --statement-timeout is {} ms: raise it, or 0 for none",
                    limit.as_millis()
                ));
            }
        }
        if let Some(detail) = db.detail() {
            out.push_str(&format!("; DETAIL: {detail}"));
        }
        if let Some(hint) = db.hint() {
            out.push_str(&format!("; HINT: {hint}"));
        }
        if let Some(where_) = db.where_() {
            out.push_str(&format!(
                "; WHERE: {}",
                where_.lines().next().unwrap_or_default()
            ));
        }
        return out;
    }
    let mut out = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        out.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    out
}

/// The SQLSTATE of a database error, if the server raised one.
pub fn sqlstate(err: &postgres::Error) -> Option<&str> {
    err.as_db_error().map(|db| db.code().code())
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A server error while doing `context`.
    pub fn db(context: impl Into<String>, source: postgres::Error) -> Self {
        Error::Db {
            context: context.into(),
            source,
        }
    }
}

/// Attach a context to a database result: `client.execute(..).db("creating partitions")?`.
pub trait DbContext<T> {
    /// Wraps the error as [`Error::Db`] with `context`.
    fn db(self, context: impl Into<String>) -> Result<T>;
}

impl<T> DbContext<T> for std::result::Result<T, postgres::Error> {
    fn db(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::db(context, e))
    }
}

/// Attach a path to an I/O result.
pub trait IoContext<T> {
    /// Wraps the error as [`Error::Io`] on `path`.
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a user reads: one line, the subject first, what to do last.
    #[test]
    fn messages_name_their_subject() {
        let cases: Vec<(Error, &str)> = vec![
            (
                Error::Query {
                    name: "provider_day".into(),
                    path: "sql/queries/provider_day.sql".into(),
                    message: "its params SQL returned no row".into(),
                },
                "query `provider_day` (sql/queries/provider_day.sql): its params SQL returned no row",
            ),
            (
                Error::Unknown {
                    kind: Named::Strategy,
                    name: "fast".into(),
                    known: "fk-only, tuned".into(),
                    hint: "",
                },
                "unknown strategy `fast`; known strategies: fk-only, tuned",
            ),
            (
                Error::MigrationState {
                    version: 2,
                    name: "appointment_notes".into(),
                    message: "cannot be reverted".into(),
                },
                "migration 0002_appointment_notes cannot be reverted",
            ),
            (
                Error::MigrationFile {
                    file: "7_x.up.sql".into(),
                    message: "not UTF-8".into(),
                },
                "sql/migrations/7_x.up.sql: not UTF-8",
            ),
            (
                Error::HomeNotReachable {
                    user: "postgres".into(),
                    folder: "/root".into(),
                    mode: 0o700,
                },
                "the PostgreSQL server runs as OS user `postgres` (qcheck runs as root) and cannot enter /root \
                 (mode 700): set QCHECK_HOME to a folder it can reach, e.g. /var/cache/qcheck",
            ),
            (
                Error::Profile {
                    origin: "my.toml".into(),
                    line: Some(3),
                    message: "unknown key".into(),
                },
                "my.toml:3: unknown key",
            ),
            (
                Error::Command {
                    command: "initdb -D x".into(),
                    status: "exit status: 1".into(),
                    stderr: "a\nb\nc\nd\n".into(),
                },
                "`initdb -D x` failed (exit status: 1): b | c | d",
            ),
            (
                Error::RunAs {
                    role: "app".into(),
                    message: "no such role".into(),
                },
                "cannot check the queries as role `app`: no such role",
            ),
            (
                Error::Unexpected {
                    what: "WAL position",
                    found: "zz".into(),
                },
                "unexpected WAL position from the server: `zz`",
            ),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
        let plan = crate::plan::parse_plan("[]").unwrap_err();
        let err = Error::PlanFile {
            path: "p.json".into(),
            source: plan,
        };
        assert!(
            err.to_string()
                .starts_with("p.json: not an EXPLAIN (FORMAT JSON) plan: expected EXPLAIN"),
            "{err}"
        );
    }
}
