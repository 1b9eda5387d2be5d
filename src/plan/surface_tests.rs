//! Labels as psql prints them, node types PostgreSQL never prints, and the facts surfaced from
//! real-world plans (workers, Memoize, WAL, settings, index searches, disabled nodes, query text).

use std::path::Path;

use super::tests::facts_of;
use super::*;

/// A plan of `tests/fixtures/plans/real/` (see its MANIFEST.tsv).
pub(crate) fn real(name: &str) -> Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/plans/real")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    parse_plan(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub(crate) fn real_facts(name: &str) -> (Plan, Facts) {
    let plan = real(name);
    let facts = Facts::compute(&plan, &PartitionMap::heuristic(["appointment"]));
    (plan, facts)
}

fn labels(plan: &Plan) -> Vec<String> {
    plan.nodes().iter().map(|r| node_label(r.node)).collect()
}

/// A plan read from `text` after replacing `from` by `to` (the replacement must happen).
fn edited(name: &str, text: &str, from: &str, to: &str) -> Plan {
    assert!(text.contains(from), "{name} has no {from}");
    parse_plan(&text.replacen(from, to, 1)).unwrap()
}

#[test]
fn index_only_scan_backward() {
    let plan = edited(
        "pg18_index_only_heap_fetches.json",
        include_str!("../../tests/fixtures/plans/pg18_index_only_heap_fetches.json"),
        r#""Scan Direction": "Forward""#,
        r#""Scan Direction": "Backward""#,
    );
    assert!(
        node_label(&plan.root).starts_with("Index Only Scan Backward using "),
        "{}",
        node_label(&plan.root)
    );
    let plan = real("pg_store_plans/006_index_scan_backward_mergejoin_sort_quicksort_ali.json");
    assert!(
        labels(&plan)
            .iter()
            .any(|l| l.starts_with("Index Scan Backward using ")),
        "{:?}",
        labels(&plan)
    );
}

#[test]
fn async_and_modifying_foreign_scans() {
    let plan = real("pganalyze/001_postgres_fdw_async_append.json");
    let l = labels(&plan);
    assert!(
        l.iter().any(|l| l.starts_with("Async Foreign Scan on ")),
        "{l:?}"
    );
    // "Operation": "Select" is a plain Foreign Scan.
    let plan = real("pganalyze/009_file_fdw_foreign_scan.json");
    assert!(
        labels(&plan)
            .iter()
            .any(|l| l.starts_with("Foreign Scan on ")),
        "{:?}",
        labels(&plan)
    );
    for op in ["Insert", "Update", "Delete"] {
        let node: PlanNode = serde_json::from_value(serde_json::json!({
            "Node Type": "Foreign Scan", "Operation": op, "Relation Name": "remote_t",
            "Parallel Aware": false, "Async Capable": false
        }))
        .unwrap();
        assert_eq!(node_label(&node), format!("Foreign {op} on remote_t"));
    }
    // explain.c: "Parallel " before "Async ".
    let node: PlanNode = serde_json::from_value(serde_json::json!({
        "Node Type": "Foreign Scan", "Operation": "Select", "Relation Name": "remote_t",
        "Parallel Aware": true, "Async Capable": true
    }))
    .unwrap();
    assert_eq!(node_label(&node), "Parallel Async Foreign Scan on remote_t");
}

#[test]
fn setop_with_its_command() {
    let plan = real("pganalyze/020_intersect_hashed_setop.json");
    assert!(
        labels(&plan).contains(&"HashSetOp Intersect".to_owned()),
        "{:?}",
        labels(&plan)
    );
    let plan = real("pg_store_plans/015_sorted_setop_sort_on_disk.json");
    assert_eq!(labels(&plan)[0], "SetOp Intersect");
    let node: PlanNode = serde_json::from_value(serde_json::json!({
        "Node Type": "SetOp", "Strategy": "Hashed", "Command": "Except All"
    }))
    .unwrap();
    assert_eq!(node_label(&node), "HashSetOp Except All");
}

