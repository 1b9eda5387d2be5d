//! `qcheck compare` against a real PostgreSQL (the shared throwaway cluster of this test binary, one
//! database per test): it writes the three report files, the JSON holds every figure for every
//! strategy, the write probe leaves the data as it found it (rows, visibility map), and the dataset's
//! recorded strategy is in place afterwards.

use crate::common;

use std::path::Path;

use serde_json::Value;

/// Runs `qcheck --database-url <db> compare ...` with small, fast settings (`extra` may override them).
fn compare(db: &str, tag: &str, extra: &[&str]) -> (std::process::Output, std::path::PathBuf) {
    let url = common::url(db);
    let home = common::temp_home(tag);
    let out_dir = home.join("report");
    let out_arg = out_dir.to_str().unwrap().to_string();
    let defaults = [
        ("--profile", "tiny"),
        ("--runs", "20"),
        ("--warmup", "2"),
        ("--bookings", "40"),
        ("--cancellations", "10"),
        ("--harness-runs", "100"),
        ("--contention-seconds", "0"),
        ("--race-rounds", "0"),
        ("--out", out_arg.as_str()),
    ];
    // On a server the user named, compare measures the dataset `qcheck seed` put there.
    let seeded = common::qcheck(
        &["--database-url", &url, "seed", "--profile", "tiny"],
        &home,
    );
    assert_eq!(seeded.status.code(), Some(0), "{}", common::stderr(&seeded));
    let mut args = vec!["--database-url", &url, "--format", "json", "compare"];
    for (flag, value) in defaults.iter().filter(|(f, _)| !extra.contains(f)) {
        args.extend([*flag, *value]);
    }
    args.extend_from_slice(extra);
    (common::qcheck(&args, &home), out_dir)
}

/// `compare` on `tiny` under `tuned` with small, fast settings and no contention, race or harness
/// check, writing into `out`: the arguments from `compare` on, `extra` appended (a flag in `extra`
/// replaces its default). For the comparisons across targets (`it/versions`, `it/citus`).
pub(crate) fn quick(out: &Path, extra: &[&str]) -> Vec<String> {
    let defaults = [
        ("--profile", "tiny"),
        ("--strategy", "tuned"),
        ("--runs", "10"),
        ("--rounds", "2"),
        ("--warmup", "2"),
        ("--bookings", "20"),
        ("--cancellations", "5"),
        ("--harness-runs", "0"),
        ("--contention-seconds", "0"),
        ("--race-rounds", "0"),
    ];
    let mut args = vec!["compare".to_string()];
    for (flag, value) in defaults.iter().filter(|(f, _)| !extra.contains(f)) {
        args.extend([flag.to_string(), value.to_string()]);
    }
    args.extend(["--out".to_string(), out.to_str().unwrap().to_string()]);
    args.extend(extra.iter().map(ToString::to_string));
    args
}

fn positive(v: &Value, what: &str) -> f64 {
    let n = v
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"));
    assert!(n > 0.0, "{what} = {n}");
    n
}

