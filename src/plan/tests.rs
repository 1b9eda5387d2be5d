//! Plan model and facts tests, on real plans captured from PostgreSQL 15 and 18 and on the shared
//! Citus plans. The numbers asserted are read from the fixture JSON.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::*;

/// Every plan fixture (captured PG15/PG18 plans and the shared Citus plans), name and text.
pub(crate) const FIXTURES: &[(&str, &str)] = &[
    (
        "pg15_bitmap_exact.json",
        include_str!("../../tests/fixtures/plans/pg15_bitmap_exact.json"),
    ),
    (
        "pg15_bitmap_lossy.json",
        include_str!("../../tests/fixtures/plans/pg15_bitmap_lossy.json"),
    ),
    (
        "pg15_clean_index_only_count.json",
        include_str!("../../tests/fixtures/plans/pg15_clean_index_only_count.json"),
    ),
    (
        "pg15_cte_scan.json",
        include_str!("../../tests/fixtures/plans/pg15_cte_scan.json"),
    ),
    (
        "pg15_estimate_error.json",
        include_str!("../../tests/fixtures/plans/pg15_estimate_error.json"),
    ),
    (
        "pg15_hash_join_batches.json",
        include_str!("../../tests/fixtures/plans/pg15_hash_join_batches.json"),
    ),
    (
        "pg15_hashagg_spill.json",
        include_str!("../../tests/fixtures/plans/pg15_hashagg_spill.json"),
    ),
    (
        "pg15_index_only_heap_fetches.json",
        include_str!("../../tests/fixtures/plans/pg15_index_only_heap_fetches.json"),
    ),
    (
        "pg15_initplan_subplan.json",
        include_str!("../../tests/fixtures/plans/pg15_initplan_subplan.json"),
    ),
    (
        "pg15_insert_trigger.json",
        include_str!("../../tests/fixtures/plans/pg15_insert_trigger.json"),
    ),
    (
        "pg15_jit_tiny.json",
        include_str!("../../tests/fixtures/plans/pg15_jit_tiny.json"),
    ),
    (
        "pg15_merge_join_incremental_sort.json",
        include_str!("../../tests/fixtures/plans/pg15_merge_join_incremental_sort.json"),
    ),
    (
        "pg15_nested_loop_many.json",
        include_str!("../../tests/fixtures/plans/pg15_nested_loop_many.json"),
    ),
    (
        "pg15_never_executed.json",
        include_str!("../../tests/fixtures/plans/pg15_never_executed.json"),
    ),
    (
        "pg15_no_analyze_day.json",
        include_str!("../../tests/fixtures/plans/pg15_no_analyze_day.json"),
    ),
    (
        "pg15_parallel_gather.json",
        include_str!("../../tests/fixtures/plans/pg15_parallel_gather.json"),
    ),
    (
        "pg15_parallel_gather_verbose.json",
        include_str!("../../tests/fixtures/plans/pg15_parallel_gather_verbose.json"),
    ),
    (
        "pg15_partition_prune_initplan.json",
        include_str!("../../tests/fixtures/plans/pg15_partition_prune_initplan.json"),
    ),
    (
        "pg15_partition_prune_plan_time.json",
        include_str!("../../tests/fixtures/plans/pg15_partition_prune_plan_time.json"),
    ),
    (
        "pg15_partition_prune_run_time_generic.json",
        include_str!("../../tests/fixtures/plans/pg15_partition_prune_run_time_generic.json"),
    ),
    (
        "pg15_partition_prune_stable_bound.json",
        include_str!("../../tests/fixtures/plans/pg15_partition_prune_stable_bound.json"),
    ),
    (
        "pg15_seq_scan_filter.json",
        include_str!("../../tests/fixtures/plans/pg15_seq_scan_filter.json"),
    ),
    (
        "pg15_sort_external_disk.json",
        include_str!("../../tests/fixtures/plans/pg15_sort_external_disk.json"),
    ),
    (
        "pg15_timing_off.json",
        include_str!("../../tests/fixtures/plans/pg15_timing_off.json"),
    ),
    (
        "pg15_verbose_query_id.json",
        include_str!("../../tests/fixtures/plans/pg15_verbose_query_id.json"),
    ),
    (
        "pg18_bitmap_exact.json",
        include_str!("../../tests/fixtures/plans/pg18_bitmap_exact.json"),
    ),
    (
        "pg18_bitmap_lossy.json",
        include_str!("../../tests/fixtures/plans/pg18_bitmap_lossy.json"),
    ),
    (
        "pg18_clean_index_only_count.json",
        include_str!("../../tests/fixtures/plans/pg18_clean_index_only_count.json"),
    ),
    (
        "pg18_cte_scan.json",
        include_str!("../../tests/fixtures/plans/pg18_cte_scan.json"),
    ),
    (
        "pg18_estimate_error.json",
        include_str!("../../tests/fixtures/plans/pg18_estimate_error.json"),
    ),
    (
        "pg18_hash_join_batches.json",
        include_str!("../../tests/fixtures/plans/pg18_hash_join_batches.json"),
    ),
    (
        "pg18_hashagg_spill.json",
        include_str!("../../tests/fixtures/plans/pg18_hashagg_spill.json"),
    ),
    (
        "pg18_index_only_heap_fetches.json",
        include_str!("../../tests/fixtures/plans/pg18_index_only_heap_fetches.json"),
    ),
    (
        "pg18_initplan_subplan.json",
        include_str!("../../tests/fixtures/plans/pg18_initplan_subplan.json"),
    ),
    (
        "pg18_insert_trigger.json",
        include_str!("../../tests/fixtures/plans/pg18_insert_trigger.json"),
    ),
    (
        "pg18_jit_tiny.json",
        include_str!("../../tests/fixtures/plans/pg18_jit_tiny.json"),
    ),
    (
        "pg18_merge_join_incremental_sort.json",
        include_str!("../../tests/fixtures/plans/pg18_merge_join_incremental_sort.json"),
    ),
    (
        "pg18_nested_loop_many.json",
        include_str!("../../tests/fixtures/plans/pg18_nested_loop_many.json"),
    ),
    (
        "pg18_never_executed.json",
        include_str!("../../tests/fixtures/plans/pg18_never_executed.json"),
    ),
    (
        "pg18_no_analyze_day.json",
        include_str!("../../tests/fixtures/plans/pg18_no_analyze_day.json"),
    ),
    (
        "pg18_parallel_gather.json",
        include_str!("../../tests/fixtures/plans/pg18_parallel_gather.json"),
    ),
    (
        "pg18_parallel_gather_verbose.json",
        include_str!("../../tests/fixtures/plans/pg18_parallel_gather_verbose.json"),
    ),
    (
        "pg18_partition_prune_initplan.json",
        include_str!("../../tests/fixtures/plans/pg18_partition_prune_initplan.json"),
    ),
    (
        "pg18_partition_prune_plan_time.json",
        include_str!("../../tests/fixtures/plans/pg18_partition_prune_plan_time.json"),
    ),
    (
        "pg18_partition_prune_run_time_generic.json",
        include_str!("../../tests/fixtures/plans/pg18_partition_prune_run_time_generic.json"),
    ),
    (
        "pg18_partition_prune_stable_bound.json",
        include_str!("../../tests/fixtures/plans/pg18_partition_prune_stable_bound.json"),
    ),
    (
        "pg18_seq_scan_filter.json",
        include_str!("../../tests/fixtures/plans/pg18_seq_scan_filter.json"),
    ),
    (
        "pg18_sort_external_disk.json",
        include_str!("../../tests/fixtures/plans/pg18_sort_external_disk.json"),
    ),
    (
        "pg18_timing_off.json",
        include_str!("../../tests/fixtures/plans/pg18_timing_off.json"),
    ),
    (
        "pg18_verbose_query_id.json",
        include_str!("../../tests/fixtures/plans/pg18_verbose_query_id.json"),
    ),
    (
        "citus/01_multi_shard_aggregate_pg18.json",
        include_str!("../../tests/fixtures/plans/citus/01_multi_shard_aggregate_pg18.json"),
    ),
    (
        "citus/02_multi_shard_colocated_join_mx_pg18.json",
        include_str!("../../tests/fixtures/plans/citus/02_multi_shard_colocated_join_mx_pg18.json"),
    ),
    (
        "citus/03_repartition_join_pg18.json",
        include_str!("../../tests/fixtures/plans/citus/03_repartition_join_pg18.json"),
    ),
    (
        "citus/04_analyze_cte_insert_subplan_pg17.json",
        include_str!("../../tests/fixtures/plans/citus/04_analyze_cte_insert_subplan_pg17.json"),
    ),
    (
        "citus/05_analyze_multi_row_insert_pg16_17.json",
        include_str!("../../tests/fixtures/plans/citus/05_analyze_multi_row_insert_pg16_17.json"),
    ),
    (
        "citus/06_analyze_multi_shard_select_pg16_17.json",
        include_str!("../../tests/fixtures/plans/citus/06_analyze_multi_shard_select_pg16_17.json"),
    ),
    (
        "citus/07_legacy_realtime_aggregate_pg10.json",
        include_str!("../../tests/fixtures/plans/citus/07_legacy_realtime_aggregate_pg10.json"),
    ),
    (
        "citus/08_legacy_task_tracker_repartition_pg10.json",
        include_str!(
            "../../tests/fixtures/plans/citus/08_legacy_task_tracker_repartition_pg10.json"
        ),
    ),
    (
        "pg15_postgres_fdw_join_pushdown.json",
        include_str!("../../tests/fixtures/plans/pg15_postgres_fdw_join_pushdown.json"),
    ),
    (
        "pg15_postgres_fdw_direct_update.json",
        include_str!("../../tests/fixtures/plans/pg15_postgres_fdw_direct_update.json"),
    ),
];

