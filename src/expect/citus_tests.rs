//! The expectations on real Citus 13.2 plans of qcheck's own queries (`tests/fixtures/citus`,
//! captured through a coordinator with two workers; see its README): the query files' own lines and
//! the Citus kinds, with and without the coordinator's partition map, pinned as one snapshot; and
//! the claims that matter asserted one by one.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::analysis::PlanCheck;
use crate::catalog::{self, ExpectLine};
use crate::plan::{Facts, PartitionMap, Plan, read_plans};

use super::{Verdict, evaluate, parse_expectation, relations_named};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/citus")
}

fn plan(name: &str) -> Plan {
    let text = std::fs::read_to_string(dir().join(name)).unwrap();
    let (_, mut plans) = read_plans(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(plans.len(), 1, "{name}");
    plans.remove(0)
}

/// The coordinator's partition map (`qcheck partitions` on the capture cluster).
fn coordinator_map() -> PartitionMap {
    let text = std::fs::read_to_string(dir().join("partitions.json")).unwrap();
    PartitionMap::from_catalog(serde_json::from_str(&text).unwrap())
}

/// Evaluates one expectation line on a captured plan; `map` false uses the offline heuristic.
fn verdict(text: &str, name: &str, map: bool) -> Verdict {
    let exp = parse_expectation(text, "citus.sql", 1).unwrap();
    let p = plan(name);
    let partitions = if map {
        coordinator_map()
    } else {
        PartitionMap::heuristic(relations_named(std::slice::from_ref(&exp)))
    };
    evaluate(&exp, &p, &Facts::compute(&p, &partitions))
}

fn status(v: &Verdict) -> &'static str {
    if v.passed {
        "ok"
    } else if v.undecided {
        "UNDECIDED"
    } else {
        "FAIL"
    }
}

const CAPTURED: [&str; 13] = [
    "appointment_audit_trail_custom.json",
    "booking_conflict_custom.json",
    "patient_by_mrn_custom.json",
    "patient_by_mrn_generic.json",
    "patient_history_custom.json",
    "patient_name_search_custom.json",
    "patient_upcoming_custom.json",
    "provider_day_custom.json",
    "provider_day_custom_one_task_shown.json",
    "provider_free_slots_custom.json",
    "provider_no_show_rate_custom.json",
    "tenant_day_by_status_custom.json",
    "tenant_day_by_status_generic.json",
];

#[test]
fn the_ten_on_citus_snapshot() {
    let builtin = catalog::Catalog::builtin().unwrap();
    let citus_kinds: Vec<ExpectLine> = catalog::parse(
        Path::new("citus.sql"),
        "-- name: citus\n-- summary: The Citus kinds.\n-- expect-citus: router\n\
         -- expect-citus: tasks = 1\n-- expect-citus: aggregate-pushdown\nSELECT 1",
    )
    .unwrap()
    .expects;
    let mut out = String::new();
    for name in CAPTURED {
        let query = name
            .trim_end_matches(".json")
            .trim_end_matches("_one_task_shown")
            .trim_end_matches("_custom")
            .trim_end_matches("_generic");
        let q = builtin.get(query).unwrap();
        let lines: Vec<&ExpectLine> = q.expects.iter().chain(&citus_kinds).collect();
        let c = PlanCheck::analyse(plan(name), None, &lines, &coordinator_map(), false);
        let f = &c.facts;
        let _ = writeln!(out, "== {name}");
        for t in &f.tasks {
            let _ = writeln!(
                out,
                "job #{}: {:?} Task Count {:?}, Tasks Shown {:?}, {} task plan(s), {} subplan(s)",
                t.node,
                t.provider,
                t.task_count,
                t.tasks_shown,
                t.tasks_in_plan(),
                t.subplans
            );
        }
        let _ = writeln!(out, "shape: {}", c.shape());
        for v in &c.verdicts {
            let _ = writeln!(out, "  {} {}: {}", status(v), v.text, v.found);
        }
    }
    insta::assert_snapshot!(out);
}

