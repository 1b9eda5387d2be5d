//! Facts tests: each captured plan shape gives the numbers read from its JSON.

use super::estimate::q_error;
use super::tests::{catalog, facts_of, fixture};
use super::*;

#[test]
fn plan_time_pruning_one_partition_index_only_no_heap_fetches() {
    for v in ["pg15", "pg18"] {
        let (_, f) = facts_of(&format!("{v}_partition_prune_plan_time.json"));
        let a = &f.relations["appointment"];
        assert_eq!(
            a.partitions_scanned.iter().collect::<Vec<_>>(),
            ["appointment_y2026m03"]
        );
        assert_eq!(a.partitions_in_plan.len(), 1);
        assert_eq!(a.subplans_removed, 0);
        assert_eq!(
            a.scan_kinds.iter().collect::<Vec<_>>(),
            [&ScanKind::IndexOnly]
        );
        assert_eq!(f.heap_fetches, Some(0.0));
        assert_eq!(f.result_rows, Some(33.0));
        assert_eq!(
            (f.buffers.shared_hit, f.buffers.shared_read),
            (Some(2), Some(2))
        );
        let w = f.worst_estimate.unwrap();
        assert_eq!(
            (w.node, w.estimated_rows, w.actual_rows, w.q_error),
            (0, 6.0, 33.0, Some(5.5))
        );
    }
}

#[test]
fn run_time_pruning_counts_subplans_removed() {
    let (_, f) = facts_of("pg15_partition_prune_run_time_generic.json");
    let a = &f.relations["appointment"];
    assert_eq!(a.subplans_removed, 11);
    assert_eq!(a.partitions_scanned.len(), 1);
    let (_, f) = facts_of("pg18_partition_prune_stable_bound.json");
    assert_eq!(
        f.relations["appointment"].subplans_removed, 9,
        "STABLE bound: 10 after plan time, 9 removed"
    );
    assert_eq!(f.relations["appointment"].partitions_scanned.len(), 1);
}

#[test]
fn run_time_pruning_by_initplan_shows_never_executed_partitions() {
    let (_, f) = facts_of("pg15_partition_prune_initplan.json");
    let a = &f.relations["appointment"];
    assert_eq!(a.partitions_in_plan.len(), 12);
    let scanned: Vec<&String> = a.partitions_scanned.iter().collect();
    assert_eq!(scanned, ["appointment_y2026m11", "appointment_y2026m12"]);
    assert_eq!(a.subplans_removed, 0);
    assert_eq!(f.never_executed, (3..=12).collect::<Vec<_>>());
    assert_eq!(f.result_rows, Some(1.0));
}

#[test]
fn never_executed_inner_side() {
    let (p, f) = facts_of("pg15_never_executed.json");
    assert!(p.node(2).unwrap().never_executed());
    assert_eq!(f.never_executed, (2..=14).collect::<Vec<_>>());
    assert_eq!(f.relations["appointment"].partitions_scanned.len(), 0);
    assert_eq!(f.relations["appointment"].partitions_in_plan.len(), 12);
    assert!(
        f.estimates.iter().all(|e| e.node < 2),
        "never-executed nodes have no estimate"
    );
}

#[test]
#[allow(
    clippy::float_cmp,
    reason = "whole numbers parsed from EXPLAIN JSON: exact equality is intended"
)]
fn heap_fetches_before_vacuum() {
    for v in ["pg15", "pg18"] {
        let (_, f) = facts_of(&format!("{v}_index_only_heap_fetches.json"));
        assert_eq!(f.heap_fetches, Some(1050.0));
        assert_eq!(
            f.heap_fetches_by_node,
            vec![NodeValue {
                node: 0,
                value: 1050.0
            }]
        );
        assert_eq!(f.relations["visit"].heap_fetches, 1050.0);
    }
    assert_eq!(
        fixture("pg18_index_only_heap_fetches.json")
            .root
            .index_searches,
        Some(1.0)
    );
}

