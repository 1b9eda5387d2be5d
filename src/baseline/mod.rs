//! Baselines: the plan signatures of a run, written as JSON meant to be committed
//! (`qcheck check --save-baseline FILE`), and compared with a later run (`--baseline FILE`) or with
//! another baseline or plan (`qcheck diff A B`).
//!
//! Why it exists: expectations catch the regressions someone foresaw; a baseline catches the rest
//! — a join order that flipped, a new Sort, an index no longer used, buffers doubling after an
//! upgrade — the way criterion's `--save-baseline`/`--baseline` do for timings.
//!
//! The file is made for `git diff`: keys in a fixed order (sections first, known keys in reading
//! order, the rest sorted),
//! two-space indentation, one line per plan node and per table, no timestamps. What identifies the
//! run — the dataset (profile, scale, seed, generator, digest of the rows, index strategy) and the
//! server version — is recorded so a comparison can say when it compares unlike things. Latencies
//! (planning and execution time of the one EXPLAIN ANALYZE run) change on every run: they sit in
//! their own `latency_ms` section at the end, for the reader, and are never compared.
//!
//! One file can hold the baselines of several PostgreSQL versions (`qcheck check` given several
//! `--pg-bin-dir` and `--save-baseline`): `"schema_version": 2` and a `versions` object keyed by
//! server major version (`"15"`, `"18"`), each entry the single-version layout without `format` and
//! `schema_version` ([`BaselineFile`]). A single-version file keeps `"schema_version": 1` and
//! the layout it always had, so files committed before still load, and a qcheck that reads only
//! version 1 refuses a several-version file as "written by a newer qcheck" instead of misreading it.
//!
//! Pure: values in, values and text out; the `cli` reads and writes the files. See [`compare`] for
//! what counts as a change.

pub mod compare;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::analysis::QueryCheck;
use crate::plan::{Mode, PartitionMap, Plan, Signature};
use crate::report::fmt;

pub use compare::{
    Comparison, DiffLine, LineOp, PlanComparison, QueryComparison, QueryStatus, Threshold,
    Thresholds,
};

/// The value of the `format` key that marks a baseline file.
pub const FORMAT: &str = "qcheck baseline";

/// The version of the baseline file's layout for one server; a reader refuses a newer one.
pub const SCHEMA_VERSION: u32 = 1;

/// The version of the layout of a file holding several PostgreSQL versions' baselines (see the
/// module docs).
pub const VERSIONS_SCHEMA_VERSION: u32 = 2;

/// The key under which a plan that came from a file (not a query run in both modes) is kept.
pub const PLAN_KEY: &str = "plan";

/// One baseline: per query and plan mode, the plan's signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Always [`FORMAT`]: what the file is.
    pub format: String,
    /// [`SCHEMA_VERSION`] of the qcheck that wrote it.
    pub schema_version: u32,
    /// The dataset the plans ran on; `None` for your own queries on your own server (no dataset
    /// record) and for plan files.
    #[serde(default)]
    pub dataset: Option<DatasetIdentity>,
    /// The server the plans ran on; `None` for plan files.
    #[serde(default)]
    pub server: Option<ServerIdentity>,
    /// By query name.
    pub queries: BTreeMap<String, QueryBaseline>,
    /// Informative only, never compared: per query and mode, the planning and execution time of
    /// the EXPLAIN ANALYZE run the signature comes from.
    #[serde(default)]
    pub latency_ms: BTreeMap<String, BTreeMap<String, Latency>>,
}

/// What identifies a dataset: the same identity means the same rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetIdentity {
    /// The profile's name.
    pub profile: String,
    /// sha256 of the profile's content.
    pub profile_hash: String,
    /// `--scale`.
    pub scale: f64,
    /// `--seed`.
    pub seed: u64,
    /// The generator's version.
    pub generator_version: u32,
    /// sha256 over the generated rows.
    pub digest: String,
    /// The index strategy in place.
    pub strategy: String,
}

impl DatasetIdentity {
    /// `tiny, scale 1, seed 42`.
    pub fn describe(&self) -> String {
        format!("{}, scale {}, seed {}", self.profile, self.scale, self.seed)
    }

