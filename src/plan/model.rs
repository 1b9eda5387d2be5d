//! The serde model of one `EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON)` document.
//!
//! Deserialisation goes through [`serde_json::Map`] and the helpers in `lenient`: each typed field
//! is taken out of the object only when it converts, the rest lands in `extra`. Serialisation is
//! derived, so a parsed plan serialises back to the same keys (numbers may change spelling, e.g.
//! `1` read into an `f64` is written as `1.0`).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::index::NodeCache;
use super::lenient::{
    take_bool, take_f64, take_i64, take_object, take_object_array, take_string, take_u64,
};

/// Buffer counters and I/O timings, as printed per node, per worker and for planning (PG13+).
///
/// All optional: they exist only with `BUFFERS` (and I/O timings only with `track_io_timing`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Buffers {
    /// `Shared Hit Blocks`: shared-buffer blocks found already in cache.
    #[serde(rename = "Shared Hit Blocks", skip_serializing_if = "Option::is_none")]
    pub shared_hit: Option<u64>,
    /// `Shared Read Blocks`: shared blocks read from the OS (disk or page cache).
    #[serde(rename = "Shared Read Blocks", skip_serializing_if = "Option::is_none")]
    pub shared_read: Option<u64>,
    /// `Shared Dirtied Blocks`: shared blocks this statement modified that were clean before.
    #[serde(
        rename = "Shared Dirtied Blocks",
        skip_serializing_if = "Option::is_none"
    )]
    pub shared_dirtied: Option<u64>,
    /// `Shared Written Blocks`: dirty shared blocks this backend had to write out itself.
    #[serde(
        rename = "Shared Written Blocks",
        skip_serializing_if = "Option::is_none"
    )]
    pub shared_written: Option<u64>,
    /// `Local Hit Blocks`: temporary-table (local buffer) blocks found in cache.
    #[serde(rename = "Local Hit Blocks", skip_serializing_if = "Option::is_none")]
    pub local_hit: Option<u64>,
    /// `Local Read Blocks`: temporary-table blocks read from the OS.
    #[serde(rename = "Local Read Blocks", skip_serializing_if = "Option::is_none")]
    pub local_read: Option<u64>,
    /// `Local Dirtied Blocks`: temporary-table blocks this statement dirtied.
    #[serde(
        rename = "Local Dirtied Blocks",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_dirtied: Option<u64>,
    /// `Local Written Blocks`: temporary-table blocks written out to make room.
    #[serde(
        rename = "Local Written Blocks",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_written: Option<u64>,
    /// `Temp Read Blocks`: blocks read back from temp files (sorts, hashes and materialisations
    /// spilled to disk).
    #[serde(rename = "Temp Read Blocks", skip_serializing_if = "Option::is_none")]
    pub temp_read: Option<u64>,
    /// `Temp Written Blocks`: blocks written to temp files by spilling operations.
    #[serde(
        rename = "Temp Written Blocks",
        skip_serializing_if = "Option::is_none"
    )]
    pub temp_written: Option<u64>,
    /// `I/O Read Time`: the pre-PG17 spelling of the shared/local read time (ms).
    #[serde(rename = "I/O Read Time", skip_serializing_if = "Option::is_none")]
    pub io_read_time: Option<f64>,
    /// `I/O Write Time`: the pre-PG17 spelling of the shared/local write time (ms).
    #[serde(rename = "I/O Write Time", skip_serializing_if = "Option::is_none")]
    pub io_write_time: Option<f64>,
    /// `Shared I/O Read Time`: ms reading shared blocks (PG17+ splits timings by buffer kind).
    #[serde(
        rename = "Shared I/O Read Time",
        skip_serializing_if = "Option::is_none"
    )]
    pub shared_io_read_time: Option<f64>,
    /// `Shared I/O Write Time`: ms spent writing shared blocks (PG17+, `track_io_timing`).
    #[serde(
        rename = "Shared I/O Write Time",
        skip_serializing_if = "Option::is_none"
    )]
    pub shared_io_write_time: Option<f64>,
    /// `Local I/O Read Time`: ms spent reading temporary-table blocks (PG17+, `track_io_timing`).
    #[serde(
        rename = "Local I/O Read Time",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_io_read_time: Option<f64>,
    /// `Local I/O Write Time`: ms spent writing temporary-table blocks (PG17+, `track_io_timing`).
    #[serde(
        rename = "Local I/O Write Time",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_io_write_time: Option<f64>,
    /// `Temp I/O Read Time`: ms spent reading temp-file blocks (PG15+, `track_io_timing`).
    #[serde(rename = "Temp I/O Read Time", skip_serializing_if = "Option::is_none")]
    pub temp_io_read_time: Option<f64>,
    /// `Temp I/O Write Time`: ms spent writing temp-file blocks (PG15+, `track_io_timing`).
    #[serde(
        rename = "Temp I/O Write Time",
        skip_serializing_if = "Option::is_none"
    )]
    pub temp_io_write_time: Option<f64>,
}

