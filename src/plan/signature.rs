//! Plan signatures: the shape of a plan with everything that changes between runs of the same plan
//! left out, so that two runs, two index strategies or two PostgreSQL versions can be compared
//! node by node (`qcheck check --baseline`, `qcheck diff`).
//!
//! Why it exists: expectations say what a plan must be; a signature says what it *was*, so a
//! change nobody wrote an expectation for — a join order that flipped, a new Sort, another index —
//! is caught (RegreSQL's plan signatures do the same for CI).
//!
//! What is in the shape, per node in preorder: the node as PostgreSQL's text format names it
//! (node type, join type, aggregate strategy, scan direction, parallel/async prefix), the table it
//! reads and the index it uses — partitions folded to their table and partition indexes to their
//! parent index — its role when it is an InitPlan or SubPlan, and `(disk)` on a Sort that spilled.
//! Children keep their order, so a join whose outer and inner sides swap changes the shape.
//! Identical consecutive children of an Append or Merge Append (one scan per partition) collapse
//! into one node with a `count`. Per table: the scan kinds, indexes and how many partitions were
//! actually scanned.
//!
//! What is measured, not shape: each node's rows (over all loops) and shared buffers (hit + read,
//! inclusive of its children, as EXPLAIN prints them). Costs, times, estimates, worker counts and
//! conditions are left out: they move between runs, or between versions without the plan moving.
//!
//! Folding: with a catalog map ([`PartitionMap::is_catalog`]) partitions and their indexes map to
//! their parents exactly. Without one (a plan file from elsewhere), partitions are recognised by
//! name: trailing `_`-separated parts holding a digit (or `default`) are dropped
//! (`appointment_y2026m03` → `appointment`, `lineitem_360000` → `lineitem`). Either way a
//! partition's index that has no parent index (a per-partition constraint's) or that the map
//! does not know is renamed after the table when it is named after the partition
//! (`appointment_y2026m03_no_overlap` → `appointment_no_overlap`). Both sides of a comparison
//! fold the same way, so a plan that moved to another month's partition keeps its signature.
//!
//! Pure: a [`Plan`] in, plain data out, no recursion (plans may be arbitrarily deep).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize, Serializer};

use super::describe::{node_label, scan_kind};
use super::model::{Plan, PlanNode};
use super::partition::{PartitionMap, bare};

/// How far up a Bitmap Index Scan looks for its heap scan (BitmapAnd/BitmapOr nest, rarely
/// deeply); bounded so a pathological plan stays linear.
const MAX_BITMAP_LEVELS: usize = 64;

/// The signature of one plan: its shape, with rows and buffers per node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// Per table (partitions folded): scan kinds, indexes, partitions scanned.
    pub relations: BTreeMap<String, RelationSig>,
    /// The nodes in preorder (root first, children in plan order), each with its depth.
    pub nodes: Vec<SigNode>,
}

/// One node of a signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SigNode {
    /// 0 for the root.
    pub depth: usize,
    /// The node as psql names it, with folded names: `Index Only Scan using
    /// appointment_provider_day_idx on appointment`, `Hash Left Join`, `HashAggregate`.
    pub node: String,
    /// `InitPlan`, `SubPlan` or `Remote` (a Citus task's plan); absent for ordinary children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// How many identical consecutive children of an Append this node stands for (one per
    /// partition scanned the same way); 1 is not written.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u64,
    /// Actual rows over all loops (summed over collapsed nodes); absent without ANALYZE.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole_number"
    )]
    pub rows: Option<f64>,
    /// Shared buffers hit + read, inclusive of children (summed over collapsed nodes); absent
    /// without BUFFERS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_buffers: Option<u64>,
}

/// What a plan does with one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelationSig {
    /// Scan kinds (`index-only-scan`, `seq-scan`, ...), sorted.
    pub scans: Vec<String>,
    /// Indexes used (parent indexes), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<String>,
    /// Partitions scanned (executed; in the plan without ANALYZE data), when the scans read
    /// partitions of the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<u64>,
}

fn one() -> u64 {
    1
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_one(n: &u64) -> bool {
    *n == 1
}

/// Rows as an integer when whole (`13`, not `13.0`), so a baseline reads like EXPLAIN.
#[allow(
    clippy::ref_option,
    reason = "serde's serialize_with passes a reference to the field"
)]
fn whole_number<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "only whole, non-negative values below 2^53 take this branch"
        )]
        Some(x) if x.fract() == 0.0 && *x >= 0.0 && *x < 9.0e15 => s.serialize_u64(*x as u64),
        Some(x) => s.serialize_f64(*x),
        None => s.serialize_none(),
    }
}

impl SigNode {
    /// The part of a node that must match for two nodes to be the same node of a plan: depth,
    /// name and role (`count` is compared separately, so a change of it reads as a change of
    /// this node rather than a different one).
    pub fn key(&self) -> (usize, &str, Option<&str>) {
        (self.depth, self.node.as_str(), self.role.as_deref())
    }
}