pub(crate) fn fixture(name: &str) -> Plan {
    let (_, text) = FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    parse_plan(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub(crate) fn facts_of(name: &str) -> (Plan, Facts) {
    let plan = fixture(name);
    let facts = Facts::compute(&plan, &PartitionMap::heuristic(["appointment"]));
    (plan, facts)
}

/// The catalog map the runner would supply for the fixtures' schema: partitions and their
/// indexes (partition index → parent index).
pub(crate) fn catalog() -> PartitionMap {
    let mut m = BTreeMap::new();
    for month in 1..=12 {
        let part = format!("appointment_y2026m{month:02}");
        m.insert(
            format!("{part}_provider_id_scheduled_at_status_patien_idx"),
            "appointment_provider_day_idx".to_owned(),
        );
        m.insert(
            format!("{part}_patient_id_scheduled_at_idx"),
            "appointment_patient_idx".to_owned(),
        );
        m.insert(part, "appointment".to_owned());
    }
    PartitionMap::from_catalog(m)
}

/// Numbers as f64 so `1` and `1.0` compare equal (the model stores some counters as f64).
fn normalise(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.iter().map(normalise).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), normalise(v))).collect())
        }
        other => other.clone(),
    }
}

#[test]
fn every_fixture_parses_and_round_trips_without_losing_data() {
    assert!(FIXTURES.len() >= 50, "{} fixtures", FIXTURES.len());
    for (name, text) in FIXTURES {
        let plan = parse_plan(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !plan.root.node_type.is_empty(),
            "{name}: root has a node type"
        );
        let original: Value = serde_json::from_str(text).expect("valid JSON");
        let original = match original {
            Value::Array(mut a) => a.remove(0),
            other => other,
        };
        let back = serde_json::to_value(&plan).expect("serialises");
        assert_eq!(normalise(&back), normalise(&original), "{name}: round trip");
        // Facts, ids and descriptions work on every shape.
        let facts = Facts::compute(&plan, &PartitionMap::none());
        assert_eq!(facts.node_count, plan.nodes().len());
        assert!(plan.describe(0).ends_with("(#0)"));
    }
}

