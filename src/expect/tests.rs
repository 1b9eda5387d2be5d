//! Expectation tests: the grammar (valid lines and readable errors) and every expectation kind
//! passing and failing on real captured plans.

use super::*;
use crate::plan::tests::{catalog, fixture};
use crate::plan::{Facts, PartitionMap, ScanKind};

const FILE: &str = "sql/queries/provider_day.sql";

fn parse(text: &str) -> Expectation {
    parse_expectation(text, FILE, 7).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> ExpectParseError {
    parse_expectation(text, FILE, 7).expect_err(text)
}

/// Evaluates `text` on a fixture with the offline heuristic built from the expectation itself.
fn run(text: &str, fixture_name: &str) -> Verdict {
    let exp = parse(text);
    let plan = fixture(fixture_name);
    let map = PartitionMap::heuristic(relations_named(std::slice::from_ref(&exp)));
    evaluate(&exp, &plan, &Facts::compute(&plan, &map))
}

fn run_catalog(text: &str, fixture_name: &str) -> Verdict {
    let exp = parse(text);
    let plan = fixture(fixture_name);
    evaluate(&exp, &plan, &Facts::compute(&plan, &catalog()))
}

fn pass(text: &str, fixture_name: &str) -> Verdict {
    let v = run(text, fixture_name);
    assert!(
        v.passed,
        "expected `{text}` to pass on {fixture_name}: {v:#?}"
    );
    v
}

fn fail(text: &str, fixture_name: &str) -> Verdict {
    let v = run(text, fixture_name);
    assert!(
        !v.passed,
        "expected `{text}` to fail on {fixture_name}: {v:#?}"
    );
    v
}

#[test]
fn grammar_accepts_every_kind() {
    let cases: Vec<(&str, Check)> = vec![
        (
            "seq-scan tenant",
            Check::Scan {
                kind: ScanKind::Seq,
                relation: "tenant".into(),
                index: None,
            },
        ),
        (
            "index-scan patient using patient_pkey",
            Check::Scan {
                kind: ScanKind::Index,
                relation: "patient".into(),
                index: Some("patient_pkey".into()),
            },
        ),
        (
            "Index-Only-Scan public.Appointment USING \"MyIdx\"",
            Check::Scan {
                kind: ScanKind::IndexOnly,
                relation: "appointment".into(),
                index: Some("MyIdx".into()),
            },
        ),
        (
            "bitmap-scan big",
            Check::Scan {
                kind: ScanKind::Bitmap,
                relation: "big".into(),
                index: None,
            },
        ),
        (
            "no sort",
            Check::NoNode {
                kind: "sort".into(),
                relation: None,
            },
        ),
        (
            "no seq-scan on appointment",
            Check::NoNode {
                kind: "seq-scan".into(),
                relation: Some("appointment".into()),
            },
        ),
        (
            "no parallel-seq-scan",
            Check::NoNode {
                kind: "parallel-seq-scan".into(),
                relation: None,
            },
        ),
        ("no spill", Check::NoSpill),
        (
            "heap-fetches = 0",
            Check::HeapFetches {
                op: Op::Eq,
                n: 0,
                relation: None,
            },
        ),
        (
            "heap-fetches<=10 on visit",
            Check::HeapFetches {
                op: Op::Le,
                n: 10,
                relation: Some("visit".into()),
            },
        ),
        (
            "partitions appointment = 1",
            Check::Partitions {
                relation: "appointment".into(),
                op: Op::Eq,
                n: 1,
            },
        ),
        (
            "estimate-error <= 10x",
            Check::EstimateError {
                op: Op::Le,
                factor: 10.0,
            },
        ),
        (
            "estimate-error < 2.5",
            Check::EstimateError {
                op: Op::Lt,
                factor: 2.5,
            },
        ),
        (
            "estimate-error <= 10 x",
            Check::EstimateError {
                op: Op::Le,
                factor: 10.0,
            },
        ),
        (
            "shared-buffers <= 10_000",
            Check::SharedBuffers {
                op: Op::Le,
                n: 10_000,
            },
        ),
        ("temp-buffers = 0", Check::TempBuffers { op: Op::Eq, n: 0 }),
        ("rows >= 1", Check::Rows { op: Op::Ge, n: 1 }),
        ("rows > 0", Check::Rows { op: Op::Gt, n: 0 }),
    ];
    for (text, check) in cases {
        let e = parse(text);
        assert_eq!(e.check, check, "{text}");
        assert_eq!((e.file.as_str(), e.line, e.text.as_str()), (FILE, 7, text));
    }
    assert_eq!(parse("no hash-aggregate").id(), "no");
    assert_eq!(parse("index-only-scan a").id(), "index-only-scan");
    assert_eq!(parse("  rows = 1  ").text, "rows = 1");
}

#[test]
fn parse_errors_name_file_line_problem_and_example() {
    let e = err("index-only-scan");
    assert_eq!(
        e.to_string(),
        "sql/queries/provider_day.sql:7: invalid `-- expect: index-only-scan`: `index-only-scan` is missing a \
         relation name; a valid example: `-- expect: index-only-scan appointment using appointment_provider_day_idx`"
    );
    let e = err("no sotr");
    assert_eq!(
        *e.problem,
        ParseProblem::UnknownNodeKind {
            found: "sotr".into(),
            suggestion: Some("sort".into())
        }
    );
    assert!(e.to_string().contains("did you mean `sort`?"));
    let e = err("heap-fetch = 0");
    assert!(
        matches!(&*e.problem, ParseProblem::UnknownKind { suggestion: Some(s), .. } if s == "heap-fetches")
    );
    assert!(e.to_string().contains("known: seq-scan, index-scan"));
    assert!(matches!(
        *err("heap-fetches ~ 0").problem,
        ParseProblem::BadOperator { .. }
    ));
    assert!(matches!(
        *err("heap-fetches != 0").problem,
        ParseProblem::BadOperator { .. }
    ));
    let e = err("heap-fetches = lots");
    assert!(matches!(*e.problem, ParseProblem::BadNumber { .. }));
    assert!(
        e.to_string()
            .contains("example: `-- expect: heap-fetches = 0`")
    );
    assert!(matches!(
        *err("rows = 5 extra words").problem,
        ParseProblem::Trailing { .. }
    ));
    assert_eq!(
        *err("seq-scan big using big_pkey").problem,
        ParseProblem::UsingOnSeqScan
    );
    assert!(matches!(
        *err("estimate-error <= 0.5x").problem,
        ParseProblem::BadNumber { .. }
    ));
    assert_eq!(*err("   ").problem, ParseProblem::Empty);
    assert!(matches!(
        *err("partitions = 1").problem,
        ParseProblem::Expected { .. }
    ));
    assert!(matches!(
        *err("partitions appointment").problem,
        ParseProblem::Missing { .. }
    ));
    assert!(matches!(
        *err("index-scan patient using").problem,
        ParseProblem::Missing { .. }
    ));
}

#[test]
fn generic_exemption_needs_a_reason() {
    let g = parse_generic("exempt the app always sends literals", FILE, 9).unwrap();
    assert_eq!(
        g,
        GenericExemption {
            reason: "the app always sends literals".into(),
            file: FILE.into(),
            line: 9
        }
    );
    assert_eq!(
        parse_generic("Exempt: reporting only", FILE, 9)
            .unwrap()
            .reason,
        "reporting only"
    );
    let e = parse_generic("exempt", FILE, 9).unwrap_err();
    assert_eq!(*e.problem, ParseProblem::MissingReason);
    assert!(
        e.to_string()
            .starts_with("sql/queries/provider_day.sql:9: invalid `-- generic: exempt`")
    );
    assert!(e.to_string().contains("example: `-- generic: exempt "));
    assert_eq!(
        e.to_string().lines().count(),
        1,
        "one line for the terminal"
    );
    assert!(matches!(
        *parse_generic("required", FILE, 9).unwrap_err().problem,
        ParseProblem::Expected { .. }
    ));
    assert!(matches!(
        *parse_generic("", FILE, 9).unwrap_err().problem,
        ParseProblem::Missing { .. }
    ));
}

#[test]
fn scan_kind_with_index_uses_the_catalog_map() {
    let text = "index-only-scan appointment using appointment_provider_day_idx";
    for f in [
        "pg15_partition_prune_plan_time.json",
        "pg18_partition_prune_run_time_generic.json",
    ] {
        let v = run_catalog(text, f);
        assert!(v.passed, "{v:#?}");
        assert_eq!(v.id, "index-only-scan");
        assert!(
            v.location
                .as_deref()
                .unwrap()
                .contains("on appointment_y2026m03")
        );
    }
    // Offline, the generated partition index name cannot be tied to the parent index.
    // That is undecided (it fails the gate unless allowed), not a claim that the index is wrong.
    let v = fail(text, "pg15_partition_prune_plan_time.json");
    assert!(v.undecided, "{v:#?}");
    assert!(
        v.found.starts_with(
            "cannot tell whether Index Only Scan using appointment_y2026m03_provider_id"
        ),
        "{}",
        v.found
    );
    assert!(v.found.contains("partition index names differ"));
    assert!(v.needs.unwrap().contains("--partitions"));
    assert_eq!(v.nodes, vec![0]);
    // Without `using`, the heuristic folds the partition into its parent.
    pass(
        "index-only-scan appointment",
        "pg15_partition_prune_plan_time.json",
    );
    let v = fail(
        "index-scan appointment",
        "pg15_partition_prune_plan_time.json",
    );
    assert!(
        v.found.starts_with("1 of 1 scans differ: Index Only Scan"),
        "{}",
        v.found
    );
}

#[test]
fn scan_kinds_pass_and_fail() {
    pass("seq-scan big", "pg15_seq_scan_filter.json");
    let v = fail("seq-scan big", "pg15_bitmap_lossy.json");
    assert_eq!(v.nodes, vec![1]);
    assert_eq!(v.location.as_deref(), Some("Bitmap Heap Scan on big (#1)"));
    pass(
        "index-scan patient using patient_pkey",
        "pg15_nested_loop_many.json",
    );
    fail(
        "index-scan patient using patient_name_idx",
        "pg15_nested_loop_many.json",
    );
    pass(
        "bitmap-scan big using big_val_idx",
        "pg18_bitmap_lossy.json",
    );
    fail("bitmap-scan appointment", "pg15_never_executed.json");
    let v = fail("index-scan tenant", "pg15_clean_index_only_count.json");
    assert_eq!(v.found, "tenant is not scanned (the plan scans patient)");
    assert!(v.nodes.is_empty() && v.location.is_none());
    // A plan-shape check works on plain EXPLAIN.
    pass("index-only-scan appointment", "pg18_no_analyze_day.json");
}

#[test]
fn index_access_accepts_any_index_based_scan() {
    pass(
        "index-access big using big_val_idx",
        "pg18_bitmap_lossy.json",
    );
    pass(
        "index-access patient using patient_pkey",
        "pg15_nested_loop_many.json",
    );
    pass("index-access appointment", "pg18_no_analyze_day.json");
    let v = fail("index-access big", "pg15_seq_scan_filter.json");
    assert!(v.expected.contains("an index-based scan"), "{}", v.expected);
    fail("index-access big using other_idx", "pg18_bitmap_lossy.json");
}

#[test]
fn no_node_kinds() {
    pass("no sort", "pg15_clean_index_only_count.json");
    let v = fail("no sort", "pg15_sort_external_disk.json");
    assert_eq!(
        (v.nodes.clone(), v.found.as_str()),
        (vec![0], "1 in the plan: Sort (#0)")
    );
    let v = fail("no hash-aggregate", "pg15_cte_scan.json");
    assert_eq!(v.nodes, vec![1]);
    pass("no hash-aggregate", "pg15_hash_join_batches.json");
    let v = fail("no seq-scan on big2", "pg15_hash_join_batches.json");
    assert_eq!(v.nodes, vec![4]);
    pass("no seq-scan on tenant", "pg15_hash_join_batches.json");
    assert_eq!(
        fail("no hash-join on big2", "pg15_hash_join_batches.json").nodes,
        vec![1]
    );
    fail("no nested-loop", "pg15_nested_loop_many.json");
    fail("no gather", "pg18_parallel_gather.json");
    fail(
        "no incremental-sort",
        "pg18_merge_join_incremental_sort.json",
    );
    // Never-executed nodes count: they are part of the plan.
    fail(
        "no index-only-scan on appointment",
        "pg15_never_executed.json",
    );
}

#[test]
fn no_spill() {
    pass("no spill", "pg15_clean_index_only_count.json");
    let v = fail("no spill", "pg15_sort_external_disk.json");
    assert_eq!(v.found, "Sort (#0): external merge, 23040 kB on disk");
    assert_eq!(
        fail("no spill", "pg18_hash_join_batches.json").nodes,
        vec![3]
    );
    assert_eq!(fail("no spill", "pg15_hashagg_spill.json").nodes, vec![0]);
    let v = fail("no spill", "pg18_no_analyze_day.json");
    assert_eq!(v.needs, Some("EXPLAIN ANALYZE"));
}

#[test]
fn heap_fetches() {
    pass("heap-fetches = 0", "pg15_partition_prune_plan_time.json");
    pass("heap-fetches = 0", "pg18_partition_prune_plan_time.json");
    let v = fail("heap-fetches = 0", "pg15_index_only_heap_fetches.json");
    assert_eq!(
        v.found,
        "1,050 heap fetches at Index Only Scan using visit_patient_day_idx on visit (#0)"
    );
    assert_eq!(v.nodes, vec![0]);
    fail(
        "heap-fetches < 1000 on visit",
        "pg18_index_only_heap_fetches.json",
    );
    let v = pass(
        "heap-fetches = 0 on patient",
        "pg18_index_only_heap_fetches.json",
    );
    assert_eq!(v.found, "0 heap fetches (no index-only scan of patient)");
    let v = fail("heap-fetches = 0", "pg18_no_analyze_day.json");
    assert_eq!(v.needs, Some("EXPLAIN ANALYZE"));
    assert!(v.found.contains("needs EXPLAIN ANALYZE"), "{}", v.found);
}

#[test]
fn partitions_scanned_count_pruning() {
    let v = pass(
        "partitions appointment = 1",
        "pg15_partition_prune_run_time_generic.json",
    );
    assert_eq!(
        v.found,
        "1 partition(s) scanned (appointment_y2026m03); 11 removed by run-time pruning (Subplans Removed)"
    );
    pass(
        "partitions appointment = 1",
        "pg18_partition_prune_plan_time.json",
    );
    pass(
        "partitions appointment = 1",
        "pg15_partition_prune_stable_bound.json",
    );
    let v = fail(
        "partitions appointment = 1",
        "pg15_partition_prune_initplan.json",
    );
    assert!(
        v.found
            .starts_with("2 partition(s) scanned (appointment_y2026m11, appointment_y2026m12)")
    );
    assert!(
        v.found.ends_with("10 in the plan but never executed"),
        "{}",
        v.found
    );
    assert_eq!(v.nodes, vec![13, 14]);
    pass(
        "partitions appointment <= 2",
        "pg18_partition_prune_initplan.json",
    );
    pass("partitions appointment = 0", "pg15_never_executed.json");
    let v = fail("partitions big = 1", "pg15_seq_scan_filter.json");
    assert!(v.found.contains("scanned directly"), "{}", v.found);
    let v = fail("partitions appointment = 1", "pg18_no_analyze_day.json");
    assert_eq!(v.needs, Some("EXPLAIN ANALYZE"));
}

#[test]
fn estimate_error() {
    pass("estimate-error <= 10x", "pg15_clean_index_only_count.json");
    pass(
        "estimate-error <= 10x",
        "pg15_partition_prune_plan_time.json",
    );
    let v = fail("estimate-error <= 10x", "pg15_estimate_error.json");
    assert_eq!(
        v.found,
        "94.3× at Seq Scan on big (#1): estimated 53 rows, actual 5,000 (over 1 loop(s))"
    );
    assert_eq!(v.nodes, vec![1]);
    assert!(
        !run("estimate-error <= 100x", "pg18_estimate_error.json").passed,
        "PG18 estimated 43 rows"
    );
    pass("estimate-error >= 2", "pg18_initplan_subplan.json");
    let v = pass(
        "estimate-error <= 1x",
        "citus/04_analyze_cte_insert_subplan_pg17.json",
    );
    assert!(v.found.starts_with("no executed node to compare"));
}

#[test]
fn buffers_and_rows() {
    let v = pass("shared-buffers <= 100", "pg15_clean_index_only_count.json");
    assert_eq!(v.found, "17 shared buffers (hit 17, read 0)");
    fail("shared-buffers <= 10000", "pg15_nested_loop_many.json");
    pass("temp-buffers = 0", "pg15_clean_index_only_count.json");
    let v = fail("temp-buffers = 0", "pg15_hash_join_batches.json");
    assert_eq!(v.found, "4860 temp blocks (read 2430, written 2430)");
    assert_eq!(v.nodes, vec![3]);
    assert_eq!(
        fail(
            "shared-buffers < 1",
            "citus/06_analyze_multi_shard_select_pg16_17.json"
        )
        .needs,
        Some("EXPLAIN (ANALYZE, BUFFERS)")
    );
    let v = pass("rows = 33", "pg15_partition_prune_plan_time.json");
    assert_eq!(
        (v.found.as_str(), v.location.as_deref()),
        (
            "33 rows",
            Some(
                "Index Only Scan using appointment_y2026m03_provider_id_scheduled_at_status_patien_idx on appointment_y2026m03 (#0)"
            )
        )
    );
    fail("rows > 100", "pg15_partition_prune_plan_time.json");
    assert_eq!(
        fail("rows >= 1", "pg18_no_analyze_day.json").needs,
        Some("EXPLAIN ANALYZE")
    );
}

#[test]
fn verdicts_serialise_for_json_reports() {
    let v = fail("heap-fetches = 0", "pg15_index_only_heap_fetches.json");
    let j = serde_json::to_value(&v).unwrap();
    assert_eq!(j["id"], "heap-fetches");
    assert_eq!(j["passed"], false);
    assert_eq!(j["line"], 7);
    assert_eq!(j["expected"], "heap fetches = 0");
    let e = serde_json::to_value(parse("partitions appointment <= 2")).unwrap();
    assert_eq!(e["check"]["check"], "partitions");
    assert_eq!(e["check"]["op"], "<=");
}

/// A plan converted from text by a tool: "Nested Loop Join" and "Hash Join" (the latter a real
/// node type), so absence of a kind cannot be proved but presence can.
fn converted(exp: &str) -> Verdict {
    let exp = parse(exp);
    let plan = crate::plan::parse_plan(
        r#"[{"Plan": {"Node Type": "Nested Loop Join", "Plans": [
            {"Node Type": "Hash Join", "Plans": [
                {"Node Type": "Seq Scan", "Relation Name": "a"},
                {"Node Type": "Hash", "Plans": [{"Node Type": "Seq Scan", "Relation Name": "b"}]}]},
            {"Node Type": "Index Scan", "Relation Name": "c", "Index Name": "c_pkey"}]}}]"#,
    )
    .unwrap();
    let facts = Facts::compute(&plan, &PartitionMap::heuristic(["a"]));
    evaluate(&exp, &plan, &facts)
}

