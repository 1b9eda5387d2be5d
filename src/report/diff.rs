//! Rendering of a baseline comparison (`qcheck check --baseline`, `qcheck diff`): a headline, the
//! notes on what differs between the two sides' identities, one table row per query and plan mode,
//! then per changed plan what changed and a unified tree diff.
//!
//! Why unified and not side by side: plan lines are long (an index name, a table, the figures),
//! and two of them side by side do not fit a terminal; a unified diff keeps each node on one line
//! and reads like `git diff` (in Markdown it is a ```diff block, which GitHub colours). Markers:
//! `-` only in the baseline, `+` only now, `!` the same node with a partition count, rows or
//! buffers beyond the thresholds, a space for an unchanged node. JSON is the serialized
//! [`Comparison`] itself.

use std::fmt::Write as _;

use crate::baseline::compare::Measure;
use crate::baseline::{Comparison, DiffLine, LineOp, PlanComparison, QueryStatus};
use crate::report::{Format, fmt, table};

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

/// Deepest indentation drawn; deeper nodes say their depth.
const MAX_DEPTH_DRAWN: usize = 30;

/// Unchanged lines kept around each change when a diff is long.
const CONTEXT: usize = 2;

/// A diff longer than this elides unchanged lines far from any change.
const ELIDE_ABOVE: usize = 40;

/// The whole comparison, in the table or Markdown format.
pub fn comparison(c: &Comparison, format: Format, color: bool) -> String {
    let md = format == Format::Markdown;
    let mut out = String::new();
    let (changed, total) = c.changed_plans();
    let headline = format!(
        "{} → {}: {} of {} plan{} changed (shared buffers beyond {}, rows beyond {}, or the \
         plan's shape; timing is shown, never judged)",
        c.before,
        c.after,
        changed,
        total,
        if total == 1 { "" } else { "s" },
        c.thresholds.buffers,
        c.thresholds.rows
    );
    if md {
        let _ = writeln!(out, "**{headline}**\n");
        for n in &c.notes {
            let _ = writeln!(out, "- note: {n}");
        }
        if !c.notes.is_empty() {
            out.push('\n');
        }
    } else {
        let _ = writeln!(out, "{headline}");
        for n in &c.notes {
            let _ = writeln!(out, "note: {n}");
        }
    }
    let rows = summary_rows(c);
    if !rows.is_empty() {
        let header = [
            "query",
            "plan",
            "shape",
            "shared buffers",
            "rows",
            "exec ms",
            "result",
        ];
        out.push_str(&table(format, &header, &rows));
        if !md {
            out.push('\n');
        }
    }
    for q in &c.queries {
        if let Some(note) = &q.params_note {
            let _ = writeln!(out, "{}{}: {note}", if md { "- " } else { "" }, q.name);
        }
        for p in q.plans.iter().filter(|p| p.changed) {
            out.push('\n');
            out.push_str(&changed_plan(&q.name, p, format, color));
        }
    }
    let verdict = if c.passed {
        "same as the baseline"
    } else {
        "CHANGED against the baseline"
    };
    let _ = writeln!(
        out,
        "\n{changed} of {total} plan{} changed: {verdict}",
        if total == 1 { "" } else { "s" }
    );
    out
}

/// The table rows: one per query and plan mode; a query only on one side gets one row.
fn summary_rows(c: &Comparison) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for q in &c.queries {
        if q.status == QueryStatus::New {
            rows.push(vec![
                q.name.clone(),
                fmt::MISSING.into(),
                fmt::MISSING.into(),
                fmt::MISSING.into(),
                fmt::MISSING.into(),
                fmt::MISSING.into(),
                "new".into(),
            ]);
            continue;
        }
        for p in &q.plans {
            let buffers = figure(
                p.shared_buffers.before.map(|b| b as f64),
                p.shared_buffers.after.map(|b| b as f64),
                true,
            );
            let rows_cell = figure(p.rows.before, p.rows.after, false);
            let exec = match p.latency_ms {
                Some((b, a)) => {
                    if b.execution == a.execution {
                        fmt::ms(b.execution)
                    } else {
                        format!("{} → {}", fmt::ms(b.execution), fmt::ms(a.execution))
                    }
                }
                None => fmt::MISSING.into(),
            };
            rows.push(vec![
                q.name.clone(),
                p.mode.clone(),
                if p.shape_changed { "CHANGED" } else { "same" }.into(),
                buffers,
                rows_cell,
                exec,
                if p.changed { "CHANGED" } else { "same" }.into(),
            ]);
        }
    }
    rows
}

