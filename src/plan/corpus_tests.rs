//! Every plan file under `tests/fixtures/plans/` (captured pg15_/pg18_ fixtures, `citus/`, and
//! the real-world corpus `real/` with its MANIFEST.tsv) through the reader and the analyser.
//!
//! Files known not to hold a readable JSON plan must fail with a clear one-line error; every
//! other file must parse, and for each parsed plan an independent walker over
//! `serde_json::Value` (not the plan model) must agree with the analyser's `Facts` on the node
//! count, the relations scanned and the number of scans.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::input::{Form, extract};
use super::{Facts, PartitionMap, read_plans};
use crate::analysis::PlanCheck;

/// Files of `real/` that hold no readable JSON plan on purpose (see real/README.md and NOTES.md),
/// with a piece of the error each must give.
const REFUSED: &[(&str, &str)] = &[
    (
        "postgres/003_pg17_explain_filter_io_timing_masked_psql.txt",
        "masked",
    ),
    (
        "pg_show_plans/001_two_column_json_invalid_array_pg14plus.txt",
        "a key inside an array",
    ),
    (
        "pg_show_plans/002_two_column_json_invalid_array_pg12_13.txt",
        "a key inside an array",
    ),
    // auto_explain with log_format = text: not JSON either.
    (
        "pgbadger/001_auto_explain_text_log_lines.txt",
        "text-format plan",
    ),
    (
        "pganalyze/022_auto_explain_text_pg18_cnpg_message.txt",
        "text-format plan",
    ),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plans")
}

fn plan_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            plan_files(&path, out);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("json" | "txt")
        ) {
            out.push(path);
        }
    }
}

/// The statements of a JSON document, as PostgreSQL nests them: an object, an array of them, or
/// single-element arrays around either.
fn statements(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) if items.len() == 1 => statements(&items[0]),
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// What the walker finds in one statement: node count, relation names of the nodes that read a
/// relation (every node with a "Relation Name" but ModifyTable, which names its target), scans.
#[derive(Debug, Default, PartialEq)]
struct Walked {
    nodes: usize,
    relations: BTreeSet<String>,
    scans: usize,
}

/// The plan objects under a Citus "PlannedStmt" or "Remote Plan" value (arrays unwrapped).
fn roots<'a>(v: &'a Value, out: &mut Vec<(&'a Value, bool)>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| roots(i, out)),
        Value::Object(o) => {
            if let Some(plan) = o.get("Plan").filter(|p| p.is_object()) {
                out.push((plan, true));
            }
        }
        _ => {}
    }
}