#[test]
fn no_kind_on_a_converted_plan_is_undecided_unless_found() {
    let v = converted("no nested-loop");
    assert!(!v.passed && v.undecided, "{v:#?}");
    assert!(v.needs.unwrap().contains("never prints"));
    assert!(v.found.contains("\"Nested Loop Join\""), "{}", v.found);
    assert_eq!(v.nodes, vec![0]);
    let v = converted("no hash-join");
    assert!(!v.passed && !v.undecided, "found, so decided: {v:#?}");
    assert_eq!(v.nodes, vec![1]);
    // Other checks are unaffected.
    assert!(converted("index-scan c").passed);
    // A plan PostgreSQL printed still passes `no KIND`.
    pass("no nested-loop", "pg15_seq_scan_filter.json");
}

/// Evaluates `text` on a plan given as JSON text (a captured fixture outside `tests/fixtures/plans`).
fn run_on(text: &str, plan_json: &str) -> Verdict {
    let exp = parse(text);
    let plan = crate::plan::parse_plan(plan_json).unwrap();
    let map = PartitionMap::heuristic(relations_named(std::slice::from_ref(&exp)));
    evaluate(&exp, &plan, &Facts::compute(&plan, &map))
}

#[test]
fn grammar_of_the_citus_kinds() {
    assert_eq!(parse("tasks = 1").check, Check::Tasks { op: Op::Eq, n: 1 });
    assert_eq!(parse("tasks<=8").check, Check::Tasks { op: Op::Le, n: 8 });
    assert_eq!(parse("ROUTER").check, Check::Router);
    assert_eq!(parse("aggregate-pushdown").check, Check::AggregatePushdown);
    assert_eq!(parse("router").id(), "router");
    let e = err("router appointment");
    assert!(
        e.to_string()
            .contains("unexpected `appointment` at the end"),
        "{e}"
    );
    let e = err("tasks 1");
    assert!(
        e.to_string().contains("`1` is not a comparison operator"),
        "{e}"
    );
    assert!(
        e.to_string()
            .ends_with("a valid example: `-- expect: tasks = 1`"),
        "{e}"
    );
    let e = err("aggregate-pushdwn");
    assert!(
        e.to_string().contains("did you mean `aggregate-pushdown`"),
        "{e}"
    );
}

