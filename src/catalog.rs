//! The hot queries: one `.sql` file each, a header of `-- key: value` lines, then the SQL.
//!
//! ```sql
//! -- name: provider_day
//! -- summary: A provider's appointments for one day (the calendar day view).
//! -- params: provider_id, day <- SELECT ... (one row; picks the values from the seeded data)
//! -- expect: index-only-scan appointment using appointment_provider_day_idx
//! -- expect-generic: partitions appointment <= 1
//! -- generic: exempt <why the generic plan legitimately differs>
//! -- note: free text, e.g. how the plan depends on scale
//! SELECT ... WHERE provider_id = $1 AND ...
//! ```
//!
//! `expect:` lines hold for the custom and the generic plan, `expect-custom:` / `expect-generic:` for one
//! of them. A `params:` value may continue on following lines that start with `--` and at least three
//! spaces. The built-in ten are compiled in from `sql/queries`; `--queries DIR` reads a user's own.
//! Parsing is pure: errors name the file and line.

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

use crate::error::{Error, IoContext, Result};
use crate::expect::{Expectation, parse_expectation};

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/sql/queries");

/// Which plan an expectation applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PlanMode {
    Both,
    Custom,
    Generic,
}

/// One `expect` line: the plan it applies to and the parsed expectation (text, file, line inside).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExpectLine {
    pub mode: PlanMode,
    #[serde(flatten)]
    pub expectation: Expectation,
}

impl ExpectLine {
    /// Whether it applies to a plan of this mode.
    pub fn applies_to(&self, generic: bool) -> bool {
        match self.mode {
            PlanMode::Both => true,
            PlanMode::Custom => !generic,
            PlanMode::Generic => generic,
        }
    }
}

/// A query file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Query {
    pub name: String,
    pub summary: String,
    /// Where it was read from (`sql/queries/NAME.sql` for built-ins).
    pub path: PathBuf,
    /// Parameter names, bound to `$1..$n` in order.
    pub params: Vec<String>,
    /// SQL returning one row with a value per parameter, picked from the seeded data.
    pub params_sql: Option<String>,
    pub expects: Vec<ExpectLine>,
    /// `Some(reason)` when the generic plan is reported but not held to the expectations.
    pub generic_exempt: Option<String>,
    pub notes: Vec<String>,
    pub sql: String,
}

const KEYS: &str = "name, summary, params, expect, expect-custom, expect-generic, generic, note";

fn err(path: &Path, line: usize, msg: impl std::fmt::Display) -> Error {
    Error::Usage(format!("{}:{line}: {msg}", path.display()))
}

