//! Evaluation of one expectation against a plan and its facts.

use super::{Check, Expectation, Op, Verdict};
use crate::plan::{Facts, Plan, ScanKind};
use crate::report::fmt;

const NEEDS_ANALYZE: &str = "EXPLAIN ANALYZE";
const NEEDS_BUFFERS: &str = "EXPLAIN (ANALYZE, BUFFERS)";
/// An offline plan names partition indexes, not their parents.
const NEEDS_PARTITION_MAP: &str =
    "a partition map (--partitions FILE, printed by `qcheck partitions` on the plan's database)";
/// A node type PostgreSQL never prints may be a renamed kind (`no hash-join` cannot see a
/// "Hash Inner Join"), so absence cannot be proved.
const NEEDS_KNOWN_NODE_TYPES: &str = "node types as PostgreSQL prints them (the plan has node \
     types it never prints: capture it with EXPLAIN (FORMAT JSON) rather than converting text output)";
/// PostgreSQL prints rows per loop rounded (17 and older to integers, 18 to two decimals): over
/// many loops the actual total is an interval, and a bound inside it cannot be decided.
const NEEDS_EXACT_ROWS: &str = "exact row counts (rows per loop are printed rounded: to integers \
     before PostgreSQL 18, to two decimals since)";

fn scan_noun(kind: ScanKind) -> &'static str {
    match kind {
        ScanKind::Seq => "a Seq Scan",
        ScanKind::Index => "an Index Scan",
        ScanKind::IndexOnly => "an Index Only Scan",
        ScanKind::Bitmap => "a Bitmap Heap Scan",
        ScanKind::Tid => "a Tid Scan",
        ScanKind::Other => "another kind of scan",
    }
}

struct Outcome {
    passed: bool,
    expected: String,
    found: String,
    nodes: Vec<usize>,
    needs: Option<&'static str>,
}

impl Outcome {
    fn needs(expected: String, needs: &'static str, what: &str) -> Outcome {
        Outcome {
            passed: false,
            expected,
            found: format!(
                "cannot check {what}: the plan has no run-time data; it needs {needs} \
                 (qcheck check/explain run it; for a file, capture with EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON))"
            ),
            nodes: Vec::new(),
            needs: Some(needs),
        }
    }
}

/// Evaluates `exp` against `plan` and its `facts` (computed with the same partition map the
/// expectations are meant for).
pub fn evaluate(exp: &Expectation, plan: &Plan, facts: &Facts) -> Verdict {
    let o = match &exp.check {
        Check::Scan {
            kind,
            relation,
            index,
        } => scan(
            plan,
            facts,
            &[*kind],
            scan_noun(*kind),
            relation,
            index.as_deref(),
        ),
        Check::IndexAccess { relation, index } => scan(
            plan,
            facts,
            &[ScanKind::Index, ScanKind::IndexOnly, ScanKind::Bitmap],
            "an index-based scan (index, index-only or bitmap)",
            relation,
            index.as_deref(),
        ),
        Check::NoNode { kind, relation } => no_node(plan, facts, kind, relation.as_deref()),
        Check::NoSpill => no_spill(plan, facts),
        Check::HeapFetches { op, n, relation } => {
            heap_fetches(plan, facts, *op, *n, relation.as_deref())
        }
        Check::Partitions { relation, op, n } => partitions(facts, relation, *op, *n),
        Check::EstimateError { op, factor } => estimate_error(plan, facts, *op, *factor),
        Check::SharedBuffers { op, n } => {
            let expected = format!("shared buffers (hit + read) {op} {n}");
            if !facts.analyzed || !facts.buffers.is_present() {
                Outcome::needs(expected, NEEDS_BUFFERS, "shared buffers")
            } else {
                let v = facts.buffers.shared_total();
                Outcome {
                    passed: op.holds(v as f64, *n as f64),
                    expected,
                    found: format!(
                        "{v} shared buffers (hit {}, read {})",
                        facts.buffers.shared_hit.unwrap_or(0),
                        facts.buffers.shared_read.unwrap_or(0)
                    ),
                    nodes: vec![0],
                    needs: None,
                }
            }
        }
        Check::TempBuffers { op, n } => {
            let expected = format!("temp blocks (read + written) {op} {n}");
            if !facts.analyzed || !facts.buffers.is_present() {
                Outcome::needs(expected, NEEDS_BUFFERS, "temp buffers")
            } else {
                let v = facts.buffers.temp_total();
                let mut nodes: Vec<usize> = facts.spills.iter().map(|s| s.node).collect();
                if nodes.is_empty() {
                    nodes.push(0);
                }
                Outcome {
                    passed: op.holds(v as f64, *n as f64),
                    expected,
                    found: format!(
                        "{v} temp blocks (read {}, written {})",
                        facts.buffers.temp_read.unwrap_or(0),
                        facts.buffers.temp_written.unwrap_or(0)
                    ),
                    nodes,
                    needs: None,
                }
            }
        }
        Check::Rows { op, n } => {
            let expected = format!("result rows {op} {n}");
            match facts.result_rows.filter(|_| facts.analyzed) {
                None => Outcome::needs(expected, NEEDS_ANALYZE, "result rows"),
                Some(v) => Outcome {
                    passed: op.holds(v, *n as f64),
                    expected,
                    found: format!("{} rows", fmt::count(v)),
                    nodes: vec![0],
                    needs: None,
                },
            }
        }
    };
    let location = match o.nodes.as_slice() {
        [] => None,
        [one] => Some(plan.describe(*one)),
        [first, rest @ ..] => Some(format!("{} and {} more", plan.describe(*first), rest.len())),
    };
    Verdict {
        id: exp.id(),
        text: exp.text.clone(),
        file: exp.file.clone(),
        line: exp.line,
        passed: o.passed,
        undecided: o.needs.is_some(),
        expected: o.expected,
        found: o.found,
        nodes: o.nodes,
        location,
        needs: o.needs,
    }
}

