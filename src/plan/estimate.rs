//! Row estimates against reality, judged only as far as the plan proves them.
//!
//! The q-error of a node is `max(est/actual, actual/est)` on totals over loops (estimated rows per
//! loop × loops against actual rows per loop × loops), each side floored at 1 row, so an estimate of
//! 1 row for 0 actual rows (the planner never estimates fewer than 1) counts as exact. What the plan
//! proves about the actual total is an interval, not a number:
//!
//! - **Rounding.** `Actual Rows` is the per-loop average. PostgreSQL 17 and older print it rounded
//!   to an integer, so `rows=0 loops=100000` means anywhere from 0 to 50,000 rows in all; PostgreSQL
//!   18 prints two decimals, still ±0.005 per loop (`0.08` over 100,000 loops: 7,500 to 8,500).
//!   With one loop the count is exact on every version. A plan is read as
//!   PostgreSQL 18 output when a node carries the `Disabled` key (18 prints it on every node) or a
//!   fractional row count.
//! - **Parents.** The inner side of an inner Nested Loop without a Join Filter produced at least as
//!   many rows as the join returned, which narrows the interval from below.
//!
//! The q-error claimed is the smallest one consistent with the interval (`q_error`), and the largest
//! (`q_error_max`) says how bad it could be; an expectation passes only when the largest holds,
//! fails only when the smallest does not, and is undecided in between.
//!
//! Nodes are left out, with the reason in `why`, when their count is not a row count (BitmapAnd and
//! BitmapOr print 0; a Bitmap Index Scan feeding an all-lossy bitmap, as BRIN does, counts pages ×
//! 10) or when they may stop early, so that a full-run estimate is not comparable with a cut-short
//! count: below a Limit; either side of a Merge Join; the inner side of a semi or anti join or of an
//! `Inner Unique` join (it stops at the first match); the outer side of a Hash Join whose hash table
//! came out empty (it reads one outer row and stops); below a WindowAgg with a `Run Condition` (it
//! stops pulling once the condition fails); a CTE that no CTE Scan read to its end (it is evaluated
//! only as far as its scans pull it). An early stop reaches down to the next node that reads all its
//! input (Sort, Hash, a hashed or plain Aggregate). A Citus Custom Scan and the coordinator's nodes
//! above it are left out too: Citus gives the scan a constant row count, not an estimate (the task
//! plans below it are the workers' own and are compared). Never-executed nodes have no estimate
//! entry.

use serde::Serialize;

use super::NodeRef;
use super::model::PlanNode;

/// A node's row estimate against reality, totals over loops.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Id of the node.
    pub node: usize,
    /// Planner's row estimate × loops.
    pub estimated_rows: f64,
    /// Actual rows as printed × loops (the middle of what the plan proves).
    pub actual_rows: f64,
    /// The smallest actual total consistent with the plan.
    pub actual_min: f64,
    /// The largest actual total consistent with the plan.
    pub actual_max: f64,
    /// Times the node ran.
    pub loops: u64,
    /// The smallest q-error the plan proves (1.0: the estimate may be right); `None` when the node
    /// is not compared.
    pub q_error: Option<f64>,
    /// The largest q-error consistent with the plan; `None` when the node is not compared.
    pub q_error_max: Option<f64>,
    /// Why the node is not compared, or why its actual count is an interval.
    pub why: Option<&'static str>,
}

impl Estimate {
    /// The actual total is known exactly.
    #[allow(
        clippy::float_cmp,
        reason = "both bounds are whole row counts (floored or ceiled): equality is exact"
    )]
    pub fn exact(&self) -> bool {
        self.actual_min == self.actual_max
    }
}

/// The q-error of two row counts, both floored at 1.
pub(crate) fn q_error(estimated: f64, actual: f64) -> f64 {
    let e = estimated.max(1.0);
    let a = actual.max(1.0);
    (e / a).max(a / e)
}

const ROUNDED: &str = "per-loop rows are printed rounded (to integers by PostgreSQL <= 17, to two \
     decimals by 18): over many loops the actual total lies in an interval";
