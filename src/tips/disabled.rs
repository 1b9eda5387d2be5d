//! `disabled-node`: PostgreSQL 18 marks a node `"Disabled": true` when an `enable_*` setting
//! (e.g. `enable_seqscan = off`) forbade its kind and the planner used it anyway, having no
//! alternative. The plan was forced off the planner's own choice, so it says little about what
//! runs by default.

use super::{Ctx, Severity, Tip};

pub const ID: &str = "disabled-node";

pub(crate) fn check(ctx: &Ctx<'_>) -> Vec<Tip> {
    let off: Vec<String> = ctx
        .facts
        .settings
        .iter()
        .filter(|s| s.name.starts_with("enable_") && s.value == "off")
        .map(|s| format!("{} = off", s.name))
        .collect();
    let settings = if off.is_empty() {
        "an enable_* setting, e.g. enable_seqscan = off".to_owned()
    } else {
        format!("the plan's settings: {}", off.join(", "))
    };
    ctx.facts
        .disabled_nodes
        .iter()
        .map(|&id| {
            ctx.tip(
                ID,
                Severity::Warning,
                id,
                format!(
                    "the planner was forced off its choice: this node's kind is disabled \
                     ({settings}) and was used only because no alternative existed. The plan is \
                     not the one the planner picks by default; check it with the enable_* \
                     settings reset."
                ),
            )
        })
        .collect()
}