impl Buffers {
    fn take(m: &mut Map<String, Value>) -> Self {
        Buffers {
            shared_hit: take_u64(m, "Shared Hit Blocks"),
            shared_read: take_u64(m, "Shared Read Blocks"),
            shared_dirtied: take_u64(m, "Shared Dirtied Blocks"),
            shared_written: take_u64(m, "Shared Written Blocks"),
            local_hit: take_u64(m, "Local Hit Blocks"),
            local_read: take_u64(m, "Local Read Blocks"),
            local_dirtied: take_u64(m, "Local Dirtied Blocks"),
            local_written: take_u64(m, "Local Written Blocks"),
            temp_read: take_u64(m, "Temp Read Blocks"),
            temp_written: take_u64(m, "Temp Written Blocks"),
            io_read_time: take_f64(m, "I/O Read Time"),
            io_write_time: take_f64(m, "I/O Write Time"),
            shared_io_read_time: take_f64(m, "Shared I/O Read Time"),
            shared_io_write_time: take_f64(m, "Shared I/O Write Time"),
            local_io_read_time: take_f64(m, "Local I/O Read Time"),
            local_io_write_time: take_f64(m, "Local I/O Write Time"),
            temp_io_read_time: take_f64(m, "Temp I/O Read Time"),
            temp_io_write_time: take_f64(m, "Temp I/O Write Time"),
        }
    }

    /// Whether any buffer counter was printed (i.e. the plan was taken with `BUFFERS`).
    pub fn is_present(&self) -> bool {
        self.shared_hit.is_some() || self.shared_read.is_some() || self.temp_read.is_some()
    }

    /// Shared hit + read, the "buffers touched" figure most people mean.
    pub fn shared_total(&self) -> u64 {
        self.shared_hit
            .unwrap_or(0)
            .saturating_add(self.shared_read.unwrap_or(0))
    }

    /// Temp (spill file) blocks read + written.
    pub fn temp_total(&self) -> u64 {
        self.temp_read
            .unwrap_or(0)
            .saturating_add(self.temp_written.unwrap_or(0))
    }
}

/// Per-worker statistics of a parallel node (`VERBOSE` output).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Worker {
    /// `Worker Number`: the worker's 0-based index within its Gather.
    #[serde(rename = "Worker Number", skip_serializing_if = "Option::is_none")]
    pub worker_number: Option<u64>,
    /// `Actual Startup Time`: ms until this worker's first row, per loop (ANALYZE with `TIMING`).
    #[serde(
        rename = "Actual Startup Time",
        skip_serializing_if = "Option::is_none"
    )]
    pub actual_startup_time: Option<f64>,
    /// `Actual Total Time`: ms until this worker's last row, per loop (ANALYZE with `TIMING`).
    #[serde(rename = "Actual Total Time", skip_serializing_if = "Option::is_none")]
    pub actual_total_time: Option<f64>,
    /// `Actual Rows`: rows this worker returned, per loop.
    #[serde(rename = "Actual Rows", skip_serializing_if = "Option::is_none")]
    pub actual_rows: Option<f64>,
    /// `Actual Loops`: how many times this worker ran the node.
    #[serde(rename = "Actual Loops", skip_serializing_if = "Option::is_none")]
    pub actual_loops: Option<u64>,
    /// `Sort Method`: the sort algorithm this worker used, e.g. "quicksort" or "external merge".
    #[serde(rename = "Sort Method", skip_serializing_if = "Option::is_none")]
    pub sort_method: Option<String>,
    /// `Sort Space Used`: kB of memory or disk this worker's sort used.
    #[serde(rename = "Sort Space Used", skip_serializing_if = "Option::is_none")]
    pub sort_space_used: Option<u64>,
    /// `Sort Space Type`: "Memory" or "Disk".
    #[serde(rename = "Sort Space Type", skip_serializing_if = "Option::is_none")]
    pub sort_space_type: Option<String>,
    /// This worker's buffer counters (with `BUFFERS`).
    #[serde(flatten)]
    pub buffers: Buffers,
    /// Every key not modelled above, verbatim, plus any modelled key of an unreadable type.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Worker {
    fn from_map(mut m: Map<String, Value>) -> Self {
        Worker {
            worker_number: take_u64(&mut m, "Worker Number"),
            actual_startup_time: take_f64(&mut m, "Actual Startup Time"),
            actual_total_time: take_f64(&mut m, "Actual Total Time"),
            actual_rows: take_f64(&mut m, "Actual Rows"),
            actual_loops: take_u64(&mut m, "Actual Loops"),
            sort_method: take_string(&mut m, "Sort Method"),
            sort_space_used: take_u64(&mut m, "Sort Space Used"),
            sort_space_type: take_string(&mut m, "Sort Space Type"),
            buffers: Buffers::take(&mut m),
            extra: m,
        }
    }
}