fn count(client: &mut postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn compare_writes_the_report_with_every_figure_for_both_strategies() {
    let (db, mut client) = common::fresh_db("compare_full");
    let (out, dir) = compare(
        &db,
        "compare_full",
        &[
            "--strategy",
            "fk-only",
            "--strategy",
            "tuned",
            "--contention-seconds",
            "0.3",
            "--contention-clients",
            "1,4",
            "--race-rounds",
            "1",
        ],
    );
    let stderr = common::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for file in ["report.md", "report.html", "report.json"] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    // stdout (--format json) is the same document.
    assert_eq!(
        serde_json::from_str::<Value>(&common::stdout(&out)).unwrap(),
        doc
    );
    crate::ci::assert_valid("compare", &doc);

    // The stamp.
    assert!(
        doc["stamp"]["postgres_version"]
            .as_str()
            .unwrap()
            .starts_with(char::is_numeric)
    );
    assert!(!doc["stamp"]["git_revision"].as_str().unwrap().is_empty());
    let settings: Vec<&str> = doc["stamp"]["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for s in [
        "shared_buffers",
        "work_mem",
        "effective_cache_size",
        "random_page_cost",
        "jit",
        "plan_cache_mode",
        "fsync",
        "full_page_writes",
    ] {
        assert!(settings.contains(&s), "{s} missing from {settings:?}");
    }
    positive(&doc["stamp"]["machine"]["cores"], "cores");
    positive(&doc["stamp"]["machine"]["memory_bytes"], "memory");
    assert_eq!(doc["dataset"]["profile"], "tiny");
    assert_eq!(doc["dataset"]["scale"], 1.0);
    assert_eq!(doc["dataset"]["seed"], 42);
    positive(
        &doc["dataset"]["constraint_index_bytes"],
        "constraint index bytes",
    );

    let strategies = doc["strategies"].as_array().unwrap();
    let names: Vec<&str> = strategies
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["fk-only", "tuned"]);
    for s in strategies {
        let name = s["name"].as_str().unwrap();
        positive(
            &s["total_index_bytes"],
            &format!("{name} total index bytes"),
        );
        positive(&s["build_ms"], &format!("{name} build ms"));
        for ix in s["indexes"].as_array().unwrap() {
            positive(&ix["bytes"], &format!("{name} {} bytes", ix["name"]));
            assert!(
                ix["definition"]
                    .as_str()
                    .unwrap()
                    .starts_with("CREATE INDEX"),
                "{ix}"
            );
        }
        for kind in ["bookings", "cancellations"] {
            let w = &s["writes"][kind];
            assert_eq!(
                w["count"],
                if kind == "bookings" { 40 } else { 10 },
                "{name} {kind}"
            );
            positive(&w["per_sec"], &format!("{name} {kind}/s"));
            positive(&w["wal_bytes_per_op"], &format!("{name} WAL per {kind}"));
            positive(&w["latency"]["p50_ms"], &format!("{name} {kind} p50"));
        }
        assert_eq!(
            s["writes"]["bookings"]["passes_per_sec"]
                .as_array()
                .unwrap()
                .len(),
            5,
            "{name}: one write pass per round"
        );
        // The contention sweep: 1 and 4 clients, without and with collisions, booking as
        // qcheck_app through RLS and the triggers. Fresh slots never collide, so the runs without
        // collisions book everything; nothing fails for another reason than the slot.
        let levels = s["contention"]["levels"].as_array().unwrap();
        assert_eq!(levels.len(), 4, "{name}");
        for l in levels {
            assert_eq!(l["other_errors"], 0, "{name}: {l}");
            positive(&l["attempts"], &format!("{name} contention attempts"));
            positive(&l["latency"]["p99_ms"], &format!("{name} contention p99"));
            if l["collisions"] == false {
                assert_eq!(l["booked"], l["attempts"], "{name}: {l}");
                positive(&l["per_sec"], &format!("{name} contention bookings/s"));
            }
        }
        let queries = s["queries"].as_array().unwrap();
        assert_eq!(queries.len(), 10, "{name}");
        for q in queries {
            let what = format!("{name}/{}", q["name"].as_str().unwrap());
            for mode in ["custom", "generic"] {
                let p = &q[mode];
                for pct in ["p50_ms", "p95_ms", "p99_ms"] {
                    positive(&p["latency"][pct], &format!("{what} {mode} {pct}"));
                }
                assert_eq!(p["latency"]["runs"], 20, "{what}");
                // Five rounds of four: the spread of the rounds' p50s.
                let rounds = &p["latency"]["p50_rounds"];
                assert_eq!(rounds["values"].as_array().unwrap().len(), 5, "{what}");
                assert!(rounds["min"].as_f64() <= rounds["max"].as_f64(), "{what}");
                positive(&p["planning_ms"], &format!("{what} {mode} planning"));
                assert!(
                    p["execution_ms"].as_f64().is_some(),
                    "{what} {mode} execution"
                );
                assert!(
                    p["shared_buffers"].as_u64().is_some(),
                    "{what} {mode} buffers"
                );
                assert!(
                    !p["verdicts"].as_array().unwrap().is_empty(),
                    "{what} {mode} verdicts"
                );
                assert!(
                    !p["shape"].as_str().unwrap().is_empty(),
                    "{what} {mode} shape"
                );
                assert!(p["plan"][0]["Plan"].is_object(), "{what} {mode} raw plan");
            }
        }
    }
    // tuned ran after fk-only's write probe: the rolled-back rows were vacuumed away and the
    // visibility map is all-visible again, so its day view is still an index-only scan without heap
    // fetches (the failure this guards against is a heap fetch per rolled-back row).
    let day = strategies[1]["queries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "provider_day")
        .unwrap();
    assert_eq!(
        day["custom"]["heap_fetches"], 0.0,
        "{}",
        day["custom"]["shape"]
    );
    assert_eq!(day["passed"], true, "{}", day["custom"]["verdicts"]);
    // The design's strategy beats the ORM baseline on its own expectations.
    let passing = |s: &Value| {
        s["queries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|q| q["passed"] == true)
            .count()
    };
    assert!(passing(&strategies[1]) > passing(&strategies[0]));

    // The harness check ran (pgbench ships with the server: Debian's postgresql-NN package, the
    // folder of --pg-bin-dir) and both sides measured something. A machine without pgbench fails
    // here rather than passing without the check.
    assert!(
        !doc["harness"].is_null(),
        "no harness check in the report (is pgbench next to initdb?); notes: {}",
        doc["notes"]
    );
    let modes = doc["harness"]["modes"].as_array().unwrap();
    assert_eq!(modes.len(), 2);
    for m in modes {
        positive(&m["ratio_p50"], "harness ratio");
        assert!(
            m["command"]
                .as_str()
                .unwrap()
                .contains("pgbench -n -M prepared")
        );
    }

    // The collision race: exactly one of 32 wins, every other gets 23P01 (the per-provider lock of
    // migration 0003 queues them, so none deadlocks), nothing else.
    assert_eq!(doc["schema_version"], 1);
    let round = &doc["race"]["rounds"][0];
    assert_eq!(round["booked"], 1, "{round}");
    assert_eq!(round["other_errors"], 0, "{round}");
    assert_eq!(round["deadlocks"], 0, "{round}");
    assert_eq!(round["exclusion_violations"], 31, "{round}");
    // No deadlock at any level of the sweep either (the test runs it as a superuser: never skipped).
    let mut levels = 0;
    for strategy in doc["strategies"].as_array().unwrap() {
        let swept = strategy["contention"]["levels"].as_array();
        for level in swept.unwrap_or_else(|| panic!("no contention sweep: {strategy}")) {
            assert_eq!(level["deadlocks"], 0, "{level}");
            levels += 1;
        }
    }
    assert!(levels > 0, "the contention sweep measured no level");
    positive(&round["settle_ms"], "race settle time");
    assert!(
        doc["judgements"]["headline"]
            .as_str()
            .unwrap()
            .starts_with("tuned meets expectations in"),
        "{}",
        doc["judgements"]["headline"]
    );

    // The data is as the seed left it: the write probe rolled back, the contention bookings (which
    // committed) deleted with their audit rows, the recorded strategy is in place.
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM appointment WHERE reason = 'qcheck contention probe'"
        ),
        0
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM appointment_audit WHERE actor = 'qcheck contention probe'"
        ),
        0
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM appointment_boundary_slot b
              WHERE NOT EXISTS (SELECT 1 FROM appointment a
                                 WHERE a.id = b.appointment_id AND a.scheduled_at = b.scheduled_at)"
        ),
        0
    );
    assert_eq!(doc["left_in_place"], "tuned");
    let appointments = doc["dataset"]["row_counts"]["appointment"]
        .as_i64()
        .unwrap();
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM appointment"),
        appointments
    );
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM appointment_audit"),
        doc["dataset"]["row_counts"]["appointment_audit"]
            .as_i64()
            .unwrap()
    );
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM appointment WHERE reason = 'qcheck write-cost probe'"
        ),
        0
    );
    let status = qcheck::schema::status(&mut client).unwrap();
    assert_eq!(status.strategy.as_deref(), Some("tuned"));
    let meta = qcheck::generate::current_dataset(&mut client)
        .unwrap()
        .unwrap();
    assert_eq!(meta.strategy, "tuned");

    // The Markdown and the HTML carry the same figures.
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("| fk-only |") && md.contains("| tuned |") && md.contains("## Verdicts"),
        "{md}"
    );
    assert!(
        md.contains("## Contention") && md.contains("Collision race"),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("<details>"));
    cleanup(&dir);
}

