//! Derived facts: everything expectations and tips ask about a plan, computed once. Built on
//! `describe` (node kinds, scan kinds), which does not depend on this module.
//!
//! Decisions worth knowing:
//! - Totals (buffers) come from the root node: PostgreSQL's per-node buffer counters are inclusive
//!   of children and of sub-plans run inside the node, so summing nodes would double count.
//! - Row estimates: see [`super::estimate`] — q-errors only as far as the plan proves them
//!   (rounded per-loop rows are intervals; nodes that stop early or count no rows are left out,
//!   with the reason).
//! - Partitions scanned: the partitions of a table whose scan node ran (loops > 0). Plan-time
//!   pruned partitions never appear; run-time pruned ones either vanish into "Subplans Removed"
//!   (pruning at executor start-up) or show as never executed (pruning per execution, e.g. by an
//!   InitPlan value): both are thus not counted as scanned.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use serde_json::Value;

use super::describe::{ScanKind, is_known_node_type, node_kinds, scan_kind};
use super::estimate::Estimate;
use super::model::{Buffers, Plan, PlanNode};
use super::partition::PartitionMap;

/// One node that reads a relation.
#[derive(Debug, Clone, Serialize)]
pub struct ScanFact {
    /// Id of the scan node (preorder position in the plan).
    pub node: usize,
    /// The relation the node names (a partition, or the table itself).
    pub relation: String,
    /// The table facts are keyed by (the partition's parent, or `relation`).
    pub table: String,
    /// How the node reads the relation.
    pub kind: ScanKind,
    /// Indexes as printed (for bitmap scans: every Bitmap Index Scan below the heap scan).
    pub indexes: Vec<String>,
    /// The same indexes resolved through the partition map (partition index → parent index).
    pub parent_indexes: Vec<String>,
    /// `Some(loops > 0)` with ANALYZE data, `None` without.
    pub executed: Option<bool>,
}

/// What the plan does with one table (partitions folded into their parent).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RelationFacts {
    /// Every kind of scan the plan uses on this table.
    pub scan_kinds: BTreeSet<ScanKind>,
    /// Indexes used, resolved to the parent index where the map knows it.
    pub indexes: BTreeSet<String>,
    /// Scan node ids.
    pub nodes: Vec<usize>,
    /// Partitions that appear in the plan (after plan-time and start-up pruning).
    pub partitions_in_plan: BTreeSet<String>,
    /// Partitions whose scan actually ran (ANALYZE only).
    pub partitions_scanned: BTreeSet<String>,
    /// "Subplans Removed" of Append/MergeAppend nodes over this table's partitions.
    pub subplans_removed: u64,
    /// Heap fetches of index-only scans of this table (ANALYZE only).
    pub heap_fetches: f64,
}

/// A per-node number (e.g. heap fetches).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NodeValue {
    /// Id of the node the value belongs to.
    pub node: usize,
    /// The node's value (ANALYZE data).
    pub value: f64,
}

/// A distributed scan (Citus `Custom Scan` with a `Distributed Query`): how many tasks it ran
/// and how many of their plans EXPLAIN shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskFacts {
    /// Id of the Custom Scan node.
    pub node: usize,
    /// `Custom Plan Provider`: `Citus Adaptive`, or `Citus Real-Time` / `Citus Task-Tracker` in
    /// old versions.
    pub provider: Option<String>,
    /// `Task Count`: tasks the job ran (1 for a router query).
    pub task_count: Option<u64>,
    /// `Tasks Shown`: `All`, `One of 16`, or `None, not supported for re-partition queries`.
    pub tasks_shown: Option<String>,
    /// Task and subplan plans the plan carries (walked as children of the node).
    pub remote_plans: usize,
    /// Distributed subplans (CTEs and subqueries Citus runs first).
    pub subplans: usize,
    /// Root node ids of the task plans shown (the remote plans after the subplans).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub task_roots: Vec<usize>,
}