/// One plan node. Every field is optional because `COSTS off`, `TIMING off`, no `ANALYZE`,
/// no `BUFFERS` and the PostgreSQL version all change which keys exist.
///
/// The plans a Citus Custom Scan carries (see [`PlanNode::remote`]): distributed subplans first
/// (they run first), then the tasks' remote plans. A task plan may be nested in single-element
/// arrays and may hold several statements.
fn remote_plans(extra: &Map<String, Value>) -> Vec<PlanNode> {
    let Some(dq) = extra.get("Distributed Query") else {
        return Vec::new();
    };
    let mut documents: Vec<&Value> = Vec::new();
    if let Some(subplans) = dq.get("Subplans").and_then(Value::as_array) {
        documents.extend(subplans.iter().filter_map(|s| s.get("PlannedStmt")));
    }
    if let Some(tasks) = dq
        .get("Job")
        .and_then(|j| j.get("Tasks"))
        .and_then(Value::as_array)
    {
        documents.extend(tasks.iter().filter_map(|t| t.get("Remote Plan")));
    }
    let mut out = Vec::new();
    while let Some(doc) = documents.pop() {
        match doc {
            Value::Array(items) => documents.extend(items.iter().rev()),
            Value::Object(o) => {
                if let Some(Value::Object(plan)) = o.get("Plan") {
                    out.push(PlanNode::from_map(plan.clone()));
                }
            }
            _ => {}
        }
    }
    // Popped from the end: restore document order.
    out.reverse();
    out
}

