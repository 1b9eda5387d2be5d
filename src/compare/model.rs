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
    /// The strategy ratios are shown against (`--base`, default the first).
    pub base: String,
    /// The 32-client collision race on one provider across a month boundary (None when skipped).
    pub race: Option<Race>,
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
    /// Seconds this run spent seeding the dataset, end to end (`None`: it was there already, from
    /// an earlier run, and was reused).
    pub seed_seconds: Option<f64>,
}

/// How the figures were measured (so a reader can reproduce them).
#[derive(Debug, Clone, Serialize)]
pub struct Method {
    /// Timed executions per query and plan mode, over all rounds.
    pub runs: usize,
    /// Rounds the timed executions (and the write passes) are split into: the spread of a figure is
    /// its min-max over rounds.
    pub rounds: usize,
    /// Untimed executions before them (per round: `warmup.div_ceil(rounds)`).
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
    /// Bookings under concurrent clients (None when skipped).
    pub contention: Option<Contention>,
    /// One result per query, in the query set's order.
    pub queries: Vec<QueryResult>,
    /// The plans' signatures as a baseline records them (partitions folded with the run's
    /// partition map), for comparing this strategy's plans across targets; the plans themselves
    /// are in `queries`.
    #[serde(skip)]
    pub baseline: crate::baseline::Baseline,
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
    /// The rate of every measured pass, in pass order (the figures above are the median pass's).
    pub passes_per_sec: Vec<f64>,
    /// Min-max of `passes_per_sec`.
    pub per_sec_spread: Spread,
    /// WAL per write of every measured pass, and its min-max.
    pub wal_bytes_per_op_spread: Spread,
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
            per_sec_spread: Spread::default(),
            wal_bytes_per_op_spread: Spread::default(),
        }
    }

    /// The median pass of `passes` (by rate; the lower middle one of an even count), carrying every
    /// pass's rate and WAL per write as spreads. Empty `passes` give an empty batch.
    pub fn median_of(passes: Vec<WriteBatch>) -> WriteBatch {
        let rates: Vec<f64> = passes.iter().map(|p| p.per_sec).collect();
        let wal = Spread::of(passes.iter().map(|p| p.wal_bytes_per_op).collect());
        let mut sorted = passes;
        sorted.sort_by(|a, b| a.per_sec.total_cmp(&b.per_sec));
        let middle = sorted.len().saturating_sub(1) / 2;
        let mut out = sorted
            .into_iter()
            .nth(middle)
            .unwrap_or_else(|| WriteBatch::new(&[], 0));
        out.per_sec_spread = Spread::of(rates.clone());
        out.passes_per_sec = rates;
        out.wal_bytes_per_op_spread = wal;
        out
    }
}

/// One figure measured in several rounds: every round's value (in round order) and their min and
/// max. Two figures differ only when their ranges do not overlap (see [`Spread::separated`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Spread {
    /// The figure of each round, in the order measured.
    pub values: Vec<f64>,
    /// Smallest round value (0 when there are no rounds).
    pub min: f64,
    /// Largest round value (0 when there are no rounds).
    pub max: f64,
}

impl Spread {
    /// The spread of round values (NaN values are dropped).
    pub fn of(values: Vec<f64>) -> Spread {
        let values: Vec<f64> = values.into_iter().filter(|v| !v.is_nan()).collect();
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if values.is_empty() {
            return Spread::default();
        }
        Spread { values, min, max }
    }

    /// Rounds measured.
    pub fn rounds(&self) -> usize {
        self.values.len()
    }

    /// No rounds: nothing to compare.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `Less` when every round of `self` is below every round of `other`, `Greater` when every one
    /// is above, `None` when the ranges overlap ("same within noise") or either has fewer than two
    /// rounds (no spread to judge by).
    ///
    /// Complete separation is the exact Mann-Whitney test at U = 0: if both were samples of the same
    /// distribution, all n rounds of one would fall on one side of all m of the other with
    /// probability 2 / C(n + m, n) — 2/252 < 1% for 5 rounds against 5 ([`Spread::chance`]).
    pub fn separated(&self, other: &Spread) -> Option<std::cmp::Ordering> {
        if self.rounds() < 2 || other.rounds() < 2 {
            None
        } else if self.max < other.min {
            Some(std::cmp::Ordering::Less)
        } else if self.min > other.max {
            Some(std::cmp::Ordering::Greater)
        } else {
            None
        }
    }

