//! The data model as versioned migrations (`sql/migrations/NNNN_name.{up,down}.sql`), applied and
//! recorded in `qcheck_migration` (version, name, checksum, applied_at), and the index strategies
//! (`sql/strategies/NAME.sql`) applied on top of them.
//!
//! The SQL files are compiled into the binary, so an installed `qcheck` carries its schema. Each
//! migration runs in its own transaction under an advisory lock, so two qcheck processes never
//! migrate the same database at once and a failed migration leaves nothing half-applied. A migration
//! that changed after it was applied is refused: the recorded checksum no longer matches.
//!
//! Each migration runs under `lock_timeout` and `statement_timeout` ([`MigrationTimeouts`]): on a
//! live database, DDL that waits for a lock makes every later query of the table queue behind it, so
//! a migration that cannot get its locks quickly fails, rolls back and can be retried, rather than
//! stall the application.

use include_dir::{Dir, include_dir};
use postgres::Client;
use sha2::{Digest, Sha256};

use crate::error::{DbContext, Error, Result};
use crate::sql::{LexError, Statement, Token};

mod definition;
pub use definition::{IndexKey, IndexParts, index_differences};

static MIGRATIONS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/sql/migrations");
static STRATEGIES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/sql/strategies");

/// The strategy `qcheck migrate up` and `qcheck seed` apply unless told otherwise.
pub const DEFAULT_STRATEGY: &str = "tuned";

/// Arbitrary key of the advisory lock that serializes schema changes.
const LOCK_KEY: i64 = 0x7163_6865_636b; // "qcheck"

/// One migration: its up and down scripts.
#[derive(Debug, Clone)]
pub struct Migration {
    /// Number from the file name prefix (`0001_...`).
    pub version: u32,
    /// Name from the file name, after the version.
    pub name: String,
    /// The up script.
    pub up: &'static str,
    /// The down script, which reverts the up script.
    pub down: &'static str,
}

impl Migration {
    /// sha256 of the up script: what was applied.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.up.as_bytes()))
    }

    /// Whether `recorded` (a checksum in `qcheck_migration`) stands for this migration: the shipped
    /// script's, or one of [`REWORDED`]'s earlier texts of it.
    fn accepts(&self, recorded: &str) -> bool {
        recorded == self.checksum()
            || REWORDED
                .iter()
                .any(|r| r.version == self.version && r.earlier == recorded)
    }
}

/// A shipped up script whose comments were corrected after databases applied it. The statements are
/// unchanged (a unit test compares [`statements_checksum`] of the shipped text with `statements`), so
/// a database that recorded the earlier text's checksum holds exactly this migration: it counts as
/// applied, and `migrate up` records the current checksum.
struct Reworded {
    version: u32,
    /// sha256 of the up script as first shipped.
    earlier: &'static str,
    /// [`statements_checksum`] of that text.
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "the proof that the rewording is comment-only is a unit test's"
        )
    )]
    statements: &'static str,
}

const REWORDED: [Reworded; 1] = [
    // 0002's comment called adding its CHECK metadata-only; it scans every partition (issue 11).
    Reworded {
        version: 2,
        earlier: "0a78e1dc11c6eff76b4bae08bac08d66862bf4323dc39523b0bd628ea4d0a399",
        statements: "0827d5b8c7d7766e4a24d1711b292dc085c13c411c1cbda6f56a00016a25218a",
    },
];

/// sha256 of a script's code tokens (comments and whitespace left out), each followed by a newline:
/// two scripts with the same checksum run the same statements.
pub fn statements_checksum(sql: &str) -> Result<String, LexError> {
    let mut hash = Sha256::new();
    for token in crate::sql::code_tokens(sql)? {
        hash.update(token.text.as_bytes());
        hash.update(b"\n");
    }
    Ok(hex::encode(hash.finalize()))
}

/// `lock_timeout` and `statement_timeout` of each migration's transaction, as PostgreSQL settings
/// (`5s`, `10min`, `0` for none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationTimeouts {
    /// How long a statement may wait for a lock: default 5 s. Long enough for the brief locks of
    /// ordinary traffic to clear; short enough that queries queued behind a waiting ACCESS EXCLUSIVE
    /// request stall for seconds, not until a long transaction ends.
    pub lock: String,
    /// How long one statement may run: default 15 min, for the scans and index builds of a migration
    /// on a large table (which by the migration rules hold no lock that blocks the application).
    pub statement: String,
}

impl MigrationTimeouts {
    /// The environment variable that overrides [`MigrationTimeouts::lock`].
    pub const LOCK_ENV: &'static str = "QCHECK_MIGRATION_LOCK_TIMEOUT";
    /// The environment variable that overrides [`MigrationTimeouts::statement`].
    pub const STATEMENT_ENV: &'static str = "QCHECK_MIGRATION_STATEMENT_TIMEOUT";

    /// The defaults, overridden by [`Self::LOCK_ENV`] and [`Self::STATEMENT_ENV`] when set and not
    /// empty. The values are checked by PostgreSQL when the migration sets them.
    pub fn from_env() -> MigrationTimeouts {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        MigrationTimeouts {
            lock: var(Self::LOCK_ENV, "5s"),
            statement: var(Self::STATEMENT_ENV, "15min"),
        }
    }

    /// Sets both for the current transaction only.
    fn set_local(&self, tx: &mut postgres::Transaction<'_>) -> Result<()> {
        tx.execute(
            "SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', $2, true)",
            &[&self.lock, &self.statement],
        )
        .map(|_| ())
        .map_err(|e| {
            Error::db(
                format!(
                    "setting the migration timeouts (lock_timeout {}, statement_timeout {}; from {} and {})",
                    self.lock,
                    self.statement,
                    Self::LOCK_ENV,
                    Self::STATEMENT_ENV
                ),
                e,
            )
        })
    }
}

/// The migrations shipped with qcheck, in version order.
pub fn migrations() -> Result<Vec<Migration>> {
    let mut found: std::collections::BTreeMap<
        u32,
        (String, Option<&'static str>, Option<&'static str>),
    > = std::collections::BTreeMap::default();
    for file in MIGRATIONS.files() {
        let fname = file
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let (stem, is_up) = if let Some(s) = fname.strip_suffix(".up.sql") {
            (s, true)
        } else if let Some(s) = fname.strip_suffix(".down.sql") {
            (s, false)
        } else {
            continue;
        };
        let (num, name) = stem.split_once('_').ok_or_else(|| Error::MigrationFile {
            file: fname.to_string(),
            message: "expected NNNN_name.up.sql".into(),
        })?;
        let version: u32 = num.parse().map_err(|_| Error::MigrationFile {
            file: fname.to_string(),
            message: format!("version `{num}` is not a number"),
        })?;
        let text = file.contents_utf8().ok_or_else(|| Error::MigrationFile {
            file: fname.to_string(),
            message: "not UTF-8".into(),
        })?;
        let entry = found
            .entry(version)
            .or_insert_with(|| (name.to_string(), None, None));
        if is_up {
            entry.1 = Some(text);
        } else {
            entry.2 = Some(text);
        }
    }
    found
        .into_iter()
        .map(|(version, (name, up, down))| match (up, down) {
            (Some(up), Some(down)) => Ok(Migration {
                version,
                name,
                up,
                down,
            }),
            _ => Err(Error::MigrationFile {
                file: format!("{version:04}_{name}"),
                message: "needs both an .up.sql and a .down.sql".into(),
            }),
        })
        .collect()
}

