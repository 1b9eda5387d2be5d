//! `sort-spill`, `hash-spill`, `hashagg-spill`, `temp-spill`: work that did not fit in work_mem
//! and went to temp files. The amount comes from PostgreSQL's own figure (sort space, hash
//! aggregate disk usage) or else from temp blocks written × 8 kB (the default block size; EXPLAIN
//! does not print block_size).

use super::{Ctx, Severity, Tip};
use crate::plan::{SpillKind, node_keys};
use crate::report::fmt;

pub const SORT: &str = "sort-spill";
pub const HASH: &str = "hash-spill";
pub const HASHAGG: &str = "hashagg-spill";
pub const TEMP: &str = "temp-spill";

pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Tip> {
    let mut out = Vec::new();
    for s in &ctx.facts.spills {
        let kb = s
            .disk_kb
            .unwrap_or_else(|| s.temp_written_blocks.saturating_mul(8));
        let amount = fmt::bytes(kb as f64 * 1024.0);
        let on = ctx
            .index
            .node(s.node)
            .and_then(node_keys)
            .map(|k| format!(" on {k}"))
            .unwrap_or_default();
        let (id, what) = match s.kind {
            SpillKind::Sort => (
                SORT,
                format!(
                    "the sort{on} spilled to disk ({}; {amount} written)",
                    s.detail
                ),
            ),
            SpillKind::Hash => (
                HASH,
                format!(
                    "the hash table did not fit in memory and was split into {} ({amount} of temp files)",
                    s.detail
                ),
            ),
            SpillKind::HashAgg => (
                HASHAGG,
                format!("the hash aggregate{on} spilled to disk ({})", s.detail),
            ),
            SpillKind::TempFiles => (
                TEMP,
                format!("the node wrote {amount} of temp files ({})", s.detail),
            ),
        };
        out.push(ctx.tip(
            id,
            Severity::Warning,
            s.node,
            format!(
                "{what}. {}; raising it for this query (SET LOCAL work_mem, to well above {amount}) \
                 keeps the work in memory, or reduce the rows reaching this node.",
                ctx.work_mem()
            ),
        ));
    }
    out
}
