//! `unknown-node-type`: a "Node Type" PostgreSQL never prints (e.g. "Nested Loop Join", "Parallel
//! Seq Scan"), typically from a tool that converted text-format EXPLAIN to JSON. Checks that
//! look for node kinds (`no hash-join`, scan kinds) may then miss the node, so `no KIND`
//! expectations on such a plan are undecided; this tip says why. One tip per distinct type, at
//! its first node.

use super::{Ctx, Severity, Tip};

pub const ID: &str = "unknown-node-type";

pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Tip> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for &id in &ctx.facts.unknown_nodes {
        let Some(r) = ctx.nodes.get(id) else { continue };
        let nt = r.node.node_type.as_str();
        if seen.contains(&nt) {
            continue;
        }
        seen.push(nt);
        let count = ctx
            .facts
            .unknown_nodes
            .iter()
            .filter(|i| ctx.nodes.get(**i).is_some_and(|n| n.node.node_type == nt))
            .count();
        let what = if nt.is_empty() {
            "a node without a \"Node Type\"".to_owned()
        } else {
            format!("node type \"{nt}\"")
        };
        let times = if count > 1 {
            format!(" ({count} nodes)")
        } else {
            String::new()
        };
        out.push(ctx.tip(
            ID,
            Severity::Warning,
            id,
            format!(
                "{what}{times} is not one PostgreSQL (9.6 to 18) prints: the plan was probably \
                 converted by a tool (e.g. from text-format EXPLAIN), so node-kind checks may miss \
                 this node and `no KIND` expectations are undecided. Capture the plan with \
                 EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON) instead."
            ),
        ));
    }
    out
}
