//! `row-estimate`: a node's row estimate is off by a large factor (q-error on rows × loops).
//! Reported where the error originates: a node whose child is already off by at least half as
//! much inherits the error and is skipped, so one misestimate does not produce a tip per ancestor.

use super::{Ctx, Severity, Tip};
use crate::report::fmt;

pub const ID: &str = "row-estimate";

pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Tip> {
    let t = ctx.t;
    let mut out = Vec::new();
    for e in &ctx.facts.estimates {
        if e.q_error < t.estimate_info {
            continue;
        }
        let inherited = ctx
            .index
            .children(e.node)
            .iter()
            .filter_map(|c| ctx.facts.estimate(*c))
            .any(|c| c.q_error >= e.q_error / 2.0);
        if inherited {
            continue;
        }
        let (severity, how) = if e.q_error >= t.estimate_severe {
            (Severity::Warning, "severely off")
        } else if e.q_error >= t.estimate_warning {
            (Severity::Warning, "far off")
        } else {
            (Severity::Info, "off")
        };
        let direction = if e.actual_rows > e.estimated_rows {
            "underestimated"
        } else {
            "overestimated"
        };
        let node = ctx.nodes.get(e.node).map(|r| r.node);
        let rel = node
            .and_then(|n| n.relation_name.as_deref())
            .map(|r| format!(" on {r}"))
            .unwrap_or_default();
        out.push(ctx.tip(
            ID,
            severity,
            e.node,
            format!(
                "row estimate {how}: planned {} rows, got {}{}, {direction} {}. \
                 Run ANALYZE{rel} if statistics are stale; for correlated columns add \
                 CREATE STATISTICS (dependencies, mcv); for skewed columns raise the statistics \
                 target. Misestimates steer join order and join methods.",
                fmt::count(e.estimated_rows.round()),
                fmt::count(e.actual_rows.round()),
                if e.loops > 1 {
                    format!(" (totals over {} loops)", e.loops)
                } else {
                    String::new()
                },
                fmt::ratio(e.q_error)
            ),
        ));
    }
    out
}
