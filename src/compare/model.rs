//! What a comparison measured, as plain data: the figures `qcheck compare` collects per strategy and
//! per query, and the stamp that says where they were measured.
//!
//! Pure (no database, no I/O): `compare` fills these in, `report::compare` renders them as Markdown,
//! HTML and JSON, and the report writers are unit-tested on hand-made values. `report.json` is these
//! types serialized as they are, so every field name here is part of the JSON a reader consumes.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::analysis::{PlanCheck, QueryCheck};
use crate::plan::{Mode, Plan};

/// One `qcheck compare` run.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// Where, when and with which build and settings the figures were measured.
    pub stamp: Stamp,
    /// The dataset every strategy was measured on.
    pub dataset: DatasetInfo,
    /// How the figures were measured.
    pub method: Method,
    /// In the order the user gave them.
    pub strategies: Vec<StrategyResult>,
    /// qcheck's latency against pgbench's for one query (None when skipped).
    pub harness: Option<HarnessCheck>,
    /// The index strategy in place when the run ended (the dataset's recorded one, restored).
    pub left_in_place: String,
    /// Things a reader should know (a skipped CHECKPOINT, fewer free slots than requested, ...).
    pub notes: Vec<String>,
    /// Wall-clock seconds the whole comparison took.
    pub wall_seconds: f64,
}

/// Where and with what the figures were measured.
#[derive(Debug, Clone, Serialize)]
pub struct Stamp {
    /// qcheck's own version (`CARGO_PKG_VERSION`).
    pub qcheck_version: String,
    /// `git describe`-like revision of the qcheck build (`unknown` when built outside git).
    pub git_revision: String,
    /// RFC 3339, UTC.
    pub generated_at: String,
    /// The server, without password.
    pub target: String,
    /// `server_version`, e.g. `15.18 (Debian 15.18-0+deb12u1)`.
    pub postgres_version: String,
    /// The settings that change plans or write costs, as the server reports them.
    pub settings: Vec<Setting>,
    /// The machine qcheck ran on.
    pub machine: Machine,
}

/// One server setting, as `pg_settings` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// The setting's name, e.g. `work_mem`.
    pub name: String,
    /// `current_setting(name)`, with its unit (`512MB`).
    pub value: String,
    /// `pg_settings.source`: `default`, `configuration file`, `session`, ...
    pub source: String,
}

/// The machine qcheck ran on (also the server's, for the embedded cluster).
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Cores available to qcheck (`available_parallelism`, 1 when unknown).
    pub cores: usize,
    /// `MemTotal` from /proc/meminfo, bytes; `None` off Linux or when unreadable.
    pub memory_bytes: Option<u64>,
    /// CPU model name from /proc/cpuinfo; `None` off Linux or when absent.
    pub cpu: Option<String>,
    /// Operating system and architecture, e.g. `linux x86_64`.
    pub os: String,
    /// False when the target is a server elsewhere: then cores and memory describe the client.
    pub server_is_local: bool,
}

/// The dataset every strategy was measured on.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetInfo {
    /// The generation profile's name.
    pub profile: String,
    /// The profile's scale factor the rows were generated at.
    pub scale: f64,
    /// The generator seed.
    pub seed: u64,
    /// Generator version (`generate::meta::GENERATOR_VERSION`) that produced the rows.
    pub generator_version: u32,
    /// sha256 of the generated rows.
    pub digest: String,
    /// Rows per table.
    pub row_counts: BTreeMap<String, u64>,
    /// Monthly partitions of the partitioned tables (one per profile month).
    pub partitions: u32,
    /// Heap size of the model's tables (every leaf partition, TOAST included).
    pub table_bytes: i64,
    /// Indexes every strategy shares: primary keys, unique keys, the exclusion constraints.
    pub constraint_index_bytes: i64,
}

/// How the figures were measured (so a reader can reproduce them).
#[derive(Debug, Clone, Serialize)]
pub struct Method {
    /// Timed executions per query and plan mode.
    pub runs: usize,
    /// Untimed executions before them.
    pub warmup: usize,
    /// Bookings each strategy's write-cost measurement was asked to make.
    pub bookings_requested: usize,
    /// Cancellations each strategy's write-cost measurement was asked to make.
    pub cancellations_requested: usize,
    /// One line per measurement: what was done.
    pub description: Vec<String>,
}

