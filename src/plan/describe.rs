//! Names for nodes: the one-line human description (modelled on psql's text format, so people
//! recognise it), the kebab-case kinds expectations use (`no hash-join`) and the [`ScanKind`] of a
//! node that reads a relation.
//!
//! Dependencies point one way: `facts` classifies nodes with this module; this module reads only
//! the `model` and knows nothing of facts.

use serde::Serialize;

use super::model::PlanNode;

/// How a relation is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScanKind {
    /// Seq Scan.
    Seq,
    /// Index Scan.
    Index,
    /// Index Only Scan.
    IndexOnly,
    /// Bitmap Heap Scan (with its Bitmap Index Scans).
    Bitmap,
    /// Tid Scan or Tid Range Scan.
    Tid,
    /// Any other node that names a relation (Sample Scan, Foreign Scan, ...).
    Other,
}

impl ScanKind {
    /// The expectation keyword for this scan kind (`index-only-scan`).
    pub fn keyword(self) -> &'static str {
        match self {
            ScanKind::Seq => "seq-scan",
            ScanKind::Index => "index-scan",
            ScanKind::IndexOnly => "index-only-scan",
            ScanKind::Bitmap => "bitmap-scan",
            ScanKind::Tid => "tid-scan",
            ScanKind::Other => "other-scan",
        }
    }
}

/// The node's name as PostgreSQL's text format prints it, without the id:
/// `Index Only Scan using idx on rel`, `HashAggregate`, `Hash Left Join`, `Insert on rel`.
pub fn node_label(node: &PlanNode) -> String {
    let nt = node.node_type.as_str();
    let mut name = match nt {
        "" => "(unknown node)".to_owned(),
        "Aggregate" => match node.strategy.as_deref() {
            Some("Hashed") => "HashAggregate".to_owned(),
            Some("Sorted") => "GroupAggregate".to_owned(),
            Some("Mixed") => "MixedAggregate".to_owned(),
            _ => "Aggregate".to_owned(),
        },
        "SetOp" => {
            let head = if node.strategy.as_deref() == Some("Hashed") {
                "HashSetOp"
            } else {
                "SetOp"
            };
            match node
                .extra
                .get("Command")
                .and_then(serde_json::Value::as_str)
            {
                Some(cmd) => format!("{head} {cmd}"),
                None => head.to_owned(),
            }
        }
        "Foreign Scan" => match node.operation.as_deref() {
            Some(op @ ("Insert" | "Update" | "Delete")) => format!("Foreign {op}"),
            _ => nt.to_owned(),
        },
        "ModifyTable" => node.operation.clone().unwrap_or_else(|| nt.to_owned()),
        "Custom Scan" => match &node.custom_plan_provider {
            Some(p) => format!("Custom Scan ({p})"),
            None => nt.to_owned(),
        },
        "Nested Loop" | "Hash Join" | "Merge Join" => join_label(nt, node.join_type.as_deref()),
        _ => nt.to_owned(),
    };
    if node.node_type == "Aggregate" {
        match node.partial_mode.as_deref() {
            Some("Partial") => name = format!("Partial {name}"),
            Some("Finalize") => name = format!("Finalize {name}"),
            _ => {}
        }
    }
    // explain.c prints "Parallel " then "Async " before the name.
    if node.extra.get("Async Capable") == Some(&serde_json::Value::Bool(true)) {
        name = format!("Async {name}");
    }
    if node.parallel_aware == Some(true) {
        name = format!("Parallel {name}");
    }
    if matches!(nt, "Index Scan" | "Index Only Scan")
        && node.scan_direction.as_deref() == Some("Backward")
    {
        name.push_str(" Backward");
    }
    if let Some(idx) = &node.index_name {
        if nt == "Bitmap Index Scan" {
            name.push_str(&format!(" on {idx}"));
            return name;
        }
        name.push_str(&format!(" using {idx}"));
    }
    let target = node
        .relation_name
        .as_deref()
        .or(node.cte_name.as_deref())
        .or(node.function_name.as_deref())
        .or(if nt == "Subquery Scan" {
            node.alias.as_deref()
        } else {
            None
        });
    if let Some(t) = target {
        name.push_str(&format!(" on {t}"));
    }
    name
}

