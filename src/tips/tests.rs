//! Tips fire on the captured plans that show their problem, and not on a clean plan.

use super::*;
use crate::plan::tests::facts_of;

fn tips_of(name: &str, t: &Thresholds) -> Vec<Tip> {
    let (plan, facts) = facts_of(name);
    tips(&plan, &facts, t)
}

fn ids(name: &str) -> Vec<(&'static str, Severity, usize)> {
    tips_of(name, &Thresholds::default())
        .into_iter()
        .map(|t| (t.id, t.severity, t.node))
        .collect()
}

fn one(name: &str, id: &str) -> Tip {
    let found: Vec<Tip> = tips_of(name, &Thresholds::default())
        .into_iter()
        .filter(|t| t.id == id)
        .collect();
    assert_eq!(found.len(), 1, "{name}: {found:#?}");
    found.into_iter().next().unwrap()
}

#[test]
fn clean_plans_get_no_tips() {
    assert_eq!(ids("pg15_clean_index_only_count.json"), vec![]);
    assert_eq!(ids("pg18_clean_index_only_count.json"), vec![]);
    for citus in [
        "citus/01_multi_shard_aggregate_pg18.json",
        "citus/04_analyze_cte_insert_subplan_pg17.json",
    ] {
        assert_eq!(ids(citus), vec![], "{citus}");
    }
}

#[test]
fn row_estimate_where_it_originates() {
    let t = one("pg15_estimate_error.json", row_estimate::ID);
    assert_eq!((t.severity, t.node), (Severity::Info, 1));
    assert!(
        t.message
            .starts_with("row estimate off: planned 53 rows, got 5,000, underestimated 94.3×"),
        "{}",
        t.message
    );
    assert!(t.message.contains("CREATE STATISTICS"));
    let t = one("pg18_estimate_error.json", row_estimate::ID);
    assert_eq!(
        (t.severity, t.node),
        (Severity::Warning, 1),
        "PG18 estimated 43 rows: 116x"
    );
    // A lower warning threshold turns PG15's 94x into a warning.
    let strict = Thresholds {
        estimate_warning: 50.0,
        ..Thresholds::default()
    };
    let t: Vec<Tip> = tips_of("pg15_estimate_error.json", &strict)
        .into_iter()
        .filter(|t| t.id == row_estimate::ID)
        .collect();
    assert_eq!(t[0].severity, Severity::Warning);
    // Below a Limit and across a Merge Join estimates are not compared.
    assert!(
        ids("pg15_merge_join_incremental_sort.json")
            .iter()
            .all(|(id, ..)| *id != row_estimate::ID)
    );
}

#[test]
fn filter_waste() {
    let t = one("pg15_seq_scan_filter.json", filter_waste::ID);
    assert_eq!((t.severity, t.node), (Severity::Warning, 0));
    assert!(
        t.message
            .contains("100.0% of the rows read (500,000 of 500,000"),
        "{}",
        t.message
    );
    let t = one("pg18_timing_off.json", filter_waste::ID);
    assert_eq!((t.severity, t.node), (Severity::Info, 1), "75% discarded");
    let lenient = Thresholds {
        filter_min_rows_read: 20_000.0,
        ..Thresholds::default()
    };
    assert!(
        tips_of("pg18_timing_off.json", &lenient)
            .iter()
            .all(|t| t.id != filter_waste::ID)
    );
    // Parallel: per-loop averages × 3 loops.
    assert!(
        one("pg15_parallel_gather.json", filter_waste::ID)
            .message
            .contains("(468,897 of 499,998")
    );
}

#[test]
fn heap_fetches_suggest_vacuum() {
    for f in [
        "pg15_index_only_heap_fetches.json",
        "pg18_index_only_heap_fetches.json",
    ] {
        let t = one(f, heap_fetches::ID);
        assert_eq!((t.severity, t.node), (Severity::Warning, 0));
        assert!(
            t.message.contains("fetched 1,050 heap tuples") && t.message.contains("VACUUM visit")
        );
    }
    assert!(
        ids("pg15_partition_prune_plan_time.json")
            .iter()
            .all(|(id, ..)| *id != heap_fetches::ID)
    );
}

#[test]
fn lossy_bitmap_suggests_work_mem() {
    let t = one("pg15_bitmap_lossy.json", lossy_bitmap::ID);
    assert_eq!((t.severity, t.node), (Severity::Warning, 1));
    assert!(
        t.message.contains("4654 of 5155 heap blocks") && t.message.contains("work_mem is 64kB"),
        "{}",
        t.message
    );
    assert!(
        ids("pg18_bitmap_exact.json")
            .iter()
            .all(|(id, ..)| *id != lossy_bitmap::ID)
    );
}