/// Everything measured for one index strategy.
#[derive(Debug, Clone, Serialize)]
pub struct StrategyResult {
    /// The strategy's name (its SQL file's name without `.sql`).
    pub name: String,
    /// What the strategy is for (its file's first comment paragraph).
    pub summary: String,
    /// The indexes the strategy built, beyond the constraint indexes.
    pub indexes: Vec<IndexInfo>,
    /// Sum of `indexes`' sizes, bytes.
    pub total_index_bytes: i64,
    /// Sum of the index builds.
    pub build_ms: f64,
    /// What its bookings and cancellations cost with these indexes.
    pub writes: WriteCost,
    /// One result per query, in the query set's order.
    pub queries: Vec<QueryResult>,
}

impl StrategyResult {
    /// Plans (custom and generic) whose expectations all hold, and how many plans there are.
    pub fn plans_passing(&self) -> (usize, usize) {
        let passing = self
            .queries
            .iter()
            .map(|q| usize::from(q.custom.passed) + usize::from(q.generic.passed))
            .sum();
        (passing, self.queries.len() * 2)
    }

    /// The result of the query called `name`, if measured.
    pub fn query(&self, name: &str) -> Option<&QueryResult> {
        self.queries.iter().find(|q| q.name == name)
    }
}

/// One index a strategy built.
#[derive(Debug, Clone, Serialize)]
pub struct IndexInfo {
    /// The index's name.
    pub name: String,
    /// The table (partitioned parent, for partitioned tables) it is on.
    pub table: String,
    /// Summed over the partition tree (a partitioned index itself has no storage).
    pub bytes: i64,
    /// Time to build it, ms.
    pub build_ms: f64,
    /// `pg_get_indexdef`.
    pub definition: String,
}

/// The write cost of a strategy: bookings and cancellations through the normal path.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WriteCost {
    /// The booking writes.
    pub bookings: WriteBatch,
    /// The cancellation writes.
    pub cancellations: WriteBatch,
}

/// A batch of identical writes, each a round trip of a prepared statement, in one transaction that is
/// rolled back afterwards.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WriteBatch {
    /// Writes in the batch.
    pub count: usize,
    /// Summed round-trip time of the writes, seconds.
    pub seconds: f64,
    /// Writes per second (`count / seconds`, 0 when no time elapsed).
    pub per_sec: f64,
    /// Per-write round-trip latency.
    pub latency: Latency,
    /// `pg_current_wal_insert_lsn()` after minus before.
    pub wal_bytes: u64,
    /// `wal_bytes / count` (0 for an empty batch).
    pub wal_bytes_per_op: f64,
    /// The rate of every measured pass (the figures above are the fastest pass's).
    pub passes_per_sec: Vec<f64>,
}

impl WriteBatch {
    /// Figures for one pass from per-write durations and the WAL it generated (bytes).
    pub fn new(samples: &[Duration], wal_bytes: u64) -> WriteBatch {
        let seconds: f64 = samples.iter().map(Duration::as_secs_f64).sum();
        let count = samples.len();
        WriteBatch {
            count,
            seconds,
            per_sec: if seconds > 0.0 {
                count as f64 / seconds
            } else {
                0.0
            },
            latency: Latency::from_samples(samples),
            wal_bytes,
            wal_bytes_per_op: if count > 0 {
                wal_bytes as f64 / count as f64
            } else {
                0.0
            },
            passes_per_sec: Vec::new(),
        }
    }
}

/// Latency percentiles of timed executions, in milliseconds (nearest-rank percentiles).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Timed executions the percentiles are over (0 when none).
    pub runs: usize,
    /// Fastest execution, ms.
    pub min_ms: f64,
    /// Median, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Slowest execution, ms.
    pub max_ms: f64,
    /// Arithmetic mean, ms.
    pub mean_ms: f64,
}

impl Latency {
    /// Percentiles of measured durations.
    pub fn from_samples(samples: &[Duration]) -> Latency {
        let ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        Latency::from_ms(&ms)
    }

    /// Percentiles of durations already in ms; all zero when `samples` is empty.
    pub fn from_ms(samples: &[f64]) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        // Nearest rank: the smallest value with at least p% of the samples at or below it.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "p is a percentile in [0, 100], so the rank is in 0..=len"
        )]
        let rank = |p: f64| {
            let r = (p / 100.0 * sorted.len() as f64).ceil() as usize;
            sorted[r.clamp(1, sorted.len()) - 1]
        };
        Latency {
            runs: sorted.len(),
            min_ms: sorted[0],
            p50_ms: rank(50.0),
            p95_ms: rank(95.0),
            p99_ms: rank(99.0),
            max_ms: sorted[sorted.len() - 1],
            mean_ms: sorted.iter().sum::<f64>() / sorted.len() as f64,
        }
    }
}

