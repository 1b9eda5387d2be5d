//! `workers-not-launched`: a Gather or Gather Merge started fewer parallel workers than planned
//! (the worker pool was exhausted when it ran), so the node ran with less parallelism than its
//! cost assumed and the leader did the rest.

use super::{Ctx, Severity, Tip};

pub const ID: &str = "workers-not-launched";

pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Tip> {
    let mut out = Vec::new();
    for w in ctx.facts.workers.iter().filter(|w| w.short()) {
        let (Some(planned), Some(launched)) = (w.planned, w.launched) else {
            continue;
        };
        let setting = |name: &str, default: &str| {
            ctx.plan.setting(name).map_or_else(
                || format!("{name} (default {default})"),
                |v| format!("{name} (here {v})"),
            )
        };
        out.push(ctx.tip(
            ID,
            Severity::Warning,
            w.node,
            format!(
                "{launched} of {planned} workers launched: the pool of parallel workers was short \
                 when the query ran, so it ran with less parallelism than planned (and timings \
                 vary with concurrent load). Raise {} or {}, or run fewer parallel queries at \
                 once.",
                setting("max_parallel_workers", "8"),
                setting("max_worker_processes", "8"),
            ),
        ));
    }
    out
}
