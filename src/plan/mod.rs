//! The plan model: a lossless, lenient reader of `EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON)`
//! output of PostgreSQL 13-18, tree walks with stable node ids, and the derived [`Facts`] that
//! expectations, tips and reports are computed from.
//!
//! Why it exists: qcheck's verdicts are only as good as its reading of a plan, and plans come from
//! many places (the embedded server, a user's server of another major version, files passed to
//! `qcheck explain --plan`, Citus coordinators). So the reader never panics and never rejects a
//! plan because of a key it does not know: see [`model`] for how unknown and oddly-typed keys are
//! kept in `extra`.
//!
//! Node ids are preorder positions (0 = root, children in "Plans" order, depth first). They are
//! stable for a given document, so verdicts, tips and the tree renderer can point at nodes.
//!
//! Partitions: facts are keyed by the *parent* table when a scanned relation is a partition. The
//! database runner supplies the catalog's partition → parent map ([`PartitionMap::from_catalog`],
//! which may also map partition indexes to their parent index). Offline plans have no catalog, so
//! [`PartitionMap::heuristic`] treats a relation `R_suffix` as a partition of `R` when `R` is a
//! relation the expectations name and the suffix contains a digit: `appointment_y2026m03` and
//! `appointment_p1` map to `appointment`, `appointment_audit` does not.

#[cfg(test)]
mod corpus_tests;
mod describe;
mod estimate;
mod facts;
#[cfg(test)]
mod facts_tests;
#[cfg(test)]
mod fuzz_tests;
mod index;
#[cfg(test)]
mod index_tests;
pub mod input;
#[cfg(test)]
mod input_tests;
mod lenient;
mod mode;
pub mod model;
mod partition;
mod shard;
mod signature;
#[cfg(test)]
pub(crate) mod signature_tests;
#[cfg(test)]
pub(crate) mod surface_tests;
#[cfg(test)]
pub(crate) mod tests;

use serde_json::Value;

pub use describe::{
    KNOWN_NODE_TYPES, ScanKind, describe_node, is_known_node_type, node_keys, node_kinds,
    node_label, scan_kind,
};
pub use estimate::Estimate;
pub(crate) use facts::shard_base;
pub use facts::{
    Facts, ForeignScanFacts, JitFacts, MemoizeFact, NodeValue, RelationFacts, ScanFact, Setting,
    Spill, SpillKind, TaskFacts, WalFacts, WorkersFact,
};
pub use index::PlanIndex;
pub use input::{Form, MAX_PLAN_FILE_BYTES};
pub use mode::Mode;
pub use model::{Buffers, Children, Jit, Plan, PlanNode, Planning, Trigger, Worker};
pub use partition::{CATALOG_SQL, PartitionMap};
pub(crate) use shard::{shard_id, shard_name};
pub use signature::{RelationSig, SigNode, Signature, fold_name};

/// Why a document could not be read as an EXPLAIN plan at all.
///
/// Only the outer shape can fail; anything inside "Plan" is read leniently.
#[derive(Debug, thiserror::Error)]
pub enum PlanParseError {
    /// The text is not JSON.
    #[error("not valid JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// serde_json's description.
        message: String,
    },
    /// The text was recognised as a form (psql output, an auto_explain log, text-format
    /// EXPLAIN, ...) that holds no readable JSON plan; see [`input`].
    #[error("{form}: {problem}")]
    Input {
        /// What the text was recognised as, e.g. "psql output".
        form: String,
        /// What is wrong, and what to do instead.
        problem: String,
    },
    /// An error in one document found inside a pasted form (psql output, a log record).
    #[error("{context}: {source}")]
    Within {
        /// Where the document was found, e.g. "auto_explain log, plan 3 of 11".
        context: String,
        /// The document's own error.
        source: Box<PlanParseError>,
    },
    /// Neither an object nor a one-element array holding one.
    #[error(
        "expected EXPLAIN (FORMAT JSON) output: a JSON array holding one object with a \"Plan\" key, found {found}"
    )]
    NotAPlan {
        /// What the document holds instead, e.g. "an empty array".
        found: String,
    },
    /// An array of several plans (one per statement).
    #[error(
        "the input holds {count} statements' plans where one was expected (`qcheck explain --plan` takes `--statement N`)"
    )]
    MultipleStatements {
        /// How many plans the array holds.
        count: usize,
    },
    /// The object lacks the "Plan" key.
    #[error(
        "the object has no \"Plan\" key (its keys: {keys}); is this EXPLAIN (FORMAT JSON) output?"
    )]
    MissingPlan {
        /// The object's keys, comma-separated ("none" when empty).
        keys: String,
    },
    /// "Plan" holds something other than an object.
    #[error("\"Plan\" must be a JSON object, found {found}")]
    PlanNotObject {
        /// The JSON type found, e.g. "an array".
        found: String,
    },
}

