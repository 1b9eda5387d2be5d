//! Comparing two baselines: what changed per query and plan mode, and whether it is a change or
//! noise.
//!
//! A plan **changed** when its shape changed (see [`crate::plan::Signature`]: a node added,
//! removed or renamed, children reordered — a join order flip —, another index, more partitions),
//! when its shared buffers grew beyond the buffers threshold, or when a node's rows moved beyond the
//! rows threshold (either way). Timing never makes a change: it is shown, not judged.
//!
//! Thresholds are a factor and an absolute floor, both of which must be exceeded
//! ([`Threshold`]): the defaults `1.5x+10` for buffers (a few pages more for a deeper index
//! descent are noise; 4 → 35 is not) and `2x+10` for rows. On the same data and plan, buffers and
//! rows repeat exactly, so the defaults leave room for a little churn (hint bits, a page split)
//! without hiding a real regression.
//!
//! The tree diff aligns the two node lists (preorder, with depth) on their longest common
//! subsequence of `(depth, node, role)`, like a text diff of two EXPLAIN outputs, so a changed
//! subtree reads as removed and added lines in place.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Baseline, Latency};
use crate::plan::{SigNode, Signature};
use crate::report::fmt;

/// A change threshold: a value moved when it changed by more than `factor` times **and** by
/// more than `floor` in absolute terms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    /// Ratio that must be exceeded (≥ 1).
    pub factor: f64,
    /// Absolute difference that must be exceeded (≥ 0).
    pub floor: f64,
}

impl Threshold {
    /// The default for shared buffers: 1.5× and more than 10 buffers.
    pub const BUFFERS: Threshold = Threshold {
        factor: 1.5,
        floor: 10.0,
    };
    /// The default for rows: 2× and more than 10 rows.
    pub const ROWS: Threshold = Threshold {
        factor: 2.0,
        floor: 10.0,
    };

    /// Parses `FACTOR[x][+FLOOR]`: `1.5x+10`, `2x`, `1.5`, `3+100`. The factor must be at least
    /// 1 and the floor a non-negative number (0 when left out).
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let bad = || {
            format!(
                "`{text}` is not a threshold: write FACTORx+FLOOR, e.g. 1.5x+10 (more than 1.5 \
                 times and more than 10 more), or 2x (floor 0)"
            )
        };
        let (factor, floor) = match text.split_once('+') {
            Some((f, n)) => (f, Some(n)),
            None => (text, None),
        };
        let factor = factor.trim().trim_end_matches(['x', 'X', '×']);
        let factor: f64 = factor.parse().map_err(|_| bad())?;
        let floor: f64 = match floor {
            Some(n) => n.trim().parse().map_err(|_| bad())?,
            None => 0.0,
        };
        if !factor.is_finite() || factor < 1.0 {
            return Err(format!(
                "`{text}`: the factor must be a number of at least 1 (1.5x: more than 1.5 times)"
            ));
        }
        if !floor.is_finite() || floor < 0.0 {
            return Err(format!(
                "`{text}`: the floor after + must be a number of at least 0"
            ));
        }
        Ok(Threshold { factor, floor })
    }

    /// Whether `after` grew beyond the threshold from `before`.
    pub fn grew(self, before: f64, after: f64) -> bool {
        after - before > self.floor && after > before * self.factor
    }

    /// Whether `after` moved beyond the threshold from `before`, either way.
    pub fn moved(self, before: f64, after: f64) -> bool {
        self.grew(before, after) || self.grew(after, before)
    }
}

impl std::fmt::Display for Threshold {
    /// `1.5×+10`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}×+{}", fmt::sig3(self.factor), fmt::count(self.floor))
    }
}

/// The thresholds of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// For a plan's shared buffers (growth only: fewer buffers is never a regression).
    pub buffers: Threshold,
    /// For each node's rows (either way).
    pub rows: Threshold,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            buffers: Threshold::BUFFERS,
            rows: Threshold::ROWS,
        }
    }
}

