//! Signatures of real captured plans (tests/fixtures/plans): partitions fold to their table with
//! and without a catalog map, Append children collapse, a join order flip and another index change
//! the shape, and PostgreSQL 15 and 18 give the same signature for the same plan.

use std::collections::BTreeMap;

use super::{PartitionMap, Plan, Signature, fold_name, parse_plan};

const RUN_TIME_GENERIC: &str =
    include_str!("../../tests/fixtures/plans/pg15_partition_prune_run_time_generic.json");
const INITPLAN_PRUNE: &str =
    include_str!("../../tests/fixtures/plans/pg15_partition_prune_initplan.json");
const HASH_JOIN_15: &str = include_str!("../../tests/fixtures/plans/pg15_hash_join_batches.json");
const HASH_JOIN_18: &str = include_str!("../../tests/fixtures/plans/pg18_hash_join_batches.json");
const INITPLAN_SUBPLAN: &str =
    include_str!("../../tests/fixtures/plans/pg15_initplan_subplan.json");
const SORT_DISK: &str = include_str!("../../tests/fixtures/plans/pg15_sort_external_disk.json");

fn sig(text: &str) -> Signature {
    Signature::compute(&parse_plan(text).unwrap(), &PartitionMap::none())
}

/// `plan` with its hash join's outer and inner scans swapped: the same tables, joined the other
/// way round.
pub(crate) fn flipped_hash_join(text: &str) -> Plan {
    let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
    let join = &mut v[0]["Plan"]["Plans"][0];
    let outer = join["Plans"][0].clone();
    let inner = join["Plans"][1]["Plans"][0].clone();
    join["Plans"][0] = inner;
    join["Plans"][1]["Plans"][0] = outer;
    crate::plan::plan_from_value(v).unwrap()
}

#[test]
fn names_fold_like_partitions_and_shards() {
    assert_eq!(fold_name("appointment_y2026m03"), "appointment");
    assert_eq!(fold_name("orders_2024_q1"), "orders");
    assert_eq!(fold_name("orders_default"), "orders");
    assert_eq!(fold_name("lineitem_pkey_360000"), "lineitem_pkey");
    assert_eq!(fold_name("appointment_audit"), "appointment_audit");
    assert_eq!(fold_name("big2"), "big2");
    assert_eq!(fold_name("_1"), "_1");
}

#[test]
fn a_partition_scan_folds_to_its_table_and_parent_index() {
    let s = sig(RUN_TIME_GENERIC);
    let names: Vec<&str> = s.nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(
        names,
        [
            "Append",
            "Index Only Scan using appointment_provider_id_scheduled_at_status_patien_idx on appointment"
        ]
    );
    let rel = &s.relations["appointment"];
    assert_eq!(rel.scans, ["index-only-scan"]);
    assert_eq!(rel.partitions, Some(1));
    // The same plan on another month's partition has the same signature.
    let other_month =
        sig(&RUN_TIME_GENERIC.replace("appointment_y2026m03", "appointment_y2026m07"));
    assert!(s.same_shape(&other_month));
    assert_eq!(s, other_month);
    // With the catalog's map the partition index maps to its real parent.
    let map: BTreeMap<String, String> = [
        ("public.appointment_y2026m03", "public.appointment"),
        (
            "public.appointment_y2026m03_provider_id_scheduled_at_status_patien_idx",
            "public.appointment_provider_day_idx",
        ),
    ]
    .into_iter()
    .map(|(c, p)| (c.to_owned(), p.to_owned()))
    .collect();
    let exact = Signature::compute(
        &parse_plan(RUN_TIME_GENERIC).unwrap(),
        &PartitionMap::from_catalog(map),
    );
    assert_eq!(
        exact.nodes[1].node,
        "Index Only Scan using appointment_provider_day_idx on appointment"
    );
    assert_eq!(
        exact.relations["appointment"].indexes,
        ["appointment_provider_day_idx"]
    );
}

