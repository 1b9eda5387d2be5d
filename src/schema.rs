//! The data model as versioned migrations (`sql/migrations/NNNN_name.{up,down}.sql`), applied and
//! recorded in `qcheck_migration` (version, name, checksum, applied_at), and the index strategies
//! (`sql/strategies/NAME.sql`) applied on top of them.
//!
//! The SQL files are compiled into the binary, so an installed `qcheck` carries its schema. Each
//! migration runs in its own transaction under an advisory lock, so two qcheck processes never
//! migrate the same database at once and a failed migration leaves nothing half-applied. A migration
//! that changed after it was applied is refused: the recorded checksum no longer matches.

use include_dir::{Dir, include_dir};
use postgres::Client;
use sha2::{Digest, Sha256};

use crate::error::{DbContext, Error, Result};

static MIGRATIONS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/sql/migrations");
static STRATEGIES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/sql/strategies");

/// The strategy `qcheck migrate up` and `qcheck seed` apply unless told otherwise.
pub const DEFAULT_STRATEGY: &str = "tuned";

/// Arbitrary key of the advisory lock that serializes schema changes.
const LOCK_KEY: i64 = 0x7163_6865_636b; // "qcheck"

/// One migration: its up and down scripts.
#[derive(Debug, Clone)]
pub struct Migration {
    pub version: u32,
    pub name: String,
    pub up: &'static str,
    pub down: &'static str,
}

impl Migration {
    /// sha256 of the up script: what was applied.
    pub fn checksum(&self) -> String {
        hex::encode(Sha256::digest(self.up.as_bytes()))
    }
}

/// The migrations shipped with qcheck, in version order.
pub fn migrations() -> Result<Vec<Migration>> {
    let mut found: std::collections::BTreeMap<
        u32,
        (String, Option<&'static str>, Option<&'static str>),
    > = Default::default();
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
    pub version: u32,
    pub name: String,
    /// RFC 3339, when applied.
    pub applied_at: Option<String>,
    /// `applied`, `pending`, or `changed` (applied, but the shipped script differs now).
    pub state: String,
    pub checksum: String,
}

/// What `qcheck migrate status` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SchemaStatus {
    pub migrations: Vec<MigrationState>,
    pub strategy: Option<String>,
    pub strategy_indexes: Vec<String>,
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
                 build_ms   double precision NOT NULL);",
        )
        .db("creating qcheck's bookkeeping tables")
}

fn bookkeeping_exists(client: &mut Client) -> Result<bool> {
    let row = client
        .query_one("SELECT to_regclass('qcheck_migration') IS NOT NULL", &[])
        .db("looking for qcheck_migration")?;
    Ok(row.get(0))
}

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