#[test]
fn tasks_counts_every_job_and_needs_a_citus_plan() {
    // Without ANALYZE the Task Count is printed all the same.
    let v = pass("tasks = 2", "citus/01_multi_shard_aggregate_pg18.json");
    assert_eq!(
        v.found,
        "2 task(s): Task Count 2 at Custom Scan (Citus Adaptive) (#2)"
    );
    assert_eq!(v.nodes, vec![2]);
    fail("tasks = 1", "citus/01_multi_shard_aggregate_pg18.json");
    pass(
        "tasks = 16",
        "citus/02_multi_shard_colocated_join_mx_pg18.json",
    );
    // A re-partition job shows no task plan, but its count.
    pass("tasks = 6", "citus/03_repartition_join_pg18.json");
    // A distributed subplan is a job of its own.
    let v = pass("tasks = 2", "citus/04_analyze_cte_insert_subplan_pg17.json");
    assert!(v.found.starts_with("2 task(s) in 2 jobs"), "{}", v.found);
    pass("tasks > 7", "citus/07_legacy_realtime_aggregate_pg10.json");
    pass(
        "tasks = 1",
        "citus/08_legacy_task_tracker_repartition_pg10.json",
    );
    let v = fail("tasks >= 0", "pg15_clean_index_only_count.json");
    assert!(!v.undecided);
    assert_eq!(
        v.found,
        "not a distributed plan: it has no Citus Custom Scan"
    );
    // A Citus scan without a job prints no count: undecided, never passed.
    let v = run_on(
        "tasks = 1",
        r#"[{"Plan": {"Node Type": "Custom Scan", "Custom Plan Provider": "Citus INSERT ... SELECT",
             "Plans": [{"Node Type": "Seq Scan", "Relation Name": "t"}]}}]"#,
    );
    assert!(!v.passed && v.undecided, "{v:#?}");
    assert!(v.needs.unwrap().contains("Task Count"));
}