    /// Whether both identities describe the same rows (the index strategy aside).
    pub fn same_data(&self, other: &DatasetIdentity) -> bool {
        self.profile == other.profile
            && self.profile_hash == other.profile_hash
            && self.scale.to_bits() == other.scale.to_bits()
            && self.seed == other.seed
            && self.generator_version == other.generator_version
            && self.digest == other.digest
    }
}

/// The server a baseline was taken on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerIdentity {
    /// `server_version`, e.g. `15.18 (Debian 15.18-0+deb12u1)`.
    pub version: String,
    /// The major version (`server_version_num / 10000`), e.g. 15.
    pub major: u32,
}

/// One query's plans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryBaseline {
    /// The parameter values the plans ran with, by name (`None` is SQL NULL).
    #[serde(default)]
    pub params: BTreeMap<String, Option<String>>,
    /// By plan mode (`custom`, `generic`; [`PLAN_KEY`] for a plan file's statement).
    pub plans: BTreeMap<String, Signature>,
}

/// Planning and execution time of one EXPLAIN ANALYZE run, ms, three significant figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Planning time.
    #[serde(default)]
    pub planning: Option<f64>,
    /// Execution time.
    #[serde(default)]
    pub execution: Option<f64>,
}

impl Latency {
    fn of(plan: &Plan) -> Latency {
        let round = |v: Option<f64>| v.map(|ms| fmt::sig3(ms).parse().unwrap_or(ms));
        Latency {
            planning: round(plan.planning_time),
            execution: round(plan.execution_time),
        }
    }
}

/// Why a text is not a baseline qcheck can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaselineError {
    /// Not JSON, or JSON of another shape.
    #[error("not a qcheck baseline: {0}")]
    Malformed(String),
    /// Written by a newer qcheck.
    #[error(
        "written by a newer qcheck (schema_version {found}; this one reads up to \
         {VERSIONS_SCHEMA_VERSION}): update qcheck, or save the baseline again with this one"
    )]
    Newer {
        /// The file's schema_version.
        found: u32,
    },
}

impl Baseline {
    /// An empty baseline with the given identity.
    pub fn new(dataset: Option<DatasetIdentity>, server: Option<ServerIdentity>) -> Baseline {
        Baseline {
            format: FORMAT.into(),
            schema_version: SCHEMA_VERSION,
            dataset,
            server,
            queries: BTreeMap::new(),
            latency_ms: BTreeMap::new(),
        }
    }

    /// The baseline of checked queries: both plans of each, partitions folded with `partitions`
    /// (the catalog map the run used).
    pub fn capture(
        checks: &[QueryCheck],
        partitions: &PartitionMap,
        dataset: Option<DatasetIdentity>,
        server: Option<ServerIdentity>,
    ) -> Baseline {
        let mut b = Baseline::new(dataset, server);
        for c in checks {
            let params = c
                .params
                .names
                .iter()
                .cloned()
                .zip(c.params.values.iter().cloned())
                .collect();
            let mut plans = BTreeMap::new();
            let mut latency = BTreeMap::new();
            for mode in Mode::BOTH {
                let plan = &c.plan(mode).plan;
                plans.insert(
                    mode.as_str().to_owned(),
                    Signature::compute(plan, partitions),
                );
                latency.insert(mode.as_str().to_owned(), Latency::of(plan));
            }
            b.queries
                .insert(c.name.clone(), QueryBaseline { params, plans });
            b.latency_ms.insert(c.name.clone(), latency);
        }
        b
    }

    /// A baseline of plans read from a file, each with the partition map to fold it with: one
    /// entry per statement, named `name` (or `name N` when there are several), under
    /// [`PLAN_KEY`].
    pub fn of_plans(name: &str, plans: &[(Plan, PartitionMap)]) -> Baseline {
        let mut b = Baseline::new(None, None);
        for (i, (plan, map)) in plans.iter().enumerate() {
            let key = if plans.len() == 1 {
                name.to_owned()
            } else {
                format!("{name} {}", i + 1)
            };
            let mut by_mode = BTreeMap::new();
            by_mode.insert(PLAN_KEY.to_owned(), Signature::compute(plan, map));
            b.queries.insert(
                key.clone(),
                QueryBaseline {
                    params: BTreeMap::new(),
                    plans: by_mode,
                },
            );
            let mut latency = BTreeMap::new();
            latency.insert(PLAN_KEY.to_owned(), Latency::of(plan));
            b.latency_ms.insert(key, latency);
        }
        b
    }