fn list(plan: &Plan, ids: &[usize]) -> String {
    const MAX: usize = 4;
    let mut parts: Vec<String> = ids.iter().take(MAX).map(|i| plan.describe(*i)).collect();
    if ids.len() > MAX {
        parts.push(format!("and {} more", ids.len() - MAX));
    }
    parts.join(", ")
}

fn scanned_tables(facts: &Facts) -> String {
    if facts.relations.is_empty() {
        "the plan scans no relation".to_owned()
    } else {
        let names: Vec<&str> = facts.relations.keys().map(String::as_str).collect();
        format!("the plan scans {}", names.join(", "))
    }
}

fn scan(
    plan: &Plan,
    facts: &Facts,
    kinds: &[ScanKind],
    noun: &str,
    rel: &str,
    index: Option<&str>,
) -> Outcome {
    let expected = match index {
        Some(i) => format!("every scan of {rel} is {noun} using {i}"),
        None => format!("every scan of {rel} is {noun}"),
    };
    let scans: Vec<_> = facts.scans.iter().filter(|s| s.table == rel).collect();
    if scans.is_empty() {
        return Outcome {
            passed: false,
            expected,
            found: format!("{rel} is not scanned ({})", scanned_tables(facts)),
            nodes: Vec::new(),
            needs: None,
        };
    }
    let wrong_kind: Vec<usize> = scans
        .iter()
        .filter(|s| !kinds.contains(&s.kind))
        .map(|s| s.node)
        .collect();
    if !wrong_kind.is_empty() {
        return Outcome {
            passed: false,
            expected,
            found: format!(
                "{} of {} scans differ: {}",
                wrong_kind.len(),
                scans.len(),
                list(plan, &wrong_kind)
            ),
            nodes: wrong_kind,
            needs: None,
        };
    }
    if let Some(idx) = index {
        let wrong_index: Vec<usize> = scans
            .iter()
            .filter(|s| !s.indexes.iter().chain(&s.parent_indexes).any(|i| i == idx))
            .map(|s| s.node)
            .collect();
        if !wrong_index.is_empty() {
            // A partition's index has a name of its own; without a partition map (an offline
            // plan) it cannot be tied to its parent index, so such a scan decides nothing.
            let unmapped = index_is_unmapped(facts)
                && wrong_index.iter().all(|id| {
                    facts
                        .scans
                        .iter()
                        .any(|s| s.node == *id && s.relation != s.table)
                });
            return Outcome {
                passed: false,
                expected,
                found: if unmapped {
                    format!(
                        "cannot tell whether {} uses {idx}: partition index names differ from the \
                         parent index's, and this plan comes without a partition map",
                        list(plan, &wrong_index)
                    )
                } else {
                    format!("not using {idx}: {}", list(plan, &wrong_index))
                },
                nodes: wrong_index,
                needs: unmapped.then_some(NEEDS_PARTITION_MAP),
            };
        }
    }
    let nodes: Vec<usize> = scans.iter().map(|s| s.node).collect();
    Outcome {
        passed: true,
        expected,
        found: format!("{} matching scan(s): {}", nodes.len(), list(plan, &nodes)),
        nodes,
        needs: None,
    }
}

/// True when no scan's index name was resolved to a different (parent) name.
fn index_is_unmapped(facts: &Facts) -> bool {
    facts.scans.iter().all(|s| s.indexes == s.parent_indexes)
}