impl TaskFacts {
    fn of(id: usize, n: &PlanNode) -> Option<TaskFacts> {
        let Some(dq) = n.extra.get("Distributed Query") else {
            // A Citus Custom Scan that prints no job (e.g. `Citus INSERT ... SELECT`) is
            // distributed too; its task count is unknown.
            return (n.node_type == "Custom Scan"
                && n.custom_plan_provider
                    .as_deref()
                    .is_some_and(|p| p.starts_with("Citus")))
            .then(|| TaskFacts {
                node: id,
                provider: n.custom_plan_provider.clone(),
                task_count: None,
                tasks_shown: None,
                remote_plans: n.remote.len(),
                subplans: 0,
                task_roots: Vec::new(),
            });
        };
        let job = dq.get("Job");
        Some(TaskFacts {
            node: id,
            provider: n.custom_plan_provider.clone(),
            task_count: job
                .and_then(|j| j.get("Task Count"))
                .and_then(serde_json::Value::as_u64),
            tasks_shown: job
                .and_then(|j| j.get("Tasks Shown"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
            remote_plans: n.remote.len(),
            subplans: dq
                .get("Subplans")
                .and_then(serde_json::Value::as_array)
                .map_or(0, Vec::len),
            task_roots: Vec::new(),
        })
    }

    /// Task plans shown: the remote plans that are not distributed subplans.
    pub fn tasks_in_plan(&self) -> usize {
        self.remote_plans.saturating_sub(self.subplans)
    }

    /// Whether EXPLAIN shows the plan of every task this job ran: `Tasks Shown: All`, or as
    /// many task plans as `Task Count`. False for `One of 32` (`citus.explain_all_tasks` off),
    /// for re-partition jobs (no task plans) and when the count is not printed.
    pub fn all_tasks_shown(&self) -> bool {
        self.tasks_shown.as_deref() == Some("All")
            || self
                .task_count
                .is_some_and(|c| c == self.tasks_in_plan() as u64)
    }
}

/// A Foreign Scan and what it sent to the remote server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignScanFacts {
    /// Id of the Foreign Scan node.
    pub node: usize,
    /// The foreign table, when the scan reads one (absent for a pushed-down join).
    pub relation: Option<String>,
    /// `Relations` (PG 14+): the foreign tables of a pushed-down join or aggregate, e.g.
    /// `(public.ft1 r1) INNER JOIN (public.ft2 r2)`.
    pub relations: Option<String>,
    /// `Remote SQL` (`VERBOSE`): the query the remote server ran.
    pub remote_sql: Option<String>,
    /// `Operation` of a foreign modification pushed down whole (`Update`, `Delete`, `Insert`).
    pub operation: Option<String>,
}

/// A text key the model keeps in `extra`.
fn text_key(n: &PlanNode, key: &str) -> Option<String> {
    n.extra
        .get(key)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
}

/// A Citus shard's base name: `lineitem_360000` → `lineitem`, `lineitem_pkey_360000` →
/// `lineitem_pkey`, a partition's shard `appointment_y2026m01_102040` → `appointment_y2026m01`
/// (Citus appends `_<shard id>` to tables, partitions and their indexes).
pub(crate) fn shard_base(name: &str) -> &str {
    match name.rsplit_once('_') {
        Some((base, id))
            if !base.is_empty() && !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) =>
        {
            base
        }
        _ => name,
    }
}

/// The table, partition or index a Citus shard stands for: `shard_base`, or, for a name Citus
/// shortened with a hash (`..._sta_dff9a99a_102051`), the catalog map's name that shortens to it.
fn unshard(name: &str, partitions: &PartitionMap) -> String {
    let base = shard_base(name);
    if partitions.is_catalog() && !partitions.knows(base) {
        if let Some(id) = super::shard::shard_id(name) {
            if let Some(full) = partitions
                .names()
                .find(|c| super::shard::shard_name(c, id) == name)
            {
                return full.to_owned();
            }
        }
    }
    base.to_owned()
}

/// What kind of work went to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpillKind {
    /// Sort or Incremental Sort on disk (external sort).
    Sort,
    /// Hash table split into batches (Hash Batches > 1).
    Hash,
    /// Hash aggregate spilled partitions (PG13+).
    HashAgg,
    /// Any other node writing temp files (tuplestores, CTEs, ...).
    TempFiles,
}

