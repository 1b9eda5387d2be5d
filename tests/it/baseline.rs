//! Baselines end to end through the binary: a baseline saved on the `tuned` strategy of `tiny`
//! passes against itself and fails against `fk-only` with a diff naming `provider_day`; a baseline
//! of other data is an error; `qcheck diff` of two saved plans and of two baselines.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::common::{self, qcheck, stderr, stdout};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/plans")
        .join(name)
}

/// A database of its own (the test switches its index strategy), seeded with `tiny`.
fn seeded() -> &'static (String, PathBuf) {
    static DB: OnceLock<(String, PathBuf)> = OnceLock::new();
    DB.get_or_init(|| {
        let (db, _client) = common::fresh_db("baseline");
        let home = common::temp_home("baseline-home");
        let out = run_on(&db, &home, &["seed", "--profile", "tiny"]);
        assert!(out.status.success(), "seed: {}", stderr(&out));
        (db, home)
    })
}

fn run_on(db: &str, home: &Path, args: &[&str]) -> std::process::Output {
    let url = common::url(db);
    let mut all = vec!["--database-url", url.as_str()];
    all.extend_from_slice(args);
    qcheck(&all, home)
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

fn query<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["queries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {doc}"))
}

#[test]
fn a_tuned_baseline_passes_against_itself_and_fails_against_fk_only() {
    let (db, home) = seeded();
    let dir = common::temp_home("baseline-files");
    let tuned = dir.join("tuned.json");
    let tuned_arg = tuned.to_str().unwrap();

    let out = run_on(
        db,
        home,
        &["check", "--profile", "tiny", "--save-baseline", tuned_arg],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("baseline written to"),
        "{}",
        stderr(&out)
    );
    let saved = std::fs::read_to_string(&tuned).unwrap();
    assert!(saved.contains("\"format\": \"qcheck baseline\""), "{saved}");
    assert!(
        saved.contains(
            "{\"depth\": 2, \"node\": \"Index Only Scan using appointment_provider_day_idx on appointment\""
        ),
        // depth 2: under the Result that gates the scan on the one-time filter `$3 = app_tenant_id()`
        // the planner derives from `tenant_id = $3` and the tenant policy's qual.
        "one line per node, partitions folded to their table: {saved}"
    );

    // Against itself: same (timing differs on every run and never counts).
    let out = run_on(
        db,
        home,
        &["check", "--profile", "tiny", "--baseline", tuned_arg],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("0 of 20 plans changed: same as the baseline"),
        "{}",
        stdout(&out)
    );

    // The baseline alone fails the gate: every expectation holds, but with a zero floor the
    // buffers threshold sees any growth, here of an edited baseline's provider_day.
    let edited = dir.join("edited.json");
    let mut doc: serde_json::Value = serde_json::from_str(&saved).unwrap();
    doc["queries"]["provider_day"]["plans"]["custom"]["nodes"][0]["shared_buffers"] = 1.into();
    std::fs::write(&edited, doc.to_string()).unwrap();
    let out = run_on(
        db,
        home,
        &[
            "check",
            "--profile",
            "tiny",
            "--query",
            "provider_day",
            "--baseline",
            edited.to_str().unwrap(),
            "--buffers-threshold",
            "1x",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(query(&doc, "provider_day")["passed"], true);
    assert_eq!(doc["baseline"]["passed"], false);
    let custom = &query(&doc, "provider_day")["baseline"]["plans"][0];
    assert_eq!(custom["mode"], "custom");
    assert_eq!(custom["shape_changed"], false);
    assert_eq!(custom["shared_buffers"]["beyond"], true);

    // fk-only: the day view loses its covering index.
    let out = run_on(
        db,
        home,
        &["seed", "--profile", "tiny", "--strategy", "fk-only"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let fk_only = dir.join("fk-only.json");
    // `check` on fk-only against a baseline, with more arguments.
    let check_fk_only = |baseline: &str, more: &[&str]| {
        let mut args = vec![
            "check",
            "--profile",
            "tiny",
            "--strategy",
            "fk-only",
            "--baseline",
            baseline,
        ];
        args.extend_from_slice(more);
        run_on(db, home, &args)
    };
    let out = check_fk_only(tuned_arg, &["--save-baseline", fk_only.to_str().unwrap()]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("note: index strategy: baseline tuned, now fk-only"),
        "{text}"
    );
    assert!(text.contains("provider_day (custom): CHANGED"), "{text}");
    assert!(
        text.contains("-    -> Index Only Scan using appointment_provider_day_idx on appointment"),
        "{text}"
    );
    assert!(
        text.contains("  appointment: index-only-scan using appointment_provider_day_idx → "),
        "{text}"
    );

    let out = check_fk_only(tuned_arg, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["baseline"]["passed"], false);
    let day = &query(&doc, "provider_day")["baseline"];
    assert_eq!(day["status"], "changed", "{day}");
    assert_eq!(day["plans"][0]["shape_changed"], true, "{day}");

    // Two baselines: the same verdict from `qcheck diff`, offline.
    let out = qcheck(&["diff", tuned_arg, fk_only.to_str().unwrap()], &dir);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("provider_day (generic): CHANGED"),
        "{}",
        stdout(&out)
    );
    let out = qcheck(&["diff", tuned_arg, tuned_arg], &dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A baseline of other rows is not compared: exit 2, saying what to do.
    let other = dir.join("other.json");
    std::fs::write(&other, saved.replace("\"seed\": 42", "\"seed\": 7")).unwrap();
    let out = check_fk_only(other.to_str().unwrap(), &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("taken on other data (baseline dataset tiny, scale 1, seed 7, now tiny, scale 1, seed 42)"),
        "{err}"
    );
    assert!(err.contains("--seed 7"), "{err}");
}

#[test]
fn diff_of_two_saved_plans() {
    let home = common::temp_home("diff-plans");
    let same = qcheck(
        &[
            "diff",
            fixture("pg15_hash_join_batches.json").to_str().unwrap(),
            fixture("pg18_hash_join_batches.json").to_str().unwrap(),
        ],
        &home,
    );
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    assert!(
        stdout(&same).contains("0 of 1 plan changed"),
        "{}",
        stdout(&same)
    );

    let changed = qcheck(
        &[
            "diff",
            fixture("pg15_partition_prune_plan_time.json")
                .to_str()
                .unwrap(),
            fixture("pg15_partition_prune_run_time_generic.json")
                .to_str()
                .unwrap(),
            "--format",
            "markdown",
        ],
        &home,
    );
    let text = stdout(&changed);
    assert_eq!(changed.status.code(), Some(1), "{}", stderr(&changed));
    assert!(text.contains("- new: Append"), "{text}");
    assert!(text.contains("```diff\n- Index Only Scan using appointment_provider_id_scheduled_at_status_patien_idx on appointment"), "{text}");

    let json = qcheck(
        &[
            "--format",
            "json",
            "diff",
            fixture("pg15_partition_prune_plan_time.json")
                .to_str()
                .unwrap(),
            fixture("pg18_partition_prune_plan_time.json")
                .to_str()
                .unwrap(),
        ],
        &home,
    );
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["passed"], true);
    assert_eq!(doc["queries"][0]["status"], "same");

    // A plan and a baseline, or a file that is neither: exit 2 with one line.
    let baseline = home.join("b.json");
    std::fs::write(
        &baseline,
        r#"{"format": "qcheck baseline", "schema_version": 1, "queries": {}}"#,
    )
    .unwrap();
    let mixed = qcheck(
        &[
            "diff",
            baseline.to_str().unwrap(),
            fixture("pg15_hash_join_batches.json").to_str().unwrap(),
        ],
        &home,
    );
    assert_eq!(mixed.status.code(), Some(2));
    assert!(
        stderr(&mixed).contains("is a baseline and"),
        "{}",
        stderr(&mixed)
    );
    let garbage = home.join("garbage.txt");
    std::fs::write(&garbage, "hello").unwrap();
    let bad = qcheck(
        &[
            "diff",
            garbage.to_str().unwrap(),
            baseline.to_str().unwrap(),
        ],
        &home,
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("garbage.txt"), "{}", stderr(&bad));
}

#[test]
fn a_threshold_without_a_baseline_is_a_usage_error_before_anything_runs() {
    // Nothing to compare with: the flag would be silently meaningless, so it is refused, and
    // before any database work (the home stays empty).
    let home = common::temp_home("baseline-threshold");
    let out = qcheck(&["check", "--buffers-threshold", "1x"], &home);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--buffers-threshold applies to a comparison: add --baseline FILE, or give several --pg-bin-dir"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&home).unwrap().count(), 0, "home touched");
}