/// One migration's state in a database.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationState {
    /// The migration's version.
    pub version: u32,
    /// The migration's name.
    pub name: String,
    /// RFC 3339, when applied.
    pub applied_at: Option<String>,
    /// `applied`, `pending`, or `changed` (applied, but the shipped script differs now).
    pub state: String,
    /// First 12 hex digits of the shipped up script's sha256.
    pub checksum: String,
}

/// What `qcheck migrate status` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SchemaStatus {
    /// Every shipped migration, in version order.
    pub migrations: Vec<MigrationState>,
    /// The applied strategy; `None` when no strategy is recorded.
    pub strategy: Option<String>,
    /// Indexes the applied strategy built, by name (the parent indexes, not their partitions).
    pub strategy_indexes: Vec<String>,
    /// Indexes that do not match the recorded strategy (see [`strategy_drift`]).
    pub drift: StrategyDrift,
    /// Leaf partitions of `appointment` without their exclusion constraint: double bookings in
    /// their months go unnoticed (see [`unguarded_partitions`]).
    pub unguarded_partitions: Vec<String>,
}

fn ensure_bookkeeping(client: &mut Client) -> Result<()> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS qcheck_migration (
                 version    integer PRIMARY KEY,
                 name       text NOT NULL,
                 checksum   text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now());
             CREATE TABLE IF NOT EXISTS qcheck_strategy_index (
                 index_name text PRIMARY KEY,
                 strategy   text NOT NULL,
                 build_ms   double precision NOT NULL);
             ALTER TABLE qcheck_strategy_index ADD COLUMN IF NOT EXISTS parent text;",
        )
        .db("creating qcheck's bookkeeping tables")
}

fn bookkeeping_exists(client: &mut Client) -> Result<bool> {
    let row = client
        .query_one("SELECT to_regclass('qcheck_migration') IS NOT NULL", &[])
        .db("looking for qcheck_migration")?;
    Ok(row.get(0))
}

#[allow(
    clippy::cast_sign_loss,
    reason = "qcheck writes the versions, from shipped NNNN file names: never negative"
)]
fn applied(client: &mut Client) -> Result<Vec<(u32, String, String, String)>> {
    if !bookkeeping_exists(client)? {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            "SELECT version, name, checksum,
                    to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
               FROM qcheck_migration ORDER BY version",
            &[],
        )
        .db("reading qcheck_migration")?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, i32>(0) as u32, r.get(1), r.get(2), r.get(3)))
        .collect())
}

/// Schema changes (migrations, index builds at scale) run without `--statement-timeout`.
fn with_lock<T>(client: &mut Client, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .db("waiting for the schema lock")?;
    let result = crate::db::unbounded(client, f);
    let unlock = client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]);
    match (result, unlock) {
        (Ok(v), Ok(_)) => Ok(v),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(Error::db("releasing the schema lock", e)),
    }
}

/// Applies every pending migration; returns the versions applied. Refuses to run when an applied
/// migration's script has changed since.
pub fn migrate_up(client: &mut Client) -> Result<Vec<u32>> {
    migrate_up_with(client, &MigrationTimeouts::from_env())
}

/// [`migrate_up`] with explicit timeouts for each migration's transaction.
pub fn migrate_up_with(client: &mut Client, timeouts: &MigrationTimeouts) -> Result<Vec<u32>> {
    let all = migrations()?;
    with_lock(client, |client| {
        ensure_bookkeeping(client)?;
        let done = applied(client)?;
        for (version, name, checksum, _) in &done {
            match all.iter().find(|m| m.version == *version) {
                Some(m) if m.checksum() != *checksum && m.accepts(checksum) => {
                    client
                        .execute(
                            "UPDATE qcheck_migration SET checksum = $2 WHERE version = $1",
                            &[&version_i32(m.version), &m.checksum()],
                        )
                        .db("recording the checksum of a reworded migration")?;
                }
                Some(m) if m.checksum() != *checksum => {
                    return Err(Error::MigrationState {
                        version: *version,
                        name: name.clone(),
                        message: format!(
                            "was changed after it was applied (checksum {} recorded, {} shipped): revert the file, \
                             or run `qcheck migrate down` first on a database you can reset",
                            &checksum[..12],
                            &m.checksum()[..12]
                        ),
                    });
                }
                Some(_) => {}
                None => {
                    return Err(Error::MigrationState {
                        version: *version,
                        name: name.clone(),
                        message:
                            "is in the database but unknown to this qcheck: it was migrated by a \
                                  newer qcheck"
                                .into(),
                    });
                }
            }
        }
        let citus = crate::topology::detect(client)?.is_some();
        let mut newly = Vec::new();
        for m in all
            .iter()
            .filter(|m| !done.iter().any(|d| d.0 == m.version))
        {
            let mut tx = client
                .transaction()
                .db("starting a migration transaction")?;
            timeouts.set_local(&mut tx)?;
            execute_script(&mut tx, m.up, citus).map_err(|source| Error::Migration {
                version: m.version,
                name: m.name.clone(),
                source,
            })?;
            tx.execute(
                "INSERT INTO qcheck_migration (version, name, checksum) VALUES ($1, $2, $3)",
                &[&version_i32(m.version), &m.name, &m.checksum()],
            )
            .db("recording a migration")?;
            tx.commit().db("committing a migration")?;
            newly.push(m.version);
        }
        // On Citus, the model distributed by tenant (a no-op on plain PostgreSQL).
        crate::topology::distribute(client)?;
        Ok(newly)
    })
}

/// Runs a migration script: in one piece, or on Citus one statement at a time (a worker refuses the
/// commands Citus propagates from inside a multi-statement query; see
/// [`crate::topology::run_script`]).
fn execute_script(
    tx: &mut postgres::Transaction<'_>,
    sql: &str,
    citus: bool,
) -> Result<(), postgres::Error> {
    if !citus {
        return tx.batch_execute(sql);
    }
    // The shipped scripts are lexed by the unit tests; a script the lexer refused would fail whole.
    match crate::sql::split_statements(sql) {
        Ok(statements) => statements
            .iter()
            .try_for_each(|stmt| tx.batch_execute(&stmt.text)),
        Err(_) => tx.batch_execute(sql),
    }
}

/// A shipped migration version as `qcheck_migration.version` (int4) stores it.
#[allow(
    clippy::cast_possible_wrap,
    reason = "versions are the NNNN prefixes of the shipped file names, far below i32::MAX"
)]
fn version_i32(version: u32) -> i32 {
    version as i32
}