/// Removes a test's temp home (the report folder's parent).
fn cleanup(report_dir: &Path) {
    if let Some(home) = report_dir.parent() {
        let _ = std::fs::remove_dir_all(home);
    }
}

/// A fresh database seeded by `qcheck seed --profile tiny --strategy tuned` through its URL, and
/// the home that command used.
fn seeded_tuned(tag: &str) -> (String, qcheck::db::Conn, std::path::PathBuf) {
    let (db, client) = common::fresh_db(tag);
    let home = common::temp_home(&format!("{tag}_seed"));
    let url = common::url(&db);
    let seeded = common::qcheck(
        &[
            "--database-url",
            &url,
            "seed",
            "--profile",
            "tiny",
            "--strategy",
            "tuned",
        ],
        &home,
    );
    assert_eq!(seeded.status.code(), Some(0), "{}", common::stderr(&seeded));
    (db, client, home)
}

#[test]
fn the_recorded_strategy_is_restored_when_it_is_not_compared() {
    let (db, mut client, home) = seeded_tuned("compare_restore");

    let (out, dir) = compare(
        &db,
        "compare_restore",
        &[
            "--strategy",
            "fk-only",
            "--query",
            "provider_day",
            "--harness-runs",
            "0",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(doc["strategies"].as_array().unwrap().len(), 1);
    assert_eq!(doc["strategies"][0]["queries"].as_array().unwrap().len(), 1);
    assert!(doc["harness"].is_null());
    assert_eq!(doc["left_in_place"], "tuned");
    let status = qcheck::schema::status(&mut client).unwrap();
    assert_eq!(status.strategy.as_deref(), Some("tuned"));
    assert!(
        status
            .strategy_indexes
            .iter()
            .any(|i| i == "appointment_provider_day_idx"),
        "{:?}",
        status.strategy_indexes
    );
    // Restored by a build of compare's own (not the seed's): its leaf indexes named as the seed's.
    assert_leaf_indexes_named_as_the_seed_does(&mut client);
    assert!(Path::new(&dir.join("report.html")).is_file());
    cleanup(&dir);
    let _ = std::fs::remove_dir_all(home);
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    let (db, _) = common::fresh_db("compare_bad");
    let url = common::url(&db);
    let home = common::temp_home("compare_bad");
    let dir = home.join("report");
    for (extra, expect) in [
        (vec!["--strategy", "nope"], "known strategies:"),
        (
            vec!["--strategy", "tuned", "--strategy", "tuned"],
            "given twice",
        ),
        (vec!["--query", "nope"], "known queries:"),
        (vec!["--runs", "0"], "--runs must be at least 1"),
        (vec!["--rounds", "0"], "--rounds must be at least 1"),
        (
            vec!["--strategy", "tuned", "--base", "fk-only"],
            "--base fk-only is not among the strategies compared",
        ),
        (vec!["--collision-share", "1.5"], "--collision-share"),
        (vec!["--contention-clients", "0"], "--contention-clients"),
        (vec!["--scale", "0"], "invalid --scale 0"),
        (
            vec!["--topology", "multi"],
            "expected `single` or `citus-N` with N from 1 to 8",
        ),
        (
            vec!["--topology", "single,citus-1,single"],
            "--topology single is given twice",
        ),
        (
            vec!["--topology", "single,citus-1"],
            "--topology compares qcheck's embedded topologies, but a server is named",
        ),
    ] {
        let mut args = vec![
            "--database-url",
            url.as_str(),
            "compare",
            "--profile",
            "tiny",
            "--out",
            dir.to_str().unwrap(),
        ];
        args.extend(extra.iter().copied());
        let out = common::qcheck(&args, &home);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{extra:?}: {err}");
        assert!(err.contains(expect), "{extra:?}: {err}");
        assert!(!dir.exists(), "no report on bad input");
    }
    let _ = std::fs::remove_dir_all(home);
}

/// The strategy indexes of the test's database with their oids (a rebuilt index gets a new one).
fn strategy_index_oids(client: &mut postgres::Client) -> Vec<(String, i64)> {
    client
        .query(
            "SELECT q.index_name, c.oid::bigint FROM qcheck_strategy_index q
               JOIN pg_class c ON c.relname = q.index_name AND c.relkind IN ('i', 'I')
              ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Each leaf copy of every `tuned` index on `appointment` is named as the seed names it
/// (`IndexDef::leaf_index_name`), not as PostgreSQL would name it (which breaks the shard index
/// names on Citus).
pub(crate) fn assert_leaf_indexes_named_as_the_seed_does(client: &mut qcheck::db::Conn) {
    let tuned = qcheck::schema::strategy("tuned").unwrap();
    let mut checked = 0;
    for index in tuned.indexes().filter(|i| i.table.name == "appointment") {
        let leaves = client
            .query(
                "SELECT c.relname::text, t.relname::text
                   FROM pg_partition_tree($1::text::regclass) p
                   JOIN pg_class c ON c.oid = p.relid
                   JOIN pg_index i ON i.indexrelid = p.relid
                   JOIN pg_class t ON t.oid = i.indrelid
                  WHERE p.isleaf",
                &[&index.name],
            )
            .unwrap();
        assert!(!leaves.is_empty(), "{} has leaf indexes", index.name);
        for row in leaves {
            let (name, leaf): (String, String) = (row.get(0), row.get(1));
            assert_eq!(name, index.leaf_index_name(&leaf), "{}", index.name);
            checked += 1;
        }
    }
    assert!(checked > 0);
}

/// `compare` of the strategy already in place measures it as it stands: its indexes are not built
/// again (same oids), and the report says so.
#[test]
fn compare_measures_the_strategy_in_place_without_rebuilding_it() {
    let (db, mut client, home) = seeded_tuned("compare_in_place");
    let before = strategy_index_oids(&mut client);
    assert!(before.len() > 3, "{before:?}");

    let only_in_place = [
        "--strategy",
        "tuned",
        "--query",
        "provider_day",
        "--harness-runs",
        "0",
    ];
    let (out, dir) = compare(&db, "compare_in_place", &only_in_place);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let notes = doc["notes"].to_string();
    assert!(notes.contains("tuned: in place"), "{notes}");
    // Its build time is the one recorded by the seed, the leaf builds included (each recorded).
    let row = client
        .query_one(
            "SELECT sum(build_ms), count(*) FILTER (WHERE parent IS NOT NULL AND build_ms <= 0)
               FROM qcheck_strategy_index",
            &[],
        )
        .unwrap();
    let (recorded_ms, unrecorded_leaves): (f64, i64) = (row.get(0), row.get(1));
    assert_eq!(unrecorded_leaves, 0, "every leaf build's time is recorded");
    let reported_ms = positive(&doc["strategies"][0]["build_ms"], "tuned build ms");
    assert!(
        (reported_ms - recorded_ms).abs() <= 1e-6 * recorded_ms,
        "reported {reported_ms} ms, recorded {recorded_ms} ms"
    );
    assert_eq!(
        strategy_index_oids(&mut client),
        before,
        "the strategy in place was not rebuilt"
    );
    cleanup(&dir);
    let _ = std::fs::remove_dir_all(home);
}