#[test]
fn append_children_collapse_with_their_count_and_summed_figures() {
    let s = sig(INITPLAN_PRUNE);
    insta::assert_json_snapshot!(s, @r#"
    {
      "relations": {
        "appointment": {
          "scans": [
            "seq-scan"
          ],
          "partitions": 2
        }
      },
      "nodes": [
        {
          "depth": 0,
          "node": "Aggregate",
          "rows": 1,
          "shared_buffers": 188
        },
        {
          "depth": 1,
          "node": "Result",
          "role": "InitPlan",
          "rows": 1,
          "shared_buffers": 0
        },
        {
          "depth": 1,
          "node": "Append",
          "rows": 15416,
          "shared_buffers": 188
        },
        {
          "depth": 2,
          "node": "Seq Scan on appointment",
          "count": 12,
          "rows": 15416,
          "shared_buffers": 188
        }
      ]
    }
    "#);
}

#[test]
fn roles_and_spilled_sorts_are_part_of_the_shape() {
    let s = sig(INITPLAN_SUBPLAN);
    let lines: Vec<String> = s
        .nodes
        .iter()
        .map(|n| format!("{} {:?} {}", n.depth, n.role, n.node))
        .collect();
    assert_eq!(
        lines,
        [
            "0 None Index Scan using patient_pkey on patient",
            "1 Some(\"InitPlan\") Aggregate",
            "2 None Seq Scan on tenant",
            "1 Some(\"SubPlan\") Aggregate",
            "2 None Index Only Scan using appointment_patient_id_scheduled_at_idx on appointment",
        ]
    );
    assert_eq!(sig(SORT_DISK).nodes[0].node, "Sort (disk)");
}

#[test]
fn postgresql_15_and_18_give_the_same_signature_for_the_same_plan() {
    let (a, b) = (sig(HASH_JOIN_15), sig(HASH_JOIN_18));
    assert!(a.same_shape(&b));
    assert_eq!(a, b, "rows and buffers repeat too");
}

#[test]
fn a_join_order_flip_changes_the_shape() {
    let a = sig(HASH_JOIN_15);
    let flipped = Signature::compute(&flipped_hash_join(HASH_JOIN_15), &PartitionMap::none());
    assert!(!a.same_shape(&flipped));
    assert_eq!(
        a.relations, flipped.relations,
        "the same tables, read the same way"
    );
    assert_eq!(flipped.nodes[2].node, "Seq Scan on big2");
}

#[test]
fn deep_and_wide_plans_stay_linear() {
    use std::fmt::Write as _;
    // 20,000 nested Limits, then an Append over 40,000 partitions.
    let depth = 20_000;
    let mut text = String::new();
    for _ in 0..depth {
        text.push_str(r#"{"Node Type": "Limit", "Plans": ["#);
    }
    text.push_str(r#"{"Node Type": "Append", "Plans": ["#);
    for i in 0..40_000 {
        if i > 0 {
            text.push(',');
        }
        let _ = write!(
            text,
            r#"{{"Node Type": "Seq Scan", "Relation Name": "t_p{i}", "Actual Rows": 1, "Actual Loops": 1}}"#
        );
    }
    text.push_str("]}");
    for _ in 0..depth {
        text.push_str("]}");
    }
    let plan = parse_plan(&format!(r#"[{{"Plan": {text}}}]"#)).unwrap();
    let started = std::time::Instant::now();
    let s = Signature::compute(&plan, &PartitionMap::none());
    assert_eq!(s.nodes.len(), depth + 2);
    let last = s.nodes.last().unwrap();
    assert_eq!((last.node.as_str(), last.count), ("Seq Scan on t", 40_000));
    assert_eq!(s.relations["t"].partitions, Some(40_000));
    let c = crate::baseline::compare::compare_plans(
        "plan",
        &s,
        &s,
        crate::baseline::Thresholds::default(),
        None,
    );
    assert!(!c.changed);
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
}