/// Reverts applied migrations down to (but not including) `to`, newest first; `to = 0` reverts all
/// and removes qcheck's bookkeeping tables too, leaving no qcheck object behind.
pub fn migrate_down(client: &mut Client, to: u32) -> Result<Vec<u32>> {
    let timeouts = MigrationTimeouts::from_env();
    let all = migrations()?;
    with_lock(client, |client| {
        let done = applied(client)?;
        let citus = crate::topology::detect(client)?.is_some();
        if to == 0 && done.iter().any(|d| d.0 == 1) {
            // A detached leaf left by a killed seed references provider and patient.
            drop_scratch_tables(client)?;
        }
        let mut reverted = Vec::new();
        for (version, name, _, _) in done.iter().rev().filter(|d| d.0 > to) {
            let m = all.iter().find(|m| m.version == *version).ok_or_else(|| {
                Error::MigrationState {
                    version: *version,
                    name: name.clone(),
                    message: "cannot be reverted: this qcheck does not ship its down script".into(),
                }
            })?;
            let mut tx = client
                .transaction()
                .db("starting a migration transaction")?;
            timeouts.set_local(&mut tx)?;
            execute_script(&mut tx, m.down, citus).map_err(|source| Error::Migration {
                version: m.version,
                name: m.name.clone(),
                source,
            })?;
            tx.execute(
                "DELETE FROM qcheck_migration WHERE version = $1",
                &[&version_i32(m.version)],
            )
            .db("recording a reverted migration")?;
            tx.commit().db("committing a reverted migration")?;
            reverted.push(m.version);
        }
        if to == 0 && bookkeeping_exists(client)? {
            client
                .batch_execute(
                    "DROP TABLE IF EXISTS qcheck_strategy_index; DROP TABLE IF EXISTS qcheck_meta;
                     DROP TABLE IF EXISTS qcheck_migration;",
                )
                .db("dropping qcheck's bookkeeping tables")?;
        }
        Ok(reverted)
    })
}

/// The tables qcheck's migrations create, which hold the dataset (partitions of `appointment` are
/// qcheck's too). A unit test keeps this list in step with the migration scripts.
pub const DATA_TABLES: [&str; 6] = [
    "tenant",
    "provider",
    "patient",
    "appointment",
    "appointment_boundary_slot",
    "appointment_audit",
];

/// qcheck's own bookkeeping tables (migrations, strategy indexes, the dataset record).
pub const BOOKKEEPING_TABLES: [&str; 3] =
    ["qcheck_migration", "qcheck_strategy_index", "qcheck_meta"];

/// The role the migrations create for applications (cluster-wide).
pub const APP_ROLE: &str = "qcheck_app";

/// The comment that marks a table qcheck creates for the length of one command: a month leaf of
/// `appointment` while the seed loads it detached, the plain-slot twin of `seed --timings`. A run
/// killed before it puts things back (or drops them) leaves such a table behind; the mark makes it
/// qcheck's own (no reason to ask for `--yes`), and the next seed drops it
/// ([`drop_scratch_tables`]), as does `migrate down` to nothing.
pub const SCRATCH_COMMENT: &str = "qcheck scratch table";

/// `COMMENT ON TABLE` marking `table` (an unquoted name) as scratch, saying why, for the caller's
/// transaction: committed together with the table's creation or detachment, so that it is never
/// unmarked while it exists.
pub fn mark_scratch_sql(table: &str, why: &str) -> String {
    format!(
        "COMMENT ON TABLE {} IS '{SCRATCH_COMMENT}: {}'",
        quote_ident(table),
        why.replace('\'', "''")
    )
}

/// The scratch tables of the current schema (tables carrying [`SCRATCH_COMMENT`]; their partitions
/// go with them), by name.
pub fn scratch_tables(client: &mut Client) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT c.relname::text
               FROM pg_class c
              WHERE c.relnamespace = coalesce(current_schema(), 'public')::regnamespace
                AND c.relkind IN ('r', 'p') AND NOT c.relispartition
                AND starts_with(coalesce(obj_description(c.oid, 'pg_class'), ''), $1)
              ORDER BY 1",
            &[&SCRATCH_COMMENT],
        )
        .db("looking for qcheck's scratch tables")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Drops every scratch table (see [`SCRATCH_COMMENT`]); returns their names.
pub fn drop_scratch_tables(client: &mut Client) -> Result<Vec<String>> {
    let tables = scratch_tables(client)?;
    if !tables.is_empty() {
        let list: Vec<String> = tables.iter().map(|t| quote_ident(t)).collect();
        client
            .batch_execute(&format!("DROP TABLE {}", list.join(", ")))
            .db("dropping qcheck's scratch tables")?;
    }
    Ok(tables)
}

/// Tables, views and foreign tables in the current schema that qcheck did not create, by name: a
/// database that holds them belongs to someone, and qcheck writes there only when told to (`--yes`).
/// Scratch tables (see [`SCRATCH_COMMENT`]) and their partitions are qcheck's.
pub fn foreign_tables(client: &mut Client) -> Result<Vec<String>> {
    let known: Vec<&str> = DATA_TABLES
        .iter()
        .chain(BOOKKEEPING_TABLES.iter())
        .copied()
        .collect();
    let rows = client
        .query(
            "SELECT c.relname::text
               FROM pg_class c
              WHERE c.relnamespace = coalesce(current_schema(), 'public')::regnamespace
                AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
                AND NOT c.relname = ANY($1)
                -- an extension's own (Citus puts views citus_tables and citus_schemas in public)
                AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                   AND d.deptype = 'e')
                AND NOT (c.relispartition
                         AND (SELECT r.relname FROM pg_class r WHERE r.oid = pg_partition_root(c.oid))
                             = ANY($1))
                AND NOT starts_with(
                        coalesce(obj_description(coalesce(pg_partition_root(c.oid), c.oid), 'pg_class'), ''),
                        $2)
              ORDER BY c.relname",
            &[&known, &SCRATCH_COMMENT],
        )
        .db("listing the tables of the database")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// qcheck's dataset tables that exist and hold rows, with their exact row counts (partitioned tables
/// counted over their partitions), in [`DATA_TABLES`] order.
pub fn data_rows(client: &mut Client) -> Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for table in DATA_TABLES {
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
            .db("looking for qcheck's tables")?
            .get(0);
        if !exists {
            continue;
        }
        let rows: i64 = client
            .query_one(&format!("SELECT count(*) FROM {}", quote_ident(table)), &[])
            .db(format!("counting the rows of {table}"))?
            .get(0);
        if rows > 0 {
            out.push((table.to_string(), rows));
        }
    }
    Ok(out)
}

/// The members of the application role [`APP_ROLE`] (roles granted it), or `None` when the role does
/// not exist. `migrate down` keeps the role while it has members: dropping it would revoke their
/// access, and a later `migrate up` would create a new role they are not members of.
pub fn app_role_members(client: &mut Client) -> Result<Option<Vec<String>>> {
    let exists: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)",
            &[&APP_ROLE],
        )
        .db("looking for the application role")?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let rows = client
        .query(
            "SELECT m.rolname::text
               FROM pg_auth_members a
               JOIN pg_roles r ON r.oid = a.roleid
               JOIN pg_roles m ON m.oid = a.member
              WHERE r.rolname = $1
              ORDER BY 1",
            &[&APP_ROLE],
        )
        .db("listing the members of the application role")?;
    Ok(Some(rows.iter().map(|r| r.get(0)).collect()))
}

