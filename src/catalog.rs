//! The hot queries: one `.sql` file each, a header of `-- key: value` lines, then the SQL.
//!
//! ```sql
//! -- name: provider_day
//! -- summary: A provider's appointments for one day (the calendar day view).
//! -- params: provider_id, day <- SELECT ... (one row; picks the values from the seeded data)
//! -- sample: SELECT ... ORDER BY md5(...) LIMIT 200 (many rows of values, in a deterministic order)
//! -- tenant: SELECT tenant_id FROM provider WHERE id = $1 (the tenant a parameter set belongs to)
//! -- expect: index-only-scan appointment using appointment_provider_day_idx
//! -- expect-generic: partitions appointment <= 1
//! -- generic: exempt <why the generic plan legitimately differs>
//! -- note: free text, e.g. how the plan depends on scale
//! SELECT ... WHERE provider_id = $1 AND ...
//! ```
//!
//! `expect:` lines hold for the custom and the generic plan, `expect-custom:` / `expect-generic:` for one
//! of them. `expect-citus:` lines hold only for a distributed plan (one with a Citus Custom Scan) and
//! `expect-single-node:` lines only for a plan that is not; either takes the `-custom` / `-generic`
//! suffix too (`expect-citus-generic:`). So a query says "on Citus, instead of X expect Y" with
//! `expect-single-node: X` and `expect-citus: Y`. `generic:` is parsed by [`crate::expect::parse_generic`], the one grammar for it. A
//! `params:` or `sample:` value may continue on following lines that start with `--` and at least
//! three spaces; the lines are joined with spaces, so that SQL cannot hold `--` comments. `sample:` is
//! optional: a query without one is benchmarked with its single `params:` row. Its SQL returns one
//! column per parameter, in `params:` order, and orders its rows by something derived from the data
//! (e.g. `ORDER BY md5(id::text)`), so the same dataset always gives the same sample.
//!
//! `tenant:` is SQL over the query's own `$n` (any of them) returning the tenant a parameter set
//! belongs to: the runner sets `app.tenant_id` to it when it runs the query as the application
//! (see [`crate::runner::role`]), for picked, sampled and `--param`-overridden values alike.
//!
//! After the header comes exactly one statement (a trailing `;` is fine): a query file can never run a
//! second one, so a second statement is an error naming the line where it starts. The SQL is read
//! with the lexer of [`crate::sql`], so `$n`, `;` and `--` inside literals, quoted identifiers,
//! comments and dollar quotes are not mistaken for placeholders or statement ends. The built-in ten
//! are compiled in from `sql/queries`; `--queries DIR` reads a user's own. Parsing is pure: every
//! error is an [`Error::QueryFile`] naming the file and line.

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

use crate::error::{Error, IoContext, Result};
use crate::expect::{Expectation, parse_expectation, parse_generic};
use crate::plan::Mode;
use crate::sql::{self, TokenKind};

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/sql/queries");

/// Which plans an `expect` line holds for: `expect:` both, `expect-custom:` / `expect-generic:` one
/// [`Mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AppliesTo {
    /// `expect:` — the custom and the generic plan.
    Both,
    /// `expect-custom:` — the custom plan only.
    Custom,
    /// `expect-generic:` — the generic plan only.
    Generic,
}

/// Which plans an `expect` line holds for by where they ran: every plan, only a distributed (Citus)
/// plan, or only a plan that is not distributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// `expect:` (and `expect-custom:` / `expect-generic:`): any plan.
    #[default]
    Any,
    /// `expect-single-node:`: a plan without a Citus Custom Scan.
    SingleNode,
    /// `expect-citus:`: a plan with a Citus Custom Scan (a distributed plan).
    Citus,
}

impl Topology {
    /// Whether a line of this topology applies to a plan that is (or is not) distributed.
    pub fn applies(self, distributed: bool) -> bool {
        match self {
            Topology::Any => true,
            Topology::SingleNode => !distributed,
            Topology::Citus => distributed,
        }
    }

    #[allow(
        clippy::trivially_copy_pass_by_ref,
        reason = "serde's skip_serializing_if passes a reference"
    )]
    fn is_any(&self) -> bool {
        *self == Topology::Any
    }
}