/// How a tree-diff line relates the two plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineOp {
    /// The node is in both, and nothing about it moved beyond a threshold.
    Same,
    /// The node is in both, but its partition count changed or its rows or buffers moved
    /// beyond the thresholds.
    Changed,
    /// Only in the baseline (before).
    Removed,
    /// Only in the new plan (after).
    Added,
}

/// What one node measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Measure {
    /// Collapsed partition scans it stands for.
    pub count: u64,
    /// Rows over all loops.
    pub rows: Option<f64>,
    /// Shared buffers (inclusive).
    pub shared_buffers: Option<u64>,
}

impl From<&SigNode> for Measure {
    fn from(n: &SigNode) -> Self {
        Measure {
            count: n.count,
            rows: n.rows,
            shared_buffers: n.shared_buffers,
        }
    }
}

/// One line of the tree diff.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffLine {
    /// How the line relates the plans.
    pub op: LineOp,
    /// Depth in the tree (0 = root).
    pub depth: usize,
    /// The node's name (see [`SigNode::node`]).
    pub node: String,
    /// InitPlan / SubPlan / Remote, when it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The baseline's node (absent for an added line).
    pub before: Option<Measure>,
    /// The new plan's node (absent for a removed line).
    pub after: Option<Measure>,
    /// What moved on a changed line: `rows 13 → 130`, `partitions ×1 → ×4`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A before/after pair of one figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Figure<T> {
    /// In the baseline.
    pub before: Option<T>,
    /// Now.
    pub after: Option<T>,
    /// Beyond its threshold (counts as a change).
    pub beyond: bool,
}

/// One plan (a query in one mode) compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanComparison {
    /// `custom`, `generic` or `plan`.
    pub mode: String,
    /// Whether the plan changed (shape, or buffers or rows beyond their thresholds).
    pub changed: bool,
    /// Whether the shape changed.
    pub shape_changed: bool,
    /// What changed, one sentence each: tables read another way, operators added or removed,
    /// a join order, buffers or rows beyond their thresholds.
    pub changes: Vec<String>,
    /// The plan's shared buffers.
    pub shared_buffers: Figure<u64>,
    /// The rows the plan returned (root).
    pub rows: Figure<f64>,
    /// Informative: planning and execution time, before and after.
    pub latency_ms: Option<(Latency, Latency)>,
    /// The tree diff; empty when the plan did not change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<DiffLine>,
}

/// Where a query stands against the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueryStatus {
    /// Every plan as in the baseline.
    Same,
    /// At least one plan changed.
    Changed,
    /// Not in the baseline (never a failure: save a new baseline to cover it).
    New,
    /// In the baseline, not in this run.
    Missing,
}

/// One query compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryComparison {
    /// The query.
    pub name: String,
    /// Overall.
    pub status: QueryStatus,
    /// Set when the parameter values differ from the baseline's (the data differs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params_note: Option<String>,
    /// Per plan mode, in order.
    pub plans: Vec<PlanComparison>,
}

/// Two baselines compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// What the baseline is (a file name).
    pub before: String,
    /// What it is compared with (a file name, or `this run`).
    pub after: String,
    /// Whether nothing changed.
    pub passed: bool,
    /// The thresholds used.
    pub thresholds: Thresholds,
    /// Differences of identity worth knowing (strategy, server version, dataset), and queries
    /// present on one side only.
    pub notes: Vec<String>,
    /// Per query, in name order (both sides').
    pub queries: Vec<QueryComparison>,
}

impl Comparison {
    /// How many plans changed, of how many compared.
    pub fn changed_plans(&self) -> (usize, usize) {
        let plans = self.queries.iter().flat_map(|q| &q.plans);
        let (mut changed, mut total) = (0, 0);
        for p in plans {
            total += 1;
            changed += usize::from(p.changed);
        }
        (changed, total)
    }

    /// The comparison of one query, by name.
    pub fn query(&self, name: &str) -> Option<&QueryComparison> {
        self.queries.iter().find(|q| q.name == name)
    }
}