/// The state of every shipped migration in this database, and the applied strategy.
pub fn status(client: &mut Client) -> Result<SchemaStatus> {
    let all = migrations()?;
    let done = applied(client)?;
    let migrations = all
        .iter()
        .map(|m| {
            let rec = done.iter().find(|d| d.0 == m.version);
            let state = match rec {
                None => "pending",
                Some(d) if !m.accepts(&d.2) => "changed",
                Some(_) => "applied",
            };
            MigrationState {
                version: m.version,
                name: m.name.clone(),
                applied_at: rec.map(|d| d.3.clone()),
                state: state.into(),
                checksum: m.checksum()[..12].to_string(),
            }
        })
        .collect();
    let (strategy, strategy_indexes) = if bookkeeping_exists(client)? {
        // `parent` read through jsonb: a database recorded by an older qcheck has no such column yet.
        let rows = client
            .query(
                "SELECT strategy, index_name FROM qcheck_strategy_index q
                  WHERE to_jsonb(q)->>'parent' IS NULL ORDER BY index_name",
                &[],
            )
            .db("reading qcheck_strategy_index")?;
        (
            rows.first().map(|r| r.get(0)),
            rows.iter().map(|r| r.get(1)).collect(),
        )
    } else {
        (None, Vec::new())
    };
    let drift = strategy_drift(client)?;
    let unguarded_partitions = unguarded_partitions(client)?;
    Ok(SchemaStatus {
        migrations,
        strategy,
        strategy_indexes,
        drift,
        unguarded_partitions,
    })
}

/// Leaf partitions of `appointment` that lack the exclusion constraint that keeps a provider's live
/// appointments from overlapping, by name: the schema's own `appointment_unguarded_partitions()`
/// (migration 0003), or none before it is applied.
pub fn unguarded_partitions(client: &mut Client) -> Result<Vec<String>> {
    let installed: bool = client
        .query_one(
            "SELECT to_regprocedure('appointment_unguarded_partitions()') IS NOT NULL",
            &[],
        )
        .db("looking for appointment_unguarded_partitions()")?
        .get(0);
    if !installed {
        return Ok(Vec::new());
    }
    let rows = client
        .query(
            "SELECT p::text FROM appointment_unguarded_partitions() AS p",
            &[],
        )
        .db("listing the partitions of appointment without their exclusion constraint")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// An index strategy shipped in `sql/strategies`.
#[derive(Debug, Clone)]
pub struct Strategy {
    /// The file name without `.sql`.
    pub name: String,
    /// The file's text.
    pub sql: &'static str,
    /// The first comment paragraph: what the strategy is for.
    pub summary: String,
    /// Its statements in file order, each parsed once.
    pub statements: Vec<StrategyStatement>,
}

impl Strategy {
    /// Parses a strategy file: its summary and statements. `name` is the file name without `.sql`.
    pub fn parse(name: &str, sql: &'static str) -> Result<Strategy> {
        let summary = sql
            .lines()
            .take_while(|l| l.starts_with("--"))
            .map(|l| l.trim_start_matches('-').trim())
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let bad = |line: usize, message: String| Error::StrategyFile {
            name: name.to_string(),
            line,
            message,
        };
        let statements = crate::sql::split_statements(sql)
            .map_err(|e| bad(e.line, e.problem.to_string()))?
            .into_iter()
            .map(|stmt| {
                Ok(
                    match IndexDef::parse(&stmt).map_err(|e| bad(stmt.line, e.to_string()))? {
                        Some(index) => StrategyStatement::Index(index),
                        None => StrategyStatement::Other(stmt),
                    },
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Strategy {
            name: name.to_string(),
            sql,
            summary,
            statements,
        })
    }

    /// The `CREATE INDEX` statements it holds.
    pub fn indexes(&self) -> impl Iterator<Item = &IndexDef> {
        self.statements.iter().filter_map(|s| match s {
            StrategyStatement::Index(index) => Some(index),
            StrategyStatement::Other(_) => None,
        })
    }
}

/// One statement of a strategy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrategyStatement {
    /// A named `CREATE [UNIQUE] INDEX` (not `CONCURRENTLY`), understood structurally.
    Index(IndexDef),
    /// Anything else, run as written.
    Other(Statement),
}

impl StrategyStatement {
    /// The SQL to run: an index rendered from its definition, anything else as written.
    pub fn sql(&self) -> String {
        match self {
            StrategyStatement::Index(index) => index.create_sql(),
            StrategyStatement::Other(stmt) => stmt.text.clone(),
        }
    }

    /// 1-based line of the strategy file where it starts.
    pub fn line(&self) -> usize {
        match self {
            StrategyStatement::Index(index) => index.line,
            StrategyStatement::Other(stmt) => stmt.line,
        }
    }
}

/// A possibly schema-qualified relation name, as PostgreSQL resolves it (unquoted parts lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualifiedName {
    /// `Some("public")` for `public.appointment`; `None` when unqualified.
    pub schema: Option<String>,
    /// The relation's own name.
    pub name: String,
}

impl QualifiedName {
    /// The name as SQL, every part quoted.
    pub fn to_sql(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(&self.name)),
            None => quote_ident(&self.name),
        }
    }
}

/// `CREATE [UNIQUE] INDEX [IF NOT EXISTS] name ON [ONLY] table body`, parsed from a strategy's
/// statement with the lexer, so comments, quoted identifiers and literals are read as PostgreSQL
/// reads them. The seeder renders it twice: for the (partitioned) table, and for each of its leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    /// `CREATE UNIQUE INDEX`.
    pub unique: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// The index name, as PostgreSQL resolves it (unquoted: lower-cased; quoted: as written).
    pub name: String,
    /// The indexed table.
    pub table: QualifiedName,
    /// `ON ONLY table`: the index is created on the partitioned table alone, not cascaded.
    pub only: bool,
    /// Everything after the table, as written: `[USING method] (columns) [INCLUDE (...)]
    /// [NULLS [NOT] DISTINCT] [WITH (...)] [TABLESPACE ...] [WHERE ...]`, comments inside kept.
    pub body: String,
    /// 1-based line of the strategy file where the statement starts.
    pub line: usize,
}

/// PostgreSQL's limit on identifier length (NAMEDATALEN - 1), in bytes.
const MAX_IDENTIFIER_BYTES: usize = 63;

impl IndexDef {
    /// The index definition of a `CREATE [UNIQUE] INDEX [IF NOT EXISTS] name ON [ONLY] table ...`
    /// statement; `None` for any other statement, for an unnamed index and for `CONCURRENTLY`.
    pub fn parse(stmt: &Statement) -> Result<Option<IndexDef>, LexError> {
        // Consumes the next token when it is the keyword `kw`.
        fn keyword(t: &mut std::iter::Peekable<std::slice::Iter<'_, Token<'_>>>, kw: &str) -> bool {
            t.next_if(|tok| tok.is_keyword(kw)).is_some()
        }
        let tokens = crate::sql::code_tokens(&stmt.text)?;
        let mut t = tokens.iter().peekable();
        if !keyword(&mut t, "CREATE") {
            return Ok(None);
        }
        let unique = keyword(&mut t, "UNIQUE");
        if !keyword(&mut t, "INDEX") || t.peek().is_some_and(|tok| tok.is_keyword("CONCURRENTLY")) {
            return Ok(None);
        }
        let if_not_exists = keyword(&mut t, "IF");
        if if_not_exists && !(keyword(&mut t, "NOT") && keyword(&mut t, "EXISTS")) {
            return Ok(None);
        }
        if t.peek().is_some_and(|tok| tok.is_keyword("ON")) {
            return Ok(None); // unnamed
        }
        let Some(name) = t.next().and_then(Token::ident) else {
            return Ok(None);
        };
        if !keyword(&mut t, "ON") {
            return Ok(None);
        }
        let only = keyword(&mut t, "ONLY");
        let Some(first) = t.next().and_then(Token::ident) else {
            return Ok(None);
        };
        let table = if t.next_if(|tok| tok.text == ".").is_some() {
            let Some(second) = t.next().and_then(Token::ident) else {
                return Ok(None);
            };
            QualifiedName {
                schema: Some(first),
                name: second,
            }
        } else {
            QualifiedName {
                schema: None,
                name: first,
            }
        };
        let Some(rest) = t.next() else {
            return Ok(None);
        };
        Ok(Some(IndexDef {
            unique,
            if_not_exists,
            name,
            table,
            only,
            body: stmt.text[rest.span.start..].to_string(),
            line: stmt.line,
        }))
    }