#[test]
fn a_router_query_passes_its_single_node_expectations_on_the_shard() {
    let f = "tenant_day_by_status_custom.json";
    for text in [
        "router",
        "tasks = 1",
        "aggregate-pushdown",
        "heap-fetches = 0",
        "partitions appointment = 1",
        "no spill",
    ] {
        let v = verdict(text, f, false);
        assert!(v.passed, "{text}: {v:#?}");
    }
    // The shard of the partition's index has a hashed name: the coordinator's map ties it to
    // the parent index, through the name Citus computes from the partition index's name.
    let text = "index-only-scan appointment using appointment_tenant_day_idx";
    let v = verdict(text, f, true);
    assert!(v.passed, "{v:#?}");
    // Without a map the partition index cannot be tied to its parent: undecided, as on one node.
    let v = verdict(text, f, false);
    assert!(!v.passed && v.undecided, "{v:#?}");
    // The same in the generic plan (deferred pruning).
    assert!(verdict(text, "tenant_day_by_status_generic.json", true).passed);
    let v = verdict("aggregate-pushdown", f, false);
    assert!(v.found.starts_with("fully pushed down"), "{}", v.found);
}

#[test]
fn an_unpartitioned_shard_index_needs_no_map() {
    let v = verdict(
        "index-access patient using patient_live_mrn_key",
        "patient_by_mrn_custom.json",
        false,
    );
    assert!(v.passed, "{v:#?}");
    // Eight shards, read by index, bitmap or (the empty one) Seq Scan: the shard indexes are
    // recognised, and only the Seq Scan differs.
    let v = verdict(
        "index-access appointment_audit using appointment_audit_appointment_idx",
        "appointment_audit_trail_custom.json",
        false,
    );
    assert!(!v.passed && !v.undecided, "{v:#?}");
    assert_eq!(
        v.found,
        "1 of 8 scans differ: Seq Scan on appointment_audit_102086 (#11)"
    );
    // The shard's buffers count: the coordinator's root alone shows 74.
    let v = verdict("shared-buffers <= 77", "patient_by_mrn_custom.json", false);
    assert!(v.passed, "{v:#?}");
    assert_eq!(
        v.found,
        "77 shared buffers (hit 77, read 0), 3 of them in the task plans"
    );
}

#[test]
fn a_multi_shard_query_is_judged_on_every_task() {
    let f = "provider_day_custom.json";
    let v = verdict("tasks = 8", f, false);
    assert!(v.passed, "{v:#?}");
    let v = verdict("router", f, false);
    assert!(!v.passed && !v.undecided);
    assert!(
        v.found
            .contains("8 tasks at Custom Scan (Citus Adaptive) (#1): a multi-shard query")
    );
    // Eight tasks each read their shard of one month partition: one partition.
    let v = verdict("partitions appointment = 1", f, false);
    assert!(v.passed, "{v:#?}");
    // The coordinator sorts the rows it merges from the shards.
    let v = verdict("no sort", f, false);
    assert!(!v.passed && !v.undecided);
    assert_eq!(v.nodes, vec![0]);
    // An empty shard is read by a Seq Scan: every scan is not an index-only scan.
    let v = verdict(
        "index-only-scan appointment using appointment_provider_day_idx",
        f,
        true,
    );
    assert!(!v.passed && !v.undecided, "{v:#?}");
    assert_eq!(
        v.found,
        "1 of 8 scans differ: Seq Scan on appointment_y2026m03_102054 (#17)"
    );
    // Citus's row count on the Custom Scan is a placeholder: not held against the estimate.
    let v = verdict("estimate-error <= 10x", f, false);
    assert!(v.passed, "{v:#?}");
    assert!(
        !v.found.contains("(#0)") && !v.found.contains("(#1)"),
        "{}",
        v.found
    );
}

#[test]
fn one_task_shown_of_eight_decides_only_on_evidence() {
    let f = "provider_day_custom_one_task_shown.json";
    for text in [
        "index-only-scan appointment using appointment_provider_day_idx",
        "heap-fetches = 0",
        "partitions appointment = 1",
        "estimate-error <= 10x",
        "shared-buffers <= 1000",
    ] {
        let v = verdict(text, f, true);
        assert!(!v.passed && v.undecided, "{text}: {v:#?}");
        assert!(
            v.found
                .contains("job #1 shows 1 of 8 tasks (Tasks Shown: One of 8)"),
            "{}",
            v.found
        );
    }
    // The coordinator's Sort is in the plan whatever the hidden tasks did.
    let v = verdict("no sort", f, false);
    assert!(!v.passed && !v.undecided, "{v:#?}");
    // The task count and the result are the coordinator's.
    assert!(verdict("tasks = 8", f, false).passed);
    assert!(verdict("rows = 4", f, false).passed);
    // A lower bound above the limit is a decided failure.
    let v = verdict("shared-buffers < 2", f, false);
    assert!(!v.passed && !v.undecided, "{v:#?}");
}

