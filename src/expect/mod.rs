//! Plan expectations: what a query file declares about its plan (`-- expect: ...` header lines),
//! and their evaluation against a plan into [`Verdict`]s with reasons.
//!
//! Why it exists: a hot query's plan is part of its design. Writing the design down next to the
//! SQL, in a small grammar, lets qcheck fail CI when a migration, a setting or data growth changes
//! the plan — and say exactly where and how.
//!
//! Grammar (one expectation per `-- expect:` line, keywords case-insensitive, `OP` is one of
//! `=`, `<=`, `<`, `>=`, `>`; relation and index names follow SQL identifier rules: unquoted names
//! are lower-cased, `"Quoted"` ones kept, a `schema.` prefix is ignored because EXPLAIN prints bare
//! relation names):
//!
//! ```text
//! seq-scan REL                       every scan of REL (or its partitions) is a Seq Scan,
//! index-scan REL [using IDX]         ... an Index Scan (using IDX),
//! index-only-scan REL [using IDX]    ... an Index Only Scan (using IDX),
//! bitmap-scan REL [using IDX]        ... a Bitmap Heap Scan (one of whose Bitmap Index Scans uses IDX);
//!                                    and REL is scanned at least once
//! no KIND [on REL]                   no node of that kind, executed or not (`sort`, `hash-join`,
//!                                    `nested-loop`, `hash-aggregate`, `parallel-seq-scan`, ...);
//!                                    with `on REL`: scans of REL, or nodes above a scan of REL
//! no spill                           no disk sort, no hash batches > 1, no hash-aggregate spill,
//!                                    no temp blocks
//! heap-fetches OP N [on REL]         heap fetches of index-only scans (of REL)
//! partitions REL OP N                partitions of REL actually scanned (loops > 0)
//! estimate-error OP N[x]             worst row-estimate q-error over the plan
//! shared-buffers OP N                shared blocks hit + read (root node, inclusive)
//! temp-buffers OP N                  temp blocks read + written (root node, inclusive)
//! rows OP N                          rows returned by the root node
//! tasks OP N                         Citus tasks run (the `Task Count` of every distributed job)
//! router                             one Citus job of one task with nothing above it on the
//!                                    coordinator: the whole query ran on one worker
//! aggregate-pushdown                 the Citus workers aggregate (partially, the coordinator
//!                                    combining, or fully in a router query)
//! ```
//!
//! A Citus plan carries its tasks' plans, which every check reads like the coordinator's own
//! nodes (shards and shard indexes stand for their tables and indexes). When EXPLAIN shows only
//! some tasks (`Tasks Shown: One of 32`: `citus.explain_all_tasks` was off; re-partition jobs),
//! a check over the plan cannot pass on the tasks it sees: it fails only on evidence among them
//! (a Seq Scan found, more heap fetches than allowed) and is undecided otherwise.
//!
//! Checks that need run-time data (`heap-fetches`, `partitions`, `estimate-error`, `rows`,
//! `*-buffers`, `no spill`) fail with a "needs EXPLAIN ANALYZE" reason on a plan without it rather
//! than pass silently. Scan-kind and `no KIND` checks are plan-shape checks and work on plain
//! EXPLAIN too.
//!
//! The header key `-- generic: exempt <reason>` exempts a query from the rule that expectations
//! must also hold under `plan_cache_mode = force_generic_plan`; see [`parse_generic`].

#[cfg(test)]
mod citus_tests;
mod eval;
mod parse;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::plan::ScanKind;

pub use eval::evaluate;
pub use parse::{parse_expectation, parse_generic};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    /// `=`
    #[serde(rename = "=")]
    Eq,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `>`
    #[serde(rename = ">")]
    Gt,
}