    fn head(&self) -> String {
        format!(
            "CREATE {}INDEX {}",
            if self.unique { "UNIQUE " } else { "" },
            if self.if_not_exists {
                "IF NOT EXISTS "
            } else {
                ""
            }
        )
    }

    /// The statement that creates the index on its table (on a partitioned table: the parent index,
    /// which attaches an existing leaf index of the same definition or builds one).
    pub fn create_sql(&self) -> String {
        format!(
            "{}{} ON {}{} {}",
            self.head(),
            quote_ident(&self.name),
            if self.only { "ONLY " } else { "" },
            self.table.to_sql(),
            self.body
        )
    }

    /// The name of this index's copy on one partition: `{leaf}_{suffix}`, where the suffix is the
    /// index name without its table's name in front (`appointment_provider_day_idx` on
    /// `appointment_y2026m01` is `appointment_y2026m01_provider_day_idx`). Deterministic, so a
    /// leaf index left behind by an interrupted run can be recognised. Longer than PostgreSQL's 63
    /// bytes, it is cut and ends in `_` and 8 hex digits of the full name's SHA-256, so two long
    /// names that share a prefix stay apart.
    pub fn leaf_index_name(&self, leaf: &str) -> String {
        let suffix = self
            .name
            .strip_prefix(self.table.name.as_str())
            .and_then(|s| s.strip_prefix('_'))
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.name);
        let full = format!("{leaf}_{suffix}");
        if full.len() <= MAX_IDENTIFIER_BYTES {
            return full;
        }
        let hash = hex::encode(Sha256::digest(full.as_bytes()));
        let mut cut = MAX_IDENTIFIER_BYTES - 9;
        while !full.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}_{}", &full[..cut], &hash[..8])
    }

    /// The same definition on one partition `leaf` (in the table's schema), under
    /// [`IndexDef::leaf_index_name`]. Created before the parent index, it is attached to it instead
    /// of being built again (PostgreSQL matches a leaf index by definition, not by name).
    pub fn leaf_create_sql(&self, leaf: &str) -> String {
        let leaf_table = QualifiedName {
            schema: self.table.schema.clone(),
            name: leaf.to_string(),
        };
        format!(
            "{}{} ON {} {}",
            self.head(),
            quote_ident(&self.leaf_index_name(leaf)),
            leaf_table.to_sql(),
            self.body
        )
    }
}

/// Every strategy shipped with qcheck, by name, or the first one whose file does not parse.
pub fn strategies() -> Result<Vec<Strategy>> {
    strategy_names().iter().map(|name| strategy(name)).collect()
}

/// The names of the shipped strategies (their files' names), sorted.
pub fn strategy_names() -> Vec<String> {
    let mut names: Vec<String> = STRATEGIES
        .files()
        .filter_map(|f| {
            let name = f.path().file_name()?.to_str()?.strip_suffix(".sql")?;
            Some(name.to_string())
        })
        .collect();
    names.sort();
    names
}

/// The named strategy, or an error that lists the known names (or says why its file does not parse).
pub fn strategy(name: &str) -> Result<Strategy> {
    let file = STRATEGIES
        .files()
        .find(|f| f.path().file_name().and_then(|n| n.to_str()) == Some(&format!("{name}.sql")));
    match file.and_then(|f| f.contents_utf8()) {
        Some(sql) => Strategy::parse(name, sql),
        None => Err(Error::Unknown {
            kind: crate::error::Named::Strategy,
            name: name.to_string(),
            known: strategy_names().join(", "),
            hint: "",
        }),
    }
}

/// Top-level (non-partition) indexes in the public schema, by name.
fn top_level_indexes(client: &mut Client) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('i', 'I') AND n.nspname = current_schema() AND NOT c.relispartition
              ORDER BY 1",
            &[],
        )
        .db("listing indexes")?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Index built by a strategy, and how long it took.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BuiltIndex {
    /// Index name.
    pub name: String,
    /// Build time in milliseconds (wall clock).
    pub build_ms: f64,
}

/// Records `strategy`'s indexes before any is built: drops every index recorded before (the strategy
/// applied before, or the remains of an interrupted switch), then records, in one committed
/// statement, each parent index the strategy names and each leaf index (`leaves`: the partitions of
/// `appointment` whose indexes the seeder builds itself, under [`IndexDef::leaf_index_name`]). A run
/// interrupted after this leaves records of whatever it had built, so the next one drops them. Call it
/// before the leaf builds and [`apply_strategy`].
pub fn plan_strategy(client: &mut Client, strategy: &Strategy, leaves: &[String]) -> Result<()> {
    with_lock(client, |client| record_plan(client, strategy, leaves))
}

fn record_plan(client: &mut Client, strategy: &Strategy, leaves: &[String]) -> Result<()> {
    {
        drop_strategy_indexes(client)?;
        let mut names = Vec::new();
        let mut parents: Vec<Option<String>> = Vec::new();
        for index in strategy.indexes() {
            names.push(index.name.clone());
            parents.push(None);
            if crate::generate::post::on_appointment(index) {
                for leaf in leaves {
                    names.push(index.leaf_index_name(leaf));
                    parents.push(Some(index.name.clone()));
                }
            }
        }
        client
            .execute(
                "INSERT INTO qcheck_strategy_index (index_name, strategy, build_ms, parent)
                 SELECT n, $2, 0, p FROM unnest($1::text[], $3::text[]) AS u(n, p)
                 ON CONFLICT (index_name) DO NOTHING",
                &[&names, &strategy.name, &parents],
            )
            .db("recording the strategy's indexes before building them")?;
        Ok(())
    }
}

/// Whether the recorded indexes are a plan of `strategy` not built yet: recorded by
/// [`plan_strategy`], all of `strategy`, and none of its parent indexes exists.
fn is_planned(client: &mut Client, strategy: &Strategy) -> Result<bool> {
    let row = client
        .query_one(
            "SELECT count(*) > 0 AND count(*) FILTER (WHERE strategy <> $1 OR (parent IS NULL
                    AND to_regclass(quote_ident(index_name)) IS NOT NULL)) = 0
               FROM qcheck_strategy_index",
            &[&strategy.name],
        )
        .db("reading qcheck_strategy_index")?;
    Ok(row.get(0))
}