const LIMIT: &str = "below a Limit, which stops pulling rows";
const MERGE: &str = "a Merge Join stops reading one side when the other ends";
const SEMI: &str = "the inner side of a semi or anti join stops at the first match";
const UNIQUE: &str = "the inner side of an Inner Unique join stops at the first match";
const EMPTY_HASH: &str =
    "the Hash Join's hash table came out empty, so it read one outer row and stopped";
const RUN_CONDITION: &str = "a WindowAgg with a Run Condition stops pulling rows once it fails";
const CTE: &str = "a CTE is evaluated only as far as its CTE Scans pull it, and none read it all";
const BITMAP_SET: &str = "BitmapAnd and BitmapOr do not count rows";
const CITUS_ROWS: &str = "a Citus Custom Scan's row count is a fixed placeholder (0 for a router \
                          query, 100,000 otherwise), not an estimate, and the coordinator's nodes \
                          above it build on it";
const LOSSY_BITMAP: &str =
    "the bitmap is all lossy: its index scan counts pages × 10 (BRIN), not rows";

/// Node types that read all their input before returning a row: below them, a parent's early
/// stop no longer cuts the input short.
fn reads_all_input(n: &PlanNode) -> bool {
    match n.node_type.as_str() {
        "Sort" | "Hash" => true,
        "Aggregate" => matches!(
            n.strategy.as_deref(),
            Some("Hashed" | "Plain" | "Mixed") | None
        ),
        "SetOp" => n.strategy.as_deref() == Some("Hashed"),
        _ => false,
    }
}

fn flag(n: &PlanNode, key: &str) -> bool {
    n.extra
        .get(key)
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// Why a child reached through `rel` of `parent` may stop early on its own account (not inherited).
fn early_stop(
    parent: &PlanNode,
    parent_id: usize,
    rel: Option<&str>,
    nodes: &[NodeRef<'_>],
    children: &[Vec<usize>],
) -> Option<&'static str> {
    let inner = rel == Some("Inner");
    match parent.node_type.as_str() {
        "Limit" => Some(LIMIT),
        "Merge Join" => Some(MERGE),
        "Nested Loop" | "Hash Join"
            if inner
                && matches!(
                    parent.join_type.as_deref(),
                    Some("Semi" | "Anti" | "Right Semi" | "Right Anti")
                ) =>
        {
            Some(SEMI)
        }
        "Nested Loop" if inner && flag(parent, "Inner Unique") => Some(UNIQUE),
        "Hash Join"
            if rel == Some("Outer")
                && !matches!(parent.join_type.as_deref(), Some("Left" | "Full" | "Anti"))
                && children[parent_id].iter().any(|&c| {
                    let h = nodes[c].node;
                    h.node_type == "Hash"
                        && h.parent_relationship.as_deref() == Some("Inner")
                        && h.total_actual_rows() == Some(0.0)
                        && h.actual_loops.unwrap_or(0) > 0
                }) =>
        {
            Some(EMPTY_HASH)
        }
        "WindowAgg" if parent.extra.contains_key("Run Condition") => Some(RUN_CONDITION),
        _ => None,
    }
}

/// Early-stop reasons per node, parents before children (preorder guarantees it). `forced` marks
/// subtree roots that stop early for a reason found elsewhere in the plan (an unread CTE).
fn early_reasons(
    nodes: &[NodeRef<'_>],
    children: &[Vec<usize>],
    forced: &[Option<&'static str>],
) -> Vec<Option<&'static str>> {
    let mut early: Vec<Option<&'static str>> = vec![None; nodes.len()];
    for r in nodes {
        if let Some(why) = forced[r.id] {
            early[r.id] = Some(why);
            continue;
        }
        let Some(p) = r.parent else { continue };
        let parent = nodes[p].node;
        let rel = r.node.parent_relationship.as_deref();
        // A sub-plan, or a plan that ran on another server (a Citus task), is not cut short by
        // the node it hangs under.
        early[r.id] = if matches!(rel, Some("InitPlan" | "SubPlan" | "Remote")) {
            None
        } else if let Some(why) = early_stop(parent, p, rel, nodes, children) {
            Some(why)
        } else if reads_all_input(parent) {
            None
        } else {
            early[p]
        };
    }
    early
}

/// Roots of CTE subplans that no executed CTE Scan read to its end.
fn unread_ctes(nodes: &[NodeRef<'_>], early: &[Option<&'static str>]) -> Vec<Option<&'static str>> {
    let mut forced = vec![None; nodes.len()];
    for r in nodes {
        let Some(name) = r
            .node
            .subplan_name
            .as_deref()
            .and_then(|s| s.strip_prefix("CTE "))
        else {
            continue;
        };
        let read_fully = nodes.iter().any(|s| {
            s.node.node_type == "CTE Scan"
                && s.node.cte_name.as_deref() == Some(name)
                && s.node.actual_loops.unwrap_or(0) > 0
                && early[s.id].is_none()
        });
        if !read_fully && r.node.actual_loops.unwrap_or(0) > 0 {
            forced[r.id] = Some(CTE);
        }
    }
    forced
}

/// Why a node's count is not a row count, if it is not.
fn not_rows(r: &NodeRef<'_>, nodes: &[NodeRef<'_>]) -> Option<&'static str> {
    match r.node.node_type.as_str() {
        "BitmapAnd" | "BitmapOr" => Some(BITMAP_SET),
        "Bitmap Index Scan" => {
            // Up through BitmapAnd/BitmapOr to the Bitmap Heap Scan that consumes the bitmap.
            let mut p = r.parent;
            while let Some(id) = p {
                let n = nodes[id].node;
                if n.node_type == "Bitmap Heap Scan" {
                    let all_lossy = n.lossy_heap_blocks.unwrap_or(0) > 0
                        && n.exact_heap_blocks.unwrap_or(0) == 0;
                    return all_lossy.then_some(LOSSY_BITMAP);
                }
                if !matches!(n.node_type.as_str(), "BitmapAnd" | "BitmapOr") {
                    return None;
                }
                p = nodes[id].parent;
            }
            None
        }
        _ => None,
    }
}