/// Row-like quantities are `f64` (PG18 prints fractional per-loop averages such as `0.50`);
/// block, loop and batch counters are `u64`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlanNode {
    /// Empty when the input had no "Node Type" (never fatal).
    #[serde(rename = "Node Type", skip_serializing_if = "String::is_empty")]
    pub node_type: String,
    /// `Parent Relationship`: the node's role under its parent ("Outer", "Inner", "Member",
    /// "InitPlan", "SubPlan", ...).
    #[serde(
        rename = "Parent Relationship",
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_relationship: Option<String>,
    /// `Subplan Name`: set on a subplan's top node, e.g. "SubPlan 1" or "InitPlan 1".
    #[serde(rename = "Subplan Name", skip_serializing_if = "Option::is_none")]
    pub subplan_name: Option<String>,
    /// `Relation Name`: the table scanned or modified, without its schema.
    #[serde(rename = "Relation Name", skip_serializing_if = "Option::is_none")]
    pub relation_name: Option<String>,
    /// `Schema`: the relation's schema (`VERBOSE` only).
    #[serde(rename = "Schema", skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// `Alias`: the relation's alias in the query (its name when the query gave none).
    #[serde(rename = "Alias", skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// `Index Name`: the index used by an Index, Index Only or Bitmap Index Scan.
    #[serde(rename = "Index Name", skip_serializing_if = "Option::is_none")]
    pub index_name: Option<String>,
    /// `Scan Direction`: "Forward", "Backward" or "NoMovement", for index scans.
    #[serde(rename = "Scan Direction", skip_serializing_if = "Option::is_none")]
    pub scan_direction: Option<String>,
    /// `CTE Name`: the common table expression a CTE Scan reads.
    #[serde(rename = "CTE Name", skip_serializing_if = "Option::is_none")]
    pub cte_name: Option<String>,
    /// `Function Name`: the set-returning function a Function Scan calls.
    #[serde(rename = "Function Name", skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    /// `Custom Plan Provider`: the extension that provides a Custom Scan (e.g. Citus).
    #[serde(
        rename = "Custom Plan Provider",
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_plan_provider: Option<String>,
    /// `Operation`: "Insert", "Update", "Delete" or "Merge" on a ModifyTable node.
    #[serde(rename = "Operation", skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// `Strategy`: "Plain", "Sorted", "Hashed" or "Mixed" for an Aggregate (also printed for
    /// SetOp).
    #[serde(rename = "Strategy", skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// `Partial Mode`: "Simple", "Partial" or "Finalize" for a (parallel) Aggregate.
    #[serde(rename = "Partial Mode", skip_serializing_if = "Option::is_none")]
    pub partial_mode: Option<String>,
    /// `Join Type`: "Inner", "Left", "Full", "Right", "Semi", "Anti", ... for join nodes.
    #[serde(rename = "Join Type", skip_serializing_if = "Option::is_none")]
    pub join_type: Option<String>,
    /// `Parallel Aware`: whether the node itself splits work among workers (e.g. Parallel Seq
    /// Scan).
    #[serde(rename = "Parallel Aware", skip_serializing_if = "Option::is_none")]
    pub parallel_aware: Option<bool>,
    /// `Startup Cost`: planner cost before the first row, in cost units (absent with `COSTS off`).
    #[serde(rename = "Startup Cost", skip_serializing_if = "Option::is_none")]
    pub startup_cost: Option<f64>,
    /// `Total Cost`: planner cost to return all rows, in cost units (absent with `COSTS off`).
    #[serde(rename = "Total Cost", skip_serializing_if = "Option::is_none")]
    pub total_cost: Option<f64>,
    /// `Plan Rows`: planner's estimated rows per loop.
    #[serde(rename = "Plan Rows", skip_serializing_if = "Option::is_none")]
    pub plan_rows: Option<f64>,
    /// `Plan Width`: planner's estimated average row width, bytes.
    #[serde(rename = "Plan Width", skip_serializing_if = "Option::is_none")]
    pub plan_width: Option<u64>,
    /// `Actual Startup Time`: ms until the first row, per-loop average (ANALYZE with `TIMING`).
    #[serde(
        rename = "Actual Startup Time",
        skip_serializing_if = "Option::is_none"
    )]
    pub actual_startup_time: Option<f64>,
    /// `Actual Total Time`: ms until the last row, per-loop average (ANALYZE with `TIMING`).
    #[serde(rename = "Actual Total Time", skip_serializing_if = "Option::is_none")]
    pub actual_total_time: Option<f64>,
    /// Per-loop average; fractional on PG18.
    #[serde(rename = "Actual Rows", skip_serializing_if = "Option::is_none")]
    pub actual_rows: Option<f64>,
    /// `Actual Loops`: how many times the node ran (ANALYZE); 0 is "(never executed)".
    #[serde(rename = "Actual Loops", skip_serializing_if = "Option::is_none")]
    pub actual_loops: Option<u64>,
    /// `Workers Planned`: parallel workers the planner chose, on Gather / Gather Merge.
    #[serde(rename = "Workers Planned", skip_serializing_if = "Option::is_none")]
    pub workers_planned: Option<u64>,
    /// `Workers Launched`: workers actually started (ANALYZE); fewer than planned when the pool was
    /// short.
    #[serde(rename = "Workers Launched", skip_serializing_if = "Option::is_none")]
    pub workers_launched: Option<u64>,
    /// Total over all loops (PostgreSQL does not divide it by loops).
    #[serde(rename = "Heap Fetches", skip_serializing_if = "Option::is_none")]
    pub heap_fetches: Option<f64>,
    /// PG18: number of index descents, total over all loops.
    #[serde(rename = "Index Searches", skip_serializing_if = "Option::is_none")]
    pub index_searches: Option<f64>,
    /// Per-loop average, like "Actual Rows".
    #[serde(
        rename = "Rows Removed by Filter",
        skip_serializing_if = "Option::is_none"
    )]
    pub rows_removed_by_filter: Option<f64>,
    /// `Rows Removed by Index Recheck`: per-loop rows rejected when rechecking a lossy index or
    /// bitmap condition (ANALYZE).
    #[serde(
        rename = "Rows Removed by Index Recheck",
        skip_serializing_if = "Option::is_none"
    )]
    pub rows_removed_by_index_recheck: Option<f64>,
    /// `Rows Removed by Join Filter`: per-loop row pairs rejected by the join filter (ANALYZE).
    #[serde(
        rename = "Rows Removed by Join Filter",
        skip_serializing_if = "Option::is_none"
    )]
    pub rows_removed_by_join_filter: Option<f64>,
    /// `Exact Heap Blocks`: heap pages a Bitmap Heap Scan visited with row-exact bitmaps (ANALYZE).
    #[serde(rename = "Exact Heap Blocks", skip_serializing_if = "Option::is_none")]
    pub exact_heap_blocks: Option<u64>,
    /// `Lossy Heap Blocks`: heap pages a Bitmap Heap Scan rechecked whole because the bitmap
    /// outgrew `work_mem` (ANALYZE).
    #[serde(rename = "Lossy Heap Blocks", skip_serializing_if = "Option::is_none")]
    pub lossy_heap_blocks: Option<u64>,
    /// `Subplans Removed`: partitions an Append / Merge Append pruned at executor startup.
    #[serde(rename = "Subplans Removed", skip_serializing_if = "Option::is_none")]
    pub subplans_removed: Option<u64>,
    /// `Sort Method`: "quicksort", "top-N heapsort", "external sort" or "external merge" (ANALYZE).
    #[serde(rename = "Sort Method", skip_serializing_if = "Option::is_none")]
    pub sort_method: Option<String>,
    /// kB.
    #[serde(rename = "Sort Space Used", skip_serializing_if = "Option::is_none")]
    pub sort_space_used: Option<u64>,
    /// "Memory" or "Disk".
    #[serde(rename = "Sort Space Type", skip_serializing_if = "Option::is_none")]
    pub sort_space_type: Option<String>,
    /// `Hash Buckets`: buckets in a Hash node's table at the end (ANALYZE).
    #[serde(rename = "Hash Buckets", skip_serializing_if = "Option::is_none")]
    pub hash_buckets: Option<u64>,
    /// `Original Hash Buckets`: buckets the Hash node started with, before growing.
    #[serde(
        rename = "Original Hash Buckets",
        skip_serializing_if = "Option::is_none"
    )]
    pub original_hash_buckets: Option<u64>,
    /// `Hash Batches`: batches a Hash node used (ANALYZE); more than 1 means it spilled to disk.
    #[serde(rename = "Hash Batches", skip_serializing_if = "Option::is_none")]
    pub hash_batches: Option<u64>,
    /// `Original Hash Batches`: batches the Hash node planned for, before growing.
    #[serde(
        rename = "Original Hash Batches",
        skip_serializing_if = "Option::is_none"
    )]
    pub original_hash_batches: Option<u64>,
    /// kB.
    #[serde(rename = "Peak Memory Usage", skip_serializing_if = "Option::is_none")]
    pub peak_memory_usage: Option<u64>,
    /// PG13+ hash aggregate spill partitions.
    #[serde(rename = "HashAgg Batches", skip_serializing_if = "Option::is_none")]
    pub hashagg_batches: Option<u64>,
    /// PG13+ hash aggregate spill size, kB.
    #[serde(rename = "Disk Usage", skip_serializing_if = "Option::is_none")]
    pub disk_usage: Option<u64>,
    /// `Index Cond`: the condition evaluated inside the index.
    #[serde(rename = "Index Cond", skip_serializing_if = "Option::is_none")]
    pub index_cond: Option<String>,
    /// `Recheck Cond`: the condition a Bitmap Heap Scan rechecks on heap rows.
    #[serde(rename = "Recheck Cond", skip_serializing_if = "Option::is_none")]
    pub recheck_cond: Option<String>,
    /// `Filter`: the condition applied to each row after it is fetched (not via an index).
    #[serde(rename = "Filter", skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// `Join Filter`: the condition applied to joined row pairs beyond the join keys.
    #[serde(rename = "Join Filter", skip_serializing_if = "Option::is_none")]
    pub join_filter: Option<String>,
    /// `Hash Cond`: the key condition of a Hash Join.
    #[serde(rename = "Hash Cond", skip_serializing_if = "Option::is_none")]
    pub hash_cond: Option<String>,
    /// `Merge Cond`: the key condition of a Merge Join.
    #[serde(rename = "Merge Cond", skip_serializing_if = "Option::is_none")]
    pub merge_cond: Option<String>,
    /// `TID Cond`: the `ctid` condition of a Tid Scan.
    #[serde(rename = "TID Cond", skip_serializing_if = "Option::is_none")]
    pub tid_cond: Option<String>,
    /// `One-Time Filter`: a constant condition checked once; when false the subtree is not run.
    #[serde(rename = "One-Time Filter", skip_serializing_if = "Option::is_none")]
    pub one_time_filter: Option<String>,
    /// This node's buffer counters, including its children's (with `BUFFERS`).
    #[serde(flatten)]
    pub buffers: Buffers,
    /// `Workers`: per-worker statistics; empty when not printed.
    #[serde(rename = "Workers", skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<Worker>,
    /// `Plans`: the child nodes, in EXPLAIN order (a [`Children`] list, usable as a `Vec`).
    #[serde(rename = "Plans", skip_serializing_if = "Children::is_empty")]
    pub plans: Children,
    /// Plans that ran on other servers, which this node carries inside its own keys: the task
    /// plans of a Citus Custom Scan (`Distributed Query` → `Job` → `Tasks[]` → `Remote Plan`) and
    /// its distributed subplans (`Subplans[]` → `PlannedStmt`), old and new Citus versions alike.
    /// Parsed once so that every walk sees them as children after `plans` (their roots have the
    /// Parent Relationship `Remote`). Not serialised: the original keys stay in `extra`.
    #[serde(skip)]
    pub remote: Children,
    /// Every key not modelled above, verbatim (Citus "Distributed Query", "Output", "Sort Key",
    /// incremental sort groups, "Disabled", ...), plus any modelled key whose value had a type
    /// this model could not read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PlanNode {
    /// Builds a node from a JSON object; never fails (see the module docs).
    ///
    /// Iterative, so a plan of any depth is read without recursion: each object is read
    /// shallowly, its "Plans" objects wait on an explicit stack, and a finished node is pushed
    /// onto its parent's children.
    pub fn from_map(m: Map<String, Value>) -> Self {
        struct Pending {
            node: PlanNode,
            children: std::vec::IntoIter<Map<String, Value>>,
        }
        let (node, children) = PlanNode::from_map_shallow(m);
        let mut stack = vec![Pending {
            node,
            children: children.into_iter(),
        }];
        loop {
            let top = stack.last_mut().expect("the root stays until the end");
            if let Some(child) = top.children.next() {
                let (node, children) = PlanNode::from_map_shallow(child);
                stack.push(Pending {
                    node,
                    children: children.into_iter(),
                });
                continue;
            }
            let done = stack.pop().expect("checked above").node;
            match stack.last_mut() {
                Some(parent) => parent.node.plans.push(done),
                None => return done,
            }
        }
    }

    /// One node without its children; returns the "Plans" objects still to read.
    fn from_map_shallow(mut m: Map<String, Value>) -> (Self, Vec<Map<String, Value>>) {
        let m = &mut m;
        let mut node = PlanNode {
            node_type: take_string(m, "Node Type").unwrap_or_default(),
            parent_relationship: take_string(m, "Parent Relationship"),
            subplan_name: take_string(m, "Subplan Name"),
            relation_name: take_string(m, "Relation Name"),
            schema: take_string(m, "Schema"),
            alias: take_string(m, "Alias"),
            index_name: take_string(m, "Index Name"),
            scan_direction: take_string(m, "Scan Direction"),
            cte_name: take_string(m, "CTE Name"),
            function_name: take_string(m, "Function Name"),
            custom_plan_provider: take_string(m, "Custom Plan Provider"),
            operation: take_string(m, "Operation"),
            strategy: take_string(m, "Strategy"),
            partial_mode: take_string(m, "Partial Mode"),
            join_type: take_string(m, "Join Type"),
            parallel_aware: take_bool(m, "Parallel Aware"),
            startup_cost: take_f64(m, "Startup Cost"),
            total_cost: take_f64(m, "Total Cost"),
            plan_rows: take_f64(m, "Plan Rows"),
            plan_width: take_u64(m, "Plan Width"),
            actual_startup_time: take_f64(m, "Actual Startup Time"),
            actual_total_time: take_f64(m, "Actual Total Time"),
            actual_rows: take_f64(m, "Actual Rows"),
            actual_loops: take_u64(m, "Actual Loops"),
            workers_planned: take_u64(m, "Workers Planned"),
            workers_launched: take_u64(m, "Workers Launched"),
            heap_fetches: take_f64(m, "Heap Fetches"),
            index_searches: take_f64(m, "Index Searches"),
            rows_removed_by_filter: take_f64(m, "Rows Removed by Filter"),
            rows_removed_by_index_recheck: take_f64(m, "Rows Removed by Index Recheck"),
            rows_removed_by_join_filter: take_f64(m, "Rows Removed by Join Filter"),
            exact_heap_blocks: take_u64(m, "Exact Heap Blocks"),
            lossy_heap_blocks: take_u64(m, "Lossy Heap Blocks"),
            subplans_removed: take_u64(m, "Subplans Removed"),
            sort_method: take_string(m, "Sort Method"),
            sort_space_used: take_u64(m, "Sort Space Used"),
            sort_space_type: take_string(m, "Sort Space Type"),
            hash_buckets: take_u64(m, "Hash Buckets"),
            original_hash_buckets: take_u64(m, "Original Hash Buckets"),
            hash_batches: take_u64(m, "Hash Batches"),
            original_hash_batches: take_u64(m, "Original Hash Batches"),
            peak_memory_usage: take_u64(m, "Peak Memory Usage"),
            hashagg_batches: take_u64(m, "HashAgg Batches"),
            disk_usage: take_u64(m, "Disk Usage"),
            index_cond: take_string(m, "Index Cond"),
            recheck_cond: take_string(m, "Recheck Cond"),
            filter: take_string(m, "Filter"),
            join_filter: take_string(m, "Join Filter"),
            hash_cond: take_string(m, "Hash Cond"),
            merge_cond: take_string(m, "Merge Cond"),
            tid_cond: take_string(m, "TID Cond"),
            one_time_filter: take_string(m, "One-Time Filter"),
            buffers: Buffers::take(m),
            workers: Vec::new(),
            plans: Children::default(),
            remote: Children::default(),
            extra: Map::new(),
        };
        if let Some(ws) = take_object_array(m, "Workers") {
            node.workers = ws.into_iter().map(Worker::from_map).collect();
        }
        let children = take_object_array(m, "Plans").unwrap_or_default();
        node.extra = std::mem::take(m);
        for mut remote in remote_plans(&node.extra) {
            remote.parent_relationship = Some("Remote".into());
            node.remote.push(remote);
        }
        (node, children)
    }

    /// The children every walk visits: `plans`, then the `remote` plans.
    pub fn children(&self) -> impl DoubleEndedIterator<Item = &PlanNode> {
        self.plans.iter().chain(self.remote.iter())
    }

    /// Child `slot` in [`children`](Self::children) order.
    pub fn child(&self, slot: usize) -> Option<&PlanNode> {
        self.plans
            .get(slot)
            .or_else(|| self.remote.get(slot.checked_sub(self.plans.len())?))
    }

    /// Whether this node carries EXPLAIN ANALYZE data.
    pub fn has_actuals(&self) -> bool {
        self.actual_loops.is_some()
    }

    /// `Actual Loops == 0` under ANALYZE: PostgreSQL prints "(never executed)".
    pub fn never_executed(&self) -> bool {
        self.actual_loops == Some(0)
    }

    /// Actual rows over all loops (per-loop average × loops), when ANALYZE data exists.
    pub fn total_actual_rows(&self) -> Option<f64> {
        let loops = self.actual_loops?;
        Some(self.actual_rows.unwrap_or(0.0) * loops as f64)
    }

    /// Rows removed by the filter over all loops.
    pub fn total_rows_removed_by_filter(&self) -> Option<f64> {
        Some(self.rows_removed_by_filter? * self.actual_loops.unwrap_or(1) as f64)
    }

    /// Rows removed by the join filter over all loops.
    pub fn total_rows_removed_by_join_filter(&self) -> Option<f64> {
        Some(self.rows_removed_by_join_filter? * self.actual_loops.unwrap_or(1) as f64)
    }
}