/// One query under one strategy.
#[derive(Debug, Clone, Serialize)]
pub struct QueryResult {
    /// The query's name (its `-- name:` header).
    pub name: String,
    /// What a user asks with it (its `-- summary:` header).
    pub summary: String,
    /// `name=value ...`, as picked from the data.
    pub params: String,
    /// Both plans meet their expectations (an exempt generic plan always does).
    pub passed: bool,
    /// Why the generic plan is exempt from the expectations; `None` when it is not.
    pub generic_exempt: Option<String>,
    /// The plan under `force_custom_plan`.
    pub custom: PlanResult,
    /// The plan under `force_generic_plan`.
    pub generic: PlanResult,
}

impl QueryResult {
    /// Result of a checked query with the latencies measured for each plan mode.
    pub fn new(check: &QueryCheck, custom: Latency, generic: Latency) -> QueryResult {
        QueryResult {
            name: check.name.clone(),
            summary: check.summary.clone(),
            params: check.params.display(),
            passed: check.passed,
            generic_exempt: check.generic_exempt.clone(),
            custom: PlanResult::new(&check.custom, Mode::Custom, custom),
            generic: PlanResult::new(&check.generic, Mode::Generic, generic),
        }
    }

    /// The result for one plan mode.
    pub fn plan(&self, mode: Mode) -> &PlanResult {
        match mode {
            Mode::Custom => &self.custom,
            Mode::Generic => &self.generic,
        }
    }
}

/// One plan mode of a query: the plan and its verdicts (from EXPLAIN ANALYZE) and the latency of real
/// executions (never from EXPLAIN ANALYZE, whose per-node timing inflates it).
#[derive(Debug, Clone, Serialize)]
pub struct PlanResult {
    /// Custom or generic.
    pub mode: Mode,
    /// Per relation: scan kinds, indexes, partitions scanned.
    pub shape: String,
    /// Every expectation holds (always true when `exempt`).
    pub passed: bool,
    /// The generic plan is exempt from the expectations (`generic_exempt` set).
    pub exempt: bool,
    /// One row per expectation.
    pub verdicts: Vec<VerdictRow>,
    /// Tip ids and messages (`row-estimate: ...`).
    pub tips: Vec<String>,
    /// `Planning Time` of the EXPLAIN ANALYZE run, ms.
    pub planning_ms: Option<f64>,
    /// `Execution Time` of the EXPLAIN ANALYZE run, ms (timing overhead included).
    pub execution_ms: Option<f64>,
    /// Shared buffers found in cache during one execution.
    pub shared_hit: Option<u64>,
    /// Shared buffers read from the OS during one execution.
    pub shared_read: Option<u64>,
    /// Shared buffers (hit + read) of one execution.
    pub shared_buffers: Option<u64>,
    /// Heap fetches of index-only scans, summed over the plan.
    pub heap_fetches: Option<f64>,
    /// Rows the query returned.
    pub rows: Option<f64>,
    /// Latency of real executions (not EXPLAIN ANALYZE).
    pub latency: Latency,
    /// EXPLAIN (ANALYZE, BUFFERS, SETTINGS, FORMAT JSON) as PostgreSQL printed it.
    #[serde(serialize_with = "crate::analysis::as_explain_document")]
    pub plan: Plan,
}

impl PlanResult {
    /// Summary of one plan's check, with its measured latency.
    pub fn new(p: &PlanCheck, mode: Mode, latency: Latency) -> PlanResult {
        let b = &p.facts.buffers;
        let shared_buffers = match (b.shared_hit, b.shared_read) {
            (None, None) => None,
            (h, r) => Some(h.unwrap_or(0) + r.unwrap_or(0)),
        };
        PlanResult {
            mode,
            shape: p.shape(),
            passed: p.passed(),
            exempt: p.exempt,
            verdicts: p
                .verdicts
                .iter()
                .map(|v| VerdictRow {
                    text: v.text.clone(),
                    passed: v.passed,
                    undecided: v.undecided,
                    expected: v.expected.clone(),
                    found: v.found.clone(),
                    location: v.location.clone(),
                    nodes: v.nodes.clone(),
                })
                .collect(),
            tips: p
                .tips
                .iter()
                .map(|t| format!("{}: {}", t.id, t.message))
                .collect(),
            planning_ms: p.facts.planning_time_ms,
            execution_ms: p.facts.execution_time_ms,
            shared_hit: b.shared_hit,
            shared_read: b.shared_read,
            shared_buffers,
            heap_fetches: p.facts.heap_fetches,
            rows: p.facts.result_rows,
            latency,
            plan: p.plan.clone(),
        }
    }