fn no_node(plan: &Plan, facts: &Facts, kind: &str, rel: Option<&str>) -> Outcome {
    let expected = match rel {
        Some(r) => format!("no {kind} node on {r}"),
        None => format!("no {kind} node"),
    };
    let mut ids: Vec<usize> = facts.node_kinds.get(kind).cloned().unwrap_or_default();
    if let Some(r) = rel {
        let nodes = plan.nodes();
        // A node is "on REL" when it scans REL or a scan of REL is below it: mark each scan's
        // path to the root, stopping at a node already marked (each node is marked once).
        let mut on_rel = vec![false; nodes.len()];
        for s in facts.scans.iter().filter(|s| s.table == r) {
            let mut cur = Some(s.node);
            while let Some(c) = cur.filter(|c| on_rel.get(*c) == Some(&false)) {
                on_rel[c] = true;
                cur = nodes.get(c).and_then(|n| n.parent);
            }
        }
        ids.retain(|id| on_rel.get(*id) == Some(&true));
    }
    if ids.is_empty() && !facts.unknown_nodes.is_empty() {
        let mut types: Vec<String> = Vec::new();
        for n in facts.unknown_nodes.iter().filter_map(|id| plan.node(*id)) {
            let t = format!("\"{}\"", n.node_type);
            if !types.contains(&t) {
                types.push(t);
            }
        }
        return Outcome {
            passed: false,
            expected,
            found: format!(
                "cannot tell: no {kind} node by name, but the plan has node types PostgreSQL never \
                 prints ({}), probably from a conversion tool; one of them may be a {kind}",
                types.join(", ")
            ),
            nodes: facts.unknown_nodes.clone(),
            needs: Some(NEEDS_KNOWN_NODE_TYPES),
        };
    }
    Outcome {
        passed: ids.is_empty(),
        expected,
        found: if ids.is_empty() {
            "none in the plan".to_owned()
        } else {
            format!("{} in the plan: {}", ids.len(), list(plan, &ids))
        },
        nodes: ids,
        needs: None,
    }
}

fn no_spill(plan: &Plan, facts: &Facts) -> Outcome {
    let expected =
        "no spill to disk (no external sort, hash batches, hash-aggregate spill or temp blocks)"
            .to_owned();
    if !facts.analyzed {
        return Outcome::needs(expected, NEEDS_ANALYZE, "spills");
    }
    let ids: Vec<usize> = facts.spills.iter().map(|s| s.node).collect();
    let temp = facts.buffers.temp_written.unwrap_or(0);
    let found = if ids.is_empty() && temp == 0 {
        "no spill".to_owned()
    } else if ids.is_empty() {
        format!("{temp} temp blocks written")
    } else {
        let parts: Vec<String> = facts
            .spills
            .iter()
            .map(|s| format!("{}: {}", plan.describe(s.node), s.detail))
            .collect();
        parts.join("; ")
    };
    Outcome {
        passed: ids.is_empty() && temp == 0,
        expected,
        found,
        nodes: ids,
        needs: None,
    }
}

fn heap_fetches(plan: &Plan, facts: &Facts, op: Op, n: u64, rel: Option<&str>) -> Outcome {
    let expected = match rel {
        Some(r) => format!("heap fetches on {r} {op} {n}"),
        None => format!("heap fetches {op} {n}"),
    };
    let Some(total) = facts.heap_fetches else {
        return Outcome::needs(expected, NEEDS_ANALYZE, "heap fetches");
    };
    let in_scope: Vec<_> = facts
        .heap_fetches_by_node
        .iter()
        .filter(|h| rel.is_none_or(|r| facts.scan(h.node).is_some_and(|s| s.table == r)))
        .collect();
    let value = match rel {
        Some(_) => in_scope.iter().map(|h| h.value).sum(),
        None => total,
    };
    let nodes: Vec<usize> = in_scope
        .iter()
        .filter(|h| h.value > 0.0)
        .map(|h| h.node)
        .collect();
    let found = if in_scope.is_empty() {
        format!(
            "{} heap fetches (no index-only scan{})",
            fmt::count(value),
            rel.map(|r| format!(" of {r}")).unwrap_or_default()
        )
    } else if nodes.is_empty() {
        format!("{} heap fetches", fmt::count(value))
    } else {
        format!(
            "{} heap fetches at {}",
            fmt::count(value),
            list(plan, &nodes)
        )
    };
    Outcome {
        passed: op.holds(value, n as f64),
        expected,
        found,
        nodes,
        needs: None,
    }
}