/// The notes on two identities (dataset, strategy, server) and, when the data differs, the reason
/// as the second value: `check --baseline` refuses to compare different data (exit 2), `diff`
/// reports it as a note.
pub fn identity(before: &Baseline, after: &Baseline) -> (Vec<String>, Option<String>) {
    let mut notes = Vec::new();
    let mut data = None;
    match (&before.dataset, &after.dataset) {
        (Some(b), Some(a)) => {
            if !b.same_data(a) {
                let why = if b.describe() == a.describe() {
                    format!(
                        "the rows differ ({} was generated by generator version {} with digest \
                         {}; now version {}, digest {}): the generator or the profile changed",
                        b.describe(),
                        b.generator_version,
                        short_digest(&b.digest),
                        a.generator_version,
                        short_digest(&a.digest)
                    )
                } else {
                    format!("baseline dataset {}, now {}", b.describe(), a.describe())
                };
                data = Some(why);
            }
            if b.strategy != a.strategy {
                notes.push(format!(
                    "index strategy: baseline {}, now {} — the differences below are what the \
                     strategy changes",
                    b.strategy, a.strategy
                ));
            }
        }
        (Some(b), None) => notes.push(format!(
            "the baseline was taken on dataset {} ({}); this side has no dataset record, so the \
             data cannot be checked to be the same",
            b.describe(),
            b.strategy
        )),
        (None, Some(a)) => notes.push(format!(
            "the baseline has no dataset record; this side ran on {} ({})",
            a.describe(),
            a.strategy
        )),
        (None, None) => {}
    }
    if let (Some(b), Some(a)) = (&before.server, &after.server) {
        if b.major != a.major {
            notes.push(format!(
                "PostgreSQL {} → {}: a major-version upgrade; the differences below are what the \
                 upgrade changes (expected to be few; each one is worth a look)",
                b.version, a.version
            ));
        } else if b.version != a.version {
            notes.push(format!("PostgreSQL {} → {}", b.version, a.version));
        }
    }
    (notes, data)
}

fn short_digest(d: &str) -> &str {
    let d = d.strip_prefix("sha256:").unwrap_or(d);
    &d[..d.len().min(12)]
}

/// Compares `after` with the baseline `before`, query by query and mode by mode. `notes` are the
/// identity notes to carry (see [`identity`]).
pub fn compare(
    before: &Baseline,
    after: &Baseline,
    before_name: &str,
    after_name: &str,
    thresholds: Thresholds,
    mut notes: Vec<String>,
) -> Comparison {
    let mut queries = Vec::new();
    let mut names: Vec<&String> = before.queries.keys().chain(after.queries.keys()).collect();
    names.sort();
    names.dedup();
    let mut missing = Vec::new();
    let mut new = Vec::new();
    for name in names {
        let (b, a) = (before.queries.get(name), after.queries.get(name));
        let (b, a) = match (b, a) {
            (Some(b), Some(a)) => (b, a),
            (Some(_), None) => {
                missing.push(name.clone());
                continue;
            }
            (None, Some(_)) => {
                new.push(name.clone());
                queries.push(QueryComparison {
                    name: name.clone(),
                    status: QueryStatus::New,
                    params_note: None,
                    plans: Vec::new(),
                });
                continue;
            }
            (None, None) => continue,
        };
        let mut plans = Vec::new();
        let mut modes: Vec<&String> = b.plans.keys().chain(a.plans.keys()).collect();
        modes.sort();
        modes.dedup();
        for mode in modes {
            let latency = |base: &Baseline| {
                base.latency_ms
                    .get(name)
                    .and_then(|m| m.get(mode.as_str()))
                    .copied()
            };
            let latency = latency(before).zip(latency(after));
            match (b.plans.get(mode), a.plans.get(mode)) {
                (Some(bs), Some(as_)) => {
                    plans.push(compare_plans(mode, bs, as_, thresholds, latency));
                }
                (bs, as_) => {
                    // A mode on one side only: everything is added or removed.
                    let empty = Signature {
                        relations: BTreeMap::new(),
                        nodes: Vec::new(),
                    };
                    let mut p = compare_plans(
                        mode,
                        bs.unwrap_or(&empty),
                        as_.unwrap_or(&empty),
                        thresholds,
                        latency,
                    );
                    p.changes.insert(
                        0,
                        format!(
                            "the {mode} plan is only in the {}",
                            if bs.is_some() { "baseline" } else { "new run" }
                        ),
                    );
                    plans.push(p);
                }
            }
        }
        let params_note = (!b.params.is_empty() && !a.params.is_empty() && b.params != a.params)
            .then(|| {
                let show = |p: &BTreeMap<String, Option<String>>| {
                    p.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("NULL")))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                format!(
                    "parameters differ: baseline {}, now {}",
                    show(&b.params),
                    show(&a.params)
                )
            });
        let status = if plans.iter().any(|p| p.changed) {
            QueryStatus::Changed
        } else {
            QueryStatus::Same
        };
        queries.push(QueryComparison {
            name: name.clone(),
            status,
            params_note,
            plans,
        });
    }
    if !new.is_empty() {
        notes.push(format!(
            "not in the baseline (not judged; save a new baseline to cover them): {}",
            new.join(", ")
        ));
    }
    if !missing.is_empty() {
        notes.push(format!(
            "in the baseline but not compared (not run this time): {}",
            missing.join(", ")
        ));
    }
    let passed = queries.iter().all(|q| q.status != QueryStatus::Changed);
    Comparison {
        before: before_name.to_owned(),
        after: after_name.to_owned(),
        passed,
        thresholds,
        notes,
        queries,
    }
}