/// Stack left free before recursing into a child list (clone, compare, print, serialise); below
/// it, [`stacker`] continues on a new heap-allocated segment of [`STACK_SEGMENT`] bytes.
const RED_ZONE: usize = 256 * 1024;
/// Size of each extra stack segment (see [`RED_ZONE`]).
const STACK_SEGMENT: usize = 4 * 1024 * 1024;

/// The child nodes of a [`PlanNode`] ("Plans"), in EXPLAIN order.
///
/// A `Vec<PlanNode>` in all but its recursion: PostgreSQL can print plans thousands of levels
/// deep (a long chain of `UNION`s or nested subqueries), deeper than a thread's stack allows for
/// derived recursive code. So dropping is iterative, and cloning, comparing, `Debug` and
/// serialisation grow the stack on the heap when it runs low ([`stacker::maybe_grow`]).
/// Dereferences to `Vec<PlanNode>`.
#[derive(Default)]
pub struct Children(Vec<PlanNode>);

impl Children {
    /// Whether the node has no children (also used to omit an empty "Plans" when serialising).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<PlanNode>> for Children {
    fn from(v: Vec<PlanNode>) -> Self {
        Children(v)
    }
}

impl std::ops::Deref for Children {
    type Target = Vec<PlanNode>;
    fn deref(&self) -> &Vec<PlanNode> {
        &self.0
    }
}