#[test]
#[allow(
    clippy::float_cmp,
    reason = "a whole-number estimate × loops: exact in f64, equality is intended"
)]
fn parallel_plan_workers_and_fractional_rows() {
    let p = fixture("pg15_parallel_gather.json");
    let g = p.node(1).unwrap();
    assert_eq!((g.workers_planned, g.workers_launched), (Some(2), Some(2)));
    let p = fixture("pg18_parallel_gather_verbose.json");
    let scan = p.node(3).unwrap();
    assert_eq!(scan.actual_rows, Some(10367.33));
    assert_eq!(scan.actual_loops, Some(3));
    assert_eq!(scan.workers.len(), 2);
    assert_eq!(scan.workers[0].worker_number, Some(0));
    assert!(scan.extra.contains_key("Output"));
    let (_, f) = facts_of("pg18_parallel_gather.json");
    let e = f.estimate(3).unwrap();
    assert!((e.actual_rows - 31101.99).abs() < 1e-6, "{}", e.actual_rows);
    assert_eq!(e.estimated_rows, 37878.0);
}

#[test]
#[allow(
    clippy::float_cmp,
    reason = "halves and small whole numbers are exact in f64: equality is intended"
)]
fn pg18_fractional_rows_in_subplan_q_error() {
    let (p, f) = facts_of("pg18_initplan_subplan.json");
    assert_eq!(p.node(4).unwrap().actual_rows, Some(0.5));
    let e = f.estimate(4).unwrap();
    assert_eq!(
        (e.estimated_rows, e.actual_rows, e.q_error),
        (4.0, 2.0, Some(2.0))
    );
    assert_eq!(p.node(4).unwrap().index_searches, Some(4.0));
}

#[test]
#[allow(
    clippy::float_cmp,
    reason = "q_error must return exactly these quotients: equality is intended"
)]
fn q_error_floors_at_one_row() {
    assert_eq!(q_error(1.0, 0.0), 1.0);
    assert_eq!(q_error(0.0, 0.0), 1.0);
    assert_eq!(q_error(10.0, 0.0), 10.0);
    assert_eq!(q_error(53.0, 5000.0), 5000.0 / 53.0);
}

#[test]
fn limit_and_merge_join_children_are_not_compared() {
    let (_, f) = facts_of("pg15_merge_join_incremental_sort.json");
    assert_eq!(f.early_stop_nodes, vec![1, 2, 3, 4]);
    assert_eq!(f.worst_estimate.unwrap().node, 0);
}

#[test]
fn spills_sort_hash_and_hashagg() {
    let (_, f) = facts_of("pg15_sort_external_disk.json");
    assert_eq!(f.spills.len(), 1);
    let s = &f.spills[0];
    assert_eq!(
        (s.node, s.kind, s.disk_kb, s.temp_written_blocks),
        (0, SpillKind::Sort, Some(23040), 12480)
    );
    assert_eq!(s.detail, "external merge, 23040 kB on disk");
    let (_, f) = facts_of("pg15_hash_join_batches.json");
    assert_eq!(f.spills.len(), 1, "{:?}", f.spills);
    let s = &f.spills[0];
    // The Hash wrote 782 blocks, the Hash Join above it 2430 - 782 = 1648 more.
    assert_eq!(
        (s.node, s.kind, s.temp_written_blocks),
        (3, SpillKind::Hash, 2430)
    );
    assert_eq!(s.detail, "128 batches");
    assert_eq!(
        (f.buffers.temp_read, f.buffers.temp_written),
        (Some(2430), Some(2430))
    );
    let (_, f) = facts_of("pg18_hashagg_spill.json");
    let s = &f.spills[0];
    assert_eq!(
        (s.node, s.kind, s.disk_kb),
        (0, SpillKind::HashAgg, Some(13368))
    );
    let (_, f) = facts_of("pg15_clean_index_only_count.json");
    assert!(f.spills.is_empty());
}

#[test]
fn lossy_bitmap_and_bitmap_indexes() {
    let (_, f) = facts_of("pg15_bitmap_lossy.json");
    assert_eq!(
        (f.lossy_heap_blocks, f.lossy_nodes.clone()),
        (4654, vec![1])
    );
    assert_eq!(
        f.relations["big"].indexes.iter().collect::<Vec<_>>(),
        ["big_val_idx"]
    );
    let (_, f) = facts_of("pg15_bitmap_exact.json");
    assert_eq!(f.lossy_heap_blocks, 0);
    assert_eq!(
        f.scans[0].indexes,
        ["appointment_y2026m05_patient_id_scheduled_at_idx"]
    );
}

