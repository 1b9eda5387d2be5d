//! Property tests: no input makes the reader, the facts, the tips, the expectations or the tree
//! renderer panic.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::*;
use crate::expect::{evaluate, parse_expectation, parse_generic, relations_named};
use crate::report::tree::{Mark, render_tree};
use crate::tips::{Thresholds, tips};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        Just(Value::from(0.5)),
        "[a-z0-9 _.]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("Disk"),
            Just("Hashed"),
            Just("Inner"),
            Just("external merge")
        ]
        .prop_map(Value::from),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[A-Za-z ]{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const KEYS: &[&str] = &[
    "Node Type",
    "Parent Relationship",
    "Subplan Name",
    "Relation Name",
    "Index Name",
    "Strategy",
    "Join Type",
    "Plan Rows",
    "Actual Rows",
    "Actual Loops",
    "Actual Total Time",
    "Heap Fetches",
    "Rows Removed by Filter",
    "Rows Removed by Join Filter",
    "Rows Removed by Index Recheck",
    "Lossy Heap Blocks",
    "Exact Heap Blocks",
    "Subplans Removed",
    "Sort Method",
    "Sort Space Used",
    "Sort Space Type",
    "Hash Batches",
    "Original Hash Batches",
    "HashAgg Batches",
    "Disk Usage",
    "Shared Hit Blocks",
    "Shared Read Blocks",
    "Temp Read Blocks",
    "Temp Written Blocks",
    "Workers",
    "Parallel Aware",
    "Full-sort Groups",
    "Scan Direction",
    "Operation",
];

const NODE_TYPES: &[&str] = &[
    "Seq Scan",
    "Index Scan",
    "Index Only Scan",
    "Bitmap Heap Scan",
    "Bitmap Index Scan",
    "BitmapOr",
    "Sort",
    "Incremental Sort",
    "Hash",
    "Hash Join",
    "Nested Loop",
    "Merge Join",
    "Aggregate",
    "Append",
    "Limit",
    "Gather",
    "ModifyTable",
    "Custom Scan",
    "",
];

/// Plan-shaped objects: known keys with arbitrary values, nested "Plans".
fn plan_node() -> impl Strategy<Value = Value> {
    let leaf = (
        prop::sample::select(NODE_TYPES),
        prop::collection::btree_map(prop::sample::select(KEYS), scalar(), 0..12),
        prop::sample::select(
            &[
                "appointment",
                "appointment_y2026m01",
                "appointment_p1",
                "big",
            ][..],
        ),
    )
        .prop_map(|(nt, fields, rel)| {
            let mut m: Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            m.insert("Node Type".into(), Value::from(nt));
            m.insert("Relation Name".into(), Value::from(rel));
            Value::Object(m)
        });
    leaf.prop_recursive(5, 40, 4, |inner| {
        (inner.clone(), prop::collection::vec(inner, 0..4)).prop_map(|(node, kids)| {
            let mut node = node;
            if let Value::Object(m) = &mut node {
                m.insert("Plans".into(), Value::Array(kids));
            }
            node
        })
    })
}

const EXPECTATIONS: &[&str] = &[
    "index-only-scan appointment using appointment_provider_day_idx",
    "seq-scan big",
    "bitmap-scan appointment",
    "no sort",
    "no hash-join on big",
    "no spill",
    "heap-fetches = 0",
    "heap-fetches <= 3 on appointment",
    "partitions appointment = 1",
    "estimate-error <= 10x",
    "shared-buffers <= 100",
    "temp-buffers = 0",
    "rows >= 1",
];

/// Everything downstream of a parsed plan must be total.
fn exercise(plan: &Plan) {
    let exps: Vec<_> = EXPECTATIONS
        .iter()
        .map(|t| parse_expectation(t, "fuzz.sql", 1).expect("valid expectation"))
        .collect();
    for map in [
        PartitionMap::none(),
        PartitionMap::heuristic(relations_named(&exps)),
    ] {
        let facts = Facts::compute(plan, &map);
        let _ = serde_json::to_string(&facts).expect("facts serialise");
        let ts = tips(plan, &facts, &Thresholds::default());
        for e in &exps {
            let _ = evaluate(e, plan, &facts);
        }
        let marks: Vec<Mark> = ts.iter().map(|t| Mark::new(t.node, t.id)).collect();
        let _ = render_tree(plan, &marks, true);
    }
    for r in plan.nodes() {
        let _ = plan.describe(r.id);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(v in any_json()) {
        let text = v.to_string();
        if let Ok(plan) = parse_plan(&text) {
            exercise(&plan);
        }
        let wrapped = serde_json::json!([{ "Plan": v }]);
        if let Ok(plan) = plan_from_value(wrapped) {
            exercise(&plan);
        }
    }

    #[test]
    fn plan_shaped_json_never_panics(root in plan_node(), planning in scalar(), exec in scalar()) {
        let doc = serde_json::json!([{
            "Plan": root,
            "Planning Time": planning,
            "Execution Time": exec,
            "JIT": { "Functions": 3, "Timing": { "Total": exec } },
            "Settings": { "work_mem": "64kB" }
        }]);
        let plan = plan_from_value(doc).expect("a document with an object Plan always parses");
        exercise(&plan);
    }

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,200}") {
        let _ = parse_plan(&s);
        let _ = parse_expectation(&s, "fuzz.sql", 3);
        let _ = parse_generic(&s, "fuzz.sql", 3);
    }

    #[test]
    fn expectation_like_strings_never_panic(
        kind in prop::sample::select(&["seq-scan", "no", "heap-fetches", "partitions", "estimate-error", "rows", "index-scan"][..]),
        rest in "[a-z0-9_<>=!\". x×-]{0,30}",
    ) {
        let _ = parse_expectation(&format!("{kind} {rest}"), "fuzz.sql", 3);
    }
}