#[test]
fn partial_aggregates_and_subplans() {
    let v = verdict(
        "aggregate-pushdown",
        "provider_no_show_rate_custom.json",
        false,
    );
    assert!(v.passed, "{v:#?}");
    assert!(
        v.found
            .starts_with("partially pushed down: all 8 task plan(s) shown aggregate"),
        "{}",
        v.found
    );
    // The range_agg subquery runs first as a distributed subplan: two jobs.
    let f = "provider_free_slots_custom.json";
    let v = verdict("tasks = 9", f, false);
    assert!(v.passed, "{v:#?}");
    let v = verdict("router", f, false);
    assert!(!v.passed && !v.undecided);
    assert!(
        v.found
            .starts_with("2 distributed jobs (1 distributed subplan(s) run first)"),
        "{}",
        v.found
    );
}

#[test]
fn expect_citus_lines_apply_to_distributed_plans_only() {
    let q = catalog::parse(
        Path::new("q.sql"),
        "-- name: q\n-- summary: s\n-- expect: heap-fetches = 0\n-- expect-single-node: no sort\n\
         -- expect-citus: tasks = 8\n-- expect-citus-custom: no seq-scan\nSELECT 1",
    )
    .unwrap();
    let lines: Vec<&ExpectLine> = q.expects.iter().collect();
    let check = PlanCheck::analyse(
        plan("provider_day_custom.json"),
        Some(crate::plan::Mode::Custom),
        &lines,
        &coordinator_map(),
        false,
    );
    let texts: Vec<&str> = check.verdicts.iter().map(|v| v.text.as_str()).collect();
    assert_eq!(texts, ["heap-fetches = 0", "tasks = 8", "no seq-scan"]);
    // Only Citus lines on a single-node plan: nothing to check is a failure, never a pass.
    let only_citus: Vec<&ExpectLine> = lines
        .iter()
        .copied()
        .filter(|l| l.key().starts_with("expect-citus"))
        .collect();
    let single = crate::plan::tests::fixture("pg15_clean_index_only_count.json");
    let check = PlanCheck::analyse(single, None, &only_citus, &PartitionMap::none(), false);
    assert!(!check.passed());
    assert_eq!(check.verdicts.len(), 1);
    assert_eq!(check.verdicts[0].id, "topology");
    assert!(
        check.verdicts[0].found.contains("`expect-citus` lines"),
        "{}",
        check.verdicts[0].found
    );
}

#[test]
fn a_task_plan_in_text_inside_json_is_refused_saying_how_to_capture_it() {
    let text = std::fs::read_to_string(
        dir().join("tenant_day_by_status_custom_execute_text_remote_plan.json"),
    )
    .unwrap();
    let e = read_plans(&text).expect_err("not JSON");
    insta::assert_snapshot!(e.to_string());
}

/// The plans qcheck's runner checked on its embedded Citus topology (`runner/`, captured by
/// `capture-runner.sh`): every query file's own lines, Citus and single-node scoped, hold offline on
/// them with the coordinator's map, as `check --citus-workers 2` found; each is one task on one
/// worker (router) whose task plan the checks read.
#[test]
fn the_ten_as_the_runner_captured_them_on_citus_pass_their_own_lines() {
    let runner = dir().join("runner");
    let text = std::fs::read_to_string(runner.join("partitions.json")).unwrap();
    let map = PartitionMap::from_catalog(serde_json::from_str(&text).unwrap());
    let builtin = catalog::Catalog::builtin().unwrap();
    let mut checked = 0;
    for q in &builtin.queries {
        for mode in [crate::plan::Mode::Custom, crate::plan::Mode::Generic] {
            let file = runner.join(format!("{}_{mode}.json", q.name));
            if !file.exists() {
                // Citus has no generic plan of provider_free_slots (the runner reports it exempt).
                assert_eq!(
                    (q.name.as_str(), mode),
                    ("provider_free_slots", crate::plan::Mode::Generic)
                );
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            let (_, mut plans) = read_plans(&text).unwrap_or_else(|e| panic!("{file:?}: {e}"));
            let c = PlanCheck::analyse(
                plans.remove(0),
                Some(mode),
                &crate::analysis::expectations_for(q, mode),
                &map,
                false,
            );
            let failed: Vec<String> = c
                .verdicts
                .iter()
                .filter(|v| !v.passed)
                .map(|v| format!("{} {}: {}", status(v), v.text, v.found))
                .collect();
            assert!(failed.is_empty(), "{} ({mode}): {failed:#?}", q.name);
            assert!(c.facts.distributed(), "{} ({mode})", q.name);
            assert!(
                c.verdicts.iter().any(|v| v.text == "router" && v.passed),
                "{} ({mode})",
                q.name
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 19);
}
