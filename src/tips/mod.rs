//! Tips: advisory diagnostics any plan gets, whether or not its query declares expectations.
//! They never fail a check; they point at a node, say what was seen and what to do.
//!
//! Why it exists: expectations catch the regressions a query's author foresaw; tips catch the
//! classic problems nobody wrote an expectation for (a misestimate, a spill, a lossy bitmap).
//!
//! One rule per file (squawk-style), each with a kebab-case id. All thresholds live in
//! [`Thresholds`] so reports can print them and users can tune them in one place.

mod disabled;
mod filter_waste;
mod heap_fetches;
mod jit;
mod lossy_bitmap;
mod nested_loop;
mod planning;
mod row_estimate;
mod seq_scan;
mod spill;
#[cfg(test)]
mod tests;
mod unknown_node;
mod workers;

use serde::Serialize;

use crate::plan::{Facts, NodeRef, Plan, PlanIndex};

/// How much a tip matters. Neither fails a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look, below the rule's warning threshold.
    Info,
    /// Past the rule's warning threshold: likely costing time now or at scale.
    Warning,
}

/// One piece of advice about one node (plan-level tips point at the root, node 0).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tip {
    /// Rule id, kebab case (`row-estimate`, `sort-spill`, ...).
    pub id: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// Preorder id of the node it is about (0 = root).
    pub node: usize,
    /// The node described for humans, e.g. `Seq Scan on big (#1)`.
    pub location: String,
    /// What was seen and what to do.
    pub message: String,
}

/// Every tip threshold, with documented defaults.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Thresholds {
    /// Row estimate off by at least this factor (q-error): info. Default 10.
    pub estimate_info: f64,
    /// ... at least this factor: warning. Default 100.
    pub estimate_warning: f64,
    /// ... at least this factor: warning, worded as severe. Default 1000.
    pub estimate_severe: f64,
    /// Filter discarding more than this share of the rows it read: info. Default 0.5.
    pub filter_info_ratio: f64,
    /// ... more than this share: warning. Default 0.9.
    pub filter_warning_ratio: f64,
    /// Filters reading fewer rows than this (× loops) get no tip: discarding 3 of 4 rows costs
    /// nothing. Default 1,000.
    pub filter_min_rows_read: f64,
    /// Heap fetches of an index-only scan at or above this share of its rows: warning (below:
    /// info). Default 0.1.
    pub heap_fetch_warning_ratio: f64,
    /// Seq Scan reading at least this many rows (× loops; estimated rows without ANALYZE): info.
    /// Default 10,000.
    pub seq_scan_rows: f64,
    /// Nested Loop whose inner side runs more than this many times: info. Default 1,000.
    pub nested_loop_inner_loops: u64,
    /// JIT on a query whose execution without JIT took less than this (ms): warning. Default 10.
    pub jit_max_execution_ms: f64,
    /// ... or whose JIT time is at least this share of its execution time: warning. Default 0.5.
    pub jit_max_share: f64,
    /// Planning time more than this multiple of execution time: info. Default 2.
    pub planning_ratio: f64,
    /// ... and more than this many ms (below it nobody cares). Default 0.1.
    pub planning_min_ms: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            estimate_info: 10.0,
            estimate_warning: 100.0,
            estimate_severe: 1000.0,
            filter_info_ratio: 0.5,
            filter_warning_ratio: 0.9,
            filter_min_rows_read: 1000.0,
            heap_fetch_warning_ratio: 0.1,
            seq_scan_rows: 10_000.0,
            nested_loop_inner_loops: 1000,
            jit_max_execution_ms: 10.0,
            jit_max_share: 0.5,
            planning_ratio: 2.0,
            planning_min_ms: 0.1,
        }
    }
}

/// What every rule gets.
pub(crate) struct Ctx<'a> {
    pub plan: &'a Plan,
    pub facts: &'a Facts,
    /// Node lookups (children, descriptions) in O(1).
    pub index: &'a PlanIndex<'a>,
    /// Every node in preorder, `index.nodes()`.
    pub nodes: &'a [NodeRef<'a>],
    pub t: &'a Thresholds,
}

impl Ctx<'_> {
    pub fn tip(&self, id: &'static str, severity: Severity, node: usize, message: String) -> Tip {
        Tip {
            id,
            severity,
            node,
            location: self.index.describe(node),
            message,
        }
    }

    /// `work_mem` as the plan's Settings show it (only printed when not the default).
    pub fn work_mem(&self) -> String {
        match self.plan.setting("work_mem") {
            Some(v) => format!("work_mem is {v}"),
            None => "work_mem is at its default (4MB unless the server sets it)".to_owned(),
        }
    }
}

/// Runs every rule; tips come sorted by node, then warnings first.
pub fn tips(plan: &Plan, facts: &Facts, thresholds: &Thresholds) -> Vec<Tip> {
    tips_in(&plan.index(), facts, thresholds)
}

/// [`tips`] on a plan's index, built once and shared with the other analysis stages.
pub fn tips_in(index: &PlanIndex<'_>, facts: &Facts, thresholds: &Thresholds) -> Vec<Tip> {
    let ctx = Ctx {
        plan: index.plan(),
        facts,
        index,
        nodes: index.nodes(),
        t: thresholds,
    };
    let rules: [fn(&Ctx<'_>) -> Vec<Tip>; 12] = [
        row_estimate::check,
        filter_waste::check,
        heap_fetches::check,
        lossy_bitmap::check,
        spill::check,
        seq_scan::check,
        nested_loop::check,
        jit::check,
        planning::check,
        unknown_node::check,
        workers::check,
        disabled::check,
    ];
    let mut out: Vec<Tip> = rules.iter().flat_map(|rule| rule(&ctx)).collect();
    out.sort_by(|a, b| {
        a.node
            .cmp(&b.node)
            .then(b.severity.cmp(&a.severity))
            .then(a.id.cmp(b.id))
    });
    out
}
