//! The serde model of one `EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON)` document.
//!
//! Deserialisation goes through [`serde_json::Map`] and the helpers in `lenient`: each typed field
//! is taken out of the object only when it converts, the rest lands in `extra`. Serialisation is
//! derived, so a parsed plan serialises back to the same keys (numbers may change spelling, e.g.
//! `1` read into an `f64` is written as `1.0`).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::lenient::{
    take_bool, take_f64, take_i64, take_object, take_object_array, take_string, take_u64,
};

/// Buffer counters and I/O timings, as printed per node, per worker and for planning (PG13+).
///
/// All optional: they exist only with `BUFFERS` (and I/O timings only with `track_io_timing`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Buffers {
    #[serde(rename = "Shared Hit Blocks", skip_serializing_if = "Option::is_none")]
    pub shared_hit: Option<u64>,
    #[serde(rename = "Shared Read Blocks", skip_serializing_if = "Option::is_none")]
    pub shared_read: Option<u64>,
    #[serde(
        rename = "Shared Dirtied Blocks",
        skip_serializing_if = "Option::is_none"
    )]
    pub shared_dirtied: Option<u64>,
    #[serde(
        rename = "Shared Written Blocks",
        skip_serializing_if = "Option::is_none"
    )]
    pub shared_written: Option<u64>,
    #[serde(rename = "Local Hit Blocks", skip_serializing_if = "Option::is_none")]
    pub local_hit: Option<u64>,
    #[serde(rename = "Local Read Blocks", skip_serializing_if = "Option::is_none")]
    pub local_read: Option<u64>,
    #[serde(
        rename = "Local Dirtied Blocks",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_dirtied: Option<u64>,
    #[serde(
        rename = "Local Written Blocks",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_written: Option<u64>,
    #[serde(rename = "Temp Read Blocks", skip_serializing_if = "Option::is_none")]
    pub temp_read: Option<u64>,
    #[serde(
        rename = "Temp Written Blocks",
        skip_serializing_if = "Option::is_none"
    )]
    pub temp_written: Option<u64>,
    /// PG13-15 spelling of the shared/local read time.
    #[serde(rename = "I/O Read Time", skip_serializing_if = "Option::is_none")]
    pub io_read_time: Option<f64>,
    #[serde(rename = "I/O Write Time", skip_serializing_if = "Option::is_none")]
    pub io_write_time: Option<f64>,
    /// PG16+ splits I/O timings by buffer kind.
    #[serde(
        rename = "Shared I/O Read Time",
        skip_serializing_if = "Option::is_none"
    )]
    pub shared_io_read_time: Option<f64>,
    #[serde(
        rename = "Shared I/O Write Time",
        skip_serializing_if = "Option::is_none"
    )]
    pub shared_io_write_time: Option<f64>,
    #[serde(
        rename = "Local I/O Read Time",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_io_read_time: Option<f64>,
    #[serde(
        rename = "Local I/O Write Time",
        skip_serializing_if = "Option::is_none"
    )]
    pub local_io_write_time: Option<f64>,
    #[serde(rename = "Temp I/O Read Time", skip_serializing_if = "Option::is_none")]
    pub temp_io_read_time: Option<f64>,
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
    #[serde(rename = "Worker Number", skip_serializing_if = "Option::is_none")]
    pub worker_number: Option<u64>,
    #[serde(
        rename = "Actual Startup Time",
        skip_serializing_if = "Option::is_none"
    )]
    pub actual_startup_time: Option<f64>,
    #[serde(rename = "Actual Total Time", skip_serializing_if = "Option::is_none")]
    pub actual_total_time: Option<f64>,
    #[serde(rename = "Actual Rows", skip_serializing_if = "Option::is_none")]
    pub actual_rows: Option<f64>,
    #[serde(rename = "Actual Loops", skip_serializing_if = "Option::is_none")]
    pub actual_loops: Option<u64>,
    #[serde(rename = "Sort Method", skip_serializing_if = "Option::is_none")]
    pub sort_method: Option<String>,
    #[serde(rename = "Sort Space Used", skip_serializing_if = "Option::is_none")]
    pub sort_space_used: Option<u64>,
    #[serde(rename = "Sort Space Type", skip_serializing_if = "Option::is_none")]
    pub sort_space_type: Option<String>,
    #[serde(flatten)]
    pub buffers: Buffers,
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
/// Row-like quantities are `f64` (PG18 prints fractional per-loop averages such as `0.50`);
/// block, loop and batch counters are `u64`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PlanNode {
    /// Empty when the input had no "Node Type" (never fatal).
    #[serde(rename = "Node Type", skip_serializing_if = "String::is_empty")]
    pub node_type: String,
    #[serde(
        rename = "Parent Relationship",
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_relationship: Option<String>,
    #[serde(rename = "Subplan Name", skip_serializing_if = "Option::is_none")]
    pub subplan_name: Option<String>,
    #[serde(rename = "Relation Name", skip_serializing_if = "Option::is_none")]
    pub relation_name: Option<String>,
    #[serde(rename = "Schema", skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(rename = "Alias", skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    #[serde(rename = "Index Name", skip_serializing_if = "Option::is_none")]
    pub index_name: Option<String>,
    #[serde(rename = "Scan Direction", skip_serializing_if = "Option::is_none")]
    pub scan_direction: Option<String>,
    #[serde(rename = "CTE Name", skip_serializing_if = "Option::is_none")]
    pub cte_name: Option<String>,
    #[serde(rename = "Function Name", skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    #[serde(
        rename = "Custom Plan Provider",
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_plan_provider: Option<String>,
    #[serde(rename = "Operation", skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(rename = "Strategy", skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    #[serde(rename = "Partial Mode", skip_serializing_if = "Option::is_none")]
    pub partial_mode: Option<String>,
    #[serde(rename = "Join Type", skip_serializing_if = "Option::is_none")]
    pub join_type: Option<String>,
    #[serde(rename = "Parallel Aware", skip_serializing_if = "Option::is_none")]
    pub parallel_aware: Option<bool>,
    #[serde(rename = "Startup Cost", skip_serializing_if = "Option::is_none")]
    pub startup_cost: Option<f64>,
    #[serde(rename = "Total Cost", skip_serializing_if = "Option::is_none")]
    pub total_cost: Option<f64>,
    #[serde(rename = "Plan Rows", skip_serializing_if = "Option::is_none")]
    pub plan_rows: Option<f64>,
    #[serde(rename = "Plan Width", skip_serializing_if = "Option::is_none")]
    pub plan_width: Option<u64>,
    #[serde(
        rename = "Actual Startup Time",
        skip_serializing_if = "Option::is_none"
    )]
    pub actual_startup_time: Option<f64>,
    #[serde(rename = "Actual Total Time", skip_serializing_if = "Option::is_none")]
    pub actual_total_time: Option<f64>,
    /// Per-loop average; fractional on PG18.
    #[serde(rename = "Actual Rows", skip_serializing_if = "Option::is_none")]
    pub actual_rows: Option<f64>,
    #[serde(rename = "Actual Loops", skip_serializing_if = "Option::is_none")]
    pub actual_loops: Option<u64>,
    #[serde(rename = "Workers Planned", skip_serializing_if = "Option::is_none")]
    pub workers_planned: Option<u64>,
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
    #[serde(
        rename = "Rows Removed by Index Recheck",
        skip_serializing_if = "Option::is_none"
    )]
    pub rows_removed_by_index_recheck: Option<f64>,
    #[serde(
        rename = "Rows Removed by Join Filter",
        skip_serializing_if = "Option::is_none"
    )]
    pub rows_removed_by_join_filter: Option<f64>,
    #[serde(rename = "Exact Heap Blocks", skip_serializing_if = "Option::is_none")]
    pub exact_heap_blocks: Option<u64>,
    #[serde(rename = "Lossy Heap Blocks", skip_serializing_if = "Option::is_none")]
    pub lossy_heap_blocks: Option<u64>,
    #[serde(rename = "Subplans Removed", skip_serializing_if = "Option::is_none")]
    pub subplans_removed: Option<u64>,
    #[serde(rename = "Sort Method", skip_serializing_if = "Option::is_none")]
    pub sort_method: Option<String>,
    /// kB.
    #[serde(rename = "Sort Space Used", skip_serializing_if = "Option::is_none")]
    pub sort_space_used: Option<u64>,
    /// "Memory" or "Disk".
    #[serde(rename = "Sort Space Type", skip_serializing_if = "Option::is_none")]
    pub sort_space_type: Option<String>,
    #[serde(rename = "Hash Buckets", skip_serializing_if = "Option::is_none")]
    pub hash_buckets: Option<u64>,
    #[serde(
        rename = "Original Hash Buckets",
        skip_serializing_if = "Option::is_none"
    )]
    pub original_hash_buckets: Option<u64>,
    #[serde(rename = "Hash Batches", skip_serializing_if = "Option::is_none")]
    pub hash_batches: Option<u64>,
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
    #[serde(rename = "Index Cond", skip_serializing_if = "Option::is_none")]
    pub index_cond: Option<String>,
    #[serde(rename = "Recheck Cond", skip_serializing_if = "Option::is_none")]
    pub recheck_cond: Option<String>,
    #[serde(rename = "Filter", skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(rename = "Join Filter", skip_serializing_if = "Option::is_none")]
    pub join_filter: Option<String>,
    #[serde(rename = "Hash Cond", skip_serializing_if = "Option::is_none")]
    pub hash_cond: Option<String>,
    #[serde(rename = "Merge Cond", skip_serializing_if = "Option::is_none")]
    pub merge_cond: Option<String>,
    #[serde(rename = "TID Cond", skip_serializing_if = "Option::is_none")]
    pub tid_cond: Option<String>,
    #[serde(rename = "One-Time Filter", skip_serializing_if = "Option::is_none")]
    pub one_time_filter: Option<String>,
    #[serde(flatten)]
    pub buffers: Buffers,
    #[serde(rename = "Workers", skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<Worker>,
    #[serde(rename = "Plans", skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<PlanNode>,
    /// Every key not modelled above, verbatim (Citus "Distributed Query", "Output", "Sort Key",
    /// incremental sort groups, "Disabled", ...), plus any modelled key whose value had a type
    /// this model could not read.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PlanNode {
    /// Builds a node from a JSON object; never fails (see the module docs).
    pub fn from_map(mut m: Map<String, Value>) -> Self {
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
            plans: Vec::new(),
            extra: Map::new(),
        };
        if let Some(ws) = take_object_array(m, "Workers") {
            node.workers = ws.into_iter().map(Worker::from_map).collect();
        }
        if let Some(children) = take_object_array(m, "Plans") {
            node.plans = children.into_iter().map(PlanNode::from_map).collect();
        }
        node.extra = std::mem::take(m);
        node
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