/// Short human name of a JSON value's type, for error messages.
fn json_type(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(_) => "a number".into(),
        Value::String(_) => "a string".into(),
        Value::Array(a) if a.is_empty() => "an empty array".into(),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Parses a pasted EXPLAIN (FORMAT JSON) plan that must hold exactly one statement; see
/// [`parse_plans`] for the forms accepted.
pub fn parse_plan(text: &str) -> Result<Plan, PlanParseError> {
    let mut plans = parse_plans(text)?;
    if plans.len() == 1 {
        Ok(plans.remove(0))
    } else {
        Err(PlanParseError::MultipleStatements { count: plans.len() })
    }
}

/// Parses every statement's plan in a pasted text: EXPLAIN (FORMAT JSON) output as is, in psql's
/// aligned, unaligned or expanded output, or in auto_explain log records (see [`input`] for the
/// forms). An array of several plans (a rule's `DO ALSO`) and a log of several records give
/// several plans, in order. Never empty when `Ok`.
pub fn parse_plans(text: &str) -> Result<Vec<Plan>, PlanParseError> {
    read_plans(text).map(|(_, plans)| plans)
}

/// [`parse_plans`], also returning the form the plans were found in.
pub fn read_plans(text: &str) -> Result<(Form, Vec<Plan>), PlanParseError> {
    let extracted = input::extract(text)?;
    let form = extracted.form;
    let count = extracted.documents.len();
    let mut plans = Vec::new();
    for (i, doc) in extracted.documents.iter().enumerate() {
        let wrap = |e: PlanParseError| {
            if form == Form::Json {
                return e;
            }
            let context = if count > 1 {
                format!("{}, plan {} of {count}", form.describe(), i + 1)
            } else {
                form.describe().to_owned()
            };
            PlanParseError::Within {
                context,
                source: Box::new(e),
            }
        };
        let value = parse_json(doc).map_err(|e| match input::diagnose(doc) {
            Some(problem) => wrap(PlanParseError::Input {
                form: "not JSON".into(),
                problem: problem.into(),
            }),
            None => wrap(e),
        })?;
        plans.extend(plans_from_value(value).map_err(wrap)?);
    }
    Ok((form, plans))
}

/// Parses JSON of any nesting depth: serde_json's recursion limit is off and [`serde_stacker`]
/// moves the recursion onto heap-allocated stack segments when the thread's stack runs low.
fn parse_json(text: &str) -> Result<Value, PlanParseError> {
    use serde::Deserialize as _;
    let to_error = |e: serde_json::Error| PlanParseError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    let mut de = serde_json::Deserializer::from_str(text);
    de.disable_recursion_limit();
    let value = Value::deserialize(serde_stacker::Deserializer::new(&mut de)).map_err(to_error)?;
    match de.end() {
        Ok(()) => Ok(value),
        Err(e) => {
            dispose(value);
            Err(to_error(e))
        }
    }
}

/// Drops a JSON value of any depth without recursion (serde_json's own drop recurses).
fn dispose(value: Value) {
    let mut pending = vec![value];
    while let Some(v) = pending.pop() {
        match v {
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => pending.extend(map.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}

/// Reads an already-parsed JSON value holding one plan (e.g. a `json` column fetched by the
/// runner).
pub fn plan_from_value(value: Value) -> Result<Plan, PlanParseError> {
    let mut plans = plans_from_value(value)?;
    if plans.len() == 1 {
        Ok(plans.remove(0))
    } else {
        Err(PlanParseError::MultipleStatements { count: plans.len() })
    }
}

/// Reads a JSON value holding one plan or an array of several statements' plans. Accepts the
/// array PostgreSQL prints (`[ { "Plan": ... } ]`), the bare object, and arrays nested in
/// single-element arrays (as Citus embeds remote plans).
pub fn plans_from_value(value: Value) -> Result<Vec<Plan>, PlanParseError> {
    let mut value = value;
    // Unwrap single-element arrays; bounded so a pathological input cannot loop long.
    for _ in 0..8 {
        match value {
            Value::Array(mut items) => match items.len() {
                0 => {
                    return Err(PlanParseError::NotAPlan {
                        found: "an empty array".into(),
                    });
                }
                1 => value = items.remove(0),
                _ => {
                    let mut plans = Vec::with_capacity(items.len());
                    let mut items = items.into_iter();
                    for item in items.by_ref() {
                        match plan_from_object(item) {
                            Ok(plan) => plans.push(plan),
                            Err(e) => {
                                items.for_each(dispose);
                                return Err(e);
                            }
                        }
                    }
                    return Ok(plans);
                }
            },
            _ => break,
        }
    }
    plan_from_object(value).map(|p| vec![p])
}

/// One statement's object (`{ "Plan": ..., "Planning Time": ... }`).
fn plan_from_object(value: Value) -> Result<Plan, PlanParseError> {
    let Value::Object(map) = value else {
        let found = json_type(&value);
        dispose(value);
        return Err(PlanParseError::NotAPlan { found });
    };
    let result = match map.get("Plan") {
        None => Err(PlanParseError::MissingPlan {
            keys: if map.is_empty() {
                "none".into()
            } else {
                map.keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }),
        Some(Value::Object(_)) => return Ok(Plan::from_map(map)),
        Some(other) => Err(PlanParseError::PlanNotObject {
            found: json_type(other),
        }),
    };
    dispose(Value::Object(map));
    result
}

/// A node together with its position in the tree.
#[derive(Debug, Clone, Copy)]
pub struct NodeRef<'a> {
    /// Preorder id, 0 = root.
    pub id: usize,
    /// 0 for the root.
    pub depth: usize,
    /// Preorder id of the parent; `None` for the root.
    pub parent: Option<usize>,
    /// The node itself.
    pub node: &'a PlanNode,
}

impl Plan {
    /// All nodes in preorder (ids are indexes into this vector).
    pub fn nodes(&self) -> Vec<NodeRef<'_>> {
        let mut out = Vec::new();
        // Explicit stack: no recursion depth concerns; children pushed in reverse to keep order.
        let mut stack = vec![(&self.root, 0usize, None)];
        while let Some((node, depth, parent)) = stack.pop() {
            let id = out.len();
            out.push(NodeRef {
                id,
                depth,
                parent,
                node,
            });
            for child in node.children().rev() {
                stack.push((child, depth + 1, Some(id)));
            }
        }
        out
    }

    /// Every node by id, with children links, in one walk: the O(1) lookups analysis stages
    /// share (see [`PlanIndex`]).
    pub fn index(&self) -> PlanIndex<'_> {
        PlanIndex::new(self)
    }

    /// The node with preorder id `id`. The first call records every node's position (one walk);
    /// later calls follow it from the root, O(depth), without re-walking the tree. For many
    /// lookups at any depth, build a [`PlanIndex`] (O(1) each).
    pub fn node(&self, id: usize) -> Option<&PlanNode> {
        self.node_cache.node(&self.root, id)
    }

    /// Forgets the node positions [`Plan::node`] recorded; call it after reshaping the tree
    /// (adding, removing or reordering nodes under `root`) once nodes were looked up.
    pub fn forget_node_cache(&mut self) {
        self.node_cache.clear();
    }

    /// Whether the plan carries EXPLAIN ANALYZE data ("Actual Loops" on any node).
    pub fn is_analyzed(&self) -> bool {
        self.nodes().iter().any(|r| r.node.has_actuals())
    }

    /// Human description of node `id`, e.g.
    /// `Index Only Scan using appointment_provider_day_idx on appointment_y2026m03 (#3)`.
    pub fn describe(&self, id: usize) -> String {
        match self.node(id) {
            Some(n) => describe_node(n, id),
            None => format!("node #{id} (not in this plan)"),
        }
    }
}