/// Compares one plan's signatures.
pub fn compare_plans(
    mode: &str,
    before: &Signature,
    after: &Signature,
    thresholds: Thresholds,
    latency_ms: Option<(Latency, Latency)>,
) -> PlanComparison {
    let mut diff = align(&before.nodes, &after.nodes);
    let mut rows_beyond = Vec::new();
    let mut shape_changed = before.relations != after.relations;
    for line in &mut diff {
        match line.op {
            LineOp::Removed | LineOp::Added => shape_changed = true,
            LineOp::Same | LineOp::Changed => {
                let (b, a) = (line.before.expect("aligned"), line.after.expect("aligned"));
                if b.count != a.count {
                    shape_changed = true;
                    line.op = LineOp::Changed;
                    line.notes
                        .push(format!("partitions ×{} → ×{}", b.count, a.count));
                }
                if let (Some(rb), Some(ra)) = (b.rows, a.rows)
                    && thresholds.rows.moved(rb, ra)
                {
                    line.op = LineOp::Changed;
                    let note = format!("rows {} → {}", fmt::count(rb), fmt::count(ra));
                    rows_beyond.push(format!("{note} at {}", line.node));
                    line.notes.push(note);
                }
            }
        }
    }
    let shared_buffers = {
        let (b, a) = (before.shared_buffers(), after.shared_buffers());
        let beyond = match (b, a) {
            (Some(b), Some(a)) => thresholds.buffers.grew(b as f64, a as f64),
            _ => false,
        };
        Figure {
            before: b,
            after: a,
            beyond,
        }
    };
    let rows = Figure {
        before: before.rows(),
        after: after.rows(),
        beyond: !rows_beyond.is_empty(),
    };
    let mut changes = if shape_changed {
        let counts: Vec<String> = diff
            .iter()
            .filter_map(|l| match (l.before, l.after) {
                (Some(b), Some(a)) if b.count != a.count => Some(format!(
                    "{}: partitions in the plan ×{} → ×{}",
                    l.node, b.count, a.count
                )),
                _ => None,
            })
            .collect();
        shape_changes(before, after, counts)
    } else {
        Vec::new()
    };
    if shared_buffers.beyond {
        let (b, a) = (
            shared_buffers.before.unwrap_or(0),
            shared_buffers.after.unwrap_or(0),
        );
        changes.push(format!(
            "shared buffers {} → {} ({}; threshold {})",
            fmt::count_u64(b),
            fmt::count_u64(a),
            ratio(b as f64, a as f64),
            thresholds.buffers
        ));
    }
    for line in rows_beyond.iter().take(LISTED) {
        changes.push(format!("{line} (threshold {})", thresholds.rows));
    }
    if rows_beyond.len() > LISTED {
        changes.push(format!(
            "rows beyond the threshold at {} more nodes",
            rows_beyond.len() - LISTED
        ));
    }
    let changed = shape_changed || shared_buffers.beyond || rows.beyond;
    PlanComparison {
        mode: mode.to_owned(),
        changed,
        shape_changed,
        changes,
        shared_buffers,
        rows,
        latency_ms,
        diff: if changed { diff } else { Vec::new() },
    }
}