#[test]
fn spills_say_how_much() {
    let t = one("pg15_sort_external_disk.json", spill::SORT);
    assert_eq!((t.severity, t.node), (Severity::Warning, 0));
    assert!(
        t.message
            .contains("external merge, 23040 kB on disk; 22.5 MB written"),
        "{}",
        t.message
    );
    let t = one("pg15_hash_join_batches.json", spill::HASH);
    assert_eq!(t.node, 3);
    assert!(
        t.message.contains("128 batches (19.0 MB of temp files)"),
        "{}",
        t.message
    );
    assert_eq!(one("pg18_hashagg_spill.json", spill::HASHAGG).node, 0);
    assert!(ids("pg15_cte_scan.json").is_empty());
}

#[test]
fn large_seq_scan() {
    let t = one("pg15_seq_scan_filter.json", seq_scan::ID);
    assert_eq!((t.severity, t.node), (Severity::Info, 0));
    assert!(t.message.contains("read 500,000 rows of big"));
    let high = Thresholds {
        seq_scan_rows: 600_000.0,
        ..Thresholds::default()
    };
    assert!(
        tips_of("pg15_seq_scan_filter.json", &high)
            .iter()
            .all(|t| t.id != seq_scan::ID)
    );
    // 9212 rows: under the default 10,000.
    assert!(ids("pg18_cte_scan.json").is_empty());
}

#[test]
fn nested_loop_inner_side() {
    let t = one("pg18_nested_loop_many.json", nested_loop::ID);
    assert_eq!((t.severity, t.node), (Severity::Info, 1));
    assert!(
        t.message
            .contains("(Index Scan using patient_pkey on patient (#3)) ran 10199 times")
    );
    assert!(
        ids("pg15_never_executed.json")
            .iter()
            .all(|(id, ..)| *id != nested_loop::ID)
    );
}

#[test]
fn jit_on_a_tiny_query() {
    let t = one("pg15_jit_tiny.json", jit::ID);
    assert_eq!((t.severity, t.node), (Severity::Warning, 0));
    assert!(
        t.message
            .contains("JIT compiled 4 function(s) in 84.8 ms of a 104 ms execution"),
        "{}",
        t.message
    );
    assert!(t.message.contains("jit_above_cost is 0"));
    // JIT on a long query (4 ms of 998 ms) is fine.
    assert!(
        ids("pg15_sort_external_disk.json")
            .iter()
            .all(|(id, ..)| *id != jit::ID)
    );
}

#[test]
fn planning_heavier_than_execution() {
    let t = one("pg15_partition_prune_run_time_generic.json", planning::ID);
    assert_eq!((t.severity, t.node), (Severity::Info, 0));
    assert!(
        t.message
            .starts_with("planning took 2.43 ms, 21.7× the execution (112 µs)"),
        "{}",
        t.message
    );
    assert!(t.message.contains("partitioned table"));
    assert!(
        ids("pg15_hashagg_spill.json")
            .iter()
            .all(|(id, ..)| *id != planning::ID)
    );
}

#[test]
fn tips_are_sorted_and_serialisable() {
    let all = tips_of("pg15_hash_join_batches.json", &Thresholds::default());
    let order: Vec<(usize, &str)> = all.iter().map(|t| (t.node, t.id)).collect();
    assert_eq!(
        order,
        vec![(2, seq_scan::ID), (3, spill::HASH), (4, seq_scan::ID)]
    );
    let j = serde_json::to_value(&all[1]).unwrap();
    assert_eq!(j["severity"], "warning");
    assert_eq!(j["location"], "Hash (#3)");
    assert_eq!(
        serde_json::to_value(Thresholds::default()).unwrap()["seq_scan_rows"],
        10_000.0
    );
}

fn real_tips(name: &str, t: &Thresholds) -> Vec<Tip> {
    let (plan, facts) = crate::plan::surface_tests::real_facts(name);
    tips(&plan, &facts, t)
}

fn converted_plan() -> (Plan, Facts) {
    // A text-to-JSON converter's spelling: "Nested Loop Join" is not a PostgreSQL node type.
    let plan = crate::plan::parse_plan(
        r#"[{"Plan": {"Node Type": "Nested Loop Join", "Join Type": "Inner", "Plans": [
            {"Node Type": "Seq Scan", "Relation Name": "a", "Parent Relationship": "Outer"},
            {"Node Type": "Index Scan", "Relation Name": "b", "Index Name": "b_pkey",
             "Parent Relationship": "Inner"}]}}]"#,
    )
    .unwrap();
    let facts = Facts::compute(&plan, &crate::plan::PartitionMap::heuristic(["a"]));
    (plan, facts)
}