/// Work that did not fit in `work_mem`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spill {
    /// Id of the node that spilled.
    pub node: usize,
    /// What spilled (sort, hash, ...).
    pub kind: SpillKind,
    /// What PostgreSQL reported, e.g. "external merge, 23040 kB on disk" or "128 batches".
    pub detail: String,
    /// kB on disk when PostgreSQL reports it (sort space, hash aggregate disk usage).
    pub disk_kb: Option<u64>,
    /// Temp blocks written by this node itself (exclusive of its children).
    pub temp_written_blocks: u64,
}

/// JIT compilation summary of an EXPLAIN ANALYZE run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JitFacts {
    /// Number of functions compiled; `None` when the plan does not say.
    pub functions: Option<u64>,
    /// Total JIT time in milliseconds (generation, inlining, optimisation, emission); `None` when not reported.
    pub total_ms: Option<f64>,
}

/// Workers of one Gather or Gather Merge node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WorkersFact {
    /// Id of the Gather / Gather Merge node.
    pub node: usize,
    /// `Workers Planned`: workers the planner chose.
    pub planned: Option<u64>,
    /// `Workers Launched`: workers actually started (ANALYZE only).
    pub launched: Option<u64>,
}

impl WorkersFact {
    /// Whether fewer workers started than were planned (ANALYZE only).
    pub fn short(&self) -> bool {
        matches!((self.planned, self.launched), (Some(p), Some(l)) if l < p)
    }
}

/// The cache of one Memoize node (PG14 called it Result Cache); counters need ANALYZE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoizeFact {
    /// Id of the Memoize node.
    pub node: usize,
    /// `Cache Key`: the parameters the cache is keyed on, e.g. `t2.twenty`.
    pub cache_key: Option<String>,
    /// `Cache Hits`: lookups answered from the cache.
    pub hits: Option<u64>,
    /// `Cache Misses`: lookups that ran the inner side.
    pub misses: Option<u64>,
    /// `Cache Evictions`: entries evicted to stay within the memory limit.
    pub evictions: Option<u64>,
    /// `Cache Overflows`: lookups whose result did not fit in the cache at all.
    pub overflows: Option<u64>,
}

impl MemoizeFact {
    /// Hits over hits + misses, when both were printed and there was a lookup.
    pub fn hit_ratio(&self) -> Option<f64> {
        let (h, m) = (self.hits?, self.misses?);
        let total = h.saturating_add(m);
        (total > 0).then(|| h as f64 / total as f64)
    }
}

/// WAL generated by the statement (`EXPLAIN (ANALYZE, WAL)`, PG13+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WalFacts {
    /// Id of the node the totals are read from (the root, or the top ModifyTable).
    pub node: usize,
    /// `WAL Records`.
    pub records: Option<u64>,
    /// `WAL FPI`: full-page images.
    pub fpi: Option<u64>,
    /// `WAL Bytes`.
    pub bytes: Option<u64>,
    /// `WAL Buffers Full` (PG18): times the WAL buffers filled and had to be written out.
    pub buffers_full: Option<u64>,
}

/// One non-default setting from the plan's "Settings" section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// The GUC name, e.g. `work_mem`.
    pub name: String,
    /// Its value as EXPLAIN printed it, e.g. `64MB`.
    pub value: String,
}