/// One `expect` line: the plan it applies to and the parsed expectation (text, file, line inside).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExpectLine {
    /// The plans it holds for.
    pub mode: AppliesTo,
    /// Distributed plans only, single-node plans only, or any (not serialised when any).
    #[serde(skip_serializing_if = "Topology::is_any")]
    pub topology: Topology,
    /// What must hold of the plan.
    #[serde(flatten)]
    pub expectation: Expectation,
}

impl ExpectLine {
    /// Whether it applies to a plan of this mode (whatever the topology; see
    /// [`ExpectLine::applies_to_plan`]).
    pub fn applies_to(&self, mode: Mode) -> bool {
        match self.mode {
            AppliesTo::Both => true,
            AppliesTo::Custom => mode == Mode::Custom,
            AppliesTo::Generic => mode == Mode::Generic,
        }
    }

    /// Whether it applies to a plan of this mode that is (or is not) distributed.
    pub fn applies_to_plan(&self, mode: Mode, distributed: bool) -> bool {
        self.applies_to(mode) && self.topology.applies(distributed)
    }

    /// The header key the line was written with (`expect`, `expect-citus-generic`, ...).
    pub fn key(&self) -> String {
        let topology = match self.topology {
            Topology::Any => "",
            Topology::SingleNode => "-single-node",
            Topology::Citus => "-citus",
        };
        let mode = match self.mode {
            AppliesTo::Both => "",
            AppliesTo::Custom => "-custom",
            AppliesTo::Generic => "-generic",
        };
        format!("expect{topology}{mode}")
    }
}

/// `expect[-citus|-single-node][-custom|-generic]` → where and for which plan mode the line holds.
fn expect_key(key: &str) -> Option<(Topology, AppliesTo)> {
    let rest = key.strip_prefix("expect")?;
    let (topology, rest) = if let Some(r) = rest.strip_prefix("-citus") {
        (Topology::Citus, r)
    } else if let Some(r) = rest.strip_prefix("-single-node") {
        (Topology::SingleNode, r)
    } else {
        (Topology::Any, rest)
    };
    let mode = match rest {
        "" => AppliesTo::Both,
        "-custom" => AppliesTo::Custom,
        "-generic" => AppliesTo::Generic,
        _ => return None,
    };
    Some((topology, mode))
}

/// A query file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Query {
    /// `-- name:`: letters, digits, `_` and `-`; unique in a catalog.
    pub name: String,
    /// `-- summary:`: what a user asks with it.
    pub summary: String,
    /// Where it was read from (`sql/queries/NAME.sql` for built-ins).
    pub path: PathBuf,
    /// Parameter names, bound to `$1..$n` in order.
    pub params: Vec<String>,
    /// SQL returning one row with a value per parameter, picked from the seeded data.
    pub params_sql: Option<String>,
    /// `-- sample:`: SQL returning many rows of parameter values (one column per parameter, in
    /// `params:` order) in a deterministic order, for benchmarks that rotate over parameters.
    pub sample_sql: Option<String>,
    /// `-- tenant:`: SQL over the query's `$n` returning the tenant (`app.tenant_id`) a parameter set
    /// belongs to, one row, one column.
    pub tenant_sql: Option<String>,
    /// `expect:`, `expect-custom:`, `expect-generic:`, `expect-citus...:` and
    /// `expect-single-node...:` lines, in file order.
    pub expects: Vec<ExpectLine>,
    /// `Some(reason)` when the generic plan is reported but not held to the expectations.
    pub generic_exempt: Option<String>,
    /// `-- note:` lines.
    pub notes: Vec<String>,
    /// The one statement, without a trailing `;` and without comments around it.
    pub sql: String,
}

const KEYS: &str = "name, summary, params, sample, tenant, expect, expect-custom, expect-generic, \
                    expect-citus[-custom|-generic], expect-single-node[-custom|-generic], generic, note";

fn err(path: &Path, line: usize, msg: impl std::fmt::Display) -> Error {
    Error::QueryFile {
        path: path.to_path_buf(),
        line,
        message: msg.to_string(),
    }
}

/// An error of `expect`'s header parsers, which carry their own `file:line: ` prefix, as a
/// [`Error::QueryFile`].
fn expect_err(path: &Path, e: &crate::expect::ExpectParseError) -> Error {
    let full = e.to_string();
    let prefix = format!("{}:{}: ", e.file, e.line);
    let message = full.strip_prefix(&prefix).unwrap_or(&full).to_string();
    err(path, e.line, message)
}