    /// Reads a baseline file's text.
    pub fn parse(text: &str) -> Result<Baseline, BaselineError> {
        let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
            .map_err(|e| BaselineError::Malformed(e.to_string()))?;
        if !Baseline::looks_like(&value) {
            return Err(BaselineError::Malformed(format!(
                "expected a JSON object with \"format\": \"{FORMAT}\" (written by `qcheck check \
                 --save-baseline`)"
            )));
        }
        refuse_newer(&value, SCHEMA_VERSION)?;
        serde_json::from_value(value).map_err(|e| BaselineError::Malformed(e.to_string()))
    }

    /// Whether a JSON document is a baseline (has `"format": "qcheck baseline"`), as opposed to
    /// a plan.
    pub fn looks_like(value: &Value) -> bool {
        value.get("format").and_then(Value::as_str) == Some(FORMAT)
    }

    /// How many plans the baseline holds.
    pub fn plan_count(&self) -> usize {
        self.queries.values().map(|q| q.plans.len()).sum()
    }

    /// The file's text: see the module docs for the layout. Ends with a newline.
    pub fn to_json(&self) -> String {
        let value = serde_json::to_value(self).expect("a baseline serializes");
        let mut out = String::new();
        write_value(&mut out, &value, 0, true);
        out.push('\n');
        out
    }
}

/// Refuses a document whose `schema_version` is above `max`: a newer layout is never misread.
fn refuse_newer(value: &Value, max: u32) -> Result<(), BaselineError> {
    let found = value
        .get("schema_version")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if found > u64::from(max) {
        return Err(BaselineError::Newer {
            found: u32::try_from(found).unwrap_or(u32::MAX),
        });
    }
    Ok(())
}

/// A baseline file: one server's baseline, or one per PostgreSQL major version.
#[derive(Debug, Clone, PartialEq)]
pub enum BaselineFile {
    /// `"schema_version": 1`: one server's plans (also compared with other versions' plans: the
    /// upgrade flow).
    One(Box<Baseline>),
    /// `"schema_version": 2`: by server major version.
    PerVersion(BTreeMap<u32, Baseline>),
}

impl BaselineFile {
    /// Reads a baseline file's text, of either layout.
    pub fn parse(text: &str) -> Result<BaselineFile, BaselineError> {
        let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}'))
            .map_err(|e| BaselineError::Malformed(e.to_string()))?;
        let Some(versions) = value
            .get("versions")
            .filter(|_| Baseline::looks_like(&value))
        else {
            return Baseline::parse(text).map(|b| BaselineFile::One(Box::new(b)));
        };
        refuse_newer(&value, VERSIONS_SCHEMA_VERSION)?;
        let malformed = |why: String| BaselineError::Malformed(format!("versions: {why}"));
        let Some(entries) = versions.as_object() else {
            return Err(malformed(
                "expected an object keyed by major version".into(),
            ));
        };
        let mut out = BTreeMap::new();
        for (key, entry) in entries {
            let major: u32 = key.parse().map_err(|_| {
                malformed(format!("key \"{key}\" is not a PostgreSQL major version"))
            })?;
            let mut entry = entry.clone();
            let Some(fields) = entry.as_object_mut() else {
                return Err(malformed(format!("\"{key}\" is not an object")));
            };
            fields.insert("format".into(), FORMAT.into());
            fields.insert("schema_version".into(), SCHEMA_VERSION.into());
            let baseline: Baseline =
                serde_json::from_value(entry).map_err(|e| malformed(format!("\"{key}\": {e}")))?;
            if let Some(server) = baseline.server.as_ref().filter(|s| s.major != major) {
                return Err(malformed(format!(
                    "\"{key}\" holds plans of PostgreSQL {}",
                    server.version
                )));
            }
            out.insert(major, baseline);
        }
        Ok(BaselineFile::PerVersion(out))
    }

    /// The baseline to compare a server of major version `major` with: the one baseline of a
    /// single-version file, else that version's entry (`None` when the file has none).
    pub fn for_major(&self, major: u32) -> Option<&Baseline> {
        match self {
            BaselineFile::One(b) => Some(b.as_ref()),
            BaselineFile::PerVersion(by_major) => by_major.get(&major),
        }
    }

    /// The major versions a several-version file holds, in order (empty for a single-version one).
    pub fn majors(&self) -> Vec<u32> {
        match self {
            BaselineFile::One(_) => Vec::new(),
            BaselineFile::PerVersion(by_major) => by_major.keys().copied().collect(),
        }
    }

    /// The text of a file holding `baselines` by major version (see the module docs). Ends with a
    /// newline.
    pub fn versions_to_json(baselines: &BTreeMap<u32, Baseline>) -> String {
        let versions: serde_json::Map<String, Value> = baselines
            .iter()
            .map(|(major, b)| {
                let mut entry = serde_json::to_value(b).expect("a baseline serializes");
                if let Some(fields) = entry.as_object_mut() {
                    fields.remove("format");
                    fields.remove("schema_version");
                }
                (major.to_string(), entry)
            })
            .collect();
        let value = serde_json::json!({
            "format": FORMAT,
            "schema_version": VERSIONS_SCHEMA_VERSION,
            "versions": versions,
        });
        let mut out = String::new();
        write_value(&mut out, &value, 0, true);
        out.push('\n');
        out
    }
}