impl Op {
    /// Whether `actual OP bound` holds.
    #[allow(
        clippy::float_cmp,
        reason = "`=` in an expectation means exactly equal, as in `heap-fetches = 0`"
    )]
    pub fn holds(self, actual: f64, bound: f64) -> bool {
        match self {
            Op::Eq => actual == bound,
            Op::Le => actual <= bound,
            Op::Lt => actual < bound,
            Op::Ge => actual >= bound,
            Op::Gt => actual > bound,
        }
    }

    /// The operator as written in expectations (`<=`, ...).
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Gt => ">",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// What an expectation checks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "check", rename_all = "kebab-case")]
pub enum Check {
    /// `seq-scan` / `index-scan` / `index-only-scan` / `bitmap-scan REL [using IDX]`.
    Scan {
        /// Which scan node every scan of the relation must be.
        kind: ScanKind,
        /// The relation (parent for partitioned tables), as EXPLAIN prints it.
        relation: String,
        /// `using IDX`: the index the scans must use; `None` accepts any.
        index: Option<String>,
    },
    /// `index-access REL [using IDX]`: every scan of REL reads through an index (index, index-only or
    /// bitmap scan), whichever the planner prefers for the data at hand.
    IndexAccess {
        /// The relation (parent for partitioned tables), as EXPLAIN prints it.
        relation: String,
        /// `using IDX`: the index the scans must use; `None` accepts any.
        index: Option<String>,
    },
    /// `no KIND [on REL]` (KIND in kebab case, as `plan::node_kinds` names nodes).
    NoNode {
        /// The forbidden node kind, kebab case (`sort`, `hash-join`, ...).
        kind: String,
        /// `on REL`: only scans of REL and nodes above them count; `None` means the whole plan.
        relation: Option<String>,
    },
    /// `no spill`.
    NoSpill,
    /// `heap-fetches OP N [on REL]`: heap fetches of index-only scans (ANALYZE).
    HeapFetches {
        /// How the actual count must compare with `n`.
        op: Op,
        /// The bound.
        n: u64,
        /// `on REL`: only index-only scans of REL count; `None` means all of them.
        relation: Option<String>,
    },
    /// `partitions REL OP N`: partitions of REL actually scanned (loops > 0; ANALYZE).
    Partitions {
        /// The partitioned parent table.
        relation: String,
        /// How the scanned count must compare with `n`.
        op: Op,
        /// The bound.
        n: u64,
    },
    /// `estimate-error OP Nx`: worst q-error.
    EstimateError {
        /// How the worst q-error must compare with `factor`.
        op: Op,
        /// The bound, at least 1 (`10x` is 10.0).
        factor: f64,
    },
    /// `shared-buffers OP N`: shared blocks hit + read at the root (ANALYZE with `BUFFERS`).
    SharedBuffers {
        /// How the block count must compare with `n`.
        op: Op,
        /// The bound, in blocks.
        n: u64,
    },
    /// `temp-buffers OP N`: temp blocks read + written at the root (ANALYZE with `BUFFERS`).
    TempBuffers {
        /// How the block count must compare with `n`.
        op: Op,
        /// The bound, in blocks.
        n: u64,
    },
    /// `rows OP N`: rows the root node returned over all loops (ANALYZE).
    Rows {
        /// How the row count must compare with `n`.
        op: Op,
        /// The bound, in rows.
        n: u64,
    },
    /// `tasks OP N`: Citus tasks of the plan's distributed jobs (`Task Count`, summed over the
    /// jobs, distributed subplans included).
    Tasks {
        /// How the task count must compare with `n`.
        op: Op,
        /// The bound, in tasks.
        n: u64,
    },
    /// `router`: the query ran as one task on one worker (Citus's fast-path or router planner):
    /// one distributed job, `Task Count` 1, and the Custom Scan is the root of the coordinator's
    /// plan (nothing merged, sorted or aggregated on the coordinator).
    Router,
    /// `aggregate-pushdown`: the workers aggregate — every task plan shown has an Aggregate
    /// node — so rows are not shipped to the coordinator to be aggregated there.
    AggregatePushdown,
}

/// One parsed `-- expect:` line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Expectation {
    /// What the line checks.
    pub check: Check,
    /// The text after `expect:`, trimmed, as written.
    pub text: String,
    /// The query file the line is in.
    pub file: String,
    /// 1-based line number in that file.
    pub line: usize,
}

impl Expectation {
    /// The kebab-case id of the expectation kind (`index-only-scan`, `no`, `no-spill`, ...).
    pub fn id(&self) -> &'static str {
        match &self.check {
            Check::Scan { kind, .. } => kind.keyword(),
            Check::IndexAccess { .. } => "index-access",
            Check::NoNode { .. } => "no",
            Check::NoSpill => "no-spill",
            Check::HeapFetches { .. } => "heap-fetches",
            Check::Partitions { .. } => "partitions",
            Check::EstimateError { .. } => "estimate-error",
            Check::SharedBuffers { .. } => "shared-buffers",
            Check::TempBuffers { .. } => "temp-buffers",
            Check::Rows { .. } => "rows",
            Check::Tasks { .. } => "tasks",
            Check::Router => "router",
            Check::AggregatePushdown => "aggregate-pushdown",
        }
    }

    /// The relation this expectation names, if any.
    pub fn relation(&self) -> Option<&str> {
        match &self.check {
            Check::Scan { relation, .. }
            | Check::IndexAccess { relation, .. }
            | Check::Partitions { relation, .. } => Some(relation),
            Check::NoNode { relation, .. } | Check::HeapFetches { relation, .. } => {
                relation.as_deref()
            }
            _ => None,
        }
    }
}

/// Every relation the expectations name: the parents the offline partition heuristic may use
/// (`PartitionMap::heuristic(relations_named(&exps))`).
pub fn relations_named(expectations: &[Expectation]) -> BTreeSet<String> {
    expectations
        .iter()
        .filter_map(|e| e.relation().map(str::to_owned))
        .collect()
}

