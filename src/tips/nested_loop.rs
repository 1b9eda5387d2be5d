//! `nested-loop-inner`: a Nested Loop whose inner side ran many times. Each loop is cheap, but
//! thousands add up; it often follows an underestimate of the outer side. When the inner side
//! already is a Memoize, the tip reports its hit ratio instead of suggesting one.

use super::{Ctx, Severity, Tip};
use crate::report::fmt;

pub const ID: &str = "nested-loop-inner";

pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Tip> {
    let mut out = Vec::new();
    for r in ctx.nodes {
        if r.node.node_type != "Nested Loop" {
            continue;
        }
        let kids: Vec<_> = ctx
            .index
            .children(r.id)
            .iter()
            .map(|c| &ctx.nodes[*c])
            .collect();
        let inner = kids
            .iter()
            .find(|c| c.node.parent_relationship.as_deref() == Some("Inner"))
            .or_else(|| kids.get(1));
        let outer = kids
            .iter()
            .find(|c| c.node.parent_relationship.as_deref() == Some("Outer"))
            .or_else(|| kids.first());
        let Some(inner) = inner else { continue };
        let Some(loops) = inner
            .node
            .actual_loops
            .filter(|l| *l > ctx.t.nested_loop_inner_loops)
        else {
            continue;
        };
        let outer_note = outer
            .and_then(|o| ctx.facts.estimate(o.id))
            .map(|e| {
                format!(
                    " The outer side was estimated at {} rows and produced {}.",
                    fmt::count(e.estimated_rows),
                    fmt::count(e.actual_rows)
                )
            })
            .unwrap_or_default();
        // An inner Memoize already caches repeated lookups: report how well, not suggest it.
        let inner_memoize = matches!(inner.node.node_type.as_str(), "Memoize" | "Result Cache");
        let memoize = if inner_memoize {
            let ratio = ctx
                .facts
                .memoize
                .iter()
                .find(|m| m.node == inner.id)
                .and_then(|m| Some((m.hits?, m.misses?, m.hit_ratio()?)));
            match ratio {
                Some((hits, misses, ratio)) => format!(
                    " The inner Memoize answered {} of {} lookups from its cache ({:.0}% hits).",
                    fmt::count_u64(hits),
                    fmt::count_u64(hits.saturating_add(misses)),
                    ratio * 100.0
                ),
                None => String::new(),
            }
        } else {
            String::new()
        };
        let alternatives = if inner_memoize {
            "a Hash Join or Merge Join may be cheaper"
        } else {
            "a Hash Join or Merge Join may be cheaper, or a Memoize node if the inner lookups repeat"
        };
        out.push(ctx.tip(
            ID,
            Severity::Info,
            r.id,
            format!(
                "the inner side ({}) ran {loops} times: {alternatives}.{memoize}{outer_note}",
                ctx.index.describe(inner.id)
            ),
        ));
    }
    out
}
