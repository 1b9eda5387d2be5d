//! `jit-small-query`: JIT compilation on a query that is fast without it. Execution Time includes
//! JIT time, so the query's own time is execution minus JIT total. The first JIT in a session also
//! loads the LLVM library, which "Timing" → "Total" does not count, so a query whose JIT total is
//! at least `jit_max_share` of its execution time gets the tip too.

use super::{Ctx, Severity, Tip};
use crate::report::fmt;

pub const ID: &str = "jit-small-query";

pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Tip> {
    let (Some(jit), Some(exec)) = (ctx.plan.jit.as_ref(), ctx.plan.execution_time) else {
        return Vec::new();
    };
    let jit_ms = jit.total_time().unwrap_or(0.0);
    let own = (exec - jit_ms).max(0.0);
    let dominated = exec > 0.0 && jit_ms >= ctx.t.jit_max_share * exec;
    if own >= ctx.t.jit_max_execution_ms && !dominated {
        return Vec::new();
    }
    let above = ctx.plan.setting("jit_above_cost").map_or_else(
        || "jit_above_cost is at its default (100000)".to_owned(),
        |v| format!("jit_above_cost is {v}"),
    );
    vec![ctx.tip(
        ID,
        Severity::Warning,
        0,
        format!(
            "JIT compiled {} function(s) in {} of a {} execution: the query is too small to \
             profit. SET jit = off for this workload, or raise jit_above_cost ({above}).",
            jit.functions.unwrap_or(0),
            fmt::duration_ms(jit_ms),
            fmt::duration_ms(exec)
        ),
    )]
}
