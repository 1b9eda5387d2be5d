//! `planning-heavy`: planning cost more than execution. Typical for short queries over many
//! partitions; a prepared statement (generic plan) or fewer partitions pays it once.

use super::{Ctx, Severity, Tip};
use crate::report::fmt;

pub const ID: &str = "planning-heavy";

pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Tip> {
    let (Some(plan_ms), Some(exec_ms)) = (ctx.plan.planning_time, ctx.plan.execution_time) else {
        return Vec::new();
    };
    if plan_ms <= ctx.t.planning_min_ms || plan_ms <= ctx.t.planning_ratio * exec_ms {
        return Vec::new();
    }
    let partitioned = ctx
        .facts
        .relations
        .values()
        .any(|r| !r.partitions_in_plan.is_empty());
    let part_note = if partitioned {
        " Planning a query on a partitioned table costs more with every partition the planner \
         considers: fewer (or coarser) partitions shorten it."
    } else {
        ""
    };
    vec![ctx.tip(
        ID,
        Severity::Info,
        0,
        format!(
            "planning took {}, {} the execution ({}): use a prepared statement so the plan \
             is reused (and check the expectations under plan_cache_mode = force_generic_plan).{part_note}",
            fmt::duration_ms(plan_ms),
            fmt::ratio(plan_ms / exec_ms.max(0.001)),
            fmt::duration_ms(exec_ms),
        ),
    )]
}