/// A node's children as the walker sees them: "Plans", then the plans a Citus Custom Scan carries
/// (its distributed subplans' "PlannedStmt", then each task's "Remote Plan"), unwrapped from their
/// arrays. The flag says whether the child is the root of such a remote plan.
fn children(node: &Value) -> Vec<(&Value, bool)> {
    let mut out: Vec<(&Value, bool)> = node
        .get("Plans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c.get("Node Type").is_some())
        .map(|c| (c, false))
        .collect();
    if let Some(dq) = node.get("Distributed Query") {
        for sub in dq
            .get("Subplans")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(p) = sub.get("PlannedStmt") {
                roots(p, &mut out);
            }
        }
        for task in dq
            .get("Job")
            .and_then(|j| j.get("Tasks"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(p) = task.get("Remote Plan") {
                roots(p, &mut out);
            }
        }
    }
    out
}

/// A relation as its table: inside a remote plan a Citus shard `t_102008` is table `t`.
fn table_of(name: &str, remote: bool) -> String {
    match name.rsplit_once('_') {
        Some((base, id))
            if remote
                && !base.is_empty()
                && !id.is_empty()
                && id.chars().all(|c| c.is_ascii_digit()) =>
        {
            base.to_owned()
        }
        _ => name.to_owned(),
    }
}

fn walk(statement: &Value) -> Walked {
    let mut w = Walked::default();
    let mut stack = vec![(&statement["Plan"], false)];
    while let Some((node, remote)) = stack.pop() {
        w.nodes += 1;
        if let Some(rel) = node.get("Relation Name").and_then(Value::as_str)
            && node.get("Node Type").and_then(Value::as_str) != Some("ModifyTable")
        {
            w.relations.insert(table_of(rel, remote));
            w.scans += 1;
        }
        stack.extend(children(node).into_iter().map(|(c, r)| (c, remote || r)));
    }
    w
}

/// Every estimate claim is provable: the q-error the analyser claims for a node is no larger than
/// the smallest q-error any actual total consistent with the printed numbers would give. The
/// bounds are worked out here from the JSON alone: rows per loop rounded to integers (to two
/// decimals when the plan is PostgreSQL 18 output: a `Disabled` key or a fractional count), one
/// loop exact, and the inner side of an inner Nested Loop without a Join Filter returning at least
/// the join's rows.
fn unprovable_claims(statement: &Value, f: &Facts) -> Vec<String> {
    fn preorder<'a>(
        v: &'a Value,
        parent: Option<usize>,
        out: &mut Vec<(&'a Value, Option<usize>)>,
    ) {
        let id = out.len();
        out.push((v, parent));
        if let Some(children) = v.get("Plans").and_then(Value::as_array) {
            for c in children.iter().filter(|c| c.get("Node Type").is_some()) {
                preorder(c, Some(id), out);
            }
        }
    }
    let mut nodes = Vec::new();
    preorder(&statement["Plan"], None, &mut nodes);
    let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64);
    let pg18 = nodes.iter().any(|(n, _)| {
        n.get("Disabled").is_some() || num(n, "Actual Rows").is_some_and(|r| r.fract() != 0.0)
    });
    let step = if pg18 { 0.005 } else { 0.5 };
    let mut lower = vec![0.0f64; nodes.len()];
    let mut bounds = vec![(0.0f64, f64::INFINITY); nodes.len()];
    for (id, (n, parent)) in nodes.iter().enumerate() {
        let (Some(rows), Some(loops)) = (num(n, "Actual Rows"), num(n, "Actual Loops")) else {
            continue;
        };
        let (mut lo, hi) = if loops <= 1.0 {
            (rows * loops, rows * loops)
        } else {
            (
                ((rows - step).max(0.0) * loops).ceil(),
                ((rows + step) * loops).floor(),
            )
        };
        if let Some(p) = parent {
            let pn = nodes[*p].0;
            if pn.get("Node Type").and_then(Value::as_str) == Some("Nested Loop")
                && pn.get("Join Type").and_then(Value::as_str) == Some("Inner")
                && pn.get("Join Filter").is_none()
                && n.get("Parent Relationship").and_then(Value::as_str) == Some("Inner")
            {
                lo = lo.max(lower[*p]).min(hi);
            }
        }
        lower[id] = lo;
        bounds[id] = (lo, hi);
    }
    let q = |e: f64, a: f64| {
        let (e, a) = (e.max(1.0), a.max(1.0));
        (e / a).max(a / e)
    };
    f.estimates
        .iter()
        .filter_map(|e| {
            let claimed = e.q_error?;
            let (lo, hi) = bounds[e.node];
            let least = q(e.estimated_rows, e.estimated_rows.clamp(lo, hi));
            (claimed > least * (1.0 + 1e-9)).then(|| {
                format!(
                    "node {}: claims q-error {claimed}, but a total of {} rows (within {lo}..{hi}) gives {least}",
                    e.node,
                    e.estimated_rows.clamp(lo, hi)
                )
            })
        })
        .collect()
}

fn from_facts(f: &Facts) -> Walked {
    Walked {
        nodes: f.node_count,
        relations: f.relations.keys().cloned().collect(),
        scans: f.scans.len(),
    }
}

