//! Evaluation of one expectation against a plan and its facts.

use super::{Check, Expectation, Op, Verdict};
use crate::plan::{Facts, Plan, ScanFact, ScanKind, shard_base, shard_id, shard_name};
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
/// A Citus plan that shows only some of its tasks' plans.
const NEEDS_ALL_TASKS: &str = "every task's plan (run `SET citus.explain_all_tasks = on` before \
     EXPLAIN; a re-partition job shows no task plans at all)";
/// A Citus scan that does not print its job's `Task Count`.
const NEEDS_TASK_COUNT: &str = "the Task Count of every distributed job (EXPLAIN prints it under \
     \"Distributed Query\" → \"Job\")";
/// A Citus plan with no task plan to look into (a re-partition job).
const NEEDS_TASK_PLANS: &str = "the tasks' plans (a re-partition job shows none)";
/// Citus task plans without buffer counters.
const NEEDS_TASK_BUFFERS: &str = "the buffers of the task plans (EXPLAIN (ANALYZE, BUFFERS) through \
     the coordinator prints them per task)";
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

    /// Found on the tasks shown, but some tasks' plans are not in the plan: undecided.
    fn hidden_tasks(self, facts: &Facts) -> Outcome {
        Outcome {
            passed: false,
            found: format!(
                "{} in the task plans shown, but {}",
                self.found,
                hidden_tasks_text(facts)
            ),
            needs: Some(NEEDS_ALL_TASKS),
            ..self
        }
    }
}

/// Which tasks a plan does not show, e.g. `Custom Scan (Citus Adaptive) (#0) shows 1 of 32 tasks`.
fn hidden_tasks_text(facts: &Facts) -> String {
    let parts: Vec<String> = facts
        .tasks
        .iter()
        .filter(|t| !t.all_tasks_shown())
        .map(|t| {
            let count = t
                .task_count
                .map_or_else(|| "an unknown number of".to_owned(), |c| c.to_string());
            let shown = t
                .tasks_shown
                .as_deref()
                .map(|s| format!(" (Tasks Shown: {s})"))
                .unwrap_or_default();
            format!(
                "job #{} shows {} of {count} tasks{shown}",
                t.node,
                t.tasks_in_plan()
            )
        })
        .collect();
    format!("the other tasks' plans are not shown: {}", parts.join(", "))
}

/// `value OP n` when `value` is only a lower bound (tasks not shown may add to it): `Some` when
/// every figure from `value` up gives the same answer, `None` when it depends on the hidden part.
fn at_least(op: Op, value: f64, n: f64) -> Option<bool> {
    match op {
        Op::Ge | Op::Gt => op.holds(value, n).then_some(true),
        Op::Le | Op::Lt => (!op.holds(value, n)).then_some(false),
        Op::Eq => (value > n).then_some(false),
    }
}

/// Judges a count that tasks not shown may add to: returns (passed, needs).
fn judge_count(facts: &Facts, op: Op, value: f64, n: u64) -> (bool, Option<&'static str>) {
    if facts.tasks_hidden() {
        match at_least(op, value, n as f64) {
            Some(passed) => (passed, None),
            None => (false, Some(NEEDS_ALL_TASKS)),
        }
    } else {
        (op.holds(value, n as f64), None)
    }
}

/// A scanned relation or index name as it stands for its table: a Citus shard
/// (`appointment_y2026m01_102040`, `patient_live_mrn_key_102008`) without its shard id.
fn local_name<'a>(facts: &Facts, node: usize, name: &'a str) -> &'a str {
    if facts.remote_nodes.binary_search(&node).is_ok() {
        shard_base(name)
    } else {
        name
    }
}

/// Whether a scan uses index `idx`: by name, through the partition map, or as the Citus shard of
/// `idx` (also when Citus shortened the shard's name with a hash, as it does past 63 bytes).
fn uses_index(facts: &Facts, s: &ScanFact, idx: &str) -> bool {
    let remote = facts.remote_nodes.binary_search(&s.node).is_ok();
    s.indexes.iter().chain(&s.parent_indexes).any(|i| i == idx)
        || (remote
            && s.indexes
                .iter()
                .any(|i| shard_id(i).is_some_and(|id| shard_name(idx, id) == *i)))
}

