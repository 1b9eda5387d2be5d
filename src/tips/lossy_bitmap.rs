//! `lossy-bitmap`: a Bitmap Heap Scan whose bitmap outgrew work_mem and degraded to whole pages,
//! so every row on those pages had to be rechecked.

use super::{Ctx, Severity, Tip};
use crate::report::fmt;

pub const ID: &str = "lossy-bitmap";

pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Tip> {
    let mut out = Vec::new();
    for r in ctx.nodes {
        let n = r.node;
        let Some(lossy) = n.lossy_heap_blocks.filter(|l| *l > 0) else {
            continue;
        };
        let exact = n.exact_heap_blocks.unwrap_or(0);
        let recheck =
            n.rows_removed_by_index_recheck.unwrap_or(0.0) * n.actual_loops.unwrap_or(1) as f64;
        out.push(ctx.tip(
            ID,
            Severity::Warning,
            r.id,
            format!(
                "the bitmap went lossy: {lossy} of {} heap blocks were lossy and {} rows were \
                 removed by the recheck. Raise work_mem so the bitmap stays exact ({}), or make \
                 the condition more selective.",
                lossy.saturating_add(exact),
                fmt::count(recheck),
                ctx.work_mem()
            ),
        ));
    }
    out
}