#[test]
fn accepts_bare_object_and_nested_arrays() {
    let bare = r#"{"Plan": {"Node Type": "Result", "Plan Rows": 1}}"#;
    assert_eq!(parse_plan(bare).unwrap().root.node_type, "Result");
    let nested = r#"[[{"Plan": {"Node Type": "Result"}}]]"#;
    assert_eq!(parse_plan(nested).unwrap().root.node_type, "Result");
}

#[test]
fn outer_shape_errors_are_typed_and_readable() {
    let e = parse_plan("QUERY PLAN\n----").unwrap_err();
    assert!(matches!(e, PlanParseError::Input { .. }), "{e:?}");
    assert!(
        e.to_string().contains("QUERY PLAN column holds no JSON"),
        "{e}"
    );
    let e = parse_plan("[{\"Plan\": {}").unwrap_err();
    assert!(matches!(e, PlanParseError::Json { line: 1, .. }), "{e:?}");
    assert!(matches!(
        parse_plan("[]").unwrap_err(),
        PlanParseError::NotAPlan { .. }
    ));
    assert!(matches!(
        parse_plan("[3]").unwrap_err(),
        PlanParseError::NotAPlan { .. }
    ));
    let e = parse_plan(r#"[{"Planning Time": 1}]"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the object has no \"Plan\" key (its keys: Planning Time); is this EXPLAIN (FORMAT JSON) output?"
    );
    assert!(matches!(
        parse_plan(r#"{"Plan": 3}"#).unwrap_err(),
        PlanParseError::PlanNotObject { .. }
    ));
    let two = r#"[{"Plan": {}}, {"Plan": {}}]"#;
    assert!(matches!(
        parse_plan(two).unwrap_err(),
        PlanParseError::MultipleStatements { count: 2 }
    ));
}

#[test]
fn odd_types_stay_in_extra_and_numbers_are_lenient() {
    let text = r#"{"Plan": {"Node Type": "Seq Scan", "Actual Rows": "12.5", "Actual Loops": 2.0,
        "Plan Rows": "many", "Plans": "not a list", "Shared Hit Blocks": -3, "Heap Fetches": 7,
        "Custom Key": [1, 2]}, "Execution Time": "0.5", "Triggers": 5}"#;
    let p = parse_plan(text).unwrap();
    let n = &p.root;
    assert_eq!(n.actual_rows, Some(12.5));
    assert_eq!(n.actual_loops, Some(2));
    assert_eq!(n.plan_rows, None);
    assert_eq!(n.extra["Plan Rows"], json!("many"));
    assert_eq!(n.extra["Plans"], json!("not a list"));
    assert_eq!(n.extra["Shared Hit Blocks"], json!(-3));
    assert_eq!(n.extra["Custom Key"], json!([1, 2]));
    assert_eq!(n.heap_fetches, Some(7.0));
    assert_eq!(p.execution_time, Some(0.5));
    assert_eq!(p.extra["Triggers"], json!(5));
    assert_eq!(n.total_actual_rows(), Some(25.0));
}