    /// The chance that `n` rounds against `m` separate completely although nothing differs:
    /// 2 / C(n + m, n).
    pub fn chance(n: usize, m: usize) -> f64 {
        // C(n + m, n) as a product of ratios, exact enough for the few rounds a report has.
        let mut c = 1.0;
        for i in 1..=n {
            c *= (m + i) as f64 / i as f64;
        }
        (2.0 / c).min(1.0)
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
    /// The p50 of each round of executions (empty when measured in one round).
    #[serde(skip_serializing_if = "Spread::is_empty")]
    pub p50_rounds: Spread,
}

impl Latency {
    /// Percentiles over every round's samples pooled, with each round's p50 as the spread.
    pub fn from_rounds(rounds: &[Vec<Duration>]) -> Latency {
        let pooled: Vec<Duration> = rounds.iter().flatten().copied().collect();
        let mut out = Latency::from_samples(&pooled);
        if rounds.len() > 1 {
            out.p50_rounds = Spread::of(
                rounds
                    .iter()
                    .map(|r| Latency::from_samples(r).p50_ms)
                    .collect(),
            );
        }
        out
    }

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
            p50_rounds: Spread::default(),
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
    /// The plan tree's shape: node types, join and aggregate strategies, relations and indexes, in
    /// preorder. Equal signatures under two strategies mean the same plan.
    pub signature: String,
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
            signature: signature(&p.plan),
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

/// The shape of a plan tree, one node per `;`, children in brackets: `Limit[Index Only Scan
/// appointment_y2026m01 using appointment_provider_day_idx]`. Costs, rows and times are left out;
/// partitions keep their names (the same parameters prune the same partitions under every strategy).
pub fn signature(plan: &Plan) -> String {
    fn node(n: &crate::plan::PlanNode, out: &mut String) {
        out.push_str(&n.node_type);
        for extra in [&n.join_type, &n.strategy, &n.parent_relationship]
            .into_iter()
            .flatten()
        {
            out.push(' ');
            out.push_str(extra);
        }
        if let Some(r) = &n.relation_name {
            out.push(' ');
            out.push_str(r);
        }
        if let Some(i) = &n.index_name {
            out.push_str(" using ");
            out.push_str(i);
        }
        let mut children = n.children().peekable();
        if children.peek().is_some() {
            out.push('[');
            for (k, c) in children.enumerate() {
                if k > 0 {
                    out.push_str("; ");
                }
                node(c, out);
            }
            out.push(']');
        }
    }
    let mut out = String::new();
    node(&plan.root, &mut out);
    out
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

/// Bookings under concurrent clients, for one index strategy: a sweep over client counts, each run
/// once without and once with colliding bookings (see `compare::contention`).
#[derive(Debug, Clone, Serialize)]
pub struct Contention {
    /// Seconds each level ran for.
    pub seconds_per_level: f64,
    /// Share of bookings that aim at a slot another booking has just taken or is taking, in the runs
    /// with collisions.
    pub collision_share: f64,
    /// Exponent of the Zipf distribution over providers (1 = classic: the hottest of 200 providers
    /// gets 17% of the bookings).
    pub zipf_s: f64,
    /// Live providers the bookings were spread over.
    pub providers: usize,
    /// One run per client count and collision setting, clients ascending, without collisions first.
    pub levels: Vec<ContentionLevel>,
}

impl Contention {
    /// The run with `clients` clients, with or without collisions.
    pub fn level(&self, clients: usize, collisions: bool) -> Option<&ContentionLevel> {
        self.levels
            .iter()
            .find(|l| l.clients == clients && l.collisions == collisions)
    }
}

/// One contention run: `clients` connections booking as fast as they can for a fixed time.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ContentionLevel {
    /// Concurrent clients (one connection and one thread each).
    pub clients: usize,
    /// Whether a share of the bookings collided on purpose (`Contention::collision_share`).
    pub collisions: bool,
    /// Wall time of the run, seconds.
    pub seconds: f64,
    /// Booking attempts finished.
    pub attempts: usize,
    /// Attempts that booked (committed).
    pub booked: usize,
    /// Attempts refused with 23P01 (exclusion violation: the slot is taken), the answer a losing
    /// booking should get.
    pub exclusion_violations: usize,
    /// Attempts that ended in 40P01 (deadlock detected).
    pub deadlocks: usize,
    /// Attempts that failed otherwise.
    pub other_errors: usize,
    /// The first other error's message, if any.
    pub other_example: Option<String>,
    /// Answered attempts (booked or 23P01) per second over the whole run.
    pub per_sec: f64,
    /// Answered attempts per second in each of the run's windows (quarters of it), min-max.
    pub per_sec_spread: Spread,
    /// Latency of every attempt, BEGIN to COMMIT or ROLLBACK, whatever its outcome.
    pub latency: Latency,
}

/// The collision race: `clients` connections released at once, each booking one of five mutually
/// overlapping slots of one provider across a month boundary.
#[derive(Debug, Clone, Serialize)]
pub struct Race {
    /// Clients released at once (a barrier), one connection each.
    pub clients: usize,
    /// The month boundary, RFC 3339 UTC.
    pub boundary: String,
    /// The slot shapes, `23:30+60` (start, minutes); client `i` books shape `i mod 5`.
    pub shapes: Vec<String>,
    /// The index strategy in place while racing.
    pub strategy: String,
    /// One entry per round.
    pub rounds: Vec<RaceRound>,
    /// Min-max of the rounds' settle times, ms.
    pub settle_spread: Spread,
}

/// One round of the race.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RaceRound {
    /// From the release to the last client's answer, ms.
    pub settle_ms: f64,
    /// Clients whose booking committed (exactly one, if the model holds).
    pub booked: usize,
    /// Clients refused with 23P01.
    pub exclusion_violations: usize,
    /// Clients that got 40P01.
    pub deadlocks: usize,
    /// Clients that failed otherwise.
    pub other_errors: usize,
    /// The first other error's message, if any.
    pub other_example: Option<String>,
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