#[test]
fn every_fixture_parses_or_is_refused_clearly_and_facts_match_an_independent_walk() {
    let root = root();
    let mut files = Vec::new();
    plan_files(&root, &mut files);
    let manifest = std::fs::read_to_string(root.join("real/MANIFEST.tsv")).unwrap();
    let listed: BTreeSet<&str> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .collect();
    for (name, _) in REFUSED {
        assert!(listed.contains(name), "{name} is not in real/MANIFEST.tsv");
    }

    let mut parsed_by_form: BTreeMap<&str, usize> = BTreeMap::new();
    let mut statements_total = 0;
    let mut refused = Vec::new();
    let mut failures = Vec::new();
    let mut real_files = 0;
    for path in &files {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let in_real = rel.strip_prefix("real/");
        if let Some(name) = in_real {
            real_files += 1;
            assert!(listed.contains(name), "{rel} is not listed in MANIFEST.tsv");
        }
        let text = std::fs::read_to_string(path).unwrap();
        let result = std::panic::catch_unwind(|| read_plans(&text));
        let Ok(result) = result else {
            failures.push(format!("{rel}: the reader panicked"));
            continue;
        };
        let expected_refusal = in_real.and_then(|n| REFUSED.iter().find(|(f, _)| *f == n));
        match (result, expected_refusal) {
            (Err(e), Some((_, needle))) => {
                let msg = e.to_string();
                if !msg.contains(needle) || msg.contains('\n') {
                    failures.push(format!("{rel}: refused, but unclearly: {msg}"));
                }
                refused.push(rel.clone());
            }
            (Ok(_), Some(_)) => failures.push(format!("{rel}: should be refused but parsed")),
            (Err(e), None) => failures.push(format!("{rel}: does not parse: {e}")),
            (Ok((form, plans)), None) => {
                *parsed_by_form.entry(form.describe()).or_default() += 1;
                statements_total += plans.len();
                let docs = extract(&text).unwrap().documents;
                let values: Vec<Value> = docs
                    .iter()
                    .map(|d| serde_json::from_str(d).unwrap())
                    .collect();
                let raw: Vec<&Value> = values.iter().flat_map(statements).collect();
                let walked: Vec<Walked> = raw.iter().map(|v| walk(v)).collect();
                if walked.len() != plans.len() {
                    failures.push(format!(
                        "{rel}: {} statements read, the walker finds {}",
                        plans.len(),
                        walked.len()
                    ));
                    continue;
                }
                for (i, (plan, w)) in plans.into_iter().zip(walked).enumerate() {
                    let check = std::panic::catch_unwind(|| {
                        let check =
                            PlanCheck::analyse(plan, None, &[], &PartitionMap::none(), false);
                        let _ = crate::report::tree::render_tree(&check.plan, &[], false);
                        serde_json::to_string(&check).expect("serialises");
                        check
                    });
                    match check {
                        Ok(check) if from_facts(&check.facts) == w => {
                            for claim in unprovable_claims(raw[i], &check.facts) {
                                failures.push(format!("{rel} statement {}: {claim}", i + 1));
                            }
                        }
                        Ok(check) => failures.push(format!(
                            "{rel} statement {}: facts {:?} != walker {w:?}",
                            i + 1,
                            from_facts(&check.facts)
                        )),
                        Err(_) => failures
                            .push(format!("{rel} statement {}: the analyser panicked", i + 1)),
                    }
                }
            }
        }
    }
    let summary = format!(
        "{} files ({real_files} in real/): parsed by form {parsed_by_form:?} ({statements_total} \
         statements), refused as intended {}",
        files.len(),
        refused.len()
    );
    assert!(failures.is_empty(), "{summary}\n{}", failures.join("\n"));
    assert_eq!(refused.len(), REFUSED.len(), "{summary}");
    assert_eq!(real_files, listed.len(), "{summary}");
    eprintln!("{summary}");
}