#[test]
fn unknown_node_type_is_named() {
    let (plan, facts) = converted_plan();
    assert_eq!(facts.unknown_nodes, vec![0]);
    let found: Vec<Tip> = tips(&plan, &facts, &Thresholds::default())
        .into_iter()
        .filter(|t| t.id == unknown_node::ID)
        .collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].severity, found[0].node), (Severity::Warning, 0));
    assert!(
        found[0]
            .message
            .starts_with("node type \"Nested Loop Join\" is not one PostgreSQL"),
        "{}",
        found[0].message
    );
    assert!(found[0].message.contains("converted by a tool"));
}

#[test]
fn nested_loop_over_memoize_reports_its_hit_ratio() {
    let t = Thresholds {
        nested_loop_inner_loops: 100,
        ..Thresholds::default()
    };
    let found: Vec<Tip> = real_tips("pganalyze/004_memoize_nested_loop.json", &t)
        .into_iter()
        .filter(|t| t.id == nested_loop::ID)
        .collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    let m = &found[0].message;
    assert!(!m.contains("a Memoize node if"), "{m}");
    assert!(
        m.contains("The inner Memoize answered 980 of 1,000 lookups from its cache (98% hits)."),
        "{m}"
    );
    // Without a Memoize inside, the suggestion stays.
    let t = one("pg15_nested_loop_many.json", nested_loop::ID);
    assert!(
        t.message
            .contains("or a Memoize node if the inner lookups repeat")
    );
}

#[test]
fn workers_not_launched() {
    let found: Vec<Tip> = real_tips(
        "pev2/017_parallel_partial_aggregate_workers_launched_lt_planned.json",
        &Thresholds::default(),
    )
    .into_iter()
    .filter(|t| t.id == workers::ID)
    .collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].severity, found[0].node), (Severity::Warning, 1));
    assert!(
        found[0].message.starts_with("2 of 4 workers launched"),
        "{}",
        found[0].message
    );
    assert!(found[0].message.contains("max_parallel_workers"));
    assert!(
        !ids("pg15_parallel_gather.json")
            .iter()
            .any(|t| t.0 == workers::ID)
    );
}

#[test]
fn disabled_node() {
    let text = include_str!("../../tests/fixtures/plans/pg18_seq_scan_filter.json")
        .replacen(r#""Disabled": false"#, r#""Disabled": true"#, 1)
        .replacen(
            r#""max_parallel_workers_per_gather": "0""#,
            r#""max_parallel_workers_per_gather": "0", "enable_seqscan": "off""#,
            1,
        );
    let plan = crate::plan::parse_plan(&text).unwrap();
    let facts = Facts::compute(
        &plan,
        &crate::plan::PartitionMap::heuristic(["appointment"]),
    );
    let found: Vec<Tip> = tips(&plan, &facts, &Thresholds::default())
        .into_iter()
        .filter(|t| t.id == disabled::ID)
        .collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].node, 0);
    assert!(
        found[0]
            .message
            .starts_with("the planner was forced off its choice")
            && found[0].message.contains("enable_seqscan = off"),
        "{}",
        found[0].message
    );
    assert!(
        !ids("pg18_seq_scan_filter.json")
            .iter()
            .any(|t| t.0 == disabled::ID)
    );
}

#[test]
fn spill_and_estimate_tips_name_their_keys() {
    let t = one("pg15_sort_external_disk.json", spill::SORT);
    assert!(
        t.message
            .starts_with("the sort on (pad) spilled to disk (external merge"),
        "{}",
        t.message
    );
    let t = one("pg15_hashagg_spill.json", spill::HASHAGG);
    assert!(
        t.message
            .starts_with("the hash aggregate on (val) spilled to disk"),
        "{}",
        t.message
    );
    // The same HashAggregate had it expected 990 groups instead of 98,990.
    let text = include_str!("../../tests/fixtures/plans/pg15_hashagg_spill.json").replacen(
        r#""Plan Rows": 98990"#,
        r#""Plan Rows": 990"#,
        1,
    );
    let plan = crate::plan::parse_plan(&text).unwrap();
    let facts = Facts::compute(
        &plan,
        &crate::plan::PartitionMap::heuristic(["appointment"]),
    );
    let found: Vec<Tip> = tips(&plan, &facts, &Thresholds::default())
        .into_iter()
        .filter(|t| t.id == row_estimate::ID)
        .collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0]
            .message
            .starts_with("row estimate far off (groups of (val)): planned 990 rows, got 100,000"),
        "{}",
        found[0].message
    );
}
