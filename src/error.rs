//! The library's error type.
//!
//! Every variant carries what qcheck was working on (a path, a command and its stderr, a migration, a
//! query name, SQLSTATE with DETAIL and HINT) so that `main` can print the whole chain on one line and
//! a user knows what to do without a backtrace. Everything here maps to exit code 2; a failed
//! expectation is not an error (it is a verdict) and maps to exit code 1 in `main`.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no PostgreSQL server binaries found (looked in: {searched}); install PostgreSQL \
         (Debian/Ubuntu: apt-get install postgresql postgresql-contrib) or pass --pg-bin-dir DIR / set QCHECK_PG_BIN \
         to the folder that holds initdb, pg_ctl and postgres"
    )]
    PgBinariesNotFound { searched: String },

    #[error("{path}: {reason}")]
    PgBinDir { path: PathBuf, reason: String },

    #[error("`{command}` failed ({status}){}", stderr_suffix(.stderr))]
    Command {
        command: String,
        status: String,
        stderr: String,
    },

    #[error("could not run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("{0}")]
    Cluster(String),

    #[error("cannot connect to {target}: {}; {hint}", db_message(.source))]
    Connect {
        target: String,
        hint: String,
        source: postgres::Error,
    },

    #[error("{context}: {}", db_message(.source))]
    Db {
        context: String,
        source: postgres::Error,
    },

    #[error("migration {version} ({name}): {}", db_message(.source))]
    Migration {
        version: u32,
        name: String,
        source: postgres::Error,
    },

    #[error("{0}")]
    Schema(String),

    #[error("{0}")]
    Usage(String),

    /// A query file (`sql/queries/*.sql` or `--queries DIR`) that does not parse: the file, the 1-based
    /// line where the problem is, and what is wrong.
    #[error("{}:{line}: {message}", .path.display())]
    QueryFile {
        path: PathBuf,
        line: usize,
        message: String,
    },

    /// A dataset profile that does not parse or validate: file, line (when known), what is wrong.
    #[error("{origin}{}: {message}", .line.map(|l| format!(":{l}")).unwrap_or_default())]
    Profile {
        origin: String,
        line: Option<usize>,
        message: String,
    },

    /// Seeding cannot proceed (the dataset would not fit, the profile cannot be satisfied, ...).
    #[error("{0}")]
    Dataset(String),
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
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn db(context: impl Into<String>, source: postgres::Error) -> Self {
        Error::Db {
            context: context.into(),
            source,
        }
    }
}

/// Attach a context to a database result: `client.execute(..).db("creating partitions")?`.
pub trait DbContext<T> {
    fn db(self, context: impl Into<String>) -> Result<T>;
}

impl<T> DbContext<T> for std::result::Result<T, postgres::Error> {
    fn db(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| Error::db(context, e))
    }
}

/// Attach a path to an I/O result.
pub trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