/// Every "Node Type" explain.c prints, PostgreSQL 9.6 to 18 (its `sname`s). "Result Cache" is
/// PG14's name for Memoize. Anything else came from another tool (a text-to-JSON converter, a
/// hand edit) and may hide a node kind the checks look for.
pub const KNOWN_NODE_TYPES: &[&str] = &[
    "Result",
    "ProjectSet",
    "ModifyTable",
    "Append",
    "Merge Append",
    "Recursive Union",
    "BitmapAnd",
    "BitmapOr",
    "Nested Loop",
    "Merge Join",
    "Hash Join",
    "Seq Scan",
    "Sample Scan",
    "Gather",
    "Gather Merge",
    "Index Scan",
    "Index Only Scan",
    "Bitmap Index Scan",
    "Bitmap Heap Scan",
    "Tid Scan",
    "Tid Range Scan",
    "Subquery Scan",
    "Function Scan",
    "Table Function Scan",
    "Values Scan",
    "CTE Scan",
    "Named Tuplestore Scan",
    "WorkTable Scan",
    "Foreign Scan",
    "Custom Scan",
    "Materialize",
    "Memoize",
    "Result Cache",
    "Sort",
    "Incremental Sort",
    "Group",
    "Aggregate",
    "WindowAgg",
    "Unique",
    "SetOp",
    "LockRows",
    "Limit",
    "Hash",
];

/// Whether PostgreSQL (9.6 to 18) prints `node_type` as a "Node Type"; see [`KNOWN_NODE_TYPES`].
/// An empty node type (the key was missing) is not one.
pub fn is_known_node_type(node_type: &str) -> bool {
    KNOWN_NODE_TYPES.contains(&node_type)
}

/// The node's "Sort Key" or, failing that, "Group Key", as `(a, b)`; `None` when it has neither.
/// Grouping sets print "Group Keys" objects and are left out.
pub fn node_keys(node: &PlanNode) -> Option<String> {
    ["Sort Key", "Group Key"].iter().find_map(|k| {
        let keys: Vec<&str> = node
            .extra
            .get(*k)?
            .as_array()?
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect();
        (!keys.is_empty()).then(|| format!("({})", keys.join(", ")))
    })
}

/// "Hash Join" + "Left" → "Hash Left Join"; "Nested Loop" + "Semi" → "Nested Loop Semi Join".
fn join_label(node_type: &str, join_type: Option<&str>) -> String {
    match join_type {
        None | Some("Inner") => node_type.to_owned(),
        Some(jt) => match node_type {
            "Nested Loop" => format!("Nested Loop {jt} Join"),
            other => {
                let head = other.trim_end_matches(" Join");
                format!("{head} {jt} Join")
            }
        },
    }
}

/// The description used in verdicts and tips: the label plus the preorder id.
pub fn describe_node(node: &PlanNode, id: usize) -> String {
    format!("{} (#{id})", node_label(node))
}

/// kebab-case of a PostgreSQL node type: "Seq Scan" → `seq-scan`, "ModifyTable" →
/// `modify-table`, "CTE Scan" → `cte-scan`, "BitmapAnd" → `bitmap-and`.
pub(crate) fn kebab(node_type: &str) -> String {
    let mut out = String::with_capacity(node_type.len() + 4);
    let mut prev: Option<char> = None;
    for c in node_type.chars() {
        if c == ' ' || c == '_' || c == '-' {
            if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        } else {
            if c.is_uppercase() && prev.is_some_and(char::is_lowercase) && !out.ends_with('-') {
                out.push('-');
            }
            out.extend(c.to_lowercase());
        }
        prev = Some(c);
    }
    out
}

/// Every kind name a node answers to in `no KIND` expectations: its kebab node type, plus
/// `hash-aggregate` / `group-aggregate` / `mixed-aggregate` for Aggregate strategies,
/// `bitmap-scan` for Bitmap Heap Scan, and `parallel-…` for parallel-aware nodes.
pub fn node_kinds(node: &PlanNode) -> Vec<String> {
    if node.node_type.is_empty() {
        return Vec::new();
    }
    let base = kebab(&node.node_type);
    let mut kinds = vec![base.clone()];
    match (node.node_type.as_str(), node.strategy.as_deref()) {
        ("Aggregate", Some("Hashed")) => kinds.push("hash-aggregate".into()),
        ("Aggregate", Some("Sorted")) => kinds.push("group-aggregate".into()),
        ("Aggregate", Some("Mixed")) => kinds.push("mixed-aggregate".into()),
        ("Bitmap Heap Scan", _) => kinds.push("bitmap-scan".into()),
        _ => {}
    }
    if node.parallel_aware == Some(true) {
        kinds.push(format!("parallel-{base}"));
    }
    kinds
}

/// The scan kind of a node that reads a relation, or `None` for nodes that do not scan one
/// (joins, sorts, ModifyTable — which names its target relation but does not scan it).
pub fn scan_kind(node: &PlanNode) -> Option<ScanKind> {
    let kind = match node.node_type.as_str() {
        "Seq Scan" => ScanKind::Seq,
        "Index Scan" => ScanKind::Index,
        "Index Only Scan" => ScanKind::IndexOnly,
        "Bitmap Heap Scan" => ScanKind::Bitmap,
        "Tid Scan" | "Tid Range Scan" => ScanKind::Tid,
        "ModifyTable" => return None,
        _ if node.relation_name.is_some() => ScanKind::Other,
        _ => return None,
    };
    node.relation_name.as_ref().map(|_| kind)
}