/// `8.75×` (after / before), `∞` when before is 0.
fn ratio(before: f64, after: f64) -> String {
    if before > 0.0 {
        fmt::ratio(after / before)
    } else {
        fmt::ratio(f64::INFINITY)
    }
}

/// What a scan line says: `index-only-scan using a_idx`, `seq-scan`.
fn scans(r: &crate::plan::RelationSig) -> String {
    let mut s = r.scans.join("+");
    if !r.indexes.is_empty() {
        s.push_str(&format!(" using {}", r.indexes.join(", ")));
    }
    s
}

/// The sentences saying how the shape changed; `counts` are the partition-count changes of
/// nodes found in both.
fn shape_changes(before: &Signature, after: &Signature, counts: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    let tables: std::collections::BTreeSet<&String> = before
        .relations
        .keys()
        .chain(after.relations.keys())
        .collect();
    for t in tables {
        match (before.relations.get(t), after.relations.get(t)) {
            (Some(b), Some(a)) => {
                if b.scans != a.scans || b.indexes != a.indexes {
                    out.push(format!("{t}: {} → {}", scans(b), scans(a)));
                }
                if b.partitions != a.partitions {
                    out.push(format!(
                        "{t}: partitions scanned {} → {}",
                        b.partitions.map_or("-".into(), |n| n.to_string()),
                        a.partitions.map_or("-".into(), |n| n.to_string())
                    ));
                }
            }
            (Some(b), None) => out.push(format!("{t}: no longer read (was {})", scans(b))),
            (None, Some(a)) => out.push(format!("{t}: now read ({})", scans(a))),
            (None, None) => {}
        }
    }
    // Operators (joins, sorts, aggregates, ...) added or removed; scans are covered above.
    let operators = |s: &Signature| {
        let mut m: BTreeMap<String, u64> = BTreeMap::new();
        for n in &s.nodes {
            let op = operator(&n.node);
            if !op.contains("Scan") {
                *m.entry(op.to_owned()).or_default() += 1;
            }
        }
        m
    };
    let (ob, oa) = (operators(before), operators(after));
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for op in ob
        .keys()
        .chain(oa.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (b, a) = (
            ob.get(op).copied().unwrap_or(0),
            oa.get(op).copied().unwrap_or(0),
        );
        let times = |n: u64| {
            if n > 1 {
                format!("{op} ×{n}")
            } else {
                op.clone()
            }
        };
        if a > b {
            added.push(times(a - b));
        } else if b > a {
            removed.push(times(b - a));
        }
    }
    if !added.is_empty() {
        out.push(format!("new: {}", added.join(", ")));
    }
    if !removed.is_empty() {
        out.push(format!("gone: {}", removed.join(", ")));
    }
    // Join order: the tables in the order the plan reads them (preorder of the scans).
    let order = |s: &Signature| -> Vec<String> {
        s.nodes
            .iter()
            .filter(|n| operator(&n.node).contains("Scan"))
            .filter_map(|n| n.node.rsplit_once(" on ").map(|(_, t)| t.to_owned()))
            .collect()
    };
    let (rb, ra) = (order(before), order(after));
    let mut sb = rb.clone();
    let mut sa = ra.clone();
    sb.sort();
    sa.sort();
    if rb != ra && sb == sa && rb.len() > 1 {
        out.push(format!("join order: {} → {}", rb.join(", "), ra.join(", ")));
    }
    out.extend(counts);
    if out.is_empty() {
        out.push("the plan tree changed shape (nodes moved)".into());
    }
    out
}