#[test]
fn every_captured_node_type_is_known_and_converted_ones_are_not() {
    for (name, _) in super::tests::FIXTURES {
        let (_, f) = facts_of(name);
        assert_eq!(f.unknown_nodes, Vec::<usize>::new(), "{name}");
    }
    for name in [
        "pganalyze/001_postgres_fdw_async_append.json",
        "pganalyze/004_memoize_nested_loop.json",
        "pganalyze/008_tid_range_scan.json",
        "pganalyze/012_tablesample_sample_scan.json",
        "pganalyze/015_xmltable_table_function_scan.json",
        "pg_store_plans/008_plain_aggregate_cte_recursive_union_worktable_sc.json",
        "pg_store_plans/029_lockrows.json",
        "pg_store_plans/039_named_tuplestore_scan.json",
        "pg_store_plans/042_gather_merge.json",
    ] {
        let (_, f) = real_facts(name);
        assert_eq!(f.unknown_nodes, Vec::<usize>::new(), "{name}");
    }
    for t in [
        "Result Cache",
        "Hash Join",
        "Custom Scan",
        "Incremental Sort",
        "ProjectSet",
    ] {
        assert!(is_known_node_type(t), "{t}");
    }
    for t in ["Nested Loop Join", "Parallel Seq Scan", "HashAggregate", ""] {
        assert!(!is_known_node_type(t), "{t:?}");
    }
}

#[test]
fn workers_planned_and_launched() {
    let (_, f) = real_facts("pev2/017_parallel_partial_aggregate_workers_launched_lt_planned.json");
    assert_eq!(f.workers.len(), 1);
    let w = f.workers[0];
    assert_eq!((w.node, w.planned, w.launched), (1, Some(4), Some(2)));
    assert!(w.short());
    let (_, f) = facts_of("pg15_parallel_gather.json");
    assert!(!f.workers.is_empty() && f.workers.iter().all(|w| !w.short()));
}

#[test]
fn memoize_cache() {
    let (_, f) = real_facts("pganalyze/004_memoize_nested_loop.json");
    assert_eq!(f.memoize.len(), 1);
    let m = &f.memoize[0];
    assert_eq!(m.cache_key.as_deref(), Some("t2.twenty"));
    assert_eq!(
        (m.hits, m.misses, m.evictions, m.overflows),
        (Some(980), Some(20), Some(0), Some(0))
    );
    assert_eq!(m.hit_ratio(), Some(0.98));
}

#[test]
fn wal_settings_and_query_text() {
    let (_, f) = real_facts("pganalyze/006_incremental_sort_wal_settings.json");
    let wal = f.wal.unwrap();
    assert_eq!(
        (wal.node, wal.records, wal.fpi, wal.bytes),
        (0, Some(0), Some(0), Some(0))
    );
    assert_eq!(
        f.settings,
        vec![Setting {
            name: "work_mem".into(),
            value: "2MB".into()
        }]
    );
    let (_, f) = facts_of("pg15_seq_scan_filter.json");
    assert_eq!(f.wal, None);
    let (_, f) = real_facts("pganalyze/003_jit_result_pg_sleep.json");
    assert_eq!(f.query_text.as_deref(), Some("SELECT pg_sleep(2);"));
    let j = serde_json::to_value(&f).unwrap();
    assert_eq!(j["query_text"], "SELECT pg_sleep(2);");
    assert!(j["settings"].is_array() && j["workers"].is_array());
}

#[test]
fn pg18_index_searches_and_disabled_nodes() {
    let (_, f) = facts_of("pg18_index_only_heap_fetches.json");
    assert_eq!(
        f.index_searches,
        vec![NodeValue {
            node: 0,
            value: 1.0
        }]
    );
    let (_, f) = facts_of("pg15_index_only_heap_fetches.json");
    assert!(f.index_searches.is_empty(), "PG15 prints no Index Searches");
    let (_, f) = facts_of("pg18_seq_scan_filter.json");
    assert!(f.disabled_nodes.is_empty(), "\"Disabled\": false");
    // The same plan as PG18 prints it under enable_seqscan = off (no index to use instead).
    let plan = edited(
        "pg18_seq_scan_filter.json",
        include_str!("../../tests/fixtures/plans/pg18_seq_scan_filter.json"),
        r#""Disabled": false"#,
        r#""Disabled": true"#,
    );
    let f = Facts::compute(&plan, &PartitionMap::heuristic(["appointment"]));
    assert_eq!(f.disabled_nodes, vec![0]);
}
