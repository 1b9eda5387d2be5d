//! `heap-fetches`: an Index Only Scan that visited the heap, because the visibility map did not
//! mark the pages all-visible. The scan then costs nearly as much as an Index Scan.

use super::{Ctx, Severity, Tip};
use crate::report::fmt;

pub const ID: &str = "heap-fetches";

pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Tip> {
    let mut out = Vec::new();
    for r in ctx.nodes {
        let n = r.node;
        let Some(fetches) = n.heap_fetches.filter(|h| *h > 0.0 && n.has_actuals()) else {
            continue;
        };
        let rows = n.total_actual_rows().unwrap_or(0.0);
        let severity = if fetches >= ctx.t.heap_fetch_warning_ratio * rows.max(1.0) {
            Severity::Warning
        } else {
            Severity::Info
        };
        let rel = n.relation_name.as_deref().unwrap_or("the table");
        out.push(ctx.tip(
            ID,
            severity,
            r.id,
            format!(
                "the index-only scan fetched {} heap tuples for {} rows: pages of {rel} are not \
                 all-visible. VACUUM {rel} to set the visibility map; on insert-heavy tables tune \
                 autovacuum_vacuum_insert_scale_factor so autovacuum keeps up.",
                fmt::count(fetches),
                fmt::count(rows)
            ),
        ));
    }
    out
}