impl std::ops::DerefMut for Children {
    fn deref_mut(&mut self) -> &mut Vec<PlanNode> {
        &mut self.0
    }
}

impl<'a> IntoIterator for &'a Children {
    type Item = &'a PlanNode;
    type IntoIter = std::slice::Iter<'a, PlanNode>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        // Move every grandchild list into one flat worklist, so no drop recurses.
        let mut pending = std::mem::take(&mut self.0);
        while let Some(mut node) = pending.pop() {
            pending.append(&mut node.plans.0);
        }
    }
}

impl Clone for Children {
    fn clone(&self) -> Self {
        stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || Children(self.0.clone()))
    }
}

impl PartialEq for Children {
    fn eq(&self, other: &Self) -> bool {
        stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.0 == other.0)
    }
}

impl std::fmt::Debug for Children {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.0.fmt(f))
    }
}

impl Serialize for Children {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.0.serialize(s))
    }
}

impl<'de> Deserialize<'de> for PlanNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(PlanNode::from_map(Map::deserialize(d)?))
    }
}

/// One entry of the top-level "Triggers" array (ANALYZE of a statement that fired triggers).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Trigger {
    /// `Trigger Name`: the fired trigger (foreign keys show as `RI_ConstraintTrigger_...`).
    #[serde(rename = "Trigger Name", skip_serializing_if = "Option::is_none")]
    pub trigger_name: Option<String>,
    /// `Constraint Name`: the constraint behind a constraint trigger, e.g. a foreign key.
    #[serde(rename = "Constraint Name", skip_serializing_if = "Option::is_none")]
    pub constraint_name: Option<String>,
    /// `Relation`: the table the trigger is defined on.
    #[serde(rename = "Relation", skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    /// Milliseconds, over all calls.
    #[serde(rename = "Time", skip_serializing_if = "Option::is_none")]
    pub time: Option<f64>,
    /// `Calls`: how many times the trigger fired.
    #[serde(rename = "Calls", skip_serializing_if = "Option::is_none")]
    pub calls: Option<u64>,
    /// Every key not modelled above, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Trigger {
    fn from_map(mut m: Map<String, Value>) -> Self {
        Trigger {
            trigger_name: take_string(&mut m, "Trigger Name"),
            constraint_name: take_string(&mut m, "Constraint Name"),
            relation: take_string(&mut m, "Relation"),
            time: take_f64(&mut m, "Time"),
            calls: take_u64(&mut m, "Calls"),
            extra: m,
        }
    }
}