/// Keys in the order they are written, wherever they appear (the sections, then what a reader
/// looks at first); keys not listed follow, sorted.
const KEY_ORDER: [&str; 31] = [
    "format",
    "schema_version",
    "versions",
    "dataset",
    "server",
    "queries",
    "latency_ms",
    "profile",
    "scale",
    "seed",
    "strategy",
    "generator_version",
    "profile_hash",
    "digest",
    "version",
    "major",
    "params",
    "plans",
    "relations",
    "nodes",
    "depth",
    "node",
    "role",
    "count",
    "rows",
    "shared_buffers",
    "scans",
    "indexes",
    "partitions",
    "planning",
    "execution",
];

/// Whether a value is written on one line: scalars, arrays of scalars, and (below the top two
/// levels) objects whose values are scalars or arrays of scalars — a plan node, a table, the
/// parameters, a latency.
fn one_line(v: &Value, depth: usize) -> bool {
    let scalar = |v: &Value| !matches!(v, Value::Array(_) | Value::Object(_));
    match v {
        Value::Array(items) => items.iter().all(scalar),
        Value::Object(map) => {
            depth >= 2
                && map.values().all(|v| match v {
                    Value::Array(items) => items.iter().all(scalar),
                    other => scalar(other),
                })
        }
        _ => true,
    }
}

/// Writes `v` at nesting `depth` (two spaces per level); `pretty` is false inside a one-line
/// value.
fn write_value(out: &mut String, v: &Value, depth: usize, pretty: bool) {
    let pretty = pretty && !one_line(v, depth);
    let (sep, indent, close_indent) = if pretty {
        (
            ",\n",
            format!("\n{}", "  ".repeat(depth + 1)),
            format!("\n{}", "  ".repeat(depth)),
        )
    } else {
        (", ", String::new(), String::new())
    };
    match v {
        Value::Array(items) if !items.is_empty() => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                    out.push_str(indent.trim_start_matches('\n'));
                } else {
                    out.push_str(&indent);
                }
                write_value(out, item, depth + 1, pretty);
            }
            out.push_str(&close_indent);
            out.push(']');
        }
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| {
                (
                    KEY_ORDER
                        .iter()
                        .position(|t| t == k)
                        .unwrap_or(KEY_ORDER.len()),
                    *k,
                )
            });
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                    out.push_str(indent.trim_start_matches('\n'));
                } else {
                    out.push_str(&indent);
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                write_value(out, &map[key], depth + 1, pretty);
            }
            out.push_str(&close_indent);
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}