/// Whether a scan reads a partition of its table (not the table, nor a shard of the table).
fn scans_partition(facts: &Facts, s: &ScanFact) -> bool {
    local_name(facts, s.node, &s.relation) != s.table
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
        Check::SharedBuffers { op, n } => buffers(facts, *op, *n, Blocks::Shared),
        Check::TempBuffers { op, n } => buffers(facts, *op, *n, Blocks::Temp),
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
        Check::Tasks { op, n } => tasks(plan, facts, *op, *n),
        Check::Router => router(plan, facts),
        Check::AggregatePushdown => aggregate_pushdown(plan, facts),
    };
    // Checks over the whole plan that cannot pass on the tasks shown when others are hidden;
    // a failure stands only on evidence among the nodes shown. (Counts are judged as lower
    // bounds where they are computed; `rows` and the Citus kinds read the coordinator.)
    let o = if o.needs.is_none() && facts.tasks_hidden() {
        let evidence = match &exp.check {
            Check::Scan { .. } | Check::IndexAccess { .. } => {
                Some(!o.passed && !o.nodes.is_empty())
            }
            Check::NoNode { .. } | Check::NoSpill => Some(!o.passed),
            Check::EstimateError { op, .. } => Some(!o.passed && matches!(op, Op::Le | Op::Lt)),
            _ => None,
        };
        match evidence {
            Some(false) => o.hidden_tasks(facts),
            _ => o,
        }
    } else {
        o
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
            .filter(|s| !uses_index(facts, s, idx))
            .map(|s| s.node)
            .collect();
        if !wrong_index.is_empty() {
            // A partition's index has a name of its own; without a partition map (an offline
            // plan) it cannot be tied to its parent index, so such a scan decides nothing.
            let unmapped = index_is_unmapped(facts)
                && wrong_index
                    .iter()
                    .all(|id| facts.scan(*id).is_some_and(|s| scans_partition(facts, s)));
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

/// True when no scan's index name was resolved to a different (parent) name (a shard index
/// standing for its table's index is no resolution: it needs no map).
fn index_is_unmapped(facts: &Facts) -> bool {
    facts.scans.iter().all(|s| {
        s.indexes.len() == s.parent_indexes.len()
            && s.indexes
                .iter()
                .zip(&s.parent_indexes)
                .all(|(i, p)| local_name(facts, s.node, i) == p)
    })
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
    let (passed, needs) = judge_count(facts, op, value, n);
    Outcome {
        passed,
        expected,
        found: with_hidden(found, needs, facts),
        nodes,
        needs,
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
        .filter(|s| s.table == rel && s.executed == Some(true) && scans_partition(facts, s))
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
    let (passed, needs) = judge_count(facts, op, count as f64, n);
    Outcome {
        passed,
        expected,
        found: with_hidden(found, needs, facts),
        nodes,
        needs,
    }
}

/// Which block counters `buffers` checks.
#[derive(Clone, Copy, PartialEq)]
enum Blocks {
    /// Shared hit + read (`shared-buffers`).
    Shared,
    /// Temp read + written (`temp-buffers`).
    Temp,
}

/// `shared-buffers` / `temp-buffers`: blocks of the whole statement, the task plans' included.
fn buffers(facts: &Facts, op: Op, n: u64, blocks: Blocks) -> Outcome {
    let (noun, parts) = match blocks {
        Blocks::Shared => ("shared buffers", ["hit", "read"]),
        Blocks::Temp => ("temp blocks", ["read", "written"]),
    };
    let total = |b: &crate::plan::Buffers| match blocks {
        Blocks::Shared => b.shared_total(),
        Blocks::Temp => b.temp_total(),
    };
    let expected = match blocks {
        Blocks::Shared => format!("shared buffers (hit + read) {op} {n}"),
        Blocks::Temp => format!("temp blocks (read + written) {op} {n}"),
    };
    if !facts.analyzed || !facts.buffers.is_present() {
        let what = if blocks == Blocks::Shared {
            "shared buffers"
        } else {
            "temp buffers"
        };
        return Outcome::needs(expected, NEEDS_BUFFERS, what);
    }
    if let Some(o) = task_buffers_missing(&expected, facts) {
        return o;
    }
    let b = facts.total_buffers();
    let v = total(&b);
    let (first, second) = match blocks {
        Blocks::Shared => (b.shared_hit, b.shared_read),
        Blocks::Temp => (b.temp_read, b.temp_written),
    };
    let remote = facts
        .remote_buffers
        .as_ref()
        .map(|r| format!(", {} of them in the task plans", total(r)))
        .unwrap_or_default();
    let mut nodes: Vec<usize> = match blocks {
        Blocks::Shared => Vec::new(),
        Blocks::Temp => facts.spills.iter().map(|s| s.node).collect(),
    };
    if nodes.is_empty() {
        nodes.push(0);
    }
    let (passed, needs) = judge_count(facts, op, v as f64, n);
    Outcome {
        passed,
        expected,
        found: with_hidden(
            format!(
                "{v} {noun} ({} {}, {} {}){remote}",
                parts[0],
                first.unwrap_or(0),
                parts[1],
                second.unwrap_or(0)
            ),
            needs,
            facts,
        ),
        nodes,
        needs,
    }
}

/// Appends why a count is undecided when tasks not shown may add to it.
fn with_hidden(found: String, needs: Option<&'static str>, facts: &Facts) -> String {
    if needs == Some(NEEDS_ALL_TASKS) {
        format!(
            "{found} in the task plans shown, but {}",
            hidden_tasks_text(facts)
        )
    } else {
        found
    }
}

/// On a Citus plan whose task plans printed no buffers, the statement's buffers are unknown.
fn task_buffers_missing(expected: &str, facts: &Facts) -> Option<Outcome> {
    let task_plans: Vec<usize> = facts
        .tasks
        .iter()
        .flat_map(|t| t.task_roots.iter().copied())
        .collect();
    (facts.remote_buffers.is_none() && !task_plans.is_empty()).then(|| Outcome {
        passed: false,
        expected: expected.to_owned(),
        found: "cannot count the workers' buffers: the task plans carry no buffer counters \
                (the coordinator's root counts only its own)"
            .to_owned(),
        nodes: task_plans,
        needs: Some(NEEDS_TASK_BUFFERS),
    })
}

/// The distributed jobs, or the outcome for a plan that has none.
fn not_distributed(expected: &str, facts: &Facts) -> Option<Outcome> {
    (!facts.distributed()).then(|| Outcome {
        passed: false,
        expected: expected.to_owned(),
        found: "not a distributed plan: it has no Citus Custom Scan".to_owned(),
        nodes: Vec::new(),
        needs: None,
    })
}

fn tasks(plan: &Plan, facts: &Facts, op: Op, n: u64) -> Outcome {
    let expected = format!("Citus tasks {op} {n}");
    if let Some(o) = not_distributed(&expected, facts) {
        return o;
    }
    let jobs: Vec<usize> = facts.tasks.iter().map(|t| t.node).collect();
    let unknown: Vec<usize> = facts
        .tasks
        .iter()
        .filter(|t| t.task_count.is_none())
        .map(|t| t.node)
        .collect();
    if !unknown.is_empty() {
        return Outcome {
            passed: false,
            expected,
            found: format!("no Task Count printed at {}", list(plan, &unknown)),
            nodes: unknown,
            needs: Some(NEEDS_TASK_COUNT),
        };
    }
    let total: u64 = facts
        .tasks
        .iter()
        .filter_map(|t| t.task_count)
        .fold(0, u64::saturating_add);
    let per_job: Vec<String> = facts
        .tasks
        .iter()
        .map(|t| format!("{} at {}", t.task_count.unwrap_or(0), plan.describe(t.node)))
        .collect();
    Outcome {
        passed: op.holds(total as f64, n as f64),
        expected,
        found: if per_job.len() == 1 {
            format!("{total} task(s): Task Count {}", per_job.join(""))
        } else {
            format!(
                "{total} task(s) in {} jobs: Task Count {}",
                per_job.len(),
                per_job.join(", ")
            )
        },
        nodes: jobs,
        needs: None,
    }
}

fn router(plan: &Plan, facts: &Facts) -> Outcome {
    let expected =
        "a router query: one Citus job of one task, with nothing above it on the coordinator"
            .to_owned();
    if let Some(o) = not_distributed(&expected, facts) {
        return o;
    }
    let fail = |found: String, nodes: Vec<usize>| Outcome {
        passed: false,
        expected: expected.clone(),
        found,
        nodes,
        needs: None,
    };
    if let [first, _, ..] = facts.tasks.as_slice() {
        let jobs: Vec<usize> = facts.tasks.iter().map(|t| t.node).collect();
        let subplans: usize = facts.tasks.iter().map(|t| t.subplans).sum();
        return fail(
            format!(
                "{} distributed jobs ({subplans} distributed subplan(s) run first): {}",
                jobs.len(),
                list(plan, &jobs)
            ),
            if first.subplans > 0 {
                vec![first.node]
            } else {
                jobs
            },
        );
    }
    let t = &facts.tasks[0];
    match t.task_count {
        None => Outcome {
            passed: false,
            expected,
            found: format!("no Task Count printed at {}", plan.describe(t.node)),
            nodes: vec![t.node],
            needs: Some(NEEDS_TASK_COUNT),
        },
        Some(c) if c != 1 => fail(
            format!(
                "{c} tasks at {}: a multi-shard query",
                plan.describe(t.node)
            ),
            vec![t.node],
        ),
        Some(_) if t.node != 0 => fail(
            format!(
                "one task at {}, but the coordinator runs {} above it",
                plan.describe(t.node),
                plan.describe(0)
            ),
            vec![0, t.node],
        ),
        Some(_) => Outcome {
            passed: true,
            expected,
            found: format!(
                "one task at {}, the root of the plan",
                plan.describe(t.node)
            ),
            nodes: vec![t.node],
            needs: None,
        },
    }
}

fn aggregate_pushdown(plan: &Plan, facts: &Facts) -> Outcome {
    let expected = "the Citus workers aggregate: every task plan has an Aggregate".to_owned();
    if let Some(o) = not_distributed(&expected, facts) {
        return o;
    }
    let roots: Vec<usize> = facts
        .tasks
        .iter()
        .flat_map(|t| t.task_roots.iter().copied())
        .collect();
    let aggregates: &[usize] = facts.node_kinds.get("aggregate").map_or(&[], Vec::as_slice);
    if roots.is_empty() {
        let jobs: Vec<usize> = facts.tasks.iter().map(|t| t.node).collect();
        return Outcome {
            passed: false,
            expected,
            found: format!("no task plan to look into at {}", list(plan, &jobs)),
            nodes: jobs,
            needs: Some(NEEDS_TASK_PLANS),
        };
    }
    // Each Aggregate belongs to the task plan of its nearest task root above, or else runs on the
    // coordinator (in the coordinator's plan or a distributed subplan's).
    let nodes = plan.nodes();
    let task_of = |a: usize| {
        let mut cur = Some(a);
        while let Some(c) = cur {
            if roots.contains(&c) {
                return Some(c);
            }
            cur = nodes.get(c).and_then(|r| r.parent);
        }
        None
    };
    let covered: Vec<usize> = aggregates.iter().filter_map(|a| task_of(*a)).collect();
    let worker: Vec<usize> = aggregates
        .iter()
        .copied()
        .filter(|a| task_of(*a).is_some())
        .collect();
    let coordinator: Vec<usize> = aggregates
        .iter()
        .copied()
        .filter(|a| task_of(*a).is_none())
        .collect();
    let missing: Vec<usize> = roots
        .iter()
        .copied()
        .filter(|r| !covered.contains(r))
        .collect();
    if aggregates.is_empty() {
        return Outcome {
            passed: false,
            expected,
            found: "no Aggregate in the plan".to_owned(),
            nodes: Vec::new(),
            needs: None,
        };
    }
    if !missing.is_empty() {
        let on_coordinator = if coordinator.is_empty() {
            String::new()
        } else {
            format!(
                "; the coordinator aggregates at {}",
                list(plan, &coordinator)
            )
        };
        return Outcome {
            passed: false,
            expected,
            found: format!(
                "{} of {} task plan(s) shown aggregate nothing: {}{on_coordinator}",
                missing.len(),
                roots.len(),
                list(plan, &missing)
            ),
            nodes: missing,
            needs: None,
        };
    }
    let found = if coordinator.is_empty() {
        format!(
            "fully pushed down: all {} task plan(s) shown aggregate ({}); nothing is aggregated \
             on the coordinator",
            roots.len(),
            list(plan, &worker)
        )
    } else {
        format!(
            "partially pushed down: all {} task plan(s) shown aggregate ({}); the coordinator \
             combines at {}",
            roots.len(),
            list(plan, &worker),
            list(plan, &coordinator)
        )
    };
    Outcome {
        passed: true,
        expected,
        found,
        nodes: worker,
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