/// A header value that is SQL (`params:`, `sample:`): one statement that lexes, without `--`
/// comments (its continuation lines are joined into one line, so a `--` would swallow the rest).
fn check_header_sql(path: &Path, line: usize, key: &str, value: &str) -> Result<()> {
    let tokens =
        sql::tokenize(value).map_err(|e| err(path, line, format!("{key}: {}", e.problem)))?;
    if tokens.iter().any(|t| t.kind == TokenKind::LineComment) {
        return Err(err(
            path,
            line,
            format!(
                "{key}: the SQL cannot hold `--` comments (its lines are joined into one); use /* ... */"
            ),
        ));
    }
    if sql::split_statements(value).map_or(0, |s| s.len()) > 1 {
        return Err(err(
            path,
            line,
            format!("{key}: expected one SELECT statement, found more"),
        ));
    }
    Ok(())
}

/// Parses one query file's text.
pub fn parse(path: &Path, text: &str) -> Result<Query> {
    let mut name = None;
    let mut summary = String::new();
    let mut params: Vec<String> = Vec::new();
    let mut params_sql: Option<String> = None;
    let mut params_line = 0;
    let mut sample_sql: Option<String> = None;
    let mut sample_line = 0;
    let mut tenant_sql: Option<String> = None;
    let mut tenant_line = 0;
    let mut expects = Vec::new();
    let mut generic_exempt = None;
    let mut notes = Vec::new();
    let mut body = String::new();
    let mut body_line = 0;
    let mut last_key = "";
    let file = path.display().to_string();

    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        if body_line == 0 {
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                continue;
            }
            if let Some(comment) = trimmed.strip_prefix("--") {
                // Continuation of a long `params:` or `sample:` value.
                if comment.starts_with("   ") {
                    let open = match last_key {
                        "params" => params_sql.as_mut(),
                        "sample" => sample_sql.as_mut(),
                        "tenant" => tenant_sql.as_mut(),
                        _ => None,
                    };
                    if let Some(sql) = open {
                        sql.push(' ');
                        sql.push_str(comment.trim());
                        continue;
                    }
                }
                let comment = comment.trim();
                let Some((key, value)) = comment.split_once(':').filter(|(k, _)| is_key(k)) else {
                    // A plain comment in the header.
                    last_key = "";
                    continue;
                };
                let value = value.trim();
                last_key = "";
                if let Some((topology, mode)) = expect_key(key) {
                    let expectation = parse_expectation(value, &file, line_no)
                        .map_err(|e| expect_err(path, &e))?;
                    expects.push(ExpectLine {
                        mode,
                        topology,
                        expectation,
                    });
                    continue;
                }
                match key {
                    "name" => {
                        if !value
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                            || value.is_empty()
                        {
                            return Err(err(
                                path,
                                line_no,
                                format!("query name `{value}` must be letters, digits, _ or -"),
                            ));
                        }
                        name = Some(value.to_string());
                    }
                    "summary" => summary = value.to_string(),
                    "params" => {
                        let (names, sql) = value.split_once("<-").ok_or_else(|| {
                            err(path, line_no, "params: expected `name, name <- SELECT ...` (the SQL picks one row of values)")
                        })?;
                        params = names
                            .split(',')
                            .map(|n| n.trim().to_string())
                            .filter(|n| !n.is_empty())
                            .collect();
                        params_sql = Some(sql.trim().to_string());
                        params_line = line_no;
                        last_key = "params";
                    }
                    "sample" => {
                        if value.is_empty() {
                            return Err(err(
                                path,
                                line_no,
                                "sample: expected `SELECT ...` (the SQL returns many rows of parameter values)",
                            ));
                        }
                        sample_sql = Some(value.to_string());
                        sample_line = line_no;
                        last_key = "sample";
                    }
                    "tenant" => {
                        if value.is_empty() {
                            return Err(err(
                                path,
                                line_no,
                                "tenant: expected `SELECT ...` over the query's $n (returns the tenant of a parameter set)",
                            ));
                        }
                        tenant_sql = Some(value.to_string());
                        tenant_line = line_no;
                        last_key = "tenant";
                    }
                    "generic" => {
                        let exemption = parse_generic(value, &file, line_no)
                            .map_err(|e| expect_err(path, &e))?;
                        generic_exempt = Some(exemption.reason);
                    }
                    "note" => notes.push(value.to_string()),
                    other => {
                        return Err(err(
                            path,
                            line_no,
                            format!("unknown header key `{other}` (known: {KEYS})"),
                        ));
                    }
                }
                continue;
            }
            body_line = line_no;
        }
        body.push_str(raw);
        body.push('\n');
    }

    let name = name.ok_or_else(|| err(path, 1, "missing `-- name: ...` header line"))?;
    if let Some(value) = &params_sql {
        check_header_sql(path, params_line, "params", value)?;
    }
    if let Some(value) = &sample_sql {
        check_header_sql(path, sample_line, "sample", value)?;
    }
    if let Some(value) = &tenant_sql {
        check_header_sql(path, tenant_line, "tenant", value)?;
    }
    // Lines of the body, counted from 1, are file lines counted from `body_line`.
    let file_line = |body_relative: usize| body_line + body_relative - 1;
    let statements = sql::split_statements(&body).map_err(|e| {
        err(
            path,
            file_line(e.line),
            format!("{} (it starts here)", e.problem),
        )
    })?;
    let sql = match statements.as_slice() {
        [] => {
            return Err(err(
                path,
                text.lines().count().max(1),
                "no SQL after the header",
            ));
        }
        [one] => one.text.clone(),
        [_, second, ..] => {
            return Err(err(
                path,
                file_line(second.line),
                "query files hold one statement; the second starts here",
            ));
        }
    };
    let highest = sql::placeholders(&sql)
        .map_err(|e| err(path, file_line(e.line), e.problem))?
        .max;
    if highest != params.len() {
        let line = if params_line > 0 { params_line } else { 1 };
        return Err(err(
            path,
            line,
            format!(
                "the SQL uses {highest} parameter(s) ($1..${highest}) but `params:` names {}",
                params.len()
            ),
        ));
    }
    if let Some(value) = &tenant_sql {
        let used = sql::placeholders(value)
            .map_err(|e| err(path, tenant_line, format!("tenant: {}", e.problem)))?
            .max;
        if used > params.len() {
            return Err(err(
                path,
                tenant_line,
                format!(
                    "tenant: the SQL uses ${used} but `params:` names {} parameter(s)",
                    params.len()
                ),
            ));
        }
    }
    Ok(Query {
        name,
        summary,
        path: path.to_path_buf(),
        params,
        params_sql,
        sample_sql,
        tenant_sql,
        expects,
        generic_exempt,
        notes,
        sql,
    })
}

