//! `row-estimate`: a node's row estimate is off by a large factor (q-error on rows × loops).
//! Only what the plan proves is claimed: the smallest q-error consistent with its (possibly
//! rounded) row counts, and no tip for nodes left out of the comparison (see `plan::estimate`).
//! Reported where the error originates: a node whose child is already off by at least half as
//! much inherits the error and is skipped, so one misestimate does not produce a tip per ancestor.
//! The advice fits the node: statistics for a scan or join, the function's `ROWS` for a Function
//! Scan (ANALYZE does not help there).

use super::{Ctx, Severity, Tip};
use crate::plan::node_keys;
use crate::report::fmt;

pub const ID: &str = "row-estimate";

pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Tip> {
    let t = ctx.t;
    let mut out = Vec::new();
    for e in &ctx.facts.estimates {
        let Some(q) = e.q_error.filter(|q| *q >= t.estimate_info) else {
            continue;
        };
        let inherited = ctx
            .index
            .children(e.node)
            .iter()
            .filter_map(|c| ctx.facts.estimate(*c))
            .any(|c| c.q_error.is_some_and(|cq| cq >= q / 2.0));
        if inherited {
            continue;
        }
        let (severity, how) = if q >= t.estimate_severe {
            (Severity::Warning, "severely off")
        } else if q >= t.estimate_warning {
            (Severity::Warning, "far off")
        } else {
            (Severity::Info, "off")
        };
        let direction = if e.actual_min > e.estimated_rows {
            "underestimated"
        } else {
            "overestimated"
        };
        let node = ctx.nodes.get(e.node).map(|r| r.node);
        let got = if e.exact() {
            fmt::count(e.actual_min)
        } else {
            format!(
                "between {} and {} (rows per loop are printed rounded)",
                fmt::count(e.actual_min),
                fmt::count(e.actual_max)
            )
        };
        let factor = if e.exact() {
            fmt::ratio(q)
        } else {
            format!("at least {}", fmt::ratio(q))
        };
        let advice = match node {
            Some(n) if n.node_type == "Function Scan" => format!(
                " The planner takes a set-returning function's row count from its declaration: \
                 set it with ALTER FUNCTION {}(...) ROWS n (ANALYZE does not help here).",
                n.function_name.as_deref().unwrap_or("f")
            ),
            _ => {
                let rel = node
                    .and_then(|n| n.relation_name.as_deref())
                    .map(|r| format!(" on {r}"))
                    .unwrap_or_default();
                format!(
                    " Run ANALYZE{rel} if statistics are stale; for correlated columns add \
                     CREATE STATISTICS (dependencies, mcv); for skewed columns raise the statistics \
                     target."
                )
            }
        };
        // A sort's rows are its input's; a grouping node's rows are its groups.
        let of = node
            .and_then(|n| {
                let keys = node_keys(n)?;
                Some(if n.extra.contains_key("Sort Key") {
                    format!(" (sort on {keys})")
                } else {
                    format!(" (groups of {keys})")
                })
            })
            .unwrap_or_default();
        out.push(ctx.tip(
            ID,
            severity,
            e.node,
            format!(
                "row estimate {how}{of}: planned {} rows, got {got}{}, {direction} {factor}.{advice} \
                 Misestimates steer join order and join methods.",
                fmt::count(e.estimated_rows.round()),
                if e.loops > 1 {
                    format!(" (totals over {} loops)", e.loops)
                } else {
                    String::new()
                },
            ),
        ));
    }
    out
}