#[test]
fn node_ids_are_preorder_and_descriptions_read_like_psql() {
    let p = fixture("pg15_initplan_subplan.json");
    let ids: Vec<(usize, usize, Option<usize>)> = p
        .nodes()
        .iter()
        .map(|r| (r.id, r.depth, r.parent))
        .collect();
    assert_eq!(
        ids,
        vec![
            (0, 0, None),
            (1, 1, Some(0)),
            (2, 2, Some(1)),
            (3, 1, Some(0)),
            (4, 2, Some(3))
        ]
    );
    assert_eq!(
        p.describe(0),
        "Index Scan using patient_pkey on patient (#0)"
    );
    assert_eq!(
        p.node(1).unwrap().subplan_name.as_deref(),
        Some("InitPlan 2 (returns $2)")
    );
    assert_eq!(
        p.describe(4),
        "Index Only Scan using appointment_y2026m03_patient_id_scheduled_at_idx on appointment_y2026m03 (#4)"
    );
    assert_eq!(
        fixture("pg15_cte_scan.json").describe(1),
        "HashAggregate (#1)"
    );
    assert_eq!(
        fixture("pg15_cte_scan.json").describe(3),
        "CTE Scan on busy (#3)"
    );
    assert_eq!(
        fixture("pg15_parallel_gather.json").describe(3),
        "Parallel Seq Scan on big (#3)"
    );
    assert_eq!(
        fixture("pg15_parallel_gather.json").describe(2),
        "Partial Aggregate (#2)"
    );
    assert_eq!(
        fixture("pg15_insert_trigger.json").describe(0),
        "Insert on appointment (#0)"
    );
    assert_eq!(
        fixture("pg15_bitmap_lossy.json").describe(2),
        "Bitmap Index Scan on big_val_idx (#2)"
    );
    assert_eq!(
        fixture("citus/01_multi_shard_aggregate_pg18.json").describe(2),
        "Custom Scan (Citus Adaptive) (#2)"
    );
    assert_eq!(
        fixture("pg15_clean_index_only_count.json").describe(7),
        "node #7 (not in this plan)"
    );
}