/// Builds `strategy`'s indexes, one statement at a time so each build is timed. Unless
/// [`plan_strategy`] recorded them just before (the seeder does, with the leaf indexes it builds
/// itself), it drops the indexes recorded before and records the new ones first. Which indexes belong to a strategy is recorded, not guessed, so the
/// constraint-backing and rule indexes of the migrations are never touched; an index created by a
/// statement that is not a plain `CREATE INDEX` is recorded right after it.
///
/// An index on the partitioned `appointment` is built leaf by leaf under
/// [`IndexDef::leaf_index_name`] before its parent index attaches them (its build time covers
/// both), never named by PostgreSQL: its own leaf names (`appointment_y2026m01_provider_id_..._idx`)
/// differ from the seeder's, so a dataset would look different after a strategy switch than after a
/// seed, and on Citus they break the shard index names (a shard appends its id to the leaf
/// index's name, and PostgreSQL's generated names are cut at 63 bytes, not hashed).
pub fn apply_strategy(client: &mut Client, strategy: &Strategy) -> Result<Vec<BuiltIndex>> {
    with_lock(client, |client| {
        ensure_bookkeeping(client)?;
        // Built here (not by the seeder, which planned and built them itself): the leaves of
        // `appointment` whose copies of each index this function names and builds.
        let leaves = if is_planned(client, strategy)? {
            Vec::new()
        } else {
            let leaves = crate::generate::load::existing_leaves(client)?;
            record_plan(client, strategy, &leaves)?;
            leaves
        };
        let mut built = Vec::new();
        for stmt in &strategy.statements {
            let sql = stmt.sql();
            let before = top_level_indexes(client)?;
            let start = std::time::Instant::now();
            let what = format!(
                "strategy {} (sql/strategies/{}.sql:{}): {}",
                strategy.name,
                strategy.name,
                stmt.line(),
                sql.lines().next().unwrap_or_default()
            );
            if let StrategyStatement::Index(index) = stmt {
                if crate::generate::post::on_appointment(index) {
                    // One statement at a time: Citus refuses several in one string.
                    for leaf in &leaves {
                        let name = quote_ident(&index.leaf_index_name(leaf));
                        for sql in [
                            format!("DROP INDEX IF EXISTS {name}"),
                            index.leaf_create_sql(leaf),
                        ] {
                            client
                                .batch_execute(&sql)
                                .db(format!("{what}, on partition {leaf}"))?;
                        }
                    }
                }
            }
            client.batch_execute(&sql).db(what)?;
            let build_ms = start.elapsed().as_secs_f64() * 1e3;
            for name in top_level_indexes(client)?
                .into_iter()
                .filter(|n| !before.contains(n))
            {
                client
                    .execute(
                        "INSERT INTO qcheck_strategy_index (index_name, strategy, build_ms) VALUES ($1, $2, $3)
                         ON CONFLICT (index_name) DO UPDATE SET strategy = $2, build_ms = $3, parent = NULL",
                        &[&name, &strategy.name, &build_ms],
                    )
                    .db("recording a strategy index")?;
                built.push(BuiltIndex { name, build_ms });
            }
        }
        Ok(built)
    })
}

/// Records the build time (milliseconds) of indexes built outside [`apply_strategy`] (the seeder's
/// leaf index builds), by name.
pub fn record_build_times(client: &mut Client, built: &[(String, f64)]) -> Result<()> {
    let (names, ms): (Vec<String>, Vec<f64>) = built.iter().cloned().unzip();
    client
        .execute(
            "UPDATE qcheck_strategy_index q SET build_ms = b.ms
               FROM unnest($1::text[], $2::float8[]) AS b(name, ms) WHERE q.index_name = b.name",
            &[&names, &ms],
        )
        .db("recording the build times of the leaf indexes")?;
    Ok(())
}

/// `strategy`'s indexes as recorded when they were built, if the strategy is in place: it is the
/// recorded one, each index it names exists with the definition its file gives, and nothing is
/// stray, missing or invalid (see [`strategy_drift`]: judged by definition, not by name alone).
/// `None` when anything differs, and for a strategy holding a statement other than a named
/// `CREATE INDEX`, whose effect cannot be judged by definition. Each index's build time is its
/// own plus its leaf indexes' when the seeder built those apart. Reads only: what lets `compare`
/// measure a strategy already in place without building it again.
pub fn strategy_in_place(
    client: &mut Client,
    strategy: &Strategy,
) -> Result<Option<Vec<BuiltIndex>>> {
    if strategy
        .statements
        .iter()
        .any(|s| matches!(s, StrategyStatement::Other(_)))
    {
        return Ok(None);
    }
    let drift = strategy_drift(client)?;
    if drift.strategy.as_deref() != Some(strategy.name.as_str()) || !drift.is_clean() {
        return Ok(None);
    }
    // A parent's build time with its leaves' (the seeder builds them apart, then attaches them).
    let recorded: Vec<(String, f64)> = client
        .query(
            "SELECT index_name,
                    build_ms + coalesce((SELECT sum(l.build_ms) FROM qcheck_strategy_index l
                                          WHERE to_jsonb(l)->>'parent' = q.index_name), 0)
               FROM qcheck_strategy_index q
              WHERE to_jsonb(q)->>'parent' IS NULL",
            &[],
        )
        .db("reading qcheck_strategy_index")?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    if recorded.len() != strategy.indexes().count() {
        return Ok(None);
    }
    let built: Option<Vec<BuiltIndex>> = strategy
        .indexes()
        .map(|def| {
            recorded
                .iter()
                .find(|(name, _)| *name == def.name)
                .map(|(name, ms)| BuiltIndex {
                    name: name.clone(),
                    build_ms: *ms,
                })
        })
        .collect();
    Ok(built)
}

/// Indexes of qcheck's tables that do not match the recorded strategy: what an interrupted strategy
/// switch, a failed `CREATE INDEX CONCURRENTLY` or a hand-made index leaves behind. Each would skew
/// every later size, latency and write figure.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StrategyDrift {
    /// The recorded strategy (`None` when none is recorded).
    pub strategy: Option<String>,
    /// Indexes that belong to no recorded strategy, are not the migrations' and back no constraint
    /// (for a partitioned index: its top-most parent only).
    pub stray: Vec<String>,
    /// Recorded indexes that do not exist.
    pub missing: Vec<String>,
    /// Recorded indexes PostgreSQL marks invalid (`pg_index.indisvalid = false`).
    pub invalid: Vec<String>,
    /// Strategy indexes present under their name whose definition is not the strategy file's
    /// (see [`index_differences`]).
    pub changed: Vec<ChangedIndex>,
}

/// A strategy index whose definition in the database is not the one its strategy file gives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChangedIndex {
    /// The index name.
    pub name: String,
    /// The parts that differ: `table`, `unique`, `method`, `keys`, `include`, `nulls not
    /// distinct`, `predicate`.
    pub differs: Vec<&'static str>,
}

impl StrategyDrift {
    /// Nothing to report.
    pub fn is_clean(&self) -> bool {
        self.stray.is_empty()
            && self.missing.is_empty()
            && self.invalid.is_empty()
            && self.changed.is_empty()
    }

    /// The recorded indexes to build again: missing, invalid or changed ones.
    pub fn to_rebuild(&self) -> Vec<String> {
        self.missing
            .iter()
            .chain(&self.invalid)
            .cloned()
            .chain(self.changed.iter().map(|c| c.name.clone()))
            .collect()
    }

