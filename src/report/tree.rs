//! The plan tree as text: indented like psql's EXPLAIN text format (`->` arrows, InitPlan/SubPlan
//! headers), one line per node with what a reader checks first — actual vs estimated rows, loops,
//! time, shared buffers, heap fetches — and the verdict/tip marks that point at the node.
//!
//! Why it exists: a failed expectation is only actionable when the reader can see *where* in the
//! plan it failed; `qcheck explain` and the reports print this tree with the marks attached.
//! ANSI colour is opt-in (`color`), so the same text serves terminals, files and snapshots.

use std::fmt::Write as _;

use crate::plan::{Plan, PlanNode, describe_node};
use crate::report::fmt;

/// A label attached to a node, e.g. `FAIL partitions` or `tip: seq-scan-large`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// Id of the marked node (preorder position in the plan).
    pub node: usize,
    /// The text shown beside the node.
    pub label: String,
}

impl Mark {
    /// A mark on node `node`.
    pub fn new(node: usize, label: impl Into<String>) -> Self {
        Mark {
            node,
            label: label.into(),
        }
    }
}

const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

fn paint(s: &str, code: &str, color: bool) -> String {
    if color {
        format!("{code}{s}{RESET}")
    } else {
        s.to_owned()
    }
}

/// The statistics part of a node line.
fn stats(n: &PlanNode, analyzed: bool) -> (String, bool) {
    let mut parts: Vec<String> = Vec::new();
    let est = n.plan_rows.map(fmt::count);
    let never = analyzed && n.never_executed();
    if analyzed && n.has_actuals() && !never {
        let rows = fmt::count(n.actual_rows.unwrap_or(0.0));
        parts.push(match &est {
            Some(e) => format!("rows {rows} (est {e})"),
            None => format!("rows {rows}"),
        });
        parts.push(format!("loops {}", n.actual_loops.unwrap_or(0)));
        if let Some(t) = n.actual_total_time {
            parts.push(fmt::duration_ms(t));
        }
    } else {
        if let Some(e) = &est {
            parts.push(format!("est rows {e}"));
        }
        if let (false, Some(s), Some(t)) = (analyzed, n.startup_cost, n.total_cost) {
            parts.push(format!("cost {s:.2}..{t:.2}"));
        }
    }
    if n.buffers.shared_hit.is_some() || n.buffers.shared_read.is_some() {
        let hit = n.buffers.shared_hit.unwrap_or(0);
        let read = n.buffers.shared_read.unwrap_or(0);
        if !never || hit.saturating_add(read) > 0 {
            parts.push(format!(
                "shared hit {} read {}",
                fmt::count_u64(hit),
                fmt::count_u64(read)
            ));
        }
    }
    if let Some(h) = n.heap_fetches.filter(|_| n.has_actuals() && !never) {
        parts.push(format!("heap fetches {}", fmt::count(h)));
    }
    if let Some(s) = n.subplans_removed.filter(|s| *s > 0) {
        parts.push(format!("subplans removed {s}"));
    }
    if let Some(cache) = memoize_stats(n) {
        parts.push(cache);
    }
    (parts.join(", "), never)
}