/// The same eleven plans logged as stderr, csvlog and jsonlog read identically.
#[test]
fn the_three_log_formats_of_one_log_agree() {
    let dir = root().join("real/quellog");
    let read = |name: &str| {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        read_plans(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let (f1, stderr) = read("012_stderr_jsonplan_full_log_11_plans.txt");
    let (f2, csv) = read("013_csvlog_jsonplan_full_log_11_plans.txt");
    let (f3, json) = read("014_jsonlog_jsonplan_full_log_11_plans.txt");
    assert_eq!(
        (f1, f2, f3),
        (
            Form::AutoExplainStderr,
            Form::AutoExplainCsvlog,
            Form::AutoExplainJsonlog
        )
    );
    assert_eq!(stderr.len(), 11);
    assert_eq!(stderr, csv);
    assert_eq!(stderr, json);
    assert_eq!(
        stderr[0].extra.get("Query Text").and_then(Value::as_str),
        Some("SELECT now()::text;")
    );
}

/// The psql frames of one plan (pev2's samples: aligned borders 0-2 in ASCII and Unicode,
/// unaligned) read to the same plan shape.
#[test]
fn psql_frames_of_one_plan_agree() {
    let dir = root().join("real/pev2");
    let mut shapes = Vec::new();
    for (name, form) in [
        (
            "003_psql_frames_json0_aligned_border0.txt",
            Form::PsqlAligned,
        ),
        ("004_psql_frames_json0_unaligned.txt", Form::PsqlUnaligned),
        (
            "005_psql_frames_json1_aligned_unicode_border1.txt",
            Form::PsqlAligned,
        ),
        (
            "006_psql_frames_json2_aligned_unicode_border2.txt",
            Form::PsqlAligned,
        ),
        (
            "012_psql_frames_json2_aligned_ascii_border2.txt",
            Form::PsqlAligned,
        ),
        (
            "013_psql_frames_json1_aligned_unicode_single_rule.txt",
            Form::PsqlAligned,
        ),
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let (got, plans) = read_plans(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, form, "{name}");
        assert_eq!(plans.len(), 1, "{name}");
        let kinds: Vec<String> = plans[0]
            .nodes()
            .iter()
            .map(|r| r.node.node_type.clone())
            .collect();
        shapes.push((name, kinds));
    }
    for (name, kinds) in &shapes {
        assert_eq!(kinds, &shapes[0].1, "{name}");
    }
}

/// Thirty real plans, chosen to cover the shapes that matter (versions 9.4 to 18; ANALYZE and
/// plain; parallel, JIT, CTEs, sub-plans, DML, partitions, Citus, postgres_fdw; pasted forms):
/// their facts and the verdicts of four common expectations, pinned as one snapshot so any change
/// in what qcheck claims about a real plan is reviewed.
const CURATED: [&str; 30] = [
    "pg15_partition_prune_initplan.json",
    "pg18_partition_prune_run_time_generic.json",
    "pg15_nested_loop_many.json",
    "pg18_nested_loop_many.json",
    "pg15_hash_join_batches.json",
    "pg18_bitmap_lossy.json",
    "pg15_merge_join_incremental_sort.json",
    "pg18_initplan_subplan.json",
    "pg15_cte_scan.json",
    "pg15_parallel_gather_verbose.json",
    "pg15_postgres_fdw_join_pushdown.json",
    "pg15_postgres_fdw_direct_update.json",
    "citus/01_multi_shard_aggregate_pg18.json",
    "citus/04_analyze_cte_insert_subplan_pg17.json",
    "citus/07_legacy_realtime_aggregate_pg10.json",
    "real/pev2/002_plan_1_nested_loop_verbose.json",
    "real/pev2/014_pg94_hash_joins_io_timing.json",
    "real/pev2/017_parallel_partial_aggregate_workers_launched_lt_planned.json",
    "real/pganalyze/001_postgres_fdw_async_append.json",
    "real/pganalyze/004_memoize_nested_loop.json",
    "real/pganalyze/006_incremental_sort_wal_settings.json",
    "real/pganalyze/011_grouping_sets_cube_mixed_hashagg_spill.json",
    "real/pganalyze/018_hash_aggregate_never_executed_hash.json",
    "real/pg_store_plans/008_plain_aggregate_cte_recursive_union_worktable_sc.json",
    "real/pg_store_plans/026_bitmapindexscan_bitmapheapscan_bitmapor_lossy.json",
    "real/pg_store_plans/031_update_on_partitioned_tables.json",
    "real/pg_store_plans/042_gather_merge.json",
    "real/postgres/001_pg17_explain_jsonb_pretty_gather_merge_psql.txt",
    "real/quellog/010_stderr_json_correlated_subplan.txt",
    "real/pev2/007_serialize_memory_pg18_psql_aligned.txt",
];

#[test]
fn curated_thirty_facts_and_verdicts() {
    use std::fmt::Write as _;
    let expectations: Vec<crate::catalog::ExpectLine> = crate::catalog::parse(
        Path::new("curated.sql"),
        "-- name: curated\n-- summary: Four common expectations.\n\
         -- expect: no seq-scan\n-- expect: estimate-error <= 10x\n\
         -- expect: heap-fetches = 0\n-- expect: no sort\nSELECT 1",
    )
    .unwrap()
    .expects;
    let refs: Vec<&crate::catalog::ExpectLine> = expectations.iter().collect();
    let mut out = String::new();
    for name in CURATED {
        let text = std::fs::read_to_string(root().join(name)).unwrap();
        let (_, plans) = read_plans(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (i, plan) in plans.into_iter().enumerate() {
            let c = PlanCheck::analyse(plan, None, &refs, &PartitionMap::none(), false);
            let f = &c.facts;
            let _ = writeln!(out, "== {name} #{}", i + 1);
            let rels: Vec<String> = f
                .relations
                .iter()
                .map(|(t, r)| {
                    let kinds: Vec<&str> = r.scan_kinds.iter().map(|k| k.keyword()).collect();
                    format!("{t}({})", kinds.join("+"))
                })
                .collect();
            let _ = writeln!(out, "nodes {}; relations {}", f.node_count, rels.join(", "));
            let compared = f.estimates.iter().filter(|e| e.q_error.is_some()).count();
            let left_out = f.estimates.len() - compared;
            let worst = f.worst_estimate.map_or("none".to_owned(), |e| {
                format!(
                    "#{} q {:.3}..{:.3} (actual {}..{}, {} loops)",
                    e.node,
                    e.q_error.unwrap_or(f64::NAN),
                    e.q_error_max.unwrap_or(f64::NAN),
                    e.actual_min,
                    e.actual_max,
                    e.loops
                )
            });
            let _ = writeln!(
                out,
                "estimates: {compared} compared, {left_out} left out; worst {worst}"
            );
            for t in &f.tasks {
                let _ = writeln!(
                    out,
                    "tasks at #{}: {:?} count {:?} shown {:?}, {} remote plan(s)",
                    t.node, t.provider, t.task_count, t.tasks_shown, t.remote_plans
                );
            }
            for fs in &f.foreign_scans {
                let _ = writeln!(
                    out,
                    "foreign at #{}: {:?} {:?}",
                    fs.node, fs.relation, fs.relations
                );
            }
            let tips: Vec<String> = c
                .tips
                .iter()
                .map(|t| format!("{}@{}", t.id, t.node))
                .collect();
            let _ = writeln!(out, "tips: {}", tips.join(" "));
            for v in &c.verdicts {
                let status = if v.passed {
                    "ok"
                } else if v.undecided {
                    "UNDECIDED"
                } else {
                    "FAIL"
                };
                let _ = writeln!(out, "  {status} {}: {}", v.text, v.found);
            }
        }
    }
    insta::assert_snapshot!(out);
}