/// Parses one query file's text.
pub fn parse(path: &Path, text: &str) -> Result<Query> {
    let mut name = None;
    let mut summary = String::new();
    let mut params: Vec<String> = Vec::new();
    let mut params_sql: Option<String> = None;
    let mut params_line = 0;
    let mut expects = Vec::new();
    let mut generic_exempt = None;
    let mut notes = Vec::new();
    let mut body = String::new();
    let mut in_header = true;
    let mut last_key = "";

    for (idx, raw) in text.lines().enumerate() {
        let line_no = idx + 1;
        if in_header {
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                continue;
            }
            if let Some(comment) = trimmed.strip_prefix("--") {
                // Continuation of a long `params:` value.
                if last_key == "params" && comment.starts_with("   ") {
                    if let Some(sql) = params_sql.as_mut() {
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
                    "expect" | "expect-custom" | "expect-generic" => {
                        let mode = match key {
                            "expect" => PlanMode::Both,
                            "expect-custom" => PlanMode::Custom,
                            _ => PlanMode::Generic,
                        };
                        let expectation =
                            parse_expectation(value, &path.display().to_string(), line_no)
                                .map_err(|e| Error::Usage(e.to_string()))?;
                        expects.push(ExpectLine { mode, expectation });
                    }
                    "generic" => {
                        let reason = value.strip_prefix("exempt").map(str::trim).filter(|r| !r.is_empty()).ok_or_else(|| {
                            err(path, line_no, "generic: expected `exempt <reason>` (say why the generic plan legitimately differs)")
                        })?;
                        generic_exempt = Some(reason.to_string());
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
            in_header = false;
        }
        body.push_str(raw);
        body.push('\n');
    }

    let name = name.ok_or_else(|| err(path, 1, "missing `-- name: ...` header line"))?;
    let sql = body.trim().trim_end_matches(';').trim().to_string();
    if sql.is_empty() {
        return Err(err(
            path,
            text.lines().count().max(1),
            "no SQL after the header",
        ));
    }
    let highest = highest_placeholder(&sql);
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
    Ok(Query {
        name,
        summary,
        path: path.to_path_buf(),
        params,
        params_sql,
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

/// The highest `$n` outside string literals and comments.
fn highest_placeholder(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let (mut i, mut highest) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'\'' {
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'$' => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                if end > start {
                    highest = highest.max(sql[start..end].parse().unwrap_or(0));
                }
                i = end.max(i + 1) - 1;
            }
            _ => {}
        }
        i += 1;
    }
    highest
}

/// A set of queries: the built-in ten, or the `.sql` files of a folder.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub queries: Vec<Query>,
    pub source: String,
}

impl Catalog {
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
            return Err(Error::Usage(format!(
                "{}: no .sql query files in this folder",
                dir.display()
            )));
        }
        Self::new(queries, dir.display().to_string())
    }

    fn new(mut queries: Vec<Query>, source: String) -> Result<Catalog> {
        queries.sort_by(|a, b| a.name.cmp(&b.name));
        for pair in queries.windows(2) {
            if pair[0].name == pair[1].name {
                return Err(Error::Usage(format!(
                    "two query files are named `{}`: {} and {}",
                    pair[0].name,
                    pair[0].path.display(),
                    pair[1].path.display()
                )));
            }
        }
        Ok(Catalog { queries, source })
    }

    pub fn names(&self) -> Vec<&str> {
        self.queries.iter().map(|q| q.name.as_str()).collect()
    }

    /// The named query, or an error that lists the known names.
    pub fn get(&self, name: &str) -> Result<&Query> {
        self.queries.iter().find(|q| q.name == name).ok_or_else(|| {
            Error::Usage(format!(
                "unknown query `{name}`; known queries: {}",
                self.names().join(", ")
            ))
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
        assert_eq!(q.expects.len(), 2);
        assert_eq!(
            (q.expects[0].mode, q.expects[0].expectation.line),
            (PlanMode::Both, 6)
        );
        assert_eq!(q.expects[1].mode, PlanMode::Generic);
        assert_eq!(q.generic_exempt.as_deref(), Some("because reasons"));
        assert!(
            q.sql.starts_with("SELECT * FROM t") && !q.sql.ends_with(';'),
            "{}",
            q.sql
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let bad = GOOD.replace("-- note: scale", "-- nope: scale");
        let e = parse(Path::new("q/demo.sql"), &bad)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("q/demo.sql:9: unknown header key `nope`"),
            "{e}"
        );

        let bad = GOOD.replace("-- generic: exempt because reasons", "-- generic: exempt");
        let e = parse(Path::new("q/demo.sql"), &bad)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("q/demo.sql:8: generic: expected `exempt <reason>`"),
            "{e}"
        );

        let bad = GOOD.replace("AND b = $2", "AND b = $3");
        let e = parse(Path::new("q/demo.sql"), &bad)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("q/demo.sql:4: the SQL uses 3 parameter(s)"),
            "{e}"
        );

        let e = parse(Path::new("x.sql"), "SELECT 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.sql:1: missing `-- name: ...`"), "{e}");
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let cat = Catalog::new(vec![parse(Path::new("d.sql"), GOOD).unwrap()], "t".into()).unwrap();
        let e = cat.get("nope").unwrap_err().to_string();
        assert_eq!(e, "unknown query `nope`; known queries: demo");
    }

    #[test]
    fn the_builtin_ten_parse() {
        let cat = Catalog::builtin().unwrap();
        assert_eq!(cat.queries.len(), 10, "{:?}", cat.names());
        for q in &cat.queries {
            assert!(!q.summary.is_empty(), "{}", q.name);
            assert!(q.params_sql.is_some(), "{}", q.name);
            assert!(!q.expects.is_empty(), "{}", q.name);
        }
    }
}
