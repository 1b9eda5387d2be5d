//! `qcheck explain --plan FILE` against what users really do offline: the README's round trip of a
//! generic plan, a query file that leaves nothing to check, partition maps from `qcheck
//! partitions`, undecided verdicts, and inputs that must be refused at once.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::check::run;
use crate::common::{self, qcheck, stderr, stdout};

fn query_file(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sql/queries")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Saves `provider_day`'s plan (custom, or generic) to `dir/NAME`.
fn save_plan(dir: &Path, name: &str, generic: bool) -> PathBuf {
    let saved = dir.join(name);
    let mut args = vec![
        "explain",
        "--profile",
        "tiny",
        "--query",
        "provider_day",
        "--save-plan",
        saved.to_str().unwrap(),
    ];
    if generic {
        args.push("--generic");
    }
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    saved
}

fn offline(args: &[&str], dir: &Path) -> std::process::Output {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    qcheck(&all, &dir.join("no-home"))
}

#[test]
fn a_saved_generic_plan_is_checked_as_generic() {
    let dir = common::temp_home("offline-generic");
    let saved = save_plan(&dir, "day-generic.json", true);
    let expect = query_file("provider_day.sql");
    // The README's round trip: the plan's Settings say force_generic_plan, so the query's
    // generic expectations apply, and its custom-only `estimate-error <= 10x` does not.
    let out = offline(
        &[
            "--plan",
            saved.to_str().unwrap(),
            "--expect-from",
            &expect,
            "--format",
            "json",
        ],
        &dir,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["mode"], "generic");
    let texts: Vec<&str> = doc["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["text"].as_str().unwrap())
        .collect();
    assert!(!texts.contains(&"estimate-error <= 10x"), "{texts:?}");
    assert!(texts.contains(&"partitions appointment = 1"), "{texts:?}");
    assert!(
        !dir.join("no-home").exists(),
        "offline analysis starts no cluster"
    );
}

#[test]
fn a_query_file_that_leaves_nothing_to_check_is_an_error() {
    let dir = common::temp_home("offline-nothing");
    let saved = save_plan(&dir, "day.json", false);
    let only_generic = dir.join("generic_only.sql");
    std::fs::write(
        &only_generic,
        "-- name: generic_only\n-- summary: Only generic expectations.\n\
         -- expect-generic: no seq-scan\nSELECT 1",
    )
    .unwrap();
    let out = offline(
        &[
            "--plan",
            saved.to_str().unwrap(),
            "--expect-from",
            only_generic.to_str().unwrap(),
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("nothing to check"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // With --generic the same file applies.
    let out = offline(
        &[
            "--plan",
            saved.to_str().unwrap(),
            "--expect-from",
            only_generic.to_str().unwrap(),
            "--generic",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn partition_indexes_need_a_map_and_undecided_fails_unless_allowed() {
    let dir = common::temp_home("offline-partitions");
    let saved = save_plan(&dir, "day.json", false);
    // A production plan carries no partition tree: remove the one --save-plan stores.
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    doc[0].as_object_mut().unwrap().remove("qcheck partitions");
    let bare = dir.join("bare.json");
    std::fs::write(&bare, doc.to_string()).unwrap();
    let expect = query_file("provider_day.sql");

    let out = offline(
        &["--plan", bare.to_str().unwrap(), "--expect-from", &expect],
        &dir,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("UNDECIDED"), "{text}");
    assert!(text.contains("cannot tell whether"), "{text}");

    let out = offline(
        &[
            "--plan",
            bare.to_str().unwrap(),
            "--expect-from",
            &expect,
            "--allow-undecided",
        ],
        &dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    // The map `qcheck partitions` prints for the plan's database decides it.
    let (db, home) = crate::check::seeded();
    let url = common::url(db);
    let out = qcheck(&["--database-url", &url, "partitions"], home);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let map = dir.join("partitions.json");
    std::fs::write(&map, &out.stdout).unwrap();
    let parsed: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        parsed.values().any(|p| p == "public.appointment"),
        "{parsed:?}"
    );
    let out = offline(
        &[
            "--plan",
            bare.to_str().unwrap(),
            "--expect-from",
            &expect,
            "--partitions",
            map.to_str().unwrap(),
            "--format",
            "json",
        ],
        &dir,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        doc["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["passed"] == true && v["undecided"] == false),
        "{doc:#}"
    );
}

#[test]
fn endless_and_special_files_are_refused_at_once() {
    let dir = common::temp_home("offline-devzero");
    let saved = save_plan(&dir, "day.json", false);
    let expect = query_file("provider_day.sql");
    for args in [
        vec!["--plan", "/dev/zero"],
        vec![
            "--plan",
            saved.to_str().unwrap(),
            "--expect-from",
            "/dev/zero",
        ],
        vec![
            "--plan",
            saved.to_str().unwrap(),
            "--expect-from",
            &expect,
            "--partitions",
            "/dev/zero",
        ],
        vec!["--plan", dir.to_str().unwrap()],
    ] {
        let start = Instant::now();
        let out = offline(&args, &dir);
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{args:?} took {:?}",
            start.elapsed()
        );
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("not a regular file"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}