/// Header keys are kebab-case words; anything else (e.g. "Note: ...") is a plain comment.
fn is_key(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '-')
}

/// A set of queries: the built-in ten, or the `.sql` files of a folder.
#[derive(Debug, Clone)]
pub struct Catalog {
    /// The queries, sorted by name.
    pub queries: Vec<Query>,
    /// Where they came from: `built-in` or the folder's path.
    pub source: String,
}

impl Catalog {
    /// The queries shipped with qcheck (`sql/queries`).
    pub fn builtin() -> Result<Catalog> {
        let mut queries = Vec::new();
        for file in BUILTIN.files() {
            let path = Path::new("sql/queries").join(file.path());
            if path.extension().and_then(|e| e.to_str()) != Some("sql") {
                continue;
            }
            let text = file
                .contents_utf8()
                .ok_or_else(|| err(&path, 1, "not UTF-8"))?;
            queries.push(parse(&path, text)?);
        }
        Self::new(queries, "built-in".into())
    }

    /// The `.sql` files of `dir`; fails when it holds none.
    pub fn from_dir(dir: &Path) -> Result<Catalog> {
        let entries = std::fs::read_dir(dir).at(dir)?;
        let mut queries = Vec::new();
        for entry in entries {
            let path = entry.at(dir)?.path();
            if path.extension().and_then(|e| e.to_str()) == Some("sql") {
                let text = std::fs::read_to_string(&path).at(&path)?;
                queries.push(parse(&path, &text)?);
            }
        }
        if queries.is_empty() {
            return Err(Error::QueryFolder {
                dir: dir.to_path_buf(),
                message: "no .sql query files in this folder".into(),
            });
        }
        Self::new(queries, dir.display().to_string())
    }