/// Everything derived from one plan. Serialisable for the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    /// Whether the plan had EXPLAIN ANALYZE data at all.
    pub analyzed: bool,
    /// Number of nodes in the plan.
    pub node_count: usize,
    /// Keyed by table (partitions folded into their parent).
    pub relations: BTreeMap<String, RelationFacts>,
    /// Every scan node, in node order.
    pub scans: Vec<ScanFact>,
    /// kebab-case kind → node ids (see `node_kinds`).
    pub node_kinds: BTreeMap<String, Vec<usize>>,
    /// Total heap fetches; `None` without ANALYZE.
    pub heap_fetches: Option<f64>,
    /// Per-node heap fetches of index-only scans (ANALYZE only), in node order.
    pub heap_fetches_by_node: Vec<NodeValue>,
    /// Every executed node's estimate (ANALYZE only), in node order; those not compared carry
    /// `q_error: None` and the reason.
    pub estimates: Vec<Estimate>,
    /// The estimate with the highest q-error; `None` without ANALYZE or comparable nodes.
    pub worst_estimate: Option<Estimate>,
    /// Root node's (inclusive) buffers.
    pub buffers: Buffers,
    /// Buffers used while planning; `None` when EXPLAIN did not report them.
    pub planning_buffers: Option<Buffers>,
    /// Nodes that spilled to disk, in node order.
    pub spills: Vec<Spill>,
    /// Lossy heap blocks of bitmap heap scans (their bitmap exceeded `work_mem`), summed over nodes.
    pub lossy_heap_blocks: u64,
    /// Nodes with lossy heap blocks.
    pub lossy_nodes: Vec<usize>,
    /// Root actual rows × loops.
    pub result_rows: Option<f64>,
    /// Planning time in milliseconds; `None` when not reported.
    pub planning_time_ms: Option<f64>,
    /// Execution time in milliseconds; `None` without ANALYZE.
    pub execution_time_ms: Option<f64>,
    /// Time spent in triggers in milliseconds, summed; `None` when the plan reports no trigger times.
    pub trigger_time_ms: Option<f64>,
    /// JIT summary; `None` when JIT did not run.
    pub jit: Option<JitFacts>,
    /// Nodes that never ran (ANALYZE only).
    pub never_executed: Vec<usize>,
    /// Nodes whose actual counts may be cut short by a parent (not compared with estimates).
    pub early_stop_nodes: Vec<usize>,
    /// "Subplans Removed" that could not be tied to one table (e.g. every subplan removed).
    pub unattributed_subplans_removed: u64,
    /// Distributed scans (Citus Custom Scans) and their tasks, in node order.
    pub tasks: Vec<TaskFacts>,
    /// Foreign Scans: what was pushed to the remote server.
    pub foreign_scans: Vec<ForeignScanFacts>,
    /// Nodes of plans that ran on other servers (Citus task and subplan plans), which every
    /// expectation sees like the coordinator's own.
    pub remote_nodes: Vec<usize>,
    /// Buffers of the plans that ran elsewhere (Citus task and subplan plans), summed over their
    /// root nodes: the coordinator's root counts only its own. `None` without such plans or when
    /// none of them printed buffers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_buffers: Option<Buffers>,
    /// Planned vs launched workers of every Gather / Gather Merge, in node order.
    pub workers: Vec<WorkersFact>,
    /// Every Memoize (Result Cache) node's cache, in node order.
    pub memoize: Vec<MemoizeFact>,
    /// WAL totals; `None` unless the plan was taken with `WAL`.
    pub wal: Option<WalFacts>,
    /// The plan's non-default settings (`SETTINGS`), in the order printed.
    pub settings: Vec<Setting>,
    /// PG18 `Index Searches` (index descents, total over loops) per index scan, in node order.
    pub index_searches: Vec<NodeValue>,
    /// PG18 nodes printed with `"Disabled": true` (an `enable_*` setting forbade them, yet the
    /// planner had no other choice).
    pub disabled_nodes: Vec<usize>,
    /// Nodes whose "Node Type" PostgreSQL never prints (see `KNOWN_NODE_TYPES`), in node order.
    pub unknown_nodes: Vec<usize>,
    /// auto_explain's top-level "Query Text", when the plan carries it.
    pub query_text: Option<String>,
}