#[test]
fn node_kinds_are_kebab_case_with_aliases() {
    assert_eq!(describe::kebab("Seq Scan"), "seq-scan");
    assert_eq!(describe::kebab("ModifyTable"), "modify-table");
    assert_eq!(describe::kebab("CTE Scan"), "cte-scan");
    assert_eq!(describe::kebab("BitmapAnd"), "bitmap-and");
    assert_eq!(describe::kebab("WorkTable Scan"), "work-table-scan");
    let (_, f) = facts_of("pg15_cte_scan.json");
    assert_eq!(f.node_kinds["hash-aggregate"], vec![1]);
    assert_eq!(f.node_kinds["aggregate"], vec![1]);
    assert_eq!(f.node_kinds["cte-scan"], vec![3, 5]);
    let (_, f) = facts_of("pg15_bitmap_lossy.json");
    assert_eq!(f.node_kinds["bitmap-scan"], vec![1]);
    let (_, f) = facts_of("pg15_parallel_gather.json");
    assert_eq!(f.node_kinds["parallel-seq-scan"], vec![3]);
    assert_eq!(f.node_kinds["gather"], vec![1]);
}

#[test]
fn partition_heuristic_and_catalog() {
    let h = PartitionMap::heuristic(["appointment", "public.appointment_audit"]);
    assert_eq!(h.root_of("appointment_y2026m03"), "appointment");
    assert_eq!(h.root_of("appointment_p1"), "appointment");
    assert_eq!(h.root_of("appointment_audit"), "appointment_audit");
    assert_eq!(h.root_of("appointment_audit_2026"), "appointment_audit");
    assert_eq!(h.root_of("appointment_archive"), "appointment_archive");
    assert_eq!(h.root_of("patient"), "patient");
    // Index names never go through the heuristic.
    assert_eq!(
        h.parent_index("appointment_y2026m03_patient_id_idx"),
        "appointment_y2026m03_patient_id_idx"
    );
    let mut m = BTreeMap::new();
    m.insert("a_2026_p1".to_owned(), "a_2026".to_owned());
    m.insert("a_2026".to_owned(), "a".to_owned());
    m.insert("loop1".to_owned(), "loop2".to_owned());
    m.insert("loop2".to_owned(), "loop1".to_owned());
    let c = PartitionMap::from_catalog(m);
    assert_eq!(
        c.root_of("a_2026_p1"),
        "a",
        "sub-partitions resolve to the top table"
    );
    assert_eq!(c.root_of("public.a_2026"), "a");
    assert!(
        ["loop1", "loop2"].contains(&c.root_of("loop1").as_str()),
        "cycles end"
    );
    assert_eq!(
        c.root_of("appointment_y2026m03"),
        "appointment_y2026m03",
        "catalog wins over heuristic"
    );
}