    /// One line per kind of drift, e.g. `3 indexes not part of strategy tuned: a, b, c`.
    pub fn lines(&self) -> Vec<String> {
        let strategy = self.strategy.as_deref().unwrap_or("(none)");
        let n = |v: &[String]| {
            if v.len() == 1 {
                "1 index".to_string()
            } else {
                format!("{} indexes", v.len())
            }
        };
        let mut out = Vec::new();
        if !self.stray.is_empty() {
            out.push(format!(
                "{} not part of strategy {strategy}: {}",
                n(&self.stray),
                self.stray.join(", ")
            ));
        }
        if !self.missing.is_empty() {
            out.push(format!(
                "{} of strategy {strategy} missing: {}",
                n(&self.missing),
                self.missing.join(", ")
            ));
        }
        if !self.invalid.is_empty() {
            out.push(format!(
                "{} of strategy {strategy} invalid: {}",
                n(&self.invalid),
                self.invalid.join(", ")
            ));
        }
        if !self.changed.is_empty() {
            let names: Vec<String> = self
                .changed
                .iter()
                .map(|c| {
                    let verb = if c.differs.len() == 1 {
                        "differs"
                    } else {
                        "differ"
                    };
                    format!("{} ({} {verb})", c.name, c.differs.join(", "))
                })
                .collect();
            out.push(format!(
                "{} of strategy {strategy} changed (defined otherwise in sql/strategies/{strategy}.sql): {}",
                n(&names),
                names.join(", ")
            ));
        }
        out
    }
}

/// Names of the indexes the shipped migrations create themselves (not constraint-backed ones).
fn migration_index_names() -> Vec<String> {
    let mut names = Vec::new();
    for m in migrations().unwrap_or_default() {
        for stmt in crate::sql::split_statements(m.up).unwrap_or_default() {
            if let Ok(Some(index)) = IndexDef::parse(&stmt) {
                names.push(index.name);
            }
        }
    }
    names
}

/// Compares the indexes of qcheck's tables (in the current schema) with the recorded strategy. Reads
/// only. See [`StrategyDrift`].
pub fn strategy_drift(client: &mut Client) -> Result<StrategyDrift> {
    let mut drift = StrategyDrift::default();
    // (index, strategy, parent index for a recorded leaf index)
    let recorded: Vec<(String, String, Option<String>)> = if bookkeeping_exists(client)?
        && client
            .query_one(
                "SELECT to_regclass('qcheck_strategy_index') IS NOT NULL",
                &[],
            )
            .db("looking for qcheck_strategy_index")?
            .get::<_, bool>(0)
    {
        client
            .query(
                "SELECT index_name, strategy, to_jsonb(q)->>'parent' FROM qcheck_strategy_index q
                  ORDER BY index_name",
                &[],
            )
            .db("reading qcheck_strategy_index")?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    } else {
        Vec::new()
    };
    drift.strategy = recorded.first().map(|r| r.1.clone());
    let known: Vec<String> = recorded
        .iter()
        .map(|r| r.0.clone())
        .chain(migration_index_names())
        .collect();
    let tables: Vec<&str> = DATA_TABLES.to_vec();
    let rows = client
        .query(
            "WITH idx AS (
                 SELECT c.oid, c.relname::text AS name, i.indisvalid,
                        coalesce(pg_partition_root(c.oid), c.oid) AS root,
                        coalesce(pg_partition_root(i.indrelid), i.indrelid) AS table_root
                   FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                  WHERE c.relnamespace = coalesce(current_schema(), 'public')::regnamespace)
             SELECT idx.name, r.relname::text, idx.indisvalid,
                    EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid IN (idx.oid, idx.root))
               FROM idx JOIN pg_class r ON r.oid = idx.root JOIN pg_class t ON t.oid = idx.table_root
              WHERE t.relname = ANY($1)
              ORDER BY 2, 1",
            &[&tables],
        )
        .db("listing the indexes of qcheck's tables")?;
    let mut present = Vec::new();
    for row in &rows {
        let (name, root, valid, constraint): (String, String, bool, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if constraint {
            // Constraint indexes are the migrations'; never reported.
        } else if !known.contains(&root) {
            if !drift.stray.contains(&root) {
                drift.stray.push(root);
            }
        } else if !valid && recorded.iter().any(|r| r.0 == name || r.0 == root) {
            drift.invalid.push(name.clone());
        }
        present.push(name);
    }
    // A strategy recorded under a name qcheck no longer ships has no definition to compare with.
    if let Some(strategy) = drift.strategy.as_deref().and_then(|n| strategy(n).ok()) {
        for def in strategy.indexes() {
            if !present.contains(&def.name) || drift.invalid.contains(&def.name) {
                continue;
            }
            if let Some(differs) = index_differences(client, def)?.filter(|d| !d.is_empty()) {
                drift.changed.push(ChangedIndex {
                    name: def.name.clone(),
                    differs,
                });
            }
        }
    }
    // The leaf indexes of a changed index went with the index it replaced; rebuilding the index
    // builds them, so they are not listed apart.
    let changed = |parent: &Option<String>| {
        parent
            .as_ref()
            .is_some_and(|p| drift.changed.iter().any(|c| &c.name == p))
    };
    drift.missing = recorded
        .iter()
        .filter(|r| !present.contains(&r.0) && !changed(&r.2))
        .map(|r| r.0.clone())
        .collect();
    Ok(drift)
}

/// Drops the given indexes (those [`strategy_drift`] calls stray), each if it still exists.
pub fn drop_indexes(client: &mut Client, names: &[String]) -> Result<()> {
    with_lock(client, |client| {
        for name in names {
            client
                .batch_execute(&format!("DROP INDEX IF EXISTS {}", quote_ident(name)))
                .db(format!("dropping index {name}"))?;
        }
        Ok(())
    })
}

/// Drops every recorded strategy index (parents first: that drops their attached partitions too).
pub fn drop_strategy_indexes(client: &mut Client) -> Result<()> {
    ensure_bookkeeping(client)?;
    let rows = client
        .query(
            "SELECT index_name FROM qcheck_strategy_index ORDER BY parent IS NOT NULL, index_name",
            &[],
        )
        .db("reading strategy indexes")?;
    for row in rows {
        let name: String = row.get(0);
        client
            .batch_execute(&format!("DROP INDEX IF EXISTS {}", quote_ident(&name)))
            .db(format!("dropping index {name}"))?;
    }
    client
        .batch_execute("DELETE FROM qcheck_strategy_index")
        .db("clearing strategy indexes")
}

