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