impl Facts {
    /// Computes the facts of `plan`, folding partitions into parents with `partitions`.
    pub fn compute(plan: &Plan, partitions: &PartitionMap) -> Facts {
        let nodes = plan.nodes();
        let analyzed = nodes.iter().any(|r| r.node.has_actuals());
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
        for r in &nodes {
            if let Some(p) = r.parent {
                children[p].push(r.id);
            }
        }

        let (estimates, early_stop_nodes) = super::estimate::estimates(&nodes, &children);
        // Nodes of plans that ran on other servers (Citus tasks), parents before children.
        let mut remote = vec![false; nodes.len()];
        for r in &nodes {
            remote[r.id] = r.node.parent_relationship.as_deref() == Some("Remote")
                || r.parent.is_some_and(|p| remote[p]);
        }

        let mut f = Facts {
            analyzed,
            node_count: nodes.len(),
            relations: BTreeMap::new(),
            scans: Vec::new(),
            node_kinds: BTreeMap::new(),
            heap_fetches: None,
            heap_fetches_by_node: Vec::new(),
            estimates,
            worst_estimate: None,
            buffers: plan.root.buffers.clone(),
            planning_buffers: plan.planning.as_ref().map(|p| p.buffers.clone()),
            spills: Vec::new(),
            lossy_heap_blocks: 0,
            lossy_nodes: Vec::new(),
            result_rows: plan.root.total_actual_rows(),
            planning_time_ms: plan.planning_time,
            execution_time_ms: plan.execution_time,
            trigger_time_ms: plan.trigger_time(),
            jit: plan.jit.as_ref().map(|j| JitFacts {
                functions: j.functions,
                total_ms: j.total_time(),
            }),
            never_executed: Vec::new(),
            early_stop_nodes,
            unattributed_subplans_removed: 0,
            tasks: Vec::new(),
            foreign_scans: Vec::new(),
            remote_nodes: Vec::new(),
            remote_buffers: None,
            workers: Vec::new(),
            memoize: Vec::new(),
            wal: None,
            settings: Vec::new(),
            index_searches: Vec::new(),
            disabled_nodes: Vec::new(),
            unknown_nodes: Vec::new(),
            query_text: None,
        };

        let mut total_heap_fetches = 0.0;
        for r in &nodes {
            let n = r.node;
            for k in node_kinds(n) {
                f.node_kinds.entry(k).or_default().push(r.id);
            }
            if analyzed && n.never_executed() {
                f.never_executed.push(r.id);
            }
            if let Some(kind) = scan_kind(n) {
                let relation = n.relation_name.clone().unwrap_or_default();
                // A shard (`lineitem_360000`) stands for its table, its index
                // (`lineitem_pkey_360000`) for the table's index.
                let shard = |name: &str| {
                    if remote[r.id] {
                        unshard(name, partitions)
                    } else {
                        name.to_owned()
                    }
                };
                let local = shard(&relation);
                let table = partitions.root_of(&local);
                let indexes = scan_indexes(r.id, &nodes, &children);
                let parent_indexes: Vec<String> = indexes
                    .iter()
                    .map(|i| partitions.parent_index(&shard(i)))
                    .collect();
                let executed = analyzed.then(|| n.actual_loops.unwrap_or(0) > 0);
                let rf = f.relations.entry(table.clone()).or_default();
                rf.scan_kinds.insert(kind);
                rf.indexes.extend(parent_indexes.iter().cloned());
                rf.nodes.push(r.id);
                if local != table {
                    rf.partitions_in_plan.insert(local.clone());
                    if executed == Some(true) {
                        rf.partitions_scanned.insert(local.clone());
                    }
                }
                if let Some(h) = n.heap_fetches.filter(|_| analyzed) {
                    rf.heap_fetches += h;
                }
                f.scans.push(ScanFact {
                    node: r.id,
                    relation,
                    table,
                    kind,
                    indexes,
                    parent_indexes,
                    executed,
                });
            }
            if let Some(mut t) = TaskFacts::of(r.id, n) {
                // Children are `plans`, then the remote plans: subplans first, then tasks.
                t.task_roots = children[r.id]
                    .iter()
                    .skip(n.plans.len() + t.subplans)
                    .copied()
                    .collect();
                f.tasks.push(t);
            }
            if n.node_type == "Foreign Scan" {
                f.foreign_scans.push(ForeignScanFacts {
                    node: r.id,
                    relation: n.relation_name.clone(),
                    relations: text_key(n, "Relations"),
                    remote_sql: text_key(n, "Remote SQL"),
                    operation: n.operation.clone(),
                });
            }
            if remote[r.id] {
                f.remote_nodes.push(r.id);
            }
            if n.parent_relationship.as_deref() == Some("Remote") && n.buffers.is_present() {
                let sum = f.remote_buffers.get_or_insert_with(Buffers::default);
                add_buffers(sum, &n.buffers);
            }
            if analyzed {
                if let Some(h) = n.heap_fetches {
                    total_heap_fetches += h;
                    f.heap_fetches_by_node.push(NodeValue {
                        node: r.id,
                        value: h,
                    });
                }
            }
            if let Some(l) = n.lossy_heap_blocks.filter(|l| *l > 0) {
                f.lossy_heap_blocks = f.lossy_heap_blocks.saturating_add(l);
                f.lossy_nodes.push(r.id);
            }
        }
        if analyzed {
            f.heap_fetches = Some(total_heap_fetches);
        }
        f.worst_estimate = f
            .estimates
            .iter()
            .copied()
            .filter(|e| e.q_error.is_some())
            .fold(None, |best: Option<Estimate>, e| match best {
                Some(b) if b.q_error >= e.q_error => Some(b),
                _ => Some(e),
            });
        f.attribute_subplans_removed(&nodes, &children);
        f.spills = spills(&nodes, &children);
        f.surface(plan, &nodes);
        f
    }