#[test]
fn router_is_one_task_with_nothing_above_it() {
    let v = fail("router", "citus/01_multi_shard_aggregate_pg18.json");
    assert_eq!(
        v.found,
        "2 tasks at Custom Scan (Citus Adaptive) (#2): a multi-shard query"
    );
    let v = fail("router", "citus/04_analyze_cte_insert_subplan_pg17.json");
    assert!(
        v.found
            .starts_with("2 distributed jobs (1 distributed subplan(s) run first)"),
        "{}",
        v.found
    );
    // One task, but the coordinator aggregates above the Custom Scan.
    let v = fail(
        "router",
        "citus/08_legacy_task_tracker_repartition_pg10.json",
    );
    assert!(
        v.found.contains("but the coordinator runs Aggregate"),
        "{}",
        v.found
    );
    assert!(!v.undecided);
    fail("router", "pg15_clean_index_only_count.json");
}

#[test]
fn aggregate_pushdown_reads_the_task_plans() {
    let v = pass(
        "aggregate-pushdown",
        "citus/01_multi_shard_aggregate_pg18.json",
    );
    assert!(
        v.found
            .starts_with("partially pushed down: all 1 task plan(s) shown aggregate"),
        "{}",
        v.found
    );
    pass(
        "aggregate-pushdown",
        "citus/02_multi_shard_colocated_join_mx_pg18.json",
    );
    pass(
        "aggregate-pushdown",
        "citus/07_legacy_realtime_aggregate_pg10.json",
    );
    // A re-partition job has no task plan to look into.
    let v = run("aggregate-pushdown", "citus/03_repartition_join_pg18.json");
    assert!(!v.passed && v.undecided, "{v:#?}");
    // Rows shipped to the coordinator: the task plan does not aggregate.
    let v = fail(
        "aggregate-pushdown",
        "citus/06_analyze_multi_shard_select_pg16_17.json",
    );
    assert_eq!(v.found, "no Aggregate in the plan");
    let v = run_on(
        "aggregate-pushdown",
        r#"[{"Plan": {"Node Type": "Aggregate", "Strategy": "Plain", "Plans": [
            {"Node Type": "Custom Scan", "Custom Plan Provider": "Citus Adaptive",
             "Distributed Query": {"Job": {"Task Count": 2, "Tasks Shown": "All", "Tasks": [
               {"Remote Plan": [[{"Plan": {"Node Type": "Seq Scan", "Relation Name": "t_1"}}]]},
               {"Remote Plan": [[{"Plan": {"Node Type": "Aggregate", "Strategy": "Plain", "Plans": [
                  {"Node Type": "Seq Scan", "Relation Name": "t_2"}]}}]]}]}}}]}}]"#,
    );
    assert!(!v.passed && !v.undecided, "{v:#?}");
    assert_eq!(
        v.found,
        "1 of 2 task plan(s) shown aggregate nothing: Seq Scan on t_1 (#2); the coordinator aggregates at Aggregate (#0)"
    );
    fail("aggregate-pushdown", "pg15_clean_index_only_count.json");
}

