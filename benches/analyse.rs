//! `cargo bench --bench analyse`: offline analysis time against plan size, which must grow
//! linearly (an Append over 40,000 partitions once took over a minute; target: under 1 s).
//!
//! Two measures per size: `parse+analyse` (`parse_plan` of the EXPLAIN JSON text and
//! `PlanCheck::analyse`: facts, the verdicts of a few expectations, tips — what the gate decides
//! on) and `parse+analyse+render`, everything `qcheck explain --plan FILE` does, including
//! `report::check::explain_plan` (tree with marks, verdicts, tips). The plans are generated: an
//! Append over partitions `t_p0..` of `t` with ANALYZE data, where every third partition's row
//! estimate is off by 500× and every scan discards most rows by filter (so `row-estimate`,
//! `filter-waste` and `seq-scan-large` tips fire on most nodes and the expectations fail with
//! thousands of nodes each), and every tenth member is a Nested Loop whose inner Index Scan runs
//! 2,000 times. Sizes: 1,000, 10,000 and 40,000 nodes; criterion's throughput is in nodes, so
//! linear growth shows as a flat nodes-per-second figure.
//!
//! Under `cargo test --benches` (criterion's test mode) each size runs once, on 50 and 500 nodes.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use qcheck::analysis::PlanCheck;
use qcheck::catalog::{self, ExpectLine};
use qcheck::expect::relations_named;
use qcheck::plan::{PartitionMap, parse_plan};
use qcheck::report::check::explain_plan;
use qcheck::report::{Format, Layout};

mod common;
use common::Invocation;

/// The query file whose expectations every plan is checked against.
const QUERY: &str = "\
-- name: partitions_generated
-- summary: A generated plan over many partitions of t.
-- expect: no seq-scan on t
-- expect: partitions t <= 4
-- expect: estimate-error <= 10x
SELECT * FROM t WHERE x > 0
";

/// A Seq Scan on partition `i`, `rel` its "Parent Relationship".
fn seq_scan(out: &mut String, i: usize, rel: &str) {
    let (plan_rows, actual_rows) = if i % 3 == 0 { (10, 5000) } else { (5000, 5000) };
    out.push_str(&format!(
        r#"{{"Node Type": "Seq Scan", "Parent Relationship": "{rel}", "Parallel Aware": false,
"Relation Name": "t_p{i}", "Alias": "t_{i}", "Startup Cost": 0.0, "Total Cost": 423.0,
"Plan Rows": {plan_rows}, "Plan Width": 16, "Actual Startup Time": 0.011,
"Actual Total Time": 1.873, "Actual Rows": {actual_rows}, "Actual Loops": 1,
"Filter": "(x > 0)", "Rows Removed by Filter": 20000, "Shared Hit Blocks": 173,
"Shared Read Blocks": 0}}"#
    ));
}

/// EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) text of an Append of `nodes` nodes in all.
fn plan_text(nodes: usize) -> String {
    let mut members = Vec::new();
    let mut count = 1; // the Append
    let mut i = 0;
    while count < nodes {
        let mut m = String::new();
        if i % 10 == 9 && count + 3 <= nodes {
            m.push_str(
                r#"{"Node Type": "Nested Loop", "Parent Relationship": "Member", "Join Type": "Inner",
"Parallel Aware": false, "Startup Cost": 0.29, "Total Cost": 9000.0, "Plan Rows": 2000,
"Plan Width": 24, "Actual Startup Time": 0.02, "Actual Total Time": 6.1, "Actual Rows": 2000,
"Actual Loops": 1, "Shared Hit Blocks": 6173, "Shared Read Blocks": 0, "Plans": ["#,
            );
            seq_scan(&mut m, i, "Outer");
            m.push_str(
                r#", {"Node Type": "Index Scan", "Parent Relationship": "Inner",
"Parallel Aware": false, "Scan Direction": "Forward", "Index Name": "u_pkey",
"Relation Name": "u", "Alias": "u", "Startup Cost": 0.29, "Total Cost": 8.3, "Plan Rows": 1,
"Plan Width": 8, "Actual Startup Time": 0.001, "Actual Total Time": 0.001, "Actual Rows": 1,
"Actual Loops": 2000, "Index Cond": "(id = t.u_id)", "Shared Hit Blocks": 6000,
"Shared Read Blocks": 0}]}"#,
            );
            count += 3;
        } else {
            seq_scan(&mut m, i, "Member");
            count += 1;
        }
        members.push(m);
        i += 1;
    }
    format!(
        r#"[{{"Plan": {{"Node Type": "Append", "Parallel Aware": false, "Startup Cost": 0.0,
"Total Cost": 1000000.0, "Plan Rows": 5000000, "Plan Width": 16, "Actual Startup Time": 0.01,
"Actual Total Time": 900.0, "Actual Rows": 5000000, "Actual Loops": 1,
"Shared Hit Blocks": 2000000, "Shared Read Blocks": 0, "Plans": [{}]}},
"Planning": {{"Shared Hit Blocks": 120, "Shared Read Blocks": 0}},
"Planning Time": 250.0, "Triggers": [], "Execution Time": 1000.0}}]"#,
        members.join(",\n")
    )
}

/// Parse and analyse one plan (facts, verdicts, tips): what the gate decides on.
fn analyse_only(text: &str, expects: &[ExpectLine], partitions: &PartitionMap) -> PlanCheck {
    let plan = parse_plan(text).expect("generated plan parses");
    let refs: Vec<&ExpectLine> = expects.iter().collect();
    PlanCheck::analyse(plan, None, &refs, partitions, false)
}

/// Parse, analyse and render one plan; returns the report's length.
fn analyse(text: &str, expects: &[ExpectLine], partitions: &PartitionMap) -> usize {
    let check = analyse_only(text, expects, partitions);
    explain_plan("generated", &check, Format::Table, Layout::plain()).len()
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .sample_size(10)
        .configure_from_args();
    let sizes: &[usize] = match common::invocation() {
        Invocation::Test => &[50, 500],
        Invocation::List | Invocation::Bench => &[1_000, 10_000, 40_000],
    };
    let query = catalog::parse(Path::new("generated.sql"), QUERY).expect("query file parses");
    let named: Vec<_> = query
        .expects
        .iter()
        .map(|e| e.expectation.clone())
        .collect();
    let partitions = PartitionMap::heuristic(relations_named(&named));

    let mut group = c.benchmark_group("analyse");
    for &n in sizes {
        let text = plan_text(n);
        let plan = parse_plan(&text).expect("generated plan parses");
        assert_eq!(plan.nodes().len(), n, "generated node count");
        // The plan exercises what it should: every expectation fails, tips fire on most nodes.
        let refs: Vec<&ExpectLine> = query.expects.iter().collect();
        let check = PlanCheck::analyse(plan, None, &refs, &partitions, false);
        assert_eq!(check.failed(), 3, "every expectation fails");
        assert!(
            check.tips.len() > n,
            "{} tips on {n} nodes",
            check.tips.len()
        );
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("parse+analyse", n), &text, |b, t| {
            b.iter(|| black_box(analyse_only(t, &query.expects, &partitions).tips.len()));
        });
        group.bench_with_input(
            BenchmarkId::new("parse+analyse+render", n),
            &text,
            |b, t| {
                b.iter(|| black_box(analyse(t, &query.expects, &partitions)));
            },
        );
    }
    group.finish();
    c.final_summary();
}