    /// Facts read straight off nodes and statement keys: workers, Memoize caches, WAL,
    /// settings, index searches, disabled and unknown nodes, the query text.
    fn surface(&mut self, plan: &Plan, nodes: &[super::NodeRef<'_>]) {
        let u64_of = |n: &PlanNode, k: &str| n.extra.get(k).and_then(super::lenient::value_u64);
        for r in nodes {
            let n = r.node;
            if matches!(n.node_type.as_str(), "Gather" | "Gather Merge") {
                self.workers.push(WorkersFact {
                    node: r.id,
                    planned: n.workers_planned,
                    launched: n.workers_launched,
                });
            }
            if matches!(n.node_type.as_str(), "Memoize" | "Result Cache") {
                self.memoize.push(MemoizeFact {
                    node: r.id,
                    cache_key: n
                        .extra
                        .get("Cache Key")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    hits: u64_of(n, "Cache Hits"),
                    misses: u64_of(n, "Cache Misses"),
                    evictions: u64_of(n, "Cache Evictions"),
                    overflows: u64_of(n, "Cache Overflows"),
                });
            }
            if let Some(v) = n.index_searches {
                self.index_searches.push(NodeValue {
                    node: r.id,
                    value: v,
                });
            }
            if n.extra.get("Disabled") == Some(&Value::Bool(true)) {
                self.disabled_nodes.push(r.id);
            }
            if !is_known_node_type(&n.node_type) {
                self.unknown_nodes.push(r.id);
            }
        }
        // WAL counters are inclusive like buffers: the root's, else the topmost ModifyTable's.
        self.wal = nodes
            .iter()
            .filter(|r| r.id == 0 || r.node.node_type == "ModifyTable")
            .find(|r| r.node.extra.contains_key("WAL Records"))
            .map(|r| WalFacts {
                node: r.id,
                records: u64_of(r.node, "WAL Records"),
                fpi: u64_of(r.node, "WAL FPI"),
                bytes: u64_of(r.node, "WAL Bytes"),
                buffers_full: u64_of(r.node, "WAL Buffers Full"),
            });
        self.settings = plan
            .settings
            .iter()
            .flatten()
            .map(|(name, v)| Setting {
                name: name.clone(),
                value: v.as_str().map_or_else(|| v.to_string(), str::to_owned),
            })
            .collect();
        self.query_text = plan
            .extra
            .get("Query Text")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }

    /// Ties each Append/MergeAppend's "Subplans Removed" to the table its members scan.
    fn attribute_subplans_removed(
        &mut self,
        nodes: &[super::NodeRef<'_>],
        children: &[Vec<usize>],
    ) {
        for r in nodes {
            let Some(removed) = r.node.subplans_removed.filter(|s| *s > 0) else {
                continue;
            };
            let mut tables = BTreeSet::new();
            let mut stack = children[r.id].clone();
            while let Some(c) = stack.pop() {
                if let Some(s) = self.scan(c) {
                    tables.insert(s.table.clone());
                }
                stack.extend(children[c].iter().copied());
            }
            // Only tables whose scans in the plan are partitions can have removed subplans.
            let partitioned: Vec<String> = tables
                .into_iter()
                .filter(|t| {
                    self.relations
                        .get(t)
                        .is_some_and(|rf| !rf.partitions_in_plan.is_empty())
                })
                .collect();
            if partitioned.is_empty() {
                self.unattributed_subplans_removed =
                    self.unattributed_subplans_removed.saturating_add(removed);
            }
            for t in partitioned {
                if let Some(rf) = self.relations.get_mut(&t) {
                    rf.subplans_removed = rf.subplans_removed.saturating_add(removed);
                }
            }
        }
    }

    /// Whether the plan is distributed: it has a Citus Custom Scan.
    pub fn distributed(&self) -> bool {
        !self.tasks.is_empty()
    }

    /// Whether some task's plan is not in the plan (`Tasks Shown: One of 32`, a re-partition
    /// job, or a Citus scan that prints no job): what those tasks did cannot be seen, so a check
    /// over the whole plan cannot pass on the tasks shown.
    pub fn tasks_hidden(&self) -> bool {
        self.tasks.iter().any(|t| !t.all_tasks_shown())
    }

    /// Buffers of the whole statement: the root's, plus those of the plans that ran elsewhere
    /// (Citus tasks and subplans), which the coordinator's root does not include.
    pub fn total_buffers(&self) -> Buffers {
        let mut b = self.buffers.clone();
        if let Some(r) = &self.remote_buffers {
            add_buffers(&mut b, r);
        }
        b
    }

    /// The facts of one table (already resolved to the parent).
    pub fn relation(&self, table: &str) -> Option<&RelationFacts> {
        self.relations.get(super::partition::bare(table))
    }

    /// The estimate of node `id`, when it was compared. Binary search: `estimates` is in node
    /// order.
    pub fn estimate(&self, id: usize) -> Option<&Estimate> {
        let i = self.estimates.binary_search_by_key(&id, |e| e.node).ok()?;
        self.estimates.get(i).filter(|e| e.q_error.is_some())
    }

    /// The scan fact of node `id`, when it scans a relation. Binary search: `scans` is in node
    /// order.
    pub fn scan(&self, id: usize) -> Option<&ScanFact> {
        let i = self.scans.binary_search_by_key(&id, |s| s.node).ok()?;
        self.scans.get(i)
    }
}

/// Adds the block counters of `b` to `sum` (a counter absent from both stays absent).
fn add_buffers(sum: &mut Buffers, b: &Buffers) {
    let add = |s: &mut Option<u64>, v: Option<u64>| {
        if let Some(v) = v {
            *s = Some(s.unwrap_or(0).saturating_add(v));
        }
    };
    add(&mut sum.shared_hit, b.shared_hit);
    add(&mut sum.shared_read, b.shared_read);
    add(&mut sum.shared_dirtied, b.shared_dirtied);
    add(&mut sum.shared_written, b.shared_written);
    add(&mut sum.local_hit, b.local_hit);
    add(&mut sum.local_read, b.local_read);
    add(&mut sum.local_dirtied, b.local_dirtied);
    add(&mut sum.local_written, b.local_written);
    add(&mut sum.temp_read, b.temp_read);
    add(&mut sum.temp_written, b.temp_written);
}

/// Index names a scan node uses: its own "Index Name", or for a Bitmap Heap Scan every Bitmap
/// Index Scan below it (through BitmapAnd/BitmapOr).
fn scan_indexes(id: usize, nodes: &[super::NodeRef<'_>], children: &[Vec<usize>]) -> Vec<String> {
    let n = nodes[id].node;
    if n.node_type != "Bitmap Heap Scan" {
        return n.index_name.iter().cloned().collect();
    }
    let mut out = Vec::new();
    let mut stack = children[id].clone();
    while let Some(c) = stack.pop() {
        let cn = nodes[c].node;
        match cn.node_type.as_str() {
            "Bitmap Index Scan" => out.extend(cn.index_name.iter().cloned()),
            "BitmapAnd" | "BitmapOr" => stack.extend(children[c].iter().copied()),
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Finds every node that spilled to disk.
fn spills(nodes: &[super::NodeRef<'_>], children: &[Vec<usize>]) -> Vec<Spill> {
    let exclusive_temp = |id: usize| -> u64 {
        let own = nodes[id].node.buffers.temp_written.unwrap_or(0);
        let kids = children[id]
            .iter()
            .map(|c| nodes[*c].node.buffers.temp_written.unwrap_or(0))
            .fold(0u64, u64::saturating_add);
        own.saturating_sub(kids)
    };
    let mut out: Vec<Spill> = Vec::new();
    for r in nodes {
        let n = r.node;
        let temp = exclusive_temp(r.id);
        let sort_on_disk = |method: Option<&str>, space_type: Option<&str>| {
            space_type == Some("Disk") || method.is_some_and(|m| m.contains("external"))
        };
        let spill = if sort_on_disk(n.sort_method.as_deref(), n.sort_space_type.as_deref())
            || n.workers
                .iter()
                .any(|w| sort_on_disk(w.sort_method.as_deref(), w.sort_space_type.as_deref()))
        {
            let disk_kb = (n.sort_space_type.as_deref() == Some("Disk"))
                .then_some(n.sort_space_used)
                .flatten();
            Some(Spill {
                node: r.id,
                kind: SpillKind::Sort,
                detail: format!(
                    "{}{}",
                    n.sort_method.as_deref().unwrap_or("sort"),
                    disk_kb
                        .map(|k| format!(", {k} kB on disk"))
                        .unwrap_or_default()
                ),
                disk_kb,
                temp_written_blocks: temp,
            })
        } else if let Some(peak) = incremental_sort_disk(n) {
            Some(Spill {
                node: r.id,
                kind: SpillKind::Sort,
                detail: format!("incremental sort groups on disk, peak {peak} kB"),
                disk_kb: Some(peak),
                temp_written_blocks: temp,
            })
        } else if n.hash_batches.unwrap_or(0) > 1 || n.original_hash_batches.unwrap_or(0) > 1 {
            // The Hash Join above writes the outer side's batch files: count them here.
            let join_temp = r
                .parent
                .filter(|p| nodes[*p].node.node_type == "Hash Join")
                .map_or(0, exclusive_temp);
            Some(Spill {
                node: r.id,
                kind: SpillKind::Hash,
                detail: format!("{} batches", n.hash_batches.unwrap_or(0)),
                disk_kb: None,
                temp_written_blocks: temp.saturating_add(join_temp),
            })
        } else if n.hashagg_batches.unwrap_or(0) > 1 || n.disk_usage.unwrap_or(0) > 0 {
            Some(Spill {
                node: r.id,
                kind: SpillKind::HashAgg,
                detail: format!(
                    "{} batches, {} kB on disk",
                    n.hashagg_batches.unwrap_or(0),
                    n.disk_usage.unwrap_or(0)
                ),
                disk_kb: n.disk_usage,
                temp_written_blocks: temp,
            })
        } else if temp > 0 && !is_join_over_batched_hash(r.id, nodes, children) {
            Some(Spill {
                node: r.id,
                kind: SpillKind::TempFiles,
                detail: format!("{temp} temp blocks written"),
                disk_kb: None,
                temp_written_blocks: temp,
            })
        } else {
            None
        };
        out.extend(spill);
    }
    out
}

fn is_join_over_batched_hash(
    id: usize,
    nodes: &[super::NodeRef<'_>],
    children: &[Vec<usize>],
) -> bool {
    nodes[id].node.node_type == "Hash Join"
        && children[id].iter().any(|c| {
            let h = nodes[*c].node;
            h.node_type == "Hash"
                && (h.hash_batches.unwrap_or(0) > 1 || h.original_hash_batches.unwrap_or(0) > 1)
        })
}

/// Incremental Sort reports per group kind ("Full-sort Groups", "Pre-sorted Groups") and adds a
/// "Sort Space Disk" object when a group went to disk. Returns the peak kB on disk.
fn incremental_sort_disk(n: &PlanNode) -> Option<u64> {
    if n.node_type != "Incremental Sort" {
        return None;
    }
    ["Full-sort Groups", "Pre-sorted Groups"]
        .iter()
        .filter_map(|g| n.extra.get(*g)?.get("Sort Space Disk"))
        .filter_map(|d| {
            d.get("Peak Sort Space Used")
                .and_then(super::lenient::value_u64)
        })
        .max()
}