/// `-- generic: exempt <reason>`: the query need not keep its expectations under a generic plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GenericExemption {
    /// Why the generic plan may differ, as written.
    pub reason: String,
    /// The query file the line is in.
    pub file: String,
    /// 1-based line number in that file.
    pub line: usize,
}

/// The outcome of one expectation on one plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Expectation kind id (see [`Expectation::id`]).
    pub id: &'static str,
    /// The expectation's text, as written.
    pub text: String,
    /// The query file the expectation is in.
    pub file: String,
    /// 1-based line number of the expectation.
    pub line: usize,
    /// Whether the plan meets the expectation (false when undecided).
    pub passed: bool,
    /// The plan cannot decide it (it lacks ANALYZE or BUFFERS data, its row counts are rounded, a
    /// partition index cannot be mapped offline): such a verdict fails the gate unless undecided
    /// verdicts are allowed (`--allow-undecided`). `needs` says what would decide it.
    pub undecided: bool,
    /// What was expected, in words.
    pub expected: String,
    /// What the plan shows, with the actual value.
    pub found: String,
    /// Nodes the verdict concerns (the offending ones when it failed).
    pub nodes: Vec<usize>,
    /// Human location, e.g. `Seq Scan on appointment_y2026m03 (#2)`.
    pub location: Option<String>,
    /// Set when the plan lacks the data the check needs (the verdict then fails), e.g.
    /// `EXPLAIN ANALYZE` or `EXPLAIN (ANALYZE, BUFFERS)`.
    pub needs: Option<&'static str>,
}

/// Which header key a parse error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderKey {
    /// An expectation line (`-- expect:`).
    Expect,
    /// `-- generic:`.
    Generic,
}

impl fmt::Display for HeaderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderKey::Expect => "expect",
            HeaderKey::Generic => "generic",
        })
    }
}

/// What is wrong with an expectation's text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseProblem {
    /// Nothing after the key.
    #[error("the expectation is empty")]
    Empty,
    /// The first word is no known expectation kind.
    #[error("unknown expectation `{found}`{}; known: {known}", suggestion_text(.suggestion.as_ref()))]
    UnknownKind {
        /// The word as written.
        found: String,
        /// The closest known kind, when one is near enough to suggest.
        suggestion: Option<String>,
        /// The known kinds, listed in the message.
        known: &'static str,
    },
    /// `no KIND` names no known node kind.
    #[error("unknown node kind `{found}`{}; use a node type in kebab case (sort, seq-scan, hash-join, nested-loop, hash-aggregate, ...) or `spill`", suggestion_text(.suggestion.as_ref()))]
    UnknownNodeKind {
        /// The kind as written.
        found: String,
        /// The closest known node kind, when one is near enough to suggest.
        suggestion: Option<String>,
    },
    /// A required part is absent, e.g. the relation after `seq-scan`.
    #[error("`{kind}` is missing {what}")]
    Missing {
        /// The expectation kind being parsed.
        kind: String,
        /// What is missing, in words.
        what: &'static str,
    },
    /// A token other than the one the grammar needs here.
    #[error("expected {expected}, found `{found}`")]
    Expected {
        /// What the grammar needs, in words.
        expected: &'static str,
        /// The token found instead.
        found: String,
    },
    /// The token where an operator belongs is none of `=`, `<=`, `<`, `>=`, `>`.
    #[error("`{found}` is not a comparison operator (use =, <=, <, >=, >)")]
    BadOperator {
        /// The token as written.
        found: String,
    },
    /// A bound that does not parse as the number needed.
    #[error("`{found}` is not {what}")]
    BadNumber {
        /// The token as written.
        found: String,
        /// The number needed, in words with examples.
        what: &'static str,
    },
    /// Tokens left after a complete expectation.
    #[error("unexpected `{found}` at the end")]
    Trailing {
        /// The leftover text (at most 60 characters).
        found: String,
    },
    /// `using IDX` after `seq-scan`.
    #[error("`using IDX` only applies to index-scan, index-only-scan and bitmap-scan")]
    UsingOnSeqScan,
    /// `-- generic: exempt` without a reason.
    #[error("an exemption needs a reason, e.g. `exempt <why the generic plan is acceptable>`")]
    MissingReason,
}

fn suggestion_text(s: Option<&String>) -> String {
    match s {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

/// A header line that could not be parsed, naming file:line, the problem, and valid syntax.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{file}:{line}: invalid `-- {key}: {text}`: {problem}; a valid example: `-- {key}: {example}`"
)]
pub struct ExpectParseError {
    /// The query file.
    pub file: String,
    /// 1-based line number of the header line.
    pub line: usize,
    /// Which header key the line has.
    pub key: HeaderKey,
    /// The value after the key, as written.
    pub text: String,
    /// Boxed to keep the error small (`Result` in hot parsing paths, clippy's result_large_err).
    pub problem: Box<ParseProblem>,
    /// A valid line of the kind that was attempted.
    pub example: &'static str,
}