impl Signature {
    /// The signature of `plan`; `partitions` folds partitions (see the module docs).
    pub fn compute(plan: &Plan, partitions: &PartitionMap) -> Signature {
        let refs = plan.nodes();
        let n = refs.len();
        let analyzed = refs.iter().any(|r| r.node.has_actuals());
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        // Nodes of plans that ran elsewhere (Citus tasks): shard names fold by name.
        let mut remote = vec![false; n];
        for r in &refs {
            if let Some(p) = r.parent {
                children[p].push(r.id);
            }
            remote[r.id] = r.node.parent_relationship.as_deref() == Some("Remote")
                || r.parent.is_some_and(|p| remote[p]);
        }
        let fold = |id: usize, relation: &str| -> String {
            if partitions.is_catalog() && !remote[id] {
                partitions.root_of(relation)
            } else {
                fold_name(bare(relation)).to_owned()
            }
        };
        // The catalog's parent index; else (no map, or an index the map does not know, such
        // as a per-partition constraint's) a partition's index named after the partition is
        // renamed after the table.
        let fold_index = |id: usize, index: &str, relation: Option<&str>| -> String {
            let catalog = partitions.is_catalog() && !remote[id];
            if catalog {
                let parent = partitions.parent_index(index);
                if parent != bare(index) {
                    return parent;
                }
            }
            let index = bare(index);
            if let Some(rel) = relation.map(bare) {
                let table = fold(id, rel);
                if table != rel
                    && let Some(rest) = index.strip_prefix(rel).and_then(|r| r.strip_prefix('_'))
                {
                    return format!("{table}_{rest}");
                }
            }
            if catalog {
                index.to_owned()
            } else {
                fold_name(index).to_owned()
            }
        };

        let mut nodes: Vec<SigNode> = Vec::with_capacity(n);
        let mut relations: BTreeMap<String, RelationSig> = BTreeMap::new();
        let mut scanned: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in &refs {
            let pn = r.node;
            let table = pn.relation_name.as_deref().map(|rel| fold(r.id, rel));
            let index = pn.index_name.as_deref().map(|i| {
                // A Bitmap Index Scan names no relation: its heap scan (the nearest ancestor
                // that does, above any BitmapAnd/BitmapOr) tells which partition it indexes.
                let relation = pn.relation_name.as_deref().or_else(|| {
                    let mut at = r.parent;
                    for _ in 0..MAX_BITMAP_LEVELS {
                        let p = at?;
                        if let Some(rel) = refs[p].node.relation_name.as_deref() {
                            return Some(rel);
                        }
                        at = refs[p].parent;
                    }
                    None
                });
                fold_index(r.id, i, relation)
            });
            nodes.push(SigNode {
                depth: r.depth,
                node: shape_label(pn, table.as_deref(), index.as_deref()),
                role: pn
                    .parent_relationship
                    .as_deref()
                    .filter(|role| matches!(*role, "InitPlan" | "SubPlan" | "Remote"))
                    .map(str::to_owned),
                count: 1,
                rows: pn.total_actual_rows(),
                shared_buffers: pn.buffers.is_present().then(|| pn.buffers.shared_total()),
            });
            if let (Some(kind), Some(table)) = (scan_kind(pn), table) {
                let entry = relations.entry(table.clone()).or_default();
                entry.scans.push(kind.keyword().to_owned());
                if pn.node_type == "Bitmap Heap Scan" {
                    let mut stack = children[r.id].clone();
                    while let Some(c) = stack.pop() {
                        let cn = refs[c].node;
                        match cn.node_type.as_str() {
                            "Bitmap Index Scan" => entry.indexes.extend(
                                cn.index_name
                                    .as_deref()
                                    .map(|i| fold_index(c, i, pn.relation_name.as_deref())),
                            ),
                            "BitmapAnd" | "BitmapOr" => stack.extend(children[c].iter().copied()),
                            _ => {}
                        }
                    }
                } else {
                    entry.indexes.extend(index);
                }
                let relation = bare(pn.relation_name.as_deref().unwrap_or_default());
                let executed = !analyzed || pn.actual_loops.unwrap_or(0) > 0;
                let set = scanned.entry(table.clone()).or_default();
                if relation != table && executed {
                    set.insert(relation.to_owned());
                }
                if relation != table {
                    // Partitioned: make sure the count is written even when none ran.
                    entry.partitions.get_or_insert(0);
                }
            }
        }
        for (table, rel) in &mut relations {
            rel.scans.sort();
            rel.scans.dedup();
            rel.indexes.sort();
            rel.indexes.dedup();
            if rel.partitions.is_some() {
                rel.partitions = Some(scanned.get(table).map_or(0, |s| s.len() as u64));
            }
        }
        collapse_partitions(&refs, &children, &mut nodes);
        Signature { relations, nodes }
    }

    /// Whether two signatures have the same shape (nodes, counts, tables), whatever their rows
    /// and buffers.
    pub fn same_shape(&self, other: &Signature) -> bool {
        self.relations == other.relations
            && self.nodes.len() == other.nodes.len()
            && self
                .nodes
                .iter()
                .zip(&other.nodes)
                .all(|(a, b)| a.key() == b.key() && a.count == b.count)
    }