/// `4`, or `4 → 35 (8.75×)` when the two differ.
#[allow(
    clippy::float_cmp,
    reason = "recorded figures are compared as recorded: equal ones print once"
)]
fn figure(before: Option<f64>, after: Option<f64>, with_ratio: bool) -> String {
    match (before, after) {
        (Some(b), Some(a)) if b == a => fmt::count(b),
        (Some(b), Some(a)) => {
            let ratio = if with_ratio && b > 0.0 {
                format!(" ({})", fmt::ratio(a / b))
            } else {
                String::new()
            };
            format!("{} → {}{ratio}", fmt::count(b), fmt::count(a))
        }
        (None, None) => fmt::MISSING.into(),
        (b, a) => format!(
            "{} → {}",
            b.map_or(fmt::MISSING.into(), fmt::count),
            a.map_or(fmt::MISSING.into(), fmt::count)
        ),
    }
}

/// One changed plan: a title, what changed, the tree diff.
pub fn changed_plan(query: &str, p: &PlanComparison, format: Format, color: bool) -> String {
    let md = format == Format::Markdown;
    let mut out = String::new();
    if md {
        let _ = writeln!(out, "#### {query} ({}): CHANGED\n", p.mode);
        for c in &p.changes {
            let _ = writeln!(out, "- {c}");
        }
        out.push_str("\n```diff\n");
        out.push_str(&tree_diff(&p.diff, false));
        out.push_str("```\n");
    } else {
        let _ = writeln!(out, "{query} ({}): CHANGED", p.mode);
        for c in &p.changes {
            let _ = writeln!(out, "  {c}");
        }
        out.push_str(&tree_diff(&p.diff, color));
    }
    out
}

/// The unified tree diff: one line per node (see the module docs for the markers); in long diffs
/// the root and the lines near a change are kept, the unchanged stretches between elided.
pub fn tree_diff(lines: &[DiffLine], color: bool) -> String {
    let changed: Vec<bool> = lines.iter().map(|l| l.op != LineOp::Same).collect();
    let keep: Vec<bool> = (0..lines.len())
        .map(|i| {
            lines.len() <= ELIDE_ABOVE
                || i == 0
                || changed[i.saturating_sub(CONTEXT)..(i + CONTEXT + 1).min(lines.len())]
                    .iter()
                    .any(|c| *c)
        })
        .collect();
    let mut out = String::new();
    let mut skipped = 0usize;
    for (i, line) in lines.iter().enumerate() {
        if !keep[i] {
            skipped += 1;
            continue;
        }
        if skipped > 0 {
            let _ = writeln!(out, "  … {skipped} unchanged node(s)");
            skipped = 0;
        }
        let (mark, code) = match line.op {
            LineOp::Same => (' ', ""),
            LineOp::Changed => ('!', YELLOW),
            LineOp::Removed => ('-', RED),
            LineOp::Added => ('+', GREEN),
        };
        let text = format!("{mark} {}", node_line(line));
        if color && !code.is_empty() {
            let _ = writeln!(out, "{code}{text}{RESET}");
        } else {
            let _ = writeln!(out, "{text}");
        }
    }
    if skipped > 0 {
        let _ = writeln!(out, "  … {skipped} unchanged node(s)");
    }
    out
}