/// Quotes an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_the_migrations_create_is_known() {
        for m in migrations().unwrap() {
            for line in m.up.lines() {
                let Some(rest) = line.trim_start().strip_prefix("CREATE TABLE ") else {
                    continue;
                };
                let name = rest
                    .trim_start_matches("IF NOT EXISTS ")
                    .split(|c: char| c.is_whitespace() || c == '(')
                    .next()
                    .unwrap_or_default();
                assert!(
                    DATA_TABLES.contains(&name),
                    "{:04}_{} creates table `{name}`: add it to DATA_TABLES",
                    m.version,
                    m.name
                );
            }
        }
    }

    #[test]
    fn reworded_migrations_run_the_statements_they_replaced() {
        let all = migrations().unwrap();
        for r in &REWORDED {
            let m = all.iter().find(|m| m.version == r.version).unwrap();
            assert_eq!(
                statements_checksum(m.up).unwrap(),
                r.statements,
                "{:04}_{}: only comments may change after a migration shipped",
                m.version,
                m.name
            );
            assert_ne!(m.checksum(), r.earlier, "listed, but not reworded");
            assert!(m.accepts(r.earlier) && m.accepts(&m.checksum()));
        }
        let sum = |sql| statements_checksum(sql).unwrap();
        assert_eq!(sum("SELECT 1; -- one\n"), sum("/* x */ SELECT\n  1;"));
        assert_ne!(sum("SELECT 1;"), sum("SELECT 2;"));
        assert_ne!(sum("SELECT 'a b';"), sum("SELECT 'a  b';"));
    }

    #[test]
    fn shipped_migrations_pair_up_in_order() {
        let all = migrations().unwrap();
        assert!(all.len() >= 2);
        assert!(all.windows(2).all(|w| w[0].version < w[1].version));
        assert_eq!(all[0].version, 1);
    }

    #[test]
    fn strategies_have_a_summary_and_parse_into_index_definitions() {
        let all = strategies().unwrap();
        assert_eq!(all.len(), strategy_names().len());
        assert!(all.len() >= 3);
        let tuned = strategy("tuned").unwrap();
        assert!(
            tuned.summary.starts_with("Strategy `tuned`"),
            "{}",
            tuned.summary
        );
        assert!(tuned.statements.len() >= 5);
        assert_eq!(tuned.indexes().count(), tuned.statements.len());
        let day = tuned.indexes().next().unwrap();
        assert_eq!(day.name, "appointment_provider_day_idx");
        assert_eq!(day.line, 15);
        assert_eq!(
            day.create_sql(),
            "CREATE INDEX \"appointment_provider_day_idx\" ON \"appointment\" (provider_id, scheduled_at)\n    \
             INCLUDE (tenant_id, duration_min, status, patient_id, id)\n    WHERE status <> 'cancelled'"
        );
        let err = strategy("nope").unwrap_err().to_string();
        assert!(
            err.contains("known strategies: ") && err.contains("tuned"),
            "{err}"
        );
    }

    fn index(sql: &str) -> Option<IndexDef> {
        let stmts = crate::sql::split_statements(sql).unwrap();
        assert_eq!(stmts.len(), 1, "{sql}");
        IndexDef::parse(&stmts[0]).unwrap()
    }

    #[test]
    fn index_definitions_are_parsed_structurally() {
        let def = index(
            "-- day view\nCREATE INDEX appointment_provider_day_idx\n    ON appointment (provider_id, scheduled_at)\n    \
             INCLUDE (status)\n    WHERE status <> 'cancelled';\n",
        )
        .unwrap();
        assert_eq!(
            def,
            IndexDef {
                unique: false,
                if_not_exists: false,
                name: "appointment_provider_day_idx".into(),
                table: QualifiedName {
                    schema: None,
                    name: "appointment".into()
                },
                only: false,
                body: "(provider_id, scheduled_at)\n    INCLUDE (status)\n    WHERE status <> 'cancelled'".into(),
                line: 2,
            }
        );
        assert_eq!(
            def.leaf_create_sql("appointment_y2026m01"),
            "CREATE INDEX \"appointment_y2026m01_provider_day_idx\" ON \"appointment_y2026m01\" \
             (provider_id, scheduled_at)\n    INCLUDE (status)\n    WHERE status <> 'cancelled'"
        );

        // Keywords in any case, IF NOT EXISTS, ONLY, a schema, comments between the words.
        let def = index(
            "create /* c */ unique index if not exists X -- why\n on only public . Appointment using btree(id)",
        )
        .unwrap();
        assert!(def.unique && def.if_not_exists && def.only);
        assert_eq!(def.name, "x");
        assert_eq!(
            def.table,
            QualifiedName {
                schema: Some("public".into()),
                name: "appointment".into()
            }
        );
        assert_eq!(def.body, "using btree(id)");
        assert_eq!(
            def.create_sql(),
            "CREATE UNIQUE INDEX IF NOT EXISTS \"x\" ON ONLY \"public\".\"appointment\" using btree(id)"
        );
        // The leaf copy is not ONLY (a leaf has no partitions) and lives in the table's schema.
        assert_eq!(
            def.leaf_create_sql("l"),
            "CREATE UNIQUE INDEX IF NOT EXISTS \"l_x\" ON \"public\".\"l\" using btree(id)"
        );

        // Quoted identifiers keep their case and unescape `""`; a comment inside the body stays.
        let def = index(
            "CREATE INDEX \"Odd \"\"Name\"\"\" ON \"Appointment\" (\"Col\" /* ; */, b) WHERE c = 'ON'",
        )
        .unwrap();
        assert_eq!(def.name, "Odd \"Name\"");
        assert_eq!(def.table.name, "Appointment");
        assert_eq!(def.body, "(\"Col\" /* ; */, b) WHERE c = 'ON'");
        assert!(
            def.create_sql()
                .starts_with("CREATE INDEX \"Odd \"\"Name\"\"\" ON \"Appointment\" (")
        );

        // Not a named, plain CREATE INDEX: left as written.
        assert_eq!(index("CREATE INDEX ON appointment (id)"), None);
        assert_eq!(
            index("CREATE INDEX CONCURRENTLY x ON appointment (id)"),
            None
        );
        assert_eq!(index("CREATE TABLE x (id int)"), None);
        assert_eq!(index("CREATE INDEX IF EXISTS x ON t (id)"), None);
        assert_eq!(index("CREATE INDEX x ON t"), None);
    }

    #[test]
    fn leaf_index_names_are_deterministic_and_fit_postgresql() {
        let def = index("CREATE INDEX appointment_provider_day_idx ON appointment (a)").unwrap();
        assert_eq!(
            def.leaf_index_name("appointment_y2026m01"),
            "appointment_y2026m01_provider_day_idx"
        );
        let other = index("CREATE INDEX by_day ON appointment (a)").unwrap();
        assert_eq!(other.leaf_index_name("p1"), "p1_by_day");
        // Too long: cut to 63 bytes, with a hash of the full name so long names stay apart.
        let long = index(&format!(
            "CREATE INDEX appointment_{} ON appointment (a)",
            "é".repeat(40)
        ))
        .unwrap();
        let a = long.leaf_index_name("appointment_y2026m01");
        let b = long.leaf_index_name("appointment_y2026m02");
        assert!(a.len() <= 63 && b.len() <= 63, "{a}");
        assert_ne!(a, b);
        assert_eq!(a, long.leaf_index_name("appointment_y2026m01"));
        assert!(a.starts_with("appointment_y2026m01_éé"), "{a}");
    }

    #[test]
    fn strategy_files_report_lex_errors_with_their_line() {
        let e = Strategy::parse(
            "bad",
            "-- x\nCREATE INDEX a ON t (b);\nCREATE INDEX c ON t ('d);\n",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(e, "sql/strategies/bad.sql:3: unterminated string literal");
        // `$$` bodies split correctly now.
        let s = Strategy::parse(
            "fn",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\nCREATE INDEX a ON t (b);",
        )
        .unwrap();
        assert_eq!(s.statements.len(), 2);
        assert!(
            matches!(&s.statements[0], StrategyStatement::Other(o) if o.text.ends_with("$$ SELECT 1; $$"))
        );
        assert_eq!(s.indexes().count(), 1);
    }
}