fn partitions(facts: &Facts, rel: &str, op: Op, n: u64) -> Outcome {
    let expected = format!("partitions of {rel} scanned {op} {n}");
    if !facts.analyzed {
        return Outcome::needs(expected, NEEDS_ANALYZE, "partitions actually scanned");
    }
    let Some(rf) = facts.relation(rel) else {
        return Outcome {
            passed: op.holds(0.0, n as f64),
            expected,
            found: format!(
                "0 partitions: {rel} is not scanned ({})",
                scanned_tables(facts)
            ),
            nodes: Vec::new(),
            needs: None,
        };
    };
    let count = rf.partitions_scanned.len();
    let nodes: Vec<usize> = facts
        .scans
        .iter()
        .filter(|s| s.table == rel && s.executed == Some(true) && s.relation != s.table)
        .map(|s| s.node)
        .collect();
    let found = if rf.partitions_in_plan.is_empty() {
        format!(
            "0 partitions: {rel} is scanned directly, not through partitions (if it is partitioned, \
             its partitions were not recognised: without the catalog, a partition must be named \
             {rel}_<suffix with a digit>)"
        )
    } else {
        let names: Vec<&str> = rf.partitions_scanned.iter().map(String::as_str).collect();
        let skipped = rf.partitions_in_plan.len().saturating_sub(count);
        let mut s = format!(
            "{count} partition(s) scanned{}",
            if names.is_empty() {
                String::new()
            } else {
                format!(" ({})", names.join(", "))
            }
        );
        if rf.subplans_removed > 0 {
            s.push_str(&format!(
                "; {} removed by run-time pruning (Subplans Removed)",
                rf.subplans_removed
            ));
        }
        if skipped > 0 {
            s.push_str(&format!("; {skipped} in the plan but never executed"));
        }
        s
    };
    Outcome {
        passed: op.holds(count as f64, n as f64),
        expected,
        found,
        nodes,
        needs: None,
    }
}

fn estimate_error(plan: &Plan, facts: &Facts, op: Op, factor: f64) -> Outcome {
    let expected = format!("worst row-estimate error {op} {}", fmt::ratio(factor));
    if !facts.analyzed {
        return Outcome::needs(expected, NEEDS_ANALYZE, "row-estimate errors");
    }
    // Each compared node's q-error is an interval [q_error, q_error_max]: the check holds for a
    // node when it holds at both ends, fails when it fails at both, and is undecided otherwise.
    let judged: Vec<(&crate::plan::Estimate, f64, f64)> = facts
        .estimates
        .iter()
        .filter_map(|e| Some((e, e.q_error?, e.q_error_max?)))
        .collect();
    let Some(&(worst, worst_min, worst_max)) = judged.iter().max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return Outcome {
            passed: op.holds(1.0, factor),
            expected,
            found: "no executed node to compare (taken as 1×)".to_owned(),
            nodes: Vec::new(),
            needs: None,
        };
    };
    let describe = |e: &crate::plan::Estimate, lo: f64, hi: f64| {
        let (low, high) = (fmt::ratio(lo), fmt::ratio(hi));
        let q = if e.exact() || low == high {
            low
        } else {
            format!("{low} to {high}")
        };
        let actual = if e.exact() {
            fmt::count(e.actual_min)
        } else {
            format!(
                "between {} and {}",
                fmt::count(e.actual_min),
                fmt::count(e.actual_max)
            )
        };
        format!(
            "{q} at {}: estimated {} rows, actual {actual} (over {} loop(s))",
            plan.describe(e.node),
            fmt::count(e.estimated_rows),
            e.loops
        )
    };
    // A bound on the worst error (`<=`, `<`) must hold for every node; `>=`, `>` for one; `=` needs
    // the worst one exactly.
    let (passed, undecided, shown) = match op {
        Op::Le | Op::Lt => {
            let failing = judged.iter().find(|(_, lo, _)| !op.holds(*lo, factor));
            let open = judged
                .iter()
                .find(|(_, lo, hi)| op.holds(*lo, factor) && !op.holds(*hi, factor));
            match (failing, open) {
                (Some(f), _) => (false, false, *f),
                (None, Some(o)) => (false, true, *o),
                (None, None) => (true, false, (worst, worst_min, worst_max)),
            }
        }
        Op::Ge | Op::Gt => {
            let holding = judged.iter().find(|(_, lo, _)| op.holds(*lo, factor));
            let open = judged.iter().find(|(_, _, hi)| op.holds(*hi, factor));
            match (holding, open) {
                (Some(h), _) => (true, false, *h),
                (None, Some(o)) => (false, true, *o),
                (None, None) => (false, false, (worst, worst_min, worst_max)),
            }
        }
        Op::Eq => {
            let exact = worst.exact();
            (
                exact && op.holds(worst_min, factor),
                !exact,
                (worst, worst_min, worst_max),
            )
        }
    };
    let (e, lo, hi) = shown;
    Outcome {
        passed,
        expected,
        found: describe(e, lo, hi),
        nodes: vec![e.node],
        needs: undecided.then_some(NEEDS_EXACT_ROWS),
    }
}