/// Citus Custom Scans and the coordinator nodes above them, whose `Plan Rows` are not estimates
/// (Citus sets the scan's rows to a constant). The task plans below are the workers' own
/// estimates and stay compared.
fn citus_placeholders(nodes: &[NodeRef<'_>]) -> Vec<bool> {
    let mut marked = vec![false; nodes.len()];
    for r in nodes.iter().filter(|r| {
        r.node.node_type == "Custom Scan"
            && r.node
                .custom_plan_provider
                .as_deref()
                .is_some_and(|p| p.starts_with("Citus"))
    }) {
        let mut cur = Some(r.id);
        while let Some(c) = cur.filter(|c| !marked[*c]) {
            marked[c] = true;
            cur = nodes[c].parent;
        }
    }
    marked
}

/// Whether the plan prints per-loop rows with two decimals (PostgreSQL 18) rather than rounded.
fn fractional_rows(nodes: &[NodeRef<'_>]) -> bool {
    nodes.iter().any(|r| {
        r.node.extra.contains_key("Disabled")
            || r.node.actual_rows.is_some_and(|v| v.fract() != 0.0)
    })
}

/// The estimates of every executed node with a row estimate, and the ids of nodes that may stop
/// early.
#[allow(
    clippy::float_cmp,
    reason = "interval bounds are whole row counts (floored or ceiled): equality is exact"
)]
pub(crate) fn estimates(
    nodes: &[NodeRef<'_>],
    children: &[Vec<usize>],
) -> (Vec<Estimate>, Vec<usize>) {
    let first = early_reasons(nodes, children, &vec![None; nodes.len()]);
    let early = early_reasons(nodes, children, &unread_ctes(nodes, &first));
    let half_step = if fractional_rows(nodes) { 0.005 } else { 0.5 };
    let citus = citus_placeholders(nodes);
    let mut out = Vec::new();
    // The proven lower bound of each node's actual total, for children's bounds.
    let mut lower = vec![0.0f64; nodes.len()];
    for r in nodes {
        let n = r.node;
        let (Some(est), Some(loops), Some(rows)) = (n.plan_rows, n.actual_loops, n.actual_rows)
        else {
            continue;
        };
        if loops == 0 {
            continue;
        }
        #[allow(
            clippy::cast_precision_loss,
            reason = "loop counts are far below 2^52, where f64 is exact"
        )]
        let lf = loops as f64;
        let (mut lo, hi) = if loops == 1 {
            (rows, rows)
        } else {
            (
                ((rows - half_step).max(0.0) * lf).ceil(),
                ((rows + half_step) * lf).floor(),
            )
        };
        if let Some(p) = r.parent {
            let parent = nodes[p].node;
            if parent.node_type == "Nested Loop"
                && parent.join_type.as_deref() == Some("Inner")
                && parent.join_filter.is_none()
                && n.parent_relationship.as_deref() == Some("Inner")
            {
                lo = lo.max(lower[p]).min(hi);
            }
        }
        lower[r.id] = lo;
        let estimated = est * lf;
        let why = early[r.id]
            .or_else(|| not_rows(r, nodes))
            .or_else(|| citus[r.id].then_some(CITUS_ROWS));
        let (q_min, q_max) = if why.is_some() {
            (None, None)
        } else {
            let q_min = if (lo..=hi).contains(&estimated) {
                1.0
            } else if estimated < lo {
                q_error(estimated, lo)
            } else {
                q_error(estimated, hi)
            };
            (
                Some(q_min),
                Some(q_error(estimated, lo).max(q_error(estimated, hi))),
            )
        };
        out.push(Estimate {
            node: r.id,
            estimated_rows: estimated,
            actual_rows: rows * lf,
            actual_min: lo,
            actual_max: hi,
            loops,
            q_error: q_min,
            q_error_max: q_max,
            why: why.or((lo != hi).then_some(ROUNDED)),
        });
    }
    let early_nodes = early
        .iter()
        .enumerate()
        .filter_map(|(id, e)| e.map(|_| id))
        .collect();
    (out, early_nodes)
}