/// The "JIT" section. "Options" and "Timing" are kept as raw objects because their shape changed
/// between versions (PG17 turned "Generation" into an object with "Deform" and "Total").
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Jit {
    /// `Functions`: how many functions were JIT-compiled.
    #[serde(rename = "Functions", skip_serializing_if = "Option::is_none")]
    pub functions: Option<u64>,
    /// `Options`: which JIT stages were on ("Inlining", "Optimization", "Expressions",
    /// "Deforming").
    #[serde(rename = "Options", skip_serializing_if = "Option::is_none")]
    pub options: Option<Map<String, Value>>,
    /// `Timing`: ms per JIT stage, raw ("Generation", "Inlining", "Optimization", "Emission",
    /// "Total"); ANALYZE only.
    #[serde(rename = "Timing", skip_serializing_if = "Option::is_none")]
    pub timing: Option<Map<String, Value>>,
    /// Every key not modelled above, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Jit {
    fn from_map(mut m: Map<String, Value>) -> Self {
        Jit {
            functions: take_u64(&mut m, "Functions"),
            options: take_object(&mut m, "Options"),
            timing: take_object(&mut m, "Timing"),
            extra: m,
        }
    }

    /// Total JIT time in milliseconds ("Timing" → "Total"), when timing was on.
    pub fn total_time(&self) -> Option<f64> {
        self.timing
            .as_ref()
            .and_then(|t| t.get("Total"))
            .and_then(super::lenient::value_f64)
    }
}