#[test]
fn hidden_tasks_make_passes_undecided_and_keep_evidence() {
    // `Tasks Shown: One of 4`: the one task shown scans explain_pk sequentially.
    let f = "citus/06_analyze_multi_shard_select_pg16_17.json";
    let v = fail("no seq-scan", f);
    assert!(!v.undecided, "a Seq Scan shown is evidence: {v:#?}");
    let v = run("seq-scan explain_pk", f);
    assert!(!v.passed && v.undecided, "{v:#?}");
    assert!(v.needs.unwrap().contains("citus.explain_all_tasks"));
    assert!(
        v.found.ends_with(
            "the other tasks' plans are not shown: job #0 shows 1 of 4 tasks (Tasks Shown: One of 4)"
        ),
        "{}",
        v.found
    );
    let v = run("no sort", f);
    assert!(!v.passed && v.undecided, "{v:#?}");
    // Counts over the tasks shown are lower bounds.
    let v = run("heap-fetches = 0", f);
    assert!(!v.passed && v.undecided, "{v:#?}");
    pass("heap-fetches >= 0", f);
    let v = run("estimate-error <= 10x", f);
    assert!(!v.passed && v.undecided, "{v:#?}");
    // What the coordinator shows alone is decided.
    pass("rows = 0", f);
    pass("tasks = 4", f);
    // Every task shown: decided as on a single node.
    pass(
        "no seq-scan",
        "citus/04_analyze_cte_insert_subplan_pg17.json",
    );
    pass(
        "heap-fetches = 0",
        "citus/04_analyze_cte_insert_subplan_pg17.json",
    );
}
