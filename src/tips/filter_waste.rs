//! `filter-waste`: a Filter (or Join Filter) discards most of the rows its node read, so the
//! node did work for rows nobody wanted. Rows removed and returned are both per-loop averages in
//! EXPLAIN, so both are multiplied by loops.

use super::{Ctx, Severity, Tip};
use crate::report::fmt;

pub const ID: &str = "filter-waste";

pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Tip> {
    let t = ctx.t;
    let mut out = Vec::new();
    for r in ctx.nodes {
        let n = r.node;
        let Some(returned) = n.total_actual_rows() else {
            continue;
        };
        let candidates = [
            (
                n.total_rows_removed_by_filter(),
                "filter",
                n.filter.as_deref(),
            ),
            (
                n.total_rows_removed_by_join_filter(),
                "join filter",
                n.join_filter.as_deref(),
            ),
        ];
        for (removed, what, cond) in candidates {
            let Some(removed) = removed.filter(|v| *v > 0.0) else {
                continue;
            };
            let read = removed + returned;
            if read < t.filter_min_rows_read {
                continue;
            }
            let ratio = removed / read;
            if ratio <= t.filter_info_ratio {
                continue;
            }
            let severity = if ratio > t.filter_warning_ratio {
                Severity::Warning
            } else {
                Severity::Info
            };
            let advice = if what == "filter" {
                "an index (or partial index) matching the filtered columns would read only the rows kept"
            } else {
                "a join condition the planner can use (hash or merge clause, or an index on the inner side) would avoid producing the rows"
            };
            out.push(ctx.tip(
                ID,
                severity,
                r.id,
                format!(
                    "the {what} discarded {} of the rows read ({} of {}{}): {advice}.",
                    fmt::percent(ratio),
                    fmt::count(removed.round()),
                    fmt::count(read.round()),
                    cond.map(|c| format!(", {c}")).unwrap_or_default()
                ),
            ));
        }
    }
    out
}