    #[test]
    #[allow(clippy::float_cmp, reason = "rates of whole milliseconds are exact")]
    fn the_median_pass_is_reported_with_the_spread_of_all() {
        let pass = |ms: u64| WriteBatch::new(&[Duration::from_millis(ms)], 100);
        let b = WriteBatch::median_of(vec![pass(4), pass(1), pass(2)]);
        assert_eq!(b.per_sec, 500.0);
        assert_eq!(b.passes_per_sec, [250.0, 1000.0, 500.0]);
        assert_eq!(
            (b.per_sec_spread.min, b.per_sec_spread.max),
            (250.0, 1000.0)
        );
        assert_eq!(WriteBatch::median_of(Vec::new()).count, 0);
    }

    #[test]
    fn spreads_differ_only_when_their_ranges_do_not_overlap() {
        let a = Spread::of(vec![1.0, 1.2, 1.1]);
        let b = Spread::of(vec![1.3, 1.5, 1.4]);
        let c = Spread::of(vec![1.15, 1.6, 1.3]);
        assert_eq!(a.separated(&b), Some(std::cmp::Ordering::Less));
        assert_eq!(b.separated(&a), Some(std::cmp::Ordering::Greater));
        assert_eq!(
            a.separated(&c),
            None,
            "overlapping ranges are the same within noise"
        );
        // One round has no spread: nothing can be called different.
        assert_eq!(Spread::of(vec![1.0]).separated(&b), None);
        assert!((Spread::chance(5, 5) - 2.0 / 252.0).abs() < 1e-12);
        assert!((Spread::chance(3, 3) - 0.1).abs() < 1e-12);
        assert!(Spread::of(vec![f64::NAN]).is_empty());
    }

    #[test]
    fn latency_rounds_pool_samples_and_keep_each_p50() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|m| Duration::from_millis(*m))
                .collect::<Vec<_>>()
        };
        let l = Latency::from_rounds(&[ms(&[1, 2, 3]), ms(&[4, 5, 6])]);
        assert_eq!(l.runs, 6);
        assert_eq!(l.p50_rounds.values.len(), 2);
        assert!((l.p50_rounds.min - 2.0).abs() < 1e-9 && (l.p50_rounds.max - 5.0).abs() < 1e-9);
        assert!(Latency::from_rounds(&[ms(&[1])]).p50_rounds.is_empty());
    }
}