#[test]
fn catalog_map_resolves_partition_indexes() {
    let p = fixture("pg15_partition_prune_run_time_generic.json");
    let f = Facts::compute(&p, &catalog());
    let a = &f.relations["appointment"];
    assert_eq!(
        a.indexes.iter().collect::<Vec<_>>(),
        ["appointment_provider_day_idx"]
    );
    assert_eq!(f.scans[0].relation, "appointment_y2026m03");
    assert_eq!(f.scans[0].table, "appointment");
    // Without any map the partition is its own relation.
    let f = Facts::compute(&p, &PartitionMap::none());
    assert!(f.relations.contains_key("appointment_y2026m03"));
    assert_eq!(f.unattributed_subplans_removed, 11);
}

#[test]
fn statement_level_sections() {
    let (p, f) = facts_of("pg15_jit_tiny.json");
    assert_eq!(
        f.jit,
        Some(JitFacts {
            functions: Some(4),
            total_ms: Some(84.795)
        })
    );
    assert_eq!(p.setting("jit_above_cost"), Some("0"));
    assert!(
        fixture("pg18_jit_tiny.json").jit.is_none(),
        "the PG18 build has no LLVM"
    );
    let (p, f) = facts_of("pg15_insert_trigger.json");
    assert_eq!(f.trigger_time_ms, Some(1.993));
    let t = &p.triggers.as_ref().unwrap()[0];
    assert_eq!(
        (t.trigger_name.as_deref(), t.relation.as_deref(), t.calls),
        (
            Some("appointment_audit_trg"),
            Some("appointment_y2026m04"),
            Some(1)
        )
    );
    assert!(f.relations.is_empty(), "ModifyTable is not a scan");
    assert_eq!(
        fixture("pg15_verbose_query_id.json").query_identifier,
        Some(5_936_624_671_968_333_042)
    );
    assert_eq!(
        fixture("pg18_verbose_query_id.json").query_identifier,
        Some(-7_276_372_813_946_164_895)
    );
    let p = fixture("pg15_clean_index_only_count.json");
    assert_eq!(p.planning.as_ref().unwrap().buffers.shared_hit, Some(0));
    assert_eq!(
        (p.planning_time, p.execution_time),
        (Some(0.035), Some(0.969))
    );
}

#[test]
fn plans_without_analyze_or_timing() {
    let (p, f) = facts_of("pg18_no_analyze_day.json");
    assert!(!p.is_analyzed() && !f.analyzed);
    assert_eq!((f.heap_fetches, f.result_rows), (None, None));
    assert!(f.estimates.is_empty() && f.worst_estimate.is_none());
    assert_eq!(f.relations["appointment"].partitions_in_plan.len(), 1);
    assert!(f.relations["appointment"].partitions_scanned.is_empty());
    assert_eq!(f.scans[0].executed, None);
    let (p, f) = facts_of("pg15_timing_off.json");
    assert!(f.analyzed);
    assert_eq!((p.root.actual_total_time, p.execution_time), (None, None));
    assert_eq!(f.result_rows, Some(1.0));
}

#[test]
fn citus_plans_keep_distributed_sections() {
    let (p, f) = facts_of("citus/04_analyze_cte_insert_subplan_pg17.json");
    assert!(f.analyzed);
    assert_eq!(
        p.root.custom_plan_provider.as_deref(),
        Some("Citus Adaptive")
    );
    assert!(p.root.extra["Distributed Query"]["Subplans"].is_array());
    assert_eq!(p.triggers.as_ref().map(Vec::len), Some(0));
    let p = fixture("citus/08_legacy_task_tracker_repartition_pg10.json");
    assert!(p.node(1).unwrap().extra["Distributed Query"]["Job"]["Depended Jobs"].is_array());
    let (_, f) = facts_of("citus/06_analyze_multi_shard_select_pg16_17.json");
    assert_eq!(f.result_rows, Some(0.0));
}