/// The top-level "Planning" section: buffers used while planning (PG13+ with `BUFFERS`), and
/// whatever else a version puts there (PG17's `MEMORY` option adds "Memory Used"/"Memory Allocated").
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Planning {
    /// Buffer counters of planning.
    #[serde(flatten)]
    pub buffers: Buffers,
    /// Every other key, verbatim (e.g. PG17 "Memory Used" with `MEMORY`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A whole EXPLAIN document: the root node plus the statement-level sections.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    /// `Plan`: the root node; a default node when the input had none.
    #[serde(rename = "Plan")]
    pub root: PlanNode,
    /// Milliseconds; absent with `SUMMARY off` or without ANALYZE.
    #[serde(rename = "Planning Time", skip_serializing_if = "Option::is_none")]
    pub planning_time: Option<f64>,
    /// `Execution Time`: ms, executor start to end; absent with `SUMMARY off` or without ANALYZE.
    #[serde(rename = "Execution Time", skip_serializing_if = "Option::is_none")]
    pub execution_time: Option<f64>,
    /// `Triggers`: per-trigger times (ANALYZE); `None` when the key was absent.
    #[serde(rename = "Triggers", skip_serializing_if = "Option::is_none")]
    pub triggers: Option<Vec<Trigger>>,
    /// `JIT`: JIT compilation summary; `None` when JIT was not used.
    #[serde(rename = "JIT", skip_serializing_if = "Option::is_none")]
    pub jit: Option<Jit>,
    /// Non-default planner settings (`SETTINGS` option, PG12+), name → value as text.
    #[serde(rename = "Settings", skip_serializing_if = "Option::is_none")]
    pub settings: Option<Map<String, Value>>,
    /// Buffers used during planning (PG13+ with `BUFFERS`).
    #[serde(rename = "Planning", skip_serializing_if = "Option::is_none")]
    pub planning: Option<Planning>,
    /// `Query Identifier`: the query id (PG14+, `VERBOSE` with `compute_query_id` on).
    #[serde(rename = "Query Identifier", skip_serializing_if = "Option::is_none")]
    pub query_identifier: Option<i64>,
    /// Every statement-level key not modelled above, verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Positions of the nodes for [`Plan::node`], built on first use; never serialised and
    /// ignored by `==` (see [`NodeCache`] for the design).
    #[serde(skip)]
    pub(crate) node_cache: NodeCache,
}

impl Plan {
    /// Builds a plan from the object that holds "Plan"; the caller has checked that
    /// "Plan" is an object.
    pub(crate) fn from_map(mut m: Map<String, Value>) -> Self {
        let root = take_object(&mut m, "Plan")
            .map(PlanNode::from_map)
            .unwrap_or_default();
        // `Option<Vec>` serialises an empty list back as `[]`, so an empty "Triggers" is taken.
        let triggers = if m
            .get("Triggers")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            m.remove("Triggers");
            Some(Vec::new())
        } else {
            take_object_array(&mut m, "Triggers")
                .map(|ts| ts.into_iter().map(Trigger::from_map).collect())
        };
        let planning = take_object(&mut m, "Planning").map(|mut p| Planning {
            buffers: Buffers::take(&mut p),
            extra: p,
        });
        Plan {
            root,
            planning_time: take_f64(&mut m, "Planning Time"),
            execution_time: take_f64(&mut m, "Execution Time"),
            triggers,
            jit: take_object(&mut m, "JIT").map(Jit::from_map),
            settings: take_object(&mut m, "Settings"),
            planning,
            query_identifier: take_i64(&mut m, "Query Identifier"),
            extra: m,
            node_cache: NodeCache::default(),
        }
    }

    /// A setting from the "Settings" section as text (values are strings in EXPLAIN output).
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.settings.as_ref()?.get(name)?.as_str()
    }

    /// Total trigger time in milliseconds, when the plan lists triggers with times.
    pub fn trigger_time(&self) -> Option<f64> {
        let ts = self.triggers.as_ref()?;
        let times: Vec<f64> = ts.iter().filter_map(|t| t.time).collect();
        if times.is_empty() {
            None
        } else {
            Some(times.iter().sum())
        }
    }
}