/// A node with its indentation, role, partition count and figures.
fn node_line(line: &DiffLine) -> String {
    let mut s = String::new();
    if line.depth > MAX_DEPTH_DRAWN {
        let _ = write!(
            s,
            "{}[depth {}] -> ",
            "   ".repeat(MAX_DEPTH_DRAWN),
            line.depth
        );
    } else if line.depth > 0 {
        let _ = write!(s, "{}-> ", "   ".repeat(line.depth - 1));
    }
    if let Some(role) = &line.role {
        let _ = write!(s, "{role}: ");
    }
    s.push_str(&line.node);
    let count = |m: Option<Measure>| m.map_or(1, |m| m.count);
    let (cb, ca) = (count(line.before), count(line.after));
    match (line.before, line.after) {
        (Some(_), Some(_)) if cb != ca => {}
        _ if cb.max(ca) > 1 => {
            let _ = write!(s, " ×{}", cb.max(ca));
        }
        _ => {}
    }
    let pick = |f: fn(&Measure) -> Option<f64>| match (line.before, line.after) {
        (Some(b), Some(a)) => figure(f(&b), f(&a), false),
        (Some(m), None) | (None, Some(m)) => f(&m).map_or(fmt::MISSING.into(), fmt::count),
        (None, None) => fmt::MISSING.into(),
    };
    let rows = pick(|m| m.rows);
    let buffers = pick(|m| m.shared_buffers.map(|b| b as f64));
    let mut figures = Vec::new();
    if rows != fmt::MISSING {
        figures.push(format!("rows {rows}"));
    }
    if buffers != fmt::MISSING {
        figures.push(format!("buffers {buffers}"));
    }
    if !figures.is_empty() {
        let _ = write!(s, "  ({})", figures.join(", "));
    }
    if !line.notes.is_empty() {
        let _ = write!(s, "  [{}]", line.notes.join("; "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baseline::{Baseline, Thresholds, compare::compare};
    use crate::plan::{PartitionMap, parse_plan};

    const HASH_JOIN: &str = include_str!("../../tests/fixtures/plans/pg15_hash_join_batches.json");
    const DAY: &str =
        include_str!("../../tests/fixtures/plans/pg15_partition_prune_run_time_generic.json");
    const INITPLAN_PRUNE: &str =
        include_str!("../../tests/fixtures/plans/pg15_partition_prune_initplan.json");

    /// A baseline whose queries are the given plans (mode `plan`).
    fn baseline(plans: &[(&str, crate::plan::Plan)]) -> Baseline {
        let mut b = Baseline::new(None, None);
        for (name, plan) in plans {
            let one = Baseline::of_plans(name, &[(plan.clone(), PartitionMap::none())]);
            b.queries.extend(one.queries);
            b.latency_ms.extend(one.latency_ms);
        }
        b
    }

    /// Before: a hash join, a day view, a partition scan pruned by an InitPlan, a query that is
    /// gone. After: the join flipped, the day view on another month (the same), the InitPlan's
    /// twelve partitions down to two with ten times the buffers, and a new query.
    fn fixture() -> crate::baseline::Comparison {
        let before = baseline(&[
            ("gone", parse_plan(DAY).unwrap()),
            ("join", parse_plan(HASH_JOIN).unwrap()),
            ("month", parse_plan(DAY).unwrap()),
            ("pruned", parse_plan(INITPLAN_PRUNE).unwrap()),
        ]);
        let mut fewer: serde_json::Value = serde_json::from_str(INITPLAN_PRUNE).unwrap();
        let append = &mut fewer[0]["Plan"]["Plans"][1];
        let kept: Vec<serde_json::Value> = append["Plans"].as_array().unwrap()[10..].to_vec();
        append["Plans"] = kept.into();
        fewer[0]["Plan"]["Shared Hit Blocks"] = 1880.into();
        let after = baseline(&[
            (
                "join",
                crate::plan::signature_tests::flipped_hash_join(HASH_JOIN),
            ),
            (
                "month",
                parse_plan(&DAY.replace("appointment_y2026m03", "appointment_y2026m04")).unwrap(),
            ),
            ("new", parse_plan(DAY).unwrap()),
            ("pruned", crate::plan::plan_from_value(fewer).unwrap()),
        ]);
        compare(
            &before,
            &after,
            "baseline.json",
            "this run",
            Thresholds::default(),
            vec!["index strategy: baseline tuned, now fk-only".into()],
        )
    }

    #[test]
    fn table() {
        insta::assert_snapshot!(comparison(&fixture(), Format::Table, false));
    }

    #[test]
    fn markdown() {
        insta::assert_snapshot!(comparison(&fixture(), Format::Markdown, false));
    }

    #[test]
    fn long_diffs_elide_unchanged_stretches() {
        use crate::baseline::compare::align;
        use crate::plan::SigNode;
        let node = |depth, name: &str| SigNode {
            depth,
            node: name.into(),
            role: None,
            count: 1,
            rows: Some(1.0),
            shared_buffers: None,
        };
        let mut before: Vec<SigNode> = vec![node(0, "Append")];
        before.extend((0..60).map(|i| node(1, &format!("Seq Scan on t{i}"))));
        let mut after = before.clone();
        after[30].node = "Index Scan using t_idx on t29".into();
        let out = tree_diff(&align(&before, &after), false);
        insta::assert_snapshot!(out, @r"
          Append  (rows 1)
          … 27 unchanged node(s)
          -> Seq Scan on t27  (rows 1)
          -> Seq Scan on t28  (rows 1)
        - -> Seq Scan on t29  (rows 1)
        + -> Index Scan using t_idx on t29  (rows 1)
          -> Seq Scan on t30  (rows 1)
          -> Seq Scan on t31  (rows 1)
          … 28 unchanged node(s)
        ");
    }
}