/// Citus task plans are part of the tree: a shard's Seq Scan is seen (as a scan of its table), and
/// the distributed scan's tasks are facts.
#[test]
fn citus_task_plans_are_walked_and_shards_map_to_their_tables() {
    let (plan, f) = facts_of("citus/01_multi_shard_aggregate_pg18.json");
    let index = plan.index();
    let seq: Vec<&ScanFact> = f.scans.iter().filter(|s| s.kind == ScanKind::Seq).collect();
    assert_eq!(seq.len(), 1, "{:?}", f.scans);
    assert_eq!(seq[0].relation, "lineitem_360000");
    assert_eq!(seq[0].table, "lineitem");
    assert!(f.relations.contains_key("lineitem"));
    assert!(f.remote_nodes.contains(&seq[0].node));
    assert_eq!(
        index.node(seq[0].node).unwrap().node_type,
        "Seq Scan",
        "node ids reach into the task plan"
    );
    assert_eq!(f.tasks.len(), 1);
    let t = &f.tasks[0];
    assert_eq!(
        (t.task_count, t.tasks_shown.as_deref(), t.remote_plans),
        (Some(2), Some("One of 2"), 1)
    );
    assert!(f.node_kinds["seq-scan"].contains(&seq[0].node));
    // The expectation a user writes for the coordinator sees the shard's plan.
    let v = crate::expect::evaluate(
        &crate::expect::parse_expectation("no seq-scan", "q.sql", 1).unwrap(),
        &plan,
        &f,
    );
    assert!(!v.passed && !v.undecided, "{v:?}");
    assert!(v.found.contains("lineitem_360000"), "{}", v.found);
}

#[test]
fn citus_subplans_and_legacy_executors_are_walked_too() {
    // A CTE Citus runs first (Subplans -> PlannedStmt), itself a router job with its own task.
    let (_, f) = facts_of("citus/04_analyze_cte_insert_subplan_pg17.json");
    assert_eq!(f.tasks.len(), 2, "{:?}", f.tasks);
    assert_eq!(f.tasks[0].subplans, 1);
    assert!(
        f.node_kinds.contains_key("modify-table"),
        "{:?}",
        f.node_kinds.keys()
    );
    assert!(f.node_kinds.contains_key("function-scan"));
    // Citus 7 / PostgreSQL 10: "Citus Real-Time".
    let (_, f) = facts_of("citus/07_legacy_realtime_aggregate_pg10.json");
    assert_eq!(f.tasks[0].provider.as_deref(), Some("Citus Real-Time"));
    assert_eq!(f.tasks[0].task_count, Some(8));
    assert!(
        f.scans
            .iter()
            .any(|s| s.table == "lineitem" && s.relation != "lineitem")
    );
    // A re-partition job shows no task plans: nothing to walk, and it says so.
    let (_, f) = facts_of("citus/03_repartition_join_pg18.json");
    assert_eq!(f.tasks[0].remote_plans, 0);
    assert!(f.remote_nodes.is_empty());
}

/// postgres_fdw plans captured on qcheck's own cluster: what went to the remote server is a fact.
#[test]
fn foreign_scans_carry_remote_sql_and_pushed_down_relations() {
    let (_, f) = facts_of("pg15_postgres_fdw_join_pushdown.json");
    assert_eq!(f.foreign_scans.len(), 1);
    let fs = &f.foreign_scans[0];
    assert_eq!(
        fs.relation, None,
        "a pushed-down join reads no single foreign table"
    );
    assert_eq!(
        fs.relations.as_deref(),
        Some("Aggregate on ((remote.orders o) INNER JOIN (remote.customer c))")
    );
    assert!(
        fs.remote_sql
            .as_deref()
            .unwrap()
            .starts_with("SELECT r2.region, count(*)")
    );
    let (_, f) = facts_of("pg15_postgres_fdw_direct_update.json");
    let fs = &f.foreign_scans[0];
    assert_eq!(fs.operation.as_deref(), Some("Update"));
    assert!(
        fs.remote_sql
            .as_deref()
            .unwrap()
            .starts_with("UPDATE public.orders SET")
    );
}