fn with_lock<T>(client: &mut Client, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .db("waiting for the schema lock")?;
    let result = f(client);
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
    let all = migrations()?;
    with_lock(client, |client| {
        ensure_bookkeeping(client)?;
        let done = applied(client)?;
        for (version, name, checksum, _) in &done {
            match all.iter().find(|m| m.version == *version) {
                Some(m) if m.checksum() != *checksum => {
                    return Err(Error::MigrationState {
                        version: *version,
                        name: name.clone(),
                        message: format!(
                            "changed after it was applied (checksum {} recorded, {} shipped): revert the file, \
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
                        message: "the database has it, this qcheck does not know it: it was migrated by a \
                                  newer qcheck"
                            .into(),
                    });
                }
            }
        }
        let mut newly = Vec::new();
        for m in all
            .iter()
            .filter(|m| !done.iter().any(|d| d.0 == m.version))
        {
            let mut tx = client
                .transaction()
                .db("starting a migration transaction")?;
            tx.batch_execute(m.up).map_err(|source| Error::Migration {
                version: m.version,
                name: m.name.clone(),
                source,
            })?;
            tx.execute(
                "INSERT INTO qcheck_migration (version, name, checksum) VALUES ($1, $2, $3)",
                &[&(m.version as i32), &m.name, &m.checksum()],
            )
            .db("recording a migration")?;
            tx.commit().db("committing a migration")?;
            newly.push(m.version);
        }
        Ok(newly)
    })
}

/// Reverts applied migrations down to (but not including) `to`, newest first; `to = 0` reverts all
/// and removes qcheck's bookkeeping tables too, leaving no qcheck object behind.
pub fn migrate_down(client: &mut Client, to: u32) -> Result<Vec<u32>> {
    let all = migrations()?;
    with_lock(client, |client| {
        let done = applied(client)?;
        let mut reverted = Vec::new();
        for (version, name, _, _) in done.iter().rev().filter(|d| d.0 > to) {
            let m = all.iter().find(|m| m.version == *version).ok_or_else(|| {
                Error::MigrationState {
                    version: *version,
                    name: name.clone(),
                    message: "cannot revert it: this qcheck does not ship its down script".into(),
                }
            })?;
            let mut tx = client
                .transaction()
                .db("starting a migration transaction")?;
            tx.batch_execute(m.down)
                .map_err(|source| Error::Migration {
                    version: m.version,
                    name: m.name.clone(),
                    source,
                })?;
            tx.execute(
                "DELETE FROM qcheck_migration WHERE version = $1",
                &[&(m.version as i32)],
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
                Some(d) if d.2 != m.checksum() => "changed",
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
        let rows = client
            .query(
                "SELECT strategy, index_name FROM qcheck_strategy_index ORDER BY index_name",
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
    Ok(SchemaStatus {
        migrations,
        strategy,
        strategy_indexes,
    })
}

/// An index strategy shipped in `sql/strategies`.
#[derive(Debug, Clone)]
pub struct Strategy {
    pub name: String,
    pub sql: &'static str,
    /// The first comment paragraph: what the strategy is for.
    pub summary: String,
}

/// The strategies shipped with qcheck, by name.
pub fn strategies() -> Vec<Strategy> {
    let mut out: Vec<Strategy> = STRATEGIES
        .files()
        .filter_map(|f| {
            let name = f
                .path()
                .file_name()?
                .to_str()?
                .strip_suffix(".sql")?
                .to_string();
            let sql = f.contents_utf8()?;
            let summary = sql
                .lines()
                .take_while(|l| l.starts_with("--"))
                .map(|l| l.trim_start_matches('-').trim())
                .take_while(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            Some(Strategy { name, sql, summary })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

pub fn strategy(name: &str) -> Result<Strategy> {
    let all = strategies();
    all.iter().find(|s| s.name == name).cloned().ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        Error::Unknown {
            kind: crate::error::Named::Strategy,
            name: name.to_string(),
            known: names.join(", "),
            hint: "",
        }
    })
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
    pub name: String,
    pub build_ms: f64,
}

/// Drops the indexes of the strategy applied before (if any) and builds `strategy`'s, one statement
/// at a time so each build is timed. Which indexes belong to a strategy is recorded, not guessed, so
/// the constraint-backing and rule indexes of the migrations are never touched.
pub fn apply_strategy(client: &mut Client, strategy: &Strategy) -> Result<Vec<BuiltIndex>> {
    with_lock(client, |client| {
        ensure_bookkeeping(client)?;
        drop_strategy_indexes(client)?;
        let mut built = Vec::new();
        for stmt in split_statements(strategy.sql) {
            let before = top_level_indexes(client)?;
            let start = std::time::Instant::now();
            client.batch_execute(&stmt).db(format!(
                "strategy {}: {}",
                strategy.name,
                first_line(&stmt)
            ))?;
            let build_ms = start.elapsed().as_secs_f64() * 1e3;
            for name in top_level_indexes(client)?
                .into_iter()
                .filter(|n| !before.contains(n))
            {
                client
                    .execute(
                        "INSERT INTO qcheck_strategy_index (index_name, strategy, build_ms) VALUES ($1, $2, $3)",
                        &[&name, &strategy.name, &build_ms],
                    )
                    .db("recording a strategy index")?;
                built.push(BuiltIndex { name, build_ms });
            }
        }
        Ok(built)
    })
}

/// Drops every index a strategy created.
pub fn drop_strategy_indexes(client: &mut Client) -> Result<()> {
    ensure_bookkeeping(client)?;
    let rows = client
        .query("SELECT index_name FROM qcheck_strategy_index", &[])
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

fn first_line(stmt: &str) -> &str {
    stmt.lines()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
        .unwrap_or("")
        .trim()
}

/// Splits a strategy file into statements on `;` at line ends. Strategy files hold plain DDL (no
/// function bodies), which keeps this honest; a `$$` in a strategy is refused.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        current.push_str(line);
        current.push('\n');
        let code = line.split("--").next().unwrap_or("").trim_end();
        if code.ends_with(';') {
            if current
                .lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
            {
                out.push(std::mem::take(&mut current));
            } else {
                current.clear();
            }
        }
    }
    if current
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"))
    {
        out.push(current);
    }
    out
}

/// Quotes an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_migrations_pair_up_in_order() {
        let all = migrations().unwrap();
        assert!(all.len() >= 2);
        assert!(all.windows(2).all(|w| w[0].version < w[1].version));
        assert_eq!(all[0].version, 1);
    }

    #[test]
    fn strategies_have_a_summary_and_split_into_statements() {
        let tuned = strategy("tuned").unwrap();
        assert!(
            tuned.summary.starts_with("Strategy `tuned`"),
            "{}",
            tuned.summary
        );
        let stmts = split_statements(tuned.sql);
        assert!(
            stmts.iter().all(|s| s.contains("CREATE INDEX")),
            "{stmts:#?}"
        );
        assert!(stmts.len() >= 5);
        let err = strategy("nope").unwrap_err().to_string();
        assert!(
            err.contains("known strategies: ") && err.contains("tuned"),
            "{err}"
        );
    }
}