/// A Memoize (Result Cache) node's cache: `cache key t2.twenty, hits 980, misses 20`, with
/// evictions and overflows when non-zero.
fn memoize_stats(n: &PlanNode) -> Option<String> {
    if !matches!(n.node_type.as_str(), "Memoize" | "Result Cache") {
        return None;
    }
    let mut parts = Vec::new();
    if let Some(k) = n.extra.get("Cache Key").and_then(serde_json::Value::as_str) {
        parts.push(format!("cache key {k}"));
    }
    for (key, name, always) in [
        ("Cache Hits", "hits", true),
        ("Cache Misses", "misses", true),
        ("Cache Evictions", "evictions", false),
        ("Cache Overflows", "overflows", false),
    ] {
        let Some(v) = n.extra.get(key).and_then(serde_json::Value::as_u64) else {
            continue;
        };
        if always || v > 0 {
            parts.push(format!("{name} {}", fmt::count_u64(v)));
        }
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Widest indentation of a node line; deeper nodes are drawn at this column with their depth.
const MAX_INDENT: usize = 120;

/// Renders `plan` as an indented tree with `marks` appended to their nodes.
pub fn render_tree(plan: &Plan, marks: &[Mark], color: bool) -> String {
    let nodes = plan.nodes();
    let analyzed = nodes.iter().any(|r| r.node.has_actuals());
    // Column where each node's "->" starts (root: 0, no arrow), like psql's text format.
    let mut col = vec![0usize; nodes.len()];
    // Marks by node, in their given order (marks on ids outside the plan are ignored).
    let mut marks_of: Vec<Vec<&Mark>> = vec![Vec::new(); nodes.len()];
    for m in marks {
        if let Some(list) = marks_of.get_mut(m.node) {
            list.push(m);
        }
    }
    let mut out = String::new();
    for r in &nodes {
        let n = r.node;
        let mut indent = 0;
        if let Some(p) = r.parent {
            let base = if nodes[p].parent.is_none() {
                2
            } else {
                col[p] + 6
            };
            indent = base;
            if let Some(name) = &n.subplan_name {
                let _ = writeln!(out, "{}{}", " ".repeat(base), name);
                indent = base + 2;
            }
        }
        // Deep plans (thousands of levels) would make the text quadratic: past MAX_INDENT the
        // column stays and the line says its depth.
        let indent = if indent >= MAX_INDENT {
            col[r.id] = MAX_INDENT - 6;
            let _ = write!(out, "{}[depth {}] ", " ".repeat(MAX_INDENT), r.depth);
            0
        } else {
            col[r.id] = indent;
            indent
        };
        let arrow = if r.parent.is_some() {
            format!("{}->  ", " ".repeat(indent))
        } else {
            String::new()
        };
        let desc = describe_node(n, r.id);
        let (stat, never) = stats(n, analyzed);
        let mut line = format!("{arrow}{}", paint(&desc, BOLD, color));
        if !stat.is_empty() {
            line.push_str("  ");
            line.push_str(&stat);
        }
        if never {
            line.push_str(&format!("  {}", paint("never executed", DIM, color)));
        }
        for m in &marks_of[r.id] {
            let code = if m.label.starts_with("FAIL") {
                RED
            } else if m.label.starts_with("tip") {
                YELLOW
            } else {
                CYAN
            };
            line.push_str(&format!(
                "  {}",
                paint(&format!("[{}]", m.label), code, color)
            ));
        }
        out.push_str(&line);
        out.push('\n');
    }
    footer(plan, &mut out);
    out
}

/// psql-style summary lines: triggers, JIT, planning and execution time.
fn footer(plan: &Plan, out: &mut String) {
    for t in plan.triggers.iter().flatten() {
        let _ = writeln!(
            out,
            "Trigger {}{}: {}{}",
            t.trigger_name.as_deref().unwrap_or("?"),
            t.relation
                .as_deref()
                .map(|r| format!(" on {r}"))
                .unwrap_or_default(),
            t.time
                .map_or_else(|| "time not measured".into(), fmt::duration_ms),
            t.calls.map(|c| format!(", calls {c}")).unwrap_or_default()
        );
    }
    if let Some(j) = &plan.jit {
        let _ = writeln!(
            out,
            "JIT: {} function(s){}",
            j.functions.unwrap_or(0),
            j.total_time()
                .map(|t| format!(", {} total", fmt::duration_ms(t)))
                .unwrap_or_default()
        );
    }
    if let Some(p) = plan.planning_time {
        let _ = writeln!(out, "Planning Time: {}", fmt::duration_ms(p));
    }
    if let Some(e) = plan.execution_time {
        let _ = writeln!(out, "Execution Time: {}", fmt::duration_ms(e));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::parse_plan;

    fn plan(text: &str) -> Plan {
        parse_plan(text).expect("fixture parses")
    }

    #[test]
    fn renders_run_time_pruning_with_marks() {
        let p = plan(include_str!(
            "../../tests/fixtures/plans/pg15_partition_prune_run_time_generic.json"
        ));
        let marks = [
            Mark::new(0, "FAIL partitions"),
            Mark::new(1, "tip: row-estimate"),
        ];
        let out = render_tree(&p, &marks, false);
        insta::assert_snapshot!(out, @r#"
Append (#0)  rows 33 (est 12), loops 1, 52 µs, shared hit 4 read 0, subplans removed 11  [FAIL partitions]
  ->  Index Only Scan using appointment_y2026m03_provider_id_scheduled_at_status_patien_idx on appointment_y2026m03 (#1)  rows 33 (est 1), loops 1, 48 µs, shared hit 4 read 0, heap fetches 0  [tip: row-estimate]
Planning Time: 2.43 ms
Execution Time: 112 µs
"#);
    }

    #[test]
    fn renders_initplan_subplan_pg18_fractional_rows() {
        let p = plan(include_str!(
            "../../tests/fixtures/plans/pg18_initplan_subplan.json"
        ));
        insta::assert_snapshot!(render_tree(&p, &[], false), @r#"
Index Scan using patient_pkey on patient (#0)  rows 4 (est 4), loops 1, 77 µs, shared hit 13 read 0
  InitPlan 2
    ->  Aggregate (#1)  rows 1 (est 1), loops 1, 19 µs, shared hit 1 read 0
          ->  Seq Scan on tenant (#2)  rows 5 (est 5), loops 1, 9 µs, shared hit 1 read 0
  SubPlan 1
    ->  Aggregate (#3)  rows 1 (est 1), loops 4, 9 µs, shared hit 9 read 0
          ->  Index Only Scan using appointment_y2026m03_patient_id_scheduled_at_idx on appointment_y2026m03 (#4)  rows 0.5 (est 1), loops 4, 7 µs, shared hit 9 read 0, heap fetches 0
Planning Time: 1.53 ms
Execution Time: 176 µs
"#);
    }

    #[test]
    fn renders_never_executed_and_plain_explain() {
        let p = plan(include_str!(
            "../../tests/fixtures/plans/pg15_partition_prune_initplan.json"
        ));
        insta::assert_snapshot!(render_tree(&p, &[Mark::new(13, "tip: seq-scan-large")], false), @r#"
Aggregate (#0)  rows 1 (est 1), loops 1, 7.71 ms, shared hit 188 read 0
  InitPlan 1 (returns $0)
    ->  Result (#1)  rows 1 (est 1), loops 1, 2 µs, shared hit 0 read 0
  ->  Append (#2)  rows 15,416 (est 40,001), loops 1, 6.22 ms, shared hit 188 read 0
        ->  Seq Scan on appointment_y2026m01 (#3)  est rows 3,399  never executed
        ->  Seq Scan on appointment_y2026m02 (#4)  est rows 3,071  never executed
        ->  Seq Scan on appointment_y2026m03 (#5)  est rows 3,400  never executed
        ->  Seq Scan on appointment_y2026m04 (#6)  est rows 3,290  never executed
        ->  Seq Scan on appointment_y2026m05 (#7)  est rows 3,400  never executed
        ->  Seq Scan on appointment_y2026m06 (#8)  est rows 3,290  never executed
        ->  Seq Scan on appointment_y2026m07 (#9)  est rows 3,400  never executed
        ->  Seq Scan on appointment_y2026m08 (#10)  est rows 3,400  never executed
        ->  Seq Scan on appointment_y2026m09 (#11)  est rows 3,290  never executed
        ->  Seq Scan on appointment_y2026m10 (#12)  est rows 3,392  never executed
        ->  Seq Scan on appointment_y2026m11 (#13)  rows 5,248 (est 3,280), loops 1, 2.02 ms, shared hit 92 read 0  [tip: seq-scan-large]
        ->  Seq Scan on appointment_y2026m12 (#14)  rows 10,168 (est 3,389), loops 1, 2.06 ms, shared hit 96 read 0
Planning Time: 2.49 ms
Execution Time: 7.87 ms
"#);
        let p = plan(include_str!(
            "../../tests/fixtures/plans/pg18_no_analyze_day.json"
        ));
        insta::assert_snapshot!(render_tree(&p, &[], false), @r#"
Index Only Scan using appointment_y2026m03_provider_id_scheduled_at_status_patien_idx on appointment_y2026m03 (#0)  est rows 6, cost 0.29..4.42
"#);
    }

    #[test]
    fn colour_only_when_asked() {
        let p = plan(include_str!(
            "../../tests/fixtures/plans/pg15_sort_external_disk.json"
        ));
        let marks = [
            Mark::new(0, "FAIL no-spill"),
            Mark::new(1, "tip: seq-scan-large"),
        ];
        let plain = render_tree(&p, &marks, false);
        assert!(!plain.contains('\x1b'));
        let coloured = render_tree(&p, &marks, true);
        assert!(coloured.contains("\x1b[1;31m[FAIL no-spill]\x1b[0m"));
        assert!(coloured.contains("\x1b[33m[tip: seq-scan-large]\x1b[0m"));
    }

    #[test]
    fn renders_citus_and_marks_on_missing_nodes_are_ignored() {
        let p = plan(include_str!(
            "../../tests/fixtures/plans/citus/02_multi_shard_colocated_join_mx_pg18.json"
        ));
        let out = render_tree(&p, &[Mark::new(99, "FAIL nowhere")], false);
        assert!(out.starts_with("Aggregate (#0)"));
        assert!(out.contains("->  Custom Scan (Citus Adaptive) (#1)"));
        assert!(!out.contains("nowhere"));
    }

    #[test]
    fn memoize_line_shows_its_cache() {
        let text =
            include_str!("../../tests/fixtures/plans/real/pganalyze/004_memoize_nested_loop.json");
        let out = render_tree(&plan(text), &[], false);
        let line = out.lines().find(|l| l.contains("Memoize")).unwrap();
        assert!(
            line.ends_with("cache key t2.twenty, hits 980, misses 20"),
            "{line}"
        );
    }
}