    /// Rows the plan returned (the root's); `None` without ANALYZE.
    pub fn rows(&self) -> Option<f64> {
        self.nodes.first().and_then(|n| n.rows)
    }

    /// Shared buffers of the whole plan (the root's); `None` without BUFFERS.
    pub fn shared_buffers(&self) -> Option<u64> {
        self.nodes.first().and_then(|n| n.shared_buffers)
    }
}

/// A relation or index name without the trailing `_`-separated parts that hold a digit or are
/// `default` (at least the first part stays): how partitions and shards are recognised without
/// a catalog.
pub fn fold_name(name: &str) -> &str {
    let mut end = name.len();
    while let Some(i) = name[..end].rfind('_') {
        let part = &name[i + 1..end];
        if i > 0 && (part.bytes().any(|b| b.is_ascii_digit()) || part == "default") {
            end = i;
        } else {
            break;
        }
    }
    &name[..end]
}

/// The node's label with the folded table and index, and `(disk)` on a Sort that spilled.
fn shape_label(n: &PlanNode, table: Option<&str>, index: Option<&str>) -> String {
    let mut extra = serde_json::Map::new();
    for key in ["Command", "Async Capable"] {
        if let Some(v) = n.extra.get(key) {
            extra.insert(key.to_owned(), v.clone());
        }
    }
    let shallow = PlanNode {
        node_type: n.node_type.clone(),
        relation_name: table.map(str::to_owned),
        index_name: index.map(str::to_owned),
        scan_direction: n.scan_direction.clone(),
        cte_name: n.cte_name.clone(),
        function_name: n.function_name.clone(),
        alias: (n.node_type == "Subquery Scan")
            .then(|| n.alias.clone())
            .flatten(),
        custom_plan_provider: n.custom_plan_provider.clone(),
        operation: n.operation.clone(),
        strategy: n.strategy.clone(),
        partial_mode: n.partial_mode.clone(),
        join_type: n.join_type.clone(),
        parallel_aware: n.parallel_aware,
        extra,
        ..PlanNode::default()
    };
    let mut label = node_label(&shallow);
    let disk = n.sort_space_type.as_deref() == Some("Disk")
        || n.sort_method
            .as_deref()
            .is_some_and(|m| m.starts_with("external"));
    if disk && matches!(n.node_type.as_str(), "Sort" | "Incremental Sort") {
        label.push_str(" (disk)");
    }
    label
}

/// Collapses identical consecutive children of every Append / Merge Append into the first, with
/// `count` and summed rows and buffers. Deepest Appends first, so nested ones compare collapsed.
fn collapse_partitions(
    refs: &[super::NodeRef<'_>],
    children: &[Vec<usize>],
    nodes: &mut Vec<SigNode>,
) {
    let n = nodes.len();
    // Subtree of node i: ids i..end[i] (preorder).
    let mut end = vec![n; n];
    let mut stack: Vec<usize> = Vec::new();
    for i in 0..n {
        while let Some(&top) = stack.last() {
            if refs[top].depth >= refs[i].depth {
                end[top] = i;
                stack.pop();
            } else {
                break;
            }
        }
        stack.push(i);
    }
    let mut keep = vec![true; n];
    for p in (0..n).rev() {
        if !matches!(refs[p].node.node_type.as_str(), "Append" | "Merge Append") {
            continue;
        }
        let mut run: Option<usize> = None;
        for &c in &children[p] {
            let same = run.is_some_and(|r| {
                let a = (r..end[r]).filter(|&i| keep[i]);
                let b = (c..end[c]).filter(|&i| keep[i]);
                // The run's root counts the children merged so far: compare below it.
                a.map(|i| (nodes[i].key(), if i == r { 1 } else { nodes[i].count }))
                    .eq(b.map(|i| (nodes[i].key(), nodes[i].count)))
            });
            match run {
                Some(r) if same => {
                    let into: Vec<usize> = (r..end[r]).filter(|&i| keep[i]).collect();
                    let from: Vec<usize> = (c..end[c]).filter(|&i| keep[i]).collect();
                    for (&i, &j) in into.iter().zip(&from) {
                        let (a, b) = (nodes[i].rows, nodes[j].rows);
                        nodes[i].rows = add(a, b);
                        let (a, b) = (nodes[i].shared_buffers, nodes[j].shared_buffers);
                        nodes[i].shared_buffers = match (a, b) {
                            (Some(a), Some(b)) => Some(a.saturating_add(b)),
                            (a, b) => a.or(b),
                        };
                    }
                    nodes[r].count = nodes[r].count.saturating_add(nodes[c].count);
                    for k in &mut keep[c..end[c]] {
                        *k = false;
                    }
                }
                _ => run = Some(c),
            }
        }
    }
    let mut i = 0;
    nodes.retain(|_| {
        i += 1;
        keep[i - 1]
    });
}

fn add(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    }
}