    fn new(mut queries: Vec<Query>, source: String) -> Result<Catalog> {
        queries.sort_by(|a, b| a.name.cmp(&b.name));
        for pair in queries.windows(2) {
            if pair[0].name == pair[1].name {
                return Err(Error::QueryFolder {
                    dir: source.into(),
                    message: format!(
                        "two query files are named `{}`: {} and {}",
                        pair[0].name,
                        pair[0].path.display(),
                        pair[1].path.display()
                    ),
                });
            }
        }
        Ok(Catalog { queries, source })
    }

    /// Every query's name, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.queries.iter().map(|q| q.name.as_str()).collect()
    }

    /// The named query, or an error that lists the known names.
    pub fn get(&self, name: &str) -> Result<&Query> {
        self.queries
            .iter()
            .find(|q| q.name == name)
            .ok_or_else(|| Error::Unknown {
                kind: crate::error::Named::Query,
                name: name.to_string(),
                known: self.names().join(", "),
                hint: "",
            })
    }

    /// The named queries in the given order, or all when `names` is empty.
    pub fn select(&self, names: &[String]) -> Result<Vec<&Query>> {
        if names.is_empty() {
            return Ok(self.queries.iter().collect());
        }
        names.iter().map(|n| self.get(n)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
-- name: demo
-- summary: What it answers.
-- A plain comment line.
-- params: a, b <- SELECT 1,
--     2
-- sample: SELECT x, y
--     FROM generate_series(1, 9) x, generate_series(1, 9) y
--     ORDER BY md5(x::text || y::text) LIMIT 5
-- expect: no sort
-- expect-generic: partitions appointment <= 2
-- generic: exempt because reasons
-- note: scale matters
SELECT * FROM t WHERE a = $1 AND b = $2 AND c = '$9' -- $7 in a comment
;
";

    #[test]
    fn parses_a_header_and_the_sql() {
        let q = parse(Path::new("q/demo.sql"), GOOD).unwrap();
        assert_eq!(q.name, "demo");
        assert_eq!(q.params, vec!["a", "b"]);
        assert_eq!(q.params_sql.as_deref(), Some("SELECT 1, 2"));
        assert_eq!(
            q.sample_sql.as_deref(),
            Some(
                "SELECT x, y FROM generate_series(1, 9) x, generate_series(1, 9) y ORDER BY md5(x::text || y::text) LIMIT 5"
            )
        );
        assert_eq!(q.expects.len(), 2);
        assert_eq!(
            (q.expects[0].mode, q.expects[0].expectation.line),
            (AppliesTo::Both, 9)
        );
        assert_eq!(q.expects[1].mode, AppliesTo::Generic);
        assert_eq!(q.generic_exempt.as_deref(), Some("because reasons"));
        assert!(
            q.sql.starts_with("SELECT * FROM t") && !q.sql.ends_with(';'),
            "{}",
            q.sql
        );
    }

    fn parse_err(text: &str) -> String {
        let e = parse(Path::new("q/demo.sql"), text).unwrap_err();
        assert!(matches!(e, Error::QueryFile { .. }), "{e:?}");
        e.to_string()
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = parse_err(&GOOD.replace("-- note: scale", "-- nope: scale"));
        assert!(
            e.starts_with("q/demo.sql:12: unknown header key `nope`"),
            "{e}"
        );

        let e =
            parse_err(&GOOD.replace("-- generic: exempt because reasons", "-- generic: exempt"));
        assert!(
            e.starts_with("q/demo.sql:11: invalid `-- generic: exempt`"),
            "{e}"
        );

        let e = parse_err(&GOOD.replace("-- expect: no sort", "-- expect: no sorts"));
        assert!(
            e.starts_with("q/demo.sql:9: invalid `-- expect: no sorts`"),
            "{e}"
        );

        let e = parse_err(&GOOD.replace("AND b = $2", "AND b = $3"));
        assert!(
            e.contains("q/demo.sql:4: the SQL uses 3 parameter(s)"),
            "{e}"
        );

        let e = parse(Path::new("x.sql"), "SELECT 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.sql:1: missing `-- name: ...`"), "{e}");

        let e = parse_err(&GOOD.replace("c = '$9'", "c = '$9"));
        assert_eq!(
            e,
            "q/demo.sql:13: unterminated string literal (it starts here)"
        );

        let e = parse_err(&GOOD.replace("--     2", "--     2 -- two"));
        assert!(
            e.starts_with("q/demo.sql:4: params: the SQL cannot hold `--` comments"),
            "{e}"
        );

        let e = parse_err(&GOOD.replace("-- sample: SELECT x, y", "-- sample: SELECT x, 'y"));
        assert!(
            e.starts_with("q/demo.sql:6: sample: unterminated string literal"),
            "{e}"
        );
    }

    #[test]
    fn expect_keys_name_topology_and_mode() {
        let text = GOOD.replace(
            "-- expect: no sort\n",
            "-- expect: no sort\n-- expect-citus: tasks = 8\n-- expect-single-node-generic: no sort\n",
        );
        let q = parse(Path::new("q/demo.sql"), &text).unwrap();
        let keys: Vec<String> = q.expects.iter().map(ExpectLine::key).collect();
        assert_eq!(
            keys,
            [
                "expect",
                "expect-citus",
                "expect-single-node-generic",
                "expect-generic"
            ]
        );
        let citus = &q.expects[1];
        assert_eq!(
            (citus.topology, citus.mode, citus.expectation.line),
            (Topology::Citus, AppliesTo::Both, 10)
        );
        assert!(citus.applies_to_plan(Mode::Generic, true));
        assert!(!citus.applies_to_plan(Mode::Custom, false));
        assert!(q.expects[2].applies_to_plan(Mode::Generic, false));
        assert!(!q.expects[2].applies_to_plan(Mode::Generic, true));
        assert!(!q.expects[2].applies_to_plan(Mode::Custom, false));
        // The plain line applies everywhere; only non-default topologies are serialised.
        assert!(q.expects[0].applies_to_plan(Mode::Custom, true));
        let j = serde_json::to_value(&q.expects).unwrap();
        assert!(j[0].get("topology").is_none());
        assert_eq!(j[1]["topology"], "citus");
        // A bad line names file:line; a misspelt key is an unknown key.
        let e = parse_err(&GOOD.replace("-- expect: no sort", "-- expect-citus: tasks 8"));
        assert!(
            e.starts_with(
                "q/demo.sql:9: invalid `-- expect: tasks 8`: `8` is not a comparison operator"
            ),
            "{e}"
        );
        let e = parse_err(&GOOD.replace("-- expect: no sort", "-- expect-cituss: router"));
        assert!(
            e.starts_with("q/demo.sql:9: unknown header key `expect-cituss`"),
            "{e}"
        );
        let e = parse_err(&GOOD.replace("-- expect: no sort", "-- expect-custom-citus: router"));
        assert!(
            e.contains("unknown header key `expect-custom-citus`"),
            "{e}"
        );
    }

    #[test]
    fn a_query_file_holds_one_statement() {
        // The second statement is refused, at the line where it starts, even on the same line.
        let two = format!("{GOOD}\n  /* harmless? */ DELETE FROM t;\n");
        assert_eq!(
            parse_err(&two),
            "q/demo.sql:16: query files hold one statement; the second starts here"
        );
        let same_line = GOOD.replace("-- $7 in a comment\n;", "; DROP TABLE t;");
        assert_eq!(
            parse_err(&same_line),
            "q/demo.sql:13: query files hold one statement; the second starts here"
        );
        // `;`, `$n` and `--` inside literals, identifiers, comments and dollar quotes mean nothing.
        let quoted = GOOD.replace(
            "c = '$9'",
            "c = '$9;' AND d = \"x;$8\" AND e = $q$ ; $5 $q$ /* ; $6 */",
        );
        let q = parse(Path::new("q/demo.sql"), &quoted).unwrap();
        assert!(q.sql.ends_with("$q$ ; $5 $q$"), "{}", q.sql);
        // Trailing `;`s and comments are fine; the SQL ends at its last token.
        let q = parse(Path::new("q/demo.sql"), &format!("{GOOD};\n-- end\n")).unwrap();
        assert!(q.sql.ends_with("c = '$9'"), "{}", q.sql);
    }

    /// The select list of the outermost SELECT: how many columns it has.
    fn outer_columns(sql: &str) -> usize {
        let tokens = sql::code_tokens(sql).unwrap();
        let mut depth = 0i32;
        let mut columns = 1;
        for t in tokens.iter().skip(1) {
            match t.text {
                "(" => depth += 1,
                ")" => depth -= 1,
                "," if depth == 0 => columns += 1,
                _ if depth == 0 && t.is_keyword("FROM") => return columns,
                _ => {}
            }
        }
        columns
    }

    #[test]
    fn every_builtin_query_has_a_sample_with_its_parameter_count() {
        let catalog = Catalog::builtin().unwrap();
        for q in &catalog.queries {
            let sample = q
                .sample_sql
                .as_deref()
                .unwrap_or_else(|| panic!("{} has no sample", q.name));
            assert_eq!(
                outer_columns(sample),
                q.params.len(),
                "{}: {sample}",
                q.name
            );
            // Deterministic: the outermost ORDER BY starts with md5(...).
            let tokens = sql::code_tokens(sample).unwrap();
            let mut depth = 0i32;
            let ordered = tokens.windows(4).any(|w| {
                depth += match w[0].text {
                    "(" => 1,
                    ")" => -1,
                    _ => 0,
                };
                depth == 0
                    && w[0].is_keyword("ORDER")
                    && w[1].is_keyword("BY")
                    && w[2].is_keyword("md5")
                    && w[3].text == "("
            });
            assert!(ordered, "{}: deterministic order: {sample}", q.name);
            assert!(sample.contains("ORDER BY md5("), "{}", q.name);
        }
        assert_eq!(outer_columns("SELECT f(a, b), 'x,y' AS \"c,d\" FROM t"), 2);
    }

    #[test]
    fn the_generic_header_is_the_one_expect_parses() {
        let with = |line: &str| GOOD.replace("-- generic: exempt because reasons", line);
        let reason = |line: &str| {
            parse(Path::new("q/demo.sql"), &with(line)).map(|q| q.generic_exempt.unwrap())
        };
        assert_eq!(
            reason("-- generic: exempt exemptions are fine here").unwrap(),
            "exemptions are fine here"
        );
        // The documented `Exempt:` form.
        assert_eq!(
            reason("-- generic: Exempt: reporting only").unwrap(),
            "reporting only"
        );
        // `exemptions` is not the word `exempt` followed by a reason.
        let e = reason("-- generic: exemptions are fine here").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("q/demo.sql:11: invalid `-- generic: exemptions"),
            "{e}"
        );
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let cat = Catalog::new(vec![parse(Path::new("d.sql"), GOOD).unwrap()], "t".into()).unwrap();
        let e = cat.get("nope").unwrap_err().to_string();
        assert_eq!(e, "unknown query `nope`; known queries: demo");
    }

    #[test]
    fn the_tenant_header_is_sql_over_the_parameters() {
        let with = |line: &str| GOOD.replace("-- note: scale matters", line);
        let q = parse(
            Path::new("q/demo.sql"),
            &with("-- tenant: SELECT tenant_id FROM t\n--     WHERE id = $2"),
        )
        .unwrap();
        assert_eq!(
            q.tenant_sql.as_deref(),
            Some("SELECT tenant_id FROM t WHERE id = $2")
        );
        assert!(GOOD.lines().all(|l| !l.contains("tenant:")));
        assert_eq!(
            parse(Path::new("q/demo.sql"), GOOD).unwrap().tenant_sql,
            None
        );
        let e = parse_err(&with("-- tenant: SELECT $3::uuid"));
        assert!(
            e.starts_with("q/demo.sql:12: tenant: the SQL uses $3 but `params:` names 2"),
            "{e}"
        );
        let e = parse_err(&with("-- tenant:"));
        assert!(
            e.starts_with("q/demo.sql:12: tenant: expected `SELECT"),
            "{e}"
        );
        let e = parse_err(&with("-- tenant: SELECT 1; SELECT 2"));
        assert!(e.contains("tenant: expected one SELECT statement"), "{e}");
    }

    #[test]
    fn the_builtin_ten_parse() {
        let cat = Catalog::builtin().unwrap();
        assert_eq!(cat.queries.len(), 10, "{:?}", cat.names());
        for q in &cat.queries {
            assert!(!q.summary.is_empty(), "{}", q.name);
            assert!(q.params_sql.is_some(), "{}", q.name);
            // Every built-in query runs as the application by default: it names its tenant.
            assert!(q.tenant_sql.is_some(), "{} has no `-- tenant:`", q.name);
            assert!(!q.expects.is_empty(), "{}", q.name);
        }
    }
}