#[cfg(test)]
#[allow(
    clippy::needless_pass_by_value,
    clippy::float_cmp,
    reason = "test plan builders read better taking values; the expected figures are exact"
)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{Value, json};

    use crate::expect::{Expectation, evaluate, parse_expectation};
    use crate::plan::{Facts, PartitionMap, Plan, plan_from_value};

    /// A node: type, estimated rows per loop, actual rows per loop, loops, extra keys, children.
    fn node(
        kind: &str,
        est: f64,
        rows: Value,
        loops: u64,
        extra: Value,
        plans: Vec<Value>,
    ) -> Value {
        let mut n = json!({
            "Node Type": kind, "Plan Rows": est, "Actual Rows": rows, "Actual Loops": loops,
            "Startup Cost": 0.0, "Total Cost": 1.0, "Plan Width": 4,
            "Actual Startup Time": 0.01, "Actual Total Time": 0.02,
        });
        let map = n.as_object_mut().unwrap();
        if let Value::Object(e) = extra {
            map.extend(e);
        }
        if !plans.is_empty() {
            map.insert("Plans".into(), Value::Array(plans));
        }
        n
    }

    fn analyse(root: Value) -> (Plan, Facts) {
        let plan = plan_from_value(json!([{ "Plan": root }])).unwrap();
        let facts = Facts::compute(&plan, &PartitionMap::from_catalog(BTreeMap::default()));
        (plan, facts)
    }

    fn expectation(text: &str) -> Expectation {
        parse_expectation(text, "q.sql", 1).unwrap()
    }

    /// The nested loop of the issue: a Memoize inner side matching 0.08 rows per loop over 100,000
    /// loops, 8,000 rows in all. `pg18` prints the fraction; older versions print 0.
    fn memoize_join(pg18: bool) -> Value {
        let rows = if pg18 { json!(0.08) } else { json!(0) };
        let disabled = if pg18 {
            json!({"Disabled": false})
        } else {
            json!({})
        };
        let with = |extra: Value| {
            let mut e = disabled.clone();
            e.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            e
        };
        node(
            "Nested Loop",
            8000.0,
            json!(8000),
            1,
            with(json!({"Join Type": "Inner"})),
            vec![
                node(
                    "Seq Scan",
                    100_000.0,
                    json!(100_000),
                    1,
                    with(json!({"Parent Relationship": "Outer", "Relation Name": "orders"})),
                    vec![],
                ),
                node(
                    "Memoize",
                    1.0,
                    rows,
                    100_000,
                    with(json!({"Parent Relationship": "Inner"})),
                    vec![],
                ),
            ],
        )
    }

    #[test]
    fn rounded_per_loop_rows_are_an_interval_not_zero() {
        let (_, f) = analyse(memoize_join(false));
        let e = f.estimate(2).unwrap();
        // 0 per loop over 100,000 loops: 0 to 50,000 rows, and at least the 8,000 the join returned.
        assert_eq!((e.actual_min, e.actual_max), (8000.0, 50_000.0));
        assert_eq!(e.q_error, Some(2.0), "the least error the plan proves");
        assert_eq!(e.q_error_max, Some(12.5));
        assert!(e.why.unwrap().contains("rounded"));
        // Not the 100,000× the old reading claimed.
        assert!(f.worst_estimate.unwrap().q_error.unwrap() < 3.0);
    }

    #[test]
    fn postgresql_18_fractions_narrow_the_interval() {
        let (_, f) = analyse(memoize_join(true));
        let e = f.estimate(2).unwrap();
        // 0.08 ± 0.005 per loop: 7,500 to 8,500, and at least the join's 8,000.
        assert_eq!((e.actual_min, e.actual_max), (8000.0, 8500.0));
        assert_eq!(e.q_error, Some(100_000.0 / 8500.0));
        assert_eq!(e.q_error_max, Some(12.5));
    }

    #[test]
    fn an_estimate_bound_inside_the_interval_is_undecided() {
        let (plan, f) = analyse(memoize_join(false));
        let v = evaluate(&expectation("estimate-error <= 10x"), &plan, &f);
        assert!(!v.passed && v.undecided, "{v:?}");
        assert!(v.found.contains("between 8,000 and 50,000"), "{}", v.found);
        // Decided either way when the whole interval is on one side.
        let v = evaluate(&expectation("estimate-error <= 20x"), &plan, &f);
        assert!(v.passed && !v.undecided, "{v:?}");
        let v = evaluate(&expectation("estimate-error <= 1.5x"), &plan, &f);
        assert!(!v.passed && !v.undecided, "{v:?}");
        // On PostgreSQL 18 the same plan decides it.
        let (plan, f) = analyse(memoize_join(true));
        let v = evaluate(&expectation("estimate-error <= 10x"), &plan, &f);
        assert!(!v.passed && !v.undecided, "{v:?}");
    }

    #[test]
    fn counts_that_are_not_rows_are_left_out() {
        let scan = |rel: &str| {
            node(
                "Bitmap Index Scan",
                500.0,
                json!(0),
                1,
                json!({"Parent Relationship": "Member", "Index Name": rel}),
                vec![],
            )
        };
        let and = node(
            "BitmapAnd",
            10.0,
            json!(0),
            1,
            json!({"Parent Relationship": "Outer"}),
            vec![scan("a_idx"), scan("b_idx")],
        );
        let (_, f) = analyse(node(
            "Bitmap Heap Scan",
            10.0,
            json!(12),
            1,
            json!({"Relation Name": "t", "Exact Heap Blocks": 3}),
            vec![and],
        ));
        let e = f.estimates.iter().find(|e| e.node == 1).unwrap();
        assert_eq!(e.q_error, None);
        assert!(e.why.unwrap().contains("BitmapAnd"));
        // A BRIN bitmap: all lossy, its index scan counts pages × 10.
        let brin = node(
            "Bitmap Index Scan",
            100.0,
            json!(12_800),
            1,
            json!({"Parent Relationship": "Outer", "Index Name": "t_brin"}),
            vec![],
        );
        let (_, f) = analyse(node(
            "Bitmap Heap Scan",
            100.0,
            json!(90),
            1,
            json!({"Relation Name": "t", "Lossy Heap Blocks": 1280}),
            vec![brin],
        ));
        let e = f.estimates.iter().find(|e| e.node == 1).unwrap();
        assert_eq!(e.q_error, None);
        assert!(e.why.unwrap().contains("lossy"));
        assert!(f.worst_estimate.unwrap().node == 0);
    }

    fn why(f: &Facts, id: usize) -> &'static str {
        let e = f.estimates.iter().find(|e| e.node == id).unwrap();
        assert_eq!(e.q_error, None, "node {id} must not be compared");
        e.why.unwrap()
    }

    #[test]
    fn early_stops_are_not_compared() {
        // A Hash Join whose hash table came out empty reads one outer row and stops.
        let (_, f) = analyse(node(
            "Hash Join",
            100.0,
            json!(0),
            1,
            json!({"Join Type": "Inner"}),
            vec![
                node(
                    "Seq Scan",
                    100_000.0,
                    json!(1),
                    1,
                    json!({"Parent Relationship": "Outer", "Relation Name": "big"}),
                    vec![],
                ),
                node(
                    "Hash",
                    10.0,
                    json!(0),
                    1,
                    json!({"Parent Relationship": "Inner"}),
                    vec![node(
                        "Seq Scan",
                        10.0,
                        json!(0),
                        1,
                        json!({"Parent Relationship": "Outer", "Relation Name": "small"}),
                        vec![],
                    )],
                ),
            ],
        ));
        assert!(why(&f, 1).contains("empty"));
        assert!(f.estimate(3).is_some(), "the inner side ran to its end");

        // A WindowAgg with a Run Condition stops pulling (down to the Sort, which read all).
        let (_, f) = analyse(node(
            "WindowAgg",
            1000.0,
            json!(3),
            1,
            json!({"Run Condition": "(row_number() OVER (?) <= 3)"}),
            vec![node(
                "Index Scan",
                1000.0,
                json!(4),
                1,
                json!({"Parent Relationship": "Outer", "Relation Name": "t", "Index Name": "t_idx"}),
                vec![],
            )],
        ));
        assert!(why(&f, 1).contains("Run Condition"));

        // The inner side of an Inner Unique join stops at the first match.
        let (_, f) = analyse(node(
            "Nested Loop",
            10.0,
            json!(10),
            1,
            json!({"Join Type": "Inner", "Inner Unique": true}),
            vec![
                node(
                    "Seq Scan",
                    10.0,
                    json!(10),
                    1,
                    json!({"Parent Relationship": "Outer", "Relation Name": "a"}),
                    vec![],
                ),
                node(
                    "Index Scan",
                    50.0,
                    json!(1),
                    10,
                    json!({"Parent Relationship": "Inner", "Relation Name": "b", "Index Name": "b_pkey"}),
                    vec![],
                ),
            ],
        ));
        assert!(why(&f, 2).contains("Inner Unique"));

        // A CTE that its only CTE Scan (below a Limit) did not read to its end.
        let (_, f) = analyse(node(
            "Limit",
            1.0,
            json!(1),
            1,
            json!({}),
            vec![
                node(
                    "Seq Scan",
                    100_000.0,
                    json!(1),
                    1,
                    json!({"Parent Relationship": "InitPlan", "Subplan Name": "CTE c", "Relation Name": "t"}),
                    vec![],
                ),
                node(
                    "CTE Scan",
                    100_000.0,
                    json!(1),
                    1,
                    json!({"Parent Relationship": "Outer", "CTE Name": "c", "Alias": "c"}),
                    vec![],
                ),
            ],
        ));
        assert!(why(&f, 1).contains("CTE"));
        assert!(why(&f, 2).contains("Limit"));
        assert_eq!(f.worst_estimate.unwrap().node, 0);
    }
}