impl<'de> Deserialize<'de> for PlanNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(PlanNode::from_map(Map::deserialize(d)?))
    }
}

/// One entry of the top-level "Triggers" array (ANALYZE of a statement that fired triggers).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Trigger {
    #[serde(rename = "Trigger Name", skip_serializing_if = "Option::is_none")]
    pub trigger_name: Option<String>,
    #[serde(rename = "Constraint Name", skip_serializing_if = "Option::is_none")]
    pub constraint_name: Option<String>,
    #[serde(rename = "Relation", skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    /// Milliseconds, over all calls.
    #[serde(rename = "Time", skip_serializing_if = "Option::is_none")]
    pub time: Option<f64>,
    #[serde(rename = "Calls", skip_serializing_if = "Option::is_none")]
    pub calls: Option<u64>,
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
    #[serde(rename = "Functions", skip_serializing_if = "Option::is_none")]
    pub functions: Option<u64>,
    #[serde(rename = "Options", skip_serializing_if = "Option::is_none")]
    pub options: Option<Map<String, Value>>,
    #[serde(rename = "Timing", skip_serializing_if = "Option::is_none")]
    pub timing: Option<Map<String, Value>>,
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
    #[serde(flatten)]
    pub buffers: Buffers,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A whole EXPLAIN document: the root node plus the statement-level sections.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    #[serde(rename = "Plan")]
    pub root: PlanNode,
    /// Milliseconds; absent with `SUMMARY off` or without ANALYZE.
    #[serde(rename = "Planning Time", skip_serializing_if = "Option::is_none")]
    pub planning_time: Option<f64>,
    #[serde(rename = "Execution Time", skip_serializing_if = "Option::is_none")]
    pub execution_time: Option<f64>,
    #[serde(rename = "Triggers", skip_serializing_if = "Option::is_none")]
    pub triggers: Option<Vec<Trigger>>,
    #[serde(rename = "JIT", skip_serializing_if = "Option::is_none")]
    pub jit: Option<Jit>,
    /// Non-default planner settings (`SETTINGS` option, PG12+), name → value as text.
    #[serde(rename = "Settings", skip_serializing_if = "Option::is_none")]
    pub settings: Option<Map<String, Value>>,
    /// Buffers used during planning (PG13+ with `BUFFERS`).
    #[serde(rename = "Planning", skip_serializing_if = "Option::is_none")]
    pub planning: Option<Planning>,
    #[serde(rename = "Query Identifier", skip_serializing_if = "Option::is_none")]
    pub query_identifier: Option<i64>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
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