/// A node name without what it reads: `Index Only Scan using x on t` → `Index Only Scan`.
fn operator(node: &str) -> &str {
    let end = [" using ", " on "]
        .iter()
        .filter_map(|s| node.find(s))
        .min()
        .unwrap_or(node.len());
    &node[..end]
}

/// Nodes whose rows moved beyond the threshold named one by one in a plan's changes.
const LISTED: usize = 3;

/// Largest node-count product aligned exactly (longest common subsequence); beyond it the middle
/// of the two lists is shown as removed then added.
const MAX_ALIGN_CELLS: usize = 4_000_000;

/// Aligns two node lists on their longest common subsequence of keys.
pub fn align(before: &[SigNode], after: &[SigNode]) -> Vec<DiffLine> {
    // Common prefix and suffix first: the usual case (few changes) stays linear.
    let same = |a: &SigNode, b: &SigNode| a.key() == b.key();
    let mut pre = 0;
    while pre < before.len() && pre < after.len() && same(&before[pre], &after[pre]) {
        pre += 1;
    }
    let mut suf = 0;
    while suf < before.len() - pre
        && suf < after.len() - pre
        && same(
            &before[before.len() - 1 - suf],
            &after[after.len() - 1 - suf],
        )
    {
        suf += 1;
    }
    let (old, new) = (
        &before[pre..before.len() - suf],
        &after[pre..after.len() - suf],
    );
    let mut out: Vec<DiffLine> = (0..pre).map(|k| both(&before[k], &after[k])).collect();
    if old.len().saturating_mul(new.len()) <= MAX_ALIGN_CELLS {
        // lcs[o * width + n]: LCS length of old[o..] and new[n..].
        let width = new.len() + 1;
        let mut lcs = vec![0u32; (old.len() + 1) * width];
        for o in (0..old.len()).rev() {
            for n in (0..new.len()).rev() {
                lcs[o * width + n] = if same(&old[o], &new[n]) {
                    lcs[(o + 1) * width + n + 1] + 1
                } else {
                    lcs[(o + 1) * width + n].max(lcs[o * width + n + 1])
                };
            }
        }
        let (mut o, mut n) = (0, 0);
        while o < old.len() || n < new.len() {
            if o < old.len() && n < new.len() && same(&old[o], &new[n]) {
                out.push(both(&old[o], &new[n]));
                o += 1;
                n += 1;
            } else if n < new.len()
                && (o == old.len() || lcs[o * width + n + 1] > lcs[(o + 1) * width + n])
            {
                out.push(one(&new[n], LineOp::Added));
                n += 1;
            } else {
                out.push(one(&old[o], LineOp::Removed));
                o += 1;
            }
        }
    } else {
        out.extend(old.iter().map(|node| one(node, LineOp::Removed)));
        out.extend(new.iter().map(|node| one(node, LineOp::Added)));
    }
    out.extend((0..suf).map(|k| {
        both(
            &before[before.len() - suf + k],
            &after[after.len() - suf + k],
        )
    }));
    out
}

fn both(b: &SigNode, a: &SigNode) -> DiffLine {
    DiffLine {
        op: LineOp::Same,
        depth: a.depth,
        node: a.node.clone(),
        role: a.role.clone(),
        before: Some(b.into()),
        after: Some(a.into()),
        notes: Vec::new(),
    }
}

fn one(n: &SigNode, op: LineOp) -> DiffLine {
    let m = Some(n.into());
    DiffLine {
        op,
        depth: n.depth,
        node: n.node.clone(),
        role: n.role.clone(),
        before: if op == LineOp::Removed { m } else { None },
        after: if op == LineOp::Added { m } else { None },
        notes: Vec::new(),
    }
}