    /// How many expectations failed.
    pub fn failed(&self) -> usize {
        self.verdicts.iter().filter(|v| !v.passed).count()
    }
}

/// One expectation's verdict on a plan.
#[derive(Debug, Clone, Serialize)]
pub struct VerdictRow {
    /// The expectation as written in the query file.
    pub text: String,
    /// Whether the plan meets it.
    pub passed: bool,
    /// The plan could not decide it (see `expect::Verdict::undecided`).
    pub undecided: bool,
    /// What was expected, in words.
    pub expected: String,
    /// What the plan shows, with the actual value.
    pub found: String,
    /// Where in the plan, e.g. `Seq Scan on appointment_y2026m03 (#2)`; `None` for whole-plan
    /// checks.
    pub location: Option<String>,
    /// Plan nodes the verdict concerns (preorder ids), for marking the tree.
    pub nodes: Vec<usize>,
}

/// Does the harness distort what it measures? One query, fixed parameters, timed by qcheck and by
/// `pgbench -M prepared` on the same server and data.
#[derive(Debug, Clone, Serialize)]
pub struct HarnessCheck {
    /// The query timed (its name).
    pub query: String,
    /// The parameter values used on both sides, `name=value ...`.
    pub params: String,
    /// The index strategy in place while timing.
    pub strategy: String,
    /// Timed executions per side and plan mode, over all rounds.
    pub runs: usize,
    /// Rounds, alternating which side runs first; samples are pooled.
    pub rounds: usize,
    /// Untimed executions at the start of every round (a fresh pgbench connection each time).
    pub warmup: usize,
    /// The pgbench script (the query with `:name` variables).
    pub script: String,
    /// One comparison per plan mode.
    pub modes: Vec<HarnessMode>,
}

/// qcheck's latency against pgbench's, for one plan mode.
#[derive(Debug, Clone, Serialize)]
pub struct HarnessMode {
    /// Custom or generic.
    pub mode: Mode,
    /// Latency as qcheck's own timing loop measured it.
    pub qcheck: Latency,
    /// Latency as pgbench measured it.
    pub pgbench: Latency,
    /// qcheck p50 / pgbench p50 (1.0 = no distortion).
    pub ratio_p50: f64,
    /// qcheck mean / pgbench mean (1.0 = no distortion).
    pub ratio_mean: f64,
    /// The pgbench command line (no password), to reproduce it.
    pub command: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(
        clippy::float_cmp,
        reason = "nearest-rank percentiles are samples themselves and the mean of 1..=100 is exact: equality is intended"
    )]
    fn nearest_rank_percentiles() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let l = Latency::from_ms(&samples);
        assert_eq!(
            (l.min_ms, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms),
            (1.0, 50.0, 95.0, 99.0, 100.0)
        );
        assert_eq!(l.mean_ms, 50.5);
        let one = Latency::from_ms(&[3.0]);
        assert_eq!((one.p50_ms, one.p99_ms, one.runs), (3.0, 3.0, 1));
        assert_eq!(Latency::from_ms(&[]), Latency::default());
    }

    #[test]
    #[allow(
        clippy::float_cmp,
        reason = "1000 / 2 and the empty batch's zeros are exact: equality is intended"
    )]
    fn write_batches_divide_safely() {
        let b = WriteBatch::new(&[Duration::from_millis(2), Duration::from_millis(3)], 1000);
        assert_eq!(b.count, 2);
        assert!((b.per_sec - 400.0).abs() < 1e-6);
        assert_eq!(b.wal_bytes_per_op, 500.0);
        let empty = WriteBatch::new(&[], 0);
        assert_eq!((empty.per_sec, empty.wal_bytes_per_op), (0.0, 0.0));
    }
}
